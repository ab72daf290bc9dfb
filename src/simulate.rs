//! `esmc simulate`: resolves a world config (preset, size, overrides or a TOML file),
//! runs the simulator with a progress bar and prints what was written.

use crate::progress::Bar;
use anyhow::{Context, Result};
use chrono::NaiveDate;
use esmc_schemas::Table;
use esmc_sim::{IdType, Mechanism, Preset, PurchasePath, RunOptions, SimConfig, SimSummary};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Warehouse root; logs go to <root>/logs/<table>/dt=YYYY-MM-DD/.
    #[arg(long, required_unless_present = "print_config")]
    root: Option<PathBuf>,
    /// World preset: taobao (ESM²-like retail) or eleme (ESMC-like food delivery).
    #[arg(long, default_value = "eleme")]
    preset: Preset,
    /// Rec exposures per day; users and items are sized from it.
    #[arg(long, default_value_t = 100_000)]
    exposures_per_day: u64,
    /// Days to simulate.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// First day (UTC), YYYY-MM-DD.
    #[arg(long)]
    start: Option<NaiveDate>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// User shards (files per table and day); the default grows with the world.
    #[arg(long)]
    shards: Option<u32>,
    /// Worker threads (0 = all cores). Output is the same for any value.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Write IDs as strings instead of integers.
    #[arg(long)]
    string_ids: bool,
    /// Share of event rows duplicated exactly.
    #[arg(long, default_value_t = 0.0)]
    duplicate_rate: f64,
    /// Share of event rows landing in the next day's partition.
    #[arg(long, default_value_t = 0.0)]
    late_rate: f64,
    /// Share of clicks without exposure_id.
    #[arg(long, default_value_t = 0.0)]
    missing_exposure_id_rate: f64,
    /// Share of event rows followed by a malformed copy.
    #[arg(long, default_value_t = 0.0)]
    malformed_rate: f64,
    /// Turn a mechanism on over the preset (repeatable): selection_bias, click_transfer,
    /// sparsity, cart_elsewhere, informative_micro (docs/simulator.md).
    #[arg(long = "mechanism", value_name = "NAME")]
    mechanisms: Vec<Mechanism>,
    /// A full world config (TOML, as written to logs/_simulation.json); replaces the
    /// options above except --root, --threads and --overwrite.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Replace logs already under --root.
    #[arg(long)]
    overwrite: bool,
    /// Print the resolved world config as TOML (a starting point for --config) and exit.
    #[arg(long)]
    print_config: bool,
}

fn resolve(args: &Args) -> Result<SimConfig> {
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        return toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()));
    }
    let mut cfg = SimConfig::sized(args.preset, args.exposures_per_day, args.days, args.seed);
    if let Some(start) = args.start {
        cfg.start = start;
    }
    if let Some(shards) = args.shards {
        cfg.shards = shards;
    }
    if args.string_ids {
        cfg.id_type = IdType::String;
    }
    cfg.messiness.duplicate_rate = args.duplicate_rate;
    cfg.messiness.late_rate = args.late_rate;
    cfg.messiness.missing_exposure_id_rate = args.missing_exposure_id_rate;
    cfg.messiness.malformed_rate = args.malformed_rate;
    for &m in &args.mechanisms {
        cfg = cfg.with(m, true);
    }
    Ok(cfg)
}

pub fn run(args: Args, quiet: bool) -> Result<()> {
    let cfg = resolve(&args)?;
    if args.print_config {
        print!("{}", toml::to_string(&cfg)?);
        return Ok(());
    }
    let root = args.root.as_deref().expect("clap requires --root");
    let bar = Bar::new("simulate", "users", quiet);
    let started = Instant::now();
    let summary = esmc_sim::simulate(
        &cfg,
        root,
        RunOptions {
            threads: args.threads,
            overwrite: args.overwrite,
        },
        &bar,
    )?;
    let secs = started.elapsed().as_secs_f64();
    print_summary(&summary, root, secs);
    Ok(())
}

fn print_summary(s: &SimSummary, root: &std::path::Path, secs: f64) {
    let cfg = &s.config;
    println!(
        "simulated `{}` world: {} users, {} items, {} days from {}, seed {} ({:.1}s)",
        cfg.preset, cfg.users, cfg.items, cfg.days, cfg.start, cfg.seed, secs
    );
    println!("wrote {}/logs:", root.display());
    print!("{:<10}", "table");
    for d in 0..cfg.days {
        print!(
            " {:>10}",
            (cfg.start + chrono::Days::new(d as u64)).format("%m-%d")
        );
    }
    println!(" {:>12}", "total");
    for table in Table::ALL {
        print!("{:<10}", table.name());
        for d in 0..cfg.days {
            let rows = s
                .rows
                .iter()
                .find(|c| c.table == table.name() && c.day == d)
                .map_or(0, |c| c.rows);
            print!(" {rows:>10}");
        }
        println!(" {:>12}", s.table_rows(table));
    }
    let st = &s.stats;
    let total_rows: u64 = s.rows.iter().map(|c| c.rows).sum();
    println!(
        "{total_rows} rows, {:.0} rows/s",
        total_rows as f64 / secs.max(1e-9)
    );
    println!(
        "feed: {} exposures, CTR {:.2}%, cart/click {:.2}%, purchase/click {:.2}%, \
         purchase/exposure {:.3}%, carts bought {:.1}%",
        st.rec_exposures,
        100.0 * st.ctr(),
        100.0 * st.cart_per_click(),
        100.0 * st.purchase_per_click(),
        100.0 * st.purchase_per_exposure(),
        100.0 * st.bought_per_cart(),
    );
    let shares: Vec<String> = PurchasePath::ALL[..5]
        .iter()
        .map(|&p| format!("{} {:.1}%", p.name(), 100.0 * st.path_share(p)))
        .collect();
    println!(
        "purchases after a feed click: {} ({})",
        st.rec_purchases(),
        shares.join(", ")
    );
    println!(
        "other purchases: search only {}, offsite {}; search exposures {}",
        st.purchases[PurchasePath::SearchOnly as usize],
        st.purchases[PurchasePath::Offsite as usize],
        st.search_exposures
    );
    let m = &s.messiness;
    if !cfg.messiness.is_clean() {
        println!(
            "messiness: {} duplicates, {} late, {} malformed, {} clicks without exposure_id",
            m.duplicates, m.late, m.malformed, m.missing_exposure_id
        );
    }
}
