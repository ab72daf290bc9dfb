//! A run's metrics history as the report reads it: `models/<run>/metrics.parquet`
//! (gathered from the checkpoints first when missing), every numeric column by day.

use anyhow::{Context, Result, bail};
use arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::path::Path;

/// Columns of metrics.parquet that describe training, not evaluation.
const TRAIN_COLUMNS: [&str; 10] = [
    "run",
    "model",
    "dt",
    "days_trained",
    "fingerprint",
    "samples",
    "train_seconds",
    "samples_per_s",
    "mean_loss",
    // ESMC-family runs record the towers' gap after each day's training
    "tower_gap",
];

/// One run's metrics history, sorted by day.
pub(super) struct RunMetrics {
    pub(super) name: String,
    pub(super) model: Option<String>,
    pub(super) days: Vec<NaiveDate>,
    pub(super) samples: Vec<Option<i64>>,
    /// Every numeric column by name, one value per day.
    pub(super) columns: BTreeMap<String, Vec<Option<f64>>>,
}

impl RunMetrics {
    pub(super) fn value(&self, column: &str, day: usize) -> Option<f64> {
        self.columns.get(column)?[day].filter(|v| v.is_finite())
    }

    /// `column` as a chart series.
    pub(super) fn series(&self, column: &str) -> Vec<(NaiveDate, Option<f64>)> {
        (0..self.days.len())
            .map(|i| (self.days[i], self.value(column, i)))
            .collect()
    }

    /// Days with at least one evaluation metric (all but a run's first day, normally).
    pub(super) fn evaluated(&self) -> Vec<usize> {
        let eval: Vec<&String> = self
            .columns
            .keys()
            .filter(|c| !TRAIN_COLUMNS.contains(&c.as_str()))
            .collect();
        (0..self.days.len())
            .filter(|&i| eval.iter().any(|c| self.value(c, i).is_some()))
            .collect()
    }

    /// Mean of `column` over the days that have a value.
    pub(super) fn mean(&self, column: &str) -> Option<f64> {
        let v: Vec<f64> = (0..self.days.len())
            .filter_map(|i| self.value(column, i))
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// Reads `root/models/<name>/metrics.parquet`, gathering it from the checkpoints first
/// when it is missing.
pub(super) fn load(root: &Path, name: &str, quiet: bool) -> Result<RunMetrics> {
    let run_dir = root.join("models").join(name);
    let path = run_dir.join("metrics.parquet");
    if !path.exists() {
        let checkpoints = esmc_trainer::history::records(&run_dir)
            .with_context(|| format!("reading the checkpoints of run `{name}`"))?;
        if checkpoints.is_empty() {
            bail!(
                "run `{name}` has no metrics: neither {} nor any checkpoint {}/dt=*/ exists \
                 (train it with `esmc train --run {name}`)",
                path.display(),
                run_dir.display()
            );
        }
        if !quiet {
            eprintln!(
                "{} missing: gathering it from {} checkpoints",
                path.display(),
                checkpoints.len()
            );
        }
        esmc_trainer::history::write(&run_dir)
            .with_context(|| format!("writing the metrics history of run `{name}`"))?;
    }
    read_metrics(&path, name).with_context(|| format!("reading {}", path.display()))
}

fn read_metrics(path: &Path, name: &str) -> Result<RunMetrics> {
    let file = std::fs::File::open(path)?;
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    let Some(first) = batches.first() else {
        bail!("no row groups")
    };
    let batch = arrow::compute::concat_batches(&first.schema(), &batches)?;

    let column = |col: &str, to: &DataType| -> Result<ArrayRef> {
        let a = batch
            .column_by_name(col)
            .with_context(|| format!("no column `{col}`"))?;
        Ok(arrow::compute::cast(a, to)?)
    };
    let dt = column("dt", &DataType::Date32)?;
    let dt = dt
        .as_any()
        .downcast_ref::<Date32Array>()
        .expect("cast to Date32");
    let days: Vec<NaiveDate> = (0..dt.len())
        .map(|i| {
            dt.value_as_date(i)
                .filter(|_| dt.is_valid(i))
                .context("a null dt")
        })
        .collect::<Result<_>>()?;
    let samples = column("samples", &DataType::Int64)?;
    let samples = samples
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("cast to Int64");
    let model = optional_string(&batch, "model");

    let mut columns = BTreeMap::new();
    for field in batch.schema().fields() {
        if field.data_type().is_numeric() {
            let a = column(field.name(), &DataType::Float64)?;
            let a = a
                .as_any()
                .downcast_ref::<Float64Array>()
                .expect("cast to Float64");
            columns.insert(field.name().clone(), a.iter().collect::<Vec<_>>());
        }
    }
    let mut run = RunMetrics {
        name: name.to_string(),
        model,
        days: Vec::new(),
        samples: Vec::new(),
        columns: columns.keys().map(|k| (k.clone(), Vec::new())).collect(),
    };
    let mut order: Vec<usize> = (0..days.len()).collect();
    order.sort_by_key(|&i| days[i]);
    for i in order {
        run.days.push(days[i]);
        run.samples
            .push(samples.is_valid(i).then(|| samples.value(i)));
        for (k, v) in &columns {
            run.columns.get_mut(k).expect("same keys").push(v[i]);
        }
    }
    Ok(run)
}

/// The first non-null value of a string column, if it exists.
fn optional_string(batch: &RecordBatch, col: &str) -> Option<String> {
    let a = arrow::compute::cast(batch.column_by_name(col)?, &DataType::Utf8).ok()?;
    let a = a.as_any().downcast_ref::<StringArray>()?;
    a.iter().flatten().next().map(String::from)
}
