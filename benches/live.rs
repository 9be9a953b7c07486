//! Live engine benches: reservations per second with 1, 2 and 8 threads on one hot category
//! (the engine's reserve + abandon cycle, by numeric ids and by UUID keys, and the bare
//! compare-and-swap on the open-slots word), and snapshot / JSON / restore of an engine with
//! 10,000 categories; the four Askia queries on a three-level tree's live counts
//! (`Engine::quota_query`) against the quota module's `query_into` on the same tree and counts.
//!
//! Multi-threaded figures are wall time for all threads' operations together, so the
//! throughput shown is the total over threads. The development machine has 2 cores: 8 threads
//! measure contention and time-slicing, not 8-way parallelism.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quotaroute::catalogue::{Catalogue, Category, CategoryId};
use quotaroute::live::{
    Counting, Engine, LiveConfig, LiveQueryBuffer, ManualClock, Reservation, Timestamp,
};
use quotaroute::quota::{Condition, Query, QueryBuffer, QuotaMethod, QuotaTree, Target};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, RespondentId, Schema};
use quotaroute::state::QuotaState;

const HOT: CategoryId = CategoryId::from_index(0);

fn hot_catalogue() -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("hot", "Hot", 0.5, 60.0).with_target(1 << 30),
            Category::new("cold", "Cold", 0.5, 60.0),
        ],
    )
    .expect("valid catalogue")
}

/// Runs `work(thread, iterations)` on `threads` threads started together; the wall time.
fn timed(threads: u64, iters: u64, work: impl Fn(u64, u64) + Sync) -> Duration {
    let start = Barrier::new(threads as usize + 1);
    std::thread::scope(|s| {
        for t in 0..threads {
            let per = iters / threads + u64::from(t < iters % threads);
            let (start, work) = (&start, &work);
            s.spawn(move || {
                start.wait();
                work(t, per);
            });
        }
        start.wait();
        let began = Instant::now();
        // The scope joins every thread before returning.
        began
    })
    .elapsed()
}

fn reservations(c: &mut Criterion) {
    let mut g = c.benchmark_group("live_reserve");
    g.throughput(Throughput::Elements(1));
    for &threads in &[1u64, 2, 8] {
        // Reserve then abandon: one slot taken and given back per element, each a shard lock
        // and a CAS on the hot category's word.
        g.bench_with_input(
            BenchmarkId::new("engine_reserve_abandon", threads),
            &threads,
            |b, &threads| {
                let clock = ManualClock::new(Timestamp(0));
                let engine = Engine::new(
                    hot_catalogue(),
                    Greedy::scarcity(),
                    &clock,
                    LiveConfig::default(),
                )
                .expect("engine");
                let nobody = Answers::unknown(engine.catalogue().schema());
                b.iter_custom(|iters| {
                    timed(threads, iters, |t, n| {
                        for i in 0..n {
                            let who = t << 40 | i;
                            let r = engine.reserve(who, HOT, &nobody);
                            debug_assert!(matches!(r, Ok(Reservation::Accepted { .. })));
                            black_box(r.ok());
                            let _ = black_box(engine.abandon(who));
                        }
                    })
                });
            },
        );
        // The same cycle by the platform's UUID keys (made beforehand, 1,024 per thread).
        g.bench_with_input(
            BenchmarkId::new("engine_reserve_abandon_uuid", threads),
            &threads,
            |b, &threads| {
                let clock = ManualClock::new(Timestamp(0));
                let engine = Engine::new(
                    hot_catalogue(),
                    Greedy::scarcity(),
                    &clock,
                    LiveConfig::default(),
                )
                .expect("engine");
                let nobody = Answers::unknown(engine.catalogue().schema());
                let keys: Vec<Vec<RespondentId>> = (0..threads)
                    .map(|t| {
                        (0..1024u64)
                            .map(|i| {
                                let key = format!("{t:08x}-6d4a-4e9b-8f7c-{i:012x}");
                                RespondentId::key(&key).expect("a UUID is a key")
                            })
                            .collect()
                    })
                    .collect();
                b.iter_custom(|iters| {
                    timed(threads, iters, |t, n| {
                        let mine = &keys[t as usize];
                        for i in 0..n {
                            let who = mine[(i % 1024) as usize];
                            let r = engine.reserve(who, HOT, &nobody);
                            debug_assert!(matches!(r, Ok(Reservation::Accepted { .. })));
                            black_box(r.ok());
                            let _ = black_box(engine.abandon(who));
                        }
                    })
                });
            },
        );
        // The bare counter: take a slot by CAS and give it back.
        g.bench_with_input(
            BenchmarkId::new("cas_take_release", threads),
            &threads,
            |b, &threads| {
                let catalogue = hot_catalogue();
                let state = QuotaState::new(&catalogue);
                b.iter_custom(|iters| {
                    timed(threads, iters, |_, n| {
                        for _ in 0..n {
                            black_box(state.try_reserve(HOT).is_ok());
                            black_box(state.release(HOT));
                        }
                    })
                });
            },
        );
    }
    g.finish();
}

fn big_engine(categories: usize, clock: &ManualClock) -> Engine<Greedy, &ManualClock> {
    let catalogue = Catalogue::new(
        Schema::default_survey(),
        (0..categories)
            .map(|i| Category::new(format!("c{i}"), format!("Category {i}"), 0.2, 90.0))
            .collect(),
    )
    .expect("valid catalogue");
    let engine =
        Engine::new(catalogue, Greedy::scarcity(), clock, LiveConfig::default()).expect("engine");
    let nobody = Answers::unknown(engine.catalogue().schema());
    // Some fieldwork: one complete and one pending slot per category.
    for i in 0..categories {
        let c = CategoryId::from_index(i);
        let (a, b) = (2 * i as u64, 2 * i as u64 + 1);
        let _ = engine.reserve(a, c, &nobody);
        let _ = engine.complete(a, c);
        let _ = engine.reserve(b, c, &nobody);
    }
    engine
}

