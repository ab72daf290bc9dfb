//! Bad training inputs: configs, runs, checkpoints and days a `train` cannot use.

use std::path::Path;
use std::process::Command;

use crate::harness::*;

// ---- training --------------------------------------------------------------------------

const NEW_RUN: &[&str] = &[
    "train",
    "--run",
    "n",
    "--from",
    D,
    "--to",
    D,
    "--train-config",
    "t.toml",
];

fn with(base: &[&'static str], extra: &[&'static str]) -> Vec<&'static str> {
    base.iter().chain(extra).copied().collect()
}

#[test]
fn t01_unknown_model() {
    let args = with(NEW_RUN, &["--model", "esmx"]);
    case(
        |_| {},
        &args,
        Expect::Fails(1, &["unknown model 'esmx'", "esmc"]),
    );
}

#[test]
fn t02_unknown_preset() {
    let args = with(NEW_RUN, &["--preset", "esmc-1999"]);
    case(
        |_| {},
        &args,
        Expect::Fails(1, &["unknown preset 'esmc-1999'", "esmc-2023"]),
    );
}

#[test]
fn t03_feature_spec_with_an_unknown_key() {
    let setup = |w: &Path| std::fs::write(w.join("f.toml"), "[[field]]\nname = \"x\"\n").unwrap();
    let args = with(NEW_RUN, &["--features", "f.toml"]);
    case(
        setup,
        &args,
        Expect::Fails(1, &["f.toml", "unknown field `field`"]),
    );
}

#[test]
fn t04_feature_spec_naming_a_column_the_samples_lack() {
    let setup = |w: &Path| {
        std::fs::write(w.join("f.toml"), "[[sparse]]\ncolumn = \"no_such_col\"\n").unwrap()
    };
    let args = with(NEW_RUN, &["--features", "f.toml"]);
    case(setup, &args, Expect::Fails(1, &["no_such_col"]));
}

#[test]
fn t05_a_checkpoint_of_another_model() {
    let args = [
        "train",
        "--run",
        "r",
        "--model",
        "esmm",
        "--resume",
        "--to",
        "2026-11-02",
    ];
    case(
        |_| {},
        &args,
        Expect::Fails(1, &["run 'r' trains esmc, not esmm"]),
    );
}

/// Copies run r's first checkpoint to run c, for a test to damage.
fn copy_checkpoint(w: &Path) {
    std::fs::create_dir_all(w.join("models/c")).unwrap();
    let ok = Command::new("cp")
        .arg("-r")
        .arg(w.join("models/r/dt=2026-11-01"))
        .arg(w.join("models/c/"))
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn t06_a_corrupt_checkpoint_record() {
    let setup = |w: &Path| {
        copy_checkpoint(w);
        std::fs::write(w.join("models/c/dt=2026-11-01/meta.json"), "{ not json").unwrap();
    };
    let args = ["train", "--run", "c", "--resume", "--to", "2026-11-02"];
    case(
        setup,
        &args,
        Expect::Fails(1, &["models/c/dt=2026-11-01/meta.json"]),
    );
}

#[test]
fn t07_a_truncated_checkpoint_state() {
    let setup = |w: &Path| {
        copy_checkpoint(w);
        let p = w.join("models/c/dt=2026-11-01/state.pt");
        let b = std::fs::read(&p).unwrap();
        std::fs::write(&p, &b[..b.len() / 3]).unwrap();
    };
    let args = ["train", "--run", "c", "--resume", "--to", "2026-11-02"];
    case(setup, &args, Expect::Fails(1, &["models/c/dt=2026-11-01"]));
}

#[test]
fn t08_a_day_without_samples() {
    let args = ["train", "--run", "r", "--resume", "--to", "2026-11-03"];
    case(
        |_| {},
        &args,
        Expect::Fails(
            1,
            &["no samples for 2026-11-03", "esmc build --dt 2026-11-03"],
        ),
    );
}

#[test]
fn t09_a_missing_training_config() {
    let args = with(&NEW_RUN[..7], &["--train-config", "nope.toml"]);
    case(
        |_| {},
        &args,
        Expect::Fails(1, &["nope.toml", "No such file"]),
    );
}

#[test]
fn t10_a_partition_rebuilt_under_a_run_is_named() {
    // 11-01 rebuilt with another session gap after run r learnt it
    let setup = |w: &Path| {
        std::fs::write(w.join("b.toml"), "session_gap_secs = 60\n").unwrap();
        let out = esmc(w, &["build", "--dt", D, "--config", "b.toml"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    let args = ["train", "--run", "r", "--resume", "--to", "2026-11-02"];
    let (_dir, w) = world();
    setup(&w);
    let out = esmc(&w, &args);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("2026-11-01") && err.contains("--retrain-from 2026-11-01"),
        "{err}"
    );
}
