//! Compile-time typed quota queries.
//!
//! Declare the survey's questions once with [`quota_survey!`](crate::quota_survey): each
//! question becomes an enum of its responses, and the survey an enum of its questions. A query
//! is then written with types, so a misspelt question, a response of another question, or a
//! context entry on the target question itself is a compile error, not a surprise in the last
//! week of fieldwork:
//!
//! ```
//! use quotaroute::quota::{QuotaTree, Target, TypedQuotaTree, Survey};
//!
//! quotaroute::quota_survey! {
//!     /// The questions of the product test.
//!     pub survey ProductTest {
//!         Product { A, B, C }
//!         Gender { Male, Female }
//!         /// Names may differ from the identifiers.
//!         Region { North = "north", South = "south" }
//!     }
//! }
//!
//! let mut typed = TypedQuotaTree::<ProductTest>::new(QuotaTree::new(ProductTest::schema()?))?;
//! let root = typed.tree().root();
//! let a = typed.add_child(root, Product::A, Target::Single(8))?;
//! typed.add_child(a, Gender::Male, Target::Single(6))?;
//! typed.add_child(a, Gender::Female, Target::Single(2))?;
//! typed.add_child(root, Product::B, Target::Single(10))?;
//! for _ in 0..6 {
//!     let male_a = typed.answers().with(Product::A).with(Gender::Male).build();
//!     typed.tree_mut().record(&male_a)?;
//! }
//!
//! // Askia: Product.AvailableBalancedQuota(Gender: Female)
//! let best = typed.available_balanced(&Product::query().given(Gender::Female), None)?;
//! assert_eq!(best.first(), Some(&(Product::B, 10)));
//! // The same with the Askia-like macro, and a group in the context.
//! let q = quotaroute::quota_query!(Product(Gender: Male, Region: North | South));
//! assert_eq!(typed.available(&q, None)?, vec![(Product::B, 10), (Product::C, 1)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A misspelt question does not compile:
//!
//! ```compile_fail
//! quotaroute::quota_survey! {
//!     pub survey ProductTest { Product { A, B, C } Gender { Male, Female } }
//! }
//! let _ = Product::query().given(Gendr::Female);
//! ```
//!
//! Nor does a response of another question (`A` is a product, not a gender):
//!
//! ```compile_fail
//! quotaroute::quota_survey! {
//!     pub survey ProductTest { Product { A, B, C } Gender { Male, Female } }
//! }
//! let _ = Product::query().given(Gender::A);
//! ```
//!
//! Nor, in the macro form, a response given to the wrong question:
//!
//! ```compile_fail
//! quotaroute::quota_survey! {
//!     pub survey ProductTest { Product { A, B, C } Gender { Male, Female } }
//! }
//! let _ = quotaroute::quota_query!(Product(Gender: A));
//! ```
//!
//! Nor a context entry on the target question:
//!
//! ```compile_fail
//! quotaroute::quota_survey! {
//!     pub survey ProductTest { Product { A, B, C } Gender { Male, Female } }
//! }
//! let _ = Product::query().given(Product::A);
//! ```
//!
//! Nor a question of another survey:
//!
//! ```compile_fail
//! quotaroute::quota_survey! {
//!     pub survey ProductTest { Product { A, B, C } Gender { Male, Female } }
//! }
//! mod other {
//!     quotaroute::quota_survey! { pub survey Other { Age { Young, Old } } }
//! }
//! let _ = Product::query().given(other::Age::Young);
//! ```
//!
//! The same lines, spelt right, compile:
//!
//! ```
//! quotaroute::quota_survey! {
//!     pub survey ProductTest { Product { A, B, C } Gender { Male, Female } }
//! }
//! let _ = Product::query().given(Gender::Female);
//! let _ = quotaroute::quota_query!(Product(Gender: Female));
//! ```
//!
//! Typed queries run on the runtime engine: [`TypedQuotaTree`] checks once, when it is made,
//! that the tree's schema has every declared question with exactly the declared responses in
//! the declared order, then turns each typed query into a [`Query`] of ids.

use std::fmt;
use std::marker::PhantomData;
use std::ops::BitOr;

use smallvec::SmallVec;
use thiserror::Error;

use super::engine::QueryBuffer;
use super::query::{Query, QueryError, QuotaMethod};
use super::tree::{Condition, EditError, NodeId, QuotaTree, Target};
use crate::schema::{Answers, QuestionId, ResponseId, ResponseSet, Schema, SchemaError};

/// A question as a survey declares it: its name and its responses' names, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuestionDecl {
    /// The question's name in the schema.
    pub name: &'static str,
    /// The names of its responses, in the schema's order.
    pub responses: &'static [&'static str],
}

