//! `esmc train`, `esmc eval`, `esmc predict`: models over the sample partitions.
//!
//! Training is incremental and test-then-train: each day is first scored by the model
//! trained on the days before it (out of sample), then learnt, then checkpointed to
//! `models/<run>/dt=D/`. A run continues from its checkpoint of the day before `--from`.

use anyhow::{Context, Result, bail};
use chrono::{Days, NaiveDate};
use esmc_schemas::Warehouse;
use esmc_trainer::train::{Evaluation, Trainer, evaluate};
use esmc_trainer::{FeatureSpec, ModelKind, TrainConfig, checkpoint, data};
use std::path::{Path, PathBuf};

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

/// A run's trainer and how many days it has learnt.
pub struct RunState {
    pub trainer: Trainer,
    pub days_trained: u64,
}

/// Loads the run's checkpoint of `day`.
fn load_state(wh: &Warehouse, run: &str, day: NaiveDate) -> Result<RunState> {
    let dir = wh.model_dir(run, day);
    let (trainer, meta) =
        checkpoint::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
    Ok(RunState {
        trainer,
        days_trained: meta["days_trained"].as_u64().unwrap_or(1),
    })
}

/// A new run whose normalisation statistics come from `first`'s samples.
fn fresh_state(
    wh: &Warehouse,
    model: ModelKind,
    opts: &ModelOpts,
    first: NaiveDate,
) -> Result<RunState> {
    let (cfg, features) = resolve_config(model, opts)?;
    let files = sample_files(wh, first)?;
    let schema = data::file_schema(&files[0])?;
    let spec = features.resolve(Some(&schema), cfg.embedding_dim)?;
    let norm = data::norm_stats(&files, &spec)?;
    Ok(RunState {
        trainer: Trainer::new(cfg, features, Some(&schema), norm)?,
        days_trained: 0,
    })
}

/// Checkpoints of the last `window` + 1 trained days whose samples were rebuilt after the
/// run consumed them: `(day, message)`.
pub fn rebuilt_since_trained(
    wh: &Warehouse,
    run: &str,
    window: usize,
) -> Result<Vec<(NaiveDate, String)>> {
    let mut out = Vec::new();
    let days = checkpoint_days(wh, run)?;
    for &day in days.iter().rev().take(window + 1) {
        let text = std::fs::read_to_string(wh.model_dir(run, day).join("meta.json"))?;
        let meta: serde_json::Value = serde_json::from_str(&text)?;
        let Some(recorded) = meta["fingerprint"].as_str() else {
            continue;
        };
        let files = wh.partition_files(&wh.samples_dir(day))?;
        if files.is_empty() {
            continue;
        }
        if data::fingerprint(&files)? != recorded {
            out.push((
                day,
                format!(
                    "samples of {day} were rebuilt after run '{run}' trained on them; \
                     `esmc train --run {run} --retrain-from {day} --to <last day>` replays from there"
                ),
            ));
        }
    }
    out.sort();
    Ok(out)
}

const TRAIN_HEADER: &str =
    "day          samples  train s samples/s    loss  CTR-AUC    CTCVR  CVR-AUC CTR-GAUC   oracle";

