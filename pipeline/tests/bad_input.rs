//! Bad input: each case gives an error naming the file and column, or lands the rows in
//! quarantine; nothing already written is lost.

mod common;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use common::{Logs, day, read_dir};
use esmc_pipeline::{BuildConfig, BuildError, BuildOptions, Builder, NoProgress};
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::sync::Arc;

const D: &str = "2026-11-02";

fn logs() -> Logs {
    let mut l = Logs::default();
    for u in 1..=200 {
        l.expose(u, "2026-11-02 10:00", u, 100, "rec");
        l.click("2026-11-02 10:00:05", u, 100, Some(u));
    }
    l
}

fn try_build(root: &Path) -> Result<esmc_pipeline::BuildReport, BuildError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let builder = Builder::new(root, BuildConfig::default(), BuildOptions::default());
    rt.block_on(builder.build(day(D), &NoProgress))
}

/// A warehouse with a good build of D, whose partition bytes are returned.
fn built() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    logs().write(dir.path(), day("2026-11-01"), day("2026-11-05"));
    let report = try_build(dir.path()).unwrap();
    let bytes = std::fs::read(report.partition.join("part-00000.parquet")).unwrap();
    (dir, bytes)
}

fn partition_bytes(root: &Path) -> Vec<u8> {
    std::fs::read(root.join("samples/dt=2026-11-02/part-00000.parquet")).unwrap()
}

fn write_batch(path: &Path, batch: &RecordBatch) {
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

fn click_file(root: &Path) -> std::path::PathBuf {
    root.join("logs/click/dt=2026-11-02/extra.parquet")
}

#[test]
fn wrong_column_type_names_file_column_and_types() {
    let (dir, before) = built();
    let schema = Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Utf8, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("item_id", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec!["2026-11-02 10:00"])),
            Arc::new(Int64Array::from(vec![1])),
            Arc::new(Int64Array::from(vec![100])),
        ],
    )
    .unwrap();
    write_batch(&click_file(dir.path()), &batch);
    let err = try_build(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("logs/click/dt=2026-11-02/extra.parquet"),
        "{err}"
    );
    assert!(err.contains("column `ts`: expected a timestamp"), "{err}");
    assert!(err.contains("found Utf8"), "{err}");
    assert_eq!(
        partition_bytes(dir.path()),
        before,
        "the old partition must survive"
    );
}

#[test]
fn missing_column_is_named() {
    let (dir, before) = built();
    let schema = Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("item_id", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(
                TimestampMicrosecondArray::from(vec![common::t("2026-11-02 10:00")])
                    .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from(vec![100])),
        ],
    )
    .unwrap();
    write_batch(&click_file(dir.path()), &batch);
    let err = try_build(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("extra.parquet") && err.contains("column `user_id` is missing"),
        "{err}"
    );
    assert_eq!(partition_bytes(dir.path()), before);
}

#[test]
fn empty_and_truncated_files_are_named() {
    let (dir, before) = built();
    std::fs::write(click_file(dir.path()), b"").unwrap();
    let err = try_build(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("extra.parquet: not a readable Parquet file"),
        "{err}"
    );

    let good = std::fs::read(dir.path().join("logs/click/dt=2026-11-02/part-0.parquet")).unwrap();
    std::fs::write(click_file(dir.path()), &good[..good.len() / 2]).unwrap();
    let err = try_build(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("extra.parquet: not a readable Parquet file"),
        "{err}"
    );
    assert_eq!(partition_bytes(dir.path()), before);
}

