//! Live administration: targets raised and lowered, categories closed and reopened while
//! the engine runs; the changes recorded, carried by snapshots and checked on restore and on
//! a node joining a shared store, by one rule.

use std::sync::Arc;

use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::live::{
    Completion, ConfigError, Engine, LiveConfig, LiveError, LiveRestoreError, Reservation,
    SystemClock, Worker,
};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Respondent, Schema};
use quotaroute::store::{ChangeKind, Layout, MemoryStore, QuotaStore, StoreError};

fn catalogue(coffee: u32) -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("coffee", "Coffee", 0.9, 60.0).with_target(coffee),
            Category::new("tea", "Tea", 0.9, 60.0).with_target(3),
        ],
    )
    .unwrap()
}

fn engine(coffee: u32) -> Engine<Greedy> {
    Engine::new(
        catalogue(coffee),
        Greedy::scarcity(),
        SystemClock,
        LiveConfig::default(),
    )
    .unwrap()
}

fn nobody() -> Answers {
    Answers::unknown(&Schema::default_survey())
}

fn accepted(r: Result<Reservation, LiveError>) -> bool {
    matches!(r, Ok(Reservation::Accepted { .. }))
}

#[test]
fn a_raised_target_opens_slots_and_a_lowered_one_cancels_no_held_slot() {
    let e = engine(2);
    let coffee = e.catalogue().find("coffee").unwrap();
    for r in 0..2 {
        assert!(accepted(e.reserve(r, coffee, &nobody())));
        assert_eq!(e.complete(r, coffee), Ok(Completion::Completed));
    }
    assert_eq!(
        e.reserve(9, coffee, &nobody()),
        Ok(Reservation::Full { cell: None })
    );
    let raised = e.set_target(coffee, 4).unwrap();
    assert_eq!(
        (raised.from, raised.to, raised.kind),
        (2, 4, ChangeKind::Target)
    );
    assert_eq!(e.quotas().view().open_slots(coffee), 2);
    assert!(accepted(e.reserve(2, coffee, &nobody())));
    assert!(accepted(e.reserve(3, coffee, &nobody())));
    // 2 completed + 2 held; lowered to 1: nothing cancelled, nothing granted.
    e.set_target(coffee, 1).unwrap();
    assert_eq!(e.quotas().view().open_slots(coffee), 0);
    assert_eq!(
        e.reserve(4, coffee, &nobody()),
        Ok(Reservation::Full { cell: None })
    );
    assert_eq!(e.complete(2, coffee), Ok(Completion::Completed));
    assert_eq!(e.abandon(3), Ok(1));
    // 3 completed over a target of 1: still no slot after the release.
    assert_eq!(e.quotas().view().completed(coffee), 3);
    assert_eq!(
        e.reserve(5, coffee, &nobody()),
        Ok(Reservation::Full { cell: None })
    );
    // Raised back to 4: one slot (4 − 3).
    e.set_target(coffee, 4).unwrap();
    assert_eq!(e.quotas().view().open_slots(coffee), 1);
    let kinds: Vec<_> = e
        .changes()
        .unwrap()
        .iter()
        .map(|c| (c.from, c.to))
        .collect();
    assert_eq!(kinds, vec![(2, 4), (4, 1), (1, 4)]);
}

