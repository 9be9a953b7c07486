//! One respondent's interview: time used, qualifiers shown, what is still offerable.

use thiserror::Error;

use crate::catalogue::{Catalogue, CategoryId};
use crate::schema::Answers;
use crate::state::QuotaView;

mod saved;

pub use saved::{ResumeError, SavedInterview};

/// Why an offer may not be made (a misbehaving router, or a caller's mistake).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OfferError {
    /// The id is not a category of the catalogue.
    #[error(
        "no category at position {} in the catalogue (an id from another catalogue)",
        .category.index()
    )]
    UnknownCategory {
        /// The id.
        category: CategoryId,
    },
    /// The category cannot be offered now, for the reason given.
    #[error("category `{key}` cannot be offered: {reason}")]
    NotOfferable {
        /// The category.
        category: CategoryId,
        /// The category's key in the catalogue.
        key: String,
        /// Why.
        reason: super::Exclusion,
    },
}

/// A respondent's interview so far: seconds used against this respondent's own budget,
/// qualifiers shown against an optional cap, and which categories are still candidates.
///
/// Reuse one `Interview` per worker ([`begin`](Self::begin) resets it): after the first
/// respondent it allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct Interview {
    seconds_used: f64,
    budget: f64,
    qualifiers_shown: u32,
    max_qualifiers: Option<u32>,
    completes: u32,
    /// Eligibility bits, one per category.
    eligible: Vec<u64>,
    /// Eligible and not yet shown (nor held, nor excluded by a group).
    candidates: Vec<u64>,
    /// (category, global cell) for every quota cell the respondent falls in, by category.
    member_cells: Vec<(u32, u32)>,
    /// (category, global cell, falls in it) for every quota cell the respondent falls in or
    /// may fall in once an unknown answer is known, by category.
    applicable_cells: Vec<(u32, u32, bool)>,
    /// Not shown, but held back because one of the respondent's cells is full.
    blocked: Vec<u64>,
    /// Candidates removed because a category of their exclusion group was completed (empty
    /// until the first such complete).
    group_blocked: Vec<u64>,
    /// Candidates held back for this respondent: a cooldown, pacing (empty until the first).
    held: Vec<u64>,
    /// Qualifiers answered (empty until the first): a repeated answer is not learned twice.
    answered: Vec<u64>,
    /// Categories whose complete this interview was charged (empty until the first).
    completed: Vec<u64>,
    /// Cap on completed category surveys.
    max_completes: Option<u32>,
    /// The interview has ended early (abandoned, or stopped at the cap).
    ended: bool,
    /// The LOI risk target, when interview lengths are uncertain.
    risk: Option<RiskState>,
}

/// How an interview routes when category lengths are uncertain: the hard cap becomes a risk
/// target.
///
/// Each category's LOI is log-normal around its catalogue mean (coefficient of variation
/// [`Category::loi_spread`](crate::catalogue::Category::loi_spread)), times the respondent's
/// speed, itself log-normal with mean 1 and coefficient of variation `speed_spread`. The
/// interview learns the speed from the surveys the respondent completes (a normal posterior on
/// the log of the speed).
///
/// A category is offered only when (a) if the respondent qualifies, the probability that its
/// survey passes the budget is at most `alpha`, and (b) `p̂ ×` that probability (the chance
/// that showing the qualifier ends in a pass) is within what is left of a risk budget of
/// `alpha` per interview, which every qualifier shown spends. The chances of passing at each
/// step add up to at most `alpha` along every path, so P(the interview passes the cap) ≤
/// `alpha` (on the believed incidences and LOI distributions). A category whose LOI is certain
/// must fit for sure, as without risk.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CapRisk {
    /// The largest accepted probability that an interview passes its budget.
    pub alpha: f64,
    /// Coefficient of variation of the respondent's speed (a factor on every LOI; 0: none).
    pub speed_spread: f64,
}

