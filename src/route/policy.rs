//! The greedy family of policies and the random baseline (their names are in the registry).

use std::borrow::Cow;

use rand::{Rng, RngExt};
use smallvec::smallvec;

use crate::catalogue::{Catalogue, CategoryId};
use crate::state::QuotaView;

use super::factor::{
    BelievedIncidence, DemographicWeight, Factor, MinUrgency, Neutral, RemainingShare, Scarcity,
    TimeFit,
};
use super::{Ask, Explanation, Router, RouterState};

/// Greedy priority routing: offer the offerable category with the highest
/// `urgency × incidence × time_fit × demographic × min_urgency` product (ties: catalogue
/// order).
///
/// Each of the four first slots is a [`Factor`] type; replace any with `with_*`. The last,
/// [`MinUrgency`], steers toward quota cells still below their min target (1 where a category
/// has none); [`with_min_urgency`](Self::with_min_urgency) tunes or turns it off. Closed,
/// ineligible, already-shown and non-fitting categories are filtered out whatever the factors
/// say, so a custom factor cannot break the quota or the time cap.
#[derive(Clone, Debug)]
pub struct Greedy<U = Scarcity, I = Neutral, T = TimeFit, D = DemographicWeight> {
    name: Cow<'static, str>,
    urgency: U,
    incidence: I,
    time_fit: T,
    demographic: D,
    mins: MinUrgency,
}

impl Default for Greedy {
    fn default() -> Self {
        Greedy::scarcity()
    }
}

impl Greedy {
    /// The default policy, `greedy`: scarcity (open slots / (p̂·s)) × time fit × demographic
    /// weight.
    pub fn scarcity() -> Greedy {
        Greedy {
            name: Cow::Borrowed("greedy"),
            urgency: Scarcity::default(),
            incidence: Neutral,
            time_fit: TimeFit,
            demographic: DemographicWeight::default(),
            mins: MinUrgency::default(),
        }
    }
}

impl Greedy<RemainingShare, BelievedIncidence> {
    /// The prototype policy the crate started from, registered as `seed-greedy`:
    /// (open/target)^power × incidence × time fit × demographic weight.
    pub fn prototype(power: i32) -> Self {
        Greedy {
            name: Cow::Borrowed("seed-greedy"),
            urgency: RemainingShare { power },
            incidence: BelievedIncidence,
            time_fit: TimeFit,
            demographic: DemographicWeight::default(),
            mins: MinUrgency::default(),
        }
    }

    /// The old name of [`prototype`](Self::prototype) ("seed" now means only an RNG seed).
    #[deprecated(note = "renamed `Greedy::prototype`")]
    pub fn seed(power: i32) -> Self {
        Self::prototype(power)
    }
}

