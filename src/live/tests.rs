use super::*;
use crate::catalogue::{Category, QuotaCell};
use crate::route::{Exclusion, Greedy, RandomRouter};
use crate::schema::{Answers, Rule, Schema};

fn catalogue(target: u32) -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("a", "A", 0.5, 60.0).with_target(target),
            Category::new("b", "B", 0.5, 60.0).with_target(target),
        ],
    )
    .unwrap()
}

fn engine(target: u32, clock: &ManualClock) -> Engine<Greedy, &ManualClock> {
    let config = LiveConfig {
        ttl_ms: 1_000,
        ..LiveConfig::default()
    };
    Engine::new(catalogue(target), Greedy::scarcity(), clock, config).unwrap()
}

fn nobody() -> Answers {
    Answers::unknown(&Schema::default_survey())
}

const A: CategoryId = CategoryId::from_index(0);
const B: CategoryId = CategoryId::from_index(1);

#[test]
fn pending_slots_count_as_taken_and_calls_are_idempotent() {
    let clock = ManualClock::new(Timestamp(10));
    let e = engine(2, &clock);
    let ok = Reservation::Accepted {
        deadline: Timestamp(1_010),
    };
    assert_eq!(e.reserve(1, A, &nobody()), Ok(ok));
    assert_eq!(
        e.reserve(1, A, &nobody()),
        Ok(Reservation::AlreadyHeld {
            deadline: Timestamp(1_010)
        })
    );
    assert_eq!(e.quotas().view().open_slots(A), 1);
    assert_eq!(e.quotas().view().pending(A), 1);
    assert_eq!(
        e.reserve(1, B, &nobody()),
        Ok(ok),
        "one respondent, several categories"
    );
    assert_eq!(e.reserve(2, A, &nobody()), Ok(ok));
    assert_eq!(
        e.reserve(3, A, &nobody()),
        Ok(Reservation::Full { cell: None })
    );
    assert_eq!(e.complete(1, A), Ok(Completion::Completed));
    assert_eq!(e.complete(1, A), Ok(Completion::AlreadyCompleted));
    assert_eq!(
        e.reserve(1, A, &nobody()),
        Ok(Reservation::AlreadyCompleted)
    );
    assert_eq!(e.complete(3, A), Ok(Completion::NotReserved));
    assert_eq!(e.quotas().view().completed(A), 1);
    assert_eq!(e.abandon(2), Ok(1));
    assert_eq!(e.abandon(2), Ok(0));
    assert_eq!(e.quotas().view().open_slots(A), 1);
    let s = e.stats();
    assert_eq!(
        (s.accepted, s.completed, s.abandoned, s.refused),
        (3, 1, 1, 1)
    );
    assert_eq!(s.pending(), 1);
    assert_eq!(
        e.complete(1, CategoryId::from_index(7)),
        Err(LiveError::UnknownCategory {
            category: CategoryId::from_index(7)
        })
    );
}

#[test]
fn deadlines_release_slots() {
    let clock = ManualClock::new(Timestamp(0));
    let e = engine(1, &clock);
    e.reserve(1, A, &nobody()).unwrap();
    clock.advance(999);
    assert_eq!(e.expire(), Ok(0));
    assert_eq!(e.pending_deadline(1, A), Some(Timestamp(1_000)));
    clock.advance(1);
    assert_eq!(e.expire(), Ok(1));
    assert_eq!(e.complete(1, A), Ok(Completion::NotReserved));
    // Lazily, on the holder's own call.
    e.reserve(2, A, &nobody()).unwrap();
    clock.advance(5_000);
    assert_eq!(e.complete(2, A), Ok(Completion::Expired));
    assert!(e.quotas().view().is_open(A));
    // And a repeated reservation past the deadline takes a fresh slot.
    e.reserve(3, A, &nobody()).unwrap();
    clock.advance(5_000);
    assert_eq!(
        e.reserve(3, A, &nobody()),
        Ok(Reservation::Accepted {
            deadline: Timestamp(12_000)
        })
    );
    let s = e.stats();
    assert_eq!((s.accepted, s.expired, s.pending()), (4, 3, 1));
    assert_eq!(e.expire_all(), Ok(1));
    assert_eq!(e.quotas().pending(A), 0);
}

