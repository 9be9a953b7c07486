//! Why a query answered what it did: the rows that counted for each response, its cell, and
//! the context relaxation dropped.
//!
//! Computed by a deliberately plain second implementation of the rules (every response, every
//! node, every path), independent of the query engine's single pass; the tests check that the
//! two always agree.

use super::query::{Query, QueryError};
use super::tree::{NodeId, QuotaTree};
use crate::schema::{Answers, QuestionId, ResponseId, ResponseSet};

/// Why a query answered what it did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Explanation {
    /// The target question.
    pub question: QuestionId,
    /// The context questions relaxation dropped, in the order dropped (last-listed first).
    pub dropped: Vec<QuestionId>,
    /// One entry per response of the target question, in the question's order.
    pub responses: Vec<ResponseExplanation>,
}

/// How one response of the target question was scored.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseExplanation {
    /// The response.
    pub response: ResponseId,
    /// Its to-do: min(max over counted rows of (min − observed), min over counted rows of
    /// (max − observed)), or 1 when no row counted.
    pub todo: i64,
    /// Counted rows with a target whose path has no condition on the target question (the
    /// root, ancestors such as `Female`, rows on questions the context leaves unknown): they
    /// constrain every response alike. In the order the nodes were added.
    pub shared: Vec<NodeId>,
    /// Counted rows with a target on or below a row of this response: the rows the seed's walk
    /// "selects" (for `Product.AvailableQuota(Gender: 2)` and product A, rows 5, 6 and 7).
    pub specific: Vec<NodeId>,
    /// The rows whose min targets and observed counts make this response's Target% and
    /// Observed% (empty: no cell, target 0).
    pub cells: Vec<NodeId>,
    /// The sum of the cells' min targets.
    pub target: u128,
    /// The sum of the cells' observed counts.
    pub observed: u128,
}

impl QuotaTree {
    /// Explains a query: for every response of the target question, the rows that counted,
    /// its cell and its to-do, and which context entries relaxation dropped. The to-do values
    /// are those every query method reports; the methods differ only in which responses they
    /// keep and how they sort them.
    ///
    /// # Errors
    /// As [`QuotaTree::query_into`].
    ///
    /// # Performance
    /// Meant for debugging and tests: O(responses × nodes × depth), with allocation.
    pub fn explain(
        &self,
        query: &Query,
        answers: Option<&Answers>,
    ) -> Result<Explanation, QueryError> {
        query.validate(&self.schema)?;
        if let Some(a) = answers
            && !a.fits(&self.schema)
        {
            return Err(QueryError::AnswersDoNotFit {
                expected: self.schema.len(),
            });
        }
        let tq = query.question();
        let nr = self.schema.response_count(tq);
        // Each node's conditions, root first.
        let paths: Vec<Vec<(QuestionId, &ResponseSet)>> = (0..self.nodes.len())
            .map(|id| {
                let mut path = Vec::new();
                let mut at = id;
                while let Some(c) = &self.nodes[at].condition {
                    path.push((c.question(), c.responses()));
                    at = self.nodes[at].parent as usize;
                }
                path.reverse();
                path
            })
            .collect();
        let mut keep = query.context().len();
        let per_response = loop {
            let mut category: Vec<Option<ResponseSet>> = vec![None; self.schema.len()];
            if let Some(a) = answers {
                for q in self.schema.question_ids() {
                    if let Some(r) = a.get(q) {
                        category[q.index()] = Some(std::iter::once(r).collect());
                    }
                }
            }
            for (q, set) in &query.context()[..keep] {
                category[q.index()] = Some(set.clone());
            }
            let per_response: Vec<ResponseExplanation> = (0..nr)
                .map(|r| self.explain_response(tq, ResponseId(r as u16), &category, &paths))
                .collect();
            let counted = per_response
                .iter()
                .any(|e| !e.shared.is_empty() || !e.specific.is_empty());
            if counted || keep == 0 {
                break per_response;
            }
            keep -= 1;
        };
        Ok(Explanation {
            question: tq,
            dropped: query.context()[keep..]
                .iter()
                .rev()
                .map(|(q, _)| *q)
                .collect(),
            responses: per_response,
        })
    }

    fn explain_response(
        &self,
        tq: QuestionId,
        r: ResponseId,
        category: &[Option<ResponseSet>],
        paths: &[Vec<(QuestionId, &ResponseSet)>],
    ) -> ResponseExplanation {
        let target_of = |q: QuestionId| -> Option<ResponseSet> {
            if q == tq {
                Some(std::iter::once(r).collect())
            } else {
                category[q.index()].clone()
            }
        };
        // A row counts when, question by question along its path, the responses its conditions
        // allow meet what the category allows (anything, on a question it leaves unknown).
        let consistent = |path: &[(QuestionId, &ResponseSet)]| {
            path.iter().all(|&(q, _)| {
                let Some(allowed) = target_of(q) else {
                    return true;
                };
                allowed.iter().any(|x| {
                    path.iter()
                        .filter(|(p, _)| *p == q)
                        .all(|(_, s)| s.contains(x))
                })
            })
        };
        let mut e = ResponseExplanation {
            response: r,
            todo: 1,
            shared: Vec::new(),
            specific: Vec::new(),
            cells: Vec::new(),
            target: 0,
            observed: 0,
        };
        let (mut need, mut room) = (i64::MIN, i64::MAX);
        let mut candidates = Vec::new();
        for (id, node) in self.nodes.iter().enumerate() {
            let path = &paths[id];
            if !node.target.is_some() || !consistent(path) {
                continue;
            }
            let (lo, hi) = (
                node.target.min().unwrap_or(0) as i64,
                node.target.max().unwrap_or(0) as i64,
            );
            need = need.max(lo - node.observed as i64);
            room = room.min(hi - node.observed as i64);
            if path.iter().any(|(q, _)| *q == tq) {
                e.specific.push(NodeId(id as u32));
            } else {
                e.shared.push(NodeId(id as u32));
            }
            if node.condition.as_ref().is_some_and(|c| c.question() == tq) {
                candidates.push(id);
            }
        }
        if need != i64::MIN {
            e.todo = need.min(room);
        }
        // The cell: target-question rows not covered by a counted target-question row below
        // them, with the most conditions the context fixes, then the fewest left unknown.
        let is_below = |low: usize, high: usize| {
            let mut at = self.nodes[low].parent;
            while let Some(n) = self.nodes.get(at as usize) {
                if at as usize == high {
                    return true;
                }
                at = n.parent;
            }
            false
        };
        let rank = |id: usize| {
            let known = paths[id]
                .iter()
                .filter(|(q, _)| *q != tq && category[q.index()].is_some())
                .count();
            let unknown = paths[id]
                .iter()
                .filter(|(q, _)| *q != tq && category[q.index()].is_none())
                .count();
            (known, std::cmp::Reverse(unknown))
        };
        let innermost: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&c| !candidates.iter().any(|&d| d != c && is_below(d, c)))
            .collect();
        if let Some(best) = innermost.iter().map(|&c| rank(c)).max() {
            for &c in &innermost {
                if rank(c) == best {
                    e.cells.push(NodeId(c as u32));
                    e.target += self.nodes[c].target.min().unwrap_or(0) as u128;
                    e.observed += self.nodes[c].observed as u128;
                }
            }
        }
        e
    }
}
