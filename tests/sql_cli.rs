//! `esmc sql` and `esmc stats` as a user runs them, on a small seeded world built once per
//! run: every output format (insta snapshots), named queries, errors with their caret,
//! piped statements, and the stats exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

fn esmc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esmc"))
        .args(args)
        .output()
        .expect("esmc runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A 3-day world (seed 3), days 1 and 2 built: shared by every test of this file.
fn warehouse() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let out = esmc(&[
            "simulate",
            "--root",
            root,
            "--days",
            "3",
            "--exposures-per-day",
            "3000",
            "--seed",
            "3",
            "--quiet",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let out = esmc(&[
            "build",
            "--root",
            root,
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
            "--quiet",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        dir
    })
    .path()
}

fn sql(args: &[&str]) -> Output {
    let root = warehouse().to_str().unwrap();
    let mut all = vec!["sql", "--root", root];
    all.extend_from_slice(args);
    esmc(&all)
}

const FUNNEL: &str = "SELECT dt, count(*) AS clicks, count(exposure_id) AS with_exposure_id, \
                      min(ts) AS first_click, nullif(dt, '2026-11-02') AS null_on_day_2 FROM click \
                      GROUP BY dt ORDER BY dt";

#[test]
fn table_csv_and_json_formats() {
    for format in ["table", "csv", "json"] {
        let out = sql(&[FUNNEL, "--format", format]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        insta::assert_snapshot!(format!("sql_format_{format}"), text(&out.stdout));
    }
}

#[test]
fn parquet_format_writes_a_file_and_needs_out() {
    let out = sql(&[FUNNEL, "--format", "parquet"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: --format parquet needs --out FILE\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let file: PathBuf = dir.path().join("funnel.parquet");
    let out = sql(&[
        FUNNEL,
        "--format",
        "parquet",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&file).unwrap(),
    )
    .unwrap()
    .build()
    .unwrap();
    let mut shown = String::new();
    for batch in reader {
        let batch = batch.unwrap();
        for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
            shown.push_str(&format!("{}: {:?}\n", field, column));
        }
    }
    insta::assert_snapshot!("sql_format_parquet", shown);
}

#[test]
fn named_queries_with_params_and_the_list() {
    let out = sql(&[
        "--query",
        "label_rates",
        "--param",
        "from=2026-11-02",
        "--format",
        "csv",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    insta::assert_snapshot!("sql_named_label_rates", text(&out.stdout));

    let out = esmc(&["sql", "--list"]);
    assert!(out.status.success());
    let list = text(&out.stdout);
    for name in [
        "daily_funnel",
        "psc_case_shares",
        "cart_purchase_delay",
        "label_rates",
        "top_categories",
        "session_stats",
        "quarantine_summary",
    ] {
        assert!(list.lines().any(|l| l.starts_with(name)), "{name}:\n{list}");
    }
    assert!(list.contains("--param min_clicks=20  (int)"), "{list}");
}

#[test]
fn errors_name_the_problem_and_point_into_the_query() {
    let out = sql(&["SELECT item_id\nFROM clicks"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("sql_error_unknown_table", text(&out.stderr));

    let out = sql(&["--query", "top_categories", "--param", "top=ten"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: parameter `top` of query `top_categories`: `ten` is not an integer\n"
    );
    let out = sql(&["--query", "top_categories", "--param", "limit=3"]);
    assert!(
        text(&out.stderr)
            .contains("has no parameter `limit` (parameters: from, to, min_clicks, top)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn piped_statements_run_in_turn() {
    use std::io::Write;
    let root = warehouse().to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_esmc"))
        .args(["sql", "--root", root, "--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"-- two statements, one over two lines\nSELECT 1 AS a;\nSELECT dt\nFROM manifests ORDER BY dt;\n\\n top_categories top=1 min_clicks=1000000\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "a\n1\ndt\n2026-11-01\n2026-11-02\ncategory_id,exposures,clicks,purchases,ctr,cvr\n"
    );
}

#[test]
fn stats_flags_moves_beyond_the_threshold_with_exit_code_3() {
    let root = warehouse().to_str().unwrap();
    let calm = esmc(&[
        "stats",
        "--root",
        root,
        "--dt",
        "2026-11-02",
        "--threshold",
        "1000",
    ]);
    assert_eq!(calm.status.code(), Some(0), "{}", text(&calm.stderr));
    let stdout = text(&calm.stdout);
    assert!(
        stdout.starts_with("daily health of 2026-11-02:"),
        "{stdout}"
    );
    assert!(stdout.contains("trailing days with samples: 2026-11-01..2026-11-01 (1 days)"));
    assert!(stdout.contains("== daily_funnel (2026-10-26 .. 2026-11-02) =="));

    let strict = esmc(&[
        "stats",
        "--root",
        root,
        "--dt",
        "2026-11-02",
        "--threshold",
        "0",
    ]);
    assert_eq!(strict.status.code(), Some(3), "{}", text(&strict.stderr));
    assert!(
        text(&strict.stdout).contains("FLAGGED: click ("),
        "{}",
        text(&strict.stdout)
    );

    let missing = esmc(&["stats", "--root", root, "--dt", "2026-11-03"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("no samples for dt 2026-11-03"));

    let bad = esmc(&[
        "stats",
        "--root",
        root,
        "--dt",
        "2026-11-02",
        "--threshold",
        "-1",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}
