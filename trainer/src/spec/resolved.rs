//! The resolved spec: fields bound to embedding regions and physical tables, what the
//! data path and the embedding layer work from.

use super::{DenseTransform, Pooling};

/// Where a sparse value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SparseSource {
    /// Hashed ids.
    Ids,
    /// A number bucketized at these boundaries.
    Bucketize(Vec<f64>),
}

/// A contiguous block of rows of one physical table: one id space.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    pub group: String,
    pub dim: i64,
    pub buckets: u64,
    /// Physical table (index into `Resolved::tables`).
    pub table: usize,
    /// First row of the region in its table.
    pub offset: i64,
    /// Mixed into every id before hashing, so that groups use different hashes.
    pub salt: u64,
}

/// A sparse field after resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseField {
    pub name: String,
    pub column: String,
    pub region: usize,
    pub source: SparseSource,
}

/// A dense field after resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseField {
    pub name: String,
    pub column: String,
    pub transform: DenseTransform,
}

/// A list field after resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct ListField {
    pub name: String,
    pub column: String,
    pub region: usize,
    pub max_len: usize,
    pub pooling: Pooling,
    /// Index of the target sparse field (DIN).
    pub target: Option<usize>,
}

/// A physical embedding table: every region of one dimension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TableShape {
    pub rows: i64,
    pub dim: i64,
}

/// The resolved spec: what the data path and the embedding layer work from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub tables: Vec<TableShape>,
    pub regions: Vec<Region>,
    pub sparse: Vec<SparseField>,
    pub dense: Vec<DenseField>,
    pub lists: Vec<ListField>,
}

impl Resolved {
    /// Width of the concatenated input of the towers: sparse embeddings, pooled lists,
    /// dense values.
    pub fn input_width(&self) -> i64 {
        let dim = |r: usize| self.regions[r].dim;
        self.sparse.iter().map(|s| dim(s.region)).sum::<i64>()
            + self.lists.iter().map(|l| dim(l.region)).sum::<i64>()
            + self.dense.len() as i64
    }

    /// Every column the data path reads.
    pub fn columns(&self) -> Vec<&str> {
        let mut c: Vec<&str> = self.sparse.iter().map(|s| s.column.as_str()).collect();
        c.extend(self.dense.iter().map(|d| d.column.as_str()));
        c.extend(self.lists.iter().map(|l| l.column.as_str()));
        c.sort_unstable();
        c.dedup();
        c
    }
}
