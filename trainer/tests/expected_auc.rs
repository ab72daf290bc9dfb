//! Tests of the expected AUC, Spearman correlation and entire-space metrics: against a
//! brute-force O(n²) sum (with ties), against the mean realised AUC over many label draws,
//! and the oracle's ceiling.

use esmc_trainer::metrics::{auc, entire_space, expected_auc, spearman, weighted_expected_auc};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

/// The definition, summed pair by pair.
fn brute_force(s: &[f32], p: &[f32], w: Option<&[f64]>) -> f64 {
    // with weights: row i repeated w_i times, every ordered pair of distinct copies
    let w = |i: usize| w.map_or(1.0, |w| w[i]);
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for i in 0..s.len() {
        for j in 0..s.len() {
            let pairs = if i == j {
                w(i) * (w(i) - 1.0)
            } else {
                w(i) * w(j)
            };
            let m = pairs * f64::from(p[i]) * (1.0 - f64::from(p[j]));
            den += m;
            num += m * if s[i] > s[j] {
                1.0
            } else if s[i] == s[j] {
                0.5
            } else {
                0.0
            };
        }
    }
    num / den
}

#[test]
fn expected_auc_equals_the_brute_force_sum_with_ties() {
    let mut rng = Rng(7);
    for case in 0..40 {
        let n = 2 + case;
        // few distinct scores: many ties, ties across positives and negatives
        let s: Vec<f32> = (0..n).map(|_| (rng.next() % 5) as f32 / 4.0).collect();
        let p: Vec<f32> = (0..n).map(|_| rng.uniform() as f32).collect();
        let want = brute_force(&s, &p, None);
        let got = expected_auc(&s, &p).unwrap();
        assert!((got - want).abs() < 1e-12, "n={n}: {got} vs {want}");
        // integer weights: the same as repeating rows
        let w: Vec<f64> = (0..n).map(|_| (rng.next() % 4) as f64).collect();
        if w.iter().sum::<f64>() >= 2.0 {
            let want = brute_force(&s, &p, Some(&w));
            if want.is_finite() {
                let got = weighted_expected_auc(&s, &p, Some(&w)).unwrap();
                assert!(
                    (got - want).abs() < 1e-12,
                    "weighted n={n}: {got} vs {want}"
                );
            }
        }
    }
    // one tie group: exactly 1/2
    assert_eq!(
        expected_auc(&[0.3; 6], &[0.1, 0.5, 0.9, 0.2, 0.7, 0.4]),
        Some(0.5)
    );
    // with labels as probabilities it is the realised AUC
    let s = [0.1f32, 0.4, 0.35, 0.8, 0.35, 0.6];
    let y = [0.0f32, 0.0, 1.0, 1.0, 0.0, 1.0];
    assert!((expected_auc(&s, &y).unwrap() - auc(&s, &y).unwrap()).abs() < 1e-15);
}

#[test]
fn expected_auc_is_undefined_without_pairs_or_with_nan() {
    assert_eq!(expected_auc(&[], &[]), None);
    assert_eq!(expected_auc(&[0.2, 0.4], &[0.0, 0.0]), None);
    assert_eq!(expected_auc(&[0.2, 0.4], &[1.0, 1.0]), None);
    // a single row: its only pair would be with itself
    assert_eq!(expected_auc(&[0.2], &[0.5]), None);
    assert_eq!(expected_auc(&[f32::NAN, 0.4], &[0.3, 0.6]), None);
    assert_eq!(expected_auc(&[0.1, 0.4], &[0.3, f32::NAN]), None);
}

#[test]
fn expected_auc_is_the_mean_realised_auc_over_label_draws() {
    let mut rng = Rng(11);
    let n = 400;
    let p: Vec<f32> = (0..n)
        .map(|_| (0.05 + 0.6 * rng.uniform()) as f32)
        .collect();
    let s: Vec<f32> = p
        .iter()
        .map(|&p| (f64::from(p) + 0.15 * rng.normal()) as f32)
        .collect();
    let e = expected_auc(&s, &p).unwrap();
    let draws = 3000;
    let aucs: Vec<f64> = (0..draws)
        .filter_map(|_| {
            let y: Vec<f32> = p
                .iter()
                .map(|&p| f32::from(rng.uniform() < f64::from(p)))
                .collect();
            auc(&s, &y)
        })
        .collect();
    let m = aucs.len() as f64;
    let mean = aucs.iter().sum::<f64>() / m;
    let sd = (aucs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (m - 1.0)).sqrt();
    let se = sd / m.sqrt();
    assert!(
        (mean - e).abs() < 4.0 * se + 2e-4,
        "E-AUC {e} vs Monte Carlo {mean} ± {se}"
    );
}

