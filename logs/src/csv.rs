//! CSV log files: comma-separated with a header row naming the columns; the contract's
//! columns are read as text, in header order, extra columns skipped.

use crate::TextFileError;
use crate::error::text_err;
use crate::stream::TextFile;
use arrow::array::{AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::csv::ReaderBuilder as CsvReaderBuilder;
use std::sync::Arc;

impl TextFile {
    /// Reads a CSV file whose header is `header`, handing each canonical batch of
    /// `batch_size` rows to `emit` until it returns false.
    pub(crate) fn read_csv(
        &self,
        header: &[String],
        batch_size: usize,
        emit: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<(), TextFileError> {
        let text = Schema::new(
            header
                .iter()
                .map(|n| Field::new(n, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        );
        // Read the contract's columns only, in header order; extra columns are skipped.
        let spec = self.table.spec();
        let projection: Vec<usize> = (0..header.len())
            .filter(|&i| spec.column(&header[i]).is_some())
            .collect();
        let reader = CsvReaderBuilder::new(Arc::new(text))
            .with_header(true)
            .with_batch_size(batch_size)
            .with_projection(projection.clone())
            .build(self.open()?)
            .map_err(|e| text_err(&self.path, None, e))?;
        let slot: Vec<Option<usize>> = spec
            .columns
            .iter()
            .map(|c| projection.iter().position(|&i| header[i] == c.name))
            .collect();
        for batch in reader {
            let batch = batch.map_err(|e| text_err(&self.path, None, e))?;
            let raw: Vec<Option<&StringArray>> = slot
                .iter()
                .map(|s| s.map(|s| batch.column(s).as_string::<i32>()))
                .collect();
            if !emit(self.canonical(&raw, batch.num_rows())?) {
                break;
            }
        }
        Ok(())
    }
}
