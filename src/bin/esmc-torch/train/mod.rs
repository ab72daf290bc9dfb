//! `esmc train`, `esmc eval`, `esmc predict`: models over the sample partitions.
//!
//! Training is incremental and test-then-train: each day is first scored by the model
//! trained on the days before it (out of sample), then learnt, then checkpointed to
//! `models/<run>/dt=D/`. A run continues from its checkpoint of the day before `--from`.
//!
//! Rooms: this file (arguments, days, configs), `run` (training runs and the nightly
//! job), `eval` (evaluation and predictions).

mod eval;
mod run;

pub use eval::{eval, predict};
pub use run::{nightly_train, train};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use esmc_schemas::Warehouse;
use esmc_trainer::{FeatureSpec, ModelKind, TrainConfig};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct TrainArgs {
    /// Warehouse root.
    #[arg(long)]
    root: PathBuf,
    /// base, dnn-os, shared-bottom, mmoe, esmm, esmm-ns, esm2, hm3, esmc, esms, esmc2,
    /// esms2, esmc-minus (default esmc; a continued run keeps its model).
    #[arg(long)]
    model: Option<String>,
    /// Run name: checkpoints go to models/<run>/ (default: the model's name).
    #[arg(long)]
    run: Option<String>,
    /// First day to train on (a new run, or continuing from the checkpoint of the day before).
    #[arg(long, required_unless_present_any = ["resume", "retrain_from", "print_config"])]
    from: Option<NaiveDate>,
    /// Last day to train on (inclusive).
    #[arg(long)]
    to: NaiveDate,
    /// Continue after the run's newest complete checkpoint (e.g. after a crash).
    #[arg(long, conflicts_with_all = ["from", "retrain_from"])]
    resume: bool,
    /// Replay from the checkpoint before this day (after its samples were rebuilt):
    /// checkpoints from this day on are replaced.
    #[arg(long, conflicts_with = "from")]
    retrain_from: Option<NaiveDate>,
    /// Train on days whose samples are provisional (their attribution window is not over).
    #[arg(long)]
    allow_provisional: bool,
    /// When another job trains the run, wait for it instead of exiting with code 75.
    #[arg(long)]
    wait: bool,
    #[command(flatten)]
    model_opts: ModelOpts,
}

/// How a new run's model is configured.
#[derive(clap::Args, Clone, Default)]
pub struct ModelOpts {
    /// A paper preset: esmm-2018, esm2-2020, hm3-2021, esmc-2023.
    #[arg(long)]
    pub(crate) preset: Option<String>,
    /// Feature spec (TOML); default: every id and dimension column of the samples.
    #[arg(long)]
    pub(crate) features: Option<PathBuf>,
    /// Training config (TOML, fields of TrainConfig); --preset and flags override it.
    #[arg(long)]
    pub(crate) train_config: Option<PathBuf>,
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// libtorch threads of training.
    #[arg(long)]
    pub(crate) train_threads: Option<i32>,
    /// Print the resolved config and feature spec and exit.
    #[arg(long)]
    pub(crate) print_config: bool,
}

#[derive(clap::Args)]
pub struct EvalArgs {
    #[arg(long)]
    root: PathBuf,
    /// Run name.
    #[arg(long)]
    run: String,
    /// Day to evaluate.
    #[arg(long)]
    dt: NaiveDate,
    /// Checkpoint day to load (default: the newest one before --dt, so that the figures
    /// are out of sample).
    #[arg(long)]
    checkpoint: Option<NaiveDate>,
}

#[derive(clap::Args)]
pub struct PredictArgs {
    #[command(flatten)]
    eval: EvalArgs,
    /// Output Parquet file (default: models/<run>/predictions/dt=D.parquet).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn sample_files(wh: &Warehouse, day: NaiveDate) -> Result<Vec<PathBuf>> {
    let files = wh.partition_files(&wh.samples_dir(day))?;
    if files.is_empty() {
        bail!(
            "no samples for {day} in {} (run `esmc build --dt {day}` first)",
            wh.samples_dir(day).display()
        );
    }
    Ok(files)
}

pub fn run_dir(wh: &Warehouse, run: &str) -> PathBuf {
    wh.root().join("models").join(run)
}

/// Days with a complete checkpoint in the run, ascending.
pub fn checkpoint_days(wh: &Warehouse, run: &str) -> Result<Vec<NaiveDate>> {
    let dir = run_dir(wh, run);
    let mut days = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries {
            let e = e?;
            if let Some(d) = e.file_name().to_str().and_then(esmc_schemas::parse_dt_name)
                && e.path().join("meta.json").exists()
            {
                days.push(d);
            }
        }
    }
    days.sort();
    Ok(days)
}

/// `mature` or `provisional`, from the partition's manifest.
pub fn maturity(wh: &Warehouse, day: NaiveDate) -> Option<String> {
    let text = std::fs::read_to_string(wh.manifest_path(day)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["maturity"].as_str().map(String::from)
}

pub(crate) fn resolve_config(
    model: ModelKind,
    opts: &ModelOpts,
) -> Result<(TrainConfig, FeatureSpec)> {
    let mut cfg: TrainConfig = match &opts.train_config {
        Some(p) => toml::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        )
        .with_context(|| format!("invalid training config {}", p.display()))?,
        None => TrainConfig::default(),
    };
    cfg.model = model;
    if let Some(p) = &opts.preset {
        cfg.apply_preset(p)?;
    }
    if let Some(s) = opts.seed {
        cfg.seed = s;
    }
    if let Some(t) = opts.train_threads {
        cfg.threads = t;
    }
    let features = match &opts.features {
        Some(p) => FeatureSpec::from_toml(
            &std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        )
        .with_context(|| format!("in {}", p.display()))?,
        None => FeatureSpec::samples_default(),
    };
    Ok((cfg, features))
}

/// Refuses days without samples, and provisional days unless allowed.
pub(crate) fn check_days(
    wh: &Warehouse,
    days: &[NaiveDate],
    allow_provisional: bool,
) -> Result<()> {
    for &day in days {
        sample_files(wh, day)?;
        let m = maturity(wh, day);
        if m.as_deref() != Some("mature") && !allow_provisional {
            bail!(
                "samples of {day} are {} (purchases may still arrive within the attribution window); \
                 train on them with --allow-provisional",
                m.as_deref().unwrap_or("without a manifest")
            );
        }
    }
    Ok(())
}