impl Default for CapRisk {
    fn default() -> Self {
        CapRisk {
            alpha: 0.05,
            speed_spread: 0.0,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct RiskState {
    alpha: f64,
    /// Risk budget left.
    left: f64,
    /// Posterior mean and variance of ln(speed).
    speed_mean: f64,
    speed_variance: f64,
}

impl Interview {
    /// An empty interview; call [`begin`](Self::begin) before routing.
    pub fn new() -> Interview {
        Interview::default()
    }

    /// Starts routing a respondent with `budget_seconds` of interview time and at most
    /// `max_qualifiers` qualifiers (`None`: no cap).
    ///
    /// # Performance
    /// Copies the respondent's eligibility row (precomputed per demographic cell); allocation
    /// only the first time, or when the catalogue grows.
    pub fn begin(
        &mut self,
        catalogue: &Catalogue,
        answers: &Answers,
        budget_seconds: f64,
        max_qualifiers: Option<u32>,
    ) {
        self.seconds_used = 0.0;
        self.budget = budget_seconds;
        self.qualifiers_shown = 0;
        self.max_qualifiers = max_qualifiers;
        self.completes = 0;
        self.max_completes = None;
        self.ended = false;
        self.risk = None;
        self.group_blocked.clear();
        self.held.clear();
        self.answered.clear();
        self.completed.clear();
        catalogue.eligibility_into(answers, &mut self.eligible);
        self.candidates.clear();
        self.candidates.extend_from_slice(&self.eligible);
        self.member_cells.clear();
        self.applicable_cells.clear();
        self.blocked.clear();
        if catalogue.has_cells() {
            self.blocked.resize(self.eligible.len(), 0);
            catalogue.cells_into(answers, &mut self.applicable_cells);
            self.member_cells.extend(
                self.applicable_cells
                    .iter()
                    .filter(|&&(_, _, certain)| certain)
                    .map(|&(c, cell, _)| (c, cell)),
            );
        }
    }

    /// Holds back every candidate category in which one of the respondent's quota cells is
    /// full (pending reservations counted as taken), and gives back those whose cells have
    /// reopened. Policies look only at candidates, so every router honours the cells; an
    /// engine calls this before each decision (a no-op when the catalogue has no cells).
    ///
    /// # Performance
    /// One relaxed load per cell the respondent falls in; no allocation.
    pub fn refresh_cells(&mut self, quotas: &QuotaView<'_>) {
        if self.member_cells.is_empty() {
            return;
        }
        for (w, word) in self.blocked.iter_mut().enumerate() {
            self.candidates[w] |= *word;
            *word = 0;
        }
        for &(c, cell) in &self.member_cells {
            let c = c as usize;
            if bit(&self.candidates, c) && quotas.cell_open_slots(cell as usize) == 0 {
                self.candidates[c / 64] &= !(1 << (c % 64));
                self.blocked[c / 64] |= 1 << (c % 64);
            }
        }
    }

    /// True when one of the quota cells of the category that the respondent falls in is full.
    ///
    /// # Performance
    /// A binary search over the respondent's cells, then one load per cell of the category;
    /// immediate when the catalogue has no cells.
    #[inline]
    pub fn cell_full(&self, quotas: &QuotaView<'_>, category: CategoryId) -> bool {
        if self.member_cells.is_empty() {
            return false;
        }
        let c = category.index() as u32;
        let start = self.member_cells.partition_point(|&(k, _)| k < c);
        self.member_cells[start..]
            .iter()
            .take_while(|&&(k, _)| k == c)
            .any(|&(_, cell)| quotas.cell_open_slots(cell as usize) == 0)
    }

    /// The global indices of the quota cells of the category that the respondent falls in.
    pub fn cells_of(&self, category: CategoryId) -> impl Iterator<Item = usize> + Clone + '_ {
        let c = category.index() as u32;
        let start = self.member_cells.partition_point(|&(k, _)| k < c);
        self.member_cells[start..]
            .iter()
            .take_while(move |&&(k, _)| k == c)
            .map(|&(_, cell)| cell as usize)
    }

    /// The global indices of the quota cells of the category that apply to the respondent as
    /// Askia's quota queries count rows: those they fall in and those on a question they have
    /// not answered yet.
    pub fn applicable_cells_of(
        &self,
        category: CategoryId,
    ) -> impl Iterator<Item = usize> + Clone + '_ {
        let c = category.index() as u32;
        let start = self.applicable_cells.partition_point(|&(k, _, _)| k < c);
        self.applicable_cells[start..]
            .iter()
            .take_while(move |&&(k, _, _)| k == c)
            .map(|&(_, cell, _)| cell as usize)
    }

    /// Caps the category surveys this respondent may complete (`None`: no cap). Call after
    /// [`begin`](Self::begin), which resets it.
    pub fn set_max_completes(&mut self, max_completes: Option<u32>) {
        self.max_completes = max_completes;
    }

    /// The cap on completed category surveys, if any.
    #[inline]
    pub fn max_completes(&self) -> Option<u32> {
        self.max_completes
    }

    /// Routes under a [`CapRisk`] target (uncertain LOI) instead of a sure fit. Call after
    /// [`begin`](Self::begin), which resets it.
    pub fn set_cap_risk(&mut self, risk: CapRisk) {
        let tau2 = (risk.speed_spread * risk.speed_spread).ln_1p();
        self.risk = Some(RiskState {
            alpha: risk.alpha,
            left: risk.alpha,
            // ln(speed) ~ N(−τ²/2, τ²): the speed's mean is 1.
            speed_mean: -tau2 / 2.0,
            speed_variance: tau2,
        });
    }

    /// What is left of the risk budget (`None`: no risk target, every offer must fit).
    #[inline]
    pub fn risk_left(&self) -> Option<f64> {
        self.risk.map(|r| r.left)
    }

    /// Holds a category back for this respondent (a cooldown, pacing): it is no longer a
    /// candidate, and [`exclusion`](Self::exclusion) says [`Held`](super::Exclusion::Held).
    /// Call after [`begin`](Self::begin), which releases every hold.
    ///
    /// # Panics
    /// If the id is not from the catalogue the interview began with.
    pub fn hold(&mut self, category: CategoryId) {
        let i = category.index();
        if bit(&self.candidates, i) {
            self.candidates[i / 64] &= !(1 << (i % 64));
            if self.held.len() < self.candidates.len() {
                self.held.resize(self.candidates.len(), 0);
            }
            self.held[i / 64] |= 1 << (i % 64);
        }
    }

    /// True when the category is held back for this respondent.
    #[inline]
    pub fn is_held(&self, category: CategoryId) -> bool {
        bit(&self.held, category.index())
    }

    /// True when a complete of another category of its exclusion group rules it out.
    #[inline]
    pub fn is_group_excluded(&self, category: CategoryId) -> bool {
        bit(&self.group_blocked, category.index())
    }

    /// Ends the interview early (the respondent abandoned, or a survey ran into the cap):
    /// nothing more is offered.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// True when the interview was ended early with [`end`](Self::end).
    #[inline]
    pub fn has_ended(&self) -> bool {
        self.ended
    }

    /// The probability that the category's survey passes the budget if the respondent
    /// qualifies now (0 or 1 without a risk target or for a certain LOI).
    pub fn pass_probability(&self, catalogue: &Catalogue, category: CategoryId) -> f64 {
        let room = self.budget - self.seconds_used - catalogue.qualifier_seconds(category);
        let loi = catalogue.loi_seconds(category);
        let sure = |fits: bool| if fits { 0.0 } else { 1.0 };
        let Some(risk) = self.risk else {
            return sure(loi <= room);
        };
        let variance = catalogue.loi_log_variance(category) + risk.speed_variance;
        if variance <= 0.0 {
            return sure(loi * risk.speed_mean.exp() <= room);
        }
        if room <= 0.0 {
            return 1.0;
        }
        let mean = loi.ln() - catalogue.loi_log_variance(category) / 2.0 + risk.speed_mean;
        normal_tail((room.ln() - mean) / variance.sqrt())
    }

    /// Seconds used so far.
    #[inline]
    pub fn seconds_used(&self) -> f64 {
        self.seconds_used
    }

    /// This respondent's budget in seconds.
    #[inline]
    pub fn budget(&self) -> f64 {
        self.budget
    }

    /// Seconds left in the budget (never negative).
    #[inline]
    pub fn seconds_left(&self) -> f64 {
        (self.budget - self.seconds_used).max(0.0)
    }

    /// Qualifiers shown so far.
    #[inline]
    pub fn qualifiers_shown(&self) -> u32 {
        self.qualifiers_shown
    }

    /// The cap on qualifiers, if any.
    #[inline]
    pub fn max_qualifiers(&self) -> Option<u32> {
        self.max_qualifiers
    }

    /// Qualifiers that may still be shown (`None`: no cap).
    #[inline]
    pub fn qualifier_slots_left(&self) -> Option<u32> {
        self.max_qualifiers
            .map(|k| k.saturating_sub(self.qualifiers_shown))
    }

    /// Category surveys completed in this interview.
    #[inline]
    pub fn completes(&self) -> u32 {
        self.completes
    }

    /// True when the respondent is eligible for the category.
    #[inline]
    pub fn is_eligible(&self, category: CategoryId) -> bool {
        bit(&self.eligible, category.index())
    }

    /// True when the respondent is eligible and has not been shown the category yet.
    #[inline]
    pub fn is_candidate(&self, category: CategoryId) -> bool {
        bit(&self.candidates, category.index())
    }

    /// True when the respondent has been shown the category's qualifier.
    #[inline]
    pub fn was_shown(&self, category: CategoryId) -> bool {
        let i = category.index();
        self.is_eligible(category)
            && !bit(&self.candidates, i)
            && !bit(&self.blocked, i)
            && !bit(&self.held, i)
            && !bit(&self.group_blocked, i)
    }

    /// True when the respondent has answered the category's qualifier in this interview.
    #[inline]
    pub fn was_answered(&self, category: CategoryId) -> bool {
        bit(&self.answered, category.index())
    }

    /// Records that the category's qualifier was answered; true the first time, false for a
    /// repeated answer (which [`Turn::answered`](super::Turn::answered) then does not learn).
    pub fn record_answered(&mut self, category: CategoryId) -> bool {
        set_bit(&mut self.answered, category.index())
    }

    /// True when this interview was charged a complete of the category.
    #[inline]
    pub fn has_completed(&self, category: CategoryId) -> bool {
        bit(&self.completed, category.index())
    }

    /// True when qualifier plus LOI fit in the seconds left; under a [`CapRisk`] target, when
    /// the category keeps the interview within it.
    #[inline]
    pub fn fits(&self, catalogue: &Catalogue, category: CategoryId) -> bool {
        match self.risk {
            None => self.seconds_used + catalogue.seconds_if_qualified(category) <= self.budget,
            Some(risk) => self.fits_at_risk(catalogue, category, risk),
        }
    }

    #[cold]
    fn fits_at_risk(&self, catalogue: &Catalogue, category: CategoryId, risk: RiskState) -> bool {
        let pass = self.pass_probability(catalogue, category);
        if pass == 0.0 {
            return true;
        }
        let certain = catalogue.loi_log_variance(category) + risk.speed_variance <= 0.0;
        !certain && pass <= risk.alpha && catalogue.incidence(category) * pass <= risk.left + 1e-12
    }

    /// Calls `f` for every eligible category not yet shown, in catalogue order.
    ///
    /// # Performance
    /// Walks the set bits of a bitset: cost grows with the candidates, not the catalogue.
    #[inline]
    pub fn for_each_candidate(&self, mut f: impl FnMut(CategoryId)) {
        for (w, &word) in self.candidates.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let b = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                f(CategoryId::from_index(w * 64 + b));
            }
        }
    }

    /// True when nothing can be offered any more whatever the quotas: no qualifier slot left,
    /// or fewer seconds left than the shortest category needs.
    #[inline]
    pub fn is_over(&self, catalogue: &Catalogue) -> bool {
        self.qualifier_slots_left() == Some(0)
            || self.ended
            || self.max_completes.is_some_and(|k| self.completes >= k)
            || if self.risk.is_some() {
                // An uncertain LOI may fit below its mean: only no time at all is over.
                self.seconds_used >= self.budget
            } else {
                self.seconds_used + catalogue.shortest_seconds_if_qualified() > self.budget
            }
    }

    /// The number of eligible categories not yet shown.
    #[inline]
    pub fn candidate_count(&self) -> u32 {
        self.candidates.iter().map(|w| w.count_ones()).sum()
    }

    /// The `n`-th (from 0) eligible category not yet shown, in catalogue order.
    ///
    /// # Panics
    /// If `n` is not below [`candidate_count`](Self::candidate_count).
    #[inline]
    pub fn nth_candidate(&self, mut n: u32) -> CategoryId {
        for (w, &word) in self.candidates.iter().enumerate() {
            let ones = word.count_ones();
            if n < ones {
                let mut bits = word;
                for _ in 0..n {
                    bits &= bits - 1;
                }
                return CategoryId::from_index(w * 64 + bits.trailing_zeros() as usize);
            }
            n -= ones;
        }
        panic!("nth_candidate: index out of range")
    }

    /// Checks that the category may be offered now.
    ///
    /// # Errors
    /// [`OfferError`] saying why not.
    pub fn check_offer(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        category: CategoryId,
    ) -> Result<(), OfferError> {
        if category.index() >= catalogue.len() {
            return Err(OfferError::UnknownCategory { category });
        }
        match self.exclusion(catalogue, quotas, category) {
            None => Ok(()),
            Some(reason) => Err(OfferError::NotOfferable {
                category,
                key: catalogue.category(category).key.clone(),
                reason,
            }),
        }
    }

    /// Why the category may not be offered now, or `None` when it may.
    #[inline]
    pub fn exclusion(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        category: CategoryId,
    ) -> Option<super::Exclusion> {
        use super::Exclusion::*;
        if !self.is_eligible(category) {
            Some(Ineligible)
        } else if self.is_group_excluded(category) {
            Some(ExclusionGroup)
        } else if self.is_held(category) {
            Some(Held)
        } else if self.was_shown(category) {
            Some(AlreadyShown)
        } else if self.ended {
            Some(Ended)
        } else if self.max_completes.is_some_and(|k| self.completes >= k) {
            Some(NoCompletesLeft)
        } else if !quotas.is_open(category) {
            Some(Closed)
        } else if bit(&self.blocked, category.index()) || self.cell_full(quotas, category) {
            // Held back until the next refresh even if the cell has just reopened, so that
            // this answer agrees with the candidates the policies look at.
            Some(CellFull)
        } else if !self.fits(catalogue, category) {
            Some(DoesNotFit)
        } else if self.qualifier_slots_left() == Some(0) {
            Some(NoQualifierSlots)
        } else {
            None
        }
    }

    /// Records that the qualifier was shown: it costs its qualifier seconds and a slot, and
    /// the category is no longer a candidate.
    ///
    /// Low level: a [`Turn`](super::Turn) records the showing here and in the quota counts
    /// together.
    ///
    /// # Panics
    /// If the id is not from the catalogue the interview began with.
    #[inline]
    pub fn record_shown(&mut self, catalogue: &Catalogue, category: CategoryId) {
        if self.risk.is_some() {
            self.spend_risk(catalogue, category);
        }
        let i = category.index();
        self.candidates[i / 64] &= !(1 << (i % 64));
        self.qualifiers_shown += 1;
        self.seconds_used += catalogue.qualifier_seconds(category);
    }

    #[cold]
    fn spend_risk(&mut self, catalogue: &Catalogue, category: CategoryId) {
        let pass = self.pass_probability(catalogue, category);
        if let Some(risk) = &mut self.risk {
            risk.left = (risk.left - catalogue.incidence(category) * pass).max(0.0);
        }
    }

    /// Records a complete of the category survey: its LOI is spent, and the other categories
    /// of its exclusion group are no longer candidates.
    ///
    /// Low level: a [`Turn`](super::Turn) records a complete here, in the quota counts and in
    /// the router's hooks together.
    #[inline]
    pub fn record_complete(&mut self, catalogue: &Catalogue, category: CategoryId) {
        self.record_complete_in(catalogue, category, catalogue.loi_seconds(category));
    }

    /// Records a complete that took `seconds` (an uncertain LOI's actual length): under a
    /// [`CapRisk`] target, what it says about the respondent's speed is learned.
    pub fn record_complete_in(
        &mut self,
        catalogue: &Catalogue,
        category: CategoryId,
        seconds: f64,
    ) {
        self.completes += 1;
        self.seconds_used += seconds;
        set_bit(&mut self.completed, category.index());
        if let Some(members) = catalogue.exclusion_group_members(category) {
            if self.group_blocked.len() < self.candidates.len() {
                self.group_blocked.resize(self.candidates.len(), 0);
            }
            // The group's members still candidates move to the group-blocked set.
            for m in members {
                let (w, bit) = (m.index() / 64, 1u64 << (m.index() % 64));
                if let (Some(c), Some(b)) =
                    (self.candidates.get_mut(w), self.group_blocked.get_mut(w))
                {
                    *b |= *c & bit;
                    *c &= !bit;
                }
            }
        }
        if let Some(risk) = &mut self.risk
            && risk.speed_variance > 0.0
            && seconds > 0.0
        {
            // ln(seconds / L) = ln(speed) + e, e ~ N(−σ²/2, σ²): a normal update of ln(speed).
            let s2 = catalogue.loi_log_variance(category);
            let y = (seconds / catalogue.loi_seconds(category)).ln() + s2 / 2.0;
            if s2 <= 0.0 {
                risk.speed_mean = y;
                risk.speed_variance = 0.0;
            } else {
                let precision = 1.0 / risk.speed_variance + 1.0 / s2;
                risk.speed_mean = (risk.speed_mean / risk.speed_variance + y / s2) / precision;
                risk.speed_variance = 1.0 / precision;
            }
        }
    }

    /// Spends seconds outside the category surveys (or a stochastic LOI's difference).
    pub fn add_seconds(&mut self, seconds: f64) {
        self.seconds_used += seconds;
    }
}

/// P(Z > z) for a standard normal Z (Numerical Recipes' erfc, relative error below 1.2e-7).
fn normal_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.5 * a);
    let erfc = t
        * (-a * a - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    erfc / 2.0
}

#[inline]
fn bit(words: &[u64], i: usize) -> bool {
    words.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

/// Sets bit `i`, growing the words as needed; true when it was clear.
fn set_bit(words: &mut Vec<u64>, i: usize) -> bool {
    if words.len() <= i / 64 {
        words.resize(i / 64 + 1, 0);
    }
    let was_clear = words[i / 64] >> (i % 64) & 1 == 0;
    words[i / 64] |= 1 << (i % 64);
    was_clear
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_tail_is_accurate() {
        for (z, want) in [
            (0.0, 0.5),
            (1.0, 0.158_655_253_9),
            (1.644_853_627, 0.05),
            (-1.644_853_627, 0.95),
            (3.0, 0.001_349_898),
        ] {
            assert!(
                (normal_tail(z) - want).abs() < 1e-7,
                "{z}: {}",
                normal_tail(z)
            );
        }
    }
}