/// A survey declared with [`quota_survey!`](crate::quota_survey): its questions, in order.
pub trait Survey: Copy + 'static {
    /// The questions.
    const QUESTIONS: &'static [QuestionDecl];

    /// A schema with exactly these questions (equal supply shares).
    ///
    /// # Errors
    /// [`SchemaError`] if two questions, or two responses of one question, share a name.
    fn schema() -> Result<Schema, SchemaError> {
        Self::QUESTIONS
            .iter()
            .fold(Schema::builder(), |b, q| {
                b.question(q.name, q.responses.iter().copied())
            })
            .build()
    }
}

/// A question declared as a type: an enum whose variants are its responses, in order.
/// Implemented by [`quota_survey!`](crate::quota_survey).
pub trait TypedQuestion: Copy + Eq + fmt::Debug + 'static {
    /// The survey the question belongs to.
    type Survey: Survey;
    /// The question's position in [`Survey::QUESTIONS`].
    const INDEX: usize;
    /// Every response, in order.
    const ALL: &'static [Self];

    /// The response's position in the question.
    fn response_index(self) -> usize;

    /// The response at this position.
    fn from_response_index(index: usize) -> Option<Self> {
        Self::ALL.get(index).copied()
    }

    /// The question's declaration.
    fn decl() -> &'static QuestionDecl {
        &<Self::Survey as Survey>::QUESTIONS[Self::INDEX]
    }

    /// Starts a typed query on this question.
    fn query() -> TypedQuery<Self> {
        TypedQuery::new()
    }
}

/// `Self` and `Q` are two different questions of one survey. Implemented by
/// [`quota_survey!`](crate::quota_survey) for every ordered pair of distinct questions, so that
/// a context entry on the target question does not compile.
pub trait Distinct<Q> {}

/// A non-empty group of responses of one question: `Region::North | Region::South`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Group<Q> {
    set: ResponseSet,
    _question: PhantomData<fn() -> Q>,
}

impl<Q: TypedQuestion> Group<Q> {
    /// True when the group holds the response.
    pub fn contains(&self, response: Q) -> bool {
        self.set
            .contains(ResponseId(response.response_index() as u16))
    }

    /// The responses, in the question's order.
    pub fn iter(&self) -> impl Iterator<Item = Q> + '_ {
        self.set
            .iter()
            .filter_map(|r| Q::from_response_index(r.index()))
    }
}

impl<Q: TypedQuestion> fmt::Debug for Group<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<Q: TypedQuestion> From<Q> for Group<Q> {
    fn from(response: Q) -> Group<Q> {
        let mut set = ResponseSet::new();
        set.insert(ResponseId(response.response_index() as u16));
        Group {
            set,
            _question: PhantomData,
        }
    }
}

impl<Q: TypedQuestion> BitOr<Q> for Group<Q> {
    type Output = Group<Q>;
    fn bitor(mut self, response: Q) -> Group<Q> {
        self.set
            .insert(ResponseId(response.response_index() as u16));
        self
    }
}

/// A typed query on question `Q`: `Product::query().given(Gender::Female)` is Askia's
/// `Product.…Quota(Gender: Female)`.
pub struct TypedQuery<Q> {
    /// (question position in the survey, responses) in the order given.
    context: SmallVec<[(usize, ResponseSet); 4]>,
    _question: PhantomData<fn() -> Q>,
}

impl<Q> Clone for TypedQuery<Q> {
    fn clone(&self) -> Self {
        TypedQuery {
            context: self.context.clone(),
            _question: PhantomData,
        }
    }
}

impl<Q> fmt::Debug for TypedQuery<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedQuery")
            .field("question", &std::any::type_name::<Q>())
            .field("context", &self.context)
            .finish()
    }
}

impl<Q: TypedQuestion> Default for TypedQuery<Q> {
    fn default() -> Self {
        TypedQuery::new()
    }
}

impl<Q: TypedQuestion> TypedQuery<Q> {
    /// A query on `Q` without context.
    pub fn new() -> TypedQuery<Q> {
        TypedQuery {
            context: SmallVec::new(),
            _question: PhantomData,
        }
    }

    /// Adds a context entry: one response (`Gender::Female`) or a group
    /// (`Region::North | Region::South`) of another question of the same survey. An entry on a
    /// question already in the context replaces it, in its place.
    pub fn given<C>(mut self, responses: impl Into<Group<C>>) -> TypedQuery<Q>
    where
        C: TypedQuestion<Survey = Q::Survey> + Distinct<Q>,
    {
        let set = responses.into().set;
        match self.context.iter_mut().find(|(q, _)| *q == C::INDEX) {
            Some(entry) => entry.1 = set,
            None => self.context.push((C::INDEX, set)),
        }
        self
    }
}

