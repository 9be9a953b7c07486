//! The `balanced` policy: categories offered in `available_balanced` order for the respondent's
//! cell of a quota tree.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rand::Rng;
use smallvec::smallvec;
use thiserror::Error;

use crate::catalogue::{Catalogue, CategoryId};
use crate::quota::{CountError, Query, QueryBuffer, QuotaMethod, QuotaTree};
use crate::schema::{Answers, QuestionId, ResponseId};

use super::{Ask, Explanation, Router, RouterState};

static ROUTERS: AtomicU64 = AtomicU64::new(0);

/// Why a [`Balanced`] router could not be built.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BalancedError {
    /// The category question is not a question of the tree's schema.
    #[error(
        "the category question {question:?} is not in the quota tree's schema ({questions} questions)"
    )]
    UnknownQuestion {
        /// The id given.
        question: QuestionId,
        /// How many questions the tree's schema has.
        questions: usize,
    },
    /// A response of the category question names no category of the catalogue.
    #[error(
        "response \"{response}\" of the category question \"{question}\" is the key of no category"
    )]
    NoCategoryForResponse {
        /// The category question's name.
        question: String,
        /// The response's name.
        response: String,
    },
    /// A category of the catalogue is not a response of the category question.
    #[error("category \"{key}\" is not a response of the category question \"{question}\"")]
    NoResponseForCategory {
        /// The category question's name.
        question: String,
        /// The category's key.
        key: String,
    },
    /// A question of the tree has the name of a question of the catalogue's schema (so it is
    /// read from the respondent's answers) but a response that question does not have.
    #[error(
        "question \"{question}\" of the quota tree has response \"{response}\", which the catalogue's question \"{question}\" does not have"
    )]
    DemographicMismatch {
        /// The question's name.
        question: String,
        /// The response's name.
        response: String,
    },
}

