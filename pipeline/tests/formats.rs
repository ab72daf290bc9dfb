//! Raw logs as CSV and NDJSON: the same logs written as Parquet, CSV, NDJSON, a mix of
//! formats across tables and within one partition build byte-identical sample
//! partitions; bad text input fails with the file (and line) named, or quarantines the
//! row with its reason (docs/labels.md, bad input).

mod common;

use common::{LogFormat, Logs, day, label_rows, read_dir, reference_logs};
use esmc_pipeline::{BuildConfig, BuildError, BuildOptions, Builder, NoProgress};
use esmc_schemas::Table;
use std::path::Path;

const D: &str = "2026-11-02";

fn try_build(root: &Path) -> Result<esmc_pipeline::BuildReport, BuildError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let builder = Builder::new(root, BuildConfig::default(), BuildOptions::default());
    rt.block_on(builder.build(day(D), &NoProgress))
}

fn partition_bytes(root: &Path) -> Vec<u8> {
    std::fs::read(root.join("samples/dt=2026-11-02/part-00000.parquet")).unwrap()
}

/// Writes `logs` over D-1..D+3 in `format` and builds D.
fn build_as(
    logs: &Logs,
    format: impl Fn(Table, chrono::NaiveDate) -> LogFormat,
) -> (tempfile::TempDir, esmc_pipeline::BuildReport) {
    let dir = tempfile::tempdir().unwrap();
    logs.write_as(dir.path(), day("2026-11-01"), day("2026-11-05"), format);
    let report = try_build(dir.path()).unwrap();
    (dir, report)
}

#[test]
fn every_format_and_mix_builds_byte_identical_samples() {
    let logs = reference_logs();
    let (parquet, report) = build_as(&logs, |_, _| LogFormat::Parquet);
    let want = partition_bytes(parquet.path());
    //            click dmi cart wish dma purchase cart_cal cart_global_cal psc_case
    let labels = label_rows(&read_dir(&report.partition));
    assert_eq!(labels[&1], "1 1 1 0 1 1 1 1 same_visit");
    assert_eq!(labels[&2], "1 0 1 0 1 1 1 1 later_visit");
    assert_eq!(labels[&9], "1 0 0 0 0 0 0 0 no_purchase");
    assert_eq!(labels.len(), 7);

    type Pick = dyn Fn(Table, chrono::NaiveDate) -> LogFormat;
    let cases: [(&str, &Pick); 5] = [
        ("csv", &|_, _| LogFormat::Csv),
        ("ndjson", &|_, _| LogFormat::NdJson),
        ("mixed within partitions", &|_, _| LogFormat::Mixed),
        ("mixed across tables", &|t, _| match t {
            Table::Exposure | Table::Cart => LogFormat::Csv,
            Table::Click | Table::Purchase => LogFormat::NdJson,
            _ => LogFormat::Parquet,
        }),
        ("mixed across days", &|_, d| match d.to_string().as_str() {
            "2026-11-02" => LogFormat::Csv,
            "2026-11-03" => LogFormat::NdJson,
            _ => LogFormat::Parquet,
        }),
    ];
    for (name, format) in cases {
        let (dir, report) = build_as(&logs, format);
        assert_eq!(label_rows(&read_dir(&report.partition)), labels, "{name}");
        assert!(
            partition_bytes(dir.path()) == want,
            "{name}: partition bytes differ"
        );
        assert_eq!(
            report.manifest.quarantined.values().sum::<u64>(),
            0,
            "{name}"
        );
        // the manifest hashes the text files like any other input
        let ext = |p: &str| p.ends_with(".csv") || p.ends_with(".ndjson") || p.ends_with(".jsonl");
        assert!(
            report.manifest.inputs.iter().any(|f| ext(&f.path)),
            "{name}: {:?}",
            report.manifest.inputs
        );
    }
}

/// A warehouse whose click logs of D are CSV (200 users), built once; returns its
/// partition's bytes.
fn built_csv() -> (tempfile::TempDir, Vec<u8>) {
    let mut l = Logs::default();
    for u in 1..=200 {
        l.expose(u, "2026-11-02 10:00", u, 100, "rec");
        l.click("2026-11-02 10:00:05", u, 100, Some(u));
    }
    let dir = tempfile::tempdir().unwrap();
    l.write_as(dir.path(), day("2026-11-01"), day("2026-11-05"), |t, _| {
        if t == Table::Click {
            LogFormat::Csv
        } else {
            LogFormat::Parquet
        }
    });
    try_build(dir.path()).unwrap();
    let bytes = partition_bytes(dir.path());
    (dir, bytes)
}

fn extra(root: &Path, name: &str) -> std::path::PathBuf {
    root.join("logs/click/dt=2026-11-02").join(name)
}

