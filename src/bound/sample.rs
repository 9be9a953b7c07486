//! The seeded draws the stochastic floors and the simulator share: one RNG per (seed, run), the
//! nearest-rank quantile, and negative binomial failures. They live here, below both, so the
//! simulator reads them from the bounds and never the other way round.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};

/// The RNG of run `run` under base seed `seed`.
pub fn run_rng(seed: u64, run: u32) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(splitmix64(splitmix64(seed) ^ u64::from(run)))
}

/// The splitmix64 finaliser: a bijective hash of 64 bits.
pub(crate) fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The `k`-th smallest (nearest rank, `share` in (0, 1]) of `values`.
pub fn nearest_rank(values: &[u64], share: f64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((share * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Failures before the `successes`-th success in Bernoulli(p) trials.
pub(crate) fn negative_binomial<R: Rng + ?Sized>(rng: &mut R, successes: u32, p: f64) -> u64 {
    if p >= 1.0 {
        return 0;
    }
    let log_q = (1.0 - p).ln();
    (0..successes)
        .map(|_| {
            // Inverse CDF of the geometric distribution; 1 - u is in (0, 1].
            let u: f64 = 1.0 - rng.random::<f64>();
            (u.ln() / log_q).floor() as u64
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_matches_definition() {
        let v: Vec<u64> = (1..=200).rev().collect();
        assert_eq!(nearest_rank(&v, 0.95), 190);
        assert_eq!(nearest_rank(&v, 0.5), 100);
        assert_eq!(nearest_rank(&[7], 0.95), 7);
    }

    #[test]
    fn negative_binomial_mean_is_right() {
        let mut rng = run_rng(5, 0);
        let n = 4000;
        let mean = (0..n)
            .map(|_| negative_binomial(&mut rng, 10, 0.25) as f64)
            .sum::<f64>()
            / n as f64;
        // E = r(1-p)/p = 30; sd of the mean ≈ sqrt(120)/sqrt(4000) ≈ 0.17.
        assert!((mean - 30.0).abs() < 1.0, "{mean}");
    }
}
