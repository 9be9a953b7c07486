//! `packing`: scarcity order with a look-ahead that packs the end of each interview.
//!
//! Plain scarcity order wastes the end of an interview: with 60 s left it may offer a 55 s
//! survey when a 30 s one would have left room for another. Near the end of the budget,
//! `packing` keeps only the candidates after which the expected unfillable time is within a
//! tolerance of the least, and takes the scarcest of those.
//!
//! The expected fill comes from a table over the seconds left (and the qualifier slots left,
//! where qualifiers cost time or are capped), computed from the open categories' believed
//! incidence and lengths, and rebuilt after categories close:
//!
//! - **Qualifiers free and uncapped** (the *ordered* table): `V(r) = Σ_k Π_{j<k}(1 − p̂_j) ·
//!   p̂_k · (L_k + V(r − L_k))` over the open categories with `L_k ≤ r`, in descending order of
//!   `L_k + V(r − L_k)`: the expected seconds filled when the respondent is offered categories
//!   best first and takes the first they qualify for. After category `c` qualifies, the
//!   expected waste is `w_c = (r − L_c) − V(r − L_c)`.
//! - **Qualifiers cost seconds or are capped** (the *max* table): `V(r, k) = max_c [q_c + p̂_c
//!   (L_c + V(r − q_c − L_c, k − 1)) + (1 − p̂_c) V(r − q_c, k − 1)]`, and candidates are
//!   compared on the bracketed value. Without the qualifier dimension rare categories use up
//!   the slots and time goes unused.
//!
//! Far from the end of the budget the policy is exactly [`Greedy::scarcity`].
//!
//! # `paced`: packing that lasts the month
//!
//! The look-ahead favours short categories, which fill the end of an interview best; on
//! catalogues where time, not the rarest category, sets the respondents needed, those fillers
//! close a third of the way into the month and the end of every later interview goes unused,
//! while the long categories, offered last, pile up at the end of the month. [`Packing::paced`]
//! (policy name `paced`) prices both, as the dual prices of the month's plan would (see
//! [`Pace`]): with `m` the share of the month's interview seconds done and `f_c` the share of
//! category `c`'s target done,
//!
//! - a category ahead of the month (`f_c > m`) costs `price · (f_c − m)` seconds in the
//!   look-ahead, in the table too (each category's value is its length minus that cost), so a
//!   filler is spent only where it saves more than it will be missed later; and a category
//!   whose value after costs is below nothing at all is not offered near the end of the budget;
//! - far from the end, categories are offered by `scarcity / N_left + boost · (m − f_c)`, so a
//!   category behind the month goes first; a category that at least `critical_share` of the
//!   respondents still needed must see goes first whatever its pace.
//!
//! On random catalogues in the regime where time sets the cost, `paced` needs about 1% more
//! respondents than the fluid bound where `packing` needs 3% (`examples/catalogues.rs`).

use rand::Rng;

use crate::catalogue::{Catalogue, CategoryId};
use crate::state::QuotaView;

use super::{Ask, Explanation, Factor, Greedy, MinUrgency, Router, RouterState, Scarcity};

mod table;

pub(crate) use table::PackingTable;
use table::TableKind;

/// The prices of [`Packing::paced`]: how a category's pace against the month moves its place.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Pace {
    /// Seconds a category costs in the look-ahead per unit of its target share done ahead of
    /// the month's share of interview seconds done.
    pub price: f64,
    /// Priority, in units of `scarcity / N_left`, a category gains per unit of share behind the
    /// month.
    pub boost: f64,
    /// The table is rebuilt, with the costs of the moment, once this share of the interview
    /// seconds still needed at its last build has been done.
    pub rebuild_share: f64,
}

impl Default for Pace {
    /// The measured setting: 600 s per unit ahead, boost 10, rebuilt every 5% of the work left
    /// (on random catalogues 200 s ahead or a 1% rebuild step fills no better, boost 3 or a
    /// rebuild after 2% of the work fill worse; `examples/catalogues.rs`).
    fn default() -> Self {
        Pace {
            price: 600.0,
            boost: 10.0,
            rebuild_share: 0.05,
        }
    }
}

