//! Min targets steer routing: a respondent in a quota-tree node still below its min makes the
//! category more urgent for them (`MinUrgency`, on by default in every greedy policy), pending
//! slots counting as taken; off, the order is scarcity's alone.

use quotaroute::catalogue::{Catalogue, Category, CategoryId, QuotaCell};
use quotaroute::live::{Engine, LiveConfig, ManualClock, Timestamp, Worker};
use quotaroute::route::{Ask, Greedy, Interview, MinUrgency, Router, RouterState, policy};
use quotaroute::schema::{Answers, Respondent, Rule, Schema};
use quotaroute::state::QuotaState;
use rand::SeedableRng;

/// B is a little scarcer than A (11 against 10 open at the same incidence), but A's female
/// node has a min of 5.
fn catalogue() -> Catalogue {
    let schema = Schema::default_survey();
    let female = Rule::parse(&schema, "gender=female").unwrap();
    let male = Rule::parse(&schema, "gender=male").unwrap();
    Catalogue::new(
        schema,
        vec![
            Category::new("A", "Product A", 0.5, 60.0)
                .with_target(10)
                .with_cell(QuotaCell::new("women", female, 10).with_min(5))
                .with_cell(QuotaCell::new("men", male, 10)),
            Category::new("B", "Product B", 0.5, 60.0).with_target(11),
        ],
    )
    .unwrap()
}

fn first_offer(
    catalogue: &Catalogue,
    router: &dyn Router,
    quotas: &QuotaState,
    gender: &str,
) -> Option<CategoryId> {
    let answers = Answers::from_names(catalogue.schema(), [("gender", gender)]).unwrap();
    crate::first_offer(catalogue, router, quotas, &answers)
}

#[test]
fn a_node_below_its_min_changes_the_order_of_offers() {
    let catalogue = catalogue();
    let (a, b) = (catalogue.find("A").unwrap(), catalogue.find("B").unwrap());
    let quotas = QuotaState::new(&catalogue);
    let steered = Greedy::scarcity();
    let plain = Greedy::scarcity().with_min_urgency(MinUrgency::off());
    // A woman falls in A's node below its min: A first. A man does not: B, the scarcer.
    assert_eq!(
        first_offer(&catalogue, &steered, &quotas, "female"),
        Some(a)
    );
    assert_eq!(first_offer(&catalogue, &steered, &quotas, "male"), Some(b));
    // Ignoring mins, both go to B.
    assert_eq!(first_offer(&catalogue, &plain, &quotas, "female"), Some(b));
    // Every policy of the greedy family built by name steers.
    for name in ["greedy", "seed-greedy", "packing", "paced"] {
        let router = policy(name).unwrap();
        let explained = {
            let answers = Answers::from_names(catalogue.schema(), [("gender", "female")]).unwrap();
            let respondent = Respondent::new(1, answers);
            let mut interview = Interview::new();
            interview.begin(&catalogue, &respondent.answers, 480.0, None);
            let ask = Ask {
                catalogue: &catalogue,
                respondent: &respondent,
                interview: &interview,
                quotas: quotas.view(),
            };
            router.explain(&ask, &mut RouterState::default())
        };
        let a_factors = &explained
            .candidates
            .iter()
            .find(|c| c.category == a)
            .unwrap()
            .factors;
        if name != "seed-greedy" {
            assert_eq!(
                first_offer(&catalogue, router.as_ref(), &quotas, "female"),
                Some(a),
                "{name}"
            );
        }
        if name.ends_with("greedy") {
            assert!(
                a_factors
                    .iter()
                    .any(|(f, v)| f == "min_urgency" && *v == 4.0),
                "{name}: {a_factors:?}"
            );
        }
    }
}

