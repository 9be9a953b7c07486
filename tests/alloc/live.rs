//! The live engine's decision path (restart a session, ask for offers, with quota cells;
//! reserve, complete and abandon, with respondents keyed by UUIDs) allocates nothing after
//! warm-up, nor do live quota queries once their buffer is warm: a counting global allocator
//! watches it.

use crate::counting_alloc;

use quotaroute::catalogue::{Catalogue, Category, QuotaCell};
use quotaroute::live::{
    Answer, Completion, Engine, LiveConfig, ManualClock, Reservation, Timestamp, Worker,
};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Respondent, RespondentId, Rule, Schema};

#[test]
fn routing_through_the_engine_allocates_nothing() {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let female = schema.response(g, "female").unwrap();
    let categories = (0..200)
        .map(|i| {
            Category::new(
                format!("c{i}"),
                "C",
                0.05 + (i % 10) as f64 * 0.05,
                60.0 + i as f64,
            )
            .with_cell(QuotaCell::new("f", Rule::one_of(g, [female]), 50))
        })
        .collect();
    let catalogue = Catalogue::new(schema.clone(), categories).unwrap();
    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(catalogue, Greedy::scarcity(), &clock, LiveConfig::default()).unwrap();
    let mut worker = Worker::new(1);
    let people = [
        Answers::from_names(&schema, [("gender", "female"), ("age", "18-34")]).unwrap(),
        Answers::from_names(&schema, [("gender", "male")]).unwrap(),
        Answers::unknown(&schema),
    ];
    let mut session = e.start(&mut worker, Respondent::new(0, people[0].clone()));
    let mut offers = 0u64;
    let mut route = |from: u64, n: u64, offers: &mut u64| {
        for id in from..from + n {
            e.restart(&mut worker, &mut session, id, &people[(id % 3) as usize]);
            while let Some(c) = e.next_offer(&mut worker, &mut session).unwrap() {
                *offers += 1;
                std::hint::black_box(c);
            }
        }
    };
    route(0, 30, &mut offers);
    let before = counting_alloc::allocations();
    route(30, 300, &mut offers);
    assert_eq!(counting_alloc::allocations() - before, 0);
    assert!(offers > 300);
}

/// Respondents keyed by the platform's UUIDs: routed, holding slots (in categories and
/// cells), completing and abandoning them, without an allocation once the tables have grown:
/// the measured fieldwork is a second one with the same 300 respondents (forgotten after the
/// first), so that every shard of the reservation table they fall in has held someone before.
/// Each holds at most two slots at once: the table keeps two per respondent inline, and a
/// third spills to the heap.
#[test]
fn reserving_completing_and_abandoning_by_uuid_allocates_nothing() {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let female = schema.response(g, "female").unwrap();
    let categories = (0..20)
        .map(|i| {
            Category::new(format!("c{i}"), "C", 0.5, 30.0)
                .with_target(100_000)
                .with_cell(QuotaCell::new("f", Rule::one_of(g, [female]), 100_000))
        })
        .collect();
    let catalogue = Catalogue::new(schema.clone(), categories).unwrap();
    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(catalogue, Greedy::scarcity(), &clock, LiveConfig::default()).unwrap();
    let mut worker = Worker::new(1);
    let people = [
        Answers::from_names(&schema, [("gender", "female"), ("age", "18-34")]).unwrap(),
        Answers::from_names(&schema, [("gender", "male")]).unwrap(),
        Answers::unknown(&schema),
    ];
    // Made before counting: formatting allocates, ids do not.
    let ids: Vec<RespondentId> = (0..300u32)
        .map(|i| RespondentId::key(&format!("{i:08x}-6d4a-4e9b-8f7c-2a1d5e6b9c03")).unwrap())
        .collect();
    let mut session = e.start(&mut worker, Respondent::new(ids[0], people[0].clone()));
    let mut run = |ids: &[RespondentId], held: &mut u64| {
        for (n, &id) in ids.iter().enumerate() {
            e.restart(&mut worker, &mut session, id, &people[n % 3]);
            let mut taken = 0;
            while let Some(c) = e.next_offer(&mut worker, &mut session).unwrap() {
                let qualified = n % 2 == 0 && taken < 2;
                let answer = e.answer(&mut worker, &mut session, c, qualified).unwrap();
                if let Answer::Reserved(Reservation::Accepted { .. }) = answer {
                    taken += 1;
                    *held += 1;
                    if n % 4 == 0 {
                        assert_eq!(e.complete(id, c).unwrap(), Completion::Completed);
                    }
                }
            }
            e.abandon(id).unwrap();
            e.forget(id);
        }
    };
    let mut held = 0;
    run(&ids, &mut held);
    let before = counting_alloc::allocations();
    held = 0;
    run(&ids, &mut held);
    assert_eq!(counting_alloc::allocations() - before, 0);
    assert_eq!(held, 300, "two slots for each of the 150 who qualify");
}

/// A dashboard's live quota queries on a tree whose counts move between them allocate nothing
/// once the buffer has seen the category.
#[test]
fn live_quota_queries_allocate_nothing_once_warm() {
    use quotaroute::live::{Counting, LiveQueryBuffer};
    use quotaroute::quota::{NodeSpec, Query, QuotaMethod, QuotaTree};

    let schema = Schema::default_survey();
    let spec: NodeSpec = serde_json::from_str(
        r#"{"target": 1000, "children": [
            {"question": "gender", "response": "female", "min": 10, "max": 500, "children": [
                {"question": "age", "response": "18-34", "min": 5, "max": 200},
                {"question": "age", "response": "35-54", "min": 5, "max": 200}]},
            {"question": "gender", "response": "male", "min": 10, "max": 500}]}"#,
    )
    .unwrap();
    let tree = QuotaTree::from_spec(schema.clone(), &spec).unwrap();
    let category = Category::new("t", "T", 0.5, 30.0)
        .with_quota_tree(&tree)
        .unwrap();
    let catalogue = Catalogue::new(schema.clone(), vec![category]).unwrap();
    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(catalogue, Greedy::scarcity(), &clock, LiveConfig::default()).unwrap();
    let t = e.catalogue().find("t").unwrap();
    let person = Answers::from_names(&schema, [("gender", "female"), ("age", "35-54")]).unwrap();
    let age = schema.question("age").unwrap();
    let gender = schema.question("gender").unwrap();
    let queries = [
        Query::new(age).given(gender, schema.response(gender, "female").unwrap()),
        Query::new(gender),
    ];
    let mut buffer = LiveQueryBuffer::new();
    // Allocations during the queries only: the reservation table grows as respondents come.
    let mut run = |from: u64| {
        let (mut listed, mut allocated) = (0, 0);
        for who in from..from + 50 {
            assert!(matches!(
                e.reserve(who, t, &person),
                Ok(Reservation::Accepted { .. })
            ));
            if who % 2 == 0 {
                assert_eq!(e.complete(who, t), Ok(Completion::Completed));
            }
            let before = counting_alloc::allocations();
            for query in &queries {
                for method in QuotaMethod::ALL {
                    for counting in [Counting::Completed, Counting::Taken] {
                        listed += e
                            .quota_query(t, method, query, Some(&person), counting, &mut buffer)
                            .unwrap()
                            .len();
                    }
                }
            }
            allocated += counting_alloc::allocations() - before;
        }
        (listed, allocated)
    };
    run(0);
    let (listed, allocated) = run(1_000);
    assert_eq!(allocated, 0);
    assert!(listed > 0);
}
