//! Quota trees through the live engine (issue 20): the seed's worked examples answered from
//! live counts made by reservations and completes, a three-level min/max tree whose holds
//! take every node of the respondent's path or none, trees on a shared store, and snapshots
//! of an engine with a tree.

use std::sync::{Arc, Barrier};

use quotaroute::catalogue::{Catalogue, Category, CategoryId, QuotaCell, TreeError};
use quotaroute::live::{
    Completion, Counting, Engine, LiveConfig, LiveQueryBuffer, LiveQueryError, LiveSnapshot,
    ManualClock, Reservation, SystemClock, Timestamp,
};
use quotaroute::quota::{Condition, NodeId, Query, QuotaMethod, QuotaTree, Target};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, ResponseId, Rule, Schema};
use quotaroute::store::{Count, Layout, MemoryStore, QuotaStore};

const CAT: CategoryId = CategoryId::from_index(0);

/// region → gender → age on the default survey, each level a min/max (`(min, max)`), the
/// root the category's target. `55+` has no node under the southern branch, so a southern
/// respondent of 55+ falls in two nodes only.
pub(crate) fn three_level(
    schema: &Schema,
    root: u64,
    region: (u64, u64),
    gender: (u64, u64),
    age: (u64, u64),
) -> QuotaTree {
    let q = |name| schema.question(name).unwrap();
    let (r, g, a) = (q("region"), q("gender"), q("age"));
    let range = |(min, max)| Target::MinMax { min, max };
    let mut b = QuotaTree::builder(schema.clone());
    b.set_target(b.root(), Target::Single(root)).unwrap();
    for region_id in schema.response_ids(r) {
        let rn = b
            .add_child(b.root(), Condition::response(r, region_id), range(region))
            .unwrap();
        for gender_id in schema.response_ids(g) {
            let gn = b
                .add_child(rn, Condition::response(g, gender_id), range(gender))
                .unwrap();
            for age_id in schema.response_ids(a) {
                let south = schema.response_name(r, region_id) == "south";
                if south && schema.response_name(a, age_id) == "55+" {
                    continue;
                }
                b.add_child(gn, Condition::response(a, age_id), range(age))
                    .unwrap();
            }
        }
    }
    b.build()
}

/// A catalogue of one category carrying `tree`.
pub(crate) fn catalogue_with(schema: &Schema, tree: &QuotaTree) -> Catalogue {
    let category = Category::new("tan", "Self Tan", 0.5, 60.0)
        .with_quota_tree(tree)
        .unwrap();
    Catalogue::new(schema.clone(), vec![category]).unwrap()
}

/// Answers from names; a question left out stays unknown.
pub(crate) fn answers(schema: &Schema, names: &[(&str, &str)]) -> Answers {
    Answers::from_names(schema, names.iter().copied()).unwrap()
}

fn config() -> LiveConfig {
    LiveConfig {
        ttl_ms: 1_000,
        ..LiveConfig::default()
    }
}

/// The seed's schema: Product and Gender.
fn product_schema() -> Schema {
    Schema::builder()
        .question("Product", ["A", "B", "C"])
        .question("Gender", ["Male", "Female"])
        .build()
        .unwrap()
}

fn id(schema: &Schema, q: &str, r: &str) -> ResponseId {
    let q = schema.question(q).unwrap();
    schema.response(q, r).unwrap()
}

/// Reserves and completes `times` respondents with these answers, ids from `first`.
fn complete_many<C: quotaroute::live::Clock>(
    e: &Engine<Greedy, C>,
    first: u64,
    times: u64,
    answers: &Answers,
) {
    for who in first..first + times {
        let held = e.reserve(who, CAT, answers).unwrap();
        assert!(matches!(held, Reservation::Accepted { .. }), "{held:?}");
        assert_eq!(e.complete(who, CAT), Ok(Completion::Completed));
    }
}

