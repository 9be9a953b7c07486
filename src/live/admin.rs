//! Live administration: targets raised or lowered, cells' maxes changed, categories closed
//! and reopened while threads route, each change recorded.
//!
//! On an engine with a shared store the store applies and records the change (other nodes
//! see it at their next [`Engine::sync`]); on its own, the engine does, and its snapshots
//! carry the changes. Either way a change is one atomic step on the counter: a reservation
//! racing it sees the old max or the new one. Lowering a max below completed + pending never
//! cancels a held slot: no new slot is granted until completes and releases bring the sum of
//! completed and pending below the new max, and slots held before the change may still
//! complete, so completed can end above the new max by at most the pending at the time of
//! the change.

use std::sync::MutexGuard;

use crate::catalogue::CategoryId;
use crate::route::Router;
use crate::store::change::{is_closed, latest};
use crate::store::{Change, ChangeKind, CounterId};

use super::{Clock, Engine, LiveError};

impl<R: Router, C: Clock> Engine<R, C> {
    /// Sets a category's target.
    ///
    /// # Errors
    /// [`LiveError::UnknownCategory`]; [`LiveError::Store`] when the shared store failed
    /// (nothing changed, unless the error is indeterminate: read [`changes`](Self::changes)
    /// before repeating).
    pub fn set_target(&self, category: CategoryId, target: u32) -> Result<Change, LiveError> {
        self.check_category(category)?;
        self.change(category.index(), target, ChangeKind::Target)
    }

    /// Sets a quota cell's max (global cell index,
    /// [`Catalogue::cell_range`](crate::catalogue::Catalogue::cell_range)).
    ///
    /// # Errors
    /// [`LiveError::UnknownCell`]; [`LiveError::Store`] as for
    /// [`set_target`](Self::set_target).
    pub fn set_cell_max(&self, cell: usize, max: u32) -> Result<Change, LiveError> {
        if cell >= self.catalogue.cell_count() {
            return Err(LiveError::UnknownCell {
                cell,
                cells: self.catalogue.cell_count(),
            });
        }
        self.change(self.catalogue.len() + cell, max, ChangeKind::Target)
    }

    /// Closes a category: its max becomes 0, so no policy offers it and no slot is granted;
    /// slots already held are kept and may complete. Closing a closed category records
    /// nothing new and returns its close.
    ///
    /// # Errors
    /// As [`set_target`](Self::set_target).
    pub fn close(&self, category: CategoryId) -> Result<Change, LiveError> {
        self.check_category(category)?;
        let changes = self.changes()?;
        let counter = category.index() as CounterId;
        if is_closed(&changes, counter)
            && let Some(&close) = latest(&changes, counter)
        {
            return Ok(close);
        }
        self.change(category.index(), 0, ChangeKind::Close)
    }

    /// Reopens a closed category at the target it had before the close.
    ///
    /// # Errors
    /// [`LiveError::NotClosed`] when the category's latest change is not a close;
    /// otherwise as [`set_target`](Self::set_target).
    pub fn reopen(&self, category: CategoryId) -> Result<Change, LiveError> {
        self.check_category(category)?;
        let changes = self.changes()?;
        let counter = category.index() as CounterId;
        match latest(&changes, counter) {
            Some(close) if close.kind == ChangeKind::Close => {
                self.change(category.index(), close.from, ChangeKind::Reopen)
            }
            _ => Err(LiveError::NotClosed {
                key: self.catalogue.category(category).key.clone(),
            }),
        }
    }

    /// True when the category is closed ([`close`](Self::close)) and not reopened, as the
    /// engine last knew (on a shared store, read its [`changes`](Self::changes) for the
    /// store's word).
    pub fn is_closed(&self, category: CategoryId) -> bool {
        is_closed(&self.admin(), category.index() as CounterId)
    }

    /// Every administrative change, in order: the shared store's (all nodes'), or this
    /// engine's own.
    ///
    /// # Errors
    /// [`LiveError::Store`] when the shared store cannot be read.
    pub fn changes(&self) -> Result<Vec<Change>, LiveError> {
        match &self.shared {
            Some(shared) => shared
                .store()
                .changes()
                .map_err(|source| LiveError::Store { source }),
            None => Ok(self.admin().clone()),
        }
    }

    fn check_category(&self, category: CategoryId) -> Result<(), LiveError> {
        if category.index() >= self.catalogue.len() {
            return Err(LiveError::UnknownCategory { category });
        }
        Ok(())
    }

    /// The engine's record of changes (its own, or those it made through the store).
    pub(super) fn admin(&self) -> MutexGuard<'_, Vec<Change>> {
        // Entries are pushed whole: a poisoned lock still guards a consistent list.
        self.admin.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn change(&self, counter: usize, max: u32, kind: ChangeKind) -> Result<Change, LiveError> {
        // The record's lock serialises this engine's changes, so its record and its counts
        // move in the same order.
        let mut record = self.admin();
        let change = match &self.shared {
            Some(shared) => shared
                .store()
                .set_max(counter as CounterId, max, kind)
                .map_err(|source| LiveError::Store { source })?,
            None => Change {
                seq: record.last().map_or(1, |c| c.seq + 1),
                counter: counter as CounterId,
                from: self.quotas.max_of(counter).unwrap_or(0),
                to: max,
                kind,
            },
        };
        self.quotas.set_max(counter, max);
        record.push(change);
        Ok(change)
    }
}
