//! Live quota state: completes, open slots and exposures per category.
//!
//! Configuration (the [`Catalogue`]) never changes during fieldwork; everything that does lives
//! here. Routers never see a `QuotaState` itself, only a [`QuotaView`]: a read-only, `Copy`
//! window over counters stored as atomics, so that a single-threaded simulation (which updates
//! through `&mut`, without atomic read-modify-writes) and a lock-free shared engine can hand
//! routers the same view.
//!
//! ```
//! use quotaroute::catalogue::{Catalogue, Category};
//! use quotaroute::schema::{Answers, Schema};
//! use quotaroute::state::QuotaState;
//!
//! let schema = Schema::default_survey();
//! let catalogue = Catalogue::new(schema.clone(), vec![Category::new("1", "Coffee", 0.3, 120.0).with_target(2)])?;
//! let mut state = QuotaState::new(&catalogue);
//! let coffee = catalogue.find("1").unwrap();
//! let answers = Answers::unknown(&schema);
//! assert!(state.complete(coffee).is_ok());
//! assert!(state.complete(coffee).is_ok());
//! assert!(state.complete(coffee).is_err(), "a full category is never overfilled");
//! assert!(!state.view().is_open(coffee));
//! # let _ = answers;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod file;
mod mirror;
mod snapshot;
mod view;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

pub use file::{SnapshotFile, SnapshotFileError, SnapshotFiles};
pub use snapshot::{QuotaSnapshot, RestoreError};
pub use view::QuotaView;

/// Source of [`QuotaState`] instance numbers, so a cache built on one state is never used on
/// another.
static INSTANCES: AtomicU64 = AtomicU64::new(1);

use thiserror::Error;

use crate::catalogue::{Catalogue, CategoryId};
use crate::schema::{Answers, QuestionId};

/// Why a complete was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CompleteError {
    /// The category has reached its target.
    #[error("category `{key}` is full")]
    Full {
        /// The category.
        category: CategoryId,
        /// The category's key in the catalogue.
        key: Arc<str>,
    },
    /// A cell given for a complete is not a quota cell of the category, or is given twice (or
    /// out of the catalogue's order).
    #[error("category `{key}`: {cell} is not one of its quota cells in order (global index)")]
    NotACell {
        /// The category.
        category: CategoryId,
        /// The category's key in the catalogue.
        key: Arc<str>,
        /// The global index given.
        cell: usize,
    },
    /// A quota cell (tree node) of the respondent's path in the category has reached its max.
    #[error("category `{key}`: quota cell {cell} (global index) is full")]
    CellFull {
        /// The category.
        category: CategoryId,
        /// The category's key in the catalogue.
        key: Arc<str>,
        /// The full cell's global index
        /// ([`Catalogue::cell_range`](crate::catalogue::Catalogue::cell_range)).
        cell: usize,
    },
    /// The id is not a category of this state's catalogue.
    #[error(
        "no category at position {} in the catalogue (an id from another catalogue)",
        .category.index()
    )]
    UnknownCategory {
        /// The id.
        category: CategoryId,
    },
}

/// Per-category counters for one field period.
///
/// Updates take `&mut self` and are plain memory writes; the counters are atomics only so that
/// [`QuotaView`] has one representation shared with concurrent engines.
#[derive(Debug)]
pub struct QuotaState {
    /// Targets: atomics, because an administrator may change one while threads route.
    targets: Box<[AtomicU32]>,
    /// The categories' keys, for errors (shared: naming a category in an error allocates
    /// nothing).
    keys: Box<[Arc<str>]>,
    /// target − completed − pending: the one word a reservation's check-and-take is a CAS on.
    /// Signed: a target lowered below completed + pending leaves it negative, so released
    /// slots pay that back before any is taken again.
    open: Box<[AtomicI64]>,
    completed: Box<[AtomicU32]>,
    /// Slots held by respondents still in the category survey.
    pending: Box<[AtomicU32]>,
    /// Max target of each quota cell (global cell index, see [`Catalogue::cell_range`]).
    cell_targets: Box<[AtomicU32]>,
    /// max − completed − pending per cell.
    cell_open: Box<[AtomicI64]>,
    cell_completed: Box<[AtomicU32]>,
    cell_pending: Box<[AtomicU32]>,
    /// Each category's cells (global indices `cell_ranges[c]..cell_ranges[c + 1]`).
    cell_ranges: Box<[u32]>,
    shown: Box<[AtomicU32]>,
    qualified: Box<[AtomicU32]>,
    /// Exposures per category per (question, response): `stride` counters per category.
    exposures: Box<[AtomicU32]>,
    /// Offset of each question's first response in a category's exposure row.
    offsets: Vec<u32>,
    stride: usize,
    instance: u64,
    /// Bumped whenever a count changes in a way that can raise a priority (a slot released,
    /// a target raised): caches of priority upper bounds are rebuilt when it moves.
    generation: AtomicU64,
    /// How many times a category reached its target (caches of the open set key on it).
    closes: AtomicU64,
}