/// Test-then-train over `days` in order: evaluate with the model so far, train one epoch,
/// checkpoint atomically, refresh metrics.parquet. Prints one line per day.
pub fn train_days(
    wh: &Warehouse,
    run: &str,
    state: &mut RunState,
    days: &[NaiveDate],
    quiet: bool,
) -> Result<()> {
    std::fs::create_dir_all(run_dir(wh, run))?;
    println!("{TRAIN_HEADER}");
    let bar = crate::progress::Bar::new("train", "samples", quiet);
    let trainer = &mut state.trainer;
    // where training time went, over all days: reading thread busy, compute, waiting
    let (mut decode, mut compute, mut wait) = (0f64, 0f64, 0f64);
    for &day in days {
        let files = sample_files(wh, day)?;
        let rows = data::count_rows(&files)?;
        let eval = if state.days_trained > 0 {
            bar.start_pass(rows);
            let p = trainer.predict_files(&files, &bar)?;
            Some(evaluate(&p))
        } else {
            None
        };
        bar.start_pass(rows);
        // the day's randomness (shuffle, dropout) depends on the seed and the day only, so
        // that a run resumed from any checkpoint continues exactly as an uninterrupted one
        let day_number = day.to_epoch_days() as u64;
        let stats = trainer.train_files(&files, day_number, &bar)?;
        esmc_trainer::train::Progress::finish(&bar);
        decode += stats.load.decode.as_secs_f64();
        compute += stats.compute.as_secs_f64();
        wait += stats.load.wait.as_secs_f64();
        state.days_trained += 1;
        let flat: serde_json::Map<String, serde_json::Value> = eval
            .as_ref()
            .map(|e| e.flat().into_iter().map(|(k, v)| (k, v.into())).collect())
            .unwrap_or_default();
        let meta = serde_json::json!({
            "run": run,
            "model": trainer.cfg.model.name(),
            "day": day.to_string(),
            "days_trained": state.days_trained,
            "fingerprint": data::fingerprint(&files)?,
            "train": {
                "samples": stats.samples,
                "batches": stats.batches,
                "seconds": stats.wall.as_secs_f64(),
                "compute_seconds": stats.compute.as_secs_f64(),
                "decode_seconds": stats.load.decode.as_secs_f64(),
                "wait_seconds": stats.load.wait.as_secs_f64(),
                "mean_loss": stats.mean_loss,
            },
            "metrics": flat,
        });
        checkpoint::save(&wh.model_dir(run, day), trainer, &meta)?;
        esmc_trainer::history::write(&run_dir(wh, run))?;
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        println!(
            "{:<10} {:>9} {:>8.1} {:>9.0} {:>7.4} {:>8} {:>8} {:>8} {:>8} {:>8}",
            day.to_string(),
            stats.samples,
            stats.wall.as_secs_f64(),
            stats.samples_per_s(),
            stats.mean_loss,
            f(eval.as_ref().and_then(|e| e.ctr.auc)),
            f(eval.as_ref().and_then(|e| e.ctcvr.auc)),
            f(eval.as_ref().and_then(|e| e.cvr.auc)),
            f(eval.as_ref().and_then(|e| e.ctr.gauc)),
            f(eval
                .as_ref()
                .and_then(|e| e.oracle.as_ref())
                .and_then(|o| o[2].auc)),
        );
    }
    println!(
        "training time: reading and decoding {decode:.1} s (on its own thread), compute {compute:.1} s, \
         waiting for data {wait:.1} s"
    );
    Ok(())
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

pub fn train(args: TrainArgs, quiet: bool) -> Result<()> {
    let wh = Warehouse::new(&args.root);
    let model: Option<ModelKind> = args.model.as_deref().map(str::parse).transpose()?;
    if args.model_opts.print_config {
        let (cfg, features) = resolve_config(model.unwrap_or(ModelKind::Esmc), &args.model_opts)?;
        println!("{}", toml::to_string_pretty(&cfg)?);
        println!("{}", features.to_toml());
        return Ok(());
    }
    let run = match (&args.run, model) {
        (Some(r), _) => r.clone(),
        (None, Some(m)) => m.name().to_string(),
        (None, None) => ModelKind::Esmc.name().to_string(),
    };
    let ckpts = checkpoint_days(&wh, &run)?;
    // where to start: a checkpoint to continue from (or none) and the first day to train
    let (from_ckpt, first) = if let Some(d) = args.retrain_from {
        let prev = ckpts.iter().rev().find(|c| **c < d).copied();
        if let Some(p) = prev {
            eprintln!("run '{run}': replaying from its checkpoint of {p}");
        }
        (prev, prev.map_or(d, |p| p + Days::new(1)))
    } else if args.resume {
        match ckpts.last() {
            Some(&c) => {
                eprintln!("run '{run}': resuming after its checkpoint of {c}");
                (Some(c), c + Days::new(1))
            }
            None => bail!("run '{run}' has no checkpoint to resume from; start it with --from"),
        }
    } else {
        let from = args.from.expect("clap requires --from here");
        if let Some(c) = ckpts.iter().find(|c| **c >= from) {
            bail!(
                "run '{run}' already trained on {c}: --resume continues after its newest checkpoint, \
                 --retrain-from D replays from D"
            );
        }
        let prev = from - Days::new(1);
        match ckpts.last() {
            Some(&c) if c == prev => (Some(c), from),
            Some(&c) => bail!(
                "run '{run}' ends with {c}, not the day before --from {from}: a run learns days in order"
            ),
            None => (None, from),
        }
    };
    if args.to < first {
        println!(
            "run '{run}' has trained up to {}; nothing to do",
            first - Days::new(1)
        );
        return Ok(());
    }
    let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= args.to).collect();
    check_days(&wh, &days, args.allow_provisional)?;
    if let Some(d) = args.retrain_from {
        // the checkpoints learnt from the replaced days go, once the replay can start
        for c in ckpts.iter().filter(|c| **c >= d) {
            std::fs::remove_dir_all(wh.model_dir(&run, *c))?;
        }
    }
    let mut state = match from_ckpt {
        Some(c) => {
            for (_, msg) in rebuilt_since_trained(&wh, &run, 7)? {
                eprintln!("warning: {msg}");
            }
            let s = load_state(&wh, &run, c)?;
            if let Some(m) = model
                && m != s.trainer.cfg.model
            {
                bail!("run '{run}' trains {}, not {m}", s.trainer.cfg.model);
            }
            s
        }
        None => fresh_state(
            &wh,
            model.unwrap_or(ModelKind::Esmc),
            &args.model_opts,
            first,
        )?,
    };
    train_days(&wh, &run, &mut state, &days, quiet)?;
    println!(
        "checkpoints in {}; a day's metrics come from the model trained on the days before it \
         (the first day of a run has none); oracle = CVR-AUC of the simulator's true p_cvr",
        run_dir(&wh, &run).display()
    );
    Ok(())
}

