//! Kinetic tournament over the recipients' deficit lines, for the streaming mode.
//!
//! At step `T` (the ideal of the next one-item batch is computed with `T` items dispatched since
//! the base), recipient `i`'s line is `X_i(T) = T·w_i − base_i` in exact units: it grows at its
//! own rate `w_i`, and only the winner's line moves (down by `D`) when an item is handed out.
//! Each internal node keeps the better of its two children's winners (larger `X`, then lower
//! position) and a *certificate*: the first step at which the loser's line overtakes it.
//! Moving to a later step replays only the certificates that expire; changing one line
//! recomputes one leaf-to-root path. All of it is exact integer arithmetic, so node winners are
//! exact and equal lines never churn.
//!
//! Layout, for speed (the streaming bench at 1,000 recipients spends its time here):
//! * a node is 32 bytes (the winner's line copied in, so a recompute reads only the two
//!   children) and the subtree minima of the certificates live in a separate dense array, which
//!   the search for expired certificates walks;
//! * an empty or paused leaf holds a *sentinel* line (rate 0, far below any real line), so the
//!   hot loops need no "is there a competitor" branches;
//! * certificates are `u32` steps: a tournament lives at most [`MAX_LIFETIME`] steps (the
//!   dispatcher folds its step counter back and rebuilds the tournament before that), so a
//!   crossing further away than that is recorded as never;
//! * a certificate is `⌊gap / rate⌋ + 1` steps away, computed with one f64 division and one
//!   exact 64×64-bit product to correct the estimate (never a 128-bit division).

use super::wide::approx_f64;

const NONE: u32 = u32::MAX;
const NEVER: u32 = u32::MAX;
/// The tournament is rebuilt before its step counter reaches this (see [`super::REBASE_AT`]).
pub(crate) const MAX_LIFETIME: u64 = 1 << 30;
/// A sentinel line's intercept: its value `−SENTINEL` is below every real line (whose values
/// stay within ±2¹¹⁹, see the dispatcher's limits), and differences stay within `i128`.
const SENTINEL: i128 = 1 << 125;

const _: () = assert!(super::REBASE_AT < MAX_LIFETIME && MAX_LIFETIME < NEVER as u64);

#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Node {
    /// The winner's line: intercept and rate (copied so a recompute reads only the children).
    base: i128,
    slope: u64,
    win: u32,
    /// This node's certificate: the first step at which its winner changes.
    cert: u32,
}

const EMPTY: Node = Node {
    base: SENTINEL,
    slope: 0,
    win: NONE,
    cert: NEVER,
};

/// The tournament; lines are read from the dispatcher's `slope` (0 = not competing) and `base`
/// arrays when it is built, then kept in the leaves.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tournament {
    leaves: usize,
    nodes: Vec<Node>,
    /// The earliest certificate in each node's subtree (its own included; `NEVER` at leaves).
    sub: Vec<u32>,
    now: u64,
    /// Scratch for [`Tournament::for_each_descending`].
    heap: std::collections::BinaryHeap<(i128, std::cmp::Reverse<u32>, usize)>,
}

impl Node {
    /// The line at step `t` (exact: rate < 2⁶³, t < 2³⁰).
    #[inline(always)]
    fn at(&self, t: u64) -> i128 {
        (u128::from(self.slope) * u128::from(t)) as i128 - self.base
    }
}

/// The first step after `now` at which the loser (rate `sl`), `gap ≥ 0` units below the winner
/// (rate `sw`) at `now`, beats it; `lo_first`: the loser has the lower position, so it wins
/// ties. [`NEVER`] if that is beyond the tournament's lifetime.
#[inline(always)]
fn overtake(sw: u64, sl: u64, gap: i128, now: u64, lo_first: bool) -> u32 {
    if sl <= sw {
        return NEVER;
    }
    let rate = sl - sw;
    // The loser wins after k steps when k·rate > gap (≥ when it wins ties, i.e. > gap − 1):
    // k = ⌊g / rate⌋ + 1 with g = gap − [lo_first] ≥ 0 (a loser that wins ties is strictly
    // below, so gap ≥ 1 then).
    let g = gap - i128::from(lo_first);
    let q = if g < i128::from(rate) {
        0
    } else {
        // Rates are below 2⁵³ (scaled weights), so the conversion is exact; the quotient
        // estimate is within a relative 2⁻⁵⁰ of the truth, i.e. within 2⁻²⁰ of it below 2³⁰:
        // truncating gives ⌊g / rate⌋ or one more or less, which one exact product settles.
        let est = approx_f64(g) / (rate as i64 as f64);
        if est >= (MAX_LIFETIME as f64) {
            return NEVER;
        }
        let q = est as u64;
        let r = g - (u128::from(q) * u128::from(rate)) as i128;
        if r < 0 {
            q - 1
        } else if r >= i128::from(rate) {
            q + 1
        } else {
            q
        }
    };
    let at = now + q + 1;
    if at >= MAX_LIFETIME { NEVER } else { at as u32 }
}

