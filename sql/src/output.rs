//! Result formats of `esmc sql`: an aligned table, CSV, JSON lines or Parquet.
//!
//! ```text
//!  batches ─> ResultWriter::write ─┬─ table:   buffered, drawn at finish with a row count
//!                                  ├─ csv:     header (also when empty) + rows, streamed
//!                                  ├─ json:    one object per row (nulls written), streamed
//!                                  └─ parquet: zstd, streamed into the sink (a file)
//! ```

use crate::error::{Result, SqlError};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::arrow::csv;
use datafusion::arrow::json::{self, writer::LineDelimited};
use datafusion::arrow::util::pretty::pretty_format_batches_with_schema;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fmt;
use std::io::Write;
use std::str::FromStr;

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text table with a row count (the default).
    Table,
    /// CSV with a header line.
    Csv,
    /// JSON lines: one object per row.
    Json,
    /// A Parquet file.
    Parquet,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::Table, Format::Csv, Format::Json, Format::Parquet];

    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Parquet => "parquet",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown format `{s}` (formats: table, csv, json, parquet)"))
    }
}

enum Inner<W: Write + Send> {
    Table(W, Vec<RecordBatch>),
    Csv(Box<csv::Writer<W>>),
    Json(json::Writer<W, LineDelimited>),
    Parquet(Box<ArrowWriter<W>>),
}

/// Writes the batches of one result in one format.
pub struct ResultWriter<W: Write + Send> {
    schema: SchemaRef,
    inner: Inner<W>,
    rows: usize,
    batches: usize,
}

impl<W: Write + Send> ResultWriter<W> {
    pub fn new(format: Format, sink: W, schema: SchemaRef) -> Result<Self> {
        let inner = match format {
            Format::Table => Inner::Table(sink, Vec::new()),
            Format::Csv => Inner::Csv(Box::new(
                csv::WriterBuilder::new().with_header(true).build(sink),
            )),
            Format::Json => Inner::Json(
                json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build::<_, LineDelimited>(sink),
            ),
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid")))
                    .build();
                let w = ArrowWriter::try_new(sink, schema.clone(), Some(props))
                    .map_err(|e| SqlError::Output(e.to_string()))?;
                Inner::Parquet(Box::new(w))
            }
        };
        Ok(ResultWriter {
            schema,
            inner,
            rows: 0,
            batches: 0,
        })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows();
        self.batches += 1;
        match &mut self.inner {
            Inner::Table(_, batches) => batches.push(batch.clone()),
            Inner::Csv(w) => w.write(batch)?,
            Inner::Json(w) => w.write(batch)?,
            Inner::Parquet(w) => w
                .write(batch)
                .map_err(|e| SqlError::Output(e.to_string()))?,
        }
        Ok(())
    }

    /// Flushes everything; returns the rows written.
    pub fn finish(self) -> Result<usize> {
        let out = |e: std::io::Error| SqlError::Output(e.to_string());
        match self.inner {
            Inner::Table(mut sink, batches) => {
                let table = pretty_format_batches_with_schema(self.schema, &batches)?;
                let noun = if self.rows == 1 { "row" } else { "rows" };
                writeln!(sink, "{table}\n{} {noun}", self.rows).map_err(out)?;
                sink.flush().map_err(out)?;
            }
            Inner::Csv(mut w) => {
                if self.batches == 0 {
                    // the header alone: an empty result still names its columns
                    w.write(&RecordBatch::new_empty(self.schema))?;
                }
                w.into_inner().flush().map_err(out)?
            }
            Inner::Json(mut w) => {
                w.finish()?;
                w.into_inner().flush().map_err(out)?;
            }
            Inner::Parquet(w) => {
                w.close().map_err(|e| SqlError::Output(e.to_string()))?;
            }
        }
        Ok(self.rows)
    }
}

/// All of `batches` in `format`, as bytes.
pub fn to_bytes(format: Format, schema: SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut w = ResultWriter::new(format, &mut buf, schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    Ok(buf)
}