/// The module documentation's walk: root 30, A 8 (Male 6, Female 2), B 10; 6 completes of
/// A/Male and 4 of B/Female. `Product.AvailableQuota(Gender: Male)` is C 20, B 6: A is closed by
/// its full Male row, B has min(30 − 10, 10 − 4) to do, C only the root's 20.
#[test]
fn the_seed_walk_through_the_live_engine() {
    let schema = product_schema();
    let (product, gender) = (
        schema.question("Product").unwrap(),
        schema.question("Gender").unwrap(),
    );
    let (a, b, c) = (
        id(&schema, "Product", "A"),
        id(&schema, "Product", "B"),
        id(&schema, "Product", "C"),
    );
    let male = id(&schema, "Gender", "Male");
    let mut t = QuotaTree::builder(schema.clone());
    t.set_target(t.root(), Target::Single(30)).unwrap();
    let node_a = t
        .add_child(t.root(), Condition::response(product, a), Target::Single(8))
        .unwrap();
    t.add_child(node_a, Condition::response(gender, male), Target::Single(6))
        .unwrap();
    let female = id(&schema, "Gender", "Female");
    t.add_child(
        node_a,
        Condition::response(gender, female),
        Target::Single(2),
    )
    .unwrap();
    t.add_child(
        t.root(),
        Condition::response(product, b),
        Target::Single(10),
    )
    .unwrap();
    let mut seed = t.build();

    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(
        catalogue_with(&schema, &seed),
        Greedy::scarcity(),
        &clock,
        config(),
    )
    .unwrap();
    let a_male = answers(&schema, &[("Product", "A"), ("Gender", "Male")]);
    let b_female = answers(&schema, &[("Product", "B"), ("Gender", "Female")]);
    complete_many(&e, 0, 6, &a_male);
    complete_many(&e, 100, 4, &b_female);
    for _ in 0..6 {
        seed.record(&a_male).unwrap();
    }
    for _ in 0..4 {
        seed.record(&b_female).unwrap();
    }

    let query = Query::new(product).given(gender, male);
    let mut buffer = LiveQueryBuffer::new();
    let live = e
        .quota_query(
            CAT,
            QuotaMethod::Available,
            &query,
            None,
            Counting::Completed,
            &mut buffer,
        )
        .unwrap()
        .to_vec();
    assert_eq!(live, vec![(c, 20), (b, 6)]);
    // Every method, every way of asking, as the quota module answers the seed's own tree.
    for method in QuotaMethod::ALL {
        for (q, ans) in [
            (&query, None),
            (&Query::new(product), None),
            (&Query::new(product), Some(&b_female)),
        ] {
            let live = e
                .quota_query(CAT, method, q, ans, Counting::Completed, &mut buffer)
                .unwrap()
                .to_vec();
            assert_eq!(
                live,
                seed.query(method, q, ans).unwrap(),
                "{method:?} {q:?}"
            );
        }
    }

    // A hold of B/Male counts as taken: B has min(30 − 11, 10 − 5) = 5 to do, C 19; the
    // completes alone are unchanged.
    let b_male = answers(&schema, &[("Product", "B"), ("Gender", "Male")]);
    assert!(matches!(
        e.reserve(999, CAT, &b_male),
        Ok(Reservation::Accepted { .. })
    ));
    let taken = e
        .quota_query(
            CAT,
            QuotaMethod::Available,
            &query,
            None,
            Counting::Taken,
            &mut buffer,
        )
        .unwrap()
        .to_vec();
    seed.record(&b_male).unwrap();
    assert_eq!(taken, seed.available(&query, None).unwrap());
    assert_eq!(taken, vec![(c, 19), (b, 5)]);
    let completed = e
        .quota_query(
            CAT,
            QuotaMethod::Available,
            &query,
            None,
            Counting::Completed,
            &mut buffer,
        )
        .unwrap();
    assert_eq!(completed, [(c, 20), (b, 6)]);
}

