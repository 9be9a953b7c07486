//! A node's handle, target and condition: the vocabulary of a quota tree.

use std::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::error::EditError;
use super::tree::MAX_COUNT;
use crate::schema::{QuestionId, ResponseId, ResponseSet};

/// Handle of a node in a [`QuotaTree`](super::QuotaTree).
///
/// Ids are dense, from 0 (the root), in the order nodes were added; they stay valid for the life
/// of the tree (nodes are never removed), so a caller may keep per-node state of its own in a
/// `Vec` indexed by [`NodeId::index`] (for example pending reservations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(transparent))]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    /// The root of every tree.
    pub const ROOT: NodeId = NodeId(0);

    /// The id of the node added `index`-th (0 is the root). Any tree method given an id it
    /// does not have says so (`None` or [`EditError::UnknownNode`]).
    pub const fn new(index: u32) -> NodeId {
        NodeId(index)
    }

    /// The position of the node in the order nodes were added, from 0 (the root).
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The target of a quota node.
///
/// A single target is a min and a max that are equal. Targets may be set below the observed
/// count at any time (the cell is then over quota; nothing fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Target {
    /// No target: the node counts interviews but never constrains a query.
    #[default]
    None,
    /// Exactly this many completes (min = max).
    Single(u64),
    /// At least `min` and at most `max` completes.
    MinMax {
        /// Completes the cell must reach.
        min: u64,
        /// Completes the cell may not pass.
        max: u64,
    },
}

impl Target {
    /// The min target (`None` without a target).
    pub const fn min(self) -> Option<u64> {
        match self {
            Target::None => None,
            Target::Single(t) => Some(t),
            Target::MinMax { min, .. } => Some(min),
        }
    }

    /// The max target (`None` without a target).
    pub const fn max(self) -> Option<u64> {
        match self {
            Target::None => None,
            Target::Single(t) => Some(t),
            Target::MinMax { max, .. } => Some(max),
        }
    }

    /// True unless this is [`Target::None`].
    pub const fn is_some(self) -> bool {
        !matches!(self, Target::None)
    }

    pub(crate) fn check(self, path: impl FnOnce() -> String) -> Result<(), EditError> {
        match self {
            Target::None => Ok(()),
            Target::Single(t) if t > MAX_COUNT => Err(EditError::TooLarge {
                path: path(),
                what: "target",
                value: t,
            }),
            Target::Single(_) => Ok(()),
            Target::MinMax { min, max } if min > max => Err(EditError::MinAboveMax {
                path: path(),
                min,
                max,
            }),
            Target::MinMax { max, .. } if max > MAX_COUNT => Err(EditError::TooLarge {
                path: path(),
                what: "max target",
                value: max,
            }),
            Target::MinMax { .. } => Ok(()),
        }
    }
}

/// The condition of a non-root node: a question and one response, or a group of responses.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Condition {
    pub(crate) question: QuestionId,
    pub(crate) responses: ResponseSet,
    pub(crate) group: bool,
}

impl Condition {
    /// `question` = `response`.
    pub fn response(question: QuestionId, response: ResponseId) -> Condition {
        let mut responses = ResponseSet::new();
        responses.insert(response);
        Condition {
            question,
            responses,
            group: false,
        }
    }

    /// `question` ∈ `responses` (a group; an empty group is refused when the node is added).
    pub fn group(
        question: QuestionId,
        responses: impl IntoIterator<Item = ResponseId>,
    ) -> Condition {
        Condition {
            question,
            responses: responses.into_iter().collect(),
            group: true,
        }
    }

    /// The question the condition is on.
    pub fn question(&self) -> QuestionId {
        self.question
    }

    /// The responses that satisfy the condition.
    pub fn responses(&self) -> &ResponseSet {
        &self.responses
    }

    /// True for a group of responses (even a group of one), false for a single response.
    pub fn is_group(&self) -> bool {
        self.group
    }
}
