//! The reservation table: pending slots and completed markers per respondent, sharded by
//! respondent id, and the engine's operations on them (reserve, complete, abandon, expire).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, MutexGuard};

use smallvec::SmallVec;

use crate::catalogue::CategoryId;
use crate::route::Router;
use crate::schema::{Answers, RespondentId};

use super::{Clock, Completion, Engine, LiveError, Reservation, Timestamp, bump};

/// One respondent's slot in one category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Slot {
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

/// The respondents whose ids hash to one shard: numeric ids and platform keys in tables of
/// their own, so that a numeric id's entry stays small (8 bytes of key, not 58) and its
/// lookups cost what they did before keys existed, while keys pay for their size only where
/// they are used.
#[derive(Debug, Default)]
pub(super) struct Shard {
    numbers: HashMap<u64, Held, IdHash>,
    keys: HashMap<RespondentId, Held, IdHash>,
}

impl Shard {
    /// The respondent's slots, if any.
    #[inline]
    pub(super) fn get(&self, id: &RespondentId) -> Option<&Held> {
        match id.as_number() {
            Some(n) => self.numbers.get(&n),
            None => self.keys.get(id),
        }
    }

    /// The respondent's slots, if any, to change.
    #[inline]
    pub(super) fn get_mut(&mut self, id: &RespondentId) -> Option<&mut Held> {
        match id.as_number() {
            Some(n) => self.numbers.get_mut(&n),
            None => self.keys.get_mut(id),
        }
    }

    /// The respondent's slots, an empty entry made if there was none.
    #[inline]
    pub(super) fn held(&mut self, id: &RespondentId) -> &mut Held {
        match id.as_number() {
            Some(n) => self.numbers.entry(n).or_default(),
            None => self.keys.entry(*id).or_default(),
        }
    }

    /// Drops the respondent's entry.
    #[inline]
    pub(super) fn remove(&mut self, id: &RespondentId) {
        match id.as_number() {
            Some(n) => self.numbers.remove(&n),
            None => self.keys.remove(id),
        };
    }

    /// Keeps the respondents for whom `keep` is true.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&mut Held) -> bool) {
        self.numbers.retain(|_, held| keep(held));
        self.keys.retain(|_, held| keep(held));
    }

    /// Every respondent with their slots, numbers first.
    pub(super) fn iter(&self) -> impl Iterator<Item = (RespondentId, &Held)> {
        let numbers = self
            .numbers
            .iter()
            .map(|(&n, h)| (RespondentId::from(n), h));
        numbers.chain(self.keys.iter().map(|(&k, h)| (k, h)))
    }
}

/// Hashes respondent ids for the reservation table: one folded 128-bit multiply under keys
/// drawn at random for each table. Every reservation and release looks an id up two or three
/// times, and SipHash (the std default) costs about 90 instructions a time; the random keys
/// keep ids a caller crafts from piling into one bucket all the same.
#[derive(Clone, Copy, Debug)]
pub(super) struct IdHash {
    keys: [u64; 2],
}

impl Default for IdHash {
    fn default() -> IdHash {
        // std's RandomState is seeded from the OS once per process and varied per instance.
        let random = std::collections::hash_map::RandomState::new();
        IdHash {
            keys: [random.hash_one(1u64), random.hash_one(2u64) | 1],
        }
    }
}

impl BuildHasher for IdHash {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            keys: self.keys,
            hash: 0,
        }
    }
}

/// The hasher of [`IdHash`].
#[derive(Debug)]
pub(super) struct IdHasher {
    keys: [u64; 2],
    hash: u64,
}

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

impl Hasher for IdHasher {
    #[inline]
    fn write_u64(&mut self, id: u64) {
        self.hash = fold(self.hash ^ id ^ self.keys[0], self.keys[1]);
    }

