//! Cumulative-error weighted dispatch: split batches of items among weighted recipients so that
//! every batch is as close as possible to the weights *and* every recipient stays within about
//! one item of its ideal share forever, while weights change and recipients come and go.
//!
//! This is the forced-distribution method, with the two gaps in its usual wording (how to round
//! a half, whom to correct on a tie) closed as follows (see `docs/dispatch.md` for the full
//! guide):
//!
//! 1. each active recipient's ideal is `size × weight / Σ active weights − cumulative error`;
//! 2. round half up (an ideal within 10⁻⁹ below a half counts as the half); negatives become 0;
//! 3. fix the total one unit at a time: too many → take from the active recipient with the
//!    largest cumulative error among those given more than 0, whatever its sign; too few → give
//!    to the active recipient with the smallest, whatever its sign. Errors within 10⁻⁹ of the
//!    extreme tie, and the tie favours the earlier-added recipient (the later-added of the tied
//!    loses an item taken away; the earlier-added gets an item given);
//! 4. cumulative error ← allocation − ideal.
//!
//! Each batch's allocation minimises the sum of squared cumulative errors given the errors
//! carried in. A weight of 0 pauses a recipient (it receives nothing and keeps its error);
//! removing one forgets its error, or, with [`LeavePolicy::Spread`], spreads it over the others
//! by weight.
//!
//! # Exact arithmetic
//! Weights are scaled to integers exactly (the largest to 53 bits), and cumulative errors are
//! kept as exact fractions over the sum of the scaled active weights. Nothing drifts: the errors
//! of the recipients held sum to exactly zero, ties are exact, results do not depend on the
//! platform, and a restored snapshot continues bit for bit. f64 appears only at the edges
//! ([`Dispatcher::cumulative_error`]).
//!
//! # Speed
//! [`Dispatcher::dispatch`] is O(n) for the usual batch and O(n log Δ) at worst, never the
//! seed's O(Δ·n) (see the `select` proof in the source). [`Dispatcher::next`] hands out one item
//! at a time through a kinetic structure over the recipients' deficit lines (vectorised groups of
//! about √n recipients up to 8,192 recipients, amortised O(√n); a binary kinetic tournament
//! beyond, amortised O(log n)), the same sequence, and the same state, as batches of size 1.
//!
//! ```
//! use quotaroute::dispatch::Dispatcher;
//!
//! let mut d = Dispatcher::new();
//! d.add("A", 0.8)?;
//! d.add("B", 1.0)?;
//! d.add("C", 1.2)?;
//! assert_eq!(d.dispatch(100)?, vec![27, 33, 40]);
//! assert_eq!(d.dispatch(50)?, vec![13, 17, 20]);
//! assert!(d.cumulative_error(&"A").unwrap().abs() < 1e-12);
//!
//! // Single items: 0.6 / 0.4 gives A, B, A, not A, A, A.
//! let mut s = Dispatcher::new();
//! s.add("A", 0.6)?;
//! s.add("B", 0.4)?;
//! let seq: Vec<usize> = (0..3).map(|_| s.next()).collect::<Result<_, _>>()?;
//! assert_eq!(seq, vec![0, 1, 0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod exact;
mod groups;
mod kinetic;
mod select;
mod state;
mod stream;
mod wide;

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

#[allow(deprecated)]
pub use error::{
    AddError, ConfigureError, DispatchError, NextError, RemoveError, SetErrorError, SetWeightError,
};
pub use error::{Error, InvalidWeight, Operation, RestoreError};
pub use state::{DispatcherState, ExactError, RecipientState};

use error::check_weight;
#[cfg(test)]
use exact::round_half_up;
use exact::{error_to_units, half_threshold, round_half_up_with, scale_weights};
use select::{Offer, Prefer, Scratch};
use stream::Stream;

