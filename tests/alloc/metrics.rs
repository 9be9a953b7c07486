//! With feature `metrics` and a recorder installed, the live engine's decisions (offers,
//! answers, holds, completes, abandons, refused holds, expiry sweeps) still allocate nothing,
//! and every counter and histogram moves with them.

use std::sync::atomic::{AtomicU64, Ordering};

use quotaroute::catalogue::{Catalogue, Category, QuotaCell};
use quotaroute::live::metrics as names;
use quotaroute::live::{
    Answer, Completion, Engine, LiveConfig, ManualClock, Reservation, Timestamp, Worker,
};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Respondent, Rule, Schema};

use crate::counting_alloc;
use crate::test_recorder::TestRecorder;

/// What the test itself counted, to compare with the recorder.
#[derive(Default)]
struct Seen {
    offers: AtomicU64,
    answers: [AtomicU64; 2],
    holds: AtomicU64,
    completes: AtomicU64,
    abandons: AtomicU64,
    refused: AtomicU64,
    expired: AtomicU64,
}

fn bump(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

#[test]
fn decisions_with_a_recorder_allocate_nothing_and_move_the_metrics() {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let female = schema.response(g, "female").unwrap();
    let mut categories: Vec<Category> = (0..40)
        .map(|i| {
            Category::new(
                format!("cat-{i}"),
                "C",
                0.1 + (i % 8) as f64 * 0.1,
                30.0 + i as f64,
            )
            .with_target(100_000)
            .with_cell(QuotaCell::new("f", Rule::one_of(g, [female]), 50_000))
        })
        .collect();
    // Filled at once, then every reservation in it is refused.
    categories.push(Category::new("tiny", "Tiny", 0.5, 30.0).with_target(1));
    let catalogue = Catalogue::new(schema.clone(), categories).unwrap();
    let clock = ManualClock::new(Timestamp(0));
    let config = LiveConfig {
        ttl_ms: 1_000,
        ..LiveConfig::default()
    };
    let recorder = TestRecorder::default();
    // The handles are registered while the engine is built: a recorder installed for this
    // thread then is what they record into, whatever other tests of the binary install.
    let e = metrics::with_local_recorder(&recorder, || {
        Engine::new(catalogue, Greedy::scarcity(), &clock, config).unwrap()
    });
    let tiny = e.catalogue().find("tiny").unwrap();
    let people = [
        Answers::from_names(&schema, [("gender", "female"), ("age", "18-34")]).unwrap(),
        Answers::from_names(&schema, [("gender", "male")]).unwrap(),
        Answers::unknown(&schema),
    ];
    assert_eq!(
        e.reserve(u64::MAX, tiny, &people[2]).unwrap(),
        Reservation::Accepted {
            deadline: Timestamp(1_000)
        }
    );
    assert_eq!(e.complete(u64::MAX, tiny).unwrap(), Completion::Completed);
    let mut worker = Worker::new(1);
    let mut session = e.start(&mut worker, Respondent::new(0, people[0].clone()));
    let seen = Seen::default();
    // The same ids in warm-up and measurement, so the reservation table's shards have grown
    // to what the measured pass needs.
    let mut route = |ids: std::ops::Range<u64>| {
        for id in ids {
            let answers = &people[(id % 3) as usize];
            e.restart(&mut worker, &mut session, id, answers);
            // At most two qualified answers each: the reservation table keeps two slots per
            // respondent inline, and a third spills to the heap, metrics or not.
            let mut qualifiers = 0;
            while let Some(c) = e.next_offer(&mut worker, &mut session).unwrap() {
                bump(&seen.offers, 1);
                let qualified = (id + c.index() as u64).is_multiple_of(3) && qualifiers < 2;
                qualifiers += u32::from(qualified);
                bump(&seen.answers[usize::from(!qualified)], 1);
                match e.answer(&mut worker, &mut session, c, qualified).unwrap() {
                    Answer::Reserved(Reservation::Accepted { .. }) => {
                        bump(&seen.holds, 1);
                        match id % 4 {
                            0 => {
                                assert_eq!(e.complete(id, c).unwrap(), Completion::Completed);
                                bump(&seen.completes, 1);
                            }
                            1 => {
                                assert!(e.abandon_category(id, c).unwrap());
                                bump(&seen.abandons, 1);
                            }
                            // Left to expire.
                            _ => {}
                        }
                    }
                    Answer::Reserved(other) => panic!("respondent {id}: {other:?}"),
                    Answer::NotQualified => {}
                }
            }
            if let Reservation::Full { cell: None } = e.reserve(id, tiny, answers).unwrap() {
                bump(&seen.refused, 1);
            }
            // Completes are forgotten so the table does not grow between the passes.
            e.forget(id);
            if id % 10 == 9 {
                clock.advance(1_000);
                bump(&seen.expired, e.expire().unwrap());
                e.publish_metrics();
            }
        }
    };
    route(0..200);
    let before = counting_alloc::allocations();
    let stats_before = e.stats();
    let recorded_before = recorder.total(names::OFFERS);
    route(0..200);
    let allocations = counting_alloc::allocations() - before;
    assert_eq!(allocations, 0, "{allocations} allocations with a recorder");

    // The measured pass did something of every kind...
    let stats = e.stats();
    assert!(stats.shown - stats_before.shown > 1_000);
    for (what, n) in [
        ("holds", stats.accepted - stats_before.accepted),
        ("completes", stats.completed - stats_before.completed),
        ("abandons", stats.abandoned - stats_before.abandoned),
        ("expiries", stats.expired - stats_before.expired),
        ("refused", stats.refused - stats_before.refused),
    ] {
        assert!(n > 10, "only {n} {what} in the measured pass");
    }
    assert!(recorder.total(names::OFFERS) > recorded_before);
    // ...and each counter says exactly what happened (the tiny category's first hold and
    // complete included).
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    for (name, expected, stat) in [
        (names::OFFERS, load(&seen.offers), stats.shown),
        (names::HOLDS, load(&seen.holds) + 1, stats.accepted),
        (names::COMPLETES, load(&seen.completes) + 1, stats.completed),
        (names::ABANDONS, load(&seen.abandons), stats.abandoned),
        (names::HOLDS_REFUSED, load(&seen.refused), stats.refused),
        (names::EXPIRIES, load(&seen.expired), stats.expired),
    ] {
        assert_eq!(recorder.total(name), expected, "{name}");
        assert_eq!(recorder.total(name), stat, "{name} against LiveStats");
    }
    assert_eq!(
        recorder.total(&format!("{}{{outcome=qualified}}", names::ANSWERS)),
        load(&seen.answers[0])
    );
    assert_eq!(
        recorder.total(&format!("{}{{outcome=not_qualified}}", names::ANSWERS)),
        load(&seen.answers[1])
    );
    // One decision timed per next_offer call: one per offer and one `None` per respondent.
    let decisions = recorder.get(names::DECISION_SECONDS).unwrap();
    assert_eq!(decisions.records(), load(&seen.offers) + 400);
    assert!(decisions.sum() >= 0.0);
    // The gauges, by the catalogue's category id, as the engine sees them.
    e.publish_metrics();
    let view = e.quotas().view();
    for key in ["cat-0", "cat-7", "tiny"] {
        let c = e.catalogue().find(key).unwrap();
        let gauge = recorder
            .get(&format!("{}{{category={key}}}", names::OPEN_SLOTS))
            .unwrap();
        assert_eq!(gauge.value(), f64::from(view.open_slots(c)), "{key}");
    }
    assert_eq!(view.open_slots(tiny), 0);
    assert!(recorder.described().iter().any(|n| n == names::OPEN_SLOTS));
}
