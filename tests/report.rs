//! `esmc report` as a user runs it: metrics histories written by hand into a temporary
//! warehouse, then the markdown tables, the SVG charts (what they draw, where) and the
//! errors checked.

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

#[path = "report/charts.rs"]
mod charts;
#[path = "report/svg.rs"]
mod svg;
use svg::svg;

fn esmc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esmc"))
        .args(args)
        .output()
        .expect("esmc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Days since 1970-01-01 of 2025-01-`day`.
fn date32(day: i32) -> i32 {
    20089 + day - 1
}

/// Writes `root/models/<run>/metrics.parquet` in the layout of `history::write`: one row
/// per day from 2025-01-01, the first day without metrics. `metrics` are (column, values
/// for the days after the first).
fn write_history(root: &Path, run: &str, samples: &[i64], metrics: &[(&str, &[f64])]) {
    let n = samples.len();
    let dir = root.join("models").join(run);
    std::fs::create_dir_all(&dir).unwrap();
    let f = |v: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    let mut cols: Vec<(&str, ArrayRef)> = vec![
        ("run", Arc::new(StringArray::from(vec![run; n]))),
        ("model", Arc::new(StringArray::from(vec!["esmc"; n]))),
        (
            "dt",
            Arc::new(Date32Array::from(
                (1..=n as i32).map(date32).collect::<Vec<_>>(),
            )),
        ),
        (
            "days_trained",
            Arc::new(Int64Array::from((1..=n as i64).collect::<Vec<_>>())),
        ),
        ("fingerprint", Arc::new(StringArray::from(vec!["abc"; n]))),
        ("samples", Arc::new(Int64Array::from(samples.to_vec()))),
        ("train_seconds", f(vec![Some(2.0); n])),
        (
            "samples_per_s",
            f(samples.iter().map(|s| Some(*s as f64 / 2.0)).collect()),
        ),
        (
            "mean_loss",
            f((0..n).map(|i| Some(0.5 - 0.01 * i as f64)).collect()),
        ),
        // a training figure on every day, the first included, as ESMC runs write it
        ("tower_gap", f(vec![Some(40.0); n])),
    ];
    for (name, values) in metrics {
        assert_eq!(values.len(), n - 1);
        cols.push((
            name,
            f(std::iter::once(None)
                .chain(values.iter().map(|v| Some(*v)))
                .collect()),
        ));
    }
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let file = std::fs::File::create(dir.join("metrics.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Two runs: `alpha` (4 days, with oracle metrics) and `beta` (3 days, no oracle).
fn two_runs(root: &Path) {
    write_history(
        root,
        "alpha",
        &[1000, 1100, 1200, 1300],
        &[
            ("ctr_auc", &[0.60, 0.62, 0.64]),
            ("ctr_gauc", &[0.55, 0.56, 0.57]),
            ("ctcvr_auc", &[0.70, 0.71, 0.72]),
            ("cvr_auc", &[0.65, 0.66, 0.70]),
            ("ctr_log_loss", &[0.40, 0.39, 0.38]),
            ("ctcvr_log_loss", &[0.05, 0.05, 0.04]),
            ("cvr_log_loss", &[0.30, 0.29, 0.28]),
            ("ctr_calibration", &[1.10, 1.00, 0.95]),
            ("ctcvr_calibration", &[0.90, 1.00, 1.05]),
            ("cvr_calibration", &[1.20, 1.05, 1.01]),
            ("oracle_cvr_auc", &[0.80, 0.81, 0.82]),
            ("oracle_ctr_auc", &[0.75, 0.75, 0.75]),
        ],
    );
    write_history(
        root,
        "beta",
        &[500, 600, 700],
        &[
            ("ctr_auc", &[0.58, 0.59]),
            ("ctcvr_auc", &[0.68, 0.69]),
            ("cvr_auc", &[0.61, 0.63]),
            ("cvr_log_loss", &[0.33, 0.32]),
            ("cvr_calibration", &[1.30, 1.10]),
        ],
    );
}

/// The rows of the first markdown table after the line `heading`, as trimmed cells.
fn table_after(md: &str, heading: &str) -> Vec<Vec<String>> {
    let start = md
        .find(heading)
        .unwrap_or_else(|| panic!("no `{heading}` in:\n{md}"));
    md[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and alignment row
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

// Long because: one report checked section by section; the two runs are built once.
#[test]
fn report_compares_two_runs_in_tables_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    two_runs(root);
    let out = esmc(&[
        "report",
        "--root",
        root.to_str().unwrap(),
        "--run",
        "alpha",
        "--run",
        "beta",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let report_dir = root.join("reports/alpha+beta");
    let stdout = text(&out.stdout);
    assert!(stdout.contains(&format!(
        "report: {}",
        report_dir.join("report.md").display()
    )));
    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();

    // Summary: mean over the evaluated days, then the last evaluated day, per run.
    let summary = table_after(&md, "## Summary");
    let cells = |r: &[&str]| r.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    assert_eq!(
        summary,
        [
            cells(&[
                "alpha",
                "esmc",
                "mean of 3 days",
                "0.6200",
                "0.7100",
                "0.6700",
                "0.5600",
                "0.2900",
                "1.087",
                "0.8100"
            ]),
            cells(&[
                "alpha",
                "esmc",
                "last: 2025-01-04",
                "0.6400",
                "0.7200",
                "0.7000",
                "0.5700",
                "0.2800",
                "1.010",
                "0.8200"
            ]),
            cells(&[
                "beta",
                "esmc",
                "mean of 2 days",
                "0.5850",
                "0.6850",
                "0.6200",
                "-",
                "0.3250",
                "1.200",
                "-"
            ]),
            cells(&[
                "beta",
                "esmc",
                "last: 2025-01-03",
                "0.5900",
                "0.6900",
                "0.6300",
                "-",
                "0.3200",
                "1.100",
                "-"
            ]),
        ]
    );
    // The summary is also printed.
    assert!(
        stdout.contains("| alpha | esmc  | mean of 3 days"),
        "{stdout}"
    );

    // Per-day table: the first day has training figures but no metrics.
    let alpha = table_after(&md, "## Run `alpha` (model esmc)");
    assert_eq!(alpha.len(), 4);
    assert_eq!(
        alpha[0],
        cells(&[
            "2025-01-01",
            "1000",
            "500",
            "0.5000",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-"
        ])
    );
    assert_eq!(
        alpha[3],
        cells(&[
            "2025-01-04",
            "1300",
            "650",
            "0.4700",
            "0.6400",
            "0.7200",
            "0.7000",
            "0.5700",
            "0.2800",
            "1.010",
            "0.8200"
        ])
    );
    assert_eq!(table_after(&md, "## Run `beta` (model esmc)").len(), 3);

    // Charts: linked from the report, SVG of the documented size.
    for (file, size) in [
        ("ctr_auc.svg", (900.0, 524.0)),
        ("ctcvr_auc.svg", (900.0, 524.0)),
        ("cvr_auc.svg", (900.0, 524.0)),
        ("log_loss.svg", (1500.0, 464.0)),
        ("calibration.svg", (1500.0, 464.0)),
    ] {
        assert!(
            md.contains(&format!("]({file})")),
            "report.md does not link {file}"
        );
        assert_eq!(svg(&report_dir.join(file)).size, size, "{file}");
    }
    charts::cvr_auc_draws_both_runs_and_the_oracle(&svg(&report_dir.join("cvr_auc.svg")));
    charts::calibration_has_three_panels_and_the_reference(&svg(
        &report_dir.join("calibration.svg")
    ));
}

#[test]
fn report_writes_to_out_and_handles_a_single_day_run() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write_history(root, "fresh", &[42], &[]);
    let out_dir = root.join("elsewhere");
    let out = esmc(&[
        "report",
        "--root",
        root.to_str().unwrap(),
        "--run",
        "fresh",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    let summary = table_after(&md, "## Summary");
    assert_eq!(summary[0][2], "mean of 0 days");
    assert!(summary[0][3..].iter().all(|c| c == "-"), "{summary:?}");
    // No evaluated day: the charts still render (with a note instead of lines).
    let c = svg(&out_dir.join("cvr_auc.svg"));
    assert_eq!(c.size.0, 900.0);
    assert_eq!(c.frames.len(), 1);
    assert!(c.has_text("no evaluated days"));
    assert!(c.lines.is_empty() && c.dots.is_empty());
}

#[test]
fn report_gathers_the_history_from_checkpoints_when_it_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (day, metrics) in [
        ("2025-01-01", serde_json::json!({})),
        ("2025-01-02", serde_json::json!({"cvr_auc": 0.75})),
    ] {
        let ckpt = root.join("models/gamma").join(format!("dt={day}"));
        std::fs::create_dir_all(&ckpt).unwrap();
        let meta = serde_json::json!({
            "run": "gamma", "model": "esmc", "days_trained": 1, "fingerprint": "f",
            "train": {"samples": 100, "seconds": 1.0, "mean_loss": 0.4},
            "metrics": metrics,
        });
        std::fs::write(ckpt.join("meta.json"), meta.to_string()).unwrap();
    }
    let out = esmc(&[
        "report",
        "--root",
        root.to_str().unwrap(),
        "--run",
        "gamma",
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(root.join("models/gamma/metrics.parquet").exists());
    let md = std::fs::read_to_string(root.join("reports/gamma/report.md")).unwrap();
    assert_eq!(table_after(&md, "## Summary")[1][2], "last: 2025-01-02");
    assert_eq!(table_after(&md, "## Summary")[1][5], "0.7500");
}

#[test]
fn report_of_a_missing_run_names_the_run_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    two_runs(root);
    let out = esmc(&[
        "report",
        "--root",
        root.to_str().unwrap(),
        "--run",
        "alpha",
        "--run",
        "nope",
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("run `nope`"), "{stderr}");
    let expected = root.join("models").join("nope").join("metrics.parquet");
    assert!(stderr.contains(&expected.display().to_string()), "{stderr}");
    assert!(
        !root.join("reports").exists(),
        "nothing is written when a run is missing"
    );
}
