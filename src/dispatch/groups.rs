//! A wide, shallow kinetic structure over the recipients' deficit lines, for the streaming mode
//! (the alternative to the binary tournament of [`super::kinetic`]).
//!
//! The recipients are cut into groups of `B` consecutive positions (a power of two near √n).
//! Each group keeps its winner (the largest line at `now`, ties to the lower position) and a
//! *certificate*: a step no later than the first one at which another member overtakes the
//! winner. The group's own state changes only when its certificate expires or one of its lines
//! moves, and then the whole group is *rescanned*: two passes of plain f64 arithmetic over
//! contiguous arrays (`slope[j]·τ − c[j]`, then the catch-up steps), which the compiler
//! vectorises. The winner of the whole is found by scanning the groups' winners, `n / B`
//! values, at every step. Per item that is one rescan (the leader's group, as its line drops by
//! one item), the rescans of the groups whose certificates expired (fewer than one per item)
//! and one scan of the group winners: O(√n) with a small constant, against ~13 scalar contests
//! of the binary tournament at a thousand recipients. The dispatcher uses these groups up to
//! 8,192 recipients and the tournament beyond, where its O(log n) path wins.
//!
//! Exactness is the binary tournament's: lines are exact integers kept per member, decisions
//! are made in f64 against the same proven error bound `eps`, and whatever the f64 cannot
//! settle (two members of a group within about `2·eps` of its largest line; a group holding two
//! slopes closer than `2·eps`, whose catch-ups are slower than the error) is rescanned in exact
//! integer arithmetic. A clear f64 winner is the exact winner and
//! an f64 certificate is a lower bound on the exact one, so the group winners are always
//! exactly those of an exact structure; an early certificate only causes a rescan that finds
//! the same winner.

use super::kinetic::{
    Line, MAX_LIFETIME, NEVER, NONE, REL, REL4, SENTINEL_F, SENTINEL_LINE, SPAN, error_bounds,
    intercept_at, overtake,
};
use super::wide::approx_f64;
/// Lanes of the hand-vectorised reductions (independent accumulators the compiler maps to
/// SIMD registers).
const LANES: usize = 4;
/// Stands in for a rate ≤ 0 in the certificate pass (see [`Groups::rescan`]).
const TINY: f64 = 1.0 / (1u64 << 40) as f64;

/// The groups: per-member lines in struct-of-arrays form, per-group winners and certificates.
#[derive(Clone, Debug, Default)]
pub(crate) struct Groups {
    /// log₂ of the group size.
    shift: u32,
    /// f64 slope and intercept (relative to `origin`) of each member; sentinels for padding
    /// and paused members (slope 0, intercept [`SENTINEL_F`]).
    s: Vec<f64>,
    c: Vec<f64>,
    /// The exact line of each member.
    lines: Vec<Line>,
    /// Each group's winner's f64 slope and intercept (copies, for the scan of the winners),
    /// the winner ([`NONE`] for a group with no competing member) and its certificate.
    gs: Vec<f64>,
    gc: Vec<f64>,
    gwin: Vec<u32>,
    gcert: Vec<u32>,
    /// Groups holding two competing members whose slopes differ by less than 2·eps: a
    /// catch-up that slow would make the f64 certificates many steps early (each step a
    /// wasted rescan), so these groups are always rescanned exactly.
    slow: Vec<bool>,
    /// At most the earliest group certificate (may be stale low: then a scan finds nothing).
    min_cert: u32,
    now: u64,
    origin: u64,
    bound: f64,
    eps: f64,
    tie: f64,
    /// Scratch for the slow-group check of [`Groups::rebuild`].
    sorted: Vec<f64>,
    /// Scratch for [`Groups::for_each_descending`].
    heap: std::collections::BinaryHeap<(i128, std::cmp::Reverse<u32>, usize, usize)>,
    /// Scratch for [`Groups::for_each_descending`]: the members of the groups reached, sorted.
    members: Vec<(std::cmp::Reverse<i128>, u32)>,
}

