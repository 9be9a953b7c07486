//! The read-only window routers decide on.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

use crate::catalogue::CategoryId;
use crate::schema::{QuestionId, ResponseId};

/// A read-only window over live quota counters: what a [`Router`](crate::route::Router) may
/// look at.
///
/// Reads are relaxed atomic loads (plain loads on common hardware): a decision may see a count
/// that is a moment old, never a torn one.
#[derive(Clone, Copy, Debug)]
pub struct QuotaView<'a> {
    pub(super) open: &'a [AtomicI64],
    pub(super) completed: &'a [AtomicU32],
    pub(super) pending: &'a [AtomicU32],
    pub(super) cell_open: &'a [AtomicI64],
    pub(super) cell_completed: &'a [AtomicU32],
    pub(super) cell_pending: &'a [AtomicU32],
    pub(super) cell_targets: &'a [AtomicU32],
    pub(super) shown: &'a [AtomicU32],
    pub(super) qualified: &'a [AtomicU32],
    pub(super) exposures: &'a [AtomicU32],
    pub(super) offsets: &'a [u32],
    pub(super) stride: usize,
    pub(super) instance: u64,
    pub(super) generation: &'a AtomicU64,
    pub(super) closes: &'a AtomicU64,
}

impl QuotaView<'_> {
    /// Which state this view reads and how often that state's counts have moved upward
    /// (released slots, raised targets). Completes only lower priorities and do not change it,
    /// so a cache of priority upper bounds stays valid while the epoch is the same.
    #[inline]
    pub fn epoch(&self) -> (u64, u64) {
        (self.instance, self.generation.load(Ordering::Acquire))
    }

    /// How many times a category has closed (reached its target) in this state: with
    /// [`epoch`](Self::epoch), a cache of anything that depends on which categories are open
    /// is current while both are unchanged.
    #[inline]
    pub fn closes(&self) -> u64 {
        self.closes.load(Ordering::Acquire)
    }

    /// Completes the category can still take (0 when closed): the target less completes and
    /// pending reservations, so a router sees a held slot as taken.
    ///
    /// # Performance
    /// One relaxed load.
    #[inline]
    pub fn open_slots(&self, category: CategoryId) -> u32 {
        slots(self.open[category.index()].load(Ordering::Relaxed))
    }

    /// True when the category can take another complete.
    #[inline]
    pub fn is_open(&self, category: CategoryId) -> bool {
        self.open_slots(category) > 0
    }

    /// Completes counted so far.
    #[inline]
    pub fn completed(&self, category: CategoryId) -> u32 {
        self.completed[category.index()].load(Ordering::Relaxed)
    }

    /// Slots held by respondents still in the category survey (pending reservations).
    #[inline]
    pub fn pending(&self, category: CategoryId) -> u32 {
        self.pending[category.index()].load(Ordering::Relaxed)
    }

    /// Completes the quota cell (global index, see
    /// [`Catalogue::cell_range`](crate::catalogue::Catalogue::cell_range)) can still take,
    /// pending reservations counted as taken; 0 for an index out of range.
    ///
    /// # Performance
    /// One relaxed load.
    #[inline]
    pub fn cell_open_slots(&self, cell: usize) -> u32 {
        self.cell_open
            .get(cell)
            .map_or(0, |a| slots(a.load(Ordering::Relaxed)))
    }

    /// Completes counted in the quota cell (global index); 0 out of range.
    #[inline]
    pub fn cell_completed(&self, cell: usize) -> u32 {
        self.cell_completed
            .get(cell)
            .map_or(0, |a| a.load(Ordering::Relaxed))
    }

    /// Pending slots held in the quota cell (global index); 0 out of range.
    #[inline]
    pub fn cell_pending(&self, cell: usize) -> u32 {
        self.cell_pending
            .get(cell)
            .map_or(0, |a| a.load(Ordering::Relaxed))
    }

    /// Completes and pending slots of the quota cell (global index): what it has taken, a held
    /// slot counted as taken; 0 out of range.
    #[inline]
    pub fn cell_taken(&self, cell: usize) -> u32 {
        self.cell_completed(cell)
            .saturating_add(self.cell_pending(cell))
    }

    /// The quota cell's max target now (administrative changes included); 0 out of range.
    #[inline]
    pub fn cell_target(&self, cell: usize) -> u32 {
        self.cell_targets
            .get(cell)
            .map_or(0, |a| a.load(Ordering::Relaxed))
    }

    /// Respondents shown the category's qualifier so far.
    #[inline]
    pub fn shown(&self, category: CategoryId) -> u32 {
        self.shown[category.index()].load(Ordering::Relaxed)
    }

    /// Respondents who qualified so far.
    #[inline]
    pub fn qualified(&self, category: CategoryId) -> u32 {
        self.qualified[category.index()].load(Ordering::Relaxed)
    }

    /// Respondents shown the category who gave `response` to `question`; 0 for a question or
    /// response outside the schema.
    #[inline]
    pub fn exposures(
        &self,
        category: CategoryId,
        question: QuestionId,
        response: ResponseId,
    ) -> u32 {
        // Checked, not indexed: ids from deserialised answers may be outside the schema,
        // and a response past its question's counters must not read the next question's.
        let q = question.index();
        let (Some(&start), end) = (
            self.offsets.get(q),
            self.offsets.get(q + 1).map_or(self.stride, |&e| e as usize),
        ) else {
            return 0;
        };
        let at = start as usize + response.index();
        if at >= end {
            return 0;
        }
        self.exposures
            .get(category.index() * self.stride + at)
            .map_or(0, |e| e.load(Ordering::Relaxed))
    }

    /// The number of categories.
    #[inline]
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// True when there is no category.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

/// Open slots as a count: a counter whose max was lowered below what it holds is negative
/// underneath, and has none.
#[inline]
fn slots(open: i64) -> u32 {
    open.clamp(0, i64::from(u32::MAX)) as u32
}
