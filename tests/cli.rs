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

/// Simulates a small `eleme` world of `days` days into `root`.
fn simulate_world(root: &Path, days: &str, exposures: &str, extra: &[&str]) -> Output {
    let root = root.to_str().unwrap();
    let mut args = vec![
        "simulate",
        "--root",
        root,
        "--days",
        days,
        "--exposures-per-day",
        exposures,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    esmc(&args)
}

fn simulate_small(root: &Path, extra: &[&str]) -> Output {
    simulate_world(root, "2", "5000", extra)
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

fn build_day(root: &Path, dt: &str, failpoint: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_esmc"));
    cmd.args([
        "build",
        "--quiet",
        "--root",
        root.to_str().unwrap(),
        "--dt",
        dt,
    ]);
    if let Some(point) = failpoint {
        cmd.env("ESMC_FAILPOINT", point);
    }
    cmd.output().unwrap()
}

#[test]
fn build_prints_a_summary_and_a_crash_mid_write_keeps_the_old_partition() {
    let dir = tempfile::tempdir().unwrap();
    let out = simulate_world(dir.path(), "5", "5000", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = build_day(dir.path(), "2026-11-02", None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.lines().next().unwrap().starts_with("dt"), "{stdout}");
    assert!(
        stdout.contains("2026-11-02") && stdout.contains("mature"),
        "{stdout}"
    );

    let part = dir.path().join("samples/dt=2026-11-02/part-00000.parquet");
    let manifest = dir.path().join("samples/_manifests/dt=2026-11-02.json");
    // the build's spill files (labelled samples, feature columns) do not reach the
    // partition
    let mut files: Vec<_> = std::fs::read_dir(part.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["_manifest.json", "part-00000.parquet"]);
    let (before, manifest_before) = (
        std::fs::read(&part).unwrap(),
        std::fs::read(&manifest).unwrap(),
    );
    for point in ["mid-write", "before-swap"] {
        let out = build_day(dir.path(), "2026-11-02", Some(point));
        assert!(
            !out.status.success(),
            "the failpoint {point} must kill the build"
        );
        assert_eq!(
            std::fs::read(&part).unwrap(),
            before,
            "{point}: old partition changed"
        );
        assert_eq!(std::fs::read(&manifest).unwrap(), manifest_before);
    }
    // the next build cleans the crashed staging directory up and gives the same bytes
    assert!(build_day(dir.path(), "2026-11-02", None).status.success());
    assert_eq!(std::fs::read(&part).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn string_ids_of_digits_build_like_integer_ids() {
    let mut samples = Vec::new();
    for ids in [None, Some("--string-ids")] {
        let dir = tempfile::tempdir().unwrap();
        let extra: Vec<&str> = ids.into_iter().collect();
        assert!(
            simulate_world(dir.path(), "5", "3000", &extra)
                .status
                .success()
        );
        let out = build_day(dir.path(), "2026-11-02", None);
        assert!(out.status.success(), "{}", text(&out.stderr));
        samples.push(text(&out.stdout).lines().nth(1).unwrap().to_string());
    }
    assert_eq!(samples[0], samples[1], "string ids changed the labels");
}

/// A corrupt Parquet file read through several layers of errors (the command's context,
/// the crate's error, DataFusion's and the Parquet reader's) names each cause once,
/// outermost first: training, building and SQL alike.
#[test]
fn a_nested_error_prints_each_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for table in ["samples", "logs/exposure"] {
        let day = root.join(table).join("dt=2026-11-02");
        std::fs::create_dir_all(&day).unwrap();
        std::fs::write(day.join("part-0.parquet"), b"junk").unwrap();
    }
    let r = root.to_str().unwrap();
    let day = "2026-11-02";
    let train = ["train", "--root", r, "--from", day, "--to", day];
    let build = ["build", "--root", r, "--dt", day, "--quiet"];
    for args in [
        &[&train[..], &["--allow-provisional", "--quiet"]].concat()[..],
        &build,
        &["sql", "--root", r, "select count(*) from exposure"],
    ] {
        let out = esmc(args);
        assert!(!out.status.success(), "{args:?}");
        let stderr = text(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{args:?}: no error line in {stderr}"));
        // the reader's message (the innermost cause) once, after the file it is about
        assert_eq!(line.matches("too small").count(), 1, "{args:?}: {line}");
        if args[0] != "sql" {
            let file = line.find("part-0.parquet").expect("the file is named");
            assert!(file < line.find("too small").unwrap(), "{line}");
        }
        let parts: Vec<&str> = line.split(": ").collect();
        assert!(
            parts.windows(2).all(|w| w[0] != w[1]),
            "{args:?}: a cause repeats: {line}"
        );
    }
}

/// `esmc` runs builds and queries without libtorch, whose start-up costs about 0.3 s of
/// CPU, and hands the commands that need it to `esmc-torch` beside it: the same command
/// line, help, errors and exit codes.
#[test]
fn esmc_links_no_libtorch_and_hands_model_commands_on() {
    let needs_torch = |exe: &str| {
        let bytes = std::fs::read(exe).expect("the executable reads");
        bytes.windows(16).any(|w| w == b"libtorch_cpu.so\0")
    };
    assert!(!needs_torch(env!("CARGO_BIN_EXE_esmc")));
    assert!(
        needs_torch(env!("CARGO_BIN_EXE_esmc-torch")),
        "the check sees the library"
    );
    let help = esmc(&["train", "--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("Usage: esmc train"));
    let top = text(&esmc(&["--help"]).stdout);
    for command in ["build", "sql", "nightly", "train", "claims", "doctor"] {
        assert!(
            top.contains(&format!("\n  {command} ")),
            "{command} in {top}"
        );
    }
    // clap's usage error, from esmc-torch, through esmc
    let eval = esmc(&["-q", "eval"]);
    assert_eq!(eval.status.code(), Some(2));
    assert!(text(&eval.stderr).contains("--root"));
}
