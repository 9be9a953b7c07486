//! Kinetic tournament over the recipients' deficit lines, for the streaming mode beyond 8,192
//! recipients (below, the wide groups of [`super::groups`] are faster and give the same winners).
//!
//! At step `T` (the ideal of the next one-item batch is computed with `T` items dispatched since
//! the base), recipient `i`'s line is `X_i(T) = T·w_i − base_i` in exact units: it grows at its
//! own rate `w_i`, and only the winner's line moves (down by `D`) when an item is handed out.
//! Each internal node keeps the better of its two children's winners (larger `X`, then lower
//! position) and a *certificate*: the first step at which the loser's line overtakes it.
//! Moving to a later step replays only the certificates that expire; changing one line
//! recomputes one leaf-to-root path.
//!
//! Exactness and speed. The lines are exact integers (`i128` intercepts) kept per leaf, but the
//! nodes carry an f64 copy of their winner's line, and every contest (which line is ahead, and
//! the step at which the loser catches up) is first decided in f64 with a proven error bound
//! `eps`: when the lines are more than `eps` apart the f64 winner *is* the exact winner, and the
//! f64 certificate is a lower bound on the exact one (never later; at most two steps earlier,
//! and only when the catch-up quotient lies next to an integer); otherwise (near-ties, equal
//! weights, a catch-up slower than the error) the contest is redone in exact integer
//! arithmetic. An early certificate only makes its node be recomputed, exactly, before its
//! winner changes. So node winners are always exactly those of the exact tournament, and equal
//! lines never churn; the f64 path only avoids the 128-bit register traffic on the common case.
//!
//! The f64 lines are taken relative to the step the tournament was built at (`origin`), so
//! their magnitudes stay bounded by `bound` (checked whenever a line moves; the tournament is
//! rebuilt with a wider bound if one escapes), which bounds the rounding errors.
//!
//! Layout: a node is 32 bytes (the winner's f64 line copied in, so a recompute reads only the
//! two children, and the subtree minimum of the certificates, which the search for expired
//! certificates walks); an empty or paused leaf holds a *sentinel* line
//! (rate 0, far below any real line), so the hot loops need no "is there a competitor"
//! branches; certificates are `u32` steps: a tournament lives fewer than [`SPAN`] steps (the
//! dispatcher folds its step counter back and rebuilds the tournament before that), so a
//! crossing further away than [`MAX_LIFETIME`] is recorded as never.

use std::hint::select_unpredictable;

use super::wide::approx_f64;

pub(crate) const NONE: u32 = u32::MAX;
pub(crate) const NEVER: u32 = u32::MAX;
/// Certificates at or beyond this step are recorded as [`NEVER`].
pub(crate) const MAX_LIFETIME: u64 = 1 << 30;
/// A tournament is used at most this many steps after it was built: the dispatcher rebuilds it
/// when it folds its step counter, at [`super::REBASE_AT`].
pub(crate) const SPAN: u64 = 1 << 21;
/// A sentinel line's intercept: its value `−SENTINEL` is below every real line (whose values
/// stay within ±2¹¹⁹, see the dispatcher's limits), and differences stay within `i128`.
const SENTINEL: i128 = 1 << 125;
/// The sentinel's f64 intercept: far below every real line, and differences stay finite.
pub(crate) const SENTINEL_F: f64 = 1e300;
/// 2⁻⁵⁰ and 2⁻⁴⁸, for error bounds.
pub(crate) const REL: f64 = 1.0 / (1u64 << 50) as f64;
pub(crate) const REL4: f64 = 4.0 * REL;

/// The f64 intercept of `line` relative to step `origin` (`X ≈ slope·(t − origin) − c`).
#[inline(always)]
pub(crate) fn intercept_at(line: Line, origin: u64) -> f64 {
    approx_f64(line.base - (u128::from(line.slope) * u128::from(origin)) as i128)
}

