//! One respondent's interview: time used, qualifiers shown, what is still offerable.

use thiserror::Error;

use crate::catalogue::{Catalogue, CategoryId};
use crate::schema::Answers;
use crate::state::QuotaView;

/// Why an offer may not be made (a misbehaving router, or a caller's mistake).
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum OfferError {
    /// The id is not a category of the catalogue.
    #[error("category {category} is not in the catalogue")]
    UnknownCategory {
        /// The id.
        category: CategoryId,
    },
    /// The category cannot be offered now, for the reason given.
    #[error("category {category} cannot be offered: {reason}")]
    NotOfferable {
        /// The category.
        category: CategoryId,
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
    /// Eligible and not yet shown.
    candidates: Vec<u64>,
    /// (category, global cell) for every quota cell the respondent falls in, by category.
    member_cells: Vec<(u32, u32)>,
    /// Not shown, but held back because one of the respondent's cells is full.
    blocked: Vec<u64>,
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
        catalogue.eligibility_into(answers, &mut self.eligible);
        self.candidates.clear();
        self.candidates.extend_from_slice(&self.eligible);
        self.member_cells.clear();
        self.blocked.clear();
        if catalogue.has_cells() {
            self.blocked.resize(self.eligible.len(), 0);
            for c in catalogue.ids() {
                for cell in catalogue.cell_range(c) {
                    if let Some((_, q)) = catalogue.cell(cell)
                        && q.rule.matches(answers)
                    {
                        self.member_cells.push((c.index() as u32, cell as u32));
                    }
                }
            }
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
    pub fn cells_of(&self, category: CategoryId) -> impl Iterator<Item = usize> + '_ {
        let c = category.index() as u32;
        let start = self.member_cells.partition_point(|&(k, _)| k < c);
        self.member_cells[start..]
            .iter()
            .take_while(move |&&(k, _)| k == c)
            .map(|&(_, cell)| cell as usize)
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
        self.is_eligible(category)
            && !bit(&self.candidates, category.index())
            && !bit(&self.blocked, category.index())
    }

    /// True when qualifier plus LOI fit in the seconds left.
    #[inline]
    pub fn fits(&self, catalogue: &Catalogue, category: CategoryId) -> bool {
        self.seconds_used + catalogue.seconds_if_qualified(category) <= self.budget
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
            || self.seconds_used + catalogue.shortest_seconds_if_qualified() > self.budget
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
            Some(reason) => Err(OfferError::NotOfferable { category, reason }),
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
        } else if self.was_shown(category) {
            Some(AlreadyShown)
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
    /// # Panics
    /// If the id is not from the catalogue the interview began with.
    #[inline]
    pub fn record_shown(&mut self, catalogue: &Catalogue, category: CategoryId) {
        let i = category.index();
        self.candidates[i / 64] &= !(1 << (i % 64));
        self.qualifiers_shown += 1;
        self.seconds_used += catalogue.qualifier_seconds(category);
    }

    /// Records a complete of the category survey: its LOI is spent.
    #[inline]
    pub fn record_complete(&mut self, catalogue: &Catalogue, category: CategoryId) {
        self.completes += 1;
        self.seconds_used += catalogue.loi_seconds(category);
    }

    /// Spends seconds outside the category surveys (or a stochastic LOI's difference).
    pub fn add_seconds(&mut self, seconds: f64) {
        self.seconds_used += seconds;
    }
}

#[inline]
fn bit(words: &[u64], i: usize) -> bool {
    words.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}