fn snapshots(c: &mut Criterion) {
    let n = 10_000;
    let clock = ManualClock::new(Timestamp(0));
    let engine = big_engine(n, &clock);
    let snap = engine.snapshot();
    let json = serde_json::to_vec(&snap).expect("serialise");
    eprintln!(
        "snapshot of {n} categories ({} held slots): {} bytes of JSON",
        snap.held.len(),
        json.len()
    );
    let mut g = c.benchmark_group("live_snapshot");
    g.throughput(Throughput::Elements(n as u64));
    g.bench_with_input(BenchmarkId::new("take", n), &n, |b, _| {
        b.iter(|| black_box(engine.snapshot()))
    });
    g.bench_with_input(BenchmarkId::new("to_json", n), &n, |b, _| {
        b.iter(|| black_box(serde_json::to_vec(&snap).expect("serialise")))
    });
    g.bench_with_input(BenchmarkId::new("from_json_and_restore", n), &n, |b, _| {
        b.iter(|| {
            let s: quotaroute::live::LiveSnapshot = serde_json::from_slice(&json).expect("parse");
            black_box(
                Engine::restore(engine.catalogue().clone(), Greedy::scarcity(), &clock, &s)
                    .expect("restore"),
            )
        })
    });
    g.finish();
}

/// region → gender → age on the default survey (27 nodes below the root), min/max on each.
fn tree_engine(clock: &ManualClock) -> Engine<Greedy, &ManualClock> {
    let schema = Schema::default_survey();
    let q = |name| schema.question(name).expect("question");
    let (r, g, a) = (q("region"), q("gender"), q("age"));
    let mut b = QuotaTree::builder(schema.clone());
    b.set_target(b.root(), Target::Single(3_000)).expect("root");
    let range = |min, max| Target::MinMax { min, max };
    for region in schema.response_ids(r) {
        let rn = b
            .add_child(b.root(), Condition::response(r, region), range(300, 1_200))
            .expect("region");
        for gender in schema.response_ids(g) {
            let gn = b
                .add_child(rn, Condition::response(g, gender), range(100, 600))
                .expect("gender");
            for age in schema.response_ids(a) {
                b.add_child(gn, Condition::response(a, age), range(30, 200))
                    .expect("age");
            }
        }
    }
    let tree = b.build();
    let category = Category::new("tan", "Self Tan", 0.5, 60.0)
        .with_quota_tree(&tree)
        .expect("tree");
    let catalogue = Catalogue::new(schema.clone(), vec![category]).expect("catalogue");
    let engine =
        Engine::new(catalogue, Greedy::scarcity(), clock, LiveConfig::default()).expect("engine");
    // Fieldwork on every path: completes, and a hold on every node.
    let mut who = 0u64;
    for (i, region) in schema.response_ids(r).enumerate() {
        for gender in schema.response_ids(g) {
            for (k, age) in schema.response_ids(a).enumerate() {
                let mut answers = Answers::unknown(&schema);
                answers.set(r, region);
                answers.set(g, gender);
                answers.set(a, age);
                for n in 0..(20 + 15 * i + 10 * k) {
                    who += 1;
                    let _ = engine.reserve(who, HOT, &answers);
                    if n > 0 {
                        let _ = engine.complete(who, HOT);
                    }
                }
            }
        }
    }
    engine
}

fn tree_queries(c: &mut Criterion) {
    let clock = ManualClock::new(Timestamp(0));
    let engine = tree_engine(&clock);
    let schema = engine.catalogue().schema().clone();
    let (region, age) = (
        schema.question("region").expect("region"),
        schema.question("age").expect("age"),
    );
    let north = schema.response(region, "north").expect("north");
    let queries = [
        ("age_given_region", Query::new(age).given(region, north)),
        ("region", Query::new(region)),
    ];
    // The quota module on the same tree and counts: what the live query must match in speed.
    let same = engine.quota_tree(HOT, Counting::Taken).expect("tree").tree;
    let mut g = c.benchmark_group("live_quota_query");
    for (name, query) in &queries {
        for method in [QuotaMethod::Available, QuotaMethod::BalancedList] {
            let id = format!("{name}/{}", method.name());
            let mut qb = QueryBuffer::new();
            g.bench_function(BenchmarkId::new("quota_module", &id), |b| {
                b.iter(|| {
                    black_box(
                        same.query_into(method, query, None, &mut qb)
                            .map(|r| r.len()),
                    )
                })
            });
            let mut lb = LiveQueryBuffer::new();
            g.bench_function(BenchmarkId::new("engine_quiet", &id), |b| {
                b.iter(|| {
                    black_box(
                        engine
                            .quota_query(HOT, method, query, None, Counting::Taken, &mut lb)
                            .map(|r| r.len()),
                    )
                })
            });
            // Every node's count moves between calls (holds on every node, counted or not):
            // the worst case, each node rewritten.
            let mut flip = false;
            g.bench_function(BenchmarkId::new("engine_all_moved", &id), |b| {
                b.iter(|| {
                    flip = !flip;
                    let counting = if flip {
                        Counting::Taken
                    } else {
                        Counting::Completed
                    };
                    black_box(
                        engine
                            .quota_query(HOT, method, query, None, counting, &mut lb)
                            .map(|r| r.len()),
                    )
                })
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = reservations, snapshots, tree_queries
}
criterion_main!(benches);
