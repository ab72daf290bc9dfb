//! The data path: sample Parquet files -> host columns -> tensors, in batches. This file
//! holds the host and tensor forms ([`Rows`], [`Batch`]); the steps live in [`read`]
//! (files, projection, footers, statistics), [`convert`] (Arrow columns to rows) and
//! [`shuffle`] (the reading thread, its shuffle buffer and batches).
//!
//! ```text
//! files --(read: parquet reader, projected)--> RecordBatch --(convert: hash, bucketize,
//!   normalise, one pass per column)--> Rows (columnar) --(shuffle: bounded buffer)-->
//!   Batch (tensors, one copy per column) --(channel of 4)--> training thread
//! ```
//!
//! Conversion works column by column over Arrow buffers; the only copy into libtorch is
//! `Tensor::from_slice` of each finished column. Reading runs on its own thread so that
//! decoding overlaps the training step; `LoadTimes` tells how long each side worked and
//! waited.

mod convert;
mod read;
mod shuffle;

pub use convert::convert;
pub use read::{count_rows, file_schema, fingerprint, for_each_rows, norm_stats};
pub use shuffle::{LoadTimes, Loader, LoaderConfig};

use crate::spec::Resolved;
use esmc_schemas::Label;
use tch::Tensor;

/// Label columns every sample file must carry, in [`Label::ALL`] order.
pub const LABELS: [&str; Label::ALL.len()] = {
    let mut names = [""; Label::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = Label::ALL[i].as_str();
        i += 1;
    }
    names
};
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
    /// The `[B]` tensor of `label`.
    pub fn label_of(&self, label: Label) -> &Tensor {
        let i = Label::ALL
            .iter()
            .position(|l| *l == label)
            .expect("Label::ALL holds every label");
        &self.labels[i]
    }

    /// The tensor of the label column `name` (prefer [`Batch::label_of`]).
    pub fn label(&self, name: &str) -> &Tensor {
        let label = name.parse::<Label>().unwrap_or_else(|e| panic!("{e}"));
        self.label_of(label)
    }
}