/// `esmc nightly --run`: after the build, trains every newly matured day in order.
/// Returns whether a day was trained.
pub fn nightly_train(
    wh: &Warehouse,
    run: &str,
    model: Option<ModelKind>,
    opts: &ModelOpts,
    quiet: bool,
) -> Result<bool> {
    for (_, msg) in rebuilt_since_trained(wh, run, 7)? {
        println!("warning: {msg}");
    }
    let ckpts = checkpoint_days(wh, run)?;
    let mut sample_days: Vec<NaiveDate> = std::fs::read_dir(wh.root().join("samples"))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().to_str().and_then(esmc_schemas::parse_dt_name))
                .collect()
        })
        .unwrap_or_default();
    sample_days.sort();
    let mut days = Vec::new();
    let mut next = match ckpts.last() {
        Some(&c) => c + Days::new(1),
        None => match sample_days.first() {
            Some(&d) => d,
            None => return Ok(false),
        },
    };
    while sample_days.contains(&next) && maturity(wh, next).as_deref() == Some("mature") {
        days.push(next);
        next = next + Days::new(1);
    }
    if days.is_empty() {
        println!("run '{run}': no newly matured day to train (next: {next})");
        return Ok(false);
    }
    let mut state = match ckpts.last() {
        Some(&c) => load_state(wh, run, c)?,
        None => fresh_state(wh, model.unwrap_or(ModelKind::Esmc), opts, days[0])?,
    };
    println!("run '{run}': training {} newly matured day(s)", days.len());
    train_days(wh, run, &mut state, &days, quiet)?;
    Ok(true)
}

fn load_for(wh: &Warehouse, args: &EvalArgs) -> Result<(Trainer, NaiveDate)> {
    let days = checkpoint_days(wh, &args.run)?;
    let day =
        match args.checkpoint {
            Some(d) => d,
            None => *days.iter().rev().find(|d| **d < args.dt).with_context(|| {
                format!("run '{}' has no checkpoint before {}", args.run, args.dt)
            })?,
        };
    let dir = wh.model_dir(&args.run, day);
    let (t, _) = checkpoint::load(&dir).with_context(|| format!("loading {}", dir.display()))?;
    Ok((t, day))
}

