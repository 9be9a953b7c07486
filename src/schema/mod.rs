//! Questions, responses, respondents and eligibility rules.
//!
//! Names are resolved exactly once, when a [`Schema`] and the things built on it are made; from
//! then on everything speaks in small `Copy` ids ([`QuestionId`], [`ResponseId`]), so the
//! decision path never compares a string.
//!
//! ```
//! use quotaroute::schema::{Answers, Rule, Schema};
//!
//! let schema = Schema::default_survey();
//! let gender = schema.question("gender")?;
//! let female = schema.response(gender, "female")?;
//!
//! let mut answers = Answers::unknown(&schema);
//! answers.set(gender, female);
//! let rule = Rule::parse(&schema, "gender=female;age=18-34|35-54")?;
//! // Age is not known yet, and an unknown answer never satisfies a rule on it.
//! assert!(!rule.matches(&answers));
//! answers.set(schema.question("age")?, schema.response(schema.question("age")?, "35-54")?);
//! assert!(rule.matches(&answers));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod answers;
mod id;
mod rule;

use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

pub use answers::{Answers, AnswersError, Respondent};
pub use id::{MAX_KEY_LEN, RespondentId, RespondentIdError};
pub use rule::{MAX_SHARE_STEPS, ResponseSet, Rule, RuleError};

/// Index of a question in its [`Schema`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(transparent))]
pub struct QuestionId(pub(crate) u16);

impl QuestionId {
    /// The position of the question in the schema, from 0.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index of a response within its question.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(transparent))]
pub struct ResponseId(pub(crate) u16);

impl ResponseId {
    /// The position of the response in its question, from 0.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// The most questions a schema may have, and the most responses a question may have.
///
/// Ids are `u16` with one value reserved for "unknown".
pub const MAX_ITEMS: usize = u16::MAX as usize - 1;

/// The most complete demographic cells the bounds and the exposure references enumerate
/// ([`Schema::complete_cells`]); larger schemas take their fallbacks or are refused.
pub const MAX_ENUMERATED_CELLS: usize = 100_000;

const UNKNOWN: u16 = u16::MAX;

/// One question: a name, its responses in order, and how the supply answers it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
pub struct Question {
    name: String,
    responses: Vec<String>,
    /// Share of the respondent supply giving each response; sums to 1.
    shares: Vec<f64>,
}

impl Question {
    /// The question's name, exactly as given.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The response names, in the question's order.
    pub fn responses(&self) -> &[String] {
        &self.responses
    }
    /// The share of the supply giving each response (sums to 1).
    pub fn shares(&self) -> &[f64] {
        &self.shares
    }
}

/// Why a schema could not be built.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// A question has an empty name.
    #[error("question {index} has an empty name")]
    EmptyQuestionName {
        /// Position of the question.
        index: usize,
    },
    /// Two questions have the same name.
    #[error("question `{name}` is defined twice")]
    DuplicateQuestion {
        /// The repeated name.
        name: String,
    },
    /// A question has no responses.
    #[error("question `{question}` has no responses")]
    NoResponses {
        /// The question.
        question: String,
    },
    /// A response name is empty or repeated within its question.
    #[error("question `{question}`: response `{response}` is empty or defined twice")]
    BadResponse {
        /// The question.
        question: String,
        /// The offending response name.
        response: String,
    },
    /// The supply shares of a question are not finite non-negative numbers summing to a positive
    /// total, or their count differs from the number of responses.
    #[error(
        "question `{question}`: supply shares must be {expected} finite numbers >= 0 with a positive sum"
    )]
    BadShares {
        /// The question.
        question: String,
        /// How many shares were expected.
        expected: usize,
    },
    /// More than [`MAX_ITEMS`] questions, or responses in one question.
    #[error("too many questions or responses (at most {MAX_ITEMS})")]
    TooLarge,
}

/// A name that the schema does not know.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No question has this name.
    #[error("unknown question `{question}`")]
    UnknownQuestion {
        /// The name looked up.
        question: String,
    },
    /// The question has no response with this name.
    #[error("question `{question}` has no response `{response}`")]
    UnknownResponse {
        /// The question.
        question: String,
        /// The response looked up.
        response: String,
    },
}

/// The questions a survey engine knows about its respondents, and how the supply answers them.
///
/// Immutable once built; share it by reference (or `Arc`) between catalogues and threads.
/// Deserialising validates it as [`SchemaBuilder::build`] does.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(try_from = "SchemaDocument")
)]
pub struct Schema {
    questions: Vec<Question>,
}

#[cfg(feature = "serde")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaDocument {
    questions: Vec<QuestionDocument>,
}

