//! Where a shard's events go: one buffered Parquet writer per (table, day), with the
//! messiness switches applied on the way in.
//!
//! ```text
//!  behaviour ──emit(table, row)──> messiness (duplicate / late / malformed copy)
//!                                     │ route by the UTC day of the event time
//!                                     v
//!              logs/<table>/dt=D/.part-SSSSS.parquet.tmp  ──finish──> part-SSSSS.parquet
//! ```
//! Rows are buffered column-wise and flushed as record batches of `BATCH_ROWS`; a file
//! appears under its final name only once complete.

use crate::config::{IdType, SimConfig};
use crate::rng::Rng;
use crate::world::stream;
use crate::{SimError, TableCounts};
use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use esmc_schemas::{ColumnKind, Table, Warehouse};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

const BATCH_ROWS: usize = 64 * 1024;
pub(crate) const DAY_US: i64 = 86_400_000_000;

/// One cell of an emitted row, in the table's contract column order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Val {
    I(i64),
    F(f64),
    S(&'static str),
    Null,
}

enum ColBuf {
    I64(Vec<Option<i64>>),
    I32(Vec<Option<i32>>),
    F64(Vec<Option<f64>>),
    Str(Vec<Option<&'static str>>),
}

impl ColBuf {
    fn new(kind: ColumnKind) -> Self {
        match kind {
            ColumnKind::Id | ColumnKind::Timestamp => ColBuf::I64(Vec::new()),
            ColumnKind::Int32 | ColumnKind::Label => ColBuf::I32(Vec::new()),
            ColumnKind::Float64 => ColBuf::F64(Vec::new()),
            ColumnKind::Text => ColBuf::Str(Vec::new()),
        }
    }

    fn push(&mut self, v: Val) {
        match (self, v) {
            (ColBuf::I64(c), Val::I(x)) => c.push(Some(x)),
            (ColBuf::I32(c), Val::I(x)) => c.push(Some(x as i32)),
            (ColBuf::F64(c), Val::F(x)) => c.push(Some(x)),
            (ColBuf::Str(c), Val::S(x)) => c.push(Some(x)),
            (ColBuf::I64(c), Val::Null) => c.push(None),
            (ColBuf::I32(c), Val::Null) => c.push(None),
            (ColBuf::F64(c), Val::Null) => c.push(None),
            (ColBuf::Str(c), Val::Null) => c.push(None),
            (_, v) => unreachable!("value {v:?} does not fit its column"),
        }
    }

    fn take(&mut self, kind: ColumnKind, ids: IdType) -> ArrayRef {
        match self {
            ColBuf::I64(c) => {
                let values = std::mem::take(c);
                match kind {
                    ColumnKind::Timestamp => {
                        Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
                    }
                    _ if ids == IdType::String => Arc::new(StringArray::from_iter(
                        values.into_iter().map(|v| v.map(|x| x.to_string())),
                    )),
                    _ => Arc::new(Int64Array::from(values)),
                }
            }
            ColBuf::I32(c) => Arc::new(Int32Array::from(std::mem::take(c))),
            ColBuf::F64(c) => Arc::new(Float64Array::from(std::mem::take(c))),
            ColBuf::Str(c) => Arc::new(StringArray::from(std::mem::take(c))),
        }
    }
}

/// The schema a simulated file has: the contract's canonical schema, with string IDs if
/// asked, and every column nullable when malformed rows (null user ids) are written.
pub(crate) fn file_schema(table: Table, cfg: &SimConfig) -> SchemaRef {
    let spec = table.spec();
    let relaxed = cfg.messiness.malformed_rate > 0.0;
    let fields: Vec<Field> = spec
        .columns
        .iter()
        .map(|c| {
            let mut f = c.field();
            if c.kind == ColumnKind::Id && cfg.id_type == IdType::String {
                f = f.with_data_type(DataType::Utf8);
            }
            if relaxed {
                f = f.with_nullable(true);
            }
            f
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Parquet settings for every file esmc's simulator writes.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(1 << 20))
        .build()
}

/// A Parquet file being written under a temporary name.
pub(crate) struct PartWriter {
    kinds: Vec<ColumnKind>,
    ids: IdType,
    schema: SchemaRef,
    cols: Vec<ColBuf>,
    len: usize,
    writer: ArrowWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    pub(crate) rows: u64,
}

impl PartWriter {
    pub(crate) fn create(
        dir: PathBuf,
        file: &str,
        table: Table,
        cfg: &SimConfig,
    ) -> Result<Self, SimError> {
        std::fs::create_dir_all(&dir).map_err(|e| SimError::io(&dir, e))?;
        let path = dir.join(file);
        let tmp = dir.join(format!(".{file}.tmp"));
        let schema = file_schema(table, cfg);
        let out = File::create(&tmp).map_err(|e| SimError::io(&tmp, e))?;
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(writer_properties()))
            .map_err(|e| SimError::parquet(&tmp, e))?;
        let kinds: Vec<ColumnKind> = table.spec().columns.iter().map(|c| c.kind).collect();
        Ok(PartWriter {
            cols: kinds.iter().map(|&k| ColBuf::new(k)).collect(),
            kinds,
            ids: cfg.id_type,
            schema,
            len: 0,
            writer,
            tmp,
            path,
            rows: 0,
        })
    }

    pub(crate) fn push(&mut self, row: &[Val]) -> Result<(), SimError> {
        debug_assert_eq!(row.len(), self.cols.len());
        for (col, &v) in self.cols.iter_mut().zip(row) {
            col.push(v);
        }
        self.len += 1;
        self.rows += 1;
        if self.len >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SimError> {
        if self.len == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .cols
            .iter_mut()
            .zip(&self.kinds)
            .map(|(c, &k)| c.take(k, self.ids))
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)
            .map_err(|e| SimError::Internal(format!("batch for {}: {e}", self.tmp.display())))?;
        self.writer
            .write(&batch)
            .map_err(|e| SimError::parquet(&self.tmp, e))?;
        self.len = 0;
        Ok(())
    }

    /// Writes the footer and moves the file to its final name.
    pub(crate) fn finish(mut self) -> Result<u64, SimError> {
        self.flush()?;
        self.writer
            .close()
            .map_err(|e| SimError::parquet(&self.tmp, e))?;
        std::fs::rename(&self.tmp, &self.path).map_err(|e| SimError::io(&self.path, e))?;
        Ok(self.rows)
    }
}

/// Messiness counters of one shard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MessCounts {
    pub duplicates: u64,
    pub late: u64,
    pub malformed: u64,
    pub missing_exposure_id: u64,
}

/// A shard's writers for every event table and day.
pub(crate) struct ShardSink<'a> {
    cfg: &'a SimConfig,
    start_us: i64,
    /// writers[table][day], event tables only (indexed by `Table as usize`).
    writers: Vec<Vec<PartWriter>>,
    rng: Rng,
    pub(crate) mess: MessCounts,
    ts_col: [usize; 6],
    user_col: [usize; 6],
}

