//! A respondent's answers, and the respondent.

use smallvec::SmallVec;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::{LookupError, QuestionId, ResponseId, Schema, UNKNOWN};

/// A respondent's answers, one slot per question of the schema; a slot may be unknown.
///
/// Stored inline for up to eight questions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Answers(SmallVec<[u16; 8]>);

impl Answers {
    /// All answers unknown.
    pub fn unknown(schema: &Schema) -> Answers {
        Answers(SmallVec::from_elem(UNKNOWN, schema.len()))
    }

    /// Builds answers from `(question, response)` names.
    ///
    /// # Errors
    /// [`LookupError`] naming the first unknown question or response.
    pub fn from_names<'a>(
        schema: &Schema,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Answers, LookupError> {
        let mut answers = Answers::unknown(schema);
        for (q, r) in pairs {
            let q = schema.question(q)?;
            let r = schema.response(q, r)?;
            answers.set(q, r);
        }
        Ok(answers)
    }

    /// The answer to a question, if known.
    #[inline]
    pub fn get(&self, question: QuestionId) -> Option<ResponseId> {
        match self.0.get(question.index()) {
            Some(&r) if r != UNKNOWN => Some(ResponseId(r)),
            _ => None,
        }
    }

    /// Records an answer.
    ///
    /// # Panics
    /// If the question is not in the schema these answers were made for.
    pub fn set(&mut self, question: QuestionId, response: ResponseId) {
        self.0[question.index()] = response.0;
    }

    /// Forgets an answer.
    pub fn clear(&mut self, question: QuestionId) {
        self.0[question.index()] = UNKNOWN;
    }

    /// The number of question slots.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no question slots.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when every answer is a response the schema has.
    pub fn fits(&self, schema: &Schema) -> bool {
        self.0.len() == schema.len()
            && self.0.iter().enumerate().all(|(q, &r)| {
                r == UNKNOWN || (r as usize) < schema.response_count(QuestionId(q as u16))
            })
    }
}

/// One person in the stream: an id and what is known of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Respondent {
    /// The caller's id for the respondent.
    pub id: u64,
    /// What the respondent answered so far.
    pub answers: Answers,
}

impl Respondent {
    /// A respondent with these answers.
    pub fn new(id: u64, answers: Answers) -> Respondent {
        Respondent { id, answers }
    }
}