    #[inline]
    fn write_u8(&mut self, byte: u8) {
        // A key's length, after its words (see `RespondentId`'s `Hash`): mixed in without a
        // multiply; the finaliser spreads it.
        self.hash ^= u64::from(byte);
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // A platform key, as whole words (see `RespondentId`'s `Hash`): two words a multiply,
        // keyed on both sides, as wyhash does; a partial tail (other input) zero-padded.
        let word = |w: &[u8]| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let mut words = bytes.chunks_exact(8);
        while let Some(a) = words.next() {
            match words.next() {
                Some(b) => {
                    self.hash = fold(self.hash ^ word(a) ^ self.keys[0], word(b) ^ self.keys[1]);
                }
                None => self.write_u64(word(a)),
            }
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut w = [0; 8];
            w[..tail.len()].copy_from_slice(tail);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        // The fold alone leaves the low bits (the table's bucket index) poorly mixed for some
        // keys when ids differ only in high bits: a second fold by a fixed odd constant
        // spreads them, for one multiply.
        fold(self.hash, 0x9e37_79b9_7f4a_7c15)
    }
}

/// Shards of the reservation table: calls for one respondent take one shard's lock, so they
/// are serialised (idempotency) while calls for others mostly proceed in parallel.
pub(super) const SHARDS: usize = 64;

#[inline]
pub(super) fn shard_of(respondent: &RespondentId) -> usize {
    (respondent.spread() >> (64 - SHARDS.trailing_zeros())) as usize
}

pub(super) fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // Nothing panics while a shard is locked; if something ever did, the table is still
    // consistent (counts and entries change together after every check), so go on.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<R: Router, C: Clock> Engine<R, C> {
    /// Takes a pending slot for the respondent in the category and in every quota cell of it
    /// that the answers fall in — all of them or none — if each has pending + completed below
    /// its max target. Idempotent: a respondent holding a live slot gets
    /// [`Reservation::AlreadyHeld`], one who completed gets [`Reservation::AlreadyCompleted`];
    /// a held slot past its deadline is released (counted as expired) and taken anew if one is
    /// open.
    ///
    /// # Errors
    /// [`LiveError::UnknownCategory`]; [`LiveError::Answers`] for answers that do not fit the
    /// schema when the category has quota cells (the answers pick its cells, which would be
    /// guessed; without cells the answers are not used); nothing changes then. With a shared store,
    /// [`LiveError::Store`] when the store fails.
    ///
    /// # Performance
    /// The respondent's shard lock, one CAS per counter (category and cells), a hash-map
    /// insert; with a shared store, one call to it.
    pub fn reserve(
        &self,
        respondent: impl Into<RespondentId>,
        category: CategoryId,
        answers: &Answers,
    ) -> Result<Reservation, LiveError> {
        let respondent = respondent.into();
        if category.index() >= self.catalogue.len() {
            return Err(LiveError::UnknownCategory { category });
        }
        // Answers only pick the category's cells: checked where there are cells to pick, so
        // the common reservation without cells pays nothing for it.
        if !self.catalogue.cell_range(category).is_empty()
            && let Err(error) = answers.check(self.catalogue.schema())
        {
            return Err(LiveError::Answers { respondent, error });
        }
        self.reserve_with(&respondent, category, answers, false)
    }

