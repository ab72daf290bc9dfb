//! The `model_metrics` table: every training run's metrics history
//! (`models/<run>/metrics.parquet`, one row per trained day, written by the trainer) in
//! one table. Runs may differ in their metric columns (a run on samples without simulator
//! truth has no `oracle_*` columns): the table has the union of the columns, null where a
//! run lacks one. No run yet: an empty table with the fixed leading columns.

use crate::error::{Result, SqlError};
use arrow::array::{RecordBatch, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;
use std::sync::Arc;

/// Reads every `models/*/metrics.parquet` under `root` into batches of one schema.
pub fn read(root: &Path) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let mut batches = Vec::new();
    let dir = root.join("models");
    let mut runs: Vec<_> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("metrics.parquet"))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    runs.sort();
    for path in &runs {
        let file = std::fs::File::open(path).map_err(|e| SqlError::io(path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| SqlError::io(path, std::io::Error::other(e)))?;
        for b in reader {
            batches.push(b.map_err(|e| SqlError::io(path, std::io::Error::other(e)))?);
        }
    }
    if batches.is_empty() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("run", DataType::Utf8, true),
            Field::new("model", DataType::Utf8, true),
            Field::new("dt", DataType::Date32, true),
        ]));
        return Ok((schema, Vec::new()));
    }
    // the union of the columns, in order of first appearance
    let mut fields: Vec<Field> = Vec::new();
    for b in &batches {
        for f in b.schema().fields() {
            if !fields.iter().any(|g| g.name() == f.name()) {
                fields.push(f.as_ref().clone().with_nullable(true));
            }
        }
    }
    let schema = Arc::new(Schema::new(fields));
    let unified = batches
        .iter()
        .map(|b| {
            let cols = schema
                .fields()
                .iter()
                .map(|f| match b.column_by_name(f.name()) {
                    Some(c) => c.clone(),
                    None => new_null_array(f.data_type(), b.num_rows()),
                })
                .collect();
            RecordBatch::try_new(schema.clone(), cols)
                .map_err(|e| SqlError::io(&dir, std::io::Error::other(e)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((schema, unified))
}