#[cfg(feature = "serde")]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionDocument {
    name: String,
    responses: Vec<String>,
    #[serde(default)]
    shares: Option<Vec<f64>>,
}

#[cfg(feature = "serde")]
impl TryFrom<SchemaDocument> for Schema {
    type Error = SchemaError;
    fn try_from(doc: SchemaDocument) -> Result<Self, SchemaError> {
        SchemaBuilder {
            questions: doc
                .questions
                .into_iter()
                .map(|q| (q.name, q.responses, q.shares))
                .collect(),
        }
        .build()
    }
}

/// Builds a [`Schema`] question by question.
#[derive(Clone, Debug, Default)]
pub struct SchemaBuilder {
    questions: Vec<(String, Vec<String>, Option<Vec<f64>>)>,
}

impl SchemaBuilder {
    /// Adds a question whose responses the supply gives with equal shares.
    pub fn question<S: Into<String>>(
        mut self,
        name: impl Into<String>,
        responses: impl IntoIterator<Item = S>,
    ) -> Self {
        let responses = responses.into_iter().map(Into::into).collect();
        self.questions.push((name.into(), responses, None));
        self
    }

    /// Adds a question with the supply's share of each response (normalised to sum to 1).
    pub fn question_with_shares<S: Into<String>>(
        mut self,
        name: impl Into<String>,
        responses: impl IntoIterator<Item = (S, f64)>,
    ) -> Self {
        let (responses, shares): (Vec<String>, Vec<f64>) =
            responses.into_iter().map(|(r, s)| (r.into(), s)).unzip();
        self.questions.push((name.into(), responses, Some(shares)));
        self
    }

    /// Validates every name and share.
    ///
    /// # Errors
    /// A [`SchemaError`] naming the first bad question or response.
    pub fn build(self) -> Result<Schema, SchemaError> {
        if self.questions.len() > MAX_ITEMS {
            return Err(SchemaError::TooLarge);
        }
        let mut questions: Vec<Question> = Vec::with_capacity(self.questions.len());
        for (index, (name, responses, shares)) in self.questions.into_iter().enumerate() {
            if name.is_empty() {
                return Err(SchemaError::EmptyQuestionName { index });
            }
            if questions.iter().any(|q| q.name == name) {
                return Err(SchemaError::DuplicateQuestion { name });
            }
            if responses.is_empty() {
                return Err(SchemaError::NoResponses { question: name });
            }
            if responses.len() > MAX_ITEMS {
                return Err(SchemaError::TooLarge);
            }
            for (i, r) in responses.iter().enumerate() {
                if r.is_empty() || responses[..i].contains(r) {
                    return Err(SchemaError::BadResponse {
                        question: name,
                        response: r.clone(),
                    });
                }
            }
            let shares = match shares {
                None => vec![1.0 / responses.len() as f64; responses.len()],
                Some(s) => {
                    let total: f64 = s.iter().sum();
                    let valid = s.len() == responses.len()
                        && s.iter().all(|x| x.is_finite() && *x >= 0.0)
                        && total.is_finite()
                        && total > 0.0;
                    if !valid {
                        return Err(SchemaError::BadShares {
                            question: name,
                            expected: responses.len(),
                        });
                    }
                    // Shares that already sum to 1 are kept as given, so a schema survives a
                    // serialise / deserialise round trip bit for bit.
                    if (total - 1.0).abs() <= 1e-9 {
                        s
                    } else {
                        s.iter().map(|x| x / total).collect()
                    }
                }
            };
            questions.push(Question {
                name,
                responses,
                shares,
            });
        }
        Ok(Schema { questions })
    }
}

impl Schema {
    /// Starts an empty schema.
    pub fn builder() -> SchemaBuilder {
        SchemaBuilder::default()
    }

    /// The default survey schema: `gender` ∈ {`female`, `male`}, `age` ∈ {`18-34`, `35-54`,
    /// `55+`}, `region` ∈ {`north`, `central`, `south`}, each answered uniformly.
    pub fn default_survey() -> Schema {
        Schema::builder()
            .question("gender", ["female", "male"])
            .question("age", ["18-34", "35-54", "55+"])
            .question("region", ["north", "central", "south"])
            .build()
            .expect("the default schema is valid")
    }

    /// The number of questions.
    pub fn len(&self) -> usize {
        self.questions.len()
    }

    /// True when the schema has no questions.
    pub fn is_empty(&self) -> bool {
        self.questions.is_empty()
    }

    /// The questions in order.
    pub fn questions(&self) -> &[Question] {
        &self.questions
    }

