//! Every metric of one task (CTR, CVR, CTCVR) over one subset of rows.

use super::{Prf, Weighting, auc, calibration, gauc, is_pos, log_loss, prf_at_top};

/// The top fractions reported by [`task_metrics`]: 0.1%, 0.6% and 1%.
pub const TOP_FRACTIONS: [f64; 3] = [0.001, 0.006, 0.01];

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
