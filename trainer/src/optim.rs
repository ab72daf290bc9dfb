//! Optimizers: Adam and Adagrad (with accumulator decay) for dense parameters, and the
//! same rules applied row-wise to embedding tables, touching only the rows a batch used.
//!
//! Row-wise Adam is "lazy" Adam (as PyTorch's `SparseAdam`): the moments of a row move
//! only on steps that touch it; bias correction uses the global step. Adagrad's
//! accumulator may decay (`accumulator_decay` < 1: `acc = decay * acc + g²`), the
//! AdagradDecay of streaming training that keeps the learning rate from vanishing over
//! months of days; for embedding rows the decay, too, applies when the row is touched.
//! All state is plain tensors, saved in checkpoints with the step.

use crate::embed::Touched;
use serde::{Deserialize, Serialize};
use tch::Tensor;

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimKind {
    Adam {
        #[serde(default = "b1")]
        beta1: f64,
        #[serde(default = "b2")]
        beta2: f64,
        #[serde(default = "adam_eps")]
        eps: f64,
    },
    Adagrad {
        #[serde(default = "init_acc")]
        initial_accumulator: f64,
        /// 1.0 = plain Adagrad.
        #[serde(default = "one")]
        accumulator_decay: f64,
        #[serde(default = "adagrad_eps")]
        eps: f64,
    },
}

fn b1() -> f64 {
    0.9
}
fn b2() -> f64 {
    0.999
}
fn adam_eps() -> f64 {
    1e-8
}
fn init_acc() -> f64 {
    0.0
}
fn one() -> f64 {
    1.0
}
fn adagrad_eps() -> f64 {
    1e-10
}

impl OptimKind {
    /// Adam with the usual betas.
    pub fn adam() -> Self {
        OptimKind::Adam {
            beta1: b1(),
            beta2: b2(),
            eps: adam_eps(),
        }
    }
}

/// Optimizer settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimConfig {
    #[serde(flatten)]
    pub kind: OptimKind,
    pub lr: f64,
    /// Learning rate of embedding rows (defaults to `lr`).
    #[serde(default)]
    pub embedding_lr: Option<f64>,
}

/// Optimizer state: one or two slots per dense parameter and per embedding table.
#[derive(Debug)]
pub struct Optimizer {
    pub cfg: OptimConfig,
    pub step: i64,
    pub dense: Vec<(Tensor, Tensor)>,
    pub tables: Vec<Vec<(Tensor, Tensor)>>,
}

impl Optimizer {
    /// Fresh state for `params` and the tables of each embedder.
    pub fn new(cfg: OptimConfig, params: &[Tensor], tables: &[&[Tensor]]) -> Self {
        let slots = |t: &Tensor| match cfg.kind {
            OptimKind::Adam { .. } => (t.zeros_like(), t.zeros_like()),
            OptimKind::Adagrad {
                initial_accumulator,
                ..
            } => (t.full_like(initial_accumulator), Tensor::new()),
        };
        // the tables' state is as large as the tables and read at random rows: huge pages
        let table_slots = |t: &Tensor| match cfg.kind {
            OptimKind::Adam { .. } => (
                crate::hugepage::zeros_like(t),
                crate::hugepage::zeros_like(t),
            ),
            OptimKind::Adagrad {
                initial_accumulator,
                ..
            } => (
                crate::hugepage::full_like(t, initial_accumulator),
                Tensor::new(),
            ),
        };
        Optimizer {
            cfg,
            step: 0,
            dense: params.iter().map(slots).collect(),
            tables: tables
                .iter()
                .map(|ts| ts.iter().map(table_slots).collect())
                .collect(),
        }
    }

