//! Per-question aggregates that answer a query with neither context nor answers without
//! reading the tree.
//!
//! Without a context every question but the target one is unknown, so every row counts. For
//! a target question `q` a row counts for the responses of the path set of its nearest
//! `q`-ancestor-or-self (its *region*), or for every response when it has none (the *common*
//! region). Regions whose `q`-node has the same path set are pooled in one *bucket*; each
//! bucket keeps a small tournament (an implicit segment tree) of the largest `min − observed`
//! and smallest `max − observed` of its rows with a target. A query then reads one root per
//! bucket (about one per response), and a change to one row updates one leaf-to-root path per
//! indexed question.
//!
//! The balanced methods also need each response's cell. Which `q`-nodes make up a response's
//! cell depends only on the tree's shape and on which nodes have a target, so it is worked out
//! when the aggregates are built, and the cells' summed min targets and observed counts are
//! then kept up to date by the same edits. Adding or removing a target rebuilds everything.

use std::collections::HashMap;

use super::tree::{Index, SET_FLAG, words_for};

const NONE: u32 = u32::MAX;

/// Questions with fewer nodes than this are left to the scan, which is then already short:
/// it reads only their nodes and the siblings of their ancestors.
/// (Every question in unit tests, so that small random trees exercise the aggregates.)
pub(crate) const MIN_NODES: usize = if cfg!(test) { 1 } else { 16 };

#[derive(Clone, Debug, Default)]
pub(crate) struct Fast {
    /// Response count of every schema question (for rebuilds).
    nrs: Vec<usize>,
    /// Per schema question: its index in `qs`, or [`NONE`].
    of_question: Vec<u32>,
    qs: Vec<FastQ>,
    /// Per (indexed question k, position p) at `k * n + p`: (bucket, leaf) of a row with a
    /// target; bucket [`NONE`] for a row without one.
    slot: Vec<(u32, u32)>,
    /// Per position of a node on an indexed question: the responses whose cell it is part of
    /// (one response, [`SET_FLAG`] | offset into its question's `words`, or [`NONE`]).
    cell_of: Vec<u32>,
}

#[derive(Clone, Debug)]
pub(crate) struct FastQ {
    /// Bucket 0 is the common region; the others carry a path set.
    buckets: Vec<Bucket>,
    /// The tournaments, one after another: bucket `b` holds leaves `base + len ..
    /// base + 2·len` and internal nodes `base + 1 .. base + len`; its root is `base + 1`.
    seg: Vec<(i64, i64)>,
    words: Vec<u64>,
    cell_t: Vec<u128>,
    cell_o: Vec<u128>,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    base: u32,
    len: u32,
    /// One response, or [`SET_FLAG`] | offset into `words` ([`NONE`] for the common region).
    set: u32,
}

#[inline]
fn join(a: (i64, i64), b: (i64, i64)) -> (i64, i64) {
    (a.0.max(b.0), a.1.min(b.1))
}

/// Calls `f` with every response of an encoded set (one response or an offset into `words`).
#[inline]
fn for_each(set: u32, words: &[u64], nw: usize, mut f: impl FnMut(usize)) {
    if set & SET_FLAG == 0 {
        f(set as usize);
        return;
    }
    let base = (set & !SET_FLAG) as usize;
    for (w, &word) in words[base..base + nw].iter().enumerate() {
        let mut word = word;
        while word != 0 {
            f(w * 64 + word.trailing_zeros() as usize);
            word &= word - 1;
        }
    }
}

/// What a query with neither context nor answers reads.
pub(crate) struct Answer<'a> {
    /// (largest need, smallest room) of the rows that count for every response.
    pub(crate) common: (i64, i64),
    /// Cell target and observed sums per response.
    pub(crate) cell_t: &'a [u128],
    pub(crate) cell_o: &'a [u128],
}

