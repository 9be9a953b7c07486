//! A category's quota tree: its cells with their parents. A tree of the
//! [`quota`](crate::quota) module becomes cells ([`Category::with_quota_tree`]) and cells
//! become a tree again ([`Catalogue::quota_tree`]), so the live engine enforces the tree with
//! the same slots it takes for flat cells, and the quota module answers its queries.

use thiserror::Error;

use super::{Catalogue, Category, CategoryId, QuotaCell};
use crate::quota::{Condition, NodeId, QuotaTree, Target};
use crate::schema::{Answers, ResponseSet, Rule, Schema};

/// Why a quota tree and a category's cells could not be turned into one another.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TreeError {
    /// The tree's root has a min below its max: a category has one target (its root), so give
    /// mins on the nodes below it.
    #[error(
        "category `{category}`: the quota tree's root has min {min} below max {max}; a category's own target is one number (give mins on the nodes below the root)"
    )]
    RootRange {
        /// The category's key.
        category: String,
        /// The root's min.
        min: u64,
        /// The root's max.
        max: u64,
    },
    /// A node's target does not fit a cell's `u32`.
    #[error(
        "category `{category}`: node {path}: target {value} is above {}",
        u32::MAX
    )]
    TooLarge {
        /// The category's key.
        category: String,
        /// The node's path in the tree (`tree.children[0].children[1]`).
        path: String,
        /// The target.
        value: u64,
    },
    /// A cell's rule is not a conjunction of `question=responses` clauses, so it is no node
    /// of a quota tree (its category's queries need one).
    #[error(
        "category `{category}`: cell `{cell}` has a rule that is not `question=responses` clauses joined by `;` (a quota tree's node needs one)"
    )]
    NotANode {
        /// The category's key.
        category: String,
        /// The cell's key.
        cell: String,
    },
    /// No category has this id.
    #[error("no category has index {index} (the catalogue has {len})")]
    UnknownCategory {
        /// The index asked for.
        index: usize,
        /// How many categories there are.
        len: usize,
    },
}

/// A category's cells as a tree of the [`quota`](crate::quota) module
/// ([`Catalogue::quota_tree`]), with the node that carries each cell's count.
#[derive(Clone, Debug)]
pub struct CategoryTree {
    /// The tree: the root is the category (target: its target), each cell a node (a cell
    /// whose rule has several clauses is a chain of nodes, the last one carrying its targets).
    pub tree: QuotaTree,
    /// For each cell of the category, in order, the node with its targets and count.
    pub nodes: Vec<NodeId>,
}

