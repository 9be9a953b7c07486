//! The streaming mode, [`Dispatcher::next`]: one item at a time through a kinetic structure
//! over the recipients' deficit lines, the same sequence and state as batches of one.

use std::fmt::Debug;
use std::hash::Hash;

use super::exact::round_half_up_with;
use super::groups::Groups;
use super::kinetic::Tournament;
use super::{Dispatcher, Error, REBASE_AT};

/// The streaming mode's kinetic structure: the wide groups ([`groups`]) or the binary
/// tournament ([`kinetic`]); both give exactly the same winners, the choice is speed only.
#[derive(Clone, Debug)]
pub(super) enum Stream {
    Tree(Tournament),
    Wide(Groups),
}

/// Forwards a method call to whichever structure is in use.
macro_rules! forward {
    ($self:ident, $k:ident => $e:expr) => {
        match $self {
            Stream::Tree($k) => $e,
            Stream::Wide($k) => $e,
        }
    };
}

impl Stream {
    /// The faster structure for this many recipients (measured: see `docs/dispatch.md`).
    fn build(slope: &[u64], base: &[i128], t: u64, tie: i128) -> Self {
        if slope.len() <= WIDE_UP_TO {
            Stream::Wide(Groups::build(slope, base, t, tie))
        } else {
            Stream::Tree(Tournament::build(slope, base, t, tie))
        }
    }
    #[inline]
    fn can_reach(&self, t: u64) -> bool {
        forward!(self, k => k.can_reach(t))
    }
    #[inline]
    fn advance(&mut self, t: u64) {
        forward!(self, k => k.advance(t))
    }
    #[inline]
    fn try_hand_out_to_leader(&mut self, d: i128) -> Option<u32> {
        forward!(self, k => k.try_hand_out_to_leader(d))
    }
    #[inline]
    fn update(&mut self, base: &[i128], i: usize) {
        forward!(self, k => k.update(base, i))
    }
    #[inline]
    fn best_line(&self) -> Option<(u32, i128)> {
        forward!(self, k => k.best_line())
    }
    #[inline]
    fn second(&self, leaf: u32) -> Option<(u32, i128)> {
        forward!(self, k => k.second(leaf))
    }
    #[inline]
    fn leftmost_at_least(&self, threshold: i128) -> Option<u32> {
        forward!(self, k => k.leftmost_at_least(threshold))
    }
    #[inline]
    fn for_each_descending(&mut self, f: impl FnMut(u32, i128) -> bool) {
        forward!(self, k => k.for_each_descending(f))
    }
}

/// Up to this many recipients the streaming mode uses the wide groups, beyond it the binary
/// tournament.
pub(super) const WIDE_UP_TO: usize = 1 << 13;

impl<Id: Clone + Eq + Hash + Debug> Dispatcher<Id> {
    /// Hands out one item and returns the position (in [`Dispatcher::ids`]) of the recipient
    /// that gets it: exactly what `dispatch(1)` would give, with exactly the same resulting
    /// state, so calls to the two can be mixed freely.
    ///
    /// # Errors
    /// [`Error::NoActiveRecipient`] when no recipient is active.
    ///
    /// # Performance
    /// Allocation-free; amortised O(√n) with vectorised scans up to 8,192 recipients (groups of
    /// about √n, each with a kinetic certificate), amortised O(log n) beyond (a kinetic
    /// tournament over the recipients' deficit lines): about 0.2 µs per item at a thousand
    /// recipients, 1 µs at 100,000. The first call after a batch or a roster change rebuilds
    /// the structure in O(n). Ties between more than two recipients that are all due an item
    /// (only possible when the errors held sum well below zero, after departures whose errors
    /// were forgotten) cost O(k log n) for k tied (O(√n + k·√n) with the groups).
    #[allow(clippy::should_implement_trait)] // fallible, so not an Iterator
    pub fn next(&mut self) -> Result<usize, Error> {
        if self.active == 0 {
            return Err(Error::NoActiveRecipient {
                size: None,
                held: self.ids.len(),
            });
        }
        let step = self.t + 1;
        let d = self.denom as i128;
        // The tournament is advanced in place (it is large: moving it out and back costs more
        // than the hand-out itself at a thousand recipients).
        match self.tournament.as_mut().filter(|k| k.can_reach(step)) {
            Some(k) => k.advance(step),
            None => {
                self.tournament = Some(Stream::build(&self.slope, &self.base, step, self.tau));
            }
        }
        // Usually the leader is more than τ clear of everyone else and gets the item whatever
        // the rounding (see `decide`): hand it out in one pass over its path.
        let fast = self
            .tournament
            .as_mut()
            .and_then(|k| k.try_hand_out_to_leader(d));
        let winner = match fast {
            Some(w) => {
                self.base[w as usize] += d;
                w as usize
            }
            None => {
                let mut tour = self
                    .tournament
                    .take()
                    .unwrap_or_else(|| Stream::build(&self.slope, &self.base, step, self.tau));
                let w = self.decide(&mut tour) as usize;
                self.base[w] += d;
                tour.update(&self.base, w);
                self.tournament = Some(tour);
                w
            }
        };
        self.t = step;
        if self.t >= REBASE_AT {
            self.fold();
        }
        Ok(winner)
    }

