//! Tests of the paired bootstrap intervals: degenerate at 0 for identical models,
//! covering 0 for two equally good models in about 95% of replications, excluding 0 for
//! a clearly better model; seeded and deterministic.

use esmc_trainer::metrics::intervals::{Replicated, UserBootstrap, paired};

#[path = "common/rng.rs"]
mod rng;
use rng::Rng;

/// `users` users with 5 rows each: user ids, true probabilities (a user effect plus a
/// row effect), and labels drawn from them.
fn world(rng: &mut Rng, users: usize) -> (Vec<i64>, Vec<f32>, Vec<f32>) {
    let mut ids = Vec::new();
    let mut p = Vec::new();
    for u in 0..users {
        let base = 0.3 * rng.uniform();
        for _ in 0..5 {
            ids.push(u as i64 * 7 + 3);
            p.push((base + 0.4 * rng.uniform()) as f32);
        }
    }
    let y = p
        .iter()
        .map(|&v| f32::from(rng.uniform() < f64::from(v)))
        .collect();
    (ids, p, y)
}

fn noisy(rng: &mut Rng, p: &[f32], sd: f64) -> Vec<f32> {
    p.iter()
        .map(|&v| (f64::from(v) + sd * rng.normal()) as f32)
        .collect()
}

#[test]
fn identical_models_give_a_degenerate_interval_at_zero() {
    let mut rng = Rng(1);
    let (users, p, y) = world(&mut rng, 100);
    let s = noisy(&mut rng, &p, 0.1);
    let boot = UserBootstrap::new(&users, 200, 9);
    for truth in [&p, &y] {
        let a = Replicated::of(&s, truth, None, &boot);
        let b = Replicated::of(&s, truth, None, &boot);
        let i = paired(&[a], &[b], 1).unwrap();
        assert_eq!((i.diff, i.lo, i.hi), (0.0, 0.0, 0.0));
        assert_eq!(i.sign(), 0);
        assert_eq!(i.replicates, 200);
    }
}

#[test]
fn two_equally_good_models_cover_zero_in_about_95_percent_of_replications() {
    let mut rng = Rng(2);
    let (mut covered, reps) = (0, 50);
    for r in 0..reps {
        let (users, p, _) = world(&mut rng, 80);
        let (sa, sb) = (noisy(&mut rng, &p, 0.15), noisy(&mut rng, &p, 0.15));
        let boot = UserBootstrap::new(&users, 200, r);
        let a = Replicated::of(&sa, &p, None, &boot);
        let b = Replicated::of(&sb, &p, None, &boot);
        let i = paired(&[a], &[b], r).unwrap();
        assert!(i.lo <= i.diff && i.diff <= i.hi, "{i:?}");
        covered += usize::from(i.sign() == 0);
    }
    assert!(
        covered >= 44,
        "0 covered in {covered} of {reps} null replications"
    );
}

#[test]
fn a_clearly_better_model_excludes_zero_and_the_result_is_deterministic() {
    let mut rng = Rng(3);
    let (users, p, y) = world(&mut rng, 400);
    let seeds = 3;
    let good: Vec<Vec<f32>> = (0..seeds).map(|_| noisy(&mut rng, &p, 0.05)).collect();
    let bad: Vec<Vec<f32>> = (0..seeds).map(|_| noisy(&mut rng, &p, 0.4)).collect();
    let clicked: Vec<bool> = (0..p.len()).map(|i| i % 3 != 0).collect();
    let boot = UserBootstrap::new(&users, 300, 4);
    for (truth, mask) in [(&p, None), (&y, Some(clicked.as_slice()))] {
        let rep = |s: &[Vec<f32>]| -> Vec<Replicated> {
            s.iter()
                .map(|s| Replicated::of(s, truth, mask, &boot))
                .collect()
        };
        let i = paired(&rep(&good), &rep(&bad), 5).unwrap();
        assert_eq!(i.sign(), 1, "{i:?}");
        assert_eq!(i.seed_diffs.len(), seeds);
        let j = paired(&rep(&bad), &rep(&good), 5).unwrap();
        assert_eq!(j.sign(), -1, "{j:?}");
        // seeded: the same inputs give the same interval
        assert_eq!(paired(&rep(&good), &rep(&bad), 5).unwrap(), i);
    }
}
