//! The `packing` policy's expected-fill tables: for an open set of categories, the expected
//! seconds a respondent can still fill from each remaining time, built once per open set and
//! kept in the worker's [`RouterState`].

use crate::catalogue::Catalogue;
use crate::state::QuotaView;

use super::super::{Ask, RouterState};
use super::Packing;

/// The expected-fill table of one open set, in a [`RouterState`].
#[derive(Debug, Default)]
pub(crate) struct PackingTable {
    pub(super) key: (u64, (u64, u64), u64, u64),
    pub(super) kind: TableKind,
    pub(super) grid: f64,
    /// Seconds the table covers.
    pub(super) horizon: f64,
    /// Cells per slot layer (`horizon / grid + 1`).
    pub(super) width: usize,
    /// Slot layers: 1 for the ordered table and an uncapped max table, `cap + 1` otherwise.
    pub(super) layers: usize,
    pub(super) values: Vec<f64>,
    /// Scratch: categories in value order, carried from one cell to the next.
    pub(super) order: Vec<(f64, u32)>,
    /// Scratch: each open category's length in whole grid steps (rounded up) and seconds.
    pub(super) steps: Vec<(usize, f64, f64, f64)>,
    /// Per cell of the ordered table: a lower bound on the expected waste of any open category
    /// that fits, so a decision can stop at the scarcest candidate when it is within tolerance.
    pub(super) lower_waste: Vec<f64>,
    /// Each category's length in grid steps (rounded up), by category index.
    pub(super) category_steps: Vec<u32>,
    /// `quotas.closes()` when the table was built.
    pub(super) built_closes: u64,
    /// Open categories when the table was built.
    pub(super) open_at_build: usize,
    /// Scarcity at or above which a candidate is kept whatever its look-ahead value
    /// (`critical_share` × N_left when the table was built).
    pub(super) critical: f64,
    /// Scratch: a decision's candidates with their look-ahead values.
    pub(super) candidates: Vec<(f64, u32)>,
    /// Scratch of the max table's build: per open category (q, L, p̂, cells back after
    /// qualifying, cells back after not).
    pub(super) open: Vec<(f64, f64, f64, usize, usize)>,
    /// Per category (by index): its cost in the table, seconds ([`Pace`]; zeros without).
    pub(super) cost: Vec<f64>,
    /// The share of the month's interview seconds done when the table was built, and now
    /// (updated at the start of each interview).
    pub(super) done_at_build: f64,
    pub(super) done: f64,
    /// Respondents still needed (the bound on the open slots) when the table was built.
    pub(super) needed: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum TableKind {
    #[default]
    Ordered,
    Max,
}

impl PackingTable {
    #[inline]
    pub(super) fn at(&self, seconds: f64, layer: usize) -> f64 {
        if seconds < 0.0 {
            return f64::NEG_INFINITY;
        }
        // Truncation is floor for non-negative values, and needs no libm call.
        let i = ((seconds / self.grid + 1e-9) as usize).min(self.width - 1);
        self.values[layer * self.width + i]
    }
}

impl Packing {
    /// The table for this catalogue, open set, budget and cap, rebuilt when stale.
    pub(super) fn table<'s>(&self, ask: &Ask<'_>, state: &'s mut RouterState) -> &'s PackingTable {
        // Rebuilding allocates only while the scratch vectors grow to the catalogue's size.
        let (catalogue, quotas, interview) = (ask.catalogue, &ask.quotas, ask.interview);
        let kind = Self::kind(catalogue, interview.max_qualifiers());
        // V(r) does not depend on how far the table reaches, so a table is reused for any
        // budget it covers; budgets vary per respondent when time is banked.
        let needed = match kind {
            TableKind::Ordered => self.ordered_horizon,
            TableKind::Max => (interview.budget().max(0.0) / 60.0).ceil() * 60.0,
        };
        let key = (
            catalogue.instance(),
            quotas.epoch(),
            0,
            u64::from(interview.max_qualifiers().unwrap_or(u32::MAX)) << 1
                | (kind == TableKind::Max) as u64,
        );
        let table = &mut state.packing;
        // One close among many open categories moves the table little: rebuild after one
        // close per `open / close_batch` open categories (every close once few are open).
        let closes = quotas.closes();
        let stale_after = 1 + table.open_at_build / self.close_batch.max(1);
        let mut stale = closes.saturating_sub(table.built_closes) >= stale_after as u64;
        let paced = self.paced_here(kind);
        if let Some(pace) = paced
            && interview.qualifiers_shown() == 0
            && interview.seconds_used() == 0.0
        {
            // Once per interview: O(categories), a fraction of the interview's own cost.
            table.done = Self::work_done(catalogue, quotas);
            stale |= table.done - table.done_at_build
                >= pace.rebuild_share * (1.0 - table.done_at_build);
        }
        if table.key != key || table.values.is_empty() || table.horizon < needed || stale {
            let horizon = if table.key == key {
                needed.max(table.horizon)
            } else {
                needed
            };
            table.key = key;
            table.built_closes = closes;
            table.open_at_build = catalogue.ids().filter(|&c| quotas.is_open(c)).count();
            table.cost.clear();
            table.cost.resize(catalogue.len(), 0.0);
            if let Some(pace) = paced {
                table.done = Self::work_done(catalogue, quotas);
                for c in catalogue.ids() {
                    table.cost[c.index()] = Self::cost(&pace, quotas, c, table.done);
                }
            }
            table.done_at_build = table.done;
            // Room for every category at once, so a decision never grows it mid-month.
            table.candidates.clear();
            table.candidates.reserve(catalogue.len());
            match kind {
                TableKind::Ordered => self.build_ordered(table, catalogue, quotas),
                TableKind::Max => self.build_max(
                    table,
                    catalogue,
                    quotas,
                    horizon,
                    interview.max_qualifiers(),
                ),
            }
            let terms = catalogue.bound_terms(
                interview.budget().max(1.0),
                interview.max_qualifiers(),
                |c| f64::from(quotas.open_slots(c)),
            );
            // When the rarest category, not time, sets the respondents still needed, time is
            // slack and packing has nothing to gain: every candidate counts as critical and the
            // scarcest is offered, as `greedy` would.
            table.needed = terms.bound().max(1.0);
            table.critical = if paced.is_none() && terms.time_and_qualifiers() < terms.rarest {
                0.0
            } else {
                self.critical_share * terms.bound()
            };
        }
        &state.packing
    }

