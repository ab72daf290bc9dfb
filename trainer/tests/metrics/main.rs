//! Tests of `esmc_trainer::metrics`.
//!
//! The reference values are computed independently with scikit-learn by
//! `trainer/tests/reference/metrics_reference.py`; the constants below are its output,
//! pasted verbatim:
//!
//! ```text
//! /root/.cache/esmc/pyenv/bin/python trainer/tests/reference/metrics_reference.py
//! ```
//!
//! The datasets are the script's, repeated literally (scores are f32 on both sides).

use esmc_trainer::metrics::{
    Prf, TaskMetrics, Weighting, auc, calibration, gauc, log_loss, prf_at_top, task_metrics, top_k,
};

// ---- Datasets (identical to metrics_reference.py) ----------------------------------

#[rustfmt::skip]
const SCORES_TIES: [f32; 20] = [
    0.2, 0.2, 0.2, 0.4, 0.4, 0.1, 0.1, 0.4, 0.3, 0.3,
    0.2, 0.4, 0.1, 0.3, 0.2, 0.4, 0.2, 0.1, 0.3, 0.4,
];
#[rustfmt::skip]
const LABELS_TIES: [f32; 20] = [
    1., 0., 0., 1., 0., 0., 1., 1., 0., 1.,
    1., 0., 0., 0., 1., 1., 0., 0., 1., 0.,
];

const SCORES_EQUAL: [f32; 10] = [0.5; 10];
const LABELS_EQUAL: [f32; 10] = [0., 1., 1., 0., 0., 1., 0., 0., 1., 0.];

#[rustfmt::skip]
const SCORES_MAIN: [f32; 40] = [
    0.9, 0.8, 0.8, 0.75, 0.7, 0.7, 0.7, 0.65, 0.6, 0.55,
    0.5, 0.5, 0.45, 0.4, 0.4, 0.35, 0.3, 0.3, 0.3, 0.25,
    0.2, 0.15, 0.1, 0.1, 0.05, 0.0, 1.0, 0.99, 0.01, 0.5,
    0.62, 0.33, 0.8, 0.12, 0.7, 0.44, 0.58, 0.9, 0.27, 0.5,
];
#[rustfmt::skip]
const LABELS_MAIN: [f32; 40] = [
    1., 0., 1., 0., 1., 1., 0., 0., 1., 0.,
    0., 1., 0., 0., 1., 0., 0., 1., 0., 0.,
    1., 0., 0., 0., 0., 1., 0., 1., 0., 0.,
    1., 0., 0., 0., 1., 0., 1., 0., 0., 1.,
];
#[rustfmt::skip]
const GROUPS_MAIN: [i64; 40] = [
    0, 0, 1, 1, 2, 2, 2, 7, 8, -3,
    -3, -3, 5, 5, 5, 7, 0, 8, 1, 2,
    0, 9, 5, 7, -3, 1, 2, 5, 0, 1,
    2, 5, -3, 7, 0, 1, -3, 0, 2, 1,
];

/// The script's patterned set: `score_i = f32(((37 i) mod 20) / 20)`,
/// `label_i = 1 if (53 i) mod 7 == 0`.
fn pattern() -> (Vec<f32>, Vec<f32>) {
    let scores = (0..100u64)
        .map(|i| (((37 * i) % 20) as f64 / 20.0) as f32)
        .collect();
    let labels = (0..100u64)
        .map(|i| if (53 * i) % 7 == 0 { 1.0 } else { 0.0 })
        .collect();
    (scores, labels)
}

// ---- Reference values: output of metrics_reference.py, verbatim ---------------------