impl Fast {
    pub(crate) fn build(nrs: Vec<usize>, ix: &Index) -> Fast {
        let n = ix.len();
        let mut count = vec![0usize; nrs.len()];
        for &q in &ix.q[1..] {
            count[q as usize] += 1;
        }
        let mut fast = Fast {
            of_question: vec![NONE; nrs.len()],
            qs: Vec::new(),
            slot: Vec::new(),
            cell_of: vec![NONE; n],
            nrs,
        };
        for (q, &c) in count.iter().enumerate() {
            if c >= MIN_NODES {
                fast.of_question[q] = fast.qs.len() as u32;
                let k = fast.qs.len();
                fast.slot.resize((k + 1) * n, (NONE, 0));
                let fq = fast.build_question(ix, q as u16, k);
                fast.qs.push(fq);
            }
        }
        fast
    }

    /// Rebuilds after a node gained or lost its target.
    pub(crate) fn rebuild(&mut self, ix: &Index) {
        *self = Fast::build(std::mem::take(&mut self.nrs), ix);
    }

    fn build_question(&mut self, ix: &Index, q: u16, k: usize) -> FastQ {
        let n = ix.len();
        let nr = self.nrs[q as usize];
        let nw = words_for(nr);
        // Nearest q-ancestor-or-self (a parent comes before its children).
        let mut reg = vec![NONE; n];
        // Conditions strictly above the node on other questions than q (the scan's cell rank).
        let mut f = vec![0u32; n];
        // Compact index of each q-node.
        let mut qidx = vec![NONE; n];
        let mut qnodes: Vec<u32> = Vec::new();
        for p in 1..n {
            let up = ix.up[p] as usize;
            f[p] = f[up] + u32::from(up != 0 && ix.q[up] != q);
            if ix.q[p] == q {
                reg[p] = p as u32;
                qidx[p] = qnodes.len() as u32;
                qnodes.push(p as u32);
            } else {
                reg[p] = reg[up];
            }
        }
        let mut words: Vec<u64> = Vec::new();
        let path_set =
            |p: usize| -> Vec<u64> { (0..nw).map(|w| ix.set_word(ix.cond[p], w)).collect() };
        // Buckets: 0 common, 1 + r single responses, then one per distinct group path set.
        let mut sets: Vec<u32> = vec![NONE];
        sets.extend(0..nr as u32);
        let mut groups: HashMap<Vec<u64>, u32> = HashMap::new();
        let mut bucket_of_q = vec![0u32; qnodes.len()];
        for (i, &t) in qnodes.iter().enumerate() {
            let cond = ix.cond[t as usize];
            bucket_of_q[i] = if cond & SET_FLAG == 0 {
                1 + cond
            } else {
                let set = path_set(t as usize);
                *groups.entry(set.clone()).or_insert_with(|| {
                    let off = words.len() as u32;
                    words.extend_from_slice(&set);
                    sets.push(SET_FLAG | off);
                    sets.len() as u32 - 1
                })
            };
        }
        let bucket_of = |p: usize| match reg[p] {
            NONE => 0,
            t => bucket_of_q[qidx[t as usize] as usize],
        };
        let mut len = vec![0u32; sets.len()];
        for p in 0..n {
            if ix.targeted[p] {
                let b = bucket_of(p);
                self.slot[k * n + p] = (b, len[b as usize]);
                len[b as usize] += 1;
            }
        }
        let mut buckets = Vec::with_capacity(sets.len());
        let mut base = 0u32;
        for (b, &set) in sets.iter().enumerate() {
            buckets.push(Bucket {
                base,
                len: len[b],
                set,
            });
            base += 2 * len[b];
        }
        let mut seg = vec![(i64::MIN, i64::MAX); base as usize];
        for p in 0..n {
            let (b, l) = self.slot[k * n + p];
            if b != NONE {
                let bk = buckets[b as usize];
                seg[(bk.base + bk.len + l) as usize] = (ix.need[p], ix.room[p]);
            }
        }
        for bk in &buckets {
            let base = bk.base as usize;
            for j in (1..bk.len as usize).rev() {
                seg[base + j] = join(seg[base + 2 * j], seg[base + 2 * j + 1]);
            }
        }
        // Cells: a targeted q-node is a candidate for response r of its path set unless a
        // targeted q-node below it also holds r; the candidates with the fewest conditions
        // above them on other questions form the cell.
        let mut cov = vec![0u64; qnodes.len() * nw];
        for (i, &t) in qnodes.iter().enumerate().rev() {
            let a = reg[ix.up[t as usize] as usize];
            if a == NONE {
                continue;
            }
            let ai = qidx[a as usize] as usize;
            for w in 0..nw {
                let mine = cov[i * nw + w]
                    | if ix.targeted[t as usize] {
                        ix.set_word(ix.cond[t as usize], w)
                    } else {
                        0
                    };
                cov[ai * nw + w] |= mine;
            }
        }
        let eligible = |i: usize, t: usize, r: usize| {
            ix.targeted[t]
                && ix.set_word(ix.cond[t], r / 64) >> (r % 64) & 1 != 0
                && cov[i * nw + r / 64] >> (r % 64) & 1 == 0
        };
        let mut best = vec![u32::MAX; nr];
        for (i, &t) in qnodes.iter().enumerate() {
            let t = t as usize;
            for_each(ix.cond[t], &ix.words, nw, |r| {
                if eligible(i, t, r) {
                    best[r] = best[r].min(f[t]);
                }
            });
        }
        let (mut cell_t, mut cell_o) = (vec![0u128; nr], vec![0u128; nr]);
        for (i, &t) in qnodes.iter().enumerate() {
            let t = t as usize;
            let mut mine = vec![0u64; nw];
            for_each(ix.cond[t], &ix.words, nw, |r| {
                if eligible(i, t, r) && f[t] == best[r] {
                    mine[r / 64] |= 1 << (r % 64);
                    cell_t[r] += ix.cell_min[t] as u128;
                    cell_o[r] += ix.obs[t] as u128;
                }
            });
            let members: u32 = mine.iter().map(|w| w.count_ones()).sum();
            self.cell_of[t] = match members {
                0 => NONE,
                1 => {
                    let w = mine.iter().position(|&w| w != 0).unwrap_or(0);
                    (w * 64) as u32 + mine[w].trailing_zeros()
                }
                _ => {
                    let off = words.len() as u32;
                    words.extend_from_slice(&mine);
                    SET_FLAG | off
                }
            };
        }
        FastQ {
            buckets,
            seg,
            words,
            cell_t,
            cell_o,
        }
    }

