//! The tree's index: the nodes in depth-first order as flat arrays, with the subtree aggregates
//! queries read instead of walking a subtree, kept exact by counting and edits.

use smallvec::SmallVec;

use super::fast::Fast;
use super::tree::{NO_PARENT, NO_QUESTION, NodeData, SET_FLAG, Target};
use crate::schema::{Answers, QuestionId, ResponseId, Schema};

/// Words of a response bitset for a question with `count` responses.
pub(crate) fn words_for(count: usize) -> usize {
    count.div_ceil(64).max(1)
}

/// The tree in depth-first order, as flat arrays: a parent before its children, a subtree
/// contiguous and ending at `end`. Queries scan it front to back and jump over subtrees that
/// cannot count; counting walks the matching nodes the same way.
#[derive(Clone, Debug, Default)]
pub(crate) struct Index {
    /// Question of the node's condition ([`NO_QUESTION`] for the root).
    pub(crate) q: Vec<u16>,
    /// The node's path set: the responses of its question that satisfy its condition and every
    /// ancestor's condition on the same question. One response, or [`SET_FLAG`] | offset.
    pub(crate) cond: Vec<u32>,
    /// One past the node's subtree.
    pub(crate) end: Vec<u32>,
    /// Distance from the root.
    pub(crate) depth: Vec<u32>,
    /// Parent position.
    pub(crate) up: Vec<u32>,
    /// min target − observed, or `i64::MIN` without a target.
    pub(crate) need: Vec<i64>,
    /// max target − observed, or `i64::MAX` without a target.
    pub(crate) room: Vec<i64>,
    /// Largest `need` in the subtree, the node included.
    pub(crate) sub_need: Vec<i64>,
    /// Smallest `room` in the subtree, the node included.
    pub(crate) sub_room: Vec<i64>,
    /// Bit `q % 64` set for every question of a condition strictly below the node.
    pub(crate) below: Vec<u64>,
    /// The min target (0 without a target), for the balanced percentages.
    pub(crate) cell_min: Vec<u64>,
    /// True when the node has a target.
    pub(crate) targeted: Vec<bool>,
    /// Observed count.
    pub(crate) obs: Vec<u64>,
    /// Position → node id.
    pub(crate) node: Vec<u32>,
    /// Node id → position.
    pub(crate) pos: Vec<u32>,
    /// Response bitsets of path sets with more than one response.
    pub(crate) words: Vec<u64>,
    /// The largest depth.
    pub(crate) max_depth: usize,
    /// When every child of the node is a leaf whose path set is one response of one same
    /// question: that question (the children are then scanned in a tight loop); else
    /// [`NO_QUESTION`].
    pub(crate) block: Vec<u16>,
    /// When every child of the node has a path set of one response of one same question: that
    /// question (the children are then listed in `kids`); else [`NO_QUESTION`].
    pub(crate) uni: Vec<u16>,
    /// (response, position) of the children of [`Index::uni`] nodes, sorted by response: node
    /// `p`'s are at `kid_start[p]..kid_start[p + 1]`. Lets a scan go straight to the child a
    /// known answer selects instead of testing every sibling.
    pub(crate) kids: Vec<(u32, u32)>,
    pub(crate) kid_start: Vec<u32>,
    /// Per-question aggregates for queries with neither context nor answers.
    pub(crate) fast: Fast,
}

pub(crate) fn question_bit(q: u16) -> u64 {
    1u64 << (q % 64)
}

impl Index {
    pub(crate) fn len(&self) -> usize {
        self.q.len()
    }

