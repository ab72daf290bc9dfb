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
        let w = Warehouse::new(root);
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

fn write(w: &Warehouse, table: Table, d: NaiveDate, columns: Vec<ArrayRef>) {
    let dir = w.log_dir(table, d);
    std::fs::create_dir_all(&dir).unwrap();
    let batch = RecordBatch::try_new(table.spec().arrow_schema(), columns).unwrap();
    let file = std::fs::File::create(dir.join("part-0.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
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
