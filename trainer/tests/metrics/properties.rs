//! Properties of the metrics on random sets, and their cost at scale.

use super::*;

// ---- Properties ---------------------------------------------------------------------

#[test]
fn auc_properties_on_random_sets() {
    let mut rng = Rng(0x5EED);
    for case in 0..500 {
        let n = 1 + rng.below(120) as usize;
        let levels = 1 + rng.below(if case % 2 == 0 { 6 } else { 1000 });
        let q: Vec<u64> = (0..n).map(|_| rng.below(levels)).collect();
        let y: Vec<f32> = q
            .iter()
            .map(|&j| {
                if rng.uniform() < 0.2 + 0.6 * j as f64 / levels as f64 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let s: Vec<f32> = q.iter().map(|&j| j as f32 / levels as f32).collect();

        let a = auc(&s, &y);
        assert_eq!(a.is_some(), auc_brute(&s, &y).is_some());
        let Some(a) = a else { continue };
        // Exact against the O(n²) definition.
        assert!((a - auc_brute(&s, &y).unwrap()).abs() <= TOL, "case {case}");
        // Reversing the scores mirrors the AUC.
        let neg: Vec<f32> = s.iter().map(|&v| -v).collect();
        assert!(
            (a + auc(&neg, &y).unwrap() - 1.0).abs() <= TOL,
            "case {case}"
        );
        // Invariant under strictly increasing transforms (cubes, logistic, shift).
        for f in [
            |j: u64, _l: u64| ((j * j * j) as f64 - 7.0) as f32,
            |j: u64, l: u64| (1.0 / (1.0 + (-((j as f64) / l as f64 * 8.0 - 4.0)).exp())) as f32,
            |j: u64, _l: u64| j as f32 + 1e6,
        ] {
            let t: Vec<f32> = q.iter().map(|&j| f(j, levels)).collect();
            assert_eq!(auc(&t, &y), Some(a), "case {case}");
        }
        // GAUC with a single group is the AUC; random groups agree with per-group AUC.
        assert_eq!(gauc(&s, &y, &vec![0; n], Weighting::Uniform), Some(a));
        let g: Vec<i64> = (0..n).map(|_| rng.below(5) as i64 - 2).collect();
        let (mut num, mut den) = (0.0, 0.0);
        for id in -2..3 {
            let rows: Vec<usize> = (0..n).filter(|&i| g[i] == id).collect();
            let gs: Vec<f32> = rows.iter().map(|&i| s[i]).collect();
            let gy: Vec<f32> = rows.iter().map(|&i| y[i]).collect();
            if let Some(ga) = auc_brute(&gs, &gy) {
                num += rows.len() as f64 * ga;
                den += rows.len() as f64;
            }
        }
        match gauc(&s, &y, &g, Weighting::Impressions) {
            None => assert_eq!(den, 0.0),
            Some(v) => assert!((v - num / den).abs() <= TOL, "case {case}"),
        }
    }
}

// ---- Scale --------------------------------------------------------------------------

/// A million rows over 1000 score buckets (many ties): the sort-based AUC against an
/// independent O(n + buckets) count, AUC = Σ_b pos_b · (neg_below_b + neg_b / 2) / (P·N).
#[test]
fn auc_on_a_million_rows_matches_bucket_count() {
    const N: usize = 1_000_000;
    const B: u64 = 1000;
    let mut rng = Rng(42);
    let mut pos = vec![0u64; B as usize];
    let mut neg = vec![0u64; B as usize];
    let mut scores = Vec::with_capacity(N);
    let mut labels = Vec::with_capacity(N);
    for _ in 0..N {
        let b = rng.below(B);
        let positive = rng.uniform() < 0.01 + 0.05 * b as f64 / B as f64;
        scores.push(b as f32 / B as f32);
        labels.push(if positive { 1.0 } else { 0.0 });
        if positive {
            pos[b as usize] += 1;
        } else {
            neg[b as usize] += 1;
        }
    }
    let (mut u2, mut below) = (0u128, 0u128);
    for b in 0..B as usize {
        u2 += 2 * u128::from(pos[b]) * below + u128::from(pos[b]) * u128::from(neg[b]);
        below += u128::from(neg[b]);
    }
    let p: u128 = pos.iter().map(|&c| u128::from(c)).sum();
    let want = u2 as f64 / (2 * p * below) as f64;

    let start = std::time::Instant::now();
    let got = auc(&scores, &labels);
    let elapsed = start.elapsed();
    close(got, want);
    assert!(want > 0.6 && want < 0.8, "sanity: {want}");
    eprintln!("auc over {N} rows: {elapsed:?}");

    // The whole task at that size, with 50k groups, stays cheap too.
    let groups: Vec<i64> = (0..N as i64).map(|i| i % 50_000).collect();
    let m = task_metrics(&scores, &labels, Some(&groups), None);
    assert_eq!(m.auc, got);
    assert_eq!(m.n, N);
    assert_eq!(m.top_1pct.unwrap().k, 10_000);
}
