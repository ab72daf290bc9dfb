//! Expected AUC of scores against true probabilities, and Spearman rank correlation.
//!
//! With a simulator the probability `p_i` that row `i` is positive is known, so a model
//! can be scored by the AUC it would get **in expectation over the labels** instead of on
//! one noisy draw of them:
//!
//! ```text
//! E-AUC = Σ_{i≠j} p_i (1 − p_j) ([s_i > s_j] + ½[s_i = s_j]) / Σ_{i≠j} p_i (1 − p_j)
//! ```
//!
//! (the ratio of the expected numbers of concordant and of positive/negative pairs). It is
//! exact in `O(n log n)`: one sort by score, then a sweep over tie groups with prefix sums
//! of the negative mass `q = 1 − p` below the group. Within a tie group `G` the pairs
//! count half, and the `i = j` terms `p_i q_i` are taken out of both the group's term and
//! the denominator. With labels as probabilities (`p ∈ {0, 1}`) the `i = j` terms vanish
//! and E-AUC is the realised AUC.
//!
//! [`ScoreOrder`] keeps the sort so that the sweep can be repeated under row weights
//! (integer weights = rows repeated, as a bootstrap resample does) in `O(n)` each.

use super::order_key;

/// Rows sorted by ascending score, with the tie groups marked: the sort of one set of
/// scores, reusable by every weighting of its rows.
#[derive(Debug, Clone)]
pub struct ScoreOrder {
    /// Row indices by ascending score.
    rows: Vec<u32>,
    /// End (exclusive, into `rows`) of each tie group, ascending.
    ends: Vec<u32>,
}

impl ScoreOrder {
    /// The order of `scores`; `None` if any score is `NaN`. `-0.0` ties with `0.0`.
    pub fn new(scores: &[f32]) -> Option<ScoreOrder> {
        if scores.iter().any(|s| s.is_nan()) {
            return None;
        }
        let mut keyed: Vec<(u32, u32)> = scores
            .iter()
            .enumerate()
            .map(|(i, &s)| (order_key(s), i as u32))
            .collect();
        keyed.sort_unstable();
        let mut ends = Vec::new();
        for i in 1..keyed.len() {
            if keyed[i].0 != keyed[i - 1].0 {
                ends.push(i as u32);
            }
        }
        if !keyed.is_empty() {
            ends.push(keyed.len() as u32);
        }
        Some(ScoreOrder {
            rows: keyed.into_iter().map(|(_, i)| i).collect(),
            ends,
        })
    }

    /// Rows ordered.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The E-AUC sweep with row `i` weighted `weight(i)` (a row of weight `k` counts as
    /// `k` copies of itself; copies of one row are distinct rows, so their pairs count).
    /// `p(i)` is row `i`'s probability of being positive. `None` when the denominator is
    /// not positive (no positive or no negative mass) or a probability is `NaN`.
    pub fn sweep(&self, p: impl Fn(usize) -> f64, weight: impl Fn(usize) -> f64) -> Option<f64> {
        // num2 = 2 × numerator, so that the half-counted ties stay sums of products
        let (mut num2, mut q_below, mut p_total, mut self_pairs) = (0.0f64, 0.0, 0.0, 0.0);
        let mut start = 0usize;
        for &end in &self.ends {
            let (mut pg, mut qg, mut sg) = (0.0f64, 0.0f64, 0.0f64);
            for &r in &self.rows[start..end as usize] {
                let (r, w) = (r as usize, weight(r as usize));
                if w == 0.0 {
                    continue;
                }
                let pi = p(r);
                if pi.is_nan() {
                    return None;
                }
                pg += w * pi;
                qg += w * (1.0 - pi);
                sg += w * pi * (1.0 - pi);
            }
            num2 += 2.0 * pg * q_below + (pg * qg - sg);
            q_below += qg;
            p_total += pg;
            self_pairs += sg;
            start = end as usize;
        }
        let den = p_total * q_below - self_pairs;
        (den > 0.0).then(|| num2 / (2.0 * den))
    }
}

/// Expected AUC of `scores` against the true probabilities `probs` (definition in the
/// module doc), exact, `O(n log n)`.
///
/// `None` if the input is empty, any score or probability is `NaN`, or the expected
/// number of positive/negative pairs is zero (every `p` is 0, or every `p` is 1).
///
/// # Panics
/// If `scores` and `probs` differ in length.
pub fn expected_auc(scores: &[f32], probs: &[f32]) -> Option<f64> {
    weighted_expected_auc(scores, probs, None)
}

/// [`expected_auc`] with each row counted `weights[i]` times (a bootstrap resample);
/// `None` weights are all 1.
///
/// # Panics
/// If the slices differ in length.
pub fn weighted_expected_auc(
    scores: &[f32],
    probs: &[f32],
    weights: Option<&[f64]>,
) -> Option<f64> {
    assert_eq!(
        scores.len(),
        probs.len(),
        "expected_auc: scores and probs differ in length"
    );
    if let Some(w) = weights {
        assert_eq!(
            scores.len(),
            w.len(),
            "expected_auc: weights differ in length"
        );
    }
    let order = ScoreOrder::new(scores)?;
    let p = |i: usize| f64::from(probs[i]);
    match weights {
        None => order.sweep(p, |_| 1.0),
        Some(w) => order.sweep(p, |i| w[i]),
    }
}

/// Average ranks (1-based, ties get the mean of their positions); `None` on `NaN`.
fn ranks(x: &[f32]) -> Option<Vec<f64>> {
    let order = ScoreOrder::new(x)?;
    let mut out = vec![0.0; x.len()];
    let mut start = 0usize;
    for &end in &order.ends {
        let mean = (start + 1 + end as usize) as f64 / 2.0;
        for &r in &order.rows[start..end as usize] {
            out[r as usize] = mean;
        }
        start = end as usize;
    }
    Some(out)
}

/// Spearman rank correlation of `a` and `b` (Pearson correlation of their average ranks).
///
/// `None` if fewer than two rows, any value is `NaN`, or either side is constant.
///
/// # Panics
/// If `a` and `b` differ in length.
pub fn spearman(a: &[f32], b: &[f32]) -> Option<f64> {
    assert_eq!(a.len(), b.len(), "spearman: inputs differ in length");
    if a.len() < 2 {
        return None;
    }
    let (ra, rb) = (ranks(a)?, ranks(b)?);
    let n = a.len() as f64;
    let mean = (n + 1.0) / 2.0;
    let (mut sab, mut saa, mut sbb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in ra.iter().zip(&rb) {
        let (dx, dy) = (x - mean, y - mean);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}