fn cell_catalogue() -> Catalogue {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let female = Rule::one_of(g, [schema.response(g, "female").unwrap()]);
    let male = Rule::one_of(g, [schema.response(g, "male").unwrap()]);
    Catalogue::new(
        schema,
        vec![
            Category::new("a", "A", 0.5, 60.0)
                .with_target(3)
                .with_cell(QuotaCell::new("female", female, 1))
                .with_cell(QuotaCell::new("male", male, 2).with_min(1)),
            Category::new("b", "B", 0.5, 60.0).with_target(5),
        ],
    )
    .unwrap()
}

#[test]
fn cells_take_all_slots_or_none_and_every_router_honours_them() {
    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(
        cell_catalogue(),
        RandomRouter,
        &clock,
        LiveConfig::default(),
    )
    .unwrap();
    let schema = e.catalogue().schema().clone();
    let woman = Answers::from_names(&schema, [("gender", "female")]).unwrap();
    let man = Answers::from_names(&schema, [("gender", "male")]).unwrap();
    assert!(matches!(
        e.reserve(1, A, &woman),
        Ok(Reservation::Accepted { .. })
    ));
    assert_eq!(e.quotas().cell_pending(0), 1);
    assert_eq!(
        e.reserve(2, A, &woman),
        Ok(Reservation::Full { cell: Some(0) })
    );
    // Nothing was kept from the refused reservation.
    assert_eq!(e.quotas().view().open_slots(A), 2);
    // An unknown gender falls in no cell.
    assert!(matches!(
        e.reserve(3, A, &nobody()),
        Ok(Reservation::Accepted { .. })
    ));
    // A woman is never offered A now, whatever the router; a man is.
    for seed in 0..20 {
        let mut w = Worker::new(seed);
        let mut s = e.start(&mut w, Respondent::new(100 + seed, woman.clone()));
        assert_eq!(e.next_offer(&mut w, &mut s), Ok(Some(B)));
        assert_eq!(
            s.interview()
                .exclusion(e.catalogue(), &e.quotas().view(), A),
            Some(Exclusion::CellFull)
        );
    }
    let mut w = Worker::new(1);
    let mut s = e.start(&mut w, Respondent::new(200, man.clone()));
    let mut offers = vec![];
    while let Some(c) = e.next_offer(&mut w, &mut s).unwrap() {
        offers.push(c);
    }
    offers.sort();
    assert_eq!(offers, [A, B]);
    // Completing commits the cell too; abandoning the other releases nothing else.
    assert_eq!(e.complete(1, A), Ok(Completion::Completed));
    assert_eq!(
        (e.quotas().cell_completed(0), e.quotas().cell_pending(0)),
        (1, 0)
    );
    assert_eq!(e.abandon(3), Ok(1));
    assert_eq!(e.overfill(), 0);
}

#[test]
fn answers_reserve_and_charge_the_interview() {
    let clock = ManualClock::new(Timestamp(0));
    let e = engine(1, &clock);
    let mut w = Worker::new(3);
    let mut s = e.start(&mut w, Respondent::new(9, nobody()));
    assert_eq!(
        e.answer(&mut w, &mut s, A, true),
        Err(LiveError::NotShown {
            respondent: 9.into(),
            category: A,
            key: "a".into()
        })
    );
    let c = e.next_offer(&mut w, &mut s).unwrap().unwrap();
    assert_eq!(
        e.answer(&mut w, &mut s, c, true),
        Ok(Answer::Reserved(Reservation::Accepted {
            deadline: Timestamp(1_000)
        }))
    );
    assert_eq!(s.interview().seconds_used(), 60.0);
    assert_eq!(e.stats().shown, 1);
    assert_eq!(e.stats().qualified, 1);
    assert_eq!(e.quotas().view().qualified(c), 1);
}

