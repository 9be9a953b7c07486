//! The engine's routing operations: starting a respondent, the next offer, the answer. Every
//! event goes through a [`Turn`], so the counts, the interview and the router's hooks move
//! together; [`EngineCounts`] is where a turn's counts go in the engine (atomic increments
//! under the respondent's shard lock, and a complete taken as a pending reservation).

use crate::catalogue::CategoryId;
use crate::route::{
    Exclusion, Interview, OfferError, Outcome, QuotaCounts, ResumeError, Router, SavedInterview,
    Turn,
};
use crate::schema::{Answers, Respondent, RespondentId};
use crate::state::QuotaView;

use super::{Answer, Clock, Engine, LiveError, Reservation, Session, Worker, bump, lock, shard_of};

/// A turn's counts in the engine, for one respondent.
struct EngineCounts<'e, R, C> {
    engine: &'e Engine<R, C>,
    respondent: &'e Respondent,
    /// A qualified answer not yet counted: counted with the reservation, under the same lock,
    /// so a snapshot sees both or neither.
    qualified: Option<CategoryId>,
    /// What the complete's reservation did.
    reservation: Option<Reservation>,
    /// Why the complete's reservation could not be made (a shared store failed).
    error: Option<LiveError>,
}

impl<'e, R: Router, C: Clock> EngineCounts<'e, R, C> {
    fn new(engine: &'e Engine<R, C>, respondent: &'e Respondent) -> Self {
        EngineCounts {
            engine,
            respondent,
            qualified: None,
            reservation: None,
            error: None,
        }
    }

    /// Counts a qualified answer that no reservation followed.
    fn finish(&mut self) {
        if let Some(category) = self.qualified.take() {
            let _shard = lock(&self.engine.shards[shard_of(&self.respondent.id)]);
            self.engine.quotas.record_qualified_shared(category);
            bump(&self.engine.counters.qualified, 1);
        }
    }
}

impl<R: Router, C: Clock> QuotaCounts for EngineCounts<'_, R, C> {
    fn view(&self) -> QuotaView<'_> {
        self.engine.quotas.view()
    }

    fn count_shown(&mut self, category: CategoryId, answers: &Answers) {
        let _shard = lock(&self.engine.shards[shard_of(&self.respondent.id)]);
        self.engine.quotas.record_shown_shared(category, answers);
        bump(&self.engine.counters.shown, 1);
    }

    fn count_qualified(&mut self, category: CategoryId) {
        self.qualified = Some(category);
    }

    /// Takes a pending slot ([`Engine::reserve`]): true when it was accepted.
    fn count_complete(&mut self, category: CategoryId, _: &Interview) -> bool {
        let count_qualified = self.qualified.take().is_some();
        match self.engine.reserve_with(
            &self.respondent.id,
            category,
            &self.respondent.answers,
            count_qualified,
        ) {
            Ok(r) => {
                self.reservation = Some(r);
                matches!(r, Reservation::Accepted { .. })
            }
            Err(e) => {
                self.error = Some(e);
                false
            }
        }
    }
}

impl<R: Router, C: Clock> Engine<R, C> {
    /// Starts routing a respondent (budget and qualifier cap from the configuration).
    ///
    /// Answers that do not fit the schema ([`Answers::check`]) are routed as
    /// [`Answers::fitted`]: a response its question lacks is unknown. Check them first to
    /// refuse such a respondent instead.
    ///
    /// # Performance
    /// Allocates the session; reuse one with [`restart`](Self::restart) to avoid that.
    pub fn start(&self, worker: &mut Worker, respondent: Respondent) -> Session {
        let mut session = Session {
            respondent,
            interview: Interview::new(),
        };
        self.begin(worker, &mut session);
        session
    }

    /// Starts routing another respondent in an existing session, reusing its buffers.
    pub fn restart(
        &self,
        worker: &mut Worker,
        session: &mut Session,
        id: impl Into<RespondentId>,
        answers: &Answers,
    ) {
        session.respondent.id = id.into();
        session.respondent.answers.clone_from(answers);
        self.begin(worker, session);
    }

    fn begin(&self, worker: &mut Worker, session: &mut Session) {
        // Without a saved interview nothing can be refused.
        let _ = self.begin_from(worker, session, None);
    }