/// Two values closer than this are tied (see the module documentation for who wins).
pub const TIE_TOLERANCE: f64 = 1e-9;
/// The largest batch [`Dispatcher::dispatch`] accepts.
pub const MAX_BATCH_SIZE: u64 = 1 << 40;
/// The most recipients a dispatcher holds.
pub const MAX_RECIPIENTS: usize = 1 << 24;
/// The largest cumulative error (in items, either sign) a recipient may carry.
pub const MAX_ABS_ERROR: f64 = (1u64 << 40) as f64;
/// The version written in [`DispatcherState::format_version`].
pub const STATE_FORMAT_VERSION: u32 = 1;

/// The streaming mode folds its lazy step counter back into the errors this often; exact, so it
/// changes no result, only keeps the integers small.
const REBASE_AT: u64 = 1 << 20;
const MAX_ABS_ERROR_ITEMS: i128 = 1 << 40;
const TIE_DIVISOR: u128 = 1_000_000_000;

/// What happens to a recipient's cumulative error when it leaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum LeavePolicy {
    /// The error is forgotten: the errors of those still held no longer sum to zero.
    #[default]
    Forget,
    /// The error is spread over the recipients still held, in proportion to their weights
    /// (equally when they are all paused), exactly, so the errors keep summing to zero.
    Spread,
}

/// Splits batches among weighted recipients, carrying each one's cumulative error forward.
///
/// Recipients are identified by `Id` and kept in order of addition; allocations are returned in
/// that order (see [`Dispatcher::ids`]). Every fallible call leaves the dispatcher unchanged
/// when it fails.
#[derive(Clone, Debug)]
pub struct Dispatcher<Id> {
    ids: Vec<Id>,
    weights: Vec<f64>,
    /// Scaled integer weight; 0 = paused.
    slope: Vec<u64>,
    /// Error numerator + `t · slope` (the streaming mode's lazy form).
    base: Vec<i128>,
    index: HashMap<Id, usize>,
    policy: LeavePolicy,
    denom: u128,
    tau: i128,
    /// `half_threshold(denom)`.
    half: i128,
    t: u64,
    active: usize,
    tournament: Option<Stream>,
    scratch: Scratch,
    offers: Vec<Offer>,
    picks: Vec<u64>,
    ideal: Vec<i128>,
    chain: Vec<(i128, usize)>,
    removed: Vec<bool>,
    heap: std::collections::BinaryHeap<(usize, usize)>,
    /// `1 / denom` in f64, for division estimates.
    inv_denom: f64,
}

impl<Id: Clone + Eq + Hash + Debug> Default for Dispatcher<Id> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Id: Clone + Eq + Hash + Debug> Dispatcher<Id> {
    /// An empty dispatcher that forgets the error of a recipient that leaves.
    pub fn new() -> Self {
        Self::with_policy(LeavePolicy::Forget)
    }

    /// An empty dispatcher with the given [`LeavePolicy`].
    pub fn with_policy(policy: LeavePolicy) -> Self {
        Dispatcher {
            ids: Vec::new(),
            weights: Vec::new(),
            slope: Vec::new(),
            base: Vec::new(),
            index: HashMap::new(),
            policy,
            denom: 1,
            tau: 0,
            half: half_threshold(1),
            t: 0,
            active: 0,
            tournament: None,
            scratch: Scratch::default(),
            offers: Vec::new(),
            picks: Vec::new(),
            ideal: Vec::new(),
            chain: Vec::new(),
            removed: Vec::new(),
            heap: std::collections::BinaryHeap::new(),
            inv_denom: 1.0,
        }
    }

    /// A dispatcher holding `recipients` (id, weight) in this order, all errors zero.
    ///
    /// # Errors
    /// As [`Dispatcher::configure`].
    ///
    /// # Performance
    /// O(n); prefer it to n calls of [`Dispatcher::add`] (each O(n)).
    pub fn from_weights(
        recipients: impl IntoIterator<Item = (Id, f64)>,
        policy: LeavePolicy,
    ) -> Result<Self, Error> {
        let mut d = Self::with_policy(policy);
        d.configure(recipients)?;
        Ok(d)
    }