/// The module documentation's min/max example: a cell of min 30, max 40 with 35 observed
/// under a root with 92 has min(max(…, −5), min(28, 5)) = 5 to do. A category's root has
/// one target (its max, 120); the seed's root min of 100 changes none of the four answers,
/// which the seed's own tree (root 100..120) confirms below.
#[test]
fn the_seed_min_max_example_through_the_live_engine() {
    let schema = product_schema();
    let product = schema.question("Product").unwrap();
    let (a, b, c) = (
        id(&schema, "Product", "A"),
        id(&schema, "Product", "B"),
        id(&schema, "Product", "C"),
    );
    let build = |root: Target| {
        let mut t = QuotaTree::builder(schema.clone());
        t.set_target(t.root(), root).unwrap();
        let ab = t
            .add_child(
                t.root(),
                Condition::group(product, [a, b]),
                Target::MinMax { min: 30, max: 40 },
            )
            .unwrap();
        let cn = t
            .add_child(t.root(), Condition::response(product, c), Target::Single(0))
            .unwrap();
        (t.build(), ab, cn)
    };
    let (category_tree, ..) = build(Target::Single(120));
    let (mut seed, ab, _) = build(Target::MinMax { min: 100, max: 120 });
    seed.set_observed(NodeId::ROOT, 92).unwrap();
    seed.set_observed(ab, 35).unwrap();

    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(
        catalogue_with(&schema, &category_tree),
        Greedy::scarcity(),
        &clock,
        config(),
    )
    .unwrap();
    // 20 of A, 15 of B, and 57 whose product is unknown: they fall in no product node, so
    // their holds take the category (the root) only.
    complete_many(&e, 0, 20, &answers(&schema, &[("Product", "A")]));
    complete_many(&e, 100, 15, &answers(&schema, &[("Product", "B")]));
    complete_many(&e, 200, 57, &answers(&schema, &[]));
    assert_eq!(e.quotas().view().completed(CAT), 92);
    assert_eq!(
        (e.quotas().cell_completed(0), e.quotas().cell_completed(1)),
        (35, 0)
    );
    // C's node has a max of 0: a respondent of C is refused, holding nothing.
    assert_eq!(
        e.reserve(900, CAT, &answers(&schema, &[("Product", "C")])),
        Ok(Reservation::Full { cell: Some(1) })
    );

    let mut buffer = LiveQueryBuffer::new();
    let female = answers(&schema, &[("Gender", "Female")]);
    let mut ask = |method, ans: Option<&Answers>, counting| {
        e.quota_query(
            CAT,
            method,
            &Query::new(product),
            ans,
            counting,
            &mut buffer,
        )
        .unwrap()
        .to_vec()
    };
    assert_eq!(
        ask(QuotaMethod::Available, None, Counting::Completed),
        vec![(a, 5), (b, 5)]
    );
    assert_eq!(
        ask(QuotaMethod::List, None, Counting::Completed),
        vec![(a, 5), (b, 5), (c, 0)]
    );
    for method in QuotaMethod::ALL {
        for ans in [None, Some(&female)] {
            assert_eq!(
                ask(method, ans, Counting::Completed),
                seed.query(method, &Query::new(product), ans).unwrap(),
                "{method:?}"
            );
        }
    }
    // Three holds in A count as taken: the cell has 38 of 40, so 2 to do.
    let only_a = answers(&schema, &[("Product", "A")]);
    for who in 300..303 {
        assert!(matches!(
            e.reserve(who, CAT, &only_a),
            Ok(Reservation::Accepted { .. })
        ));
    }
    assert_eq!(
        ask(QuotaMethod::Available, None, Counting::Taken),
        vec![(a, 2), (b, 2)]
    );
    assert_eq!(
        ask(QuotaMethod::Available, None, Counting::Completed),
        vec![(a, 5), (b, 5)]
    );
}

/// Which of the category's cells each hold of the respondent takes: pending per cell.
fn pending(e: &Engine<Greedy, &ManualClock>) -> Vec<u32> {
    e.catalogue()
        .cell_range(CAT)
        .map(|i| e.quotas().cell_pending(i))
        .collect()
}

fn path_of(e: &Engine<Greedy, &ManualClock>, a: &Answers) -> Vec<u32> {
    e.catalogue()
        .cell_range(CAT)
        .map(|i| u32::from(e.catalogue().cell_rule(i).unwrap().matches(a)))
        .collect()
}