impl Category {
    /// Gives the category a quota tree of the [`quota`](crate::quota) module (built with ids,
    /// from names with [`QuotaTree::from_spec`], or typed with
    /// [`quota_survey!`](crate::quota_survey)) on the catalogue's schema. Every node below the
    /// root becomes a [`QuotaCell`] (depth first, parents before children) with the node's
    /// condition as its rule, its min and max (a single target is both; no target: no min and
    /// [`QuotaCell::NO_MAX`]) and its parent; the key is the node's path of conditions, e.g.
    /// `region=north > gender=female`. The root's target, when it has one, becomes the
    /// category's target. Cells the category had before come first, unchanged.
    ///
    /// A live reservation then takes a slot on every node of the respondent's path, or on
    /// none ([`crate::live`]); flat cells ([`Category::with_cell`]) are the one-level case.
    ///
    /// ```
    /// use quotaroute::catalogue::{Catalogue, Category};
    /// use quotaroute::quota::{NodeSpec, QuotaTree};
    /// use quotaroute::schema::Schema;
    ///
    /// let schema = Schema::default_survey();
    /// let spec: NodeSpec = serde_json::from_str(r#"{"target": 40, "children": [
    ///     {"question": "region", "response": "north", "min": 10, "max": 20, "children": [
    ///         {"question": "gender", "response": "female", "min": 0, "max": 12}]}]}"#)?;
    /// let tree = QuotaTree::from_spec(schema.clone(), &spec)?;
    /// let tan = Category::new("7", "Self Tan", 0.19, 116.0).with_quota_tree(&tree)?;
    /// assert_eq!(tan.target, 40);
    /// assert_eq!(tan.cells[1].key, "region=north > gender=female");
    /// assert_eq!((tan.cells[1].parent, tan.cells[1].max), (Some(0), 12));
    /// let catalogue = Catalogue::new(schema, vec![tan])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`TreeError::RootRange`] for a root whose min is below its max,
    /// [`TreeError::TooLarge`] for a target above `u32::MAX`; the category is consumed either
    /// way, so build it again.
    pub fn with_quota_tree(mut self, tree: &QuotaTree) -> Result<Category, TreeError> {
        let root = tree.node(tree.root()).map_or(Target::None, |n| n.target());
        if let (Some(min), Some(max)) = (root.min(), root.max()) {
            if min != max {
                return Err(TreeError::RootRange {
                    category: self.key.clone(),
                    min,
                    max,
                });
            }
            self.target = self.narrow(tree, tree.root(), max)?;
        }
        let mut cell_of = vec![usize::MAX; tree.node_count()];
        for id in tree.nodes() {
            let Some(node) = tree.node(id) else { continue };
            let (Some(condition), Some(parent)) = (node.condition(), node.parent()) else {
                continue;
            };
            let target = node.target();
            let max = match target.max() {
                Some(m) => self.narrow(tree, id, m)?,
                None => QuotaCell::NO_MAX,
            };
            let min = match target.min() {
                Some(m) => self.narrow(tree, id, m)?,
                None => 0,
            };
            let clause = condition_text(tree, condition);
            let parent_cell = cell_of
                .get(parent.index())
                .copied()
                .filter(|&c| c != usize::MAX);
            let key = match parent_cell {
                Some(p) => format!("{} > {clause}", self.cells[p].key),
                None => clause,
            };
            let mut cell = QuotaCell::new(key, condition_rule(condition), max).with_min(min);
            cell.parent = parent_cell;
            cell_of[id.index()] = self.cells.len();
            self.cells.push(cell);
        }
        Ok(self)
    }

    fn narrow(&self, tree: &QuotaTree, node: NodeId, value: u64) -> Result<u32, TreeError> {
        u32::try_from(value).map_err(|_| TreeError::TooLarge {
            category: self.key.clone(),
            path: tree.path(node).unwrap_or_default(),
            value,
        })
    }
}

/// Which quota cells each demographic cell of the schema (a combination of answers, unknown
/// included) falls in or may fall in, so that an interview finds its cells by one look-up
/// rather than by evaluating every cell's rule. Built when the table stays small.
#[derive(Clone, Debug, Default)]
pub(super) struct CellTable {
    /// Per demographic cell, where its entries start (one more entry than cells).
    starts: Vec<u32>,
    /// (category, global cell, falls in it for certain), by demographic cell then category.
    entries: Vec<(u32, u32, bool)>,
}

/// Most entries a [`CellTable`] may hold.
const MAX_TABLE_ENTRIES: usize = 1 << 22;

impl CellTable {
    pub(super) fn build(
        schema: &Schema,
        categories: &[Category],
        rules: &[Rule],
    ) -> Option<CellTable> {
        if rules.is_empty() {
            return None;
        }
        let combos = schema.cell_count_with_unknown()?;
        if combos.saturating_mul(rules.len()) > MAX_TABLE_ENTRIES {
            return None;
        }
        let mut table = CellTable {
            starts: Vec::with_capacity(combos + 1),
            entries: Vec::new(),
        };
        for combo in 0..combos {
            table.starts.push(u32::try_from(table.entries.len()).ok()?);
            let answers = schema.answers_of_cell(combo);
            push_cells(categories, rules, &answers, &mut table.entries);
        }
        table.starts.push(u32::try_from(table.entries.len()).ok()?);
        Some(table)
    }
}

/// The cells the answers fall in (`true`) or may fall in once an unknown answer is known
/// (`false`), by category, by evaluating each cell's path rule.
fn push_cells(
    categories: &[Category],
    rules: &[Rule],
    answers: &Answers,
    out: &mut Vec<(u32, u32, bool)>,
) {
    let mut cell = 0usize;
    for (c, category) in categories.iter().enumerate() {
        for _ in &category.cells {
            // One evaluation: true falls in, unknown may fall in, false is not the path.
            match rules[cell].eval(answers) {
                Some(false) => {}
                certain => out.push((c as u32, cell as u32, certain.is_some())),
            }
            cell += 1;
        }
    }
}

