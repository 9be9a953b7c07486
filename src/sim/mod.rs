//! Monte-Carlo simulation of fieldwork: how many respondents a policy needs.
//!
//! A run draws respondents from the schema's supply distribution, routes each with a
//! [`Router`] under its time budget, draws qualification from the true incidence, and stops when
//! every quota is full: the number of respondents drawn is the run's cost N. Run `r` draws from
//! an RNG seeded by `(seed, r)`, so results do not depend on how many threads run them.
//!
//! Real fieldwork is in the [`Settings`] too, each part off by default: uncertain interview
//! lengths under a cap-risk target, abandonment, supply that drifts over the month
//! ([`SupplyDrift`]), a cap on completes per respondent, respondents returning from an earlier
//! wave, and [`Pacing`]; exclusion groups and LOI spreads live in the catalogue, and a
//! [`Scenario`] document sets them all (see `docs/guide.md`, "Real fieldwork").
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

pub use realism::{DRIFT_QUESTION, Pacing, SupplyDrift};

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt, SeedableRng};
use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, CatalogueError, Category, CategoryId};
use crate::route::{
    Ask, CapRisk, DemographicWeight, Interview, OfferError, PolicyOptions, Router, RouterState,
};
use crate::schema::{Answers, MAX_ENUMERATED_CELLS, QuestionId, Respondent, ResponseId, Schema};
use crate::state::QuotaState;

/// How a simulation runs.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Settings {
    /// Monte-Carlo runs.
    pub runs: u32,
    /// Base seed; run `r` uses a stream derived from `(seed, r)`.
    pub seed: u64,
    /// Seconds per respondent, never exceeded.
    pub hard_cap: f64,
    /// Time banking: the contract is a mean of at most this many seconds per respondent, and
    /// respondent `n` gets `min(hard_cap, mean_budget · n − seconds used so far)`, so the
    /// running mean never passes it (`None`: every respondent gets the hard cap).
    pub mean_budget: Option<f64>,
    /// Cap on qualifiers per respondent (`None`: no cap).
    pub max_qualifiers: Option<u32>,
    /// A run that has not filled every quota after this many respondents stops and counts as a
    /// failure (`None`: 10 × the lower bound).
    pub max_respondents: Option<u64>,
    /// True incidence = catalogue incidence × this factor, clipped at 1; the router still
    /// believes the catalogue.
    pub incidence_scale: f64,
    /// True incidences differ from the catalogue's by a factor drawn once per run and category,
    /// uniform in [1 − F, 1 + F] (0: none); the router still believes the catalogue.
    pub incidence_error: f64,
    /// Routers believe the true incidences (an oracle, to measure what wrong beliefs cost).
    pub oracle: bool,
    /// Worker threads (`None`: the machine's parallelism). Results do not depend on it.
    pub threads: Option<usize>,
    /// Coefficient of variation of respondent speed: every LOI of a respondent is multiplied by
    /// one log-normal factor with mean 1 (0: everyone takes the catalogue's LOI).
    pub speed_spread: f64,
    /// Probability that a qualified respondent abandons during the category survey: no
    /// complete, a uniform share of the survey's seconds spent, and the interview ends.
    pub abandon_rate: f64,
    /// With uncertain LOI (a category's `loi_spread` or a `speed_spread`): the largest accepted
    /// probability that an interview passes its budget (see [`CapRisk`]); an interview whose
    /// survey would pass it ends at the budget and counts as passing the cap.
    pub cap_risk: f64,
    /// Supply drift D (see [`SupplyDrift`]; 0: the schema's shares all month).
    pub supply_drift: f64,
    /// Respondents in the month, for drift, pacing and returning respondents (`None`:
    /// ⌈1.05 · N*⌉).
    pub month_respondents: Option<u64>,
    /// Cap on completed category surveys per respondent (`None`: no cap).
    pub max_completes: Option<u32>,
    /// Share of the supply returning from the last wave: each is held back from the categories
    /// they completed then (a cooldown), drawn as the month's fill rate `T / (M · s)`.
    pub returning_share: f64,
    /// Pacing of fills over the month (`None`: as fast as possible).
    pub pacing: Option<Pacing>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            runs: 200,
            seed: 1,
            hard_cap: 480.0,
            mean_budget: None,
            max_qualifiers: None,
            max_respondents: None,
            incidence_scale: 1.0,
            incidence_error: 0.0,
            oracle: false,
            threads: None,
            speed_spread: 0.0,
            abandon_rate: 0.0,
            cap_risk: 0.05,
            supply_drift: 0.0,
            month_respondents: None,
            max_completes: None,
            returning_share: 0.0,
            pacing: None,
        }
    }
}

/// A whole simulation scenario as a document: which catalogue, which policies, which settings.
///
/// Every field has a default, so `{}` is the bundled default scenario; unknown fields are an
/// error, so a misspelt setting is not silently ignored. Used by the `simulate` example's
/// `--scenario FILE` (JSON); command-line flags override it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct Scenario {
    /// Path of the catalogue CSV (`None`: the bundled catalogue).
    pub catalogue: Option<String>,
    /// Policy names, or `["all"]` (default: [`DEFAULT_POLICIES`]).
    pub policies: Vec<String>,
    /// Monte-Carlo runs per policy.
    pub runs: u32,
    /// Base seed.
    pub seed: u64,
    /// Seconds per respondent, never exceeded.
    pub hard_cap: f64,
    /// Time banking: mean seconds per respondent.
    pub mean_budget: Option<f64>,
    /// Cap on qualifiers per respondent.
    pub max_qualifiers: Option<u32>,
    /// Spread of per-category true incidence errors (see [`Settings::incidence_error`]).
    pub incidence_error: f64,
    /// Route on the true incidences (see [`Settings::oracle`]).
    pub oracle: bool,
    /// Learn incidence from the qualifier answers, with this prior strength (respondents'
    /// worth of the catalogue's belief); `None`: route on the catalogue.
    pub learn: Option<f64>,
    /// Qualifier seconds for every category, overriding the catalogue's.
    pub qualifier_seconds: Option<f64>,
    /// Respondent limit per run (`None`: 10 × N*).
    pub max_respondents: Option<u64>,
    /// Respondents within which a run counts as a success (`None`: ⌈1.05 · N*⌉).
    pub success_at: Option<u64>,
    /// Also run with true incidence ×0.8 and ×1.2.
    pub robustness: bool,
    /// Worker threads (`None`: the machine's parallelism).
    pub threads: Option<usize>,
    /// LOI spread (coefficient of variation) for every category, overriding the catalogue's.
    pub loi_spread: Option<f64>,
    /// See [`Settings::speed_spread`].
    pub speed_spread: f64,
    /// See [`Settings::abandon_rate`].
    pub abandon_rate: f64,
    /// See [`Settings::cap_risk`].
    pub cap_risk: f64,
    /// See [`Settings::supply_drift`].
    pub supply_drift: f64,
    /// See [`Settings::month_respondents`].
    pub month_respondents: Option<u64>,
    /// The demographic weight on, at this strength `k`: every category gets its eligible
    /// population's shares as exposure targets, and the weight is the default's raised to the
    /// power `k` ([`DemographicWeight::power`]), its clamps `[0.25^k, 4^k]`. `None`: off.
    pub demographic_weight: Option<f64>,
    /// With the demographic weight on: hold a category back from a respondent whose answer is
    /// over-exposed by more than this share ([`DemographicWeight::hold`]).
    pub demographic_hold: Option<f64>,
    /// Exclusion groups, each a list of category ids (`category_id` of the CSV), adding to
    /// the catalogue's `exclusion_group` column.
    pub exclusion_groups: Vec<Vec<String>>,
    /// See [`Settings::max_completes`].
    pub max_completes: Option<u32>,
    /// See [`Settings::returning_share`].
    pub returning_share: f64,
    /// See [`Settings::pacing`].
    pub pacing: Option<Pacing>,
    /// Also run [`without_rules`](Self::without_rules) and report what the rules cost.
    pub baseline: bool,
}

