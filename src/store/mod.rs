//! The quota store: where the authoritative counts and holds of a survey live, behind one
//! small trait, so that one router process or many share them.
//!
//! A store keeps **counters with a max** (a category, a quota cell of it, later the nodes of a
//! quota tree), numbered by a [`Layout`]. Its operations are the reservation pattern:
//! [`hold`](QuotaStore::hold) takes one slot in *every* counter of a set, or in none, keyed by
//! (respondent, category) with a deadline; [`commit`](QuotaStore::commit) turns the hold into
//! a complete; [`release`](QuotaStore::release) gives it back; [`expire`](QuotaStore::expire)
//! releases holds whose deadline passed; [`read`](QuotaStore::read) returns the counts. Every
//! call is idempotent and says what it did, so a retry after a lost reply is safe. Respondent
//! keys are opaque strings (platforms use UUIDs).
//!
//! [`MemoryStore`] keeps everything in the process (lock-free counters, a sharded hold table)
//! and is what an [`Engine`](crate::live::Engine) uses unless it is given another store. The
//! `redis` feature adds `RedisStore`, which many router nodes share; the `postgres` feature
//! `PostgresStore`, the same in the platform's own database, with a complete that can commit
//! in the platform's own transaction. The engine routes on a
//! local **mirror** of the counts (never waiting on the network): its own holds and completes
//! show there at once, other nodes' after the next [`Engine::sync`](crate::live::Engine::sync).
//! Only the store grants holds, so a stale mirror can cost a wasted qualifier, never an
//! overfill.
//!
//! ```
//! use quotaroute::live::{Completion, ManualClock, Timestamp};
//! use quotaroute::store::{Counter, Hold, Layout, MemoryStore, QuotaStore};
//!
//! let layout = Layout::new("demo", vec![Counter::new("coffee", 1)])?;
//! let clock = ManualClock::new(Timestamp(0));
//! let store = MemoryStore::new(layout, &clock);
//! // Two respondents qualify for the one slot left: the store grants it once.
//! assert_eq!(store.hold("ann", 0, &[0], 60_000)?, Hold::Accepted { deadline: Timestamp(60_000) });
//! assert_eq!(store.hold("bob", 0, &[0], 60_000)?, Hold::Full { counter: 0 });
//! assert_eq!(store.commit("ann", 0)?, Completion::Completed);
//! assert_eq!(store.commit("ann", 0)?, Completion::AlreadyCompleted); // a retry counts once
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod change;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod layout;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "redis")]
mod redis;

use smallvec::SmallVec;

use crate::live::{Completion, Timestamp};

pub use change::{Change, ChangeKind};
pub use error::StoreError;
pub use layout::{Counter, Layout, LayoutError};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{
    AsyncPostgresStore, PG_MIGRATIONS, PG_SCHEMA_VERSION, PostgresOptions, PostgresStore,
};
#[cfg(feature = "redis")]
pub use redis::{AsyncRedisStore, LAYOUT_VERSION, RedisOptions, RedisStore};

/// A counter's index in a store's [`Layout`]: categories first, then quota cells.
pub type CounterId = u32;

/// What [`QuotaStore::hold`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Hold {
    /// A slot was taken in every counter of the set; it is released at `deadline` (on the
    /// store's clock) unless committed before.
    Accepted {
        /// When the hold expires.
        deadline: Timestamp,
    },
    /// The respondent already holds a live slot in this category: nothing taken.
    AlreadyHeld {
        /// When the held slot expires.
        deadline: Timestamp,
    },
    /// The respondent already completed this category: nothing taken.
    AlreadyCompleted,
    /// `counter` has pending + completed at its max: nothing taken anywhere.
    Full {
        /// The first full counter of the set.
        counter: CounterId,
    },
}

impl Hold {
    /// True for [`Hold::Accepted`].
    pub fn is_accepted(&self) -> bool {
        matches!(self, Hold::Accepted { .. })
    }
}

/// A hold given back by [`QuotaStore::release_all`]: its category and the counters it held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Released {
    /// The hold's category.
    pub category: u32,
    /// The counters the hold had a slot in.
    pub counters: SmallVec<[CounterId; 4]>,
}

/// One counter as a store has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Count {
    /// The max target: pending + completed never passes it.
    pub max: u32,
    /// Slots held and not yet committed, released or expired.
    pub pending: u32,
    /// Completes.
    pub completed: u32,
}

impl Count {
    /// Slots that can still be held: `max − pending − completed` (0 when full).
    pub fn open(&self) -> u32 {
        self.max
            .saturating_sub(self.pending.saturating_add(self.completed))
    }
}

