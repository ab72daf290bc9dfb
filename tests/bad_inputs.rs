//! The bad-input catalogue (docs/bad-inputs.md), one test per row: a warehouse with a
//! built partition (2026-11-01 and 2026-11-02) and a trained run (`r`, one day) is copied,
//! broken in one way, and the `esmc` binary run on it as a user would. Each test checks
//! the exit code, that the message names the file, row, column or value at fault, and
//! that nothing already written is lost (the partition and the checkpoint keep their
//! bytes, or, where the input is accepted, the rebuilt partition is whole).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, OnceLock};

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

const D: &str = "2026-11-01";

fn esmc(root: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_esmc"));
    c.arg(args[0]).arg("--quiet").arg("--root").arg(root);
    c.args(&args[1..]).current_dir(root).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// 5 simulated days from 2026-11-01; 11-01 and 11-02 built (mature); run `r` trained on
/// 11-01 with a tiny config (`t.toml`).
fn template() -> &'static Path {
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
fn world() -> (tempfile::TempDir, PathBuf) {
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
fn precious(w: &Path) -> Vec<(String, Vec<u8>)> {
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
enum Expect<'a> {
    /// Refused with this exit code, the message holding every fragment; nothing lost.
    Fails(i32, &'a [&'a str]),
    /// Accepted: exit 0, the samples of D keep their bytes (the bad rows had no effect).
    SameSamples,
    /// Accepted: exit 0, the partition rebuilt whole; `check` looks at its manifest.
    Rebuilt(&'a dyn Fn(&serde_json::Value)),
}

fn manifest(w: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(w.join("samples/dt=2026-11-01/_manifest.json")).unwrap())
        .unwrap()
}

fn template_manifest() -> serde_json::Value {
    manifest(template())
}

fn parquet_rows(path: &Path) -> i64 {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    r.metadata().file_metadata().num_rows()
}

/// Breaks a copy of the template with `setup`, runs `args`, checks `expect`.
fn case(setup: impl FnOnce(&Path), args: &[&str], expect: Expect) {
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

const BUILD: &[&str] = &["build", "--dt", D];

/// Writes `text` to `logs/<table>/dt=<day>/<name>`.
fn put(w: &Path, table: &str, day: &str, name: &str, bytes: &[u8]) {
    let dir = w.join(format!("logs/{table}/dt={day}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn click_csv(w: &Path, body: &str) {
    let text = format!("ts,user_id,item_id,exposure_id\n{body}");
    put(w, "click", D, "x.csv", text.as_bytes());
}

/// A Parquet click file of `columns` into `logs/click/dt=<day>/x.parquet`.
fn click_parquet(w: &Path, day: &str, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let dir = w.join(format!("logs/click/dt={day}"));
    let file = std::fs::File::create(dir.join("x.parquet")).unwrap();
    let mut wr = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    wr.write(&batch).unwrap();
    wr.close().unwrap();
}

fn ids(v: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(v.to_vec()))
}

fn ts_utc(v: &[i64]) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(v.to_vec()).with_timezone("UTC"))
}

fn quarantined(table: &'static str) -> impl Fn(&serde_json::Value) {
    move |m| assert_eq!(m["quarantined"][table].as_u64(), Some(1), "{m}")
}

// ---- columns and types -------------------------------------------------------------

#[test]
fn b01_missing_column_in_a_csv_header() {
    let setup = |w: &Path| {
        put(
            w,
            "click",
            D,
            "x.csv",
            b"ts,user_id,exposure_id\n2026-11-01T10:00:00Z,1,\n",
        )
    };
    let msg = ["x.csv", "column `item_id` is missing"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b02_missing_column_in_a_parquet_file() {
    let setup = |w: &Path| {
        click_parquet(w, D, vec![("ts", ts_utc(&[0])), ("user_id", ids(&[1]))]);
    };
    let msg = ["x.parquet", "column `item_id` is missing"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b03_extra_columns_are_ignored() {
    let setup = |w: &Path| {
        let t = "ts,user_id,item_id,exposure_id,referrer\n2026-11-01T10:00:00Z,999999,999999,,x\n";
        put(w, "click", D, "x.csv", t.as_bytes())
    };
    case(setup, BUILD, Expect::SameSamples);
}

#[test]
fn b04_wrong_column_type_in_parquet() {
    // ts as a float: named with the expected and the found type
    let setup = |w: &Path| {
        click_parquet(
            w,
            D,
            vec![
                ("ts", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
                ("user_id", ids(&[1])),
                ("item_id", ids(&[2])),
            ],
        );
    };
    let msg = ["x.parquet", "`ts`", "Float64"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b05_schema_drift_between_days() {
    // the day after D (inside D's window) has item_id as a float
    let setup = |w: &Path| {
        click_parquet(
            w,
            "2026-11-02",
            vec![
                ("ts", ts_utc(&[1_793_700_000_000_000])),
                ("user_id", ids(&[1])),
                (
                    "item_id",
                    Arc::new(Float64Array::from(vec![2.5])) as ArrayRef,
                ),
            ],
        );
    };
    let msg = ["dt=2026-11-02/x.parquet", "`item_id`", "Float64"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

// ---- rows: nulls, values, times -----------------------------------------------------

#[test]
fn b06_null_in_a_required_column_goes_to_quarantine() {
    let setup = |w: &Path| click_csv(w, "2026-11-01T10:00:00Z,,2,\n");
    case(setup, BUILD, Expect::Rebuilt(&quarantined("click")));
}

#[test]
fn b07_unparseable_timestamp_goes_to_quarantine() {
    let setup = |w: &Path| click_csv(w, "yesterday,1,2,\n");
    case(setup, BUILD, Expect::Rebuilt(&quarantined("click")));
}

#[test]
fn b08_timestamp_in_the_future_goes_to_quarantine() {
    let setup = |w: &Path| click_csv(w, "2099-11-01T10:00:00Z,1,2,\n");
    case(setup, BUILD, Expect::Rebuilt(&quarantined("click")));
}

#[test]
fn b09_timestamp_far_before_its_partition_goes_to_quarantine() {
    let setup = |w: &Path| click_csv(w, "2026-10-20T10:00:00Z,1,2,\n");
    case(setup, BUILD, Expect::Rebuilt(&quarantined("click")));
}

#[test]
fn b10_negative_amount_over_the_reject_rate_fails_naming_the_quarantine() {
    let setup = |w: &Path| {
        let t = "ts,user_id,item_id,order_id,amount,quantity\n\
                 2026-11-01T10:00:00Z,1,2,3,-5.0,1\n";
        put(w, "purchase", D, "x.csv", t.as_bytes())
    };
    let msg = [
        "table `purchase` of 2026-11-01",
        "rows rejected",
        "quarantine/purchase/dt=2026-11-01",
    ];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b11_too_many_rejects_fail_the_build() {
    let setup = |w: &Path| {
        let mut t = String::from("exposure_id,ts,user_id,item_id,domain\n");
        for i in 0..200 {
            t.push_str(&format!("{i},2026-11-01T10:00:00Z,,2,rec\n"));
        }
        put(w, "exposure", D, "x.csv", t.as_bytes())
    };
    let msg = [
        "table `exposure` of 2026-11-01: 200 of",
        "max 1.00%",
        "quarantine/exposure",
    ];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b12_exact_duplicate_rows_are_dropped_and_counted() {
    let setup = |w: &Path| {
        let dir = w.join("logs/click/dt=2026-11-01");
        std::fs::copy(dir.join("part-00000.parquet"), dir.join("copy.parquet")).unwrap();
    };
    case(setup, BUILD, Expect::SameSamples);
    let check = |m: &serde_json::Value| {
        assert!(
            m["duplicates_dropped"]["click"].as_u64().unwrap() > 0,
            "{m}"
        )
    };
    let setup = |w: &Path| {
        let dir = w.join("logs/click/dt=2026-11-01");
        std::fs::copy(dir.join("part-00000.parquet"), dir.join("copy.parquet")).unwrap();
    };
    case(setup, BUILD, Expect::Rebuilt(&check));
}

#[test]
fn b13_a_click_before_its_exposure_is_not_attributed() {
    // a click naming an exposure of D but earlier than it
    let setup = |w: &Path| {
        let out = esmc(
            w,
            &[
                "sql",
                "--format",
                "csv",
                "SELECT exposure_id, ts, user_id, item_id FROM exposure \
              WHERE dt = '2026-11-01' ORDER BY ts LIMIT 1 OFFSET 100",
            ],
        );
        let line = text(&out.stdout).lines().nth(1).unwrap().to_string();
        let f: Vec<&str> = line.split(',').collect();
        let ts =
            chrono::DateTime::parse_from_rfc3339(f[1]).unwrap() - chrono::Duration::seconds(60);
        click_csv(
            w,
            &format!("{},{},{},{}\n", ts.to_rfc3339(), f[2], f[3], f[0]),
        );
    };
    // the samples' features see the click (it is an event of D), the labels do not
    let same_labels = |m: &serde_json::Value| {
        let t = template_manifest();
        assert_eq!(m["clicks_attributed"], t["clicks_attributed"]);
        assert_eq!(m["label_rates"]["click"], t["label_rates"]["click"]);
    };
    case(setup, BUILD, Expect::Rebuilt(&same_labels));
}

#[test]
fn b14_a_click_of_an_unknown_exposure_is_not_attributed() {
    let setup = |w: &Path| click_csv(w, "2026-11-01T10:00:00Z,999999,999999,777\n");
    case(setup, BUILD, Expect::SameSamples);
}

// ---- files ---------------------------------------------------------------------------

#[test]
fn b15_zero_byte_parquet_file() {
    let setup = |w: &Path| put(w, "click", D, "x.parquet", b"");
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.parquet", "not a readable Parquet file"]),
    );
}

#[test]
fn b16_truncated_parquet_file() {
    let setup = |w: &Path| {
        let dir = w.join("logs/click/dt=2026-11-01");
        let bytes = std::fs::read(dir.join("part-00000.parquet")).unwrap();
        std::fs::write(dir.join("x.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    };
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.parquet", "not a readable Parquet file"]),
    );
}

#[test]
fn b17_parquet_file_without_rows_is_accepted() {
    let setup = |w: &Path| {
        let schema = Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("user_id", DataType::Int64, false),
            Field::new("item_id", DataType::Int64, false),
        ]);
        let batch = RecordBatch::new_empty(Arc::new(schema));
        let dir = w.join("logs/click/dt=2026-11-01");
        let file = std::fs::File::create(dir.join("x.parquet")).unwrap();
        let mut wr = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        wr.write(&batch).unwrap();
        wr.close().unwrap();
    };
    case(setup, BUILD, Expect::SameSamples);
}

#[test]
fn b18_zero_byte_csv_file() {
    let setup = |w: &Path| put(w, "click", D, "x.csv", b"");
    case(setup, BUILD, Expect::Fails(1, &["x.csv", "empty file"]));
}

#[test]
fn b19_csv_with_a_header_only_is_accepted() {
    let setup = |w: &Path| click_csv(w, "");
    case(setup, BUILD, Expect::SameSamples);
}

#[test]
fn b20_csv_line_with_the_wrong_number_of_fields() {
    let setup = |w: &Path| click_csv(w, "2026-11-01T10:00:00Z,1,2\n");
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.csv", "line 2", "expected 4 got 3"]),
    );
}

#[test]
fn b21_csv_line_that_is_not_utf8() {
    let setup = |w: &Path| {
        put(
            w,
            "click",
            D,
            "x.csv",
            b"ts,user_id,item_id,exposure_id\n2026-11-01T10:00:00Z,\xff\xfe,2,\n",
        )
    };
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.csv", "invalid UTF-8", "line 2"]),
    );
}

#[test]
fn b22_ndjson_line_that_is_not_json() {
    let setup = |w: &Path| {
        put(
            w,
            "click",
            D,
            "x.ndjson",
            b"{\"ts\":\"2026-11-01T10:00:00Z\",\"user_id\":1,\n",
        )
    };
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.ndjson", "line 1", "not a JSON object"]),
    );
}

#[test]
fn b23_file_of_an_unknown_format() {
    let setup = |w: &Path| put(w, "click", D, "x.txt", b"hello\n");
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.txt", "unsupported log file format"]),
    );
}

// ---- partitions and snapshots -------------------------------------------------------

#[test]
fn b24_partition_directory_without_dt() {
    let setup = |w: &Path| {
        let dir = w.join("logs/click/2026-11-01");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("part-0.csv"), b"ts,user_id,item_id\n").unwrap();
    };
    let msg = ["logs/click/2026-11-01", "not a partition"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b25_partition_with_an_impossible_date() {
    let setup = |w: &Path| std::fs::create_dir_all(w.join("logs/click/dt=2026-13-01")).unwrap();
    let msg = ["logs/click/dt=2026-13-01", "not a partition"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b26_no_exposure_logs_for_the_day() {
    let setup = |w: &Path| std::fs::remove_dir_all(w.join("logs/exposure/dt=2026-11-01")).unwrap();
    let msg = [
        "no exposure logs for 2026-11-01",
        "logs/exposure/dt=2026-11-01",
    ];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b27_missing_dimension_snapshots_build_with_null_dimensions() {
    let setup = |w: &Path| std::fs::remove_dir_all(w.join("logs/user")).unwrap();
    let same_rows = |m: &serde_json::Value| assert_eq!(m["rows"], template_manifest()["rows"]);
    case(setup, BUILD, Expect::Rebuilt(&same_rows));
}

// ---- configuration and command line -------------------------------------------------

#[test]
fn b28_unknown_field_in_a_build_config() {
    let setup = |w: &Path| std::fs::write(w.join("b.toml"), "build_bogus = 1\n").unwrap();
    let args = ["build", "--dt", D, "--config", "b.toml"];
    case(
        setup,
        &args,
        Expect::Fails(1, &["b.toml", "unknown field `build_bogus`"]),
    );
}

#[test]
fn b29_out_of_range_value_in_a_build_config() {
    let setup =
        |w: &Path| std::fs::write(w.join("b.toml"), "attribution_window_days = -3\n").unwrap();
    let args = ["build", "--dt", D, "--config", "b.toml"];
    case(
        setup,
        &args,
        Expect::Fails(1, &["b.toml", "line 1", "expected u32"]),
    );
}

#[test]
fn b30_unknown_calibration() {
    let args = ["build", "--dt", D, "--calibration", "sideways"];
    case(
        |_| {},
        &args,
        Expect::Fails(2, &["unknown calibration `sideways`"]),
    );
}

#[test]
fn b31_impossible_date_on_the_command_line() {
    let args = ["build", "--dt", "2026-11-31"];
    case(
        |_| {},
        &args,
        Expect::Fails(2, &["'2026-11-31'", "out of range"]),
    );
}

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

#[test]
fn t06_a_corrupt_checkpoint_record() {
    let setup = |w: &Path| {
        std::fs::create_dir_all(w.join("models/c")).unwrap();
        let ok = Command::new("cp")
            .arg("-r")
            .arg(w.join("models/r/dt=2026-11-01"))
            .arg(w.join("models/c/"))
            .status()
            .unwrap();
        assert!(ok.success());
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
        std::fs::create_dir_all(w.join("models/c")).unwrap();
        let ok = Command::new("cp")
            .arg("-r")
            .arg(w.join("models/r/dt=2026-11-01"))
            .arg(w.join("models/c/"))
            .status()
            .unwrap();
        assert!(ok.success());
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

// ---- queries -------------------------------------------------------------------------

#[test]
fn q01_a_query_over_a_truncated_log_file_names_it() {
    let setup = |w: &Path| put(w, "click", D, "x.parquet", b"PAR1 not really");
    let args = ["sql", "SELECT count(*) FROM click WHERE dt = '2026-11-01'"];
    // a known gap: the engine's message does not name the file (the build's does, b16)
    case(
        setup,
        &args,
        Expect::Fails(1, &["Parquet error", "Corrupt footer"]),
    );
}

#[test]
fn q02_health_of_a_day_without_samples() {
    let args = ["stats", "--dt", "2026-11-04"];
    case(
        |_| {},
        &args,
        Expect::Fails(
            1,
            &["no samples for dt 2026-11-04", "esmc build --dt 2026-11-04"],
        ),
    );
}

// ---- full disk (a fault injected at the writer: ESMC_FAULT_ENOSPC) --------------------

/// Runs `args` with publishes under `target` failing with ENOSPC; checks the message
/// names the path, nothing precious changed and no staging is left.
fn full_disk(args: &[&str], target: &str) {
    let (_dir, w) = world();
    let before = precious(&w);
    let mut c = Command::new(env!("CARGO_BIN_EXE_esmc"));
    c.arg(args[0])
        .arg("--quiet")
        .arg("--root")
        .arg(&w)
        .args(&args[1..]);
    let out = c
        .env("ESMC_FAULT_ENOSPC", target)
        .current_dir(&w)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(target) && err.contains("No space left on device"),
        "{err}"
    );
    for (p, bytes) in &before {
        assert!(std::fs::read(w.join(p)).unwrap() == *bytes, "{p} changed");
    }
    for dir in ["samples", "models/r"] {
        let stale: Vec<String> = std::fs::read_dir(w.join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".dt="))
            .collect();
        assert!(stale.is_empty(), "staging left in {dir}: {stale:?}");
    }
}

#[test]
fn f01_a_full_disk_while_publishing_a_partition() {
    full_disk(BUILD, "samples/dt=2026-11-01");
}

#[test]
fn f02_a_full_disk_while_publishing_a_checkpoint() {
    full_disk(
        &["train", "--run", "r", "--resume", "--to", "2026-11-02"],
        "models/r/dt=2026-11-02",
    );
}