impl Default for Scenario {
    fn default() -> Self {
        let s = Settings::default();
        Scenario {
            catalogue: None,
            policies: DEFAULT_POLICIES.iter().map(|p| p.to_string()).collect(),
            runs: s.runs,
            seed: s.seed,
            hard_cap: s.hard_cap,
            mean_budget: s.mean_budget,
            max_qualifiers: s.max_qualifiers,
            incidence_error: s.incidence_error,
            oracle: s.oracle,
            learn: None,
            qualifier_seconds: None,
            max_respondents: s.max_respondents,
            success_at: None,
            robustness: false,
            threads: s.threads,
            loi_spread: None,
            speed_spread: s.speed_spread,
            abandon_rate: s.abandon_rate,
            cap_risk: s.cap_risk,
            supply_drift: s.supply_drift,
            month_respondents: s.month_respondents,
            demographic_weight: None,
            demographic_hold: None,
            exclusion_groups: Vec::new(),
            max_completes: s.max_completes,
            returning_share: s.returning_share,
            pacing: s.pacing,
            baseline: false,
        }
    }
}

impl Scenario {
    /// The simulation settings of the scenario (true incidence as believed).
    pub fn settings(&self) -> Settings {
        Settings {
            runs: self.runs,
            seed: self.seed,
            hard_cap: self.hard_cap,
            mean_budget: self.mean_budget,
            max_qualifiers: self.max_qualifiers,
            max_respondents: self.max_respondents,
            incidence_scale: 1.0,
            incidence_error: self.incidence_error,
            oracle: self.oracle,
            threads: self.threads,
            speed_spread: self.speed_spread,
            abandon_rate: self.abandon_rate,
            cap_risk: self.cap_risk,
            supply_drift: self.supply_drift,
            month_respondents: self.month_respondents,
            max_completes: self.max_completes,
            returning_share: self.returning_share,
            pacing: self.pacing,
        }
    }

    /// The options the scenario's policies are built with.
    pub fn policy_options(&self) -> PolicyOptions {
        PolicyOptions {
            learning: self.learn,
            demographic: self.demographic_weight.map(|power| {
                // The strength scales the weight in log space, its clamps too.
                let d = DemographicWeight::default();
                DemographicWeight {
                    power,
                    hold: self.demographic_hold,
                    min: d.min.powf(power),
                    max: d.max.powf(power),
                    ..d
                }
            }),
        }
    }

    /// The catalogue the scenario routes: `base` with the scenario's qualifier seconds, LOI
    /// spread, exclusion groups and (with the demographic weight on) exposure targets.
    ///
    /// # Errors
    /// [`ScenarioError`] naming an unknown category id or the field a catalogue check refused.
    pub fn apply(&self, base: &Catalogue) -> Result<Catalogue, ScenarioError> {
        let plain = self.qualifier_seconds.is_none()
            && self.loi_spread.is_none()
            && self.exclusion_groups.is_empty()
            && self.demographic_weight.is_none();
        if plain {
            return Ok(base.clone());
        }
        let reference = reference_shares(base);
        let questions = base.schema().len();
        let mut categories = base.categories().to_vec();
        for (i, c) in categories.iter_mut().enumerate() {
            if let Some(q) = self.qualifier_seconds {
                c.qualifier_seconds = q;
            }
            if let Some(cv) = self.loi_spread {
                c.loi_spread = cv;
            }
            if self.demographic_weight.is_some() && c.exposure_targets.is_empty() {
                c.exposure_targets = (0..questions)
                    .map(|q| (QuestionId(q as u16), reference[i * questions + q].clone()))
                    .collect();
            }
        }
        for (g, group) in self.exclusion_groups.iter().enumerate() {
            for key in group {
                let c = base
                    .find(key)
                    .ok_or_else(|| ScenarioError::UnknownCategory {
                        group: g,
                        key: key.clone(),
                    })?;
                // A category has one group: a second one would silently replace the first.
                let slot = &mut categories[c.index()].exclusion_group;
                if let Some(existing) = slot {
                    return Err(ScenarioError::InTwoGroups {
                        group: g,
                        key: key.clone(),
                        existing: existing.clone(),
                    });
                }
                *slot = Some(format!("scenario-{g}"));
            }
        }
        Catalogue::new(base.schema().clone(), categories).map_err(ScenarioError::Catalogue)
    }

    /// True when the scenario uses any of the realism options (uncertain LOI, abandonment,
    /// drift, the demographic weight, exclusions, completes cap, returning respondents,
    /// pacing).
    pub fn is_realistic(&self) -> bool {
        self.loi_spread.is_some_and(|cv| cv > 0.0)
            || self.speed_spread > 0.0
            || self.abandon_rate > 0.0
            || self.supply_drift != 0.0
            || self.demographic_weight.is_some()
            || !self.exclusion_groups.is_empty()
            || self.max_completes.is_some()
            || self.returning_share > 0.0
            || self.pacing.is_some()
    }

    /// The scenario without the rules an operator or a customer chooses (the demographic
    /// weight, exclusion groups, the completes cap, cooldowns of returning respondents,
    /// pacing), in the same world (LOI spread, speed, abandonment, drift stay): what those
    /// rules cost is the difference. Exclusion groups from the catalogue's column stay.
    pub fn without_rules(&self) -> Scenario {
        Scenario {
            demographic_weight: None,
            demographic_hold: None,
            exclusion_groups: Vec::new(),
            max_completes: None,
            returning_share: 0.0,
            pacing: None,
            baseline: false,
            ..self.clone()
        }
    }
}

/// Why a scenario's catalogue could not be built.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// An exclusion group names a category id the catalogue does not have.
    #[error("exclusion_groups[{group}]: no category with id `{key}`")]
    UnknownCategory {
        /// The group's position in `exclusion_groups`.
        group: usize,
        /// The id.
        key: String,
    },
    /// An exclusion group names a category that is already in a group (an earlier scenario
    /// group, or its catalogue's `exclusion_group`): a category belongs to one group.
    #[error(
        "exclusion_groups[{group}]: category `{key}` is already in exclusion group `{existing}`"
    )]
    InTwoGroups {
        /// The group's position in `exclusion_groups`.
        group: usize,
        /// The category's id.
        key: String,
        /// The group it is already in.
        existing: String,
    },
    /// The changed categories failed the catalogue's checks (e.g. a negative LOI spread).
    #[error("{0}")]
    Catalogue(CatalogueError),
}

/// The policies a scenario compares unless it names others (`["all"]` means every built-in).
pub const DEFAULT_POLICIES: &[&str] = &[
    "greedy",
    "seed-greedy",
    "seed-greedy-squared",
    "random",
    "packing",
    "paced",
];

/// Why a simulation could not run.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum SimError {
    /// A setting is out of range.
    #[error("setting `{field}`: {problem}")]
    Setting {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The router offered a category it may not offer.
    #[error("policy `{policy}`, run {run}, respondent {respondent}: {error}")]
    InvalidOffer {
        /// The policy's name.
        policy: String,
        /// The run.
        run: u32,
        /// The respondent's number in the run (from 1).
        respondent: u64,
        /// What was wrong with the offer.
        error: OfferError,
    },
}