/// The `packing` policy: scarcity order with an end-of-interview look-ahead.
#[derive(Clone, Debug)]
pub struct Packing {
    name: &'static str,
    greedy: Greedy,
    scarcity: Scarcity,
    mins: MinUrgency,
    /// Grid step of the ordered table, seconds.
    pub ordered_grid: f64,
    /// The ordered table applies when at most this many seconds are left.
    pub ordered_horizon: f64,
    /// Candidates whose waste is within this many seconds of the least are kept.
    pub ordered_tolerance: f64,
    /// Grid step of the max table, seconds.
    pub max_grid: f64,
    /// Candidates whose value is within this many seconds of the best are kept.
    pub max_tolerance: f64,
    /// A category that must be shown to at least this share of the respondents still to come
    /// (scarcity / N_left) is never traded away for packing. And while the rarest category, not
    /// time, sets N_left, the look-ahead stands aside altogether: time is slack, and every
    /// respondent who can see the scarce categories must.
    pub critical_share: f64,
    /// The table is rebuilt after `1 + open / close_batch` categories have closed since it was
    /// built (so after every close once fewer than `close_batch` are open).
    pub close_batch: usize,
    /// Price categories by their pace against the month (`None` for plain `packing`); see
    /// [`Packing::paced`]. Applies where qualifiers are free and uncapped (the ordered table).
    pub pace: Option<Pace>,
}

impl Default for Packing {
    fn default() -> Self {
        Packing {
            name: "packing",
            greedy: Greedy::scarcity(),
            scarcity: Scarcity::default(),
            mins: MinUrgency::default(),
            ordered_grid: 0.5,
            ordered_horizon: 300.0,
            ordered_tolerance: 0.5,
            max_grid: 0.5,
            max_tolerance: 2.0,
            critical_share: 0.9,
            close_batch: 16,
            pace: None,
        }
    }
}

impl Packing {
    /// The policy with its measured settings: a 0.5 s grid within 300 s of the end, 0.5 s
    /// tolerance (on the bundled catalogue a 0.25 s grid fills no better, a 200 s horizon
    /// costs 0.4% more respondents and a 150 s one 1.1%); a 0.5 s grid and 2 s tolerance where
    /// qualifiers cost time or are capped.
    pub fn new() -> Packing {
        Packing::default()
    }

    /// The `paced` policy: packing with each category priced by its pace against the month
    /// ([`Pace::default`]; module docs), on a 1 s grid.
    pub fn paced() -> Packing {
        Packing {
            name: "paced",
            ordered_grid: 1.0,
            pace: Some(Pace::default()),
            ..Packing::default()
        }
    }

    /// Replaces the pace prices (`None`: plain packing).
    pub fn with_pace(mut self, pace: Option<Pace>) -> Packing {
        self.pace = pace;
        self
    }

    /// Replaces the demographic weight of its scarcity order.
    pub fn with_demographic(mut self, weight: super::DemographicWeight) -> Packing {
        self.greedy = self.greedy.with_demographic(weight);
        self
    }

    /// Routes on incidence learned from the qualifier answers (prior worth `strength`
    /// respondents): in the scarcity order and in the tables, which are rebuilt with the
    /// beliefs of the moment whenever a category closes.
    pub fn learning(mut self, strength: f64) -> Packing {
        self.scarcity = Scarcity::learning(strength);
        self.greedy = std::mem::take(&mut self.greedy)
            .with_urgency(self.scarcity)
            .named(self.name);
        self
    }

    /// Replaces the min-target steering ([`MinUrgency`], on by default) of its scarcity
    /// order, far from the end of the budget and among the look-ahead's candidates alike.
    pub fn with_min_urgency(mut self, mins: MinUrgency) -> Packing {
        self.mins = mins;
        self.greedy = std::mem::take(&mut self.greedy).with_min_urgency(mins);
        self
    }

    fn kind(catalogue: &Catalogue, max_qualifiers: Option<u32>) -> TableKind {
        if catalogue.qualifiers_free() && max_qualifiers.is_none() {
            TableKind::Ordered
        } else {
            TableKind::Max
        }
    }

    /// The pace prices, where they apply (the ordered table).
    fn paced_here(&self, kind: TableKind) -> Option<Pace> {
        self.pace.filter(|_| kind == TableKind::Ordered)
    }

    /// The share of the month's interview seconds done: 1 − Σ open·L / Σ target·L.
    fn work_done(catalogue: &Catalogue, quotas: &QuotaView<'_>) -> f64 {
        let (mut left, mut all) = (0.0, 0.0);
        for c in catalogue.ids() {
            let l = catalogue.loi_seconds(c);
            left += f64::from(quotas.open_slots(c)) * l;
            all += Self::target(quotas, c) * l;
        }
        if all > 0.0 { 1.0 - left / all } else { 1.0 }
    }

