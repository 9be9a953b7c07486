//! The factors a [`Greedy`](super::Greedy) policy multiplies into a priority.
//!
//! Each factor is a type implementing [`Factor`]; a policy is generic over its factors, so a
//! user's own factor is monomorphised into the decision loop like the built-in ones (no dynamic
//! call per candidate) and plugs in without forking:
//!
//! ```
//! use quotaroute::catalogue::CategoryId;
//! use quotaroute::route::{Ask, Factor, Greedy};
//!
//! /// Prefer short surveys: 1 / LOI.
//! struct Short;
//! impl Factor for Short {
//!     fn name(&self) -> &'static str { "short" }
//!     fn value(&self, ask: &Ask<'_>, c: CategoryId) -> f64 {
//!         1.0 / ask.catalogue.category(c).loi_seconds
//!     }
//! }
//! # let catalogue = quotaroute::catalogue::Catalogue::new(
//! #     quotaroute::schema::Schema::default_survey(),
//! #     vec![quotaroute::catalogue::Category::new("a", "A", 0.5, 60.0)]).unwrap();
//! let router = Greedy::scarcity().with_incidence(Short).named("scarcity-short");
//! ```

use crate::catalogue::{Catalogue, CategoryId};
use crate::schema::QuestionId;
use crate::state::QuotaView;

use super::Ask;

/// One multiplicative term of a greedy priority. Values are finite and ≥ 0; 0 removes the
/// candidate.
///
/// # Performance
/// Called once per candidate per decision: keep it allocation-free and cheap.
pub trait Factor: Send + Sync {
    /// A short stable name, shown in explanations.
    fn name(&self) -> &'static str;
    /// The factor's value for the category in this decision.
    fn value(&self, ask: &Ask<'_>, category: CategoryId) -> f64;

    /// A bound on [`value`](Self::value) over every respondent and interview, given the quota
    /// counts, that can only fall as categories complete (it may rise only with the view's
    /// [`epoch`](crate::state::QuotaView::epoch)). `None` (the default) when there is none.
    ///
    /// When all of a [`Greedy`](super::Greedy) policy's factors give one, it keeps the
    /// categories ordered by bound and stops scanning once no remaining bound can beat the best
    /// candidate found: the same decision, most of the scan skipped.
    fn upper_bound(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        category: CategoryId,
    ) -> Option<f64> {
        let _ = (catalogue, quotas, category);
        None
    }
}

/// Always 1: a slot left neutral.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Neutral;

impl Factor for Neutral {
    fn name(&self) -> &'static str {
        "neutral"
    }
    #[inline(always)]
    fn value(&self, _: &Ask<'_>, _: CategoryId) -> f64 {
        1.0
    }
    fn upper_bound(&self, _: &Catalogue, _: &QuotaView<'_>, _: CategoryId) -> Option<f64> {
        Some(1.0)
    }
}

/// Scarcity: `open slots / (p̂ · s)`, the respondents that must still see the category.
///
/// `p̂` is the catalogue's incidence, or with `learning: Some(k)` the mean of a Beta
/// posterior: `(k · p + qualified) / (k + shown)`, the catalogue's belief worth `k`
/// respondents updated by every qualifier answer counted in the quota view.
///
/// Divided by N_left (common to every category, see
/// [`Explanation::respondents_left`](super::Explanation::respondents_left)) it is x_c, the share
/// of the respondents still to come who must see c; the order is the same, so the decision path
/// skips the division. Incidence is already in it, so a scarcity policy has no separate
/// incidence factor.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Scarcity {
    /// Prior strength of learned incidence (`None`: believe the catalogue).
    pub learning: Option<f64>,
}

impl Scarcity {
    /// Scarcity on learned incidence with a prior worth `strength` respondents.
    pub fn learning(strength: f64) -> Scarcity {
        Scarcity {
            learning: Some(strength),
        }
    }

    /// The believed incidence of `c`.
    #[inline]
    pub fn incidence(&self, catalogue: &Catalogue, quotas: &QuotaView<'_>, c: CategoryId) -> f64 {
        believed_incidence(self.learning, catalogue, quotas, c)
    }
}