/// The largest of `x[j] = s[j]·tau − c[j]`, a position holding it (the first, when the
/// largest value occurs once) and the second largest value (equal to the largest on a tie).
/// Branch-free; the values are vectorised (independent lanes the compiler maps onto SIMD
/// registers, the selects being `maxpd` / `minpd`), the positions follow in conditional moves.
#[inline(always)]
fn top2(s: &[f64], c: &[f64], tau: f64) -> (f64, usize, f64) {
    let mut best = [f64::NEG_INFINITY; LANES];
    let mut next = [f64::NEG_INFINITY; LANES];
    let mut at = [0usize; LANES];
    for (i, (sc, cc)) in s.chunks_exact(LANES).zip(c.chunks_exact(LANES)).enumerate() {
        for k in 0..LANES {
            let x = sc[k] * tau - cc[k];
            // The runner-up becomes max(runner-up, min(x, best)).
            let low = if x < best[k] { x } else { best[k] };
            next[k] = if low > next[k] { low } else { next[k] };
            at[k] = if x > best[k] { i * LANES + k } else { at[k] };
            best[k] = if x > best[k] { x } else { best[k] };
        }
    }
    // Across the lanes with min/max only (which lane leads is a coin flip to a branch
    // predictor, and the compiler turns selects back into branches): the lowest position
    // holding the largest value, and the runner-up: the second largest of the lanes' bests
    // (the largest again if two lanes hold it) or the leading lane's runner-up (the others'
    // are below their bests).
    let (hi01, lo01) = (best[0].max(best[1]), best[0].min(best[1]));
    let (hi23, lo23) = (best[2].max(best[3]), best[2].min(best[3]));
    let m = hi01.max(hi23);
    let second = hi01.min(hi23).max(lo01.max(lo23));
    let second = second.max(next[0].max(next[1]).max(next[2].max(next[3])));
    let mut at_m = usize::MAX;
    for k in 0..LANES {
        at_m = at_m.min(at[k] | usize::from(best[k] != m).wrapping_neg());
    }
    (m, at_m, second)
}

impl Groups {
    /// Group size for `n` members: a power of two near √n, at least 8.
    fn shift_for(n: usize) -> u32 {
        let target = (n as f64).sqrt().max(8.0) as usize;
        // Round to the nearer power of two (in log scale).
        let lo = usize::BITS - 1 - target.leading_zeros();
        if target >= (3usize << lo) / 2 {
            lo + 1
        } else {
            lo
        }
    }

    /// Builds the structure for step `t`.
    pub(crate) fn build(slope: &[u64], base: &[i128], t: u64, tie: i128) -> Self {
        Self::build_with_shift(slope, base, t, tie, Self::shift_for(slope.len()))
    }

    /// [`Groups::build`] with groups of `2^shift` (at least [`LANES`]) members.
    fn build_with_shift(slope: &[u64], base: &[i128], t: u64, tie: i128, shift: u32) -> Self {
        debug_assert!(t < MAX_LIFETIME && 1 << shift >= LANES);
        let b = 1usize << shift;
        // A whole number of SIMD lanes of groups (the padding groups hold only sentinels).
        let groups = slope.len().div_ceil(b).max(1).next_multiple_of(LANES);
        let mut lines = vec![SENTINEL_LINE; groups * b];
        for (i, &s) in slope.iter().enumerate() {
            if s > 0 {
                lines[i] = Line {
                    base: base[i],
                    slope: s,
                };
            }
        }
        let mut k = Groups {
            shift,
            s: vec![0.0; groups * b],
            c: vec![SENTINEL_F; groups * b],
            lines,
            gs: vec![0.0; groups],
            gc: vec![SENTINEL_F; groups],
            gwin: vec![NONE; groups],
            gcert: vec![NEVER; groups],
            slow: vec![false; groups],
            min_cert: NEVER,
            now: t,
            origin: t,
            bound: 0.0,
            eps: 0.0,
            tie: approx_f64(tie),
            sorted: Vec::with_capacity(b),
            heap: Default::default(),
            members: Vec::new(),
        };
        k.rebuild();
        k
    }

