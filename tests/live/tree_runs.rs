//! Quota trees under load and at random (issue 20): threads reserving, completing, abandoning
//! and timing out on a three-level min/max tree never take a node past its max, sampled while
//! they run; and the engine's live queries equal the quota module's on the same counts, kept
//! by an independent tally, for random trees and call sequences.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use proptest::prelude::*;
use quotaroute::catalogue::{Catalogue, CategoryId, QuotaCell};
use quotaroute::live::{
    Clock, Completion, Counting, Engine, LiveConfig, LiveQueryBuffer, ManualClock, Reservation,
    Timestamp,
};
use quotaroute::quota::{Condition, NodeId, Query, QuotaMethod, QuotaTree, Target};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, QuestionId, Schema};
use rand::{RngExt, SeedableRng};

use crate::trees::{catalogue_with, three_level};

const CAT: CategoryId = CategoryId::from_index(0);
const THREADS: u64 = 8;
const PER_THREAD: u64 = 12_500;

/// Random answers: each question known three times in four.
fn random_answers(schema: &Schema, rng: &mut impl rand::Rng) -> Answers {
    let mut a = Answers::unknown(schema);
    for q in schema.question_ids() {
        if rng.random_range(0..4) > 0 {
            let n = schema.response_count(q);
            a.set(
                q,
                schema.response_ids(q).nth(rng.random_range(0..n)).unwrap(),
            );
        }
    }
    a
}

/// The nodes (cell indices) the answers fall in, found by the quota module's tree rather
/// than by the engine's cell rules.
fn cells_of(
    tree: &QuotaTree,
    nodes: &[NodeId],
    answers: &Answers,
    out: &mut Vec<NodeId>,
) -> Vec<usize> {
    tree.matching_nodes(answers, out).unwrap();
    nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| out.contains(n))
        .map(|(i, _)| i)
        .collect()
}

enum Fate {
    Complete,
    Abandon,
    Vanish,
}

/// One thread's fieldwork; returns the completes it saw counted, per cell (and the category
/// at the end).
fn fieldwork(
    e: &Engine<Greedy, &ManualClock>,
    clock: &ManualClock,
    start: &Barrier,
    t: u64,
) -> Vec<u32> {
    let schema = e.catalogue().schema().clone();
    let reference = e.catalogue().quota_tree(CAT).unwrap();
    let mut scratch = Vec::new();
    let cells = e.catalogue().cell_range(CAT).len();
    let mut seen = vec![0u32; cells + 1];
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(t);
    let mut in_flight: VecDeque<(u64, u64, Answers, Fate)> = VecDeque::new();
    start.wait();
    let mut finish =
        |seen: &mut Vec<u32>, (_, who, answers, fate): (u64, u64, Answers, Fate)| match fate {
            Fate::Complete => {
                if e.complete(who, CAT).unwrap() == Completion::Completed {
                    for i in cells_of(&reference.tree, &reference.nodes, &answers, &mut scratch) {
                        seen[i] += 1;
                    }
                    seen[cells] += 1;
                }
            }
            Fate::Abandon => {
                e.abandon(who).unwrap();
            }
            Fate::Vanish => {}
        };
    for i in 0..PER_THREAD {
        while in_flight.front().is_some_and(|f| f.0 <= i) {
            let f = in_flight.pop_front().unwrap();
            finish(&mut seen, f);
        }
        let who = t << 40 | i;
        let answers = random_answers(&schema, &mut rng);
        match e.reserve(who, CAT, &answers).unwrap() {
            Reservation::Accepted { .. } => {
                let fate = match rng.random_range(0..10) {
                    0 | 1 => Fate::Abandon,
                    2 => Fate::Vanish,
                    _ => Fate::Complete,
                };
                let due = i + rng.random_range(1..30);
                let at = in_flight.partition_point(|f| f.0 <= due);
                in_flight.insert(at, (due, who, answers, fate));
            }
            Reservation::Full { .. } => {}
            other => panic!("a fresh respondent got {other:?}"),
        }
        clock.advance(1);
        if i % 64 == 0 {
            e.expire().unwrap();
        }
    }
    for f in in_flight {
        finish(&mut seen, f);
    }
    seen
}

/// pending + completed ≤ max on the category and every node, read as a lower bound of what
/// is taken (completes first: a complete moves pending to completed, never both at once).
fn check_taken(e: &Engine<Greedy, &ManualClock>) {
    let q = e.quotas();
    let view = q.view();
    let done = view.completed(CAT);
    let taken = done + view.pending(CAT);
    assert!(
        taken <= q.target(CAT),
        "category: {taken} > {}",
        q.target(CAT)
    );
    for cell in e.catalogue().cell_range(CAT) {
        let done = q.cell_completed(cell);
        let taken = done + q.cell_pending(cell);
        assert!(
            taken <= q.cell_target(cell),
            "cell {cell}: {taken} > {}",
            q.cell_target(cell)
        );
    }
}

