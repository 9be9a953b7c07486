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

use smallvec::SmallVec;
use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

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

/// A set of responses of one question, as a bitset (inline for up to 64 responses).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct ResponseSet(SmallVec<[u64; 1]>);

impl ResponseSet {
    /// The empty set.
    pub fn new() -> ResponseSet {
        ResponseSet::default()
    }

    /// Adds a response.
    pub fn insert(&mut self, response: ResponseId) {
        let (word, bit) = (response.index() / 64, response.index() % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    /// True when the response is in the set.
    #[inline]
    pub fn contains(&self, response: ResponseId) -> bool {
        let (word, bit) = (response.index() / 64, response.index() % 64);
        self.0.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// The responses in the set, in order.
    pub fn iter(&self) -> impl Iterator<Item = ResponseId> + '_ {
        self.0.iter().enumerate().flat_map(|(w, &word)| {
            (0..64)
                .filter(move |b| word & (1 << b) != 0)
                .map(move |b| ResponseId((w * 64 + b) as u16))
        })
    }

    /// True when the set has no response.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }
}

impl FromIterator<ResponseId> for ResponseSet {
    fn from_iter<I: IntoIterator<Item = ResponseId>>(iter: I) -> Self {
        let mut set = ResponseSet::new();
        for r in iter {
            set.insert(r);
        }
        set
    }
}

/// Who may be shown a category: a typed predicate over a respondent's answers.
///
/// Evaluated in three-valued logic: a clause on a question whose answer is unknown is neither
/// true nor false, and a respondent is eligible only when the whole rule is true. So an unknown
/// answer never satisfies a rule on it, not even under [`Rule::Not`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Rule {
    /// Everyone is eligible.
    #[default]
    Everyone,
    /// Every sub-rule must hold (an empty list holds).
    All(Vec<Rule>),
    /// At least one sub-rule must hold (an empty list does not).
    Any(Vec<Rule>),
    /// The sub-rule must be false (not merely unknown).
    Not(Box<Rule>),
    /// The answer to `question` is one of `responses`.
    OneOf {
        /// The question.
        question: QuestionId,
        /// The accepted responses.
        responses: ResponseSet,
    },
}

/// Why an eligibility rule could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RuleError {
    /// A clause is not of the form `question=response|response`.
    #[error("clause `{clause}` is not of the form question=response|response")]
    Malformed {
        /// The clause as written.
        clause: String,
    },
    /// A clause names a question or response the schema does not have.
    #[error(transparent)]
    Unknown(#[from] LookupError),
}

impl Rule {
    /// `question` is one of `responses`.
    pub fn one_of(question: QuestionId, responses: impl IntoIterator<Item = ResponseId>) -> Rule {
        Rule::OneOf {
            question,
            responses: responses.into_iter().collect(),
        }
    }

    /// Reads the catalogue form: `question=resp|resp` clauses joined by `;`, all of which must
    /// hold. Blank text means everyone. Names are case-sensitive; spaces around names are
    /// ignored.
    ///
    /// # Errors
    /// [`RuleError::Malformed`] for a clause without `=` or with an empty side, and
    /// [`RuleError::Unknown`] naming an unknown question or response.
    pub fn parse(schema: &Schema, text: &str) -> Result<Rule, RuleError> {
        let mut clauses = Vec::new();
        for clause in text.split(';').map(str::trim).filter(|c| !c.is_empty()) {
            let malformed = || RuleError::Malformed {
                clause: clause.to_owned(),
            };
            let (q, rs) = clause.split_once('=').ok_or_else(malformed)?;
            let q = q.trim();
            if q.is_empty() {
                return Err(malformed());
            }
            let question = schema.question(q)?;
            let mut responses = ResponseSet::new();
            for r in rs.split('|').map(str::trim) {
                if r.is_empty() {
                    return Err(malformed());
                }
                responses.insert(schema.response(question, r)?);
            }
            clauses.push(Rule::OneOf {
                question,
                responses,
            });
        }
        Ok(match clauses.len() {
            0 => Rule::Everyone,
            1 => clauses.pop().expect("one clause"),
            _ => Rule::All(clauses),
        })
    }

    /// True when the rule certainly holds for these answers.
    pub fn matches(&self, answers: &Answers) -> bool {
        self.eval(answers) == Some(true)
    }

    fn eval(&self, answers: &Answers) -> Option<bool> {
        match self {
            Rule::Everyone => Some(true),
            Rule::OneOf {
                question,
                responses,
            } => answers.get(*question).map(|r| responses.contains(r)),
            Rule::Not(inner) => inner.eval(answers).map(|b| !b),
            Rule::All(rules) => {
                let mut result = Some(true);
                for rule in rules {
                    match rule.eval(answers) {
                        Some(false) => return Some(false),
                        None => result = None,
                        Some(true) => {}
                    }
                }
                result
            }
            Rule::Any(rules) => {
                let mut result = Some(false);
                for rule in rules {
                    match rule.eval(answers) {
                        Some(true) => return Some(true),
                        None => result = None,
                        Some(false) => {}
                    }
                }
                result
            }
        }
    }

    /// True when every question and response the rule names exists in the schema.
    pub fn fits(&self, schema: &Schema) -> bool {
        match self {
            Rule::Everyone => true,
            Rule::All(rules) | Rule::Any(rules) => rules.iter().all(|r| r.fits(schema)),
            Rule::Not(inner) => inner.fits(schema),
            Rule::OneOf {
                question,
                responses,
            } => {
                question.index() < schema.len()
                    && responses
                        .iter()
                        .all(|r| r.index() < schema.response_count(*question))
            }
        }
    }