impl<U: Factor, I: Factor, T: Factor, D: Factor> Greedy<U, I, T, D> {
    /// Renames the policy (for reports).
    pub fn named(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Replaces the urgency factor.
    pub fn with_urgency<F: Factor>(self, urgency: F) -> Greedy<F, I, T, D> {
        Greedy {
            name: self.name,
            urgency,
            incidence: self.incidence,
            time_fit: self.time_fit,
            demographic: self.demographic,
            mins: self.mins,
        }
    }

    /// Replaces the incidence factor.
    pub fn with_incidence<F: Factor>(self, incidence: F) -> Greedy<U, F, T, D> {
        Greedy {
            name: self.name,
            urgency: self.urgency,
            incidence,
            time_fit: self.time_fit,
            demographic: self.demographic,
            mins: self.mins,
        }
    }

    /// Replaces the time-fit factor (the hard time filter stays).
    pub fn with_time_fit<F: Factor>(self, time_fit: F) -> Greedy<U, I, F, D> {
        Greedy {
            name: self.name,
            urgency: self.urgency,
            incidence: self.incidence,
            time_fit,
            demographic: self.demographic,
            mins: self.mins,
        }
    }

    /// Replaces the demographic factor.
    pub fn with_demographic<F: Factor>(self, demographic: F) -> Greedy<U, I, T, F> {
        Greedy {
            name: self.name,
            urgency: self.urgency,
            incidence: self.incidence,
            time_fit: self.time_fit,
            demographic,
            mins: self.mins,
        }
    }

    /// Replaces the min-target steering ([`MinUrgency`], on by default; it is 1 for every
    /// category without min targets, so it changes nothing there).
    /// [`MinUrgency::off`] routes as if no quota cell had a min.
    pub fn with_min_urgency(mut self, mins: MinUrgency) -> Self {
        self.mins = mins;
        self
    }

    fn upper_bound(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        c: CategoryId,
    ) -> Option<f64> {
        Some(
            self.urgency.upper_bound(catalogue, quotas, c)?
                * self.incidence.upper_bound(catalogue, quotas, c)?
                * self.time_fit.upper_bound(catalogue, quotas, c)?
                * self.demographic.upper_bound(catalogue, quotas, c)?
                * self.mins.upper_bound(catalogue, quotas, c)?,
        )
    }

    /// The bound order for this catalogue and view, rebuilt if stale; `None` when a factor
    /// has no bound.
    fn bounds<'s>(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        state: &'s mut RouterState,
    ) -> Option<&'s BoundOrder> {
        let key = (catalogue.instance(), quotas.epoch());
        let order = &mut state.bounds;
        if order.key != key || order.order.len() != catalogue.len() {
            order.key = key;
            order.usable =
                order.rebuild(catalogue.len(), |c| self.upper_bound(catalogue, quotas, c));
        }
        order.usable.then_some(&*order)
    }

    /// Best first by bound; stops when no bound left can reach the best priority found.
    #[inline]
    fn best_by_bounds(&self, ask: &Ask<'_>, order: &BoundOrder) -> Option<CategoryId> {
        let (interview, catalogue, quotas) = (ask.interview, ask.catalogue, &ask.quotas);
        let mut best: Option<CategoryId> = None;
        let mut best_priority = 0.0;
        for &(bound, index) in &order.order {
            if bound <= 0.0 || bound < best_priority {
                break;
            }
            let c = CategoryId::from_index(index as usize);
            if !interview.is_candidate(c) || !quotas.is_open(c) || !interview.fits(catalogue, c) {
                continue;
            }
            let p = self.priority(ask, c);
            // Equal priorities go to the lower id, as in a scan in catalogue order.
            if p > best_priority || (p == best_priority && p > 0.0 && best.is_some_and(|b| c < b)) {
                best_priority = p;
                best = Some(c);
            }
        }
        best
    }

    /// One pass over the respondent's candidates.
    fn best_by_scan(&self, ask: &Ask<'_>) -> Option<CategoryId> {
        let (interview, catalogue, quotas) = (ask.interview, ask.catalogue, &ask.quotas);
        let mut best = None;
        let mut best_priority = 0.0;
        interview.for_each_candidate(|c| {
            if !quotas.is_open(c) || !interview.fits(catalogue, c) {
                return;
            }
            let p = self.priority(ask, c);
            if p > best_priority {
                best_priority = p;
                best = Some(c);
            }
        });
        best
    }

    #[inline(always)]
    fn priority(&self, ask: &Ask<'_>, c: CategoryId) -> f64 {
        self.urgency.value(ask, c)
            * self.incidence.value(ask, c)
            * self.time_fit.value(ask, c)
            * self.demographic.value(ask, c)
            * self.mins.value(ask, c)
    }
}

impl<U: Factor, I: Factor, T: Factor, D: Factor> Router for Greedy<U, I, T, D> {
    fn name(&self) -> &str {
        &self.name
    }