#[test]
fn threads_on_a_three_level_tree_never_take_a_node_past_its_max() {
    let schema = Schema::default_survey();
    let tree = three_level(&schema, 250, (10, 60), (4, 24), (1, 7));
    let clock = ManualClock::new(Timestamp(0));
    let config = LiveConfig {
        ttl_ms: 150,
        ..LiveConfig::default()
    };
    let e = Engine::new(
        catalogue_with(&schema, &tree),
        Greedy::scarcity(),
        &clock,
        config,
    )
    .unwrap();
    let start = Barrier::new(THREADS as usize + 1);
    let running = AtomicBool::new(true);
    let samples = AtomicU64::new(0);
    let seen: Vec<Vec<u32>> = std::thread::scope(|s| {
        let (e, clock, start, running, samples) = (&e, &clock, &start, &running, &samples);
        let sampler = s.spawn(move || {
            let mut buffer = LiveQueryBuffer::new();
            let region = Query::new(schema.question("region").unwrap());
            start.wait();
            while running.load(Ordering::Acquire) {
                check_taken(e);
                let n = samples.fetch_add(1, Ordering::AcqRel);
                if n % 16 == 0 {
                    // A snapshot is a consistent cut: every node within its max there too.
                    let snap = e.snapshot();
                    for c in &snap.cells {
                        assert!(c.completed + c.pending <= c.max, "{c:?}");
                    }
                    for counting in [Counting::Completed, Counting::Taken] {
                        e.quota_query(CAT, QuotaMethod::List, &region, None, counting, &mut buffer)
                            .unwrap();
                    }
                }
            }
        });
        let workers: Vec<_> = (0..THREADS)
            .map(|t| s.spawn(move || fieldwork(e, clock, start, t)))
            .collect();
        let seen = workers.into_iter().map(|h| h.join().unwrap()).collect();
        running.store(false, Ordering::Release);
        sampler.join().unwrap();
        seen
    });
    e.expire_all().unwrap();
    check_taken(&e);
    assert_eq!(e.overfill(), 0);
    assert!(samples.load(Ordering::Acquire) > 10, "the sampler ran");
    // Every complete was committed along its path: the engine's counts per node are the
    // completes the threads saw, counted by the quota module's tree.
    let cells: Vec<_> = e.catalogue().cell_range(CAT).collect();
    let mut total = vec![0u32; cells.len() + 1];
    for s in &seen {
        for (t, x) in total.iter_mut().zip(s) {
            *t += x;
        }
    }
    let counted: Vec<u32> = cells
        .iter()
        .map(|&c| e.quotas().cell_completed(c))
        .chain([e.quotas().view().completed(CAT)])
        .collect();
    assert_eq!(counted, total);
    // The quotas were tight: some node reached its max.
    assert!(
        cells
            .iter()
            .any(|&c| e.quotas().cell_completed(c) == e.quotas().cell_target(c)),
        "{counted:?}"
    );
}

/// A random tree of two or three levels on the default survey: at each level (a question not
/// used above) every response has a node with probability 3/4, or the first two share a
/// group node; targets none, single or min/max.
fn random_tree(schema: &Schema, seed: u64) -> QuotaTree {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut order: Vec<QuestionId> = schema.question_ids().collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    order.truncate(rng.random_range(2..=3));
    let mut b = QuotaTree::builder(schema.clone());
    b.set_target(b.root(), Target::Single(rng.random_range(4..30)))
        .unwrap();
    let mut level = vec![b.root()];
    for &q in &order {
        let mut next = Vec::new();
        for &parent in &level {
            let responses: Vec<_> = schema.response_ids(q).collect();
            let mut conditions: Vec<Condition> = Vec::new();
            if rng.random_bool(0.25) {
                conditions.push(Condition::group(q, responses[..2].iter().copied()));
                conditions.extend(responses[2..].iter().map(|&r| Condition::response(q, r)));
            } else {
                conditions.extend(
                    responses
                        .iter()
                        .filter(|_| rng.random_bool(0.75))
                        .map(|&r| Condition::response(q, r)),
                );
            }
            for condition in conditions {
                let (x, y) = (rng.random_range(0..8u64), rng.random_range(0..8u64));
                let target = match rng.random_range(0..4) {
                    0 => Target::None,
                    1 => Target::Single(x),
                    _ => Target::MinMax {
                        min: x.min(y),
                        max: x.max(y),
                    },
                };
                next.push(b.add_child(parent, condition, target).unwrap());
            }
        }
        level = next;
    }
    b.build()
}

