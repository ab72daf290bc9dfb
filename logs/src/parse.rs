//! Text values of CSV and NDJSON files parsed by their column's kind. Blank text is
//! null; text that does not parse is null too, and its row's first such column is
//! recorded (the builder quarantines the row as `unparseable <column>`).

use arrow::array::{
    ArrayRef, Float64Array, Int8Array, Int32Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};
use chrono::{DateTime, NaiveDateTime};
use esmc_schemas::{ColumnKind, ColumnSpec, id_from_str};
use std::sync::Arc;

/// Parses a text column by its kind. Blank text is null; text that does not parse is
/// null too, and the row's first such column is recorded in `errors`.
pub(crate) fn parse_column(
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
pub fn parse_timestamp(s: &str) -> Option<i64> {
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
    use arrow::array::AsArray;
    use esmc_schemas::Table;

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
    fn unparseable_values_become_null_and_name_the_first_column() {
        let ts = StringArray::from(vec![Some("7"), Some("x7"), None, Some(" ")]);
        let mut errors = vec![None; 4];
        let col = Table::Click.spec().column("ts").unwrap();
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
        let col = Table::Click.spec().column("user_id").unwrap();
        let parsed = parse_column(col, &ids, &mut errors);
        let parsed = parsed.as_primitive::<arrow::datatypes::Int64Type>();
        let x7 = id_from_str("x7");
        assert!(x7.unwrap() < 0);
        assert_eq!(
            parsed.iter().collect::<Vec<_>>(),
            vec![Some(7), x7, None, None]
        );
        assert_eq!(errors, vec![None; 4]);
    }
}