/// `(bound, eps)` for lines whose f64 intercepts are at most `c_max` in magnitude, with slopes
/// summing to `s_sum` and at most `s_max`: the bound on |c| a line may reach before the
/// structure must be rebuilt, and the bound on the error of a difference of two f64 line
/// values over a structure's [`SPAN`].
pub(crate) fn error_bounds(c_max: f64, s_sum: f64, s_max: f64) -> (f64, f64) {
    // Lines move by about one sum of rates per item handed out and stay within a few items of
    // the rest: room for that, and a rebuild if one escapes anyway.
    let spread = s_max * SPAN as f64;
    let bound = 4.0 * c_max + 8.0 * s_sum + 2.0 * spread;
    // |X̃ − X| ≤ (|slope·τ| + |c|)·(2⁻⁵³ + a few ulp of the conversion + 2⁻⁵³) for each line,
    // so a difference is off by at most twice that, plus its own rounding (which the f64
    // contests allow for separately).
    (bound, (spread + bound) * REL4)
}

const _: () = assert!(
    super::REBASE_AT < SPAN && SPAN < MAX_LIFETIME && MAX_LIFETIME < NEVER as u64,
    "a tournament's steps and certificates must fit"
);

/// An exact line: `X(t) = slope·t − base`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Line {
    pub(crate) base: i128,
    pub(crate) slope: u64,
}

pub(crate) const SENTINEL_LINE: Line = Line {
    base: SENTINEL,
    slope: 0,
};

impl Line {
    /// The line at step `t` (exact: slope < 2⁶³, t < 2³⁰).
    #[inline(always)]
    pub(crate) fn at(&self, t: u64) -> i128 {
        (u128::from(self.slope) * u128::from(t)) as i128 - self.base
    }
}

/// A node: its winner and certificate, and the winner's line in f64 relative to the origin,
/// `X ≈ slope·(t − origin) − c`.
#[derive(Clone, Copy, Debug)]
struct Node {
    slope: f64,
    c: f64,
    win: u32,
    cert: u32,
    /// The earliest certificate in the node's subtree, its own included (`NEVER` at leaves).
    sub: u32,
}

const EMPTY: Node = Node {
    slope: 0.0,
    c: SENTINEL_F,
    win: NONE,
    cert: NEVER,
    sub: NEVER,
};

impl Node {
    #[inline(always)]
    fn at(&self, tau: f64) -> f64 {
        self.slope * tau - self.c
    }
}

/// The tournament; lines are read from the dispatcher's `slope` (0 = not competing) and `base`
/// arrays when it is built, then kept in the leaves.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tournament {
    leaves: usize,
    nodes: Vec<Node>,
    /// The exact line of each leaf (sentinel for an empty or paused one).
    lines: Vec<Line>,
    now: u64,
    /// The step the f64 lines are relative to.
    origin: u64,
    /// Bound on |c| of every real line (checked when a line moves).
    bound: f64,
    /// Bound on the error of a difference of two f64 line values.
    eps: f64,
    /// The tie tolerance τ (in units) as f64.
    tie: f64,
    /// Scratch for [`Tournament::for_each_descending`].
    heap: std::collections::BinaryHeap<(i128, std::cmp::Reverse<u32>, usize)>,
}

/// The first step after `now` at which a loser that gains `rate` units a step on the winner
/// (none if `rate ≤ 0`) beats it, being `g + 1` units below if it wins ties (it has the lower
/// position) and `g` below otherwise, `g ≥ 0`. [`NEVER`] if that is beyond the tournament's
/// lifetime. Exact integer arithmetic (the fallback of the f64 contest).
pub(crate) fn overtake(rate: i64, g: i128, now: u64) -> u32 {
    if rate <= 0 {
        return NEVER;
    }
    // The loser wins after the least k ≥ 1 with k·rate > g: k = ⌊g / rate⌋ + 1.
    let q = if g < i128::from(rate) {
        0
    } else {
        // Rates are below 2⁵³ (scaled weights), so the conversion is exact; the quotient
        // estimate is within a relative 2⁻⁵⁰ of the truth, i.e. within 2⁻²⁰ of it below 2³⁰:
        // truncating gives ⌊g / rate⌋ or one more or less, which one exact product settles.
        let est = approx_f64(g) / rate as f64;
        if est >= (2 * MAX_LIFETIME) as f64 {
            return NEVER;
        }
        let q = est as i64 as u64;
        let r = g - (u128::from(q) * u128::from(rate as u64)) as i128;
        if r < 0 {
            q - 1
        } else if r >= i128::from(rate) {
            q + 1
        } else {
            q
        }
    };
    if q >= MAX_LIFETIME {
        NEVER
    } else {
        (now + q + 1) as u32
    }
}

