//! The `weighted` policy: its offers are the dispatcher's stream, shares track the weights as
//! categories close, every offer keeps the rules, and decisions do not allocate.

use proptest::prelude::*;
use quotaroute::catalogue::{Catalogue, Category, CategoryId};
use quotaroute::dispatch::{Dispatcher, LeavePolicy};
use quotaroute::route::{Ask, Interview, Router, RouterState, Weighted};
use quotaroute::schema::{Answers, Respondent, Schema};
use quotaroute::sim::{Supply, run_rng};
use quotaroute::state::QuotaState;
use quotaroute::testing;
use rand::SeedableRng;

use crate::counting_alloc;

fn catalogue(targets: &[u32]) -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        targets
            .iter()
            .enumerate()
            .map(|(i, &t)| {
                Category::new(format!("c{i}"), format!("C{i}"), 0.5, 60.0).with_target(t)
            })
            .collect(),
    )
    .unwrap()
}

/// One decision for a fresh respondent who can take every open category.
fn decide(
    router: &dyn Router,
    catalogue: &Catalogue,
    state: &QuotaState,
    rs: &mut RouterState,
) -> Option<CategoryId> {
    let respondent = Respondent::new(0, Answers::unknown(catalogue.schema()));
    let mut interview = Interview::new();
    interview.begin(catalogue, &respondent.answers, 480.0, Some(1));
    let ask = Ask {
        catalogue,
        respondent: &respondent,
        interview: &interview,
        quotas: state.view(),
    };
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(0);
    router.next_offer(&ask, rs, &mut rng)
}

/// nginx's smooth weighted round robin, peers in order.
fn nginx(weights: &[i64], items: usize) -> Vec<usize> {
    let total: i64 = weights.iter().sum();
    let mut current = vec![0i64; weights.len()];
    (0..items)
        .map(|_| {
            let mut best = 0;
            for i in 0..weights.len() {
                current[i] += weights[i];
                if current[i] > current[best] {
                    best = i;
                }
            }
            current[best] -= total;
            best
        })
        .collect()
}

#[test]
fn offers_are_the_dispatcher_stream_and_nginx_order() {
    let cat = catalogue(&[100_000; 6]);
    let weights = [5.0, 1.0, 3.0, 3.0, 0.5, 7.25];
    let router = Weighted::new(
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| (CategoryId::from_index(i), w)),
    )
    .unwrap();
    let mut d = Dispatcher::from_weights(
        weights.iter().enumerate().map(|(i, &w)| (i, w)),
        LeavePolicy::Forget,
    )
    .unwrap();
    let state = QuotaState::new(&cat);
    let mut rs = RouterState::default();
    for n in 0..20_000 {
        let offer = decide(&router, &cat, &state, &mut rs).unwrap();
        assert_eq!(offer.index(), d.next().unwrap(), "item {n}");
    }

    // Small integer weights (many ties): exactly nginx's order.
    let int_weights = [3i64, 1, 2, 2, 5];
    let cat = catalogue(&[100_000; 5]);
    let router = Weighted::new(
        int_weights
            .iter()
            .enumerate()
            .map(|(i, &w)| (CategoryId::from_index(i), w as f64)),
    )
    .unwrap();
    let state = QuotaState::new(&cat);
    let mut rs = RouterState::default();
    let offers: Vec<usize> = (0..5_000)
        .map(|_| decide(&router, &cat, &state, &mut rs).unwrap().index())
        .collect();
    assert_eq!(offers, nginx(&int_weights, 5_000));

    // By default the weights are the targets.
    let cat = catalogue(&[40, 10, 20]);
    let state = QuotaState::new(&cat);
    let mut rs = RouterState::default();
    let router = Weighted::by_target();
    let offers: Vec<usize> = (0..14)
        .map(|_| decide(&router, &cat, &state, &mut rs).unwrap().index())
        .collect();
    assert_eq!(offers, nginx(&[4, 1, 2], 14));
    // Another router (even with the same configuration) starts its own stream in a shared
    // state.
    let again = decide(&Weighted::by_target(), &cat, &state, &mut rs).unwrap();
    assert_eq!(again.index(), 0);
}

