//! A category with a three-level quota tree on the Redis and PostgreSQL stores (issue 20): a
//! hold takes every counter of the respondent's path in the store or none, two router nodes
//! racing never take a node past its max, and each node's live queries, after a sync, are the
//! quota module's on the store's counts.

use std::sync::{Arc, Barrier};

use quotaroute::catalogue::{Catalogue, Category, CategoryId};
use quotaroute::live::{
    Completion, Counting, Engine, LiveConfig, LiveQueryBuffer, Reservation, SystemClock,
};
use quotaroute::quota::{Condition, Query, QuotaMethod, QuotaTree, Target};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Schema};
use quotaroute::store::{Count, Layout, QuotaStore};

use crate::support::survey;

const CAT: CategoryId = CategoryId::from_index(0);

/// region → gender → age, every node min/max: regions 1..12, genders 1..6, ages 1..2 (room
/// for every leaf).
fn catalogue() -> Catalogue {
    let schema = Schema::default_survey();
    let q = |name| schema.question(name).expect("question");
    let (r, g, a) = (q("region"), q("gender"), q("age"));
    let mut b = QuotaTree::builder(schema.clone());
    b.set_target(b.root(), Target::Single(40)).expect("root");
    let range = |max| Target::MinMax { min: 1, max };
    for region in schema.response_ids(r) {
        let rn = b
            .add_child(b.root(), Condition::response(r, region), range(12))
            .expect("region");
        for gender in schema.response_ids(g) {
            let gn = b
                .add_child(rn, Condition::response(g, gender), range(6))
                .expect("gender");
            for age in schema.response_ids(a) {
                b.add_child(gn, Condition::response(a, age), range(2))
                    .expect("age");
            }
        }
    }
    let tree = b.build();
    let category = Category::new("tan", "Self Tan", 0.5, 60.0)
        .with_quota_tree(&tree)
        .expect("tree");
    Catalogue::new(schema, vec![category]).expect("catalogue")
}

fn counts(store: &dyn QuotaStore) -> Vec<Count> {
    let mut out = Vec::new();
    store.read(&mut out).expect("read");
    out
}

fn everyone(schema: &Schema) -> Vec<Answers> {
    let mut people = Vec::new();
    for r in ["north", "central", "south"] {
        for g in ["female", "male"] {
            for a in ["18-34", "35-54", "55+"] {
                let names = [("region", r), ("gender", g), ("age", a)];
                people.push(Answers::from_names(schema, names).expect("answers"));
            }
        }
    }
    people
}

