//! The decision path allocates nothing: a counting global allocator watches a whole month of
//! respondents routed after warm-up, categories closing on the way. (Counted on the test's own
//! thread.)

use quotaroute::catalogue::Catalogue;
use quotaroute::route::{Ask, Interview, RouterState, policy};
use quotaroute::schema::{Answers, Respondent, Schema};
use quotaroute::sim::{Supply, run_rng};
use quotaroute::state::QuotaState;
use rand::RngExt;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[test]
fn routing_allocates_nothing_after_warm_up() {
    let text = include_str!("../examples/data/fake_category_data.csv");
    let catalogue = Catalogue::from_csv(Schema::default_survey(), text).unwrap();
    let supply = Supply::new(catalogue.schema());
    for name in ["greedy", "seed-greedy", "random", "packing", "paced"] {
        let router = policy(name).unwrap();
        let mut state = QuotaState::new(&catalogue);
        let mut interview = Interview::new();
        let mut rs = RouterState::default();
        let mut rng = run_rng(3, 0);
        let mut respondent = Respondent::new(0, Answers::unknown(catalogue.schema()));
        let mut decisions = 0u64;
        let mut route = |n: u64, decisions: &mut u64, closes: &mut u32| {
            respondent.id = n;
            supply.draw_into(&mut rng, &mut respondent.answers);
            interview.begin(&catalogue, &respondent.answers, 480.0, None);
            loop {
                let ask = Ask {
                    catalogue: &catalogue,
                    respondent: &respondent,
                    interview: &interview,
                    quotas: state.view(),
                };
                let Some(c) = router.next_offer(&ask, &mut rs, &mut rng) else {
                    break;
                };
                *decisions += 1;
                state.record_shown(c, &respondent.answers);
                interview.record_shown(&catalogue, c);
                let qualified = rng.random_bool(catalogue.incidence(c));
                let mut closed = false;
                if qualified && state.complete(c).is_ok() {
                    interview.record_complete(&catalogue, c);
                    closed = !state.view().is_open(c);
                }
                let ask = Ask {
                    catalogue: &catalogue,
                    respondent: &respondent,
                    interview: &interview,
                    quotas: state.view(),
                };
                router.on_answer(&ask, &mut rs, c, qualified);
                if closed {
                    router.on_close(&catalogue, &mut rs, c);
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
