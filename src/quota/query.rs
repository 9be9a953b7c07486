//! The four quota queries and the engine they share.

use smallvec::SmallVec;
use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::schema::{LookupError, QuestionId, ResponseId, ResponseSet, Schema};

/// Which query to run; see the [module documentation](super) for the exact rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum QuotaMethod {
    /// Askia `AvailableQuota`: responses with to-do > 0, largest to-do first.
    Available,
    /// Askia `AvailableBalancedQuota`: responses with to-do > 0, the least filled relative to
    /// its target share first ((Target% − Observed%) / Target%, descending).
    AvailableBalanced,
    /// Askia `QuotaList`: every response, over quota too, largest to-do first.
    List,
    /// Askia `BalancedQuotaList`: every response, Target% − Observed% descending.
    BalancedList,
}

impl QuotaMethod {
    /// The four methods.
    pub const ALL: [QuotaMethod; 4] = [
        QuotaMethod::Available,
        QuotaMethod::AvailableBalanced,
        QuotaMethod::List,
        QuotaMethod::BalancedList,
    ];

    /// The method's name: `available`, `available_balanced`, `list` or `balanced_list`.
    pub const fn name(self) -> &'static str {
        match self {
            QuotaMethod::Available => "available",
            QuotaMethod::AvailableBalanced => "available_balanced",
            QuotaMethod::List => "list",
            QuotaMethod::BalancedList => "balanced_list",
        }
    }

    /// The method with this [`name`](Self::name), if any.
    pub fn from_name(name: &str) -> Option<QuotaMethod> {
        QuotaMethod::ALL.into_iter().find(|m| m.name() == name)
    }

    /// True for the methods that leave out responses whose to-do is 0 or less.
    pub const fn only_available(self) -> bool {
        matches!(
            self,
            QuotaMethod::Available | QuotaMethod::AvailableBalanced
        )
    }

    /// True for the methods ordered by target shares rather than by to-do.
    pub const fn balanced(self) -> bool {
        matches!(
            self,
            QuotaMethod::AvailableBalanced | QuotaMethod::BalancedList
        )
    }
}

/// A query on a target question, with an optional context: the equivalent of Askia's
/// `Product.AvailableQuota(Gender: 2, Region: 3)`.
///
/// Each context entry fixes a question to a response or to a group of responses. The order of
/// the entries matters only to relaxation, which drops the last-listed first.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Query {
    pub(crate) question: QuestionId,
    pub(crate) context: SmallVec<[(QuestionId, ResponseSet); 4]>,
}

impl Query {
    /// A query on `question` without context.
    pub fn new(question: QuestionId) -> Query {
        Query {
            question,
            context: SmallVec::new(),
        }
    }

    /// Adds `question` = `response` to the context (replacing an earlier entry on the same
    /// question, in its place).
    pub fn given(self, question: QuestionId, response: ResponseId) -> Query {
        self.given_any(question, [response])
    }

    /// Adds `question` ∈ `responses` (a group) to the context (replacing an earlier entry on the
    /// same question, in its place).
    pub fn given_any(
        mut self,
        question: QuestionId,
        responses: impl IntoIterator<Item = ResponseId>,
    ) -> Query {
        let set: ResponseSet = responses.into_iter().collect();
        match self.context.iter_mut().find(|(q, _)| *q == question) {
            Some(entry) => entry.1 = set,
            None => self.context.push((question, set)),
        }
        self
    }

    /// Builds a query from names: the target question and `(question, responses)` context
    /// entries in order (one response, or several for a group).
    ///
    /// # Errors
    /// [`QueryError::Lookup`] naming the first unknown question or response, and the errors of
    /// [`QuotaTree::query`](super::QuotaTree::query) that do not need a tree (a context entry on the target question, an
    /// empty group, a question listed twice).
    pub fn from_names<'a>(
        schema: &Schema,
        question: &str,
        context: impl IntoIterator<Item = (&'a str, &'a [&'a str])>,
    ) -> Result<Query, QueryError> {
        let mut query = Query::new(schema.question(question)?);
        for (q, responses) in context {
            let qid = schema.question(q)?;
            if query.context.iter().any(|(c, _)| *c == qid) {
                return Err(QueryError::RepeatedContext {
                    question: q.to_owned(),
                });
            }
            let set = responses
                .iter()
                .map(|r| schema.response(qid, r))
                .collect::<Result<ResponseSet, _>>()?;
            query.context.push((qid, set));
        }
        query.validate(schema)?;
        Ok(query)
    }

    /// Appends a context entry as is (callers guarantee the question is not there yet).
    pub(crate) fn push_context(&mut self, question: QuestionId, responses: ResponseSet) {
        self.context.push((question, responses));
    }

    /// The target question.
    pub fn question(&self) -> QuestionId {
        self.question
    }

    /// The context entries, in order.
    pub fn context(&self) -> &[(QuestionId, ResponseSet)] {
        &self.context
    }

    pub(crate) fn validate(&self, schema: &Schema) -> Result<(), QueryError> {
        let unknown = |q: QuestionId| QueryError::UnknownQuestion {
            question: q.index(),
        };
        if self.question.index() >= schema.len() {
            return Err(unknown(self.question));
        }
        for (i, (q, set)) in self.context.iter().enumerate() {
            if q.index() >= schema.len() {
                return Err(unknown(*q));
            }
            let name = || schema.question_name(*q).to_owned();
            if *q == self.question {
                return Err(QueryError::ContextOnTargetQuestion { question: name() });
            }
            if self.context[..i].iter().any(|(p, _)| p == q) {
                return Err(QueryError::RepeatedContext { question: name() });
            }
            if set.is_empty() {
                return Err(QueryError::EmptyGroup { question: name() });
            }
            let count = schema.response_count(*q);
            if let Some(r) = set.iter().find(|r| r.index() >= count) {
                return Err(QueryError::UnknownResponse {
                    question: name(),
                    response: r.index(),
                });
            }
        }
        Ok(())
    }
}

/// Why a query could not run.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The target question or a context question is an id the tree's schema does not have.
    #[error("query: question id {question} is not in the schema")]
    UnknownQuestion {
        /// The question id's index.
        question: usize,
    },
    /// A context entry names a response id its question does not have.
    #[error("query: response id {response} is not a response of question \"{question}\"")]
    UnknownResponse {
        /// The question's name.
        question: String,
        /// The response id's index.
        response: usize,
    },
    /// A context entry is an empty group.
    #[error("query: the context group for question \"{question}\" is empty")]
    EmptyGroup {
        /// The question's name.
        question: String,
    },
    /// A context entry is on the target question itself.
    #[error("query: question \"{question}\" is the target question and cannot be in the context")]
    ContextOnTargetQuestion {
        /// The question's name.
        question: String,
    },
    /// Two context entries are on the same question.
    #[error("query: question \"{question}\" is in the context twice")]
    RepeatedContext {
        /// The question's name.
        question: String,
    },
    /// The answers were made for another schema.
    #[error("query: the answers do not fit the tree's schema ({expected} questions)")]
    AnswersDoNotFit {
        /// The number of questions of the tree's schema.
        expected: usize,
    },
    /// A name that the schema does not know (queries built from names).
    #[error("query: {0}")]
    Lookup(#[from] LookupError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_round_trip() {
        for m in QuotaMethod::ALL {
            assert_eq!(QuotaMethod::from_name(m.name()), Some(m));
        }
        assert_eq!(QuotaMethod::from_name("Available"), None);
    }
}