/// The exact contest at a parent between lines `a` and `b` (`a_left`: `a` is the left child):
/// whether `a` wins (ties go to the left, i.e. lower, positions) and the parent's certificate.
fn contest_exact(a: Line, b: Line, a_left: bool, now: u64) -> (bool, u32) {
    let diff = a.at(now) - b.at(now);
    let a_wins = diff > 0 || (diff == 0 && a_left);
    // Slopes are below 2⁵³: the difference fits.
    let ds = b.slope as i64 - a.slope as i64;
    let (rate, gap) = if a_wins { (ds, diff) } else { (-ds, -diff) };
    // The loser is the left child when a is left and lost, or b is left and a won.
    let loser_left = a_left != a_wins;
    (a_wins, overtake(rate, gap - i128::from(loser_left), now))
}

/// 1.5·2⁵²: adding it to an f64 in (−2⁵¹, 2⁵¹) rounds that to an integer, which then sits
/// in the low bits (a branch-free float-to-integer conversion).
const MAGIC: f64 = 6_755_399_441_055_744.0;

/// `if c { a } else { b }` for `f64`, without a branch: selected as integers, since without
/// SSE4.1 an f64 select is lowered to a branch.
#[inline(always)]
fn pick_f64(c: bool, a: f64, b: f64) -> f64 {
    f64::from_bits(select_unpredictable(c, a.to_bits(), b.to_bits()))
}

/// `min` for `u32` without a branch (the comparisons here are data-dependent, so a branch
/// would be mispredicted half the time).
#[inline(always)]
fn min_u32(a: u32, b: u32) -> u32 {
    select_unpredictable(b < a, b, a)
}

/// The same contest decided in f64 from the nodes' copies (values `ax`, `bx` at `now`):
/// `(certain, a_wins, certificate)`; when `certain` is false the other two mean nothing and
/// the exact contest must decide. `eps` bounds the error of `ax − bx`. Branch-free: which line
/// leads and whether the loser is faster are coin flips to a branch predictor.
///
/// The winner, when certain, is the exact winner. The certificate is a *lower bound* on the
/// exact one ([`overtake`]): never later, and [`NEVER`] only when the exact one is too. An
/// early certificate only makes the node be recomputed (exactly) before its winner changes,
/// which finds the same winner and a fresh certificate; so the tournament's winners stay
/// exactly the exact tournament's, and a lower bound needs none of the checks that an exact
/// floor of the catch-up quotient would (it is early, by one or two steps, only when the
/// quotient lies within two slack-to-rate ratios of an integer).
#[inline(always)]
fn contest_fast(
    a: &Node,
    ax: f64,
    b: &Node,
    bx: f64,
    a_left: bool,
    now: u64,
    eps: f64,
) -> (bool, bool, u32) {
    let diff = ax - bx;
    let gap = diff.abs();
    let clear = gap > eps;
    let a_wins = diff > 0.0;
    // Exact: slopes are integers below 2⁵³.
    let ds = b.slope - a.slope;
    // The loser's gain per step: ds if a won, −ds if not (a sign flip, without a branch).
    let rate = f64::from_bits(ds.to_bits() ^ (u64::from(!a_wins) << 63));
    // The loser gains `rate` a step (rates are integers: a positive one is ≥ 1) and wins after
    // ⌊G / rate⌋ + 1 steps, G = gap − [the loser is left, so it wins ties] exactly.
    let loser_left = a_left != a_wins;
    let g = gap - f64::from(u8::from(loser_left));
    // `lo ≤ G`: g is within eps of G, plus the roundings of `diff` and of this line, which
    // the relative 2⁻⁴⁸ covers many times over.
    let slack = eps + g * REL4;
    let lo = (g - slack).max(0.0);
    // `est ≤ lo / rate`: the division's rounding (2⁻⁵³) is covered by the factor.
    let est = (lo / rate.max(1.0) * (1.0 - REL4)).min(MAX_LIFETIME as f64);
    // An integer q ≤ est (so q ≤ ⌊G / rate⌋) without a branch: est − ½ rounded to the
    // nearest integer (ties to even; the relative margin above exceeds this rounding).
    let q = ((est - 0.5) + MAGIC)
        .to_bits()
        .wrapping_sub(MAGIC.to_bits());
    // q ≤ 2³⁰; q = 2³⁰ only when the exact quotient is at least that, which `overtake`
    // records as never too.
    let never = (rate <= 0.0) | (q >= MAX_LIFETIME);
    let cert = select_unpredictable(never, NEVER, (now + 1).wrapping_add(q) as u32);
    // With a slow catch-up (rate below the slack) the bound could be many steps early, each
    // an extra recompute: the exact contest decides those, as it does near-ties.
    (clear & (never | (slack < rate)), a_wins, cert)
}

