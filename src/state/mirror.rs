//! The state as the local mirror of a shared quota store: counts and maxes set from what the
//! store says, by counter id (categories first, then quota cells), never checked against a
//! target. Only the store grants holds, so these never refuse; they keep what routers read
//! close to the store.

use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use super::QuotaState;

/// Subtracts one, stopping at 0.
fn down(a: &AtomicU32) {
    let _ = a.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
        Some(v.saturating_sub(1))
    });
}

impl QuotaState {
    /// The counter's (open, pending, completed, max); `None` out of range.
    fn mirror_counter(
        &self,
        counter: usize,
    ) -> Option<(&AtomicI64, &AtomicU32, &AtomicU32, &AtomicU32)> {
        let n = self.open.len();
        if counter < n {
            Some((
                &self.open[counter],
                &self.pending[counter],
                &self.completed[counter],
                &self.targets[counter],
            ))
        } else {
            let i = counter - n;
            let open = self.cell_open.get(i)?;
            Some((
                open,
                &self.cell_pending[i],
                &self.cell_completed[i],
                &self.cell_targets[i],
            ))
        }
    }

    /// A hold the store granted: one more pending, one fewer open.
    pub(crate) fn mirror_hold(&self, counter: usize) {
        if let Some((open, pending, _, _)) = self.mirror_counter(counter) {
            pending.fetch_add(1, Ordering::AcqRel);
            if open.fetch_sub(1, Ordering::AcqRel) == 1 && counter < self.open.len() {
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

    /// A hold the store released: one fewer pending, one more open (never above the max:
    /// the mirror may have missed the hold).
    pub(crate) fn mirror_release(&self, counter: usize) {
        if let Some((open, pending, _, max)) = self.mirror_counter(counter) {
            down(pending);
            let max = i64::from(max.load(Ordering::Acquire));
            let _ = open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some((v + 1).min(max))
            });
            // A reopened slot can raise a priority: caches of bounds must be rebuilt.
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The counter as the store has it: its max (an administrator may have changed it),
    /// pending and completed.
    pub(crate) fn mirror_set(
        &self,
        counter: usize,
        max_now: u32,
        pending_now: u32,
        completed_now: u32,
    ) {
        let Some((open, pending, completed, max)) = self.mirror_counter(counter) else {
            return;
        };
        max.store(max_now, Ordering::Release);
        let open_now = i64::from(max_now) - i64::from(pending_now) - i64::from(completed_now);
        let before = open.swap(open_now, Ordering::AcqRel);
        let taken_before = u64::from(pending.swap(pending_now, Ordering::AcqRel))
            + u64::from(completed.swap(completed_now, Ordering::AcqRel));
        let taken_now = u64::from(pending_now) + u64::from(completed_now);
        // A reopened slot can raise a priority, and so can a count that fell (a node further
        // from its min steers harder) even where a lowered max keeps the open slots as they
        // were: caches of bounds must be rebuilt.
        if (open_now > before && open_now > 0) || taken_now < taken_before {
            self.generation.fetch_add(1, Ordering::AcqRel);
        } else if before > 0 && open_now <= 0 && counter < self.open.len() {
            self.closes.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// The store refused a hold on the counter: it is full there, whatever the mirror said.
    pub(crate) fn mirror_set_full(&self, counter: usize) {
        if let Some((open, _, _, _)) = self.mirror_counter(counter)
            && open
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                    (v > 0).then_some(0)
                })
                .is_ok()
            && counter < self.open.len()
        {
            self.closes.fetch_add(1, Ordering::AcqRel);
        }
    }
}
