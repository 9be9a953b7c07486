//! Cumulative-error weighted dispatch: split batches of items among weighted recipients so that
//! every batch is as close as possible to the weights *and* every recipient stays within about
//! one item of its ideal share forever, while weights change and recipients come and go.
//!
//! This is the "forced distribution" method of `seeds/forced-distribution-dispatch.md`, with the
//! two holes in its wording closed (see `docs/dispatch.md` for the full guide):
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

mod groups;
mod kinetic;
mod select;
mod wide;

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use groups::Groups;
use kinetic::Tournament;
use select::{Offer, Prefer, Scratch};

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

/// The streaming mode's kinetic structure: the wide groups ([`groups`]) or the binary
/// tournament ([`kinetic`]); both give exactly the same winners, the choice is speed only.
#[derive(Clone, Debug)]
enum Stream {
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
const WIDE_UP_TO: usize = 1 << 13;

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

/// A weight that cannot be used: NaN, infinite or negative.
#[derive(Clone, Debug, Error, PartialEq)]
#[error(
    "recipient {id}: weight {weight} is not usable ({problem}); weights must be finite and >= 0 (0 pauses)"
)]
pub struct InvalidWeight {
    /// The recipient, as `{:?}`.
    pub id: String,
    /// The weight given.
    pub weight: f64,
    /// What is wrong with it.
    pub problem: &'static str,
}

fn check_weight(id: &impl Debug, weight: f64) -> Result<f64, InvalidWeight> {
    let problem = if weight.is_nan() {
        "not a number"
    } else if weight.is_infinite() {
        "infinite"
    } else if weight < 0.0 {
        "negative"
    } else {
        return Ok(if weight == 0.0 { 0.0 } else { weight });
    };
    Err(InvalidWeight {
        id: format!("{id:?}"),
        weight,
        problem,
    })
}

/// Why [`Dispatcher::add`] failed; the dispatcher is unchanged.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum AddError {
    /// A recipient with this id is already held.
    #[error("recipient {id} is already held; ids must be unique")]
    DuplicateId {
        /// The id, as `{:?}`.
        id: String,
    },
    /// The weight is NaN, infinite or negative.
    #[error(transparent)]
    InvalidWeight(#[from] InvalidWeight),
    /// The dispatcher already holds [`MAX_RECIPIENTS`].
    #[error(
        "cannot add recipient {id}: the dispatcher already holds the maximum of {limit} recipients"
    )]
    TooManyRecipients {
        /// The id, as `{:?}`.
        id: String,
        /// [`MAX_RECIPIENTS`].
        limit: usize,
    },
    /// Rescaling the errors to the new weights would leave the supported range.
    #[error("adding recipient {id} would push the cumulative errors out of the supported range")]
    OutOfRange {
        /// The id, as `{:?}`.
        id: String,
    },
}

/// Why [`Dispatcher::set_weight`] failed; the dispatcher is unchanged.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum SetWeightError {
    /// No recipient with this id is held.
    #[error("no recipient {id} is held")]
    UnknownId {
        /// The id, as `{:?}`.
        id: String,
    },
    /// The weight is NaN, infinite or negative.
    #[error(transparent)]
    InvalidWeight(#[from] InvalidWeight),
    /// Rescaling the errors to the new weights would leave the supported range.
    #[error(
        "setting the weight of {id} would push the cumulative errors out of the supported range"
    )]
    OutOfRange {
        /// The id, as `{:?}`.
        id: String,
    },
}

/// Why [`Dispatcher::remove`] failed; the dispatcher is unchanged.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum RemoveError {
    /// No recipient with this id is held.
    #[error("no recipient {id} is held")]
    UnknownId {
        /// The id, as `{:?}`.
        id: String,
    },
    /// Spreading the error would leave the supported range.
    #[error("removing {id} would push the cumulative errors out of the supported range")]
    OutOfRange {
        /// The id, as `{:?}`.
        id: String,
    },
}

