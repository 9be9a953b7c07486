//! Reservations near a full quota (late arrivals refused, a timeout freeing a slot, three
//! arrivals racing for the last one), threads racing for the last slots, and snapshots taken
//! while threads route.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, Ordering};

use quotaroute::catalogue::{Catalogue, Category, CategoryId, QuotaCell};
use quotaroute::live::{
    Answer, Completion, Engine, LiveConfig, ManualClock, Reservation, Timestamp, Worker,
};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Respondent, Rule, Schema};
use rand::{RngExt, SeedableRng};

fn one_category(target: u32) -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![Category::new("q", "Quota", 0.5, 60.0).with_target(target)],
    )
    .unwrap()
}

const Q: CategoryId = CategoryId::from_index(0);

fn accepted(r: Reservation) -> bool {
    matches!(r, Reservation::Accepted { .. })
}

/// Max 50 with 47 completed: four arrive, three are accepted and the fourth refused; one
/// times out; another arrives and is accepted; all three complete → 50.
#[test]
fn the_fourth_of_four_arrivals_for_three_slots_is_refused_until_a_timeout() {
    let clock = ManualClock::new(Timestamp(0));
    let config = LiveConfig {
        ttl_ms: 1_000,
        ..LiveConfig::default()
    };
    let e = Engine::new(one_category(50), Greedy::scarcity(), &clock, config).unwrap();
    let nobody = Answers::unknown(e.catalogue().schema());
    for r in 0..47 {
        assert!(accepted(e.reserve(r, Q, &nobody).unwrap()));
        assert_eq!(e.complete(r, Q), Ok(Completion::Completed));
    }
    assert_eq!(e.quotas().view().completed(Q), 47);
    // Four arrive; the first a little earlier than the others.
    assert!(accepted(e.reserve(100, Q, &nobody).unwrap()));
    clock.advance(500);
    assert!(accepted(e.reserve(101, Q, &nobody).unwrap()));
    assert!(accepted(e.reserve(102, Q, &nobody).unwrap()));
    assert_eq!(
        e.reserve(103, Q, &nobody),
        Ok(Reservation::Full { cell: None })
    );
    assert_eq!(e.quotas().view().open_slots(Q), 0);
    // The first times out.
    clock.advance(500);
    assert_eq!(e.expire(), Ok(1));
    assert_eq!(e.complete(100, Q), Ok(Completion::NotReserved));
    // Another arrives and is accepted.
    assert!(accepted(e.reserve(104, Q, &nobody).unwrap()));
    for r in [101, 102, 104] {
        assert_eq!(e.complete(r, Q), Ok(Completion::Completed));
    }
    assert_eq!(e.quotas().view().completed(Q), 50);
    assert_eq!(e.quotas().view().pending(Q), 0);
    let s = e.stats();
    assert_eq!(
        (s.accepted, s.refused, s.expired, s.completed),
        (51, 1, 1, 50)
    );
    assert_eq!(e.overfill(), 0);
}