// Produced by: /root/.cache/esmc/pyenv/bin/python trainer/tests/reference/metrics_reference.py
// with sklearn 1.9.1, numpy 2.4.6
const AUC_TIES: f64 = 0.5808080808080808;
const LOG_LOSS_TIES: f64 = 0.7759527745443143;
const CALIBRATION_TIES: f64 = 0.5777777896987067;
const AUC_EQUAL: f64 = 0.5;
#[allow(clippy::approx_constant)] // it is ln 2: the loss of predicting 0.5
const LOG_LOSS_EQUAL: f64 = 0.6931471805599453;
const CALIBRATION_EQUAL: f64 = 1.25;
const AUC_MAIN: f64 = 0.6440000000000001;
const LOG_LOSS_MAIN: f64 = 1.4009652074401742;
const CALIBRATION_MAIN: f64 = 1.2840000007301569;
const AUC_PATTERN: f64 = 0.627450980392157;
const LOG_LOSS_PATTERN: f64 = 0.9465206874836002;
const CALIBRATION_PATTERN: f64 = 3.166666670391957;
const GAUC_MAIN_IMPRESSIONS: f64 = 0.6035353535353535;
const GAUC_MAIN_UNIFORM: f64 = 0.6083333333333333;
/// (frac, precision, recall, f1, k)
const PRF_MAIN: [(f64, f64, f64, f64, usize); 7] = [
    (0.01, 0.0, 0.0, 0.0, 1),
    (0.05, 0.5, 0.06666666666666667, 0.11764705882352941, 2),
    (0.1, 0.5, 0.13333333333333333, 0.21052631578947367, 4),
    (0.2, 0.375, 0.2, 0.2608695652173913, 8),
    (0.25, 0.5, 0.3333333333333333, 0.4, 10),
    (0.5, 0.5, 0.6666666666666666, 0.5714285714285714, 20),
    (1.0, 0.375, 1.0, 0.5454545454545454, 40),
];
/// (frac, precision, recall, f1, k)
const PRF_TIES: [(f64, f64, f64, f64, usize); 3] = [
    (0.1, 0.5, 0.1111111111111111, 0.18181818181818182, 2),
    (0.25, 0.6, 0.3333333333333333, 0.42857142857142855, 5),
    (0.3, 0.5, 0.3333333333333333, 0.4, 6),
];
/// (frac, precision, recall, f1, k)
const PRF_EQUAL: [(f64, f64, f64, f64, usize); 1] =
    [(0.3, 0.6666666666666666, 0.5, 0.5714285714285714, 3)];
/// (frac, precision, recall, f1, k)
const PRF_PATTERN: [(f64, f64, f64, f64, usize); 5] = [
    (0.001, 1.0, 0.06666666666666667, 0.125, 1),
    (0.006, 1.0, 0.06666666666666667, 0.125, 1),
    (0.01, 1.0, 0.06666666666666667, 0.125, 1),
    (
        0.07,
        0.2857142857142857,
        0.13333333333333333,
        0.18181818181818182,
        7,
    ),
    (0.1, 0.2, 0.13333333333333333, 0.16, 10),
];

// ---- Helpers ------------------------------------------------------------------------

const TOL: f64 = 1e-12;

#[track_caller]
fn close(got: Option<f64>, want: f64) {
    let got = got.expect("metric is defined");
    assert!((got - want).abs() <= TOL, "got {got:?}, want {want:?}");
}

#[track_caller]
fn check_prf(scores: &[f32], labels: &[f32], cases: &[(f64, f64, f64, f64, usize)]) {
    for &(frac, precision, recall, f1, k) in cases {
        let got = prf_at_top(scores, labels, frac).expect("prf is defined");
        assert_eq!(got.k, k, "k at frac {frac}");
        close(Some(got.precision), precision);
        close(Some(got.recall), recall);
        close(Some(got.f1), f1);
    }
}

#[path = "../common/rng.rs"]
mod rng;
use rng::Rng;

/// O(n²) pair count, ties half: the textbook definition, for small n.
fn auc_brute(scores: &[f32], labels: &[f32]) -> Option<f64> {
    let (mut wins, mut pairs) = (0.0f64, 0.0f64);
    for (i, &si) in scores.iter().enumerate() {
        for (j, &sj) in scores.iter().enumerate() {
            if labels[i] > 0.5 && labels[j] <= 0.5 {
                pairs += 1.0;
                wins += if si > sj {
                    1.0
                } else if si == sj {
                    0.5
                } else {
                    0.0
                };
            }
        }
    }
    (pairs > 0.0).then(|| wins / pairs)
}

// ---- Against scikit-learn -----------------------------------------------------------

