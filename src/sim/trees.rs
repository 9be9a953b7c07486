//! Quota trees in a simulation: the trees a [`Scenario`](super::Scenario) gives to categories
//! ([`ScenarioTree`]), the catalogue routed with every min at 0 (`Settings::ignore_mins`) and
//! what a run counts in each node (completes, overfill, when every min was met).

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::{ScenarioError, SimError};
#[cfg(test)]
use crate::catalogue::QuotaCell;
use crate::catalogue::{Catalogue, Category};
use crate::quota::{NodeSpec, QuotaTree};

/// A quota tree a scenario gives to categories: every category named gets its own copy of the
/// tree's nodes as quota cells ([`Category::with_quota_tree`]), after the cells it has.
///
/// ```json
/// {"categories": ["1", "5"], "tree": {"children": [
///   {"question": "region", "response": "north", "min": 60, "max": 75, "children": [...]}]}}
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ScenarioTree {
    /// The categories' ids (`category_id` of the CSV, `key` of the catalogue document).
    pub categories: Vec<String>,
    /// The tree by names ([`QuotaTree::from_spec`] on the catalogue's schema). A root
    /// target, when given, becomes each category's target.
    pub tree: NodeSpec,
}

/// `categories` with the scenario's trees added, each category named at most once.
pub(super) fn add_trees(
    base: &Catalogue,
    trees: &[ScenarioTree],
    categories: &mut [Category],
) -> Result<(), ScenarioError> {
    let mut given: Vec<bool> = vec![false; categories.len()];
    for (i, t) in trees.iter().enumerate() {
        let tree = QuotaTree::from_spec(base.schema().clone(), &t.tree)
            .map_err(|error| ScenarioError::BadTree { tree: i, error })?;
        for key in &t.categories {
            let c = base
                .find(key)
                .ok_or_else(|| ScenarioError::UnknownTreeCategory {
                    tree: i,
                    key: key.clone(),
                })?;
            // Two trees on one category would be two sets of nodes counting the same
            // completes: almost certainly a mistake in the list.
            if std::mem::replace(&mut given[c.index()], true) {
                return Err(ScenarioError::TreeTwice {
                    tree: i,
                    key: key.clone(),
                });
            }
            let slot = &mut categories[c.index()];
            *slot = slot.clone().with_quota_tree(&tree).map_err(|error| {
                ScenarioError::TreeRefused {
                    tree: i,
                    key: key.clone(),
                    error,
                }
            })?;
        }
    }
    Ok(())
}

/// Every cell's min and max (`QuotaCell::NO_MAX`: none), in the catalogue's global cell
/// order: what every run's tally is measured against.
pub(super) fn node_bounds(catalogue: &Catalogue) -> (Vec<u32>, Vec<u32>) {
    let cells = catalogue.categories().iter().flat_map(|c| c.cells.iter());
    cells.map(|cell| (cell.min, cell.max)).unzip()
}

/// `catalogue` with every cell's min set to 0: what a run routes on under
/// `Settings::ignore_mins` (the maxes, and so the cells a respondent falls in, unchanged).
pub(super) fn without_mins(catalogue: &Catalogue) -> Result<Catalogue, SimError> {
    let categories = catalogue
        .categories()
        .iter()
        .map(|c| {
            let mut c = c.clone();
            for cell in &mut c.cells {
                cell.min = 0;
            }
            c
        })
        .collect();
    Catalogue::new(catalogue.schema().clone(), categories).map_err(|e| SimError::Setting {
        field: "ignore_mins",
        problem: format!("the catalogue without mins is refused: {e}"),
    })
}

/// What a run counts in the nodes of its quota trees, apart from the quota state: so that a
/// node completed past its max shows as overfill rather than being hidden by the state's
/// refusal.
#[derive(Debug)]
pub(super) struct NodeTally<'m> {
    /// The real mins (not the routed catalogue's under `ignore_mins`).
    mins: &'m [u32],
    /// Completes counted in each node.
    pub(super) completes: Vec<u32>,
    /// Nodes still below their min.
    below_min: usize,
    /// The respondent after whom every min was met (0 when there is none).
    pub(super) mins_met: Option<u64>,
}

impl<'m> NodeTally<'m> {
    /// A run's tally with the mins it is measured against.
    pub(super) fn new(mins: &'m [u32]) -> NodeTally<'m> {
        let below_min = mins.iter().filter(|&&m| m > 0).count();
        NodeTally {
            completes: vec![0; mins.len()],
            mins_met: (below_min == 0).then_some(0),
            below_min,
            mins,
        }
    }

    /// Counts respondent `n`'s complete in node `cell`.
    pub(super) fn complete(&mut self, cell: usize, n: u64) {
        let (Some(done), Some(&min)) = (self.completes.get_mut(cell), self.mins.get(cell)) else {
            return;
        };
        *done += 1;
        if *done == min {
            self.below_min -= 1;
            if self.below_min == 0 {
                self.mins_met = Some(n);
            }
        }
    }

    /// Σ over nodes of the completes past their max.
    pub(super) fn overfill(&self, maxes: &[u32]) -> u64 {
        self.completes
            .iter()
            .zip(maxes)
            .map(|(&done, &max)| u64::from(done.saturating_sub(max)))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mins_are_met_when_the_last_node_reaches_its_min() {
        let mut tally = NodeTally::new(&[1, 0, 2]);
        assert_eq!(tally.mins_met, None);
        tally.complete(0, 3);
        tally.complete(1, 4);
        tally.complete(2, 5);
        assert_eq!(tally.mins_met, None);
        tally.complete(2, 9);
        assert_eq!(tally.mins_met, Some(9));
        // Past the min nothing changes.
        tally.complete(0, 11);
        assert_eq!(tally.mins_met, Some(9));
        assert_eq!(tally.overfill(&[1, 5, QuotaCell::NO_MAX]), 1);
        assert_eq!(NodeTally::new(&[0, 0]).mins_met, Some(0));
    }
}
