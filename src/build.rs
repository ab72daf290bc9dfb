//! `esmc build`: build sample partitions and print a summary table; what `esmc nightly`
//! (in `esmc-torch`, as it trains) shares with it: the options, the locks, the table.
//! Each build holds its day's lock (taken by the builder), the nightly holds the
//! warehouse's nightly lock and, with `--run`, the run's lock; a job refused because
//! another holds a lock exits with code 75 (`--wait` waits instead).

use anyhow::{Context, Result};
use chrono::NaiveDate;
use esmc_pipeline::{BuildConfig, BuildOptions, Builder, Calibration, Manifest};
use std::path::PathBuf;

/// Options shared by `build` and `nightly`.
#[derive(clap::Args)]
pub struct Common {
    /// Warehouse root.
    #[arg(long)]
    pub root: PathBuf,
    /// Sample calibration: move (default), copy or off.
    #[arg(long)]
    calibration: Option<Calibration>,
    /// A build config (TOML); command-line options override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Engine threads (0 = all cores). Output is the same for any value.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Memory the engine may use before spilling to disk, MiB; the feature stage's
    /// sorts and merges hold up to half as much again (spilling to disk beyond it).
    #[arg(long, default_value_t = 2048)]
    memory_mib: usize,
    /// When another job holds a day's (or the nightly's, or the run's) lock, wait for it
    /// instead of exiting with code 75.
    #[arg(long)]
    pub wait: bool,
    /// Run the cleaning and the attribution on an Apache Ballista cluster at
    /// df://HOST:PORT (`esmc cluster scheduler` / `executor`); the warehouse must be at
    /// the same path on every executor. The partitions are the same as a local build's.
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
    /// With --cluster: fail a build whose attribution job has not finished after this
    /// many seconds (0 = wait for ever); the day's previous partition stays.
    #[arg(long, default_value_t = 3600, requires = "cluster")]
    cluster_job_timeout_secs: u64,
}

impl Common {
    pub fn builder(&self) -> Result<Builder> {
        let mut cfg = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("invalid config {}", path.display()))?
            }
            None => BuildConfig::default(),
        };
        if let Some(c) = self.calibration {
            cfg.calibration = c;
        }
        let builder = Builder::new(
            &self.root,
            cfg,
            BuildOptions {
                threads: self.threads,
                memory_limit: self.memory_mib << 20,
                feature_memory: None,
            },
        );
        let builder = match &self.cluster {
            Some(url) => {
                let limit = (self.cluster_job_timeout_secs > 0)
                    .then(|| std::time::Duration::from_secs(self.cluster_job_timeout_secs));
                let cluster = esmc_cluster::Cluster::parse(url)?.with_job_timeout(limit);
                // fail in seconds, before any input is read, when no scheduler answers
                cluster.check_reachable()?;
                builder.on_cluster(std::sync::Arc::new(cluster))
            }
            None => builder,
        };
        Ok(match self.wait {
            true => builder
                .wait_for_locks(|what, holder| eprintln!("waiting for {what}: held by {holder}")),
            false => builder,
        })
    }
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// The day to build (YYYY-MM-DD).
    #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present = "from")]
    dt: Option<NaiveDate>,
    /// First day of a range to build.
    #[arg(long, requires = "to")]
    from: Option<NaiveDate>,
    /// Last day of a range to build (inclusive).
    #[arg(long, requires = "from")]
    to: Option<NaiveDate>,
}

/// Exit codes of `esmc nightly`, for schedulers.
pub mod exit {
    /// Partitions were rebuilt or days trained.
    pub const DONE: u8 = 0;
    /// A failure (the message says which).
    pub const FAILED: u8 = 1;
    /// Everything was up to date: nothing rebuilt, nothing trained.
    pub const NOTHING_TO_DO: u8 = 3;
    /// No exposure logs for the night's day.
    pub const INPUT_MISSING: u8 = 4;
    /// Another job holds a lock this one needs (`EX_TEMPFAIL`; `--wait` waits instead).
    pub const BUSY: u8 = esmc_schemas::lock::EXIT_BUSY;
}

/// Whether `e` is a job refused because another holds its lock (exit code
/// [`exit::BUSY`] for every command).
pub fn is_busy(e: &anyhow::Error) -> bool {
    use esmc_schemas::lock::LockError;
    e.chain().any(|c| {
        matches!(c.downcast_ref::<LockError>(), Some(LockError::Busy { .. }))
            || matches!(
                c.downcast_ref::<esmc_pipeline::BuildError>(),
                Some(esmc_pipeline::BuildError::Busy(LockError::Busy { .. }))
            )
    })
}

/// Takes the lock at `path` for `what`, waiting when `wait` (saying so on stderr).
pub fn lock(path: &std::path::Path, what: &str, wait: bool) -> Result<esmc_schemas::lock::JobLock> {
    Ok(esmc_schemas::lock::JobLock::acquire(
        path,
        what,
        wait,
        &|holder| eprintln!("waiting for {what}: held by {holder}"),
    )?)
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub const HEADER: &str = "dt         samples   click    dmi   cart   wish purchase cart_cal   same  later  other nocart quarant     maturity";

pub fn row(m: &Manifest) -> String {
    let pct = |k: &str| 100.0 * m.label_rates.get(k).copied().unwrap_or(0.0);
    let psc = |k: &str| m.psc_case_counts.get(k).copied().unwrap_or(0);
    format!(
        "{:<10} {:>8} {:>6.2}% {:>5.2}% {:>5.2}% {:>5.2}% {:>7.3}% {:>7.3}% {:>6} {:>6} {:>6} {:>6} {:>7} {:>12}",
        m.dt,
        m.rows,
        pct("click"),
        pct("dmi"),
        pct("cart"),
        pct("wish"),
        pct("purchase"),
        pct("cart_cal"),
        psc("same_visit"),
        psc("later_visit"),
        psc("other_visit"),
        psc("no_cart"),
        m.quarantined.values().sum::<u64>(),
        m.maturity,
    )
}

pub fn run(args: Args, quiet: bool) -> Result<()> {
    let builder = args.common.builder()?;
    let days: Vec<NaiveDate> = match (args.dt, args.from, args.to) {
        (Some(d), _, _) => vec![d],
        (None, Some(a), Some(b)) => a.iter_days().take_while(|d| *d <= b).collect(),
        _ => unreachable!("clap enforces --dt or --from/--to"),
    };
    let runtime = runtime()?;
    let progress = crate::progress::Stages::new(quiet);
    let mut rows = Vec::new();
    for day in days {
        let report = runtime.block_on(builder.build(day, &progress))?;
        rows.push(row(&report.manifest));
    }
    progress.finish();
    println!("{HEADER}");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
