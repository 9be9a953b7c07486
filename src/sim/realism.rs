//! What real fieldwork adds to the simulation: uncertain interview lengths and abandonment,
//! supply that drifts over the month, respondents returning from an earlier wave, and pacing.
//!
//! Each piece is off by default and draws nothing from any RNG when off, so a default
//! simulation is exactly what it was without them. The draws they make come from a stream of
//! their own (seeded by the run), so the respondents and the qualifier answers stay those of
//! the plain simulation as long as the routing does.
//!
//! ```
//! use quotaroute::sim::{Pacing, SupplyDrift};
//!
//! // Pacing: by respondent 500 of a 1,000-respondent month a 200-complete category may hold
//! // 200 × (0.5 + 0.05) = 110 completes; past that it is held back.
//! assert_eq!(Pacing { lead: 0.05 }.allowed(200, 500, 1000), 110);
//! // Drift: the first response's share moves from 1/3 + D to 1/3 − D over the month.
//! let drift = SupplyDrift { amount: 0.15 };
//! let shares = drift.shares(&[1.0 / 3.0; 3], 0.0);
//! assert!((shares[0] - (1.0 / 3.0 + 0.15)).abs() < 1e-12);
//! assert!((shares[1] - shares[2]).abs() < 1e-12);
//! ```

use rand::{Rng, RngExt};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;
use crate::route::Interview;
use crate::state::QuotaView;

/// The question whose first response's share drifts over the month (the default schema's
/// `age`, first response `18-34`).
pub const DRIFT_QUESTION: &str = "age";

/// Supply whose mix drifts over the month: the first response of [`DRIFT_QUESTION`] moves
/// linearly from its population share + `amount` at the start of the month to its share −
/// `amount` at its end (and stays there past it); the other responses share the rest in their
/// population proportions (equally, for the default schema).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct SupplyDrift {
    /// D: how far the first response's share starts above, and ends below, its population share.
    pub amount: f64,
}

impl SupplyDrift {
    /// The question's shares at `t` ∈ [0, 1] of the month, from its population shares.
    pub fn shares(&self, population: &[f64], t: f64) -> Vec<f64> {
        let mut out = population.to_vec();
        self.shares_into(population, t, &mut out);
        out
    }

    /// [`shares`](Self::shares) into a buffer of the same length (no allocation).
    pub fn shares_into(&self, population: &[f64], t: f64, out: &mut [f64]) {
        let Some(&first) = population.first() else {
            return;
        };
        let t = t.clamp(0.0, 1.0);
        let moved = (first + self.amount * (1.0 - 2.0 * t)).clamp(0.0, 1.0);
        let rest = 1.0 - first;
        out[0] = moved;
        for (o, &p) in out.iter_mut().zip(population).skip(1) {
            *o = if rest > 0.0 {
                p * (1.0 - moved) / rest
            } else {
                (1.0 - moved) / (population.len() - 1) as f64
            };
        }
    }
}

/// Pacing: each category's completes follow a target fill curve over the month instead of
/// filling as fast as possible.
///
/// The curve is linear in the respondents of the month: by respondent `n` of a month of `M`,
/// a category with target `T` may hold `⌈T · min(1, n/M + lead)⌉` completes. A category that
/// has reached its allowance is held back for the respondent (see
/// [`Interview::hold`]); it opens again as the month moves on.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Pacing {
    /// How far ahead of the curve a category may run, as a share of the month.
    pub lead: f64,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing { lead: 0.05 }
    }
}

impl Pacing {
    /// The completes a category with `target` may hold by respondent `n` of a month of
    /// `month` respondents.
    pub fn allowed(&self, target: u32, n: u64, month: u64) -> u32 {
        let share = (n as f64 / month.max(1) as f64 + self.lead).min(1.0);
        // The tolerance keeps a product that should be whole (200 × 0.55) from rounding up.
        ((f64::from(target) * share - 1e-9).ceil().max(0.0) as u32).min(target)
    }

    /// Holds back, for this respondent (number `n`), every category at or ahead of its curve.
    ///
    /// # Performance
    /// One pass over the catalogue; no allocation after the interview's first hold.
    pub fn hold_ahead(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        n: u64,
        month: u64,
        interview: &mut Interview,
    ) {
        for c in catalogue.ids() {
            let target = catalogue.category(c).target;
            if quotas.is_open(c) && quotas.completed(c) >= self.allowed(target, n, month) {
                interview.hold(c);
            }
        }
    }
}

/// A standard normal draw (Box–Muller, one of the pair).
pub(crate) fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // 1 − u is in (0, 1]: the logarithm is finite.
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random::<f64>();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A log-normal factor with mean 1 and log-variance `log_variance`.
pub(crate) fn unit_lognormal<R: Rng + ?Sized>(rng: &mut R, log_variance: f64) -> f64 {
    if log_variance <= 0.0 {
        return 1.0;
    }
    (log_variance.sqrt() * standard_normal(rng) - log_variance / 2.0).exp()
}

/// Holds, for a respondent returning from the last wave, each category they completed then:
/// an eligible respondent completed category `c` with probability `T_c / (M · s_c)` (the
/// share of the eligible supply of a month of `M` respondents that filled its target).
pub(crate) fn hold_last_wave<R: Rng + ?Sized>(
    rng: &mut R,
    catalogue: &Catalogue,
    month: u64,
    interview: &mut Interview,
) {
    for c in catalogue.ids() {
        if !interview.is_candidate(c) {
            continue;
        }
        let share = catalogue.eligible_share(c);
        let p = f64::from(catalogue.category(c).target) / (month.max(1) as f64 * share);
        if rng.random_bool(p.clamp(0.0, 1.0)) {
            interview.hold(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bound::sample::run_rng;

    #[test]
    fn drift_moves_the_first_share_linearly_and_keeps_a_distribution() {
        let d = SupplyDrift { amount: 0.15 };
        let third = [1.0 / 3.0; 3];
        for (t, want) in [
            (0.0, 1.0 / 3.0 + 0.15),
            (0.5, 1.0 / 3.0),
            (1.0, 1.0 / 3.0 - 0.15),
        ] {
            let s = d.shares(&third, t);
            assert!((s[0] - want).abs() < 1e-12, "{t}: {s:?}");
            assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!((s[1] - s[2]).abs() < 1e-12);
        }
        // Past the month it stays at the end.
        assert_eq!(d.shares(&third, 2.0), d.shares(&third, 1.0));
    }

    #[test]
    fn pacing_allows_the_curve_plus_the_lead() {
        let p = Pacing { lead: 0.0 };
        assert_eq!(p.allowed(200, 0, 1000), 0);
        assert_eq!(p.allowed(200, 250, 1000), 50);
        assert_eq!(p.allowed(200, 5000, 1000), 200);
        assert_eq!(Pacing::default().allowed(200, 0, 1000), 10);
    }

    #[test]
    fn unit_lognormal_has_mean_one_and_the_asked_spread() {
        let mut rng = run_rng(3, 0);
        let cv: f64 = 0.3;
        let s2 = (cv * cv).ln_1p();
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| unit_lognormal(&mut rng, s2)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
        // sd of the mean ≈ 0.3 / √20000 ≈ 0.002.
        assert!((mean - 1.0).abs() < 0.01, "{mean}");
        assert!((sd - cv).abs() < 0.01, "{sd}");
    }
}
