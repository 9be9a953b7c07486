//! The quota tree: nodes, targets, observed counts; its flat index is in `index.rs`.

use std::fmt;

pub use super::error::{CountError, EditError};
pub(crate) use super::index::{Index, question_bit, words_for};
pub use super::node::{Condition, NodeId, Target};

use crate::schema::{Answers, Schema};

/// The largest target and the largest observed count a node may hold: 10¹².
///
/// The cap keeps every to-do value (`target − observed`) exactly representable in an `i64` and
/// lets the balanced orderings compare percentages exactly, in integers, with no rounding.
pub const MAX_COUNT: u64 = 1_000_000_000_000;

/// The most nodes a tree may hold (positions are `u32` with one bit reserved).
pub const MAX_NODES: usize = (1 << 31) - 1;

/// The root's question slot in the index.
pub(crate) const NO_QUESTION: u16 = u16::MAX;
/// In [`Index::cond`], marks an offset into [`Index::words`] (a set of several responses);
/// without it the value is the one response of the node's path set.
pub(crate) const SET_FLAG: u32 = 1 << 31;
pub(crate) const NO_PARENT: u32 = u32::MAX;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NodeData {
    pub(crate) parent: u32,
    pub(crate) condition: Option<Condition>,
    pub(crate) target: Target,
    pub(crate) observed: u64,
}

/// Builds a [`QuotaTree`] node by node; the tree's index is made once, by
/// [`build`](QuotaTreeBuilder::build).
///
/// Prefer it to [`QuotaTree::add_child`] for large trees: adding to a built tree re-indexes it.
#[derive(Clone, Debug)]
pub struct QuotaTreeBuilder {
    schema: Schema,
    nodes: Vec<NodeData>,
}

impl QuotaTreeBuilder {
    /// A tree with only a root, without a target, over `schema`.
    pub fn new(schema: Schema) -> QuotaTreeBuilder {
        QuotaTreeBuilder {
            schema,
            nodes: vec![NodeData {
                parent: NO_PARENT,
                condition: None,
                target: Target::None,
                observed: 0,
            }],
        }
    }

    /// The root.
    pub fn root(&self) -> NodeId {
        NodeId::ROOT
    }

    /// The schema the tree is built on.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Adds a child under `parent`, after the children it already has.
    ///
    /// # Errors
    /// [`EditError`] naming the path the node would have: an unknown parent, question or
    /// response, an empty group, a condition no response can satisfy together with an
    /// ancestor's condition on the same question, min > max, or a target above [`MAX_COUNT`].
    pub fn add_child(
        &mut self,
        parent: NodeId,
        condition: Condition,
        target: Target,
    ) -> Result<NodeId, EditError> {
        add_node(&self.schema, &mut self.nodes, parent, condition, target)
    }

    /// Sets a node's target.
    ///
    /// # Errors
    /// [`EditError`] for an unknown node, min > max or a value above [`MAX_COUNT`].
    pub fn set_target(&mut self, node: NodeId, target: Target) -> Result<(), EditError> {
        check_node(&self.nodes, node)?;
        target.check(|| node_path(&self.nodes, node))?;
        self.nodes[node.index()].target = target;
        Ok(())
    }

    /// Sets a node's observed count.
    ///
    /// # Errors
    /// [`EditError`] for an unknown node or a count above [`MAX_COUNT`].
    pub fn set_observed(&mut self, node: NodeId, observed: u64) -> Result<(), EditError> {
        check_node(&self.nodes, node)?;
        check_observed(observed, || node_path(&self.nodes, node))?;
        self.nodes[node.index()].observed = observed;
        Ok(())
    }

    /// Indexes the tree. O(nodes).
    pub fn build(self) -> QuotaTree {
        let index = Index::build(&self.schema, &self.nodes);
        QuotaTree {
            schema: self.schema,
            nodes: self.nodes,
            index,
            matched: Vec::new(),
        }
    }
}