/// Why [`Dispatcher::configure`] failed; the dispatcher is unchanged.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum ConfigureError {
    /// The same id appears twice in the new weights.
    #[error("recipient {id} appears twice in the weights (entries {first} and {second}, from 0)")]
    DuplicateId {
        /// The id, as `{:?}`.
        id: String,
        /// Position of its first entry.
        first: usize,
        /// Position of its second entry.
        second: usize,
    },
    /// A weight is NaN, infinite or negative.
    #[error(transparent)]
    InvalidWeight(#[from] InvalidWeight),
    /// More than [`MAX_RECIPIENTS`] recipients.
    #[error("{count} recipients given; at most {limit} are supported")]
    TooManyRecipients {
        /// How many were given.
        count: usize,
        /// [`MAX_RECIPIENTS`].
        limit: usize,
    },
    /// Rescaling the errors to the new weights would leave the supported range.
    #[error("the new weights would push the cumulative errors out of the supported range")]
    OutOfRange,
}

/// Why [`Dispatcher::dispatch`] failed; the dispatcher is unchanged.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum DispatchError {
    /// A positive batch with no active recipient (none held, or all paused).
    #[error(
        "cannot dispatch {size} items: no active recipient (all {held} held are paused or none is held)"
    )]
    NoActiveRecipient {
        /// The batch size asked for.
        size: u64,
        /// How many recipients are held (all paused).
        held: usize,
    },
    /// The batch is larger than [`MAX_BATCH_SIZE`].
    #[error("batch size {size} exceeds the maximum of {max}")]
    SizeTooLarge {
        /// The batch size asked for.
        size: u64,
        /// [`MAX_BATCH_SIZE`].
        max: u64,
    },
    /// A cumulative error would exceed [`MAX_ABS_ERROR`] items.
    #[error("dispatching {size} items would push the cumulative error of {id} beyond {max} items")]
    OutOfRange {
        /// The batch size asked for.
        size: u64,
        /// The recipient, as `{:?}`.
        id: String,
        /// [`MAX_ABS_ERROR`].
        max: f64,
    },
}

/// Why [`Dispatcher::next`] failed; the dispatcher is unchanged.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NextError {
    /// No active recipient (none held, or all paused).
    #[error(
        "cannot hand out an item: no active recipient (all {held} held are paused or none is held)"
    )]
    NoActiveRecipient {
        /// How many recipients are held (all paused).
        held: usize,
    },
}

/// Why [`Dispatcher::set_cumulative_error`] failed; the dispatcher is unchanged.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum SetErrorError {
    /// No recipient with this id is held.
    #[error("no recipient {id} is held")]
    UnknownId {
        /// The id, as `{:?}`.
        id: String,
    },
    /// NaN, infinite, or larger than [`MAX_ABS_ERROR`] in magnitude.
    #[error(
        "cumulative error {error} for {id} is not usable: it must be finite and at most {max} in magnitude"
    )]
    InvalidError {
        /// The id, as `{:?}`.
        id: String,
        /// The value given.
        error: f64,
        /// [`MAX_ABS_ERROR`].
        max: f64,
    },
}

/// Why [`Dispatcher::from_state`] refused a snapshot.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum RestoreError {
    /// The snapshot was written by another format version.
    #[error(
        "dispatcher state format version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The version in the snapshot.
        found: u32,
        /// [`STATE_FORMAT_VERSION`].
        supported: u32,
    },
    /// Two recipients share an id.
    #[error("recipients[{position}]: id {id} appears twice")]
    DuplicateId {
        /// The id, as `{:?}`.
        id: String,
        /// Position of the second occurrence in `recipients`.
        position: usize,
    },
    /// A weight is NaN, infinite or negative.
    #[error("recipients[{position}]: {source}")]
    InvalidWeight {
        /// Position in `recipients`.
        position: usize,
        /// What is wrong.
        source: InvalidWeight,
    },
    /// A number stored as text does not parse.
    #[error("{field}: {text:?} is not a valid integer")]
    BadNumber {
        /// Where, e.g. `recipients[3].error_numerator`.
        field: String,
        /// The text found.
        text: String,
    },
    /// The stored denominator is not the one the stored weights give: the snapshot was edited
    /// or is corrupt.
    #[error("denominator {stored} does not match the weights, which give {computed}")]
    DenominatorMismatch {
        /// As stored.
        stored: String,
        /// As computed from the active weights.
        computed: String,
    },
    /// A cumulative error is beyond [`MAX_ABS_ERROR`].
    #[error("recipients[{position}]: cumulative error out of the supported range")]
    ErrorOutOfRange {
        /// Position in `recipients`.
        position: usize,
    },
    /// More than [`MAX_RECIPIENTS`] recipients.
    #[error("{count} recipients; at most {limit} are supported")]
    TooManyRecipients {
        /// How many were stored.
        count: usize,
        /// [`MAX_RECIPIENTS`].
        limit: usize,
    },
    /// The stored denominator is larger than any set of weights gives (a snapshot with no
    /// active recipient cannot be checked against its weights, so its denominator is checked
    /// against this bound instead).
    #[error("denominator {stored} is above the largest possible, {max}")]
    DenominatorOutOfRange {
        /// As stored.
        stored: String,
        /// The largest denominator weights can give: [`MAX_RECIPIENTS`] × 2⁵³.
        max: String,
    },
}

