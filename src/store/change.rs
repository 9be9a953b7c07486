//! Administrative changes to a survey's targets, and the one rule that reconciles a node's
//! catalogue (or a snapshot) with them.
//!
//! Once a survey exists in a store, the store's maxes are authoritative. Every change to a
//! max (a target raised or lowered, a category closed or reopened) is recorded there, in
//! order. A node that joins, or a snapshot restored, carries the catalogue's maxes; a
//! counter **agrees** when its catalogue max is the store's max now, or the max it had
//! before its first recorded change (the catalogue predates the changes, which apply on
//! top). Anything else is refused with [`StoreError::TargetMismatch`], naming the counter,
//! both values and the changes — never silently keeping one side.

use super::{CounterId, Layout, StoreError};

/// What an administrative change did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ChangeKind {
    /// A target (or a cell's max) set to a new value.
    Target,
    /// A category closed: its max set to 0, held slots kept.
    Close,
    /// A closed category reopened at the max it had before the close.
    Reopen,
}

impl ChangeKind {
    /// The kind's name as stores keep it (`target`, `close`, `reopen`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Target => "target",
            ChangeKind::Close => "close",
            ChangeKind::Reopen => "reopen",
        }
    }

    /// The kind of a name from [`as_str`](Self::as_str).
    pub fn parse(name: &str) -> Option<ChangeKind> {
        match name {
            "target" => Some(ChangeKind::Target),
            "close" => Some(ChangeKind::Close),
            "reopen" => Some(ChangeKind::Reopen),
            _ => None,
        }
    }
}

/// One administrative change to a counter's max, as the store recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Change {
    /// Increasing in the order the store applied the survey's changes.
    pub seq: u64,
    /// The counter (categories first, then quota cells).
    pub counter: CounterId,
    /// Its max before.
    pub from: u32,
    /// Its max after.
    pub to: u32,
    /// Why.
    pub kind: ChangeKind,
}

/// The max `counter` had before its first change in `changes`, if it has one.
pub fn original_max(changes: &[Change], counter: CounterId) -> Option<u32> {
    changes
        .iter()
        .filter(|c| c.counter == counter)
        .min_by_key(|c| c.seq)
        .map(|c| c.from)
}

/// True when the counter is closed: its latest change is a [`ChangeKind::Close`].
pub fn is_closed(changes: &[Change], counter: CounterId) -> bool {
    latest(changes, counter).is_some_and(|c| c.kind == ChangeKind::Close)
}

/// The counter's latest change.
pub fn latest(changes: &[Change], counter: CounterId) -> Option<&Change> {
    changes
        .iter()
        .filter(|c| c.counter == counter)
        .max_by_key(|c| c.seq)
}

/// Checks a node's layout (`given`, from its catalogue) against the store's (`current`:
/// names and the maxes now) and the changes the store recorded, by the rule of the module
/// docs.
///
/// # Errors
/// [`StoreError::LayoutMismatch`] when the counters' names or number differ;
/// [`StoreError::TargetMismatch`] for the first counter whose max agrees with neither the
/// store's now nor the one before its changes.
pub fn reconcile(given: &Layout, current: &Layout, changes: &[Change]) -> Result<(), StoreError> {
    let survey = current.survey().to_string();
    let show = |c: Option<&super::Counter>| {
        c.map_or_else(|| "none".to_string(), |c| format!("{} {}", c.name, c.max))
    };
    let (a, b) = (given.counters(), current.counters());
    for i in 0..a.len().max(b.len()) {
        let (mine, theirs) = (a.get(i), b.get(i));
        match (mine, theirs) {
            (Some(m), Some(t)) if m.name == t.name => {
                let original = original_max(changes, i as CounterId);
                if m.max == t.max || original == Some(m.max) {
                    continue;
                }
                return Err(StoreError::TargetMismatch {
                    survey,
                    counter: m.name.clone(),
                    given: m.max,
                    stored: t.max,
                    original,
                    changes: changes
                        .iter()
                        .filter(|c| c.counter == i as CounterId)
                        .count(),
                });
            }
            _ => {
                return Err(StoreError::LayoutMismatch {
                    survey,
                    index: i,
                    stored: show(theirs),
                    given: show(mine),
                });
            }
        }
    }
    Ok(())
}
