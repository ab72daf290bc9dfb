//! Training runs: a new run, one continued from a checkpoint, a replay after rebuilt
//! samples, and the nightly job's newly matured days; test-then-train day by day.

use super::{
    ModelOpts, TrainArgs, check_days, checkpoint_days, maturity, resolve_config, run_dir,
    sample_files,
};
use anyhow::{Context, Result, bail};
use chrono::{Days, NaiveDate};
use esmc_schemas::Warehouse;
use esmc_trainer::team::{Governed, Governor};
use esmc_trainer::train::{Evaluation, TrainStats, Trainer, evaluate};
use esmc_trainer::{ModelKind, checkpoint, data};

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
        let path = wh.model_dir(run, day).join("meta.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let meta: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a checkpoint record", path.display()))?;
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

const TRAIN_HEADER: &str = "day          samples  train s samples/s    loss  CTR-AUC    CTCVR  CVR-AUC CTR-GAUC   oracle   ES-CVR";

/// A checkpoint's meta.json: what the day's training did and the day's metrics.
fn day_meta(
    run: &str,
    trainer: &Trainer,
    day: NaiveDate,
    days_trained: u64,
    files: &[std::path::PathBuf],
    stats: &TrainStats,
    metrics: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Value> {
    Ok(serde_json::json!({
        "run": run,
        "model": trainer.cfg.model.name(),
        "day": day.to_string(),
        "days_trained": days_trained,
        "fingerprint": data::fingerprint(files)?,
        "train": {
            "samples": stats.samples,
            "batches": stats.batches,
            "seconds": stats.wall.as_secs_f64(),
            "compute_seconds": stats.compute.as_secs_f64(),
            "decode_seconds": stats.load.decode.as_secs_f64(),
            "wait_seconds": stats.load.wait.as_secs_f64(),
            "mean_loss": stats.mean_loss,
        },
        "metrics": metrics,
    }))
}

/// One line of the training table (oracle: CVR-AUC of the true p_cvr; ES-CVR: the
/// entire-space expected AUC of pCVR).
fn print_day(day: NaiveDate, stats: &TrainStats, eval: Option<&Evaluation>) {
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "{:<10} {:>9} {:>8.1} {:>9.0} {:>7.4} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        day.to_string(),
        stats.samples,
        stats.wall.as_secs_f64(),
        stats.samples_per_s(),
        stats.mean_loss,
        f(eval.and_then(|e| e.ctr.auc)),
        f(eval.and_then(|e| e.ctcvr.auc)),
        f(eval.and_then(|e| e.cvr.auc)),
        f(eval.and_then(|e| e.ctr.gauc)),
        f(eval.and_then(|e| e.oracle.as_ref()).and_then(|o| o[2].auc)),
        f(eval
            .and_then(|e| e.entire_space.as_ref())
            .and_then(|es| es.cvr_all.eauc)),
    );
}

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
    // libtorch's team shrinks while other processes keep the cores busy (a build, another
    // training) and grows back after; ticked after each batch, on this thread
    let governor = Governor::new(trainer.cfg.threads);
    let progress = Governed {
        inner: &bar,
        governor: &governor,
    };
    // where training time went, over all days: reading thread busy, compute, waiting
    let (mut decode, mut compute, mut wait) = (0f64, 0f64, 0f64);
    for &day in days {
        let files = sample_files(wh, day)?;
        let rows = data::count_rows(&files)?;
        let eval = if state.days_trained > 0 {
            bar.start_pass(rows);
            let p = trainer.predict_files(&files, &progress)?;
            Some(evaluate(&p))
        } else {
            None
        };
        bar.start_pass(rows);
        // the day's randomness (shuffle, dropout) depends on the seed and the day only, so
        // that a run resumed from any checkpoint continues exactly as an uninterrupted one
        let day_number = day.to_epoch_days() as u64;
        let stats = trainer.train_files(&files, day_number, &progress)?;
        esmc_trainer::train::Progress::finish(&bar);
        decode += stats.load.decode.as_secs_f64();
        compute += stats.compute.as_secs_f64();
        wait += stats.load.wait.as_secs_f64();
        state.days_trained += 1;
        let mut flat: serde_json::Map<String, serde_json::Value> = eval
            .as_ref()
            .map(|e| e.flat().into_iter().map(|(k, v)| (k, v.into())).collect())
            .unwrap_or_default();
        // measured after the day's training, unlike the out-of-sample metrics
        if let Some(gap) = trainer.model.tower_gap() {
            flat.insert("tower_gap".into(), gap.into());
        }
        let meta = day_meta(run, trainer, day, state.days_trained, &files, &stats, flat)?;
        checkpoint::save(&wh.model_dir(run, day), trainer, &meta)?;
        esmc_trainer::history::write(&run_dir(wh, run))?;
        print_day(day, &stats, eval.as_ref());
    }
    println!(
        "training time: reading and decoding {decode:.1} s (on its own thread), compute {compute:.1} s, \
         waiting for data {wait:.1} s"
    );
    let shrunk = governor.shrunk_share();
    if shrunk > 0.0 {
        println!(
            "libtorch threads: {} at most, fewer for {:.0}% of the batches (other processes \
             kept the cores busy)",
            trainer.cfg.threads,
            100.0 * shrunk
        );
    }
    Ok(())
}

/// Where `train` starts `run` (whose checkpoints are `ckpts`): the checkpoint to continue
/// from (or none) and the first day to train.
fn start_point(
    args: &TrainArgs,
    run: &str,
    ckpts: &[NaiveDate],
) -> Result<(Option<NaiveDate>, NaiveDate)> {
    Ok(if let Some(d) = args.retrain_from {
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
    })
}

/// The run's state to train from: its checkpoint of `from_ckpt` (of the same model), or a
/// fresh model starting on `first`.
fn open_state(
    wh: &Warehouse,
    run: &str,
    from_ckpt: Option<NaiveDate>,
    model: Option<ModelKind>,
    opts: &ModelOpts,
    first: NaiveDate,
) -> Result<RunState> {
    Ok(match from_ckpt {
        Some(c) => {
            for (_, msg) in rebuilt_since_trained(wh, run, 7)? {
                eprintln!("warning: {msg}");
            }
            let s = load_state(wh, run, c)?;
            if let Some(m) = model
                && m != s.trainer.cfg.model
            {
                bail!("run '{run}' trains {}, not {m}", s.trainer.cfg.model);
            }
            s
        }
        None => fresh_state(wh, model.unwrap_or(ModelKind::Esmc), opts, first)?,
    })
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
    // one training of a run at a time (held until the run's days are trained)
    let _lock = crate::build::lock(
        &esmc_schemas::lock::run_lock_path(wh.root(), &run),
        &format!("run '{run}'"),
        args.wait,
    )?;
    let ckpts = checkpoint_days(&wh, &run)?;
    let (from_ckpt, first) = start_point(&args, &run, &ckpts)?;
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
    let mut state = open_state(&wh, &run, from_ckpt, model, &args.model_opts, first)?;
    train_days(&wh, &run, &mut state, &days, quiet)?;
    println!(
        "checkpoints in {}; a day's metrics come from the model trained on the days before it \
         (the first day of a run has none); oracle = CVR-AUC of the simulator's true p_cvr; \
         ES-CVR = expected AUC of pCVR against the true p_cvr over all exposures",
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
