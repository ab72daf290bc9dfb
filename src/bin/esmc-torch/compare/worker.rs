//! The runs of a comparison: the parent starts one `esmc compare --worker MODEL:SEED`
//! process per run, `--jobs` at a time, and draws one progress bar from their
//! `advance N` lines; a worker trains, tests and writes its metrics file.
//!
//! ```text
//! parent: run_all ──spawn──▶ worker: resolve config, fresh Trainer (seed k)
//!            ▲                 train days: train_files (one epoch each, in order)
//!            │ "advance N"     test days: predict_files, pooled; train on all but the last
//!            └──────────────── evaluate(pooled) ─▶ runs/<model>-seed<k>.json
//!                              pooled rows ─▶ runs/<model>-seed<k>.parquet
//! a worker that dies without its file (panic, abort): the parent writes it, failed,
//! with the last line of runs/<model>-seed<k>.log
//! ```

use super::{Args, DayRange, Plan, run_file};
use crate::train::{ModelOpts, resolve_config, sample_files};
use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use esmc_schemas::Warehouse;
use esmc_trainer::train::{Predictions, Progress, Trainer, evaluate};
use esmc_trainer::{ModelKind, data};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs every (model, seed) as a worker process, `plan.jobs` at a time, under one
/// progress bar fed by the workers' `advance N` lines. A worker that dies without
/// writing its metrics file gets a failed one here.
pub(crate) fn run_all(plan: &Plan, wh: &Warehouse, quiet: bool) -> Result<()> {
    let runs = plan.runs();
    // samples each run processes: every train day, each test day scored and all but the
    // last trained
    let rows = |r: DayRange| -> Result<u64> {
        r.days()
            .iter()
            .map(|d| data::count_rows(&sample_files(wh, *d)?).map_err(anyhow::Error::from))
            .sum()
    };
    let last_test = data::count_rows(&sample_files(wh, plan.test.last)?)?;
    let per_run = rows(plan.train)? + 2 * rows(plan.test)? - last_test;
    let bar = crate::progress::Bar::new("compare", "samples", quiet);
    bar.start_pass(per_run * runs.len() as u64);
    let exe = std::env::current_exe().context("cannot find the esmc binary")?;
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..plan.jobs {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(model, seed)) = runs.get(i) else {
                        break;
                    };
                    if let Err(e) = spawn_worker(plan, &exe, model, seed, &bar) {
                        errors
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(format!("{model} seed {seed}: {e:#}"));
                    }
                }
            });
        }
    });
    Progress::finish(&bar);
    let errors = errors.into_inner().unwrap_or_else(|e| e.into_inner());
    if !errors.is_empty() {
        bail!("cannot run workers: {}", errors.join("; "));
    }
    Ok(())
}

fn spawn_worker(
    plan: &Plan,
    exe: &Path,
    model: ModelKind,
    seed: u64,
    bar: &crate::progress::Bar,
) -> Result<()> {
    let file = run_file(&plan.out, model, seed);
    let log = file.with_extension("log");
    let mut cmd = Command::new(exe);
    cmd.arg("compare")
        .arg("--quiet")
        .arg("--worker")
        .arg(format!("{model}:{seed}"))
        .arg("--root")
        .arg(&plan.root)
        .arg("--train")
        .arg(plan.train.to_string())
        .arg("--test")
        .arg(plan.test.to_string())
        .arg("--out")
        .arg(&plan.out);
    for (flag, v) in [
        ("--train-config", &plan.opts.train_config),
        ("--features", &plan.opts.features),
    ] {
        if let Some(v) = v {
            cmd.arg(flag).arg(v);
        }
    }
    if let Some(p) = &plan.opts.preset {
        cmd.arg("--preset").arg(p);
    }
    if let Some(t) = plan.threads {
        cmd.arg("--threads").arg(t.to_string());
    }
    if plan.allow_provisional {
        cmd.arg("--allow-provisional");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    let stdout = child.stdout.take().expect("piped stdout");
    for line in std::io::BufReader::new(stdout).lines() {
        if let Some(n) = line?.strip_prefix("advance ").and_then(|n| n.parse().ok()) {
            Progress::advance(bar, n);
        }
    }
    let status = child.wait()?;
    if !file.exists() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let last = text
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let error = format!("worker exited with {status}: {last}");
        write_run(&file, model, seed, plan, Err(&error))?;
    } else if std::fs::metadata(&log).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(&log);
    }
    Ok(())
}

/// Writes a run's metrics file (atomically: a reader sees a whole file or none).
fn write_run(
    file: &Path,
    model: ModelKind,
    seed: u64,
    plan: &Plan,
    result: std::result::Result<&serde_json::Map<String, serde_json::Value>, &str>,
) -> Result<()> {
    let days = |r: DayRange| r.days().iter().map(|d| d.to_string()).collect::<Vec<_>>();
    let mut v = serde_json::json!({
        "model": model.name(),
        "seed": seed,
        "train_days": days(plan.train),
        "test_days": days(plan.test),
    });
    match result {
        Ok(metrics) => {
            v["status"] = "ok".into();
            v["metrics"] = serde_json::Value::Object(metrics.clone());
        }
        Err(e) => {
            v["status"] = "failed".into();
            v["error"] = e.into();
        }
    }
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&v)?)?;
    std::fs::rename(&tmp, file)?;
    Ok(())
}

