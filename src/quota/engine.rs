//! The engine the four queries share: one pass over the tree's index for all responses at
//! once, the cells and to-dos it gathers, and the orders of the four methods.

use std::cmp::Ordering;

use super::query::{Query, QueryError, QuotaMethod};
use super::tree::{Index, NO_QUESTION, QuotaTree, SET_FLAG, question_bit, words_for};
use crate::schema::{Answers, QuestionId, ResponseId};

/// Results and working memory of a query, reused from one query to the next so that a query
/// does not allocate once the buffer has grown to the tree's needs.
#[derive(Clone, Debug, Default)]
pub struct QueryBuffer {
    results: Vec<(ResponseId, i64)>,
    relaxed: usize,
    s: Scratch,
}

impl QueryBuffer {
    /// An empty buffer.
    pub fn new() -> QueryBuffer {
        QueryBuffer::default()
    }

    /// The last query's results: responses best first, each with its to-do.
    pub fn results(&self) -> &[(ResponseId, i64)] {
        &self.results
    }

    /// How many context entries the last query dropped (relaxation), last-listed first.
    pub fn relaxed(&self) -> usize {
        self.relaxed
    }

    /// The to-do of any response of the last query's target question, listed or not.
    pub fn todo(&self, response: ResponseId) -> Option<i64> {
        self.s.todo.get(response.index()).copied()
    }
}

const UNKNOWN: u8 = 0;
const KNOWN: u8 = 1;
const TARGET: u8 = 2;

#[derive(Clone, Copy, Debug)]
struct Frame {
    pos: u32,
    saved_end: u32,
    key: u64,
    saved_need: i64,
    saved_room: i64,
}

#[derive(Clone, Debug, Default)]
struct Scratch {
    /// Per question: [`UNKNOWN`], [`KNOWN`] (with a response set at `coff`) or [`TARGET`].
    kind: Vec<u8>,
    /// Per known question: its one response, or `u32::MAX` for a group.
    single: Vec<u32>,
    coff: Vec<u32>,
    cwords: Vec<u64>,
    /// Question bits of the target and of every known question.
    relevant: u64,
    nr: usize,
    nwq: usize,
    acc_need: Vec<i64>,
    acc_room: Vec<i64>,
    cell_key: Vec<u64>,
    cell_t: Vec<u128>,
    cell_o: Vec<u128>,
    frames: Vec<Frame>,
    /// Pending jumps (at, to) after going straight to the one child a known answer selects.
    jumps: Vec<(u32, u32)>,
    cov: Vec<u64>,
    /// Per depth: (conditions on known questions, conditions on unknown questions) on the path.
    rank: Vec<(u32, u32)>,
    todo: Vec<i64>,
    /// Sort keys of the balanced list.
    keys: Vec<i128>,
    common: (i64, i64),
}

/// After entering the node at position `p`, when its children are all on a question the
/// context fixes to one response: the position of the one child that can count (leaving a jump
/// over its later siblings) or the end of `p` when none can. `None`: visit the children.
#[inline(always)]
fn shortcut(ix: &Index, unis: &[u16], p: usize, s: &mut Scratch) -> Option<usize> {
    let u = unis[p];
    if u == NO_QUESTION || s.kind[u as usize] != KNOWN {
        return None;
    }
    let r = s.single[u as usize];
    if r == u32::MAX {
        return None;
    }
    let (next, jump) = ix.enter(p, Some(ResponseId(r as u16)));
    s.jumps.extend(jump);
    Some(next)
}

impl Scratch {
    /// Clears what a scan accumulates (the cells too when `cells`), keeping the capacity.
    fn reset_scan(&mut self, cells: bool) {
        let nr = self.nr;
        self.acc_need.clear();
        self.acc_need.resize(nr, i64::MIN);
        self.acc_room.clear();
        self.acc_room.resize(nr, i64::MAX);
        if cells {
            self.cell_key.clear();
            self.cell_key.resize(nr, 0);
            self.cell_t.clear();
            self.cell_t.resize(nr, 0);
            self.cell_o.clear();
            self.cell_o.resize(nr, 0);
        }
        self.frames.clear();
        self.jumps.clear();
        self.cov.clear();
    }
}

