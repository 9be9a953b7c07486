//! Why a store call failed.

use std::sync::Arc;

use thiserror::Error;

use super::{CounterId, LayoutError};

/// The error a store's backend reported, kept as the source.
pub type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a [`QuotaStore`](super::QuotaStore) call failed.
#[derive(Clone, Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store could not be reached, or did not answer in time, after `attempts` tries
    /// with backoff. When `indeterminate` is true a request may have reached the store
    /// before its reply was lost, so its effect is unknown: repeat the call (it is
    /// idempotent) or read the respondent's state before telling them anything.
    #[error("the quota store is unavailable after {attempts} attempt(s){}: {source}", if *.indeterminate { " (the last request's outcome is unknown)" } else { "" })]
    Unavailable {
        /// How many times the call was tried.
        attempts: u32,
        /// True when a request may have been applied before its reply was lost.
        indeterminate: bool,
        /// The backend's own error.
        #[source]
        source: Source,
    },
    /// The store answered with an error or a reply this crate does not understand (a
    /// script missing, a key of the wrong type, a server that refuses the command).
    #[error("the quota store answered unexpectedly: {detail}")]
    Protocol {
        /// What was wrong.
        detail: String,
        /// The backend's own error, when there is one.
        #[source]
        source: Option<Source>,
    },
    /// A counter id outside the layout: nothing was changed.
    #[error("counter {counter} is not in the layout ({len} counters)")]
    UnknownCounter {
        /// The id given.
        counter: CounterId,
        /// How many counters the layout has.
        len: usize,
    },
    /// The survey already exists in the store with other counters or maxes: a node whose
    /// catalogue differs is refused rather than mixing two sets of targets.
    #[error(
        "survey {survey:?} exists in the store with counter {index} = {stored}, but this node has {given}"
    )]
    LayoutMismatch {
        /// The survey.
        survey: String,
        /// The first counter that differs.
        index: usize,
        /// The store's counter (`name max`), or `none`.
        stored: String,
        /// This node's counter, or `none`.
        given: String,
    },
    /// A counter's max on this node (its catalogue, or a snapshot) is neither the store's
    /// max now nor the one it had before the store's recorded changes: the two sides
    /// disagree about a target, and neither is kept silently
    /// ([`reconcile`](super::change::reconcile)).
    #[error(
        "survey {survey:?}: counter `{counter}` has max {given} here, but the store has {stored}{}",
        match original { Some(o) => format!(" after {changes} recorded change(s) from {o}"), None => " and no recorded change".to_string() }
    )]
    TargetMismatch {
        /// The survey.
        survey: String,
        /// The counter's name (a category's key; `key/cell` for a cell).
        counter: String,
        /// This node's max.
        given: u32,
        /// The store's max now.
        stored: u32,
        /// The max before the first recorded change, when there is one.
        original: Option<u32>,
        /// How many changes the store recorded for the counter.
        changes: usize,
    },
    /// The store's data was written by another version of the key layout.
    #[error(
        "survey {survey:?} uses key layout version {found}; this build reads version {expected}"
    )]
    Version {
        /// The survey.
        survey: String,
        /// The version found in the store.
        found: String,
        /// The version this build writes.
        expected: u32,
    },
    /// The layout given is not valid.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A respondent key that is empty or longer than 512 bytes.
    #[error("respondent key of {len} bytes: keys are 1 to 512 bytes")]
    RespondentKey {
        /// Its length.
        len: usize,
    },
}

impl StoreError {
    /// True when the failed call may nevertheless have been applied (its reply was lost):
    /// repeat it — every store call is idempotent — before telling a respondent anything.
    pub fn is_indeterminate(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable {
                indeterminate: true,
                ..
            }
        )
    }
}

impl PartialEq for StoreError {
    /// Equal when the same kind of failure with the same message (a backend's error is
    /// compared by its text).
    fn eq(&self, other: &StoreError) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
            && self.to_string() == other.to_string()
    }
}

impl Eq for StoreError {}

/// Checks a respondent key's length: stores keep it as part of a key or field.
pub(crate) fn check_respondent(respondent: &str) -> Result<(), StoreError> {
    if respondent.is_empty() || respondent.len() > 512 {
        return Err(StoreError::RespondentKey {
            len: respondent.len(),
        });
    }
    Ok(())
}
