//! A run's pooled test predictions, row by row: `runs/<model>-seed<k>.parquet`, written
//! by the worker, read back by the parent for the paired intervals (every run of a
//! comparison scores the same rows in the same order).
//!
//! Columns: sample_id, user_id, click, purchase, bad_case, p_ctr, p_cvr, p_ctcvr,
//! truth_p_click, truth_p_cart, truth_p_cvr (NaN where the samples carry no truth).

use anyhow::{Context, Result, bail};
use arrow::array::{Array, ArrayRef, BooleanArray, Float32Array, Int64Array, RecordBatch};
use esmc_trainer::Predictions;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The rows file next to a run's metrics file.
pub fn rows_file(run_file: &Path) -> PathBuf {
    run_file.with_extension("parquet")
}

const F32: [&str; 8] = [
    "click",
    "purchase",
    "p_ctr",
    "p_cvr",
    "p_ctcvr",
    "truth_p_click",
    "truth_p_cart",
    "truth_p_cvr",
];

fn f32_columns(p: &Predictions) -> [&Vec<f32>; 8] {
    [
        &p.click,
        &p.purchase,
        &p.ctr,
        &p.cvr,
        &p.ctcvr,
        &p.truth[0],
        &p.truth[1],
        &p.truth[2],
    ]
}

/// Writes the predictions (atomically).
pub fn write(path: &Path, p: &Predictions) -> Result<()> {
    let n = p.sample_id.len();
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        ("sample_id", Arc::new(Int64Array::from(p.sample_id.clone()))),
        ("user_id", Arc::new(Int64Array::from(p.user_id.clone()))),
        ("bad_case", Arc::new(BooleanArray::from(p.bad_case.clone()))),
    ];
    for (name, v) in F32.iter().zip(f32_columns(p)) {
        // truth absent from the samples: NaN columns of the right length
        let v = if v.len() == n {
            v.clone()
        } else {
            vec![f32::NAN; n]
        };
        cols.push((name, Arc::new(Float32Array::from(v))));
    }
    let batch = RecordBatch::try_from_iter(cols)?;
    let tmp = path.with_extension("parquet.tmp");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    w.write(&batch)?;
    w.close()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Reads predictions written by [`write`].
pub fn read(path: &Path) -> Result<Predictions> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let mut p = Predictions::default();
    for batch in reader {
        let batch = batch?;
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .with_context(|| format!("{} has no column {name}", path.display()))
        };
        let i64s = |name: &str| -> Result<Vec<i64>> {
            let c = col(name)?;
            let a = c
                .as_any()
                .downcast_ref::<Int64Array>()
                .context("not Int64")?;
            Ok(a.values().to_vec())
        };
        let f32s = |name: &str| -> Result<Vec<f32>> {
            let c = col(name)?;
            let a = c
                .as_any()
                .downcast_ref::<Float32Array>()
                .context("not Float32")?;
            Ok(a.values().to_vec())
        };
        p.sample_id.extend(i64s("sample_id")?);
        p.user_id.extend(i64s("user_id")?);
        let b = col("bad_case")?;
        let b = b
            .as_any()
            .downcast_ref::<BooleanArray>()
            .context("not Boolean")?;
        p.bad_case.extend((0..b.len()).map(|i| b.value(i)));
        p.click.extend(f32s("click")?);
        p.purchase.extend(f32s("purchase")?);
        p.ctr.extend(f32s("p_ctr")?);
        p.cvr.extend(f32s("p_cvr")?);
        p.ctcvr.extend(f32s("p_ctcvr")?);
        for (k, name) in ["truth_p_click", "truth_p_cart", "truth_p_cvr"]
            .iter()
            .enumerate()
        {
            p.truth[k].extend(f32s(name)?);
        }
    }
    if p.truth[0].iter().all(|v| v.is_nan()) {
        p.truth = Default::default();
    }
    if p.sample_id.is_empty() {
        bail!("{} holds no rows", path.display());
    }
    Ok(p)
}