/// `question=response|response`, the catalogue's text form of a condition.
fn condition_text(tree: &QuotaTree, condition: &Condition) -> String {
    let schema = tree.schema();
    let q = condition.question();
    let responses: Vec<&str> = condition
        .responses()
        .iter()
        .map(|r| schema.response_name(q, r))
        .collect();
    format!("{}={}", schema.question_name(q), responses.join("|"))
}

fn condition_rule(condition: &Condition) -> Rule {
    Rule::OneOf {
        question: condition.question(),
        responses: condition.responses().clone(),
    }
}

/// The rule a respondent must satisfy to fall in each cell: its own and its ancestors', one
/// flat conjunction per cell, in the catalogue's global cell order.
pub(super) fn path_rules(categories: &[Category]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for c in categories {
        let first = rules.len();
        for cell in &c.cells {
            let own = cell.rule.clone();
            let rule = match cell.parent.and_then(|p| rules.get(first + p)) {
                None => own,
                Some(parent) => conjunction(parent, own),
            };
            rules.push(rule);
        }
    }
    rules
}

fn conjunction(parent: &Rule, own: Rule) -> Rule {
    let mut all = match parent {
        Rule::Everyone => Vec::new(),
        Rule::All(rules) => rules.clone(),
        other => vec![other.clone()],
    };
    match own {
        Rule::Everyone => {}
        Rule::All(rules) => all.extend(rules),
        other => all.push(other),
    }
    match all.len() {
        0 => Rule::Everyone,
        1 => all.pop().unwrap_or_default(),
        _ => Rule::All(all),
    }
}

/// The `question=responses` clauses of a cell's own rule, or `None` when it has another shape.
fn clauses(rule: &Rule) -> Option<Vec<Condition>> {
    let one = |r: &Rule| match r {
        Rule::OneOf {
            question,
            responses,
        } if !responses.is_empty() => Some(group(*question, responses)),
        _ => None,
    };
    match rule {
        Rule::All(rules) if !rules.is_empty() => rules.iter().map(one).collect(),
        other => one(other).map(|c| vec![c]),
    }
}

fn group(question: crate::schema::QuestionId, responses: &ResponseSet) -> Condition {
    let mut all = responses.iter();
    match (all.next(), all.next()) {
        (Some(one), None) => Condition::response(question, one),
        _ => Condition::group(question, responses.iter()),
    }
}

impl Catalogue {
    /// The rule a respondent must satisfy to fall in the cell with this global index: its own
    /// rule and those of the cells above it in its category's tree.
    #[inline]
    pub fn cell_rule(&self, index: usize) -> Option<&Rule> {
        self.cell_rules.get(index)
    }

    /// Appends the quota cells the answers fall in (`true`) or may fall in once an unknown
    /// answer is known (`false`) as (category, global cell, certain), by category: one copy
    /// from a precomputed table when the schema's answer combinations are few enough, else
    /// one evaluation of each cell's path rule. No allocation once `out` has grown.
    pub(crate) fn cells_into(&self, answers: &Answers, out: &mut Vec<(u32, u32, bool)>) {
        match &self.cell_table {
            Some(table) if answers.fits(&self.schema) => {
                let combo = self.schema.cell_index(answers);
                let (a, b) = (
                    table.starts[combo] as usize,
                    table.starts[combo + 1] as usize,
                );
                out.extend_from_slice(&table.entries[a..b]);
            }
            _ => push_cells(&self.categories, &self.cell_rules, answers, out),
        }
    }

    /// The min target of the cell with this global index (0 without one, or out of range).
    #[inline]
    pub fn cell_min(&self, index: usize) -> u32 {
        self.cell_mins.get(index).copied().unwrap_or(0)
    }

    /// True when one of the category's quota cells has a min target.
    #[inline]
    pub fn has_min_cells(&self, id: CategoryId) -> bool {
        self.has_mins.get(id.index()).copied().unwrap_or(false)
    }