/// Progress of a worker, for its parent: one `advance N` line per batch.
struct Pipe;

impl Progress for Pipe {
    fn advance(&self, rows: u64) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "advance {rows}");
    }
}

/// `--worker MODEL:SEED`: one run; its metrics file holds the result or the error.
pub(super) fn worker(args: &Args, spec: &str) -> Result<()> {
    let (model, seed) = spec
        .split_once(':')
        .and_then(|(m, s)| Some((m.parse::<ModelKind>().ok()?, s.parse::<u64>().ok()?)))
        .with_context(|| format!("--worker takes MODEL:SEED, not '{spec}'"))?;
    let (root, out) = match (&args.root, &args.out, args.train, args.test) {
        (Some(r), Some(o), Some(_), Some(_)) => (r, o),
        _ => bail!("--worker needs --root, --out, --train and --test"),
    };
    let plan = Plan {
        root: root.clone(),
        models: vec![model],
        seeds: seed,
        train: args.train.expect("checked"),
        test: args.test.expect("checked"),
        opts: ModelOpts {
            preset: args.preset.clone(),
            features: args.features.clone(),
            train_config: args.train_config.clone(),
            seed: Some(seed),
            train_threads: args.threads,
            print_config: false,
        },
        out: out.clone(),
        jobs: 1,
        threads: args.threads,
        allow_provisional: args.allow_provisional,
    };
    let file = run_file(out, model, seed);
    match train_and_test(&plan, model, &super::rows::rows_file(&file)) {
        Ok(metrics) => write_run(&file, model, seed, &plan, Ok(&metrics)),
        Err(e) => {
            write_run(&file, model, seed, &plan, Err(&format!("{e:#}")))?;
            Err(e)
        }
    }
}

/// Trains a fresh model on the train days, then scores the test days test-then-train and
/// evaluates the pooled predictions, which go to `rows` (for the paired intervals).
/// Returns Evaluation::flat plus the training speed and, for the ESMC family, the tower
/// gap after the last day learnt.
fn train_and_test(
    plan: &Plan,
    model: ModelKind,
    rows: &Path,
) -> Result<serde_json::Map<String, serde_json::Value>> {
    let wh = Warehouse::new(&plan.root);
    let (cfg, features) = resolve_config(model, &plan.opts)?;
    let files = sample_files(&wh, plan.train.first)?;
    let schema = data::file_schema(&files[0])?;
    let spec = features.resolve(Some(&schema), cfg.embedding_dim)?;
    let norm = data::norm_stats(&files, &spec)?;
    let mut trainer = Trainer::new(cfg, features, Some(&schema), norm)?;
    let fail = std::env::var("ESMC_FAILPOINT").ok() == Some(format!("compare-fail:{model}"));
    let (mut samples, mut seconds) = (0u64, 0.0f64);
    let mut learn = |trainer: &mut Trainer, day: NaiveDate, files: &[PathBuf]| -> Result<()> {
        let stats = trainer.train_files(files, day.to_epoch_days() as u64, &Pipe)?;
        samples += stats.samples;
        seconds += stats.wall.as_secs_f64();
        if fail {
            // test instrumentation: a run that fails after learning a day
            bail!("failpoint compare-fail:{model} after training {day}");
        }
        Ok(())
    };
    for day in plan.train.days() {
        learn(&mut trainer, day, &sample_files(&wh, day)?)?;
    }
    let mut pooled = Predictions::default();
    let test_days = plan.test.days();
    for (i, &day) in test_days.iter().enumerate() {
        let files = sample_files(&wh, day)?;
        append(&mut pooled, trainer.predict_files(&files, &Pipe)?);
        if i + 1 < test_days.len() {
            learn(&mut trainer, day, &files)?;
        }
    }
    super::rows::write(rows, &pooled)?;
    let mut out: serde_json::Map<String, serde_json::Value> = evaluate(&pooled)
        .flat()
        .into_iter()
        .map(|(k, v)| (k, v.into()))
        .collect();
    if let Some(gap) = trainer.model.tower_gap() {
        out.insert("tower_gap".into(), gap.into());
    }
    out.insert("train_samples".into(), samples.into());
    out.insert("train_seconds".into(), seconds.into());
    out.insert(
        "samples_per_s".into(),
        (samples as f64 / seconds.max(1e-9)).into(),
    );
    Ok(out)
}

/// Appends `q`'s rows to `p`.
fn append(p: &mut Predictions, q: Predictions) {
    p.sample_id.extend(q.sample_id);
    p.user_id.extend(q.user_id);
    p.bad_case.extend(q.bad_case);
    p.click.extend(q.click);
    p.purchase.extend(q.purchase);
    p.ctr.extend(q.ctr);
    p.cvr.extend(q.cvr);
    p.ctcvr.extend(q.ctcvr);
    for (a, b) in p.truth.iter_mut().zip(q.truth) {
        a.extend(b);
    }
}
