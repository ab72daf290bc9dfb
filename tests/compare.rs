//! `esmc compare` on a small simulated warehouse: the table is recomputable from the
//! per-run metrics files, a failed run is reported in its row without stopping the
//! others, and the markdown, CSV and SVG are written. The warehouse is built once and
//! only read; each comparison writes into its own temporary directory.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

fn esmc(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esmc"));
    cmd.args(args).arg("--quiet").env_remove("ESMC_FAILPOINT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("esmc runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A small training config: the default features, tiny towers, one thread.
const CONFIG: &str = "embedding_dim = 8\nhidden = [32, 16]\nthreads = 1\nbatch_size = 512\n\
                      [optimizer]\nkind = \"adam\"\nlr = 0.005\n";

/// 6 simulated days from 2026-11-01 (20k rec exposures a day); samples of 11-01..11-03
/// built and mature.
fn warehouse() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let sim = esmc(
            &[
                "simulate",
                "--root",
                root,
                "--days",
                "6",
                "--exposures-per-day",
                "20000",
                "--start",
                "2026-11-01",
                "--seed",
                "5",
            ],
            &[],
        );
        assert!(sim.status.success(), "{}", text(&sim));
        let build = esmc(
            &[
                "build",
                "--root",
                root,
                "--from",
                "2026-11-01",
                "--to",
                "2026-11-03",
            ],
            &[],
        );
        assert!(build.status.success(), "{}", text(&build));
        std::fs::write(dir.path().join("train.toml"), CONFIG).unwrap();
        dir
    })
    .path()
}

/// `esmc compare` of `models` with 2 seeds, train 11-01..11-02, test 11-03, into `out`.
fn compare(models: &str, out: &Path, env: &[(&str, &str)]) -> Output {
    let w = warehouse();
    let cfg = w.join("train.toml");
    esmc(
        &[
            "compare",
            "--root",
            w.to_str().unwrap(),
            "--models",
            models,
            "--train",
            "2026-11-01..2026-11-02",
            "--test",
            "2026-11-03",
            "--seeds",
            "2",
            "--jobs",
            "2",
            "--train-config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        env,
    )
}

/// The CSV as one map per row (header → cell), keyed by model.
fn read_csv(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            // the status is the last, quoted cell and may hold commas
            let (nums, status) = l.split_once(",\"").unwrap();
            let mut cells: Vec<String> = nums.split(',').map(String::from).collect();
            cells.push(status.trim_end_matches('"').replace("\"\"", "\""));
            assert_eq!(cells.len(), head.len(), "{l}");
            let row: BTreeMap<String, String> =
                head.iter().map(|h| h.to_string()).zip(cells).collect();
            (row["model"].clone(), row)
        })
        .collect()
}

fn run_file(out: &Path, model: &str, seed: u64) -> serde_json::Value {
    let path = out.join(format!("runs/{model}-seed{seed}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn num(row: &BTreeMap<String, String>, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} = '{}'", row[key]))
}