/// The catalogue's incidence, or with a prior strength `k` the posterior mean
/// `(k · p + qualified) / (k + shown)`.
#[inline]
pub fn believed_incidence(
    learning: Option<f64>,
    catalogue: &Catalogue,
    quotas: &QuotaView<'_>,
    c: CategoryId,
) -> f64 {
    match learning {
        None => catalogue.incidence(c),
        Some(k) => {
            let shown = f64::from(quotas.shown(c));
            let qualified = f64::from(quotas.qualified(c));
            ((k * catalogue.incidence(c) + qualified) / (k + shown)).clamp(1e-6, 1.0)
        }
    }
}

impl Factor for Scarcity {
    fn name(&self) -> &'static str {
        "scarcity"
    }
    #[inline(always)]
    fn value(&self, ask: &Ask<'_>, c: CategoryId) -> f64 {
        match self.learning {
            None => f64::from(ask.quotas.open_slots(c)) * ask.catalogue.respondents_per_complete(c),
            Some(_) => {
                let p = self.incidence(ask.catalogue, &ask.quotas, c);
                f64::from(ask.quotas.open_slots(c)) / (p * ask.catalogue.eligible_share(c))
            }
        }
    }
    fn upper_bound(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        c: CategoryId,
    ) -> Option<f64> {
        // Learned incidence can fall, raising scarcity: no bound then.
        self.learning
            .is_none()
            .then(|| f64::from(quotas.open_slots(c)) * catalogue.respondents_per_complete(c))
    }
}

/// The prototype's quota urgency ([`Greedy::prototype`](super::Greedy::prototype)):
/// `(open slots / target)^power` (power 1 by default; `seed-greedy-squared` squares it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RemainingShare {
    /// The exponent.
    pub power: i32,
}

impl Default for RemainingShare {
    fn default() -> Self {
        RemainingShare { power: 1 }
    }
}

impl Factor for RemainingShare {
    fn name(&self) -> &'static str {
        "urgency"
    }
    #[inline]
    fn value(&self, ask: &Ask<'_>, c: CategoryId) -> f64 {
        let target = ask.catalogue.category(c).target;
        if target == 0 {
            return 0.0;
        }
        (f64::from(ask.quotas.open_slots(c)) / f64::from(target)).powi(self.power)
    }
    fn upper_bound(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        c: CategoryId,
    ) -> Option<f64> {
        // Falls with completes only for a positive power.
        let target = catalogue.category(c).target;
        (self.power > 0).then(|| {
            if target == 0 {
                0.0
            } else {
                (f64::from(quotas.open_slots(c)) / f64::from(target)).powi(self.power)
            }
        })
    }
}

/// The catalogue's incidence p̂: the expected completes per qualifier shown.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BelievedIncidence;

impl Factor for BelievedIncidence {
    fn name(&self) -> &'static str {
        "incidence"
    }
    #[inline(always)]
    fn value(&self, ask: &Ask<'_>, c: CategoryId) -> f64 {
        ask.catalogue.incidence(c)
    }
    fn upper_bound(&self, catalogue: &Catalogue, _: &QuotaView<'_>, c: CategoryId) -> Option<f64> {
        Some(catalogue.incidence(c))
    }
}

/// 1 when qualifier plus LOI fit in the seconds left, else 0: a filter, not a preference.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TimeFit;

impl Factor for TimeFit {
    fn name(&self) -> &'static str {
        "time_fit"
    }
    #[inline(always)]
    fn value(&self, ask: &Ask<'_>, c: CategoryId) -> f64 {
        if ask.interview.fits(ask.catalogue, c) {
            1.0
        } else {
            0.0
        }
    }
    fn upper_bound(&self, _: &Catalogue, _: &QuotaView<'_>, _: CategoryId) -> Option<f64> {
        Some(1.0)
    }
}

