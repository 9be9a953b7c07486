//! What can go wrong: [`Error`] for every operation on a [`Dispatcher`](super::Dispatcher),
//! [`RestoreError`] for a snapshot that cannot be restored, and [`InvalidWeight`], the detail
//! both carry for an unusable weight.

use std::fmt::{self, Debug};

use thiserror::Error;

use super::MAX_ABS_ERROR;

/// A weight that cannot be used: NaN, infinite or negative.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
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

/// The weight itself when it is finite and ≥ 0 (−0 read as 0), else why not.
pub(super) fn check_weight(id: &impl Debug, weight: f64) -> Result<f64, InvalidWeight> {
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

/// The operation a [`Error::OutOfRange`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// [`Dispatcher::add`](super::Dispatcher::add).
    Add,
    /// [`Dispatcher::set_weight`](super::Dispatcher::set_weight).
    SetWeight,
    /// [`Dispatcher::remove`](super::Dispatcher::remove).
    Remove,
    /// [`Dispatcher::configure`](super::Dispatcher::configure).
    Configure,
    /// [`Dispatcher::dispatch`](super::Dispatcher::dispatch) of a batch of `size` items.
    Dispatch {
        /// The batch size asked for.
        size: u64,
    },
}

/// Why an operation on a [`Dispatcher`](super::Dispatcher) failed; the dispatcher is then
/// unchanged. Each variant says which operations return it. Recipients are named by their id,
/// as `{:?}`.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// An id given twice: [`add`](super::Dispatcher::add) of an id already held (`entries` is
    /// `None`), or [`configure`](super::Dispatcher::configure) with the same id at two
    /// entries of the new weights (`entries` holds both positions, from 0).
    #[error("{}", duplicate_message(id, *entries))]
    DuplicateId {
        /// The id, as `{:?}`.
        id: String,
        /// For `configure`: the positions of its first and second entries.
        entries: Option<(usize, usize)>,
    },
    /// No recipient with this id is held: [`set_weight`](super::Dispatcher::set_weight),
    /// [`remove`](super::Dispatcher::remove),
    /// [`set_cumulative_error`](super::Dispatcher::set_cumulative_error).
    #[error("no recipient {id} is held")]
    UnknownId {
        /// The id, as `{:?}`.
        id: String,
    },
    /// A weight is NaN, infinite or negative: [`add`](super::Dispatcher::add),
    /// [`set_weight`](super::Dispatcher::set_weight),
    /// [`configure`](super::Dispatcher::configure).
    #[error(transparent)]
    InvalidWeight(#[from] InvalidWeight),
    /// More than [`MAX_RECIPIENTS`](super::MAX_RECIPIENTS): [`add`](super::Dispatcher::add) to a full dispatcher
    /// (`id` names the recipient refused) or [`configure`](super::Dispatcher::configure) with
    /// too many (`id` is `None`).
    #[error("{}", too_many_message(*count, *limit, id.as_deref()))]
    TooManyRecipients {
        /// How many recipients there would be.
        count: usize,
        /// [`MAX_RECIPIENTS`](super::MAX_RECIPIENTS).
        limit: usize,
        /// For `add`: the recipient refused, as `{:?}`.
        id: Option<String>,
    },
    /// A cumulative error would leave the supported range ([`MAX_ABS_ERROR`] items): rescaling
    /// the errors to new weights ([`add`](super::Dispatcher::add),
    /// [`set_weight`](super::Dispatcher::set_weight), [`configure`](super::Dispatcher::configure)),
    /// spreading a departing recipient's error ([`remove`](super::Dispatcher::remove)), or
    /// splitting a batch ([`dispatch`](super::Dispatcher::dispatch)).
    #[error("{}", out_of_range_message(*operation, id.as_deref()))]
    OutOfRange {
        /// The operation refused.
        operation: Operation,
        /// The recipient concerned, as `{:?}` (`None` for `configure`).
        id: Option<String>,
    },
    /// No recipient is active (none held, or all paused): [`dispatch`](super::Dispatcher::dispatch)
    /// of a positive batch (`size` holds it), [`next`](super::Dispatcher::next) (`size` is
    /// `None`).
    #[error("{}", no_active_message(*size, *held))]
    NoActiveRecipient {
        /// The batch size asked for, for `dispatch`.
        size: Option<u64>,
        /// How many recipients are held (all paused).
        held: usize,
    },
    /// [`dispatch`](super::Dispatcher::dispatch) of a batch larger than [`MAX_BATCH_SIZE`](super::MAX_BATCH_SIZE).
    #[error("batch size {size} exceeds the maximum of {max}")]
    SizeTooLarge {
        /// The batch size asked for.
        size: u64,
        /// [`MAX_BATCH_SIZE`](super::MAX_BATCH_SIZE).
        max: u64,
    },
    /// [`set_cumulative_error`](super::Dispatcher::set_cumulative_error) with an error that
    /// is NaN, infinite, or larger than [`MAX_ABS_ERROR`] in magnitude.
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

fn duplicate_message(id: &str, entries: Option<(usize, usize)>) -> String {
    match entries {
        None => format!("recipient {id} is already held; ids must be unique"),
        Some((first, second)) => format!(
            "recipient {id} appears twice in the weights (entries {first} and {second}, from 0)"
        ),
    }
}

fn too_many_message(count: usize, limit: usize, id: Option<&str>) -> String {
    match id {
        Some(id) => format!(
            "cannot add recipient {id}: the dispatcher already holds the maximum of {limit} recipients"
        ),
        None => format!("{count} recipients given; at most {limit} are supported"),
    }
}

fn out_of_range_message(operation: Operation, id: Option<&str>) -> String {
    let id = id.unwrap_or("a recipient");
    let range = "would push the cumulative errors out of the supported range";
    match operation {
        Operation::Add => format!("adding recipient {id} {range}"),
        Operation::SetWeight => format!("setting the weight of {id} {range}"),
        Operation::Remove => format!("removing {id} {range}"),
        Operation::Configure => format!("the new weights {range}"),
        Operation::Dispatch { size } => format!(
            "dispatching {size} items would push the cumulative error of {id} beyond {MAX_ABS_ERROR} items"
        ),
    }
}

fn no_active_message(size: Option<u64>, held: usize) -> String {
    let what = match size {
        Some(size) => format!("dispatch {size} items"),
        None => "hand out an item".to_owned(),
    };
    format!("cannot {what}: no active recipient (all {held} held are paused or none is held)")
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Add => "add",
            Operation::SetWeight => "set_weight",
            Operation::Remove => "remove",
            Operation::Configure => "configure",
            Operation::Dispatch { .. } => "dispatch",
        })
    }
}

