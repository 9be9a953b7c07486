//! A respondent's answers, and the respondent.

use smallvec::SmallVec;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::{LookupError, QuestionId, RespondentId, ResponseId, Schema, UNKNOWN};

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

    /// True when every answer is a response the schema has ([`check`](Self::check)).
    pub fn fits(&self, schema: &Schema) -> bool {
        self.check(schema).is_ok()
    }

    /// Checks that these answers were made for `schema`: one slot per question, each unknown
    /// or a response the question has. Answers built by name always fit; deserialised ones
    /// (or ones made for another schema) may not.
    ///
    /// # Errors
    /// [`AnswersError`] naming the wrong length or the first answer outside its question.
    pub fn check(&self, schema: &Schema) -> Result<(), AnswersError> {
        if self.0.len() != schema.len() {
            return Err(AnswersError::Length {
                found: self.0.len(),
                expected: schema.len(),
            });
        }
        for (q, &r) in self.0.iter().enumerate() {
            let question = QuestionId(q as u16);
            let responses = schema.response_count(question);
            if r != UNKNOWN && usize::from(r) >= responses {
                return Err(AnswersError::Response {
                    question: schema.question_name(question).to_owned(),
                    response: r,
                    responses,
                });
            }
        }
        Ok(())
    }

    /// These answers made to fit `schema`: a response the question lacks becomes unknown, a
    /// missing slot is unknown, an extra one is dropped.
    pub fn fitted(&self, schema: &Schema) -> Answers {
        let mut fitted = Answers::unknown(schema);
        for (q, slot) in fitted.0.iter_mut().enumerate() {
            let responses = schema.response_count(QuestionId(q as u16));
            match self.0.get(q) {
                Some(&r) if usize::from(r) < responses => *slot = r,
                _ => {}
            }
        }
        fitted
    }
}

/// Why answers do not fit a schema ([`Answers::check`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswersError {
    /// Not one slot per question of the schema.
    #[error("{found} answer slots for a schema of {expected} questions")]
    Length {
        /// Slots given.
        found: usize,
        /// Questions in the schema.
        expected: usize,
    },
    /// An answer is not a response of its question.
    #[error("answer {response} to question `{question}`: it has responses 0 to {} only", .responses.saturating_sub(1))]
    Response {
        /// The question.
        question: String,
        /// The response index given.
        response: u16,
        /// How many responses the question has.
        responses: usize,
    },
}

/// One person in the stream: an id and what is known of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Respondent {
    /// The platform's id for the respondent: its key (a UUID, any string) or a number.
    pub id: RespondentId,
    /// What the respondent answered so far.
    pub answers: Answers,
}

impl Respondent {
    /// A respondent with these answers; `id` is a number or a [`RespondentId`]
    /// (`RespondentId::key("…")?` for the platform's string key).
    pub fn new(id: impl Into<RespondentId>, answers: Answers) -> Respondent {
        Respondent {
            id: id.into(),
            answers,
        }
    }
}
