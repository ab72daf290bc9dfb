//! `esmc claims`: each claim of the papers tested in a world with its mechanism and in
//! one without, as paired differences with 95% intervals and a verdict.
//!
//! ```text
//! catalog::claims ─▶ the (world, config) groups and the models each needs
//!   └─ each world: simulated and built once into <cache>/claims-worlds/<scale>/<world>
//!   └─ each group: compare's workers (one process per model × seed) ─▶ OUT/groups/…/runs
//! verdict::evaluate: per claim and world, A − B paired over the same test users and
//!   seeds ─▶ OUT/claims.{md,csv}, OUT/claims_intervals.{csv,svg} (the forest plot)
//! ```
//!
//! `--sweep-constraint` runs the ESMC constraint sweep instead (see `sweep`).

mod catalog;
mod sweep;
mod verdict;

use crate::compare::{DayRange, Plan, world};
use crate::train::ModelOpts;
use anyhow::{Context, Result};
use catalog::{Config, Scale, World};
use esmc_schemas::Warehouse;
use esmc_trainer::ModelKind;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Small worlds (50k exposures a day, 4 train days, 3 seeds, small towers): minutes.
    #[arg(long)]
    quick: bool,
    /// Seeds per model (default 3).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: Option<u64>,
    /// Output directory.
    #[arg(long, default_value = "claims")]
    out: PathBuf,
    /// Runs at a time (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
    /// Instead of the claims: ESMC's w4 sweep under Adam and AdagradDecay, softmax and
    /// gaussian readings, in the default world with the cart-elsewhere mechanism.
    #[arg(long)]
    sweep_constraint: bool,
}

/// The scale of this call: `ESMC_CLAIMS_SCALE=tiny` (tests), else quick or full.
fn scale(args: &Args) -> Scale {
    let mut s = match std::env::var("ESMC_CLAIMS_SCALE").as_deref() {
        Ok("tiny") => Scale::tiny(),
        _ if args.quick => Scale::quick(),
        _ => Scale::full(),
    };
    if let Some(n) = args.seeds {
        s.seeds = n;
    }
    s
}

/// A world simulated and built: its root and days.
pub(crate) struct Built {
    pub root: PathBuf,
    pub train: DayRange,
    pub test: DayRange,
}

/// Simulates and builds `w` at `scale` (cached across calls).
pub(crate) fn build_world(w: World, scale: &Scale, quiet: bool) -> Result<Built> {
    let root = world::cache_dir()
        .join("claims-worlds")
        .join(scale.name)
        .join(w.name());
    let (train, test) = world::prepare(&w.sim(scale), &root, scale.train_days, quiet)?;
    Ok(Built { root, train, test })
}

/// Runs `models` × seeds in `world` under `config_file` into `out` with compare's
/// workers; returns the group's directory.
pub(crate) fn run_group(
    built: &Built,
    models: Vec<ModelKind>,
    seeds: u64,
    config_file: &Path,
    out: PathBuf,
    jobs: Option<u64>,
    quiet: bool,
) -> Result<PathBuf> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n_runs = models.len() * seeds as usize;
    let jobs = jobs.map_or(cores, |j| j as usize).clamp(1, n_runs.max(1));
    let plan = Plan {
        root: built.root.clone(),
        models,
        seeds,
        train: built.train,
        test: built.test,
        opts: ModelOpts {
            train_config: Some(config_file.to_path_buf()),
            ..Default::default()
        },
        out: out.clone(),
        jobs,
        threads: Some(1),
        allow_provisional: false,
    };
    let runs = out.join("runs");
    if runs.exists() {
        std::fs::remove_dir_all(&runs)
            .with_context(|| format!("cannot clear {}", runs.display()))?;
    }
    std::fs::create_dir_all(&runs).with_context(|| format!("cannot create {}", runs.display()))?;
    crate::compare::worker::run_all(&plan, &Warehouse::new(&built.root), quiet)?;
    Ok(out)
}

