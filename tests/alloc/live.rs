//! The live engine's decision path (restart a session, ask for offers, with quota cells)
//! allocates nothing after warm-up: a counting global allocator watches it.

use crate::counting_alloc;

use quotaroute::catalogue::{Catalogue, Category, QuotaCell};
use quotaroute::live::{Engine, LiveConfig, ManualClock, Timestamp, Worker};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Respondent, Rule, Schema};

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
