//! One way to record what happened to a respondent: a [`Turn`] keeps the quota counts, the
//! [`Interview`] and the router's hooks in step, so a caller cannot forget one of them.
//!
//! ```
//! use quotaroute::catalogue::{Catalogue, Category};
//! use quotaroute::route::{Greedy, Interview, Outcome, RouterState, Turn};
//! use quotaroute::schema::{Answers, Respondent, Schema};
//! use quotaroute::state::QuotaState;
//! use rand::SeedableRng;
//!
//! let schema = Schema::default_survey();
//! let catalogue = Catalogue::new(schema.clone(), vec![
//!     Category::new("coffee", "Fresh Coffee", 0.3, 120.0).with_target(1),
//! ])?;
//! let mut quotas = QuotaState::new(&catalogue);
//! let router = Greedy::scarcity();
//! let mut state = RouterState::default();
//! let respondent = Respondent::new(1, Answers::unknown(&schema));
//! let mut interview = Interview::new();
//! interview.begin(&catalogue, &respondent.answers, 480.0, None);
//! let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
//!
//! let mut turn = Turn::start(&catalogue, &router, &mut state, &respondent, &mut interview, &quotas);
//! // Decided, checked and counted as shown in one call.
//! let coffee = turn.offer(&mut quotas, &mut rng)?.unwrap();
//! // Qualified and completed: counted, the interview charged, the router told.
//! let recorded = turn.answered(&mut quotas, coffee, Outcome::completed(&catalogue, coffee));
//! assert!(recorded.completed && recorded.closed);
//! assert_eq!(turn.interview().seconds_used(), 120.0);
//! assert_eq!(turn.offer(&mut quotas, &mut rng)?, None);
//! assert_eq!(quotas.view().completed(coffee), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rand::Rng;

use crate::catalogue::{Catalogue, CategoryId};
use crate::schema::{Answers, Respondent};
use crate::state::{QuotaState, QuotaView};

use super::{Ask, Interview, OfferError, Router, RouterState};

/// Where a [`Turn`] counts what happened: a [`QuotaState`] owned by one thread, or an engine's
/// shared counts (the [live engine](crate::live) counts a complete as a pending reservation).
pub trait QuotaCounts {
    /// The read-only view routers decide on.
    fn view(&self) -> QuotaView<'_>;
    /// Counts a qualifier shown to a respondent with these answers.
    fn count_shown(&mut self, category: CategoryId, answers: &Answers);
    /// Counts a respondent who qualified.
    fn count_qualified(&mut self, category: CategoryId);
    /// Counts a complete (or takes the slot that becomes one) in the category and in every
    /// quota cell of the respondent's path in its tree ([`Interview::cells_of`]); false when
    /// it was refused (the category or one of those cells is full), and nothing is counted
    /// then.
    fn count_complete(&mut self, category: CategoryId, interview: &Interview) -> bool;
}

impl QuotaCounts for QuotaState {
    #[inline]
    fn view(&self) -> QuotaView<'_> {
        QuotaState::view(self)
    }

    #[inline]
    fn count_shown(&mut self, category: CategoryId, answers: &Answers) {
        self.record_shown(category, answers);
    }

    #[inline]
    fn count_qualified(&mut self, category: CategoryId) {
        self.record_qualified(category);
    }

    #[inline]
    fn count_complete(&mut self, category: CategoryId, interview: &Interview) -> bool {
        self.complete_in(category, interview.cells_of(category))
            .is_ok()
    }
}

/// What became of a qualifier a respondent answered.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// The respondent did not qualify.
    NotQualified,
    /// The respondent qualified and completed the category survey in `seconds` (its LOI, or
    /// an uncertain LOI's actual length).
    Completed {
        /// Seconds the survey took.
        seconds: f64,
    },
    /// The respondent qualified, then the interview ended after `seconds` more without a
    /// complete (they left part way through, or the survey ran into the time cap).
    Abandoned {
        /// Seconds spent before the interview ended.
        seconds: f64,
    },
}

impl Outcome {
    /// Qualified and completed in the category's nominal LOI.
    pub fn completed(catalogue: &Catalogue, category: CategoryId) -> Outcome {
        Outcome::Completed {
            seconds: catalogue.loi_seconds(category),
        }
    }

    /// True when the respondent qualified.
    pub fn qualified(&self) -> bool {
        !matches!(self, Outcome::NotQualified)
    }
}

/// What [`Turn::answered`] recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recorded {
    /// A complete was counted (false when it was refused: the category was full).
    pub completed: bool,
    /// The respondent qualified and the category is now full: the router's
    /// [`on_close`](Router::on_close) was called.
    pub closed: bool,
}

/// One respondent's routing: the configuration, the router with its per-worker state, the
/// respondent and their [`Interview`], borrowed together so that every event is recorded in
/// the quota counts, the interview and the router's hooks at once, in the right order.
///
/// # Performance
/// Borrows only: making a `Turn` and every call on it allocate nothing (a counting-allocator
/// test checks it).
pub struct Turn<'a, R: Router + ?Sized> {
    catalogue: &'a Catalogue,
    router: &'a R,
    state: &'a mut RouterState,
    respondent: &'a Respondent,
    interview: &'a mut Interview,
}