    /// The leave policy.
    pub fn leave_policy(&self) -> LeavePolicy {
        self.policy
    }

    /// Changes the leave policy (for later departures).
    pub fn set_leave_policy(&mut self, policy: LeavePolicy) {
        self.policy = policy;
    }

    /// How many recipients are held (active and paused).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no recipient is held.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// How many recipients are active (weight > 0).
    pub fn active_len(&self) -> usize {
        self.active
    }

    /// The ids in order of addition: the order of every allocation.
    pub fn ids(&self) -> &[Id] {
        &self.ids
    }

    /// The weights in order of addition (0 = paused), exactly as given.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The position of `id` in [`Dispatcher::ids`].
    pub fn position(&self, id: &Id) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The weight of `id` (0 = paused).
    pub fn weight(&self, id: &Id) -> Option<f64> {
        self.position(id).map(|i| self.weights[i])
    }

    fn error_units(&self, i: usize) -> i128 {
        self.base[i] - self.slope[i] as i128 * self.t as i128
    }

    /// The exact cumulative error (items received − ideal) of the recipient at `position`.
    pub fn exact_error(&self, position: usize) -> Option<ExactError> {
        (position < self.ids.len()).then(|| ExactError {
            numerator: self.error_units(position),
            denominator: self.denom,
        })
    }

    /// The cumulative error of `id`, in items: positive = ahead of its ideal share.
    pub fn cumulative_error(&self, id: &Id) -> Option<f64> {
        self.position(id)
            .and_then(|i| self.exact_error(i))
            .map(ExactError::to_f64)
    }