    /// Re-derives the origin (now), the error bounds and every group from the exact lines.
    fn rebuild(&mut self) {
        self.origin = self.now;
        let (mut c_max, mut s_sum, mut s_max) = (0.0f64, 0.0f64, 0.0f64);
        for i in 0..self.lines.len() {
            let line = self.lines[i];
            if line.slope == 0 {
                self.s[i] = 0.0;
                self.c[i] = SENTINEL_F;
                continue;
            }
            let c = self.c_of(line);
            let s = line.slope as f64;
            self.s[i] = s;
            self.c[i] = c;
            c_max = c_max.max(c.abs());
            s_sum += s;
            s_max = s_max.max(s);
        }
        // The binary tournament's bounds and their proof.
        (self.bound, self.eps) = error_bounds(c_max, s_sum, s_max);
        let b = 1usize << self.shift;
        // Scratch kept in the structure: a rebuild forced mid-stream (a line escaping the
        // bound) allocates nothing.
        let mut slopes = std::mem::take(&mut self.sorted);
        for g in 0..self.gwin.len() {
            slopes.clear();
            slopes.extend(self.s[g * b..(g + 1) * b].iter().filter(|&&s| s > 0.0));
            slopes.sort_unstable_by(f64::total_cmp);
            self.slow[g] = slopes
                .windows(2)
                .any(|p| p[1] > p[0] && p[1] - p[0] < 2.0 * self.eps);
            self.rescan(g);
        }
        self.sorted = slopes;
        self.min_cert = self.gcert.iter().copied().min().unwrap_or(NEVER);
    }

    #[inline(always)]
    fn c_of(&self, line: Line) -> f64 {
        intercept_at(line, self.origin)
    }

    #[inline(always)]
    fn tau(&self) -> f64 {
        (self.now - self.origin) as f64
    }

    /// Whether a structure built at an earlier step can still be advanced to `t`.
    pub(crate) fn can_reach(&self, t: u64) -> bool {
        t >= self.now && t - self.origin < SPAN
    }

    /// Recomputes group `g`'s winner and certificate at `now`, in f64 when that is certain,
    /// exactly otherwise.
    #[inline]
    fn rescan(&mut self, g: usize) {
        let b = 1usize << self.shift;
        let lo = g << self.shift;
        let (s, c) = (&self.s[lo..lo + b], &self.c[lo..lo + b]);
        let tau = self.tau();
        let (m, w, second) = top2(s, c, tau);
        let sw = s[w];
        if sw == 0.0 {
            // Only sentinels: nobody competes.
            self.gs[g] = 0.0;
            self.gc[g] = SENTINEL_F;
            self.gwin[g] = NONE;
            self.gcert[g] = NEVER;
            return;
        }
        let eps = self.eps;
        // Two members within eps of the largest line: only exact arithmetic can tell them
        // apart. (Sentinels are far below any real line.) The margin of 4 units keeps `lo`
        // below at least 2 for the others.
        if m - second <= 2.0 * eps + 4.0 || self.slow[g] {
            self.rescan_exact(g);
            return;
        }
        // Per member: the gap to the winner and the rate at which it closes; the member
        // overtakes after ⌊G / rate⌋ + 1 steps, with G = gap − [it is left of the winner]
        // ≥ gap − 1 in exact units. The f64 gap is within eps of the exact one (and the
        // roundings here are within 2⁻⁴⁸ of it), so `lo = gap·(1 − 2⁻⁴⁸) − (1 + eps)` is a
        // lower bound on G and `lo / rate` one on the catch-up quotient. Expanded,
        // `lo = c·k1 − s·(τ·k1) + (m·k1 − k2)`.
        let (k1, k2) = (1.0 - REL4, 1.0 + eps);
        let (tk, a) = (tau * k1, m * k1 - k2);
        let mut est = [f64::INFINITY; LANES];
        for (sc, cc) in s.chunks_exact(LANES).zip(c.chunks_exact(LANES)) {
            for k in 0..LANES {
                // Every member but the winner has `lo` > 2 (no near-tie); the winner's is
                // raised to 2, so a member that does not gain on the winner (rate ≤ 0; rates
                // are integers) divides at least 2 by 2⁻⁴⁰: beyond any lifetime, i.e. never.
                let lo = (cc[k] * k1 + a - sc[k] * tk).max(2.0);
                let rate = (sc[k] - sw).max(TINY);
                let q = lo / rate;
                est[k] = if q < est[k] { q } else { est[k] };
            }
        }
        let e = est[0].min(est[1]).min(est[2].min(est[3]));
        // The division's rounding is covered by the factor; the cast floors (and takes a
        // negative bound to 0).
        let e = e * (1.0 - REL4);
        let cert = if e >= MAX_LIFETIME as f64 {
            NEVER
        } else {
            (self.now + 1 + e as u64) as u32
        };
        self.gs[g] = sw;
        self.gc[g] = c[w];
        self.gwin[g] = (lo + w) as u32;
        self.gcert[g] = cert;
    }

