//! The state as the local mirror of a shared quota store: counts set from what the store
//! says, by counter id (categories first, then quota cells), never checked against a target.
//! Only the store grants holds, so these never refuse; they keep what routers read close to
//! the store.

use std::sync::atomic::{AtomicU32, Ordering};

use super::QuotaState;

/// Subtracts one, stopping at 0; true when the value was 1 (the counter just reached 0).
fn down(a: &AtomicU32) -> bool {
    a.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
        Some(v.saturating_sub(1))
    })
    .is_ok_and(|before| before == 1)
}

impl QuotaState {
    /// The counter's (open, pending, completed, target); `None` out of range.
    fn mirror_counter(&self, counter: usize) -> Option<(&AtomicU32, &AtomicU32, &AtomicU32, u32)> {
        let n = self.open.len();
        if counter < n {
            Some((
                &self.open[counter],
                &self.pending[counter],
                &self.completed[counter],
                self.targets[counter],
            ))
        } else {
            let i = counter - n;
            let open = self.cell_open.get(i)?;
            Some((
                open,
                &self.cell_pending[i],
                &self.cell_completed[i],
                self.cell_targets[i],
            ))
        }
    }

    /// A hold the store granted: one more pending, one fewer open.
    pub(crate) fn mirror_hold(&self, counter: usize) {
        if let Some((open, pending, _, _)) = self.mirror_counter(counter) {
            pending.fetch_add(1, Ordering::AcqRel);
            if down(open) && counter < self.open.len() {
                self.closes.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// A hold the store committed: pending becomes completed (open unchanged).
    pub(crate) fn mirror_commit(&self, counter: usize) {
        if let Some((_, pending, completed, _)) = self.mirror_counter(counter) {
            down(pending);
            completed.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// A hold the store released: one fewer pending, one more open.
    pub(crate) fn mirror_release(&self, counter: usize) {
        if let Some((open, pending, _, target)) = self.mirror_counter(counter) {
            down(pending);
            let _ = open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some((v + 1).min(target))
            });
            // A reopened slot can raise a priority: caches of bounds must be rebuilt.
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The counter as the store has it.
    pub(crate) fn mirror_set(&self, counter: usize, pending_now: u32, completed_now: u32) {
        let Some((open, pending, completed, target)) = self.mirror_counter(counter) else {
            return;
        };
        let open_now = target.saturating_sub(pending_now.saturating_add(completed_now));
        let before = open.swap(open_now, Ordering::AcqRel);
        pending.store(pending_now, Ordering::Release);
        completed.store(completed_now, Ordering::Release);
        if open_now > before {
            self.generation.fetch_add(1, Ordering::AcqRel);
        } else if before > 0 && open_now == 0 && counter < self.open.len() {
            self.closes.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The store refused a hold on the counter: it is full there, whatever the mirror said.
    pub(crate) fn mirror_set_full(&self, counter: usize) {
        if let Some((open, _, _, _)) = self.mirror_counter(counter)
            && open.swap(0, Ordering::AcqRel) > 0
            && counter < self.open.len()
        {
            self.closes.fetch_add(1, Ordering::AcqRel);
        }
    }
}