    /// The category's target as the view sees it (completed + pending + open).
    #[inline]
    fn target(quotas: &QuotaView<'_>, c: CategoryId) -> f64 {
        f64::from(quotas.completed(c))
            + f64::from(quotas.pending(c))
            + f64::from(quotas.open_slots(c))
    }

    /// The share of the category's target done.
    #[inline]
    fn share_done(quotas: &QuotaView<'_>, c: CategoryId) -> f64 {
        f64::from(quotas.completed(c)) / Self::target(quotas, c).max(1.0)
    }

    /// A category's cost in seconds when `done` of the month's seconds are done.
    #[inline]
    fn cost(pace: &Pace, quotas: &QuotaView<'_>, c: CategoryId, done: f64) -> f64 {
        pace.price * (Self::share_done(quotas, c) - done).max(0.0)
    }

    /// The order of `paced`: categories every respondent still needed must nearly all see
    /// first, then scarcity over respondents needed plus the pace boost. `scarcity` is the
    /// category's scarcity value, which every caller has at hand.
    #[inline]
    fn paced_priority(
        &self,
        pace: &Pace,
        ask: &Ask<'_>,
        t: &PackingTable,
        c: CategoryId,
        scarcity: f64,
    ) -> f64 {
        let x = scarcity / t.needed * self.mins.value(ask, c);
        if scarcity >= t.critical {
            // Above every paced priority: shares and boosts are bounded far below this.
            1e9 + x
        } else {
            x + pace.boost * (t.done - Self::share_done(&ask.quotas, c))
        }
    }

    /// The look-ahead's value of offering `c` now: higher is better. For the ordered table,
    /// minus the expected waste after `c` qualifies (and minus its pace cost, at this
    /// interview's share of the month done, when paced); for the max table, the expected
    /// seconds filled from here when `c` is offered next.
    #[inline(always)]
    fn look_ahead(&self, t: &PackingTable, ask: &Ask<'_>, c: CategoryId) -> f64 {
        let catalogue = ask.catalogue;
        let r = ask.interview.budget() - ask.interview.seconds_used();
        let (q, l) = (catalogue.qualifier_seconds(c), catalogue.loi_seconds(c));
        match t.kind {
            TableKind::Ordered => {
                // floor(r/g) − ceil(L/g) ≤ floor((r − L)/g): a cell at or below the exact one,
                // found without a second division.
                let i = ((r / t.grid + 1e-9) as usize).min(t.width - 1);
                let steps = t.category_steps[c.index()] as usize;
                let filled = if steps <= i { t.values[i - steps] } else { 0.0 };
                let cost = self
                    .pace
                    .map_or(0.0, |pace| Self::cost(&pace, &ask.quotas, c, t.done));
                -((r - l) - filled) - cost
            }
            TableKind::Max => {
                let layer = match ask.interview.qualifier_slots_left() {
                    Some(k) if t.layers > 1 => (k as usize).saturating_sub(1).min(t.layers - 1),
                    _ => 0,
                };
                let q = if t.layers > 1 { q } else { q.max(t.grid) };
                let p = self.scarcity.incidence(catalogue, &ask.quotas, c);
                q + p * (l + t.at(r - q - l, layer).max(0.0))
                    + (1.0 - p) * t.at(r - q, layer).max(0.0)
            }
        }
    }

    /// The offerable category of highest paced priority.
    fn paced_order(&self, pace: &Pace, ask: &Ask<'_>, table: &PackingTable) -> Option<CategoryId> {
        let (interview, catalogue, quotas) = (ask.interview, ask.catalogue, &ask.quotas);
        let mut chosen = None;
        let mut first = f64::NEG_INFINITY;
        interview.for_each_candidate(|c| {
            if quotas.is_open(c) && interview.fits(catalogue, c) {
                let rank = self.paced_priority(pace, ask, table, c, self.scarcity.value(ask, c));
                if rank > first {
                    first = rank;
                    chosen = Some(c);
                }
            }
        });
        chosen
    }