impl Tournament {
    /// Builds the tournament for step `t`.
    pub(crate) fn build(slope: &[u64], base: &[i128], t: u64) -> Self {
        debug_assert!(t < MAX_LIFETIME);
        let leaves = slope.len().next_power_of_two().max(2);
        let mut k = Tournament {
            leaves,
            nodes: vec![EMPTY; 2 * leaves],
            sub: vec![NEVER; 2 * leaves],
            now: t,
            heap: Default::default(),
        };
        for (i, &s) in slope.iter().enumerate() {
            if s > 0 {
                k.nodes[leaves + i] = Node {
                    base: base[i],
                    slope: s,
                    win: i as u32,
                    cert: NEVER,
                };
            }
        }
        for v in (1..leaves).rev() {
            k.recompute(v);
        }
        k
    }

    /// The step the node winners are valid for.
    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    /// Recomputes node `v` from its children; returns whether its winner changed.
    #[inline(always)]
    fn recompute(&mut self, v: usize) -> bool {
        let (l, r) = (self.nodes[2 * v], self.nodes[2 * v + 1]);
        let t = self.now;
        let (vl, vr) = (l.at(t), r.at(t));
        // Ties go to the lower position, which is always the left child's.
        let (w, cert) = if vl >= vr {
            (l, overtake(l.slope, r.slope, vl - vr, t, false))
        } else {
            (r, overtake(r.slope, l.slope, vr - vl, t, true))
        };
        let sub = cert.min(self.sub[2 * v]).min(self.sub[2 * v + 1]);
        let node = &mut self.nodes[v];
        let changed = node.win != w.win;
        *node = Node { cert, ..w };
        self.sub[v] = sub;
        changed
    }

    /// Moves the node winners to step `t ≥ now`, replaying the expired certificates (deepest
    /// first, so a node is recomputed after its children).
    pub(crate) fn advance(&mut self, t: u64) {
        debug_assert!(t >= self.now && t < MAX_LIFETIME);
        self.now = t;
        let t32 = t as u32;
        while self.sub[1] <= t32 {
            let mut v = 1;
            while v < self.leaves {
                let l = self.sub[2 * v] <= t32;
                let r = self.sub[2 * v + 1] <= t32;
                if !(l || r) {
                    break;
                }
                v = 2 * v + usize::from(!l);
            }
            // v's own certificate expired; ancestors are recomputed while winners change,
            // then only their subtree minima are refreshed.
            let mut changed = self.recompute(v);
            v /= 2;
            while v >= 1 && changed {
                changed = self.recompute(v);
                v /= 2;
            }
            while v >= 1 {
                self.sub[v] = self.nodes[v]
                    .cert
                    .min(self.sub[2 * v])
                    .min(self.sub[2 * v + 1]);
                v /= 2;
            }
        }
    }

    /// Sets leaf `i`'s intercept and recomputes its path to the root, carrying the winner up
    /// in registers; returns the largest line at `now` among the winners of the subtrees
    /// hanging off the path (the best line other than `i`'s when `i` led; sentinel-low when
    /// there is none).
    #[inline]
    fn set_base(&mut self, i: usize, base: i128) -> i128 {
        let t = self.now;
        let mut v = self.leaves + i;
        self.nodes[v].base = base;
        let mut cur = self.nodes[v];
        let mut cur_x = cur.at(t);
        let mut cur_sub = NEVER;
        let mut best_sibling = -SENTINEL;
        while v > 1 {
            let s = self.nodes[v ^ 1];
            let sx = s.at(t);
            best_sibling = best_sibling.max(sx);
            let cur_left = v & 1 == 0;
            // Ties go to the left child (the lower positions).
            let cur_wins = if cur_left { cur_x >= sx } else { cur_x > sx };
            let (w, wx, l, lx) = if cur_wins {
                (cur, cur_x, s, sx)
            } else {
                (s, sx, cur, cur_x)
            };
            let loser_left = cur_wins != cur_left;
            let cert = overtake(w.slope, l.slope, wx - lx, t, loser_left);
            cur_sub = cur_sub.min(self.sub[v ^ 1]).min(cert);
            v /= 2;
            cur = Node { cert, ..w };
            cur_x = wx;
            self.nodes[v] = cur;
            self.sub[v] = cur_sub;
        }
        best_sibling
    }

    /// Recomputes the path above leaf `i` after its line changed.
    pub(crate) fn update(&mut self, base: &[i128], i: usize) {
        self.set_base(i, base[i]);
    }

    /// The usual hand-out, in one pass over the leader's path: lowers the leader's line by `d`
    /// and returns it with its line at `now` (before lowering), if every other line was more
    /// than `tau` below it (then the batch-of-one rule gives it the item whatever the
    /// rounding). Otherwise undoes the change (the tournament is exactly as before) and
    /// returns `None`.
    pub(crate) fn try_hand_out_to_leader(&mut self, d: i128, tau: i128) -> Option<(u32, i128)> {
        let top = self.nodes[1];
        if top.win == NONE {
            return None;
        }
        let (leader, x) = (top.win as usize, top.at(self.now));
        let second = self.set_base(leader, top.base + d);
        if x - second > tau {
            Some((leader as u32, x))
        } else {
            self.set_base(leader, top.base);
            None
        }
    }