    /// After the values of the row at position `p` changed (its target but not whether it has
    /// one, or its count): updates its tournaments and its question's cell sums. `old_min` and
    /// `old_obs` are its min target and count before the change.
    #[inline]
    pub(crate) fn update(&mut self, ix: &Index, p: usize, old_min: u64, old_obs: u64) {
        let n = ix.len();
        let leaf = (ix.need[p], ix.room[p]);
        for (k, fq) in self.qs.iter_mut().enumerate() {
            let (b, l) = self.slot[k * n + p];
            if b == NONE {
                continue;
            }
            let bk = fq.buckets[b as usize];
            let seg = &mut fq.seg[bk.base as usize..(bk.base + 2 * bk.len) as usize];
            let mut j = (bk.len + l) as usize;
            seg[j] = leaf;
            j >>= 1;
            while j >= 1 {
                let v = join(seg[2 * j], seg[2 * j + 1]);
                if v == seg[j] {
                    break;
                }
                seg[j] = v;
                j >>= 1;
            }
        }
        let cells = self.cell_of.get(p).copied().unwrap_or(NONE);
        if cells != NONE {
            let k = self.of_question[ix.q[p] as usize] as usize;
            let nw = words_for(self.nrs[ix.q[p] as usize]);
            let fq = &mut self.qs[k];
            let (new_min, new_obs) = (ix.cell_min[p] as u128, ix.obs[p] as u128);
            let FastQ {
                words,
                cell_t,
                cell_o,
                ..
            } = fq;
            for_each(cells, words, nw, |r| {
                cell_t[r] = cell_t[r] - old_min as u128 + new_min;
                cell_o[r] = cell_o[r] - old_obs as u128 + new_obs;
            });
        }
    }

