//! Quota queries on a 3-level tree of 1,000 cells and a 5-level tree of 100,000 cells (10
//! responses per question, one question per level, every node with a target).
//!
//! Shapes:
//! * `top+ctx`: target question at level 1, context on level 2 (a script's usual call);
//! * `leaf+answers`: target question at the deepest level, the respondent's answers known on
//!   every level above (routing a respondent);
//! * `leaf`: target question at the deepest level, no context (worst case: every node counts).
//!
//! `cargo bench --bench quota -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quotaroute::quota::{Condition, NodeId, Query, QueryBuffer, QuotaMethod, QuotaTree, Target};
use quotaroute::schema::{Answers, QuestionId, Schema};

const WIDTH: usize = 10;

fn schema(levels: usize) -> Schema {
    (0..levels)
        .fold(Schema::builder(), |b, l| {
            b.question(format!("Q{l}"), (0..WIDTH).map(|r| format!("r{r}")))
        })
        .build()
        .expect("valid schema")
}

/// A full tree: level l splits on question l; targets and counts vary deterministically.
fn tree(levels: usize) -> QuotaTree {
    let schema = schema(levels);
    let qs: Vec<QuestionId> = schema.question_ids().collect();
    let mut b = QuotaTree::builder(schema.clone());
    let mut frontier = vec![NodeId::ROOT];
    let mut k: u64 = 0;
    for q in &qs {
        let mut next = Vec::with_capacity(frontier.len() * WIDTH);
        for &parent in &frontier {
            for r in schema.response_ids(*q) {
                k += 1;
                let base = 20 + k * 7919 % 200;
                let target = if k.is_multiple_of(3) {
                    Target::MinMax {
                        min: base,
                        max: base + 10,
                    }
                } else {
                    Target::Single(base)
                };
                let id = b
                    .add_child(parent, Condition::response(*q, r), target)
                    .expect("valid node");
                b.set_observed(id, k * 104_729 % 150).expect("small count");
                next.push(id);
            }
        }
        frontier = next;
    }
    b.set_target(NodeId::ROOT, Target::Single(1_000_000))
        .expect("valid target");
    b.build()
}

fn bench_queries(c: &mut Criterion) {
    for (levels, label) in [(3usize, "1k cells"), (5, "100k cells")] {
        let tree = tree(levels);
        let schema = tree.schema().clone();
        let qs: Vec<QuestionId> = schema.question_ids().collect();
        let cells = WIDTH.pow(levels as u32) as u64;
        let r3 = schema.response_ids(qs[1]).nth(3).expect("response");
        let mut answers = Answers::unknown(&schema);
        for q in &qs[..levels - 1] {
            answers.set(*q, schema.response_ids(*q).nth(4).expect("response"));
        }
        let shapes: [(&str, Query, Option<&Answers>); 3] = [
            ("top+ctx", Query::new(qs[0]).given(qs[1], r3), None),
            ("leaf+answers", Query::new(qs[levels - 1]), Some(&answers)),
            ("leaf", Query::new(qs[levels - 1]), None),
        ];
        let mut group = c.benchmark_group(format!("quota/{label}"));
        group.throughput(Throughput::Elements(cells));
        let mut buffer = QueryBuffer::new();
        for method in QuotaMethod::ALL {
            for (shape, query, answers) in &shapes {
                group.bench_with_input(
                    BenchmarkId::new(method.name(), shape),
                    &(query, answers),
                    |b, (query, answers)| {
                        b.iter(|| {
                            let results = tree
                                .query_into(method, query, **answers, &mut buffer)
                                .expect("valid query");
                            black_box(results.len())
                        })
                    },
                );
            }
        }
        group.finish();
    }
}

fn bench_counting(c: &mut Criterion) {
    let mut group = c.benchmark_group("quota/counting");
    for (levels, label) in [(3usize, "1k cells"), (5, "100k cells")] {
        let mut tree = tree(levels);
        let schema = tree.schema().clone();
        let mut answers = Answers::unknown(&schema);
        for q in schema.question_ids() {
            answers.set(q, schema.response_ids(q).nth(7).expect("response"));
        }
        group.bench_function(BenchmarkId::new("headroom", label), |b| {
            b.iter(|| black_box(tree.headroom(black_box(&answers)).expect("fits")))
        });
        group.bench_function(BenchmarkId::new("record+unrecord", label), |b| {
            b.iter(|| {
                tree.record(black_box(&answers)).expect("fits");
                tree.unrecord(black_box(&answers)).expect("fits")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_queries, bench_counting);
criterion_main!(benches);