#[test]
fn a_closed_category_is_never_offered_and_reopens_at_its_target() {
    let e = engine(5);
    let (coffee, tea) = (
        e.catalogue().find("coffee").unwrap(),
        e.catalogue().find("tea").unwrap(),
    );
    assert!(accepted(e.reserve(1, coffee, &nobody())));
    let close = e.close(coffee).unwrap();
    assert_eq!(
        (close.from, close.to, close.kind),
        (5, 0, ChangeKind::Close)
    );
    assert!(e.is_closed(coffee));
    // Closing again records nothing new.
    assert_eq!(e.close(coffee).unwrap(), close);
    let mut w = Worker::new(1);
    for id in 10..30 {
        let mut s = e.start(&mut w, Respondent::new(id, nobody()));
        while let Some(c) = e.next_offer(&mut w, &mut s).unwrap() {
            assert_ne!(c, coffee, "a closed category was offered");
            e.answer(&mut w, &mut s, c, false).unwrap();
        }
    }
    // The slot held before the close still completes.
    assert_eq!(e.complete(1, coffee), Ok(Completion::Completed));
    assert_eq!(
        e.reopen(tea),
        Err(LiveError::NotClosed { key: "tea".into() })
    );
    let reopen = e.reopen(coffee).unwrap();
    assert_eq!(
        (reopen.from, reopen.to, reopen.kind),
        (0, 5, ChangeKind::Reopen)
    );
    assert_eq!(e.quotas().view().open_slots(coffee), 4);
    assert!(!e.is_closed(coffee));
    assert!(matches!(
        e.set_cell_max(0, 1),
        Err(LiveError::UnknownCell { cell: 0, cells: 0 })
    ));
}

#[test]
fn a_snapshot_carries_the_changes_and_restore_applies_or_refuses_them() {
    let e = engine(2);
    let coffee = e.catalogue().find("coffee").unwrap();
    assert!(accepted(e.reserve(1, coffee, &nobody())));
    assert_eq!(e.complete(1, coffee), Ok(Completion::Completed));
    e.set_target(coffee, 6).unwrap();
    let snap = e.snapshot();
    assert_eq!(snap.changes.len(), 1);
    let restore = |coffee_target| {
        Engine::restore(
            catalogue(coffee_target),
            Greedy::scarcity(),
            SystemClock,
            &snap,
        )
    };
    // The catalogue as it was (2) plus the change, or already at the new target (6).
    for target in [2, 6] {
        let r = restore(target).unwrap();
        let c = r.catalogue().find("coffee").unwrap();
        assert_eq!(r.quotas().target(c), 6, "catalogue at {target}");
        assert_eq!(r.quotas().view().open_slots(c), 5);
        assert_eq!(r.changes().unwrap(), snap.changes);
    }
    // A third value agrees with neither: refused, naming the category.
    match restore(9) {
        Err(LiveRestoreError::Invalid { field, problem }) => {
            assert!(problem.contains("coffee"), "{field}: {problem}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Without its changes the snapshot's target disagrees with the catalogue: refused too.
    let mut bare = snap.clone();
    bare.changes.clear();
    assert!(
        Engine::restore(catalogue(2), Greedy::scarcity(), SystemClock, &bare).is_err(),
        "a target changed with no record of the change was restored"
    );
}

#[test]
fn a_target_changed_on_one_node_is_seen_by_the_other_and_joins_follow_the_rule() {
    let store = Arc::new(MemoryStore::new(
        Layout::from_catalogue("admin", &catalogue(2)).unwrap(),
        SystemClock,
    ));
    let node = |coffee_target| {
        let s: Arc<dyn QuotaStore> = store.clone();
        Engine::with_store(
            catalogue(coffee_target),
            Greedy::scarcity(),
            SystemClock,
            LiveConfig::default(),
            s,
        )
    };
    let (a, b) = (node(2).unwrap(), node(2).unwrap());
    let coffee = a.catalogue().find("coffee").unwrap();
    a.set_target(coffee, 7).unwrap();
    assert_eq!(a.quotas().target(coffee), 7);
    b.sync().unwrap();
    assert_eq!(b.quotas().target(coffee), 7);
    assert_eq!(b.quotas().view().open_slots(coffee), 7);
    assert_eq!(b.changes().unwrap().len(), 1);
    // A node configured before the change (2) or after it (7) joins; any other is refused.
    assert_eq!(node(2).unwrap().quotas().target(coffee), 7);
    assert!(node(7).is_ok());
    match node(5) {
        Err(ConfigError::Store {
            source:
                StoreError::TargetMismatch {
                    counter,
                    given,
                    stored,
                    original,
                    ..
                },
        }) => assert_eq!(
            (counter.as_str(), given, stored, original),
            ("coffee", 5, 7, Some(2))
        ),
        other => panic!("expected a target mismatch, got {other:?}"),
    }
}