    /// # Performance
    /// With factors that give [upper bounds](Factor::upper_bound) (all built-in ones do), the
    /// categories are kept in the [`RouterState`] ordered by bound, and a decision visits them
    /// best first, stopping as soon as no bound left can beat the best candidate: typically a
    /// handful of categories, whatever the catalogue's size. The order is built once per state
    /// (O(n log n)) and again only when the view's epoch moves; [`on_answer`](Router::on_answer)
    /// moves a category that completed. The decision is the same as a full scan's (highest
    /// priority, ties to the lower id). Otherwise, one pass over the respondent's candidates.
    /// No allocation except when the order is (re)built.
    fn next_offer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        _: &mut dyn Rng,
    ) -> Option<CategoryId> {
        if ask.interview.is_over(ask.catalogue) {
            return None;
        }
        match self.bounds(ask.catalogue, &ask.quotas, state) {
            Some(order) => self.best_by_bounds(ask, order),
            None => self.best_by_scan(ask),
        }
    }

    fn on_answer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        category: CategoryId,
        qualified: bool,
    ) {
        if !qualified {
            return;
        }
        let order = &mut state.bounds;
        if order.usable
            && order.key == (ask.catalogue.instance(), ask.quotas.epoch())
            && let Some(bound) = self.upper_bound(ask.catalogue, &ask.quotas, category)
        {
            order.lower(category, bound);
        }
    }

    fn explain(&self, ask: &Ask<'_>, _: &mut RouterState) -> Explanation {
        let mut e = Explanation::exclusions_only(ask);
        for candidate in &mut e.candidates {
            let c = candidate.category;
            let factors: [(&dyn Factor, f64); 4] = [
                (&self.urgency, self.urgency.value(ask, c)),
                (&self.incidence, self.incidence.value(ask, c)),
                (&self.time_fit, self.time_fit.value(ask, c)),
                (&self.demographic, self.demographic.value(ask, c)),
            ];
            candidate.priority = self.priority(ask, c);
            candidate.factors = factors
                .iter()
                .map(|(f, v)| (f.name().to_owned(), *v))
                .collect();
            // Shown only where it can act, so explanations of categories without mins read
            // as they always did.
            if ask.catalogue.has_min_cells(c) {
                candidate
                    .factors
                    .push((self.mins.name().to_owned(), self.mins.value(ask, c)));
            }
        }
        e.candidates
            .sort_by(|a, b| b.priority.total_cmp(&a.priority));
        e.chosen = e
            .candidates
            .first()
            .filter(|c| c.priority > 0.0)
            .map(|c| c.category);
        e
    }
}

/// The naive baseline, `random`: uniform over the offerable categories.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RandomRouter;

impl Router for RandomRouter {
    fn name(&self) -> &str {
        "random"
    }

    /// # Performance
    /// Draws a candidate uniformly from the bitset (a popcount walk) and accepts it if it is
    /// open and fits; that is uniform over the offerable ones. After a few rejections (late in
    /// an interview, when little fits) it counts the offerable categories and picks one: two
    /// passes, one draw. No allocation.
    fn next_offer(
        &self,
        ask: &Ask<'_>,
        _: &mut RouterState,
        rng: &mut dyn Rng,
    ) -> Option<CategoryId> {
        if ask.interview.is_over(ask.catalogue) {
            return None;
        }
        let (interview, catalogue, quotas) = (ask.interview, ask.catalogue, &ask.quotas);
        let ok = |c: CategoryId| quotas.is_open(c) && interview.fits(catalogue, c);
        let candidates = interview.candidate_count();
        if candidates == 0 {
            return None;
        }
        for _ in 0..4 {
            let c = interview.nth_candidate(rng.random_range(0..candidates));
            if ok(c) {
                return Some(c);
            }
        }
        let mut count = 0u32;
        interview.for_each_candidate(|c| count += u32::from(ok(c)));
        if count == 0 {
            return None;
        }
        let mut pick = rng.random_range(0..count);
        let mut chosen = None;
        interview.for_each_candidate(|c| {
            if chosen.is_none() && ok(c) {
                if pick == 0 {
                    chosen = Some(c);
                } else {
                    pick -= 1;
                }
            }
        });
        chosen
    }

    fn explain(&self, ask: &Ask<'_>, _: &mut RouterState) -> Explanation {
        let mut e = Explanation::exclusions_only(ask);
        let share = 1.0 / e.candidates.len().max(1) as f64;
        for c in &mut e.candidates {
            c.priority = share;
            c.factors = smallvec![("uniform".to_owned(), share)];
        }
        e
    }
}

/// Categories ordered by a priority upper bound, best first (ties: lower id first), with each
/// category's position, for one catalogue and one view epoch.
#[derive(Debug, Default)]
pub(crate) struct BoundOrder {
    key: (u64, (u64, u64)),
    usable: bool,
    order: Vec<(f64, u32)>,
    position: Vec<u32>,
}