#[test]
fn a_hold_takes_every_node_of_the_path_and_is_released_or_committed_along_it() {
    let schema = Schema::default_survey();
    let tree = three_level(&schema, 40, (2, 20), (1, 8), (0, 3));
    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(
        catalogue_with(&schema, &tree),
        Greedy::scarcity(),
        &clock,
        config(),
    )
    .unwrap();
    assert_eq!(e.catalogue().cell_range(CAT).len(), 3 + 6 + 16);
    let ann = answers(
        &schema,
        &[("region", "north"), ("gender", "female"), ("age", "35-54")],
    );
    let path = path_of(&e, &ann);
    assert_eq!(path.iter().sum::<u32>(), 3, "region, gender and age");
    let zero = vec![0; path.len()];

    // Held: exactly the path's three nodes and the category gain a pending slot.
    assert!(matches!(
        e.reserve(1, CAT, &ann),
        Ok(Reservation::Accepted { .. })
    ));
    assert_eq!(pending(&e), path);
    assert_eq!(e.quotas().view().pending(CAT), 1);
    // Abandoned: every one released.
    assert_eq!(e.abandon(1), Ok(1));
    assert_eq!(
        (pending(&e), e.quotas().view().pending(CAT)),
        (zero.clone(), 0)
    );
    // Expired: the same.
    assert!(matches!(
        e.reserve(2, CAT, &ann),
        Ok(Reservation::Accepted { .. })
    ));
    assert_eq!(pending(&e), path);
    clock.advance(1_000);
    assert_eq!(e.expire(), Ok(1));
    assert_eq!(
        (pending(&e), e.quotas().view().pending(CAT)),
        (zero.clone(), 0)
    );
    // Completed: committed along the path.
    assert!(matches!(
        e.reserve(3, CAT, &ann),
        Ok(Reservation::Accepted { .. })
    ));
    assert_eq!(e.complete(3, CAT), Ok(Completion::Completed));
    let completed: Vec<u32> = e
        .catalogue()
        .cell_range(CAT)
        .map(|i| e.quotas().cell_completed(i))
        .collect();
    assert_eq!((completed, pending(&e)), (path.clone(), zero.clone()));

    // An unknown answer never falls in a node: with the age unknown, the hold takes the
    // region and gender nodes only.
    let bob = answers(&schema, &[("region", "north"), ("gender", "female")]);
    assert!(matches!(
        e.reserve(4, CAT, &bob),
        Ok(Reservation::Accepted { .. })
    ));
    let two = pending(&e);
    assert_eq!(
        (two.iter().sum::<u32>(), two.clone()),
        (2, path_of(&e, &bob))
    );
    assert_eq!(e.abandon(4), Ok(1));

    // A full node on the path refuses the hold, and nothing is taken anywhere.
    let leaf = e
        .catalogue()
        .cell_range(CAT)
        .zip(&path)
        .filter(|(_, on)| **on == 1)
        .map(|(i, _)| i)
        .max()
        .unwrap();
    e.set_cell_max(leaf, 1).unwrap();
    assert_eq!(
        e.reserve(5, CAT, &ann),
        Ok(Reservation::Full { cell: Some(leaf) })
    );
    assert_eq!((pending(&e), e.quotas().view().pending(CAT)), (zero, 0));
    assert_eq!(e.overfill(), 0);
    // The live query sees the lowered max: the 35-54 leaf under north → female is done.
    let age = schema.question("age").unwrap();
    let given = Query::new(age)
        .given(
            schema.question("region").unwrap(),
            id(&schema, "region", "north"),
        )
        .given(
            schema.question("gender").unwrap(),
            id(&schema, "gender", "female"),
        );
    let mut buffer = LiveQueryBuffer::new();
    let listed = e
        .quota_query(
            CAT,
            QuotaMethod::List,
            &given,
            None,
            Counting::Taken,
            &mut buffer,
        )
        .unwrap();
    let middle = id(&schema, "age", "35-54");
    assert_eq!(buffer_todo(listed, middle), Some(0));
}

fn buffer_todo(results: &[(ResponseId, i64)], r: ResponseId) -> Option<i64> {
    results.iter().find(|(x, _)| *x == r).map(|(_, t)| *t)
}

