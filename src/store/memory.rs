//! The in-process store: lock-free counters and a hold table sharded by respondent.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};

use smallvec::SmallVec;

use crate::live::{Clock, Completion, SystemClock, Timestamp};
use crate::state::take_slot;

use super::error::check_respondent;
use super::{Change, ChangeKind, Count, CounterId, Hold, Layout, QuotaStore, Released, StoreError};

/// One respondent's hold or complete in one category.
#[derive(Clone, Debug)]
enum Entry {
    Held {
        deadline: Timestamp,
        counters: SmallVec<[CounterId; 4]>,
    },
    Completed,
}

type Entries = SmallVec<[(u32, Entry); 2]>;
type Shard = HashMap<Box<str>, Entries>;

/// Shards of the hold table: one respondent's calls take one lock (so they are serialised
/// and idempotent) while other respondents' mostly proceed in parallel.
const SHARDS: usize = 64;

/// One counter: open slots (taken by one CAS, so check and take are one step), pending and
/// completed.
#[derive(Debug, Default)]
struct Slots {
    /// max − pending − completed; negative after a max was lowered below what is held.
    open: AtomicI64,
    max: AtomicU32,
    pending: AtomicU32,
    completed: AtomicU32,
}

/// A [`QuotaStore`] in the process's memory: counters taken by compare-and-swap, holds in a
/// table sharded by respondent, deadlines on an injected [`Clock`]. Shared by reference (or
/// `Arc`) among threads and among engines of one process; nothing survives the process.
#[derive(Debug)]
pub struct MemoryStore<C = SystemClock> {
    layout: Layout,
    clock: C,
    slots: Box<[Slots]>,
    shards: Box<[Mutex<Shard>]>,
    hasher: std::collections::hash_map::RandomState,
    /// Saved interviews with their deadlines: read once per request, not on the decision
    /// path, so one lock does.
    interviews: Mutex<HashMap<Box<str>, (Timestamp, String)>>,
    /// Administrative changes, in order; its lock also serialises them.
    changes: Mutex<Vec<Change>>,
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // Counts and entries change together after every check, so a poisoned shard is still
    // consistent: go on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<C: Clock> MemoryStore<C> {
    /// A store of `layout`'s counters, all empty, on `clock`.
    pub fn new(layout: Layout, clock: C) -> MemoryStore<C> {
        let slots = layout
            .counters()
            .iter()
            .map(|c| Slots {
                open: AtomicI64::new(c.max.into()),
                max: AtomicU32::new(c.max),
                ..Slots::default()
            })
            .collect();
        MemoryStore {
            layout,
            clock,
            slots,
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            hasher: Default::default(),
            interviews: Mutex::new(HashMap::new()),
            changes: Mutex::new(Vec::new()),
        }
    }

