//! Properties every built-in policy keeps, over generated catalogues, respondents and quota
//! states (the strategies are the ones the crate exports under the `proptest` feature).

use proptest::prelude::*;
use quotaroute::route::{Ask, Greedy, Interview, Router, RouterState, policy, policy_names};
use quotaroute::sim::{Settings, monte_carlo};
use quotaroute::testing::{self, Fieldwork};
use rand::SeedableRng;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..crate::support::config() })]

    /// Never an ineligible, closed, already-shown or non-fitting category; never past the
    /// budget or the qualifier cap; no quota overfilled; `None` only when nothing is offerable.
    #[test]
    fn every_policy_keeps_the_rules(fieldwork in testing::fieldwork(24), seed in any::<u64>()) {
        for name in policy_names() {
            let router = policy(name).unwrap();
            testing::route_checked(&fieldwork, router.as_ref(), seed)
                .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
        }
    }

    /// The bound-ordered walk makes exactly the decision a full scan makes (the explanation
    /// scores every category), also when the cached order is stale: completes not reported
    /// through `on_answer`, and completes by other respondents (other threads) between
    /// decisions.
    #[test]
    fn greedy_walk_equals_full_scan(fieldwork in testing::fieldwork(40), report_answers in any::<bool>(), others in prop::collection::vec(any::<prop::sample::Index>(), 0..60), seed in any::<u64>()) {
        for router in [Box::new(Greedy::scarcity()) as Box<dyn Router>, policy("seed-greedy").unwrap(), policy("seed-greedy-squared").unwrap()] {
            let catalogue = &fieldwork.catalogue;
            let mut state = fieldwork.state();
            let mut interview = Interview::new();
            let mut rs = RouterState::default();
            let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
            interview.begin(catalogue, &fieldwork.respondent.answers, fieldwork.budget, fieldwork.max_qualifiers);
            // Build the cached order before any complete, so later completes make it stale.
            let ask = Ask { catalogue, respondent: &fieldwork.respondent, interview: &interview, quotas: state.view() };
            let _ = router.next_offer(&ask, &mut rs, &mut rng);
            let mut others = others.iter();
            loop {
                // Another respondent completes some category in the meantime, and others take
                // or give back slots in quota cells (moving mins, so min steering's bounds).
                for _ in 0..2 {
                    if let Some(i) = others.next() {
                        let _ = state.complete(quotaroute::catalogue::CategoryId::from_index(i.index(catalogue.len())));
                        if catalogue.has_cells() {
                            let cell = i.index(catalogue.cell_count());
                            if i.index(3) == 0 { state.release_cell(cell); } else { state.try_reserve_cell(cell); }
                        }
                    }
                }
                // Full quota cells are held back before each decision, as a turn does.
                interview.refresh_cells(&state.view());
                let ask = Ask { catalogue, respondent: &fieldwork.respondent, interview: &interview, quotas: state.view() };
                let offer = router.next_offer(&ask, &mut rs, &mut rng);
                let scan = router.explain(&ask, &mut RouterState::default()).chosen;
                prop_assert_eq!(offer, scan, "{}", router.name());
                let Some(c) = offer else { break };
                state.record_shown(c, &fieldwork.respondent.answers);
                interview.record_shown(catalogue, c);
                let qualified = rand::RngExt::random_bool(&mut rng, 0.5);
                if qualified {
                    state.complete(c).unwrap();
                    interview.record_complete(catalogue, c);
                }
                if report_answers {
                    let ask = Ask { catalogue, respondent: &fieldwork.respondent, interview: &interview, quotas: state.view() };
                    router.on_answer(&ask, &mut rs, c, qualified);
                }
            }
        }
    }

    /// `packing`'s shortcut (stop at the scarcest candidate when its waste is within tolerance
    /// of a bound on any category's) makes the decision its full rule makes; `paced` explains
    /// the decision it makes.
    #[test]
    fn packing_shortcut_equals_its_full_rule(fieldwork in testing::fieldwork(30), free in any::<bool>(), paced in any::<bool>(), seed in any::<u64>()) {
        let router = policy(if paced { "paced" } else { "packing" }).unwrap();
        // Free, uncapped qualifiers use the ordered table (and its shortcut); others the max table.
        let fieldwork = if free { free_qualifiers(fieldwork) } else { fieldwork };
        let catalogue = &fieldwork.catalogue;
        let mut state = fieldwork.state();
        let mut interview = Interview::new();
        let mut rs = RouterState::default();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        interview.begin(catalogue, &fieldwork.respondent.answers, fieldwork.budget, fieldwork.max_qualifiers);
        loop {
            interview.refresh_cells(&state.view());
            let ask = Ask { catalogue, respondent: &fieldwork.respondent, interview: &interview, quotas: state.view() };
            // The same state, so both see the same table (it is rebuilt only after a few closes).
            let full_rule = router.explain(&ask, &mut rs).chosen;
            let offer = router.next_offer(&ask, &mut rs, &mut rng);
            prop_assert_eq!(offer, full_rule);
            let Some(c) = offer else { break };
            state.record_shown(c, &fieldwork.respondent.answers);
            interview.record_shown(catalogue, c);
            let qualified = rand::RngExt::random_bool(&mut rng, catalogue.incidence(c));
            if qualified {
                state.complete(c).unwrap();
                interview.record_complete(catalogue, c);
            }
            let ask = Ask { catalogue, respondent: &fieldwork.respondent, interview: &interview, quotas: state.view() };
            router.on_answer(&ask, &mut rs, c, qualified);
        }
    }

    /// The explanation accounts for every category exactly once, and its exclusions are the
    /// true reasons.
    #[test]
    fn explanations_cover_every_category(fieldwork in testing::fieldwork(24)) {
        let catalogue = &fieldwork.catalogue;
        let state = fieldwork.state();
        let mut interview = Interview::new();
        interview.begin(catalogue, &fieldwork.respondent.answers, fieldwork.budget, fieldwork.max_qualifiers);
        let ask = Ask { catalogue, respondent: &fieldwork.respondent, interview: &interview, quotas: state.view() };
        for name in policy_names() {
            let e = policy(name).unwrap().explain(&ask, &mut RouterState::default());
            prop_assert_eq!(e.candidates.len() + e.excluded.len(), catalogue.len());
            for (c, why) in &e.excluded {
                prop_assert_eq!(ask.exclusion(*c), Some(*why));
            }
            for cand in &e.candidates {
                prop_assert!(ask.is_offerable(cand.category));
            }
            prop_assert!(e.candidates.windows(2).all(|w| w[0].priority >= w[1].priority));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..crate::support::config() })]

    /// Whole simulations: every run either fills every quota exactly or hits the limit; no
    /// respondent passes the cap; the same seed gives the same result whatever the threads.
    #[test]
    fn simulations_are_deterministic_and_never_overfill(catalogue in testing::catalogues(8), seed in any::<u64>()) {
        let settings = Settings { runs: 3, seed, max_respondents: Some(3_000), threads: Some(1), ..Settings::default() };
        for name in ["greedy", "random"] {
            let router = policy(name).unwrap();
            let one = monte_carlo(&catalogue, router.as_ref(), &settings, &|_| {}).unwrap();
            let two = monte_carlo(&catalogue, router.as_ref(), &Settings { threads: Some(2), ..settings.clone() }, &|_| {}).unwrap();
            prop_assert_eq!(&one, &two);
            prop_assert!(one.max_seconds <= settings.hard_cap + 1e-9);
            for run in 0..settings.runs {
                let r = quotaroute::sim::run_once(&catalogue, router.as_ref(), &settings, run).unwrap();
                for (c, done) in r.completes.iter().enumerate() {
                    let target = catalogue.categories()[c].target;
                    prop_assert!(*done <= target);
                    if r.filled {
                        prop_assert_eq!(*done, target);
                    }
                }
            }
        }
    }
}