    /// All cumulative errors in order of addition.
    pub fn cumulative_errors(&self) -> impl ExactSizeIterator<Item = f64> + '_ {
        (0..self.ids.len()).map(|i| self.exact_error(i).map_or(0.0, ExactError::to_f64))
    }

    /// Adds a recipient with a zero error at the end of the order (weight 0 adds it paused).
    ///
    /// # Errors
    /// [`Error::DuplicateId`], [`Error::InvalidWeight`], [`Error::TooManyRecipients`],
    /// [`Error::OutOfRange`].
    ///
    /// # Performance
    /// O(n): the errors are rescaled exactly to the new sum of weights.
    pub fn add(&mut self, id: Id, weight: f64) -> Result<(), Error> {
        if self.index.contains_key(&id) {
            return Err(Error::DuplicateId {
                id: format!("{id:?}"),
                entries: None,
            });
        }
        let weight = check_weight(&id, weight)?;
        if self.ids.len() >= MAX_RECIPIENTS {
            return Err(Error::TooManyRecipients {
                count: self.ids.len() + 1,
                limit: MAX_RECIPIENTS,
                id: Some(format!("{id:?}")),
            });
        }
        let keep = vec![true; self.ids.len()];
        let weights = self.weights.clone();
        let name = format!("{id:?}");
        self.apply(&keep, &weights, vec![(id, weight)])
            .map_err(|()| Error::OutOfRange {
                operation: Operation::Add,
                id: Some(name),
            })
    }

    /// Changes a recipient's weight; 0 pauses it (it keeps its error), a positive weight
    /// resumes it.
    ///
    /// # Errors
    /// [`Error::UnknownId`], [`Error::InvalidWeight`], [`Error::OutOfRange`].
    ///
    /// # Performance
    /// O(n).
    pub fn set_weight(&mut self, id: &Id, weight: f64) -> Result<(), Error> {
        let i = self.position(id).ok_or_else(|| Error::UnknownId {
            id: format!("{id:?}"),
        })?;
        let weight = check_weight(id, weight)?;
        let keep = vec![true; self.ids.len()];
        let mut weights = self.weights.clone();
        weights[i] = weight;
        self.apply(&keep, &weights, Vec::new())
            .map_err(|()| Error::OutOfRange {
                operation: Operation::SetWeight,
                id: Some(format!("{id:?}")),
            })
    }

    /// Removes a recipient; its error is forgotten or spread as the [`LeavePolicy`] says.
    /// Returns the error it carried (in items).
    ///
    /// # Errors
    /// [`Error::UnknownId`], [`Error::OutOfRange`] (spreading the error, with
    /// [`LeavePolicy::Spread`]).
    ///
    /// # Performance
    /// O(n).
    pub fn remove(&mut self, id: &Id) -> Result<f64, Error> {
        let i = self.position(id).ok_or_else(|| Error::UnknownId {
            id: format!("{id:?}"),
        })?;
        let carried = self.exact_error(i).map_or(0.0, ExactError::to_f64);
        let mut keep = vec![true; self.ids.len()];
        keep[i] = false;
        let weights = self.weights.clone();
        self.apply(&keep, &weights, Vec::new())
            .map_err(|()| Error::OutOfRange {
                operation: Operation::Remove,
                id: Some(format!("{id:?}")),
            })?;
        Ok(carried)
    }

    /// Sets the whole roster at once, in one O(n) step: a held recipient absent from
    /// `recipients` leaves (per the [`LeavePolicy`]), a new one joins at the end (in the order
    /// given), and every present one takes the weight given (0 pauses).
    ///
    /// # Errors
    /// [`Error::DuplicateId`] (an id twice), [`Error::InvalidWeight`],
    /// [`Error::TooManyRecipients`], [`Error::OutOfRange`].
    ///
    /// # Performance
    /// O(n) (plus O(n) 256-bit divisions when the sum of weights changes).
    pub fn configure(
        &mut self,
        recipients: impl IntoIterator<Item = (Id, f64)>,
    ) -> Result<(), Error> {
        let list: Vec<(Id, f64)> = recipients.into_iter().collect();
        if list.len() > MAX_RECIPIENTS {
            return Err(Error::TooManyRecipients {
                count: list.len(),
                limit: MAX_RECIPIENTS,
                id: None,
            });
        }
        let mut seen: HashMap<&Id, usize> = HashMap::with_capacity(list.len());
        for (pos, (id, w)) in list.iter().enumerate() {
            if let Some(&first) = seen.get(id) {
                return Err(Error::DuplicateId {
                    id: format!("{id:?}"),
                    entries: Some((first, pos)),
                });
            }
            seen.insert(id, pos);
            check_weight(id, *w)?;
        }
        let mut keep = vec![false; self.ids.len()];
        let mut weights = self.weights.clone();
        let mut added = Vec::new();
        for (id, w) in list {
            let w = check_weight(&id, w)?;
            match self.index.get(&id) {
                Some(&i) => {
                    keep[i] = true;
                    weights[i] = w;
                }
                None => added.push((id, w)),
            }
        }
        let count = keep.iter().filter(|&&k| k).count() + added.len();
        if count > MAX_RECIPIENTS {
            return Err(Error::TooManyRecipients {
                count,
                limit: MAX_RECIPIENTS,
                id: None,
            });
        }
        self.apply(&keep, &weights, added)
            .map_err(|()| Error::OutOfRange {
                operation: Operation::Configure,
                id: None,
            })
    }

    /// Overrides a recipient's cumulative error, e.g. to carry over errors kept by another
    /// system. The errors then sum to zero only if the values set do.
    ///
    /// # Errors
    /// [`Error::UnknownId`], or [`Error::InvalidError`] for an error that is NaN, infinite or
    /// beyond [`MAX_ABS_ERROR`].
    pub fn set_cumulative_error(&mut self, id: &Id, error: f64) -> Result<(), Error> {
        let i = self.position(id).ok_or_else(|| Error::UnknownId {
            id: format!("{id:?}"),
        })?;
        let bad = || Error::InvalidError {
            id: format!("{id:?}"),
            error,
            max: MAX_ABS_ERROR,
        };
        if !error.is_finite() || error.abs() > MAX_ABS_ERROR {
            return Err(bad());
        }
        let units = error_to_units(error, self.denom).ok_or_else(bad)?;
        self.base[i] = units + self.slope[i] as i128 * self.t as i128;
        self.tournament = None;
        Ok(())
    }

    /// Folds the lazy step counter into the errors (exact; changes no result).
    fn fold(&mut self) {
        if self.t != 0 {
            let t = self.t as i128;
            for (b, &s) in self.base.iter_mut().zip(&self.slope) {
                *b -= s as i128 * t;
            }
            self.t = 0;
        }
        self.tournament = None;
    }

    /// The one place the roster changes. Computes the new state aside and commits it only when
    /// everything fits, so a failure changes nothing.
    fn apply(&mut self, keep: &[bool], weights: &[f64], added: Vec<(Id, f64)>) -> Result<(), ()> {
        let errors: Vec<i128> = (0..self.ids.len()).map(|i| self.error_units(i)).collect();
        // New roster: kept recipients in order, then the newcomers.
        let kept: Vec<usize> = (0..self.ids.len()).filter(|&i| keep[i]).collect();
        let new_weights: Vec<f64> = kept
            .iter()
            .map(|&i| weights[i])
            .chain(added.iter().map(|(_, w)| *w))
            .collect();
        let slope = scale_weights(new_weights.iter().copied());
        let sum: u128 = slope.iter().map(|&s| s as u128).sum();
        let denom = if sum > 0 { sum } else { self.denom };
        let mut rescaled = errors;
        wide::rescale_preserving_sum(&mut rescaled, denom, self.denom).ok_or(())?;
        let mut base: Vec<i128> = kept.iter().map(|&i| rescaled[i]).collect();
        base.extend(std::iter::repeat_n(0, added.len()));
        if self.policy == LeavePolicy::Spread && !base.is_empty() {
            let mut left: i128 = 0;
            for i in (0..self.ids.len()).filter(|&i| !keep[i]) {
                left = left.checked_add(rescaled[i]).ok_or(())?;
            }
            if left != 0 {
                let (shares, total): (Vec<u128>, u128) = if sum > 0 {
                    (slope.iter().map(|&s| s as u128).collect(), sum)
                } else {
                    (vec![1; base.len()], base.len() as u128)
                };
                let split = wide::split_by_shares(left, &shares, total).ok_or(())?;
                for (b, s) in base.iter_mut().zip(split) {
                    *b = b.checked_add(s).ok_or(())?;
                }
            }
        }
        let limit = MAX_ABS_ERROR_ITEMS
            .checked_mul(denom as i128)
            .unwrap_or(i128::MAX);
        if base.iter().any(|b| b.unsigned_abs() > limit as u128) {
            return Err(());
        }
        // Commit.
        let mut ids: Vec<Id> = kept.iter().map(|&i| self.ids[i].clone()).collect();
        ids.extend(added.into_iter().map(|(id, _)| id));
        self.index = ids
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, id)| (id, i))
            .collect();
        self.ids = ids;
        self.weights = new_weights;
        self.active = slope.iter().filter(|&&s| s > 0).count();
        self.slope = slope;
        self.base = base;
        self.denom = denom;
        self.tau = (denom / TIE_DIVISOR) as i128;
        self.half = half_threshold(denom as i128);
        self.inv_denom = 1.0 / wide::approx_f64(denom as i128);
        self.t = 0;
        self.tournament = None;
        Ok(())
    }

    /// Splits a batch of `size` items; returns each recipient's allocation in the order of
    /// [`Dispatcher::ids`] (0 for the paused). `size` 0 changes nothing.
    ///
    /// # Errors
    /// [`Error::NoActiveRecipient`] for a positive size with no active recipient,
    /// [`Error::SizeTooLarge`] above [`MAX_BATCH_SIZE`], or [`Error::OutOfRange`] for an error
    /// that would leave the supported range.
    ///
    /// # Performance
    /// O(n) for the usual batch (correction no larger than the number of recipients), at worst
    /// O(n log Δ) for a correction of Δ units; one allocation (the returned vector).
    pub fn dispatch(&mut self, size: u64) -> Result<Vec<u64>, Error> {
        let mut out = Vec::new();
        self.dispatch_into(size, &mut out)?;
        Ok(out)
    }

    /// [`Dispatcher::dispatch`] writing into `out` (cleared first), allocation-free once the
    /// buffers are warm.
    ///
    /// # Errors
    /// As [`Dispatcher::dispatch`]; `out` is then left empty.
    ///
    /// # Performance
    /// As [`Dispatcher::dispatch`].
    #[allow(clippy::needless_range_loop)] // parallel arrays, indexed together
    pub fn dispatch_into(&mut self, size: u64, out: &mut Vec<u64>) -> Result<(), Error> {
        out.clear();
        if size == 0 {
            out.resize(self.ids.len(), 0);
            return Ok(());
        }
        if size > MAX_BATCH_SIZE {
            return Err(Error::SizeTooLarge {
                size,
                max: MAX_BATCH_SIZE,
            });
        }
        if self.active == 0 {
            return Err(Error::NoActiveRecipient {
                size: Some(size),
                held: self.ids.len(),
            });
        }
        let n = self.ids.len();
        let d = self.denom as i128;
        let s = size as i128;
        self.ideal.clear();
        out.resize(n, 0);
        let mut total: i128 = 0;
        let inv_d = self.inv_denom;
        for i in 0..n {
            let w = self.slope[i];
            if w == 0 {
                self.ideal.push(0);
                continue;
            }
            // ideal, in units of 1/D: size·w/D − error
            let x = s * w as i128 - self.error_units(i);
            self.ideal.push(x);
            let a = round_half_up_with(x, d, self.half, inv_d).max(0);
            out[i] = a as u64;
            total += a;
        }
        let delta = total - s;
        if delta != 0 {
            self.offers.clear();
            self.picks.clear();
            self.picks.resize(n, 0);
            let prefer = if delta > 0 {
                Prefer::Later
            } else {
                Prefer::Earlier
            };
            for i in 0..n {
                let (a, x) = (out[i] as i128, self.ideal[i]);
                let offer = if self.slope[i] == 0 {
                    Offer { y0: 0, len: 0 }
                } else if delta > 0 {
                    // Taking: the loop maximises the error a·D − x; `a` units can go.
                    Offer {
                        y0: a * d - x,
                        len: out[i],
                    }
                } else {
                    // Giving: the loop minimises the error, i.e. maximises x − a·D.
                    Offer {
                        y0: x - a * d,
                        len: u64::MAX,
                    }
                };
                self.offers.push(offer);
            }
            select::select(
                &self.offers,
                d,
                self.tau,
                delta.unsigned_abs(),
                prefer,
                &mut self.picks,
                &mut self.scratch,
            );
            for (a, &p) in out.iter_mut().zip(&self.picks) {
                if delta > 0 {
                    *a -= p;
                } else {
                    *a += p;
                }
            }
        }
        let limit = MAX_ABS_ERROR_ITEMS * d;
        for i in 0..n {
            if self.slope[i] > 0 && (out[i] as i128 * d - self.ideal[i]).abs() > limit {
                out.clear();
                return Err(Error::OutOfRange {
                    operation: Operation::Dispatch { size },
                    id: Some(format!("{:?}", self.ids[i])),
                });
            }
        }
        for (b, &a) in self.base.iter_mut().zip(out.iter()) {
            *b += a as i128 * d;
        }
        self.t += size;
        self.tournament = None;
        if self.t >= REBASE_AT {
            self.fold();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