/// A snapshot of a [`Dispatcher`], for serde. Cumulative errors are exact fractions
/// `error_numerator / denominator`, written as decimal text so any format keeps them exactly.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct DispatcherState<Id> {
    /// [`STATE_FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// What happens to the error of a recipient that leaves.
    pub leave_policy: LeavePolicy,
    /// The common denominator of the errors (decimal).
    pub denominator: String,
    /// The recipients in order of addition.
    pub recipients: Vec<RecipientState<Id>>,
}

/// One recipient in a [`DispatcherState`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct RecipientState<Id> {
    /// The id.
    pub id: Id,
    /// The weight (0 = paused).
    pub weight: f64,
    /// The exact cumulative error times the denominator (decimal).
    pub error_numerator: String,
}

/// A cumulative error as an exact fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExactError {
    /// Numerator.
    pub numerator: i128,
    /// Denominator (> 0), shared by all recipients of a dispatcher.
    pub denominator: u128,
}

impl ExactError {
    /// The nearest-ish f64 (within 2 ulp).
    pub fn to_f64(self) -> f64 {
        self.numerator as f64 / self.denominator as f64
    }
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

/// `(mantissa, exponent)` with `w = mantissa · 2^exponent`, for finite `w > 0`.
fn decompose(w: f64) -> (u64, i32) {
    let bits = w.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    }
}

/// Scales positive weights to integers by one power of two, exactly where it fits: the largest
/// lands in [2^52, 2^53); one too small to show up is raised to 1. Zero stays zero.
fn scale_weights(weights: impl Iterator<Item = f64> + Clone) -> Vec<u64> {
    let top = weights.clone().filter(|&w| w > 0.0).fold(0.0f64, f64::max);
    if top == 0.0 {
        return weights.map(|_| 0).collect();
    }
    let (tm, te) = decompose(top);
    let top_exp = te + 63 - tm.leading_zeros() as i32; // top ∈ [2^top_exp, 2^(top_exp+1))
    weights
        .map(|w| {
            if w <= 0.0 {
                return 0;
            }
            let (m, e) = decompose(w);
            let shift = e + 52 - top_exp; // scaled = m · 2^shift
            let v = if shift >= 0 {
                m << shift
            } else if shift <= -64 {
                0
            } else {
                let s = (-shift) as u32;
                (m >> s) + ((m >> (s - 1)) & 1)
            };
            v.max(1)
        })
        .collect()
}

/// `⌊x + ½ + 10⁻⁹⌋` for `x = num / d`, exactly (`d > 0`); `half` is [`half_threshold`]`(d)`.
#[cfg(test)]
fn round_half_up(num: i128, d: i128, half: i128) -> i128 {
    let (k, rem) = wide::div_floor_rem(num, d);
    k + i128::from(rem >= half)
}

/// `round_half_up` with `inv_d ≈ 1/d` precomputed.
#[inline]
fn round_half_up_with(num: i128, d: i128, half: i128, inv_d: f64) -> i128 {
    let (k, rem) = wide::div_floor_rem_with(num, d, inv_d);
    k + i128::from(rem >= half)
}

