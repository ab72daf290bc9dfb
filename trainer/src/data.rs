//! The data path: sample Parquet files -> host columns -> tensors, in batches.
//!
//! ```text
//! files --(parquet reader, projected)--> RecordBatch --(convert: hash, bucketize,
//!   normalise, one pass per column)--> Rows (columnar) --(bounded shuffle buffer)-->
//!   Batch (tensors, one copy per column) --(channel of 4)--> training thread
//! ```
//!
//! Conversion works column by column over Arrow buffers; the only copy into libtorch is
//! `Tensor::from_slice` of each finished column. Reading runs on its own thread so that
//! decoding overlaps the training step; `LoadTimes` tells how long each side worked and
//! waited.

use crate::error::{Result, TrainerError};
use crate::spec::{DenseTransform, Resolved, SparseSource, fnv1a, hash_id};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float32Type, Float64Type, Int8Type, Int64Type, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::{Duration, Instant};
use tch::Tensor;

/// Label columns every sample file must carry, in `Labels` order.
pub const LABELS: [&str; 8] = [
    "click",
    "dmi",
    "cart",
    "wish",
    "dma",
    "purchase",
    "cart_cal",
    "cart_global_cal",
];
const TRUTH: [&str; 3] = ["truth_p_click", "truth_p_cart", "truth_p_cvr"];

/// Normalisation statistics of the dense fields (mean and standard deviation of the
/// transformed value), fixed from the first training day and stored in checkpoints.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Default)]
pub struct NormStats {
    pub mu: Vec<f64>,
    pub sigma: Vec<f64>,
}

/// Columnar rows on the host, the unit of shuffling.
#[derive(Debug, Default, Clone)]
pub struct Rows {
    pub len: usize,
    /// Per sparse field: table row per sample.
    pub sparse: Vec<Vec<i64>>,
    /// Per dense field: transformed, normalised value per sample.
    pub dense: Vec<Vec<f32>>,
    /// Per list field: `len * max_len` table rows (padding: the region's null row) and mask.
    pub lists: Vec<(Vec<i64>, Vec<f32>)>,
    /// Per label of `LABELS`.
    pub labels: Vec<Vec<f32>>,
    pub sample_id: Vec<i64>,
    pub user_id: Vec<i64>,
    pub bad_case: Vec<bool>,
    /// Simulator truth (p_click, p_cart, p_cvr), NaN where absent.
    pub truth: Vec<Vec<f32>>,
}

impl Rows {
    fn empty(spec: &Resolved) -> Self {
        Rows {
            sparse: vec![Vec::new(); spec.sparse.len()],
            dense: vec![Vec::new(); spec.dense.len()],
            lists: vec![(Vec::new(), Vec::new()); spec.lists.len()],
            labels: vec![Vec::new(); LABELS.len()],
            truth: vec![Vec::new(); TRUTH.len()],
            ..Default::default()
        }
    }

    fn append(&mut self, other: &Rows) {
        self.gather_from(other, 0..other.len, None);
    }

    /// Appends rows `range` of `other` (through `perm` when given).
    fn gather_from(&mut self, other: &Rows, range: std::ops::Range<usize>, perm: Option<&[u32]>) {
        let idx = |i: usize| perm.map_or(i, |p| p[i] as usize);
        fn take<T: Copy>(
            dst: &mut Vec<T>,
            src: &[T],
            r: &std::ops::Range<usize>,
            f: &dyn Fn(usize) -> usize,
        ) {
            dst.extend(r.clone().map(|i| src[f(i)]));
        }
        for (d, s) in self.sparse.iter_mut().zip(&other.sparse) {
            take(d, s, &range, &idx);
        }
        for (d, s) in self.dense.iter_mut().zip(&other.dense) {
            take(d, s, &range, &idx);
        }
        for (d, s) in self.lists.iter_mut().zip(&other.lists) {
            let l = s.0.len().checked_div(other.len).unwrap_or(0);
            for i in range.clone() {
                let j = idx(i);
                d.0.extend_from_slice(&s.0[j * l..(j + 1) * l]);
                d.1.extend_from_slice(&s.1[j * l..(j + 1) * l]);
            }
        }
        for (d, s) in self.labels.iter_mut().zip(&other.labels) {
            take(d, s, &range, &idx);
        }
        for (d, s) in self.truth.iter_mut().zip(&other.truth) {
            take(d, s, &range, &idx);
        }
        take(&mut self.sample_id, &other.sample_id, &range, &idx);
        take(&mut self.user_id, &other.user_id, &range, &idx);
        take(&mut self.bad_case, &other.bad_case, &range, &idx);
        self.len += range.len();
    }