    fn interviews(&self) -> MutexGuard<'_, HashMap<Box<str>, (Timestamp, String)>> {
        // Each entry is replaced whole: a poisoned map is still consistent.
        self.interviews.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn shard(&self, respondent: &str) -> MutexGuard<'_, Shard> {
        lock(&self.shards[(self.hasher.hash_one(respondent) as usize) % SHARDS])
    }

    fn release_counters(&self, counters: &[CounterId]) {
        for &c in counters {
            let s = &self.slots[c as usize];
            // Only called for a live hold, which took one pending slot in each counter.
            s.pending.fetch_sub(1, Ordering::AcqRel);
            s.open.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Takes a slot in each counter in order; on a full one gives back what was taken.
    fn take(&self, counters: &[CounterId]) -> Result<SmallVec<[CounterId; 4]>, CounterId> {
        let mut taken = SmallVec::new();
        for &c in counters {
            let s = &self.slots[c as usize];
            if taken.contains(&c) {
                continue; // a counter named twice holds one slot
            }
            if take_slot(&s.open).is_none() {
                self.release_counters(&taken);
                return Err(c);
            }
            s.pending.fetch_add(1, Ordering::AcqRel);
            taken.push(c);
        }
        Ok(taken)
    }
}

impl<C: Clock + std::fmt::Debug> QuotaStore for MemoryStore<C> {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn hold(
        &self,
        respondent: &str,
        category: u32,
        counters: &[CounterId],
        ttl_ms: u64,
    ) -> Result<Hold, StoreError> {
        check_respondent(respondent)?;
        self.layout.check_counters(counters)?;
        let now = self.clock.now();
        let mut shard = self.shard(respondent);
        let entries = shard.entry(respondent.into()).or_default();
        if let Some(i) = entries.iter().position(|(k, _)| *k == category) {
            match &entries[i].1 {
                Entry::Completed => return Ok(Hold::AlreadyCompleted),
                Entry::Held { deadline, .. } if *deadline > now => {
                    return Ok(Hold::AlreadyHeld {
                        deadline: *deadline,
                    });
                }
                Entry::Held { counters, .. } => {
                    self.release_counters(counters);
                    entries.remove(i);
                }
            }
        }
        match self.take(counters) {
            Ok(counters) => {
                let deadline = now.plus_millis(ttl_ms);
                entries.push((category, Entry::Held { deadline, counters }));
                Ok(Hold::Accepted { deadline })
            }
            Err(counter) => {
                if entries.is_empty() {
                    shard.remove(respondent);
                }
                Ok(Hold::Full { counter })
            }
        }
    }

    fn commit(&self, respondent: &str, category: u32) -> Result<Completion, StoreError> {
        check_respondent(respondent)?;
        let now = self.clock.now();
        let mut shard = self.shard(respondent);
        let Some(entries) = shard.get_mut(respondent) else {
            return Ok(Completion::NotReserved);
        };
        let Some(i) = entries.iter().position(|(k, _)| *k == category) else {
            return Ok(Completion::NotReserved);
        };
        let outcome = match &entries[i].1 {
            Entry::Completed => return Ok(Completion::AlreadyCompleted),
            Entry::Held { deadline, counters } if *deadline <= now => {
                self.release_counters(counters);
                entries.remove(i);
                Completion::Expired
            }
            Entry::Held { counters, .. } => {
                for &c in counters {
                    let s = &self.slots[c as usize];
                    s.pending.fetch_sub(1, Ordering::AcqRel);
                    s.completed.fetch_add(1, Ordering::AcqRel);
                }
                entries[i].1 = Entry::Completed;
                Completion::Completed
            }
        };
        if entries.is_empty() {
            shard.remove(respondent);
        }
        Ok(outcome)
    }

    fn release(&self, respondent: &str, category: u32) -> Result<bool, StoreError> {
        check_respondent(respondent)?;
        let now = self.clock.now();
        let mut shard = self.shard(respondent);
        let Some(entries) = shard.get_mut(respondent) else {
            return Ok(false);
        };
        let Some(i) = entries
            .iter()
            .position(|(k, e)| *k == category && matches!(e, Entry::Held { .. }))
        else {
            return Ok(false);
        };
        let (_, entry) = entries.remove(i);
        let live = match entry {
            Entry::Held { deadline, counters } => {
                self.release_counters(&counters);
                deadline > now
            }
            Entry::Completed => false,
        };
        if entries.is_empty() {
            shard.remove(respondent);
        }
        Ok(live)
    }

    fn release_all(&self, respondent: &str) -> Result<Vec<Released>, StoreError> {
        check_respondent(respondent)?;
        let mut shard = self.shard(respondent);
        let Some(entries) = shard.get_mut(respondent) else {
            return Ok(Vec::new());
        };
        let mut released = Vec::new();
        entries.retain(|(category, entry)| match entry {
            Entry::Held { counters, .. } => {
                self.release_counters(counters);
                released.push(Released {
                    category: *category,
                    counters: counters.clone(),
                });
                false
            }
            Entry::Completed => true,
        });
        if entries.is_empty() {
            shard.remove(respondent);
        }
        Ok(released)
    }

    fn expire(&self) -> Result<u64, StoreError> {
        let now = self.clock.now();
        self.interviews().retain(|_, (deadline, _)| *deadline > now);
        let mut expired = 0;
        for shard in self.shards.iter() {
            lock(shard).retain(|_, entries| {
                entries.retain(|(_, entry)| match entry {
                    Entry::Held { deadline, counters } if *deadline <= now => {
                        self.release_counters(counters);
                        expired += 1;
                        false
                    }
                    _ => true,
                });
                !entries.is_empty()
            });
        }
        Ok(expired)
    }

    fn read(&self, out: &mut Vec<Count>) -> Result<(), StoreError> {
        // Every shard's lock: no call is half done while the counters are read.
        let _guards: Vec<_> = self.shards.iter().map(lock).collect();
        out.clear();
        out.extend(
            self.layout
                .counters()
                .iter()
                .zip(self.slots.iter())
                .map(|(_, s)| Count {
                    max: s.max.load(Ordering::Acquire),
                    pending: s.pending.load(Ordering::Acquire),
                    completed: s.completed.load(Ordering::Acquire),
                }),
        );
        Ok(())
    }

    fn save_interview(&self, respondent: &str, state: &str, ttl_ms: u64) -> Result<(), StoreError> {
        check_respondent(respondent)?;
        let deadline = self.clock.now().plus_millis(ttl_ms);
        self.interviews()
            .insert(respondent.into(), (deadline, state.to_string()));
        Ok(())
    }

    fn load_interview(&self, respondent: &str) -> Result<Option<String>, StoreError> {
        check_respondent(respondent)?;
        let now = self.clock.now();
        let mut kept = self.interviews();
        match kept.get(respondent) {
            Some((deadline, state)) if *deadline > now => Ok(Some(state.clone())),
            Some(_) => {
                kept.remove(respondent);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn set_max(
        &self,
        counter: CounterId,
        max: u32,
        kind: ChangeKind,
    ) -> Result<Change, StoreError> {
        self.layout.check_counters(&[counter])?;
        let mut changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        let s = &self.slots[counter as usize];
        let from = s.max.swap(max, Ordering::AcqRel);
        // Open moves by the difference in one step: a hold racing the change sees the old
        // max or the new one, and a lowered max leaves open negative until enough is given
        // back (no held slot is cancelled).
        s.open
            .fetch_add(i64::from(max) - i64::from(from), Ordering::AcqRel);
        let change = Change {
            seq: changes.len() as u64 + 1,
            counter,
            from,
            to: max,
            kind,
        };
        changes.push(change);
        Ok(change)
    }

    fn changes(&self) -> Result<Vec<Change>, StoreError> {
        Ok(self
            .changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone())
    }
}
