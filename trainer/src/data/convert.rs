//! Arrow columns to host rows: ids hashed into their table's region, numbers bucketized or
//! normalised, lists cut to their last `max_len` ids and padded, labels and truth copied.
//! One pass per column over the Arrow buffers.

use super::{LABELS, NormStats, Rows, TRUTH};
use crate::error::{Result, TrainerError};
use crate::spec::{
    DenseField, DenseTransform, ListField, Region, Resolved, SparseField, SparseSource, fnv1a,
    hash_id,
};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type, Float64Type, Int8Type, Int64Type};
use esmc_schemas::BAD_CASE;
use std::fmt::Display;
use std::path::Path;
use std::sync::Arc;

/// The columns of one record batch, with errors that name its file.
struct Columns<'a> {
    batch: &'a RecordBatch,
    path: &'a Path,
}

impl Columns<'_> {
    fn err(&self, message: String) -> TrainerError {
        TrainerError::Data {
            path: self.path.to_path_buf(),
            message,
        }
    }

    /// What is wrong with column `name`.
    fn bad(&self, name: &str, m: impl Display) -> TrainerError {
        self.err(format!("column '{name}': {m}"))
    }

    fn get(&self, name: &str) -> Result<&ArrayRef> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| self.err(format!("missing column '{name}'")))
    }
}

/// Converts one record batch (every column of the spec plus labels) into host rows.
pub fn convert(
    spec: &Resolved,
    norm: &NormStats,
    batch: &RecordBatch,
    path: &Path,
) -> Result<Rows> {
    let n = batch.num_rows();
    let mut rows = Rows::empty(spec);
    rows.len = n;
    let cols = Columns { batch, path };
    for (f, out) in spec.sparse.iter().zip(&mut rows.sparse) {
        let array = cols.get(&f.column)?;
        sparse(f, &spec.regions[f.region], array, out).map_err(|m| cols.bad(&f.column, m))?;
    }
    for (i, (f, out)) in spec.dense.iter().zip(&mut rows.dense).enumerate() {
        let array = cols.get(&f.column)?;
        dense(f, (norm.mu[i], norm.sigma[i]), array, out).map_err(|m| cols.bad(&f.column, m))?;
    }
    for (l, out) in spec.lists.iter().zip(&mut rows.lists) {
        let array = cols.get(&l.column)?;
        list(l, &spec.regions[l.region], array, out).map_err(|e| cols.bad(&l.column, e))?;
    }
    for (name, out) in LABELS.iter().zip(&mut rows.labels) {
        let a = cols.get(name)?;
        if a.null_count() > 0 {
            return Err(cols.err(format!("label column '{name}' has nulls")));
        }
        let a = cast(a, &DataType::Int8).map_err(|e| cols.bad(name, e))?;
        out.extend(
            a.as_primitive::<Int8Type>()
                .values()
                .iter()
                .map(|v| *v as f32),
        );
    }
    for (name, out) in TRUTH.iter().zip(&mut rows.truth) {
        match batch.column_by_name(name) {
            Some(a) => {
                let a = cast(a, &DataType::Float32).map_err(|e| cols.bad(name, e))?;
                let a = a.as_primitive::<Float32Type>();
                out.extend((0..n).map(|i| if a.is_null(i) { f32::NAN } else { a.value(i) }));
            }
            None => out.extend(std::iter::repeat_n(f32::NAN, n)),
        }
    }
    let ids = |name: &str| -> Result<Vec<i64>> {
        let v = ids_of(cols.get(name)?).map_err(|m| cols.bad(name, m))?;
        Ok(v.into_iter().map(|x| x.unwrap_or(0) as i64).collect())
    };
    rows.sample_id = ids("sample_id")?;
    rows.user_id = ids("user_id")?;
    let bad = cast(cols.get(BAD_CASE)?, &DataType::Int8).map_err(|e| cols.bad(BAD_CASE, e))?;
    rows.bad_case = bad
        .as_primitive::<Int8Type>()
        .values()
        .iter()
        .map(|v| *v != 0)
        .collect();
    Ok(rows)
}