impl Tournament {
    /// Builds the tournament for step `t`.
    pub(crate) fn build(slope: &[u64], base: &[i128], t: u64, tie: i128) -> Self {
        debug_assert!(t < MAX_LIFETIME);
        let leaves = slope.len().next_power_of_two().max(2);
        let mut lines = vec![SENTINEL_LINE; leaves];
        for (i, &s) in slope.iter().enumerate() {
            if s > 0 {
                lines[i] = Line {
                    base: base[i],
                    slope: s,
                };
            }
        }
        let mut k = Tournament {
            leaves,
            nodes: vec![EMPTY; 2 * leaves],
            lines,
            now: t,
            origin: t,
            bound: 0.0,
            eps: 0.0,
            tie: approx_f64(tie),
            heap: Default::default(),
        };
        k.rebuild();
        k
    }

    /// Re-derives the origin (now), the error bounds and every node from the exact lines.
    fn rebuild(&mut self) {
        self.origin = self.now;
        let (mut c_max, mut s_sum, mut s_max) = (0.0f64, 0.0f64, 0.0f64);
        for i in 0..self.lines.len() {
            let line = self.lines[i];
            if line.slope == 0 {
                self.nodes[self.leaves + i] = EMPTY;
                continue;
            }
            let c = self.c_of(line);
            let s = line.slope as f64;
            self.nodes[self.leaves + i] = Node {
                slope: s,
                c,
                win: i as u32,
                cert: NEVER,
                sub: NEVER,
            };
            c_max = c_max.max(c.abs());
            s_sum += s;
            s_max = s_max.max(s);
        }
        (self.bound, self.eps) = error_bounds(c_max, s_sum, s_max);
        for v in (1..self.leaves).rev() {
            self.recompute(v);
        }
    }

    /// The f64 intercept of `line` relative to the origin.
    #[inline(always)]
    fn c_of(&self, line: Line) -> f64 {
        intercept_at(line, self.origin)
    }

    #[inline(always)]
    fn line(&self, win: u32) -> Line {
        self.lines
            .get(win as usize)
            .copied()
            .unwrap_or(SENTINEL_LINE)
    }

    #[inline(always)]
    fn tau(&self) -> f64 {
        (self.now - self.origin) as f64
    }

    /// Whether a tournament built at an earlier step can still be advanced to `t`.
    pub(crate) fn can_reach(&self, t: u64) -> bool {
        t >= self.now && t - self.origin < SPAN
    }

    /// The contest between two nodes' winners at `now`, f64 first.
    #[inline(always)]
    fn contest(&self, a: &Node, ax: f64, b: &Node, bx: f64, a_left: bool) -> (bool, u32) {
        let (sure, a_wins, cert) = contest_fast(a, ax, b, bx, a_left, self.now, self.eps);
        if sure {
            (a_wins, cert)
        } else {
            self.contest_slow(a, b, a_left)
        }
    }

    #[cold]
    #[inline(never)]
    fn contest_slow(&self, a: &Node, b: &Node, a_left: bool) -> (bool, u32) {
        contest_exact(self.line(a.win), self.line(b.win), a_left, self.now)
    }