impl Settings {
    /// Checks every setting.
    ///
    /// # Errors
    /// [`SimError::Setting`] naming the first bad one.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |field, problem: &str| {
            Err(SimError::Setting {
                field,
                problem: problem.to_owned(),
            })
        };
        if self.runs == 0 {
            return bad("runs", "must be at least 1");
        }
        if !(self.hard_cap.is_finite() && self.hard_cap > 0.0) {
            return bad("hard_cap", "must be a positive number of seconds");
        }
        if let Some(m) = self.mean_budget
            && !(m.is_finite() && m > 0.0)
        {
            return bad("mean_budget", "must be a positive number of seconds");
        }
        if !(self.incidence_error.is_finite() && (0.0..1.0).contains(&self.incidence_error)) {
            return bad("incidence_error", "must be in [0, 1)");
        }
        if !(self.incidence_scale.is_finite() && self.incidence_scale > 0.0) {
            return bad("incidence_scale", "must be a positive number");
        }
        if self.max_qualifiers == Some(0) {
            return bad("max_qualifiers", "must be at least 1");
        }
        if self.max_respondents == Some(0) {
            return bad("max_respondents", "must be at least 1");
        }
        if self.threads == Some(0) {
            return bad("threads", "must be at least 1");
        }
        if !(self.speed_spread.is_finite() && self.speed_spread >= 0.0) {
            return bad("speed_spread", "must be a coefficient of variation >= 0");
        }
        if !(self.abandon_rate.is_finite() && (0.0..1.0).contains(&self.abandon_rate)) {
            return bad("abandon_rate", "must be a probability in [0, 1)");
        }
        if !(self.cap_risk.is_finite() && self.cap_risk > 0.0 && self.cap_risk < 1.0) {
            return bad("cap_risk", "must be a probability in (0, 1)");
        }
        if !(self.supply_drift.is_finite() && self.supply_drift.abs() <= 1.0) {
            return bad("supply_drift", "must be a share in [-1, 1]");
        }
        if self.month_respondents == Some(0) {
            return bad("month_respondents", "must be at least 1");
        }
        if self.max_completes == Some(0) {
            return bad("max_completes", "must be at least 1");
        }
        if !(self.returning_share.is_finite() && (0.0..=1.0).contains(&self.returning_share)) {
            return bad("returning_share", "must be a share in [0, 1]");
        }
        if let Some(p) = self.pacing
            && !(p.lead.is_finite() && p.lead >= 0.0)
        {
            return bad("pacing.lead", "must be a share of the month >= 0");
        }
        Ok(())
    }

    /// The budget per respondent the lower bound uses: the mean budget when banking, else the
    /// hard cap.
    pub fn budget_for_bound(&self) -> f64 {
        self.mean_budget.unwrap_or(self.hard_cap)
    }

    /// The true incidence of each category in run `run`.
    pub fn true_incidence(&self, catalogue: &Catalogue, run: u32) -> Vec<f64> {
        let mut rng = run_rng(self.seed ^ 0x1A5C_1DE5_CE00_0000, run);
        catalogue
            .ids()
            .map(|c| {
                let error = if self.incidence_error > 0.0 {
                    rng.random_range(1.0 - self.incidence_error..=1.0 + self.incidence_error)
                } else {
                    1.0
                };
                (catalogue.incidence(c) * self.incidence_scale * error).min(1.0)
            })
            .collect()
    }

    /// True when interview lengths are uncertain (some category's LOI spread, or a speed
    /// spread): the hard cap is then a risk target.
    pub fn uncertain_loi(&self, catalogue: &Catalogue) -> bool {
        catalogue.has_any_loi_spread() || self.speed_spread > 0.0
    }

    /// Respondents in the month: the setting, or ⌈1.05 · N*⌉.
    pub fn month(&self, catalogue: &Catalogue) -> u64 {
        self.month_respondents.unwrap_or_else(|| {
            let bound = catalogue.lower_bound(self.budget_for_bound(), self.max_qualifiers);
            if bound.is_finite() {
                (1.05 * bound).ceil().max(1.0) as u64
            } else {
                1_000_000
            }
        })
    }

    /// The respondent limit per run: the setting, or 10 × the lower bound.
    pub fn respondent_limit(&self, catalogue: &Catalogue) -> u64 {
        self.max_respondents.unwrap_or_else(|| {
            let bound = catalogue.lower_bound(self.budget_for_bound(), self.max_qualifiers);
            if bound.is_finite() {
                (10.0 * bound).ceil().max(1.0) as u64
            } else {
                1_000_000
            }
        })
    }
}

/// Draws respondents from the schema's supply shares, questions independent.
#[derive(Clone, Debug)]
pub struct Supply {
    cumulative: Vec<Vec<f64>>,
}

impl Supply {
    /// The supply the schema describes.
    pub fn new(schema: &Schema) -> Supply {
        let cumulative = schema
            .questions()
            .iter()
            .map(|q| {
                let mut acc = 0.0;
                q.shares()
                    .iter()
                    .map(|s| {
                        acc += s;
                        acc
                    })
                    .collect()
            })
            .collect();
        Supply { cumulative }
    }

    /// Overwrites `answers` with a fresh draw: every question answered.
    pub fn draw_into<R: Rng + ?Sized>(&self, rng: &mut R, answers: &mut Answers) {
        self.draw_with(rng, answers, None);
    }