/// Best cell rank: more conditions pinned by the context, then fewer left unknown.
fn pack(rank: (u32, u32)) -> u64 {
    ((rank.0 as u64) << 32) | (u32::MAX - rank.1) as u64
}

impl QuotaTree {
    /// Runs a query, writing its results into `buffer`, and returns them: the target
    /// question's responses best first, each with its to-do.
    ///
    /// `answers` are what the respondent already answered: they act as context on every
    /// question the query's own context does not name (an answer to the target question is
    /// ignored), and relaxation never drops them.
    ///
    /// # Errors
    /// [`QueryError`] for ids the tree's schema does not have, a context entry on the target
    /// question, a question twice in the context, an empty group, or answers of another
    /// schema; the buffer's results are then empty.
    ///
    /// # Performance
    /// One pass over the nodes that can count — subtrees that contradict the context are
    /// skipped, the child a known answer selects is found by binary search, and subtrees naming
    /// neither the target question nor a known one are read from maintained aggregates — once
    /// more per context entry dropped by relaxation; then sorting the responses. About a
    /// microsecond with a context or answers, whatever the tree's size. With neither (and a
    /// target question with at least 16 nodes) the scan is replaced by maintained
    /// per-question aggregates: one read per response, whatever the tree's size. No
    /// allocation once the buffer has grown.
    pub fn query_into<'b>(
        &self,
        method: QuotaMethod,
        query: &Query,
        answers: Option<&Answers>,
        buffer: &'b mut QueryBuffer,
    ) -> Result<&'b [(ResponseId, i64)], QueryError> {
        self.run(method, query, answers, buffer, true)
    }

    /// [`query_into`](Self::query_into), with the per-question aggregates used or not (the
    /// tests check them against the scan).
    pub(crate) fn run<'b>(
        &self,
        method: QuotaMethod,
        query: &Query,
        answers: Option<&Answers>,
        buffer: &'b mut QueryBuffer,
        use_fast: bool,
    ) -> Result<&'b [(ResponseId, i64)], QueryError> {
        buffer.results.clear();
        buffer.relaxed = 0;
        buffer.s.todo.clear();
        query.validate(&self.schema)?;
        if let Some(a) = answers
            && !a.fits(&self.schema)
        {
            return Err(QueryError::AnswersDoNotFit {
                expected: self.schema.len(),
            });
        }
        let s = &mut buffer.s;
        let tq = query.question;
        s.nr = self.schema.response_count(tq);
        s.nwq = words_for(s.nr);
        if s.rank.len() <= self.index.max_depth {
            s.rank.resize(self.index.max_depth + 1, (0, 0));
        }
        // Neither context nor answers: every row counts, and the per-question aggregates
        // hold the result without reading the tree.
        let plain = use_fast
            && query.context.is_empty()
            && answers.is_none_or(|a| {
                self.schema
                    .question_ids()
                    .all(|q| q == tq || a.get(q).is_none())
            });
        let mut done = false;
        if plain {
            s.acc_need.clear();
            s.acc_need.resize(s.nr, i64::MIN);
            s.acc_room.clear();
            s.acc_room.resize(s.nr, i64::MAX);
            if let Some(answer) =
                self.index
                    .fast
                    .answer(tq.index(), &mut s.acc_need, &mut s.acc_room)
            {
                s.common = answer.common;
                if method.balanced() {
                    s.cell_t.clear();
                    s.cell_t.extend_from_slice(answer.cell_t);
                    s.cell_o.clear();
                    s.cell_o.extend_from_slice(answer.cell_o);
                }
                done = true;
            }
        }
        let mut keep = query.context.len();
        if !done {
            loop {
                self.setup(query, answers, keep, s);
                let counted = if method.balanced() {
                    self.scan::<true>(s)
                } else {
                    self.scan::<false>(s)
                };
                if counted || keep == 0 {
                    break;
                }
                keep -= 1;
            }
        }
        buffer.relaxed = query.context.len() - keep;
        let (common_need, common_room) = s.common;
        s.todo.clear();
        for r in 0..s.nr {
            let need = common_need.max(s.acc_need[r]);
            let room = common_room.min(s.acc_room[r]);
            // No counted row at all: the response is unconstrained, to-do 1.
            s.todo
                .push(if need == i64::MIN { 1 } else { need.min(room) });
        }
        let results = &mut buffer.results;
        for (r, &todo) in s.todo.iter().enumerate() {
            if !method.only_available() || todo > 0 {
                results.push((ResponseId(r as u16), todo));
            }
        }
        let by_todo =
            |a: &(ResponseId, i64), b: &(ResponseId, i64)| b.1.cmp(&a.1).then(a.0.cmp(&b.0));
        match method {
            QuotaMethod::Available | QuotaMethod::List => results.sort_unstable_by(by_todo),
            QuotaMethod::AvailableBalanced => {
                let (t, o) = (&s.cell_t, &s.cell_o);
                // Target 0 (or no cell) last, in response order; then (T% − O%) / T%
                // descending, which is 1 − (O·ΣT)/(T·ΣO): ascending O/T, compared exactly as
                // O_a·T_b vs O_b·T_a (in 128 bits when every value fits 64, as it always does
                // short of billions of cells at the count cap).
                let narrow = t.iter().chain(o.iter()).all(|&x| x <= u64::MAX as u128);
                results.sort_unstable_by(|a, b| {
                    let (ra, rb) = (a.0.index(), b.0.index());
                    match (t[ra] > 0, t[rb] > 0) {
                        (true, true) if narrow => (o[ra] * t[rb]).cmp(&(o[rb] * t[ra])),
                        (true, true) => mul_wide(o[ra], t[rb]).cmp(&mul_wide(o[rb], t[ra])),
                        (a, b) => b.cmp(&a),
                    }
                    .then(ra.cmp(&rb))
                });
            }
            QuotaMethod::BalancedList => {
                let (t, o) = (&s.cell_t, &s.cell_o);
                let sum_t: u128 = t.iter().sum();
                let sum_o: u128 = o.iter().sum();
                let narrow = sum_t <= i64::MAX as u128 && sum_o <= i64::MAX as u128;
                if narrow {
                    // T% − O% = (T·ΣO − O·ΣT) / (ΣT·ΣO): the numerator orders, exactly; with
                    // nothing observed, Observed% is 0 and T orders.
                    s.keys.clear();
                    s.keys.extend(t.iter().zip(o.iter()).map(|(&t, &o)| {
                        if sum_o == 0 {
                            t as i128
                        } else {
                            (t * sum_o) as i128 - (o * sum_t) as i128
                        }
                    }));
                }
                let keys = &s.keys;
                results.sort_unstable_by(|a, b| {
                    let (ra, rb) = (a.0.index(), b.0.index());
                    // Target 0 (or no cell) last, in response order.
                    match (t[ra] > 0, t[rb] > 0) {
                        (true, true) if narrow => keys[rb].cmp(&keys[ra]),
                        (true, true) => balanced_list_order(t, o, sum_t, sum_o, ra, rb),
                        (a, b) => b.cmp(&a),
                    }
                    .then(ra.cmp(&rb))
                });
            }
        }
        Ok(&buffer.results)
    }

    /// Runs a query and returns its results in a new vector (see
    /// [`query_into`](Self::query_into) for the rules and the allocation-free form).
    ///
    /// # Errors
    /// As [`query_into`](Self::query_into).
    pub fn query(
        &self,
        method: QuotaMethod,
        query: &Query,
        answers: Option<&Answers>,
    ) -> Result<Vec<(ResponseId, i64)>, QueryError> {
        let mut buffer = QueryBuffer::new();
        self.query_into(method, query, answers, &mut buffer)?;
        Ok(std::mem::take(&mut buffer.results))
    }

    /// Askia `AvailableQuota`: the responses still open (to-do > 0), largest to-do first.
    ///
    /// # Errors
    /// As [`query_into`](Self::query_into).
    pub fn available(
        &self,
        query: &Query,
        answers: Option<&Answers>,
    ) -> Result<Vec<(ResponseId, i64)>, QueryError> {
        self.query(QuotaMethod::Available, query, answers)
    }

    /// Askia `AvailableBalancedQuota`: the responses still open, the least filled relative to
    /// its share of the targets first.
    ///
    /// # Errors
    /// As [`query_into`](Self::query_into).
    pub fn available_balanced(
        &self,
        query: &Query,
        answers: Option<&Answers>,
    ) -> Result<Vec<(ResponseId, i64)>, QueryError> {
        self.query(QuotaMethod::AvailableBalanced, query, answers)
    }

    /// Askia `QuotaList`: every response, over quota too, largest to-do first.
    ///
    /// # Errors
    /// As [`query_into`](Self::query_into).
    pub fn list(
        &self,
        query: &Query,
        answers: Option<&Answers>,
    ) -> Result<Vec<(ResponseId, i64)>, QueryError> {
        self.query(QuotaMethod::List, query, answers)
    }

    /// Askia `BalancedQuotaList`: every response, Target% − Observed% descending.
    ///
    /// # Errors
    /// As [`query_into`](Self::query_into).
    pub fn balanced_list(
        &self,
        query: &Query,
        answers: Option<&Answers>,
    ) -> Result<Vec<(ResponseId, i64)>, QueryError> {
        self.query(QuotaMethod::BalancedList, query, answers)
    }

    /// Fills the per-question context: the answers, then the first `keep` context entries
    /// (which override answers on the same question), then the target question.
    fn setup(&self, query: &Query, answers: Option<&Answers>, keep: usize, s: &mut Scratch) {
        let nq = self.schema.len();
        s.kind.clear();
        s.kind.resize(nq, UNKNOWN);
        s.single.clear();
        s.single.resize(nq, u32::MAX);
        s.coff.resize(nq, 0);
        s.cwords.clear();
        let tq = query.question;
        s.relevant = question_bit(tq.0);
        let add =
            |s: &mut Scratch, q: QuestionId, members: &mut dyn Iterator<Item = ResponseId>| {
                let nw = words_for(self.schema.response_count(q));
                s.kind[q.index()] = KNOWN;
                s.coff[q.index()] = s.cwords.len() as u32;
                let base = s.cwords.len();
                s.cwords.resize(base + nw, 0);
                let mut count = 0;
                for r in members {
                    s.cwords[base + r.index() / 64] |= 1 << (r.index() % 64);
                    s.single[q.index()] = r.index() as u32;
                    count += 1;
                }
                if count != 1 {
                    s.single[q.index()] = u32::MAX;
                }
                s.relevant |= question_bit(q.0);
            };
        if let Some(a) = answers {
            for q in self.schema.question_ids() {
                if q != tq
                    && let Some(r) = a.get(q)
                {
                    add(s, q, &mut std::iter::once(r));
                }
            }
        }
        for (q, set) in &query.context[..keep] {
            add(s, *q, &mut set.iter());
        }
        s.kind[tq.index()] = TARGET;
    }

    /// One pass over the tree for every response of the target question at once.
    ///
    /// A node counts when its condition (its path set) meets the context on a known question
    /// or is on an unknown one; a node on the target question opens a frame whose rows count
    /// only for the responses of its path set. Returns true when some row with a target
    /// counted (no relaxation needed). `CELLS` also finds each response's cell (balanced
    /// methods); without it the pass does less per node.
    fn scan<const CELLS: bool>(&self, s: &mut Scratch) -> bool {
        let ix: &Index = &self.index;
        let n = ix.len();
        let nwq = s.nwq;
        s.reset_scan(CELLS);
        // Local slices: the loop below reads them once per node.
        let (qs, conds, ends, depths, belows) = (
            &ix.q[..n],
            &ix.cond[..n],
            &ix.end[..n],
            &ix.depth[..n],
            &ix.below[..n],
        );
        let (needs, rooms, sub_needs, sub_rooms) = (
            &ix.need[..n],
            &ix.room[..n],
            &ix.sub_need[..n],
            &ix.sub_room[..n],
        );
        let blocks = &ix.block[..n];
        let unis = &ix.uni[..n];
        let shortcut = |p: usize, s: &mut Scratch| shortcut(ix, unis, p, s);
        let relevant = s.relevant;
        let mut any = false;
        let (mut cur_need, mut cur_room, mut i) = if belows[0] & relevant == 0 {
            (sub_needs[0], sub_rooms[0], n)
        } else {
            (needs[0], rooms[0], shortcut(0, s).unwrap_or(1))
        };
        let mut top_end = n;
        if CELLS {
            s.rank[0] = (0, 0);
        }
        loop {
            loop {
                while i >= top_end {
                    let Some(f) = s.frames.pop() else { break };
                    self.finish::<CELLS>(f.pos as usize, (cur_need, cur_room), f.key, s, &mut any);
                    cur_need = f.saved_need;
                    cur_room = f.saved_room;
                    top_end = f.saved_end as usize;
                }
                match s.jumps.last() {
                    Some(&(at, to)) if i == at as usize => {
                        i = to as usize;
                        s.jumps.pop();
                    }
                    _ => break,
                }
            }
            if i >= n {
                break;
            }
            let q = qs[i] as usize;
            let kind = s.kind[q];
            let skip = belows[i] & relevant == 0;
            if kind == TARGET {
                let cond = conds[i];
                if !CELLS && skip && cond & SET_FLAG == 0 {
                    // The common leaf case: one response, nothing relevant below.
                    let (need, room) = (sub_needs[i], sub_rooms[i]);
                    if need != i64::MIN {
                        let r = cond as usize;
                        s.acc_need[r] = s.acc_need[r].max(need);
                        s.acc_room[r] = s.acc_room[r].min(room);
                        any = true;
                    }
                    i = ends[i] as usize;
                    continue;
                }
                let key = if CELLS {
                    let d = depths[i] as usize;
                    let parent = s.rank[d - 1];
                    s.rank[d] = parent;
                    s.cov.resize(s.cov.len() + nwq, 0);
                    pack(parent)
                } else {
                    0
                };
                if skip {
                    self.finish::<CELLS>(i, (sub_needs[i], sub_rooms[i]), key, s, &mut any);
                    i = ends[i] as usize;
                } else {
                    s.frames.push(Frame {
                        pos: i as u32,
                        saved_end: top_end as u32,
                        key,
                        saved_need: cur_need,
                        saved_room: cur_room,
                    });
                    cur_need = needs[i];
                    cur_room = rooms[i];
                    top_end = ends[i] as usize;
                    i = shortcut(i, s).unwrap_or(i + 1);
                }
                continue;
            }
            if kind == KNOWN {
                let off = s.coff[q] as usize;
                let cond = conds[i];
                let meets = if cond & SET_FLAG == 0 {
                    s.cwords[off + cond as usize / 64] >> (cond % 64) & 1 != 0
                } else {
                    let nw = words_for(self.schema.response_count(QuestionId(q as u16)));
                    let base = (cond & !SET_FLAG) as usize;
                    (0..nw).any(|w| ix.words[base + w] & s.cwords[off + w] != 0)
                };
                if !meets {
                    i = ends[i] as usize;
                    continue;
                }
            }
            if CELLS {
                let d = depths[i] as usize;
                let (m, f) = s.rank[d - 1];
                s.rank[d] = if kind == KNOWN {
                    (m + 1, f)
                } else {
                    (m, f + 1)
                };
            }
            if skip {
                cur_need = cur_need.max(sub_needs[i]);
                cur_room = cur_room.min(sub_rooms[i]);
                i = ends[i] as usize;
                continue;
            }
            cur_need = cur_need.max(needs[i]);
            cur_room = cur_room.min(rooms[i]);
            if let Some(next) = shortcut(i, s) {
                i = next;
                continue;
            }
            let block = blocks[i];
            if block == NO_QUESTION {
                i += 1;
                continue;
            }
            // Every child is a leaf with one response of question `block`.
            let end = ends[i] as usize;
            let mut cur = (cur_need, cur_room);
            self.scan_leaves::<CELLS>(i, end, block as usize, s, &mut cur, &mut any);
            (cur_need, cur_room) = cur;
            i = end;
        }
        s.common = (cur_need, cur_room);
        any || cur_need != i64::MIN
    }

    /// The children of the node at position `i` (up to `end`) are all leaves with one response
    /// of question `bq`: folds them in one tight loop, as the scan would one by one.
    #[inline(always)]
    fn scan_leaves<const CELLS: bool>(
        &self,
        i: usize,
        end: usize,
        bq: usize,
        s: &mut Scratch,
        cur: &mut (i64, i64),
        any: &mut bool,
    ) {
        let ix: &Index = &self.index;
        let n = ix.len();
        let (needs, rooms, conds) = (&ix.need[..n], &ix.room[..n], &ix.cond[..n]);
        let (cell_mins, obs, depths) = (&ix.cell_min[..n], &ix.obs[..n], &ix.depth[..n]);
        let (nr, nwq) = (s.nr, s.nwq);
        let first = i + 1;
        match s.kind[bq] {
            TARGET if !CELLS => {
                let (acc_need, acc_room) = (&mut s.acc_need[..nr], &mut s.acc_room[..nr]);
                for c in first..end {
                    let need = needs[c];
                    if need != i64::MIN {
                        let r = conds[c] as usize;
                        acc_need[r] = acc_need[r].max(need);
                        acc_room[r] = acc_room[r].min(rooms[c]);
                        *any = true;
                    }
                }
            }
            TARGET => {
                // As `finish` for leaves: nothing below them covers them, and they cover
                // their response in the enclosing target-question frame, if any.
                let key = pack(s.rank[depths[i] as usize]);
                let framed = !s.frames.is_empty();
                let cov_top = s.cov.len().saturating_sub(nwq);
                let Scratch {
                    acc_need,
                    acc_room,
                    cell_key,
                    cell_t,
                    cell_o,
                    cov,
                    ..
                } = &mut *s;
                let (acc_need, acc_room) = (&mut acc_need[..nr], &mut acc_room[..nr]);
                let (cell_key, cell_t, cell_o) =
                    (&mut cell_key[..nr], &mut cell_t[..nr], &mut cell_o[..nr]);
                for c in first..end {
                    let need = needs[c];
                    if need == i64::MIN {
                        continue;
                    }
                    let r = conds[c] as usize;
                    acc_need[r] = acc_need[r].max(need);
                    acc_room[r] = acc_room[r].min(rooms[c]);
                    *any = true;
                    let (t, o) = (cell_mins[c] as u128, obs[c] as u128);
                    match key.cmp(&cell_key[r]) {
                        Ordering::Greater => {
                            cell_key[r] = key;
                            cell_t[r] = t;
                            cell_o[r] = o;
                        }
                        Ordering::Equal => {
                            cell_t[r] += t;
                            cell_o[r] += o;
                        }
                        Ordering::Less => {}
                    }
                    if framed {
                        cov[cov_top + r / 64] |= 1 << (r % 64);
                    }
                }
            }
            KNOWN => {
                let off = s.coff[bq] as usize;
                for c in first..end {
                    let r = conds[c] as usize;
                    if s.cwords[off + r / 64] >> (r % 64) & 1 != 0 {
                        cur.0 = cur.0.max(needs[c]);
                        cur.1 = cur.1.min(rooms[c]);
                    }
                }
            }
            _ => {
                for c in first..end {
                    cur.0 = cur.0.max(needs[c]);
                    cur.1 = cur.1.min(rooms[c]);
                }
            }
        }
    }

    /// Closes the frame of target-question node `p`: its rows count for every response of its
    /// path set; it is the cell of those responses that no counted target-question row below
    /// it already covers.
    #[inline]
    fn finish<const CELLS: bool>(
        &self,
        p: usize,
        (need, room): (i64, i64),
        key: u64,
        s: &mut Scratch,
        any: &mut bool,
    ) {
        let cells = CELLS;
        let ix = &self.index;
        let counted = need != i64::MIN;
        *any |= counted;
        let cond = ix.cond[p];
        let targeted = ix.targeted[p];
        let nwq = s.nwq;
        let cov_off = s.cov.len().saturating_sub(nwq);
        let visit = |r: usize, s: &mut Scratch| {
            if counted {
                s.acc_need[r] = s.acc_need[r].max(need);
                s.acc_room[r] = s.acc_room[r].min(room);
            }
            if cells && targeted && s.cov[cov_off + r / 64] >> (r % 64) & 1 == 0 {
                let (t, o) = (ix.cell_min[p] as u128, ix.obs[p] as u128);
                match key.cmp(&s.cell_key[r]) {
                    Ordering::Greater => {
                        s.cell_key[r] = key;
                        s.cell_t[r] = t;
                        s.cell_o[r] = o;
                    }
                    Ordering::Equal => {
                        s.cell_t[r] += t;
                        s.cell_o[r] += o;
                    }
                    Ordering::Less => {}
                }
            }
        };
        if cond & SET_FLAG == 0 {
            visit(cond as usize, s);
        } else {
            let base = (cond & !SET_FLAG) as usize;
            for w in 0..nwq {
                let mut word = ix.words[base + w];
                while word != 0 {
                    visit(w * 64 + word.trailing_zeros() as usize, s);
                    word &= word - 1;
                }
            }
        }
        if cells {
            // The enclosing target-question frame, if any, is covered wherever this one or a
            // row below it has a target.
            if !s.frames.is_empty() && cov_off >= nwq {
                for w in 0..nwq {
                    let mine = s.cov[cov_off + w] | if targeted { ix.set_word(cond, w) } else { 0 };
                    s.cov[cov_off - nwq + w] |= mine;
                }
            }
            s.cov.truncate(cov_off);
        }
    }
}