#[test]
fn errors_name_the_category_and_what_is_wrong() {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let either = Category::new("odd", "Odd", 0.5, 60.0).with_cell(QuotaCell::new(
        "either",
        Rule::Any(vec![Rule::Everyone]),
        5,
    ));
    let catalogue = Catalogue::new(schema.clone(), vec![either]).unwrap();
    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(catalogue, Greedy::scarcity(), &clock, config()).unwrap();
    let mut buffer = LiveQueryBuffer::new();
    let query = Query::new(g);
    let err = e
        .quota_query(
            CAT,
            QuotaMethod::List,
            &query,
            None,
            Counting::Taken,
            &mut buffer,
        )
        .unwrap_err();
    assert!(
        matches!(&err, LiveQueryError::Tree(TreeError::NotANode { cell, .. }) if cell == "either"),
        "{err:?}"
    );
    assert!(err.to_string().contains("`either`"), "{err}");
    let other = CategoryId::from_index(3);
    assert_eq!(
        e.quota_query(
            other,
            QuotaMethod::List,
            &query,
            None,
            Counting::Taken,
            &mut buffer
        )
        .unwrap_err(),
        LiveQueryError::UnknownCategory { category: other }
    );
    assert!(e.quota_tree(other, Counting::Taken).is_err());

    let tree = three_level(&schema, 10, (0, 5), (0, 3), (0, 2));
    let e = Engine::new(
        catalogue_with(&schema, &tree),
        Greedy::scarcity(),
        &clock,
        config(),
    )
    .unwrap();
    let bad = Query::new(g).given(g, id(&schema, "gender", "male"));
    let err = e
        .quota_query(
            CAT,
            QuotaMethod::List,
            &bad,
            None,
            Counting::Taken,
            &mut buffer,
        )
        .unwrap_err();
    assert!(
        matches!(&err, LiveQueryError::Query { key, .. } if key == "tan"),
        "{err:?}"
    );
    assert!(err.to_string().contains("target question"), "{err}");
}

/// A snapshot of an engine with a tree restores to the same counts, holds and answers, and
/// writes back the same.
#[test]
fn a_snapshot_of_an_engine_with_a_tree_round_trips_exactly() {
    let schema = Schema::default_survey();
    let tree = three_level(&schema, 30, (1, 12), (1, 6), (0, 4));
    let clock = ManualClock::new(Timestamp(0));
    let catalogue = catalogue_with(&schema, &tree);
    let e = Engine::new(catalogue.clone(), Greedy::scarcity(), &clock, config()).unwrap();
    let people = [
        [("region", "north"), ("gender", "female"), ("age", "18-34")],
        [("region", "south"), ("gender", "male"), ("age", "55+")],
        [("region", "central"), ("gender", "male"), ("age", "35-54")],
    ];
    for (who, names) in (0u64..).zip(people.iter().cycle().take(9)) {
        let a = answers(&schema, names);
        assert!(matches!(
            e.reserve(who, CAT, &a),
            Ok(Reservation::Accepted { .. })
        ));
        if who % 3 != 0 {
            assert_eq!(e.complete(who, CAT), Ok(Completion::Completed));
        }
    }
    e.set_cell_max(4, 3).unwrap();
    let snapshot = e.snapshot();
    let text = serde_json::to_string(&snapshot).unwrap();
    let read: LiveSnapshot = serde_json::from_str(&text).unwrap();
    assert_eq!(read, snapshot);
    let restored = Engine::restore(catalogue, Greedy::scarcity(), &clock, &read).unwrap();
    assert_eq!(restored.snapshot(), snapshot);
    assert_eq!(serde_json::to_string(&restored.snapshot()).unwrap(), text);
    let (mut b1, mut b2) = (LiveQueryBuffer::new(), LiveQueryBuffer::new());
    for counting in [Counting::Completed, Counting::Taken] {
        for q in schema.question_ids() {
            for method in QuotaMethod::ALL {
                let query = Query::new(q);
                let before = e.quota_query(CAT, method, &query, None, counting, &mut b1);
                let after = restored.quota_query(CAT, method, &query, None, counting, &mut b2);
                assert_eq!(before.unwrap(), after.unwrap());
            }
        }
        assert_eq!(
            e.quota_tree(CAT, counting).unwrap().tree,
            restored.quota_tree(CAT, counting).unwrap().tree
        );
    }
}

fn store_node(catalogue: &Catalogue, store: &Arc<MemoryStore>) -> Engine<Greedy> {
    let store: Arc<dyn QuotaStore> = store.clone();
    Engine::with_store(
        catalogue.clone(),
        Greedy::scarcity(),
        SystemClock,
        LiveConfig::default(),
        store,
    )
    .unwrap()
}