/// Nudges exposure toward a category's wanted shares: for each question with a target,
/// `(target share + a) / (observed share + a)` for the respondent's answer, multiplied over
/// questions and clamped to `[min, max]`.
///
/// Neutral (1) for categories without exposure targets, for answers not known yet, and until
/// `warm_up` respondents have been shown the category. `power` sets its strength: the product
/// is raised to it before clamping (0: neutral; 1: the default).
///
/// Every value built from data goes through [`validate`](Self::validate): a deserialised one,
/// and the options [`policy_with`](super::policy_with) builds policies from.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(remote = "Self", default, deny_unknown_fields)
)]
pub struct DemographicWeight {
    /// Smoothing added to both shares, so rare cells do not swing the weight.
    pub smoothing: f64,
    /// Exposures before the weight starts to act.
    pub warm_up: u32,
    /// Lowest weight.
    pub min: f64,
    /// Highest weight.
    pub max: f64,
    /// Strength: the exponent applied to the product of ratios.
    pub power: f64,
    /// Hold: when the respondent's answer's observed exposure share passes its target share by
    /// more than this on some question, the weight is 0 and the category is not offered to
    /// them (`None`: never held).
    pub hold: Option<f64>,
}

impl Default for DemographicWeight {
    fn default() -> Self {
        DemographicWeight {
            smoothing: 0.05,
            warm_up: 20,
            min: 0.25,
            max: 4.0,
            power: 1.0,
            hold: None,
        }
    }
}

impl Factor for DemographicWeight {
    fn name(&self) -> &'static str {
        "demographic_weight"
    }
    #[inline(always)]
    fn value(&self, ask: &Ask<'_>, c: CategoryId) -> f64 {
        if !ask.catalogue.has_exposure_targets(c) {
            return 1.0;
        }
        self.weigh(ask, c)
    }
    fn upper_bound(&self, catalogue: &Catalogue, _: &QuotaView<'_>, c: CategoryId) -> Option<f64> {
        Some(if catalogue.has_exposure_targets(c) {
            self.max.max(1.0)
        } else {
            1.0
        })
    }
}

#[cfg(feature = "serde")]
crate::serde_check::checked_serde!(DemographicWeight);

impl DemographicWeight {
    /// Checks every field: finite smoothing > 0, finite power >= 0, finite clamps with
    /// 0 <= `min` <= `max`, a finite hold >= 0.
    ///
    /// # Errors
    /// [`OptionError`](super::OptionError) naming the first bad field and its allowed range.
    pub fn validate(&self) -> Result<(), super::OptionError> {
        let bad = |field: &'static str, value: f64, range: &'static str| {
            Err(super::OptionError {
                field,
                value: value.to_string(),
                allowed: range,
            })
        };
        if !(self.smoothing.is_finite() && self.smoothing > 0.0) {
            return bad(
                "demographic.smoothing",
                self.smoothing,
                "a finite number > 0",
            );
        }
        if !(self.power.is_finite() && self.power >= 0.0) {
            return bad("demographic.power", self.power, "a finite number >= 0");
        }
        if !(self.min.is_finite() && self.min >= 0.0) {
            return bad("demographic.min", self.min, "a finite number >= 0");
        }
        if !(self.max.is_finite() && self.max >= self.min) {
            return bad(
                "demographic.max",
                self.max,
                "a finite number >= demographic.min",
            );
        }
        if let Some(h) = self.hold
            && !(h.is_finite() && h >= 0.0)
        {
            return bad("demographic.hold", h, "a finite share >= 0");
        }
        Ok(())
    }

    #[cold]
    fn weigh(&self, ask: &Ask<'_>, c: CategoryId) -> f64 {
        let targets = &ask.catalogue.category(c).exposure_targets;
        if ask.quotas.shown(c) < self.warm_up {
            return 1.0;
        }
        let schema = ask.catalogue.schema();
        let mut weight = 1.0;
        for (q, shares) in targets {
            // An answer outside the schema (deserialised answers) is as good as unknown.
            let Some((r, &share)) = ask
                .respondent
                .answers
                .get(*q)
                .and_then(|r| Some((r, shares.get(r.index())?)))
            else {
                continue;
            };
            let q: QuestionId = *q;
            // In u64: exposure counters go up to u32::MAX each.
            let total: u64 = schema
                .response_ids(q)
                .map(|r| u64::from(ask.quotas.exposures(c, q, r)))
                .sum();
            if total == 0 {
                continue;
            }
            let observed = f64::from(ask.quotas.exposures(c, q, r)) / total as f64;
            if self.hold.is_some_and(|h| observed - share > h) {
                return 0.0;
            }
            weight *= (share + self.smoothing) / (observed + self.smoothing);
        }
        if self.power != 1.0 {
            weight = weight.powf(self.power);
        }
        // Not `clamp`: it panics on clamps `validate` refuses (min > max, NaN), and a weight
        // built field by field need not have been validated.
        weight.max(self.min).min(self.max)
    }
}

