//! `esmc compare`: the papers' experiments as one command. Every (model, seed) run learns
//! the same days with the same features, incrementally (one epoch per day, in order), is
//! scored on the test days, and the runs are summarised as a table (mean ± std over
//! seeds) in markdown, CSV and an SVG bar chart.
//!
//! ```text
//! --root W, or the default eleme world (simulated and built once into the cache)
//!   └─ models × seeds, --jobs at a time, each in its own `esmc compare --worker` process:
//!        fresh model (TrainConfig.seed = k) ─ train one epoch per train day
//!        ─ each test day: predict it (out of sample), then train on it unless it is the
//!          last ─ evaluate the pooled test predictions
//!        └─▶ DIR/runs/<model>-seed<k>.json (Evaluation::flat + samples/s, or the error)
//!   └─ table::summarise(the run files) ─▶ DIR/compare.{md,csv,svg}, stdout
//! ```
//!
//! A run is a process so that runs cannot disturb each other: libtorch's generator and
//! thread count are process-global (a run's initial weights must not depend on what
//! runs beside it), and a run that panics or aborts fails its row, not the command.

pub(crate) mod paired;
mod rows;
pub(crate) mod table;
pub(crate) mod worker;
pub(crate) mod world;

use crate::train::{ModelOpts, check_days, resolve_config};
use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use esmc_schemas::Warehouse;
use esmc_trainer::ModelKind;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The models compared by default: the family of the papers, BASE first (the reference
/// of the gain column).
const DEFAULT_MODELS: &str = "base,esmm,esm2,hm3,esmc,esms,esmc2,esms2,esmc-minus";

#[derive(clap::Args)]
pub struct Args {
    /// Warehouse root with built samples. Without it, the default `eleme` world is
    /// simulated and built once into $ESMC_CACHE/compare-world (default
    /// ~/.cache/esmc/compare-world) and reused by later calls.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Models, comma-separated; gains are relative to the first.
    #[arg(long, value_delimiter = ',', value_parser = parse_model, default_value = DEFAULT_MODELS)]
    models: Vec<ModelKind>,
    /// Days to train on, in order: D or D1..D2 (default: every mature day before --test).
    #[arg(long, value_parser = parse_days)]
    train: Option<DayRange>,
    /// Days to evaluate, after the train days: D or D1..D2 (default: the last mature day).
    /// Several days are scored test-then-train and pooled into one evaluation.
    #[arg(long, value_parser = parse_days)]
    test: Option<DayRange>,
    /// Seeds per model (TrainConfig.seed = 1..=N).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// A paper preset applied to every model: esmm-2018, esm2-2020, hm3-2021, esmc-2023.
    #[arg(long)]
    preset: Option<String>,
    /// Training config (TOML, fields of TrainConfig) shared by every model.
    #[arg(long)]
    train_config: Option<PathBuf>,
    /// Feature spec (TOML); default: every id and dimension column of the samples.
    #[arg(long)]
    features: Option<PathBuf>,
    /// Runs at a time (default: the number of cores). With more than one, each run uses
    /// one libtorch thread; alone, the config's `threads`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
    /// Output directory (default: W/reports/compare-<hash of the comparison's settings>,
    /// so that rerunning a comparison replaces its own results).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Allow train or test days whose samples are provisional.
    #[arg(long)]
    allow_provisional: bool,
    /// Internal: run one MODEL:SEED and write its metrics file (used by the parent).
    #[arg(long, hide = true)]
    worker: Option<String>,
    /// Internal: libtorch threads of a worker.
    #[arg(long, hide = true)]
    threads: Option<i32>,
}

fn parse_model(s: &str) -> Result<ModelKind, String> {
    s.trim().parse().map_err(|e| format!("{e}"))
}

/// An inclusive range of days, `D` or `D1..D2`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayRange {
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl DayRange {
    pub fn days(&self) -> Vec<NaiveDate> {
        self.first
            .iter_days()
            .take_while(|d| *d <= self.last)
            .collect()
    }
}

impl std::fmt::Display for DayRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..{}", self.first, self.last)
        }
    }
}

fn parse_days(s: &str) -> Result<DayRange, String> {
    let day = |t: &str| {
        t.trim()
            .parse::<NaiveDate>()
            .map_err(|e| format!("'{t}' is not a day (YYYY-MM-DD): {e}"))
    };
    let (first, last) = match s.split_once("..") {
        Some((a, b)) => (day(a)?, day(b)?),
        None => (day(s)?, day(s)?),
    };
    if last < first {
        return Err(format!("{last} is before {first}"));
    }
    Ok(DayRange { first, last })
}