/// A quota tree over the questions of a [`Schema`]: nested (question, response or group) nodes,
/// each with a target (single, min/max, or none) and an observed count.
///
/// Any depth and any width. Built from typed ids with [`QuotaTreeBuilder`] (or
/// [`add_child`](QuotaTree::add_child)), or from names with
/// [`from_spec`](QuotaTree::from_spec), which reports the exact path of a bad node. Queries
/// (`available`, `available_balanced`, `list`, `balanced_list`) take `&self`; counting and
/// target edits take `&mut self` and keep the index current.
///
/// With the `serde` feature the tree serialises as its schema and its nodes (with names,
/// targets and observed counts), and deserialising validates it like
/// [`from_spec`](QuotaTree::from_spec).
///
/// The tree is `Send + Sync`: share it behind a lock (queries read, counting writes) or give
/// each thread its own [`QueryBuffer`](super::QueryBuffer).
#[derive(Clone)]
pub struct QuotaTree {
    pub(crate) schema: Schema,
    pub(crate) nodes: Vec<NodeData>,
    pub(crate) index: Index,
    /// Reused by counting so that it does not allocate.
    matched: Vec<u32>,
}

impl fmt::Debug for QuotaTree {
    /// The schema and the nodes (in the order added), without the index.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuotaTree")
            .field("schema", &self.schema)
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

impl PartialEq for QuotaTree {
    fn eq(&self, other: &Self) -> bool {
        self.schema == other.schema && self.nodes == other.nodes
    }
}

/// A read-only view of one node.
#[derive(Clone, Copy, Debug)]
pub struct NodeRef<'a> {
    tree: &'a QuotaTree,
    id: NodeId,
}

impl<'a> NodeRef<'a> {
    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The node's condition (`None` for the root).
    pub fn condition(&self) -> Option<&'a Condition> {
        self.tree.nodes[self.id.index()].condition.as_ref()
    }

    /// The node's target.
    pub fn target(&self) -> Target {
        self.tree.nodes[self.id.index()].target
    }

    /// The node's observed count.
    pub fn observed(&self) -> u64 {
        self.tree.nodes[self.id.index()].observed
    }

    /// The parent (`None` for the root).
    pub fn parent(&self) -> Option<NodeId> {
        let p = self.tree.nodes[self.id.index()].parent;
        (p != NO_PARENT).then_some(NodeId(p))
    }

    /// The children, in the order they were added.
    pub fn children(&self) -> impl Iterator<Item = NodeId> + 'a {
        self.tree.children(self.id)
    }

    /// The node's path, e.g. `tree.children[0].children[1]`.
    pub fn path(&self) -> String {
        node_path(&self.tree.nodes, self.id)
    }
}

impl QuotaTree {
    /// A tree with only a root, without a target.
    pub fn new(schema: Schema) -> QuotaTree {
        QuotaTreeBuilder::new(schema).build()
    }

    /// Starts a tree to be built node by node.
    pub fn builder(schema: Schema) -> QuotaTreeBuilder {
        QuotaTreeBuilder::new(schema)
    }

    /// The schema the tree is built on.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The root.
    pub fn root(&self) -> NodeId {
        NodeId::ROOT
    }

