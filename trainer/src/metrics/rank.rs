//! Exact rank metrics over labels: AUC (Mann-Whitney, ties half) and group AUC.

use super::{is_pos, order_key};

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
