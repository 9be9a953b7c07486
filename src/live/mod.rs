//! A live engine a survey server embeds: many threads route respondents at once against one
//! quota state, with reservations that can never overfill a quota.
//!
//! A respondent who qualifies for a category does not count as a complete yet: they hold a
//! **pending** slot while they take the category survey. The slot is taken only if
//! pending + completed is below the max target, by one compare-and-swap on the category's
//! open-slots counter, so check and take are one step and three finishers can never pass a
//! quota with one slot left. The slot then becomes a complete, or is released when the
//! respondent abandons or when its deadline (now + a time-to-live, by an injected [`Clock`])
//! passes. Routers read the counts without locks and see pending slots as taken.
//!
//! Every reservation call says what happened ([`Reservation`], [`Completion`]) and is
//! idempotent by (respondent, category): repeating it never counts twice, and one respondent
//! may complete several categories. A category may carry quota cells
//! ([`QuotaCell`](crate::catalogue::QuotaCell)): a reservation then takes a slot in the
//! category and in every cell the respondent falls in, or in none, and no policy offers a
//! category whose cell for this respondent is full.
//!
//! [`Engine::snapshot`] captures the whole state (counts, pending slots with deadlines,
//! completed markers, statistics, the wave ledger) consistently while threads work, and
//! [`Engine::restore`] rebuilds it exactly. [`Engine::close_wave`] carries each category's
//! shortfall or surplus into the next wave's targets.
//!
//! ```
//! use quotaroute::catalogue::{Catalogue, Category};
//! use quotaroute::live::{Answer, Completion, Engine, LiveConfig, ManualClock, Reservation, Timestamp, Worker};
//! use quotaroute::route::Greedy;
//! use quotaroute::schema::{Answers, Respondent, Schema};
//!
//! let schema = Schema::default_survey();
//! let catalogue = Catalogue::new(schema.clone(), vec![
//!     Category::new("coffee", "Fresh Coffee", 0.3, 120.0).with_target(1),
//! ])?;
//! let clock = ManualClock::new(Timestamp(0));
//! let config = LiveConfig { ttl_ms: 60_000, ..LiveConfig::default() };
//! let engine = Engine::new(catalogue, Greedy::scarcity(), &clock, config)?;
//! let coffee = engine.catalogue().find("coffee").unwrap();
//!
//! // Each server thread keeps a worker; each respondent a session.
//! let mut worker = Worker::new(1);
//! let mut ann = engine.start(&mut worker, Respondent::new(1, Answers::unknown(&schema)));
//! let mut bob = engine.start(&mut worker, Respondent::new(2, Answers::unknown(&schema)));
//! assert_eq!(engine.next_offer(&mut worker, &mut ann)?, Some(coffee));
//! assert_eq!(engine.next_offer(&mut worker, &mut bob)?, Some(coffee));
//! // Ann qualifies first and holds the only slot; Bob qualifies too but it is taken.
//! let held = engine.answer(&mut worker, &mut ann, coffee, true)?;
//! assert!(matches!(held, Answer::Reserved(Reservation::Accepted { .. })));
//! assert_eq!(engine.answer(&mut worker, &mut bob, coffee, true)?, Answer::Reserved(Reservation::Full { cell: None }));
//! // Ann walks away; after the time-to-live her slot is free again.
//! clock.advance(60_000);
//! assert_eq!(engine.complete(1, coffee)?, Completion::Expired);
//! assert_eq!(engine.quotas().view().open_slots(coffee), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clock;
mod snapshot;
mod wave;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use smallvec::SmallVec;
use thiserror::Error;

use crate::catalogue::{Catalogue, CategoryId};
use crate::route::{Ask, Exclusion, Interview, OfferError, Router, RouterState};
use crate::schema::{Answers, Respondent};
use crate::state::QuotaState;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use snapshot::{CellCounts, HeldSlot, LiveRestoreError, LiveSnapshot};
pub use wave::{WaveError, WaveLedger, WaveLine, WaveReport};