/// Prints every metric of an evaluation as a table.
pub fn print_evaluation(e: &Evaluation) {
    use esmc_trainer::metrics::TaskMetrics;
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "{:<13} {:>8} {:>6} {:>7} {:>7} {:>8} {:>6} {:>8} {:>7} {:>7}",
        "task", "rows", "pos", "AUC", "GAUC", "logloss", "calib", "F1@0.1%", "F1@0.6%", "F1@1%"
    );
    let row = |name: &str, m: &TaskMetrics| {
        println!(
            "{:<13} {:>8} {:>6} {:>7} {:>7} {:>8} {:>6} {:>8} {:>7} {:>7}",
            name,
            m.n,
            m.positives,
            f(m.auc),
            f(m.gauc),
            f(m.log_loss),
            m.calibration.map_or("-".into(), |v| format!("{v:.2}")),
            f(m.top_0_1pct.map(|p| p.f1)),
            f(m.top_0_6pct.map(|p| p.f1)),
            f(m.top_1pct.map(|p| p.f1)),
        )
    };
    row("ctr", &e.ctr);
    row("ctcvr", &e.ctcvr);
    row("cvr (clicked)", &e.cvr);
    row("cvr bad case", &e.cvr_bad);
    row("cvr good case", &e.cvr_good);
    if let Some([c, cc, cv]) = &e.oracle {
        row("oracle ctr", c);
        row("oracle ctcvr", cc);
        row("oracle cvr", cv);
    }
}

pub fn eval(args: EvalArgs, quiet: bool) -> Result<()> {
    let wh = Warehouse::new(&args.root);
    let (trainer, day) = load_for(&wh, &args)?;
    let files = sample_files(&wh, args.dt)?;
    let bar = crate::progress::Bar::new("eval", "samples", quiet);
    bar.start_pass(data::count_rows(&files)?);
    let p = trainer.predict_files(&files, &bar)?;
    esmc_trainer::train::Progress::finish(&bar);
    println!(
        "run '{}' ({}), checkpoint of {day}, samples of {}",
        args.run, trainer.cfg.model, args.dt
    );
    print_evaluation(&evaluate(&p));
    Ok(())
}

pub fn predict(args: PredictArgs, quiet: bool) -> Result<()> {
    let wh = Warehouse::new(&args.eval.root);
    let (trainer, day) = load_for(&wh, &args.eval)?;
    let files = sample_files(&wh, args.eval.dt)?;
    let bar = crate::progress::Bar::new("predict", "samples", quiet);
    bar.start_pass(data::count_rows(&files)?);
    let p = trainer.predict_files(&files, &bar)?;
    esmc_trainer::train::Progress::finish(&bar);
    let out = args.out.unwrap_or_else(|| {
        run_dir(&wh, &args.eval.run)
            .join("predictions")
            .join(format!("{}.parquet", esmc_schemas::dt_name(args.eval.dt)))
    });
    write_predictions(&out, &p)?;
    println!(
        "{} scores of {} by run '{}' (checkpoint of {day}) -> {}",
        p.sample_id.len(),
        args.eval.dt,
        args.eval.run,
        out.display()
    );
    Ok(())
}

fn write_predictions(out: &Path, p: &esmc_trainer::Predictions) -> Result<()> {
    use arrow::array::{ArrayRef, Float32Array, Int64Array, RecordBatch};
    use std::sync::Arc;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let batch = RecordBatch::try_from_iter([
        (
            "sample_id",
            Arc::new(Int64Array::from(p.sample_id.clone())) as ArrayRef,
        ),
        (
            "p_ctr",
            Arc::new(Float32Array::from(p.ctr.clone())) as ArrayRef,
        ),
        (
            "p_cvr",
            Arc::new(Float32Array::from(p.cvr.clone())) as ArrayRef,
        ),
        (
            "p_ctcvr",
            Arc::new(Float32Array::from(p.ctcvr.clone())) as ArrayRef,
        ),
    ])?;
    let tmp = out.with_extension("parquet.tmp");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    w.write(&batch)?;
    w.close()?;
    std::fs::rename(&tmp, out)?;
    Ok(())
}
