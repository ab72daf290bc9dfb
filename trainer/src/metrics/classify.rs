//! Metrics of predicted probabilities against labels: log loss, calibration, and
//! precision/recall/F1 of the top fraction by score.

use super::{is_pos, order_key};

/// Prediction clamp for [`log_loss`]: predictions are clamped to `[EPS, 1 - EPS]`.
pub const LOG_LOSS_EPS: f64 = 1e-7;

/// Mean binary log loss (cross-entropy, natural log) with each prediction clamped to
/// `[LOG_LOSS_EPS, 1 - LOG_LOSS_EPS]` (`1e-7`) in `f64` before the log. Scores outside
/// `[0, 1]` (±inf included) are clamped the same way.
///
/// `None` if the input is empty or any score is `NaN`.
///
/// # Panics
/// If `scores` and `labels` differ in length.
pub fn log_loss(scores: &[f32], labels: &[f32]) -> Option<f64> {
    assert_eq!(
        scores.len(),
        labels.len(),
        "log_loss: scores and labels differ in length"
    );
    if scores.is_empty() {
        return None;
    }
    let mut total = 0.0f64;
    for (&s, &y) in scores.iter().zip(labels) {
        if s.is_nan() {
            return None;
        }
        let p = f64::from(s).clamp(LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS);
        total -= if is_pos(y) { p.ln() } else { (1.0 - p).ln() };
    }
    Some(total / scores.len() as f64)
}

/// Calibration: predicted / observed, i.e. the sum of the predictions divided by the
/// number of positive labels (1.0 is perfectly calibrated on average, above 1 is
/// over-prediction). Predictions are summed as given, without clamping.
///
/// `None` if there is no positive label (empty input included) or any score is `NaN`.
///
/// # Panics
/// If `scores` and `labels` differ in length.
pub fn calibration(scores: &[f32], labels: &[f32]) -> Option<f64> {
    assert_eq!(
        scores.len(),
        labels.len(),
        "calibration: scores and labels differ in length"
    );
    let mut predicted = 0.0f64;
    let mut observed = 0u64;
    for (&s, &y) in scores.iter().zip(labels) {
        if s.is_nan() {
            return None;
        }
        predicted += f64::from(s);
        observed += u64::from(is_pos(y));
    }
    (observed > 0).then(|| predicted / observed as f64)
}

/// Precision, recall and F1 of the classifier "the top `k` rows by score are positive".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prf {
    /// True positives among the top `k`, divided by `k`.
    pub precision: f64,
    /// True positives among the top `k`, divided by all positives.
    pub recall: f64,
    /// Harmonic mean of precision and recall, `2·tp / (k + positives)`; 0 when `tp = 0`.
    pub f1: f64,
    /// Number of rows predicted positive.
    pub k: usize,
}

/// The number of rows in the top `frac` of `n`: `ceil(frac · n)`, at least 1 and at most
/// `n`. A product within `1e-9` (relative) of an integer is taken as that integer, so
/// floating-point noise does not add a row (`0.07 · 100 = 7.000000000000001` gives 7,
/// not 8).
pub fn top_k(n: usize, frac: f64) -> usize {
    let x = frac * n as f64;
    let r = x.round();
    let k = if (x - r).abs() <= 1e-9 * r.max(1.0) {
        r
    } else {
        x.ceil()
    };
    (k as usize).clamp(1, n.max(1))
}

/// Precision, recall and F1 when the top `frac` of rows by score are predicted positive,
/// with `k = top_k(n, frac)` (`ceil(frac · n)`, at least 1; see [`top_k`]).
///
/// **Tie rule at the cut:** rows are ranked by score descending, and rows with equal
/// scores by **ascending index** (the earlier row wins). Exactly `k` rows are selected,
/// deterministically, regardless of ties straddling the cut. (`-0.0` ties with `0.0`.)
///
/// `O(n)` (selection, no full sort). `None` if the input is empty, there is no positive
/// label (recall undefined), `frac` is not in `(0, 1]`, or any score is `NaN`.
///
/// # Panics
/// If `scores` and `labels` differ in length.
pub fn prf_at_top(scores: &[f32], labels: &[f32], frac: f64) -> Option<Prf> {
    assert_eq!(
        scores.len(),
        labels.len(),
        "prf_at_top: scores and labels differ in length"
    );
    let n = scores.len();
    if n == 0 || !(frac > 0.0 && frac <= 1.0) || scores.iter().any(|s| s.is_nan()) {
        return None;
    }
    let positives = labels.iter().filter(|&&y| is_pos(y)).count();
    if positives == 0 {
        return None;
    }
    let k = top_k(n, frac);
    // Ascending (!key, index) = descending score, then ascending index: a total order.
    let mut order: Vec<(u32, usize)> = scores
        .iter()
        .enumerate()
        .map(|(i, &s)| (!order_key(s), i))
        .collect();
    if k < n {
        order.select_nth_unstable(k - 1);
    }
    let tp = order[..k]
        .iter()
        .filter(|&&(_, i)| is_pos(labels[i]))
        .count();
    let precision = tp as f64 / k as f64;
    let recall = tp as f64 / positives as f64;
    let f1 = 2.0 * tp as f64 / (k + positives) as f64;
    Some(Prf {
        precision,
        recall,
        f1,
        k,
    })
}