    /// [`Groups::rescan`] in exact integer arithmetic.
    #[cold]
    #[inline(never)]
    fn rescan_exact(&mut self, g: usize) {
        let b = 1usize << self.shift;
        let lo = g << self.shift;
        let now = self.now;
        let lines = &self.lines[lo..lo + b];
        let mut best: Option<(usize, i128)> = None;
        for (j, line) in lines.iter().enumerate() {
            if line.slope > 0 {
                let x = line.at(now);
                if best.is_none_or(|(_, bx)| x > bx) {
                    best = Some((j, x));
                }
            }
        }
        let Some((w, wx)) = best else {
            self.gs[g] = 0.0;
            self.gc[g] = SENTINEL_F;
            self.gwin[g] = NONE;
            self.gcert[g] = NEVER;
            return;
        };
        let sw = lines[w].slope;
        let mut cert = NEVER;
        for (j, line) in lines.iter().enumerate() {
            if line.slope > 0 && j != w {
                let rate = line.slope as i64 - sw as i64;
                let gap = wx - line.at(now) - i128::from(j < w);
                cert = cert.min(overtake(rate, gap, now));
            }
        }
        self.gs[g] = self.s[lo + w];
        self.gc[g] = self.c[lo + w];
        self.gwin[g] = (lo + w) as u32;
        self.gcert[g] = cert;
    }

    /// Moves the group winners to step `t` ([`Groups::can_reach`]), rescanning the groups
    /// whose certificates expired.
    pub(crate) fn advance(&mut self, t: u64) {
        debug_assert!(self.can_reach(t));
        self.now = t;
        let t32 = t as u32;
        if self.min_cert <= t32 {
            let mut m = NEVER;
            for g in 0..self.gcert.len() {
                if self.gcert[g] <= t32 {
                    self.rescan(g);
                }
                m = m.min(self.gcert[g]);
            }
            self.min_cert = m;
        }
    }

    /// Sets member `i`'s intercept and rescans its group; returns false when the structure had
    /// to be rebuilt (a line escaped the error bound).
    #[inline]
    fn set_base(&mut self, i: usize, base: i128) -> bool {
        self.lines[i].base = base;
        let c = self.c_of(self.lines[i]);
        // (A NaN cannot occur, but would also rebuild.)
        if c.abs().partial_cmp(&self.bound) != Some(std::cmp::Ordering::Less) {
            self.rebuild();
            return false;
        }
        self.c[i] = c;
        let g = i >> self.shift;
        self.rescan(g);
        self.min_cert = self.min_cert.min(self.gcert[g]);
        true
    }

    /// Recomputes member `i`'s group after its line changed.
    pub(crate) fn update(&mut self, base: &[i128], i: usize) {
        self.set_base(i, base[i]);
    }

    /// The usual hand-out: lowers the leader's line by `d` and returns the leader, if every
    /// other line was more than τ below it (then the batch-of-one rule gives it the item
    /// whatever the rounding). Otherwise undoes the change (the structure is as before) and
    /// returns `None`.
    pub(crate) fn try_hand_out_to_leader(&mut self, d: i128) -> Option<u32> {
        let tau = self.tau();
        // The group whose winner leads in f64 (the first of equal values), its value, and the
        // best value of the other groups.
        let (x, g, other) = top2(&self.gs, &self.gc, tau);
        let leader = self.gwin[g];
        if leader == NONE {
            return None;
        }
        let i = leader as usize;
        let saved = (self.gs[g], self.gc[g], self.gcert[g], self.c[i]);
        let old = self.lines[i].base;
        if !self.set_base(i, old + d) {
            // Rebuilt: decide the slow way (the undo restores the lines and rebuilds again).
            self.set_base(i, old);
            return None;
        }
        // Every other line is at most the best of the other groups' winners or the leader's
        // group's new winner (its best other member, or the lowered leader).
        let second = other.max(self.gs[g] * tau - self.gc[g]);
        // The f64 difference is within eps (plus its own rounding) of the exact one.
        if (x - second) * (1.0 - REL) > self.tie + self.eps {
            Some(leader)
        } else {
            self.lines[i].base = old;
            (self.gs[g], self.gc[g], self.gcert[g], self.c[i]) = saved;
            self.gwin[g] = leader;
            None
        }
    }