    /// Moves the rows into tensors.
    fn into_batch(self, spec: &Resolved) -> Batch {
        let n = self.len as i64;
        let dense = (!self.dense.is_empty()).then(|| {
            let cols: Vec<Tensor> = self.dense.iter().map(|c| Tensor::from_slice(c)).collect();
            Tensor::stack(&cols, 1)
        });
        let lists = self
            .lists
            .iter()
            .zip(&spec.lists)
            .map(|((ids, mask), l)| {
                let l = l.max_len as i64;
                (
                    Tensor::from_slice(ids).view([n, l]),
                    Tensor::from_slice(mask).view([n, l]),
                )
            })
            .collect();
        let labels = self.labels.iter().map(|c| Tensor::from_slice(c)).collect();
        Batch {
            len: self.len,
            sparse: self.sparse.iter().map(|c| Tensor::from_slice(c)).collect(),
            dense,
            lists,
            labels,
            meta: Meta {
                sample_id: self.sample_id,
                user_id: self.user_id,
                bad_case: self.bad_case,
                truth: self.truth,
            },
        }
    }
}

/// What evaluation needs besides the tensors.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    pub sample_id: Vec<i64>,
    pub user_id: Vec<i64>,
    pub bad_case: Vec<bool>,
    pub truth: Vec<Vec<f32>>,
}

/// One batch of tensors.
///
/// # Shapes
/// `sparse[f]`: `[B]` i64 rows of field f's table; `dense`: `[B, n_dense]` f32;
/// `lists[l]`: (`[B, L]` i64 rows, `[B, L]` f32 mask); `labels[k]`: `[B]` f32 in
/// `LABELS` order.
#[derive(Debug)]
pub struct Batch {
    pub len: usize,
    pub sparse: Vec<Tensor>,
    pub dense: Option<Tensor>,
    pub lists: Vec<(Tensor, Tensor)>,
    pub labels: Vec<Tensor>,
    pub meta: Meta,
}

impl Batch {
    /// The label tensor of a column of `LABELS`.
    pub fn label(&self, name: &str) -> &Tensor {
        let i = LABELS
            .iter()
            .position(|l| *l == name)
            .unwrap_or_else(|| panic!("'{name}' is not a label"));
        &self.labels[i]
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
    let column = |name: &str| -> Result<&ArrayRef> {
        batch
            .column_by_name(name)
            .ok_or_else(|| TrainerError::Data {
                path: path.to_path_buf(),
                message: format!("missing column '{name}'"),
            })
    };
    let data_err = |m: String| TrainerError::Data {
        path: path.to_path_buf(),
        message: m,
    };
    for (f, out) in spec.sparse.iter().zip(&mut rows.sparse) {
        let region = &spec.regions[f.region];
        let null_row = region.offset + region.buckets as i64;
        let array = column(&f.column)?;
        out.reserve(n);
        match &f.source {
            SparseSource::Ids => {
                let ids =
                    ids_of(array).map_err(|m| data_err(format!("column '{}': {m}", f.column)))?;
                out.extend(ids.iter().map(|id| match id {
                    Some(id) => region.offset + (hash_id(*id, region.salt) % region.buckets) as i64,
                    None => null_row,
                }));
            }
            SparseSource::Bucketize(bounds) => {
                let v = floats_of(array)
                    .map_err(|m| data_err(format!("column '{}': {m}", f.column)))?;
                out.extend(v.iter().map(|x| match x {
                    Some(x) if !x.is_nan() => {
                        region.offset + bounds.partition_point(|b| *b <= *x) as i64
                    }
                    _ => null_row,
                }));
            }
        }
    }
    for (i, (f, out)) in spec.dense.iter().zip(&mut rows.dense).enumerate() {
        let v = floats_of(column(&f.column)?)
            .map_err(|m| data_err(format!("column '{}': {m}", f.column)))?;
        let (mu, sigma) = (norm.mu[i], norm.sigma[i]);
        out.extend(v.iter().map(|x| match x {
            Some(x) if x.is_finite() => ((transform(f.transform, *x) - mu) / sigma).tanh() as f32,
            _ => 0.0,
        }));
    }
    for (l, out) in spec.lists.iter().zip(&mut rows.lists) {
        let region = &spec.regions[l.region];
        let null_row = region.offset + region.buckets as i64;
        let array = column(&l.column)?;
        let list = cast(
            array,
            &DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(
                DataType::Int64,
                true,
            ))),
        )
        .map_err(|e| data_err(format!("column '{}': {e}", l.column)))?;
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
    }
    for (name, out) in LABELS.iter().zip(&mut rows.labels) {
        let a = column(name)?;
        if a.null_count() > 0 {
            return Err(data_err(format!("label column '{name}' has nulls")));
        }
        let a = cast(a, &DataType::Int8).map_err(|e| data_err(format!("column '{name}': {e}")))?;
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
                let a = cast(a, &DataType::Float32)
                    .map_err(|e| data_err(format!("column '{name}': {e}")))?;
                let a = a.as_primitive::<Float32Type>();
                out.extend((0..n).map(|i| if a.is_null(i) { f32::NAN } else { a.value(i) }));
            }
            None => out.extend(std::iter::repeat_n(f32::NAN, n)),
        }
    }
    let ids = |name: &str| -> Result<Vec<i64>> {
        let v = ids_of(column(name)?).map_err(|m| data_err(format!("column '{name}': {m}")))?;
        Ok(v.into_iter().map(|x| x.unwrap_or(0) as i64).collect())
    };
    rows.sample_id = ids("sample_id")?;
    rows.user_id = ids("user_id")?;
    let bad = cast(column("bad_case")?, &DataType::Int8)
        .map_err(|e| data_err(format!("column 'bad_case': {e}")))?;
    rows.bad_case = bad
        .as_primitive::<Int8Type>()
        .values()
        .iter()
        .map(|v| *v != 0)
        .collect();
    Ok(rows)
}