    /// Named state tensors (for checkpoints).
    pub fn named_state(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("step".to_string(), Tensor::from_slice(&[self.step]))];
        let mut push = |name: String, (a, b): &(Tensor, Tensor)| {
            out.push((format!("{name}.s0"), a.shallow_clone()));
            if b.defined() {
                out.push((format!("{name}.s1"), b.shallow_clone()));
            }
        };
        for (i, s) in self.dense.iter().enumerate() {
            push(format!("dense{i}"), s);
        }
        for (e, ts) in self.tables.iter().enumerate() {
            for (t, s) in ts.iter().enumerate() {
                push(format!("emb{e}.table{t}"), s);
            }
        }
        out
    }

    /// Dense step over `params` (their `.grad()`), then zeroes the gradients.
    pub fn step_dense(&mut self, params: &mut [Tensor]) {
        self.step += 1;
        let lr = self.cfg.lr;
        let step = self.step;
        let kind = self.cfg.kind;
        tch::no_grad(|| {
            for (p, (s0, s1)) in params.iter_mut().zip(self.dense.iter_mut()) {
                let g = p.grad();
                if !g.defined() {
                    continue;
                }
                update(kind, lr, step, p, s0, s1, &g);
                p.zero_grad();
            }
        });
    }

    /// Row-wise step of embedder `e`'s tables over the rows a batch touched. Call after
    /// `step_dense` of the same batch (it uses the same step count).
    ///
    /// Repeated rows' gradients are summed first (a row moves once per step), in the
    /// order the batch gathered them. The update runs in place over the touched rows'
    /// memory (tables and state are contiguous f32 tensors owned by the model and this
    /// optimizer), with no gathered copies, split by row between the threads of
    /// libtorch's OpenMP team (`team`): each thread owns the rows whose hash falls to it,
    /// so no row is written by two threads and the result does not depend on the number
    /// of threads.
    pub fn step_rows(&mut self, e: usize, tables: &mut [Tensor], touched: &[Touched]) {
        let lr = self.cfg.embedding_lr.unwrap_or(self.cfg.lr) as f32;
        let rule = Rule::new(self.cfg.kind, lr, self.step.max(1));
        let threads = tch::get_num_threads().max(1) as usize;
        for (t, table) in tables.iter_mut().enumerate() {
            // every gather of this table in the batch: rows (with repeats) and gradients
            let mut rows: Vec<i64> = Vec::new();
            let mut grads: Vec<Tensor> = Vec::new();
            for x in touched.iter().filter(|x| x.table == t) {
                let g = x.leaf.grad();
                if g.defined() {
                    rows.extend(Vec::<i64>::try_from(&x.rows).expect("row ids are i64"));
                    grads.push(g);
                }
            }
            if rows.is_empty() {
                continue;
            }
            let g = if grads.len() == 1 {
                grads.pop().unwrap().contiguous()
            } else {
                Tensor::cat(&grads, 0).contiguous()
            };
            let d = table.size()[1] as usize;
            let (s0, s1) = &mut self.tables[e][t];
            let state = Rows {
                w: f32s_mut(table).as_mut_ptr(),
                a: f32s_mut(s0).as_mut_ptr(),
                v: if s1.defined() {
                    f32s_mut(s1).as_mut_ptr()
                } else {
                    std::ptr::null_mut()
                },
                d,
            };
            let grad = f32s(&g);
            let rows = &rows;
            crate::team::run(threads, &|k, n| {
                // this thread's rows, each with the positions that gathered it, in order
                let mut mine: Vec<(i64, u32)> = rows
                    .iter()
                    .enumerate()
                    .filter(|&(_, &r)| owner(r, n) == k)
                    .map(|(i, &r)| (r, i as u32))
                    .collect();
                mine.sort_unstable();
                // SAFETY: the rows come from the table's index range, and rows are owned
                // by exactly one thread, so the writes of two threads never overlap.
                unsafe { rule.apply(&state, &mine, grad) };
            });
        }
    }
}