#[test]
fn auc_matches_sklearn() {
    close(auc(&SCORES_TIES, &LABELS_TIES), AUC_TIES);
    close(auc(&SCORES_EQUAL, &LABELS_EQUAL), AUC_EQUAL);
    close(auc(&SCORES_MAIN, &LABELS_MAIN), AUC_MAIN);
    let (s, y) = pattern();
    close(auc(&s, &y), AUC_PATTERN);
}

#[test]
fn gauc_matches_sklearn_per_group() {
    close(
        gauc(
            &SCORES_MAIN,
            &LABELS_MAIN,
            &GROUPS_MAIN,
            Weighting::Impressions,
        ),
        GAUC_MAIN_IMPRESSIONS,
    );
    close(
        gauc(&SCORES_MAIN, &LABELS_MAIN, &GROUPS_MAIN, Weighting::Uniform),
        GAUC_MAIN_UNIFORM,
    );
}

#[test]
fn log_loss_matches_sklearn_with_clamp() {
    close(log_loss(&SCORES_TIES, &LABELS_TIES), LOG_LOSS_TIES);
    close(log_loss(&SCORES_EQUAL, &LABELS_EQUAL), LOG_LOSS_EQUAL);
    close(log_loss(&SCORES_MAIN, &LABELS_MAIN), LOG_LOSS_MAIN);
    let (s, y) = pattern();
    close(log_loss(&s, &y), LOG_LOSS_PATTERN);
}

#[test]
fn calibration_matches_reference() {
    close(calibration(&SCORES_TIES, &LABELS_TIES), CALIBRATION_TIES);
    close(calibration(&SCORES_EQUAL, &LABELS_EQUAL), CALIBRATION_EQUAL);
    close(calibration(&SCORES_MAIN, &LABELS_MAIN), CALIBRATION_MAIN);
    let (s, y) = pattern();
    close(calibration(&s, &y), CALIBRATION_PATTERN);
}

#[test]
fn prf_matches_sklearn_with_the_tie_rule() {
    check_prf(&SCORES_MAIN, &LABELS_MAIN, &PRF_MAIN);
    check_prf(&SCORES_TIES, &LABELS_TIES, &PRF_TIES);
    check_prf(&SCORES_EQUAL, &LABELS_EQUAL, &PRF_EQUAL);
    let (s, y) = pattern();
    check_prf(&s, &y, &PRF_PATTERN);
}

// ---- Decisions ----------------------------------------------------------------------

#[test]
fn top_k_tie_rule_prefers_lower_index() {
    // Rows 0, 2, 3 tie at 0.5 below row 1; k = 2 takes row 1 then row 0 (lowest index).
    let scores = [0.5, 0.9, 0.5, 0.5];
    let labels = [0., 1., 1., 1.];
    let p = prf_at_top(&scores, &labels, 0.5).unwrap();
    assert_eq!(p.k, 2);
    assert_eq!((p.precision, p.recall), (0.5, 1.0 / 3.0));
    // Same scores, the positive moved to the lowest index: now both picks are positive.
    let labels = [1., 1., 0., 0.];
    let p = prf_at_top(&scores, &labels, 0.5).unwrap();
    assert_eq!((p.precision, p.recall, p.f1), (1.0, 1.0, 1.0));
    // Signed zeros tie, so the index decides between them too.
    let p = prf_at_top(&[0.0, -0.0], &[0., 1.], 0.5).unwrap();
    assert_eq!(p.precision, 0.0);
    let p = prf_at_top(&[-0.0, 0.0], &[0., 1.], 0.5).unwrap();
    assert_eq!(p.precision, 0.0);
}

#[test]
fn top_k_is_ceil_of_frac_times_n_at_least_one() {
    assert_eq!(top_k(100, 0.07), 7); // 0.07 * 100 = 7.000000000000001 in f64
    assert_eq!(top_k(1000, 0.006), 6);
    assert_eq!(top_k(1001, 0.006), 7);
    assert_eq!(top_k(1001, 0.001), 2);
    assert_eq!(top_k(10, 0.001), 1);
    assert_eq!(top_k(1, 0.01), 1);
    assert_eq!(top_k(10, 1.0), 10);
    assert_eq!(top_k(1_000_000, 0.006), 6000);
    assert_eq!(top_k(999_999, 0.01), 10_000);
}

