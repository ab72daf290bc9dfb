//! The comparison table, computed from the run files alone: per model the mean and the
//! sample standard deviation (n − 1) over its successful seeds of each metric, the gain
//! over the first model, the oracle ceiling, and a status naming failed runs.
//!
//! ```text
//! runs/<model>-seed<k>.json ──Run::load──▶ summarise ──▶ markdown │ CSV │ BarFigure
//! ```

use crate::chart::{BarFigure, BarPanel, category_colour};
use anyhow::{Context, Result};
use esmc_trainer::ModelKind;
use std::collections::BTreeMap;
use std::path::Path;

/// One (model, seed) run: its metrics, or why it failed.
pub struct Run {
    pub model: ModelKind,
    pub seed: u64,
    pub result: Result<BTreeMap<String, f64>, String>,
}

impl Run {
    /// Reads a run file; a missing file is a failed run.
    pub fn load(path: &Path, model: ModelKind, seed: u64) -> Result<Run> {
        let result = match std::fs::read_to_string(path) {
            Err(_) => Err(format!("no metrics file {}", path.display())),
            Ok(text) => {
                let v: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("invalid {}", path.display()))?;
                if v["status"] == "ok" {
                    let metrics = v["metrics"]
                        .as_object()
                        .with_context(|| format!("no metrics in {}", path.display()))?;
                    Ok(metrics
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                        .collect())
                } else {
                    Err(v["error"].as_str().unwrap_or("failed").to_string())
                }
            }
        };
        Ok(Run {
            model,
            seed,
            result,
        })
    }
}

/// The metrics of the table: key in the run files, header. All of them go to the CSV
/// (mean and std); the markdown shows those of [`MARKDOWN`].
pub const METRICS: [(&str, &str); 15] = [
    ("ctr_auc", "CTR-AUC"),
    ("ctcvr_auc", "CTCVR-AUC"),
    ("cvr_auc", "CVR-AUC"),
    ("es_cvr_eauc", "CVR E-AUC entire-space"),
    ("es_cvr_clicked_eauc", "CVR E-AUC clicked"),
    ("es_ctcvr_eauc", "CTCVR E-AUC"),
    ("es_cvr_spearman", "CVR Spearman entire-space"),
    ("es_cvr_calibration", "CVR calib. entire-space"),
    ("ctcvr_gauc", "CTCVR-GAUC"),
    ("ctcvr_log_loss", "CTCVR log loss"),
    ("cvr_log_loss", "CVR log loss"),
    ("cvr_calibration", "CVR calibration"),
    ("cvr_bad_auc", "CVR-AUC bad"),
    ("cvr_good_auc", "CVR-AUC good"),
    ("samples_per_s", "train samples/s"),
];

/// Indices into [`METRICS`] of the markdown's columns, in order; the first four with
/// ± std, the gains after them.
const MARKDOWN: [usize; 11] = [0, 1, 2, 3, 4, 7, 8, 9, 12, 13, 14];
/// Columns of the markdown shown with ± std.
const WITH_STD: usize = 4;

/// The run-file key of the oracle's value of a metric: `oracle_<key>`, and for the
/// expected AUCs `es_<task>_oracle_eauc`.
fn oracle_key(key: &str) -> String {
    match key.strip_suffix("_eauc") {
        Some(task) if key.starts_with("es_") => format!("{task}_oracle_eauc"),
        _ => format!("oracle_{key}"),
    }
}

/// Metrics whose gain over the first model is reported (RelaImpr, in %).
pub const GAINS: [(&str, &str); 2] = [("cvr_auc", "CVR gain"), ("ctcvr_auc", "CTCVR gain")];

/// A mean over seeds and its sample standard deviation (None for a single value).
#[derive(Debug, Clone, Copy)]
pub struct Stat {
    pub mean: f64,
    pub std: Option<f64>,
}