pub(crate) const EVENT_TABLES: [Table; 6] = Table::EVENTS;

fn event_index(table: Table) -> usize {
    EVENT_TABLES
        .iter()
        .position(|&t| t == table)
        .expect("an event table")
}

pub(crate) fn part_name(shard: u32) -> String {
    format!("part-{shard:05}.parquet")
}

impl<'a> ShardSink<'a> {
    pub(crate) fn new(
        cfg: &'a SimConfig,
        warehouse: &Warehouse,
        shard: u32,
    ) -> Result<Self, SimError> {
        let mut writers = Vec::with_capacity(EVENT_TABLES.len());
        for table in EVENT_TABLES {
            let mut per_day = Vec::with_capacity(cfg.days as usize);
            for d in 0..cfg.days {
                let day = cfg.start + chrono::Days::new(d as u64);
                per_day.push(PartWriter::create(
                    warehouse.log_dir(table, day),
                    &part_name(shard),
                    table,
                    cfg,
                )?);
            }
            writers.push(per_day);
        }
        let position = |t: Table, name: &str| {
            t.spec()
                .columns
                .iter()
                .position(|c| c.name == name)
                .expect("contract column")
        };
        Ok(ShardSink {
            cfg,
            start_us: start_us(cfg),
            writers,
            rng: Rng::new(cfg.seed, &[stream::MESS, shard as u64]),
            mess: MessCounts::default(),
            ts_col: EVENT_TABLES.map(|t| position(t, "ts")),
            user_col: EVENT_TABLES.map(|t| position(t, "user_id")),
        })
    }

    /// Day index of a timestamp, if inside the simulated range.
    fn day_of(&self, ts: i64) -> Option<usize> {
        let d = (ts - self.start_us).div_euclid(DAY_US);
        (0..self.cfg.days as i64).contains(&d).then_some(d as usize)
    }

    /// Writes one event row (applying the messiness switches) and says whether it was
    /// written: events after the last simulated day are dropped, the world ends there.
    pub(crate) fn emit(&mut self, table: Table, row: &[Val]) -> Result<bool, SimError> {
        let t = event_index(table);
        let Val::I(ts) = row[self.ts_col[t]] else {
            unreachable!("event rows carry a timestamp")
        };
        let Some(mut day) = self.day_of(ts) else {
            return Ok(false);
        };
        let m = self.cfg.messiness;
        if m.late_rate > 0.0 && self.rng.bernoulli(m.late_rate) && day + 1 < self.cfg.days as usize
        {
            day += 1;
            self.mess.late += 1;
        }
        self.writers[t][day].push(row)?;
        if m.duplicate_rate > 0.0 && self.rng.bernoulli(m.duplicate_rate) {
            self.writers[t][day].push(row)?;
            self.mess.duplicates += 1;
        }
        if m.malformed_rate > 0.0 && self.rng.bernoulli(m.malformed_rate) {
            let mut bad: Vec<Val> = row.to_vec();
            let amount = (table == Table::Purchase).then_some(4);
            match (self.rng.index(3), amount) {
                (0, Some(a)) => bad[a] = Val::F(-1.0),
                (0 | 1, _) => bad[self.user_col[t]] = Val::Null,
                _ => bad[self.ts_col[t]] = Val::I(ts - 5 * DAY_US),
            }
            self.writers[t][day].push(&bad)?;
            self.mess.malformed += 1;
        }
        Ok(true)
    }

    /// Closes every file; returns rows written per (table, day).
    pub(crate) fn finish(self) -> Result<(Vec<TableCounts>, MessCounts), SimError> {
        let mut counts = Vec::new();
        for (t, per_day) in self.writers.into_iter().enumerate() {
            for (d, w) in per_day.into_iter().enumerate() {
                let rows = w.finish()?;
                counts.push(TableCounts {
                    table: EVENT_TABLES[t].name(),
                    day: d as u32,
                    rows,
                });
            }
        }
        Ok((counts, self.mess))
    }
}

/// Microseconds since the epoch of the first simulated midnight.
pub(crate) fn start_us(cfg: &SimConfig) -> i64 {
    cfg.start
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros()
}