#[test]
fn auc_ties_count_half_and_signed_zero_ties() {
    assert_eq!(auc(&[0.3, 0.3], &[1., 0.]), Some(0.5));
    assert_eq!(auc(&[-0.0, 0.0], &[1., 0.]), Some(0.5));
    assert_eq!(auc(&[0.0, -0.0], &[1., 0.]), Some(0.5));
    assert_eq!(
        auc(&[f32::INFINITY, f32::NEG_INFINITY], &[1., 0.]),
        Some(1.0)
    );
    assert_eq!(auc(&[0.1, 0.2, 0.2, 0.3], &[0., 1., 0., 1.]), Some(0.875));
}

#[test]
fn labels_above_half_are_positive() {
    let scores = [0.1, 0.9, 0.4, 0.6];
    assert_eq!(
        auc(&scores, &[0.0, 1.0, 0.5, 0.7]),
        auc(&scores, &[0., 1., 0., 1.])
    );
    assert_eq!(
        auc(&scores, &[f32::NAN, 1.0, 0.0, 1.0]),
        auc(&scores, &[0., 1., 0., 1.])
    );
}

#[test]
fn nan_scores_give_none() {
    let s = [0.2, f32::NAN, 0.7, 0.4];
    let y = [0., 1., 1., 0.];
    assert_eq!(auc(&s, &y), None);
    assert_eq!(gauc(&s, &y, &[1, 1, 2, 2], Weighting::Impressions), None);
    assert_eq!(log_loss(&s, &y), None);
    assert_eq!(calibration(&s, &y), None);
    assert_eq!(prf_at_top(&s, &y, 0.5), None);
    // Masked out, the NaN row no longer matters.
    let m = task_metrics(&s, &y, None, Some(&[true, false, true, true]));
    assert_eq!(m.n, 3);
    assert_eq!(m.auc, Some(1.0));
    let all = task_metrics(&s, &y, None, None);
    assert_eq!((all.n, all.positives), (4, 2));
    assert_eq!(
        (all.auc, all.log_loss, all.calibration, all.top_1pct),
        (None, None, None, None)
    );
}

#[test]
fn empty_and_single_class_give_none() {
    assert_eq!(auc(&[], &[]), None);
    assert_eq!(gauc(&[], &[], &[], Weighting::Uniform), None);
    assert_eq!(log_loss(&[], &[]), None);
    assert_eq!(calibration(&[], &[]), None);
    assert_eq!(prf_at_top(&[], &[], 0.01), None);

    let s = [0.1, 0.5, 0.9];
    assert_eq!(auc(&s, &[1., 1., 1.]), None);
    assert_eq!(auc(&s, &[0., 0., 0.]), None);
    assert_eq!(calibration(&s, &[0., 0., 0.]), None);
    assert_eq!(prf_at_top(&s, &[0., 0., 0.], 0.5), None);
    assert!(log_loss(&s, &[0., 0., 0.]).is_some());
    assert!(calibration(&s, &[1., 1., 1.]).is_some());
    // Every group single-class (or a single row): no group qualifies.
    assert_eq!(
        gauc(&s, &[1., 0., 0.], &[1, 2, 2], Weighting::Impressions),
        None
    );
    assert_eq!(
        gauc(&s, &[1., 0., 1.], &[1, 2, 3], Weighting::Uniform),
        None
    );

    let m = task_metrics(&[], &[], Some(&[]), None);
    assert_eq!(
        m,
        TaskMetrics {
            n: 0,
            positives: 0,
            auc: None,
            gauc: None,
            gauc_uniform: None,
            log_loss: None,
            calibration: None,
            top_0_1pct: None,
            top_0_6pct: None,
            top_1pct: None,
        }
    );
}

#[test]
fn prf_rejects_bad_fractions() {
    let (s, y) = (SCORES_MAIN, LABELS_MAIN);
    assert_eq!(prf_at_top(&s, &y, 0.0), None);
    assert_eq!(prf_at_top(&s, &y, -0.1), None);
    assert_eq!(prf_at_top(&s, &y, 1.5), None);
    assert_eq!(prf_at_top(&s, &y, f64::NAN), None);
    assert_eq!(prf_at_top(&s, &y, 1.0).unwrap().k, 40);
}