    /// The exact line of member `i` at `now`.
    #[inline]
    fn x(&self, i: u32) -> i128 {
        self.lines[i as usize].at(self.now)
    }

    /// The best leaf and its line at `now` (exact; ties to the lower position).
    pub(crate) fn best_line(&self) -> Option<(u32, i128)> {
        let mut best: Option<(u32, i128)> = None;
        for &w in &self.gwin {
            if w != NONE {
                let x = self.x(w);
                if best.is_none_or(|(_, bx)| x > bx) {
                    best = Some((w, x));
                }
            }
        }
        best
    }

    /// The best member other than `leaf` (which must be the overall best), with its line.
    pub(crate) fn second(&self, leaf: u32) -> Option<(u32, i128)> {
        let home = leaf as usize >> self.shift;
        let mut best: Option<(u32, i128)> = None;
        let mut offer = |w: u32, x: i128| {
            if best.is_none_or(|(b, bx)| x > bx || (x == bx && w < b)) {
                best = Some((w, x));
            }
        };
        for (g, &w) in self.gwin.iter().enumerate() {
            if w != NONE && g != home {
                offer(w, self.x(w));
            }
        }
        let lo = home << self.shift;
        for j in lo..lo + (1 << self.shift) {
            if j != leaf as usize && self.lines[j].slope > 0 {
                offer(j as u32, self.x(j as u32));
            }
        }
        best
    }

    /// The lowest-position member whose line is at least `threshold` at `now`.
    pub(crate) fn leftmost_at_least(&self, threshold: i128) -> Option<u32> {
        // A group holds one exactly when its winner (its largest line) does.
        let g = self
            .gwin
            .iter()
            .position(|&w| w != NONE && self.x(w) >= threshold)?;
        let lo = g << self.shift;
        (lo..lo + (1 << self.shift))
            .find(|&j| self.lines[j].slope > 0 && self.x(j as u32) >= threshold)
            .map(|j| j as u32)
    }

    /// The best member of group `g` strictly below `(x, i)` in the order "larger line, then
    /// lower position" (`None` for no bound): an exact reference for the tests.
    #[cfg(test)]
    fn best_below(&self, g: usize, below: Option<(i128, u32)>) -> Option<(i128, u32)> {
        let lo = g << self.shift;
        let mut best: Option<(i128, u32)> = None;
        let before = |a: (i128, u32), b: (i128, u32)| a.0 > b.0 || (a.0 == b.0 && a.1 < b.1);
        for j in lo..lo + (1 << self.shift) {
            if self.lines[j].slope == 0 {
                continue;
            }
            let cand = (self.x(j as u32), j as u32);
            if below.is_some_and(|b| !before(b, cand)) {
                continue;
            }
            if best.is_none_or(|b| before(cand, b)) {
                best = Some(cand);
            }
        }
        best
    }

    /// Calls `f` with the members in decreasing order of their lines (ties: lower position
    /// first) until it returns `false`. The groups' winners start in a heap; a group reached
    /// for the first time has its members sorted once (long chains of exact ties walk several
    /// members of a group), and each member handed to `f` brings in the next of its group.
    pub(crate) fn for_each_descending(&mut self, mut f: impl FnMut(u32, i128) -> bool) {
        use std::cmp::Reverse;
        let mut heap = std::mem::take(&mut self.heap);
        let mut sorted = std::mem::take(&mut self.members);
        heap.clear();
        sorted.clear();
        // (line, position, end, at): `at` indexes `sorted` up to `end`, or is `usize::MAX` for
        // a group's winner whose group (`end`) is not sorted yet.
        for (g, &w) in self.gwin.iter().enumerate() {
            if w != NONE {
                heap.push((self.x(w), Reverse(w), g, usize::MAX));
            }
        }
        while let Some((x, Reverse(w), end, at)) = heap.pop() {
            if !f(w, x) {
                break;
            }
            let (end, next) = if at == usize::MAX {
                // Sort group `end`; its winner comes first and was just handed out.
                let start = sorted.len();
                let lo = end << self.shift;
                for j in lo..lo + (1 << self.shift) {
                    if self.lines[j].slope > 0 {
                        sorted.push((Reverse(self.x(j as u32)), j as u32));
                    }
                }
                sorted[start..].sort_unstable();
                (sorted.len(), start + 1)
            } else {
                (end, at + 1)
            };
            if next < end {
                let (Reverse(nx), nw) = sorted[next];
                heap.push((nx, Reverse(nw), end, next));
            }
        }
        self.heap = heap;
        self.members = sorted;
    }
}