    /// The share of the supply that satisfies the rule, with every question answered and
    /// questions independent as the schema's shares say.
    ///
    /// Exact by enumeration over the questions the rule names (others cannot change it).
    pub fn eligible_share(&self, schema: &Schema) -> f64 {
        let mut named = Vec::new();
        self.collect_questions(&mut named);
        named.sort_unstable();
        named.dedup();
        let mut answers = Answers::unknown(schema);
        share_rec(self, schema, &named, &mut answers, 1.0)
    }

    fn collect_questions(&self, out: &mut Vec<QuestionId>) {
        match self {
            Rule::Everyone => {}
            Rule::All(rules) | Rule::Any(rules) => {
                rules.iter().for_each(|r| r.collect_questions(out))
            }
            Rule::Not(inner) => inner.collect_questions(out),
            Rule::OneOf { question, .. } => out.push(*question),
        }
    }
}

fn share_rec(
    rule: &Rule,
    schema: &Schema,
    questions: &[QuestionId],
    answers: &mut Answers,
    weight: f64,
) -> f64 {
    match questions.split_first() {
        None => {
            if rule.matches(answers) {
                weight
            } else {
                0.0
            }
        }
        Some((&q, rest)) => {
            let mut total = 0.0;
            for (r, &share) in schema.get(q).shares.iter().enumerate() {
                if share > 0.0 {
                    answers.set(q, ResponseId(r as u16));
                    total += share_rec(rule, schema, rest, answers, weight * share);
                }
            }
            answers.clear(q);
            total
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_schema_names_are_exact() {
        let s = Schema::default_survey();
        let age = s.question("age").unwrap();
        assert_eq!(s.response(age, "18-34").unwrap().index(), 0);
        assert!(matches!(
            s.question("age_band"),
            Err(LookupError::UnknownQuestion { .. })
        ));
        assert!(matches!(
            s.response(age, "18–34"),
            Err(LookupError::UnknownResponse { .. })
        ));
        assert!(s.question("Gender").is_err(), "names are case-sensitive");
    }

    #[test]
    fn builder_rejects_bad_input() {
        assert!(matches!(
            Schema::builder().question("", ["a"]).build(),
            Err(SchemaError::EmptyQuestionName { index: 0 })
        ));
        assert!(matches!(
            Schema::builder()
                .question("a", ["x"])
                .question("a", ["y"])
                .build(),
            Err(SchemaError::DuplicateQuestion { .. })
        ));
        assert!(matches!(
            Schema::builder().question("a", ["x", "x"]).build(),
            Err(SchemaError::BadResponse { .. })
        ));
        assert!(matches!(
            Schema::builder()
                .question_with_shares("a", [("x", f64::NAN)])
                .build(),
            Err(SchemaError::BadShares { .. })
        ));
        assert!(matches!(
            Schema::builder()
                .question("a", Vec::<String>::new())
                .build(),
            Err(SchemaError::NoResponses { .. })
        ));
    }

    #[test]
    fn unknown_answers_never_satisfy_a_rule_on_them() {
        let s = Schema::default_survey();
        let g = s.question("gender").unwrap();
        let female = s.response(g, "female").unwrap();
        let is_female = Rule::one_of(g, [female]);
        let not_female = Rule::Not(Box::new(is_female.clone()));
        let unknown = Answers::unknown(&s);
        assert!(!is_female.matches(&unknown));
        assert!(!not_female.matches(&unknown));
        assert!(Rule::Any(vec![is_female.clone(), Rule::Everyone]).matches(&unknown));
        assert!(!Rule::Any(vec![]).matches(&unknown));
        assert!(Rule::All(vec![]).matches(&unknown));
    }

    #[test]
    fn parse_reports_the_bad_name() {
        let s = Schema::default_survey();
        assert_eq!(Rule::parse(&s, " ").unwrap(), Rule::Everyone);
        assert_eq!(
            Rule::parse(&s, "gender=woman").unwrap_err(),
            RuleError::Unknown(LookupError::UnknownResponse {
                question: "gender".into(),
                response: "woman".into()
            })
        );
        assert!(matches!(
            Rule::parse(&s, "gender"),
            Err(RuleError::Malformed { .. })
        ));
        assert!(matches!(
            Rule::parse(&s, "gender=female|"),
            Err(RuleError::Malformed { .. })
        ));
    }

    #[test]
    fn eligible_share_is_exact() {
        let s = Schema::default_survey();
        let rule = Rule::parse(&s, "gender=female;age=18-34|35-54").unwrap();
        assert!((rule.eligible_share(&s) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(Rule::Everyone.eligible_share(&s), 1.0);
        let never = Rule::Not(Box::new(Rule::Everyone));
        assert_eq!(never.eligible_share(&s), 0.0);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip() {
        let s = Schema::default_survey();
        let back: Schema = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let dup = r#"{"questions": [{"name": "a", "responses": ["x"]}, {"name": "a", "responses": ["y"]}]}"#;
        let err = serde_json::from_str::<Schema>(dup).unwrap_err();
        assert!(
            err.to_string().contains("question `a` is defined twice"),
            "{err}"
        );
        let rule = Rule::parse(&s, "gender=female;age=18-34|35-54").unwrap();
        let rule = Rule::Any(vec![rule, Rule::Not(Box::new(Rule::Everyone))]);
        let back: Rule = serde_json::from_str(&serde_json::to_string(&rule).unwrap()).unwrap();
        assert_eq!(back, rule);
    }

    #[test]
    fn cells_round_trip() {
        let s = Schema::default_survey();
        let n = s.cell_count_with_unknown().unwrap();
        assert_eq!(n, 3 * 4 * 4);
        for cell in 0..n {
            assert_eq!(s.cell_index(&s.answers_of_cell(cell)), cell);
        }
    }
}