    pub(crate) fn build(schema: &Schema, nodes: &[NodeData]) -> Index {
        let n = nodes.len();
        // Children in the order added, as one flat array (compressed rows).
        let mut start = vec![0u32; n + 1];
        for nd in &nodes[1..] {
            start[nd.parent as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut kids = vec![0u32; n.saturating_sub(1)];
        for (id, nd) in nodes.iter().enumerate().skip(1) {
            let p = nd.parent as usize;
            kids[fill[p] as usize] = id as u32;
            fill[p] += 1;
        }
        let mut ix = Index {
            q: Vec::with_capacity(n),
            cond: Vec::with_capacity(n),
            end: vec![0; n],
            depth: Vec::with_capacity(n),
            up: Vec::with_capacity(n),
            need: vec![0; n],
            room: vec![0; n],
            sub_need: vec![0; n],
            sub_room: vec![0; n],
            below: vec![0; n],
            cell_min: vec![0; n],
            targeted: vec![false; n],
            obs: vec![0; n],
            node: Vec::with_capacity(n),
            pos: vec![0; n],
            words: Vec::new(),
            max_depth: 0,
            block: vec![NO_QUESTION; n],
            uni: vec![NO_QUESTION; n],
            kids: Vec::new(),
            kid_start: Vec::with_capacity(n + 1),
            fast: Fast::default(),
        };
        // Depth first, children in the order added.
        let mut stack: Vec<(u32, u32)> = vec![(0, NO_PARENT)];
        while let Some((id, up)) = stack.pop() {
            let p = ix.node.len();
            ix.node.push(id);
            ix.pos[id as usize] = p as u32;
            ix.up.push(up);
            ix.depth.push(if up == NO_PARENT {
                0
            } else {
                ix.depth[up as usize] + 1
            });
            let nd = &nodes[id as usize];
            match &nd.condition {
                None => {
                    ix.q.push(NO_QUESTION);
                    ix.cond.push(0);
                }
                Some(c) => {
                    let q = c.question;
                    let nw = words_for(schema.response_count(q));
                    let mut set: SmallVec<[u64; 2]> = SmallVec::from_elem(0, nw);
                    for r in c.responses.iter() {
                        set[r.index() / 64] |= 1 << (r.index() % 64);
                    }
                    // Narrow by the nearest ancestor on the same question (whose path set
                    // already holds every condition above it).
                    let mut a = up;
                    while a != NO_PARENT {
                        if ix.q[a as usize] == q.0 {
                            let anc = ix.cond[a as usize];
                            for (w, word) in set.iter_mut().enumerate() {
                                *word &= ix.set_word(anc, w);
                            }
                            break;
                        }
                        a = ix.up[a as usize];
                    }
                    ix.q.push(q.0);
                    let members: u32 = set.iter().map(|w| w.count_ones()).sum();
                    if members == 1 {
                        let w = set.iter().position(|&w| w != 0).unwrap_or(0);
                        ix.cond.push((w * 64) as u32 + set[w].trailing_zeros());
                    } else {
                        ix.cond.push(SET_FLAG | ix.words.len() as u32);
                        ix.words.extend_from_slice(&set);
                    }
                }
            }
            ix.set_values(p, nd.target, nd.observed);
            let (a, b) = (start[id as usize] as usize, start[id as usize + 1] as usize);
            for &k in kids[a..b].iter().rev() {
                stack.push((k, p as u32));
            }
        }
        ix.max_depth = ix.depth.iter().copied().max().unwrap_or(0) as usize;
        for p in 0..n {
            ix.end[p] = p as u32 + 1;
            ix.sub_need[p] = ix.need[p];
            ix.sub_room[p] = ix.room[p];
        }
        for p in (1..n).rev() {
            let up = ix.up[p] as usize;
            ix.end[up] = ix.end[up].max(ix.end[p]);
        }
        ix.kid_start.push(0);
        for p in 0..n {
            let end = ix.end[p] as usize;
            let first = p + 1;
            if first < end {
                let qc = ix.q[first];
                let (mut c, mut uniform, mut leaves) = (first, true, true);
                while c < end {
                    uniform &= ix.q[c] == qc && ix.cond[c] & SET_FLAG == 0;
                    leaves &= ix.end[c] as usize == c + 1;
                    c = ix.end[c] as usize;
                }
                if uniform {
                    ix.uni[p] = qc;
                    if leaves {
                        ix.block[p] = qc;
                    }
                    let start = ix.kids.len();
                    let mut c = first;
                    while c < end {
                        ix.kids.push((ix.cond[c], c as u32));
                        c = ix.end[c] as usize;
                    }
                    ix.kids[start..].sort_unstable();
                }
            }
            ix.kid_start.push(ix.kids.len() as u32);
        }
        for p in (1..n).rev() {
            let up = ix.up[p] as usize;
            ix.sub_need[up] = ix.sub_need[up].max(ix.sub_need[p]);
            ix.sub_room[up] = ix.sub_room[up].min(ix.sub_room[p]);
            ix.below[up] |= ix.below[p] | question_bit(ix.q[p]);
        }
        let nrs = schema
            .question_ids()
            .map(|q| schema.response_count(q))
            .collect();
        ix.fast = Fast::build(nrs, &ix);
        ix
    }

    /// Sets the values of the row at position `p` and keeps the per-question aggregates
    /// current (the subtree aggregates are the caller's to refresh).
    pub(crate) fn update_values(&mut self, p: usize, target: Target, observed: u64) {
        let (was_targeted, old_min, old_obs) = (self.targeted[p], self.cell_min[p], self.obs[p]);
        self.set_values(p, target, observed);
        let mut fast = std::mem::take(&mut self.fast);
        if was_targeted == self.targeted[p] {
            fast.update(self, p, old_min, old_obs);
        } else {
            // Which rows form each response's cell depends on which rows have a target.
            fast.rebuild(self);
        }
        self.fast = fast;
    }

    /// Word `w` of a path set (a single response or an offset into `words`).
    #[inline]
    pub(crate) fn set_word(&self, cond: u32, w: usize) -> u64 {
        if cond & SET_FLAG != 0 {
            self.words[(cond & !SET_FLAG) as usize + w]
        } else if cond as usize / 64 == w {
            1 << (cond % 64)
        } else {
            0
        }
    }

    /// True when the node's path set holds the response.
    #[inline]
    pub(crate) fn holds(&self, p: usize, r: ResponseId) -> bool {
        let cond = self.cond[p];
        if cond & SET_FLAG != 0 {
            let w = self.words[(cond & !SET_FLAG) as usize + r.index() / 64];
            w >> (r.index() % 64) & 1 != 0
        } else {
            cond as usize == r.index()
        }
    }

    pub(crate) fn set_values(&mut self, p: usize, target: Target, observed: u64) {
        // Both are at most MAX_COUNT, so the differences fit.
        let obs = observed as i64;
        let (need, room) = match (target.min(), target.max()) {
            (Some(lo), Some(hi)) => (lo as i64 - obs, hi as i64 - obs),
            _ => (i64::MIN, i64::MAX),
        };
        self.need[p] = need;
        self.room[p] = room;
        self.targeted[p] = target.is_some();
        self.cell_min[p] = target.min().unwrap_or(0);
        self.obs[p] = observed;
    }

    /// Recomputes the subtree aggregates of `p` from its own values and its children's.
    /// Returns true when they changed.
    pub(crate) fn refresh_one(&mut self, p: usize) -> bool {
        let (mut need, mut room) = (self.need[p], self.room[p]);
        let end = self.end[p] as usize;
        let mut c = p + 1;
        while c < end {
            need = need.max(self.sub_need[c]);
            room = room.min(self.sub_room[c]);
            c = self.end[c] as usize;
        }
        let changed = need != self.sub_need[p] || room != self.sub_room[p];
        self.sub_need[p] = need;
        self.sub_room[p] = room;
        changed
    }

    /// After a change to `p`'s own values: refreshes it and its ancestors, stopping where the
    /// aggregates no longer change.
    pub(crate) fn refresh_up(&mut self, mut p: usize) {
        while self.refresh_one(p) && p != 0 {
            p = self.up[p] as usize;
        }
    }

    /// The children of `p` whose one response is `r`, when `p` is a [`Index::uni`] node.
    #[inline]
    pub(crate) fn children_with(&self, p: usize, r: u32) -> &[(u32, u32)] {
        let kids = &self.kids[self.kid_start[p] as usize..self.kid_start[p + 1] as usize];
        let lo = kids.partition_point(|&(k, _)| k < r);
        let hi = lo + kids[lo..].partition_point(|&(k, _)| k == r);
        &kids[lo..hi]
    }

    /// Where a depth-first walk that has just entered `p` goes next, when the only children
    /// that can match are those with response `r` (`None`: none can): the first position of
    /// `p`'s subtree to visit, and a jump (from the end of the one matching child to the end of
    /// `p`) to take on the way.
    #[inline]
    pub(crate) fn enter(&self, p: usize, r: Option<ResponseId>) -> (usize, Option<(u32, u32)>) {
        let end = self.end[p];
        let Some(r) = r else {
            return (end as usize, None);
        };
        match self.children_with(p, r.index() as u32) {
            [] => (end as usize, None),
            [(_, c)] => {
                let child_end = self.end[*c as usize];
                (*c as usize, (child_end != end).then_some((child_end, end)))
            }
            // Several children with this response: visit them all.
            _ => (p + 1, None),
        }
    }

    /// Calls `f` with the position of every node whose path the answers satisfy, depth first.
    #[inline]
    pub(crate) fn for_each_matching(&self, answers: &Answers, mut f: impl FnMut(usize)) {
        let n = self.len();
        // Pending jumps (at, to): a walk that went straight to one child skips its siblings.
        let mut jumps: SmallVec<[(u32, u32); 16]> = SmallVec::new();
        let enter = |p: usize, jumps: &mut SmallVec<[(u32, u32); 16]>| {
            let u = self.uni[p];
            if u == NO_QUESTION {
                return p + 1;
            }
            let (next, jump) = self.enter(p, answers.get(QuestionId(u)));
            jumps.extend(jump);
            next
        };
        f(0);
        let mut i = enter(0, &mut jumps);
        loop {
            while let Some(&(at, to)) = jumps.last() {
                if i != at as usize {
                    break;
                }
                i = to as usize;
                jumps.pop();
            }
            if i >= n {
                break;
            }
            match answers.get(QuestionId(self.q[i])) {
                Some(r) if self.holds(i, r) => {
                    f(i);
                    i = enter(i, &mut jumps);
                }
                _ => i = self.end[i] as usize,
            }
        }
    }

    pub(crate) fn collect_matching(&self, answers: &Answers, out: &mut Vec<u32>) {
        out.clear();
        self.for_each_matching(answers, |p| out.push(p as u32));
    }
}