fn quarantine_reasons(root: &Path) -> Vec<String> {
    let q = read_dir(&root.join("quarantine/click/dt=2026-11-02"));
    q.iter()
        .flat_map(|b| {
            let r = b.column_by_name("reject_reason").unwrap();
            arrow::array::AsArray::as_string::<i32>(r.as_ref())
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn missing_column_in_a_csv_header_is_named() {
    let (dir, before) = built_csv();
    let path = extra(dir.path(), "extra.csv");
    std::fs::write(&path, "ts,item_id\n2026-11-02T10:00:00Z,100\n").unwrap();
    let err = try_build(dir.path()).unwrap_err();
    assert!(matches!(err, BuildError::Schema { .. }), "{err:?}");
    let err = err.to_string();
    assert!(
        err.contains("logs/click/dt=2026-11-02/extra.csv")
            && err.contains("column `user_id` is missing"),
        "{err}"
    );
    assert!(
        partition_bytes(dir.path()) == before,
        "the old partition must survive"
    );

    // an NDJSON file: the first object's keys are its header
    std::fs::remove_file(&path).unwrap();
    let path = extra(dir.path(), "extra.ndjson");
    std::fs::write(&path, "{\"ts\": 1793613600000000, \"user_id\": 1}\n").unwrap();
    let err = try_build(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("extra.ndjson") && err.contains("column `item_id` is missing"),
        "{err}"
    );
    assert!(
        partition_bytes(dir.path()) == before,
        "the old partition must survive"
    );
}

#[test]
fn unparseable_values_land_in_quarantine_with_the_column_named() {
    let (dir, _) = built_csv();
    // one click with an unparseable timestamp: 1 of 201 rows, under the 1% limit
    std::fs::write(
        extra(dir.path(), "extra.csv"),
        "ts,user_id,item_id\nyesterday,7,100\n",
    )
    .unwrap();
    let report = try_build(dir.path()).unwrap();
    assert_eq!(report.manifest.quarantined["click"], 1);
    assert_eq!(quarantine_reasons(dir.path()), ["unparseable ts"]);

    // an NDJSON click with an unparseable timestamp, and one with a non-numeric user id:
    // that one is no parse error (its ID is the text's esmc_id)
    std::fs::remove_file(extra(dir.path(), "extra.csv")).unwrap();
    std::fs::write(
        extra(dir.path(), "extra.ndjson"),
        "{\"ts\": \"11:00\", \"user_id\": 7, \"item_id\": 100}\n\
         {\"ts\": \"2026-11-02T11:00:00Z\", \"user_id\": \"u7\", \"item_id\": 100}\n",
    )
    .unwrap();
    let report = try_build(dir.path()).unwrap();
    assert_eq!(report.manifest.quarantined["click"], 1);
    assert_eq!(quarantine_reasons(dir.path()), ["unparseable ts"]);
}

#[test]
fn empty_malformed_and_unknown_files_are_named() {
    let (dir, before) = built_csv();
    let csv = extra(dir.path(), "extra.csv");
    std::fs::write(&csv, "").unwrap();
    let err = try_build(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("logs/click/dt=2026-11-02/extra.csv: empty file"),
        "{err}"
    );

    // a line with a missing field: the file and its line are named
    std::fs::write(
        &csv,
        "ts,user_id,item_id\n2026-11-02T11:00:00Z,7,100\n2026-11-02T11:00:00Z,7\n",
    )
    .unwrap();
    let err = try_build(dir.path()).unwrap_err();
    assert!(matches!(err, BuildError::BadTextFile(_)), "{err:?}");
    let err = err.to_string();
    assert!(err.contains("extra.csv") && err.contains("line"), "{err}");
    std::fs::remove_file(&csv).unwrap();

    // an NDJSON line that is not a JSON object
    let ndjson = extra(dir.path(), "extra.jsonl");
    std::fs::write(
        &ndjson,
        "{\"ts\": 1793613600000000, \"user_id\": 1, \"item_id\": 100}\n{\"ts\": 17936\n",
    )
    .unwrap();
    let err = try_build(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("extra.jsonl: line 2: not a JSON object"),
        "{err}"
    );
    // an empty NDJSON file is a document with no rows, not an error
    std::fs::write(&ndjson, "").unwrap();
    try_build(dir.path()).unwrap();
    std::fs::remove_file(&ndjson).unwrap();

    // a file of no known format is never skipped silently
    std::fs::write(extra(dir.path(), "extra.txt"), "ts,user_id,item_id\n").unwrap();
    let err = try_build(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("extra.txt: unsupported log file format"),
        "{err}"
    );
    assert!(
        partition_bytes(dir.path()) == before,
        "the old partition must survive"
    );
}