#[test]
fn bad_configurations_are_refused() {
    let clock = ManualClock::new(Timestamp(0));
    let bad = |config| Engine::new(catalogue(1), Greedy::scarcity(), &clock, config).err();
    assert_eq!(
        bad(LiveConfig {
            ttl_ms: 0,
            ..LiveConfig::default()
        }),
        Some(ConfigError::Ttl)
    );
    assert!(matches!(
        bad(LiveConfig {
            budget_seconds: f64::NAN,
            ..LiveConfig::default()
        }),
        Some(ConfigError::Budget { .. })
    ));
}

#[test]
fn snapshots_restore_exactly() {
    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(
        cell_catalogue(),
        Greedy::scarcity(),
        &clock,
        LiveConfig::default(),
    )
    .unwrap();
    let schema = e.catalogue().schema().clone();
    let man = Answers::from_names(&schema, [("gender", "male")]).unwrap();
    e.reserve(1, A, &man).unwrap();
    e.reserve(2, A, &man).unwrap();
    e.reserve(2, B, &man).unwrap();
    e.complete(2, A).unwrap();
    let snap = e.snapshot();
    assert_eq!(snap.held.len(), 3);
    assert_eq!(snap.cells[1].pending, 1);
    let back = Engine::restore(e.catalogue().clone(), Greedy::scarcity(), &clock, &snap).unwrap();
    assert_eq!(back.snapshot(), snap);
    assert_eq!(back.complete(2, A), Ok(Completion::AlreadyCompleted));
    assert_eq!(
        back.reserve(3, A, &man),
        Ok(Reservation::Full { cell: Some(1) })
    );
    #[cfg(feature = "serde")]
    {
        let json = serde_json::to_string(&snap).unwrap();
        assert_eq!(serde_json::from_str::<LiveSnapshot>(&json).unwrap(), snap);
    }
    // Another version, another catalogue, inconsistent counts.
    let mut old = snap.clone();
    old.format = 7;
    assert_eq!(
        Engine::restore(e.catalogue().clone(), Greedy::scarcity(), &clock, &old).err(),
        Some(LiveRestoreError::Version {
            found: 7,
            expected: LiveSnapshot::FORMAT
        })
    );
    assert!(matches!(
        Engine::restore(catalogue(3), Greedy::scarcity(), &clock, &snap),
        Err(LiveRestoreError::Mismatch { .. })
    ));
    let mut cells = snap.clone();
    cells.cells[0].max = 9;
    assert!(matches!(
        Engine::restore(e.catalogue().clone(), Greedy::scarcity(), &clock, &cells),
        Err(LiveRestoreError::Mismatch { .. })
    ));
    let mut over = snap.clone();
    over.held.push(HeldSlot {
        respondent: 5.into(),
        category: 0,
        deadline: Some(Timestamp(1)),
        cells: vec![1],
    });
    assert!(matches!(
        Engine::restore(e.catalogue().clone(), Greedy::scarcity(), &clock, &over),
        Err(LiveRestoreError::Invalid { field: "held", .. })
    ));
    let mut stats = snap.clone();
    stats.stats.accepted += 1;
    assert!(matches!(
        Engine::restore(e.catalogue().clone(), Greedy::scarcity(), &clock, &stats),
        Err(LiveRestoreError::Invalid { field: "stats", .. })
    ));
}