    /// Begins the session's interview afresh, or carries `saved` on
    /// ([`resume_from`](Self::resume_from)), then tells the router the respondent starts.
    pub(super) fn begin_from(
        &self,
        worker: &mut Worker,
        session: &mut Session,
        saved: Option<&SavedInterview>,
    ) -> Result<(), ResumeError> {
        // Answers outside the schema (deserialised ones) are unknown, never counted into
        // another response's exposures or cells (see `start`).
        let schema = self.catalogue.schema();
        if !session.respondent.answers.fits(schema) {
            session.respondent.answers = session.respondent.answers.fitted(schema);
        }
        let (catalogue, answers) = (&self.catalogue, &session.respondent.answers);
        let (budget, cap) = (self.config.budget_seconds, self.config.max_qualifiers);
        match saved {
            None => session.interview.begin(catalogue, answers, budget, cap),
            Some(saved) => session
                .interview
                .resume(catalogue, answers, budget, cap, saved)?,
        }
        session.interview.refresh_cells(&self.quotas.view());
        Turn::start(
            &self.catalogue,
            &self.router,
            &mut worker.state,
            &session.respondent,
            &mut session.interview,
            &self.quotas,
        );
        Ok(())
    }

    /// The next category to offer the respondent (its qualifier is then counted as shown), or
    /// `None` when routing is over.
    ///
    /// A count may change between the policy's look and the offer (another thread took the
    /// last slot): the offer is then re-decided, so a full category or cell is never offered.
    ///
    /// # Errors
    /// [`LiveError::InvalidOffer`] when the policy offers a category it may not for any
    /// other reason (ineligible, already shown, does not fit).
    ///
    /// # Performance
    /// The policy's decision reads counts without locks and allocates nothing; counting the
    /// exposure takes the respondent's shard lock for a few atomic increments.
    pub fn next_offer(
        &self,
        worker: &mut Worker,
        session: &mut Session,
    ) -> Result<Option<CategoryId>, LiveError> {
        let _timer = self.metrics.decision();
        let mut counts = EngineCounts::new(self, &session.respondent);
        let mut turn = Turn::new(
            &self.catalogue,
            &self.router,
            &mut worker.state,
            &session.respondent,
            &mut session.interview,
        );
        for _ in 0..8 {
            match turn.offer(&mut counts, &mut worker.rng) {
                Ok(offer) => return Ok(offer),
                Err(OfferError::NotOfferable {
                    reason: Exclusion::Closed | Exclusion::CellFull,
                    ..
                }) => continue,
                Err(error) => {
                    return Err(LiveError::InvalidOffer {
                        policy: self.router.name().to_owned(),
                        respondent: session.respondent.id,
                        error,
                    });
                }
            }
        }
        // Counts kept moving under the policy (or it keeps offering closed categories):
        // offer nothing rather than something full.
        Ok(None)
    }

    /// Records the answer to a category's qualifier shown in this session; a respondent who
    /// qualified takes a pending slot ([`reserve`](Self::reserve)), and the interview is
    /// charged the category's length when the slot is taken.
    ///
    /// Idempotent per session and category: a repeated answer counts no second qualified
    /// respondent (learned incidence never passes what was shown), and a repeated qualified
    /// answer returns the slot as it stands ([`Reservation::AlreadyHeld`] or
    /// [`Reservation::AlreadyCompleted`]).
    ///
    /// # Errors
    /// [`LiveError::UnknownCategory`]; [`LiveError::NotShown`] when the qualifier was not
    /// shown in this session. Nothing changes then. With a shared store,
    /// [`LiveError::Store`] when the reservation could not be made: the interview records the
    /// category as not held (no time charged), and the answer may be given again to retry.
    pub fn answer(
        &self,
        worker: &mut Worker,
        session: &mut Session,
        category: CategoryId,
        qualified: bool,
    ) -> Result<Answer, LiveError> {
        if category.index() >= self.catalogue.len() {
            return Err(LiveError::UnknownCategory { category });
        }
        if !session.interview.was_shown(category) {
            return Err(LiveError::NotShown {
                respondent: session.respondent.id,
                category,
                key: self.catalogue.category(category).key.clone(),
            });
        }
        self.metrics.answer(qualified);
        if qualified && session.interview.has_completed(category) {
            // A repeated answer: the slot's state, nothing counted again (idempotent).
            let id = session.respondent.id;
            return Ok(Answer::Reserved(self.reserve_with(
                &id,
                category,
                &session.respondent.answers,
                false,
            )?));
        }
        let mut counts = EngineCounts::new(self, &session.respondent);
        let outcome = if qualified {
            Outcome::completed(&self.catalogue, category)
        } else {
            Outcome::NotQualified
        };
        Turn::new(
            &self.catalogue,
            &self.router,
            &mut worker.state,
            &session.respondent,
            &mut session.interview,
        )
        .answered(&mut counts, category, outcome);
        counts.finish();
        if let Some(error) = counts.error {
            return Err(error);
        }
        Ok(match counts.reservation {
            Some(r) => Answer::Reserved(r),
            None => Answer::NotQualified,
        })
    }
}