impl<'a, R: Router + ?Sized> Turn<'a, R> {
    /// A turn for a respondent whose interview has begun ([`Interview::begin`] and any holds
    /// or limits set), without calling the router's
    /// [`on_respondent_start`](Router::on_respondent_start): for resuming a turn.
    pub fn new(
        catalogue: &'a Catalogue,
        router: &'a R,
        state: &'a mut RouterState,
        respondent: &'a Respondent,
        interview: &'a mut Interview,
    ) -> Turn<'a, R> {
        Turn {
            catalogue,
            router,
            state,
            respondent,
            interview,
        }
    }

    /// [`new`](Self::new), then tells the router the respondent's routing starts.
    pub fn start<Q: QuotaCounts + ?Sized>(
        catalogue: &'a Catalogue,
        router: &'a R,
        state: &'a mut RouterState,
        respondent: &'a Respondent,
        interview: &'a mut Interview,
        quotas: &Q,
    ) -> Turn<'a, R> {
        let mut turn = Turn::new(catalogue, router, state, respondent, interview);
        let Turn {
            catalogue,
            router,
            state,
            respondent,
            interview,
        } = &mut turn;
        let ask = Ask {
            catalogue,
            respondent,
            interview,
            quotas: quotas.view(),
        };
        router.on_respondent_start(&ask, state);
        turn
    }

    /// The interview so far.
    pub fn interview(&self) -> &Interview {
        self.interview
    }

    /// Who is being routed.
    pub fn respondent(&self) -> &Respondent {
        self.respondent
    }

    /// The router's decision, without recording anything (the respondent's full quota cells
    /// are refreshed first, see [`Interview::refresh_cells`]).
    ///
    /// # Performance
    /// The router's decision; no allocation.
    #[inline]
    pub fn next_offer<Q: QuotaCounts + ?Sized>(
        &mut self,
        quotas: &Q,
        rng: &mut dyn Rng,
    ) -> Option<CategoryId> {
        let view = quotas.view();
        self.interview.refresh_cells(&view);
        let ask = Ask {
            catalogue: self.catalogue,
            respondent: self.respondent,
            interview: self.interview,
            quotas: view,
        };
        self.router.next_offer(&ask, self.state, rng)
    }

    /// The next category to offer, checked ([`Interview::check_offer`]) and recorded as shown
    /// ([`shown`](Self::shown)); `Ok(None)` when routing is over.
    ///
    /// # Errors
    /// [`OfferError`] when the router returned a category that may not be offered now;
    /// nothing is recorded then.
    #[inline]
    pub fn offer<Q: QuotaCounts + ?Sized>(
        &mut self,
        quotas: &mut Q,
        rng: &mut dyn Rng,
    ) -> Result<Option<CategoryId>, OfferError> {
        let Some(category) = self.next_offer(quotas, rng) else {
            return Ok(None);
        };
        self.interview
            .check_offer(self.catalogue, &quotas.view(), category)?;
        self.shown(quotas, category);
        Ok(Some(category))
    }

    /// Records that the category's qualifier was shown: counted in the quota state (shown and
    /// exposures), then charged to the interview (its seconds and a qualifier slot).
    #[inline]
    pub fn shown<Q: QuotaCounts + ?Sized>(&mut self, quotas: &mut Q, category: CategoryId) {
        quotas.count_shown(category, &self.respondent.answers);
        self.interview.record_shown(self.catalogue, category);
    }

    /// Records the answer to a shown qualifier and what followed, in this order: a respondent
    /// who qualified is counted; a complete is counted ([`QuotaCounts::count_complete`]) and,
    /// if it was, charged to the interview with its seconds (closing the category's
    /// exclusion group); an abandon charges its seconds and ends the interview; then the
    /// router's [`on_answer`](Router::on_answer) sees the new counts, and
    /// [`on_close`](Router::on_close) follows when the respondent qualified and the category
    /// is now full.
    ///
    /// Idempotent learning: a repeated answer to the same qualifier in one interview counts
    /// no qualified respondent and is not passed to `on_answer`, and a category this interview
    /// was already charged a complete of is not completed again. A repeated qualified answer
    /// whose complete was refused before (e.g. a shared store failed) tries the complete again.
    #[inline]
    pub fn answered<Q: QuotaCounts + ?Sized>(
        &mut self,
        quotas: &mut Q,
        category: CategoryId,
        outcome: Outcome,
    ) -> Recorded {
        let qualified = outcome.qualified();
        let first = self.interview.record_answered(category);
        if qualified && first {
            quotas.count_qualified(category);
        }
        let mut completed = false;
        match outcome {
            Outcome::NotQualified => {}
            Outcome::Completed { .. } if self.interview.has_completed(category) => {}
            Outcome::Completed { seconds } => {
                if quotas.count_complete(category, self.interview) {
                    self.interview
                        .record_complete_in(self.catalogue, category, seconds);
                    completed = true;
                }
            }
            Outcome::Abandoned { seconds } => {
                self.interview.add_seconds(seconds);
                self.interview.end();
            }
        }
        let view = quotas.view();
        let closed = qualified && !view.is_open(category);
        let ask = Ask {
            catalogue: self.catalogue,
            respondent: self.respondent,
            interview: self.interview,
            quotas: view,
        };
        if first {
            self.router.on_answer(&ask, self.state, category, qualified);
        }
        if closed {
            self.router.on_close(self.catalogue, self.state, category);
        }
        Recorded { completed, closed }
    }
}

impl<R: Router + ?Sized> std::fmt::Debug for Turn<'_, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Turn")
            .field("router", &self.router.name())
            .field("respondent", &self.respondent.id)
            .field("interview", &self.interview)
            .finish_non_exhaustive()
    }
}