#[derive(Clone, Debug)]
enum Op {
    Reserve {
        who: u64,
        answers: u64,
    },
    Complete {
        who: u64,
    },
    Abandon {
        who: u64,
    },
    Advance {
        ms: u64,
    },
    Expire,
    /// An administrative change of a node's max (the last index: the category's target).
    SetMax {
        node: usize,
        max: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0u64..24;
    prop_oneof![
        5 => (who.clone(), any::<u64>()).prop_map(|(who, answers)| Op::Reserve { who, answers }),
        3 => who.clone().prop_map(|who| Op::Complete { who }),
        1 => who.prop_map(|who| Op::Abandon { who }),
        1 => (0u64..700).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Expire),
        1 => (any::<usize>(), 0u32..9).prop_map(|(node, max)| Op::SetMax { node, max }),
    ]
}

/// What the test knows without the engine: per node (cells, then the category), completes
/// and pending holds; each respondent's hold (its cells and deadline) or complete.
struct Tally {
    completed: Vec<u32>,
    pending: Vec<u32>,
    held: HashMap<u64, (Vec<usize>, u64)>,
    done: HashSet<u64>,
}

impl Tally {
    fn release(&mut self, who: u64) {
        if let Some((cells, _)) = self.held.remove(&who) {
            for i in cells {
                self.pending[i] -= 1;
            }
        }
    }
}

const TTL: u64 = 1_000;

/// Applies one call to the engine and, from its answer, to the tally; checks that a hold was
/// granted exactly when every node of the path had room.
fn apply(
    e: &Engine<Greedy, &ManualClock>,
    clock: &ManualClock,
    reference: &quotaroute::catalogue::CategoryTree,
    maxes: &mut [u32],
    tally: &mut Tally,
    op: &Op,
) -> Result<(), TestCaseError> {
    let schema = e.catalogue().schema();
    let root = maxes.len() - 1;
    match *op {
        Op::Reserve { who, answers: seed } => {
            let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
            let answers = random_answers(schema, &mut rng);
            let mut path = cells_of(&reference.tree, &reference.nodes, &answers, &mut Vec::new());
            path.push(root);
            let now = clock.now().0;
            let expired = tally.held.get(&who).is_some_and(|h| h.1 <= now);
            let r = e.reserve(who, CAT, &answers).unwrap();
            match r {
                Reservation::AlreadyCompleted => prop_assert!(tally.done.contains(&who)),
                Reservation::AlreadyHeld { .. } => {
                    prop_assert!(tally.held.contains_key(&who) && !expired)
                }
                Reservation::Accepted { .. } | Reservation::Full { .. } => {
                    prop_assert!(!tally.done.contains(&who));
                    prop_assert!(!tally.held.contains_key(&who) || expired);
                    tally.release(who);
                    let room = path
                        .iter()
                        .all(|&i| tally.completed[i] + tally.pending[i] < maxes[i]);
                    prop_assert_eq!(matches!(r, Reservation::Accepted { .. }), room, "{:?}", r);
                    if room {
                        for &i in &path {
                            tally.pending[i] += 1;
                        }
                        tally.held.insert(who, (path, now + TTL));
                    }
                }
            }
        }
        Op::Complete { who } => match e.complete(who, CAT).unwrap() {
            Completion::Completed => {
                let (cells, _) = tally.held.remove(&who).unwrap();
                for i in cells {
                    tally.pending[i] -= 1;
                    tally.completed[i] += 1;
                }
                tally.done.insert(who);
            }
            Completion::Expired => {
                let now = clock.now().0;
                prop_assert!(tally.held.get(&who).is_some_and(|h| h.1 <= now));
                tally.release(who);
            }
            Completion::AlreadyCompleted => prop_assert!(tally.done.contains(&who)),
            Completion::NotReserved => prop_assert!(!tally.held.contains_key(&who)),
        },
        Op::Abandon { who } => {
            let released = e.abandon(who).unwrap();
            prop_assert_eq!(released, u32::from(tally.held.contains_key(&who)));
            tally.release(who);
        }
        Op::Advance { ms } => {
            clock.advance(ms);
        }
        Op::Expire => {
            let now = clock.now().0;
            let due: Vec<u64> = tally
                .held
                .iter()
                .filter(|(_, h)| h.1 <= now)
                .map(|(w, _)| *w)
                .collect();
            prop_assert_eq!(e.expire().unwrap(), due.len() as u64);
            for who in due {
                tally.release(who);
            }
        }
        Op::SetMax { node, max } => {
            let node = node % maxes.len();
            if node == root {
                e.set_target(CAT, max).unwrap();
            } else {
                e.set_cell_max(e.catalogue().cell_range(CAT).start + node, max)
                    .unwrap();
            }
            maxes[node] = max;
        }
    }
    Ok(())
}

