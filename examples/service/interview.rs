//! One request's work on a respondent's interview, run on tokio's blocking pool (every call
//! here may wait on the store).
//!
//! The store keeps, per respondent, one value for the slot time-to-live: the respondent's
//! answers (a JSON object on the first line) and the interview's progress
//! (`SavedInterview::to_text`) after it. The answers are kept because resuming needs the
//! answers the interview began with, and the API gives them only on the first `/v1/next`.
//! One value means one read at the start of a request and one write at its end: this is
//! `Engine::resume`/`save_session` with the answers beside the progress.

use std::cell::RefCell;
use std::collections::BTreeMap;

use quotaroute::catalogue::CategoryId;
use quotaroute::live::{Answer, Completion, LiveError, Reservation, Session, Worker};
use quotaroute::route::SavedInterview;
use quotaroute::schema::{Answers, Respondent, RespondentId};
use quotaroute::store::{Count, QuotaStore};

use crate::Live;

/// Answers by question name, as the API carries them.
pub type AnswerMap = BTreeMap<String, String>;

/// Why a request failed; each maps to one HTTP status.
#[derive(Debug)]
pub enum Failure {
    /// The request names something malformed (422).
    Invalid(String),
    /// The request names a respondent or category that does not exist (404).
    NotFound(String),
    /// The request does not fit the interview's state (409).
    Conflict(String),
    /// The store failed; retrying is safe (503).
    Unavailable(String),
}

impl From<LiveError> for Failure {
    fn from(e: LiveError) -> Failure {
        match e {
            LiveError::Store { .. } => Failure::Unavailable(e.to_string()),
            LiveError::NotShown { .. } | LiveError::Resume { .. } => {
                Failure::Conflict(e.to_string())
            }
            other => Failure::Invalid(other.to_string()),
        }
    }
}

thread_local! {
    /// Each blocking-pool thread's routing scratch (a policy's buffers and random stream),
    /// reused by every request the thread runs.
    static WORKER: RefCell<Worker> = RefCell::new(Worker::new(seed()));
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::thread::current().id())
}

fn store(engine: &Live) -> &dyn QuotaStore {
    engine
        .store()
        .expect("the service's engine is built on a store")
        .as_ref()
}

/// The respondent's id; the key is checked as the engine checks it.
pub fn respondent_id(key: &str) -> Result<RespondentId, Failure> {
    RespondentId::key(key).map_err(|e| Failure::Invalid(format!("respondent: {e}")))
}

/// The catalogue's category of id `key`.
pub fn category(engine: &Live, key: &str) -> Result<CategoryId, Failure> {
    engine
        .catalogue()
        .find(key)
        .ok_or_else(|| Failure::NotFound(format!("category `{key}` is not in the catalogue")))
}

fn parse_answers(engine: &Live, map: &AnswerMap) -> Result<Answers, Failure> {
    let schema = engine.catalogue().schema();
    let mut answers = Answers::unknown(schema);
    for (question, response) in map {
        let q = schema
            .question(question)
            .map_err(|e| Failure::Invalid(format!("answers: {e}")))?;
        let r = schema
            .response(q, response)
            .map_err(|e| Failure::Invalid(format!("answers.{question}: {e}")))?;
        answers.set(q, r);
    }
    Ok(answers)
}

/// What the store keeps for a respondent.
struct Kept {
    answers: AnswerMap,
    saved: SavedInterview,
}

fn load(engine: &Live, key: &str) -> Result<Option<Kept>, Failure> {
    let text = store(engine)
        .load_interview(key)
        .map_err(|e| Failure::Unavailable(e.to_string()))?;
    let Some(text) = text else { return Ok(None) };
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    let answers = serde_json::from_str(first)
        .map_err(|e| Failure::Conflict(format!("respondent `{key}`: kept answers: {e}")))?;
    let saved = SavedInterview::from_text(rest)
        .map_err(|e| Failure::Conflict(format!("respondent `{key}`: kept interview: {e}")))?;
    Ok(Some(Kept { answers, saved }))
}

fn save(engine: &Live, key: &str, answers: &AnswerMap, session: &Session) -> Result<(), Failure> {
    let json = serde_json::to_string(answers).map_err(|e| Failure::Invalid(e.to_string()))?;
    let text = format!("{json}\n{}", engine.save(session).to_text());
    store(engine)
        .save_interview(key, &text, engine.config().ttl_ms)
        .map_err(|e| Failure::Unavailable(e.to_string()))
}

