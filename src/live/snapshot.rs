//! The whole live state as data: taken consistently while threads work, restored exactly.

use std::collections::HashSet;

use thiserror::Error;

use super::{
    Clock, ConfigError, Counters, Engine, LiveConfig, LiveStats, Slot, Timestamp, WaveLedger,
    shard_of,
};
use crate::catalogue::{Catalogue, CategoryId};
use crate::route::Router;
use crate::state::{QuotaSnapshot, QuotaState, RestoreError};
use crate::store::Change;
use crate::store::change::{latest, original_max};

/// A quota cell's counts in a [`LiveSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct CellCounts {
    /// The category's key (checked on restore).
    pub category: String,
    /// The cell's key (checked on restore).
    pub key: String,
    /// The cell's max target (checked on restore: it is configuration).
    pub max: u32,
    /// Completes.
    pub completed: u32,
    /// Pending slots (checked against `held` on restore).
    pub pending: u32,
}

/// A slot a respondent holds in a [`LiveSnapshot`]: pending until `deadline`, or completed
/// (`deadline: None`, kept so that repeated calls stay idempotent after a restore).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct HeldSlot {
    /// The respondent.
    pub respondent: crate::schema::RespondentId,
    /// The category's index in the catalogue.
    pub category: u32,
    /// When the pending slot expires; `None` for a completed one.
    pub deadline: Option<Timestamp>,
    /// Global indices of the quota cells the pending slot holds (empty when completed).
    pub cells: Vec<u32>,
}

/// Everything an [`Engine`] knows, as data: serialise it, and [`Engine::restore`] it against
/// the same catalogue. Taken while threads work, it is the state after some prefix of the
/// operations: every reservation, complete, abandon and expiry is wholly in it or absent.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct LiveSnapshot {
    /// Format version ([`LiveSnapshot::FORMAT`]).
    pub format: u32,
    /// The engine's clock when the snapshot was taken.
    pub taken_at: Timestamp,
    /// How the engine ran.
    pub config: LiveConfig,
    /// Targets, completes, exposures and qualifier answers per category (with the catalogue's
    /// keys and the schema's shape, checked on restore).
    pub quotas: QuotaSnapshot,
    /// Pending slots per category (checked against `held` on restore).
    pub pending: Vec<u32>,
    /// Counts per quota cell, in global cell order.
    pub cells: Vec<CellCounts>,
    /// Every slot held, by respondent then category.
    pub held: Vec<HeldSlot>,
    /// Running totals.
    pub stats: LiveStats,
    /// The wave ledger.
    pub ledger: WaveLedger,
    /// Administrative changes to targets and cells' maxes in this wave, in order
    /// ([`Engine::set_target`]); restore checks the catalogue against them. Absent (empty)
    /// in snapshots written before there were any.
    #[cfg_attr(feature = "serde", serde(default))]
    pub changes: Vec<Change>,
}

impl LiveSnapshot {
    /// The format version this build writes and reads (2: the quota counts carry the
    /// categories' fingerprints).
    pub const FORMAT: u32 = 2;
}

