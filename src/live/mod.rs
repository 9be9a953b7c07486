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
//! Every event of a session (shown, answered, slot taken) is recorded through a
//! [`Turn`](crate::route::Turn), as in the simulation, so the counts, the interview and the
//! router's hooks move together.
//!
//! Every reservation call says what happened ([`Reservation`], [`Completion`]) and is
//! idempotent by (respondent, category): repeating it never counts twice, and one respondent
//! may complete several categories. A category may carry quota cells
//! ([`QuotaCell`](crate::catalogue::QuotaCell)): a reservation then takes a slot in the
//! category and in every cell the respondent falls in, or in none, and no policy offers a
//! category whose cell for this respondent is full.
//!
//! The cells of a category may form a quota tree (a hold then takes every node of the
//! respondent's path, or none), and [`Engine::quota_query`] answers the four Askia queries of
//! the [`quota`](crate::quota) module on the live counts.
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

mod admin;
mod clock;
mod queries;
mod resume;
mod routing;
mod shared;
mod slots;
mod snapshot;
mod wave;

// Public for the metric names (feature `metrics`); its own docs list them.
pub mod metrics;

use std::sync::Mutex;
use std::sync::atomic::Ordering;

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use thiserror::Error;

use crate::catalogue::{Catalogue, CategoryId};
use crate::route::{Interview, OfferError, Router, RouterState};
use crate::schema::{Respondent, RespondentId};
use crate::state::QuotaState;
use crate::store::StoreError;

use metrics::{Metrics, Stat};
use slots::{SHARDS, Shard, Slot, lock, shard_of};

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use queries::{Counting, LiveQueryBuffer, LiveQueryError};
pub use snapshot::{CellCounts, HeldSlot, LiveRestoreError, LiveSnapshot};
pub use wave::{WaveError, WaveLedger, WaveLine, WaveReport};

/// How an [`Engine`] runs.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
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
    /// The shared quota store refused the engine ([`Engine::with_store`]): its survey has
    /// other counters or targets than the catalogue, or it could not be read.
    #[error("quota store: {source}")]
    Store {
        /// The store's error.
        #[source]
        source: StoreError,
    },
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
    /// The slot's deadline had passed and no sweep had released it yet: this call released
    /// it, and nothing is counted. (Once a sweep — [`Engine::expire`],
    /// [`Engine::expire_all`] — has released it, a late complete finds
    /// [`NotReserved`](Self::NotReserved).)
    Expired,
    /// The respondent holds no slot in the category (never reserved, abandoned, released by
    /// a sweep after its deadline, or forgotten).
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