/// The smallest remainder `r` (of a division by `d`) with `r/d ≥ ½ − 10⁻⁹`, i.e.
/// `⌈(10⁹ − 2)·d / (2·10⁹)⌉`.
fn half_threshold(d: i128) -> i128 {
    let num = (1_000_000_000 - 2) * d;
    let den = 2_000_000_000;
    num / den + i128::from(num % den != 0)
}

/// Converts a finite f64 error to units of `1/d`, rounding half away from zero.
fn error_to_units(error: f64, d: u128) -> Option<i128> {
    if error == 0.0 {
        return Some(0);
    }
    let (m, e) = decompose(error.abs());
    let units: u128 = if e >= 0 {
        let (q, _) = wide::mul_div_rem(m as u128, d, 1)?;
        let shifted = q.checked_shl(e as u32)?;
        if shifted >> (e as u32) != q {
            return None;
        }
        shifted
    } else if e >= -127 {
        let div = 1u128 << (-e) as u32;
        let (q, r) = wide::mul_div_rem(m as u128, d, div)?;
        q + u128::from(r >= div - r)
    } else {
        // m·d < 2^131, so beyond 2^-140 nothing is left; in between, divide in two steps.
        let rest = (-e - 127) as u32;
        if rest > 13 {
            0
        } else {
            let (q, _) = wide::mul_div_rem(m as u128, d, 1u128 << 127)?;
            (q + (1u128 << (rest - 1))) >> rest
        }
    };
    let units = i128::try_from(units).ok()?;
    Some(if error < 0.0 { -units } else { units })
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
    ) -> Result<Self, ConfigureError> {
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
    /// [`AddError`]: duplicate id, unusable weight, too many recipients.
    ///
    /// # Performance
    /// O(n): the errors are rescaled exactly to the new sum of weights.
    pub fn add(&mut self, id: Id, weight: f64) -> Result<(), AddError> {
        if self.index.contains_key(&id) {
            return Err(AddError::DuplicateId {
                id: format!("{id:?}"),
            });
        }
        let weight = check_weight(&id, weight)?;
        if self.ids.len() >= MAX_RECIPIENTS {
            return Err(AddError::TooManyRecipients {
                id: format!("{id:?}"),
                limit: MAX_RECIPIENTS,
            });
        }
        let keep = vec![true; self.ids.len()];
        let weights = self.weights.clone();
        let name = format!("{id:?}");
        self.apply(&keep, &weights, vec![(id, weight)])
            .map_err(|()| AddError::OutOfRange { id: name })
    }

    /// Changes a recipient's weight; 0 pauses it (it keeps its error), a positive weight
    /// resumes it.
    ///
    /// # Errors
    /// [`SetWeightError`]: unknown id, unusable weight.
    ///
    /// # Performance
    /// O(n).
    pub fn set_weight(&mut self, id: &Id, weight: f64) -> Result<(), SetWeightError> {
        let i = self.position(id).ok_or_else(|| SetWeightError::UnknownId {
            id: format!("{id:?}"),
        })?;
        let weight = check_weight(id, weight)?;
        let keep = vec![true; self.ids.len()];
        let mut weights = self.weights.clone();
        weights[i] = weight;
        self.apply(&keep, &weights, Vec::new())
            .map_err(|()| SetWeightError::OutOfRange {
                id: format!("{id:?}"),
            })
    }

    /// Removes a recipient; its error is forgotten or spread as the [`LeavePolicy`] says.
    /// Returns the error it carried (in items).
    ///
    /// # Errors
    /// [`RemoveError`]: unknown id.
    ///
    /// # Performance
    /// O(n).
    pub fn remove(&mut self, id: &Id) -> Result<f64, RemoveError> {
        let i = self.position(id).ok_or_else(|| RemoveError::UnknownId {
            id: format!("{id:?}"),
        })?;
        let carried = self.exact_error(i).map_or(0.0, ExactError::to_f64);
        let mut keep = vec![true; self.ids.len()];
        keep[i] = false;
        let weights = self.weights.clone();
        self.apply(&keep, &weights, Vec::new())
            .map_err(|()| RemoveError::OutOfRange {
                id: format!("{id:?}"),
            })?;
        Ok(carried)
    }

    /// Sets the whole roster at once, in one O(n) step: a held recipient absent from
    /// `recipients` leaves (per the [`LeavePolicy`]), a new one joins at the end (in the order
    /// given), and every present one takes the weight given (0 pauses).
    ///
    /// # Errors
    /// [`ConfigureError`]: an id twice, an unusable weight, too many recipients.
    ///
    /// # Performance
    /// O(n) (plus O(n) 256-bit divisions when the sum of weights changes).
    pub fn configure(
        &mut self,
        recipients: impl IntoIterator<Item = (Id, f64)>,
    ) -> Result<(), ConfigureError> {
        let list: Vec<(Id, f64)> = recipients.into_iter().collect();
        if list.len() > MAX_RECIPIENTS {
            return Err(ConfigureError::TooManyRecipients {
                count: list.len(),
                limit: MAX_RECIPIENTS,
            });
        }
        let mut seen: HashMap<&Id, usize> = HashMap::with_capacity(list.len());
        for (pos, (id, w)) in list.iter().enumerate() {
            if let Some(&first) = seen.get(id) {
                return Err(ConfigureError::DuplicateId {
                    id: format!("{id:?}"),
                    first,
                    second: pos,
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
            return Err(ConfigureError::TooManyRecipients {
                count,
                limit: MAX_RECIPIENTS,
            });
        }
        self.apply(&keep, &weights, added)
            .map_err(|()| ConfigureError::OutOfRange)
    }

    /// Overrides a recipient's cumulative error, e.g. to carry over errors kept by another
    /// system. The errors then sum to zero only if the values set do.
    ///
    /// # Errors
    /// [`SetErrorError`]: unknown id, or an error that is NaN, infinite or beyond
    /// [`MAX_ABS_ERROR`].
    pub fn set_cumulative_error(&mut self, id: &Id, error: f64) -> Result<(), SetErrorError> {
        let i = self.position(id).ok_or_else(|| SetErrorError::UnknownId {
            id: format!("{id:?}"),
        })?;
        let bad = || SetErrorError::InvalidError {
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
    /// [`DispatchError`]: a positive size with no active recipient, a size above
    /// [`MAX_BATCH_SIZE`], or an error that would leave the supported range.
    ///
    /// # Performance
    /// O(n) for the usual batch (correction no larger than the number of recipients), at worst
    /// O(n log Δ) for a correction of Δ units; one allocation (the returned vector).
    pub fn dispatch(&mut self, size: u64) -> Result<Vec<u64>, DispatchError> {
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
    pub fn dispatch_into(&mut self, size: u64, out: &mut Vec<u64>) -> Result<(), DispatchError> {
        out.clear();
        if size == 0 {
            out.resize(self.ids.len(), 0);
            return Ok(());
        }
        if size > MAX_BATCH_SIZE {
            return Err(DispatchError::SizeTooLarge {
                size,
                max: MAX_BATCH_SIZE,
            });
        }
        if self.active == 0 {
            return Err(DispatchError::NoActiveRecipient {
                size,
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
                return Err(DispatchError::OutOfRange {
                    size,
                    id: format!("{:?}", self.ids[i]),
                    max: MAX_ABS_ERROR,
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

    /// Hands out one item and returns the position (in [`Dispatcher::ids`]) of the recipient
    /// that gets it: exactly what `dispatch(1)` would give, with exactly the same resulting
    /// state, so calls to the two can be mixed freely.
    ///
    /// # Errors
    /// [`NextError::NoActiveRecipient`] when no recipient is active.
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
    pub fn next(&mut self) -> Result<usize, NextError> {
        if self.active == 0 {
            return Err(NextError::NoActiveRecipient {
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
    pub fn next_id(&mut self) -> Result<&Id, NextError> {
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

    /// A snapshot for serde.
    pub fn to_state(&self) -> DispatcherState<Id> {
        DispatcherState {
            format_version: STATE_FORMAT_VERSION,
            leave_policy: self.policy,
            denominator: self.denom.to_string(),
            recipients: (0..self.ids.len())
                .map(|i| RecipientState {
                    id: self.ids[i].clone(),
                    weight: self.weights[i],
                    error_numerator: self.error_units(i).to_string(),
                })
                .collect(),
        }
    }

    /// Restores a snapshot taken with [`Dispatcher::to_state`]; the result allocates exactly as
    /// the dispatcher that was saved would have.
    ///
    /// # Errors
    /// [`RestoreError`]: another format version, or a snapshot that is inconsistent (duplicate
    /// id, unusable weight, unparsable number, denominator not matching the weights or beyond
    /// any weights', error out of range).
    pub fn from_state(state: DispatcherState<Id>) -> Result<Self, RestoreError> {
        if state.format_version != STATE_FORMAT_VERSION {
            return Err(RestoreError::UnsupportedVersion {
                found: state.format_version,
                supported: STATE_FORMAT_VERSION,
            });
        }
        if state.recipients.len() > MAX_RECIPIENTS {
            return Err(RestoreError::TooManyRecipients {
                count: state.recipients.len(),
                limit: MAX_RECIPIENTS,
            });
        }
        let stored: u128 = state
            .denominator
            .parse()
            .ok()
            .filter(|&d| d > 0)
            .ok_or_else(|| RestoreError::BadNumber {
                field: "denominator".into(),
                text: state.denominator.clone(),
            })?;
        // Scaled weights are at most 2^53 each, so no dispatcher has a larger denominator;
        // a larger one (possible only with every recipient paused, where the weights do not
        // fix it) would overflow the error arithmetic.
        let max_denominator = (MAX_RECIPIENTS as u128) << 53;
        if stored > max_denominator {
            return Err(RestoreError::DenominatorOutOfRange {
                stored: state.denominator,
                max: max_denominator.to_string(),
            });
        }
        let mut d = Self::with_policy(state.leave_policy);
        let mut base = Vec::with_capacity(state.recipients.len());
        for (position, r) in state.recipients.iter().enumerate() {
            if d.index.contains_key(&r.id) {
                return Err(RestoreError::DuplicateId {
                    id: format!("{:?}", r.id),
                    position,
                });
            }
            let w = check_weight(&r.id, r.weight)
                .map_err(|source| RestoreError::InvalidWeight { position, source })?;
            let e: i128 = r
                .error_numerator
                .parse()
                .map_err(|_| RestoreError::BadNumber {
                    field: format!("recipients[{position}].error_numerator"),
                    text: r.error_numerator.clone(),
                })?;
            let limit = MAX_ABS_ERROR_ITEMS.checked_mul(stored as i128);
            if limit.is_none_or(|l| e.unsigned_abs() > l as u128) {
                return Err(RestoreError::ErrorOutOfRange { position });
            }
            d.index.insert(r.id.clone(), position);
            d.ids.push(r.id.clone());
            d.weights.push(w);
            base.push(e);
        }
        d.slope = scale_weights(d.weights.iter().copied());
        let sum: u128 = d.slope.iter().map(|&s| s as u128).sum();
        if sum > 0 && sum != stored {
            return Err(RestoreError::DenominatorMismatch {
                stored: state.denominator,
                computed: sum.to_string(),
            });
        }
        d.base = base;
        d.denom = stored;
        d.tau = (stored / TIE_DIVISOR) as i128;
        d.half = half_threshold(stored as i128);
        d.inv_denom = 1.0 / wide::approx_f64(stored as i128);
        d.active = d.slope.iter().filter(|&&s| s > 0).count();
        Ok(d)
    }
}

/// The one-at-a-time take loop on a chain given as (error, position) in decreasing error
/// order: repeatedly remove the later-added of those within τ of the largest error left;
/// returns the position that remains. `removed` and `heap` are reusable scratch.
fn survivor(
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

#[cfg(feature = "serde")]
impl<Id: Clone + Eq + Hash + Debug + Serialize> Serialize for Dispatcher<Id> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_state().serialize(serializer)
    }
}

#[cfg(feature = "serde")]
impl<'de, Id: Clone + Eq + Hash + Debug + Deserialize<'de>> Deserialize<'de> for Dispatcher<Id> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let state = DispatcherState::<Id>::deserialize(deserializer)?;
        Dispatcher::from_state(state).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