/// Mean and sample standard deviation (n − 1) of `xs`; None when empty.
pub fn mean_std(xs: &[f64]) -> Option<Stat> {
    if xs.is_empty() {
        return None;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let std = (xs.len() > 1)
        .then(|| (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    Some(Stat { mean, std })
}

/// RelaImpr (the papers' relative gain of an AUC over a reference), in %.
pub fn rela_impr(auc: f64, reference: f64) -> f64 {
    ((auc - 0.5) / (reference - 0.5) - 1.0) * 100.0
}

/// A row of the table.
pub struct Row {
    pub label: String,
    pub ok: usize,
    pub total: usize,
    /// Per [`METRICS`].
    pub stats: Vec<Option<Stat>>,
    /// Per [`GAINS`].
    pub gains: Vec<Option<f64>>,
    pub status: String,
}

/// The models' rows, in the order given, and the oracle's when the samples carry truth.
pub struct Summary {
    pub rows: Vec<Row>,
    pub oracle: Option<Row>,
}

/// Aggregates the runs per model.
pub fn summarise(models: &[ModelKind], runs: &[Run]) -> Summary {
    let collect = |of: &[&Run], key: &str| -> Option<Stat> {
        let xs: Vec<f64> = of
            .iter()
            .filter_map(|r| r.result.as_ref().ok()?.get(key).copied())
            .collect();
        mean_std(&xs)
    };
    let mut rows: Vec<Row> = models
        .iter()
        .map(|&m| {
            let mine: Vec<&Run> = runs.iter().filter(|r| r.model == m).collect();
            let failures: Vec<(u64, &str)> = mine
                .iter()
                .filter_map(|r| r.result.as_ref().err().map(|e| (r.seed, e.as_str())))
                .collect();
            let ok = mine.len() - failures.len();
            let status = if failures.is_empty() {
                "ok".to_string()
            } else if ok == 0 && failures.iter().all(|f| f.1 == failures[0].1) {
                format!("failed: {}", failures[0].1)
            } else {
                failures
                    .iter()
                    .map(|(s, e)| format!("failed (seed {s}): {e}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            Row {
                label: m.name().to_string(),
                ok,
                total: mine.len(),
                stats: METRICS.iter().map(|(k, _)| collect(&mine, k)).collect(),
                gains: vec![None; GAINS.len()],
                status,
            }
        })
        .collect();
    let reference: Vec<Option<f64>> = GAINS
        .iter()
        .map(|(k, _)| {
            let i = METRICS.iter().position(|(m, _)| m == k)?;
            Some(rows.first()?.stats[i]?.mean)
        })
        .collect();
    for row in &mut rows {
        for (g, (k, _)) in GAINS.iter().enumerate() {
            let i = METRICS.iter().position(|(m, _)| m == k).expect("a metric");
            row.gains[g] = reference[g]
                .zip(row.stats[i])
                .map(|(r, s)| rela_impr(s.mean, r));
        }
    }
    let all: Vec<&Run> = runs.iter().collect();
    // the same rows and truth in every run: no spread to show
    let oracle_stats: Vec<Option<Stat>> = METRICS
        .iter()
        .map(|(k, _)| {
            collect(&all, &oracle_key(k)).map(|s| Stat {
                mean: s.mean,
                std: None,
            })
        })
        .collect();
    let oracle = oracle_stats.iter().any(Option::is_some).then(|| Row {
        label: "oracle (true p)".into(),
        ok: 0,
        total: 0,
        stats: oracle_stats,
        gains: vec![None; GAINS.len()],
        status: "ceiling".into(),
    });
    Summary { rows, oracle }
}

/// A cell of the markdown: `0.6730 ± 0.0012`, `0.6730`, or `-`.
fn cell(s: Option<Stat>, with_std: bool, decimals: usize) -> String {
    match s {
        None => "-".into(),
        Some(Stat { mean, std }) => match std.filter(|_| with_std) {
            Some(sd) => format!("{mean:.decimals$} ± {sd:.decimals$}"),
            None => format!("{mean:.decimals$}"),
        },
    }
}

impl Summary {
    /// The table in markdown, with a caption line under it.
    pub fn markdown(&self, caption: &str) -> String {
        let mut head = vec!["model".to_string(), "runs".into()];
        head.extend(
            MARKDOWN[..WITH_STD]
                .iter()
                .map(|&i| METRICS[i].1.to_string()),
        );
        head.extend(GAINS.iter().map(|g| g.1.to_string()));
        head.extend(
            MARKDOWN[WITH_STD..]
                .iter()
                .map(|&i| METRICS[i].1.to_string()),
        );
        head.push("status".into());
        let mut out = format!("| {} |\n", head.join(" | "));
        out += &format!(
            "|{}\n",
            head.iter()
                .enumerate()
                .map(|(i, _)| if i == 0 || i + 1 == head.len() {
                    " --- |"
                } else {
                    " ---: |"
                })
                .collect::<String>()
        );
        for (r, row) in self.rows.iter().chain(&self.oracle).enumerate() {
            let is_oracle = r == self.rows.len();
            let mut cells = vec![
                row.label.clone(),
                if is_oracle {
                    "-".into()
                } else {
                    format!("{}/{}", row.ok, row.total)
                },
            ];
            for (j, &i) in MARKDOWN.iter().enumerate() {
                if j == WITH_STD {
                    for g in &row.gains {
                        cells.push(match g {
                            None => "-".into(),
                            Some(_) if r == 0 => "(ref)".into(),
                            Some(g) => format!("{g:+.2}%"),
                        });
                    }
                }
                let decimals = match METRICS[i].0 {
                    "samples_per_s" => 0,
                    k if k.ends_with("log_loss") => 5,
                    k if k.ends_with("calibration") => 3,
                    _ => 4,
                };
                cells.push(cell(row.stats[i], j < WITH_STD, decimals));
            }
            cells.push(row.status.replace('|', "/").replace('\n', " "));
            out += &format!("| {} |\n", cells.join(" | "));
        }
        out += &format!("\n{caption}\n");
        out
    }

    /// The table as CSV: every metric's mean and std (empty where undefined), the gains,
    /// the status. Numbers are written in full (shortest round-trip form).
    pub fn csv(&self) -> String {
        let mut head = vec!["model".to_string(), "runs_ok".into(), "runs".into()];
        for (k, _) in METRICS {
            head.push(format!("{k}_mean"));
            head.push(format!("{k}_std"));
        }
        head.extend(GAINS.iter().map(|(k, _)| format!("{k}_gain_pct")));
        head.push("status".into());
        let mut out = head.join(",") + "\n";
        let num = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        for row in self.rows.iter().chain(&self.oracle) {
            let mut cells = vec![row.label.clone(), row.ok.to_string(), row.total.to_string()];
            for s in &row.stats {
                cells.push(num(s.map(|s| s.mean)));
                cells.push(num(s.and_then(|s| s.std)));
            }
            cells.extend(row.gains.iter().map(|g| num(*g)));
            cells.push(format!("\"{}\"", row.status.replace('"', "\"\"")));
            out += &(cells.join(",") + "\n");
        }
        out
    }

    /// CTR-, CTCVR- and CVR-AUC per model with ± std whiskers, the oracle dashed.
    pub fn chart(&self, title: &str) -> BarFigure {
        let panels = [0, 1, 2]
            .into_iter()
            .map(|i| BarPanel {
                title: METRICS[i].1.into(),
                bars: self
                    .rows
                    .iter()
                    .map(|r| r.stats[i].map(|s| (s.mean, s.std.unwrap_or(0.0))))
                    .collect(),
                reference: self
                    .oracle
                    .iter()
                    .filter_map(|o| o.stats[i].map(|s| s.mean))
                    .collect(),
            })
            .collect();
        BarFigure {
            title: title.into(),
            categories: self
                .rows
                .iter()
                .enumerate()
                .map(|(i, r)| (r.label.clone(), category_colour(i)))
                .collect(),
            panels,
            panel_size: (360, 320),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(model: ModelKind, seed: u64, auc: Option<f64>) -> Run {
        Run {
            model,
            seed,
            result: auc
                .map(|a| BTreeMap::from([("cvr_auc".to_string(), a)]))
                .ok_or_else(|| "boom".to_string()),
        }
    }

    #[test]
    fn mean_and_sample_std() {
        let s = mean_std(&[0.6, 0.7, 0.8]).unwrap();
        assert!((s.mean - 0.7).abs() < 1e-12);
        assert!((s.std.unwrap() - 0.1).abs() < 1e-12);
        assert!(mean_std(&[0.6]).unwrap().std.is_none());
        assert!(mean_std(&[]).is_none());
    }

    #[test]
    fn gain_is_rela_impr_over_the_first_model_and_failures_are_named() {
        use ModelKind::*;
        let runs = [
            run(Base, 1, Some(0.6)),
            run(Base, 2, Some(0.6)),
            run(Esmc, 1, Some(0.65)),
            run(Esmc, 2, None),
            run(Esmm, 1, None),
            run(Esmm, 2, None),
        ];
        let s = summarise(&[Base, Esmc, Esmm], &runs);
        // (0.65 - 0.5) / (0.6 - 0.5) - 1 = +50 %
        assert!((s.rows[1].gains[0].unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(s.rows[1].ok, 1);
        assert_eq!(s.rows[1].status, "failed (seed 2): boom");
        assert_eq!(s.rows[2].status, "failed: boom");
        assert!(s.rows[2].stats.iter().all(Option::is_none));
        assert!(s.oracle.is_none());
        let md = s.markdown("c");
        assert!(md.contains("| esmm | 0/2 |"), "{md}");
    }
}