/// Why a tree could not be bound to a typed survey.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BindError {
    /// A declared question is not in the tree's schema.
    #[error("survey question \"{question}\" is not in the tree's schema")]
    MissingQuestion {
        /// The declared name.
        question: &'static str,
    },
    /// A declared question's responses differ from the schema's (names or order).
    #[error(
        "question \"{question}\": the survey declares responses {declared:?} but the tree's schema has {found:?}"
    )]
    ResponsesDiffer {
        /// The question.
        question: &'static str,
        /// The declared responses.
        declared: Vec<String>,
        /// The schema's responses.
        found: Vec<String>,
    },
    /// Two declared questions have the same name.
    #[error("survey question \"{question}\" is declared twice")]
    DuplicateQuestion {
        /// The repeated name.
        question: &'static str,
    },
}

/// A [`QuotaTree`] bound to a typed survey `S`: typed queries, typed nodes and typed answers.
///
/// The binding is checked once, by [`new`](Self::new); the tree's schema never changes, so it
/// stays valid through [`tree_mut`](Self::tree_mut).
#[derive(Clone, Debug)]
pub struct TypedQuotaTree<S> {
    tree: QuotaTree,
    ids: Vec<QuestionId>,
    _survey: PhantomData<fn() -> S>,
}

impl<S: Survey> TypedQuotaTree<S> {
    /// Binds a tree to the survey.
    ///
    /// # Errors
    /// [`BindError`] when a declared question is missing from the tree's schema, is declared
    /// twice, or has other responses (or another order) there.
    pub fn new(tree: QuotaTree) -> Result<TypedQuotaTree<S>, BindError> {
        let schema = tree.schema();
        let mut ids = Vec::with_capacity(S::QUESTIONS.len());
        for (i, decl) in S::QUESTIONS.iter().enumerate() {
            if S::QUESTIONS[..i].iter().any(|d| d.name == decl.name) {
                return Err(BindError::DuplicateQuestion {
                    question: decl.name,
                });
            }
            let q = schema
                .question(decl.name)
                .map_err(|_| BindError::MissingQuestion {
                    question: decl.name,
                })?;
            let found = schema.get(q).responses();
            if found.len() != decl.responses.len()
                || found.iter().zip(decl.responses).any(|(a, b)| a != b)
            {
                return Err(BindError::ResponsesDiffer {
                    question: decl.name,
                    declared: decl.responses.iter().map(|r| (*r).to_owned()).collect(),
                    found: found.to_vec(),
                });
            }
            ids.push(q);
        }
        Ok(TypedQuotaTree {
            tree,
            ids,
            _survey: PhantomData,
        })
    }

    /// The tree.
    pub fn tree(&self) -> &QuotaTree {
        &self.tree
    }

    /// The tree, to count interviews or edit targets.
    pub fn tree_mut(&mut self) -> &mut QuotaTree {
        &mut self.tree
    }

    /// Gives the tree back.
    pub fn into_inner(self) -> QuotaTree {
        self.tree
    }

    /// The schema id of a typed question.
    pub fn question_id<Q: TypedQuestion<Survey = S>>(&self) -> QuestionId {
        self.ids[Q::INDEX]
    }

    /// The schema id of a typed response.
    pub fn response_id<Q: TypedQuestion<Survey = S>>(&self, response: Q) -> ResponseId {
        ResponseId(response.response_index() as u16)
    }

    /// A node condition: one response, or a group (`Region::North | Region::South`).
    pub fn condition<Q: TypedQuestion<Survey = S>>(
        &self,
        responses: impl Into<Group<Q>>,
    ) -> Condition {
        let group = responses.into();
        let q = self.question_id::<Q>();
        let mut members = group.set.iter();
        match (members.next(), members.next()) {
            (Some(r), None) => Condition::response(q, r),
            _ => Condition::group(q, group.set.iter()),
        }
    }

    /// Adds a child with a typed condition (see [`QuotaTree::add_child`]).
    ///
    /// # Errors
    /// As [`QuotaTree::add_child`].
    pub fn add_child<Q: TypedQuestion<Survey = S>>(
        &mut self,
        parent: NodeId,
        responses: impl Into<Group<Q>>,
        target: Target,
    ) -> Result<NodeId, EditError> {
        let condition = self.condition(responses);
        self.tree.add_child(parent, condition, target)
    }