#[test]
fn pending_slots_count_toward_the_min_and_a_met_min_stops_steering() {
    let catalogue = catalogue();
    let (a, b) = (catalogue.find("A").unwrap(), catalogue.find("B").unwrap());
    let quotas = QuotaState::new(&catalogue);
    let steered = Greedy::scarcity();
    // Five women hold slots in A (not completed yet): the min is met as routing sees it.
    for _ in 0..5 {
        quotas.try_reserve(a).unwrap();
        assert!(quotas.try_reserve_cell(0));
    }
    assert_eq!(
        first_offer(&catalogue, &steered, &quotas, "female"),
        Some(b)
    );
    // Two of them abandon: 3 of 5 taken, A pulls again (5 open in A ×(1 + 3·2/5) > 11 in B).
    for _ in 0..2 {
        quotas.release_cell(0);
        quotas.release(a);
    }
    assert_eq!(
        first_offer(&catalogue, &steered, &quotas, "female"),
        Some(a)
    );
}

#[test]
fn the_live_engine_routes_by_mins_on_its_live_counts() {
    let catalogue = catalogue();
    let (a, b) = (catalogue.find("A").unwrap(), catalogue.find("B").unwrap());
    let clock = ManualClock::new(Timestamp(0));
    let engine = Engine::new(catalogue, Greedy::scarcity(), &clock, LiveConfig::default()).unwrap();
    let mut worker = Worker::new(1);
    let schema = engine.catalogue().schema().clone();
    let woman = |id: u64| {
        Respondent::new(
            id,
            Answers::from_names(&schema, [("gender", "female")]).unwrap(),
        )
    };
    let mut first = engine.start(&mut worker, woman(1));
    assert_eq!(engine.next_offer(&mut worker, &mut first).unwrap(), Some(a));
    // Women complete A; the pull fades as its node fills: with 4 of 5 taken, A's 6 open slots
    // × (1 + 3 · 1/5) fall below B's 11 and the next woman is offered B first.
    for id in 10..14 {
        let mut s = engine.start(&mut worker, woman(id));
        assert_eq!(engine.next_offer(&mut worker, &mut s).unwrap(), Some(a));
        engine.answer(&mut worker, &mut s, a, true).unwrap();
        engine.complete(id, a).unwrap();
    }
    let mut later = engine.start(&mut worker, woman(2));
    assert_eq!(engine.next_offer(&mut worker, &mut later).unwrap(), Some(b));
}

/// The greedy walk keeps categories ordered by a bound on their priority; a node whose count
/// falls (a held slot given back) raises its category's min urgency, and the walk must see it
/// at once, as a full scan does.
#[test]
fn a_slot_given_back_in_a_node_below_its_min_is_seen_by_the_next_decision() {
    let catalogue = catalogue();
    let (a, b) = (catalogue.find("A").unwrap(), catalogue.find("B").unwrap());
    let quotas = QuotaState::new(&catalogue);
    let router = Greedy::scarcity();
    let answers = Answers::from_names(catalogue.schema(), [("gender", "female")]).unwrap();
    let respondent = Respondent::new(1, answers);
    let mut rs = RouterState::default();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
    let mut decide = |quotas: &QuotaState, rs: &mut RouterState| {
        let mut interview = Interview::new();
        interview.begin(&catalogue, &respondent.answers, 480.0, None);
        interview.refresh_cells(&quotas.view());
        let ask = Ask {
            catalogue: &catalogue,
            respondent: &respondent,
            interview: &interview,
            quotas: quotas.view(),
        };
        router.next_offer(&ask, rs, &mut rng)
    };
    // Five women hold slots in A's node: its min is met, B goes first (and the walk's order
    // is built on these counts).
    for _ in 0..5 {
        assert!(quotas.try_reserve_cell(0));
    }
    assert_eq!(decide(&quotas, &mut rs), Some(b));
    // All five give their node slots back: A's node has nothing toward its min again.
    for _ in 0..5 {
        assert!(quotas.release_cell(0));
    }
    assert_eq!(decide(&quotas, &mut rs), Some(a));
}