/// A node's target after its max was changed: the configured min, but never above the max
/// (with no max and no min, no target).
fn target(min: u32, max: u32) -> Target {
    let (min, max) = (u64::from(min.min(max)), u64::from(max));
    match (min, max) {
        (0, m) if m == u64::from(QuotaCell::NO_MAX) => Target::None,
        (a, b) if a == b => Target::Single(b),
        (min, max) => Target::MinMax { min, max },
    }
}

fn random_query(schema: &Schema, seed: u64) -> (Query, Option<Answers>) {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let questions: Vec<QuestionId> = schema.question_ids().collect();
    let target = questions[rng.random_range(0..questions.len())];
    let mut query = Query::new(target);
    for &q in &questions {
        if q == target || rng.random_bool(0.5) {
            continue;
        }
        let responses: Vec<_> = schema.response_ids(q).collect();
        query = if rng.random_bool(0.3) {
            query.given_any(q, responses[..2].iter().copied())
        } else {
            query.given(q, responses[rng.random_range(0..responses.len())])
        };
    }
    let answers = rng
        .random_bool(0.5)
        .then(|| random_answers(schema, &mut rng));
    (query, answers)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..crate::support::config() })]

    /// The live queries are the quota module's on the same counts: the catalogue's tree with
    /// every node's count set from the tally, for every method, both countings and random
    /// queries, after every call.
    #[test]
    fn live_queries_equal_the_quota_module_on_the_same_counts(
        tree_seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..60),
        queries in prop::collection::vec(any::<u64>(), 1..4),
    ) {
        let schema = Schema::default_survey();
        let catalogue: Catalogue = catalogue_with(&schema, &random_tree(&schema, tree_seed));
        let clock = ManualClock::new(Timestamp(0));
        let config = LiveConfig { ttl_ms: TTL, ..LiveConfig::default() };
        let e = Engine::new(catalogue.clone(), Greedy::scarcity(), &clock, config).unwrap();
        let reference = catalogue.quota_tree(CAT).unwrap();
        let cells = catalogue.cell_range(CAT);
        let mut maxes: Vec<u32> = catalogue.categories()[0]
            .cells
            .iter()
            .map(|c| c.max)
            .chain([catalogue.categories()[0].target])
            .collect();
        let n = maxes.len();
        let mins: Vec<u32> = catalogue.categories()[0].cells.iter().map(|c| c.min).collect();
        let mut tally = Tally {
            completed: vec![0; n],
            pending: vec![0; n],
            held: HashMap::new(),
            done: HashSet::new(),
        };
        let mut buffer = LiveQueryBuffer::new();
        let asked: Vec<_> = queries.iter().map(|&s| random_query(&schema, s)).collect();
        for op in &ops {
            apply(&e, &clock, &reference, &mut maxes, &mut tally, op)?;
            for counting in [Counting::Completed, Counting::Taken] {
                let mut expected = reference.tree.clone();
                for (i, &max) in maxes.iter().enumerate() {
                    let count = match counting {
                        Counting::Completed => tally.completed[i],
                        Counting::Taken => tally.completed[i] + tally.pending[i],
                    };
                    // The root (last) has one target, its max.
                    let node = reference.nodes.get(i).copied().unwrap_or(NodeId::ROOT);
                    let min = mins.get(i).copied().unwrap_or(max);
                    expected.set_observed(node, u64::from(count)).unwrap();
                    expected.set_target(node, target(min, max)).unwrap();
                }
                for (query, answers) in &asked {
                    for method in QuotaMethod::ALL {
                        let want = expected.query(method, query, answers.as_ref()).unwrap();
                        let got = e
                            .quota_query(CAT, method, query, answers.as_ref(), counting, &mut buffer)
                            .unwrap();
                        prop_assert_eq!(got, &want[..], "{:?} {:?} {:?}", method, counting, query);
                    }
                }
                prop_assert!(e.quota_tree(CAT, counting).unwrap().tree == expected);
            }
        }
        prop_assert_eq!(cells.len() + 1, n);
    }
}