/// How an [`Engine`] runs.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LiveConfig {
    /// How long a pending slot is held before it is released, in the clock's milliseconds.
    pub ttl_ms: u64,
    /// Interview seconds each respondent may spend.
    pub budget_seconds: f64,
    /// Cap on qualifiers per respondent (`None`: none).
    pub max_qualifiers: Option<u32>,
}

impl Default for LiveConfig {
    /// 30 minutes to finish a category survey, 480 s of interview time, no qualifier cap.
    fn default() -> LiveConfig {
        LiveConfig {
            ttl_ms: 30 * 60 * 1000,
            budget_seconds: 480.0,
            max_qualifiers: None,
        }
    }
}

/// Why an engine could not be built.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `budget_seconds` is negative or not finite.
    #[error("budget_seconds {value} is not a finite number of seconds >= 0")]
    Budget {
        /// The value given.
        value: f64,
    },
    /// `ttl_ms` is 0: every slot would expire as soon as it is taken.
    #[error("ttl_ms is 0: a pending slot must be held for some time")]
    Ttl,
}

/// What a reservation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Reservation {
    /// A pending slot was taken in the category and in each of the respondent's cells; it is
    /// released at `deadline` unless completed before.
    Accepted {
        /// When the slot expires.
        deadline: Timestamp,
    },
    /// The respondent already holds a slot in this category (a repeated call): nothing taken.
    AlreadyHeld {
        /// When the held slot expires.
        deadline: Timestamp,
    },
    /// The respondent already completed this category: nothing taken.
    AlreadyCompleted,
    /// No slot: the category (`cell: None`) or the quota cell with this global index is at
    /// its max target, pending slots included. Nothing taken.
    Full {
        /// The full cell, or `None` for the category itself.
        cell: Option<usize>,
    },
}

/// What a complete did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Completion {
    /// The pending slot became a complete.
    Completed,
    /// Already completed (a repeated call): nothing counted.
    AlreadyCompleted,
    /// The slot's deadline had passed: it was released (now or by an earlier sweep) and
    /// nothing is counted.
    Expired,
    /// The respondent holds no slot in the category (never reserved, or abandoned, or
    /// forgotten).
    NotReserved,
}

/// What reporting a qualifier's answer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Answer {
    /// The respondent did not qualify.
    NotQualified,
    /// The respondent qualified; the reservation's outcome.
    Reserved(Reservation),
}

/// Why a reservation, complete or abandon could not be made.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SlotError {
    /// The id is not a category of the engine's catalogue.
    #[error("category {category} is not in the catalogue")]
    UnknownCategory {
        /// The id.
        category: CategoryId,
    },
}

/// Why the next offer could not be made.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum NextOfferError {
    /// The router returned a category that may not be offered, for a reason other than a
    /// count that changed under it (a misbehaving policy).
    #[error("policy `{policy}` offered respondent {respondent} a category it may not: {error}")]
    InvalidOffer {
        /// The policy's name.
        policy: String,
        /// The respondent.
        respondent: u64,
        /// Why the offer is invalid.
        error: OfferError,
    },
}

/// Why a qualifier answer could not be recorded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The id is not a category of the engine's catalogue.
    #[error("category {category} is not in the catalogue")]
    UnknownCategory {
        /// The id.
        category: CategoryId,
    },
    /// The respondent was not shown the category's qualifier in this session.
    #[error("respondent {respondent} was not shown the qualifier of category {category}")]
    NotShown {
        /// The respondent.
        respondent: u64,
        /// The category.
        category: CategoryId,
    },
}

/// Running totals of an engine (since it started, or since the wave began).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LiveStats {
    /// Qualifiers shown.
    pub shown: u64,
    /// Respondents who qualified.
    pub qualified: u64,
    /// Pending slots taken.
    pub accepted: u64,
    /// Reservations refused because a category or cell was full.
    pub refused: u64,
    /// Pending slots that became completes.
    pub completed: u64,
    /// Pending slots released by an abandon.
    pub abandoned: u64,
    /// Pending slots released because their deadline passed.
    pub expired: u64,
}