    /// As [`draw_into`](Self::draw_into), with question `shares.0` drawn from the shares
    /// `shares.1` instead of the schema's (a drifting supply). The same draws are made.
    pub fn draw_with<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        answers: &mut Answers,
        shares: Option<(usize, &[f64])>,
    ) {
        for (q, cumulative) in self.cumulative.iter().enumerate() {
            if let Some((dq, shares)) = shares
                && dq == q
            {
                let mut u: f64 = rng.random::<f64>() * shares.iter().sum::<f64>();
                let mut r = shares.len() - 1;
                for (i, s) in shares.iter().enumerate() {
                    if u < *s {
                        r = i;
                        break;
                    }
                    u -= s;
                }
                answers.set(QuestionId(q as u16), ResponseId(r as u16));
                continue;
            }
            let u: f64 = rng.random::<f64>() * cumulative.last().copied().unwrap_or(1.0);
            let r = cumulative
                .iter()
                .position(|&c| u < c)
                .unwrap_or(cumulative.len() - 1);
            answers.set(QuestionId(q as u16), ResponseId(r as u16));
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct RunResult {
    /// Respondents drawn (the limit, for a failed run).
    pub respondents: u64,
    /// True when every quota was filled.
    pub filled: bool,
    /// Completes per category at the end.
    pub completes: Vec<u32>,
    /// Mean interview seconds per respondent.
    pub mean_seconds: f64,
    /// Longest interview in seconds.
    pub max_seconds: f64,
    /// Mean qualifiers shown per respondent.
    pub mean_qualifiers: f64,
    /// Most qualifiers shown to one respondent.
    pub max_qualifiers: u32,
    /// Exposure L1 divergence per category per question (row-major, `questions` per
    /// category): Σ_r |observed share − reference share|, where the reference is the
    /// category's exposure target or else the eligible supply's shares; 0 when nobody was shown.
    pub divergence: Vec<f64>,
    /// Interviews whose survey would have passed the budget (uncertain LOI): ended at the
    /// budget, the complete lost.
    #[cfg_attr(feature = "serde", serde(default))]
    pub over_cap: u64,
    /// Interviews abandoned during a category survey.
    #[cfg_attr(feature = "serde", serde(default))]
    pub abandoned: u64,
    /// Most category surveys one respondent completed.
    #[cfg_attr(feature = "serde", serde(default))]
    pub most_completes: u32,
}

/// Routes one run.
///
/// # Errors
/// [`SimError::InvalidOffer`] when the router offers something it may not; settings errors.
pub fn run_once(
    catalogue: &Catalogue,
    router: &dyn Router,
    settings: &Settings,
    run: u32,
) -> Result<RunResult, SimError> {
    settings.validate()?;
    let reference = reference_shares(catalogue);
    run_with(
        catalogue,
        router,
        settings,
        run,
        &reference,
        &mut |_, _, _| {},
    )
}

/// Completes per category after each of `at` respondents of run `run` (a checkpoint after the
/// quotas filled reports the final counts), in the order of `at`.
///
/// # Errors
/// As [`run_once`].
pub fn checkpoints(
    catalogue: &Catalogue,
    router: &dyn Router,
    settings: &Settings,
    run: u32,
    at: &[u64],
) -> Result<Vec<Vec<u32>>, SimError> {
    settings.validate()?;
    let reference = reference_shares(catalogue);
    let mut seen: Vec<Option<Vec<u32>>> = vec![None; at.len()];
    let limit = at.iter().copied().max().unwrap_or(0);
    let settings = Settings {
        max_respondents: Some(limit.max(1)),
        ..settings.clone()
    };
    let mut last = Vec::new();
    let result = run_with(
        catalogue,
        router,
        &settings,
        run,
        &reference,
        &mut |n, view, _| {
            for (i, &a) in at.iter().enumerate() {
                if a == n {
                    seen[i] = Some(catalogue.ids().map(|c| view.completed(c)).collect());
                }
            }
        },
    )?;
    last.extend(result.completes);
    Ok(seen
        .into_iter()
        .map(|s| s.unwrap_or_else(|| last.clone()))
        .collect())
}

/// What happened to each respondent of one run, in order: the data behind the simulate
/// example's pictures.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Trace {
    /// Interview seconds of each respondent.
    pub seconds: Vec<f64>,
    /// Completes over all categories after each respondent.
    pub completes: Vec<u64>,
    /// Exposures at the end of the run: for each category, for each question in schema order,
    /// one count per response.
    pub exposures: Vec<u32>,
    /// What the run measured.
    pub result: RunResult,
}

/// Routes run `run` as [`run_once`] does, recording every respondent.
///
/// # Errors
/// As [`run_once`].
///
/// # Performance
/// Reads every category's counts after each respondent: for pictures and diagnostics, not
/// for Monte-Carlo loops ([`monte_carlo`] records none of this).
pub fn trace(
    catalogue: &Catalogue,
    router: &dyn Router,
    settings: &Settings,
    run: u32,
) -> Result<Trace, SimError> {
    settings.validate()?;
    let reference = reference_shares(catalogue);
    let schema = catalogue.schema();
    let (mut seconds, mut completes, mut exposures) = (Vec::new(), Vec::new(), Vec::new());
    let result = run_with(
        catalogue,
        router,
        settings,
        run,
        &reference,
        &mut |_, view, interview| {
            seconds.push(interview.seconds_used());
            completes.push(catalogue.ids().map(|c| u64::from(view.completed(c))).sum());
            exposures.clear();
            for c in catalogue.ids() {
                for q in schema.question_ids() {
                    exposures.extend(schema.response_ids(q).map(|r| view.exposures(c, q, r)));
                }
            }
        },
    )?;
    Ok(Trace {
        seconds,
        completes,
        exposures,
        result,
    })
}

fn run_with(
    catalogue: &Catalogue,
    router: &dyn Router,
    settings: &Settings,
    run: u32,
    reference: &[Vec<f64>],
    observe: &mut dyn FnMut(u64, &crate::state::QuotaView<'_>, &Interview),
) -> Result<RunResult, SimError> {
    // Common random numbers: the supply, the router's own draws and every qualifier answer come
    // from separate streams, and respondent n's answer to category c is one fixed draw whatever
    // was shown before. Two policies then meet the same respondents, who qualify for the same
    // categories, and their difference is not drowned in the noise of different draws.
    let mut supply_rng = run_rng(settings.seed, run);
    let mut route_rng = run_rng(settings.seed ^ ROUTER_STREAM, run);
    let answer_key = splitmix64(splitmix64(settings.seed ^ ANSWER_STREAM) ^ u64::from(run));
    let true_incidence = settings.true_incidence(catalogue, run);
    // The oracle routes on a copy of the catalogue that believes the truth.
    let oracle_catalogue;
    let catalogue = if settings.oracle {
        let categories = catalogue
            .categories()
            .iter()
            .zip(&true_incidence)
            .map(|(c, &p)| Category {
                incidence: p,
                ..c.clone()
            })
            .collect();
        oracle_catalogue = Catalogue::new(catalogue.schema().clone(), categories)
            .expect("true incidences are in (0, 1]");
        &oracle_catalogue
    } else {
        catalogue
    };
    let schema = catalogue.schema();
    let supply = Supply::new(schema);
    let limit = settings.respondent_limit(catalogue);
    // Realism draws come from their own stream: none are made when every option is off.
    let mut extra = run_rng(settings.seed ^ 0x5EA1_F1E1_D000_0000, run);
    let uncertain = settings.uncertain_loi(catalogue);
    let month = settings.month(catalogue);
    let speed_log_variance = (settings.speed_spread * settings.speed_spread).ln_1p();
    let drift = if settings.supply_drift != 0.0 {
        let q = schema
            .questions()
            .iter()
            .position(|q| q.name() == DRIFT_QUESTION)
            .ok_or_else(|| SimError::Setting {
                field: "supply_drift",
                problem: format!("the schema has no question `{DRIFT_QUESTION}` to drift"),
            })?;
        let population = schema.questions()[q].shares().to_vec();
        let first = population.first().copied().unwrap_or(0.0);
        if !(0.0..=1.0).contains(&(first + settings.supply_drift))
            || !(0.0..=1.0).contains(&(first - settings.supply_drift))
        {
            return Err(SimError::Setting {
                field: "supply_drift",
                problem: format!(
                    "{} moves the first share of `{DRIFT_QUESTION}` ({first}) outside [0, 1]",
                    settings.supply_drift
                ),
            });
        }
        Some((q, population.clone(), population))
    } else {
        None
    };
    let mut drift = drift;
    let (mut over_cap, mut abandoned, mut most_completes) = (0u64, 0u64, 0u32);
    let mut state = QuotaState::new(catalogue);
    let mut open_total = state.total_open();
    let mut interview = Interview::new();
    let mut router_state = RouterState::default();
    let mut respondent = Respondent::new(0, Answers::unknown(schema));
    let (mut seconds_total, mut max_seconds) = (0.0f64, 0.0f64);
    let (mut qualifiers_total, mut max_qualifiers) = (0u64, 0u32);
    let mut n = 0u64;
    while open_total > 0 && n < limit {
        n += 1;
        respondent.id = n;
        match &mut drift {
            None => supply.draw_into(&mut supply_rng, &mut respondent.answers),
            Some((q, population, shares)) => {
                SupplyDrift {
                    amount: settings.supply_drift,
                }
                .shares_into(population, (n - 1) as f64 / month as f64, shares);
                supply.draw_with(&mut supply_rng, &mut respondent.answers, Some((*q, shares)));
            }
        }
        let budget = match settings.mean_budget {
            // The bank: what the running mean allows, never more than the hard cap.
            Some(mean) => (mean * n as f64 - seconds_total).clamp(0.0, settings.hard_cap),
            None => settings.hard_cap,
        };
        interview.begin(
            catalogue,
            &respondent.answers,
            budget,
            settings.max_qualifiers,
        );
        interview.set_max_completes(settings.max_completes);
        let mut speed = 1.0;
        if uncertain {
            interview.set_cap_risk(CapRisk {
                alpha: settings.cap_risk,
                speed_spread: settings.speed_spread,
            });
            speed = realism::unit_lognormal(&mut extra, speed_log_variance);
        }
        if settings.returning_share > 0.0 && extra.random_bool(settings.returning_share) {
            realism::hold_last_wave(&mut extra, catalogue, month, &mut interview);
        }
        if let Some(pacing) = settings.pacing {
            pacing.hold_ahead(catalogue, &state.view(), n, month, &mut interview);
        }
        router.on_respondent_start(
            &Ask {
                catalogue,
                respondent: &respondent,
                interview: &interview,
                quotas: state.view(),
            },
            &mut router_state,
        );
        loop {
            let ask = Ask {
                catalogue,
                respondent: &respondent,
                interview: &interview,
                quotas: state.view(),
            };
            let Some(c) = router.next_offer(&ask, &mut router_state, &mut route_rng) else {
                break;
            };
            interview
                .check_offer(catalogue, &state.view(), c)
                .map_err(|error| SimError::InvalidOffer {
                    policy: router.name().to_owned(),
                    run,
                    respondent: n,
                    error,
                })?;
            state.record_shown(c, &respondent.answers);
            interview.record_shown(catalogue, c);
            let qualified = answer_draw(answer_key, n, c.index()) < true_incidence[c.index()];
            let mut closed = false;
            if qualified {
                state.record_qualified(c);
                let loi = if uncertain {
                    catalogue.loi_seconds(c)
                        * speed
                        * realism::unit_lognormal(&mut extra, catalogue.loi_log_variance(c))
                } else {
                    catalogue.loi_seconds(c)
                };
                let room = interview.budget() - interview.seconds_used();
                if settings.abandon_rate > 0.0 && extra.random_bool(settings.abandon_rate) {
                    // Left part way through the survey: no complete, and no more routing.
                    abandoned += 1;
                    interview.add_seconds((extra.random::<f64>() * loi).min(room.max(0.0)));
                    interview.end();
                } else if uncertain && loi > room {
                    // The survey would pass the budget: the interview ends there.
                    over_cap += 1;
                    interview.add_seconds(room.max(0.0));
                    interview.end();
                } else if state.complete(c).is_ok() {
                    open_total -= 1;
                    interview.record_complete_in(catalogue, c, loi);
                    closed = !state.view().is_open(c);
                }
            }
            let ask = Ask {
                catalogue,
                respondent: &respondent,
                interview: &interview,
                quotas: state.view(),
            };
            router.on_answer(&ask, &mut router_state, c, qualified);
            if closed {
                router.on_close(catalogue, &mut router_state, c);
            }
        }
        seconds_total += interview.seconds_used();
        max_seconds = max_seconds.max(interview.seconds_used());
        qualifiers_total += u64::from(interview.qualifiers_shown());
        max_qualifiers = max_qualifiers.max(interview.qualifiers_shown());
        most_completes = most_completes.max(interview.completes());
        observe(n, &state.view(), &interview);
    }
    let view = state.view();
    let questions = schema.len();
    let mut divergence = vec![0.0; catalogue.len() * questions];
    for c in catalogue.ids() {
        for q in schema.question_ids() {
            let counts: Vec<u32> = schema
                .response_ids(q)
                .map(|r| view.exposures(c, q, r))
                .collect();
            let total: u32 = counts.iter().sum();
            if total > 0 {
                let want = &reference[c.index() * questions + q.index()];
                divergence[c.index() * questions + q.index()] = counts
                    .iter()
                    .zip(want)
                    .map(|(&k, w)| (f64::from(k) / f64::from(total) - w).abs())
                    .sum();
            }
        }
    }
    let denominator = n.max(1) as f64;
    Ok(RunResult {
        respondents: n,
        filled: open_total == 0,
        completes: catalogue.ids().map(|c| view.completed(c)).collect(),
        mean_seconds: seconds_total / denominator,
        max_seconds,
        mean_qualifiers: qualifiers_total as f64 / denominator,
        max_qualifiers,
        divergence,
        over_cap,
        abandoned,
        most_completes,
    })
}

/// The RNG of run `run` under base seed `seed`.
pub fn run_rng(seed: u64, run: u32) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(splitmix64(splitmix64(seed) ^ u64::from(run)))
}

/// Stream tags: each random quantity of a run has a stream of its own.
const ROUTER_STREAM: u64 = 0x0D0E_C1DE_0000_0001;
const ANSWER_STREAM: u64 = 0x0A25_3E25_0000_0002;

/// Respondent `n`'s uniform draw in [0, 1) for category `c`: a hash, so it does not depend on
/// the order or number of earlier draws.
#[inline]
fn answer_draw(key: u64, n: u64, c: usize) -> f64 {
    let h = splitmix64(key ^ splitmix64(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ c as u64));
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The exposure shares each category should see per question (row-major, `questions` per
/// category): the category's exposure target where it has one, else the supply's shares among
/// the respondents eligible for it (exact by enumeration when the schema has at most 100,000
/// cells, else the unconditional shares).
pub fn reference_shares(catalogue: &Catalogue) -> Vec<Vec<f64>> {
    let schema = catalogue.schema();
    let cells: Option<usize> = schema
        .complete_cell_count()
        .filter(|&n| n <= MAX_ENUMERATED_CELLS);
    let mut out = Vec::with_capacity(catalogue.len() * schema.len());
    for c in catalogue.ids() {
        let category = catalogue.category(c);
        let mut conditional: Vec<Vec<f64>> = schema
            .questions()
            .iter()
            .map(|q| q.shares().to_vec())
            .collect();
        if let Some(cells) = cells.filter(|_| category.eligibility != Default::default()) {
            let mut sums: Vec<Vec<f64>> = schema
                .questions()
                .iter()
                .map(|q| vec![0.0; q.responses().len()])
                .collect();
            let mut answers = Answers::unknown(schema);
            for mut cell in 0..cells {
                let mut weight = 1.0;
                for (q, question) in schema.questions().iter().enumerate().rev() {
                    let r = cell % question.responses().len();
                    cell /= question.responses().len();
                    weight *= question.shares()[r];
                    answers.set(QuestionId(q as u16), ResponseId(r as u16));
                }
                if weight > 0.0 && category.eligibility.matches(&answers) {
                    for (q, sum) in sums.iter_mut().enumerate() {
                        let r = answers.get(QuestionId(q as u16)).expect("set above");
                        sum[r.index()] += weight;
                    }
                }
            }
            for (q, sum) in sums.into_iter().enumerate() {
                let total: f64 = sum.iter().sum();
                if total > 0.0 {
                    conditional[q] = sum.into_iter().map(|s| s / total).collect();
                }
            }
        }
        for (q, shares) in conditional.into_iter().enumerate() {
            let target = category
                .exposure_targets
                .iter()
                .find(|(tq, _)| tq.index() == q)
                .map(|(_, s)| s.clone());
            out.push(target.unwrap_or(shares));
        }
    }
    out
}

/// What many runs measured.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Summary {
    /// The policy's name.
    pub policy: String,
    /// Runs made.
    pub runs: u32,
    /// Respondents per run, in run order.
    pub respondents: Vec<u64>,
    /// Median respondents (nearest rank: the ⌈0.5·runs⌉-th smallest).
    pub respondents_median: u64,
    /// 95th percentile (nearest rank: the ⌈0.95·runs⌉-th smallest).
    pub respondents_p95: u64,
    /// Mean respondents.
    pub respondents_mean: f64,
    /// Runs that did not fill every quota within the respondent limit.
    pub failures: u32,
    /// Whether each run filled every quota, in run order.
    pub filled: Vec<bool>,
    /// Mean interview seconds over all respondents of all runs.
    pub mean_seconds: f64,
    /// Longest interview in any run.
    pub max_seconds: f64,
    /// Mean qualifiers per respondent.
    pub mean_qualifiers: f64,
    /// Most qualifiers shown to one respondent in any run.
    pub max_qualifiers: u32,
    /// Mean over runs of each category's exposure divergence per question (row-major).
    pub divergence: Vec<f64>,
    /// Share of all interviews that would have passed their budget (ended there).
    #[cfg_attr(feature = "serde", serde(default))]
    pub over_cap_share: f64,
    /// Share of all interviews abandoned during a category survey.
    #[cfg_attr(feature = "serde", serde(default))]
    pub abandon_share: f64,
}

impl Summary {
    /// Share of runs that filled every quota within `respondents`.
    pub fn success_rate(&self, respondents: u64) -> f64 {
        let ok = self
            .respondents
            .iter()
            .zip(&self.filled)
            .filter(|&(&n, &filled)| filled && n <= respondents)
            .count();
        ok as f64 / self.respondents.len().max(1) as f64
    }

    /// The largest mean divergence of any category on any question.
    pub fn worst_divergence(&self) -> f64 {
        self.divergence.iter().copied().fold(0.0, f64::max)
    }

    /// The largest mean divergence of any category on each of `questions` questions.
    pub fn worst_divergence_by_question(&self, questions: usize) -> Vec<f64> {
        let mut worst = vec![0.0f64; questions];
        for (i, d) in self.divergence.iter().enumerate() {
            let q = i % questions.max(1);
            worst[q] = worst[q].max(*d);
        }
        worst
    }
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

/// Runs `settings.runs` seeded runs on worker threads and summarises them. `progress` is called
/// with the number of runs finished so far, from the worker threads.
///
/// # Errors
/// [`SimError`] from the settings or from the first run whose router misbehaved.
pub fn monte_carlo(
    catalogue: &Catalogue,
    router: &dyn Router,
    settings: &Settings,
    progress: &(dyn Fn(u32) + Sync),
) -> Result<Summary, SimError> {
    settings.validate()?;
    let reference = reference_shares(catalogue);
    let threads = settings
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(settings.runs as usize)
        .max(1);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<RunResult, SimError>>>> =
        Mutex::new(vec![None; settings.runs as usize]);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let run = next.fetch_add(1, Ordering::Relaxed);
                    if run >= settings.runs as usize {
                        break;
                    }
                    let result = run_with(
                        catalogue,
                        router,
                        settings,
                        run as u32,
                        &reference,
                        &mut |_, _, _| {},
                    );
                    let failed = result.is_err();
                    results.lock().expect("no worker panics while holding it")[run] = Some(result);
                    progress(done.fetch_add(1, Ordering::Relaxed) as u32 + 1);
                    if failed {
                        next.store(usize::MAX / 2, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let results = results.into_inner().expect("workers finished");
    let mut runs = Vec::with_capacity(results.len());
    for r in results.into_iter().flatten() {
        runs.push(r?);
    }
    Ok(summarise(router.name(), &runs))
}

fn summarise(policy: &str, runs: &[RunResult]) -> Summary {
    let respondents: Vec<u64> = runs.iter().map(|r| r.respondents).collect();
    let total_respondents: f64 = respondents.iter().map(|&n| n as f64).sum();
    let weighted = |f: &dyn Fn(&RunResult) -> f64| {
        runs.iter()
            .map(|r| f(r) * r.respondents as f64)
            .sum::<f64>()
            / total_respondents.max(1.0)
    };
    let mut divergence = vec![0.0; runs.first().map_or(0, |r| r.divergence.len())];
    for r in runs {
        for (d, x) in divergence.iter_mut().zip(&r.divergence) {
            *d += x / runs.len() as f64;
        }
    }
    Summary {
        policy: policy.to_owned(),
        runs: runs.len() as u32,
        respondents_median: nearest_rank(&respondents, 0.5),
        respondents_p95: nearest_rank(&respondents, 0.95),
        respondents_mean: total_respondents / runs.len().max(1) as f64,
        failures: runs.iter().filter(|r| !r.filled).count() as u32,
        mean_seconds: weighted(&|r| r.mean_seconds),
        max_seconds: runs.iter().map(|r| r.max_seconds).fold(0.0, f64::max),
        mean_qualifiers: weighted(&|r| r.mean_qualifiers),
        max_qualifiers: runs.iter().map(|r| r.max_qualifiers).max().unwrap_or(0),
        filled: runs.iter().map(|r| r.filled).collect(),
        over_cap_share: runs.iter().map(|r| r.over_cap as f64).sum::<f64>()
            / total_respondents.max(1.0),
        abandon_share: runs.iter().map(|r| r.abandoned as f64).sum::<f64>()
            / total_respondents.max(1.0),
        respondents,
        divergence,
    }
}

/// N*₉₅, a stochastic floor for the 95th percentile of respondents: the larger of the time
/// term of the fluid bound and the p95 of max_c τ_c, where τ_c = T_c + NegativeBinomial(T_c,
/// p_c·s_c) failures is what category c needs if every eligible respondent is shown it
/// (estimated from `draws` seeded samples). [`stochastic_floor`] at 0.95.
pub fn lower_bound_p95(
    catalogue: &Catalogue,
    budget_seconds: f64,
    max_qualifiers: Option<u32>,
    draws: u32,
    seed: u64,
) -> f64 {
    stochastic_floor(catalogue, budget_seconds, max_qualifiers, draws, seed, 0.95)
}

/// A floor under the `share` quantile of the respondents any policy needs: the larger of the
/// time term of the fluid bound and the `share` quantile of max_c τ_c (see
/// [`lower_bound_p95`]). [`stochastic_floors`] without a hard cap, at one quantile.
///
/// Every run needs at least max_c τ_c respondents (no policy completes c before its T_c-th
/// qualifying respondent arrives) and at least the time term (the completes' interview
/// seconds must fit in the budget), so each quantile of the respondents needed is at least this
/// floor's. Where the time term and the rarest categories' terms are close, the median floor
/// lies well above N*: max of near-equal random terms exceeds each term's mean.
pub fn stochastic_floor(
    catalogue: &Catalogue,
    budget_seconds: f64,
    max_qualifiers: Option<u32>,
    draws: u32,
    seed: u64,
    share: f64,
) -> f64 {
    let options = FloorOptions {
        budget_seconds,
        hard_cap_seconds: None,
        max_qualifiers,
        draws,
        seed,
    };
    stochastic_floors(catalogue, &options, &[share])[0]
}

/// What [`stochastic_floors`] is computed for.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct FloorOptions {
    /// Mean seconds per respondent: the budget of the time term.
    pub budget_seconds: f64,
    /// Seconds no respondent passes: with it, sets of categories that do not fit together add
    /// their own terms, and a category that never fits makes the floors infinite (`None`: no
    /// such terms; the only valid choice where lengths vary).
    #[cfg_attr(feature = "serde", serde(default))]
    pub hard_cap_seconds: Option<f64>,
    /// Cap on qualifiers per respondent, for the time term (`None`: no cap).
    #[cfg_attr(feature = "serde", serde(default))]
    pub max_qualifiers: Option<u32>,
    /// Seeded runs sampled.
    pub draws: u32,
    /// Seed of the samples.
    pub seed: u64,
}

/// Floors under the given quantiles (`shares`, each in (0, 1]) of the respondents any policy
/// needs, from one sample of `draws` runs.
///
/// Each sampled run draws its respondents from the schema's supply, one at a time, with each
/// category's qualifying coin; its floor is the largest of
///
/// - τ_c for every category: the position of its T_c-th eligible respondent whose coin is
///   heads (no policy completes c earlier);
/// - with a hard cap, τ_U for sets U of categories no two of which fit together under the cap
///   (qualifier + LOI each): the position of the (Σ_{c∈U} T_c)-th respondent with heads on a
///   category of U they are eligible for. U's completes need distinct respondents, each with
///   such a head, so no policy finishes U earlier;
///
/// and the floor of a quantile is the larger of that quantile of the runs' floors and that
/// quantile of the run's time term: its completes' seconds, with each category's qualifier paid
/// on at least T_c + NegativeBinomial(T_c, p_c) shows, over the budget (each respondent's
/// seconds are within it, on average where time is banked), and those shows over the cap on
/// qualifiers. With free, uncapped qualifiers the time term is Σ T·L / B in every run. Each of
/// the two is a floor of every run, so each quantile of either is a floor of that quantile. The runs draw the demographic cell of each respondent, so categories that share
/// eligible respondents move together as they do in fieldwork (sampling each τ_c on its own
/// overstates the maximum of such categories).
///
/// Only terms that can set a floor are sampled: those whose mean + 8 sd reaches the least time
/// term of a run and every term's mean − 8 sd (dropping a term can only lower a floor). With
/// more than 100,000 complete cells categories cannot be sampled together: the floor is then
/// the largest of each τ_c's own quantile, with no set terms.
///
/// The floors assume what N* assumes: the catalogue's incidences and fixed lengths, and the
/// schema's supply shares. Leave `hard_cap_seconds` at `None` where lengths vary (LOI or
/// speed spread): a short draw can let two categories that do not fit on average both
/// complete.
///
/// # Performance
/// O(draws × floor × terms sampled): about the respondents of `draws` runs, with a coin per
/// sampled category each. Infinite when a category has a target but no eligible supply.
pub fn stochastic_floors(
    catalogue: &Catalogue,
    options: &FloorOptions,
    shares: &[f64],
) -> Vec<f64> {
    let schema = catalogue.schema();
    let cells: Vec<(Answers, f64)> = if schema
        .complete_cell_count()
        .is_some_and(|n| n <= MAX_ENUMERATED_CELLS)
    {
        schema.complete_cells().collect()
    } else {
        Vec::new()
    };
    let with_targets: Vec<CategoryId> = catalogue
        .ids()
        .filter(|&c| catalogue.category(c).target > 0)
        .collect();
    let never = |c: CategoryId| {
        catalogue.incidence(c) * catalogue.eligible_share(c) <= 0.0
            || options
                .hard_cap_seconds
                .is_some_and(|cap| catalogue.seconds_if_qualified(c) > cap)
    };
    if with_targets.iter().any(|&c| never(c)) {
        return vec![f64::INFINITY; shares.len()];
    }
    let draws = options.draws.max(1);
    // The time term, per run: the completes' seconds, each category's qualifier paid on its
    // T_c + NegativeBinomial(T_c, p_c) shows at least (its coins are read in the order it is
    // shown, whoever sees it), over the budget; and those shows over the qualifier cap.
    let time = run_time_floors(catalogue, options, shares, draws);
    // What every run needs at the least: each complete's qualifier and survey, and one show.
    let certain_time = {
        let (seconds, shows) = with_targets.iter().fold((0.0, 0.0), |(s, n), &c| {
            let t = f64::from(catalogue.category(c).target);
            (s + t * catalogue.seconds_if_qualified(c), n + t)
        });
        (seconds / options.budget_seconds).max(
            options
                .max_qualifiers
                .map_or(0.0, |k| shows / f64::from(k.max(1))),
        )
    };
    let mut rng = run_rng(options.seed, u32::MAX);
    let floors = |maxima: &mut Vec<u64>| -> Vec<f64> {
        maxima.sort_unstable();
        shares
            .iter()
            .zip(&time)
            .map(|(&share, &t)| t.max(nearest_rank(maxima, share) as f64))
            .collect()
    };
    if cells.is_empty() {
        // Without the cells, categories cannot be sampled together: each quantile of each τ_c
        // is a floor on its own, so their largest is one.
        let quantiles = independent_quantiles(catalogue, &with_targets, shares, draws, &mut rng);
        return quantiles
            .iter()
            .zip(&time)
            .map(|(&q, &t)| q.max(t))
            .collect();
    }
    // Terms: (members, completes needed); a category alone is a set of one.
    let mut terms: Vec<(Vec<CategoryId>, u64)> = with_targets
        .iter()
        .map(|&c| (vec![c], u64::from(catalogue.category(c).target)))
        .collect();
    if let Some(cap) = options.hard_cap_seconds {
        let apart = |a: CategoryId, b: CategoryId| {
            catalogue.seconds_if_qualified(a) + catalogue.seconds_if_qualified(b) > cap
        };
        // Sets grown greedily from each pair that does not fit together, by the member that
        // most raises the set's mean τ: exponentially many sets exist, and the heaviest are
        // the ones that can set a maximum.
        let mut seen = std::collections::BTreeSet::new();
        for (i, &a) in with_targets.iter().enumerate() {
            for &b in &with_targets[i + 1..] {
                if !apart(a, b) {
                    continue;
                }
                let mut members = vec![a, b];
                loop {
                    let now = set_mean(catalogue, &cells, &members);
                    let mut trial = members.clone();
                    let best = with_targets
                        .iter()
                        .filter(|&&d| !members.contains(&d) && members.iter().all(|&m| apart(m, d)))
                        .map(|&d| {
                            trial.push(d);
                            let mean = set_mean(catalogue, &cells, &trial);
                            trial.pop();
                            (mean, d)
                        })
                        .filter(|&(mean, _)| mean > now)
                        .max_by(|x, y| x.0.total_cmp(&y.0));
                    match best {
                        Some((_, d)) => members.push(d),
                        None => break,
                    }
                }
                members.sort_unstable();
                if seen.insert(members.clone()) {
                    let needed = members
                        .iter()
                        .map(|&c| u64::from(catalogue.category(c).target))
                        .sum();
                    terms.push((members, needed));
                }
            }
        }
    }
    // Keep the terms that can set a run's maximum (normal approximation, 8 sd either side).
    let stats: Vec<(f64, f64)> = terms
        .iter()
        .map(|(members, needed)| {
            let p = set_head_share(catalogue, &cells, members);
            let t = *needed as f64;
            (t / p, (t * (1.0 - p)).sqrt() / p)
        })
        .collect();
    // A term below the time term in every plausible run cannot move a floor.
    let low = stats
        .iter()
        .map(|s| s.0 - 8.0 * s.1)
        .fold(certain_time, f64::max);
    let terms: Vec<&(Vec<CategoryId>, u64)> = terms
        .iter()
        .zip(&stats)
        .filter(|(_, s)| s.0 + 8.0 * s.1 >= low)
        .map(|(t, _)| t)
        .collect();
    // The categories whose coins the sampled terms read, and each term's members among them.
    let mut involved: Vec<CategoryId> = terms.iter().flat_map(|t| t.0.iter().copied()).collect();
    involved.sort_unstable();
    involved.dedup();
    let members: Vec<Vec<usize>> = terms
        .iter()
        .map(|t| {
            t.0.iter()
                .map(|c| {
                    involved
                        .binary_search(c)
                        .expect("involved holds every member")
                })
                .collect()
        })
        .collect();
    let eligible: Vec<bool> = cells
        .iter()
        .flat_map(|(answers, _)| involved.iter().map(|&c| catalogue.is_eligible(c, answers)))
        .collect();
    let mut cdf: Vec<f64> = cells
        .iter()
        .scan(0.0, |sum, (_, share)| {
            *sum += share;
            Some(*sum)
        })
        .collect();
    let total = cdf.last().copied().unwrap_or(1.0);
    cdf.iter_mut().for_each(|x| *x /= total);
    let incidence: Vec<f64> = involved.iter().map(|&c| catalogue.incidence(c)).collect();
    let m = involved.len();
    let mut heads = vec![false; m];
    let mut counts = vec![0u64; terms.len()];
    let mut maxima: Vec<u64> = (0..draws)
        .map(|_| {
            counts.iter_mut().for_each(|c| *c = 0);
            let mut open = terms.len();
            let mut n = 0u64;
            while open > 0 {
                n += 1;
                let u: f64 = rng.random();
                let cell = cdf.partition_point(|&x| x <= u).min(cells.len() - 1);
                let row = &eligible[cell * m..(cell + 1) * m];
                for j in 0..m {
                    heads[j] = row[j] && rng.random::<f64>() < incidence[j];
                }
                for (k, term) in members.iter().enumerate() {
                    if counts[k] < terms[k].1 && term.iter().any(|&j| heads[j]) {
                        counts[k] += 1;
                        if counts[k] == terms[k].1 {
                            open -= 1;
                        }
                    }
                }
            }
            n
        })
        .collect();
    floors(&mut maxima)
}

/// Share of the supply with heads on some category of `members` they are eligible for.
fn set_head_share(catalogue: &Catalogue, cells: &[(Answers, f64)], members: &[CategoryId]) -> f64 {
    // The cells' shares sum to 1 only up to rounding; a share just above 1 would make the
    // term's spread √(T(1 − p)) NaN and drop a term that is certain.
    let total: f64 = cells.iter().map(|c| c.1).sum();
    cells
        .iter()
        .map(|(answers, share)| {
            let none: f64 = members
                .iter()
                .filter(|&&c| catalogue.is_eligible(c, answers))
                .map(|&c| 1.0 - catalogue.incidence(c))
                .product();
            share * (1.0 - none)
        })
        .sum::<f64>()
        / total
}

/// Mean respondents a set of mutually exclusive categories needs: Σ T / head share.
fn set_mean(catalogue: &Catalogue, cells: &[(Answers, f64)], members: &[CategoryId]) -> f64 {
    let needed: f64 = members
        .iter()
        .map(|&c| f64::from(catalogue.category(c).target))
        .sum();
    needed / set_head_share(catalogue, cells, members)
}

/// The largest over categories of each quantile of τ_c, each sampled on its own (schemas too
/// large to sample cells from).
fn independent_quantiles<R: Rng + ?Sized>(
    catalogue: &Catalogue,
    with_targets: &[CategoryId],
    shares: &[f64],
    draws: u32,
    rng: &mut R,
) -> Vec<f64> {
    let mut best = vec![0.0f64; shares.len()];
    let mut samples = Vec::with_capacity(draws as usize);
    for &c in with_targets {
        let t = catalogue.category(c).target;
        let p = catalogue.incidence(c) * catalogue.eligible_share(c);
        samples.clear();
        samples.extend((0..draws).map(|_| u64::from(t) + negative_binomial(rng, t, p)));
        samples.sort_unstable();
        for (b, &share) in best.iter_mut().zip(shares) {
            *b = b.max(nearest_rank(&samples, share) as f64);
        }
    }
    best
}

/// Each quantile of the run's time term: (Σ T_c L_c + Σ q_c · shows_c) / budget, and Σ shows_c
/// over the qualifier cap, with shows_c = T_c + NegativeBinomial(T_c, p_c), the fewest shows
/// that give T_c completes. Exact (no sampling) when qualifiers are free and uncapped.
fn run_time_floors(
    catalogue: &Catalogue,
    options: &FloorOptions,
    shares: &[f64],
    draws: u32,
) -> Vec<f64> {
    let budget = options.budget_seconds;
    let with_targets = || {
        catalogue
            .ids()
            .filter(|&c| catalogue.category(c).target > 0)
    };
    let interviews: f64 = with_targets()
        .map(|c| f64::from(catalogue.category(c).target) * catalogue.loi_seconds(c))
        .sum();
    let sampled = options.max_qualifiers.is_some()
        || with_targets().any(|c| catalogue.qualifier_seconds(c) > 0.0);
    if !sampled {
        return vec![interviews / budget; shares.len()];
    }
    let k = options.max_qualifiers.map(|k| f64::from(k.max(1)));
    let mut rng = run_rng(options.seed, u32::MAX - 1);
    let mut runs: Vec<u64> = (0..draws)
        .map(|_| {
            let (mut seconds, mut shows) = (interviews, 0.0);
            for c in with_targets() {
                let t = catalogue.category(c).target;
                let n =
                    f64::from(t) + negative_binomial(&mut rng, t, catalogue.incidence(c)) as f64;
                seconds += catalogue.qualifier_seconds(c) * n;
                shows += n;
            }
            let floor = (seconds / budget).max(k.map_or(0.0, |k| shows / k));
            // Whole respondents: the floor rounds up, as the run's count does.
            floor.ceil() as u64
        })
        .collect();
    runs.sort_unstable();
    shares
        .iter()
        .map(|&share| nearest_rank(&runs, share) as f64)
        .collect()
}

/// Failures before the `successes`-th success in Bernoulli(p) trials.
fn negative_binomial<R: Rng + ?Sized>(rng: &mut R, successes: u32, p: f64) -> u64 {
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
    use crate::catalogue::Category;
    use crate::route::{Greedy, RandomRouter};

    fn small() -> Catalogue {
        Catalogue::new(
            Schema::default_survey(),
            vec![
                Category::new("a", "A", 0.5, 100.0).with_target(30),
                Category::new("b", "B", 0.2, 200.0).with_target(30),
                Category::new("c", "C", 0.9, 50.0)
                    .with_target(30)
                    .with_eligibility(
                        crate::schema::Rule::parse(&Schema::default_survey(), "gender=female")
                            .unwrap(),
                    ),
            ],
        )
        .unwrap()
    }

    #[test]
    fn same_seed_same_result_whatever_the_threads() {
        let catalogue = small();
        let one = Settings {
            runs: 8,
            threads: Some(1),
            ..Settings::default()
        };
        let two = Settings {
            threads: Some(2),
            ..one.clone()
        };
        for router in [&Greedy::scarcity() as &dyn Router, &RandomRouter] {
            let a = monte_carlo(&catalogue, router, &one, &|_| {}).unwrap();
            let b = monte_carlo(&catalogue, router, &two, &|_| {}).unwrap();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn runs_fill_every_quota_within_the_cap() {
        let catalogue = small();
        let r = run_once(&catalogue, &Greedy::scarcity(), &Settings::default(), 3).unwrap();
        assert!(r.filled);
        assert_eq!(r.completes, vec![30, 30, 30]);
        assert!(r.max_seconds <= 480.0 + 1e-9);
    }

    #[test]
    fn a_tight_limit_counts_as_failure() {
        let settings = Settings {
            runs: 4,
            max_respondents: Some(5),
            ..Settings::default()
        };
        let s = monte_carlo(&small(), &Greedy::scarcity(), &settings, &|_| {}).unwrap();
        assert_eq!(s.failures, 4);
        assert_eq!(s.respondents_p95, 5);
        assert_eq!(s.success_rate(10), 0.0);
    }

    #[test]
    fn nearest_rank_matches_definition() {
        let v: Vec<u64> = (1..=200).rev().collect();
        assert_eq!(nearest_rank(&v, 0.95), 190);
        assert_eq!(nearest_rank(&v, 0.5), 100);
        assert_eq!(nearest_rank(&[7], 0.95), 7);
    }

    #[test]
    fn reference_shares_condition_on_eligibility() {
        let catalogue = small();
        let shares = reference_shares(&catalogue);
        // category c (index 2) is female-only: its gender reference is (1, 0).
        assert_eq!(shares[2 * 3], vec![1.0, 0.0]);
        assert_eq!(shares[0], vec![0.5, 0.5]);
    }

    #[test]
    fn bad_settings_are_named() {
        let s = Settings {
            hard_cap: f64::NAN,
            ..Settings::default()
        };
        assert!(matches!(
            s.validate(),
            Err(SimError::Setting {
                field: "hard_cap",
                ..
            })
        ));
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
