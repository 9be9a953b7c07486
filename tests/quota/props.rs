//! Properties of the quota queries on random trees, contexts and answers:
//! the engine agrees with the plain reference implementation (`explain`), the available methods
//! never return a to-do ≤ 0, the list methods return every response exactly once, the order
//! follows each method's key (computed here from the notes' formulas, exactly), results do not
//! depend on the order children were added, and counting and edits keep the index exact.
#![cfg(feature = "serde")]

use std::cmp::Ordering;

use proptest::prelude::*;
use quotaroute::quota::{
    Condition, EditError, NodeId, NodeSpec, Query, QuotaMethod, QuotaTree, Target,
};
use quotaroute::schema::{Answers, QuestionId, ResponseId, Schema};

#[derive(Clone, Debug)]
struct RawNode {
    parent: usize,
    question: usize,
    responses: Vec<usize>,
    group: bool,
    target: (u8, u64, u64),
    observed: u64,
}

#[derive(Clone, Debug)]
struct Case {
    sizes: Vec<usize>,
    nodes: Vec<RawNode>,
    target: usize,
    context: Vec<(usize, Vec<usize>)>,
    answers: Vec<Option<usize>>,
    seed: u64,
}

fn raw_node() -> impl Strategy<Value = RawNode> {
    (
        any::<usize>(),
        any::<usize>(),
        prop::collection::vec(any::<usize>(), 1..4),
        prop::bool::weighted(0.25),
        (0u8..3, 0u64..40, 0u64..40),
        prop_oneof![3 => 0u64..25, 1 => Just(0u64)],
    )
        .prop_map(
            |(parent, question, responses, group, target, observed)| RawNode {
                parent,
                question,
                responses,
                group,
                target,
                observed,
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(prop_oneof![12 => 1usize..5, 1 => 64usize..68], 2..5),
        prop::collection::vec(raw_node(), 0..24),
        any::<usize>(),
        prop::collection::vec(
            (any::<usize>(), prop::collection::vec(any::<usize>(), 1..3)),
            0..3,
        ),
        prop::collection::vec(prop::option::weighted(0.3, any::<usize>()), 5),
        any::<u64>(),
    )
        .prop_map(|(sizes, nodes, target, context, answers, seed)| Case {
            sizes,
            nodes,
            target,
            context,
            answers,
            seed,
        })
}

fn schema_of(case: &Case) -> Schema {
    case.sizes
        .iter()
        .enumerate()
        .fold(Schema::builder(), |b, (i, &n)| {
            b.question(format!("Q{i}"), (0..n).map(|r| format!("r{r}")))
        })
        .build()
        .unwrap()
}

fn qid(schema: &Schema, i: usize) -> QuestionId {
    schema.question_ids().nth(i % schema.len()).unwrap()
}

fn rid(schema: &Schema, q: QuestionId, i: usize) -> ResponseId {
    schema
        .response_ids(q)
        .nth(i % schema.response_count(q))
        .unwrap()
}

fn target_of(raw: (u8, u64, u64)) -> Target {
    match raw.0 {
        0 => Target::None,
        1 => Target::Single(raw.1),
        _ => Target::MinMax {
            min: raw.1.min(raw.2),
            max: raw.1.max(raw.2),
        },
    }
}

/// The tree of a case: nodes whose condition contradicts an ancestor are left out (their
/// children go to the nearest kept ancestor).
fn tree_of(case: &Case, schema: &Schema) -> QuotaTree {
    let mut b = QuotaTree::builder(schema.clone());
    let mut ids = vec![NodeId::ROOT];
    let mut depths = vec![0usize];
    for (i, raw) in case.nodes.iter().enumerate() {
        let parent = ids[raw.parent % (i + 1)];
        let depth = depths[raw.parent % (i + 1)];
        // Half the nodes split on their level's question, as real trees do (so that siblings
        // share a question and the engine's shortcuts for them are exercised).
        let q = if raw.question % 2 == 0 {
            qid(schema, depth)
        } else {
            qid(schema, raw.question / 2)
        };
        let rs: Vec<ResponseId> = raw.responses.iter().map(|&r| rid(schema, q, r)).collect();
        let cond = if raw.group || rs.len() > 1 {
            Condition::group(q, rs)
        } else {
            Condition::response(q, rs[0])
        };
        match b.add_child(parent, cond, target_of(raw.target)) {
            Ok(id) => {
                b.set_observed(id, raw.observed).unwrap();
                ids.push(id);
                depths.push(depth + 1);
            }
            Err(EditError::Contradiction { .. }) => {
                ids.push(parent);
                depths.push(depth);
            }
            Err(e) => panic!("{e}"),
        }
    }
    b.set_target(
        NodeId::ROOT,
        target_of(case.nodes.first().map_or((0, 0, 0), |n| n.target)),
    )
    .unwrap();
    b.build()
}

fn query_of(case: &Case, schema: &Schema) -> Query {
    let target = qid(schema, case.target);
    let mut query = Query::new(target);
    for (q, rs) in &case.context {
        let q = qid(schema, *q);
        if q == target || query.context().iter().any(|(c, _)| *c == q) {
            continue;
        }
        query = query.given_any(q, rs.iter().map(|&r| rid(schema, q, r)));
    }
    query
}

fn answers_of(case: &Case, schema: &Schema) -> Answers {
    let mut a = Answers::unknown(schema);
    for (i, ans) in case.answers.iter().enumerate().take(schema.len()) {
        if let Some(r) = ans {
            let q = qid(schema, i);
            a.set(q, rid(schema, q, *r));
        }
    }
    a
}

/// A small deterministic generator for shuffles.
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn shuffle_children(spec: &mut NodeSpec, seed: &mut u64) {
    let n = spec.children.len();
    for i in (1..n).rev() {
        let j = (next(seed) % (i as u64 + 1)) as usize;
        spec.children.swap(i, j);
    }
    for c in &mut spec.children {
        shuffle_children(c, seed);
    }
}

/// The notes' sort keys, from the reference's cells, compared exactly as fractions.
fn reference_order(
    method: QuotaMethod,
    e: &quotaroute::quota::Explanation,
    a: ResponseId,
    b: ResponseId,
) -> Ordering {
    let x = &e.responses[a.index()];
    let y = &e.responses[b.index()];
    let by_index = a.cmp(&b);
    if !method.balanced() {
        return y.todo.cmp(&x.todo).then(by_index);
    }
    let sum_t: i128 = e.responses.iter().map(|r| r.target as i128).sum();
    let sum_o: i128 = e.responses.iter().map(|r| r.observed as i128).sum();
    let (tx, ox, ty, oy) = (
        x.target as i128,
        x.observed as i128,
        y.target as i128,
        y.observed as i128,
    );
    // Target 0 sorts last.
    let zero = (tx == 0).cmp(&(ty == 0));
    if zero != Ordering::Equal || tx == 0 {
        return zero.then(by_index);
    }
    // T% − O% = (T·ΣO − O·ΣT) / (ΣT·ΣO), or T/ΣT when nothing is observed (Observed% = 0).
    let (nx, ny, den) = if sum_o == 0 {
        (tx, ty, sum_t)
    } else {
        (
            tx * sum_o - ox * sum_t,
            ty * sum_o - oy * sum_t,
            sum_t * sum_o,
        )
    };
    let key = if method == QuotaMethod::BalancedList {
        // nx/den vs ny/den, descending.
        ny.cmp(&nx)
    } else {
        // (T% − O%)/T% = (n/den) / (T/ΣT) = n·ΣT / (den·T), descending.
        (ny * sum_t * den * tx).cmp(&(nx * sum_t * den * ty))
    };
    key.then(by_index)
}

fn check_case(
    tree: &QuotaTree,
    query: &Query,
    answers: Option<&Answers>,
) -> Result<(), TestCaseError> {
    let e = tree.explain(query, answers).unwrap();
    let nr = tree.schema().response_count(query.question());
    for method in QuotaMethod::ALL {
        let got = tree.query(method, query, answers).unwrap();
        for &(r, todo) in &got {
            prop_assert_eq!(
                todo,
                e.responses[r.index()].todo,
                "{:?} to-do of {:?}",
                method,
                r
            );
        }
        if method.only_available() {
            prop_assert!(got.iter().all(|&(_, t)| t > 0), "{:?}: {:?}", method, got);
            let open = e.responses.iter().filter(|r| r.todo > 0).count();
            prop_assert_eq!(got.len(), open);
        } else {
            let mut seen: Vec<usize> = got.iter().map(|(r, _)| r.index()).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..nr).collect::<Vec<_>>());
        }
        for w in got.windows(2) {
            prop_assert_eq!(
                reference_order(method, &e, w[0].0, w[1].0),
                Ordering::Less,
                "{:?}: {:?} then {:?}\n{:?}\n{:?}",
                method,
                w[0],
                w[1],
                e.responses[w[0].0.index()],
                e.responses[w[1].0.index()]
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::proptest_config(256))]

    #[test]
    fn queries_follow_the_rules(case in case()) {
        let schema = schema_of(&case);
        let tree = tree_of(&case, &schema);
        let query = query_of(&case, &schema);
        let answers = answers_of(&case, &schema);
        check_case(&tree, &query, None)?;
        check_case(&tree, &query, Some(&answers))?;
        let mut buffer = quotaroute::quota::QueryBuffer::new();
        for method in QuotaMethod::ALL {
            let fresh = tree.query(method, &query, Some(&answers)).unwrap();
            let reused = tree.query_into(method, &query, Some(&answers), &mut buffer).unwrap();
            prop_assert_eq!(&fresh[..], reused);
        }
        prop_assert_eq!(
            buffer.relaxed(),
            tree.explain(&query, Some(&answers)).unwrap().dropped.len()
        );
    }

    #[test]
    fn results_do_not_depend_on_child_order(case in case()) {
        let schema = schema_of(&case);
        let tree = tree_of(&case, &schema);
        let mut spec = tree.to_spec();
        let mut seed = case.seed;
        shuffle_children(&mut spec, &mut seed);
        let shuffled = QuotaTree::from_spec(schema.clone(), &spec).unwrap();
        let query = query_of(&case, &schema);
        let answers = answers_of(&case, &schema);
        for method in QuotaMethod::ALL {
            for a in [None, Some(&answers)] {
                prop_assert_eq!(
                    tree.query(method, &query, a).unwrap(),
                    shuffled.query(method, &query, a).unwrap()
                );
            }
        }
    }

    #[test]
    fn counting_and_edits_keep_the_index_exact(case in case(), ops in prop::collection::vec((0u8..4, any::<usize>(), (0u8..3, 0u64..40, 0u64..40), prop::collection::vec(prop::option::weighted(0.8, any::<usize>()), 5)), 0..30)) {
        let schema = schema_of(&case);
        let mut tree = tree_of(&case, &schema);
        let start = tree.clone();
        let mut recorded = Vec::new();
        for (op, at, target, raw_answers) in ops {
            let node = NodeId::new((at % tree.node_count()) as u32);
            match op {
                0 | 1 => {
                    let mut a = Answers::unknown(&schema);
                    for (i, r) in raw_answers.iter().enumerate().take(schema.len()) {
                        if let Some(r) = r {
                            let q = qid(&schema, i);
                            a.set(q, rid(&schema, q, *r));
                        }
                    }
                    // Recording increments exactly the matching nodes; headroom is their
                    // smallest room.
                    let mut matched = Vec::new();
                    tree.matching_nodes(&a, &mut matched).unwrap();
                    // Brute force: every condition from the node up to the root holds.
                    let brute: Vec<NodeId> = tree
                        .nodes()
                        .filter(|&n| {
                            let mut at = Some(n);
                            while let Some(id) = at {
                                let node = tree.node(id).unwrap();
                                if let Some(c) = node.condition()
                                    && !a.get(c.question()).is_some_and(|r| c.responses().contains(r))
                                {
                                    return false;
                                }
                                at = node.parent();
                            }
                            true
                        })
                        .collect();
                    prop_assert_eq!(&matched, &brute);
                    let before: Vec<u64> = (0..tree.node_count() as u32)
                        .map(|i| tree.node(NodeId::new(i)).unwrap().observed())
                        .collect();
                    let room = matched.iter().filter_map(|&n| {
                        let node = tree.node(n).unwrap();
                        node.target().max().map(|m| m as i64 - node.observed() as i64)
                    }).min();
                    prop_assert_eq!(tree.headroom(&a).unwrap(), room);
                    prop_assert_eq!(tree.record(&a).unwrap(), matched.len());
                    for n in tree.nodes() {
                        let expect = before[n.index()] + u64::from(matched.contains(&n));
                        prop_assert_eq!(tree.node(n).unwrap().observed(), expect);
                    }
                    recorded.push(a);
                }
                2 => tree.set_target(node, target_of(target)).unwrap(),
                _ => tree.set_observed(node, target.1).unwrap(),
            }
            // The incrementally maintained index answers as a freshly built one does.
            let fresh: QuotaTree = serde_json::from_str(&serde_json::to_string(&tree).unwrap()).unwrap();
            prop_assert_eq!(&fresh, &tree);
            prop_assert_eq!(
                &QuotaTree::from_spec(schema.clone(), &tree.to_spec()).unwrap().to_spec(),
                &tree.to_spec()
            );
            let query = query_of(&case, &schema);
            let answers = answers_of(&case, &schema);
            for method in QuotaMethod::ALL {
                prop_assert_eq!(
                    tree.query(method, &query, Some(&answers)).unwrap(),
                    fresh.query(method, &query, Some(&answers)).unwrap()
                );
                prop_assert_eq!(
                    tree.query(method, &query, None).unwrap(),
                    fresh.query(method, &query, None).unwrap()
                );
            }
        }
        // With only counting (no edits), unrecording everything restores the start.
        let mut only_counts = start.clone();
        for a in &recorded {
            only_counts.record(a).unwrap();
        }
        for a in recorded.iter().rev() {
            only_counts.unrecord(a).unwrap();
        }
        prop_assert_eq!(only_counts, start);
    }

    #[test]
    fn serde_round_trip(case in case()) {
        let schema = schema_of(&case);
        let tree = tree_of(&case, &schema);
        let text = serde_json::to_string(&tree).unwrap();
        let back: QuotaTree = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&back, &tree);
        let query = query_of(&case, &schema);
        for method in QuotaMethod::ALL {
            prop_assert_eq!(
                back.query(method, &query, None).unwrap(),
                tree.query(method, &query, None).unwrap()
            );
        }
    }
}

