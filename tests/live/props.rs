//! Properties of the live engine: any sequence of calls keeps pending + completed within every
//! max target, and snapshot → restore → the same future decisions.

use std::sync::Arc;

use proptest::prelude::*;
use quotaroute::catalogue::{Catalogue, Category, CategoryId, QuotaCell};
use quotaroute::live::{Clock, Engine, LiveConfig, ManualClock, Timestamp, Worker};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Respondent, Rule, Schema};

fn catalogue() -> Catalogue {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let a = schema.question("age").unwrap();
    let r = |q, name| schema.response(q, name).unwrap();
    Catalogue::new(
        schema.clone(),
        vec![
            Category::new("a", "A", 0.5, 60.0)
                .with_target(4)
                .with_cell(QuotaCell::new("f", Rule::one_of(g, [r(g, "female")]), 2))
                .with_cell(QuotaCell::new("y", Rule::one_of(a, [r(a, "18-34")]), 1)),
            Category::new("b", "B", 0.3, 90.0).with_target(3),
            Category::new("c", "C", 0.2, 120.0)
                .with_target(2)
                .with_cell(QuotaCell::new("m", Rule::one_of(g, [r(g, "male")]), 1)),
        ],
    )
    .unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    Reserve {
        who: u64,
        cat: usize,
        gender: usize,
        age: usize,
    },
    Complete {
        who: u64,
        cat: usize,
    },
    Abandon {
        who: u64,
    },
    AbandonCategory {
        who: u64,
        cat: usize,
    },
    Advance {
        ms: u64,
    },
    Expire,
    Route {
        who: u64,
        gender: usize,
        qualify: u8,
    },
    Forget {
        who: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0u64..8;
    prop_oneof![
        4 => (who.clone(), 0usize..4, 0usize..3, 0usize..4)
            .prop_map(|(who, cat, gender, age)| Op::Reserve { who, cat, gender, age }),
        3 => (who.clone(), 0usize..4).prop_map(|(who, cat)| Op::Complete { who, cat }),
        1 => who.clone().prop_map(|who| Op::Abandon { who }),
        1 => (who.clone(), 0usize..3).prop_map(|(who, cat)| Op::AbandonCategory { who, cat }),
        1 => (0u64..1_500).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Expire),
        2 => (who.clone(), 0usize..3, any::<u8>())
            .prop_map(|(who, gender, qualify)| Op::Route { who, gender, qualify }),
        1 => who.prop_map(|who| Op::Forget { who }),
    ]
}

type Live = Engine<Greedy, Arc<ManualClock>>;

fn engine(clock: &Arc<ManualClock>) -> Live {
    let config = LiveConfig {
        ttl_ms: 1_000,
        ..LiveConfig::default()
    };
    Engine::new(catalogue(), Greedy::scarcity(), clock.clone(), config).unwrap()
}

fn answers(schema: &Schema, gender: usize, age: usize) -> Answers {
    let mut a = Answers::unknown(schema);
    let g = schema.question("gender").unwrap();
    let q = schema.question("age").unwrap();
    if let Some(r) = schema.response_ids(g).nth(gender) {
        a.set(g, r);
    }
    if let Some(r) = schema.response_ids(q).nth(age) {
        a.set(q, r);
    }
    a
}

/// Applies one call; returns what it said, for comparing two engines.
fn apply(e: &Live, clock: &ManualClock, worker: &mut Worker, op: &Op) -> String {
    let schema = e.catalogue().schema();
    match *op {
        Op::Reserve {
            who,
            cat,
            gender,
            age,
        } => {
            format!(
                "{:?}",
                e.reserve(
                    who,
                    CategoryId::from_index(cat),
                    &answers(schema, gender, age)
                )
            )
        }
        Op::Complete { who, cat } => format!("{:?}", e.complete(who, CategoryId::from_index(cat))),
        Op::Abandon { who } => format!("{:?}", e.abandon(who)),
        Op::AbandonCategory { who, cat } => {
            format!("{:?}", e.abandon_category(who, CategoryId::from_index(cat)))
        }
        Op::Advance { ms } => format!("{:?}", clock.advance(ms)),
        Op::Expire => format!("{:?}", e.expire()),
        Op::Forget { who } => format!("{:?}", e.forget(who)),
        Op::Route {
            who,
            gender,
            qualify,
        } => {
            let mut session = e.start(worker, Respondent::new(who, answers(schema, gender, 0)));
            let mut out = String::new();
            let mut bits = qualify;
            while let Some(c) = e.next_offer(worker, &mut session).unwrap() {
                let qualified = bits & 1 == 1;
                bits >>= 1;
                let answer = e.answer(worker, &mut session, c, qualified).unwrap();
                out += &format!("{}:{answer:?};", e.catalogue().category(c).key);
            }
            out
        }
    }
}

fn check_limits(e: &Live) -> Result<(), TestCaseError> {
    let q = e.quotas();
    let view = q.view();
    for c in e.catalogue().ids() {
        let (done, pending, target) = (view.completed(c), view.pending(c), q.target(c));
        prop_assert!(
            done + pending <= target,
            "category `{}`: {done} + {pending} > {target}",
            e.catalogue().category(c).key
        );
        prop_assert_eq!(view.open_slots(c), target - done - pending);
    }
    for i in 0..q.cell_count() {
        let (done, pending, max) = (q.cell_completed(i), q.cell_pending(i), q.cell_target(i));
        prop_assert!(
            done + pending <= max,
            "cell {i}: {done} + {pending} > {max}"
        );
        prop_assert_eq!(view.cell_open_slots(i), max - done - pending);
    }
    let s = e.stats();
    let pending: u64 = e
        .catalogue()
        .ids()
        .map(|c| u64::from(view.pending(c)))
        .sum();
    prop_assert_eq!(s.pending(), pending);
    prop_assert_eq!(e.overfill(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..crate::support::config() })]

    #[test]
    fn any_sequence_keeps_pending_plus_completed_within_max(ops in prop::collection::vec(op(), 0..80)) {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let e = engine(&clock);
        let mut worker = Worker::new(1);
        for op in &ops {
            apply(&e, &clock, &mut worker, op);
            check_limits(&e)?;
        }
        // Everything pending can still be released, and then every slot is open again.
        e.expire_all().unwrap();
        check_limits(&e)?;
        for c in e.catalogue().ids() {
            prop_assert_eq!(e.quotas().pending(c), 0);
        }
    }

    #[test]
    fn snapshot_restore_gives_the_same_future(
        before in prop::collection::vec(op(), 0..40),
        after in prop::collection::vec(op(), 0..40),
    ) {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let e = engine(&clock);
        let mut worker = Worker::new(1);
        for op in &before {
            apply(&e, &clock, &mut worker, op);
        }
        let snap = e.snapshot();
        #[cfg(feature = "serde")]
        let snap = serde_json::from_str(&serde_json::to_string(&snap).unwrap()).unwrap();
        let clock2 = Arc::new(ManualClock::new(clock.now()));
        let restored = Engine::restore(catalogue(), Greedy::scarcity(), clock2.clone(), &snap).unwrap();
        prop_assert_eq!(restored.snapshot(), e.snapshot());
        let (mut w1, mut w2) = (Worker::new(9), Worker::new(9));
        for op in &after {
            let a = apply(&e, &clock, &mut w1, op);
            let b = apply(&restored, &clock2, &mut w2, op);
            prop_assert_eq!(a, b, "diverged at {:?}", op);
        }
        prop_assert_eq!(restored.snapshot(), e.snapshot());
    }
}