    pub(super) fn build_ordered(
        &self,
        t: &mut PackingTable,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
    ) {
        t.kind = TableKind::Ordered;
        t.grid = self.ordered_grid;
        t.horizon = self.ordered_horizon;
        t.width = (t.horizon / t.grid).floor() as usize + 1;
        t.layers = 1;
        t.values.clear();
        t.values.resize(t.width, 0.0);
        t.order.clear();
        t.steps.clear();
        for c in catalogue.ids().filter(|&c| quotas.is_open(c)) {
            let l = catalogue.loi_seconds(c);
            // floor((i·g − L) / g) = i − ceil(L / g): the cell a qualified respondent moves to.
            let steps = (l / t.grid - 1e-9).ceil().max(0.0) as usize;
            t.steps.push((
                steps,
                l,
                self.scarcity.incidence(catalogue, quotas, c),
                t.cost[c.index()],
            ));
        }
        t.category_steps.clear();
        t.category_steps.extend(
            catalogue
                .ids()
                .map(|c| (catalogue.loi_seconds(c) / t.grid - 1e-9).ceil().max(0.0) as u32),
        );
        // Categories enter the order as the seconds grow past their length.
        t.steps.sort_unstable_by_key(|s| s.0);
        t.lower_waste.clear();
        t.lower_waste.resize(t.width, f64::INFINITY);
        let mut entered = 0;
        for i in 0..t.width {
            while entered < t.steps.len() && t.steps[entered].0 <= i {
                t.order.push((0.0, entered as u32));
                entered += 1;
            }
            for entry in t.order.iter_mut() {
                let (steps, l, _, cost) = t.steps[entry.1 as usize];
                entry.0 = l - cost + t.values[i - steps];
            }
            sort_descending(&mut t.order);
            let mut none_yet = 1.0;
            let mut v = 0.0;
            for &(value, k) in &t.order {
                if value <= 0.0 {
                    // Priced out (only with pace costs): such a category is not offered.
                    break;
                }
                let p = t.steps[k as usize].2;
                v += none_yet * p * value;
                none_yet *= 1.0 - p;
            }
            t.values[i] = v;
            // Waste on the grid, (i·g − L) − V(i − steps), bounds the waste at any r in
            // [i·g, (i+1)·g) from below; its least over the entered categories is i·g minus the
            // largest L + V(i − steps), the head of the order. A category entering at the next
            // cell fits part of that span with a waste of at least 0.
            let r = i as f64 * t.grid;
            let mut least = t.order.first().map_or(f64::INFINITY, |e| r - e.0);
            if t.steps.get(entered).is_some_and(|s| s.0 == i + 1) {
                least = least.min(0.0);
            }
            t.lower_waste[i] = least;
        }
    }