impl BoundOrder {
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Recomputes every bound and sorts; false when some category has no bound.
    fn rebuild(&mut self, n: usize, bound: impl Fn(CategoryId) -> Option<f64>) -> bool {
        self.order.clear();
        for i in 0..n {
            match bound(CategoryId::from_index(i)) {
                Some(b) => self.order.push((b, i as u32)),
                None => {
                    self.order.clear();
                    return false;
                }
            }
        }
        self.order.sort_unstable_by(|a, b| Self::cmp(*a, *b));
        self.position.clear();
        self.position.resize(n, 0);
        for (p, &(_, i)) in self.order.iter().enumerate() {
            self.position[i as usize] = p as u32;
        }
        true
    }

    fn cmp(a: (f64, u32), b: (f64, u32)) -> std::cmp::Ordering {
        b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
    }

    /// Sets a category's bound to a lower value and moves it down to its place.
    fn lower(&mut self, category: CategoryId, bound: f64) {
        let Some(&p) = self.position.get(category.index()) else {
            return;
        };
        let mut p = p as usize;
        self.order[p].0 = bound;
        while p + 1 < self.order.len() && Self::cmp(self.order[p], self.order[p + 1]).is_gt() {
            self.order.swap(p, p + 1);
            self.position[self.order[p].1 as usize] = p as u32;
            p += 1;
        }
        while p > 0 && Self::cmp(self.order[p - 1], self.order[p]).is_gt() {
            self.order.swap(p - 1, p);
            self.position[self.order[p].1 as usize] = p as u32;
            p -= 1;
        }
        self.position[self.order[p].1 as usize] = p as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Category;
    use crate::route::Interview;
    use crate::schema::{Answers, Respondent, Schema};
    use crate::state::QuotaState;

    #[test]
    fn equal_priorities_go_to_the_lower_id_even_from_a_stale_order() {
        let catalogue = Catalogue::new(
            Schema::default_survey(),
            vec![
                Category::new("a", "A", 0.5, 60.0).with_target(5),
                Category::new("b", "B", 0.5, 60.0).with_target(10),
            ],
        )
        .unwrap();
        let mut state = QuotaState::new(&catalogue);
        let respondent = Respondent::new(1, Answers::unknown(catalogue.schema()));
        let mut interview = Interview::new();
        interview.begin(&catalogue, &respondent.answers, 480.0, None);
        let router = Greedy::scarcity();
        let mut rs = RouterState::default();
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(7);
        let b = CategoryId::from_index(1);
        {
            let a = Ask {
                catalogue: &catalogue,
                respondent: &respondent,
                interview: &interview,
                quotas: state.view(),
            };
            assert_eq!(
                router.next_offer(&a, &mut rs, &mut rng),
                Some(b),
                "b has more to do"
            );
        }
        // Another respondent completes five of b: now a and b tie, and the cached order still
        // has b first.
        for _ in 0..5 {
            state.complete(b).unwrap();
        }
        let a = Ask {
            catalogue: &catalogue,
            respondent: &respondent,
            interview: &interview,
            quotas: state.view(),
        };
        assert_eq!(
            router.next_offer(&a, &mut rs, &mut rng),
            Some(CategoryId::from_index(0))
        );
        assert_eq!(
            router.explain(&a, &mut RouterState::default()).chosen,
            Some(CategoryId::from_index(0))
        );
    }

    #[test]
    fn lowering_a_bound_keeps_the_order_sorted() {
        let mut order = BoundOrder::default();
        let bounds = [5.0, 9.0, 9.0, 1.0, 7.0, 3.0];
        assert!(order.rebuild(bounds.len(), |c| Some(bounds[c.index()])));
        let ids: Vec<u32> = order.order.iter().map(|e| e.1).collect();
        assert_eq!(ids, vec![1, 2, 4, 0, 5, 3]);
        for (c, b) in [(1, 2.0), (4, 0.0), (2, 5.0), (0, 5.0)] {
            order.lower(CategoryId::from_index(c), b);
            assert!(
                order
                    .order
                    .windows(2)
                    .all(|w| BoundOrder::cmp(w[0], w[1]).is_lt())
            );
            for (p, &(_, i)) in order.order.iter().enumerate() {
                assert_eq!(order.position[i as usize] as usize, p);
            }
        }
        let ids: Vec<u32> = order.order.iter().map(|e| e.1).collect();
        assert_eq!(ids, vec![0, 2, 5, 1, 3, 4]);
        assert!(!order.rebuild(3, |c| (c.index() != 1).then_some(1.0)));
    }
}
