//! Sessions that move between nodes: a session saved after one request is carried on by
//! whichever node takes the next.
//!
//! The saved form is the interview's own progress ([`SavedInterview`]): which qualifiers
//! were shown, answered and completed, and the seconds, qualifiers and risk budget used.
//! On a shared store it is kept in the store beside the respondent's holds
//! ([`QuotaStore::save_interview`](crate::store::QuotaStore::save_interview)), which reads
//! its own writes, so the respondent's next request finds it on any node. Exposures are
//! counted when a qualifier is shown, on the node that showed it; resuming counts nothing
//! again.

use crate::route::{Router, SavedInterview};
use crate::schema::Respondent;

use super::{Clock, Engine, LiveError, Session, Worker};

impl<R: Router, C: Clock> Engine<R, C> {
    /// The session's progress as plain data, for [`resume_from`](Self::resume_from) here
    /// or on another node with the same catalogue.
    pub fn save(&self, session: &Session) -> SavedInterview {
        session.interview.save(&self.catalogue)
    }

    /// Carries on a saved session: nothing it showed is offered again, its completes rule
    /// out their exclusion groups, and the time, qualifiers and risk budget it used stay
    /// used. `respondent` must have the answers the session began with.
    ///
    /// # Errors
    /// [`LiveError::Resume`] when the saved session is from another catalogue, names a
    /// category these answers are not eligible for, or is not a possible interview.
    pub fn resume_from(
        &self,
        worker: &mut Worker,
        respondent: Respondent,
        saved: &SavedInterview,
    ) -> Result<Session, LiveError> {
        let mut session = Session {
            respondent,
            interview: crate::route::Interview::new(),
        };
        self.begin_from(worker, &mut session, Some(saved))
            .map_err(|error| LiveError::Resume {
                respondent: session.respondent.id,
                error,
            })?;
        Ok(session)
    }

    /// Keeps the session in the shared store for the time-to-live of a slot, so the
    /// respondent's next request can go to any node ([`resume`](Self::resume)). Call it
    /// after each request that changed the session (an offer, an answer).
    ///
    /// # Errors
    /// [`LiveError::NoStore`] on an engine without a shared store (keep
    /// [`save`](Self::save)'s value yourself there); [`LiveError::Store`] when the store
    /// failed (the session is unchanged; retrying is safe).
    pub fn save_session(&self, session: &Session) -> Result<(), LiveError> {
        let shared = self.shared.as_ref().ok_or(LiveError::NoStore {
            operation: "save_session",
        })?;
        let text = self.save(session).to_text();
        let mut buf = [0; 20];
        shared
            .store()
            .save_interview(
                session.respondent.id.as_store_key(&mut buf),
                &text,
                self.config.ttl_ms,
            )
            .map_err(|source| LiveError::Store { source })
    }

    /// The respondent's session as last saved in the shared store by any node
    /// ([`save_session`](Self::save_session)), carried on here; a new session when none is
    /// kept (never saved, or past its time-to-live).
    ///
    /// # Errors
    /// [`LiveError::NoStore`] on an engine without a shared store; [`LiveError::Store`]
    /// when the store failed; [`LiveError::Resume`] when the kept session cannot be carried
    /// on ([`resume_from`](Self::resume_from)).
    pub fn resume(
        &self,
        worker: &mut Worker,
        respondent: Respondent,
    ) -> Result<Session, LiveError> {
        let shared = self.shared.as_ref().ok_or(LiveError::NoStore {
            operation: "resume",
        })?;
        let mut buf = [0; 20];
        let kept = shared
            .store()
            .load_interview(respondent.id.as_store_key(&mut buf))
            .map_err(|source| LiveError::Store { source })?;
        match kept {
            None => Ok(self.start(worker, respondent)),
            Some(text) => {
                let saved =
                    SavedInterview::from_text(&text).map_err(|error| LiveError::Resume {
                        respondent: respondent.id,
                        error,
                    })?;
                self.resume_from(worker, respondent, &saved)
            }
        }
    }
}
