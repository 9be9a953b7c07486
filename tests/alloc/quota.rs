//! Once its buffer has grown, a query does not allocate; neither do counting and gating once
//! warmed up. Checked with a counting allocator (per thread, so the harness does not interfere).

use quotaroute::quota::{Condition, NodeId, Query, QueryBuffer, QuotaMethod, QuotaTree, Target};
use quotaroute::schema::{Answers, QuestionId, Schema};

use crate::counting_alloc;

use counting_alloc::allocations;

#[test]
fn warmed_up_queries_and_counting_do_not_allocate() {
    let schema = Schema::builder()
        .question("Region", (0..5).map(|i| format!("r{i}")))
        .question("Gender", ["m", "f"])
        .question("Product", ["a", "b", "c", "d"])
        .build()
        .unwrap();
    let qs: Vec<QuestionId> = schema.question_ids().collect();
    let mut b = QuotaTree::builder(schema.clone());
    b.set_target(NodeId::ROOT, Target::Single(500)).unwrap();
    let mut k = 0;
    for r in schema.response_ids(qs[0]) {
        let region = b
            .add_child(
                NodeId::ROOT,
                Condition::response(qs[0], r),
                Target::Single(100),
            )
            .unwrap();
        for g in schema.response_ids(qs[1]) {
            let gender = b
                .add_child(
                    region,
                    Condition::response(qs[1], g),
                    Target::MinMax { min: 20, max: 60 },
                )
                .unwrap();
            for p in schema.response_ids(qs[2]) {
                k += 1;
                let id = b
                    .add_child(
                        gender,
                        Condition::response(qs[2], p),
                        Target::Single(10 + k % 7),
                    )
                    .unwrap();
                b.set_observed(id, k % 5).unwrap();
            }
        }
    }
    let mut tree = b.build();
    let mut answers = Answers::unknown(&schema);
    answers.set(qs[1], schema.response_ids(qs[1]).nth(1).unwrap());
    let queries = [
        Query::new(qs[2]),
        Query::new(qs[2]).given(qs[0], schema.response_ids(qs[0]).nth(2).unwrap()),
        Query::new(qs[0]).given_any(qs[2], schema.response_ids(qs[2]).take(2)),
    ];
    let mut buffer = QueryBuffer::new();
    let mut nodes = Vec::new();
    let mut complete = answers.clone();
    complete.set(qs[0], schema.response_ids(qs[0]).nth(3).unwrap());
    complete.set(qs[2], schema.response_ids(qs[2]).next().unwrap());
    let round = |tree: &mut QuotaTree, buffer: &mut QueryBuffer, nodes: &mut Vec<NodeId>| {
        let mut total = 0;
        for q in &queries {
            for method in QuotaMethod::ALL {
                for a in [None, Some(&answers)] {
                    total += tree.query_into(method, q, a, buffer).unwrap().len();
                }
            }
        }
        tree.record(&complete).unwrap();
        tree.unrecord(&complete).unwrap();
        // A target edit and its undo (node 3 is the first product cell, target 11): the
        // no-context aggregates follow it without allocating.
        tree.set_target(NodeId::new(3), Target::Single(12)).unwrap();
        tree.set_target(NodeId::new(3), Target::Single(11)).unwrap();
        tree.matching_nodes(&complete, nodes).unwrap();
        total += tree.headroom(&complete).unwrap().unwrap_or(0) as usize;
        total
    };
    // Warm up: the buffers grow to the tree's needs.
    let expected = round(&mut tree, &mut buffer, &mut nodes);
    let before = allocations();
    assert!(before > 0, "the counter counts");
    for _ in 0..10 {
        assert_eq!(round(&mut tree, &mut buffer, &mut nodes), expected);
    }
    assert_eq!(allocations() - before, 0);
}
