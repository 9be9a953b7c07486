//! Kinetic tournament over the recipients' deficit lines, for the streaming mode.
//!
//! At step `T` (the ideal of the next one-item batch is computed with `T` items dispatched since
//! the base), recipient `i`'s line is `X_i(T) = T·w_i − base_i` in exact units: it grows at its
//! own rate `w_i`, and only the winner's line moves (down by `D`) when an item is handed out.
//! Each internal node keeps the better of its two children's winners (larger `X`, then lower
//! position) and a *certificate*: the first step at which the loser's line can overtake it.
//! Moving to a later step replays only the certificates that expire; changing one line
//! recomputes one leaf-to-root path. All of it is exact integer arithmetic, so node winners are
//! exact and equal lines never churn.

use super::wide::approx_f64;

const NONE: u32 = u32::MAX;
const NEVER: u64 = u64::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    win: u32,
    /// The winner's line: rate and intercept (copied so a recompute reads only the children).
    slope: u64,
    base: i128,
    /// This node's certificate: the first step at which its winner may change.
    cert: u64,
    /// The earliest certificate in the subtree, this node's own included.
    sub_min: u64,
}

const EMPTY: Node = Node {
    win: NONE,
    slope: 0,
    base: 0,
    cert: NEVER,
    sub_min: NEVER,
};

/// The tournament; lines are read from the dispatcher's `slope` (0 = not competing) and `base`
/// arrays, passed in on every call.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tournament {
    leaves: usize,
    nodes: Vec<Node>,
    now: u64,
    /// Scratch for [`Tournament::for_each_descending`].
    heap: std::collections::BinaryHeap<(i128, std::cmp::Reverse<u32>, usize)>,
}

impl Node {
    /// The winner's line at step `t`.
    #[inline]
    fn at(&self, t: u64) -> i128 {
        self.slope as i128 * t as i128 - self.base
    }
}

impl Tournament {
    /// Builds the tournament for step `t`.
    pub(crate) fn build(slope: &[u64], base: &[i128], t: u64) -> Self {
        let leaves = slope.len().next_power_of_two().max(1);
        let mut k = Tournament {
            leaves,
            nodes: vec![EMPTY; 2 * leaves],
            now: t,
            heap: Default::default(),
        };
        for (i, &s) in slope.iter().enumerate() {
            if s > 0 {
                let leaf = &mut k.nodes[leaves + i];
                leaf.win = i as u32;
                leaf.slope = s;
                leaf.base = base[i];
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
    #[inline]
    fn recompute(&mut self, v: usize) -> bool {
        let (l, r) = (self.nodes[2 * v], self.nodes[2 * v + 1]);
        let t = self.now as i128;
        let (w, cert) = if l.win == NONE {
            (r, NEVER)
        } else if r.win == NONE {
            (l, NEVER)
        } else {
            let vl = l.slope as i128 * t - l.base;
            let vr = r.slope as i128 * t - r.base;
            // Ties go to the lower position, which is always the left child's.
            if vl >= vr {
                (
                    l,
                    Self::overtake(l.slope, r.slope, vl - vr, self.now, false),
                )
            } else {
                (r, Self::overtake(r.slope, l.slope, vr - vl, self.now, true))
            }
        };
        let sub_min = cert.min(l.sub_min).min(r.sub_min);
        let node = &mut self.nodes[v];
        let changed = node.win != w.win;
        *node = Node {
            win: w.win,
            slope: w.slope,
            base: w.base,
            cert,
            sub_min,
        };
        changed || w.win == NONE
    }

    /// After a change below `v` that left `v`'s children's winners alone: refresh only the
    /// subtree minimum.
    #[inline]
    fn refresh(&mut self, v: usize) {
        let n = &self.nodes;
        self.nodes[v].sub_min = n[v].cert.min(n[2 * v].sub_min).min(n[2 * v + 1].sub_min);
    }

    /// Recomputes `v` and walks to the root; ancestors are recomputed only while winners
    /// change (or while `leaf`, whose line moved, is a child's winner), otherwise just refreshed.
    fn propagate(&mut self, mut v: usize, leaf: u32) {
        let mut full = true;
        while v >= 1 {
            let involved = self.nodes[2 * v].win == leaf || self.nodes[2 * v + 1].win == leaf;
            if full || involved {
                full = self.recompute(v);
            } else {
                self.refresh(v);
            }
            v /= 2;
        }
    }

    /// First step after `t` at which the loser (rate `sl`) beats the winner (rate `sw`), which
    /// is `gap ≥ 0` above it at `t`; at a gap of 0 the loser wins when `lo_first` (it has the
    /// lower position). `NEVER` if it never does.
    #[inline]
    fn overtake(sw: u64, sl: u64, gap: i128, t: u64, lo_first: bool) -> u64 {
        if sl <= sw {
            return NEVER;
        }
        let rate = (sl - sw) as i128;
        // After k more steps the gap is gap − k·rate: the loser wins at the least k ≥ 1 with
        // k·rate > gap (≥ when it has the lower position). Estimate gap/rate in f64 (an exact
        // 128-bit division is a slow software routine); the estimate is within one of the
        // truth, so settle it with three independent exact products, without branches.
        let est = approx_f64(gap) / ((sl - sw) as i64 as f64);
        if est >= (1u64 << 62) as f64 {
            return NEVER;
        }
        let f = est as i64 as i128; // est ≥ 0: truncation is the floor
        let slack = i128::from(lo_first); // k·rate ≥ gap  ⇔  k·rate > gap − 1
        let loses = |k: i128| k * rate + slack <= gap;
        let k = if est < (1u64 << 50) as f64 {
            // Within one of the truth here; `loses` is monotone in k, so the answer is f − 1
            // plus the losses among f − 1, f, f + 1.
            let n = |k: i128| i128::from(loses(k));
            ((f - 1) + n(f - 1) + n(f) + n(f + 1)).max(1)
        } else {
            let mut k = f.max(1);
            while k > 1 && !loses(k - 1) {
                k -= 1;
            }
            while loses(k) {
                k += 1;
            }
            k
        };
        debug_assert!(!loses(k) && (k == 1 || loses(k - 1)));
        u64::try_from(k)
            .ok()
            .and_then(|k| t.checked_add(k))
            .unwrap_or(NEVER)
    }

    /// Moves the node winners to step `t ≥ now`, replaying the expired certificates (deepest
    /// first, so a node is recomputed after its children).
    pub(crate) fn advance(&mut self, t: u64) {
        debug_assert!(t >= self.now);
        self.now = t;
        while self.nodes[1].sub_min <= t {
            let mut v = 1;
            while v < self.leaves {
                let l = self.nodes[2 * v].sub_min <= t;
                let r = self.nodes[2 * v + 1].sub_min <= t;
                if !(l || r) {
                    break;
                }
                v = 2 * v + usize::from(!l);
            }
            self.propagate(v, NONE);
        }
    }

    /// Recomputes the path above leaf `i` after its line changed.
    pub(crate) fn update(&mut self, base: &[i128], i: usize) {
        self.nodes[self.leaves + i].base = base[i];
        self.propagate((self.leaves + i) / 2, i as u32);
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
        if self.nodes.len() < 2 || !ok(1) {
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
        if nodes.len() > 1 {
            push(&mut heap, 1);
        }
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