    /// Recomputes node `v` from its children; returns whether its winner changed.
    #[inline(always)]
    fn recompute(&mut self, v: usize) -> bool {
        let (l, r) = (self.nodes[2 * v], self.nodes[2 * v + 1]);
        let tau = self.tau();
        let (l_wins, cert) = self.contest(&l, l.at(tau), &r, r.at(tau), true);
        let w = Node {
            slope: pick_f64(l_wins, l.slope, r.slope),
            c: pick_f64(l_wins, l.c, r.c),
            win: select_unpredictable(l_wins, l.win, r.win),
            cert,
            sub: min_u32(cert, min_u32(l.sub, r.sub)),
        };
        let node = &mut self.nodes[v];
        let changed = node.win != w.win;
        *node = w;
        changed
    }

    /// Moves the node winners to step `t` ([`Tournament::can_reach`]), replaying the expired
    /// certificates (deepest first, so a node is recomputed after its children).
    pub(crate) fn advance(&mut self, t: u64) {
        debug_assert!(self.can_reach(t));
        self.now = t;
        let t32 = t as u32;
        while self.nodes[1].sub <= t32 {
            let mut v = 1;
            while v < self.leaves {
                // One branch per level, taken once: which child to enter is arithmetic (the
                // left one if its certificate expired, else the right).
                let (l, r) = (self.nodes[2 * v].sub, self.nodes[2 * v + 1].sub);
                if min_u32(l, r) > t32 {
                    break;
                }
                v = 2 * v + usize::from(l > t32);
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
                let sub = min_u32(self.nodes[2 * v].sub, self.nodes[2 * v + 1].sub);
                let node = &mut self.nodes[v];
                node.sub = min_u32(node.cert, sub);
                v /= 2;
            }
        }
    }

    /// Sets leaf `i`'s intercept and recomputes its path to the root, carrying the winner up
    /// in registers; returns the largest f64 line at `now` among the winners of the subtrees
    /// hanging off the path (the best line other than `i`'s when `i` led; −∞ when there is
    /// none), or +∞ when the tournament had to be rebuilt (a line escaped the error bound).
    #[inline]
    fn set_base(&mut self, i: usize, base: i128) -> f64 {
        self.lines[i].base = base;
        let c = self.c_of(self.lines[i]);
        // (A NaN cannot occur, but would also rebuild.)
        if c.abs().partial_cmp(&self.bound) != Some(std::cmp::Ordering::Less) {
            self.rebuild();
            return f64::INFINITY;
        }
        let tau = self.tau();
        let mut v = self.leaves + i;
        self.nodes[v].c = c;
        let mut cur = self.nodes[v];
        let mut cur_x = cur.at(tau);
        let mut cur_sub = NEVER;
        let mut best_sibling = f64::NEG_INFINITY;
        while v > 1 {
            let s = self.nodes[v ^ 1];
            let sx = s.at(tau);
            // (Not f64::max: no NaN here, and this compiles to one instruction.)
            best_sibling = if sx > best_sibling { sx } else { best_sibling };
            let (cur_wins, cert) = self.contest(&cur, cur_x, &s, sx, v & 1 == 0);
            cur_sub = min_u32(cur_sub, min_u32(s.sub, cert));
            cur = Node {
                slope: pick_f64(cur_wins, cur.slope, s.slope),
                c: pick_f64(cur_wins, cur.c, s.c),
                win: select_unpredictable(cur_wins, cur.win, s.win),
                cert,
                sub: cur_sub,
            };
            cur_x = pick_f64(cur_wins, cur_x, sx);
            v /= 2;
            self.nodes[v] = cur;
        }
        best_sibling
    }

    /// Recomputes the path above leaf `i` after its line changed.
    pub(crate) fn update(&mut self, base: &[i128], i: usize) {
        self.set_base(i, base[i]);
    }