/// The thread (of `n`) that owns table row `r`.
fn owner(r: i64, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    (((r as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) % n as u64) as usize
}

/// Raw views of a table and its optimizer state, `[rows, d]` each (`v` null unless Adam).
struct Rows {
    w: *mut f32,
    a: *mut f32,
    v: *mut f32,
    d: usize,
}

// SAFETY: the threads of a step write disjoint rows (`owner`).
unsafe impl Sync for Rows {}

/// An update rule with its per-step constants.
#[derive(Clone, Copy)]
enum Rule {
    Adam {
        b1: f32,
        b2: f32,
        eps: f32,
        step_size: f32,
        inv_sqrt_bc2: f32,
    },
    Adagrad {
        lr: f32,
        decay: f32,
        eps: f32,
    },
}

impl Rule {
    fn new(kind: OptimKind, lr: f32, step: i64) -> Self {
        match kind {
            OptimKind::Adam { beta1, beta2, eps } => {
                let bc1 = 1.0 - beta1.powi(step as i32);
                let bc2 = 1.0 - beta2.powi(step as i32);
                Rule::Adam {
                    b1: beta1 as f32,
                    b2: beta2 as f32,
                    eps: eps as f32,
                    step_size: (lr as f64 / bc1) as f32,
                    inv_sqrt_bc2: (1.0 / bc2.sqrt()) as f32,
                }
            }
            OptimKind::Adagrad {
                accumulator_decay,
                eps,
                ..
            } => Rule::Adagrad {
                lr,
                decay: accumulator_decay as f32,
                eps: eps as f32,
            },
        }
    }

    /// Updates the rows of `keys` (`(row, position)` sorted, so a row's positions are
    /// adjacent and in gather order): their gradient rows `grad[position]` are summed,
    /// then the row moves once. The rows are scattered over tables larger than the
    /// caches, so the memory of a row a few keys ahead is requested early.
    ///
    /// # Safety
    /// Every row is within the tables of `st`, and no other thread writes these rows.
    unsafe fn apply(&self, st: &Rows, keys: &[(i64, u32)], grad: &[f32]) {
        let d = st.d;
        let mut g = vec![0f32; d];
        let mut i = 0;
        while i < keys.len() {
            #[cfg(target_arch = "x86_64")]
            if let Some(&(ahead, _)) = keys.get(i + 8) {
                use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
                let o = ahead as usize * d;
                for p in [st.w, st.a, st.v] {
                    if !p.is_null() {
                        // SAFETY: a hint for an address inside the table.
                        unsafe {
                            _mm_prefetch(p.add(o) as *const i8, _MM_HINT_T0);
                            _mm_prefetch(p.add(o + d - 1) as *const i8, _MM_HINT_T0);
                        }
                    }
                }
            }
            let row = keys[i].0;
            let first = keys[i].1 as usize * d;
            g.copy_from_slice(&grad[first..first + d]);
            i += 1;
            while i < keys.len() && keys[i].0 == row {
                let p = keys[i].1 as usize * d;
                for (acc, x) in g.iter_mut().zip(&grad[p..p + d]) {
                    *acc += x;
                }
                i += 1;
            }
            let o = row as usize * d;
            // SAFETY: row < rows of the table (caller), so o + d is inside; this thread
            // is the only writer of the row.
            unsafe {
                let (w, a) = (st.w.add(o), st.a.add(o));
                match *self {
                    Rule::Adam {
                        b1,
                        b2,
                        eps,
                        step_size,
                        inv_sqrt_bc2,
                    } => {
                        let v = st.v.add(o);
                        for (j, &gj) in g.iter().enumerate() {
                            let m = b1 * *a.add(j) + (1.0 - b1) * gj;
                            let vv = b2 * *v.add(j) + (1.0 - b2) * gj * gj;
                            *a.add(j) = m;
                            *v.add(j) = vv;
                            *w.add(j) -= step_size * m / (vv.sqrt() * inv_sqrt_bc2 + eps);
                        }
                    }
                    Rule::Adagrad { lr, decay, eps } => {
                        for (j, &gj) in g.iter().enumerate() {
                            let acc = decay * *a.add(j) + gj * gj;
                            *a.add(j) = acc;
                            *w.add(j) -= lr * gj / (acc.sqrt() + eps);
                        }
                    }
                }
            }
        }
    }
}

/// The elements of a contiguous f32 CPU tensor.
fn f32s(t: &Tensor) -> &[f32] {
    assert!(t.kind() == tch::Kind::Float && t.is_contiguous() && t.device() == tch::Device::Cpu);
    let n = t.numel();
    // SAFETY: a contiguous CPU float tensor holds `numel` f32 at `data_ptr`, alive as long
    // as `t` is borrowed.
    unsafe { std::slice::from_raw_parts(t.data_ptr() as *const f32, n) }
}

/// The elements of a contiguous f32 CPU tensor, mutably. The caller holds the only
/// reference to the storage (the optimizer's state, the model's tables outside autograd).
fn f32s_mut(t: &mut Tensor) -> &mut [f32] {
    assert!(t.kind() == tch::Kind::Float && t.is_contiguous() && t.device() == tch::Device::Cpu);
    let n = t.numel();
    // SAFETY: as in `f32s`; the `&mut` borrow keeps other Rust references away, and the
    // tables and state are never shared with autograd (gathers copy them).
    unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, n) }
}

/// One update of `p` (in place) with state `s0`, `s1` (in place) and gradient `g`.
fn update(
    kind: OptimKind,
    lr: f64,
    step: i64,
    p: &mut Tensor,
    s0: &mut Tensor,
    s1: &mut Tensor,
    g: &Tensor,
) {
    match kind {
        OptimKind::Adam { beta1, beta2, eps } => {
            let _ = s0.g_mul_scalar_(beta1).g_add_(&(g * (1.0 - beta1)));
            let _ = s1
                .g_mul_scalar_(beta2)
                .g_add_(&(g.square() * (1.0 - beta2)));
            let bc1 = 1.0 - beta1.powi(step as i32);
            let bc2 = 1.0 - beta2.powi(step as i32);
            let denom = (s1.sqrt() / bc2.sqrt()) + eps;
            let _ = p.g_sub_(&(s0.shallow_clone() / denom * (lr / bc1)));
        }
        OptimKind::Adagrad {
            accumulator_decay,
            eps,
            ..
        } => {
            if accumulator_decay != 1.0 {
                let _ = s0.g_mul_scalar_(accumulator_decay);
            }
            let _ = s0.g_add_(&g.square());
            let _ = p.g_sub_(&(g / (s0.sqrt() + eps) * lr));
        }
    }
}