fn free_qualifiers(mut fieldwork: Fieldwork) -> Fieldwork {
    let categories = fieldwork
        .catalogue
        .categories()
        .iter()
        .cloned()
        .map(|c| c.with_qualifier_seconds(0.0))
        .collect();
    fieldwork.catalogue =
        quotaroute::catalogue::Catalogue::new(fieldwork.catalogue.schema().clone(), categories)
            .unwrap();
    fieldwork.max_qualifiers = None;
    fieldwork
}

#[test]
fn fieldwork_strategy_is_usable_directly() {
    // The exported type is plain data a user can build by hand.
    let catalogue = quotaroute::catalogue::Catalogue::new(
        quotaroute::schema::Schema::default_survey(),
        vec![quotaroute::catalogue::Category::new("a", "A", 0.5, 100.0)],
    )
    .unwrap();
    let fieldwork = Fieldwork {
        respondent: quotaroute::schema::Respondent::new(
            1,
            quotaroute::schema::Answers::unknown(catalogue.schema()),
        ),
        completes: vec![200],
        catalogue,
        budget: 480.0,
        max_qualifiers: None,
    };
    // The only category is full: every policy offers nothing.
    for name in policy_names() {
        testing::route_checked(&fieldwork, policy(name).unwrap().as_ref(), 1).unwrap();
    }
}