/// Takes one from an open-slots counter if it is above 0, in one CAS loop; the value left.
#[inline]
pub(crate) fn take_slot(open: &AtomicI64) -> Option<i64> {
    open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
        (v > 0).then(|| v - 1)
    })
    .ok()
    .map(|before| before - 1)
}

/// Takes one from a pending counter if it is above 0.
#[inline]
fn untake(pending: &AtomicU32) -> bool {
    pending
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1))
        .is_ok()
}

/// The exposure counters a showing to `answers` adds to in category `c`'s row: one per
/// known answer that is a response of its question (`offsets`: each question's first counter
/// in a row of `stride`).
#[inline]
fn exposure_cells<'s>(
    offsets: &'s [u32],
    stride: usize,
    c: usize,
    answers: &'s Answers,
) -> impl Iterator<Item = usize> + 's {
    let row = c * stride;
    offsets.iter().enumerate().filter_map(move |(q, &offset)| {
        let end = offsets.get(q + 1).map_or(stride, |&next| next as usize);
        let r = answers.get(QuestionId(q as u16))?.index();
        (offset as usize + r < end).then_some(row + offset as usize + r)
    })
}

/// Adds one to a statistics counter, stopping at `u32::MAX` (a wrapped count would read as
/// almost nothing shown).
#[inline]
fn saturating_bump(count: &mut u32) {
    *count = count.saturating_add(1);
}

/// [`saturating_bump`] through a shared reference: a CAS loop that leaves `u32::MAX` as is.
#[inline]
fn saturating_add(count: &AtomicU32) {
    let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_add(1));
}

fn counters(n: usize) -> Box<[AtomicU32]> {
    (0..n).map(|_| AtomicU32::new(0)).collect()
}

impl QuotaState {
    #[cold]
    fn full(&self, category: CategoryId) -> CompleteError {
        CompleteError::Full {
            category,
            key: self.keys[category.index()].clone(),
        }
    }

    /// Fresh counters: nothing shown or completed, every target open.
    pub fn new(catalogue: &Catalogue) -> QuotaState {
        let targets: Vec<u32> = catalogue.categories().iter().map(|c| c.target).collect();
        Self::with_targets(catalogue, targets)
    }

    /// Fresh counters with these targets instead of the catalogue's (one per category, in
    /// catalogue order; missing ones are the catalogue's, extra ones ignored). A new wave of
    /// fieldwork starts this way.
    pub fn with_targets(catalogue: &Catalogue, mut targets: Vec<u32>) -> QuotaState {
        let n = catalogue.len();
        targets.truncate(n);
        targets.extend(
            catalogue.categories()[targets.len()..]
                .iter()
                .map(|c| c.target),
        );
        let cell_targets: Vec<u32> = catalogue
            .categories()
            .iter()
            .flat_map(|c| c.cells.iter().map(|cell| cell.max))
            .collect();
        let schema = catalogue.schema();
        let mut offsets = Vec::with_capacity(schema.len());
        let mut stride = 0usize;
        for q in schema.question_ids() {
            offsets.push(stride as u32);
            stride += schema.response_count(q);
        }
        QuotaState {
            open: targets.iter().map(|&t| AtomicI64::new(t.into())).collect(),
            completed: counters(targets.len()),
            pending: counters(targets.len()),
            cell_open: cell_targets
                .iter()
                .map(|&t| AtomicI64::new(t.into()))
                .collect(),
            cell_completed: counters(cell_targets.len()),
            cell_pending: counters(cell_targets.len()),
            cell_targets: cell_targets.iter().map(|&t| AtomicU32::new(t)).collect(),
            cell_ranges: catalogue
                .ids()
                .map(|c| catalogue.cell_range(c).start as u32)
                .chain(std::iter::once(catalogue.cell_count() as u32))
                .collect(),
            shown: counters(targets.len()),
            qualified: counters(targets.len()),
            exposures: counters(targets.len() * stride),
            targets: targets.iter().map(|&t| AtomicU32::new(t)).collect(),
            keys: catalogue
                .categories()
                .iter()
                .map(|c| Arc::from(c.key.as_str()))
                .collect(),
            offsets,
            stride,
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            closes: AtomicU64::new(0),
        }
    }