#[test]
fn log_loss_clamps_at_1e7() {
    // Low side: -ln(1e-7). High side: -ln(1 - (1 - 1e-7)), the clamp bound as an f64
    // (1 - 1e-7 is not exact in binary, exactly as in numpy's clip).
    let low = -(1e-7f64).ln();
    let high = -(1.0 - (1.0 - 1e-7f64)).ln();
    close(log_loss(&[0.0], &[1.0]), low);
    close(log_loss(&[1.0], &[0.0]), high);
    close(
        log_loss(&[-3.0, f32::INFINITY], &[1.0, 0.0]),
        (low + high) / 2.0,
    );
    close(log_loss(&[1.0, 0.0], &[1.0, 0.0]), -(1.0 - 1e-7f64).ln());
}

#[test]
fn gauc_of_one_group_is_auc_and_weightings_differ() {
    let g = [4i64; 40];
    assert_eq!(
        gauc(&SCORES_MAIN, &LABELS_MAIN, &g, Weighting::Impressions),
        auc(&SCORES_MAIN, &LABELS_MAIN)
    );
    assert_eq!(
        gauc(&SCORES_MAIN, &LABELS_MAIN, &g, Weighting::Uniform),
        auc(&SCORES_MAIN, &LABELS_MAIN)
    );
    // Two groups: AUC 1 over 2 rows, AUC 0 over 4 rows.
    let s = [0.9, 0.1, 0.1, 0.9, 0.2, 0.8];
    let y = [1., 0., 1., 0., 1., 0.];
    let g = [1, 1, 2, 2, 2, 2];
    close(gauc(&s, &y, &g, Weighting::Impressions), 2.0 / 6.0);
    close(gauc(&s, &y, &g, Weighting::Uniform), 0.5);
}

#[test]
fn task_metrics_is_the_metrics_of_the_masked_subset() {
    let mask: Vec<bool> = (0..40).map(|i| i % 3 != 1).collect();
    let pick =
        |v: &[f32]| -> Vec<f32> { v.iter().zip(&mask).filter(|p| *p.1).map(|p| *p.0).collect() };
    let (s, y) = (pick(&SCORES_MAIN), pick(&LABELS_MAIN));
    let g: Vec<i64> = GROUPS_MAIN
        .iter()
        .zip(&mask)
        .filter(|p| *p.1)
        .map(|p| *p.0)
        .collect();

    let m = task_metrics(&SCORES_MAIN, &LABELS_MAIN, Some(&GROUPS_MAIN), Some(&mask));
    assert_eq!(m.n, s.len());
    assert_eq!(m.positives, y.iter().filter(|&&l| l > 0.5).count());
    assert_eq!(m.auc, auc(&s, &y));
    assert_eq!(m.gauc, gauc(&s, &y, &g, Weighting::Impressions));
    assert_eq!(m.gauc_uniform, gauc(&s, &y, &g, Weighting::Uniform));
    assert_eq!(m.log_loss, log_loss(&s, &y));
    assert_eq!(m.calibration, calibration(&s, &y));
    assert_eq!(m.top_0_1pct, prf_at_top(&s, &y, 0.001));
    assert_eq!(m.top_0_6pct, prf_at_top(&s, &y, 0.006));
    assert_eq!(m.top_1pct, prf_at_top(&s, &y, 0.01));
    assert!(m.auc.is_some() && m.gauc.is_some());

    // No mask, no groups: the whole set, GAUC undefined.
    let m = task_metrics(&SCORES_MAIN, &LABELS_MAIN, None, None);
    assert_eq!((m.n, m.positives), (40, 15));
    close(m.auc, AUC_MAIN);
    close(m.log_loss, LOG_LOSS_MAIN);
    assert_eq!((m.gauc, m.gauc_uniform), (None, None));
    assert_eq!(
        m.top_1pct,
        Some(Prf {
            precision: 0.0,
            recall: 0.0,
            f1: 0.0,
            k: 1
        })
    );
}

mod properties;
