//! The contract check of CSV and NDJSON files (the columns they declare: the CSV
//! header, the first NDJSON object's keys) and the schema a raw table is read in.

use crate::error::text_err;
use crate::ndjson::parse_object;
use crate::{Format, LogError, TextFileError};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::csv::reader::Format as CsvFormat;
use esmc_schemas::{Table, validate_schema};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

/// The schema of a raw table as the builder reads it: the contract's columns in canonical
/// types, all nullable, then the partition `dt` (`Utf8`, not null) and `parse_error` (the
/// first column whose text could not be parsed, as `unparseable <column>`; always null
/// for Parquet). The batches of [`crate::text_stream`] have exactly this schema.
pub fn read_schema(table: Table) -> SchemaRef {
    let mut fields = table.spec().nullable_fields();
    fields.push(Field::new("dt", DataType::Utf8, false));
    fields.push(Field::new("parse_error", DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// The columns a text file declares: the CSV header, or the keys of the first NDJSON
/// object (`None`: an NDJSON file without objects, an empty table).
pub(crate) fn declared_columns(
    path: &Path,
    format: Format,
) -> Result<Option<Vec<String>>, TextFileError> {
    let file = std::fs::File::open(path).map_err(|e| text_err(path, None, e))?;
    match format {
        Format::Csv => {
            let (schema, _) = CsvFormat::default()
                .with_header(true)
                .infer_schema(BufReader::new(file), Some(0))
                .map_err(|e| text_err(path, Some(1), e))?;
            if schema.fields().is_empty() {
                return Err(text_err(
                    path,
                    None,
                    "empty file: a CSV log needs a header row",
                ));
            }
            Ok(Some(
                schema.fields().iter().map(|f| f.name().clone()).collect(),
            ))
        }
        Format::NdJson => {
            for (i, line) in BufReader::new(file).lines().enumerate() {
                let line = line.map_err(|e| text_err(path, Some(i as u64 + 1), e))?;
                if !line.trim().is_empty() {
                    let object = parse_object(path, i, &line)?;
                    return Ok(Some(object.keys().cloned().collect()));
                }
            }
            Ok(None)
        }
        Format::Parquet => unreachable!("Parquet files are checked from their footer"),
    }
}

/// Checks that a CSV or NDJSON file declares every required column of `table`.
pub fn check_text_file(table: Table, path: &Path, format: Format) -> Result<(), LogError> {
    let Some(columns) = declared_columns(path, format)? else {
        return Ok(());
    };
    check_columns(table, path, &columns)
}

/// Checks declared `columns` against `table`'s contract.
pub(crate) fn check_columns(table: Table, path: &Path, columns: &[String]) -> Result<(), LogError> {
    // Every declared column is text; the contract's kinds are checked value by value.
    let spec = table.spec();
    let declared = Schema::new(
        columns
            .iter()
            .map(|name| {
                let t = spec
                    .column(name)
                    .map_or(DataType::Utf8, |c| c.kind.canonical_type());
                Field::new(name, t, true)
            })
            .collect::<Vec<_>>(),
    );
    validate_schema(spec, &declared).map_err(|source| LogError::Schema {
        path: path.to_path_buf(),
        source,
    })
}

/// The contract problem alone, without the path (a [`TextFileError`] names it).
pub(crate) fn schema_message(e: LogError) -> String {
    match e {
        LogError::Schema { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}
