//! Incremental training through the `esmc` binary: test-then-train day by day, resuming
//! after a kill, atomic checkpoints, provisional days, rebuilt partitions, and the
//! nightly job's exit codes. Every test copies one small simulated warehouse into its own
//! temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn esmc_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esmc"));
    cmd.args(args).arg("--quiet").env_remove("ESMC_FAILPOINT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("esmc runs")
}

fn esmc(args: &[&str]) -> Output {
    esmc_env(args, &[])
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "esmc failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The command failed and said `what`.
fn refused(out: &Output, what: &str) {
    assert!(!out.status.success(), "expected a failure saying '{what}'");
    assert!(stderr(out).contains(what), "{}", stderr(out));
}

/// A small training config: the default features, tiny towers, one thread.
const CONFIG: &str = "embedding_dim = 8\nhidden = [32, 16]\nthreads = 1\nbatch_size = 512\n\
                      [optimizer]\nkind = \"adam\"\nlr = 0.005\n";

/// 7 simulated days from 2026-11-01 (20k rec exposures a day); samples built for
/// 11-01..11-04 by one nightly run (11-01..11-03 mature: their D+3 logs exist; 11-04 too).
fn template() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        ok(&esmc(&[
            "simulate",
            "--root",
            root,
            "--days",
            "7",
            "--exposures-per-day",
            "20000",
            "--start",
            "2026-11-01",
            "--seed",
            "3",
        ]));
        // the night of 11-04 builds [11-01, 11-04]
        let out = esmc(&["nightly", "--root", root, "--dt", "2026-11-04"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        std::fs::write(dir.path().join("train.toml"), CONFIG).unwrap();
        dir
    })
    .path()
}

/// A private copy of the template warehouse.
fn warehouse() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-r")
        .arg(template())
        .arg(dir.path().join("w"))
        .status()
        .unwrap();
    assert!(status.success());
    let w = dir.path().join("w");
    (dir, w)
}

fn train(w: &Path, run: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let cfg = w.join("train.toml");
    let mut args = vec![
        "train",
        "--root",
        w.to_str().unwrap(),
        "--run",
        run,
        "--train-config",
        cfg.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    esmc_env(&args, env)
}

#[path = "../support/checkpoint.rs"]
mod checkpoint_state;
use checkpoint_state::state;

#[test]
fn training_is_test_then_train_with_a_checkpoint_and_metrics_per_day() {
    let (_d, w) = warehouse();
    let out = ok(&train(
        &w,
        "r",
        &[
            "--model",
            "esmc",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-03",
        ],
        &[],
    ));
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("2026-11-0")).collect();
    assert_eq!(lines.len(), 3, "{out}");
    // the first day has no out-of-sample figures, the later ones have
    assert!(lines[0].split_whitespace().nth(5) == Some("-"), "{out}");
    let auc: f64 = lines[2].split_whitespace().nth(5).unwrap().parse().unwrap();
    assert!(auc > 0.55, "CTR-AUC of 11-03: {out}");
    for day in ["2026-11-01", "2026-11-02", "2026-11-03"] {
        let dir = w.join(format!("models/r/dt={day}"));
        for f in [
            "config.json",
            "features.toml",
            "norm.json",
            "state.pt",
            "meta.json",
        ] {
            assert!(dir.join(f).exists(), "{}", dir.join(f).display());
        }
    }
    assert!(w.join("models/r/metrics.parquet").exists());
    // the history is a table of `esmc sql`
    let out = ok(&esmc(&[
        "sql",
        "--root",
        w.to_str().unwrap(),
        "--format",
        "csv",
        "SELECT dt, cvr_auc IS NULL AS first FROM model_metrics WHERE run = 'r' ORDER BY dt",
    ]));
    assert_eq!(
        out.trim(),
        "dt,first\n2026-11-01,true\n2026-11-02,false\n2026-11-03,false",
        "{out}"
    );
    // a later invocation continues from the checkpoint of the day before --from ...
    let out = ok(&train(
        &w,
        "r",
        &[
            "--from",
            "2026-11-04",
            "--to",
            "2026-11-04",
            "--allow-provisional",
        ],
        &[],
    ));
    assert!(out.contains("2026-11-04"), "{out}");
    // ... and a day is never trained twice by accident
    let out = train(
        &w,
        "r",
        &["--from", "2026-11-02", "--to", "2026-11-02"],
        &[],
    );
    refused(&out, "already trained on 2026-11-02");
    // eval and predict load the newest checkpoint before the day
    let out = ok(&esmc(&[
        "eval",
        "--root",
        w.to_str().unwrap(),
        "--run",
        "r",
        "--dt",
        "2026-11-04",
    ]));
    assert!(
        out.contains("checkpoint of 2026-11-03") && out.contains("cvr (clicked)"),
        "{out}"
    );
    let out = ok(&esmc(&[
        "predict",
        "--root",
        w.to_str().unwrap(),
        "--run",
        "r",
        "--dt",
        "2026-11-04",
    ]));
    assert!(
        w.join("models/r/predictions/dt=2026-11-04.parquet")
            .exists(),
        "{out}"
    );
}

