//! Eligibility rules: typed predicates over a respondent's answers, and the response sets
//! they test.

use smallvec::SmallVec;
use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::{Answers, LookupError, QuestionId, ResponseId, Schema};

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
#[cfg_attr(
    feature = "serde",
    serde(rename_all = "snake_case", deny_unknown_fields)
)]
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
    /// The rule's eligible share takes more than [`MAX_SHARE_STEPS`] steps: its clauses
    /// share so many questions that no decomposition keeps it small.
    #[error(
        "the rule's eligible share needs more than {limit} steps (too many questions shared between its clauses)"
    )]
    TooComplex {
        /// The limit ([`MAX_SHARE_STEPS`]).
        limit: u64,
    },
}

/// Most steps [`Rule::try_eligible_share`] takes (a step: one sub-rule under one set of
/// fixed answers). Clauses on disjoint questions cost one step each; only questions shared
/// between clauses are enumerated.
pub const MAX_SHARE_STEPS: u64 = 1 << 22;

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

    /// Three-valued: `Some(true)` holds, `Some(false)` fails, `None` waits on an unknown
    /// answer.
    pub(crate) fn eval(&self, answers: &Answers) -> Option<bool> {
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
    /// questions independent as the schema's shares say; NaN for a rule
    /// [`try_eligible_share`](Self::try_eligible_share) refuses (catalogues refuse such
    /// rules with a typed error).
    pub fn eligible_share(&self, schema: &Schema) -> f64 {
        self.try_eligible_share(schema).unwrap_or(f64::NAN)
    }

    /// [`eligible_share`](Self::eligible_share), exactly: clauses on disjoint questions are
    /// independent (a product for `All`, one minus the product of complements for `Any`), and
    /// only a question two clauses share is enumerated, response by response. A conjunction
    /// of 28 clauses costs 29 steps, not 2²⁸.
    ///
    /// # Errors
    /// [`RuleError::TooComplex`] past [`MAX_SHARE_STEPS`].
    pub fn try_eligible_share(&self, schema: &Schema) -> Result<f64, RuleError> {
        let mut share = Share {
            schema,
            fixed: Answers::unknown(schema),
            steps: 0,
        };
        share.of(self)
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

/// The eligible share of sub-rules under some fixed answers (conditioning).
struct Share<'a> {
    schema: &'a Schema,
    /// Answers fixed by enumerating a shared question (others unknown: free).
    fixed: Answers,
    steps: u64,
}

impl Share<'_> {
    /// The share of `rule`, kept exactly 0 when no answer satisfies it and exactly 1 when
    /// every answer does (complements would otherwise leave rounding residue such as
    /// −2.2e-16, and a rule nobody meets must read as nobody).
    fn of(&mut self, rule: &Rule) -> Result<f64, RuleError> {
        let s = self.eval(rule)?;
        Ok(if !s.possible {
            0.0
        } else if s.certain {
            1.0
        } else {
            s.share.clamp(0.0, 1.0)
        })
    }

    fn eval(&mut self, rule: &Rule) -> Result<Eval, RuleError> {
        self.steps += 1;
        if self.steps > MAX_SHARE_STEPS {
            return Err(RuleError::TooComplex {
                limit: MAX_SHARE_STEPS,
            });
        }
        Ok(match rule {
            Rule::Everyone => Eval::always(true),
            Rule::Not(inner) => {
                let e = self.eval(inner)?;
                Eval {
                    share: 1.0 - e.share,
                    possible: !e.certain,
                    certain: !e.possible,
                }
            }
            Rule::OneOf {
                question,
                responses,
            } => match self.fixed.get(*question) {
                Some(r) => Eval::always(responses.contains(r)),
                None => {
                    let shares = &self.schema.get(*question).shares;
                    let mut e = Eval {
                        share: 0.0,
                        possible: false,
                        certain: true,
                    };
                    for (r, &share) in shares.iter().enumerate().filter(|(_, s)| **s > 0.0) {
                        if responses.contains(ResponseId(r as u16)) {
                            e.share += share;
                            e.possible = true;
                        } else {
                            e.certain = false;
                        }
                    }
                    e
                }
            },
            Rule::All(rules) | Rule::Any(rules) => {
                let all = matches!(rule, Rule::All(_));
                match self.shared_question(rules) {
                    Some(q) => self.enumerate(rule, q)?,
                    None => {
                        // Independent clauses: a product for All, of complements for Any.
                        let mut e = Eval::always(all);
                        let mut product = 1.0;
                        for r in rules {
                            let c = self.eval(r)?;
                            if all {
                                product *= c.share;
                                e.possible &= c.possible;
                                e.certain &= c.certain;
                            } else {
                                product *= 1.0 - c.share;
                                e.possible |= c.possible;
                                e.certain |= c.certain;
                            }
                        }
                        e.share = if all { product } else { 1.0 - product };
                        e
                    }
                }
            }
        })
    }

    /// A free question that two of the clauses name, if any.
    fn shared_question(&self, rules: &[Rule]) -> Option<QuestionId> {
        let mut seen: Vec<(QuestionId, usize)> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let mut named = Vec::new();
            r.collect_questions(&mut named);
            named.sort_unstable();
            named.dedup();
            for q in named.into_iter().filter(|&q| self.fixed.get(q).is_none()) {
                match seen.iter().find(|(s, _)| *s == q) {
                    Some(&(_, first)) if first != i => return Some(q),
                    Some(_) => {}
                    None => seen.push((q, i)),
                }
            }
        }
        None
    }

    /// Σ over the responses r of `q`: share(r) · share of `rule` with q = r.
    fn enumerate(&mut self, rule: &Rule, q: QuestionId) -> Result<Eval, RuleError> {
        let schema = self.schema;
        let mut total = Eval {
            share: 0.0,
            possible: false,
            certain: true,
        };
        for (r, &share) in schema.get(q).shares.iter().enumerate() {
            if share > 0.0 {
                self.fixed.set(q, ResponseId(r as u16));
                let e = self.eval(rule);
                self.fixed.clear(q);
                let e = e?;
                total.share += share * e.share;
                total.possible |= e.possible;
                total.certain &= e.certain;
            }
        }
        Ok(total)
    }
}

/// A sub-rule's share, and whether some answer (`possible`) or every answer (`certain`) with
/// a positive share satisfies it: exact where the share is rounded.
#[derive(Clone, Copy)]
struct Eval {
    share: f64,
    possible: bool,
    certain: bool,
}

impl Eval {
    /// A rule that always (or never) holds.
    fn always(holds: bool) -> Eval {
        Eval {
            share: f64::from(u8::from(holds)),
            possible: holds,
            certain: holds,
        }
    }
}