/// A sparse field's table rows: ids hashed into the region, or numbers bucketized by the
/// field's bounds; the region's null row where the value is missing.
fn sparse(
    f: &SparseField,
    region: &Region,
    array: &ArrayRef,
    out: &mut Vec<i64>,
) -> std::result::Result<(), String> {
    let null_row = region.offset + region.buckets as i64;
    out.reserve(array.len());
    match &f.source {
        SparseSource::Ids => {
            out.extend(ids_of(array)?.iter().map(|id| match id {
                Some(id) => region.offset + (hash_id(*id, region.salt) % region.buckets) as i64,
                None => null_row,
            }));
        }
        SparseSource::Bucketize(bounds) => {
            out.extend(floats_of(array)?.iter().map(|x| match x {
                Some(x) if !x.is_nan() => {
                    region.offset + bounds.partition_point(|b| *b <= *x) as i64
                }
                _ => null_row,
            }));
        }
    }
    Ok(())
}

/// A dense field's values, transformed and normalised by `(mu, sigma)` into (-1, 1);
/// 0 where missing or not finite.
fn dense(
    f: &DenseField,
    (mu, sigma): (f64, f64),
    array: &ArrayRef,
    out: &mut Vec<f32>,
) -> std::result::Result<(), String> {
    out.extend(floats_of(array)?.iter().map(|x| match x {
        Some(x) if x.is_finite() => ((transform(f.transform, *x) - mu) / sigma).tanh() as f32,
        _ => 0.0,
    }));
    Ok(())
}

/// A list field's `max_len` table rows per sample (its last ids, hashed) and their mask;
/// padding and null ids are the region's null row with mask 0.
fn list(
    l: &ListField,
    region: &Region,
    array: &ArrayRef,
    out: &mut (Vec<i64>, Vec<f32>),
) -> std::result::Result<(), arrow::error::ArrowError> {
    let n = array.len();
    let null_row = region.offset + region.buckets as i64;
    let item = arrow::datatypes::Field::new_list_field(DataType::Int64, true);
    let list = cast(array, &DataType::List(Arc::new(item)))?;
    let list = list.as_list::<i32>();
    let values = list.values().as_primitive::<Int64Type>();
    let offsets = list.value_offsets();
    out.0.reserve(n * l.max_len);
    out.1.reserve(n * l.max_len);
    for r in 0..n {
        let (start, end) = if list.is_null(r) {
            (0, 0)
        } else {
            (offsets[r] as usize, offsets[r + 1] as usize)
        };
        let start = start.max(end.saturating_sub(l.max_len));
        let len = end - start;
        for j in start..end {
            if values.is_null(j) {
                out.0.push(null_row);
                out.1.push(0.0);
            } else {
                let id = values.value(j) as u64;
                out.0
                    .push(region.offset + (hash_id(id, region.salt) % region.buckets) as i64);
                out.1.push(1.0);
            }
        }
        for _ in len..l.max_len {
            out.0.push(null_row);
            out.1.push(0.0);
        }
    }
    Ok(())
}

/// A dense value before normalisation.
pub(super) fn transform(t: DenseTransform, x: f64) -> f64 {
    match t {
        DenseTransform::TanhNorm => x,
        DenseTransform::Log1pTanhNorm => x.max(0.0).ln_1p(),
    }
}

/// Ids of an integer or string column as u64 (strings hashed with FNV-1a).
fn ids_of(a: &ArrayRef) -> std::result::Result<Vec<Option<u64>>, String> {
    match a.data_type() {
        DataType::Utf8 => Ok(a
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(|s| fnv1a(s.as_bytes())))
            .collect()),
        DataType::LargeUtf8 => Ok(a
            .as_string::<i64>()
            .iter()
            .map(|s| s.map(|s| fnv1a(s.as_bytes())))
            .collect()),
        t if t.is_integer() => {
            let a = cast(a, &DataType::Int64).map_err(|e| e.to_string())?;
            Ok(a.as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.map(|v| v as u64))
                .collect())
        }
        t => Err(format!("is {t}, expected integer or string ids")),
    }
}

/// A numeric column as f64.
pub(super) fn floats_of(a: &ArrayRef) -> std::result::Result<Vec<Option<f64>>, String> {
    if !a.data_type().is_numeric() {
        return Err(format!("is {}, expected a number", a.data_type()));
    }
    let a = cast(a, &DataType::Float64).map_err(|e| e.to_string())?;
    Ok(a.as_primitive::<Float64Type>().iter().collect())
}
