//! The engine on a shared [`QuotaStore`]: holds, completes and releases go to the store (the
//! only authority), and the engine's own counts become the store's local mirror, which
//! routers read without waiting on the network.
//!
//! A node's own calls change the mirror as soon as the store answers; other nodes' show after
//! the next [`Engine::sync`]. A pull of the whole picture is serialised with the node's own
//! calls (a read–write gate: calls share it, a pull takes it alone), so a pull never lands
//! over a newer answer and hides it. A stale mirror can offer a category another node has
//! just filled (a wasted qualifier: the store refuses the hold), never overfill.

use std::sync::{Arc, Mutex, RwLock};

use smallvec::SmallVec;

use crate::catalogue::{Catalogue, CategoryId};
use crate::route::Router;
use crate::schema::{Answers, RespondentId};
use crate::store::change::reconcile;
use crate::store::{Change, Count, CounterId, Hold, Layout, QuotaStore, StoreError};

use super::metrics::StoreOp;
use super::{Clock, Completion, ConfigError, Engine, LiveConfig, LiveError, Reservation, bump};

/// What an engine on a shared store keeps: the store, the gate and a buffer for pulls.
#[derive(Debug)]
pub(super) struct Shared {
    store: Arc<dyn QuotaStore>,
    gate: RwLock<()>,
    scratch: Mutex<Vec<Count>>,
}

