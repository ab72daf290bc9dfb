//! The row-wise embedding update against the same rule computed independently, row by
//! row in f64: repeated rows move once with their gradients summed, untouched rows do
//! not move, the moments carry over between steps, and the result does not depend on
//! the number of threads that share the update.

use esmc_trainer::embed::Touched;
use esmc_trainer::optim::{OptimConfig, OptimKind, Optimizer};
use tch::{Kind, Tensor};

const ROWS: i64 = 5000;

/// libtorch's generator and thread count are global to the process: the tests of this
/// file take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
const D: i64 = 7;

/// Gathered rows of two "fields" with repeats within and across them.
fn batch_rows(step: i64) -> Vec<Vec<i64>> {
    vec![
        vec![3, 7, 3, 4999, 0, 7, 7, 1200 + step],
        vec![7, 42, 42, 3, 2500],
    ]
}

/// The gathers of one step: (rows, their gradient rows flattened).
type Grads = Vec<(Vec<i64>, Vec<f32>)>;

/// One step: touches `rows` with gradient rows `(i + 1) * 0.01 * (j - 3.5)` (position i,
/// column j, a different value at every position) and applies `step_rows`.
fn step(opt: &mut Optimizer, table: &mut Tensor, step: i64) -> Grads {
    opt.step = step;
    let mut touched = Vec::new();
    let mut grads = Vec::new();
    for rows in batch_rows(step) {
        let idx = Tensor::from_slice(&rows);
        let leaf = table.index_select(0, &idx).set_requires_grad(true);
        let n = rows.len();
        let g: Vec<f32> = (0..n)
            .flat_map(|i| (0..D).map(move |j| (i as f32 + 1.0) * 0.01 * (j as f32 - 3.5)))
            .collect();
        let coeff = Tensor::from_slice(&g).view([n as i64, D]);
        (&leaf * &coeff).sum(Kind::Float).backward();
        touched.push(Touched {
            table: 0,
            rows: idx,
            leaf,
        });
        grads.push((rows, g));
    }
    opt.step_rows(0, std::slice::from_mut(table), &touched);
    grads
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.view([-1])).unwrap()
}

/// The rule in f64, row by row: returns the table after the given steps.
fn reference(kind: OptimKind, lr: f64, start: &[f32], steps: &[Grads]) -> Vec<f32> {
    let d = D as usize;
    let mut w: Vec<f64> = start.iter().map(|&x| x as f64).collect();
    let mut a = vec![0f64; w.len()];
    let mut v = vec![0f64; w.len()];
    for (s, grads) in steps.iter().enumerate() {
        let step = s as i32 + 1;
        let mut summed: std::collections::BTreeMap<i64, Vec<f64>> = Default::default();
        for (rows, g) in grads {
            for (i, &r) in rows.iter().enumerate() {
                let acc = summed.entry(r).or_insert_with(|| vec![0.0; d]);
                for j in 0..d {
                    acc[j] += g[i * d + j] as f64;
                }
            }
        }
        for (r, g) in summed {
            for (j, &gj) in g.iter().enumerate() {
                let o = r as usize * d + j;
                match kind {
                    OptimKind::Adam { beta1, beta2, eps } => {
                        a[o] = beta1 * a[o] + (1.0 - beta1) * gj;
                        v[o] = beta2 * v[o] + (1.0 - beta2) * gj * gj;
                        let mhat = a[o] / (1.0 - beta1.powi(step));
                        let vhat = v[o] / (1.0 - beta2.powi(step));
                        w[o] -= lr * mhat / (vhat.sqrt() + eps);
                    }
                    OptimKind::Adagrad {
                        accumulator_decay,
                        eps,
                        ..
                    } => {
                        a[o] = accumulator_decay * a[o] + gj * gj;
                        w[o] -= lr * gj / (a[o].sqrt() + eps);
                    }
                }
            }
        }
    }
    w.iter().map(|&x| x as f32).collect()
}

fn run(kind: OptimKind, threads: i32) -> (Vec<f32>, Vec<f32>, Vec<Grads>) {
    tch::set_num_threads(threads);
    tch::manual_seed(3);
    let mut table = Tensor::randn([ROWS, D], (Kind::Float, tch::Device::Cpu));
    let start = values(&table);
    let cfg = OptimConfig {
        kind,
        lr: 0.05,
        embedding_lr: None,
    };
    let mut opt = Optimizer::new(cfg, &[], &[std::slice::from_ref(&table)]);
    let steps = (1..=3).map(|s| step(&mut opt, &mut table, s)).collect();
    (start, values(&table), steps)
}

fn check(kind: OptimKind) {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (start, one, steps) = run(kind, 1);
    let (_, two, _) = run(kind, 2);
    assert_eq!(one, two, "the update depends on the number of threads");
    let want = reference(kind, 0.05, &start, &steps);
    let touched: std::collections::BTreeSet<i64> = steps
        .iter()
        .flatten()
        .flat_map(|(rows, _)| rows.iter().copied())
        .collect();
    for (i, (&got, &want)) in one.iter().zip(&want).enumerate() {
        let row = i as i64 / D;
        if touched.contains(&row) {
            assert!(
                (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                "row {row} col {}: {got} vs {want}",
                i as i64 % D
            );
            assert_ne!(got, start[i], "row {row} was touched but did not move");
        } else {
            assert_eq!(got, start[i], "untouched row {row} moved");
        }
    }
}

#[test]
fn row_wise_adam_matches_lazy_adam_over_summed_gradients() {
    check(OptimKind::adam());
}

#[test]
fn row_wise_adagrad_with_decay_matches_the_rule() {
    check(OptimKind::Adagrad {
        initial_accumulator: 0.0,
        accumulator_decay: 0.9,
        eps: 1e-10,
    });
}

#[test]
fn the_parallel_gather_equals_index_select() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(5);
    let table = Tensor::randn([ROWS, D], (Kind::Float, tch::Device::Cpu));
    let ids = Tensor::randint(ROWS, [20 * 1024 + 3], (Kind::Int64, tch::Device::Cpu));
    for threads in [1, 2] {
        tch::set_num_threads(threads);
        let got = esmc_trainer::embed::gather_rows(&table, &ids);
        assert!(got.equal(&table.index_select(0, &ids)));
    }
    let outside = Tensor::from_slice(&[0i64, ROWS]);
    let r = std::panic::catch_unwind(|| esmc_trainer::embed::gather_rows(&table, &outside));
    assert!(r.is_err(), "an id outside the table must not be read");
}
