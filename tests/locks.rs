//! Jobs that collide: two `esmc build` of one day, two `esmc train` of one run, started
//! together as real processes. One works, the other is refused at once with exit code 75
//! and a message naming the holder (pid, start time, command), or waits with `--wait`.
//! The holder keeps its lock a while (`ESMC_HOLD_LOCK_MS`) so that the two surely meet.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn esmc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_esmc"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) {
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A small simulated world of 5 days from 2026-11-01.
fn world() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(&esmc()
        .args([
            "simulate",
            "--quiet",
            "--days",
            "5",
            "--exposures-per-day",
            "3000",
        ])
        .args(["--start", "2026-11-01", "--root"])
        .arg(dir.path())
        .output()
        .unwrap());
    dir
}

/// Starts `cmd` holding its lock for `hold_ms`, and returns once the lock file names it.
fn start_holder(mut cmd: Command, lock: &Path, hold_ms: u64) -> Child {
    let child = cmd
        .env("ESMC_HOLD_LOCK_MS", hold_ms.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = format!("pid {} ", child.id());
    let t = Instant::now();
    while !std::fs::read_to_string(lock).is_ok_and(|s| s.contains(&pid)) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the holder never took {lock:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn build(root: &Path) -> Command {
    let mut c = esmc();
    c.args(["build", "--quiet", "--dt", "2026-11-02", "--root"])
        .arg(root);
    c
}

/// The partition is whole: its manifest's row count is the Parquet file's.
fn assert_whole(root: &Path) {
    let part = root.join("samples/dt=2026-11-02");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(part.join("_manifest.json")).unwrap()).unwrap();
    let file = std::fs::File::open(part.join("part-00000.parquet")).unwrap();
    let rows = parquet::file::reader::SerializedFileReader::new(file)
        .map(|r| {
            parquet::file::reader::FileReader::metadata(&r)
                .file_metadata()
                .num_rows()
        })
        .unwrap();
    assert_eq!(manifest["rows"].as_i64(), Some(rows));
    let names: Vec<String> = std::fs::read_dir(root.join("samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "staging left: {names:?}");
}

fn lock_path(root: &Path, name: &str) -> PathBuf {
    root.join(".locks").join(name)
}

#[test]
fn two_builds_of_one_day_one_builds_the_other_is_refused_or_waits() {
    let dir = world();
    let root = dir.path();
    let lock = lock_path(root, "build-dt=2026-11-02.lock");
    let holder = start_holder(build(root), &lock, 3000);
    let second = build(root).output().unwrap();
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(75), "{err}");
    assert!(err.contains("busy: the build of 2026-11-02"), "{err}");
    assert!(
        err.contains(&format!("pid {} started 20", holder.id())),
        "{err}"
    );
    assert!(err.contains("command: ") && err.contains("build"), "{err}");
    assert!(err.contains("--wait"), "{err}");
    ok(&holder.wait_with_output().unwrap());
    assert_whole(root);

    // with --wait the second waits for the first, then builds
    let holder = start_holder(build(root), &lock, 2000);
    let second = build(root).arg("--wait").output().unwrap();
    ok(&second);
    assert!(text(&second.stderr).contains("waiting for the build of 2026-11-02"));
    ok(&holder.wait_with_output().unwrap());
    assert_whole(root);
}

#[test]
fn two_trainings_of_one_run_one_is_refused() {
    let dir = world();
    let root = dir.path();
    ok(&build(root).output().unwrap());
    let cfg = root.join("train.toml");
    std::fs::write(
        &cfg,
        "embedding_dim = 4\nhidden = [8]\nthreads = 1\nbatch_size = 512\n",
    )
    .unwrap();
    let train = || {
        let mut c = esmc();
        c.args(["train", "--quiet", "--run", "r", "--from", "2026-11-02"])
            .args(["--to", "2026-11-02", "--root"])
            .arg(root)
            .arg("--train-config")
            .arg(&cfg);
        c
    };
    let holder = start_holder(train(), &lock_path(root, "run-r.lock"), 3000);
    let second = train().output().unwrap();
    let err = text(&second.stderr);
    assert_eq!(second.status.code(), Some(75), "{err}");
    assert!(err.contains("busy: run 'r'"), "{err}");
    assert!(err.contains(&format!("pid {} ", holder.id())), "{err}");
    ok(&holder.wait_with_output().unwrap());
    assert!(root.join("models/r/dt=2026-11-02/meta.json").exists());
}