/// Two nodes share a memory store holding a three-level tree: a hold takes the path's
/// counters in the store or none, racing threads on both nodes never overfill a node, and a
/// node's live query after a sync answers from the store's counts.
#[test]
fn a_tree_on_a_shared_store_holds_the_path_or_nothing_and_never_overfills() {
    let schema = Schema::default_survey();
    let tree = three_level(&schema, 60, (0, 14), (0, 6), (0, 2));
    let catalogue = catalogue_with(&schema, &tree);
    let store = Arc::new(MemoryStore::new(
        Layout::from_catalogue("tree", &catalogue).unwrap(),
        SystemClock,
    ));
    let nodes = [
        store_node(&catalogue, &store),
        store_node(&catalogue, &store),
    ];
    let ann = answers(
        &schema,
        &[("region", "north"), ("gender", "male"), ("age", "18-34")],
    );
    let path: Vec<usize> = catalogue
        .cell_range(CAT)
        .filter(|&i| catalogue.cell_rule(i).unwrap().matches(&ann))
        .collect();
    assert_eq!(path.len(), 3);
    let counts = |store: &MemoryStore| {
        let mut out: Vec<Count> = Vec::new();
        store.read(&mut out).unwrap();
        out
    };
    assert!(matches!(
        nodes[0].reserve(1, CAT, &ann),
        Ok(Reservation::Accepted { .. })
    ));
    let held = counts(&store);
    for (i, c) in held.iter().enumerate() {
        let on_path = i == 0 || path.contains(&(i - 1));
        assert_eq!(c.pending, u32::from(on_path), "counter {i}");
    }
    // The other node completes the hold, along the path.
    assert_eq!(nodes[1].complete(1, CAT), Ok(Completion::Completed));
    // The leaf full on one node: the other node's hold takes nothing.
    nodes[0].set_cell_max(path[2], 1).unwrap();
    nodes[1].sync().unwrap();
    assert_eq!(
        nodes[1].reserve(2, CAT, &ann),
        Ok(Reservation::Full {
            cell: Some(path[2])
        })
    );
    assert!(counts(&store).iter().all(|c| c.pending == 0));

    // Racing threads on both nodes, every path of the tree.
    let start = Barrier::new(4);
    let people: Vec<Answers> = ["north", "central", "south"]
        .iter()
        .flat_map(|r| ["female", "male"].map(move |g| (*r, g)))
        .flat_map(|(r, g)| ["18-34", "35-54", "55+"].map(move |a| (r, g, a)))
        .map(|(r, g, a)| answers(&schema, &[("region", r), ("gender", g), ("age", a)]))
        .collect();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (e, start, people) = (&nodes[t as usize % 2], &start, &people);
            s.spawn(move || {
                start.wait();
                for i in 0..300u64 {
                    let who = 1_000 + t * 10_000 + i;
                    let a = &people[(i * 7 + t) as usize % people.len()];
                    if let Ok(Reservation::Accepted { .. }) = e.reserve(who, CAT, a) {
                        if i % 4 == 0 {
                            e.abandon(who).unwrap();
                        } else {
                            e.complete(who, CAT).unwrap();
                        }
                    }
                    if i % 40 == 0 {
                        e.sync().unwrap();
                    }
                }
            });
        }
    });
    let end = counts(&store);
    for (i, c) in end.iter().enumerate() {
        assert!(c.completed <= c.max, "counter {i} overfilled: {c:?}");
        assert_eq!(c.pending, 0, "counter {i}");
    }
    // The race was tight: 1,200 respondents closed every branch (an age node is full, or a
    // node above it is: southern respondents of 55+ fill the southern gender nodes too).
    let cells = &catalogue.categories()[0].cells;
    for leaf in (0..cells.len()).filter(|&i| !cells.iter().any(|c| c.parent == Some(i))) {
        let mut at = Some(leaf);
        let mut closed = false;
        while let Some(i) = at {
            closed |= end[1 + i].completed == end[1 + i].max;
            at = cells[i].parent;
        }
        assert!(closed, "the branch of leaf {leaf} is still open: {end:?}");
    }
    let mut buffers = [LiveQueryBuffer::new(), LiveQueryBuffer::new()];
    let region = schema.question("region").unwrap();
    let mut answers_of = Vec::new();
    for (e, buffer) in nodes.iter().zip(&mut buffers) {
        e.sync().unwrap();
        assert_eq!(e.overfill(), 0);
        let q = Query::new(region);
        answers_of.push(
            e.quota_query(CAT, QuotaMethod::List, &q, None, Counting::Taken, buffer)
                .unwrap()
                .to_vec(),
        );
    }
    // Both nodes' mirrors are the store's counts, so they answer alike.
    assert_eq!(answers_of[0], answers_of[1]);
}
