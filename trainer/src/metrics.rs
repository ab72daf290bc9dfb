//! Evaluation metrics (`shared/spec/models.md`, section "Metrics").
//!
//! Pure Rust over plain slices: scores are `f32` model outputs (probabilities for
//! [`log_loss`] and [`calibration`], any real value for the rank metrics), labels are
//! `f32` with the convention that a label is **positive iff `label > 0.5`**; everything
//! else, `NaN` included, is negative. All accumulation is in `f64` (or exact integers).
//!
//! # Conventions shared by every function
//!
//! * **Undefined values are `None`.** Empty input, a metric whose denominator is zero
//!   (one class absent for AUC, no positives for calibration or recall), or any `NaN`
//!   score gives `None`; nothing here panics on data.
//! * **`NaN` scores**: a single `NaN` score in the evaluated rows makes every
//!   score-based metric of that set `None` (a model emitting `NaN` has no meaningful
//!   ranking or loss, and silently dropping rows would bias the figures). In [`gauc`]
//!   the whole result is `None` too, not only the group holding the `NaN`. `±inf`
//!   scores are ordinary values (they rank first/last; [`log_loss`] clamps them).
//! * **Signed zero**: `-0.0` and `0.0` are the same score (they tie).
//! * **Length mismatch** between `scores`, `labels`, `groups` and `mask` is a programming
//!   error and panics (documented under each function).
//!
//! AUC is exact: one `O(n log n)` sort by score, then a sweep over tie groups counting
//! each positive/negative pair with equal scores as one half (Mann-Whitney U). The pair
//! count is kept as an exact integer (`u128`), so the only rounding is the final
//! division: the result is the correctly rounded `f64` of the exact rational AUC as long
//! as `positives * negatives < 2^52` (about 10^8 rows), and within one part in 10^15
//! beyond that.

/// Prediction clamp for [`log_loss`]: predictions are clamped to `[EPS, 1 - EPS]`.
pub const LOG_LOSS_EPS: f64 = 1e-7;

/// The top fractions reported by [`task_metrics`]: 0.1%, 0.6% and 1%.
pub const TOP_FRACTIONS: [f64; 3] = [0.001, 0.006, 0.01];

#[inline]
fn is_pos(label: f32) -> bool {
    label > 0.5
}

/// Maps a non-`NaN` `f32` to a `u32` whose unsigned order is the numeric order of the
/// floats, with `-0.0` and `0.0` mapped to the same key.
#[inline]
fn order_key(score: f32) -> u32 {
    // `-0.0 + 0.0 == +0.0` under round-to-nearest: signed zeros tie.
    let bits = (score + 0.0).to_bits();
    if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}

/// Packs (score, label) into one `u64`: the order key in the high bits, the label in
/// bit 0. Sorting the packed values sorts by score. `None` if any score is `NaN`.
fn packed(scores: &[f32], labels: &[f32]) -> Option<Vec<u64>> {
    scores
        .iter()
        .zip(labels)
        .map(|(&s, &y)| {
            if s.is_nan() {
                None
            } else {
                Some((u64::from(order_key(s)) << 1) | u64::from(is_pos(y)))
            }
        })
        .collect()
}

/// AUC of a run of packed values already sorted ascending. `None` if one class is
/// absent.
fn auc_sorted(sorted: &[u64]) -> Option<f64> {
    // Twice the Mann-Whitney U statistic, exact: for each tie group,
    // 2 * (negatives strictly below) * (positives in group) + positives * negatives in group.
    let mut u2: u128 = 0;
    let mut neg_below: u128 = 0;
    let mut pos_total: u128 = 0;
    let mut i = 0;
    while i < sorted.len() {
        let key = sorted[i] >> 1;
        let mut j = i;
        let mut pos = 0u128;
        while j < sorted.len() && sorted[j] >> 1 == key {
            pos += u128::from(sorted[j] as u8 & 1);
            j += 1;
        }
        let neg = (j - i) as u128 - pos;
        u2 += 2 * neg_below * pos + pos * neg;
        neg_below += neg;
        pos_total += pos;
        i = j;
    }
    let neg_total = neg_below;
    if pos_total == 0 || neg_total == 0 {
        return None;
    }
    Some(u2 as f64 / (2 * pos_total * neg_total) as f64)
}

/// Exact ROC AUC over the whole set: the probability that a random positive scores
/// above a random negative, **ties counted half** (Mann-Whitney U / (P·N)); equal to
/// scikit-learn's `roc_auc_score`.
///
/// `O(n log n)` (one sort). `None` if the input is empty, one class is absent, or any
/// score is `NaN`.
///
/// # Panics
/// If `scores` and `labels` differ in length.
pub fn auc(scores: &[f32], labels: &[f32]) -> Option<f64> {
    assert_eq!(
        scores.len(),
        labels.len(),
        "auc: scores and labels differ in length"
    );
    let mut keys = packed(scores, labels)?;
    keys.sort_unstable();
    auc_sorted(&keys)
}

/// How [`gauc`] weights each group's AUC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weighting {
    /// Weight = number of rows of the group in the evaluated set (its impressions):
    /// the usual GAUC of the CTR/CVR literature.
    Impressions,
    /// Weight = 1 per qualifying group: the plain mean of per-group AUCs.
    Uniform,
}