impl LiveStats {
    /// Slots accepted and not yet completed, abandoned or expired:
    /// `accepted − completed − abandoned − expired`.
    pub fn pending(&self) -> u64 {
        self.accepted
            .saturating_sub(self.completed + self.abandoned + self.expired)
    }
}

/// The engine's counters, changed only under a shard lock so a snapshot sees whole
/// operations.
#[derive(Debug, Default)]
struct Counters {
    shown: AtomicU64,
    qualified: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    completed: AtomicU64,
    abandoned: AtomicU64,
    expired: AtomicU64,
}

impl Counters {
    fn load(&self) -> LiveStats {
        let l = |a: &AtomicU64| a.load(Ordering::Acquire);
        LiveStats {
            shown: l(&self.shown),
            qualified: l(&self.qualified),
            accepted: l(&self.accepted),
            refused: l(&self.refused),
            completed: l(&self.completed),
            abandoned: l(&self.abandoned),
            expired: l(&self.expired),
        }
    }

    fn store(&self, s: &LiveStats) {
        let st = |a: &AtomicU64, v: u64| a.store(v, Ordering::Release);
        st(&self.shown, s.shown);
        st(&self.qualified, s.qualified);
        st(&self.accepted, s.accepted);
        st(&self.refused, s.refused);
        st(&self.completed, s.completed);
        st(&self.abandoned, s.abandoned);
        st(&self.expired, s.expired);
    }
}

#[inline]
fn bump(a: &AtomicU64, by: u64) {
    a.fetch_add(by, Ordering::AcqRel);
}

/// One respondent's slot in one category.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Slot {
    /// Held until `deadline`, in the category and in these cells.
    Pending {
        deadline: Timestamp,
        cells: SmallVec<[u32; 4]>,
    },
    /// Completed: kept so that a repeated call is recognised.
    Completed,
}

/// The slots one respondent holds, by category.
type Held = SmallVec<[(u32, Slot); 2]>;

/// The respondents whose ids hash to one shard.
#[derive(Debug, Default)]
struct Shard {
    respondents: HashMap<u64, Held>,
}

/// Shards of the reservation table: calls for one respondent take one shard's lock, so they
/// are serialised (idempotency) while calls for others mostly proceed in parallel.
const SHARDS: usize = 64;

#[inline]
fn shard_of(respondent: u64) -> usize {
    (respondent.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SHARDS.trailing_zeros())) as usize
}

/// What one server thread keeps between decisions: the router's caches and a random stream.
/// Not shared: make one per thread.
#[derive(Debug)]
pub struct Worker {
    state: RouterState,
    rng: Xoshiro256PlusPlus,
}

