//! The `esmc` binary as a user runs it: each test in its own temporary directory.

use std::path::Path;
use std::process::{Command, Output};

fn esmc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esmc"))
        .args(args)
        .output()
        .expect("esmc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn simulate_small(root: &Path, extra: &[&str]) -> Output {
    let root = root.to_str().unwrap();
    let mut args = vec![
        "simulate",
        "--root",
        root,
        "--days",
        "2",
        "--exposures-per-day",
        "5000",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    esmc(&args)
}

#[test]
fn simulate_prints_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let out = simulate_small(dir.path(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("simulated `eleme` world"), "{stdout}");
    for table in [
        "exposure", "click", "micro", "cart", "wish", "purchase", "user", "item",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(table)),
            "{table} missing:\n{stdout}"
        );
        assert!(
            dir.path()
                .join(format!("logs/{table}/dt=2026-11-02"))
                .is_dir()
        );
    }
    assert!(stdout.contains("purchases after a feed click"), "{stdout}");
    // quiet and not a terminal: no progress bar noise on stderr
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn simulate_refuses_to_replace_logs_without_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    assert!(simulate_small(dir.path(), &[]).status.success());
    let out = simulate_small(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already holds logs; pass overwrite"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        simulate_small(dir.path(), &["--overwrite"])
            .status
            .success()
    );
}

#[test]
fn bad_options_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = simulate_small(dir.path(), &["--preset", "amazon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown preset `amazon` (presets: taobao, eleme)"));
    let out = simulate_small(dir.path(), &["--duplicate-rate", "1.5"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("messiness.duplicate_rate must be in [0, 1], got 1.5"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !dir.path().join("logs").exists(),
        "nothing is written for a bad config"
    );
}

#[test]
fn printed_config_round_trips_through_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = esmc(&[
        "simulate",
        "--print-config",
        "--preset",
        "taobao",
        "--exposures-per-day",
        "4000",
        "--days",
        "1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let toml = text(&out.stdout);
    assert!(toml.contains("preset = \"taobao\""), "{toml}");
    let file = dir.path().join("world.toml");
    std::fs::write(&file, &toml).unwrap();
    let root = dir.path().join("w");
    let out = esmc(&[
        "simulate",
        "--quiet",
        "--root",
        root.to_str().unwrap(),
        "--config",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("simulated `taobao` world"));
}

#[test]
fn doctor_trains_with_libtorch_found_through_the_rpath() {
    // no LD_LIBRARY_PATH: the binary must find libtorch by itself
    let out = Command::new(env!("CARGO_BIN_EXE_esmc"))
        .arg("doctor")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("libtorch   linked"), "{stdout}");
    assert!(stdout.trim_end().ends_with("ok"), "{stdout}");
}
