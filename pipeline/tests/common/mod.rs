//! Hand-written logs for fixture tests: events by wall-clock time, written as real
//! Parquet partitions of a temporary warehouse, then built and read back.

#![allow(dead_code)]

use arrow::array::{
    ArrayRef, AsArray, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::datatypes::{Int8Type, Int64Type};
use chrono::{NaiveDate, NaiveDateTime};
use esmc_pipeline::{BuildConfig, BuildOptions, Builder, Calibration, NoProgress};
use esmc_schemas::{Table, Warehouse};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// `"2026-11-02 08:00"` or `"2026-11-02 08:00:05"` as UTC microseconds.
pub fn t(s: &str) -> i64 {
    let fmt = if s.len() > 16 {
        "%Y-%m-%d %H:%M:%S"
    } else {
        "%Y-%m-%d %H:%M"
    };
    NaiveDateTime::parse_from_str(s, fmt)
        .unwrap_or_else(|e| panic!("bad time {s}: {e}"))
        .and_utc()
        .timestamp_micros()
}

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The raw logs of a fixture.
#[derive(Default)]
pub struct Logs {
    /// (exposure_id, ts, user, item, domain)
    pub exposures: Vec<(i64, i64, i64, i64, &'static str)>,
    /// (ts, user, item, exposure_id)
    pub clicks: Vec<(i64, i64, i64, Option<i64>)>,
    /// (ts, user, item, action)
    pub micro: Vec<(i64, i64, i64, &'static str)>,
    /// (ts, user, item, domain)
    pub carts: Vec<(i64, i64, i64, &'static str)>,
    pub wishes: Vec<(i64, i64, i64, &'static str)>,
    /// (ts, user, item, order_id)
    pub purchases: Vec<(i64, i64, i64, i64)>,
}

impl Logs {
    pub fn expose(&mut self, id: i64, ts: &str, user: i64, item: i64, domain: &'static str) {
        self.exposures.push((id, t(ts), user, item, domain));
    }
    pub fn click(&mut self, ts: &str, user: i64, item: i64, exposure: Option<i64>) {
        self.clicks.push((t(ts), user, item, exposure));
    }
    pub fn micro(&mut self, ts: &str, user: i64, item: i64, action: &'static str) {
        self.micro.push((t(ts), user, item, action));
    }
    pub fn cart(&mut self, ts: &str, user: i64, item: i64, domain: &'static str) {
        self.carts.push((t(ts), user, item, domain));
    }
    pub fn wish(&mut self, ts: &str, user: i64, item: i64, domain: &'static str) {
        self.wishes.push((t(ts), user, item, domain));
    }
    pub fn buy(&mut self, ts: &str, user: i64, item: i64) {
        let order = self.purchases.len() as i64 + 1;
        self.purchases.push((t(ts), user, item, order));
    }

    /// Writes every table, one partition per UTC day of the event time, over
    /// [first, last] (empty partitions included, as a complete warehouse has them).
    pub fn write(&self, root: &Path, first: NaiveDate, last: NaiveDate) {
        self.write_as(root, first, last, |_, _| LogFormat::Parquet);
    }

    /// [`Logs::write`] with each partition in the format `format(table, day)` picks.
    // Long because: one writer per log table, each a short block in the schema's column order.
    pub fn write_as(
        &self,
        root: &Path,
        first: NaiveDate,
        last: NaiveDate,
        format: impl Fn(Table, NaiveDate) -> LogFormat,
    ) {
        let w = Warehouse::new(root);
        let write = |w: &Warehouse, table: Table, d: NaiveDate, columns: Vec<ArrayRef>| {
            write_file(w, table, d, columns, format(table, d))
        };
        let mut d = first;
        while d <= last {
            let lo = d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_micros();
            let hi = lo + 86_400_000_000;
            let inside = |ts: i64| (lo..hi).contains(&ts);
            let ex: Vec<_> = self.exposures.iter().filter(|r| inside(r.1)).collect();
            write(
                &w,
                Table::Exposure,
                d,
                vec![
                    ids(ex.iter().map(|r| r.0)),
                    ts(ex.iter().map(|r| r.1)),
                    ids(ex.iter().map(|r| r.2)),
                    ids(ex.iter().map(|r| r.3)),
                    text(ex.iter().map(|r| r.4)),
                    Arc::new(Int32Array::from(vec![Some(1); ex.len()])),
                    Arc::new(Int64Array::from(vec![None::<i64>; ex.len()])),
                    Arc::new(Int64Array::from(vec![None::<i64>; ex.len()])),
                    Arc::new(Float64Array::from(vec![None::<f64>; ex.len()])),
                    Arc::new(Float64Array::from(vec![None::<f64>; ex.len()])),
                    Arc::new(Float64Array::from(vec![None::<f64>; ex.len()])),
                ],
            );
            let cl: Vec<_> = self.clicks.iter().filter(|r| inside(r.0)).collect();
            write(
                &w,
                Table::Click,
                d,
                vec![
                    ts(cl.iter().map(|r| r.0)),
                    ids(cl.iter().map(|r| r.1)),
                    ids(cl.iter().map(|r| r.2)),
                    Arc::new(Int64Array::from(cl.iter().map(|r| r.3).collect::<Vec<_>>())),
                ],
            );
            for (table, rows) in [
                (Table::Micro, &self.micro),
                (Table::Cart, &self.carts),
                (Table::Wish, &self.wishes),
            ] {
                let rs: Vec<_> = rows.iter().filter(|r| inside(r.0)).collect();
                write(
                    &w,
                    table,
                    d,
                    vec![
                        ts(rs.iter().map(|r| r.0)),
                        ids(rs.iter().map(|r| r.1)),
                        ids(rs.iter().map(|r| r.2)),
                        text(rs.iter().map(|r| r.3)),
                    ],
                );
            }
            let pu: Vec<_> = self.purchases.iter().filter(|r| inside(r.0)).collect();
            write(
                &w,
                Table::Purchase,
                d,
                vec![
                    ts(pu.iter().map(|r| r.0)),
                    ids(pu.iter().map(|r| r.1)),
                    ids(pu.iter().map(|r| r.2)),
                    ids(pu.iter().map(|r| r.3)),
                    Arc::new(Float64Array::from(vec![Some(10.0); pu.len()])),
                    Arc::new(Int32Array::from(vec![Some(1); pu.len()])),
                ],
            );
            d = d.succ_opt().unwrap();
        }
    }
}

fn ids(v: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(v))
}
fn ts(v: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter_values(v).with_timezone("UTC"))
}
fn text(v: impl Iterator<Item = &'static str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}

/// The file format of one written log partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Parquet,
    /// Header row; columns that are null throughout left out; timestamps alternate
    /// between RFC 3339 (`Z`) and integer microseconds.
    Csv,
    /// One object per line, null keys left out; timestamps alternate between RFC 3339
    /// with a +08:00 offset and integer microseconds; IDs between numbers and strings.
    NdJson,
    /// The partition's rows dealt round-robin into a Parquet, a CSV and an NDJSON file.
    Mixed,
}

pub fn write_file(w: &Warehouse, table: Table, d: NaiveDate, columns: Vec<ArrayRef>, f: LogFormat) {
    let dir = w.log_dir(table, d);
    std::fs::create_dir_all(&dir).unwrap();
    let batch = RecordBatch::try_new(table.spec().arrow_schema(), columns).unwrap();
    match f {
        LogFormat::Parquet => write_parquet(&dir.join("part-0.parquet"), &batch),
        LogFormat::Csv => std::fs::write(dir.join("part-0.csv"), csv_text(&batch)).unwrap(),
        LogFormat::NdJson => {
            std::fs::write(dir.join("part-0.ndjson"), ndjson_text(&batch)).unwrap()
        }
        LogFormat::Mixed => {
            let pick = |k: usize| {
                let rows: Vec<u32> = (0..batch.num_rows() as u32)
                    .filter(|r| *r as usize % 3 == k)
                    .collect();
                let rows = arrow::array::UInt32Array::from(rows);
                arrow::compute::take_record_batch(&batch, &rows).unwrap()
            };
            write_parquet(&dir.join("part-0.parquet"), &pick(0));
            std::fs::write(dir.join("part-1.csv"), csv_text(&pick(1))).unwrap();
            std::fs::write(dir.join("part-2.jsonl"), ndjson_text(&pick(2))).unwrap();
        }
    }
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// One cell as text (`None`: null); `row` picks the alternating encodings.
fn cell(array: &dyn arrow::array::Array, row: usize, offset: bool) -> Option<String> {
    use arrow::datatypes::{DataType, Float64Type, Int32Type, TimestampMicrosecondType};
    if array.is_null(row) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Float64 => array.as_primitive::<Float64Type>().value(row).to_string(),
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::Timestamp(..) => {
            let us = array.as_primitive::<TimestampMicrosecondType>().value(row);
            if row % 2 == 1 {
                us.to_string()
            } else {
                let t = chrono::DateTime::from_timestamp_micros(us).unwrap();
                let zone = chrono::FixedOffset::east_opt(if offset { 8 * 3600 } else { 0 });
                t.with_timezone(&zone.unwrap())
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, !offset)
            }
        }
        other => panic!("no text form for {other}"),
    })
}

/// `batch` as CSV text with a header row, all-null columns left out.
pub fn csv_text(batch: &RecordBatch) -> String {
    let keep: Vec<usize> = (0..batch.num_columns())
        .filter(|&i| batch.num_rows() == 0 || batch.column(i).null_count() < batch.num_rows())
        .collect();
    let schema = batch.schema();
    let names: Vec<&str> = keep
        .iter()
        .map(|&i| schema.field(i).name().as_str())
        .collect();
    let mut out = names.join(",") + "\n";
    for row in 0..batch.num_rows() {
        let cells: Vec<String> = keep
            .iter()
            .map(|&i| cell(batch.column(i).as_ref(), row, false).unwrap_or_default())
            .collect();
        out += &(cells.join(",") + "\n");
    }
    out
}

/// `batch` as NDJSON, null keys left out.
pub fn ndjson_text(batch: &RecordBatch) -> String {
    let schema = batch.schema();
    let mut out = String::new();
    for row in 0..batch.num_rows() {
        let mut object = serde_json::Map::new();
        for (i, field) in schema.fields().iter().enumerate() {
            let column = batch.column(i);
            let Some(text) = cell(column.as_ref(), row, true) else {
                continue;
            };
            let value = match column.data_type() {
                arrow::datatypes::DataType::Int64 if row % 2 == 1 => serde_json::json!(text),
                arrow::datatypes::DataType::Utf8 => serde_json::json!(text),
                arrow::datatypes::DataType::Timestamp(..) if row % 2 == 0 => {
                    serde_json::json!(text)
                }
                _ => serde_json::from_str(&text).unwrap(),
            };
            object.insert(field.name().clone(), value);
        }
        out += &(serde_json::Value::Object(object).to_string() + "\n");
    }
    out
}

/// Builds `dt` with `calibration` and returns the sample partition's rows.
pub fn build(root: &Path, dt: NaiveDate, calibration: Calibration) -> Vec<RecordBatch> {
    let cfg = BuildConfig {
        calibration,
        ..BuildConfig::default()
    };
    build_with(root, dt, cfg, BuildOptions::default())
}

pub fn build_with(
    root: &Path,
    dt: NaiveDate,
    cfg: BuildConfig,
    opts: BuildOptions,
) -> Vec<RecordBatch> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let builder = Builder::new(root, cfg, opts);
    let report = rt.block_on(builder.build(dt, &NoProgress)).unwrap();
    read_dir(&report.partition)
}

