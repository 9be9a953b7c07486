//! The four Askia quota queries on the engine's live counts: a category's cells as a quota
//! tree of the [`quota`](crate::quota) module whose every node carries the live count of its
//! cell (the root: the category's) and its live max, so a dashboard asks
//! `Product.AvailableQuota(Gender: Male)` of fieldwork in progress without keeping a second
//! tree in step.
//!
//! The tree of each category is built once per [`LiveQueryBuffer`] (from
//! [`Catalogue::quota_tree`](crate::catalogue::Catalogue::quota_tree)) and kept there; a
//! query then writes into it only the counts and targets that moved since the buffer's last
//! query and runs [`QuotaTree::query_into`](crate::quota::QuotaTree::query_into), so it has the quota module's rules and speed and
//! allocates nothing once the buffer has seen the category.

use thiserror::Error;

use crate::catalogue::{CategoryId, CategoryTree, QuotaCell, TreeError};
use crate::quota::{
    EditError, NodeId, Query, QueryBuffer, QueryError, QuotaMethod, QuotaTree, Target,
};
use crate::route::Router;
use crate::schema::{Answers, ResponseId};

use super::{Clock, Engine};

/// Which live count a quota query reads for each node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Counting {
    /// Completes only: what fieldwork has delivered.
    Completed,
    /// Completes and pending slots (holds of respondents still in the category survey): what
    /// the engine's routing and reservations see as taken.
    Taken,
}

/// Why a live quota query could not run.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LiveQueryError {
    /// The id is not a category of the engine's catalogue.
    #[error(
        "no category at position {} in the catalogue (an id from another catalogue)",
        .category.index()
    )]
    UnknownCategory {
        /// The id.
        category: CategoryId,
    },
    /// The category's cells are not a quota tree (a cell whose rule is not
    /// `question=responses` clauses); the error names the category and the cell.
    #[error("{0}")]
    Tree(#[from] TreeError),
    /// The query does not fit the catalogue's schema (an unknown id, a context entry on the
    /// target question, answers of another schema).
    #[error("category `{key}`: {source}")]
    Query {
        /// The category's key.
        key: String,
        /// The quota module's error.
        #[source]
        source: QueryError,
    },
    /// A live count or target could not be written into the tree (above the quota module's
    /// [`MAX_COUNT`](crate::quota::MAX_COUNT); live counts are `u32`, so this does not
    /// happen with the engine's own counts).
    #[error("category `{key}`: {source}")]
    Count {
        /// The category's key.
        key: String,
        /// The quota module's error.
        #[source]
        source: EditError,
    },
}

/// The working memory of [`Engine::quota_query`]: each category's quota tree, built at its
/// first query and kept, and the quota module's [`QueryBuffer`]. Keep one per dashboard
/// thread; with it a query allocates nothing once its category has been asked once.
#[derive(Clone, Debug, Default)]
pub struct LiveQueryBuffer {
    /// The live state the trees were built for (its instance number): a buffer moved to
    /// another engine starts again rather than read a tree of another catalogue.
    instance: Option<u64>,
    trees: Vec<Option<Cached>>,
    query: QueryBuffer,
}

/// A category's tree as the buffer keeps it, with what was last written into each node.
#[derive(Clone, Debug)]
struct Cached {
    tree: CategoryTree,
    /// Per cell, then the root: the (count, max) the node has, so a query compares two words
    /// with the live ones and writes into the tree only where they moved.
    last: Vec<(u64, u64)>,
}

/// A (count, max) no live pair equals: the node is written at its first query.
const UNWRITTEN: (u64, u64) = (u64::MAX, u64::MAX);

impl LiveQueryBuffer {
    /// An empty buffer.
    pub fn new() -> LiveQueryBuffer {
        LiveQueryBuffer::default()
    }

    /// The last query's results: responses best first, each with its to-do.
    pub fn results(&self) -> &[(ResponseId, i64)] {
        self.query.results()
    }