    /// The best leaf other than `leaf` (which must be the overall best), with its line: the
    /// best of the subtrees hanging off its path to the root.
    pub(crate) fn second(&self, leaf: u32) -> Option<(u32, i128)> {
        let t = self.now;
        let mut v = self.leaves + leaf as usize;
        let mut best: Option<(u32, i128)> = None;
        while v > 1 {
            let n = &self.nodes[v ^ 1];
            if n.win != NONE {
                let x = n.at(t);
                if best.is_none_or(|(b, bx)| x > bx || (x == bx && n.win < b)) {
                    best = Some((n.win, x));
                }
            }
            v /= 2;
        }
        best
    }

    /// The lowest-position leaf whose line is at least `threshold` at `now`.
    pub(crate) fn leftmost_at_least(&self, threshold: i128) -> Option<u32> {
        let t = self.now;
        let ok = |v: usize| {
            let n = &self.nodes[v];
            n.win != NONE && n.at(t) >= threshold
        };
        if !ok(1) {
            return None;
        }
        let mut v = 1;
        while v < self.leaves {
            v = if ok(2 * v) { 2 * v } else { 2 * v + 1 };
        }
        Some((v - self.leaves) as u32)
    }

    /// The best leaf and its line at `now`.
    pub(crate) fn best_line(&self) -> Option<(u32, i128)> {
        let n = self.nodes.get(1)?;
        (n.win != NONE).then(|| (n.win, n.at(self.now)))
    }

    /// Calls `f` with the leaves in decreasing order of their lines (ties: lower position
    /// first) until it returns `false`.
    pub(crate) fn for_each_descending(&mut self, mut f: impl FnMut(u32, i128) -> bool) {
        use std::cmp::Reverse;
        let t = self.now;
        let mut heap = std::mem::take(&mut self.heap);
        heap.clear();
        let nodes = &self.nodes;
        let push = |heap: &mut std::collections::BinaryHeap<_>, v: usize| {
            let n = &nodes[v];
            if n.win != NONE {
                heap.push((n.at(t), Reverse(n.win), v));
            }
        };
        push(&mut heap, 1);
        while let Some((x, Reverse(w), mut v)) = heap.pop() {
            if !f(w, x) {
                break;
            }
            // Walk down to w's leaf, offering the subtrees that do not contain it.
            while v < self.leaves {
                let (l, r) = (2 * v, 2 * v + 1);
                if nodes[l].win == w {
                    push(&mut heap, r);
                    v = l;
                } else {
                    push(&mut heap, l);
                    v = r;
                }
            }
        }
        self.heap = heap;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition: the least k ≥ 1 with k·rate > gap (≥ when the loser wins ties).
    fn overtake_slow(sw: u64, sl: u64, gap: i128, now: u64, lo_first: bool) -> u32 {
        if sl <= sw {
            return NEVER;
        }
        let rate = i128::from(sl - sw);
        let g = gap - i128::from(lo_first);
        let k = g.div_euclid(rate) + 1;
        let at = i128::from(now) + k.max(1);
        if at >= i128::from(MAX_LIFETIME) {
            NEVER
        } else {
            at as u32
        }
    }

    #[test]
    fn overtake_edges() {
        assert_eq!(overtake(5, 5, 10, 3, false), NEVER);
        assert_eq!(overtake(5, 7, 0, 3, false), 4);
        assert_eq!(overtake(5, 7, 1, 3, true), 4);
        assert_eq!(overtake(5, 7, 2, 3, true), 4);
        assert_eq!(overtake(5, 7, 2, 3, false), 5);
        assert_eq!(overtake(5, 7, 3, 3, true), 5);
        assert_eq!(overtake(0, 1, 1 << 40, 0, false), NEVER);
        assert_eq!(
            overtake(0, 1, i128::from(MAX_LIFETIME) - 2, 0, false),
            (MAX_LIFETIME - 1) as u32
        );
        assert_eq!(
            overtake(0, 1, i128::from(MAX_LIFETIME) - 1, 0, false),
            NEVER
        );
    }

    proptest! {
        #[test]
        fn overtake_is_exact(
            sw in 0u64..1 << 53,
            sl in 0u64..1 << 53,
            q in 0u64..1 << 31,
            r in any::<u64>(),
            now in 0u64..1 << 21,
            lo_first in any::<bool>(),
        ) {
            // Gaps near multiples of the rate, where the estimate is least sure.
            let rate = sl.saturating_sub(sw).max(1);
            let gap = (i128::from(q) * i128::from(rate) + i128::from(r % 5) - 2).max(i128::from(lo_first));
            prop_assert_eq!(overtake(sw, sl, gap, now, lo_first), overtake_slow(sw, sl, gap, now, lo_first));
            let gap = i128::from(r) << (r % 64);
            prop_assert_eq!(overtake(sw, sl, gap, now, lo_first), overtake_slow(sw, sl, gap, now, lo_first));
        }
    }
}
