//! Parquet output of the importers: a table's rows pushed cell by cell into Arrow
//! builders, flushed as record batches into one file that is only created on the first
//! row (a day without rows of a table gets no partition).
//!
//! ```text
//!  push(&[Cell]) -> column builders --(every BATCH_ROWS)--> ArrowWriter -> <dir>/<file>
//! ```
//! The files are written inside the import's private staging directory, so they need no
//! temporary name of their own: the whole staging tree is renamed into place at the end.

use anyhow::{Context, Result, bail};
use arrow::array::{
    ArrayBuilder, ArrayRef, Float64Builder, Int8Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::PathBuf;

/// Rows buffered in the builders before a record batch goes to the writer.
const BATCH_ROWS: usize = 32 * 1024;
/// Rows per Parquet row group: small enough that dozens of open writers (one per table
/// and day) stay within a few hundred MiB together.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// One value of a row, in the schema's column order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    I(i64),
    S(&'a str),
    Null,
}

enum Col {
    I64(Int64Builder),
    Ts(TimestampMicrosecondBuilder),
    I32(Int32Builder),
    I8(Int8Builder),
    F64(Float64Builder),
    Str(StringBuilder),
}

impl Col {
    fn new(dt: &DataType) -> Result<Col> {
        Ok(match dt {
            DataType::Int64 => Col::I64(Int64Builder::new()),
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                Col::Ts(TimestampMicrosecondBuilder::new().with_timezone_opt(tz.clone()))
            }
            DataType::Int32 => Col::I32(Int32Builder::new()),
            DataType::Int8 => Col::I8(Int8Builder::new()),
            DataType::Float64 => Col::F64(Float64Builder::new()),
            DataType::Utf8 => Col::Str(StringBuilder::new()),
            other => bail!("importer cannot write a {other} column"),
        })
    }

    fn push(&mut self, cell: Cell<'_>) {
        match (self, cell) {
            (Col::I64(b), Cell::I(v)) => b.append_value(v),
            (Col::Ts(b), Cell::I(v)) => b.append_value(v),
            (Col::I32(b), Cell::I(v)) => b.append_value(v as i32),
            (Col::I8(b), Cell::I(v)) => b.append_value(v as i8),
            (Col::Str(b), Cell::S(v)) => b.append_value(v),
            (Col::I64(b), Cell::Null) => b.append_null(),
            (Col::Ts(b), Cell::Null) => b.append_null(),
            (Col::I32(b), Cell::Null) => b.append_null(),
            (Col::I8(b), Cell::Null) => b.append_null(),
            (Col::F64(b), Cell::Null) => b.append_null(),
            (Col::Str(b), Cell::Null) => b.append_null(),
            (_, cell) => unreachable!("cell {cell:?} does not fit its column"),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::I64(b) => ArrayBuilder::finish(b),
            Col::Ts(b) => ArrayBuilder::finish(b),
            Col::I32(b) => ArrayBuilder::finish(b),
            Col::I8(b) => ArrayBuilder::finish(b),
            Col::F64(b) => ArrayBuilder::finish(b),
            Col::Str(b) => ArrayBuilder::finish(b),
        }
    }
}

/// Parquet settings of every file the importers write.
fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build()
}

/// One Parquet file of one table (and day), opened on its first row.
pub struct TableWriter {
    schema: SchemaRef,
    path: PathBuf,
    cols: Vec<Col>,
    len: usize,
    writer: Option<ArrowWriter<File>>,
    /// Rows pushed so far.
    pub rows: u64,
}

impl TableWriter {
    pub fn new(schema: SchemaRef, path: PathBuf) -> Result<Self> {
        let cols = schema
            .fields()
            .iter()
            .map(|f| Col::new(f.data_type()))
            .collect::<Result<_>>()?;
        Ok(TableWriter {
            schema,
            path,
            cols,
            len: 0,
            writer: None,
            rows: 0,
        })
    }

    pub fn push(&mut self, row: &[Cell<'_>]) -> Result<()> {
        debug_assert_eq!(row.len(), self.cols.len());
        for (col, &cell) in self.cols.iter_mut().zip(row) {
            col.push(cell);
        }
        self.len += 1;
        self.rows += 1;
        if self.len >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        if self.writer.is_none() {
            let dir = self.path.parent().expect("a file inside a partition");
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let file = File::create(&self.path)
                .with_context(|| format!("cannot create {}", self.path.display()))?;
            self.writer = Some(ArrowWriter::try_new(
                file,
                self.schema.clone(),
                Some(properties()),
            )?);
        }
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Col::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), arrays)?;
        let writer = self.writer.as_mut().expect("opened above");
        writer
            .write(&batch)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.len = 0;
        Ok(())
    }

    /// Writes the last batch and the footer; returns the rows written (0: no file).
    pub fn finish(mut self) -> Result<u64> {
        self.flush()?;
        if let Some(w) = self.writer.take() {
            w.close()
                .with_context(|| format!("closing {}", self.path.display()))?;
        }
        Ok(self.rows)
    }
}