/// Min-target steering: a category is more urgent for a respondent who falls in one of its
/// quota cells (tree nodes) still below its min target, pending slots counted as taken.
///
/// The value is `1 + weight × d` where `d` is the largest `(min − taken) / min` over the
/// respondent's cells of the category (0 when every one has reached its min, or has none), so
/// it lies in `[1, 1 + weight]`: a node short of its min draws the respondents who can fill
/// it, most strongly while it is furthest from the min, and the pull fades as it fills.
/// Categories without min targets get exactly 1 at the cost of one load. Every
/// [`Greedy`](super::Greedy) policy (so `greedy`, `seed-greedy`, `packing`, `paced`) carries it,
/// on by default; as a [`Factor`] it fits any slot of a user's own policy too.
///
/// ```
/// use quotaroute::route::{Greedy, MinUrgency};
///
/// // Route as if no node had a min (the comparison `simulate --ignore-mins` makes).
/// let plain = Greedy::scarcity().with_min_urgency(MinUrgency::off());
/// let strong = Greedy::scarcity().with_min_urgency(MinUrgency { weight: 8.0 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MinUrgency {
    /// How much more urgent a category gets for a respondent in a node with nothing toward
    /// its min yet (0: off). Finite and ≥ 0; any other value acts as 0.
    pub weight: f64,
}

impl Default for MinUrgency {
    /// Weight [`MinUrgency::DEFAULT_WEIGHT`].
    fn default() -> Self {
        MinUrgency {
            weight: MinUrgency::DEFAULT_WEIGHT,
        }
    }
}

impl MinUrgency {
    /// The default weight: a respondent in a node with nothing toward its min makes the
    /// category this many times more urgent, plus one.
    pub const DEFAULT_WEIGHT: f64 = 3.0;

    /// No steering: every value 1.
    pub const fn off() -> MinUrgency {
        MinUrgency { weight: 0.0 }
    }

    /// True for a finite weight above 0; any other weight (0, negative, NaN, infinite) leaves
    /// every value at 1 rather than making priorities NaN.
    #[inline]
    fn acts(&self) -> bool {
        self.weight > 0.0 && self.weight.is_finite()
    }

    /// `(min − taken) / min` of a cell (0 at or past its min, or without one).
    #[inline]
    fn shortfall(catalogue: &Catalogue, quotas: &QuotaView<'_>, cell: usize) -> f64 {
        let min = catalogue.cell_min(cell);
        let taken = quotas.cell_taken(cell);
        if taken >= min {
            return 0.0;
        }
        f64::from(min - taken) / f64::from(min)
    }
}

impl Factor for MinUrgency {
    fn name(&self) -> &'static str {
        "min_urgency"
    }
    #[inline(always)]
    fn value(&self, ask: &Ask<'_>, c: CategoryId) -> f64 {
        if !self.acts() || !ask.catalogue.has_min_cells(c) {
            return 1.0;
        }
        let worst = ask
            .interview
            .cells_of(c)
            .map(|cell| MinUrgency::shortfall(ask.catalogue, &ask.quotas, cell))
            .fold(0.0, f64::max);
        1.0 + self.weight * worst
    }
    fn upper_bound(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        c: CategoryId,
    ) -> Option<f64> {
        // Shortfalls only fall as slots are taken; a released slot moves the view's epoch.
        if !self.acts() || !catalogue.has_min_cells(c) {
            return Some(1.0);
        }
        let worst = catalogue
            .cell_range(c)
            .map(|cell| MinUrgency::shortfall(catalogue, quotas, cell))
            .fold(0.0, f64::max);
        Some(1.0 + self.weight * worst)
    }
}