/// Writes the shared config and the w4 = 0 one; returns their paths.
fn write_configs(out: &Path, scale: &Scale) -> Result<BTreeMap<Config, PathBuf>> {
    let dir = out.join("configs");
    std::fs::create_dir_all(&dir)?;
    let mut files = BTreeMap::new();
    for (c, extra) in [
        (Config::Shared, ""),
        (Config::NoConstraint, "constraint_weight = 0.0\n"),
    ] {
        let path = dir.join(format!("{}.toml", c.name()));
        // top-level keys before the config's tables
        std::fs::write(&path, format!("{extra}{}", scale.config))?;
        files.insert(c, path);
    }
    Ok(files)
}

/// The models each (world, config) group needs, in the claims' order.
fn groups(claims: &[catalog::Claim]) -> BTreeMap<(World, Config), Vec<ModelKind>> {
    let mut groups: BTreeMap<(World, Config), Vec<ModelKind>> = BTreeMap::new();
    for c in claims {
        for w in [World::Default, World::With(c.mechanism)] {
            for side in [c.a, c.b] {
                let models = groups.entry((w, side.config)).or_default();
                if !models.contains(&side.model) {
                    models.push(side.model);
                }
            }
        }
    }
    groups
}

/// Writes claims.md (and prints it), claims.csv, claims_intervals.csv and the forest plot
/// of its rows, claims_intervals.svg, into `out`.
fn write_tables(out: &Path, rows: &[verdict::Row], caption: &str, scale: &str) -> Result<()> {
    let md = verdict::markdown(rows, caption);
    std::fs::write(out.join("claims.md"), &md)?;
    std::fs::write(out.join("claims.csv"), verdict::csv(rows))?;
    std::fs::write(out.join("claims_intervals.csv"), verdict::chart_data(rows))?;
    let title = format!("Claims at the {scale} scale: A − B with 95% intervals");
    let svg = out.join("claims_intervals.svg");
    verdict::chart(rows, &title)
        .save_svg(&svg)
        .with_context(|| format!("cannot write {}", svg.display()))?;
    println!("{md}");
    Ok(())
}

pub fn run(args: Args, quiet: bool) -> Result<()> {
    let started = Instant::now();
    let scale = scale(&args);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    if args.sweep_constraint {
        return sweep::run(&args.out, &scale, args.jobs, quiet, started);
    }
    let claims = catalog::claims();
    let configs = write_configs(&args.out, &scale)?;
    let groups = groups(&claims);
    let worlds: BTreeSet<World> = groups.keys().map(|(w, _)| *w).collect();
    eprintln!(
        "claims ({} scale): {} claims, {} worlds, {} runs × {} seed(s) -> {}",
        scale.name,
        claims.len(),
        worlds.len(),
        groups.values().map(Vec::len).sum::<usize>(),
        scale.seeds,
        args.out.display()
    );
    let mut built = BTreeMap::new();
    for w in worlds {
        built.insert(w, build_world(w, &scale, quiet)?);
    }
    let mut dirs = BTreeMap::new();
    for ((w, c), models) in &groups {
        let out = args
            .out
            .join("groups")
            .join(format!("{}-{}", w.name(), c.name()));
        eprintln!(
            "{} / {}: {}",
            w.name(),
            c.name(),
            models
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let dir = run_group(
            &built[w],
            models.clone(),
            scale.seeds,
            &configs[c],
            out,
            args.jobs,
            quiet,
        )?;
        dirs.insert((*w, *c), dir);
    }
    let rows = verdict::evaluate(&claims, &dirs, scale.seeds)?;
    let wall = started.elapsed().as_secs_f64();
    let caption = format!(
        "`esmc claims` at the {} scale ({} rec exposures a day, {} train days, 1 test day, {} seed(s)), \
         eleme preset, world seed {}; {wall:.0} s.",
        scale.name,
        scale.exposures,
        scale.train_days,
        scale.seeds,
        catalog::SEED
    );
    write_tables(&args.out, &rows, &caption, scale.name)?;
    println!(
        "wrote {0}/claims.md, claims.csv, claims_intervals.csv and claims_intervals.svg ({wall:.0}s)",
        args.out.display()
    );
    Ok(())
}
