//! `esmc eval` and `esmc predict`: a checkpoint scores a day's samples; eval prints every
//! metric (the entire-space ones where the samples carry the simulator's truth), predict
//! writes the scores.

use super::{EvalArgs, PredictArgs, checkpoint_days, run_dir, sample_files};
use anyhow::{Context, Result};
use chrono::NaiveDate;
use esmc_schemas::Warehouse;
use esmc_trainer::team::{Governed, Governor};
use esmc_trainer::train::{Evaluation, Trainer, evaluate};
use esmc_trainer::{checkpoint, data};
use std::path::Path;

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

/// The checkpoint's scores of `files`, with a bar named `what` and libtorch's team
/// governed by the machine's load.
fn score(
    trainer: &Trainer,
    files: &[std::path::PathBuf],
    what: &'static str,
    quiet: bool,
) -> Result<esmc_trainer::Predictions> {
    let bar = crate::progress::Bar::new(what, "samples", quiet);
    bar.start_pass(data::count_rows(files)?);
    let governor = Governor::new(trainer.cfg.threads);
    let p = trainer.predict_files(
        files,
        &Governed {
            inner: &bar,
            governor: &governor,
        },
    )?;
    esmc_trainer::train::Progress::finish(&bar);
    Ok(p)
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
    if let Some(es) = &e.entire_space {
        print_entire_space(es);
    }
}

/// The scores against the simulator's true probabilities: expected AUC, the oracle's,
/// Spearman, mean predicted / mean true.
fn print_entire_space(es: &esmc_trainer::metrics::EntireSpace) {
    use esmc_trainer::metrics::entire_space::Agreement;
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "\nagainst the true probabilities (expected AUC: E-AUC; calib: mean predicted / mean true)"
    );
    println!(
        "{:<26} {:>8} {:>7} {:>7} {:>8} {:>6}",
        "score", "rows", "E-AUC", "oracle", "Spearman", "calib"
    );
    let row = |name: &str, a: &Agreement| {
        println!(
            "{:<26} {:>8} {:>7} {:>7} {:>8} {:>6}",
            name,
            a.n,
            f(a.eauc),
            f(a.oracle_eauc),
            f(a.spearman),
            a.calibration.map_or("-".into(), |v| format!("{v:.2}")),
        )
    };
    row("pCVR entire-space", &es.cvr_all);
    row("pCVR clicked", &es.cvr_clicked);
    row("pCTCVR entire-space", &es.ctcvr);
    row("pCTR entire-space", &es.ctr);
}

/// The tower gap line of ESMC-family models.
pub(crate) fn print_tower_gap(trainer: &Trainer) {
    if let Some(g) = trainer.model.tower_gap() {
        println!(
            "tower gap (sum over layers of ||W_car - W_cvr||^2, {} constraint, w4 = {}): {g:.4}",
            format!("{:?}", trainer.cfg.constraint).to_lowercase(),
            trainer.cfg.constraint_weight
        );
    }
}

pub fn eval(args: EvalArgs, quiet: bool) -> Result<()> {
    let wh = Warehouse::new(&args.root);
    let (trainer, day) = load_for(&wh, &args)?;
    let p = score(&trainer, &sample_files(&wh, args.dt)?, "eval", quiet)?;
    println!(
        "run '{}' ({}), checkpoint of {day}, samples of {}",
        args.run, trainer.cfg.model, args.dt
    );
    print_evaluation(&evaluate(&p));
    print_tower_gap(&trainer);
    Ok(())
}

pub fn predict(args: PredictArgs, quiet: bool) -> Result<()> {
    let wh = Warehouse::new(&args.eval.root);
    let (trainer, day) = load_for(&wh, &args.eval)?;
    let p = score(
        &trainer,
        &sample_files(&wh, args.eval.dt)?,
        "predict",
        quiet,
    )?;
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