/// The `balanced` policy: offer the categories in Askia's `AvailableBalancedQuota` order for
/// the respondent's cell, as Askia users script it.
///
/// The categories are the responses of a *category question* of a [`QuotaTree`]; the tree's
/// other questions are demographics. For each decision the router runs
/// `category_question.AvailableBalancedQuota()` with the respondent's answers as context
/// ([`QuotaTree::query_into`] with [`QuotaMethod::AvailableBalanced`]) and offers the first
/// category in that order that is offerable ([`Ask::is_offerable`]: eligible, not shown, open,
/// fits, a qualifier slot left).
///
/// # Mapping
///
/// * **Categories by key**: the category question's responses must be exactly the
///   catalogue's category keys, one response per category, in any order
///   ([`BalancedError::NoCategoryForResponse`], [`BalancedError::NoResponseForCategory`]).
///   Keys rather than positions, so that reordering either list cannot silently swap quotas.
/// * **Demographics by name**: a tree question with the name of a question of the catalogue's
///   schema takes the respondent's answer to it, matched by response name (every tree response
///   must exist there: [`BalancedError::DemographicMismatch`]; an answer whose response the
///   tree lacks is left unknown). Other tree questions are unknown for every respondent.
///
/// # Where the counts live
///
/// The tree is shared as `Arc<RwLock<QuotaTree>>` ([`Balanced::tree`]): one set of counts for
/// every worker, read under a read lock per decision (uncontended: an atomic operation, no
/// allocation) and written under the write lock once per complete. A router is immutable
/// configuration, so the counts cannot live in it; a per-worker copy in the
/// [`RouterState`] would be wrong as soon as two workers route, and a snapshot would go stale.
///
/// Completes are counted by [`on_answer`](Router::on_answer) when the respondent qualified
/// (the way the simulation and `testing::route_checked` report
/// a complete), with the category question set to the category and the demographics from the
/// respondent's answers. An engine that counts completes itself (after quality checks, say)
/// builds the router [`without_counting`](Balanced::without_counting) and calls
/// [`record_complete`](Balanced::record_complete), or writes to the tree directly. Targets can
/// be edited mid-field through the lock.
///
/// **Limitations.** Every complete takes the write lock, so completes are serialised (reads
/// wait for a write in progress, ~a microsecond). The tree and the [`QuotaState`](crate::state)
/// are counted separately: a tree cell can be full while its category is open, and then the
/// category is not offered to respondents of that cell — so, unlike the other built-in
/// policies, `balanced` may return `None` while a category is offerable by [`Ask`]'s rules,
/// when every such category's cell is full for this respondent (that is the point: a full cell
/// is closed). `balanced` needs a tree, so it is not in the zero-argument
/// [`policy`](super::policy) registry.
///
/// ```
/// use std::sync::{Arc, RwLock};
/// use quotaroute::catalogue::{Catalogue, Category};
/// use quotaroute::quota::{NodeSpec, QuotaTree};
/// use quotaroute::route::{Ask, Balanced, Interview, Router, RouterState};
/// use quotaroute::schema::{Answers, Respondent, Schema};
/// use quotaroute::state::QuotaState;
/// use rand::SeedableRng;
///
/// let catalogue = Catalogue::new(Schema::default_survey(), vec![
///     Category::new("A", "Product A", 0.5, 60.0),
///     Category::new("B", "Product B", 0.5, 60.0),
/// ])?;
/// // The quota tree: Product × gender, gender named as in the catalogue's schema.
/// let schema = Schema::builder()
///     .question("Product", ["A", "B"])
///     .question("gender", ["female", "male"])
///     .build()?;
/// let spec: NodeSpec = serde_json::from_str(r#"{"children": [
///     {"question": "Product", "response": "A", "target": 10, "observed": 8},
///     {"question": "Product", "response": "B", "target": 10, "observed": 2}]}"#)?;
/// let tree = Arc::new(RwLock::new(QuotaTree::from_spec(schema.clone(), &spec)?));
/// let router = Balanced::new(&catalogue, tree.clone(), schema.question("Product")?)?;
///
/// let quotas = QuotaState::new(&catalogue);
/// let respondent = Respondent::new(1, Answers::from_names(catalogue.schema(), [("gender", "male")])?);
/// let mut interview = Interview::new();
/// interview.begin(&catalogue, &respondent.answers, 480.0, None);
/// let ask = Ask { catalogue: &catalogue, respondent: &respondent, interview: &interview, quotas: quotas.view() };
/// let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(7);
/// // B is the least filled (2 of 10): offered first.
/// assert_eq!(router.next_offer(&ask, &mut RouterState::default(), &mut rng), catalogue.find("B"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Balanced {
    tree: Arc<RwLock<QuotaTree>>,
    query: Query,
    category_question: QuestionId,
    /// Per response of the category question: its category.
    categories: Vec<CategoryId>,
    /// Per category: its response.
    responses: Vec<ResponseId>,
    /// Per catalogue question: the tree question with its name, and the tree response of
    /// each catalogue response (if any).
    demographics: Vec<Option<(QuestionId, Vec<Option<ResponseId>>)>>,
    counting: bool,
    instance: u64,
}