#[test]
fn a_run_killed_mid_day_resumes_to_the_same_weights() {
    let (_d, w) = warehouse();
    let days = [
        "--model",
        "esmm",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-03",
    ];
    ok(&train(&w, "straight", &days, &[]));
    // 20k samples a day in batches of 512: the 50th batch is in the second day
    let killed = train(
        &w,
        "killed",
        &days,
        &[("ESMC_FAILPOINT", "train-abort-after-batches:50")],
    );
    assert!(!killed.status.success(), "the failpoint kills the run");
    let models = w.join("models/killed");
    assert!(models.join("dt=2026-11-01/meta.json").exists());
    assert!(
        !models.join("dt=2026-11-02").exists(),
        "the killed day left no checkpoint"
    );
    let out = ok(&train(
        &w,
        "killed",
        &["--resume", "--to", "2026-11-03"],
        &[],
    ));
    assert!(
        stderr(&train(
            &w,
            "killed",
            &["--resume", "--to", "2026-11-03"],
            &[]
        ))
        .contains("after its checkpoint of 2026-11-03")
    );
    assert!(
        out.contains("2026-11-02") && out.contains("2026-11-03"),
        "{out}"
    );
    let (a, b) = (
        state(&w, "straight", "2026-11-03"),
        state(&w, "killed", "2026-11-03"),
    );
    assert_eq!(a.len(), b.len());
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(
            va == vb,
            "tensor {na} differs between the straight and the resumed run"
        );
    }
}

#[test]
fn a_crash_while_writing_a_checkpoint_leaves_the_previous_one_loadable() {
    let (_d, w) = warehouse();
    ok(&train(
        &w,
        "r",
        &["--from", "2026-11-01", "--to", "2026-11-01"],
        &[],
    ));
    let crashed = train(
        &w,
        "r",
        &["--from", "2026-11-02", "--to", "2026-11-02"],
        &[("ESMC_FAILPOINT", "checkpoint-before-rename")],
    );
    assert!(!crashed.status.success());
    assert!(!w.join("models/r/dt=2026-11-02").exists());
    let out = ok(&esmc(&[
        "eval",
        "--root",
        w.to_str().unwrap(),
        "--run",
        "r",
        "--dt",
        "2026-11-02",
    ]));
    assert!(out.contains("checkpoint of 2026-11-01"), "{out}");
    let out = ok(&train(&w, "r", &["--resume", "--to", "2026-11-02"], &[]));
    assert!(out.contains("2026-11-02"), "{out}");
}

#[test]
fn provisional_days_are_refused_unless_allowed() {
    let (_d, w) = warehouse();
    // rebuild 11-04 as if 11-07's logs had not arrived: drop them, then build
    for t in [
        "exposure", "click", "micro", "cart", "wish", "purchase", "user", "item",
    ] {
        let _ = std::fs::remove_dir_all(w.join(format!("logs/{t}/dt=2026-11-07")));
    }
    ok(&esmc(&[
        "build",
        "--root",
        w.to_str().unwrap(),
        "--dt",
        "2026-11-04",
    ]));
    let out = train(
        &w,
        "r",
        &["--from", "2026-11-04", "--to", "2026-11-04"],
        &[],
    );
    refused(&out, "samples of 2026-11-04 are provisional");
    ok(&train(
        &w,
        "r",
        &[
            "--from",
            "2026-11-04",
            "--to",
            "2026-11-04",
            "--allow-provisional",
        ],
        &[],
    ));
}

#[test]
fn a_partition_rebuilt_after_training_is_reported_and_replayed() {
    let (_d, w) = warehouse();
    ok(&train(
        &w,
        "r",
        &["--from", "2026-11-01", "--to", "2026-11-02"],
        &[],
    ));
    // the same day built with another calibration gives other labels, other bytes
    ok(&esmc(&[
        "build",
        "--root",
        w.to_str().unwrap(),
        "--dt",
        "2026-11-02",
        "--calibration",
        "off",
    ]));
    let out = train(
        &w,
        "r",
        &["--from", "2026-11-03", "--to", "2026-11-03"],
        &[],
    );
    assert!(
        stderr(&out).contains("samples of 2026-11-02 were rebuilt after run 'r' trained on them"),
        "{}",
        stderr(&out)
    );
    let out = train(
        &w,
        "r",
        &["--retrain-from", "2026-11-02", "--to", "2026-11-03"],
        &[],
    );
    assert!(
        stderr(&out).contains("replaying from its checkpoint of 2026-11-01"),
        "{}",
        stderr(&out)
    );
    let text = ok(&out);
    assert!(
        text.contains("2026-11-02") && text.contains("2026-11-03"),
        "{text}"
    );
    // replayed: no more warnings
    let out = train(&w, "r", &["--resume", "--to", "2026-11-03"], &[]);
    assert!(!stderr(&out).contains("rebuilt"), "{}", stderr(&out));
}

mod nightly_eval;