    pub(super) fn build_max(
        &self,
        t: &mut PackingTable,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        horizon: f64,
        cap: Option<u32>,
    ) {
        t.kind = TableKind::Max;
        t.grid = self.max_grid;
        t.horizon = horizon;
        t.width = (horizon / t.grid).floor() as usize + 1;
        // Without a cap one layer recurses on itself; qualifier costs are at least one grid
        // step so every step moves to a smaller cell.
        t.layers = cap.map_or(1, |k| k as usize + 1);
        t.values.clear();
        t.values.resize(t.width * t.layers, 0.0);
        // Per open category: (q, L, p̂, cells back after qualifying, cells back after not).
        // floor((i·g − x) / g) = i − ceil(x / g), so the recursion needs no division.
        let steps = |x: f64| (x / t.grid - 1e-9).ceil().max(0.0) as usize;
        let mut open = std::mem::take(&mut t.open);
        open.clear();
        open.extend(catalogue.ids().filter(|&c| quotas.is_open(c)).map(|c| {
            let q = catalogue
                .qualifier_seconds(c)
                .max(if cap.is_some() { 0.0 } else { t.grid });
            let l = catalogue.loi_seconds(c);
            let p = self.scarcity.incidence(catalogue, quotas, c);
            (q, l, p, steps(q + l), steps(q))
        }));
        let first_layer = usize::from(cap.is_some());
        let width = t.width;
        for layer in first_layer..t.layers {
            let below = if cap.is_some() { layer - 1 } else { 0 } * width;
            for i in 0..width {
                let mut best = 0.0f64;
                for &(q, l, p, qualified_back, failed_back) in &open {
                    if qualified_back > i {
                        continue;
                    }
                    let v = q
                        + p * (l + t.values[below + i - qualified_back])
                        + (1.0 - p) * t.values[below + i - failed_back];
                    if v > best {
                        best = v;
                    }
                }
                t.values[layer * width + i] = best;
            }
        }
        t.open = open;
    }
}

/// Sorts by value, highest first, keeping equal values in their order (stable).
///
/// Values move little from one cell to the next, so insertion sort is near linear; where
/// they move more (paced costs, many categories), it is quadratic (1,000 categories: most
/// of a simulation's time). Past a budget of swaps it hands over to the library's stable
/// sort, which finishes with the same order: insertion sort never swaps equal values, so
/// the partial result stable-sorts to what the full one would be. The key maps −0 to 0, so
/// equal means what `<` says, and is total, so no value can make the sort panic.
fn sort_descending(order: &mut [(f64, u32)]) {
    let mut budget = 8 * order.len() + 64;
    for a in 1..order.len() {
        let mut b = a;
        while b > 0 && order[b - 1].0 < order[b].0 {
            if budget == 0 {
                let key = |v: f64| if v == 0.0 { 0.0 } else { v };
                order.sort_by(|x, y| key(y.0).total_cmp(&key(x.0)));
                return;
            }
            budget -= 1;
            order.swap(b - 1, b);
            b -= 1;
        }
    }
}

#[cfg(test)]
mod sort_tests {
    use super::sort_descending;

    /// The hand-over keeps the insertion sort's order: stable, ties in input order.
    #[test]
    fn the_hand_over_to_a_stable_sort_keeps_the_order() {
        let mut seed = 7u64;
        for len in [0, 1, 5, 100, 2_000] {
            let mut v: Vec<(f64, u32)> = (0..len)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (((seed >> 33) % 50) as f64 - 25.0, i)
                })
                .collect();
            let mut expected = v.clone();
            // The reference: a plain stable sort, highest first.
            expected.sort_by(|x, y| y.0.partial_cmp(&x.0).unwrap());
            sort_descending(&mut v);
            assert_eq!(v, expected, "length {len}");
        }
    }
}