/// A limit of 20 with 19 done and three arriving together ends at 20, not 22 — with
/// three real threads released by a barrier, many times over.
#[test]
fn three_arrivals_racing_for_the_last_slot_end_at_the_limit() {
    for round in 0..200u64 {
        let clock = ManualClock::new(Timestamp(0));
        let e = Engine::new(
            one_category(20),
            Greedy::scarcity(),
            &clock,
            LiveConfig::default(),
        )
        .unwrap();
        let nobody = Answers::unknown(e.catalogue().schema());
        for r in 0..19 {
            e.reserve(r, Q, &nobody).unwrap();
            e.complete(r, Q).unwrap();
        }
        let barrier = Barrier::new(3);
        let wins: u32 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..3u64)
                .map(|t| {
                    let (e, barrier, nobody) = (&e, &barrier, &nobody);
                    s.spawn(move || {
                        barrier.wait();
                        let r = 1_000 + t;
                        let won = accepted(e.reserve(r, Q, nobody).unwrap());
                        if won {
                            assert_eq!(e.complete(r, Q), Ok(Completion::Completed));
                        }
                        u32::from(won)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(wins, 1, "round {round}");
        assert_eq!(e.quotas().view().completed(Q), 20, "round {round}");
        assert_eq!(e.overfill(), 0);
    }
}

fn busy_catalogue() -> Catalogue {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let female = Rule::one_of(g, [schema.response(g, "female").unwrap()]);
    let male = Rule::one_of(g, [schema.response(g, "male").unwrap()]);
    Catalogue::new(
        schema,
        vec![
            Category::new("a", "A", 0.6, 60.0)
                .with_target(150)
                .with_cell(QuotaCell::new("female", female, 60))
                .with_cell(QuotaCell::new("male", male, 80)),
            Category::new("b", "B", 0.4, 90.0).with_target(120),
            Category::new("c", "C", 0.3, 120.0).with_target(100),
        ],
    )
    .unwrap()
}

/// Snapshots taken while four threads route are each the state after a prefix of whole
/// operations: they restore (which checks that pending slots held, pending counts and
/// accepted − completed − abandoned − expired agree and that no target is passed) and their
/// totals equal the per-category counts.
#[test]
fn snapshots_taken_while_threads_route_are_consistent() {
    let clock = ManualClock::new(Timestamp(0));
    let config = LiveConfig {
        ttl_ms: 300,
        ..LiveConfig::default()
    };
    let e = Engine::new(busy_catalogue(), Greedy::scarcity(), &clock, config).unwrap();
    let done = AtomicBool::new(false);
    let mut snapshots = Vec::new();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..4u64)
            .map(|t| {
                let e = &e;
                let clock = &clock;
                s.spawn(move || {
                    let schema = e.catalogue().schema().clone();
                    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(t);
                    let mut worker = Worker::new(t);
                    let mut session =
                        e.start(&mut worker, Respondent::new(0, Answers::unknown(&schema)));
                    let mut answers = Answers::unknown(&schema);
                    let g = schema.question("gender").unwrap();
                    for i in 0..3_000u64 {
                        let id = t << 32 | i;
                        answers.set(
                            g,
                            schema.response_ids(g).nth(rng.random_range(0..2)).unwrap(),
                        );
                        e.restart(&mut worker, &mut session, id, &answers);
                        while let Some(c) = e.next_offer(&mut worker, &mut session).unwrap() {
                            let qualified = rng.random_bool(e.catalogue().incidence(c));
                            if let Answer::Reserved(Reservation::Accepted { .. }) =
                                e.answer(&mut worker, &mut session, c, qualified).unwrap()
                            {
                                match rng.random_range(0..10) {
                                    0 => {
                                        e.abandon(id).unwrap();
                                    }
                                    1 => {} // walks away: times out
                                    _ => {
                                        e.complete(id, c).unwrap();
                                    }
                                }
                            }
                        }
                        clock.advance(1);
                        if i % 64 == 0 {
                            e.expire().unwrap();
                        }
                    }
                })
            })
            .collect();
        while !workers.iter().all(|w| w.is_finished()) {
            snapshots.push(e.snapshot());
            std::thread::yield_now();
        }
        done.store(true, Ordering::Release);
    });
    snapshots.push(e.snapshot());
    assert!(snapshots.len() >= 2);
    for snap in &snapshots {
        let back = Engine::restore(e.catalogue().clone(), Greedy::scarcity(), &clock, snap)
            .expect("a snapshot taken under load restores");
        assert_eq!(&back.snapshot().held, &snap.held);
        let completed: u64 = snap.quotas.completed.iter().map(|&c| u64::from(c)).sum();
        let qualified: u64 = snap.quotas.qualified.iter().map(|&c| u64::from(c)).sum();
        let shown: u64 = snap.quotas.shown.iter().map(|&c| u64::from(c)).sum();
        assert_eq!(snap.stats.completed, completed);
        assert_eq!(snap.stats.qualified, qualified);
        assert_eq!(snap.stats.shown, shown);
        for (i, cell) in snap.cells.iter().enumerate() {
            assert!(cell.completed + cell.pending <= cell.max, "cell {i}");
        }
    }
    // Later snapshots never have fewer completes than earlier ones.
    for w in snapshots.windows(2) {
        assert!(w[0].stats.completed <= w[1].stats.completed);
    }
    assert_eq!(e.overfill(), 0);
    assert!(done.load(Ordering::Acquire));
}