    /// Answers a query on question `q` with neither context nor answers, when `q` is indexed:
    /// writes each response's (largest need, smallest room) over the rows specific to it into
    /// `acc_need` / `acc_room` (already sized and reset).
    #[inline]
    pub(crate) fn answer<'a>(
        &'a self,
        q: usize,
        acc_need: &mut [i64],
        acc_room: &mut [i64],
    ) -> Option<Answer<'a>> {
        let k = *self.of_question.get(q)?;
        if k == NONE {
            return None;
        }
        let fq = &self.qs[k as usize];
        let nw = words_for(self.nrs[q]);
        let root = |bk: &Bucket| {
            if bk.len == 0 {
                (i64::MIN, i64::MAX)
            } else {
                fq.seg[bk.base as usize + 1]
            }
        };
        for bk in &fq.buckets[1..] {
            let (need, room) = root(bk);
            if need == i64::MIN {
                continue;
            }
            for_each(bk.set, &fq.words, nw, |r| {
                acc_need[r] = acc_need[r].max(need);
                acc_room[r] = acc_room[r].min(room);
            });
        }
        Some(Answer {
            common: root(&fq.buckets[0]),
            cell_t: &fq.cell_t,
            cell_o: &fq.cell_o,
        })
    }

    /// Heap bytes held (approximately: lengths, not capacities).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.slot.len() * 8
            + self.cell_of.len() * 4
            + self
                .qs
                .iter()
                .map(|fq| {
                    fq.seg.len() * 16
                        + fq.buckets.len() * 12
                        + fq.words.len() * 8
                        + (fq.cell_t.len() + fq.cell_o.len()) * 16
                })
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{Condition, NodeId, Query, QueryBuffer, QuotaMethod, QuotaTree, Target};
    use crate::schema::{Answers, QuestionId, ResponseId, Schema};

    #[derive(Clone, Debug)]
    enum Op {
        Record(Vec<usize>),
        Unrecord(Vec<usize>),
        SetTarget(usize, (u8, u64, u64)),
        SetObserved(usize, u64),
    }

    fn target((kind, a, b): (u8, u64, u64)) -> Target {
        match kind {
            0 => Target::None,
            1 => Target::Single(a),
            _ => Target::MinMax {
                min: a.min(b),
                max: a.max(b),
            },
        }
    }

    type RawNode = (usize, usize, Vec<usize>, bool, (u8, u64, u64), u64);

    fn raw_node() -> impl Strategy<Value = RawNode> {
        (
            any::<usize>(),
            any::<usize>(),
            prop::collection::vec(any::<usize>(), 1..4),
            prop::bool::weighted(0.25),
            (0u8..3, 0u64..30, 0u64..30),
            0u64..20,
        )
    }

    fn op() -> impl Strategy<Value = Op> {
        let answers = || prop::collection::vec(any::<usize>(), 4);
        prop_oneof![
            4 => answers().prop_map(Op::Record),
            2 => answers().prop_map(Op::Unrecord),
            2 => (any::<usize>(), (0u8..3, 0u64..30, 0u64..30)).prop_map(|(n, t)| Op::SetTarget(n, t)),
            1 => (any::<usize>(), 0u64..20).prop_map(|(n, v)| Op::SetObserved(n, v)),
        ]
    }

    fn build(sizes: &[usize], raw: &[RawNode]) -> QuotaTree {
        let schema = sizes
            .iter()
            .enumerate()
            .fold(Schema::builder(), |b, (q, &k)| {
                b.question(format!("q{q}"), (0..k).map(|r| format!("r{r}")))
            })
            .build()
            .unwrap();
        let mut b = QuotaTree::builder(schema);
        let mut count = 1;
        for (parent, question, responses, group, t, observed) in raw {
            let q = QuestionId((question % sizes.len()) as u16);
            let rs = responses
                .iter()
                .map(|r| ResponseId((r % sizes[q.index()]) as u16));
            let cond = if *group {
                Condition::group(q, rs)
            } else {
                Condition::response(q, rs.into_iter().next().unwrap())
            };
            // A node that contradicts its ancestor is refused: try the next one.
            if let Ok(id) = b.add_child(NodeId::new((parent % count) as u32), cond, target(*t)) {
                b.set_observed(id, *observed).unwrap();
                count += 1;
            }
        }
        b.build()
    }

    fn answers(tree: &QuotaTree, picks: &[usize]) -> Answers {
        let schema = tree.schema();
        let mut a = Answers::unknown(schema);
        for (q, &pick) in schema.question_ids().zip(picks) {
            let k = schema.response_count(q);
            // About one answer in five stays unknown.
            if pick % 5 != 0 {
                a.set(q, ResponseId((pick / 5 % k) as u16));
            }
        }
        a
    }

    fn check(tree: &QuotaTree) -> Result<(), TestCaseError> {
        let (mut fast, mut scan) = (QueryBuffer::new(), QueryBuffer::new());
        let unknown = Answers::unknown(tree.schema());
        for q in tree.schema().question_ids() {
            let query = Query::new(q);
            for method in QuotaMethod::ALL {
                for a in [None, Some(&unknown)] {
                    let got = tree
                        .run(method, &query, a, &mut fast, true)
                        .unwrap()
                        .to_vec();
                    let want = tree
                        .run(method, &query, a, &mut scan, false)
                        .unwrap()
                        .to_vec();
                    prop_assert_eq!(got, want, "{} on q{}", method.name(), q.index());
                }
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The per-question aggregates give exactly what the scan gives, after any sequence of
        /// records, unrecords, target edits (adding and removing targets too) and count edits.
        #[test]
        fn aggregates_agree_with_the_scan(
            sizes in prop::collection::vec(prop_oneof![8 => 1usize..5, 1 => 64usize..67], 1..4),
            raw in prop::collection::vec(raw_node(), 0..30),
            ops in prop::collection::vec(op(), 0..16),
        ) {
            let mut tree = build(&sizes, &raw);
            check(&tree)?;
            let n = tree.node_count();
            for op in &ops {
                match op {
                    Op::Record(p) => { let _ = tree.record(&answers(&tree, p)); }
                    Op::Unrecord(p) => { let _ = tree.unrecord(&answers(&tree, p)); }
                    Op::SetTarget(node, t) => {
                        tree.set_target(NodeId::new((node % n) as u32), target(*t)).unwrap();
                    }
                    Op::SetObserved(node, v) => {
                        tree.set_observed(NodeId::new((node % n) as u32), *v).unwrap();
                    }
                }
                check(&tree)?;
            }
        }
    }

    #[test]
    fn memory_is_a_few_words_per_node_and_question() {
        let tree = build(
            &[3, 3],
            &[
                (0, 0, vec![0], false, (1, 5, 0), 1),
                (0, 0, vec![1], false, (1, 5, 0), 1),
                (1, 1, vec![0, 1], true, (2, 1, 9), 1),
                (1, 1, vec![2], false, (0, 0, 0), 0),
            ],
        );
        // Two indexed questions, five nodes (four with a target).
        let bytes = tree.index.fast.bytes();
        assert!(bytes > 0 && bytes <= 2 * 5 * 48 + 512, "{bytes}");
    }
}