/// Why an engine call could not be made (a reservation, complete or abandon; the next offer;
/// an answer). Nothing changes when a call fails.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LiveError {
    /// The id is not a category of the engine's catalogue.
    #[error(
        "no category at position {} in the catalogue (an id from another catalogue)",
        .category.index()
    )]
    UnknownCategory {
        /// The id.
        category: CategoryId,
    },
    /// The respondent was not shown the category's qualifier in this session
    /// ([`Engine::answer`]).
    #[error("respondent {respondent} was not shown the qualifier of category `{key}`")]
    NotShown {
        /// The respondent.
        respondent: RespondentId,
        /// The category.
        category: CategoryId,
        /// The category's key in the catalogue.
        key: String,
    },
    /// The router returned a category that may not be offered, for a reason other than a
    /// count that changed under it: a misbehaving policy ([`Engine::next_offer`]).
    #[error("policy `{policy}` offered respondent {respondent} a category it may not: {error}")]
    InvalidOffer {
        /// The policy's name.
        policy: String,
        /// The respondent.
        respondent: RespondentId,
        /// Why the offer is invalid.
        error: OfferError,
    },
    /// The shared quota store failed ([`Engine::with_store`]); see
    /// [`StoreError::is_indeterminate`] for whether the call may have been applied (repeat it:
    /// every call is idempotent).
    #[error("quota store: {source}")]
    Store {
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The answers do not fit the catalogue's schema ([`Engine::reserve`]).
    #[error("respondent {respondent}: {error}")]
    Answers {
        /// The respondent.
        respondent: RespondentId,
        /// How they do not fit.
        error: crate::schema::AnswersError,
    },
    /// A quota cell index outside the catalogue's cells.
    #[error("quota cell {cell} is not in the catalogue ({cells} cells)")]
    UnknownCell {
        /// The index given.
        cell: usize,
        /// How many cells the catalogue has.
        cells: usize,
    },
    /// [`Engine::reopen`] of a category that is not closed.
    #[error("category `{key}` is not closed")]
    NotClosed {
        /// The category's key.
        key: String,
    },
    /// A saved session could not be carried on ([`Engine::resume`],
    /// [`Engine::resume_from`]): nothing was started.
    #[error("respondent {respondent}: the saved session cannot be resumed: {error}")]
    Resume {
        /// The respondent.
        respondent: RespondentId,
        /// Why.
        error: crate::route::ResumeError,
    },
    /// The operation needs a shared quota store ([`Engine::with_store`]) and the engine has
    /// none.
    #[error("`{operation}` needs an engine with a shared quota store")]
    NoStore {
        /// The operation.
        operation: &'static str,
    },
    /// The operation is not available on an engine whose counts live in a shared store
    /// (it would act on other nodes' holds).
    #[error("`{operation}` is not available on an engine with a shared quota store")]
    Shared {
        /// The operation.
        operation: &'static str,
    },
}

/// The old name of [`LiveError`] for reservations, completes and abandons.
#[deprecated(note = "renamed `LiveError`: one error type for the engine's calls")]
pub type SlotError = LiveError;

/// The old name of [`LiveError`] for [`Engine::next_offer`].
#[deprecated(note = "renamed `LiveError`: one error type for the engine's calls")]
pub type NextOfferError = LiveError;

/// The old name of [`LiveError`] for [`Engine::answer`].
#[deprecated(note = "renamed `LiveError`: one error type for the engine's calls")]
pub type AnswerError = LiveError;

/// Running totals of an engine (since it started, or since the wave began).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
#[non_exhaustive]
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
/// operations. Each also moves its exported counter (feature `metrics`, [`metrics`]);
/// `Default` registers those counters.
#[derive(Debug)]
struct Counters {
    shown: Stat,
    qualified: Stat,
    accepted: Stat,
    refused: Stat,
    completed: Stat,
    abandoned: Stat,
    expired: Stat,
}

impl Counters {
    fn load(&self) -> LiveStats {
        let l = |a: &Stat| a.load(Ordering::Acquire);
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
        let st = |a: &Stat, v: u64| a.store(v, Ordering::Release);
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
fn bump(a: &Stat, by: u64) {
    a.add(by);
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
    /// The exported metrics' handles (empty without feature `metrics`).
    metrics: Metrics,
    /// The shared store, when the counts live there ([`Engine::with_store`]).
    shared: Option<shared::Shared>,
    /// Administrative changes: this engine's own (they go into its snapshots), or those it
    /// made through the shared store.
    admin: Mutex<Vec<crate::store::Change>>,
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
        let metrics = Metrics::new(&catalogue);
        Ok(Engine {
            quotas,
            ledger,
            catalogue,
            router,
            clock,
            config,
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            counters: Counters::default(),
            metrics,
            shared: None,
            admin: Mutex::new(Vec::new()),
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
}

// Compile-time check: engines are shared by reference among server threads.
const _: () = {
    fn send_sync<T: Send + Sync>() {}
    let _ = send_sync::<Engine<crate::route::Greedy>>;
    let _ = send_sync::<Engine<Box<dyn Router>, std::sync::Arc<ManualClock>>>;
};

#[cfg(test)]
mod tests;
