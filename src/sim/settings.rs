//! How a simulation runs: [`Settings`], the [`Scenario`] document that sets them, and why
//! either can be refused.

use rand::RngExt;
use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::trees::add_trees;
use super::{DEFAULT_POLICIES, Pacing, ScenarioTree};
use crate::bound::sample::run_rng;
use crate::catalogue::{Catalogue, CatalogueError, TreeError, reference_shares};
use crate::quota::SpecError;
use crate::route::{DemographicWeight, OfferError, PolicyOptions};
use crate::schema::QuestionId;

/// Most Monte-Carlo runs one simulation makes: every run's result is kept for the summary,
/// so the memory a simulation takes grows with the runs.
pub const MAX_RUNS: u32 = 1_000_000;

/// Most worker threads one simulation spawns (results do not depend on the number).
pub const MAX_THREADS: usize = 256;

/// The most respondents a month (or a run) may have when they are derived from the lower
/// bound rather than set: past it, [`Settings::check_catalogue`] refuses the catalogue.
pub const MAX_MONTH: u64 = 100_000_000;

/// How a simulation runs.
///
/// Checked by [`validate`](Self::validate), which every simulation and deserialising call.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(remote = "Self", default, deny_unknown_fields)
)]
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
    /// probability that an interview passes its budget (see [`CapRisk`](crate::route::CapRisk)); an interview whose
    /// survey would pass it ends at the budget and counts as passing the cap.
    pub cap_risk: f64,
    /// Supply drift D (see [`SupplyDrift`](super::SupplyDrift); 0: the schema's shares all month).
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
    /// Route as if no quota cell (tree node) had a min: the routers see a copy of the
    /// catalogue with every min at 0, while [`RunResult::mins_met`](super::RunResult::mins_met)
    /// is still measured against the real mins (what min steering buys is the difference).
    pub ignore_mins: bool,
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
            ignore_mins: false,
        }
    }
}

/// A whole simulation scenario as a document: which catalogue, which policies, which settings.
///
/// Every field has a default, so `{}` is the bundled default scenario; unknown fields are an
/// error, so a misspelt setting is not silently ignored. Used by the `simulate` example's
/// `--scenario FILE` (JSON); command-line flags override it. A document must be an object
/// (`[]` is refused, not read as the default), and a deserialised scenario has passed
/// [`validate`](Self::validate).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(remote = "Self", default, deny_unknown_fields)
)]
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
    /// Quota trees given to categories by id (see [`ScenarioTree`]).
    pub trees: Vec<ScenarioTree>,
    /// See [`Settings::ignore_mins`].
    pub ignore_mins: bool,
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
            trees: Vec::new(),
            ignore_mins: s.ignore_mins,
        }
    }
}

#[cfg(feature = "serde")]
crate::serde_check::checked_serde!(Settings, object);
#[cfg(feature = "serde")]
crate::serde_check::checked_serde!(Scenario, object);

