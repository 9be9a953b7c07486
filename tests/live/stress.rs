//! Stress: 8 threads, 100,000 interviews against tight quotas with random abandons and
//! timeouts. Zero overfill, and the engine's counts equal the sum of what each thread saw.

use std::collections::VecDeque;
use std::sync::Barrier;

use quotaroute::catalogue::{Catalogue, Category, CategoryId, QuotaCell};
use quotaroute::live::{
    Answer, Completion, Engine, LiveConfig, ManualClock, Reservation, Timestamp, Worker,
};
use quotaroute::route::policy;
use quotaroute::schema::{Answers, Respondent, Rule, Schema};
use rand::{RngExt, SeedableRng};

const THREADS: u64 = 8;
const INTERVIEWS: u64 = 100_000;

fn catalogue() -> Catalogue {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let a = schema.question("age").unwrap();
    let r = |q, name| schema.response(q, name).unwrap();
    Catalogue::new(
        schema.clone(),
        vec![
            Category::new("a", "A", 0.5, 60.0)
                .with_target(6000)
                .with_cell(QuotaCell::new(
                    "female",
                    Rule::one_of(g, [r(g, "female")]),
                    2800,
                ))
                .with_cell(QuotaCell::new(
                    "male",
                    Rule::one_of(g, [r(g, "male")]),
                    3000,
                ))
                .with_cell(QuotaCell::new(
                    "young",
                    Rule::one_of(a, [r(a, "18-34")]),
                    1500,
                )),
            Category::new("b", "B", 0.3, 90.0).with_target(3500),
            Category::new("c", "C", 0.2, 120.0).with_target(2500),
            Category::new("d", "D", 0.6, 45.0)
                .with_target(3000)
                .with_eligibility(Rule::one_of(g, [r(g, "female")])),
            Category::new("e", "E", 0.1, 150.0).with_target(700),
            Category::new("f", "F", 0.4, 75.0).with_target(3000),
        ],
    )
    .unwrap()
}

#[derive(Default, Debug, Clone, Copy)]
struct Tally {
    accepted: u64,
    refused: u64,
    completed: u64,
    abandoned: u64,
    expired: u64,
}

enum Fate {
    Complete,
    Abandon,
    Vanish,
}

fn fieldwork(
    e: &Engine<Box<dyn quotaroute::route::Router>, &ManualClock>,
    clock: &ManualClock,
    start: &Barrier,
    t: u64,
) -> Tally {
    let schema = e.catalogue().schema().clone();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(t);
    let mut worker = Worker::new(t);
    let mut session = e.start(&mut worker, Respondent::new(0, Answers::unknown(&schema)));
    let mut answers = Answers::unknown(&schema);
    let mut in_flight: VecDeque<(u64, u64, CategoryId, Fate)> = VecDeque::new();
    let mut tally = Tally::default();
    start.wait();
    let per_thread = INTERVIEWS / THREADS;
    let finish = |tally: &mut Tally, (_, id, c, fate): (u64, u64, CategoryId, Fate)| match fate {
        Fate::Complete => match e.complete(id, c).unwrap() {
            Completion::Completed => tally.completed += 1,
            Completion::Expired => tally.expired += 1,
            // Released by a sweep, which counted it.
            Completion::NotReserved => {}
            Completion::AlreadyCompleted => panic!("completed twice"),
        },
        Fate::Abandon => tally.abandoned += u64::from(e.abandon_category(id, c).unwrap()),
        Fate::Vanish => {}
    };
    for i in 0..per_thread {
        while in_flight.front().is_some_and(|f| f.0 <= i) {
            let f = in_flight.pop_front().unwrap();
            finish(&mut tally, f);
        }
        let id = t << 40 | i;
        for q in schema.question_ids() {
            let n = schema.response_count(q);
            answers.set(
                q,
                schema.response_ids(q).nth(rng.random_range(0..n)).unwrap(),
            );
        }
        e.restart(&mut worker, &mut session, id, &answers);
        while let Some(c) = e.next_offer(&mut worker, &mut session).unwrap() {
            let qualified = rng.random_bool(e.catalogue().incidence(c));
            match e.answer(&mut worker, &mut session, c, qualified).unwrap() {
                Answer::Reserved(Reservation::Accepted { .. }) => {
                    tally.accepted += 1;
                    let fate = match rng.random_range(0..20) {
                        0 | 1 => Fate::Abandon,
                        2 => Fate::Vanish,
                        _ => Fate::Complete,
                    };
                    let due = i + rng.random_range(1..40);
                    // Kept in order of due time (insertion into a short sorted queue).
                    let at = in_flight.partition_point(|f| f.0 <= due);
                    in_flight.insert(at, (due, id, c, fate));
                }
                Answer::Reserved(Reservation::Full { .. }) => tally.refused += 1,
                Answer::Reserved(other) => panic!("fresh respondent got {other:?}"),
                Answer::NotQualified => {}
            }
        }
        clock.advance(1);
        if i % 128 == 0 {
            tally.expired += e
                .expire()
                .expect("an engine with its own counts cannot fail to expire");
        }
    }
    for f in in_flight {
        finish(&mut tally, f);
    }
    tally
}

#[test]
fn eight_threads_never_overfill_and_counts_add_up() {
    let clock = ManualClock::new(Timestamp(0));
    let config = LiveConfig {
        // Threads advance the shared clock by one per interview, so 8 per round: a slot due in
        // up to 40 of a thread's interviews is often past its 200 ms deadline.
        ttl_ms: 200,
        // One qualifier per respondent keeps interviews cheap and the quotas filling all run long.
        max_qualifiers: Some(1),
        ..LiveConfig::default()
    };
    let e = Engine::new(catalogue(), policy("greedy").unwrap(), &clock, config).unwrap();
    let start = Barrier::new(THREADS as usize);
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (e, clock, start) = (&e, &clock, &start);
                s.spawn(move || fieldwork(e, clock, start, t))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let final_expired = e
        .expire_all()
        .expect("an engine with its own counts cannot fail to expire");
    let mut sum = Tally::default();
    for t in &tallies {
        sum.accepted += t.accepted;
        sum.refused += t.refused;
        sum.completed += t.completed;
        sum.abandoned += t.abandoned;
        sum.expired += t.expired;
    }
    sum.expired += final_expired;
    let stats = e.stats();
    let view = e.quotas().view();
    let completed: u64 = e
        .catalogue()
        .ids()
        .map(|c| u64::from(view.completed(c)))
        .sum();
    assert_eq!(e.overfill(), 0);
    assert_eq!(stats.accepted, sum.accepted);
    assert_eq!(stats.refused, sum.refused);
    assert_eq!(stats.completed, sum.completed);
    assert_eq!(stats.abandoned, sum.abandoned);
    assert_eq!(stats.expired, sum.expired);
    assert_eq!(completed, sum.completed);
    assert_eq!(sum.accepted, sum.completed + sum.abandoned + sum.expired);
    for c in e.catalogue().ids() {
        assert_eq!(view.pending(c), 0);
        assert!(view.completed(c) <= e.quotas().target(c));
    }
    for i in 0..e.quotas().cell_count() {
        assert!(e.quotas().cell_completed(i) <= e.quotas().cell_target(i));
    }
    // The quotas were tight: most were filled, and respondents were refused, abandoned and
    // timed out along the way.
    let targets: u64 = e
        .catalogue()
        .ids()
        .map(|c| u64::from(e.quotas().target(c)))
        .sum();
    assert!(completed * 10 >= targets * 9, "{completed} of {targets}");
    assert!(sum.abandoned > 0 && sum.expired > 0, "{sum:?}");
}