/// Why [`Dispatcher::add`](super::Dispatcher::add) failed.
#[deprecated(note = "one error type for every operation: use `dispatch::Error`")]
pub type AddError = Error;
/// Why [`Dispatcher::set_weight`](super::Dispatcher::set_weight) failed.
#[deprecated(note = "one error type for every operation: use `dispatch::Error`")]
pub type SetWeightError = Error;
/// Why [`Dispatcher::remove`](super::Dispatcher::remove) failed.
#[deprecated(note = "one error type for every operation: use `dispatch::Error`")]
pub type RemoveError = Error;
/// Why [`Dispatcher::configure`](super::Dispatcher::configure) failed.
#[deprecated(note = "one error type for every operation: use `dispatch::Error`")]
pub type ConfigureError = Error;
/// Why [`Dispatcher::dispatch`](super::Dispatcher::dispatch) failed.
#[deprecated(note = "one error type for every operation: use `dispatch::Error`")]
pub type DispatchError = Error;
/// Why [`Dispatcher::next`](super::Dispatcher::next) failed.
#[deprecated(note = "one error type for every operation: use `dispatch::Error`")]
pub type NextError = Error;
/// Why [`Dispatcher::set_cumulative_error`](super::Dispatcher::set_cumulative_error) failed.
#[deprecated(note = "one error type for every operation: use `dispatch::Error`")]
pub type SetErrorError = Error;

/// Why [`Dispatcher::from_state`](super::Dispatcher::from_state) refused a snapshot. Kept
/// apart from [`Error`](enum@Error): these are problems of the snapshot's text and
/// consistency (format version, numbers written as text, the stored denominator), each naming
/// its place in the snapshot, not refusals of an operation on a live dispatcher.
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
        /// [`STATE_FORMAT_VERSION`](super::STATE_FORMAT_VERSION).
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
        /// What is wrong, naming the recipient.
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
    #[error("recipients[{position}]: cumulative error of {id} out of the supported range")]
    ErrorOutOfRange {
        /// Position in `recipients`.
        position: usize,
        /// The recipient, as `{:?}`.
        id: String,
    },
    /// More than [`MAX_RECIPIENTS`](super::MAX_RECIPIENTS) recipients.
    #[error("{count} recipients; at most {limit} are supported")]
    TooManyRecipients {
        /// How many were stored.
        count: usize,
        /// [`MAX_RECIPIENTS`](super::MAX_RECIPIENTS).
        limit: usize,
    },
    /// The stored denominator is larger than any set of weights gives (a snapshot with no
    /// active recipient cannot be checked against its weights, so its denominator is checked
    /// against this bound instead).
    #[error("denominator {stored} is above the largest possible, {max}")]
    DenominatorOutOfRange {
        /// As stored.
        stored: String,
        /// The largest denominator weights can give: [`MAX_RECIPIENTS`](super::MAX_RECIPIENTS) × 2⁵³.
        max: String,
    },
}