    /// [`Router::explain`] for `paced`: each candidate's paced priority (and look-ahead value
    /// near the end of the budget), and the choice [`Router::next_offer`] makes.
    fn explain_paced(
        &self,
        pace: &Pace,
        ask: &Ask<'_>,
        state: &mut RouterState,
        mut e: Explanation,
        left: f64,
    ) -> Explanation {
        let table = self.table(ask, state);
        let near_end = left <= self.ordered_horizon;
        // As in `next_offer`: priced-out candidates only when every candidate is.
        let priced_out =
            |v: f64, scarcity: f64| Self::priced_out(v, left, table.critical, &mut || scarcity);
        let (mut best_kept, mut best_any) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for c in &mut e.candidates {
            let scarcity = self.scarcity.value(ask, c.category);
            let rank = self.paced_priority(pace, ask, table, c.category, scarcity);
            c.factors.push(("pace_priority".to_owned(), rank));
            if near_end {
                let v = self.look_ahead(table, ask, c.category);
                c.factors.push(("look_ahead".to_owned(), v));
                best_any = best_any.max(v);
                if !priced_out(v, scarcity) {
                    best_kept = best_kept.max(v);
                }
            }
        }
        let any_kept = best_kept > f64::NEG_INFINITY;
        let best = if any_kept { best_kept } else { best_any };
        let tolerance = self.ordered_tolerance;
        e.chosen = e
            .candidates
            .iter()
            .filter(|c| {
                if !near_end {
                    return true;
                }
                let v = c.factors.last().map_or(f64::NEG_INFINITY, |f| f.1);
                let scarcity = self.scarcity.value(ask, c.category);
                if any_kept && priced_out(v, scarcity) {
                    return false;
                }
                scarcity >= table.critical || v >= best - tolerance
            })
            .max_by(|a, b| {
                let rank = |c: &super::Candidate| {
                    c.factors
                        .iter()
                        .find(|f| f.0 == "pace_priority")
                        .map_or(f64::NEG_INFINITY, |f| f.1)
                };
                rank(a)
                    .total_cmp(&rank(b))
                    .then(b.category.cmp(&a.category))
            })
            .map(|c| c.category);
        e
    }

    /// Paced: a candidate whose look-ahead value `v` after its cost is below ending the
    /// interview here (waste `left`) is priced out, unless it is critical. `scarcity` is read
    /// only when the value alone does not settle it.
    #[inline(always)]
    fn priced_out(v: f64, left: f64, critical: f64, scarcity: &mut dyn FnMut() -> f64) -> bool {
        -v > left && scarcity() < critical
    }

    fn tolerance(&self, t: &PackingTable) -> f64 {
        match t.kind {
            TableKind::Ordered => self.ordered_tolerance,
            TableKind::Max => self.max_tolerance,
        }
    }
}

impl Router for Packing {
    fn name(&self) -> &str {
        self.name
    }