/// The whole check, on any store: `connect` opens the store for a layout (once per node).
fn a_tree_on_the_store(connect: &dyn Fn(Layout) -> Arc<dyn QuotaStore>, prefix: &str) {
    let catalogue = catalogue();
    let schema = catalogue.schema().clone();
    let layout = Layout::from_catalogue(survey(prefix), &catalogue).expect("layout");
    let node = |store: Arc<dyn QuotaStore>| {
        Engine::with_store(
            catalogue.clone(),
            Greedy::scarcity(),
            SystemClock,
            LiveConfig::default(),
            store,
        )
        .expect("engine")
    };
    let store = connect(layout.clone());
    let nodes = [node(store.clone()), node(connect(layout))];
    let people = everyone(&schema);
    let ann = &people[1];
    let path: Vec<usize> = catalogue
        .cell_range(CAT)
        .filter(|&i| catalogue.cell_rule(i).expect("rule").matches(ann))
        .collect();
    assert_eq!(path.len(), 3, "region, gender and age");

    // The hold takes the category and the path's three nodes in the store, nothing else.
    assert!(matches!(
        nodes[0].reserve(1, CAT, ann),
        Ok(Reservation::Accepted { .. })
    ));
    for (i, c) in counts(&*store).iter().enumerate() {
        let on_path = i == 0 || path.contains(&(i - 1));
        assert_eq!(c.pending, u32::from(on_path), "counter {i}");
    }
    assert_eq!(nodes[1].complete(1, CAT), Ok(Completion::Completed));
    // The leaf lowered to what it holds: the other node's hold takes nothing anywhere.
    nodes[0].set_cell_max(path[2], 1).expect("set max");
    assert_eq!(
        nodes[1].reserve(2, CAT, ann),
        Ok(Reservation::Full {
            cell: Some(path[2])
        })
    );
    assert!(counts(&*store).iter().all(|c| c.pending == 0));

    // Two nodes, two threads each, every path of the tree.
    let start = Barrier::new(4);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (e, start, people) = (&nodes[t as usize % 2], &start, &people);
            s.spawn(move || {
                start.wait();
                for i in 0..90u64 {
                    let who = 100 + t * 1_000 + i;
                    let a = &people[(i * 5 + t) as usize % people.len()];
                    if let Ok(Reservation::Accepted { .. }) = e.reserve(who, CAT, a) {
                        if i % 4 == 0 {
                            e.abandon(who).expect("abandon");
                        } else {
                            e.complete(who, CAT).expect("complete");
                        }
                    }
                }
            });
        }
    });
    let end = counts(&*store);
    for (i, c) in end.iter().enumerate() {
        assert!(c.completed <= c.max, "counter {i} overfilled: {c:?}");
        assert_eq!(c.pending, 0, "counter {i}");
    }
    // Tight: 360 tries for at most 36 completes closed every leaf.
    let cells = &catalogue.categories()[0].cells;
    for leaf in (0..cells.len()).filter(|&i| !cells.iter().any(|c| c.parent == Some(i))) {
        assert_eq!(end[1 + leaf].completed, end[1 + leaf].max, "leaf {leaf}");
    }

    // After a sync each node's live query is the quota module's on the store's counts.
    let mut expected = catalogue.quota_tree(CAT).expect("tree");
    expected
        .tree
        .set_observed(expected.tree.root(), u64::from(end[0].completed))
        .expect("root");
    for (i, &n) in expected.nodes.clone().iter().enumerate() {
        let max = u64::from(end[1 + i].max);
        let target = Target::MinMax {
            min: max.min(1),
            max,
        };
        let target = if max <= 1 {
            Target::Single(max)
        } else {
            target
        };
        expected.tree.set_target(n, target).expect("target");
        expected
            .tree
            .set_observed(n, u64::from(end[1 + i].completed))
            .expect("count");
    }
    for e in &nodes {
        e.sync().expect("sync");
        assert_eq!(e.overfill(), 0);
        let mut buffer = LiveQueryBuffer::new();
        for q in schema.question_ids() {
            for method in QuotaMethod::ALL {
                let query = Query::new(q);
                let want = expected.tree.query(method, &query, None).expect("query");
                let got = e
                    .quota_query(CAT, method, &query, None, Counting::Completed, &mut buffer)
                    .expect("live query");
                assert_eq!(got, &want[..], "{method:?}");
            }
        }
    }
}

#[cfg(feature = "redis")]
#[test]
fn a_tree_on_redis_holds_the_path_or_nothing_and_never_overfills() {
    use quotaroute::store::{RedisOptions, RedisStore};
    a_tree_on_the_store(
        &|layout| {
            Arc::new(
                RedisStore::connect(crate::support::SHARED, layout, RedisOptions::default())
                    .expect("Redis on 6379"),
            )
        },
        "tree",
    );
}

#[cfg(feature = "postgres")]
#[test]
fn a_tree_on_postgres_holds_the_path_or_nothing_and_never_overfills() {
    use quotaroute::store::{PostgresOptions, PostgresStore};
    a_tree_on_the_store(
        &|layout| {
            Arc::new(
                PostgresStore::connect(
                    "postgres://postgres@127.0.0.1:5432/postgres",
                    layout,
                    PostgresOptions::default(),
                )
                .expect("PostgreSQL on 127.0.0.1:5432"),
            )
        },
        "pg-tree",
    );
}