    /// The number of nodes, the root included (at least 1).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// A view of a node, or `None` if the id is not in this tree.
    pub fn node(&self, node: NodeId) -> Option<NodeRef<'_>> {
        (node.index() < self.nodes.len()).then_some(NodeRef {
            tree: self,
            id: node,
        })
    }

    /// Every node id, depth first (a parent before its children, children in the order added).
    pub fn nodes(&self) -> impl ExactSizeIterator<Item = NodeId> + '_ {
        self.index.node.iter().map(|&n| NodeId(n))
    }

    /// The children of a node, in the order they were added (none for an unknown id).
    pub fn children(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        let ix = &self.index;
        let (mut c, end) = match ix.pos.get(node.index()) {
            Some(&p) => (p as usize + 1, ix.end[p as usize] as usize),
            None => (0, 0),
        };
        std::iter::from_fn(move || {
            (c < end).then(|| {
                let id = NodeId(ix.node[c]);
                c = ix.end[c] as usize;
                id
            })
        })
    }

    /// The node's path, e.g. `tree.children[0].children[1]` (`None` for an unknown id).
    pub fn path(&self, node: NodeId) -> Option<String> {
        (node.index() < self.nodes.len()).then(|| node_path(&self.nodes, node))
    }

    /// Adds a child under `parent`, after the children it already has.
    ///
    /// # Errors
    /// As [`QuotaTreeBuilder::add_child`]; the tree is unchanged on error.
    ///
    /// # Performance
    /// Re-indexes the whole tree, O(nodes): build large trees with [`QuotaTreeBuilder`].
    pub fn add_child(
        &mut self,
        parent: NodeId,
        condition: Condition,
        target: Target,
    ) -> Result<NodeId, EditError> {
        let id = add_node(&self.schema, &mut self.nodes, parent, condition, target)?;
        self.index = Index::build(&self.schema, &self.nodes);
        Ok(id)
    }

    /// Changes a node's target, mid-field if need be. A target below the observed count makes
    /// the node over quota; that is not an error.
    ///
    /// # Errors
    /// [`EditError`] for an unknown node, min > max or a value above [`MAX_COUNT`]; the tree is
    /// unchanged on error.
    ///
    /// # Performance
    /// O(depth × children of the node's ancestors), plus one O(log nodes) tournament update
    /// per question with at least 16 nodes. Giving a node its first target, or taking its
    /// target away, rebuilds the per-question aggregates: O(nodes × such questions).
    pub fn set_target(&mut self, node: NodeId, target: Target) -> Result<(), EditError> {
        check_node(&self.nodes, node)?;
        target.check(|| node_path(&self.nodes, node))?;
        self.nodes[node.index()].target = target;
        self.reindex_values(node);
        Ok(())
    }

    /// Sets a node's observed count (for example from counts kept elsewhere). Other nodes'
    /// counts are not changed.
    ///
    /// # Errors
    /// [`EditError`] for an unknown node or a count above [`MAX_COUNT`].
    pub fn set_observed(&mut self, node: NodeId, observed: u64) -> Result<(), EditError> {
        check_node(&self.nodes, node)?;
        check_observed(observed, || node_path(&self.nodes, node))?;
        self.nodes[node.index()].observed = observed;
        self.reindex_values(node);
        Ok(())
    }

    /// Sets every observed count to 0.
    pub fn clear_counts(&mut self) {
        for n in &mut self.nodes {
            n.observed = 0;
        }
        self.index = Index::build(&self.schema, &self.nodes);
    }

    /// Counts one completed interview: increments the observed count of every node whose
    /// conditions, from the root down, the answers all satisfy (the root always). An answer
    /// still unknown satisfies no condition on its question. Returns how many nodes were
    /// incremented.
    ///
    /// # Errors
    /// [`CountError::AnswersDoNotFit`] for answers of another schema and
    /// [`CountError::Overflow`] if a count would pass [`MAX_COUNT`]; nothing is counted then.
    ///
    /// # Performance
    /// Visits the matching nodes and their children, and for each matching node with a target
    /// updates one O(log nodes) tournament per question with at least 16 nodes; no
    /// allocation once warmed up.
    pub fn record(&mut self, answers: &Answers) -> Result<usize, CountError> {
        self.change_counts(answers, true)
    }

    /// Takes one completed interview back out (the reverse of [`record`](Self::record)), for
    /// example after data cleaning rejected it.
    ///
    /// # Errors
    /// [`CountError::AnswersDoNotFit`], or [`CountError::Underflow`] if a matching node's count
    /// is already 0; nothing is changed then.
    pub fn unrecord(&mut self, answers: &Answers) -> Result<usize, CountError> {
        self.change_counts(answers, false)
    }

    fn change_counts(&mut self, answers: &Answers, add: bool) -> Result<usize, CountError> {
        self.check_answers(answers)?;
        let mut matched = std::mem::take(&mut self.matched);
        self.index.collect_matching(answers, &mut matched);
        let bad = matched.iter().find(|&&p| {
            let obs = self.index.obs[p as usize];
            if add { obs >= MAX_COUNT } else { obs == 0 }
        });
        if let Some(&p) = bad {
            let path = node_path(&self.nodes, NodeId(self.index.node[p as usize]));
            self.matched = matched;
            return Err(if add {
                CountError::Overflow { path }
            } else {
                CountError::Underflow { path }
            });
        }
        for &p in &matched {
            let p = p as usize;
            let id = self.index.node[p] as usize;
            let node = &mut self.nodes[id];
            node.observed = if add {
                node.observed + 1
            } else {
                node.observed - 1
            };
            self.index.update_values(p, node.target, node.observed);
        }
        // Children come after their parent in depth-first order, and the matching nodes are
        // closed under "parent of", so refreshing them last-first sees every child up to date.
        for &p in matched.iter().rev() {
            self.index.refresh_one(p as usize);
        }
        let count = matched.len();
        self.matched = matched;
        Ok(count)
    }

    /// Appends to `out` (after clearing it) every node a completed interview with these answers
    /// would count in, depth first: the nodes [`record`](Self::record) would increment.
    ///
    /// # Errors
    /// [`CountError::AnswersDoNotFit`] for answers of another schema.
    ///
    /// # Performance
    /// Visits the matching nodes and their children; no allocation once `out` has grown.
    pub fn matching_nodes(
        &self,
        answers: &Answers,
        out: &mut Vec<NodeId>,
    ) -> Result<(), CountError> {
        self.check_answers(answers)?;
        out.clear();
        self.index
            .for_each_matching(answers, |p| out.push(NodeId(self.index.node[p])));
        Ok(())
    }

    /// How many more completes the respondent's cells accept: the smallest (max target −
    /// observed) over the nodes with a target that the answers match (as in
    /// [`record`](Self::record)); `None` when no such node has a target. Zero or less means a
    /// complete from this respondent would overfill a cell.
    ///
    /// This is a gate for completes, not the query's to-do: [`available`](Self::available)
    /// also asks that some min target still be unmet.
    ///
    /// # Errors
    /// [`CountError::AnswersDoNotFit`] for answers of another schema.
    ///
    /// # Performance
    /// Visits the matching nodes and their children; no allocation.
    pub fn headroom(&self, answers: &Answers) -> Result<Option<i64>, CountError> {
        self.check_answers(answers)?;
        let mut room = i64::MAX;
        self.index
            .for_each_matching(answers, |p| room = room.min(self.index.room[p]));
        Ok((room != i64::MAX).then_some(room))
    }

    /// As [`headroom`](Self::headroom), with interviews still in progress held against each
    /// node: `pending[node.index()]` is subtracted from the node's room, so a cell accepts a new
    /// respondent only while pending + completed < max target.
    ///
    /// # Errors
    /// [`CountError::AnswersDoNotFit`], or [`CountError::PendingLength`] unless `pending` has
    /// one entry per node.
    pub fn headroom_with_pending(
        &self,
        answers: &Answers,
        pending: &[u64],
    ) -> Result<Option<i64>, CountError> {
        self.check_answers(answers)?;
        if pending.len() != self.nodes.len() {
            return Err(CountError::PendingLength {
                expected: self.nodes.len(),
                found: pending.len(),
            });
        }
        let mut room = i64::MAX;
        let mut any = false;
        self.index.for_each_matching(answers, |p| {
            let r = self.index.room[p];
            if r != i64::MAX {
                any = true;
                let held = pending[self.index.node[p] as usize].min(i64::MAX as u64) as i64;
                room = room.min(r.saturating_sub(held));
            }
        });
        Ok(any.then_some(room))
    }

    /// True when a complete from this respondent would overfill a cell it matches (its
    /// [`headroom`](Self::headroom) is 0 or less).
    ///
    /// # Errors
    /// [`CountError::AnswersDoNotFit`] for answers of another schema.
    pub fn is_full_for(&self, answers: &Answers) -> Result<bool, CountError> {
        Ok(self.headroom(answers)?.is_some_and(|r| r <= 0))
    }

    pub(crate) fn check_answers(&self, answers: &Answers) -> Result<(), CountError> {
        if answers.fits(&self.schema) {
            Ok(())
        } else {
            Err(CountError::AnswersDoNotFit {
                expected: self.schema.len(),
            })
        }
    }

    /// Node ids in depth-first order (position → id).
    #[cfg(feature = "serde")]
    pub(crate) fn depth_first_ids(&self) -> &[u32] {
        &self.index.node
    }

    /// Gives the node at depth-first position `p` the id `order[p]`, as a tree serialised with
    /// ids added out of depth-first order had them. `self` must have ids in depth-first order
    /// (as [`QuotaTree::from_spec`] gives).
    #[cfg(feature = "serde")]
    pub(crate) fn renumber(self, order: &[u32]) -> Result<QuotaTree, String> {
        let n = self.nodes.len();
        if order.len() != n {
            return Err(format!("ids: {} ids for {n} nodes", order.len()));
        }
        let mut seen = vec![false; n];
        for &id in order {
            match seen.get_mut(id as usize) {
                Some(s) if !*s => *s = true,
                _ => return Err(format!("ids: {id} is out of range or repeated")),
            }
        }
        if order[0] != 0 {
            return Err("ids: the root's id must be 0".to_owned());
        }
        let mut nodes = self.nodes.clone();
        for (p, data) in self.nodes.into_iter().enumerate() {
            let parent = match data.parent {
                NO_PARENT => NO_PARENT,
                up => order[up as usize],
            };
            nodes[order[p] as usize] = NodeData { parent, ..data };
        }
        let index = Index::build(&self.schema, &nodes);
        if index.node != order {
            return Err("ids: siblings must have increasing ids, in the order listed".to_owned());
        }
        Ok(QuotaTree {
            schema: self.schema,
            nodes,
            index,
            matched: Vec::new(),
        })
    }

    fn reindex_values(&mut self, node: NodeId) {
        let p = self.index.pos[node.index()] as usize;
        let data = &self.nodes[node.index()];
        self.index.update_values(p, data.target, data.observed);
        self.index.refresh_up(p);
    }
}

