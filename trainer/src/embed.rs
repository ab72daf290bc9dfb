//! The shared embedding layer: hashed id rows -> vectors, list pooling, the towers' input.
//!
//! ```text
//! per table t:  idx  = stack(rows of t's sparse fields, dim 1)                  [B * F_t]
//!               leaf = table[idx] (requires grad)                                [B * F_t, d]
//!               block = leaf.view(B, F_t * d)
//! per list l:   leaf = table[ids] -> [B, L, d] -> mean or DIN pooling -> [B, d]
//! input = cat(blocks, pooled lists, dense values)                               [B, W]
//! ```
//!
//! Tables are plain tensors outside autograd. A training step only builds a small leaf of
//! the rows the batch gathered; the optimizer then sums the gradients of repeated rows and
//! updates each touched row once, in place (`optim::Optimizer::step_rows`), so a step
//! never touches the rest of the table. This is what keeps the embedding path cheap: a
//! dense step over a 2M-row table costs more than the towers.

use crate::data::Batch;
use crate::nn::{Act, Mlp, ParamStore};
use crate::spec::{Pooling, Resolved};
use std::sync::Arc;
use tch::{Kind, Tensor};

/// Rows of one table touched by a batch, with their gradient-carrying leaf.
#[derive(Debug)]
pub struct Touched {
    /// Index of the table in `Embedder::tables`.
    pub table: usize,
    /// Row ids gathered, `[N]` (with repeats).
    pub rows: Tensor,
    /// The gathered rows, `[N, d]`, a leaf that receives the gradient.
    pub leaf: Tensor,
}

/// Embedding tables of one id space layout, plus DIN attention units of list fields.
#[derive(Debug)]
pub struct Embedder {
    pub spec: Arc<Resolved>,
    /// One tensor per physical table, `[rows, dim]`, no autograd.
    pub tables: Vec<Tensor>,
    /// Names in checkpoints (`{prefix}.table{t}`).
    pub names: Vec<String>,
    din: Vec<Option<Mlp>>,
}

impl Embedder {
    /// Tables initialised N(0, `std`²); DIN units' parameters go into `ps`.
    pub fn new(spec: Arc<Resolved>, ps: &mut ParamStore, prefix: &str, std: f64) -> Self {
        let tables = spec
            .tables
            .iter()
            .map(|t| {
                // randn * std, written into memory that asks for huge pages first
                let mut table = crate::hugepage::empty(&[t.rows, t.dim]);
                let _ = table.normal_(0.0, 1.0).g_mul_scalar_(std);
                table
            })
            .collect();
        let names = (0..spec.tables.len())
            .map(|t| format!("{prefix}.table{t}"))
            .collect();
        let din = spec
            .lists
            .iter()
            .map(|l| {
                (l.pooling == Pooling::Din).then(|| {
                    let d = spec.regions[l.region].dim;
                    Mlp::new(
                        ps,
                        &format!("{prefix}.din.{}", l.name),
                        4 * d,
                        &[36],
                        1,
                        Act::Relu,
                        0.0,
                    )
                })
            })
            .collect();
        Embedder {
            spec,
            tables,
            names,
            din,
        }
    }