    /// Ids of all questions, in order.
    pub fn question_ids(&self) -> impl ExactSizeIterator<Item = QuestionId> + '_ {
        (0..self.questions.len()).map(|i| QuestionId(i as u16))
    }

    /// The question with this id.
    ///
    /// # Panics
    /// If the id is from another schema with more questions.
    pub fn get(&self, question: QuestionId) -> &Question {
        &self.questions[question.index()]
    }

    /// The number of responses of a question.
    pub fn response_count(&self, question: QuestionId) -> usize {
        self.get(question).responses.len()
    }

    /// Ids of a question's responses, in order.
    pub fn response_ids(&self, question: QuestionId) -> impl ExactSizeIterator<Item = ResponseId> {
        (0..self.response_count(question)).map(|i| ResponseId(i as u16))
    }

    /// Looks a question up by name (case-sensitive).
    ///
    /// # Errors
    /// [`LookupError::UnknownQuestion`] naming it.
    pub fn question(&self, name: &str) -> Result<QuestionId, LookupError> {
        self.questions
            .iter()
            .position(|q| q.name == name)
            .map(|i| QuestionId(i as u16))
            .ok_or_else(|| LookupError::UnknownQuestion {
                question: name.to_owned(),
            })
    }

    /// Looks a response of a question up by name (case-sensitive).
    ///
    /// # Errors
    /// [`LookupError::UnknownResponse`] naming the question and the response.
    pub fn response(&self, question: QuestionId, name: &str) -> Result<ResponseId, LookupError> {
        let q = self.get(question);
        q.responses
            .iter()
            .position(|r| r == name)
            .map(|i| ResponseId(i as u16))
            .ok_or_else(|| LookupError::UnknownResponse {
                question: q.name.clone(),
                response: name.to_owned(),
            })
    }

    /// The name of a question.
    pub fn question_name(&self, question: QuestionId) -> &str {
        &self.get(question).name
    }

    /// The name of a response.
    pub fn response_name(&self, question: QuestionId, response: ResponseId) -> &str {
        &self.get(question).responses[response.index()]
    }

    /// The number of demographic cells when every answer may also be unknown:
    /// Π (responses + 1), or `None` when that overflows `usize`.
    pub fn cell_count_with_unknown(&self) -> Option<usize> {
        self.questions
            .iter()
            .try_fold(1usize, |acc, q| acc.checked_mul(q.responses.len() + 1))
    }

    /// The cell of a set of answers in the mixed-radix numbering of
    /// [`cell_count_with_unknown`](Self::cell_count_with_unknown) (unknown is the last digit
    /// value of each question).
    ///
    /// # Performance
    /// One multiply-add per question; no allocation.
    pub fn cell_index(&self, answers: &Answers) -> usize {
        let mut index = 0usize;
        for (q, question) in self.questions.iter().enumerate() {
            let radix = question.responses.len() + 1;
            let digit = match answers.get(QuestionId(q as u16)) {
                Some(r) => r.index(),
                None => radix - 1,
            };
            index = index * radix + digit;
        }
        index
    }

    /// The number of demographic cells with every question answered: Π responses, or `None`
    /// when that overflows `usize`.
    pub fn complete_cell_count(&self) -> Option<usize> {
        self.questions
            .iter()
            .try_fold(1usize, |acc, q| acc.checked_mul(q.responses.len()))
    }

    /// Every demographic cell with every question answered, with its share of the supply
    /// (the product of the answers' shares), in row-major schema order (the last question
    /// varies fastest). Empty when the cells would overflow `usize`.
    pub fn complete_cells(&self) -> impl Iterator<Item = (Answers, f64)> + '_ {
        let count = self.complete_cell_count().unwrap_or(0);
        (0..count).map(move |cell| {
            let (mut rest, mut share) = (cell, 1.0);
            let mut answers = Answers::unknown(self);
            for (q, question) in self.questions.iter().enumerate().rev() {
                let radix = question.responses.len();
                answers.set(QuestionId(q as u16), ResponseId((rest % radix) as u16));
                share *= question.shares[rest % radix];
                rest /= radix;
            }
            (answers, share)
        })
    }

    /// The answers of a cell numbered as in [`cell_index`](Self::cell_index).
    pub fn answers_of_cell(&self, mut cell: usize) -> Answers {
        let mut answers = Answers::unknown(self);
        for (q, question) in self.questions.iter().enumerate().rev() {
            let radix = question.responses.len() + 1;
            let digit = cell % radix;
            cell /= radix;
            if digit + 1 < radix {
                answers.set(QuestionId(q as u16), ResponseId(digit as u16));
            }
        }
        answers
    }
}

#[cfg(test)]
mod tests;