    /// # Performance
    /// Far from the end of the budget, a [`Greedy`] decision. Within the table's horizon, the
    /// greedy choice when it is within tolerance of a precomputed bound, else one pass over the
    /// candidates with a table look-up each. The table is rebuilt (O(cells × open categories))
    /// after a batch of closes; no allocation otherwise.
    fn next_offer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        rng: &mut dyn Rng,
    ) -> Option<CategoryId> {
        if ask.interview.is_over(ask.catalogue) {
            return None;
        }
        let left = ask.interview.budget() - ask.interview.seconds_used();
        let kind = Self::kind(ask.catalogue, ask.interview.max_qualifiers());
        let paced = self.paced_here(kind);
        if paced.is_none() && kind == TableKind::Ordered && left > self.ordered_horizon {
            return self.greedy.next_offer(ask, state, rng);
        }
        // Paced, the table also tracks the month's progress, so it is consulted at every step.
        let table = self.table(ask, state);
        if let Some(pace) = &paced
            && left > self.ordered_horizon
        {
            return self.paced_order(pace, ask, table);
        }
        if paced.is_none()
            && kind == TableKind::Ordered
            && !ask.catalogue.has_any_exposure_targets()
        {
            // The greedy choice is the scarcest candidate; when its waste is already within
            // tolerance of the least any open category could have, it is the answer.
            let scarcest = self.greedy.next_offer(ask, state, rng)?;
            let table = &state.packing;
            let i = ((left / table.grid + 1e-9) as usize).min(table.width - 1);
            if self.scarcity.value(ask, scarcest) >= table.critical
                || -self.look_ahead(table, ask, scarcest)
                    <= table.lower_waste[i] + self.ordered_tolerance
            {
                return Some(scarcest);
            }
        }
        let table = &mut state.packing;
        let tolerance = self.tolerance(table);
        let (interview, catalogue, quotas) = (ask.interview, ask.catalogue, &ask.quotas);
        let mut candidates = std::mem::take(&mut table.candidates);
        candidates.clear();
        // Paced: a category whose value after its cost is below ending the interview here
        // (waste `left`) is priced out: offered only when every candidate is (the router never
        // ends an interview while something is offerable), unless it is critical.
        let priced_out = |v: f64, scarcity: &mut dyn FnMut() -> f64| {
            paced.is_some() && Self::priced_out(v, left, table.critical, scarcity)
        };
        let (mut best_kept, mut best_any) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        interview.for_each_candidate(|c| {
            if quotas.is_open(c) && interview.fits(catalogue, c) {
                let v = self.look_ahead(table, ask, c);
                best_any = best_any.max(v);
                // The scarcity is read only where the price can bite: never for `packing`.
                if v > best_kept && !priced_out(v, &mut || self.scarcity.value(ask, c)) {
                    best_kept = v;
                }
                candidates.push((v, c.index() as u32));
            }
        });
        let any_kept = best_kept > f64::NEG_INFINITY;
        let best_value = if any_kept { best_kept } else { best_any };
        let mut chosen = None;
        let mut first = f64::NEG_INFINITY;
        for &(v, c) in &candidates {
            let c = CategoryId::from_index(c as usize);
            let x = self.scarcity.value(ask, c);
            if any_kept && priced_out(v, &mut || x) {
                continue;
            }
            if v >= best_value - tolerance || x >= table.critical {
                let rank = match &paced {
                    Some(pace) => self.paced_priority(pace, ask, table, c, x),
                    None => x * self.mins.value(ask, c),
                };
                if rank > first {
                    first = rank;
                    chosen = Some(c);
                }
            }
        }
        table.candidates = candidates;
        chosen
    }

    fn on_answer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        category: CategoryId,
        qualified: bool,
    ) {
        self.greedy.on_answer(ask, state, category, qualified);
    }

    fn explain(&self, ask: &Ask<'_>, state: &mut RouterState) -> Explanation {
        let mut e = self.greedy.explain(ask, state);
        let left = ask.interview.budget() - ask.interview.seconds_used();
        let kind = Self::kind(ask.catalogue, ask.interview.max_qualifiers());
        if let Some(pace) = self.paced_here(kind) {
            return self.explain_paced(&pace, ask, state, e, left);
        }
        if kind == TableKind::Ordered && left > self.ordered_horizon {
            return e;
        }
        let table = self.table(ask, state);
        for c in &mut e.candidates {
            c.factors.push((
                "look_ahead".to_owned(),
                self.look_ahead(table, ask, c.category),
            ));
        }
        let best = e
            .candidates
            .iter()
            .map(|c| c.factors.last().map_or(f64::NEG_INFINITY, |f| f.1))
            .fold(f64::NEG_INFINITY, f64::max);
        let tolerance = self.tolerance(table);
        e.chosen = e
            .candidates
            .iter()
            .filter(|c| {
                c.factors.last().is_some_and(|f| f.1 >= best - tolerance)
                    || c.factors[0].1 >= table.critical
            })
            .max_by(|a, b| {
                // As in `next_offer`: scarcity steered by the min targets.
                let rank = |c: &super::Candidate| {
                    let mins = c.factors.iter().find(|f| f.0 == "min_urgency");
                    c.factors[0].1 * mins.map_or(1.0, |f| f.1)
                };
                rank(a)
                    .total_cmp(&rank(b))
                    .then(b.category.cmp(&a.category))
            })
            .map(|c| c.category);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paced_is_packing_with_the_default_prices() {
        let paced = Packing::paced();
        assert_eq!(paced.name(), "paced");
        assert_eq!(paced.pace, Some(Pace::default()));
        assert_eq!(Packing::new().name(), "packing");
        assert_eq!(Packing::new().pace, None);
        let plain = Packing::paced().with_pace(None);
        assert_eq!(plain.pace, None);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn pace_round_trips_through_json() {
        let pace = Pace {
            price: 123.25,
            boost: 0.1,
            rebuild_share: 0.02,
        };
        let text = serde_json::to_string(&pace).unwrap();
        assert_eq!(serde_json::from_str::<Pace>(&text).unwrap(), pace);
    }
}