    pub(super) fn reserve_with(
        &self,
        respondent: &RespondentId,
        category: CategoryId,
        answers: &Answers,
        count_qualified: bool,
    ) -> Result<Reservation, LiveError> {
        if let Some(shared) = &self.shared {
            if count_qualified {
                self.quotas.record_qualified_shared(category);
                bump(&self.counters.qualified, 1);
            }
            return self.reserve_shared(shared, respondent, category, answers);
        }
        let now = self.clock.now();
        let c = category.index() as u32;
        let mut shard = lock(&self.shards[shard_of(respondent)]);
        if count_qualified {
            self.quotas.record_qualified_shared(category);
            bump(&self.counters.qualified, 1);
        }
        let held = shard.held(respondent);
        if let Some(i) = held.iter().position(|(k, _)| *k == c) {
            match &held[i].1 {
                Slot::Completed => return Ok(Reservation::AlreadyCompleted),
                Slot::Pending { deadline, .. } if *deadline > now => {
                    return Ok(Reservation::AlreadyHeld {
                        deadline: *deadline,
                    });
                }
                Slot::Pending { cells, .. } => {
                    self.release_slot(category, cells);
                    bump(&self.counters.expired, 1);
                    held.remove(i);
                }
            }
        }
        let outcome = self.take(category, answers);
        Ok(match outcome {
            Ok(cells) => {
                let deadline = now.plus_millis(self.config.ttl_ms);
                held.push((c, Slot::Pending { deadline, cells }));
                bump(&self.counters.accepted, 1);
                Reservation::Accepted { deadline }
            }
            Err(cell) => {
                if held.is_empty() {
                    shard.remove(respondent);
                }
                bump(&self.counters.refused, 1);
                Reservation::Full { cell }
            }
        })
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
                .cell_rule(cell)
                .is_some_and(|rule| rule.matches(answers));
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

    pub(super) fn release_slot(&self, category: CategoryId, cells: &[u32]) {
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
    /// [`LiveError::UnknownCategory`]; nothing changes then. With a shared store,
    /// [`LiveError::Store`] when the store fails.
    pub fn complete(
        &self,
        respondent: impl Into<RespondentId>,
        category: CategoryId,
    ) -> Result<Completion, LiveError> {
        let respondent = respondent.into();
        if category.index() >= self.catalogue.len() {
            return Err(LiveError::UnknownCategory { category });
        }
        if let Some(shared) = &self.shared {
            return self.complete_shared(shared, &respondent, category);
        }
        let now = self.clock.now();
        let c = category.index() as u32;
        let mut shard = lock(&self.shards[shard_of(&respondent)]);
        let Some(held) = shard.get_mut(&respondent) else {
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
            shard.remove(&respondent);
        }
        Ok(outcome)
    }

    /// Releases every pending slot the respondent holds (they left); returns how many.
    /// Completes stay counted.
    ///
    /// # Errors
    /// With a shared store, [`LiveError::Store`] when the store fails; an engine that keeps
    /// its own counts never fails here.
    pub fn abandon(&self, respondent: impl Into<RespondentId>) -> Result<u32, LiveError> {
        let respondent = respondent.into();
        if let Some(shared) = &self.shared {
            return self.abandon_shared(shared, &respondent);
        }
        let mut shard = lock(&self.shards[shard_of(&respondent)]);
        let Some(held) = shard.get_mut(&respondent) else {
            return Ok(0);
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
            shard.remove(&respondent);
        }
        bump(&self.counters.abandoned, u64::from(released));
        Ok(released)
    }

    /// Releases the respondent's pending slot in one category; true when there was one.
    ///
    /// # Errors
    /// [`LiveError::UnknownCategory`]; nothing changes then. With a shared store,
    /// [`LiveError::Store`] when the store fails.
    pub fn abandon_category(
        &self,
        respondent: impl Into<RespondentId>,
        category: CategoryId,
    ) -> Result<bool, LiveError> {
        let respondent = respondent.into();
        if category.index() >= self.catalogue.len() {
            return Err(LiveError::UnknownCategory { category });
        }
        if let Some(shared) = &self.shared {
            return self.abandon_category_shared(shared, &respondent, category);
        }
        let c = category.index() as u32;
        let mut shard = lock(&self.shards[shard_of(&respondent)]);
        let Some(held) = shard.get_mut(&respondent) else {
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
            shard.remove(&respondent);
        }
        bump(&self.counters.abandoned, 1);
        Ok(true)
    }

    /// Releases every pending slot whose deadline has passed; returns how many. Call it
    /// periodically (expired slots are also released when their holder calls again). With a
    /// shared store this sweeps the store (any node may: a hold is released once) and then
    /// pulls the counts ([`sync`](Self::sync)).
    ///
    /// # Errors
    /// With a shared store, [`LiveError::Store`] when the store fails; an engine that keeps
    /// its own counts never fails here.
    ///
    /// # Performance
    /// Visits every held slot, one shard lock at a time.
    pub fn expire(&self) -> Result<u64, LiveError> {
        if let Some(shared) = &self.shared {
            return self.expire_shared(shared);
        }
        let now = self.clock.now();
        let mut expired = 0;
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let mut n = 0;
            shard.retain(|held| {
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
        Ok(expired)
    }

    /// Releases every pending slot whatever its deadline (end of fieldwork), counted as
    /// expired; returns how many.
    ///
    /// # Errors
    /// [`LiveError::Shared`] on an engine with a shared store (it would release other
    /// nodes' holds); an engine that keeps its own counts never fails here.
    pub fn expire_all(&self) -> Result<u64, LiveError> {
        if self.shared.is_some() {
            return Err(LiveError::Shared {
                operation: "expire_all",
            });
        }
        let mut expired = 0;
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let mut n = 0;
            shard.retain(|held| {
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
        Ok(expired)
    }

    /// Drops the record of the respondent's completes (kept so that repeated calls are
    /// recognised); pending slots stay. After this, a repeated complete returns
    /// [`Completion::NotReserved`] and still counts nothing. Returns how many were dropped.
    /// An engine with a shared store keeps no record of its own (the store keeps completes
    /// until the survey is purged): 0.
    ///
    /// **Warning:** after `forget`, the respondent can reserve and complete the same category
    /// again, and that complete is counted a second time: forget only respondents whose
    /// fieldwork is over.
    pub fn forget(&self, respondent: impl Into<RespondentId>) -> u32 {
        let respondent = respondent.into();
        let mut shard = lock(&self.shards[shard_of(&respondent)]);
        let Some(held) = shard.get_mut(&respondent) else {
            return 0;
        };
        let before = held.len();
        held.retain(|(_, s)| matches!(s, Slot::Pending { .. }));
        let dropped = (before - held.len()) as u32;
        if held.is_empty() {
            shard.remove(&respondent);
        }
        dropped
    }

    /// The respondent's pending slot in the category: its deadline, if it holds one. An
    /// engine with a shared store answers from the store's reply to a repeated
    /// [`reserve`](Self::reserve) instead: `None` here.
    pub fn pending_deadline(
        &self,
        respondent: impl Into<RespondentId>,
        category: CategoryId,
    ) -> Option<Timestamp> {
        let respondent = respondent.into();
        let shard = lock(&self.shards[shard_of(&respondent)]);
        shard.get(&respondent).and_then(|held| {
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
    pub(super) fn lock_all(&self) -> Vec<MutexGuard<'_, Shard>> {
        self.shards.iter().map(lock).collect()
    }
}