/// Everyone qualifies; categories close one after another. Between two closes, the offers to
/// the categories still open split by their weights within a few items.
fn shares_track_weights(report_closes: bool) {
    let weights = [1.0, 2.0, 3.0, 4.0, 0.5];
    let targets = [60, 400, 300, 5_000, 40];
    let cat = catalogue(&targets);
    let router = Weighted::new(
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| (CategoryId::from_index(i), w)),
    )
    .unwrap();
    let mut state = QuotaState::new(&cat);
    let mut rs = RouterState::default();
    let mut segment = [0u32; 5];
    let mut segments = 0;
    let check = |segment: &[u32; 5], open: &[bool]| {
        let total: u32 = segment.iter().sum();
        let w_open: f64 = (0..5).filter(|&i| open[i]).map(|i| weights[i]).sum();
        for i in 0..5 {
            let ideal = if open[i] {
                f64::from(total) * weights[i] / w_open
            } else {
                0.0
            };
            assert!(
                (f64::from(segment[i]) - ideal).abs() <= 3.0,
                "category {i}: {} offers in a segment of {total}, ideal {ideal:.1} (open {open:?})",
                segment[i]
            );
        }
    };
    loop {
        let open: Vec<bool> = cat.ids().map(|c| state.view().is_open(c)).collect();
        let Some(c) = decide(&router, &cat, &state, &mut rs) else {
            break;
        };
        segment[c.index()] += 1;
        state.complete(c).unwrap();
        if !state.view().is_open(c) {
            check(&segment, &open);
            segments += 1;
            segment = [0; 5];
            if report_closes {
                router.on_close(&cat, &mut rs, c);
            }
        }
    }
    assert_eq!(segments, 5);
    assert!(state.all_full());
}

#[test]
fn long_run_shares_track_weights_as_categories_close() {
    shares_track_weights(false);
    shares_track_weights(true);
}

#[test]
fn decisions_allocate_nothing_after_warm_up() {
    let text = include_str!("../../examples/data/fake_category_data.csv");
    let base = Catalogue::from_csv(Schema::default_survey(), text).unwrap();
    // Large targets: nothing closes, so no re-weighting happens during the count.
    let categories = base
        .categories()
        .iter()
        .cloned()
        .map(|c| c.with_target(1_000_000))
        .collect();
    let catalogue = Catalogue::new(base.schema().clone(), categories).unwrap();
    let supply = Supply::new(catalogue.schema());
    let router = Weighted::by_target().with_lookahead(4);
    let mut state = QuotaState::new(&catalogue);
    let mut interview = Interview::new();
    let mut rs = RouterState::default();
    let mut rng = run_rng(3, 0);
    let mut respondent = Respondent::new(0, Answers::unknown(catalogue.schema()));
    let mut decisions = 0u64;
    let mut route = |n: u64, decisions: &mut u64| {
        respondent.id = n.into();
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
            let qualified = rand::RngExt::random_bool(&mut rng, catalogue.incidence(c));
            if qualified && state.complete(c).is_ok() {
                interview.record_complete(&catalogue, c);
            }
        }
    };
    route(0, &mut decisions);
    let before = counting_alloc::allocations();
    for n in 1..=2_000 {
        route(n, &mut decisions);
    }
    let allocations = counting_alloc::allocations() - before;
    assert!(decisions > 5_000, "only {decisions} decisions");
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {decisions} decisions"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..crate::support::config() })]

    /// With any weights (zeros too) and any lookahead, every offer keeps the rules, and `None`
    /// comes only when nothing is offerable.
    #[test]
    fn weighted_keeps_the_rules(
        fieldwork in testing::fieldwork(16),
        weights in prop::collection::vec(prop_oneof![Just(0.0), 0.0f64..10.0], 0..20),
        lookahead in 1u32..40,
        seed in any::<u64>(),
    ) {
        let by_target = Weighted::by_target().with_lookahead(lookahead);
        testing::route_checked(&fieldwork, &by_target, seed).map_err(TestCaseError::fail)?;
        let explicit = Weighted::new(weights.iter().enumerate().map(|(i, &w)| (CategoryId::from_index(i), w)))
            .unwrap()
            .with_lookahead(lookahead);
        testing::route_checked(&fieldwork, &explicit, seed).map_err(TestCaseError::fail)?;
    }

    /// `explain` names the offer `next_offer` then makes, and leaves the stream as it was.
    #[test]
    fn explain_predicts_the_offer(fieldwork in testing::fieldwork(16), warm in 0usize..30) {
        let catalogue = &fieldwork.catalogue;
        let state = fieldwork.state();
        let router = Weighted::by_target();
        let mut rs = RouterState::default();
        for _ in 0..warm {
            let _ = decide(&router, catalogue, &state, &mut rs);
        }
        let mut interview = Interview::new();
        interview.begin(catalogue, &fieldwork.respondent.answers, fieldwork.budget, fieldwork.max_qualifiers);
        let ask = Ask { catalogue, respondent: &fieldwork.respondent, interview: &interview, quotas: state.view() };
        let e = router.explain(&ask, &mut rs);
        let e2 = router.explain(&ask, &mut rs);
        prop_assert_eq!(e.chosen, e2.chosen);
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(0);
        prop_assert_eq!(router.next_offer(&ask, &mut rs, &mut rng), e.chosen);
    }
}
