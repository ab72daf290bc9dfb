//! One CSV or NDJSON log file as a DataFusion partition stream of canonical batches.
//!
//! ```text
//!  part-0.csv     ──header row───┐
//!  part-0.ndjson  ──first object─┴─> contract check (required column missing → error)
//!        │ one PartitionStream per file, read on a blocking thread, batch by batch
//!        v
//!  text values ──parse per column kind──> canonical columns + dt + parse_error
//!        (unparseable value → null + "unparseable <column>": quarantined by the
//!         builder's clean.sql; an ID always parses: esmc_schemas::id_from_str)
//! ```
//!
//! Structure errors (a CSV line with the wrong number of fields, an NDJSON line that is
//! not a JSON object) fail the file with its path and line; value errors only reject
//! their row.

use crate::error::text_err;
use crate::parse::parse_column;
use crate::schema::{check_columns, declared_columns, schema_message};
use crate::{Format, LogError, TextFileError, read_schema};
use arrow::array::{ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::streaming::PartitionStream;
use esmc_schemas::Table;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;

/// One CSV or NDJSON log file of `table`'s partition `day` as a DataFusion partition
/// stream of [`read_schema`] batches (`dt` = `day`). Nothing is opened until the stream
/// is executed; then the file is read on a blocking thread, batch by batch (the session's
/// batch size), after its header is checked against the contract. Read errors reach the
/// consumer as a [`DataFusionError::External`] wrapping a [`TextFileError`] that names
/// the file (and line). `format` must be [`Format::Csv`] or [`Format::NdJson`]: Parquet
/// files are the engine's to read ([`LogError::Internal`] otherwise).
pub fn text_stream(
    table: Table,
    path: PathBuf,
    format: Format,
    day: NaiveDate,
) -> Result<Arc<dyn PartitionStream>, LogError> {
    if format == Format::Parquet {
        return Err(LogError::Internal(format!(
            "{}: a Parquet file given to the CSV/NDJSON reader",
            path.display()
        )));
    }
    Ok(Arc::new(TextFile {
        table,
        path,
        format,
        dt: day.to_string(),
        schema: read_schema(table),
    }))
}

/// One CSV or NDJSON file as a stream of canonical batches.
#[derive(Debug, Clone)]
pub(crate) struct TextFile {
    pub(crate) table: Table,
    pub(crate) path: PathBuf,
    pub(crate) format: Format,
    pub(crate) dt: String,
    pub(crate) schema: SchemaRef,
}

impl PartitionStream for TextFile {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let batch_size = ctx.session_config().batch_size();
        let mut builder = RecordBatchReceiverStreamBuilder::new(self.schema.clone(), 2);
        let tx = builder.tx();
        let file = self.clone();
        builder.spawn_blocking(move || {
            file.read(batch_size, &mut |b| tx.blocking_send(Ok(b)).is_ok())
                .map_err(|e| DataFusionError::External(Box::new(e)))
        });
        builder.build()
    }
}

impl TextFile {
    /// Reads the file, handing each canonical batch to `emit` until it returns false
    /// (the consumer is gone).
    pub(crate) fn read(
        &self,
        batch_size: usize,
        emit: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<(), TextFileError> {
        // Files outside the checked window (an old dimension snapshot) are checked here.
        let columns = declared_columns(&self.path, self.format)?;
        if let Some(columns) = &columns {
            check_columns(self.table, &self.path, columns)
                .map_err(|e| text_err(&self.path, None, schema_message(e)))?;
        }
        match self.format {
            Format::Csv => self.read_csv(&columns.unwrap_or_default(), batch_size, emit),
            Format::NdJson => self.read_ndjson(batch_size, emit),
            Format::Parquet => unreachable!("Parquet files are read by the engine"),
        }
    }

    pub(crate) fn open(&self) -> Result<BufReader<std::fs::File>, TextFileError> {
        let file = std::fs::File::open(&self.path).map_err(|e| text_err(&self.path, None, e))?;
        Ok(BufReader::new(file))
    }

    /// Parses one batch of text columns (`raw`, in contract order; `None` = absent) into
    /// the canonical schema with `dt` and `parse_error`.
    pub(crate) fn canonical(
        &self,
        raw: &[Option<&StringArray>],
        rows: usize,
    ) -> Result<RecordBatch, TextFileError> {
        let mut errors: Vec<Option<&'static str>> = vec![None; rows];
        let mut columns: Vec<ArrayRef> = self
            .table
            .spec()
            .columns
            .iter()
            .zip(raw)
            .map(|(c, r)| match r {
                None => new_null_array(&c.kind.canonical_type(), rows),
                Some(text) => parse_column(c, text, &mut errors),
            })
            .collect();
        columns.push(Arc::new(StringArray::from(vec![self.dt.as_str(); rows])));
        columns.push(Arc::new(StringArray::from_iter(
            errors
                .iter()
                .map(|e| e.map(|name| format!("unparseable {name}"))),
        )));
        RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| text_err(&self.path, None, format!("internal: {e}")))
    }
}