    /// The category's cells as a tree of the [`quota`](crate::quota) module, with its targets
    /// (the root: the category's target as configured) and no counts; the inverse of
    /// [`Category::with_quota_tree`]. Set each node's count with
    /// [`QuotaTree::set_observed`] to ask the quota module's queries; the live engine's
    /// [`quota_query`](crate::live::Engine::quota_query) does so with the live counts.
    ///
    /// # Errors
    /// [`TreeError::UnknownCategory`]; [`TreeError::NotANode`] for a cell whose rule is not
    /// `question=responses` clauses (`Everyone`, `Any`, `Not`).
    pub fn quota_tree(&self, id: CategoryId) -> Result<CategoryTree, TreeError> {
        let category = self
            .categories
            .get(id.index())
            .ok_or(TreeError::UnknownCategory {
                index: id.index(),
                len: self.len(),
            })?;
        let mut tree = QuotaTree::builder(self.schema.clone());
        let root = tree.root();
        // Every value fits: targets are u32 and the quota module takes up to MAX_COUNT.
        let _ = tree.set_target(root, Target::Single(u64::from(category.target)));
        let mut nodes: Vec<NodeId> = Vec::with_capacity(category.cells.len());
        for cell in &category.cells {
            let not_a_node = || TreeError::NotANode {
                category: category.key.clone(),
                cell: cell.key.clone(),
            };
            let chain = clauses(&cell.rule).ok_or_else(not_a_node)?;
            let mut at = cell
                .parent
                .and_then(|p| nodes.get(p).copied())
                .unwrap_or(root);
            let last = chain.len() - 1;
            for (i, condition) in chain.into_iter().enumerate() {
                let target = if i < last {
                    Target::None
                } else if cell.max == QuotaCell::NO_MAX {
                    match cell.min {
                        0 => Target::None,
                        min => Target::MinMax {
                            min: u64::from(min),
                            max: u64::from(QuotaCell::NO_MAX),
                        },
                    }
                } else if cell.min == cell.max {
                    Target::Single(u64::from(cell.max))
                } else {
                    Target::MinMax {
                        min: u64::from(cell.min),
                        max: u64::from(cell.max),
                    }
                };
                at = tree
                    .add_child(at, condition, target)
                    .map_err(|_| not_a_node())?;
            }
            nodes.push(at);
        }
        Ok(CategoryTree {
            tree: tree.build(),
            nodes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quota::NodeSpec;
    use crate::schema::{Answers, Schema};

    const HEADER: &str = "category_id,category_name,incidence_rate,category_length_seconds";

    /// region × gender, min/max on each node, a root target of 40.
    fn tree(schema: &Schema) -> QuotaTree {
        let spec: NodeSpec = serde_json::from_str(
            r#"{"target": 40, "children": [
                {"question": "region", "response": "north", "min": 10, "max": 20, "children": [
                    {"question": "gender", "response": "female", "min": 4, "max": 12},
                    {"question": "gender", "response": "male", "min": 0, "max": 12}]},
                {"question": "region", "responses": ["central", "south"], "children": [
                    {"question": "gender", "response": "female", "target": 9}]}]}"#,
        )
        .unwrap();
        QuotaTree::from_spec(schema.clone(), &spec).unwrap()
    }

    #[test]
    fn a_tree_becomes_cells_with_parents_and_path_rules_and_back() {
        let schema = Schema::default_survey();
        let t = tree(&schema);
        let c = Category::new("7", "Tan", 0.2, 100.0)
            .with_quota_tree(&t)
            .unwrap();
        assert_eq!(c.target, 40);
        let keys: Vec<_> = c.cells.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "region=north",
                "region=north > gender=female",
                "region=north > gender=male",
                "region=central|south",
                "region=central|south > gender=female",
            ]
        );
        let parents: Vec<_> = c.cells.iter().map(|c| c.parent).collect();
        assert_eq!(parents, [None, Some(0), Some(0), None, Some(3)]);
        let bounds: Vec<_> = c.cells.iter().map(|c| (c.min, c.max)).collect();
        assert_eq!(
            bounds,
            [(10, 20), (4, 12), (0, 12), (0, QuotaCell::NO_MAX), (9, 9)]
        );
        let catalogue = Catalogue::new(schema.clone(), vec![c]).unwrap();
        // A respondent falls in a child only when they fall in its parent.
        let answers =
            Answers::from_names(&schema, [("region", "south"), ("gender", "female")]).unwrap();
        let falls: Vec<bool> = (0..5)
            .map(|i| catalogue.cell_rule(i).unwrap().matches(&answers))
            .collect();
        assert_eq!(falls, [false, false, false, true, true]);
        // And back: the same tree, node for node.
        let back = catalogue.quota_tree(CategoryId::from_index(0)).unwrap();
        assert_eq!(back.tree.to_spec(), t.to_spec());
        assert_eq!(back.nodes.len(), 5);
    }

    #[test]
    fn the_document_and_the_csv_carry_trees() {
        let schema = Schema::default_survey();
        let csv = format!(
            "{HEADER},target,cells\n7,Tan,0.2,100,40,n: 10..20: region=north / nf < n: 4..12: gender=female\n"
        );
        let from_csv = Catalogue::from_csv(schema.clone(), &csv).unwrap();
        let cells = &from_csv.categories()[0].cells;
        assert_eq!(
            (cells[1].parent, cells[1].min, cells[1].max),
            (Some(0), 4, 12)
        );
        let doc = serde_json::json!({
            "schema": schema,
            "categories": [{"key": "7", "name": "Tan", "incidence": 0.2, "loi_seconds": 100,
                "cells": [{"key": "n", "rule": "region=north", "min": 10, "max": 20},
                          {"key": "nf", "rule": "gender=female", "min": 4, "max": 12, "parent": "n"}],
                "tree": {"target": 40, "children": [
                    {"question": "age", "response": "55+", "min": 0, "max": 5}]}}]
        });
        let from_doc: Catalogue = serde_json::from_value(doc).unwrap();
        let c = &from_doc.categories()[0];
        assert_eq!(c.cells[..2], cells[..]);
        assert_eq!(
            (c.target, c.cells[2].key.as_str(), c.cells[2].max),
            (40, "age=55+", 5)
        );
        // What the crate writes reads back the same.
        let written = serde_json::to_string(&from_doc).unwrap();
        let again: Catalogue = serde_json::from_str(&written).unwrap();
        assert_eq!(again.categories(), from_doc.categories());
    }

    #[test]
    fn bad_trees_are_typed_errors_naming_the_cell() {
        let schema = Schema::default_survey();
        let csv = format!("{HEADER},cells\n7,Tan,0.2,100,nf < n: 12: gender=female\n");
        let err = Catalogue::from_csv(schema.clone(), &csv).unwrap_err();
        assert!(
            err.to_string().contains("parent `n` is no earlier cell"),
            "{err}"
        );
        let late = Category::new("7", "Tan", 0.2, 100.0)
            .with_cell(QuotaCell::new("a", Rule::Everyone, 5).with_parent(0));
        let err = Catalogue::new(schema.clone(), vec![late]).unwrap_err();
        assert!(err.to_string().contains("not an earlier cell"), "{err}");
        let spec: NodeSpec = serde_json::from_str(r#"{"min": 5, "max": 9}"#).unwrap();
        let t = QuotaTree::from_spec(schema.clone(), &spec).unwrap();
        let err = Category::new("7", "Tan", 0.2, 100.0)
            .with_quota_tree(&t)
            .unwrap_err();
        assert!(
            matches!(err, TreeError::RootRange { min: 5, max: 9, .. }),
            "{err:?}"
        );
        let any = Category::new("7", "Tan", 0.2, 100.0).with_cell(QuotaCell::new(
            "either",
            Rule::Any(vec![Rule::Everyone]),
            5,
        ));
        let catalogue = Catalogue::new(schema, vec![any]).unwrap();
        let err = catalogue.quota_tree(CategoryId::from_index(0)).unwrap_err();
        assert!(
            matches!(&err, TreeError::NotANode { cell, .. } if cell == "either"),
            "{err:?}"
        );
    }
}