/// Why a [`LiveSnapshot`] could not be restored.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum LiveRestoreError {
    /// The snapshot (or its quota counts) was written in another format version.
    #[error("live snapshot format {found} is not the supported format {expected}")]
    Version {
        /// The snapshot's version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The snapshot was taken on another configuration: categories, schema or quota cells
    /// differ.
    #[error("live snapshot does not match the catalogue: {what}")]
    Mismatch {
        /// What differs, naming the category or cell.
        what: String,
    },
    /// A field is inconsistent (wrong length, counts past a target, pending counts that do
    /// not add up).
    #[error("live snapshot field `{field}`: {problem}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The snapshot's configuration is invalid.
    #[error("live snapshot field `config`: {0}")]
    Config(#[from] ConfigError),
}

impl From<RestoreError> for LiveRestoreError {
    fn from(e: RestoreError) -> LiveRestoreError {
        match e {
            RestoreError::Version { found, expected } => {
                LiveRestoreError::Version { found, expected }
            }
            RestoreError::Mismatch { what } => LiveRestoreError::Mismatch { what },
            RestoreError::Invalid { field, problem } => {
                LiveRestoreError::Invalid { field, problem }
            }
        }
    }
}

fn invalid(field: &'static str, problem: String) -> LiveRestoreError {
    LiveRestoreError::Invalid { field, problem }
}

impl<R: Router, C: Clock> Engine<R, C> {
    /// The whole live state, consistent while other threads keep routing: every shard's lock
    /// is held for the moment the counts are read (decisions never wait for it; reservations
    /// on the locked shards wait that moment).
    ///
    /// # Performance
    /// O(categories + cells + held slots), allocates the snapshot.
    pub fn snapshot(&self) -> LiveSnapshot {
        // The record's lock first, as a change takes it: no change lands mid-snapshot.
        let admin = self.admin();
        let changes = admin.clone();
        let guards = self.lock_all();
        let taken_at = self.clock.now();
        let quotas = self.quotas.snapshot(&self.catalogue);
        let pending = self
            .catalogue
            .ids()
            .map(|c| self.quotas.pending(c))
            .collect();
        let cells = (0..self.catalogue.cell_count())
            .filter_map(|i| {
                let (c, cell) = self.catalogue.cell(i)?;
                Some(CellCounts {
                    category: self.catalogue.category(c).key.clone(),
                    key: cell.key.clone(),
                    max: self.quotas.cell_target(i),
                    completed: self.quotas.cell_completed(i),
                    pending: self.quotas.cell_pending(i),
                })
            })
            .collect();
        let stats = self.counters.load();
        let mut held = Vec::new();
        for shard in &guards {
            for (respondent, slots) in shard.iter() {
                for (category, slot) in slots {
                    held.push(match slot {
                        Slot::Pending { deadline, cells } => HeldSlot {
                            respondent,
                            category: *category,
                            deadline: Some(*deadline),
                            cells: cells.to_vec(),
                        },
                        Slot::Completed => HeldSlot {
                            respondent,
                            category: *category,
                            deadline: None,
                            cells: Vec::new(),
                        },
                    });
                }
            }
        }
        drop(guards);
        drop(admin);
        held.sort_unstable();
        LiveSnapshot {
            format: LiveSnapshot::FORMAT,
            taken_at,
            config: self.config.clone(),
            quotas,
            pending,
            cells,
            held,
            stats,
            ledger: self.ledger.clone(),
            changes,
        }
    }

    /// Rebuilds the engine a snapshot was taken of, on the same catalogue, with this router
    /// and clock. Deadlines are kept as they were: a slot whose deadline passed while the
    /// engine was down expires at the next call or [`expire`](Self::expire).
    ///
    /// Everything that can be checked is: the catalogue's categories (keys and
    /// [fingerprints](crate::catalogue::Category::fingerprint): a changed incidence, length,
    /// eligibility, cell rule, exclusion group or exposure target is a mismatch; a changed
    /// name is allowed, a changed target only as the wave ledger records it), the schema and
    /// quota cells; the targets against the wave ledger ([`WaveLedger::check`]); completes
    /// within targets, cells' completes and pending within their category's, completed
    /// markers within completes; qualified and exposures within shown, and the statistics'
    /// shown and qualified equal to the counts; every deadline within the time-to-live of the
    /// snapshot's clock; pending counts equal to the held slots.
    ///
    /// # Errors
    /// [`LiveRestoreError::Version`] for another format; [`LiveRestoreError::Mismatch`] when
    /// the catalogue's categories, schema or quota cells differ; [`LiveRestoreError::Invalid`]
    /// for inconsistent counts, naming the field; [`LiveRestoreError::Config`] for an invalid
    /// configuration.
    pub fn restore(
        catalogue: Catalogue,
        router: R,
        clock: C,
        snapshot: &LiveSnapshot,
    ) -> Result<Engine<R, C>, LiveRestoreError> {
        if snapshot.format != LiveSnapshot::FORMAT {
            return Err(LiveRestoreError::Version {
                found: snapshot.format,
                expected: LiveSnapshot::FORMAT,
            });
        }
        let n = catalogue.len();
        let changes = &snapshot.changes;
        check_changes(&catalogue, changes)?;
        // Counts are checked against the highest max each counter had (a lowered max may
        // leave completes above it); the maxes now are set once the held slots are in.
        let mut relaxed = snapshot.quotas.clone();
        for (i, t) in relaxed.targets.iter_mut().enumerate() {
            *t = highest_max(changes, i, *t);
        }
        let mut quotas = QuotaState::restore(&catalogue, &relaxed)?;
        check_cells(&catalogue, snapshot)?;
        for (i, cell) in snapshot.cells.iter().enumerate() {
            quotas.set_max(n + i, highest_max(changes, n + i, cell.max));
            if !quotas.set_cell_completed(i, cell.completed) {
                return Err(invalid(
                    "cells",
                    format!(
                        "cell `{}` of category `{}` has {} completes over a max of {}",
                        cell.key, cell.category, cell.completed, cell.max
                    ),
                ));
            }
        }
        let ledger = &snapshot.ledger;
        ledger.check_with_changes(&catalogue, &snapshot.quotas.targets, changes)?;
        check_cells_within_categories(&catalogue, snapshot)?;
        check_held(&catalogue, snapshot)?;
        check_stats(snapshot)?;
        if snapshot.pending.len() != n {
            return Err(invalid(
                "pending",
                format!("{} values, expected {n}", snapshot.pending.len()),
            ));
        }
        let mut engine = Engine::new(catalogue, router, clock, snapshot.config.clone())?;
        let pending_slots = hold_slots(&mut engine, &mut quotas, &snapshot.held)?;
        check_pending(&engine.catalogue, &quotas, snapshot, pending_slots)?;
        for (i, &t) in snapshot.quotas.targets.iter().enumerate() {
            quotas.set_max(i, t);
        }
        for (i, cell) in snapshot.cells.iter().enumerate() {
            quotas.set_max(n + i, cell.max);
        }
        *engine.admin() = changes.clone();
        engine.quotas = quotas;
        engine.ledger = ledger.clone();
        engine.counters = Counters::default();
        engine.counters.store(&snapshot.stats);
        Ok(engine)
    }
}

/// Puts the held slots in the engine's table, taking their slots in `quotas`; the number of
/// pending slots.
fn hold_slots<R: Router, C: Clock>(
    engine: &mut Engine<R, C>,
    quotas: &mut QuotaState,
    held: &[HeldSlot],
) -> Result<u64, LiveRestoreError> {
    let n = engine.catalogue.len();
    let mut seen = HashSet::with_capacity(held.len());
    let mut pending_slots = 0u64;
    for h in held {
        let category = CategoryId::from_index(h.category as usize);
        if h.category as usize >= n {
            return Err(invalid(
                "held",
                format!(
                    "respondent {}: category index {} out of range",
                    h.respondent, h.category
                ),
            ));
        }
        if !seen.insert((h.respondent, h.category)) {
            return Err(invalid(
                "held",
                format!(
                    "respondent {} holds category `{}` twice",
                    h.respondent,
                    catalogue_key(&engine.catalogue, category),
                ),
            ));
        }
        let slot = match h.deadline {
            None if !h.cells.is_empty() => {
                return Err(invalid(
                    "held",
                    format!("respondent {}: a completed slot holds cells", h.respondent),
                ));
            }
            None => Slot::Completed,
            Some(deadline) => {
                let range = engine.catalogue.cell_range(category);
                let mut cells = smallvec::SmallVec::new();
                for &cell in &h.cells {
                    if !range.contains(&(cell as usize)) || cells.contains(&cell) {
                        return Err(invalid(
                            "held",
                            format!(
                                "respondent {}: cell {cell} is not a distinct cell of category `{}`",
                                h.respondent,
                                catalogue_key(&engine.catalogue, category),
                            ),
                        ));
                    }
                    cells.push(cell);
                }
                if quotas.try_reserve(category).is_err() {
                    return Err(invalid(
                        "held",
                        format!(
                            "category `{}`: completed + pending passes the target",
                            catalogue_key(&engine.catalogue, category),
                        ),
                    ));
                }
                for &cell in &cells {
                    if !quotas.try_reserve_cell(cell as usize) {
                        return Err(invalid(
                            "held",
                            format!(
                                "cell `{}` of category `{}`: completed + pending passes the max",
                                engine
                                    .catalogue
                                    .cell(cell as usize)
                                    .map_or("", |(_, q)| &q.key),
                                catalogue_key(&engine.catalogue, category),
                            ),
                        ));
                    }
                }
                pending_slots += 1;
                Slot::Pending { deadline, cells }
            }
        };
        engine.shards[shard_of(&h.respondent)]
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .held(&h.respondent)
            .push((h.category, slot));
    }
    Ok(pending_slots)
}

/// The pending counts per category and cell, and the statistics, agree with the held slots.
fn check_pending(
    catalogue: &Catalogue,
    quotas: &QuotaState,
    snapshot: &LiveSnapshot,
    pending_slots: u64,
) -> Result<(), LiveRestoreError> {
    for (i, c) in catalogue.ids().enumerate() {
        if quotas.pending(c) != snapshot.pending[i] {
            return Err(invalid(
                "pending",
                format!(
                    "category `{}`: {} pending, but {} held slots",
                    catalogue_key(catalogue, c),
                    snapshot.pending[i],
                    quotas.pending(c)
                ),
            ));
        }
    }
    for (i, cell) in snapshot.cells.iter().enumerate() {
        if quotas.cell_pending(i) != cell.pending {
            return Err(invalid(
                "cells",
                format!(
                    "cell `{}` of category `{}`: {} pending, but {} held slots",
                    cell.key,
                    cell.category,
                    cell.pending,
                    quotas.cell_pending(i)
                ),
            ));
        }
    }
    let s = &snapshot.stats;
    let released = s
        .completed
        .checked_add(s.abandoned)
        .and_then(|x| x.checked_add(s.expired));
    if released.and_then(|r| s.accepted.checked_sub(r)) != Some(pending_slots) {
        return Err(invalid(
            "stats",
            format!(
                "accepted − completed − abandoned − expired must equal the {pending_slots} pending slots held"
            ),
        ));
    }
    Ok(())
}

fn catalogue_key(catalogue: &Catalogue, category: CategoryId) -> &str {
    &catalogue.category(category).key
}

fn check_cells(catalogue: &Catalogue, snapshot: &LiveSnapshot) -> Result<(), LiveRestoreError> {
    let n = catalogue.len();
    if snapshot.cells.len() != catalogue.cell_count() {
        return Err(LiveRestoreError::Mismatch {
            what: format!(
                "{} quota cells in the snapshot, {} in the catalogue",
                snapshot.cells.len(),
                catalogue.cell_count()
            ),
        });
    }
    for (i, counts) in snapshot.cells.iter().enumerate() {
        let Some((c, cell)) = catalogue.cell(i) else {
            continue;
        };
        let key = &catalogue.category(c).key;
        let max_agrees = agrees(&snapshot.changes, n + i, cell.max, counts.max);
        if &counts.category != key || counts.key != cell.key || !max_agrees {
            return Err(LiveRestoreError::Mismatch {
                what: format!(
                    "quota cell number {i} is `{}`/`{}` (max {}) in the snapshot, `{key}`/`{}` (max {}) in the catalogue",
                    counts.category, counts.key, counts.max, cell.key, cell.max
                ),
            });
        }
    }
    Ok(())
}

/// A quota cell's completes and pending slots are within its category's: every complete or
/// hold in a cell is one of its category's.
fn check_cells_within_categories(
    catalogue: &Catalogue,
    snapshot: &LiveSnapshot,
) -> Result<(), LiveRestoreError> {
    for (i, counts) in snapshot.cells.iter().enumerate() {
        let Some((c, _)) = catalogue.cell(i) else {
            continue;
        };
        let done = snapshot
            .quotas
            .completed
            .get(c.index())
            .copied()
            .unwrap_or(0);
        let pending = snapshot.pending.get(c.index()).copied().unwrap_or(0);
        if counts.completed > done || counts.pending > pending {
            return Err(invalid(
                "cells",
                format!(
                    "cell `{}` of category `{}`: {} completed and {} pending, more than its \
                     category's {done} and {pending}",
                    counts.key, counts.category, counts.completed, counts.pending
                ),
            ));
        }
    }
    Ok(())
}

/// Held slots: a pending slot's deadline within the time-to-live of the snapshot's clock
/// (taken no later than `taken_at`, so due by `taken_at + ttl_ms`); completed markers no more
/// than the category's completes (a marker is kept per complete, unless forgotten).
fn check_held(catalogue: &Catalogue, snapshot: &LiveSnapshot) -> Result<(), LiveRestoreError> {
    let latest = snapshot.taken_at.plus_millis(snapshot.config.ttl_ms);
    let mut markers = vec![0u64; catalogue.len()];
    for h in &snapshot.held {
        match h.deadline {
            Some(deadline) if deadline > latest => {
                return Err(invalid(
                    "held",
                    format!(
                        "respondent {}: deadline {} is past the snapshot's clock {} plus the \
                         time-to-live {} ms",
                        h.respondent, deadline.0, snapshot.taken_at.0, snapshot.config.ttl_ms
                    ),
                ));
            }
            Some(_) => {}
            None => {
                if let Some(m) = markers.get_mut(h.category as usize) {
                    *m += 1;
                }
            }
        }
    }
    for (i, c) in catalogue.categories().iter().enumerate() {
        let done = snapshot.quotas.completed.get(i).copied().unwrap_or(0);
        if markers[i] > u64::from(done) {
            return Err(invalid(
                "held",
                format!(
                    "category `{}`: {} completed markers but {done} completes",
                    c.key, markers[i]
                ),
            ));
        }
    }
    Ok(())
}

/// The statistics' qualifiers shown and respondents qualified are the counts' (both are
/// counted together, under one lock; a counter at `u32::MAX` saturated, so its sum is a lower
/// bound then). Completes are not compared: with a shared store the counts are the store's.
fn check_stats(snapshot: &LiveSnapshot) -> Result<(), LiveRestoreError> {
    let q = &snapshot.quotas;
    for (field, counts, stat) in [
        ("stats.shown", &q.shown, snapshot.stats.shown),
        ("stats.qualified", &q.qualified, snapshot.stats.qualified),
    ] {
        let sum: u64 = counts.iter().map(|&v| u64::from(v)).sum();
        let saturated = counts.contains(&u32::MAX);
        if sum != stat && !(saturated && sum <= stat) {
            return Err(invalid(
                field,
                format!("{stat}, but the categories' counts add up to {sum}"),
            ));
        }
    }
    Ok(())
}

/// The highest max counter `counter` had: `now`, or any value its changes set or left.
fn highest_max(changes: &[Change], counter: usize, now: u32) -> u32 {
    changes
        .iter()
        .filter(|c| c.counter as usize == counter)
        .fold(now, |m, c| m.max(c.from).max(c.to))
}

/// The one rule for targets: a counter's configured max (the catalogue's) agrees with the
/// recorded one when they are equal and nothing changed it, or when the changes lead from
/// the configured max (or to it) and end at the recorded one.
pub(super) fn agrees(changes: &[Change], counter: usize, configured: u32, recorded: u32) -> bool {
    let counter = counter as u32;
    match latest(changes, counter) {
        None => configured == recorded,
        Some(last) => {
            last.to == recorded
                && (original_max(changes, counter) == Some(configured) || configured == recorded)
        }
    }
}

/// The changes name counters of the catalogue, in increasing sequence, and each starts
/// from the max the one before it left.
fn check_changes(catalogue: &Catalogue, changes: &[Change]) -> Result<(), LiveRestoreError> {
    let counters = catalogue.len() + catalogue.cell_count();
    let mut seq = 0;
    for c in changes {
        if c.counter as usize >= counters || c.seq <= seq {
            return Err(invalid(
                "changes",
                format!(
                    "change {}: counter position {} (the catalogue has {counters} counters), \
                     after sequence number {seq}",
                    c.seq, c.counter
                ),
            ));
        }
        seq = c.seq;
        let before = changes
            .iter()
            .take_while(|d| d.seq < c.seq)
            .filter(|d| d.counter == c.counter)
            .last();
        if let Some(b) = before
            && b.to != c.from
        {
            return Err(invalid(
                "changes",
                format!(
                    "change {} of `{}` starts from {}, but the change before left {}",
                    c.seq,
                    counter_name(catalogue, c.counter as usize),
                    c.from,
                    b.to
                ),
            ));
        }
    }
    Ok(())
}

/// A counter's name as a store's layout has it: the category's key, or `key/cell`.
fn counter_name(catalogue: &Catalogue, counter: usize) -> String {
    let n = catalogue.len();
    if counter < n {
        return catalogue.categories()[counter].key.clone();
    }
    match catalogue.cell(counter - n) {
        Some((c, cell)) => format!("{}/{}", catalogue.category(c).key, cell.key),
        None => format!("counter position {counter}"),
    }
}
