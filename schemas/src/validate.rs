//! Checks a schema (of a file or a batch) against a table contract and names every
//! column that does not fit: missing required columns and columns of the wrong type.
//! Extra columns are fine: they pass through when a feature spec names them.

use crate::tables::TableSpec;
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use std::fmt;

/// One column that does not fit its contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnProblem {
    /// A required column is absent.
    Missing {
        column: String,
        expected: &'static str,
    },
    /// The column exists with a type its kind does not accept.
    WrongType {
        column: String,
        expected: &'static str,
        found: DataType,
    },
}

impl fmt::Display for ColumnProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnProblem::Missing { column, expected } => {
                write!(f, "column `{column}` is missing (expected {expected})")
            }
            ColumnProblem::WrongType {
                column,
                expected,
                found,
            } => write!(f, "column `{column}`: expected {expected}, found {found}"),
        }
    }
}

/// A schema that does not match its table: the input's fault, every problem listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("table `{table}`: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct SchemaError {
    /// The table whose contract was broken.
    pub table: &'static str,
    /// Every offending column, in the contract's column order.
    pub problems: Vec<ColumnProblem>,
}

/// Checks `schema` against `spec`: every required column present, every contract column
/// that is present of an accepted type.
pub fn validate_schema(spec: &TableSpec, schema: &Schema) -> Result<(), SchemaError> {
    let problems: Vec<ColumnProblem> = spec
        .columns
        .iter()
        .filter_map(|col| match schema.field_with_name(col.name) {
            Err(_) if col.required => Some(ColumnProblem::Missing {
                column: col.name.to_string(),
                expected: col.kind.expected(),
            }),
            Err(_) => None,
            Ok(field) if !col.kind.accepts(field.data_type()) => Some(ColumnProblem::WrongType {
                column: col.name.to_string(),
                expected: col.kind.expected(),
                found: field.data_type().clone(),
            }),
            Ok(_) => None,
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SchemaError {
            table: spec.name,
            problems,
        })
    }
}

/// [`validate_schema`] on a batch's schema.
pub fn validate_batch(spec: &TableSpec, batch: &RecordBatch) -> Result<(), SchemaError> {
    validate_schema(spec, batch.schema().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{SAMPLES, Table};
    use arrow::datatypes::{Field, TimeUnit};

    fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t)| Field::new(*n, t.clone(), true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn canonical_schemas_validate() {
        for table in Table::ALL {
            let spec = table.spec();
            validate_schema(spec, &spec.arrow_schema()).unwrap();
        }
        validate_schema(&SAMPLES, &SAMPLES.arrow_schema()).unwrap();
    }

    #[test]
    fn string_and_integer_ids_both_accepted() {
        let spec = Table::Click.spec();
        let ts = DataType::Timestamp(TimeUnit::Millisecond, None);
        for id in [
            DataType::Int64,
            DataType::Int32,
            DataType::UInt64,
            DataType::Utf8,
        ] {
            let s = schema(&[
                ("ts", ts.clone()),
                ("user_id", id.clone()),
                ("item_id", DataType::LargeUtf8),
                ("exposure_id", id.clone()),
            ]);
            validate_schema(spec, &s).unwrap();
        }
    }

    #[test]
    fn wrong_type_names_column_expected_and_found() {
        let s = schema(&[
            ("ts", DataType::Utf8),
            ("user_id", DataType::Int64),
            ("item_id", DataType::Float64),
        ]);
        let err = validate_schema(Table::Click.spec(), &s).unwrap_err();
        assert_eq!(err.problems.len(), 2);
        let msg = err.to_string();
        assert!(
            msg.starts_with("table `click`: column `ts`: expected a timestamp"),
            "{msg}"
        );
        assert!(msg.contains("found Utf8"), "{msg}");
        assert!(
            msg.contains("column `item_id`: expected an integer or string ID"),
            "{msg}"
        );
        assert!(msg.contains("found Float64"), "{msg}");
    }

    #[test]
    fn missing_required_column_is_named_optional_is_not() {
        // purchase without order_id (required) and without amount (optional)
        let s = schema(&[
            (
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ),
            ("user_id", DataType::Int64),
            ("item_id", DataType::Int64),
        ]);
        let err = validate_schema(Table::Purchase.spec(), &s).unwrap_err();
        assert_eq!(
            err.problems,
            vec![ColumnProblem::Missing {
                column: "order_id".into(),
                expected: crate::ColumnKind::Id.expected(),
            }]
        );
        assert_eq!(
            err.to_string(),
            "table `purchase`: column `order_id` is missing (expected an integer or string \
             ID (Int64, Int32, UInt64, Utf8, ...))"
        );
    }

    #[test]
    fn timestamp_in_another_zone_is_rejected() {
        let s = schema(&[
            (
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("Asia/Shanghai".into())),
            ),
            ("user_id", DataType::Int64),
            ("item_id", DataType::Int64),
            ("action", DataType::Utf8),
        ]);
        let err = validate_schema(Table::Micro.spec(), &s).unwrap_err();
        assert!(
            err.to_string()
                .contains("found Timestamp(µs, \"Asia/Shanghai\")")
                || err.to_string().contains("Asia/Shanghai"),
            "{err}"
        );
    }

    #[test]
    fn labels_accept_booleans_and_integers_but_not_text() {
        let kind = crate::ColumnKind::Label;
        assert!(kind.accepts(&DataType::Boolean));
        assert!(kind.accepts(&DataType::Int64));
        assert!(!kind.accepts(&DataType::Utf8));
    }
}
