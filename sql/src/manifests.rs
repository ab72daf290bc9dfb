//! The `manifests` table: `samples/_manifests/dt=D.json` flattened, one row per built day.
//!
//! The manifest is the builder's JSON (docs/labels.md, `pipeline/src/manifest.rs`); it is read as
//! plain JSON so that this crate does not depend on the builder. Maps become one column
//! per key (`rate_<label>` for each label of the sample table, `psc_<case>` for each psc
//! case), per-table counts are summed, the config is kept whole as JSON text. A field an
//! older manifest lacks is null.

use crate::error::{Result, SqlError};
use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use esmc_schemas::{ColumnKind, PscCase, SAMPLES, Warehouse, parse_dt_name};
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The 0/1 labels of the sample table, whose means a manifest records.
fn labels() -> impl Iterator<Item = &'static str> {
    SAMPLES
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Label)
        .map(|c| c.name)
}

fn doc(field: Field, doc: &str) -> Field {
    field.with_metadata(HashMap::from([("doc".to_string(), doc.to_string())]))
}

/// The schema of the `manifests` table.
pub fn manifest_schema() -> SchemaRef {
    let s = |name: &str, d: &str| doc(Field::new(name, DataType::Utf8, true), d);
    let i = |name: &str, d: &str| doc(Field::new(name, DataType::Int64, true), d);
    let f = |name: &str, d: &str| doc(Field::new(name, DataType::Float64, true), d);
    let mut fields = vec![
        doc(
            Field::new("dt", DataType::Utf8, false),
            "The built day, YYYY-MM-DD.",
        ),
        s(
            "maturity",
            "`mature` once the logs of dt + window exist, else `provisional`.",
        ),
        s("window_first", "First day of logs read."),
        s("window_last", "Last day of logs read."),
        i("rows", "Samples in the partition."),
    ];
    for label in labels() {
        fields.push(f(
            &format!("rate_{label}"),
            "Mean of the label over the partition.",
        ));
    }
    for case in PscCase::ALL.map(PscCase::as_str) {
        fields.push(i(&format!("psc_{case}"), "Samples of this psc case."));
    }
    fields.extend([
        i(
            "quarantined",
            "Rows of the day's partitions sent to quarantine, all tables.",
        ),
        i(
            "duplicates_dropped",
            "Exact duplicate events dropped over the window, all tables.",
        ),
        i(
            "purchases_attributed",
            "Purchases of the window attributed to the day's samples.",
        ),
        i(
            "clicks_attributed",
            "Clicks of the window attributed to the day's samples.",
        ),
        i("inputs", "Input files read."),
        i("input_bytes", "Bytes of the input files."),
        s("inputs_hash", "SHA-256 over the inputs' paths and hashes."),
        s(
            "config_hash",
            "SHA-256 of the build config's canonical JSON.",
        ),
        s(
            "calibration",
            "Sample calibration of the build: move, copy or off.",
        ),
        i(
            "attribution_window_days",
            "Attribution window of the build, days.",
        ),
        s("config", "The whole build config, JSON."),
        s("esmc_version", "Version of esmc that built the partition."),
        doc(
            Field::new(
                "built_at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            "When the build finished, UTC.",
        ),
        f("build_secs", "Wall time of the build, seconds."),
    ]);
    Arc::new(Schema::new(fields))
}

/// Reads every manifest of the warehouse into one batch, sorted by dt.
pub(crate) fn read(warehouse: &Warehouse) -> Result<RecordBatch> {
    let dir = warehouse.root().join("samples").join("_manifests");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()).map_err(|e| SqlError::io(&dir, e)))
            .collect::<Result<_>>()?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(SqlError::io(&dir, e)),
    };
    files.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".json") && parse_dt_name(n).is_some())
    });
    files.sort();
    let mut manifests = Vec::with_capacity(files.len());
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| SqlError::io(&path, e))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| SqlError::Manifest {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if !value.is_object() {
            return Err(SqlError::Manifest {
                path,
                message: "not a JSON object".into(),
            });
        }
        manifests.push((path, value));
    }
    flatten(&manifests)
}

