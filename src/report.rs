//! `esmc report`: a markdown report and SVG charts of one or more runs' daily metrics.
//!
//! ```text
//!   models/<run>/metrics.parquet ──┐   (gathered from the checkpoints' meta.json
//!   models/<run2>/metrics.parquet ─┤    by history::write when missing)
//!                                  ▼
//!                         RunMetrics per run ──▶ report.md  (per-day tables, summary)
//!                                            └─▶ *.svg      (AUCs, log loss, calibration)
//! ```
//!
//! Every metric is out-of-sample: day d is scored by the model trained up to d-1, so the
//! first day of a run has none. Summaries average over the days that have a value.

use crate::chart::{Figure, Panel, Series, oracle_colour, run_colour};
use anyhow::{Context, Result, bail};
use arrow::array::{
    Array, ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Warehouse root.
    #[arg(long)]
    root: PathBuf,
    /// Run to report; repeat to compare runs (reads models/<run>/metrics.parquet).
    #[arg(long = "run", required = true, value_name = "NAME")]
    runs: Vec<String>,
    /// Output directory (default: <root>/reports/<runs joined by '+'>/).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A metric column of the tables: header, column of metrics.parquet, decimals.
type Metric = (&'static str, &'static str, usize);

/// The metrics of the per-day and summary tables, in order.
const METRICS: [Metric; 7] = [
    ("CTR-AUC", "ctr_auc", 4),
    ("CTCVR-AUC", "ctcvr_auc", 4),
    ("CVR-AUC", "cvr_auc", 4),
    ("CTR-GAUC", "ctr_gauc", 4),
    ("CVR log loss", "cvr_log_loss", 4),
    ("CVR calibration", "cvr_calibration", 3),
    ("oracle CVR-AUC", "oracle_cvr_auc", 4),
];

/// Columns of metrics.parquet that describe training, not evaluation.
const TRAIN_COLUMNS: [&str; 9] = [
    "run",
    "model",
    "dt",
    "days_trained",
    "fingerprint",
    "samples",
    "train_seconds",
    "samples_per_s",
    "mean_loss",
];

/// One run's metrics history, sorted by day.
struct RunMetrics {
    name: String,
    model: Option<String>,
    days: Vec<NaiveDate>,
    samples: Vec<Option<i64>>,
    /// Every numeric column by name, one value per day.
    columns: BTreeMap<String, Vec<Option<f64>>>,
}

impl RunMetrics {
    fn value(&self, column: &str, day: usize) -> Option<f64> {
        self.columns.get(column)?[day].filter(|v| v.is_finite())
    }

    /// `column` as a chart series.
    fn series(&self, column: &str) -> Vec<(NaiveDate, Option<f64>)> {
        (0..self.days.len())
            .map(|i| (self.days[i], self.value(column, i)))
            .collect()
    }

    /// Days with at least one evaluation metric (all but a run's first day, normally).
    fn evaluated(&self) -> Vec<usize> {
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
    fn mean(&self, column: &str) -> Option<f64> {
        let v: Vec<f64> = (0..self.days.len())
            .filter_map(|i| self.value(column, i))
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
}

pub fn run(args: Args, quiet: bool) -> Result<()> {
    let mut runs = Vec::new();
    for name in &args.runs {
        if runs.iter().any(|r: &RunMetrics| &r.name == name) {
            bail!("run `{name}` is given twice");
        }
        runs.push(load(&args.root, name, quiet)?);
    }
    let out = args
        .out
        .unwrap_or_else(|| args.root.join("reports").join(args.runs.join("+")));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let charts = charts(&runs);
    for (file, figure) in &charts {
        let path = out.join(file);
        figure
            .save_svg(&path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let summary = summary_table(&runs);
    let report = markdown(&args.root, &runs, &summary, &charts);
    let path = out.join("report.md");
    std::fs::write(&path, report).with_context(|| format!("writing {}", path.display()))?;

    println!("report: {}", path.display());
    println!("charts: {} SVG files in {}", charts.len(), out.display());
    println!();
    print!("{summary}");
    Ok(())
}

/// Reads `root/models/<name>/metrics.parquet`, gathering it from the checkpoints first
/// when it is missing.
fn load(root: &Path, name: &str, quiet: bool) -> Result<RunMetrics> {
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

/// The charts: file name and figure.
fn charts(runs: &[RunMetrics]) -> Vec<(&'static str, Figure)> {
    let lines = |col: &str, oracle: Option<&str>| -> Vec<Series> {
        let mut out = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            out.push(Series {
                label: r.name.clone(),
                colour: run_colour(i),
                dashed: false,
                points: r.series(col),
            });
            if let Some(o) = oracle {
                out.push(Series {
                    label: format!("{} oracle", r.name),
                    colour: oracle_colour(i),
                    dashed: true,
                    points: r.series(o),
                });
            }
        }
        out
    };
    let auc = |title: &str, task: &str| Figure {
        title: format!("{title} per day (out-of-sample)"),
        panels: vec![Panel {
            title:
                "day d scored by the model trained up to d-1; dashed: oracle (true probabilities)"
                    .into(),
            series: lines(&format!("{task}_auc"), Some(&format!("oracle_{task}_auc"))),
            reference: vec![],
        }],
        panel_size: (900, 460),
    };
    let per_task = |title: &str, metric: &str, oracle: bool, reference: Vec<f64>| Figure {
        title: title.into(),
        panels: ["ctr", "ctcvr", "cvr"]
            .iter()
            .map(|task| Panel {
                title: task.to_uppercase(),
                series: lines(
                    &format!("{task}_{metric}"),
                    oracle.then(|| format!("oracle_{task}_{metric}")).as_deref(),
                ),
                reference: reference.clone(),
            })
            .collect(),
        panel_size: (500, 400),
    };
    vec![
        ("ctr_auc.svg", auc("CTR-AUC", "ctr")),
        ("ctcvr_auc.svg", auc("CTCVR-AUC", "ctcvr")),
        ("cvr_auc.svg", auc("CVR-AUC", "cvr")),
        (
            "log_loss.svg",
            per_task(
                "Log loss per day (dashed: oracle)",
                "log_loss",
                true,
                vec![],
            ),
        ),
        (
            "calibration.svg",
            per_task(
                "Calibration per day: predicted / observed rate",
                "calibration",
                false,
                vec![1.0],
            ),
        ),
    ]
}

/// The summary: per run, the mean over evaluated days and the last evaluated day.
fn summary_table(runs: &[RunMetrics]) -> String {
    let mut header = vec!["run", "model", "over"];
    header.extend(METRICS.iter().map(|m| m.0));
    let mut rows = Vec::new();
    for r in runs {
        let evaluated = r.evaluated();
        let model = r.model.clone().unwrap_or_else(|| "-".into());
        let mut mean = vec![
            r.name.clone(),
            model.clone(),
            format!("mean of {} days", evaluated.len()),
        ];
        mean.extend(METRICS.iter().map(|&(_, col, d)| fmt(r.mean(col), d)));
        rows.push(mean);
        let mut last = vec![r.name.clone(), model, "last day".into()];
        if let Some(&i) = evaluated.last() {
            last[2] = format!("last: {}", r.days[i]);
        }
        last.extend(
            METRICS
                .iter()
                .map(|&(_, col, d)| fmt(evaluated.last().and_then(|&i| r.value(col, i)), d)),
        );
        rows.push(last);
    }
    table(&header, 3, &rows)
}

/// The per-day table of one run.
fn day_table(r: &RunMetrics) -> String {
    let mut header = vec!["dt", "samples", "samples/s", "loss"];
    header.extend(METRICS.iter().map(|m| m.0));
    let rows: Vec<Vec<String>> = (0..r.days.len())
        .map(|i| {
            let mut row = vec![
                r.days[i].to_string(),
                r.samples[i].map_or("-".into(), |s| s.to_string()),
                fmt(r.value("samples_per_s", i), 0),
                fmt(r.value("mean_loss", i), 4),
            ];
            row.extend(METRICS.iter().map(|&(_, col, d)| fmt(r.value(col, i), d)));
            row
        })
        .collect();
    table(&header, 1, &rows)
}

fn markdown(root: &Path, runs: &[RunMetrics], summary: &str, charts: &[(&str, Figure)]) -> String {
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    let mut s = String::new();
    let _ = writeln!(s, "# Training report: {}\n", names.join(", "));
    let _ = writeln!(
        s,
        "Warehouse `{}`. Metrics are out-of-sample (test-then-train): day d is scored by the \
         model trained up to d-1, so a run's first day has none. Oracle = the same metric \
         scored with the simulator's true probabilities, where the samples carry them.\n",
        root.display()
    );
    let _ = writeln!(s, "## Summary\n\n{summary}");
    let _ = writeln!(s, "## Charts\n");
    for (file, fig) in charts {
        let _ = writeln!(s, "- [{}]({file})", fig.title);
    }
    s.push('\n');
    for (file, fig) in charts {
        let _ = writeln!(s, "![{}]({file})\n", fig.title);
    }
    for r in runs {
        let model = r
            .model
            .as_deref()
            .map(|m| format!(" (model {m})"))
            .unwrap_or_default();
        let _ = writeln!(s, "## Run `{}`{model}\n\n{}", r.name, day_table(r));
    }
    s
}

/// `v` with `decimals` decimals, `-` when absent.
fn fmt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

/// A markdown table with padded cells; columns from `left_cols` on are right-aligned.
fn table(header: &[&str], left_cols: usize, rows: &[Vec<String>]) -> String {
    let width: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len())
                .chain([header[c].len(), 3])
                .max()
                .unwrap_or(3)
        })
        .collect();
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let pad = |c: usize, v: &str| {
        if c < left_cols {
            format!("{v:<w$}", w = width[c])
        } else {
            format!("{v:>w$}", w = width[c])
        }
    };
    let mut s = line(header.iter().enumerate().map(|(c, h)| pad(c, h)).collect());
    s += &line(
        (0..header.len())
            .map(|c| {
                if c < left_cols {
                    "-".repeat(width[c])
                } else {
                    format!("{}:", "-".repeat(width[c] - 1))
                }
            })
            .collect(),
    );
    for r in rows {
        s += &line(r.iter().enumerate().map(|(c, v)| pad(c, v)).collect());
    }
    s
}
