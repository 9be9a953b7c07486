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

const NONE: u32 = u32::MAX;
const NEVER: u64 = u64::MAX;

#[derive(Clone, Copy, Debug)]
struct Node {
    win: u32,
    /// The earliest certificate expiry in the subtree, this node's own included.
    sub_min: u64,
}

const EMPTY: Node = Node {
    win: NONE,
    sub_min: NEVER,
};

/// The tournament; lines are read from the dispatcher's `slope` (0 = not competing) and `base`
/// arrays, passed in on every call.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tournament {
    leaves: usize,
    nodes: Vec<Node>,
    now: u64,
}

#[inline]
fn value(slope: &[u64], base: &[i128], i: u32, t: u64) -> i128 {
    let i = i as usize;
    slope[i] as i128 * t as i128 - base[i]
}

/// `a` beats `b` at `t`: larger line, then the lower position.
#[inline]
fn beats(slope: &[u64], base: &[i128], a: u32, b: u32, t: u64) -> bool {
    let (va, vb) = (value(slope, base, a, t), value(slope, base, b, t));
    va > vb || (va == vb && a < b)
}

impl Tournament {
    /// Builds the tournament for step `t`.
    pub(crate) fn build(slope: &[u64], base: &[i128], t: u64) -> Self {
        let leaves = slope.len().next_power_of_two().max(1);
        let mut k = Tournament {
            leaves,
            nodes: vec![EMPTY; 2 * leaves],
            now: t,
        };
        for (i, &s) in slope.iter().enumerate() {
            if s > 0 {
                k.nodes[leaves + i].win = i as u32;
            }
        }
        for v in (1..leaves).rev() {
            k.recompute(slope, base, v);
        }
        k
    }

    /// The step the node winners are valid for.
    pub(crate) fn now(&self) -> u64 {
        self.now
    }

    fn recompute(&mut self, slope: &[u64], base: &[i128], v: usize) {
        let (l, r) = (self.nodes[2 * v], self.nodes[2 * v + 1]);
        let t = self.now;
        let (win, cert) = if l.win == NONE {
            (r.win, NEVER)
        } else if r.win == NONE {
            (l.win, NEVER)
        } else {
            let (w, lo) = if beats(slope, base, l.win, r.win, t) {
                (l.win, r.win)
            } else {
                (r.win, l.win)
            };
            (w, Self::overtake(slope, base, w, lo, t))
        };
        let sub_min = cert.min(l.sub_min).min(r.sub_min);
        self.nodes[v] = Node { win, sub_min };
    }

    /// First step after `t` at which `lo` beats `w` (which beats it at `t`), or `NEVER`.
    fn overtake(slope: &[u64], base: &[i128], w: u32, lo: u32, t: u64) -> u64 {
        let (sw, sl) = (slope[w as usize], slope[lo as usize]);
        if sl <= sw {
            return NEVER;
        }
        let gap = value(slope, base, w, t) - value(slope, base, lo, t); // ≥ 0
        let rate = (sl - sw) as i128;
        // After k more steps the gap is gap − k·rate; `lo` wins once it is < 0, or = 0 when it
        // has the lower position.
        let k = if lo < w {
            (gap + rate - 1) / rate
        } else {
            gap / rate + 1
        };
        let k = k.max(1);
        u64::try_from(k)
            .ok()
            .and_then(|k| t.checked_add(k))
            .unwrap_or(NEVER)
    }

    /// Moves the node winners to step `t ≥ now`, replaying the expired certificates (deepest
    /// first, so a node is recomputed after its children).
    pub(crate) fn advance(&mut self, slope: &[u64], base: &[i128], t: u64) {
        debug_assert!(t >= self.now);
        self.now = t;
        while self.nodes[1].sub_min <= t {
            let mut v = 1;
            loop {
                if v >= self.leaves {
                    break;
                }
                let (l, r) = (2 * v, 2 * v + 1);
                if self.nodes[l].sub_min <= t {
                    v = l;
                } else if self.nodes[r].sub_min <= t {
                    v = r;
                } else {
                    break;
                }
            }
            while v >= 1 {
                self.recompute(slope, base, v);
                v /= 2;
            }
        }
    }

    /// Recomputes the path above leaf `i` after its line changed.
    pub(crate) fn update(&mut self, slope: &[u64], base: &[i128], i: usize) {
        let mut v = (self.leaves + i) / 2;
        while v >= 1 {
            self.recompute(slope, base, v);
            v /= 2;
        }
    }

    /// The best competing leaf, if any.
    pub(crate) fn best(&self) -> Option<u32> {
        let w = self.nodes.get(1).map_or(NONE, |n| n.win);
        (w != NONE).then_some(w)
    }

    /// The best leaf other than `leaf` (which must be the overall best): the best of the
    /// subtrees hanging off its path to the root.
    pub(crate) fn second(&self, slope: &[u64], base: &[i128], leaf: u32) -> Option<u32> {
        let mut v = self.leaves + leaf as usize;
        let mut best = NONE;
        while v > 1 {
            let w = self.nodes[v ^ 1].win;
            if w != NONE && (best == NONE || beats(slope, base, w, best, self.now)) {
                best = w;
            }
            v /= 2;
        }
        (best != NONE).then_some(best)
    }

    /// The lowest-position leaf whose line is at least `threshold` at `now`.
    pub(crate) fn leftmost_at_least(
        &self,
        slope: &[u64],
        base: &[i128],
        threshold: i128,
    ) -> Option<u32> {
        let ok = |v: usize| {
            let w = self.nodes[v].win;
            w != NONE && value(slope, base, w, self.now) >= threshold
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

    /// Calls `f` with the leaves in decreasing order of their lines (ties: lower position
    /// first) until it returns `false`.
    pub(crate) fn for_each_descending(
        &self,
        slope: &[u64],
        base: &[i128],
        mut f: impl FnMut(u32, i128) -> bool,
    ) {
        use std::collections::BinaryHeap;
        let t = self.now;
        let mut heap: BinaryHeap<(i128, std::cmp::Reverse<u32>, usize)> = BinaryHeap::new();
        let push = |heap: &mut BinaryHeap<_>, v: usize| {
            let w = self.nodes[v].win;
            if w != NONE {
                heap.push((value(slope, base, w, t), std::cmp::Reverse(w), v));
            }
        };
        if self.nodes.len() > 1 {
            push(&mut heap, 1);
        }
        while let Some((x, std::cmp::Reverse(w), mut v)) = heap.pop() {
            if !f(w, x) {
                return;
            }
            // Walk down to w's leaf, offering the subtrees that do not contain it.
            while v < self.leaves {
                let (l, r) = (2 * v, 2 * v + 1);
                if self.nodes[l].win == w {
                    push(&mut heap, r);
                    v = l;
                } else {
                    push(&mut heap, l);
                    v = r;
                }
            }
        }
    }
}