/// Where a survey's authoritative counts and holds live.
///
/// Every method is idempotent by (respondent, category) and changes nothing when it fails;
/// a failed call's outcome is unknown only when the error says so
/// ([`StoreError::is_indeterminate`]), and repeating the call then is safe. Times are on the
/// store's clock; `ttl_ms` is added to the store's now.
///
/// The trait is object safe: an engine keeps an `Arc<dyn QuotaStore>`.
pub trait QuotaStore: Send + Sync + std::fmt::Debug {
    /// The counters: names and maxes as the store has them (for a shared store, the targets
    /// recorded when the survey was created are authoritative).
    fn layout(&self) -> &Layout;

    /// Takes one slot in every counter of `counters`, or in none, for the respondent's hold in
    /// `category`, if each has pending + completed below its max. A respondent who holds a
    /// live slot in the category gets [`Hold::AlreadyHeld`], one who completed it
    /// [`Hold::AlreadyCompleted`]; a hold past its deadline is released (counted expired)
    /// and taken anew if possible.
    ///
    /// # Errors
    /// [`StoreError::UnknownCounter`] for a counter outside the layout (nothing taken);
    /// connection failures as [`StoreError`] says.
    fn hold(
        &self,
        respondent: &str,
        category: u32,
        counters: &[CounterId],
        ttl_ms: u64,
    ) -> Result<Hold, StoreError>;

    /// Turns the respondent's hold in `category` into a complete in each of its counters.
    /// A repeated call returns [`Completion::AlreadyCompleted`] and counts nothing; a hold
    /// past its deadline is released and [`Completion::Expired`] returned.
    ///
    /// # Errors
    /// As [`StoreError`] says.
    fn commit(&self, respondent: &str, category: u32) -> Result<Completion, StoreError>;

    /// Releases the respondent's hold in `category`; true when there was a live one.
    ///
    /// # Errors
    /// As [`StoreError`] says.
    fn release(&self, respondent: &str, category: u32) -> Result<bool, StoreError>;

    /// Releases every hold of the respondent (they left) and says which; completes stay.
    ///
    /// # Errors
    /// As [`StoreError`] says.
    fn release_all(&self, respondent: &str) -> Result<Vec<Released>, StoreError>;

    /// Releases every hold whose deadline has passed on the store's clock; returns how many.
    /// Idempotent: any node may sweep, and two sweeps never release one hold twice.
    ///
    /// # Errors
    /// As [`StoreError`] says.
    fn expire(&self) -> Result<u64, StoreError>;

    /// Reads every counter into `out` (resized to the layout's length), as one consistent
    /// picture.
    ///
    /// # Errors
    /// As [`StoreError`] says.
    fn read(&self, out: &mut Vec<Count>) -> Result<(), StoreError>;

    /// Keeps the respondent's interview (an opaque text, [`SavedInterview::to_text`]) for
    /// `ttl_ms` on the store's clock, replacing any kept before: the next request may reach
    /// any node. A [`load_interview`](Self::load_interview) after this call returns reads
    /// it (read-your-writes).
    ///
    /// [`SavedInterview::to_text`]: crate::route::SavedInterview::to_text
    ///
    /// # Errors
    /// As [`StoreError`] says.
    fn save_interview(&self, respondent: &str, state: &str, ttl_ms: u64) -> Result<(), StoreError>;

    /// The respondent's interview as last saved, unless its time-to-live has passed.
    ///
    /// # Errors
    /// As [`StoreError`] says.
    fn load_interview(&self, respondent: &str) -> Result<Option<String>, StoreError>;

    /// Sets a counter's max (an administrative change) and records the change, in one
    /// atomic step. Raising opens slots at once. Lowering never cancels a held slot: no new
    /// hold is granted while pending + completed is at or above the new max, and holds
    /// taken before the change may still complete, so completed can end above the new max
    /// by at most the pending at the time of the change.
    ///
    /// # Errors
    /// [`StoreError::UnknownCounter`] for a counter outside the layout (nothing changed);
    /// connection failures as [`StoreError`] says (the call is not idempotent: read
    /// [`changes`](Self::changes) before repeating an indeterminate one).
    fn set_max(&self, counter: CounterId, max: u32, kind: ChangeKind)
    -> Result<Change, StoreError>;

    /// Every administrative change recorded for the survey, in the order applied.
    ///
    /// # Errors
    /// As [`StoreError`] says.
    fn changes(&self) -> Result<Vec<Change>, StoreError>;
}

// Compile-time check: the trait stays object safe (engines keep `Arc<dyn QuotaStore>`).
const _: Option<&dyn QuotaStore> = None;
