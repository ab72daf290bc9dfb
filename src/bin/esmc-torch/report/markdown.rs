//! The report's markdown: the summary table (per run, the mean over evaluated days and
//! the last day), the charts' links, and each run's per-day table.

use super::metrics::RunMetrics;
use crate::chart::Figure;
use std::fmt::Write as _;
use std::path::Path;

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

/// The summary: per run, the mean over evaluated days and the last evaluated day.
pub(super) fn summary_table(runs: &[RunMetrics]) -> String {
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

pub(super) fn markdown(
    root: &Path,
    runs: &[RunMetrics],
    summary: &str,
    charts: &[(&str, Figure)],
) -> String {
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
