//! Paired 95% intervals of the difference between two models scored on the same rows,
//! by a bootstrap over users.
//!
//! ```text
//! UserBootstrap::new(users, B, seed)   B resamples of the users (with replacement): a row
//!                                      counts as many times as its user was drawn
//! Replicated::of(metric rows, boot)    the metric on the full rows and on each resample
//!                                      (one sort, then one O(n) weighted sweep each)
//! paired(a_seeds, b_seeds, seed)       per resample: mean over a resample of the seeds of
//!                                      (A_k − B_k); the 2.5% and 97.5% percentiles
//! ```
//!
//! Both models are scored on the **same** resample of users, so what the users have in
//! common (which of them are easy) cancels in the difference: that is the pairing. Users,
//! not rows, are resampled because a user's rows are not independent. With several
//! seeds (model A seed k and model B seed k share the training seed) each replicate also
//! resamples the seeds, so the interval carries the training noise as well; the seeds'
//! own differences are returned to show their spread. Everything is seeded and
//! deterministic.
//!
//! The metric is any expected AUC ([`ScoreOrder::sweep`]): with labels as the
//! probabilities it is the realised AUC, with the simulator's truth the expected AUC.

use super::expected_auc::ScoreOrder;
use crate::rng::SplitMix;
use std::collections::HashMap;

/// The resamples of the users of a set of rows.
#[derive(Debug, Clone)]
pub struct UserBootstrap {
    /// Dense user index of each row.
    user_of_row: Vec<u32>,
    /// Per replicate, how many times each user was drawn.
    counts: Vec<Vec<u16>>,
}

impl UserBootstrap {
    /// `replicates` resamples of the distinct users of `users` (one entry per row), each
    /// drawing as many users as there are, uniformly with replacement.
    pub fn new(users: &[i64], replicates: usize, seed: u64) -> UserBootstrap {
        let mut dense: HashMap<i64, u32> = HashMap::new();
        let user_of_row: Vec<u32> = users
            .iter()
            .map(|u| {
                let next = dense.len() as u32;
                *dense.entry(*u).or_insert(next)
            })
            .collect();
        let n = dense.len();
        let counts = (0..replicates)
            .map(|r| {
                let mut rng = SplitMix::new(seed.wrapping_mul(0x100_0001).wrapping_add(r as u64));
                let mut c = vec![0u16; n];
                for _ in 0..n {
                    let u = (rng.next_u64() % n as u64) as usize;
                    c[u] = c[u].saturating_add(1);
                }
                c
            })
            .collect();
        UserBootstrap {
            user_of_row,
            counts,
        }
    }

    pub fn replicates(&self) -> usize {
        self.counts.len()
    }

    /// Rows the bootstrap was built over.
    pub fn rows(&self) -> usize {
        self.user_of_row.len()
    }
}

/// A metric of one model: its value on the full rows and on each resample.
#[derive(Debug, Clone)]
pub struct Replicated {
    pub point: Option<f64>,
    pub reps: Vec<Option<f64>>,
}

impl Replicated {
    /// The expected AUC of `scores` against `probs` over the rows where `mask` holds,
    /// on the full rows and on each of `boot`'s resamples. Rows are those `boot` was
    /// built over. (Labels as `probs`, 0 or 1, give the realised AUC.)
    ///
    /// # Panics
    /// If the slices differ in length from the bootstrap's rows.
    pub fn of(
        scores: &[f32],
        probs: &[f32],
        mask: Option<&[bool]>,
        boot: &UserBootstrap,
    ) -> Replicated {
        let n = boot.rows();
        assert!(
            scores.len() == n && probs.len() == n,
            "Replicated: lengths differ"
        );
        let rows: Vec<u32> = (0..n as u32)
            .filter(|&i| mask.is_none_or(|m| m[i as usize]))
            .collect();
        let s: Vec<f32> = rows.iter().map(|&i| scores[i as usize]).collect();
        let p: Vec<f64> = rows.iter().map(|&i| f64::from(probs[i as usize])).collect();
        let users: Vec<u32> = rows.iter().map(|&i| boot.user_of_row[i as usize]).collect();
        let Some(order) = ScoreOrder::new(&s) else {
            return Replicated {
                point: None,
                reps: vec![None; boot.replicates()],
            };
        };
        let point = order.sweep(|i| p[i], |_| 1.0);
        let reps = boot
            .counts
            .iter()
            .map(|c| order.sweep(|i| p[i], |i| f64::from(c[users[i] as usize])))
            .collect();
        Replicated { point, reps }
    }
}