    /// The towers' input for a batch; in training also the touched rows.
    ///
    /// # Shapes
    /// returns `[B, spec.input_width()]`: per table, its sparse fields' embeddings side
    /// by side (`[B, F_t * d]`, fields in spec order), then pooled lists, then dense values.
    pub fn input(&self, batch: &Batch, train: bool, touched: &mut Vec<Touched>) -> Tensor {
        let b = batch.len as i64;
        let spec = &self.spec;
        // the gathered rows become the autograd leaf; the optimizer sums the gradients of
        // repeated rows itself, which is cheaper than libtorch's index_add backward
        let gather = |t: usize, idx: Tensor, touched: &mut Vec<Touched>| -> Tensor {
            let rows = gather_rows(&self.tables[t], &idx);
            if train {
                let leaf = rows.set_requires_grad(true);
                touched.push(Touched {
                    table: t,
                    rows: idx,
                    leaf: leaf.shallow_clone(),
                });
                leaf
            } else {
                rows
            }
        };
        let mut sparse_out: Vec<Option<Tensor>> = (0..spec.sparse.len()).map(|_| None).collect();
        let mut inputs: Vec<Tensor> = Vec::new();
        for t in 0..self.tables.len() {
            let fields: Vec<usize> = (0..spec.sparse.len())
                .filter(|&f| spec.regions[spec.sparse[f].region].table == t)
                .collect();
            if fields.is_empty() {
                continue;
            }
            let cols: Vec<&Tensor> = fields.iter().map(|&f| &batch.sparse[f]).collect();
            // [B, F_t] row-major, so the gathered rows are already [B, F_t * d]
            let idx = Tensor::stack(&cols, 1).view([-1]);
            let block = gather(t, idx, touched).view([b, fields.len() as i64, -1]);
            for (k, &f) in fields.iter().enumerate() {
                if spec.lists.iter().any(|l| l.target == Some(f)) {
                    sparse_out[f] = Some(block.select(1, k as i64));
                }
            }
            inputs.push(block.view([b, -1]));
        }
        let mut list_out: Vec<Option<Tensor>> = (0..spec.lists.len()).map(|_| None).collect();
        for (l, list) in spec.lists.iter().enumerate() {
            let t = spec.regions[list.region].table;
            let ids = batch.lists[l].0.view([-1]);
            list_out[l] = Some(gather(t, ids, touched).view([b, list.max_len as i64, -1]));
        }
        for (l, list) in spec.lists.iter().enumerate() {
            let e = list_out[l].take().expect("every list gathered"); // [B, L, d]
            let mask = &batch.lists[l].1; // [B, L]
            let pooled = match (&self.din[l], list.target) {
                (Some(unit), Some(target)) => {
                    let q = sparse_out[target].as_ref().expect("targets are gathered");
                    let q = q.unsqueeze(1).expand_as(&e); // [B, L, d]
                    let feats = Tensor::cat(&[&e, &q, &(&e - &q), &(&e * &q)], 2);
                    let d4 = feats.size()[2];
                    let w = unit.forward(&feats.view([-1, d4]), train).view([b, -1]) * mask; // [B, L]
                    (e * w.unsqueeze(2)).sum_dim_intlist(1, false, Kind::Float)
                }
                _ => {
                    let n = mask.sum_dim_intlist(1, true, Kind::Float).clamp_min(1.0); // [B, 1]
                    (e * mask.unsqueeze(2)).sum_dim_intlist(1, false, Kind::Float) / n
                }
            };
            inputs.push(pooled);
        }
        if let Some(d) = &batch.dense {
            inputs.push(d.shallow_clone());
        }
        if inputs.len() == 1 {
            // one block (sparse fields of one table only): no copy
            return inputs.pop().expect("one input");
        }
        Tensor::cat(&inputs, 1)
    }
}

/// `table.index_select(0, idx)`: the rows `idx` of a `[rows, d]` f32 table as a new
/// `[N, d]` tensor. Split between the threads of libtorch's OpenMP team, with each row's
/// memory requested a few rows ahead: the rows are scattered over a table larger than
/// the caches, so the copy waits on memory, not arithmetic.
///
/// # Panics
/// If an id is outside the table (the spec's hashing never produces one).
pub fn gather_rows(table: &Tensor, idx: &Tensor) -> Tensor {
    assert!(table.kind() == Kind::Float && table.is_contiguous() && table.dim() == 2);
    let (rows, d) = (table.size()[0], table.size()[1] as usize);
    let idx = idx.contiguous();
    assert!(idx.kind() == Kind::Int64);
    // SAFETY: a contiguous CPU i64 tensor holds numel i64 at data_ptr, alive with `idx`.
    let ids = unsafe { std::slice::from_raw_parts(idx.data_ptr() as *const i64, idx.numel()) };
    assert!(
        ids.iter().all(|&r| (0..rows).contains(&r)),
        "embedding row id outside the table of {rows} rows"
    );
    let out = Tensor::empty(
        [ids.len() as i64, d as i64],
        (Kind::Float, tch::Device::Cpu),
    );
    struct Ptrs(*const f32, *mut f32);
    // SAFETY: threads write disjoint ranges of `out` and only read the table.
    unsafe impl Sync for Ptrs {}
    let p = Ptrs(table.data_ptr() as *const f32, out.data_ptr() as *mut f32);
    let threads = tch::get_num_threads().max(1) as usize;
    crate::team::run(threads, &|k, n| {
        let (lo, hi) = (ids.len() * k / n, ids.len() * (k + 1) / n);
        let p = &p;
        for i in lo..hi {
            #[cfg(target_arch = "x86_64")]
            if let Some(&ahead) = ids[..hi].get(i + 8) {
                use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
                // SAFETY: a hint for an address inside the table.
                unsafe {
                    let a = p.0.add(ahead as usize * d);
                    _mm_prefetch(a as *const i8, _MM_HINT_T0);
                    _mm_prefetch(a.add(d - 1) as *const i8, _MM_HINT_T0);
                }
            }
            // SAFETY: ids[i] < rows (checked), i < N; the ranges [lo, hi) are disjoint.
            unsafe {
                std::ptr::copy_nonoverlapping(p.0.add(ids[i] as usize * d), p.1.add(i * d), d);
            }
        }
    });
    out
}
