//! NDJSON log files: one JSON object per line, keys naming the columns; every value
//! kept as text (a decimal as written) for the per-kind parsers.

use crate::TextFileError;
use crate::error::text_err;
use crate::stream::TextFile;
use arrow::array::{RecordBatch, StringArray, StringBuilder};
use std::io::BufRead;
use std::path::Path;

/// One NDJSON line (0-based `index`) as a JSON object, or an error naming its line.
pub(crate) fn parse_object(
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

impl TextFile {
    /// Reads an NDJSON file, handing each canonical batch of `batch_size` rows to `emit`
    /// until it returns false.
    pub(crate) fn read_ndjson(
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
}

/// The end (exclusive) of the JSON string starting at the quote `b[i]`.
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

/// The end (exclusive) of the JSON object or array starting at `b[i]`.
fn nested_end(b: &[u8], mut i: usize) -> usize {
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
    i
}

/// The text of every number at the top level of `line`, a JSON object serde_json has
/// already parsed (so well formed), as (key, text) in order of appearance.
///
/// serde_json without its `float_roundtrip` feature (enabling it would rebuild every
/// crate that uses serde_json) may round a long decimal such as `0.22286083748008298`
/// to a neighbouring f64; the text, parsed later by `str::parse`, gives the exact value,
/// as a CSV file's does.
pub(crate) fn number_texts(line: &str) -> Vec<(String, &str)> {
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
            Some(b'{' | b'[') => i = nested_end(b, i),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, read_schema};
    use arrow::array::AsArray;
    use chrono::NaiveDate;
    use esmc_schemas::Table;

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
}
