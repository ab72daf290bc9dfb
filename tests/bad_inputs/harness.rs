//! The shared harness of the bad-input tests: the template warehouse (built once), a
//! private copy per test, the bytes that must survive, and `case`, which breaks a copy,
//! runs `esmc` and checks the outcome.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, TimestampMicrosecondArray};

pub(crate) const D: &str = "2026-11-01";

pub(crate) fn esmc(root: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_esmc"));
    c.arg(args[0]).arg("--quiet").arg("--root").arg(root);
    c.args(&args[1..]).current_dir(root).output().unwrap()
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// 5 simulated days from 2026-11-01; 11-01 and 11-02 built (mature); run `r` trained on
/// 11-01 with a tiny config (`t.toml`).
pub(crate) fn template() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let run = |args: &[&str]| {
            let out = esmc(root, args);
            assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        };
        run(&["simulate", "--days", "5", "--exposures-per-day", "2000"]);
        run(&["build", "--from", D, "--to", "2026-11-02"]);
        std::fs::write(
            root.join("t.toml"),
            "embedding_dim = 4\nhidden = [8]\nthreads = 1\nbatch_size = 512\n",
        )
        .unwrap();
        run(&[
            "train",
            "--run",
            "r",
            "--from",
            D,
            "--to",
            D,
            "--train-config",
            "t.toml",
        ]);
        dir
    })
    .path()
}

/// A private copy of the template.
pub(crate) fn world() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    let ok = Command::new("cp")
        .arg("-r")
        .arg(template())
        .arg(&w)
        .status()
        .unwrap();
    assert!(ok.success());
    (dir, w)
}

/// The bytes that must survive every failure: the partitions, their manifests, the
/// checkpoint and the run's metrics.
pub(crate) fn precious(w: &Path) -> Vec<(String, Vec<u8>)> {
    [
        "samples/dt=2026-11-01/part-00000.parquet",
        "samples/dt=2026-11-01/_manifest.json",
        "samples/_manifests/dt=2026-11-01.json",
        "samples/dt=2026-11-02/part-00000.parquet",
        "models/r/dt=2026-11-01/state.pt",
        "models/r/dt=2026-11-01/meta.json",
        "models/r/metrics.parquet",
    ]
    .iter()
    .map(|p| (p.to_string(), std::fs::read(w.join(p)).unwrap()))
    .collect()
}

/// How a case ends.
pub(crate) enum Expect<'a> {
    /// Refused with this exit code, the message holding every fragment; nothing lost.
    Fails(i32, &'a [&'a str]),
    /// Accepted: exit 0, the samples of D keep their bytes (the bad rows had no effect).
    SameSamples,
    /// Accepted: exit 0, the partition rebuilt whole; `check` looks at its manifest.
    Rebuilt(&'a dyn Fn(&serde_json::Value)),
}

pub(crate) fn manifest(w: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(w.join("samples/dt=2026-11-01/_manifest.json")).unwrap())
        .unwrap()
}

pub(crate) fn template_manifest() -> serde_json::Value {
    manifest(template())
}

pub(crate) fn parquet_rows(path: &Path) -> i64 {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    r.metadata().file_metadata().num_rows()
}

/// Breaks a copy of the template with `setup`, runs `args`, checks `expect`.
pub(crate) fn case(setup: impl FnOnce(&Path), args: &[&str], expect: Expect) {
    let (_dir, w) = world();
    let before = precious(&w);
    setup(&w);
    let out = esmc(&w, args);
    let err = text(&out.stderr);
    match expect {
        Expect::Fails(code, fragments) => {
            assert_eq!(out.status.code(), Some(code), "{err}");
            for f in fragments {
                assert!(err.contains(f), "`{f}` not in: {err}");
            }
            for (p, bytes) in &before {
                assert!(std::fs::read(w.join(p)).unwrap() == *bytes, "{p} changed");
            }
        }
        Expect::SameSamples => {
            assert!(out.status.success(), "{err}");
            let p = &before[0];
            assert!(
                std::fs::read(w.join(&p.0)).unwrap() == p.1,
                "samples changed"
            );
        }
        Expect::Rebuilt(check) => {
            assert!(out.status.success(), "{err}");
            let m = manifest(&w);
            let part = w.join("samples/dt=2026-11-01/part-00000.parquet");
            assert_eq!(m["rows"].as_i64(), Some(parquet_rows(&part)));
            check(&m);
        }
    }
    let stale: Vec<String> = std::fs::read_dir(w.join("samples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".dt="))
        .collect();
    assert!(stale.is_empty(), "staging left: {stale:?}");
}

pub(crate) const BUILD: &[&str] = &["build", "--dt", D];

/// Writes `text` to `logs/<table>/dt=<day>/<name>`.
pub(crate) fn put(w: &Path, table: &str, day: &str, name: &str, bytes: &[u8]) {
    let dir = w.join(format!("logs/{table}/dt={day}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

pub(crate) fn click_csv(w: &Path, body: &str) {
    let text = format!("ts,user_id,item_id,exposure_id\n{body}");
    put(w, "click", D, "x.csv", text.as_bytes());
}

/// A Parquet click file of `columns` into `logs/click/dt=<day>/x.parquet`.
pub(crate) fn click_parquet(w: &Path, day: &str, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let dir = w.join(format!("logs/click/dt={day}"));
    let file = std::fs::File::create(dir.join("x.parquet")).unwrap();
    let mut wr = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    wr.write(&batch).unwrap();
    wr.close().unwrap();
}

pub(crate) fn ids(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

pub(crate) fn ts_utc(v: &[i64]) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(v.to_vec()).with_timezone("UTC"))
}

pub(crate) fn quarantined(table: &'static str) -> impl Fn(&serde_json::Value) {
    move |m| assert_eq!(m["quarantined"][table].as_u64(), Some(1), "{m}")
}