/// What every run of a comparison shares.
pub(crate) struct Plan {
    pub root: PathBuf,
    pub models: Vec<ModelKind>,
    pub seeds: u64,
    pub train: DayRange,
    pub test: DayRange,
    pub opts: ModelOpts,
    pub out: PathBuf,
    pub jobs: usize,
    /// libtorch threads of each run (None: the config's).
    pub threads: Option<i32>,
    pub allow_provisional: bool,
}

impl Plan {
    /// The runs in the order they start: seed-major, so that an interrupted comparison
    /// has every model's first seeds.
    pub fn runs(&self) -> Vec<(ModelKind, u64)> {
        (1..=self.seeds)
            .flat_map(|s| self.models.iter().map(move |m| (*m, s)))
            .collect()
    }
}

/// The metrics file of a run.
pub fn run_file(out: &Path, model: ModelKind, seed: u64) -> PathBuf {
    out.join("runs").join(format!("{model}-seed{seed}.json"))
}

pub fn run(args: Args, quiet: bool) -> Result<()> {
    if let Some(w) = &args.worker {
        return worker::worker(&args, w);
    }
    let started = Instant::now();
    let (plan, wh, settings) = plan(&args, quiet)?;
    let runs_dir = plan.out.join("runs");
    if runs_dir.exists() {
        std::fs::remove_dir_all(&runs_dir)
            .with_context(|| format!("cannot clear {}", runs_dir.display()))?;
    }
    std::fs::create_dir_all(&runs_dir)
        .with_context(|| format!("cannot create {}", runs_dir.display()))?;
    std::fs::write(
        plan.out.join("compare.json"),
        serde_json::to_string_pretty(&settings)?,
    )?;
    eprintln!(
        "comparing {} models × {} seeds: train {}, test {}, {} at a time -> {}",
        plan.models.len(),
        plan.seeds,
        plan.train,
        plan.test,
        plan.jobs,
        plan.out.display()
    );
    worker::run_all(&plan, &wh, quiet)?;
    write_results(&plan, started)
}

/// The comparison `args` ask for (world, days, models, seeds, output), its warehouse and
/// settings.
fn plan(args: &Args, quiet: bool) -> Result<(Plan, Warehouse, serde_json::Value)> {
    let (root, world_days) = match &args.root {
        Some(r) => (r.clone(), None),
        None => {
            let (root, train, test) = world::default_world(quiet)?;
            (root, Some((train, test)))
        }
    };
    let wh = Warehouse::new(&root);
    let (train, test) = match (args.train, args.test, world_days) {
        (Some(a), Some(b), _) => (a, b),
        (a, b, Some((wa, wb))) => (a.unwrap_or(wa), b.unwrap_or(wb)),
        (a, b, None) => default_days(&wh, a, b)?,
    };
    if test.first <= train.last {
        bail!("test days ({test}) must come after the train days ({train})");
    }
    let all: Vec<NaiveDate> = train.days().into_iter().chain(test.days()).collect();
    check_days(&wh, &all, args.allow_provisional)?;
    if args.models.is_empty() {
        bail!("no model to compare");
    }
    let opts = ModelOpts {
        preset: args.preset.clone(),
        features: args.features.clone(),
        train_config: args.train_config.clone(),
        ..Default::default()
    };
    let n_runs = args.models.len() * args.seeds as usize;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = (args.jobs.map_or(cores, |j| j as usize)).clamp(1, n_runs);
    let mut plan = Plan {
        out: PathBuf::new(),
        root,
        models: args.models.clone(),
        seeds: args.seeds,
        train,
        test,
        opts,
        jobs,
        threads: (jobs > 1).then_some(1),
        allow_provisional: args.allow_provisional,
    };
    let settings = settings(&plan)?;
    plan.out = match &args.out {
        Some(o) => o.clone(),
        None => wh.root().join("reports").join(format!(
            "compare-{:016x}",
            fnv1a(settings.to_string().as_bytes())
        )),
    };
    Ok((plan, wh, settings))
}