impl Shared {
    /// The store.
    pub(super) fn store(&self) -> &dyn QuotaStore {
        &*self.store
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

/// Checks the catalogue against the survey in the store by the one rule for targets
/// ([`reconcile`]): the store's maxes now and its recorded changes. The changes, when they
/// agree.
fn check_layout(catalogue: &Catalogue, store: &dyn QuotaStore) -> Result<Vec<Change>, StoreError> {
    let stored = store.layout();
    let ours = Layout::from_catalogue(stored.survey(), catalogue)?;
    let mut counts = Vec::new();
    store.read(&mut counts)?;
    let mut current = stored.clone();
    current.set_maxes(counts.iter().map(|c| c.max));
    let changes = store.changes()?;
    reconcile(&ours, &current, &changes)?;
    Ok(changes)
}

impl<R: Router, C: Clock> Engine<R, C> {
    /// An engine whose counts and holds live in `store`, shared with other engines (other
    /// threads' engines, other processes, other machines). The store's counters must be the
    /// catalogue's ([`Layout::from_catalogue`]), and its targets are authoritative: each of
    /// the catalogue's targets must be the store's now or the one before the store's
    /// recorded administrative changes ([`reconcile`]); a node that differs otherwise is
    /// refused with [`StoreError::TargetMismatch`] naming the counter. The mirror is filled
    /// from the store (its targets included) before this returns.
    ///
    /// Deadlines are on the store's clock; `clock` is kept for the wave ledger and snapshots.
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid configuration; [`ConfigError::Store`] when the layouts
    /// differ or the store cannot be read.
    pub fn with_store(
        catalogue: Catalogue,
        router: R,
        clock: C,
        config: LiveConfig,
        store: Arc<dyn QuotaStore>,
    ) -> Result<Engine<R, C>, ConfigError> {
        let changes =
            check_layout(&catalogue, &*store).map_err(|source| ConfigError::Store { source })?;
        let mut engine = Engine::new(catalogue, router, clock, config)?;
        *engine.admin() = changes;
        engine.shared = Some(Shared {
            store,
            gate: RwLock::new(()),
            scratch: Mutex::new(Vec::new()),
        });
        engine.sync().map_err(|e| match e {
            LiveError::Store { source } => ConfigError::Store { source },
            other => ConfigError::Store {
                source: StoreError::Protocol {
                    detail: other.to_string(),
                    source: None,
                },
            },
        })?;
        Ok(engine)
    }

    /// The shared store, if the engine was built [`with_store`](Self::with_store).
    pub fn store(&self) -> Option<&Arc<dyn QuotaStore>> {
        self.shared.as_ref().map(|s| &s.store)
    }

    /// Pulls every count from the shared store into the mirror routers read; nothing to do
    /// for an engine that keeps its own counts. Call it every few hundred milliseconds (the
    /// staleness other nodes' holds may have here), from a background thread or task.
    ///
    /// # Errors
    /// [`LiveError::Store`] when the store cannot be read; the mirror is unchanged then.
    pub fn sync(&self) -> Result<(), LiveError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let mut scratch = shared.scratch.lock().unwrap_or_else(|e| e.into_inner());
        let _alone = shared.gate.write().unwrap_or_else(|e| e.into_inner());
        let timer = self.metrics.store(StoreOp::Read);
        shared.store.read(&mut scratch).map_err(store_error)?;
        drop(timer);
        for (counter, c) in scratch.iter().enumerate() {
            self.quotas
                .mirror_set(counter, c.max, c.pending, c.completed);
        }
        self.metrics.synced();
        Ok(())
    }

    /// [`reserve`](Self::reserve) through the store.
    // Out of line: the in-memory path, which the engine takes without a store, stays as
    // small as it was.
    #[inline(never)]
    pub(super) fn reserve_shared(
        &self,
        shared: &Shared,
        respondent: &RespondentId,
        category: CategoryId,
        answers: &Answers,
    ) -> Result<Reservation, LiveError> {
        let n = self.catalogue.len();
        let mut counters: SmallVec<[CounterId; 8]> = SmallVec::new();
        counters.push(category.index() as CounterId);
        for cell in self.catalogue.cell_range(category) {
            if self
                .catalogue
                .cell_rule(cell)
                .is_some_and(|rule| rule.matches(answers))
            {
                counters.push((n + cell) as CounterId);
            }
        }
        let mut buf = [0; 20];
        let _call = read(&shared.gate);
        let _timer = self.metrics.store(StoreOp::Hold);
        let hold = shared
            .store
            .hold(
                respondent.as_store_key(&mut buf),
                category.index() as u32,
                &counters,
                self.config.ttl_ms,
            )
            .map_err(store_error)?;
        Ok(match hold {
            Hold::Accepted { deadline } => {
                for &c in &counters {
                    self.quotas.mirror_hold(c as usize);
                }
                bump(&self.counters.accepted, 1);
                Reservation::Accepted { deadline }
            }
            Hold::AlreadyHeld { deadline } => Reservation::AlreadyHeld { deadline },
            Hold::AlreadyCompleted => Reservation::AlreadyCompleted,
            Hold::Full { counter } => {
                // The mirror said open and the store said full: another node filled it.
                self.quotas.mirror_set_full(counter as usize);
                bump(&self.counters.refused, 1);
                let counter = counter as usize;
                Reservation::Full {
                    cell: (counter >= n).then(|| counter - n),
                }
            }
        })
    }

    /// [`complete`](Self::complete) through the store.
    #[inline(never)]
    pub(super) fn complete_shared(
        &self,
        shared: &Shared,
        respondent: &RespondentId,
        category: CategoryId,
    ) -> Result<Completion, LiveError> {
        let mut buf = [0; 20];
        let _call = read(&shared.gate);
        let _timer = self.metrics.store(StoreOp::Commit);
        let done = shared
            .store
            .commit(respondent.as_store_key(&mut buf), category.index() as u32)
            .map_err(store_error)?;
        match done {
            // The cells' split of pending and completed follows at the next sync; their open
            // slots do not change on a commit.
            Completion::Completed => {
                self.quotas.mirror_commit(category.index());
                bump(&self.counters.completed, 1);
            }
            Completion::Expired => {
                self.quotas.mirror_release(category.index());
                bump(&self.counters.expired, 1);
            }
            Completion::AlreadyCompleted | Completion::NotReserved => {}
        }
        Ok(done)
    }

    /// [`abandon`](Self::abandon) through the store.
    #[inline(never)]
    pub(super) fn abandon_shared(
        &self,
        shared: &Shared,
        respondent: &RespondentId,
    ) -> Result<u32, LiveError> {
        let mut buf = [0; 20];
        let _call = read(&shared.gate);
        let _timer = self.metrics.store(StoreOp::ReleaseAll);
        let released = shared
            .store
            .release_all(respondent.as_store_key(&mut buf))
            .map_err(store_error)?;
        for hold in &released {
            for &c in &hold.counters {
                self.quotas.mirror_release(c as usize);
            }
        }
        let n = released.len() as u32;
        bump(&self.counters.abandoned, u64::from(n));
        Ok(n)
    }

    /// [`abandon_category`](Self::abandon_category) through the store.
    #[inline(never)]
    pub(super) fn abandon_category_shared(
        &self,
        shared: &Shared,
        respondent: &RespondentId,
        category: CategoryId,
    ) -> Result<bool, LiveError> {
        let mut buf = [0; 20];
        let _call = read(&shared.gate);
        let _timer = self.metrics.store(StoreOp::Release);
        let live = shared
            .store
            .release(respondent.as_store_key(&mut buf), category.index() as u32)
            .map_err(store_error)?;
        if live {
            // The cells reopen in the mirror at the next sync.
            self.quotas.mirror_release(category.index());
            bump(&self.counters.abandoned, 1);
        }
        Ok(live)
    }

    /// [`expire`](Self::expire) through the store, then a pull (the sweep may have released
    /// other nodes' holds).
    #[inline(never)]
    pub(super) fn expire_shared(&self, shared: &Shared) -> Result<u64, LiveError> {
        let timer = self.metrics.store(StoreOp::Expire);
        let n = shared.store.expire().map_err(store_error)?;
        drop(timer);
        bump(&self.counters.expired, n);
        self.sync()?;
        Ok(n)
    }
}

fn store_error(source: StoreError) -> LiveError {
    LiveError::Store { source }
}