fn transform(t: DenseTransform, x: f64) -> f64 {
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

fn floats_of(a: &ArrayRef) -> std::result::Result<Vec<Option<f64>>, String> {
    if !a.data_type().is_numeric() {
        return Err(format!("is {}, expected a number", a.data_type()));
    }
    let a = cast(a, &DataType::Float64).map_err(|e| e.to_string())?;
    Ok(a.as_primitive::<Float64Type>().iter().collect())
}

/// Columns a reader projects: the spec's, labels, ids, truth where present.
fn projection(spec: &Resolved, schema: &Schema) -> Vec<usize> {
    let mut want: Vec<&str> = spec.columns();
    want.extend(LABELS);
    want.extend(["sample_id", "user_id", "bad_case"]);
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

/// How batches are cut from the files.
#[derive(Debug, Clone, Copy)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Rows held for shuffling (0 = keep file order, for evaluation).
    pub shuffle_rows: usize,
    pub seed: u64,
}

/// Time the reading thread spent decoding and converting, and the time the consumer
/// waited for batches.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadTimes {
    pub decode: Duration,
    pub wait: Duration,
}

/// Batches of a set of files, produced on a reading thread.
pub struct Loader {
    rx: Receiver<Result<Batch>>,
    handle: Option<std::thread::JoinHandle<Duration>>,
    pub times: LoadTimes,
}

impl Loader {
    /// Starts reading `files`.
    pub fn start(
        files: Vec<PathBuf>,
        spec: Arc<Resolved>,
        norm: Arc<NormStats>,
        cfg: LoaderConfig,
    ) -> Self {
        let (tx, rx) = sync_channel::<Result<Batch>>(4);
        let handle = std::thread::spawn(move || {
            let mut busy = Duration::ZERO;
            let mut rng = crate::rng::SplitMix::new(cfg.seed);
            let mut buffer = Rows::empty(&spec);
            let cap = cfg.shuffle_rows.max(cfg.batch_size);
            let mut t = Instant::now();
            let mut emit =
                |buffer: &mut Rows, all: bool, busy: &mut Duration, t: &mut Instant| -> bool {
                    let perm: Option<Vec<u32>> =
                        (cfg.shuffle_rows > 0).then(|| rng.permutation(buffer.len));
                    let full = buffer.len / cfg.batch_size * cfg.batch_size;
                    let end = if all { buffer.len } else { full };
                    let mut start = 0;
                    while start < end {
                        let stop = (start + cfg.batch_size).min(end);
                        let mut rows = Rows::empty(&spec);
                        rows.gather_from(buffer, start..stop, perm.as_deref());
                        let batch = rows.into_batch(&spec);
                        *busy += t.elapsed();
                        if tx.send(Ok(batch)).is_err() {
                            return false;
                        }
                        *t = Instant::now();
                        start = stop;
                    }
                    let mut rest = Rows::empty(&spec);
                    rest.gather_from(buffer, end..buffer.len, perm.as_deref());
                    *buffer = rest;
                    true
                };
            let read_rows = cfg.batch_size.clamp(1024, 65536);
            let result = for_each_rows(&files, &spec, &norm, read_rows, |rows| {
                buffer.append(&rows);
                if buffer.len >= cap {
                    return Ok(emit(&mut buffer, false, &mut busy, &mut t));
                }
                Ok(true)
            });
            match result {
                Ok(()) => {
                    emit(&mut buffer, true, &mut busy, &mut t);
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
            busy + t.elapsed()
        });
        Loader {
            rx,
            handle: Some(handle),
            times: LoadTimes::default(),
        }
    }

    /// The next batch, or None at the end.
    pub fn next_batch(&mut self) -> Option<Result<Batch>> {
        let t = Instant::now();
        let b = self.rx.recv().ok();
        self.times.wait += t.elapsed();
        if b.is_none()
            && let Some(h) = self.handle.take()
        {
            self.times.decode = h.join().unwrap_or_default();
        }
        b
    }
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