    /// How many context entries the last query dropped (relaxation), last-listed first.
    pub fn relaxed(&self) -> usize {
        self.query.relaxed()
    }

    /// The to-do of any response of the last query's target question, listed or not.
    pub fn todo(&self, response: ResponseId) -> Option<i64> {
        self.query.todo(response)
    }
}

impl<R: Router, C: Clock> Engine<R, C> {
    /// Runs one of the four Askia quota queries ([`QuotaMethod`]; the rules are the
    /// [`quota`](crate::quota) module's) on the category's quota tree with the live counts:
    /// every cell's node counts what the cell has completed, or completed and pending
    /// ([`Counting::Taken`]), the root counts the category's; targets are the live maxes
    /// (administrative changes and waves included) with the catalogue's mins (a min above a
    /// lowered max is read as the max). Returns the target question's responses best first,
    /// each with its to-do, as [`QuotaTree::query_into`](crate::quota::QuotaTree::query_into).
    ///
    /// Counts are read one by one while threads work, each a moment old at most; for counts
    /// frozen together query a restored [`snapshot`](Self::snapshot). On an engine with a
    /// shared store they are its mirror: this engine's own calls at once, other nodes' as of
    /// the last [`sync`](Self::sync).
    ///
    /// # Errors
    /// [`LiveQueryError::UnknownCategory`]; [`LiveQueryError::Tree`] when the category's
    /// cells are not a tree; [`LiveQueryError::Query`] for a query or answers that do not fit
    /// the schema. The buffer's results are then not this query's (empty after a
    /// [`LiveQueryError::Query`]).
    ///
    /// # Performance
    /// The category's tree is built at its first query with this buffer (allocating), then
    /// kept: a query compares each node's live count and max with what it last wrote there,
    /// rewrites only those that moved (each rewrite re-aggregates up the node's path, so a
    /// dashboard polling a quiet category pays a few loads per cell), and runs the quota
    /// module's query, with no allocation. `benches/live.rs` (`live_quota_query`) measures it
    /// against the quota module's own query on the same tree.
    pub fn quota_query<'b>(
        &self,
        category: CategoryId,
        method: QuotaMethod,
        query: &Query,
        answers: Option<&Answers>,
        counting: Counting,
        buffer: &'b mut LiveQueryBuffer,
    ) -> Result<&'b [(ResponseId, i64)], LiveQueryError> {
        let key = || self.catalogue.category(category).key.clone();
        let instance = self.quotas.view().epoch().0;
        if buffer.instance != Some(instance) {
            buffer.trees.clear();
            buffer.instance = Some(instance);
        }
        let LiveQueryBuffer {
            trees, query: qb, ..
        } = buffer;
        let Cached { tree, last } = self.cached_tree(category, trees)?;
        self.write_counts(category, counting, tree, last)
            .map_err(|source| LiveQueryError::Count { key: key(), source })?;
        tree.tree
            .query_into(method, query, answers, qb)
            .map_err(|source| LiveQueryError::Query { key: key(), source })
    }

    /// The category's quota tree with the live counts and targets
    /// ([`quota_query`](Self::quota_query) says which), for a dashboard to show or to
    /// [`explain`](crate::quota::QuotaTree::explain): a snapshot, which the engine does not
    /// keep in step. `nodes` gives the node of each of the category's cells, in order.
    ///
    /// # Errors
    /// [`LiveQueryError::UnknownCategory`], [`LiveQueryError::Tree`].
    pub fn quota_tree(
        &self,
        category: CategoryId,
        counting: Counting,
    ) -> Result<CategoryTree, LiveQueryError> {
        self.check_query_category(category)?;
        let mut tree = self.catalogue.quota_tree(category)?;
        let mut last = vec![UNWRITTEN; tree.nodes.len() + 1];
        self.write_counts(category, counting, &mut tree, &mut last)
            .map_err(|source| LiveQueryError::Count {
                key: self.catalogue.category(category).key.clone(),
                source,
            })?;
        Ok(tree)
    }

    fn check_query_category(&self, category: CategoryId) -> Result<(), LiveQueryError> {
        if category.index() >= self.catalogue.len() {
            return Err(LiveQueryError::UnknownCategory { category });
        }
        Ok(())
    }

    /// The buffer's tree of the category, built on first use.
    fn cached_tree<'t>(
        &self,
        category: CategoryId,
        trees: &'t mut Vec<Option<Cached>>,
    ) -> Result<&'t mut Cached, LiveQueryError> {
        self.check_query_category(category)?;
        let i = category.index();
        if trees.len() <= i {
            trees.resize_with(self.catalogue.len(), || None);
        }
        let slot = &mut trees[i];
        if slot.is_none() {
            let tree = self.catalogue.quota_tree(category)?;
            let last = vec![UNWRITTEN; tree.nodes.len() + 1];
            *slot = Some(Cached { tree, last });
        }
        // Filled just above.
        slot.as_mut()
            .ok_or(LiveQueryError::UnknownCategory { category })
    }

    /// Writes the live counts and targets into the tree where they differ from `last` (what
    /// was written before: one entry per cell, then the root), since each write re-aggregates
    /// up the node's path.
    fn write_counts(
        &self,
        category: CategoryId,
        counting: Counting,
        tree: &mut CategoryTree,
        last: &mut [(u64, u64)],
    ) -> Result<(), EditError> {
        let q = &self.quotas;
        let view = q.view();
        let taken = |completed: u32, pending: u32| match counting {
            Counting::Completed => completed,
            Counting::Taken => completed.saturating_add(pending),
        };
        let cells = self.catalogue.cell_range(category);
        let mins = self
            .catalogue
            .category(category)
            .cells
            .iter()
            .map(|c| c.min);
        let (on_cells, on_root) = last.split_at_mut(tree.nodes.len());
        for (((cell, min), &node), was) in cells.zip(mins).zip(&tree.nodes).zip(on_cells) {
            let count = taken(view.cell_completed(cell), view.cell_pending(cell));
            let max = q.cell_target(cell);
            let now = (u64::from(count), u64::from(max));
            if *was != now {
                set(&mut tree.tree, node, count, live_target(min, max))?;
                *was = now;
            }
        }
        let count = taken(view.completed(category), view.pending(category));
        let max = q.target(category);
        let now = (u64::from(count), u64::from(max));
        if let Some(was) = on_root.first_mut()
            && *was != now
        {
            let root = tree.tree.root();
            set(&mut tree.tree, root, count, Target::Single(u64::from(max)))?;
            *was = now;
        }
        Ok(())
    }
}

/// Sets a node's count and target where they differ from what it has.
fn set(tree: &mut QuotaTree, node: NodeId, count: u32, target: Target) -> Result<(), EditError> {
    let (observed, old) = tree
        .node(node)
        .map_or((u64::MAX, Target::None), |n| (n.observed(), n.target()));
    if old != target {
        tree.set_target(node, target)?;
    }
    if observed != u64::from(count) {
        tree.set_observed(node, u64::from(count))?;
    }
    Ok(())
}

/// A cell's target from its min and its live max, as
/// [`Catalogue::quota_tree`](crate::catalogue::Catalogue::quota_tree) writes the configured
/// one: no max and no min is no target; a min above a lowered max is the max.
fn live_target(min: u32, max: u32) -> Target {
    if max == QuotaCell::NO_MAX {
        return match min {
            0 => Target::None,
            min => Target::MinMax {
                min: u64::from(min),
                max: u64::from(max),
            },
        };
    }
    let min = min.min(max);
    if min == max {
        Target::Single(u64::from(max))
    } else {
        Target::MinMax {
            min: u64::from(min),
            max: u64::from(max),
        }
    }
}
