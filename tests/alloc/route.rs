//! The decision path allocates nothing: a counting global allocator watches a whole month of
//! respondents routed after warm-up, categories closing on the way. (Counted on the test's own
//! thread.)

use quotaroute::catalogue::Catalogue;
use quotaroute::route::{Interview, Outcome, PolicyOptions, RouterState, Turn, policies};
use quotaroute::schema::{Answers, Respondent, Schema};
use quotaroute::sim::{Supply, run_rng};
use quotaroute::state::QuotaState;
use rand::RngExt;

use crate::counting_alloc;

#[test]
fn routing_allocates_nothing_after_warm_up() {
    let text = include_str!("../../examples/data/fake_category_data.csv");
    let catalogue = Catalogue::from_csv(Schema::default_survey(), text).unwrap();
    let supply = Supply::new(catalogue.schema());
    // Every registered policy; `weighted` keeps a dispatcher stream whose buffers it checks in
    // its own allocation test (tests/route/weighted.rs).
    for info in policies().iter().filter(|p| p.in_default_comparison) {
        let name = info.name;
        let router = info.build(&PolicyOptions::default());
        let mut state = QuotaState::new(&catalogue);
        let mut interview = Interview::new();
        let mut rs = RouterState::default();
        let mut rng = run_rng(3, 0);
        let mut respondent = Respondent::new(0, Answers::unknown(catalogue.schema()));
        let mut decisions = 0u64;
        // Routed through a `Turn`, which records every event: the recording is checked too.
        let mut route = |n: u64, decisions: &mut u64, closes: &mut u32| {
            respondent.id = n.into();
            supply.draw_into(&mut rng, &mut respondent.answers);
            interview.begin(&catalogue, &respondent.answers, 480.0, None);
            let mut turn = Turn::start(
                &catalogue,
                &router,
                &mut rs,
                &respondent,
                &mut interview,
                &state,
            );
            while let Some(c) = turn.offer(&mut state, &mut rng).unwrap() {
                *decisions += 1;
                let outcome = if rng.random_bool(catalogue.incidence(c)) {
                    Outcome::completed(&catalogue, c)
                } else {
                    Outcome::NotQualified
                };
                if turn.answered(&mut state, c, outcome).closed {
                    *closes += 1;
                }
            }
        };
        let mut closes = 0u32;
        route(0, &mut decisions, &mut closes); // warm-up: buffers reach their size
        let before = counting_alloc::allocations();
        // Past the month's N* = 3,491: most categories close on the way.
        for n in 1..=3_600 {
            route(n, &mut decisions, &mut closes);
        }
        let allocations = counting_alloc::allocations() - before;
        assert!(
            decisions > 20_000,
            "{name}: only {decisions} decisions were measured"
        );
        assert!(closes >= 60, "{name}: only {closes} categories closed");
        assert_eq!(
            allocations, 0,
            "{name}: {allocations} allocations in {decisions} decisions"
        );
    }
}