/// Full trees (every child a leaf block at the last level, the fast paths of the engine) agree
/// with the reference for every method, query shape and answers.
#[test]
fn full_trees_agree_with_the_reference() {
    for levels in 1..=3usize {
        let schema = (0..levels)
            .fold(Schema::builder(), |b, l| {
                b.question(format!("Q{l}"), (0..4).map(|r| format!("r{r}")))
            })
            .build()
            .unwrap();
        let qs: Vec<QuestionId> = schema.question_ids().collect();
        let mut b = QuotaTree::builder(schema.clone());
        let mut frontier = vec![NodeId::ROOT];
        let mut k = 0u64;
        for q in &qs {
            let mut next = Vec::new();
            for &parent in &frontier {
                for r in schema.response_ids(*q) {
                    k += 1;
                    let target = match k % 4 {
                        0 => Target::None,
                        1 => Target::Single(10 + k % 13),
                        _ => Target::MinMax {
                            min: k % 7,
                            max: 9 + k % 11,
                        },
                    };
                    let id = b
                        .add_child(parent, Condition::response(*q, r), target)
                        .unwrap();
                    b.set_observed(id, k * 7 % 12).unwrap();
                    next.push(id);
                }
            }
            frontier = next;
        }
        let tree = b.build();
        for (t, &tq) in qs.iter().enumerate() {
            let mut queries = vec![Query::new(tq)];
            for &c in &qs {
                if c != tq {
                    let r1 = schema.response_ids(c).nth(1).unwrap();
                    let r2 = schema.response_ids(c).nth(2).unwrap();
                    queries.push(Query::new(tq).given(c, r1));
                    queries.push(Query::new(tq).given_any(c, [r1, r2]));
                }
            }
            let mut answers = Answers::unknown(&schema);
            for (i, &q) in qs.iter().enumerate() {
                if i != t {
                    answers.set(q, schema.response_ids(q).nth(3).unwrap());
                }
            }
            for query in &queries {
                check_case(&tree, query, None).unwrap();
                check_case(&tree, query, Some(&answers)).unwrap();
            }
        }
    }
}
