//! Monte-Carlo simulation of fieldwork: how many respondents a policy needs.
//!
//! A run draws respondents from the schema's supply distribution, routes each with a
//! [`Router`](crate::route::Router) under its time budget, draws qualification from the true incidence, and stops when
//! every quota is full: the number of respondents drawn is the run's cost N. Run `r` draws from
//! an RNG seeded by `(seed, r)`, so results do not depend on how many threads run them.
//!
//! Real fieldwork is in the [`Settings`] too, each part off by default: uncertain interview
//! lengths under a cap-risk target, abandonment, supply that drifts over the month
//! ([`SupplyDrift`]), a cap on completes per respondent, respondents returning from an earlier
//! wave, and [`Pacing`]; exclusion groups and LOI spreads live in the catalogue, and a
//! [`Scenario`] document sets them all (see `docs/guide.md`, "Real fieldwork").
//!
//! Quota trees (a category's [`QuotaCell`](crate::catalogue::QuotaCell)s with parents) are
//! counted as the live engine counts them: every complete takes a slot in each node of the
//! respondent's path, in the [`QuotaState`](crate::state::QuotaState) the routers read, so a full
//! node closes its branch for every policy. A run reports each node's completes, the overfill
//! (0) and when every min was met ([`RunResult::mins_met`]); [`Settings::ignore_mins`] routes as
//! if no node had a min, and a [`Scenario`] gives trees to categories ([`ScenarioTree`]; see
//! `docs/guide.md`, "Interlocked quotas").
//!
//! ```
//! use quotaroute::catalogue::{Catalogue, Category};
//! use quotaroute::route::Greedy;
//! use quotaroute::schema::Schema;
//! use quotaroute::sim::{monte_carlo, Settings};
//!
//! // Survey lengths vary by 30% around their means: interviews pass the cap at most 5% of
//! // the time.
//! let catalogue = Catalogue::new(Schema::default_survey(), vec![
//!     Category::new("a", "A", 0.5, 100.0).with_target(20).with_loi_spread(0.3),
//!     Category::new("b", "B", 0.2, 200.0).with_target(20).with_loi_spread(0.3),
//! ])?;
//! let settings = Settings { runs: 10, cap_risk: 0.05, ..Settings::default() };
//! let summary = monte_carlo(&catalogue, &Greedy::scarcity(), &settings, &|_| {})?;
//! assert!(summary.over_cap_share <= 0.05);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ```
//! use quotaroute::catalogue::{Catalogue, Category};
//! use quotaroute::route::Greedy;
//! use quotaroute::schema::Schema;
//! use quotaroute::sim::{monte_carlo, Settings};
//!
//! let catalogue = Catalogue::new(Schema::default_survey(), vec![
//!     Category::new("a", "A", 0.5, 100.0).with_target(20),
//!     Category::new("b", "B", 0.2, 200.0).with_target(20),
//! ])?;
//! let settings = Settings { runs: 20, ..Settings::default() };
//! let summary = monte_carlo(&catalogue, &Greedy::scarcity(), &settings, &|_| {})?;
//! assert_eq!(summary.failures, 0);
//! assert!(summary.respondents_p95 >= summary.respondents_median);
//! // No policy beats the fluid bound on average.
//! assert!(summary.respondents_mean >= catalogue.lower_bound(480.0, None) * 0.9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod realism;
mod run;
mod settings;
mod summary;
#[cfg(test)]
mod tests;
mod trees;

pub use crate::bound::sample::{nearest_rank, run_rng};
pub use crate::catalogue::reference_shares;
pub use realism::{DRIFT_QUESTION, Pacing, SupplyDrift};
pub use run::{RunResult, Supply, Trace, checkpoints, run_once, trace};
pub use settings::{MAX_MONTH, MAX_RUNS, MAX_THREADS, Scenario, ScenarioError, Settings, SimError};
pub use summary::{Summary, monte_carlo};
pub use trees::ScenarioTree;

use crate::bound::floors;
use crate::catalogue::Catalogue;

/// What the floors are computed for: now [`bound::FloorOptions`](crate::bound::FloorOptions).
#[deprecated(note = "moved to `quotaroute::bound::FloorOptions`")]
pub type FloorOptions = crate::bound::FloorOptions;

/// The policies a scenario compares unless it names others (`["all"]` means every built-in).
/// Read from the policy registry ([`route::POLICIES`](crate::route::POLICIES)), where each
/// policy says whether it is compared by default: every built-in but `weighted`.
pub const DEFAULT_POLICIES: &[&str] = crate::route::DEFAULT_COMPARISON;

/// N*₉₅, a stochastic floor for the 95th percentile of respondents: the larger of the time
/// term of the fluid bound and the p95 of max_c τ_c, where τ_c = T_c + NegativeBinomial(T_c,
/// p_c·s_c) failures is what category c needs if every eligible respondent is shown it
/// (estimated from `draws` seeded samples). [`stochastic_floor`] at 0.95.
#[deprecated(note = "use `bound::floors(catalogue, &FloorOptions { .. }, &[0.95])[0]`")]
pub fn lower_bound_p95(
    catalogue: &Catalogue,
    budget_seconds: f64,
    max_qualifiers: Option<u32>,
    draws: u32,
    seed: u64,
) -> f64 {
    floors(
        catalogue,
        &crate::bound::FloorOptions {
            budget_seconds,
            hard_cap_seconds: None,
            max_qualifiers,
            draws,
            seed,
        },
        &[0.95],
    )[0]
}

/// A floor under the `share` quantile of the respondents any policy needs, without a hard cap:
/// [`bound::floors`](crate::bound::floors) at one quantile.
#[deprecated(note = "use `bound::floors(catalogue, &FloorOptions { .. }, &[share])[0]`")]
pub fn stochastic_floor(
    catalogue: &Catalogue,
    budget_seconds: f64,
    max_qualifiers: Option<u32>,
    draws: u32,
    seed: u64,
    share: f64,
) -> f64 {
    let options = crate::bound::FloorOptions {
        budget_seconds,
        hard_cap_seconds: None,
        max_qualifiers,
        draws,
        seed,
    };
    floors(catalogue, &options, &[share])[0]
}

/// Floors under the given quantiles of the respondents any policy needs:
/// [`bound::floors`](crate::bound::floors), which it calls.
#[deprecated(note = "renamed `bound::floors`")]
pub fn stochastic_floors(
    catalogue: &Catalogue,
    options: &crate::bound::FloorOptions,
    shares: &[f64],
) -> Vec<f64> {
    floors(catalogue, options, shares)
}
