//! Routing with quota trees allocates nothing: the bundled catalogue with region × gender ×
//! age min/max trees on every third category, every policy of the default comparison and
//! `balanced`, through the live engine (offers, answers that take a slot on every node of the
//! respondent's path, completes and abandons), after warm-up.

use quotaroute::live::{Answer, Engine, LiveConfig, ManualClock, Reservation, Timestamp, Worker};
use quotaroute::route::{PolicyOptions, policies};
use quotaroute::schema::{Answers, Respondent};
use quotaroute::sim::{Supply, run_rng};
use rand::RngExt;

use crate::counting_alloc;
use crate::interlocked::bundled_with_trees;

#[test]
fn routing_with_quota_trees_allocates_nothing() {
    let catalogue = bundled_with_trees();
    assert_eq!(catalogue.cell_count(), 26 * 27);
    let supply = Supply::new(catalogue.schema());
    let names = policies()
        .iter()
        .filter(|p| p.in_default_comparison || p.name == "balanced");
    for info in names {
        let name = info.name;
        let clock = ManualClock::new(Timestamp(0));
        let engine = Engine::new(
            catalogue.clone(),
            info.build(&PolicyOptions::default()),
            &clock,
            LiveConfig::default(),
        )
        .unwrap();
        let mut worker = Worker::new(1);
        let mut rng = run_rng(5, 0);
        let mut answers = Answers::unknown(catalogue.schema());
        let mut session = engine.start(&mut worker, Respondent::new(0, answers.clone()));
        let (mut decisions, mut held) = (0u64, 0u64);
        // The same 300 respondents again and again (forgotten after each interview), each
        // holding at most two slots: the reservation table keeps two per respondent inline
        // and has held every shard's share before the count starts.
        let mut route = |decisions: &mut u64, held: &mut u64| {
            for id in 0..300u64 {
                supply.draw_into(&mut rng, &mut answers);
                engine.restart(&mut worker, &mut session, id, &answers);
                let mut taken = 0;
                while let Some(c) = engine.next_offer(&mut worker, &mut session).unwrap() {
                    *decisions += 1;
                    let qualified = taken < 2 && rng.random_bool(catalogue.incidence(c));
                    let answer = engine
                        .answer(&mut worker, &mut session, c, qualified)
                        .unwrap();
                    if let Answer::Reserved(Reservation::Accepted { .. }) = answer {
                        taken += 1;
                        *held += 1;
                        // Most complete; some walk away and give every node back.
                        if rng.random_bool(0.9) {
                            engine.complete(id, c).unwrap();
                        } else {
                            engine.abandon_category(id, c).unwrap();
                        }
                    }
                }
                engine.forget(id);
            }
        };
        route(&mut decisions, &mut held);
        let before = counting_alloc::allocations();
        for _ in 0..8 {
            route(&mut decisions, &mut held);
        }
        let allocations = counting_alloc::allocations() - before;
        assert!(decisions > 5_000, "{name}: only {decisions} decisions");
        assert!(held > 500, "{name}: only {held} slots held");
        assert_eq!(engine.overfill(), 0, "{name}");
        assert_eq!(
            allocations, 0,
            "{name}: {allocations} allocations in {decisions} decisions"
        );
    }
}