impl Balanced {
    /// A `balanced` router over `catalogue` whose categories are the responses of
    /// `category_question` in `tree` (matched by category key); see the [type's
    /// documentation](Balanced) for the mapping and for where the counts live.
    ///
    /// # Errors
    /// [`BalancedError`]: the question is not in the tree's schema, a response is no
    /// category's key or a category is no response, a demographic question's response is
    /// unknown to the catalogue's question of the same name.
    pub fn new(
        catalogue: &Catalogue,
        tree: Arc<RwLock<QuotaTree>>,
        category_question: QuestionId,
    ) -> Result<Balanced, BalancedError> {
        let (categories, responses, demographics) = {
            let guard = tree.read().unwrap_or_else(PoisonError::into_inner);
            let schema = guard.schema();
            if category_question.index() >= schema.len() {
                return Err(BalancedError::UnknownQuestion {
                    question: category_question,
                    questions: schema.len(),
                });
            }
            let qname = schema.question_name(category_question).to_owned();
            let mut categories = Vec::with_capacity(schema.response_count(category_question));
            let mut responses = vec![None; catalogue.len()];
            for r in schema.response_ids(category_question) {
                let name = schema.response_name(category_question, r);
                let c =
                    catalogue
                        .find(name)
                        .ok_or_else(|| BalancedError::NoCategoryForResponse {
                            question: qname.clone(),
                            response: name.to_owned(),
                        })?;
                categories.push(c);
                responses[c.index()] = Some(r);
            }
            let responses = responses
                .into_iter()
                .zip(catalogue.categories())
                .map(|(r, c)| {
                    r.ok_or_else(|| BalancedError::NoResponseForCategory {
                        question: qname.clone(),
                        key: c.key.clone(),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let cs = catalogue.schema();
            let mut demographics = vec![None; cs.len()];
            for tq in schema.question_ids() {
                if tq == category_question {
                    continue;
                }
                let name = schema.question_name(tq);
                let Ok(cq) = cs.question(name) else {
                    continue;
                };
                let mut map = vec![None; cs.response_count(cq)];
                for tr in schema.response_ids(tq) {
                    let rname = schema.response_name(tq, tr);
                    let cr =
                        cs.response(cq, rname)
                            .map_err(|_| BalancedError::DemographicMismatch {
                                question: name.to_owned(),
                                response: rname.to_owned(),
                            })?;
                    map[cr.index()] = Some(tr);
                }
                demographics[cq.index()] = Some((tq, map));
            }
            (categories, responses, demographics)
        };
        Ok(Balanced {
            tree,
            query: Query::new(category_question),
            category_question,
            categories,
            responses,
            demographics,
            counting: true,
            instance: ROUTERS.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Leaves counting to the caller: [`on_answer`](Router::on_answer) then records nothing
    /// (see [`record_complete`](Balanced::record_complete)).
    pub fn without_counting(mut self) -> Balanced {
        self.counting = false;
        self
    }

    /// The shared tree, counts included (read it, edit targets, record completes).
    pub fn tree(&self) -> &Arc<RwLock<QuotaTree>> {
        &self.tree
    }

    /// The category question.
    pub fn category_question(&self) -> QuestionId {
        self.category_question
    }

    /// The category of a response of the category question.
    pub fn category_of(&self, response: ResponseId) -> Option<CategoryId> {
        self.categories.get(response.index()).copied()
    }

    /// The response of the category question for a category.
    pub fn response_of(&self, category: CategoryId) -> Option<ResponseId> {
        self.responses.get(category.index()).copied()
    }

    /// The tree's answers for a respondent: the demographics from `answers` (of the
    /// catalogue's schema), and the category question set to `category` if given.
    pub fn tree_answers(&self, answers: &Answers, category: Option<CategoryId>) -> Answers {
        let mut out = Answers::unknown(self.read().schema());
        self.fill(answers, category, &mut out);
        out
    }

    /// Counts a complete of `category` by a respondent with these answers (of the catalogue's
    /// schema) in every tree node it matches.
    ///
    /// # Errors
    /// [`CountError`] from [`QuotaTree::record`] (a count past the cap); nothing is changed.
    pub fn record_complete(
        &self,
        answers: &Answers,
        category: CategoryId,
    ) -> Result<usize, CountError> {
        let tree_answers = self.tree_answers(answers, Some(category));
        self.write().record(&tree_answers)
    }

    fn read(&self) -> RwLockReadGuard<'_, QuotaTree> {
        // A writer that panicked cannot leave the tree half-updated (record changes nothing
        // when it fails), so a poisoned lock is still usable.
        self.tree.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, QuotaTree> {
        self.tree.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the tree's answers into `out` (already shaped for the tree's schema).
    fn fill(&self, answers: &Answers, category: Option<CategoryId>, out: &mut Answers) {
        for q in 0..out.len() {
            out.clear(QuestionId(q as u16));
        }
        for (cq, map) in self.demographics.iter().enumerate() {
            let Some((tq, map)) = map else { continue };
            if let Some(r) = answers.get(QuestionId(cq as u16))
                && let Some(Some(tr)) = map.get(r.index())
            {
                out.set(*tq, *tr);
            }
        }
        if let Some(r) = category.and_then(|c| self.response_of(c)) {
            out.set(self.category_question, r);
        }
    }

    /// Runs the query for this respondent into the worker's buffer.
    fn run<'s>(&self, ask: &Ask<'_>, state: &'s mut RouterState) -> &'s BalancedState {
        let tree = self.read();
        let st = state.get_or_insert_with(BalancedState::default);
        let answers = st.answers_for(self, &tree);
        self.fill(&ask.respondent.answers, None, answers);
        let BalancedState {
            buffer, answers, ..
        } = st;
        // Only answers of another shape could fail, and they were just made to fit; on an
        // error the buffer's results are empty and nothing is offered.
        let _ = tree.query_into(
            QuotaMethod::AvailableBalanced,
            &self.query,
            answers.as_ref(),
            buffer,
        );
        st
    }
}

/// The `balanced` policy's per-worker buffers.
#[derive(Debug, Default)]
struct BalancedState {
    key: Option<u64>,
    answers: Option<Answers>,
    buffer: QueryBuffer,
}

impl BalancedState {
    /// The answers buffer, (re)shaped for this router's tree.
    fn answers_for(&mut self, router: &Balanced, tree: &QuotaTree) -> &mut Answers {
        let fits = self.answers.as_ref().is_some_and(|a| a.fits(tree.schema()));
        if self.key != Some(router.instance) || !fits {
            self.key = Some(router.instance);
            self.answers = Some(Answers::unknown(tree.schema()));
        }
        self.answers
            .get_or_insert_with(|| Answers::unknown(tree.schema()))
    }
}

impl Router for Balanced {
    fn name(&self) -> &str {
        "balanced"
    }

    /// # Performance
    /// One allocation-free [`QuotaTree::query_into`] under the read lock (about a microsecond
    /// with the respondent's answers known, whatever the tree's size), then a walk down its
    /// results to the first offerable category. No allocation once the worker's buffers have
    /// grown.
    fn next_offer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        _: &mut dyn Rng,
    ) -> Option<CategoryId> {
        if ask.interview.is_over(ask.catalogue) {
            return None;
        }
        let st = self.run(ask, state);
        st.buffer
            .results()
            .iter()
            .filter_map(|&(r, _)| self.category_of(r))
            .find(|&c| c.index() < ask.catalogue.len() && ask.is_offerable(c))
    }

    /// Candidates in the query's order with their to-do (priority falls with the rank);
    /// offerable categories the query leaves out (their cell is full for this respondent) come
    /// last with priority 0.
    fn explain(&self, ask: &Ask<'_>, state: &mut RouterState) -> Explanation {
        let mut e = Explanation::exclusions_only(ask);
        let st = self.run(ask, state);
        let results = st.buffer.results();
        let n = results.len().max(1) as f64;
        for candidate in &mut e.candidates {
            let rank = self
                .response_of(candidate.category)
                .and_then(|r| results.iter().position(|&(x, _)| x == r));
            let todo = self
                .response_of(candidate.category)
                .and_then(|r| st.buffer.todo(r))
                .unwrap_or(0);
            candidate.priority = rank.map_or(0.0, |k| (n - k as f64) / n);
            candidate.factors = smallvec![
                ("balanced_rank".to_owned(), candidate.priority),
                ("todo".to_owned(), todo as f64),
            ];
        }
        e.candidates.sort_by(|a, b| {
            b.priority
                .total_cmp(&a.priority)
                .then(a.category.cmp(&b.category))
        });
        if !ask.interview.is_over(ask.catalogue) {
            e.chosen = e
                .candidates
                .first()
                .filter(|c| c.priority > 0.0)
                .map(|c| c.category);
        }
        e
    }

    /// Counts the complete in the tree (unless built
    /// [`without_counting`](Balanced::without_counting)).
    fn on_answer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        category: CategoryId,
        qualified: bool,
    ) {
        if !qualified || !self.counting {
            return;
        }
        let mut tree = self.write();
        let st = state.get_or_insert_with(BalancedState::default);
        let answers = st.answers_for(self, &tree);
        self.fill(&ask.respondent.answers, Some(category), answers);
        // A count past the cap (10¹²) is refused and changes nothing; there is no caller to
        // tell, and the tree then simply stops counting that cell.
        let _ = tree.record(answers);
    }
}