#[cfg(test)]
mod tests {
    use super::super::kinetic::Tournament;
    use super::*;
    use proptest::prelude::*;

    /// Every group's winner, as a fresh exact computation would give it.
    fn exact_winners(k: &Groups) -> Vec<u32> {
        (0..k.gwin.len())
            .map(|g| k.best_below(g, None).map_or(NONE, |(_, w)| w))
            .collect()
    }

    #[test]
    fn group_sizes_track_the_square_root() {
        assert_eq!(Groups::shift_for(1), 3);
        assert_eq!(Groups::shift_for(1_000), 5);
        assert_eq!(Groups::shift_for(100_000), 8);
    }

    #[test]
    fn winners_stay_exact_as_items_are_handed_out() {
        // Intercepts on multiples of the rate differences (catch-up quotients on integers) and
        // equal slopes (exact ties), over several groups, one of them partly padding.
        let slope: Vec<u64> = (0..43u64)
            .map(|i| if i % 7 == 3 { 0 } else { (5 + i % 4) << 48 })
            .collect();
        let d: i128 = slope.iter().map(|&s| i128::from(s)).sum();
        let mut base: Vec<i128> = (0..43i128).map(|i| (i % 5) * (12 << 48)).collect();
        let mut k = Groups::build_with_shift(&slope, &base, 0, 1 << 20, 3);
        for t in 1..3000 {
            k.advance(t);
            assert_eq!(k.gwin, exact_winners(&k), "step {t}");
            let (w, _) = k.best_line().unwrap();
            base[w as usize] += d;
            k.update(&base, w as usize);
        }
    }

    #[test]
    fn one_and_two_members() {
        for slope in [vec![3u64 << 50], vec![3 << 50, 3 << 50], vec![0, 1 << 52]] {
            let d: i128 = slope.iter().map(|&s| i128::from(s)).sum();
            let mut base = vec![0i128; slope.len()];
            let mut k = Groups::build(&slope, &base, 0, 1 << 20);
            let mut tree = Tournament::build(&slope, &base, 0, 1 << 20);
            for t in 1..50 {
                k.advance(t);
                tree.advance(t);
                assert_eq!(k.best_line(), tree.best_line(), "{slope:?} step {t}");
                let (w, _) = k.best_line().unwrap();
                base[w as usize] += d;
                k.update(&base, w as usize);
                tree.update(&base, w as usize);
            }
        }
    }

    #[test]
    fn a_line_escaping_the_error_bound_rebuilds_exactly() {
        let slope = [3u64 << 50, 1 << 52, 5 << 50, 0, 7 << 49];
        let mut base = [1i128 << 50, -(1 << 51), 7 << 48, 0, 1 << 49];
        let mut k = Groups::build(&slope, &base, 11, 1 << 20);
        k.advance(40);
        // Far beyond 4× the largest intercept at build time.
        base[1] = 1 << 100;
        assert!(!k.set_base(1, base[1]));
        assert_eq!(k.origin, 40);
        assert!(k.bound >= 2f64.powi(100));
        for t in 41..300 {
            k.advance(t);
            let fresh = Groups::build(&slope, &base, t, 1 << 20);
            assert_eq!(k.best_line(), fresh.best_line(), "step {t}");
            assert_eq!(k.gwin, exact_winners(&k), "step {t}");
            let (w, _) = k.best_line().unwrap();
            base[w as usize] += 9 << 50;
            k.update(&base, w as usize);
        }
    }

