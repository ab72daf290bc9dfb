//! Non-numeric string IDs: the reference logs with every user, item, exposure, order and
//! category ID rewritten as text (`u_1`, `i-100`, a UUID, `ord3`, `cat_7`), in Parquet
//! (Utf8, LargeUtf8, Utf8View and dictionary columns) and in CSV, build the same labels,
//! counts and dimension joins as the numeric logs, each ID being
//! `esmc_schemas::id_from_str` of its text; days of integer IDs and days of string IDs mix
//! in one build.

mod common;

use arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, Int32Array, Int64Array, LargeStringArray,
    RecordBatch, StringArray, StringViewArray,
};
use arrow::datatypes::{Field, Int32Type, Int64Type, Schema};
use chrono::NaiveDate;
use common::{Logs, csv_text, day, label_rows, read_dir, reference_logs};
use esmc_pipeline::{BuildConfig, BuildOptions, BuildReport, Builder, NoProgress};
use esmc_schemas::{ColumnKind, Table, id_from_str};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const D: &str = "2026-11-02";

/// How the IDs of one rewritten log file are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ids {
    /// Integer columns, as written (the fast path).
    Integers,
    /// Non-numeric text in Parquet string columns of several physical types.
    TextParquet,
    /// Non-numeric text in a CSV file.
    TextCsv,
    /// The integers as digit strings in a Parquet `Utf8` column.
    DigitsParquet,
}

/// The text form of ID `v` of column `column`.
fn text_id(column: &str, v: i64) -> String {
    match column {
        "user_id" => format!("u_{v}"),
        "item_id" => format!("i-{v}"),
        "exposure_id" => format!("{v:08x}-e89b-12d3-a456-426614174000"),
        "order_id" => format!("ord{v}"),
        "category_id" => format!("cat_{v}"),
        other => panic!("no text form for {other}"),
    }
}

/// The ID the samples carry for the numeric fixture's ID `v` of `column`.
fn mapped(column: &str, v: i64) -> i64 {
    id_from_str(&text_id(column, v)).unwrap()
}

/// The reference logs over D-1..D+3, plus user and item snapshots of D-1 (users 1-9 with
/// `age_bucket` = their number; items 100-900 with `category_id` = item / 100), every file
/// Parquet with integer IDs, then each file's IDs rewritten as `ids(table, day)` says.
fn warehouse(logs: &Logs, ids: impl Fn(Table, NaiveDate) -> Ids) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    logs.write(root, day("2026-11-01"), day("2026-11-05"));
    let w = esmc_schemas::Warehouse::new(root);
    let snapshot = day("2026-11-01");
    let users: Vec<i64> = (1..=9).collect();
    let items: Vec<i64> = (1..=9).map(|i| i * 100).collect();
    let dims = [
        (
            Table::User,
            vec![
                Arc::new(Int64Array::from(users.clone())) as ArrayRef,
                Arc::new(Int32Array::from_iter_values(
                    users.iter().map(|&u| u as i32),
                )),
            ],
        ),
        (
            Table::Item,
            vec![
                Arc::new(Int64Array::from(items.clone())) as ArrayRef,
                Arc::new(Int64Array::from_iter_values(items.iter().map(|i| i / 100))),
            ],
        ),
    ];
    for (table, columns) in dims {
        let schema = table.spec().arrow_schema();
        let rows = columns[0].len();
        let all: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                columns
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| arrow::array::new_null_array(f.data_type(), rows))
            })
            .collect();
        let dir = w.log_dir(table, snapshot);
        std::fs::create_dir_all(&dir).unwrap();
        write_parquet(
            &dir.join("part-0.parquet"),
            &RecordBatch::try_new(schema, all).unwrap(),
        );
    }
    for table in Table::ALL {
        for d in w.log_days(table).unwrap() {
            let path = w.log_dir(table, d).join("part-0.parquet");
            if path.exists() {
                rewrite(table, &path, ids(table, d));
            }
        }
    }
    dir
}

/// Rewrites the Parquet file at `path` with its ID columns as `ids` says.
fn rewrite(table: Table, path: &Path, ids: Ids) {
    if ids == Ids::Integers {
        return;
    }
    let batch = {
        let file = std::fs::File::open(path).unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
        let schema = reader.schema().clone();
        let batches: Vec<_> = reader.build().unwrap().map(Result::unwrap).collect();
        arrow::compute::concat_batches(&schema, &batches).unwrap()
    };
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        let spec = table.spec().column(f.name()).unwrap();
        if spec.kind != ColumnKind::Id || c.null_count() == c.len() {
            fields.push(f.as_ref().clone());
            columns.push(Arc::clone(c));
            continue;
        }
        let values = c.as_primitive::<Int64Type>();
        let text: Vec<Option<String>> = values
            .iter()
            .map(|v| {
                v.map(|v| match ids {
                    Ids::DigitsParquet => v.to_string(),
                    _ => text_id(f.name(), v),
                })
            })
            .collect();
        let array: ArrayRef = match (ids, f.name().as_str()) {
            (Ids::TextParquet, "item_id") => Arc::new(
                text.iter()
                    .map(|s| s.as_deref())
                    .collect::<DictionaryArray<Int32Type>>(),
            ),
            (Ids::TextParquet, "exposure_id") => Arc::new(LargeStringArray::from(text)),
            (Ids::TextParquet, "order_id" | "category_id") => {
                Arc::new(StringViewArray::from_iter(text))
            }
            _ => Arc::new(StringArray::from(text)),
        };
        fields.push(Field::new(f.name(), array.data_type().clone(), true));
        columns.push(array);
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
    if ids == Ids::TextCsv {
        std::fs::remove_file(path).unwrap();
        std::fs::write(path.with_extension("csv"), csv_text(&batch)).unwrap();
    } else {
        write_parquet(path, &batch);
    }
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

fn build(root: &Path) -> BuildReport {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let builder = Builder::new(root, BuildConfig::default(), BuildOptions::default());
    rt.block_on(builder.build(day(D), &NoProgress)).unwrap()
}

/// sample_id → (user_id, item_id, age_bucket, category_id) of a sample partition.
fn joined(batches: &[RecordBatch]) -> BTreeMap<i64, (i64, i64, Option<i32>, Option<i64>)> {
    let mut out = BTreeMap::new();
    for b in batches {
        let col = |n: &str| b.column_by_name(n).unwrap().clone();
        let (sample, user, item, age, cat) = (
            col("sample_id"),
            col("user_id"),
            col("item_id"),
            col("age_bucket"),
            col("category_id"),
        );
        let (sample, user, item) = (
            sample.as_primitive::<Int64Type>(),
            user.as_primitive::<Int64Type>(),
            item.as_primitive::<Int64Type>(),
        );
        let age = age.as_primitive::<Int32Type>();
        let cat = cat.as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            out.insert(
                sample.value(i),
                (
                    user.value(i),
                    item.value(i),
                    age.is_valid(i).then(|| age.value(i)),
                    cat.is_valid(i).then(|| cat.value(i)),
                ),
            );
        }
    }
    out
}