// Long because: one push per manifest-table column, in schema order, to read side by side.
fn flatten(manifests: &[(PathBuf, Value)]) -> Result<RecordBatch> {
    let schema = manifest_schema();
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    let get = |m: &Value, path: &[&str]| -> Option<Value> {
        path.iter()
            .try_fold(m, |v, k| v.get(k))
            .filter(|v| !v.is_null())
            .cloned()
    };
    let text = |path: &[&str]| -> ArrayRef {
        let mut b = StringBuilder::new();
        for (_, m) in manifests {
            b.append_option(get(m, path).map(|v| match v {
                Value::String(s) => s,
                other => other.to_string(),
            }));
        }
        Arc::new(b.finish())
    };
    let int = |path: &[&str]| -> ArrayRef {
        let mut b = Int64Builder::new();
        for (_, m) in manifests {
            b.append_option(get(m, path).and_then(|v| v.as_i64()));
        }
        Arc::new(b.finish())
    };
    let float = |path: &[&str]| -> ArrayRef {
        let mut b = Float64Builder::new();
        for (_, m) in manifests {
            b.append_option(get(m, path).and_then(|v| v.as_f64()));
        }
        Arc::new(b.finish())
    };
    let sum = |key: &str| -> ArrayRef {
        let mut b = Int64Builder::new();
        for (_, m) in manifests {
            b.append_option(get(m, &[key]).and_then(|v| {
                v.as_object()
                    .map(|o| o.values().filter_map(Value::as_i64).sum())
            }));
        }
        Arc::new(b.finish())
    };
    let window = |i: usize| -> ArrayRef {
        let mut b = StringBuilder::new();
        for (_, m) in manifests {
            b.append_option(get(m, &["window"]).and_then(|w| w.get(i)?.as_str().map(String::from)));
        }
        Arc::new(b.finish())
    };

    // dt: from the file name, which is what the table is partitioned by
    let mut dt = StringBuilder::new();
    for (path, _) in manifests {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let day = parse_dt_name(name).expect("filtered on a dt name");
        dt.append_value(day.to_string());
    }
    columns.push(Arc::new(dt.finish()));
    columns.push(text(&["maturity"]));
    columns.push(window(0));
    columns.push(window(1));
    columns.push(int(&["rows"]));
    for label in labels() {
        columns.push(float(&["label_rates", label]));
    }
    for case in PscCase::ALL.map(PscCase::as_str) {
        columns.push(int(&["psc_case_counts", case]));
    }
    columns.push(sum("quarantined"));
    columns.push(sum("duplicates_dropped"));
    columns.push(int(&["purchases_attributed"]));
    columns.push(int(&["clicks_attributed"]));
    let mut inputs = Int64Builder::new();
    let mut bytes = Int64Builder::new();
    for (_, m) in manifests {
        let files = get(m, &["inputs"]).and_then(|v| v.as_array().cloned());
        inputs.append_option(files.as_ref().map(|f| f.len() as i64));
        bytes.append_option(files.as_ref().map(|f| {
            f.iter()
                .filter_map(|x| x.get("bytes").and_then(Value::as_i64))
                .sum()
        }));
    }
    columns.push(Arc::new(inputs.finish()));
    columns.push(Arc::new(bytes.finish()));
    columns.push(text(&["inputs_hash"]));
    columns.push(text(&["config_hash"]));
    columns.push(text(&["config", "calibration"]));
    columns.push(int(&["config", "attribution_window_days"]));
    columns.push(text(&["config"]));
    columns.push(text(&["esmc_version"]));
    let mut built_at = TimestampMicrosecondBuilder::new().with_timezone("UTC");
    for (_, m) in manifests {
        built_at.append_option(
            get(m, &["built_at"])
                .and_then(|v| chrono::DateTime::parse_from_rfc3339(v.as_str()?).ok())
                .map(|t| t.timestamp_micros()),
        );
    }
    columns.push(Arc::new(built_at.finish()));
    columns.push(float(&["build_secs"]));
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::{Float64Type, Int64Type};

    #[test]
    fn manifests_flatten_to_one_row_each_and_missing_fields_are_null() {
        let full: Value = serde_json::json!({
            "dt": "2026-11-01", "maturity": "mature", "window": ["2026-10-31", "2026-11-04"],
            "config": {"calibration": "move", "attribution_window_days": 3},
            "config_hash": "c", "inputs": [{"path": "a", "bytes": 10, "sha256": "x"},
                                           {"path": "b", "bytes": 5, "sha256": "y"}],
            "inputs_hash": "h", "rows": 100, "label_rates": {"click": 0.5, "purchase": 0.25},
            "psc_case_counts": {"no_purchase": 75, "same_visit": 25},
            "quarantined": {"click": 2, "cart": 1}, "duplicates_dropped": {"click": 4},
            "purchases_attributed": 25, "clicks_attributed": 50, "esmc_version": "0.1.0",
            "built_at": "2026-11-25T12:04:20.5+00:00", "build_secs": 1.5
        });
        let old: Value = serde_json::json!({"rows": 7});
        let batch = flatten(&[
            (PathBuf::from("dt=2026-11-01.json"), full),
            (PathBuf::from("dt=2026-11-02.json"), old),
        ])
        .unwrap();
        assert_eq!(batch.num_rows(), 2);
        let col = |n: &str| batch.column_by_name(n).unwrap().clone();
        assert_eq!(col("dt").as_string::<i32>().value(1), "2026-11-02");
        assert_eq!(
            col("rate_click").as_primitive::<Float64Type>().value(0),
            0.5
        );
        assert!(col("rate_dmi").is_null(0));
        assert_eq!(
            col("psc_same_visit").as_primitive::<Int64Type>().value(0),
            25
        );
        assert_eq!(col("quarantined").as_primitive::<Int64Type>().value(0), 3);
        assert_eq!(col("input_bytes").as_primitive::<Int64Type>().value(0), 15);
        assert_eq!(col("calibration").as_string::<i32>().value(0), "move");
        assert_eq!(col("window_last").as_string::<i32>().value(0), "2026-11-04");
        assert_eq!(col("rows").as_primitive::<Int64Type>().value(1), 7);
        assert!(col("maturity").is_null(1));
        assert!(col("built_at").is_null(1));
    }
}