    /// [`Dispatcher::next`], returning the recipient's id.
    ///
    /// # Errors
    /// As [`Dispatcher::next`].
    ///
    /// # Performance
    /// As [`Dispatcher::next`].
    pub fn next_id(&mut self) -> Result<&Id, Error> {
        let i = self.next()?;
        Ok(&self.ids[i])
    }

    /// The batch-of-one rule, read off the tournament. With `x` the ideals in units:
    /// nobody rounds to ≥ 1 → one unit is given to the smallest error, i.e. the earliest-added
    /// of those within τ of the largest ideal; exactly one rounds to 1 → it; otherwise units are
    /// taken away until one is left, and by the clean-cut argument of `select` the survivor is
    /// decided within the chain of the largest ideals alone.
    fn decide(&mut self, tour: &mut Stream) -> u32 {
        let d = self.denom as i128;
        let (half, tau) = (self.half, self.tau);
        let inv_d = self.inv_denom;
        let round_half_up = |x: i128, d: i128, half: i128| round_half_up_with(x, d, half, inv_d);
        let (top, top_x) = tour.best_line().expect("an active recipient competes");
        let top_a = round_half_up(top_x, d, half);
        if top_a <= 0 {
            return tour.leftmost_at_least(top_x - tau).unwrap_or(top);
        }
        let second = tour.second(top);
        let second_a = second.map_or(0, |(_, x)| round_half_up(x, d, half));
        if top_a == 1 && second_a <= 0 {
            return top;
        }
        // Units are taken away. Usual case: the top is more than τ clear of every other
        // recipient due a unit, so its level-1 error stands alone at the bottom: it survives.
        if second_a <= 0 || second.is_some_and(|(_, x)| top_x - x > tau) {
            return top;
        }
        // Otherwise: the last item left lies in the chain of the lowest level-1 errors D − x
        // among those that rounded to ≥ 1 (largest x first).
        self.chain.clear();
        let chain = &mut self.chain;
        let mut prev: Option<i128> = None;
        tour.for_each_descending(|i, xi| {
            if round_half_up(xi, d, half) < 1 || prev.is_some_and(|p| p - xi > tau) {
                return false;
            }
            prev = Some(xi);
            chain.push((d - xi, i as usize));
            true
        });
        // Replay the loop on the chain (errors in increasing order so far): take the
        // later-added among those within τ of the largest error, until one is left.
        chain.reverse();
        survivor(chain, tau, &mut self.removed, &mut self.heap) as u32
    }
}

/// The one-at-a-time take loop on a chain given as (error, position) in decreasing error
/// order: repeatedly remove the later-added of those within τ of the largest error left;
/// returns the position that remains. `removed` and `heap` are reusable scratch.
pub(super) fn survivor(
    chain: &[(i128, usize)],
    tau: i128,
    removed: &mut Vec<bool>,
    heap: &mut std::collections::BinaryHeap<(usize, usize)>,
) -> usize {
    if chain.len() == 1 {
        return chain[0].1;
    }
    removed.clear();
    removed.resize(chain.len(), false);
    heap.clear();
    let (mut head, mut next) = (0usize, 0usize);
    for _ in 1..chain.len() {
        while removed[head] {
            head += 1;
        }
        let threshold = chain[head].0 - tau;
        while next < chain.len() && chain[next].0 >= threshold {
            heap.push((chain[next].1, next));
            next += 1;
        }
        if let Some((_, at)) = heap.pop() {
            removed[at] = true;
        }
    }
    chain
        .iter()
        .zip(removed.iter())
        .find(|(_, r)| !**r)
        .map_or(chain[0].1, |(c, _)| c.1)
}