#[test]
fn the_oracle_scores_highest() {
    let mut rng = Rng(5);
    let n = 3000;
    let p: Vec<f32> = (0..n).map(|_| rng.uniform().powi(2) as f32).collect();
    let oracle = expected_auc(&p, &p).unwrap();
    // a monotone transform of the truth ranks the same: the same E-AUC
    let sq: Vec<f32> = p.iter().map(|v| v.sqrt()).collect();
    assert!((expected_auc(&sq, &p).unwrap() - oracle).abs() < 1e-12);
    let mut last = oracle;
    for noise in [0.02, 0.1, 0.3, 1.0] {
        let s: Vec<f32> = p
            .iter()
            .map(|&v| (f64::from(v) + noise * rng.normal()) as f32)
            .collect();
        let e = expected_auc(&s, &p).unwrap();
        assert!(e < oracle, "noise {noise}: {e} >= oracle {oracle}");
        assert!(e < last + 0.01, "more noise, lower E-AUC: {e} after {last}");
        last = e;
    }
    assert!(last < 0.65 && oracle > 0.8, "{last} {oracle}");
}

#[test]
fn spearman_uses_average_ranks() {
    let a = [1.0f32, 2.0, 3.0, 4.0, 5.0];
    // ranks of b: 1, 2, 3.5, 5, 3.5 -> r = 8 / sqrt(10 * 9.5)
    let b = [5.0f32, 6.0, 7.0, 8.0, 7.0];
    let want = 8.0 / (95.0f64).sqrt();
    assert!((spearman(&a, &b).unwrap() - want).abs() < 1e-12);
    assert!((spearman(&a, &[0.1, 0.2, 0.3, 0.4, 0.5]).unwrap() - 1.0).abs() < 1e-12);
    assert!((spearman(&a, &[9.0, 7.0, 5.0, 3.0, 1.0]).unwrap() + 1.0).abs() < 1e-12);
    assert_eq!(spearman(&a, &[1.0; 5]), None);
    assert_eq!(spearman(&[1.0], &[2.0]), None);
}

#[test]
fn entire_space_scores_all_exposures_and_the_clicked_ones() {
    let mut rng = Rng(3);
    let n = 2000;
    let t_click: Vec<f32> = (0..n)
        .map(|_| (0.05 + 0.3 * rng.uniform()) as f32)
        .collect();
    let t_cvr: Vec<f32> = (0..n)
        .map(|_| (0.01 + 0.2 * rng.uniform()) as f32)
        .collect();
    let clicked: Vec<bool> = t_click
        .iter()
        .map(|&c| rng.uniform() < f64::from(c))
        .collect();
    // a model that is exact on pCVR but twice too high, and knows nothing of clicks
    let p_cvr: Vec<f32> = t_cvr.iter().map(|v| 2.0 * v).collect();
    let p_ctr = vec![0.2f32; n];
    let p_ctcvr: Vec<f32> = p_cvr.iter().map(|v| 0.2 * v).collect();
    let es = entire_space(&p_ctr, &p_cvr, &p_ctcvr, &clicked, &t_click, &t_cvr);
    assert_eq!(es.cvr_all.n, n);
    assert_eq!(es.cvr_clicked.n, clicked.iter().filter(|c| **c).count());
    assert_eq!(es.cvr_all.eauc, es.cvr_all.oracle_eauc);
    assert!((es.cvr_all.spearman.unwrap() - 1.0).abs() < 1e-12);
    assert!((es.cvr_all.calibration.unwrap() - 2.0).abs() < 1e-6);
    assert_eq!(es.ctr.eauc, Some(0.5));
    // pCTCVR ranks by pCVR only: below the oracle of click × cvr
    assert!(es.ctcvr.eauc.unwrap() < es.ctcvr.oracle_eauc.unwrap());
    let flat = es.flat();
    assert!(flat.iter().any(|(k, _)| k == "es_cvr_eauc"));
    assert!(flat.iter().any(|(k, _)| k == "es_cvr_clicked_spearman"));
}