/// Orders two responses by Target% − Observed% descending, exactly:
/// T_a/ΣT − O_a/ΣO vs T_b/ΣT − O_b/ΣO, i.e. T_a·ΣO + O_b·ΣT vs T_b·ΣO + O_a·ΣT.
/// Observed% is 0 when nothing is observed, leaving T descending.
fn balanced_list_order(
    t: &[u128],
    o: &[u128],
    sum_t: u128,
    sum_o: u128,
    a: usize,
    b: usize,
) -> Ordering {
    if sum_o == 0 {
        return t[b].cmp(&t[a]);
    }
    let left = add_wide(mul_wide(t[a], sum_o), mul_wide(o[b], sum_t));
    let right = add_wide(mul_wide(t[b], sum_o), mul_wide(o[a], sum_t));
    right.cmp(&left)
}

/// The 256-bit product of two `u128`, as (high, low).
pub(crate) fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let (a0, a1) = (a as u64 as u128, a >> 64);
    let (b0, b1) = (b as u64 as u128, b >> 64);
    let lo = a0 * b0;
    let (mid, carry_mid) = (a0 * b1).overflowing_add(a1 * b0);
    let (low, carry_low) = lo.overflowing_add(mid << 64);
    let high = a1 * b1 + (mid >> 64) + ((carry_mid as u128) << 64) + carry_low as u128;
    (high, low)
}