/// Loads the runs' metrics files, writes compare.{md,csv,svg} and prints the table; fails
/// if a run failed.
fn write_results(plan: &Plan, started: Instant) -> Result<()> {
    let (train, test) = (plan.train, plan.test);
    let runs: Vec<table::Run> = plan
        .runs()
        .into_iter()
        .map(|(m, s)| table::Run::load(&run_file(&plan.out, m, s), m, s))
        .collect::<Result<_>>()?;
    let summary = table::summarise(&plan.models, &runs);
    let caption = format!(
        "Samples of {}: train {train}, test {test}; mean ± std over {} seed(s); gain = \
         RelaImpr over {}: (AUC − 0.5) / (AUC_ref − 0.5) − 1; oracle: the simulator's true \
         probabilities.",
        plan.root.display(),
        plan.seeds,
        plan.models[0],
    );
    let md = summary.markdown(&caption) + &paired::section(plan, &runs)?;
    std::fs::write(plan.out.join("compare.md"), &md)?;
    std::fs::write(plan.out.join("compare.csv"), summary.csv())?;
    summary
        .chart(&format!(
            "AUC by model: mean +/- std over {} seeds, dashed: oracle",
            plan.seeds
        ))
        .save_svg(&plan.out.join("compare.svg"))?;
    println!("{md}");
    println!(
        "wrote {0}/compare.md, compare.csv, compare.svg and runs/*.json ({1:.0}s)",
        plan.out.display(),
        started.elapsed().as_secs_f64()
    );
    let failed = runs.iter().filter(|r| r.result.is_err()).count();
    if failed > 0 {
        bail!(
            "{failed} of {} runs failed (see the status column)",
            runs.len()
        );
    }
    Ok(())
}

/// Without --train/--test: the last mature day is the test day, every mature day before
/// it a train day.
fn default_days(
    wh: &Warehouse,
    train: Option<DayRange>,
    test: Option<DayRange>,
) -> Result<(DayRange, DayRange)> {
    let mut days: Vec<NaiveDate> = std::fs::read_dir(wh.root().join("samples"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(esmc_schemas::parse_dt_name))
                .filter(|d| crate::train::maturity(wh, *d).as_deref() == Some("mature"))
                .collect()
        })
        .unwrap_or_default();
    days.sort();
    let test = match test {
        Some(t) => t,
        None => {
            let last = *days.last().with_context(|| {
                format!(
                    "no mature samples in {} (run `esmc build`)",
                    wh.root().display()
                )
            })?;
            DayRange { first: last, last }
        }
    };
    let train = match train {
        Some(t) => t,
        None => {
            let before: Vec<_> = days.iter().filter(|d| **d < test.first).collect();
            let (Some(&&first), Some(&&last)) = (before.first(), before.last()) else {
                bail!("no mature day before the test day {test} to train on");
            };
            DayRange { first, last }
        }
    };
    Ok((train, test))
}

/// The comparison's settings as written to compare.json; their hash names the default
/// output directory (config files by content, not by path).
fn settings(plan: &Plan) -> Result<serde_json::Value> {
    let read = |p: &Option<PathBuf>| -> Result<Option<String>> {
        p.as_ref()
            .map(|p| {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
            })
            .transpose()
    };
    let mut configs = serde_json::Map::new();
    let mut features = String::new();
    for &m in &plan.models {
        // a wrong preset or config file is a usage error, reported before any run
        let (mut cfg, f) = resolve_config(m, &plan.opts)?;
        if let Some(t) = plan.threads {
            cfg.threads = t;
        }
        configs.insert(m.name().into(), serde_json::to_value(&cfg)?);
        features = f.to_toml();
    }
    Ok(serde_json::json!({
        "models": plan.models.iter().map(|m| m.name()).collect::<Vec<_>>(),
        "seeds": (1..=plan.seeds).collect::<Vec<_>>(),
        "train_days": plan.train.days().iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "test_days": plan.test.days().iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "root": plan.root.display().to_string(),
        "preset": plan.opts.preset,
        "train_config_file": read(&plan.opts.train_config)?,
        "features_file": read(&plan.opts.features)?,
        "allow_provisional": plan.allow_provisional,
        "configs": configs,
        "features": features,
    }))
}

/// 64-bit FNV-1a: a stable, dependency-free hash for directory names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_ranges_parse_one_day_or_an_inclusive_range() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let r = parse_days("2026-11-01..2026-11-03").unwrap();
        assert_eq!(
            r.days(),
            [d("2026-11-01"), d("2026-11-02"), d("2026-11-03")]
        );
        assert_eq!(r.to_string(), "2026-11-01..2026-11-03");
        assert_eq!(parse_days("2026-11-05").unwrap().days(), [d("2026-11-05")]);
        assert!(parse_days("2026-11-03..2026-11-01").is_err());
        assert!(parse_days("yesterday").is_err());
    }

    #[test]
    fn fnv1a_matches_the_reference_values() {
        // reference: FNV-1a 64 of "" and "a" (http://www.isthe.com/chongo/tech/comp/fnv/)
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