fn not_started(key: &str) -> Failure {
    Failure::NotFound(format!(
        "respondent `{key}` has no interview (never started with /v1/next, or past its time-to-live)"
    ))
}

/// Resumes the kept interview (or starts one), runs `act` on it, saves it back.
fn with_session<T>(
    engine: &Live,
    key: &str,
    answers: &AnswerMap,
    saved: Option<&SavedInterview>,
    act: impl FnOnce(&mut Worker, &mut Session) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let id = respondent_id(key)?;
    let respondent = Respondent::new(id, parse_answers(engine, answers)?);
    WORKER.with_borrow_mut(|worker| {
        let mut session = match saved {
            Some(saved) => engine.resume_from(worker, respondent, saved)?,
            None => engine.start(worker, respondent),
        };
        let out = act(worker, &mut session)?;
        save(engine, key, answers, &session)?;
        Ok(out)
    })
}

/// `/v1/next`: the respondent's next qualifier, or `None` when the interview is over.
pub fn next(engine: &Live, key: &str, given: Option<AnswerMap>) -> Result<Option<String>, Failure> {
    respondent_id(key)?;
    let kept = load(engine, key)?;
    let (answers, saved) = match (kept, given) {
        (Some(k), Some(given)) if given != k.answers => {
            return Err(Failure::Conflict(format!(
                "answers: respondent `{key}` began the interview with other answers"
            )));
        }
        (Some(k), _) => (k.answers, Some(k.saved)),
        (None, Some(given)) => (given, None),
        (None, None) => {
            return Err(Failure::Invalid(
                "answers: required on a respondent's first request".into(),
            ));
        }
    };
    with_session(engine, key, &answers, saved.as_ref(), |worker, session| {
        let offer = engine.next_offer(worker, session)?;
        Ok(offer.map(|c| engine.catalogue().category(c).key.clone()))
    })
}

/// `/v1/answer`: the qualifier's answer; a qualified one holds a slot in the store.
pub fn answer(
    engine: &Live,
    key: &str,
    category: &str,
    qualified: bool,
) -> Result<&'static str, Failure> {
    respondent_id(key)?;
    let c = self::category(engine, category)?;
    let kept = load(engine, key)?.ok_or_else(|| not_started(key))?;
    with_session(
        engine,
        key,
        &kept.answers,
        Some(&kept.saved),
        |worker, session| {
            Ok(match engine.answer(worker, session, c, qualified)? {
                Answer::NotQualified => "not_qualified",
                Answer::Reserved(Reservation::Accepted { .. }) => "accepted",
                Answer::Reserved(Reservation::AlreadyHeld { .. }) => "already_held",
                Answer::Reserved(Reservation::AlreadyCompleted) => "already_completed",
                Answer::Reserved(Reservation::Full { .. }) => "full",
            })
        },
    )
}

/// `/v1/complete`: the respondent finished the category's survey.
pub fn complete(engine: &Live, key: &str, category: &str) -> Result<&'static str, Failure> {
    let id = respondent_id(key)?;
    let c = self::category(engine, category)?;
    load(engine, key)?.ok_or_else(|| not_started(key))?;
    Ok(match engine.complete(id, c)? {
        Completion::Completed => "completed",
        Completion::AlreadyCompleted => "already_completed",
        Completion::Expired => "expired",
        Completion::NotReserved => "not_reserved",
    })
}

/// `/v1/abandon`: the respondent left; their pending holds are released.
pub fn abandon(engine: &Live, key: &str) -> Result<u32, Failure> {
    let id = respondent_id(key)?;
    load(engine, key)?.ok_or_else(|| not_started(key))?;
    Ok(engine.abandon(id)?)
}

/// The store's counts, categories first then cells (the layout's order).
pub fn counts(engine: &Live) -> Result<Vec<Count>, Failure> {
    let mut out = Vec::new();
    store(engine)
        .read(&mut out)
        .map_err(|e| Failure::Unavailable(e.to_string()))?;
    Ok(out)
}

/// `PUT /v1/categories/<id>/target`: the change is made in the store, atomically.
pub fn set_target(engine: &Live, category: &str, target: u32) -> Result<Count, Failure> {
    let c = self::category(engine, category)?;
    engine.set_target(c, target)?;
    counts(engine)?
        .get(c.index())
        .copied()
        .ok_or_else(|| Failure::Unavailable("the store has no counter for the category".into()))
}