/// A difference A − B with its paired 95% interval.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedInterval {
    /// Mean over seeds of A_k − B_k on the full rows.
    pub diff: f64,
    /// 2.5% percentile of the replicates' differences.
    pub lo: f64,
    /// 97.5% percentile.
    pub hi: f64,
    /// Replicates with both metrics defined.
    pub replicates: usize,
    /// A_k − B_k per seed, on the full rows.
    pub seed_diffs: Vec<f64>,
}

impl PairedInterval {
    /// `+1` if the interval lies above 0, `-1` below, `0` if it contains 0.
    pub fn sign(&self) -> i8 {
        if self.lo > 0.0 {
            1
        } else if self.hi < 0.0 {
            -1
        } else {
            0
        }
    }
}

/// The paired interval of A − B, where `a[k]` and `b[k]` are the two models trained with
/// seed k and replicated over the same [`UserBootstrap`]. Each replicate resamples the
/// seeds (with replacement, the same k for both models) and averages their differences.
/// `None` if no seed pair has both points, or fewer than half the replicates are defined.
///
/// # Panics
/// If `a` and `b` differ in length or in replicates.
pub fn paired(a: &[Replicated], b: &[Replicated], seed: u64) -> Option<PairedInterval> {
    assert_eq!(a.len(), b.len(), "paired: seeds differ");
    let seed_diffs: Vec<f64> = a
        .iter()
        .zip(b)
        .filter_map(|(x, y)| Some(x.point? - y.point?))
        .collect();
    if seed_diffs.is_empty() || seed_diffs.len() < a.len() {
        return None;
    }
    let s = a.len();
    let n_reps = a[0].reps.len();
    let mut diffs = Vec::with_capacity(n_reps);
    let mut rng = SplitMix::new(seed ^ 0x5e_ed0f_5eed);
    for r in 0..n_reps {
        let mut sum = 0.0;
        let mut ok = true;
        for _ in 0..s {
            // with one seed the draw is always 0: no seed noise to resample
            let k = if s == 1 {
                0
            } else {
                (rng.next_u64() % s as u64) as usize
            };
            match (a[k].reps[r], b[k].reps[r]) {
                (Some(x), Some(y)) => sum += x - y,
                _ => ok = false,
            }
        }
        if ok {
            diffs.push(sum / s as f64);
        }
    }
    if diffs.len() * 2 < n_reps.max(1) {
        return None;
    }
    diffs.sort_by(f64::total_cmp);
    let q = |f: f64| diffs[((f * (diffs.len() - 1) as f64).round()) as usize];
    Some(PairedInterval {
        diff: seed_diffs.iter().sum::<f64>() / seed_diffs.len() as f64,
        lo: q(0.025),
        hi: q(0.975),
        replicates: diffs.len(),
        seed_diffs,
    })
}

impl Replicated {
    /// The calibration error |ln(Σ score / Σ truth)| over the rows where `mask` holds,
    /// on the full rows and on each resample (0 = calibrated on average).
    ///
    /// # Panics
    /// If the slices differ in length from the bootstrap's rows.
    pub fn calibration_error(
        scores: &[f32],
        truth: &[f32],
        mask: Option<&[bool]>,
        boot: &UserBootstrap,
    ) -> Replicated {
        let n = boot.rows();
        assert!(
            scores.len() == n && truth.len() == n,
            "Replicated: lengths differ"
        );
        let rows: Vec<usize> = (0..n).filter(|&i| mask.is_none_or(|m| m[i])).collect();
        let stat = |w: &dyn Fn(usize) -> f64| -> Option<f64> {
            let (mut s, mut t) = (0.0f64, 0.0f64);
            for &i in &rows {
                let wi = w(i);
                s += wi * f64::from(scores[i]);
                t += wi * f64::from(truth[i]);
            }
            (s > 0.0 && t > 0.0 && s.is_finite() && t.is_finite()).then(|| (s / t).ln().abs())
        };
        Replicated {
            point: stat(&|_| 1.0),
            reps: boot
                .counts
                .iter()
                .map(|c| stat(&|i| f64::from(c[boot.user_of_row[i] as usize])))
                .collect(),
        }
    }
}