    /// The usual hand-out, in one pass over the leader's path: lowers the leader's line by `d`
    /// and returns the leader, if every other line was more than τ below it (then the
    /// batch-of-one rule gives it the item whatever the rounding). Otherwise undoes the change
    /// (the tournament is as before) and returns `None`.
    pub(crate) fn try_hand_out_to_leader(&mut self, d: i128) -> Option<u32> {
        let top = self.nodes[1];
        if top.win == NONE {
            return None;
        }
        let leader = top.win as usize;
        let x = top.at(self.tau());
        let old = self.lines[leader].base;
        let second = self.set_base(leader, old + d);
        // The f64 difference is within eps (plus its own rounding) of the exact one.
        if (x - second) * (1.0 - REL) > self.tie + self.eps {
            Some(leader as u32)
        } else {
            self.set_base(leader, old);
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
            let w = self.nodes[v ^ 1].win;
            if w != NONE {
                let x = self.line(w).at(t);
                if best.is_none_or(|(b, bx)| x > bx || (x == bx && w < b)) {
                    best = Some((w, x));
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
            let w = self.nodes[v].win;
            w != NONE && self.line(w).at(t) >= threshold
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
        let w = self.nodes.get(1)?.win;
        (w != NONE).then(|| (w, self.line(w).at(self.now)))
    }

    /// Calls `f` with the leaves in decreasing order of their lines (ties: lower position
    /// first) until it returns `false`.
    pub(crate) fn for_each_descending(&mut self, mut f: impl FnMut(u32, i128) -> bool) {
        use std::cmp::Reverse;
        let t = self.now;
        let mut heap = std::mem::take(&mut self.heap);
        heap.clear();
        let (nodes, lines) = (&self.nodes, &self.lines);
        let push = |heap: &mut std::collections::BinaryHeap<_>, v: usize| {
            let w = nodes[v].win;
            if w != NONE {
                heap.push((lines[w as usize].at(t), Reverse(w), v));
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

    /// The definition: the least k ≥ 1 with k·rate > g, i.e. ⌊g / rate⌋ + 1 (never if
    /// ⌊g / rate⌋ ≥ MAX_LIFETIME).
    fn overtake_slow(rate: i64, g: i128, now: u64) -> u32 {
        if rate <= 0 {
            return NEVER;
        }
        let q = g.div_euclid(i128::from(rate)).max(0);
        if q >= i128::from(MAX_LIFETIME) {
            NEVER
        } else {
            (i128::from(now) + q + 1) as u32
        }
    }

    #[test]
    fn overtake_edges() {
        assert_eq!(overtake(0, 10, 3), NEVER);
        assert_eq!(overtake(-4, 10, 3), NEVER);
        assert_eq!(overtake(2, 0, 3), 4);
        assert_eq!(overtake(2, 1, 3), 4);
        assert_eq!(overtake(2, 2, 3), 5);
        assert_eq!(overtake(1, 1 << 40, 0), NEVER);
        assert_eq!(overtake(1, 1 << 80, 0), NEVER);
        assert_eq!(
            overtake(1, i128::from(MAX_LIFETIME) - 1, 0),
            MAX_LIFETIME as u32
        );
        assert_eq!(overtake(1, i128::from(MAX_LIFETIME), 0), NEVER);
        assert_eq!(overtake(1 << 52, (3 << 64) + 5, 5), 5 + (3 << 12) + 1);
        assert_eq!(overtake(1 << 52, 3 << 64, 5), 5 + (3 << 12) + 1);
        assert_eq!(overtake(1 << 52, (3 << 64) - 1, 5), 5 + (3 << 12));
    }

    /// The line with this slope whose value at step 3 is `x`.
    fn line(slope: u64, x: i128) -> Line {
        Line {
            base: i128::from(slope) * 3 - x,
            slope,
        }
    }

    #[test]
    fn contest_ties_go_left() {
        let (a, b) = (|x| line(5, x), |x| line(7, x));
        // Equal now; b gains 2 a step: as the right child it wins the next step.
        assert_eq!(contest_exact(a(10), b(10), true, 3), (true, 4));
        // As the left child, b wins the tie already.
        assert_eq!(contest_exact(a(10), b(10), false, 3), (false, NEVER));
        // a right and one unit ahead: b (left) catches up after one step and wins the tie.
        assert_eq!(contest_exact(a(11), b(10), false, 3), (true, 4));
        assert_eq!(contest_exact(a(13), b(10), false, 3), (true, 5));
        assert_eq!(contest_exact(a(13), b(10), true, 3), (true, 5));
        assert_eq!(contest_exact(a(14), b(10), true, 3), (true, 6));
        assert_eq!(contest_exact(a(14), b(10), false, 3), (true, 5));
        assert_eq!(
            contest_exact(SENTINEL_LINE, SENTINEL_LINE, true, 3),
            (true, NEVER)
        );
        assert_eq!(
            contest_exact(SENTINEL_LINE, b(-1 << 100), true, 3),
            (false, NEVER)
        );
    }

    #[test]
    fn fast_contest_answers_clear_cases_and_defers_ties() {
        let (a, b) = (
            line(5 << 50, 1 << 62),
            line(7 << 50, (1 << 62) - (3 << 59) - (1 << 50)),
        );
        let (na, nb, eps) = as_nodes(a, b, 3);
        let fast = contest_fast(&na, na.at(0.0), &nb, nb.at(0.0), true, 3, eps);
        assert_eq!(contest_exact(a, b, true, 3), (true, 772));
        assert_eq!(fast, (true, true, 772));
        // The same contest seen from the other side.
        let fast = contest_fast(&nb, nb.at(0.0), &na, na.at(0.0), false, 3, eps);
        assert_eq!(fast, (true, false, 772));
        // The faster line ahead: never caught.
        let (na, nb, eps) = as_nodes(b, line(5 << 50, 0), 3);
        let fast = contest_fast(&na, na.at(0.0), &nb, nb.at(0.0), true, 3, eps);
        assert_eq!(fast, (true, true, NEVER));
        let (na, nb, eps) = as_nodes(a, a, 3);
        assert!(!contest_fast(&na, na.at(0.0), &nb, nb.at(0.0), true, 3, eps).0);
    }

    /// Every node's winner, certificate and subtree minimum.
    fn snapshot(k: &Tournament) -> Vec<(u32, u32, u32)> {
        k.nodes.iter().map(|n| (n.win, n.cert, n.sub)).collect()
    }

    #[test]
    fn a_declined_hand_out_leaves_the_tournament_as_it_was() {
        // Equal weights and errors: the leader ties with the others, so the fast hand-out
        // declines and must undo its change exactly.
        let slope = [1u64 << 52; 3];
        let base = [5i128 << 52, 5 << 52, 5 << 52];
        let mut k = Tournament::build(&slope, &base, 7, 1 << 20);
        let before = snapshot(&k);
        assert_eq!(k.try_hand_out_to_leader(3 << 52), None);
        assert_eq!(snapshot(&k), before);
        assert_eq!(k.lines[0].base, base[0]);
        assert_eq!(k.best_line(), Some((0, (7i128 << 52) - (5 << 52))));
    }

    #[test]
    fn a_line_escaping_the_error_bound_rebuilds_exactly() {
        let slope = [3u64 << 50, 1 << 52, 5 << 50, 0];
        let mut base = [1i128 << 50, -(1 << 51), 7 << 48, 0];
        let mut k = Tournament::build(&slope, &base, 11, 1 << 20);
        k.advance(40);
        // Far beyond 4× the largest intercept at build time.
        base[1] = 1 << 100;
        assert_eq!(k.set_base(1, base[1]), f64::INFINITY);
        let fresh = Tournament::build(&slope, &base, 40, 1 << 20);
        assert_eq!(snapshot(&k), snapshot(&fresh));
        assert_eq!(k.origin, 40);
        assert!(k.bound >= 2f64.powi(100));
        // And it keeps going exactly: the same winners as a fresh build at every later step.
        for t in 41..200 {
            k.advance(t);
            let fresh = Tournament::build(&slope, &base, t, 1 << 20);
            assert_eq!(k.best_line(), fresh.best_line(), "step {t}");
            let (w, _) = k.best_line().unwrap();
            base[w as usize] += 9 << 50;
            k.set_base(w as usize, base[w as usize]);
        }
    }

    #[test]
    fn early_certificates_keep_every_winner_exact() {
        // Intercepts on multiples of the rate differences, so catch-up quotients land on
        // integers, where the f64 certificates may come early: every node's winner must still
        // be a fresh build's at every step, as items are handed out to the leader.
        let slope = [5u64 << 48, 7 << 48, 6 << 48, 9 << 48, 3 << 48, 6 << 48];
        let d: i128 = 36 << 48;
        let mut base = [0i128, 80 << 48, 40 << 48, 400 << 48, -(12 << 48), 40 << 48];
        let mut k = Tournament::build(&slope, &base, 0, 1 << 20);
        let winners = |k: &Tournament| k.nodes.iter().map(|n| n.win).collect::<Vec<_>>();
        for t in 1..4000 {
            k.advance(t);
            let fresh = Tournament::build(&slope, &base, t, 1 << 20);
            assert_eq!(winners(&k), winners(&fresh), "step {t}");
            if t % 3 != 0 {
                let (w, _) = k.best_line().unwrap();
                base[w as usize] += d;
                k.update(&base, w as usize);
            }
        }
    }

    /// Nodes for two exact lines as a tournament built at `origin` would hold them, and its
    /// `eps`.
    fn as_nodes(a: Line, b: Line, origin: u64) -> (Node, Node, f64) {
        let mut k = Tournament {
            leaves: 2,
            nodes: vec![EMPTY; 4],
            lines: vec![a, b],
            now: origin,
            origin,
            ..Default::default()
        };
        k.rebuild();
        (k.nodes[2], k.nodes[3], k.eps)
    }

    /// A certificate from the f64 contest against the exact one: never later, never `NEVER`
    /// unless the exact one is, and at most two steps early.
    fn early_enough(fast: u32, exact: u32) -> bool {
        fast <= exact && (fast == exact || (exact != NEVER && exact - fast <= 2))
    }

    proptest! {
        /// Whenever the f64 contest answers, it gives the exact winner and a certificate no later
        /// than the exact one: near-ties, nearly equal
        /// rates, catch-up quotients next to integers, large intercepts.
        #[test]
        fn fast_contest_is_exact_when_it_answers(
            sa in 1u64 << 40..1 << 53,
            dslope in prop_oneof![Just(0i64), -3i64..3, -(1i64 << 45)..1 << 45],
            xa in -(1i128 << 70)..1 << 70,
            dx in prop_oneof![Just(0i128), -3i128..3, -(1i128 << 40)..1 << 40, -(1i128 << 70)..1 << 70],
            origin in 0u64..1 << 20,
            ahead in 0u64..1 << 20,
            a_left in any::<bool>(),
        ) {
            let sb = (sa as i64 + dslope).clamp(1, (1 << 53) - 1) as u64;
            let now = origin + ahead;
            let a = Line { base: i128::from(sa) * i128::from(now) - xa, slope: sa };
            let b = Line { base: i128::from(sb) * i128::from(now) - (xa + dx), slope: sb };
            let (na, nb, eps) = as_nodes(a, b, origin);
            let tau = ahead as f64;
            let exact = contest_exact(a, b, a_left, now);
            let (sure, a_wins, cert) = contest_fast(&na, na.at(tau), &nb, nb.at(tau), a_left, now, eps);
            if sure {
                prop_assert_eq!(a_wins, exact.0);
                prop_assert!(early_enough(cert, exact.1));
            }
            // Gaps near multiples of the rate: the catch-up step is least sure there.
            let rate = (i128::from(sb) - i128::from(sa)).abs().max(1);
            let q = xa.rem_euclid(1 << 29);
            let gap = q * rate + dx.rem_euclid(5) - 2;
            let b = Line { base: i128::from(sb) * i128::from(now) - (xa - gap), slope: sb };
            let (na, nb, eps) = as_nodes(a, b, origin);
            let exact = contest_exact(a, b, a_left, now);
            let (sure, a_wins, cert) = contest_fast(&na, na.at(tau), &nb, nb.at(tau), a_left, now, eps);
            if sure {
                prop_assert_eq!(a_wins, exact.0);
                prop_assert!(early_enough(cert, exact.1));
            }
        }

        #[test]
        fn overtake_is_exact(
            rate in -5i64..1 << 53,
            q in 0u64..1 << 31,
            r in any::<u64>(),
            now in 0u64..1 << 21,
        ) {
            // Gaps near multiples of the rate, where the estimate is least sure.
            let g = (i128::from(q) * i128::from(rate.max(1)) + i128::from(r % 5) - 2).max(0);
            prop_assert_eq!(overtake(rate, g, now), overtake_slow(rate, g, now));
            let g = i128::from(r) << (r % 64);
            prop_assert_eq!(overtake(rate, g, now), overtake_slow(rate, g, now));
        }
    }
}