#[test]
fn waves_carry_debt_and_credit() {
    let clock = ManualClock::new(Timestamp(0));
    let mut e = engine(3, &clock);
    for r in 0..3 {
        e.reserve(r, A, &nobody()).unwrap();
        e.complete(r, A).unwrap();
    }
    e.reserve(10, B, &nobody()).unwrap();
    assert_eq!(e.close_wave(None), Err(WaveError::Pending { count: 1 }));
    assert_eq!(
        e.close_wave(Some(&[1])),
        Err(WaveError::Targets {
            found: 1,
            expected: 2
        })
    );
    e.complete(10, B).unwrap();
    // Wave 1: A met its 3, B delivered 1 of 3: B owes 2 in wave 2.
    let report = e.close_wave(Some(&[3, 3])).unwrap();
    assert_eq!(report.wave, 1);
    assert_eq!(report.lines[1].carry_out, 2);
    assert_eq!(report.lines[1].next_target, 5);
    assert_eq!(e.quotas().target(B), 5);
    assert_eq!(e.quotas().view().completed(B), 0);
    assert_eq!(e.stats(), LiveStats::default());
    // Wave 3 base 1 for A with credit from a lowered target: max(0, base + carry).
    let report = e.close_wave(Some(&[0, 0])).unwrap();
    assert_eq!(report.lines[0].carry_out, 3);
    assert_eq!(report.lines[1].carry_out, 5);
    assert_eq!(e.ledger().wave, 3);
    assert_eq!(e.ledger().targets(), vec![3, 5]);
    let ledger = WaveLedger {
        wave: 4,
        base: vec![2, 0],
        carried: vec![-5, 1],
    };
    assert_eq!(ledger.targets(), vec![0, 1]);
}

/// The reservation table's id hash spreads sequential ids and ids that differ only in their
/// high bits (as crafted ids might) over the buckets about as a random function would:
/// ~63% of 4,096 buckets hit by 4,096 ids, where a plain multiply would put every
/// `i << 32` in one bucket.
#[test]
fn the_id_hash_spreads_sequential_and_high_bit_ids_over_the_buckets() {
    use std::hash::BuildHasher;
    // Each table draws its own keys: no draw may spread badly (one in three once did).
    for _ in 0..64 {
        let hash = super::slots::IdHash::default();
        for (what, ids) in [
            ("sequential", (0..4096u64).collect::<Vec<_>>()),
            ("high bits", (0..4096u64).map(|i| i << 32).collect()),
            ("multiples of 2^20", (0..4096u64).map(|i| i << 20).collect()),
        ] {
            let mut buckets = std::collections::HashSet::new();
            for id in ids {
                buckets.insert(hash.hash_one(id) & 4095);
            }
            assert!(
                buckets.len() > 2_400,
                "{what}: {} buckets of 4096",
                buckets.len()
            );
        }
    }
}

/// Platform keys spread as well as numbers do, over the table's buckets and over the shards:
/// UUIDs that differ in one group only, and short sequential keys (`user-0`, `user-1`, …),
/// as a platform's keys often are.
#[test]
fn the_id_hash_and_the_shards_spread_uuid_and_sequential_keys() {
    use crate::schema::RespondentId;
    use std::hash::BuildHasher;
    let key = |s: String| RespondentId::key(&s).unwrap();
    let families: [(&str, Vec<RespondentId>); 3] = [
        (
            "uuid, first group",
            (0..4096u32)
                .map(|i| key(format!("{i:08x}-6d4a-4e9b-8f7c-2a1d5e6b9c03")))
                .collect(),
        ),
        (
            "uuid, last group",
            (0..4096u64)
                .map(|i| key(format!("3f2b8c1e-6d4a-4e9b-8f7c-{i:012x}")))
                .collect(),
        ),
        (
            "sequential",
            (0..4096).map(|i| key(format!("user-{i}"))).collect(),
        ),
    ];
    for _ in 0..16 {
        let hash = super::slots::IdHash::default();
        for (what, ids) in &families {
            let buckets: std::collections::HashSet<u64> =
                ids.iter().map(|id| hash.hash_one(id) & 4095).collect();
            assert!(
                buckets.len() > 2_400,
                "{what}: {} buckets of 4096",
                buckets.len()
            );
        }
    }
    for (what, ids) in &families {
        let mut shards = [0u32; super::slots::SHARDS];
        for id in ids {
            shards[super::slots::shard_of(id)] += 1;
        }
        // 64 ids a shard on average; a random spread stays well within 32..=96.
        let (min, max) = (shards.iter().min(), shards.iter().max());
        assert!(
            min >= Some(&32) && max <= Some(&96),
            "{what}: {min:?}..{max:?}"
        );
    }
}