    #[test]
    fn nearly_equal_slopes_are_rescanned_exactly() {
        // Slopes one unit apart (weights like 0.3 and 0.1 + 0.2): catch-ups far slower than
        // the f64 error, so the group is flagged and always rescanned exactly.
        let slope: Vec<u64> = (0..12u64).map(|i| (3 << 50) + i % 3).collect();
        let d: i128 = slope.iter().map(|&s| i128::from(s)).sum();
        let mut base: Vec<i128> = (0..12i128).map(|i| (i % 4) * (d / 7)).collect();
        let mut k = Groups::build_with_shift(&slope, &base, 0, d / 1_000_000_000, 3);
        let mut tree = Tournament::build(&slope, &base, 0, d / 1_000_000_000);
        assert!(k.slow[0] && k.slow[1]);
        for t in 1..500 {
            k.advance(t);
            tree.advance(t);
            assert_eq!(k.best_line(), tree.best_line(), "step {t}");
            let (w, _) = k.best_line().unwrap();
            base[w as usize] += d;
            k.update(&base, w as usize);
            tree.update(&base, w as usize);
        }
    }

    /// Slopes: paused (0), a few equal values (exact ties), or arbitrary below 2⁵³.
    fn slope() -> impl Strategy<Value = u64> {
        prop_oneof![
            1 => Just(0u64),
            3 => (1u64..4).prop_map(|k| k << 50),
            3 => (1u64 << 40)..(1 << 53),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The wide groups answer every query exactly as the binary tournament does, step
        /// after step, as items are handed out (the fast hand-out accepted or declined alike)
        /// and one line is moved now and then (a weight change's or a batch's effect).
        #[test]
        fn groups_agree_with_the_tournament(
            slopes in prop::collection::vec(slope(), 1..70),
            units in prop::collection::vec(-4i128..4, 70),
            shift in 2u32..5,
            steps in 1u64..400,
            origin in 0u64..1 << 20,
        ) {
            let n = slopes.len();
            prop_assume!(slopes.iter().any(|&s| s > 0));
            let d: i128 = slopes.iter().map(|&s| i128::from(s)).sum();
            // Intercepts a few eighths of an item apart: many exact ties between equal slopes.
            let mut base: Vec<i128> = (0..n)
                .map(|i| i128::from(slopes[i]) * i128::from(origin) + units[i] * (d / 8))
                .collect();
            let tie = d / 1_000_000_000;
            let mut k = Groups::build_with_shift(&slopes, &base, origin, tie, shift.max(2));
            let mut tree = Tournament::build(&slopes, &base, origin, tie);
            for t in origin + 1..origin + steps {
                k.advance(t);
                tree.advance(t);
                prop_assert_eq!(&k.gwin, &exact_winners(&k), "step {}", t);
                let best = k.best_line();
                prop_assert_eq!(best, tree.best_line(), "step {}", t);
                let (w, x) = best.unwrap();
                prop_assert_eq!(k.second(w), tree.second(w));
                prop_assert_eq!(k.leftmost_at_least(x - d / 3), tree.leftmost_at_least(x - d / 3));
                let (mut a, mut b) = (Vec::new(), Vec::new());
                k.for_each_descending(|i, x| { a.push((i, x)); a.len() < 40 });
                tree.for_each_descending(|i, x| { b.push((i, x)); b.len() < 40 });
                prop_assert_eq!(a, b);
                let (fast, fast_tree) = (k.try_hand_out_to_leader(d), tree.try_hand_out_to_leader(d));
                prop_assert_eq!(fast, fast_tree, "step {}", t);
                match fast {
                    Some(w) => base[w as usize] += d,
                    None => {
                        base[w as usize] += d;
                        k.update(&base, w as usize);
                        tree.update(&base, w as usize);
                    }
                }
                if t % 37 == 0 {
                    // Move a competing line up by a fraction of an item.
                    let i = (t as usize * 7) % n;
                    let Some(i) = (i..n).chain(0..i).find(|&i| slopes[i] > 0) else { continue };
                    base[i] -= d / 5;
                    k.update(&base, i);
                    tree.update(&base, i);
                }
            }
        }
    }
}