pub fn read_dir(dir: &Path) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .collect();
    files.sort();
    for f in files {
        let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        out.extend(r.map(|b| b.unwrap()));
    }
    out
}

pub const LABELS: [&str; 8] = [
    "click",
    "dmi",
    "cart",
    "wish",
    "dma",
    "purchase",
    "cart_cal",
    "cart_global_cal",
];

/// exposure_id → "click dmi cart wish dma purchase cart_cal cart_global_cal psc_case",
/// the shape of the spec's table.
pub fn label_rows(batches: &[RecordBatch]) -> BTreeMap<i64, String> {
    let mut out = BTreeMap::new();
    for b in batches {
        let ids = b
            .column_by_name("exposure_id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let psc = b.column_by_name("psc_case").unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            let mut cells: Vec<String> = LABELS
                .iter()
                .map(|l| {
                    b.column_by_name(l)
                        .unwrap()
                        .as_primitive::<Int8Type>()
                        .value(i)
                        .to_string()
                })
                .collect();
            cells.push(psc.value(i).to_string());
            out.insert(ids.value(i), cells.join(" "));
        }
    }
    out
}

/// The reference fixture of docs/labels.md: one user per rule. Exposure ids: 1 = e1, 2 = e2, 31 = e3a, 32 = e3b,
/// 4 = e4, 7 = e7, 9 = e9; 70 is e7's search exposure (not a sample).
pub fn reference_logs() -> Logs {
    let mut l = Logs::default();
    // e1: click, picture, cart (rec), buy, one visit
    l.expose(1, "2026-11-02 10:00", 1, 100, "rec");
    l.click("2026-11-02 10:00:05", 1, 100, Some(1));
    l.micro("2026-11-02 10:01", 1, 100, "picture");
    l.cart("2026-11-02 10:02", 1, 100, "rec");
    l.buy("2026-11-02 10:05", 1, 100);
    // e2: click, cart; buys the next morning
    l.expose(2, "2026-11-02 10:00", 2, 200, "rec");
    l.click("2026-11-02 10:00:05", 2, 200, Some(2));
    l.cart("2026-11-02 10:02", 2, 200, "rec");
    l.buy("2026-11-03 09:00", 2, 200);
    // e3a: 08:00 click, cart (rec); e3b: 12:00 same item re-exposed, click, buy
    l.expose(31, "2026-11-02 08:00", 3, 300, "rec");
    l.click("2026-11-02 08:00:05", 3, 300, Some(31));
    l.cart("2026-11-02 08:02", 3, 300, "rec");
    l.expose(32, "2026-11-02 12:00", 3, 300, "rec");
    l.click("2026-11-02 12:00:05", 3, 300, Some(32));
    l.buy("2026-11-02 12:03", 3, 300);
    // e4: click, wish, buy
    l.expose(4, "2026-11-02 10:00", 4, 400, "rec");
    l.click("2026-11-02 10:00:05", 4, 400, Some(4));
    l.wish("2026-11-02 10:01", 4, 400, "rec");
    l.buy("2026-11-02 10:03", 4, 400);
    // e7: rec click at 10:00; 15:00 search click, search-domain cart, buy
    l.expose(7, "2026-11-02 10:00", 7, 700, "rec");
    l.click("2026-11-02 10:00:05", 7, 700, Some(7));
    l.expose(70, "2026-11-02 15:00", 7, 700, "search");
    l.click("2026-11-02 15:00:05", 7, 700, Some(70));
    l.cart("2026-11-02 15:01", 7, 700, "search");
    l.buy("2026-11-02 15:03", 7, 700);
    // e9: click; buys 3 days and 1 minute later (outside the 3-day window)
    l.expose(9, "2026-11-02 10:00", 9, 900, "rec");
    l.click("2026-11-02 10:00:05", 9, 900, Some(9));
    l.buy("2026-11-05 10:01", 9, 900);
    l
}