    /// Starts a set of answers for the tree's schema, all unknown.
    pub fn answers(&self) -> TypedAnswers<'_, S> {
        TypedAnswers {
            typed: self,
            answers: Answers::unknown(self.tree.schema()),
        }
    }

    /// The runtime query of ids for a typed query.
    pub fn to_query<Q: TypedQuestion<Survey = S>>(&self, query: &TypedQuery<Q>) -> Query {
        let mut q = Query::new(self.question_id::<Q>());
        for (index, set) in &query.context {
            q.push_context(self.ids[*index], set.clone());
        }
        q
    }

    /// Runs a typed query into a buffer (see [`QuotaTree::query_into`]) and returns the
    /// results as typed responses.
    ///
    /// # Errors
    /// Only [`QueryError::AnswersDoNotFit`], for answers of another schema: the types rule
    /// everything else out.
    ///
    /// # Performance
    /// As [`QuotaTree::query_into`]; no allocation for contexts of up to four questions of up
    /// to 64 responses each.
    pub fn query_into<'b, Q: TypedQuestion<Survey = S>>(
        &self,
        method: QuotaMethod,
        query: &TypedQuery<Q>,
        answers: Option<&Answers>,
        buffer: &'b mut QueryBuffer,
    ) -> Result<impl Iterator<Item = (Q, i64)> + 'b, QueryError> {
        let results = self
            .tree
            .query_into(method, &self.to_query(query), answers, buffer)?;
        Ok(results
            .iter()
            .filter_map(|&(r, todo)| Q::from_response_index(r.index()).map(|q| (q, todo))))
    }

    /// Runs a typed query (see [`QuotaTree::query`]).
    ///
    /// # Errors
    /// As [`query_into`](Self::query_into).
    pub fn query<Q: TypedQuestion<Survey = S>>(
        &self,
        method: QuotaMethod,
        query: &TypedQuery<Q>,
        answers: Option<&Answers>,
    ) -> Result<Vec<(Q, i64)>, QueryError> {
        let results = self.tree.query(method, &self.to_query(query), answers)?;
        Ok(results
            .into_iter()
            .filter_map(|(r, todo)| Q::from_response_index(r.index()).map(|q| (q, todo)))
            .collect())
    }

    /// Typed [`QuotaTree::available`].
    ///
    /// # Errors
    /// As [`query_into`](Self::query_into).
    pub fn available<Q: TypedQuestion<Survey = S>>(
        &self,
        query: &TypedQuery<Q>,
        answers: Option<&Answers>,
    ) -> Result<Vec<(Q, i64)>, QueryError> {
        self.query(QuotaMethod::Available, query, answers)
    }

    /// Typed [`QuotaTree::available_balanced`].
    ///
    /// # Errors
    /// As [`query_into`](Self::query_into).
    pub fn available_balanced<Q: TypedQuestion<Survey = S>>(
        &self,
        query: &TypedQuery<Q>,
        answers: Option<&Answers>,
    ) -> Result<Vec<(Q, i64)>, QueryError> {
        self.query(QuotaMethod::AvailableBalanced, query, answers)
    }

    /// Typed [`QuotaTree::list`].
    ///
    /// # Errors
    /// As [`query_into`](Self::query_into).
    pub fn list<Q: TypedQuestion<Survey = S>>(
        &self,
        query: &TypedQuery<Q>,
        answers: Option<&Answers>,
    ) -> Result<Vec<(Q, i64)>, QueryError> {
        self.query(QuotaMethod::List, query, answers)
    }

    /// Typed [`QuotaTree::balanced_list`].
    ///
    /// # Errors
    /// As [`query_into`](Self::query_into).
    pub fn balanced_list<Q: TypedQuestion<Survey = S>>(
        &self,
        query: &TypedQuery<Q>,
        answers: Option<&Answers>,
    ) -> Result<Vec<(Q, i64)>, QueryError> {
        self.query(QuotaMethod::BalancedList, query, answers)
    }
}

/// Answers for a typed tree's schema, built response by response.
#[derive(Clone, Debug)]
pub struct TypedAnswers<'a, S> {
    typed: &'a TypedQuotaTree<S>,
    answers: Answers,
}

impl<S: Survey> TypedAnswers<'_, S> {
    /// Records an answer (replacing an earlier one to the same question).
    pub fn with<Q: TypedQuestion<Survey = S>>(mut self, response: Q) -> Self {
        let q = self.typed.question_id::<Q>();
        self.answers.set(q, self.typed.response_id(response));
        self
    }

    /// The answers.
    pub fn build(self) -> Answers {
        self.answers
    }
}