    /// The read-only view routers decide on.
    #[inline]
    pub fn view(&self) -> QuotaView<'_> {
        QuotaView {
            open: &self.open,
            completed: &self.completed,
            pending: &self.pending,
            cell_open: &self.cell_open,
            cell_completed: &self.cell_completed,
            cell_pending: &self.cell_pending,
            cell_targets: &self.cell_targets,
            shown: &self.shown,
            qualified: &self.qualified,
            exposures: &self.exposures,
            offsets: &self.offsets,
            stride: self.stride,
            instance: self.instance,
            generation: &self.generation,
            closes: &self.closes,
        }
    }

    /// Records that a respondent with these answers was shown the category's qualifier.
    ///
    /// Low level: a [`Turn`](crate::route::Turn) records the showing here and in the
    /// respondent's interview together.
    ///
    /// An id outside this state's catalogue is ignored (nothing is counted, no panic), as in
    /// [`record_shown_shared`](Self::record_shown_shared); so is an answer outside the schema
    /// (a response its question does not have, e.g. from deserialised answers): it is counted
    /// as unknown, never into another question's or category's exposures. Counters saturate
    /// at `u32::MAX` rather than wrap.
    #[inline]
    pub fn record_shown(&mut self, category: CategoryId, answers: &Answers) {
        let c = category.index();
        let Some(shown) = self.shown.get_mut(c) else {
            return;
        };
        saturating_bump(shown.get_mut());
        for i in exposure_cells(&self.offsets, self.stride, c, answers) {
            saturating_bump(self.exposures[i].get_mut());
        }
    }

    /// Records a qualifier answer (for observed incidence). An id outside this state's
    /// catalogue is ignored, as in [`record_qualified_shared`](Self::record_qualified_shared).
    #[inline]
    pub fn record_qualified(&mut self, category: CategoryId) {
        if let Some(q) = self.qualified.get_mut(category.index()) {
            saturating_bump(q.get_mut());
        }
    }

    /// Counts a complete in the category alone, refusing one that would pass the target. A
    /// category with quota cells (a tree) counts its completes in the nodes too with
    /// [`complete_in`](Self::complete_in), as a [`Turn`](crate::route::Turn) and the live
    /// engine do; this call leaves the cells as they are.
    ///
    /// # Errors
    /// [`CompleteError::Full`] when the target is reached (the state is unchanged);
    /// [`CompleteError::UnknownCategory`] for an id outside the catalogue.
    #[inline]
    pub fn complete(&mut self, category: CategoryId) -> Result<(), CompleteError> {
        let c = category.index();
        let Some(open) = self.open.get_mut(c) else {
            return Err(CompleteError::UnknownCategory { category });
        };
        let open = open.get_mut();
        if *open <= 0 {
            return Err(self.full(category));
        }
        *open -= 1;
        if *open == 0 {
            *self.closes.get_mut() += 1;
        }
        *self.completed[c].get_mut() += 1;
        Ok(())
    }

    /// Counts a complete in the category and in each of the quota cells given (the nodes of
    /// the respondent's path in its tree, e.g.
    /// [`Interview::cells_of`](crate::route::Interview::cells_of)): all of them or, when the
    /// category or one of the cells is full, none.
    ///
    /// # Errors
    /// [`CompleteError::NotACell`] for a cell that is not the category's or comes twice or out
    /// of order; [`CompleteError::Full`], [`CompleteError::CellFull`],
    /// [`CompleteError::UnknownCategory`]; the state is unchanged then.
    pub fn complete_in(
        &mut self,
        category: CategoryId,
        cells: impl Iterator<Item = usize> + Clone,
    ) -> Result<(), CompleteError> {
        let c = category.index();
        if c >= self.open.len() {
            return Err(CompleteError::UnknownCategory { category });
        }
        // Each cell once, in order, and the category's own: a repeated or foreign cell would
        // be counted past its max.
        let (first, end) = (
            self.cell_ranges[c] as usize,
            self.cell_ranges[c + 1] as usize,
        );
        let mut next = first;
        for cell in cells.clone() {
            if cell < next || cell >= end {
                return Err(CompleteError::NotACell {
                    category,
                    key: self.keys[c].clone(),
                    cell,
                });
            }
            next = cell + 1;
        }
        if let Some(cell) = cells.clone().find(|&cell| {
            self.cell_open
                .get_mut(cell)
                .is_none_or(|o| *o.get_mut() <= 0)
        }) {
            return Err(CompleteError::CellFull {
                category,
                key: self.keys[category.index()].clone(),
                cell,
            });
        }
        self.complete(category)?;
        for cell in cells {
            *self.cell_open[cell].get_mut() -= 1;
            *self.cell_completed[cell].get_mut() += 1;
        }
        Ok(())
    }

    /// Takes a pending slot in the category if pending + completed is below the target.
    ///
    /// The check and the take are one compare-and-swap on the category's open counter
    /// (target − completed − pending), so concurrent callers can never take more slots than
    /// the target: with one slot left and three callers, exactly one succeeds. The slot then
    /// becomes a complete ([`commit`](Self::commit)) or is given back
    /// ([`release`](Self::release)). Low level: [`crate::live::Engine`] adds idempotency per
    /// respondent, quota cells and timeouts.
    ///
    /// # Errors
    /// [`CompleteError::Full`] when no slot is open, [`CompleteError::UnknownCategory`] for an
    /// id outside the catalogue; nothing changes then.
    ///
    /// # Performance
    /// One CAS loop on one word (retried only while other threads change it), two relaxed
    /// increments.
    #[inline]
    pub fn try_reserve(&self, category: CategoryId) -> Result<(), CompleteError> {
        let c = category.index();
        let Some(open) = self.open.get(c) else {
            return Err(CompleteError::UnknownCategory { category });
        };
        match take_slot(open) {
            Some(left) => {
                self.pending[c].fetch_add(1, Ordering::AcqRel);
                if left == 0 {
                    self.closes.fetch_add(1, Ordering::AcqRel);
                }
                Ok(())
            }
            None => Err(self.full(category)),
        }
    }

    /// Turns a pending slot of the category into a complete. Returns false (and changes
    /// nothing) when the category has no pending slot or the id is unknown.
    #[inline]
    pub fn commit(&self, category: CategoryId) -> bool {
        let c = category.index();
        match self.pending.get(c) {
            Some(p) if untake(p) => {
                self.completed[c].fetch_add(1, Ordering::AcqRel);
                true
            }
            _ => false,
        }
    }

    /// Gives a pending slot of the category back (abandon, timeout). Returns false (and
    /// changes nothing) when the category has no pending slot or the id is unknown.
    #[inline]
    pub fn release(&self, category: CategoryId) -> bool {
        let c = category.index();
        match self.pending.get(c) {
            Some(p) if untake(p) => {
                self.open[c].fetch_add(1, Ordering::AcqRel);
                // A reopened slot can raise a priority: caches of bounds must be rebuilt.
                self.generation.fetch_add(1, Ordering::AcqRel);
                true
            }
            _ => false,
        }
    }

    /// Takes a pending slot in a quota cell (global index) if one is open; as
    /// [`try_reserve`](Self::try_reserve), one CAS. False when full or out of range.
    #[inline]
    pub fn try_reserve_cell(&self, cell: usize) -> bool {
        match self.cell_open.get(cell) {
            Some(open) if take_slot(open).is_some() => {
                self.cell_pending[cell].fetch_add(1, Ordering::AcqRel);
                true
            }
            _ => false,
        }
    }

    /// Turns a pending slot of a quota cell into a complete; false when there is none.
    #[inline]
    pub fn commit_cell(&self, cell: usize) -> bool {
        match self.cell_pending.get(cell) {
            Some(p) if untake(p) => {
                self.cell_completed[cell].fetch_add(1, Ordering::AcqRel);
                true
            }
            _ => false,
        }
    }

    /// Gives a pending slot of a quota cell back; false when there is none.
    #[inline]
    pub fn release_cell(&self, cell: usize) -> bool {
        match self.cell_pending.get(cell) {
            Some(p) if untake(p) => {
                self.cell_open[cell].fetch_add(1, Ordering::AcqRel);
                self.generation.fetch_add(1, Ordering::AcqRel);
                true
            }
            _ => false,
        }
    }

    /// [`record_shown`](Self::record_shown) through a shared reference (atomic increments),
    /// for engines that route from many threads. An id outside the catalogue is ignored, as
    /// in `record_shown`.
    #[inline]
    pub fn record_shown_shared(&self, category: CategoryId, answers: &Answers) {
        let c = category.index();
        let Some(shown) = self.shown.get(c) else {
            return;
        };
        saturating_add(shown);
        for i in exposure_cells(&self.offsets, self.stride, c, answers) {
            saturating_add(&self.exposures[i]);
        }
    }

    /// [`record_qualified`](Self::record_qualified) through a shared reference. Ids outside
    /// the catalogue are ignored.
    #[inline]
    pub fn record_qualified_shared(&self, category: CategoryId) {
        if let Some(q) = self.qualified.get(category.index()) {
            saturating_add(q);
        }
    }

    /// Pending slots of the category.
    pub fn pending(&self, category: CategoryId) -> u32 {
        self.pending
            .get(category.index())
            .map_or(0, |p| p.load(Ordering::Acquire))
    }

    /// Max target of a quota cell (global index); 0 out of range.
    pub fn cell_target(&self, cell: usize) -> u32 {
        self.cell_targets
            .get(cell)
            .map_or(0, |t| t.load(Ordering::Acquire))
    }

    /// Completes counted in a quota cell; 0 out of range.
    pub fn cell_completed(&self, cell: usize) -> u32 {
        self.cell_completed
            .get(cell)
            .map_or(0, |p| p.load(Ordering::Acquire))
    }

    /// Pending slots of a quota cell; 0 out of range.
    pub fn cell_pending(&self, cell: usize) -> u32 {
        self.cell_pending
            .get(cell)
            .map_or(0, |p| p.load(Ordering::Acquire))
    }

    /// The number of quota cells.
    pub fn cell_count(&self) -> usize {
        self.cell_targets.len()
    }

    /// Sets a cell's completes on a fresh state (restoring a snapshot).
    pub(crate) fn set_cell_completed(&mut self, cell: usize, done: u32) -> bool {
        let Some(target) = self.cell_targets.get_mut(cell).map(|t| *t.get_mut()) else {
            return false;
        };
        let pending = *self.cell_pending[cell].get_mut();
        if u64::from(done) + u64::from(pending) > u64::from(target) {
            return false;
        }
        *self.cell_completed[cell].get_mut() = done;
        *self.cell_open[cell].get_mut() = i64::from(target) - i64::from(done) - i64::from(pending);
        true
    }

    /// Completes wanted for the category.
    pub fn target(&self, category: CategoryId) -> u32 {
        self.targets[category.index()].load(Ordering::Acquire)
    }

    /// Sets the max of a counter (categories first, then quota cells, as in a store's
    /// [`Layout`](crate::store::Layout)); the old max, or `None` out of range. Open slots
    /// move by the difference in one atomic step, so a reservation racing the change sees
    /// the old max or the new one. Lowered below completed + pending, no held slot is
    /// cancelled: open goes negative, and no slot is taken until completes and releases
    /// bring completed + pending below the new max (completes of slots held before the
    /// change still count, so completed can end up above it by at most the pending then).
    pub(crate) fn set_max(&self, counter: usize, max: u32) -> Option<u32> {
        let n = self.targets.len();
        let (target, open) = if counter < n {
            (&self.targets[counter], &self.open[counter])
        } else {
            let i = counter - n;
            (self.cell_targets.get(i)?, &self.cell_open[i])
        };
        let old = target.swap(max, Ordering::AcqRel);
        let delta = i64::from(max) - i64::from(old);
        let before = open.fetch_add(delta, Ordering::AcqRel);
        let after = before + delta;
        if after > before && after > 0 {
            // Slots opened: priorities may rise, caches of bounds must be rebuilt.
            self.generation.fetch_add(1, Ordering::AcqRel);
        } else if before > 0 && after <= 0 && counter < n {
            self.closes.fetch_add(1, Ordering::AcqRel);
        }
        Some(old)
    }

    /// The max of a counter (categories first, then cells); `None` out of range.
    pub(crate) fn max_of(&self, counter: usize) -> Option<u32> {
        let n = self.targets.len();
        let t = if counter < n {
            &self.targets[counter]
        } else {
            self.cell_targets.get(counter - n)?
        };
        Some(t.load(Ordering::Acquire))
    }

    /// True when every category has reached its target.
    pub fn all_full(&self) -> bool {
        self.open.iter().all(|o| o.load(Ordering::Relaxed) <= 0)
    }

    /// Completes still wanted, over all categories.
    pub fn total_open(&self) -> u64 {
        self.open
            .iter()
            .map(|o| o.load(Ordering::Relaxed).max(0) as u64)
            .sum()
    }
}

#[cfg(test)]
mod tests;