/// The sum of two 256-bit values (which stay far below 2²⁵⁶ here: see [`super::MAX_COUNT`]).
fn add_wide(a: (u128, u128), b: (u128, u128)) -> (u128, u128) {
    let (low, carry) = a.1.overflowing_add(b.1);
    (a.0.wrapping_add(b.0).wrapping_add(carry as u128), low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_multiplication_is_exact() {
        let m = u128::MAX;
        assert_eq!(mul_wide(m, m), (m - 1, 1));
        assert_eq!(mul_wide(1 << 64, 1 << 64), (1, 0));
        assert_eq!(mul_wide(12345, 678), (0, 12345 * 678));
        assert_eq!(add_wide((0, m), (0, 1)), (1, 0));
    }

    #[test]
    fn wide_orders_agree_with_narrow_ones() {
        // Scaling every target by one factor and every count by another keeps every share, so
        // the order must not change when the values no longer fit 64 bits.
        let t = [3u128, 1, 4, 1, 5];
        let o = [32u128, 16, 0, 7, 40];
        let (st, so) = (t.iter().sum::<u128>(), o.iter().sum::<u128>());
        let (ft, fo) = (1u128 << 90, (1u128 << 95) + 12345);
        let tw: Vec<u128> = t.iter().map(|x| x * ft).collect();
        let ow: Vec<u128> = o.iter().map(|x| x * fo).collect();
        let (stw, sow) = (tw.iter().sum::<u128>(), ow.iter().sum::<u128>());
        for a in 0..5 {
            for b in 0..5 {
                let narrow = ((t[b] * so) as i128 - (o[b] * st) as i128)
                    .cmp(&((t[a] * so) as i128 - (o[a] * st) as i128));
                assert_eq!(
                    balanced_list_order(&tw, &ow, stw, sow, a, b),
                    narrow,
                    "{a} {b}"
                );
                assert_eq!(balanced_list_order(&t, &o, st, so, a, b), narrow, "{a} {b}");
                assert_eq!(
                    mul_wide(ow[a], tw[b]).cmp(&mul_wide(ow[b], tw[a])),
                    (o[a] * t[b]).cmp(&(o[b] * t[a]))
                );
            }
        }
    }
}
