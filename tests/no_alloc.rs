//! The decision path allocates nothing: a counting global allocator watches thousands of
//! respondents routed after warm-up. (Counted on the test's own thread.)

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
    for name in ["greedy", "seed-greedy", "random"] {
        let router = policy(name).unwrap();
        let mut state = QuotaState::new(&catalogue);
        let mut interview = Interview::new();
        let mut rs = RouterState::default();
        let mut rng = run_rng(3, 0);
        let mut respondent = Respondent::new(0, Answers::unknown(catalogue.schema()));
        let mut decisions = 0u64;
        let mut route = |n: u64, decisions: &mut u64| {
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
                if qualified && state.complete(c).is_ok() {
                    interview.record_complete(&catalogue, c);
                }
                let ask = Ask {
                    catalogue: &catalogue,
                    respondent: &respondent,
                    interview: &interview,
                    quotas: state.view(),
                };
                router.on_answer(&ask, &mut rs, c, qualified);
            }
        };
        route(0, &mut decisions); // warm-up: buffers reach their size
        let before = counting_alloc::allocations();
        for n in 1..=3_000 {
            route(n, &mut decisions);
        }
        let allocations = counting_alloc::allocations() - before;
        assert!(
            decisions > 20_000,
            "{name}: only {decisions} decisions were measured"
        );
        assert_eq!(
            allocations, 0,
            "{name}: {allocations} allocations in {decisions} decisions"
        );
    }
}