/// Declares a survey's questions as types for [typed queries](crate::quota::typed).
///
/// ```
/// quotaroute::quota_survey! {
///     /// Our survey.
///     pub survey Shop {
///         /// Respondent gender.
///         Gender = "gender" { Male = "male", Female = "female" }
///         Product { A, B, C }
///     }
/// }
/// use quotaroute::quota::{Survey, TypedQuestion};
/// assert_eq!(Shop::QUESTIONS[0].name, "gender");
/// assert_eq!(Gender::Female.response_index(), 1);
/// assert_eq!(<Product as TypedQuestion>::decl().responses, ["A", "B", "C"]);
/// ```
///
/// Generates, with the visibility given: an enum `Shop` of the questions implementing
/// [`Survey`]; for each question an enum of its responses implementing [`TypedQuestion`],
/// `BitOr` (groups: `Product::A | Product::B`), and an inherent `query()`; and [`Distinct`] for
/// every pair of distinct questions. A name after `=` is the question's or response's name in
/// the schema (default: the identifier). Up to about 120 questions per survey (macro recursion).
#[macro_export]
macro_rules! quota_survey {
    (
        $(#[$survey_meta:meta])*
        $vis:vis survey $survey:ident {
            $(
                $(#[$q_meta:meta])*
                $question:ident $(= $q_name:literal)? {
                    $( $(#[$r_meta:meta])* $response:ident $(= $r_name:literal)? ),+ $(,)?
                } $(,)?
            )+
        }
    ) => {
        $(#[$survey_meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $survey {
            $(
                #[doc = concat!("The `", $crate::__quota_name!($question $(= $q_name)?), "` question.")]
                $question,
            )+
        }

        impl $crate::quota::Survey for $survey {
            const QUESTIONS: &'static [$crate::quota::QuestionDecl] = &[
                $(
                    $crate::quota::QuestionDecl {
                        name: $crate::__quota_name!($question $(= $q_name)?),
                        responses: &[ $( $crate::__quota_name!($response $(= $r_name)?) ),+ ],
                    },
                )+
            ];
        }

        $(
            #[doc = concat!("Responses of the `", $crate::__quota_name!($question $(= $q_name)?), "` question.")]
            $(#[$q_meta])*
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
            $vis enum $question {
                $(
                    #[doc = concat!("`", $crate::__quota_name!($response $(= $r_name)?), "`")]
                    $(#[$r_meta])*
                    $response,
                )+
            }

            impl $crate::quota::TypedQuestion for $question {
                type Survey = $survey;
                const INDEX: usize = $survey::$question as usize;
                const ALL: &'static [Self] = &[ $( $question::$response ),+ ];
                fn response_index(self) -> usize {
                    self as usize
                }
            }

            impl $question {
                /// Starts a typed query on this question.
                #[allow(dead_code)]
                $vis fn query() -> $crate::quota::TypedQuery<$question> {
                    $crate::quota::TypedQuery::new()
                }
            }

            impl ::core::ops::BitOr for $question {
                type Output = $crate::quota::Group<$question>;
                fn bitor(self, rhs: Self) -> Self::Output {
                    $crate::quota::Group::from(self) | rhs
                }
            }
        )+

        $crate::__quota_distinct!($($question),+);
    };
}

/// A typed query in Askia's notation: `quota_query!(Product(Gender: Female, Region: North |
/// South))` is `Product::query().given(Gender::Female).given(Region::North | Region::South)`.
///
/// A question or response that does not exist, a response of another question
/// (`Gender: A`), or the target question in its own context, does not compile.
///
/// ```
/// quotaroute::quota_survey! {
///     pub survey Shop { Gender { Male, Female } Product { A, B, C } Region { N, S } }
/// }
/// let q = quotaroute::quota_query!(Product(Gender: Female, Region: N | S));
/// let r = quotaroute::quota_query!(Product);
/// # let _ = (q, r);
/// ```
#[macro_export]
macro_rules! quota_query {
    ($question:ident) => {
        $crate::quota::TypedQuery::<$question>::new()
    };
    ($question:ident ( $( $c_question:ident : $($c_response:ident)|+ ),* $(,)? )) => {
        $crate::quota::TypedQuery::<$question>::new()
            $( .given::<$c_question>( $( $c_question::$c_response )|+ ) )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __quota_name {
    ($id:ident) => {
        stringify!($id)
    };
    ($id:ident = $name:literal) => {
        $name
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __quota_distinct {
    ($head:ident $(, $tail:ident)*) => {
        $(
            impl $crate::quota::Distinct<$tail> for $head {}
            impl $crate::quota::Distinct<$head> for $tail {}
        )*
        $crate::__quota_distinct!($($tail),*);
    };
    () => {};
}
