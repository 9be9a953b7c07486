//! Snapshots: a [`Dispatcher`] as plain data ([`DispatcherState`]), exact to the last unit of
//! every cumulative error, and back, checked ([`Dispatcher::from_state`]).

use std::fmt::Debug;
use std::hash::Hash;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::error::check_weight;
use super::{
    Dispatcher, LeavePolicy, MAX_ABS_ERROR_ITEMS, MAX_RECIPIENTS, RestoreError,
    STATE_FORMAT_VERSION, TIE_DIVISOR, half_threshold, scale_weights, wide,
};

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
#[non_exhaustive]
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

impl<Id: Clone + Eq + Hash + Debug> Dispatcher<Id> {
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
                return Err(RestoreError::ErrorOutOfRange {
                    position,
                    id: format!("{:?}", r.id),
                });
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