impl Scenario {
    /// Checks the whole scenario: its [`settings`](Self::settings), its policies (at least one,
    /// each a built-in name or `all`), their [`options`](Self::policy_options), and the
    /// per-category overrides.
    ///
    /// # Errors
    /// [`SimError::Setting`] naming the first bad field and its allowed range.
    pub fn validate(&self) -> Result<(), SimError> {
        self.settings().validate()?;
        let bad = |field: &'static str, problem: String| Err(SimError::Setting { field, problem });
        if self.policies.is_empty() {
            return bad(
                "policies",
                "must name at least one policy (or `all`)".into(),
            );
        }
        for name in self.policies.iter().filter(|p| *p != "all") {
            if let Err(e) = crate::route::policy_info(name) {
                return bad("policies", e.to_string());
            }
        }
        let below_0_or_not_finite =
            |v: Option<f64>| v.is_some_and(|v| !(v.is_finite() && v >= 0.0));
        if below_0_or_not_finite(self.qualifier_seconds) {
            return bad(
                "qualifier_seconds",
                "must be a finite number of seconds >= 0".into(),
            );
        }
        if below_0_or_not_finite(self.loi_spread) {
            return bad(
                "loi_spread",
                "must be a finite coefficient of variation >= 0".into(),
            );
        }
        if below_0_or_not_finite(self.demographic_weight) {
            return bad(
                "demographic_weight",
                "must be a finite strength >= 0".into(),
            );
        }
        if self.success_at == Some(0) {
            return bad("success_at", "must be at least 1".into());
        }
        if let Err(e) = self.policy_options().validate() {
            // The learning strength and the hold are the scenario's own fields.
            let field = match e.field {
                "learning" => "learn",
                "demographic.hold" => "demographic_hold",
                _ => "demographic_weight",
            };
            return bad(
                field,
                format!("{} is out of range: must be {}", e.value, e.allowed),
            );
        }
        Ok(())
    }

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
            ignore_mins: self.ignore_mins,
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
    /// spread, exclusion groups, quota trees and (with the demographic weight on) exposure targets.
    ///
    /// # Errors
    /// [`ScenarioError`] naming an unknown category id, a bad tree or the field a catalogue
    /// check refused.
    pub fn apply(&self, base: &Catalogue) -> Result<Catalogue, ScenarioError> {
        let plain = self.qualifier_seconds.is_none()
            && self.loi_spread.is_none()
            && self.exclusion_groups.is_empty()
            && self.demographic_weight.is_none()
            && self.trees.is_empty();
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
        // The catalogue's own group names: a scenario group never takes one of them, or a
        // CSV group called `scenario-0` would silently merge with the first flag's group.
        let taken: std::collections::HashSet<&str> = base
            .categories()
            .iter()
            .filter_map(|c| c.exclusion_group.as_deref())
            .collect();
        let mut prefix = String::from("scenario");
        while taken.iter().any(|name| name.starts_with(prefix.as_str())) {
            prefix.push('~');
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
                *slot = Some(format!("{prefix}-{g}"));
            }
        }
        add_trees(base, &self.trees, &mut categories)?;
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
    /// A tree names a category id the catalogue does not have.
    #[error("trees[{tree}].categories: no category with id `{key}`")]
    UnknownTreeCategory {
        /// The tree's position in `trees`.
        tree: usize,
        /// The id.
        key: String,
    },
    /// A category is named twice in the scenario's trees (in one list or two).
    #[error("trees[{tree}].categories: category `{key}` already has a tree of the scenario")]
    TreeTwice {
        /// The position in `trees` of the second mention.
        tree: usize,
        /// The category's id.
        key: String,
    },
    /// A tree is not a quota tree on the catalogue's schema (an unknown question or
    /// response, a max without a min, ...).
    #[error("trees[{tree}].tree: {error}")]
    BadTree {
        /// The tree's position in `trees`.
        tree: usize,
        /// What the quota module refused.
        error: SpecError,
    },
    /// A category refused the tree (a root with a min below its max, a target too large).
    #[error("trees[{tree}]: category `{key}`: {error}")]
    TreeRefused {
        /// The tree's position in `trees`.
        tree: usize,
        /// The category's id.
        key: String,
        /// Why.
        error: TreeError,
    },
}

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
    /// No run can fill the catalogue (a category no respondent is eligible for, or one that
    /// never fits the hard cap), or the lower bound passes [`MAX_MONTH`] respondents with no
    /// explicit month or respondent limit: simulating it would never end.
    #[error("category `{category}`: {problem}")]
    Impossible {
        /// The category's key (or `catalogue` for the whole).
        category: String,
        /// Why.
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
        if !(1..=MAX_RUNS).contains(&self.runs) {
            return bad("runs", "must be in [1, 1000000] (MAX_RUNS)");
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
        if self
            .threads
            .is_some_and(|t| !(1..=MAX_THREADS).contains(&t))
        {
            return bad("threads", "must be in [1, 256] (MAX_THREADS)");
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

    /// Checks that runs on `catalogue` can end: every category with a target has eligible
    /// respondents and (where lengths are certain) fits the hard cap, and without an explicit
    /// `month_respondents` and `max_respondents` the lower bound stays within [`MAX_MONTH`]
    /// (the month and the respondent limit are derived from it).
    ///
    /// # Errors
    /// [`SimError::Impossible`] naming the category.
    pub fn check_catalogue(&self, catalogue: &Catalogue) -> Result<(), SimError> {
        let certain = !self.uncertain_loi(catalogue);
        for c in catalogue.ids() {
            let category = catalogue.category(c);
            if category.target == 0 {
                continue;
            }
            let problem = if catalogue.eligible_share(c) <= 0.0 {
                "no respondent is eligible (its eligibility matches no answer the supply gives)"
                    .to_owned()
            } else if certain && catalogue.seconds_if_qualified(c) > self.hard_cap {
                format!(
                    "qualifier + survey take {} s, over the hard cap of {} s",
                    catalogue.seconds_if_qualified(c),
                    self.hard_cap
                )
            } else {
                continue;
            };
            return Err(SimError::Impossible {
                category: category.key.clone(),
                problem,
            });
        }
        let bound = catalogue.lower_bound(self.budget_for_bound(), self.max_qualifiers);
        let derived = self.month_respondents.is_none() || self.max_respondents.is_none();
        let within = (bound * 10.0).is_finite() && bound * 10.0 <= MAX_MONTH as f64;
        if derived && !within {
            return Err(SimError::Impossible {
                category: "catalogue".into(),
                problem: format!(
                    "the lower bound is {bound:.3e} respondents: 10 times it passes the limit of \
                     {MAX_MONTH} (MAX_MONTH); set month_respondents and max_respondents"
                ),
            });
        }
        Ok(())
    }

    /// The budget per respondent the lower bound uses: the mean budget when banking, else the
    /// hard cap.
    pub fn budget_for_bound(&self) -> f64 {
        self.mean_budget.unwrap_or(self.hard_cap)
    }

    /// The true incidence of each category in run `run`, in [[`MIN_INCIDENCE`](crate::catalogue::MIN_INCIDENCE), 1].
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
                // Kept a catalogue incidence, so the oracle can believe it.
                (catalogue.incidence(c) * self.incidence_scale * error)
                    .clamp(crate::catalogue::MIN_INCIDENCE, 1.0)
            })
            .collect()
    }

    /// True when interview lengths are uncertain (some category's LOI spread, or a speed
    /// spread): the hard cap is then a risk target.
    pub fn uncertain_loi(&self, catalogue: &Catalogue) -> bool {
        catalogue.has_any_loi_spread() || self.speed_spread > 0.0
    }

    /// Respondents in the month: the setting, or ⌈1.05 · N*⌉ (1,000,000 when N* is
    /// infinite), at most [`MAX_MONTH`].
    pub fn month(&self, catalogue: &Catalogue) -> u64 {
        self.month_respondents
            .unwrap_or_else(|| self.scaled_bound(catalogue, 1.05))
    }

    /// The respondent limit per run: the setting, or 10 × the lower bound (1,000,000 when it
    /// is infinite), at most [`MAX_MONTH`]: a run on a catalogue it cannot fill stops there.
    pub fn respondent_limit(&self, catalogue: &Catalogue) -> u64 {
        self.max_respondents
            .unwrap_or_else(|| self.scaled_bound(catalogue, 10.0))
    }

    /// ⌈factor · N*⌉ within [1, MAX_MONTH] (1,000,000 for an infinite N*).
    fn scaled_bound(&self, catalogue: &Catalogue, factor: f64) -> u64 {
        let bound = catalogue.lower_bound(self.budget_for_bound(), self.max_qualifiers);
        if bound.is_finite() {
            (factor * bound).ceil().clamp(1.0, MAX_MONTH as f64) as u64
        } else {
            1_000_000
        }
    }
}

/// The budgets of a simulation as LP options.
#[cfg(feature = "lp")]
impl crate::bound::LpOptions {
    /// The budgets a simulation runs under: the bound's budget
    /// ([`Settings::budget_for_bound`]), the hard cap and the qualifier cap.
    pub fn from_settings(settings: &Settings) -> crate::bound::LpOptions {
        crate::bound::LpOptions {
            hard_cap_seconds: Some(settings.hard_cap),
            max_qualifiers: settings.max_qualifiers,
            max_completes: settings.max_completes,
            ..crate::bound::LpOptions::new(settings.budget_for_bound())
        }
    }

    /// [`from_settings`](Self::from_settings) plus the catalogue's exclusion groups (its
    /// categories' [`exclusion_group`](crate::catalogue::Category::exclusion_group) names),
    /// in the order each group is first named, and its quota cells' limits
    /// ([`node_limits`](crate::bound::LpOptions::node_limits)).
    pub fn for_run(settings: &Settings, catalogue: &Catalogue) -> crate::bound::LpOptions {
        crate::bound::LpOptions {
            exclusion_groups: catalogue.exclusion_groups(),
            node_limits: true,
            ..crate::bound::LpOptions::from_settings(settings)
        }
    }
}