impl Worker {
    /// A worker whose random stream starts from `seed`.
    pub fn new(seed: u64) -> Worker {
        Worker {
            state: RouterState::default(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }
}

/// One respondent's routing: who they are and their interview so far.
#[derive(Clone, Debug)]
pub struct Session {
    respondent: Respondent,
    interview: Interview,
}

impl Session {
    /// Who is being routed.
    pub fn respondent(&self) -> &Respondent {
        &self.respondent
    }

    /// The interview so far.
    pub fn interview(&self) -> &Interview {
        &self.interview
    }
}

/// The live quota engine: a [`Catalogue`], a [`Router`], a [`Clock`] and the live counts,
/// shared by reference among server threads (`Sync` when the router and clock are).
///
/// Routing decisions read the counts without locks. Reservations, completes, abandons and
/// expiries are atomic: each takes the lock of the respondent's shard of the reservation
/// table (so one respondent's calls are serialised and idempotent) and changes counts only by
/// compare-and-swap, so no interleaving can pass a max target. A snapshot takes every shard's
/// lock for a moment; decisions never wait for it.
#[derive(Debug)]
pub struct Engine<R, C = SystemClock> {
    catalogue: Catalogue,
    router: R,
    clock: C,
    config: LiveConfig,
    quotas: QuotaState,
    shards: Box<[Mutex<Shard>]>,
    counters: Counters,
    ledger: WaveLedger,
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // Nothing panics while a shard is locked; if something ever did, the table is still
    // consistent (counts and entries change together after every check), so go on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<R: Router, C: Clock> Engine<R, C> {
    /// An engine with fresh counts: the catalogue's targets, nothing pending.
    ///
    /// # Errors
    /// [`ConfigError`] for a budget that is not a finite number ≥ 0 or a zero time-to-live.
    pub fn new(
        catalogue: Catalogue,
        router: R,
        clock: C,
        config: LiveConfig,
    ) -> Result<Engine<R, C>, ConfigError> {
        if !(config.budget_seconds.is_finite() && config.budget_seconds >= 0.0) {
            return Err(ConfigError::Budget {
                value: config.budget_seconds,
            });
        }
        if config.ttl_ms == 0 {
            return Err(ConfigError::Ttl);
        }
        let quotas = QuotaState::new(&catalogue);
        let ledger = WaveLedger::new(&catalogue);
        Ok(Engine {
            quotas,
            ledger,
            catalogue,
            router,
            clock,
            config,
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            counters: Counters::default(),
        })
    }

    /// The configuration.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// The live counts (read them through [`QuotaState::view`]).
    pub fn quotas(&self) -> &QuotaState {
        &self.quotas
    }

    /// The routing policy.
    pub fn router(&self) -> &R {
        &self.router
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// How the engine runs.
    pub fn config(&self) -> &LiveConfig {
        &self.config
    }

    /// Running totals (each counter read atomically; for a consistent set take a
    /// [`snapshot`](Self::snapshot)).
    pub fn stats(&self) -> LiveStats {
        self.counters.load()
    }

    /// The wave ledger: the current wave, its base targets and the debt or credit carried in.
    pub fn ledger(&self) -> &WaveLedger {
        &self.ledger
    }

    fn ask<'a>(&'a self, session: &'a Session) -> Ask<'a> {
        Ask {
            catalogue: &self.catalogue,
            respondent: &session.respondent,
            interview: &session.interview,
            quotas: self.quotas.view(),
        }
    }

    /// Starts routing a respondent (budget and qualifier cap from the configuration).
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
    pub fn restart(&self, worker: &mut Worker, session: &mut Session, id: u64, answers: &Answers) {
        session.respondent.id = id;
        session.respondent.answers.clone_from(answers);
        self.begin(worker, session);
    }

    fn begin(&self, worker: &mut Worker, session: &mut Session) {
        session.interview.begin(
            &self.catalogue,
            &session.respondent.answers,
            self.config.budget_seconds,
            self.config.max_qualifiers,
        );
        session.interview.refresh_cells(&self.quotas.view());
        self.router
            .on_respondent_start(&self.ask(session), &mut worker.state);
    }

    /// The next category to offer the respondent (its qualifier is then counted as shown), or
    /// `None` when routing is over.
    ///
    /// A count may change between the policy's look and the offer (another thread took the
    /// last slot): the offer is then re-decided, so a full category or cell is never offered.
    ///
    /// # Errors
    /// [`NextOfferError::InvalidOffer`] when the policy offers a category it may not for any
    /// other reason (ineligible, already shown, does not fit).
    ///
    /// # Performance
    /// The policy's decision reads counts without locks and allocates nothing; counting the
    /// exposure takes the respondent's shard lock for a few atomic increments.
    pub fn next_offer(
        &self,
        worker: &mut Worker,
        session: &mut Session,
    ) -> Result<Option<CategoryId>, NextOfferError> {
        for _ in 0..8 {
            session.interview.refresh_cells(&self.quotas.view());
            let ask = self.ask(session);
            let Some(c) = self
                .router
                .next_offer(&ask, &mut worker.state, &mut worker.rng)
            else {
                return Ok(None);
            };
            match session
                .interview
                .check_offer(&self.catalogue, &self.quotas.view(), c)
            {
                Ok(()) => {
                    {
                        let _shard = lock(&self.shards[shard_of(session.respondent.id)]);
                        self.quotas
                            .record_shown_shared(c, &session.respondent.answers);
                        bump(&self.counters.shown, 1);
                    }
                    session.interview.record_shown(&self.catalogue, c);
                    return Ok(Some(c));
                }
                Err(OfferError::NotOfferable {
                    reason: Exclusion::Closed | Exclusion::CellFull,
                    ..
                }) => continue,
                Err(error) => {
                    return Err(NextOfferError::InvalidOffer {
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
    /// # Errors
    /// [`AnswerError::UnknownCategory`]; [`AnswerError::NotShown`] when the qualifier was not
    /// shown in this session. Nothing changes then.
    pub fn answer(
        &self,
        worker: &mut Worker,
        session: &mut Session,
        category: CategoryId,
        qualified: bool,
    ) -> Result<Answer, AnswerError> {
        if category.index() >= self.catalogue.len() {
            return Err(AnswerError::UnknownCategory { category });
        }
        if !session.interview.was_shown(category) {
            return Err(AnswerError::NotShown {
                respondent: session.respondent.id,
                category,
            });
        }
        let outcome = if qualified {
            let r = self.reserve_with(
                session.respondent.id,
                category,
                &session.respondent.answers,
                true,
            );
            if matches!(r, Reservation::Accepted { .. }) {
                session.interview.record_complete(&self.catalogue, category);
            }
            Answer::Reserved(r)
        } else {
            Answer::NotQualified
        };
        let ask = self.ask(session);
        self.router
            .on_answer(&ask, &mut worker.state, category, qualified);
        if qualified && !self.quotas.view().is_open(category) {
            self.router
                .on_close(&self.catalogue, &mut worker.state, category);
        }
        Ok(outcome)
    }

    /// Takes a pending slot for the respondent in the category and in every quota cell of it
    /// that the answers fall in — all of them or none — if each has pending + completed below
    /// its max target. Idempotent: a respondent holding a live slot gets
    /// [`Reservation::AlreadyHeld`], one who completed gets [`Reservation::AlreadyCompleted`];
    /// a held slot past its deadline is released (counted as expired) and taken anew if one is
    /// open.
    ///
    /// # Errors
    /// [`SlotError::UnknownCategory`]; nothing changes then.
    ///
    /// # Performance
    /// The respondent's shard lock, one CAS per counter (category and cells), a hash-map
    /// insert.
    pub fn reserve(
        &self,
        respondent: u64,
        category: CategoryId,
        answers: &Answers,
    ) -> Result<Reservation, SlotError> {
        if category.index() >= self.catalogue.len() {
            return Err(SlotError::UnknownCategory { category });
        }
        Ok(self.reserve_with(respondent, category, answers, false))
    }

    fn reserve_with(
        &self,
        respondent: u64,
        category: CategoryId,
        answers: &Answers,
        count_qualified: bool,
    ) -> Reservation {
        let now = self.clock.now();
        let c = category.index() as u32;
        let mut shard = lock(&self.shards[shard_of(respondent)]);
        if count_qualified {
            self.quotas.record_qualified_shared(category);
            bump(&self.counters.qualified, 1);
        }
        let held = shard.respondents.entry(respondent).or_default();
        if let Some(i) = held.iter().position(|(k, _)| *k == c) {
            match &held[i].1 {
                Slot::Completed => return Reservation::AlreadyCompleted,
                Slot::Pending { deadline, .. } if *deadline > now => {
                    return Reservation::AlreadyHeld {
                        deadline: *deadline,
                    };
                }
                Slot::Pending { cells, .. } => {
                    self.release_slot(category, cells);
                    bump(&self.counters.expired, 1);
                    held.remove(i);
                }
            }
        }
        let outcome = self.take(category, answers);
        match outcome {
            Ok(cells) => {
                let deadline = now.plus_millis(self.config.ttl_ms);
                held.push((c, Slot::Pending { deadline, cells }));
                bump(&self.counters.accepted, 1);
                Reservation::Accepted { deadline }
            }
            Err(cell) => {
                if held.is_empty() {
                    shard.respondents.remove(&respondent);
                }
                bump(&self.counters.refused, 1);
                Reservation::Full { cell }
            }
        }
    }

    /// Takes a slot in the category, then in each of the answers' cells; on a full one, gives
    /// back what was taken. Err names the full cell (`None`: the category).
    fn take(
        &self,
        category: CategoryId,
        answers: &Answers,
    ) -> Result<SmallVec<[u32; 4]>, Option<usize>> {
        if self.quotas.try_reserve(category).is_err() {
            return Err(None);
        }
        let mut cells = SmallVec::new();
        for cell in self.catalogue.cell_range(category) {
            let falls_in = self
                .catalogue
                .cell(cell)
                .is_some_and(|(_, q)| q.rule.matches(answers));
            if !falls_in {
                continue;
            }
            if !self.quotas.try_reserve_cell(cell) {
                self.release_slot(category, &cells);
                return Err(Some(cell));
            }
            cells.push(cell as u32);
        }
        Ok(cells)
    }

    fn release_slot(&self, category: CategoryId, cells: &[u32]) {
        for &cell in cells {
            self.quotas.release_cell(cell as usize);
        }
        self.quotas.release(category);
    }

    /// Turns the respondent's pending slot in the category (and its cells) into a complete.
    /// Idempotent: a repeated call returns [`Completion::AlreadyCompleted`] and counts nothing.
    /// A slot past its deadline is released and [`Completion::Expired`] returned.
    ///
    /// # Errors
    /// [`SlotError::UnknownCategory`]; nothing changes then.
    pub fn complete(&self, respondent: u64, category: CategoryId) -> Result<Completion, SlotError> {
        if category.index() >= self.catalogue.len() {
            return Err(SlotError::UnknownCategory { category });
        }
        let now = self.clock.now();
        let c = category.index() as u32;
        let mut shard = lock(&self.shards[shard_of(respondent)]);
        let Some(held) = shard.respondents.get_mut(&respondent) else {
            return Ok(Completion::NotReserved);
        };
        let Some(i) = held.iter().position(|(k, _)| *k == c) else {
            return Ok(Completion::NotReserved);
        };
        let outcome = match &held[i].1 {
            Slot::Completed => return Ok(Completion::AlreadyCompleted),
            Slot::Pending { deadline, cells } if *deadline <= now => {
                self.release_slot(category, cells);
                bump(&self.counters.expired, 1);
                held.remove(i);
                Completion::Expired
            }
            Slot::Pending { cells, .. } => {
                for &cell in cells {
                    self.quotas.commit_cell(cell as usize);
                }
                self.quotas.commit(category);
                bump(&self.counters.completed, 1);
                held[i].1 = Slot::Completed;
                Completion::Completed
            }
        };
        if held.is_empty() {
            shard.respondents.remove(&respondent);
        }
        Ok(outcome)
    }

    /// Releases every pending slot the respondent holds (they left); returns how many.
    /// Completes stay counted.
    pub fn abandon(&self, respondent: u64) -> u32 {
        let mut shard = lock(&self.shards[shard_of(respondent)]);
        let Some(held) = shard.respondents.get_mut(&respondent) else {
            return 0;
        };
        let mut released = 0;
        held.retain(|(c, slot)| match slot {
            Slot::Pending { cells, .. } => {
                self.release_slot(CategoryId::from_index(*c as usize), cells);
                released += 1;
                false
            }
            Slot::Completed => true,
        });
        if held.is_empty() {
            shard.respondents.remove(&respondent);
        }
        bump(&self.counters.abandoned, u64::from(released));
        released
    }

    /// Releases the respondent's pending slot in one category; true when there was one.
    ///
    /// # Errors
    /// [`SlotError::UnknownCategory`]; nothing changes then.
    pub fn abandon_category(
        &self,
        respondent: u64,
        category: CategoryId,
    ) -> Result<bool, SlotError> {
        if category.index() >= self.catalogue.len() {
            return Err(SlotError::UnknownCategory { category });
        }
        let c = category.index() as u32;
        let mut shard = lock(&self.shards[shard_of(respondent)]);
        let Some(held) = shard.respondents.get_mut(&respondent) else {
            return Ok(false);
        };
        let Some(i) = held
            .iter()
            .position(|(k, s)| *k == c && matches!(s, Slot::Pending { .. }))
        else {
            return Ok(false);
        };
        if let (_, Slot::Pending { cells, .. }) = held.remove(i) {
            self.release_slot(category, &cells);
        }
        if held.is_empty() {
            shard.respondents.remove(&respondent);
        }
        bump(&self.counters.abandoned, 1);
        Ok(true)
    }

    /// Releases every pending slot whose deadline has passed; returns how many. Call it
    /// periodically (expired slots are also released when their holder calls again).
    ///
    /// # Performance
    /// Visits every held slot, one shard lock at a time.
    pub fn expire(&self) -> u64 {
        let now = self.clock.now();
        let mut expired = 0;
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let mut n = 0;
            shard.respondents.retain(|_, held| {
                held.retain(|(c, slot)| match slot {
                    Slot::Pending { deadline, cells } if *deadline <= now => {
                        self.release_slot(CategoryId::from_index(*c as usize), cells);
                        n += 1;
                        false
                    }
                    _ => true,
                });
                !held.is_empty()
            });
            bump(&self.counters.expired, n);
            expired += n;
        }
        expired
    }

    /// Releases every pending slot whatever its deadline (end of fieldwork), counted as
    /// expired; returns how many.
    pub fn expire_all(&self) -> u64 {
        let mut expired = 0;
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let mut n = 0;
            shard.respondents.retain(|_, held| {
                held.retain(|(c, slot)| match slot {
                    Slot::Pending { cells, .. } => {
                        self.release_slot(CategoryId::from_index(*c as usize), cells);
                        n += 1;
                        false
                    }
                    Slot::Completed => true,
                });
                !held.is_empty()
            });
            bump(&self.counters.expired, n);
            expired += n;
        }
        expired
    }

    /// Drops the record of the respondent's completes (kept so that repeated calls are
    /// recognised); pending slots stay. After this, a repeated complete returns
    /// [`Completion::NotReserved`] and still counts nothing. Returns how many were dropped.
    pub fn forget(&self, respondent: u64) -> u32 {
        let mut shard = lock(&self.shards[shard_of(respondent)]);
        let Some(held) = shard.respondents.get_mut(&respondent) else {
            return 0;
        };
        let before = held.len();
        held.retain(|(_, s)| matches!(s, Slot::Pending { .. }));
        let dropped = (before - held.len()) as u32;
        if held.is_empty() {
            shard.respondents.remove(&respondent);
        }
        dropped
    }

    /// The respondent's pending slot in the category: its deadline, if it holds one.
    pub fn pending_deadline(&self, respondent: u64, category: CategoryId) -> Option<Timestamp> {
        let shard = lock(&self.shards[shard_of(respondent)]);
        shard.respondents.get(&respondent).and_then(|held| {
            held.iter().find_map(|(c, s)| match s {
                Slot::Pending { deadline, .. } if *c as usize == category.index() => {
                    Some(*deadline)
                }
                _ => None,
            })
        })
    }

    /// Overfill: Σ over categories and cells of max(0, completed − max target). Zero unless
    /// the state was built wrong; the stress tests assert it.
    pub fn overfill(&self) -> u64 {
        let q = &self.quotas;
        let view = q.view();
        let categories: u64 = self
            .catalogue
            .ids()
            .map(|c| u64::from(view.completed(c).saturating_sub(q.target(c))))
            .sum();
        let cells: u64 = (0..q.cell_count())
            .map(|i| u64::from(q.cell_completed(i).saturating_sub(q.cell_target(i))))
            .sum();
        categories + cells
    }

    /// Every shard's lock, in order: while they are held no reservation, complete, abandon or
    /// expiry is in progress.
    fn lock_all(&self) -> Vec<MutexGuard<'_, Shard>> {
        self.shards.iter().map(lock).collect()
    }
}

#[cfg(test)]
mod tests;
