//! Raw log files by format: which extension is read how, the contract check of CSV and
//! NDJSON files, and their streaming conversion to a table's canonical schema.
//!
//! ```text
//!  part-0.csv     ──header row───┐
//!  part-0.ndjson  ──first object─┴─> contract check (required column missing → error)
//!        │ one PartitionStream per file, read on a blocking thread, batch by batch
//!        v
//!  text values ──parse per column kind──> canonical columns + dt + parse_error
//!        (unparseable value → null + "unparseable <column>": quarantined by clean.sql;
//!         an ID always parses: esmc_schemas::id_from_str)
//! ```
//!
//! Structure errors (a CSV line with the wrong number of fields, an NDJSON line that is
//! not a JSON object) fail the file with its path and line; value errors only reject
//! their row (semantics.md §7).
//!
//! Public for `esmc sql`, which reads the same files through [`Format::of`],
//! [`read_schema`] and [`text_stream`] (re-exported at the crate root), so that the
//! builder and SQL read a log file alike.

use crate::BuildError;
use arrow::array::{
    ArrayRef, AsArray, Float64Array, Int8Array, Int32Array, Int64Array, RecordBatch, StringArray,
    StringBuilder, TimestampMicrosecondArray, new_null_array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use datafusion::arrow::csv::ReaderBuilder as CsvReaderBuilder;
use datafusion::arrow::csv::reader::Format as CsvFormat;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::streaming::PartitionStream;
use esmc_schemas::{ColumnKind, ColumnSpec, Table, id_from_str, validate_schema};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How a raw log file is read, decided by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.parquet`: typed columns, checked against the contract from the footer.
    Parquet,
    /// `.csv`: comma-separated with a header row naming the columns.
    Csv,
    /// `.ndjson` or `.jsonl`: one JSON object per line, keys naming the columns.
    NdJson,
}

impl Format {
    /// The format of `path`, or an error naming the file when its extension is unknown
    /// (an unknown file is never skipped silently): [`BuildError::UnknownFormat`].
    /// Extensions compare case-insensitively.
    pub fn of(path: &Path) -> Result<Format, BuildError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("parquet") => Ok(Format::Parquet),
            Some("csv") => Ok(Format::Csv),
            Some("ndjson" | "jsonl") => Ok(Format::NdJson),
            _ => Err(BuildError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// A CSV or NDJSON file that cannot be read: the input's fault. Cloneable, so that it
/// survives the engine's error wrapping on its way back from a reader thread.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}{message}", path.display(), line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct TextFileError {
    pub path: PathBuf,
    /// 1-based line of the problem, when it has one.
    pub line: Option<u64>,
    pub message: String,
}

fn text_err(path: &Path, line: Option<u64>, message: impl ToString) -> TextFileError {
    TextFileError {
        path: path.to_path_buf(),
        line,
        message: message.to_string(),
    }
}

/// The columns a text file declares: the CSV header, or the keys of the first NDJSON
/// object (`None`: an NDJSON file without objects, an empty table).
fn declared_columns(path: &Path, format: Format) -> Result<Option<Vec<String>>, TextFileError> {
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

fn parse_object(
    path: &Path,
    index: usize,
    line: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, TextFileError> {
    serde_json::from_str(line).map_err(|e| {
        text_err(
            path,
            Some(index as u64 + 1),
            format!("not a JSON object: {e}"),
        )
    })
}

/// Checks that a CSV or NDJSON file declares every required column of `table`.
pub(crate) fn check_text_file(table: Table, path: &Path, format: Format) -> Result<(), BuildError> {
    let Some(columns) = declared_columns(path, format)? else {
        return Ok(());
    };
    check_columns(table, path, &columns)
}

fn check_columns(table: Table, path: &Path, columns: &[String]) -> Result<(), BuildError> {
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
    validate_schema(spec, &declared).map_err(|source| BuildError::Schema {
        path: path.to_path_buf(),
        source,
    })
}

/// The schema of a raw table as the builder reads it: the contract's columns in canonical
/// types, all nullable, then the partition `dt` (`Utf8`, not null) and `parse_error` (the
/// first column whose text could not be parsed, as `unparseable <column>`; always null
/// for Parquet). The batches of [`text_stream`] have exactly this schema.
pub fn read_schema(table: Table) -> SchemaRef {
    let mut fields: Vec<Field> = table
        .spec()
        .columns
        .iter()
        .map(|c| c.field().with_nullable(true))
        .collect();
    fields.push(Field::new("dt", DataType::Utf8, false));
    fields.push(Field::new("parse_error", DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// One table over CSV and NDJSON files (`(path, format, partition day)`), streamed file
/// by file in [`read_schema`].
pub(crate) fn text_table(
    table: Table,
    files: Vec<(PathBuf, Format, NaiveDate)>,
) -> Result<StreamingTable, BuildError> {
    let partitions = files
        .into_iter()
        .map(|(path, format, day)| text_stream(table, path, format, day))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StreamingTable::try_new(read_schema(table), partitions)?)
}

/// One CSV or NDJSON log file of `table`'s partition `day` as a DataFusion partition
/// stream of [`read_schema`] batches (`dt` = `day`). Nothing is opened until the stream
/// is executed; then the file is read on a blocking thread, batch by batch (the session's
/// batch size), after its header is checked against the contract. Read errors reach the
/// consumer as a [`DataFusionError::External`] wrapping a [`TextFileError`] that names
/// the file (and line). `format` must be [`Format::Csv`] or [`Format::NdJson`]: Parquet
/// files are the engine's to read ([`BuildError::Internal`] otherwise).
pub fn text_stream(
    table: Table,
    path: PathBuf,
    format: Format,
    day: NaiveDate,
) -> Result<Arc<dyn PartitionStream>, BuildError> {
    if format == Format::Parquet {
        return Err(BuildError::Internal(format!(
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
struct TextFile {
    table: Table,
    path: PathBuf,
    format: Format,
    dt: String,
    schema: SchemaRef,
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
    fn read(
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

    fn open(&self) -> Result<BufReader<std::fs::File>, TextFileError> {
        let file = std::fs::File::open(&self.path).map_err(|e| text_err(&self.path, None, e))?;
        Ok(BufReader::new(file))
    }

    fn read_csv(
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

    fn read_ndjson(
        &self,
        batch_size: usize,
        emit: &mut dyn FnMut(RecordBatch) -> bool,
    ) -> Result<(), TextFileError> {
        let columns = self.table.spec().columns;
        let mut builders: Vec<StringBuilder> =
            columns.iter().map(|_| StringBuilder::new()).collect();
        let mut rows = 0;
        let flush = |builders: &mut Vec<StringBuilder>, rows: usize| {
            let arrays: Vec<StringArray> = builders.iter_mut().map(|b| b.finish()).collect();
            let raw: Vec<Option<&StringArray>> = arrays.iter().map(Some).collect();
            self.canonical(&raw, rows)
        };
        for (i, line) in self.open()?.lines().enumerate() {
            let line = line.map_err(|e| text_err(&self.path, Some(i as u64 + 1), e))?;
            if line.trim().is_empty() {
                continue;
            }
            let object = parse_object(&self.path, i, &line)?;
            let mut numbers = None;
            for (c, b) in columns.iter().zip(&mut builders) {
                match object.get(c.name) {
                    None | Some(serde_json::Value::Null) => b.append_null(),
                    Some(serde_json::Value::String(s)) => b.append_value(s),
                    // a decimal as written, not as serde_json rounded it
                    Some(serde_json::Value::Number(n)) if n.is_f64() => {
                        let texts = numbers.get_or_insert_with(|| number_texts(&line));
                        match texts.iter().rev().find(|(k, _)| k == c.name) {
                            Some((_, text)) => b.append_value(text),
                            None => b.append_value(n.to_string()),
                        }
                    }
                    Some(v) => b.append_value(v.to_string()),
                }
            }
            rows += 1;
            if rows == batch_size {
                if !emit(flush(&mut builders, rows)?) {
                    return Ok(());
                }
                rows = 0;
            }
        }
        if rows > 0 {
            emit(flush(&mut builders, rows)?);
        }
        Ok(())
    }

    /// Parses one batch of text columns (`raw`, in contract order; `None` = absent) into
    /// the canonical schema with `dt` and `parse_error`.
    fn canonical(
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

/// The text of every number at the top level of `line`, a JSON object serde_json has
/// already parsed (so well formed), as (key, text) in order of appearance.
///
/// serde_json without its `float_roundtrip` feature (enabling it would rebuild every
/// crate that uses serde_json) may round a long decimal such as `0.22286083748008298`
/// to a neighbouring f64; the text, parsed later by `str::parse`, gives the exact value,
/// as a CSV file's does.
fn number_texts(line: &str) -> Vec<(String, &str)> {
    // the end (exclusive) of the string starting at the quote b[i]
    fn string_end(b: &[u8], mut i: usize) -> usize {
        i += 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        b.len()
    }
    let b = line.as_bytes();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let mut out = Vec::new();
    let mut i = 0;
    skip_ws(&mut i);
    if b.get(i) != Some(&b'{') {
        return out;
    }
    i += 1;
    loop {
        skip_ws(&mut i);
        if b.get(i) != Some(&b'"') {
            break; // `}`: the end
        }
        let end = string_end(b, i);
        let key: String = serde_json::from_str(&line[i..end]).unwrap_or_default();
        i = end;
        skip_ws(&mut i);
        i += 1; // `:`
        skip_ws(&mut i);
        let start = i;
        match b.get(i) {
            Some(b'"') => i = string_end(b, i),
            Some(b'{' | b'[') => {
                let mut depth = 0;
                while i < b.len() {
                    match b[i] {
                        b'"' => {
                            i = string_end(b, i);
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => depth -= 1,
                        _ => {}
                    }
                    i += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            _ => {
                while i < b.len() && !matches!(b[i], b',' | b'}') && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                let text = &line[start..i];
                if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
                    out.push((key, text));
                }
            }
        }
        skip_ws(&mut i);
        if b.get(i) == Some(&b',') {
            i += 1;
        } else {
            break;
        }
    }
    out
}

fn schema_message(e: BuildError) -> String {
    match e {
        BuildError::Schema { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// Parses a text column by its kind. Blank text is null; text that does not parse is
/// null too, and the row's first such column is recorded in `errors`.
fn parse_column(
    column: &ColumnSpec,
    text: &StringArray,
    errors: &mut [Option<&'static str>],
) -> ArrayRef {
    fn each<T>(
        name: &'static str,
        text: &StringArray,
        errors: &mut [Option<&'static str>],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Vec<Option<T>> {
        text.iter()
            .zip(errors.iter_mut())
            .map(|(v, error)| {
                let s = v.map(str::trim).filter(|s| !s.is_empty())?;
                let parsed = parse(s);
                if parsed.is_none() && error.is_none() {
                    *error = Some(name);
                }
                parsed
            })
            .collect()
    }
    let name = column.name;
    match column.kind {
        // never unparseable: digits read as their value, other text as its hash
        ColumnKind::Id => Arc::new(Int64Array::from(each(name, text, errors, id_from_str))),
        ColumnKind::Timestamp => Arc::new(
            TimestampMicrosecondArray::from(each(name, text, errors, parse_timestamp))
                .with_timezone("UTC"),
        ),
        ColumnKind::Text => Arc::new(StringArray::from(each(name, text, errors, |s| {
            Some(s.to_string())
        }))),
        ColumnKind::Int32 => Arc::new(Int32Array::from(each(name, text, errors, |s| {
            s.parse().ok()
        }))),
        ColumnKind::Float64 => Arc::new(Float64Array::from(each(name, text, errors, |s| {
            s.parse().ok()
        }))),
        ColumnKind::Label => Arc::new(Int8Array::from(each(name, text, errors, |s| match s {
            "0" | "false" => Some(0),
            "1" | "true" => Some(1),
            _ => None,
        }))),
    }
}

/// Event time in a text file, as UTC microseconds: an integer is microseconds since the
/// Unix epoch; otherwise RFC 3339 with `Z` or an offset (`2026-11-02T10:00:05Z`,
/// `2026-11-02T18:00:05+08:00`, `T` or a space between date and time, optional
/// fraction), or the same without a zone, read as UTC (as Parquet timestamps without a
/// zone are).
pub(crate) fn parse_timestamp(s: &str) -> Option<i64> {
    if let Ok(micros) = s.parse::<i64>() {
        return Some(micros);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_micros());
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|t| t.and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_every_accepted_form_agree() {
        let want = 1_793_613_605_000_000; // 2026-11-02T10:00:05Z
        for s in [
            "1793613605000000",
            "2026-11-02T10:00:05Z",
            "2026-11-02T10:00:05.000Z",
            "2026-11-02 10:00:05Z",
            "2026-11-02T18:00:05+08:00",
            "2026-11-02T05:00:05-05:00",
            "2026-11-02T10:00:05",
            "2026-11-02 10:00:05",
        ] {
            assert_eq!(parse_timestamp(s), Some(want), "{s}");
        }
        assert_eq!(
            parse_timestamp("2026-11-02T10:00:05.123456Z"),
            Some(want + 123_456)
        );
        for bad in [
            "yesterday",
            "2026-11-02",
            "10:00:05",
            "2026-13-02T10:00:05Z",
            "1.5",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn ndjson_decimals_keep_every_digit() {
        // serde_json alone reads this as 0.22286083748008295, one ulp off
        let line = r#"{"a": {"x": [1, "}", 2.5]}, "k\"ey": "q\"}", "p": 0.22286083748008298,
            "n": -12, "e": 1.5e-7, "t": true, "z": null, "p": 0.5}"#
            .replace('\n', " ");
        assert_eq!(
            number_texts(&line),
            vec![
                ("p".to_string(), "0.22286083748008298"),
                ("n".to_string(), "-12"),
                ("e".to_string(), "1.5e-7"),
                ("p".to_string(), "0.5"),
            ]
        );
        assert_eq!(
            number_texts(r#"{"amount":0.22286083748008298}"#),
            vec![("amount".to_string(), "0.22286083748008298")]
        );

        // through the reader: the Float64 column is the exact value
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part-0.ndjson");
        std::fs::write(
            &path,
            concat!(
                r#"{"ts": 1793613605000000, "user_id": 7, "item_id": 100, "#,
                r#""order_id": 1, "amount": 0.22286083748008298}"#,
                "\n"
            ),
        )
        .unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let file = TextFile {
            table: Table::Purchase,
            path,
            format: Format::NdJson,
            dt: day.to_string(),
            schema: read_schema(Table::Purchase),
        };
        let mut batches = Vec::new();
        file.read(16, &mut |b| {
            batches.push(b);
            true
        })
        .unwrap();
        let amount = batches[0].column_by_name("amount").unwrap();
        let amount = amount.as_primitive::<arrow::datatypes::Float64Type>();
        assert_eq!(
            amount.value(0),
            "0.22286083748008298".parse::<f64>().unwrap()
        );
    }

    #[test]
    fn formats_follow_extensions() {
        assert_eq!(
            Format::of(Path::new("a/part-0.parquet")).unwrap(),
            Format::Parquet
        );
        assert_eq!(Format::of(Path::new("a/part-0.CSV")).unwrap(), Format::Csv);
        assert_eq!(
            Format::of(Path::new("a/part-0.jsonl")).unwrap(),
            Format::NdJson
        );
        assert_eq!(
            Format::of(Path::new("a/part-0.ndjson")).unwrap(),
            Format::NdJson
        );
        let err = Format::of(Path::new("a/part-0.csv.gz"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("a/part-0.csv.gz: unsupported log file format"),
            "{err}"
        );
    }

    #[test]
    fn unparseable_values_become_null_and_name_the_first_column() {
        let ts = StringArray::from(vec![Some("7"), Some("x7"), None, Some(" ")]);
        let mut errors = vec![None; 4];
        let col = esmc_schemas::Table::Click.spec().column("ts").unwrap();
        let parsed = parse_column(col, &ts, &mut errors);
        let parsed = parsed.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(
            parsed.iter().collect::<Vec<_>>(),
            vec![Some(7), None, None, None]
        );
        assert_eq!(errors, vec![None, Some("ts"), None, None]);
    }

    #[test]
    fn ids_map_digits_to_their_value_and_other_text_to_its_hash() {
        let ids = StringArray::from(vec![Some("7"), Some(" x7 "), None, Some(" ")]);
        let mut errors = vec![None; 4];
        let col = esmc_schemas::Table::Click.spec().column("user_id").unwrap();
        let parsed = parse_column(col, &ids, &mut errors);
        let parsed = parsed.as_primitive::<arrow::datatypes::Int64Type>();
        let x7 = esmc_schemas::id_from_str("x7");
        assert!(x7.unwrap() < 0);
        assert_eq!(
            parsed.iter().collect::<Vec<_>>(),
            vec![Some(7), x7, None, None]
        );
        assert_eq!(errors, vec![None; 4]);
    }
}