#[test]
fn bad_rows_go_to_quarantine_with_a_reason_and_too_many_fail_the_build() {
    let (dir, _) = built();
    // one click of D with an event time five days before its partition
    let mut l = Logs::default();
    l.click("2026-10-28 10:00", 7, 100, Some(7));
    let one = l.clicks.clone();
    let schema = esmc_schemas::Table::Click.spec().arrow_schema();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(TimestampMicrosecondArray::from(vec![one[0].0]).with_timezone("UTC")),
            Arc::new(Int64Array::from(vec![7])),
            Arc::new(Int64Array::from(vec![100])),
            Arc::new(Int64Array::from(vec![Some(7)])),
        ],
    )
    .unwrap();
    write_batch(&click_file(dir.path()), &batch);
    // 1 of 201 click rows rejected: 0.5% < 1%, the build goes on
    let report = try_build(dir.path()).unwrap();
    assert_eq!(report.manifest.quarantined["click"], 1);
    let q = read_dir(&dir.path().join("quarantine/click/dt=2026-11-02"));
    let reason = q[0].column_by_name("reject_reason").unwrap();
    let reason = arrow::array::AsArray::as_string::<i32>(reason.as_ref())
        .value(0)
        .to_string();
    assert_eq!(
        reason,
        "event time before its partition beyond the late tolerance"
    );

    // three more bad rows: 4 of 204 > 1%: the build fails and names the quarantine
    let ts = one[0].0;
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from(vec![ts, ts, ts, ts]).with_timezone("UTC")),
            Arc::new(Int64Array::from(vec![7, 8, 9, 10])),
            Arc::new(Int64Array::from(vec![100; 4])),
            Arc::new(Int64Array::from(vec![Some(7); 4])),
        ],
    )
    .unwrap();
    write_batch(&click_file(dir.path()), &batch);
    let before = partition_bytes(dir.path());
    let err = try_build(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("table `click` of 2026-11-02: 4 of 204 rows rejected"),
        "{err}"
    );
    assert!(err.contains("quarantine/click/dt=2026-11-02"), "{err}");
    assert_eq!(partition_bytes(dir.path()), before);
}

#[test]
fn exact_duplicates_are_dropped_and_counted() {
    let (dir, before) = built();
    // the day's click file again under another name: 200 exact duplicates
    let src = dir.path().join("logs/click/dt=2026-11-02/part-0.parquet");
    std::fs::copy(&src, click_file(dir.path())).unwrap();
    let report = try_build(dir.path()).unwrap();
    assert_eq!(report.manifest.duplicates_dropped["click"], 200);
    // labels unchanged by the duplicates
    assert_eq!(partition_bytes(dir.path()), before);
}

/// `batch` with column `name` replaced by `values` (of its type).
fn with_column(batch: &RecordBatch, name: &str, values: ArrayRef) -> RecordBatch {
    let i = batch.schema().index_of(name).unwrap();
    let mut columns = batch.columns().to_vec();
    columns[i] = arrow::compute::cast(&values, batch.column(i).data_type()).unwrap();
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

#[test]
fn exact_copies_are_dropped_beside_rows_that_differ_outside_the_sort_keys() {
    // the event stream is sorted by (user, ts, kind, item, exposure, tag): an exposure
    // with another request, or a purchase with another order, ties with the original on
    // every key and may sort between it and its exact copy
    let dir = tempfile::tempdir().unwrap();
    let mut l = logs();
    for u in 1..=200 {
        l.buy("2026-11-02 10:30", u, 100);
    }
    l.write(dir.path(), day("2026-11-01"), day("2026-11-05"));
    for (table, column) in [("exposure", "request_id"), ("purchase", "order_id")] {
        let part = dir.path().join(format!("logs/{table}/dt=2026-11-02"));
        let rows = read_dir(&part).remove(0);
        std::fs::copy(part.join("part-0.parquet"), part.join("copy.parquet")).unwrap();
        let other: ArrayRef = Arc::new(Int64Array::from_iter_values(
            (0..rows.num_rows() as i64).map(|i| 1_000_000 + i),
        ));
        write_batch(
            &part.join("near.parquet"),
            &with_column(&rows, column, other),
        );
    }
    let report = try_build(dir.path()).unwrap();
    assert_eq!(report.manifest.duplicates_dropped["exposure"], 200);
    assert_eq!(report.manifest.duplicates_dropped["purchase"], 200);
}

#[test]
fn a_null_user_id_lands_in_quarantine_instead_of_failing_the_read() {
    let (dir, _) = built();
    // one click whose user_id is null, in a file whose schema allows nulls
    let schema = Arc::new(Schema::new(
        esmc_schemas::Table::Click
            .spec()
            .arrow_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ));
    let ts = common::t("2026-11-02 11:00");
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(TimestampMicrosecondArray::from(vec![ts]).with_timezone("UTC")),
            Arc::new(Int64Array::from(vec![None::<i64>])),
            Arc::new(Int64Array::from(vec![100])),
            Arc::new(Int64Array::from(vec![Some(7)])),
        ],
    )
    .unwrap();
    write_batch(&click_file(dir.path()), &batch);
    let report = try_build(dir.path()).unwrap();
    assert_eq!(report.manifest.quarantined["click"], 1);
    let q = read_dir(&dir.path().join("quarantine/click/dt=2026-11-02"));
    let reason = q[0].column_by_name("reject_reason").unwrap();
    let reason = arrow::array::AsArray::as_string::<i32>(reason.as_ref()).value(0);
    assert_eq!(reason, "null user_id");
}
