//! A run's metrics history: one row per trained day, gathered from the checkpoints'
//! `meta.json` into `models/<run>/metrics.parquet` (queryable with `esmc sql`, read by
//! `esmc report`).
//!
//! Columns: `run`, `model`, `dt` (date), `days_trained`, `fingerprint`, `samples`,
//! `train_seconds`, `samples_per_s`, `mean_loss`, then every metric of
//! `train::Evaluation::flat` (`ctr_auc`, `cvr_gauc`, `oracle_cvr_auc`, ...) as nullable
//! doubles: null on the first day of a run (nothing to evaluate with) and where a metric
//! is undefined.

use crate::error::{Result, TrainerError};
use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One checkpoint's record.
#[derive(Debug, Clone)]
pub struct DayRecord {
    pub dt: String,
    pub meta: serde_json::Value,
}

/// The records of every complete checkpoint under `run_dir`, by day.
pub fn records(run_dir: &Path) -> Result<Vec<DayRecord>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(run_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => {
            return Err(TrainerError::Io {
                path: run_dir.into(),
                source: e,
            });
        }
    };
    for e in entries {
        let e = e.map_err(TrainerError::io(run_dir))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(dt) = name.strip_prefix("dt=") else {
            continue;
        };
        let path = e.path().join("meta.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let meta = serde_json::from_str(&text).map_err(|e| TrainerError::Data {
            path: path.clone(),
            message: e.to_string(),
        })?;
        out.push(DayRecord {
            dt: dt.to_string(),
            meta,
        });
    }
    out.sort_by(|a, b| a.dt.cmp(&b.dt));
    Ok(out)
}

/// Writes `run_dir/metrics.parquet` from the checkpoints (atomically and durably);
/// returns its path.
pub fn write(run_dir: &Path) -> Result<PathBuf> {
    let recs = records(run_dir)?;
    let cols = columns(&recs);
    let batch = RecordBatch::try_from_iter(cols).map_err(|e| TrainerError::Data {
        path: run_dir.into(),
        message: e.to_string(),
    })?;
    let out = run_dir.join("metrics.parquet");
    let pq = |source| TrainerError::Parquet {
        path: out.clone(),
        source,
    };
    let mut bytes = Vec::new();
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None).map_err(pq)?;
    w.write(&batch).map_err(pq)?;
    w.close().map_err(pq)?;
    // a private temporary, fsynced, renamed, the directory fsynced
    esmc_schemas::durable::write_file(&out, &bytes).map_err(|e| TrainerError::Io {
        path: e.path,
        source: e.source,
    })?;
    Ok(out)
}

/// One column per field of the day records, then one per metric any day reports (null
/// on the days without it).
fn columns(recs: &[DayRecord]) -> Vec<(String, ArrayRef)> {
    let metric_names: BTreeSet<String> = recs
        .iter()
        .filter_map(|r| r.meta["metrics"].as_object())
        .flat_map(|m| m.keys().cloned())
        .collect();
    let s = |f: &dyn Fn(&DayRecord) -> Option<String>| -> ArrayRef {
        Arc::new(StringArray::from(recs.iter().map(f).collect::<Vec<_>>()))
    };
    let i = |f: &dyn Fn(&DayRecord) -> Option<i64>| -> ArrayRef {
        Arc::new(Int64Array::from(recs.iter().map(f).collect::<Vec<_>>()))
    };
    let d = |f: &dyn Fn(&DayRecord) -> Option<f64>| -> ArrayRef {
        Arc::new(Float64Array::from(recs.iter().map(f).collect::<Vec<_>>()))
    };
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
    let mut cols: Vec<(String, ArrayRef)> = vec![
        (
            "run".into(),
            s(&|r| r.meta["run"].as_str().map(String::from)),
        ),
        (
            "model".into(),
            s(&|r| r.meta["model"].as_str().map(String::from)),
        ),
        (
            "dt".into(),
            Arc::new(Date32Array::from(
                recs.iter()
                    .map(|r| {
                        chrono::NaiveDate::parse_from_str(&r.dt, "%Y-%m-%d")
                            .ok()
                            .map(|d| (d - epoch).num_days() as i32)
                    })
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "days_trained".into(),
            i(&|r| r.meta["days_trained"].as_i64()),
        ),
        (
            "fingerprint".into(),
            s(&|r| r.meta["fingerprint"].as_str().map(String::from)),
        ),
        (
            "samples".into(),
            i(&|r| r.meta["train"]["samples"].as_i64()),
        ),
        (
            "train_seconds".into(),
            d(&|r| r.meta["train"]["seconds"].as_f64()),
        ),
        (
            "samples_per_s".into(),
            d(&|r| {
                let t = &r.meta["train"];
                Some(t["samples"].as_f64()? / t["seconds"].as_f64()?.max(1e-9))
            }),
        ),
        (
            "mean_loss".into(),
            d(&|r| r.meta["train"]["mean_loss"].as_f64()),
        ),
    ];
    for name in &metric_names {
        cols.push((
            name.clone(),
            d(&|r| r.meta["metrics"][name.as_str()].as_f64()),
        ));
    }
    cols
}