/// Group AUC: the AUC of each group (e.g. user) that has both classes, averaged with
/// the chosen [`Weighting`]. Groups with a single class (a group of one row included)
/// are skipped: they contribute neither AUC nor weight. Each per-group AUC is the exact
/// tie-aware [`auc`]. Groups are summed in ascending group id.
///
/// `O(n log n)`. `None` if no group qualifies, the input is empty, or any score is
/// `NaN`.
///
/// # Panics
/// If `scores`, `labels` and `groups` differ in length.
pub fn gauc(scores: &[f32], labels: &[f32], groups: &[i64], weighting: Weighting) -> Option<f64> {
    assert_eq!(
        scores.len(),
        labels.len(),
        "gauc: scores and labels differ in length"
    );
    assert_eq!(
        scores.len(),
        groups.len(),
        "gauc: scores and groups differ in length"
    );
    let keys = packed(scores, labels)?;
    let mut rows: Vec<(i64, u64)> = groups.iter().copied().zip(keys).collect();
    rows.sort_unstable();
    let sorted: Vec<u64> = rows.iter().map(|&(_, k)| k).collect();

    let mut num = 0.0f64;
    let mut den = 0.0f64;
    let mut i = 0;
    while i < rows.len() {
        let g = rows[i].0;
        let mut j = i;
        while j < rows.len() && rows[j].0 == g {
            j += 1;
        }
        if let Some(a) = auc_sorted(&sorted[i..j]) {
            let w = match weighting {
                Weighting::Impressions => (j - i) as f64,
                Weighting::Uniform => 1.0,
            };
            num += w * a;
            den += w;
        }
        i = j;
    }
    (den > 0.0).then(|| num / den)
}

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

/// Every metric of one task (CTR, CVR, CTCVR, ...) over one evaluated subset.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskMetrics {
    /// Rows evaluated (after the mask).
    pub n: usize,
    /// Positive labels among them.
    pub positives: usize,
    /// Exact AUC ([`auc`]).
    pub auc: Option<f64>,
    /// GAUC weighted by impressions ([`gauc`], [`Weighting::Impressions`]); `None`
    /// without groups.
    pub gauc: Option<f64>,
    /// GAUC with every qualifying group weighted 1 ([`Weighting::Uniform`]); `None`
    /// without groups.
    pub gauc_uniform: Option<f64>,
    /// Mean log loss ([`log_loss`]).
    pub log_loss: Option<f64>,
    /// Predicted / observed ([`calibration`]).
    pub calibration: Option<f64>,
    /// Precision/recall/F1 at the top 0.1% ([`prf_at_top`]).
    pub top_0_1pct: Option<Prf>,
    /// Precision/recall/F1 at the top 0.6%.
    pub top_0_6pct: Option<Prf>,
    /// Precision/recall/F1 at the top 1%.
    pub top_1pct: Option<Prf>,
}

/// Every metric of one task over the rows where `mask` is true (all rows without a mask),
/// e.g. CTR over all exposures, CVR over clicked exposures. GAUC is computed when
/// `groups` is given (typically user ids). Each field is `None` when undefined on the
/// subset (see the individual functions); `n` and `positives` are always counted.
///
/// # Panics
/// If `scores`, `labels`, `groups` or `mask` differ in length.
pub fn task_metrics(
    scores: &[f32],
    labels: &[f32],
    groups: Option<&[i64]>,
    mask: Option<&[bool]>,
) -> TaskMetrics {
    let n_all = scores.len();
    assert_eq!(
        n_all,
        labels.len(),
        "task_metrics: scores and labels differ in length"
    );
    if let Some(g) = groups {
        assert_eq!(
            n_all,
            g.len(),
            "task_metrics: scores and groups differ in length"
        );
    }
    if let Some(m) = mask {
        assert_eq!(
            n_all,
            m.len(),
            "task_metrics: scores and mask differ in length"
        );
    }

    let (s, y, g): (Vec<f32>, Vec<f32>, Option<Vec<i64>>);
    let (scores, labels, groups) = match mask {
        None => (scores, labels, groups),
        Some(m) => {
            let keep = |i: &usize| m[*i];
            s = (0..n_all).filter(keep).map(|i| scores[i]).collect();
            y = (0..n_all).filter(keep).map(|i| labels[i]).collect();
            g = groups.map(|gr| (0..n_all).filter(keep).map(|i| gr[i]).collect());
            (&s[..], &y[..], g.as_deref())
        }
    };

    let [f1, f6, f10] = TOP_FRACTIONS;
    TaskMetrics {
        n: scores.len(),
        positives: labels.iter().filter(|&&l| is_pos(l)).count(),
        auc: auc(scores, labels),
        gauc: groups.and_then(|gr| gauc(scores, labels, gr, Weighting::Impressions)),
        gauc_uniform: groups.and_then(|gr| gauc(scores, labels, gr, Weighting::Uniform)),
        log_loss: log_loss(scores, labels),
        calibration: calibration(scores, labels),
        top_0_1pct: prf_at_top(scores, labels, f1),
        top_0_6pct: prf_at_top(scores, labels, f6),
        top_1pct: prf_at_top(scores, labels, f10),
    }
}
