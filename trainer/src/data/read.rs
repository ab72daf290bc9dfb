//! Reading sample files: opening them, projecting the columns the spec needs, row counts
//! from the footers, the dense fields' statistics and the partition's fingerprint.

use super::convert::{convert, floats_of, transform};
use super::{LABELS, NormStats, Rows, TRUTH};
use crate::error::{Result, TrainerError};
use crate::spec::Resolved;
use arrow::datatypes::Schema;
use esmc_schemas::BAD_CASE;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Columns a reader projects: the spec's, labels, ids, truth where present.
fn projection(spec: &Resolved, schema: &Schema) -> Vec<usize> {
    let mut want: Vec<&str> = spec.columns();
    want.extend(LABELS);
    want.extend(["sample_id", "user_id", BAD_CASE]);
    want.extend(TRUTH);
    let mut idx: Vec<usize> = want
        .iter()
        .filter_map(|c| schema.index_of(c).ok())
        .collect();
    idx.sort_unstable();
    idx.dedup();
    idx
}

/// Reads the Arrow schema of a sample file.
pub fn file_schema(path: &Path) -> Result<Arc<Schema>> {
    Ok(open(path)?.schema().clone())
}

/// Opens a sample file for reading.
fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<std::fs::File>> {
    let file = std::fs::File::open(path).map_err(TrainerError::io(path))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| TrainerError::Parquet {
        path: path.to_path_buf(),
        source,
    })
}

/// Calls `f` with the rows of every file, in order, `read_rows` at a time.
pub fn for_each_rows(
    files: &[PathBuf],
    spec: &Resolved,
    norm: &NormStats,
    read_rows: usize,
    mut f: impl FnMut(Rows) -> Result<bool>,
) -> Result<()> {
    for path in files {
        let pq = |source| TrainerError::Parquet {
            path: path.clone(),
            source,
        };
        let builder = open(path)?;
        let cols = projection(spec, builder.schema());
        let mask = ProjectionMask::roots(builder.parquet_schema(), cols);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(read_rows)
            .build()
            .map_err(pq)?;
        for batch in reader {
            let batch = batch.map_err(|e| TrainerError::Data {
                path: path.clone(),
                message: e.to_string(),
            })?;
            if !f(convert(spec, norm, &batch, path)?)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Mean and standard deviation of every dense field's transformed value over `files`.
pub fn norm_stats(files: &[PathBuf], spec: &Resolved) -> Result<NormStats> {
    let k = spec.dense.len();
    let (mut n, mut s, mut s2) = (vec![0f64; k], vec![0f64; k], vec![0f64; k]);
    let identity = NormStats {
        mu: vec![0.0; k],
        sigma: vec![1.0; k],
    };
    if k == 0 {
        return Ok(identity);
    }
    for path in files {
        let pq = |source| TrainerError::Parquet {
            path: path.clone(),
            source,
        };
        let builder = open(path)?;
        let schema = builder.schema().clone();
        let cols: Vec<usize> = spec
            .dense
            .iter()
            .filter_map(|d| schema.index_of(&d.column).ok())
            .collect();
        let mask = ProjectionMask::roots(builder.parquet_schema(), cols);
        for batch in builder.with_projection(mask).build().map_err(pq)? {
            let batch = batch.map_err(|e| TrainerError::Data {
                path: path.clone(),
                message: e.to_string(),
            })?;
            for (i, d) in spec.dense.iter().enumerate() {
                let a = batch
                    .column_by_name(&d.column)
                    .ok_or_else(|| TrainerError::Data {
                        path: path.clone(),
                        message: format!("missing column '{}'", d.column),
                    })?;
                for x in floats_of(a)
                    .map_err(|m| TrainerError::Data {
                        path: path.clone(),
                        message: format!("column '{}': {m}", d.column),
                    })?
                    .into_iter()
                    .flatten()
                    .filter(|x| x.is_finite())
                {
                    let x = transform(d.transform, x);
                    n[i] += 1.0;
                    s[i] += x;
                    s2[i] += x * x;
                }
            }
        }
    }
    let mut out = identity;
    for i in 0..k {
        if n[i] > 0.0 {
            let mu = s[i] / n[i];
            let var = (s2[i] / n[i] - mu * mu).max(0.0);
            out.mu[i] = mu;
            out.sigma[i] = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
        }
    }
    Ok(out)
}

/// Rows in `files`, from the Parquet footers.
pub fn count_rows(files: &[PathBuf]) -> Result<u64> {
    let mut n = 0;
    for path in files {
        n += open(path)?.metadata().file_metadata().num_rows() as u64;
    }
    Ok(n)
}

/// SHA-256 over the files' names and bytes: the fingerprint of a sample partition that a
/// checkpoint records, so that a partition rebuilt after training is noticed.
pub fn fingerprint(files: &[PathBuf]) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        h.update(name.as_bytes());
        h.update([0]);
        let mut f = std::fs::File::open(path).map_err(TrainerError::io(path))?;
        std::io::copy(&mut f, &mut h).map_err(TrainerError::io(path))?;
    }
    Ok(format!("{:x}", h.finalize()))
}
