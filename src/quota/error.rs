//! Why a tree could not be edited ([`EditError`]) or interviews counted ([`CountError`]).
//!
//! The quota module keeps one error enum per layer rather than one for all: edits by id
//! (`EditError`), counting (`CountError`), queries by id (`QueryError`), trees from names
//! (`SpecError`, with the path of the bad node) and typed surveys (`BindError`). Their few
//! shared names (an unknown question or response, an empty group, answers of another schema)
//! carry different things — an id's index, a name, a path — so folding them would make every
//! operation return variants it can never produce.

use thiserror::Error;

use super::node::NodeId;
use super::tree::{MAX_COUNT, MAX_NODES};

/// Why a node could not be added or changed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EditError {
    /// The node id is not in this tree (it came from another tree).
    #[error("no node {node} in this tree")]
    UnknownNode {
        /// The id given.
        node: NodeId,
    },
    /// A condition names a question id the tree's schema does not have.
    #[error("{path}: question id {question} is not in the schema")]
    UnknownQuestion {
        /// Where the node is (or would be), e.g. `tree.children[0]`.
        path: String,
        /// The question id's index.
        question: usize,
    },
    /// A condition names a response id its question does not have.
    #[error("{path}: response id {response} is not a response of question \"{question}\"")]
    UnknownResponse {
        /// Where the node is (or would be).
        path: String,
        /// The question's name.
        question: String,
        /// The response id's index.
        response: usize,
    },
    /// A group condition has no response.
    #[error("{path}: the group of responses of question \"{question}\" is empty")]
    EmptyGroup {
        /// Where the node is (or would be).
        path: String,
        /// The question's name.
        question: String,
    },
    /// The condition and an ancestor's condition on the same question have no response in
    /// common, so no interview could ever count in the node.
    #[error(
        "{path}: no response of question \"{question}\" satisfies both this node and its ancestor"
    )]
    Contradiction {
        /// Where the node is (or would be).
        path: String,
        /// The question's name.
        question: String,
    },
    /// A min target above the max target.
    #[error("{path}: min target {min} is greater than max target {max}")]
    MinAboveMax {
        /// Where the node is.
        path: String,
        /// The min target given.
        min: u64,
        /// The max target given.
        max: u64,
    },
    /// A target or observed count above [`MAX_COUNT`].
    #[error("{path}: {what} {value} is above the maximum {MAX_COUNT}")]
    TooLarge {
        /// Where the node is.
        path: String,
        /// Which number (`target`, `max target`, `observed`).
        what: &'static str,
        /// The value given.
        value: u64,
    },
    /// The tree already holds [`MAX_NODES`] nodes.
    #[error("{path}: the tree already holds the most nodes it can ({MAX_NODES})")]
    TooManyNodes {
        /// Where the node would be.
        path: String,
    },
}

/// Why interviews could not be counted or a respondent checked against the tree.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CountError {
    /// The answers were made for another schema (another number of questions, or a response id
    /// a question of this tree's schema does not have).
    #[error("the answers do not fit the tree's schema ({expected} questions)")]
    AnswersDoNotFit {
        /// The number of questions of the tree's schema.
        expected: usize,
    },
    /// Recording would take a node's observed count above [`MAX_COUNT`]; nothing was counted.
    #[error("{path}: recording would take the observed count above the maximum {MAX_COUNT}")]
    Overflow {
        /// The node that is full to the cap.
        path: String,
    },
    /// Removing an interview from a node whose observed count is 0; nothing was removed.
    #[error("{path}: cannot remove an interview, the observed count is already 0")]
    Underflow {
        /// The node whose count is 0.
        path: String,
    },
    /// The pending counts given do not have one entry per node.
    #[error("pending counts: expected one per node ({expected}), got {found}")]
    PendingLength {
        /// The number of nodes of the tree.
        expected: usize,
        /// The number of entries given.
        found: usize,
    },
}
