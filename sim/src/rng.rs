//! A small, fast, seedable random number generator (xoshiro256++ seeded by SplitMix64)
//! with the few distributions the world needs. Written here rather than taken from a
//! crate so that a world's bytes never change with a dependency upgrade.

/// SplitMix64 step: the seeding and hashing primitive.
pub fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Mixes a seed with stream labels into one well-spread 64-bit value.
pub fn mix(seed: u64, labels: &[u64]) -> u64 {
    let mut state = seed;
    let mut out = splitmix64(&mut state);
    for &l in labels {
        state ^= l.wrapping_mul(0xD6E8_FEB8_6659_FD93);
        out ^= splitmix64(&mut state);
    }
    out
}

/// xoshiro256++.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator for the stream named by `labels` under `seed`.
    pub fn new(seed: u64, labels: &[u64]) -> Self {
        let mut sm = mix(seed, labels);
        Rng {
            s: [
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
            ],
        }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [lo, hi] (inclusive).
    #[inline]
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(hi >= lo);
        let span = (hi - lo + 1) as u64;
        lo + ((self.next_u64() as u128 * span as u128) >> 64) as i64
    }

    /// Uniform index in [0, n).
    #[inline]
    pub fn index(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    #[inline]
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal (Box-Muller; one of the pair is discarded for simplicity).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }

    /// Poisson with mean `lambda` (Knuth for small means, normal approximation above 30).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            let x = lambda + lambda.sqrt() * self.normal();
            return x.round().max(0.0) as u32;
        }
        let limit = (-lambda).exp();
        let mut k = 0;
        let mut p = self.uniform();
        while p > limit {
            k += 1;
            p *= self.uniform();
        }
        k
    }

    /// Gamma with integer shape `k` and the given mean (sum of k exponentials).
    pub fn gamma_int(&mut self, k: u32, mean: f64) -> f64 {
        (0..k).map(|_| self.exponential(mean / k as f64)).sum()
    }

    /// An index drawn with probability proportional to the increments of `cdf`
    /// (a non-decreasing cumulative sum whose last entry is the total).
    pub fn from_cdf(&mut self, cdf: &[f64]) -> usize {
        let total = *cdf.last().expect("non-empty cdf");
        let x = self.uniform() * total;
        cdf.partition_point(|&c| c <= x).min(cdf.len() - 1)
    }
}

/// The logistic function.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(1, &[2, 3]);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(1, &[2, 3]);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(1, &[3, 2]);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn distribution_means() {
        let mut r = Rng::new(42, &[]);
        let n = 200_000;
        let mean = |f: &mut dyn FnMut() -> f64| (0..n).map(|_| f()).sum::<f64>() / n as f64;
        assert!((mean(&mut || r.uniform()) - 0.5).abs() < 0.01);
        assert!(mean(&mut || r.normal()).abs() < 0.01);
        assert!((mean(&mut || r.exponential(3.0)) - 3.0).abs() < 0.05);
        assert!((mean(&mut || r.poisson(2.5) as f64) - 2.5).abs() < 0.03);
        assert!((mean(&mut || r.poisson(50.0) as f64) - 50.0).abs() < 0.2);
        assert!((mean(&mut || r.gamma_int(2, 1.5)) - 1.5).abs() < 0.03);
        let cdf = [1.0, 1.0, 4.0];
        let hits = (0..n).filter(|_| r.from_cdf(&cdf) == 2).count() as f64 / n as f64;
        assert!((hits - 0.75).abs() < 0.01);
        assert!((0..1000).all(|_| (3..=5).contains(&r.range(3, 5))));
    }
}