fn manifest_counts(r: &BuildReport) -> (u64, BTreeMap<String, u64>, u64, u64, u64) {
    let m = &r.manifest;
    (
        m.rows,
        m.psc_case_counts.clone(),
        m.purchases_attributed,
        m.clicks_attributed,
        m.quarantined.values().sum(),
    )
}

#[test]
fn text_ids_in_parquet_and_csv_build_the_numeric_labels() {
    let logs = reference_logs();
    let numeric = warehouse(&logs, |_, _| Ids::Integers);
    let want_report = build(numeric.path());
    let want_batches = read_dir(&want_report.partition);
    // the numeric labels with every exposure ID mapped as its text form is
    let want: BTreeMap<i64, String> = label_rows(&want_batches)
        .into_iter()
        .map(|(e, labels)| (mapped("exposure_id", e), labels))
        .collect();
    assert_eq!(want.len(), 7);
    let want_joined: BTreeMap<i64, _> = joined(&want_batches)
        .into_iter()
        .map(|(e, (u, i, age, cat))| {
            assert_eq!(age, Some(u as i32), "the user snapshot joins");
            assert_eq!(cat, Some(i / 100), "the item snapshot joins");
            (
                mapped("exposure_id", e),
                (
                    mapped("user_id", u),
                    mapped("item_id", i),
                    age,
                    cat.map(|c| mapped("category_id", c)),
                ),
            )
        })
        .collect();

    type Pick = dyn Fn(Table, NaiveDate) -> Ids;
    let cases: [(&str, &Pick); 3] = [
        ("parquet", &|_, _| Ids::TextParquet),
        ("csv", &|_, _| Ids::TextCsv),
        (
            "parquet and csv across tables and days",
            &|t, d| match (t, d.to_string().as_str()) {
                (Table::Click | Table::User, _) | (_, "2026-11-03") => Ids::TextCsv,
                _ => Ids::TextParquet,
            },
        ),
    ];
    for (name, ids) in cases {
        let dir = warehouse(&logs, ids);
        let report = build(dir.path());
        let batches = read_dir(&report.partition);
        assert_eq!(label_rows(&batches), want, "{name}");
        assert_eq!(joined(&batches), want_joined, "{name}");
        assert_eq!(
            manifest_counts(&report),
            manifest_counts(&want_report),
            "{name}"
        );
        assert_eq!(
            report.manifest.quarantined.values().sum::<u64>(),
            0,
            "{name}"
        );
    }
}

#[test]
fn integer_and_string_id_days_mix() {
    let logs = reference_logs();
    let numeric = warehouse(&logs, |_, _| Ids::Integers);
    let report = build(numeric.path());
    let want = std::fs::read(report.partition.join("part-00000.parquet")).unwrap();

    // digit strings read as the integers they spell: the same bytes, whichever days and
    // tables hold them
    let dir = warehouse(&logs, |t, d| match (t, d.to_string().as_str()) {
        (_, "2026-11-02") | (Table::Purchase, _) => Ids::DigitsParquet,
        (Table::Click, "2026-11-03") => Ids::TextCsv,
        _ => Ids::Integers,
    });
    // (the CSV day of click is text: no click of the fixture falls on it)
    let mixed = build(dir.path());
    assert_eq!(
        label_rows(&read_dir(&mixed.partition)),
        label_rows(&read_dir(&report.partition))
    );
    assert!(
        std::fs::read(mixed.partition.join("part-00000.parquet")).unwrap() == want,
        "partition bytes differ"
    );

    // text IDs on D only, integers around it: D's exposures build, with their own IDs
    let dir = warehouse(&logs, |_, d| {
        if d.to_string() == D {
            Ids::TextParquet
        } else {
            Ids::Integers
        }
    });
    let report = build(dir.path());
    let labels = label_rows(&read_dir(&report.partition));
    let want: Vec<i64> = [1, 2, 31, 32, 4, 7, 9]
        .iter()
        .map(|&e| mapped("exposure_id", e))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(labels.keys().copied().collect::<Vec<_>>(), want);
}