// Long because: one comparison recomputed column by column; the runs train once.
#[test]
fn the_table_is_recomputable_from_the_run_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let o = compare("base,esmm,esmc", &out, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&md),
        "{}",
        text(&o)
    );
    let svg = std::fs::read_to_string(out.join("compare.svg")).unwrap();
    assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
    assert!(out.join("compare.json").exists());

    let csv = read_csv(&out.join("compare.csv"));
    assert_eq!(
        csv.keys().collect::<Vec<_>>(),
        ["base", "esmc", "esmm", "oracle (true p)"]
    );
    let mut cvr_means = BTreeMap::new();
    for model in ["base", "esmm", "esmc"] {
        let row = &csv[model];
        assert_eq!(
            (row["runs_ok"].as_str(), row["status"].as_str()),
            ("2", "ok")
        );
        let runs: Vec<serde_json::Value> = (1..=2).map(|s| run_file(&out, model, s)).collect();
        for key in [
            "ctr_auc",
            "ctcvr_auc",
            "cvr_auc",
            "ctcvr_gauc",
            "ctcvr_log_loss",
            "cvr_bad_auc",
            "cvr_good_auc",
            "es_cvr_eauc",
            "es_ctcvr_eauc",
            "samples_per_s",
        ] {
            let xs: Vec<f64> = runs
                .iter()
                .map(|r| r["metrics"][key].as_f64().unwrap())
                .collect();
            let mean = (xs[0] + xs[1]) / 2.0;
            // sample std (n - 1) of two values
            let std = (xs[0] - xs[1]).abs() / 2f64.sqrt();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
            assert!(
                close(num(row, &format!("{key}_mean")), mean),
                "{model} {key}"
            );
            assert!(close(num(row, &format!("{key}_std")), std), "{model} {key}");
        }
        // two seeds train two different models
        assert_ne!(runs[0]["metrics"]["cvr_auc"], runs[1]["metrics"]["cvr_auc"]);
        assert!(num(row, "ctr_auc_mean") > 0.55, "{model}: {md}");
        cvr_means.insert(model, num(row, "cvr_auc_mean"));
    }
    // gain: RelaImpr over the first model
    let gain = (cvr_means["esmc"] - 0.5) / (cvr_means["base"] - 0.5) * 100.0 - 100.0;
    assert!((num(&csv["esmc"], "cvr_auc_gain_pct") - gain).abs() < 1e-9);
    assert_eq!(num(&csv["base"], "cvr_auc_gain_pct"), 0.0);
    // the oracle: the simulator's truth scored on the same rows
    let oracle = run_file(&out, "esmc", 1)["metrics"]["oracle_cvr_auc"]
        .as_f64()
        .unwrap();
    assert!((num(&csv["oracle (true p)"], "cvr_auc_mean") - oracle).abs() < 1e-12);
    // paired differences to the first model: the mean of the seeds' differences of the
    // run files' figures, with an interval around it
    let paired = std::fs::read_to_string(out.join("compare_paired.csv")).unwrap();
    let mut seen = 0;
    for line in paired.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        let (model, metric) = (c[0], c[2]);
        assert_eq!(c[1], "base");
        let f = |i: usize| c[i].parse::<f64>().unwrap();
        let seed_diff = |s: u64| {
            let v = |m: &str| run_file(&out, m, s)["metrics"][metric].as_f64().unwrap();
            v(model) - v("base")
        };
        let want = (seed_diff(1) + seed_diff(2)) / 2.0;
        assert!((f(3) - want).abs() < 1e-9, "{line}: {want}");
        assert!(f(4) < f(5), "{line}");
        seen += 1;
    }
    assert_eq!(seen, 4, "{paired}");
    assert!(md.contains("Paired differences to base"), "{md}");
    // markdown: mean ± std of the three AUCs per model
    let esmc_line = md.lines().find(|l| l.starts_with("| esmc |")).unwrap();
    let cvr = &csv["esmc"];
    assert!(
        esmc_line.contains(&format!(
            "{:.4} ± {:.4}",
            num(cvr, "cvr_auc_mean"),
            num(cvr, "cvr_auc_std")
        )),
        "{md}"
    );
}

#[test]
fn a_failed_run_is_reported_in_its_row_and_the_others_complete() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let o = compare(
        "base,esmc",
        &out,
        &[("ESMC_FAILPOINT", "compare-fail:base")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("2 of 4 runs failed"), "{}", text(&o));
    let csv = read_csv(&out.join("compare.csv"));
    let base = &csv["base"];
    assert_eq!(base["runs_ok"], "0");
    assert!(
        base["status"].starts_with("failed: failpoint compare-fail:base"),
        "{}",
        base["status"]
    );
    assert_eq!(base["cvr_auc_mean"], "");
    assert_eq!(run_file(&out, "base", 1)["status"], "failed");
    // the other model ran every seed, and the gain has no reference
    let esmc = &csv["esmc"];
    assert_eq!(
        (esmc["runs_ok"].as_str(), esmc["status"].as_str()),
        ("2", "ok")
    );
    assert!(num(esmc, "cvr_auc_mean") > 0.5);
    assert_eq!(esmc["cvr_auc_gain_pct"], "");
    let md = std::fs::read_to_string(out.join("compare.md")).unwrap();
    let row = md.lines().find(|l| l.starts_with("| base |")).unwrap();
    assert!(
        row.contains("| 0/2 |") && row.contains("failed: failpoint"),
        "{md}"
    );
    let svg = std::fs::read_to_string(out.join("compare.svg")).unwrap();
    assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
}