fn check_node(nodes: &[NodeData], node: NodeId) -> Result<(), EditError> {
    if node.index() < nodes.len() {
        Ok(())
    } else {
        Err(EditError::UnknownNode { node })
    }
}

fn check_observed(observed: u64, path: impl FnOnce() -> String) -> Result<(), EditError> {
    if observed > MAX_COUNT {
        Err(EditError::TooLarge {
            path: path(),
            what: "observed count",
            value: observed,
        })
    } else {
        Ok(())
    }
}

/// `tree.children[i].children[j]`, from the position of each node among its siblings.
pub(crate) fn node_path(nodes: &[NodeData], node: NodeId) -> String {
    let mut steps = Vec::new();
    let mut id = node.0;
    while let Some(n) = nodes.get(id as usize) {
        if n.parent == NO_PARENT {
            break;
        }
        let k = nodes[..id as usize]
            .iter()
            .filter(|m| m.parent == n.parent)
            .count();
        steps.push(k);
        id = n.parent;
    }
    let mut path = String::from("tree");
    for k in steps.iter().rev() {
        path.push_str(&format!(".children[{k}]"));
    }
    path
}

fn add_node(
    schema: &Schema,
    nodes: &mut Vec<NodeData>,
    parent: NodeId,
    condition: Condition,
    target: Target,
) -> Result<NodeId, EditError> {
    check_node(nodes, parent)?;
    let path = || {
        let k = nodes.iter().filter(|m| m.parent == parent.0).count();
        format!("{}.children[{k}]", node_path(nodes, parent))
    };
    if nodes.len() >= MAX_NODES {
        return Err(EditError::TooManyNodes { path: path() });
    }
    let q = condition.question;
    if q.index() >= schema.len() {
        return Err(EditError::UnknownQuestion {
            path: path(),
            question: q.index(),
        });
    }
    let name = || schema.question_name(q).to_owned();
    if condition.responses.is_empty() {
        return Err(EditError::EmptyGroup {
            path: path(),
            question: name(),
        });
    }
    let count = schema.response_count(q);
    if let Some(r) = condition.responses.iter().find(|r| r.index() >= count) {
        return Err(EditError::UnknownResponse {
            path: path(),
            question: name(),
            response: r.index(),
        });
    }
    // The conditions on one question along a path must leave some response possible.
    let mut possible = condition.responses.clone();
    let mut up = parent.0;
    while let Some(n) = nodes.get(up as usize) {
        if let Some(c) = &n.condition
            && c.question == q
        {
            possible = possible
                .iter()
                .filter(|&r| c.responses.contains(r))
                .collect();
        }
        up = n.parent;
    }
    if possible.is_empty() {
        return Err(EditError::Contradiction {
            path: path(),
            question: name(),
        });
    }
    target.check(path)?;
    let id = NodeId(nodes.len() as u32);
    nodes.push(NodeData {
        parent: parent.0,
        condition: Some(condition),
        target,
        observed: 0,
    });
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{QuestionId, ResponseId};

    fn schema() -> Schema {
        Schema::builder()
            .question("g", ["m", "f"])
            .question("p", ["a", "b", "c"])
            .build()
            .unwrap()
    }

    /// Root → g=m (→ p=a, p∈{a,b}), g=f (→ p=c); added out of depth-first order.
    fn sample() -> QuotaTree {
        let s = schema();
        let (g, p) = (s.question("g").unwrap(), s.question("p").unwrap());
        let r = |q, n| s.response(q, n).unwrap();
        let mut b = QuotaTree::builder(s.clone());
        let m = b
            .add_child(
                NodeId::ROOT,
                Condition::response(g, r(g, "m")),
                Target::Single(5),
            )
            .unwrap();
        let f = b
            .add_child(
                NodeId::ROOT,
                Condition::response(g, r(g, "f")),
                Target::None,
            )
            .unwrap();
        b.add_child(
            m,
            Condition::response(p, r(p, "a")),
            Target::MinMax { min: 1, max: 3 },
        )
        .unwrap();
        b.add_child(f, Condition::response(p, r(p, "c")), Target::Single(2))
            .unwrap();
        b.add_child(m, Condition::group(p, [r(p, "a"), r(p, "b")]), Target::None)
            .unwrap();
        b.build()
    }

    #[test]
    fn index_is_depth_first_with_exact_subtree_ends() {
        let t = sample();
        let ix = &t.index;
        assert_eq!(ix.node, vec![0, 1, 3, 5, 2, 4]);
        assert_eq!(ix.end, vec![6, 4, 3, 4, 6, 6]);
        assert_eq!(ix.depth, vec![0, 1, 2, 2, 1, 2]);
        // The group {a, b} under m keeps two responses; everything else is a single one.
        assert_eq!(ix.cond[3] & SET_FLAG, SET_FLAG);
        assert_eq!(ix.uni[0], 0, "the root's children are all on g");
        assert_eq!(ix.uni[1], NO_QUESTION, "a group is not a single response");
        assert_eq!(ix.block[4], 1, "f's only child is a leaf on p");
        assert_eq!(ix.sub_room[0], 2);
        assert_eq!(ix.sub_need[1], 5);
        assert_eq!(
            t.path(NodeId::new(5)).unwrap(),
            "tree.children[0].children[1]"
        );
    }

    #[test]
    fn aggregates_follow_counts_and_edits() {
        let mut t = sample();
        let s = t.schema().clone();
        let a = Answers::from_names(&s, [("g", "m"), ("p", "a")]).unwrap();
        assert_eq!(t.record(&a).unwrap(), 4);
        assert_eq!(t.index.sub_room[1], 2, "m/a: max 3, 1 observed");
        t.set_target(NodeId::new(3), Target::Single(0)).unwrap();
        assert_eq!(t.index.sub_room[0], -1);
        t.set_target(NodeId::new(3), Target::None).unwrap();
        assert_eq!(t.index.sub_room[0], 2, "f/c: 2 to do");
        let fresh = Index::build(&t.schema, &t.nodes);
        assert_eq!(fresh.sub_need, t.index.sub_need);
        assert_eq!(fresh.sub_room, t.index.sub_room);
    }

    #[test]
    #[cfg(feature = "serde")]
    fn renumber_checks_the_ids() {
        let t = sample();
        let dfs = QuotaTree::from_spec(t.schema.clone(), &t.to_spec()).unwrap();
        assert_eq!(dfs.clone().renumber(&[0, 1, 3, 5, 2, 4]).unwrap(), t);
        assert!(dfs.clone().renumber(&[0, 1, 2]).is_err());
        assert!(dfs.clone().renumber(&[1, 0, 3, 5, 2, 4]).is_err());
        assert!(dfs.clone().renumber(&[0, 1, 3, 3, 2, 4]).is_err());
        // Siblings out of order would reorder the children.
        assert!(dfs.renumber(&[0, 1, 5, 3, 2, 4]).is_err());
    }

    #[test]
    fn bad_edits_change_nothing() {
        let mut t = sample();
        let before = t.clone();
        assert!(matches!(
            t.set_target(NodeId::new(99), Target::None),
            Err(EditError::UnknownNode { .. })
        ));
        assert!(matches!(
            t.set_observed(NodeId::ROOT, MAX_COUNT + 1),
            Err(EditError::TooLarge { .. })
        ));
        assert!(matches!(
            t.set_target(NodeId::ROOT, Target::Single(MAX_COUNT + 1)),
            Err(EditError::TooLarge { .. })
        ));
        let other = Schema::builder().question("x", ["1"]).build().unwrap();
        assert!(matches!(
            t.record(&Answers::unknown(&other)),
            Err(CountError::AnswersDoNotFit { expected: 2 })
        ));
        let q9 = Condition::response(QuestionId(9), ResponseId(0));
        assert!(matches!(
            t.add_child(NodeId::ROOT, q9, Target::None),
            Err(EditError::UnknownQuestion { question: 9, .. })
        ));
        let r9 = Condition::response(QuestionId(0), ResponseId(9));
        assert!(matches!(
            t.add_child(NodeId::ROOT, r9, Target::None),
            Err(EditError::UnknownResponse { response: 9, .. })
        ));
        assert_eq!(t, before);
        assert_eq!(t.children(NodeId::new(99)).count(), 0);
        assert!(t.node(NodeId::new(6)).is_none());
    }
}
