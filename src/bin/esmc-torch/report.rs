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

mod markdown;
mod metrics;

use crate::chart::{Figure, Panel, Series, oracle_colour, run_colour};
use anyhow::{Context, Result, bail};
use metrics::RunMetrics;
use std::path::PathBuf;

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

pub fn run(args: Args, quiet: bool) -> Result<()> {
    let mut runs = Vec::new();
    for name in &args.runs {
        if runs.iter().any(|r: &RunMetrics| &r.name == name) {
            bail!("run `{name}` is given twice");
        }
        runs.push(metrics::load(&args.root, name, quiet)?);
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
    let summary = markdown::summary_table(&runs);
    let report = markdown::markdown(&args.root, &runs, &summary, &charts);
    let path = out.join("report.md");
    // durably and atomically: a reader never sees half a report
    esmc_schemas::durable::write_file(&path, report.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;

    println!("report: {}", path.display());
    println!("charts: {} SVG files in {}", charts.len(), out.display());
    println!();
    print!("{summary}");
    Ok(())
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
