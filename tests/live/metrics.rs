//! Feature `metrics` on a shared store: every store call is timed under its operation, and
//! the mirror lag and open-slot gauges follow the engine.

use std::sync::Arc;

use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::live::metrics as names;
use quotaroute::live::{Completion, Engine, LiveConfig, ManualClock, Reservation, Timestamp};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Schema};
use quotaroute::store::{Layout, MemoryStore, QuotaStore};

use crate::test_recorder::TestRecorder;

#[test]
fn store_calls_are_timed_and_the_gauges_follow_the_mirror() {
    let schema = Schema::default_survey();
    let catalogue = Catalogue::new(
        schema.clone(),
        vec![
            Category::new("16", "Fresh Coffee", 0.3, 120.0).with_target(3),
            Category::new("4", "Self Tan", 0.2, 100.0).with_target(2),
        ],
    )
    .unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(0)));
    let layout = Layout::from_catalogue("metrics", &catalogue).unwrap();
    let store: Arc<dyn QuotaStore> = Arc::new(MemoryStore::new(layout, clock.clone()));
    let recorder = TestRecorder::default();
    let e = metrics::with_local_recorder(&recorder, || {
        Engine::with_store(
            catalogue,
            Greedy::scarcity(),
            clock.clone(),
            LiveConfig::default(),
            store.clone(),
        )
        .unwrap()
    });
    let coffee = e.catalogue().find("16").unwrap();
    let tan = e.catalogue().find("4").unwrap();
    let answers = Answers::unknown(&schema);
    let op = |op: &str| {
        recorder
            .get(&format!("{}{{op={op}}}", names::STORE_SECONDS))
            .map_or(0, |h| h.records())
    };
    // Building the engine pulled the counts once.
    assert_eq!(op("read"), 1);
    assert!(matches!(
        e.reserve(1, coffee, &answers).unwrap(),
        Reservation::Accepted { .. }
    ));
    assert!(matches!(
        e.reserve(2, coffee, &answers).unwrap(),
        Reservation::Accepted { .. }
    ));
    assert!(matches!(
        e.reserve(2, tan, &answers).unwrap(),
        Reservation::Accepted { .. }
    ));
    assert_eq!(e.complete(1, coffee).unwrap(), Completion::Completed);
    assert!(e.abandon_category(2, coffee).unwrap());
    assert_eq!(e.abandon(2).unwrap(), 1);
    e.expire().unwrap(); // a sweep, then a pull
    e.sync().unwrap();
    for (name, calls) in [
        ("hold", 3),
        ("commit", 1),
        ("release", 1),
        ("release_all", 1),
        ("expire", 1),
        ("read", 3),
    ] {
        assert_eq!(op(name), calls, "{name}");
    }
    assert_eq!(recorder.total(names::HOLDS), 3);
    assert_eq!(recorder.total(names::COMPLETES), 1);
    assert_eq!(recorder.total(names::ABANDONS), 2);

    // The gauges are sampled on demand, by the catalogue's category ids.
    let lag = || recorder.get(names::MIRROR_LAG_SECONDS).map(|g| g.value());
    let open = |key: &str| {
        recorder
            .get(&format!("{}{{category={key}}}", names::OPEN_SLOTS))
            .map(|g| g.value())
    };
    assert_eq!(open("16"), Some(0.0), "not published yet");
    e.publish_metrics();
    assert_eq!(open("16"), Some(2.0));
    assert_eq!(open("4"), Some(2.0));
    let first = lag().unwrap();
    assert!(first >= 0.0);
    // Another node takes a slot: seen after the next sync, and the lag restarts from it.
    store.hold("someone-else", 1, &[1], 60_000).unwrap();
    e.publish_metrics();
    assert_eq!(open("4"), Some(2.0));
    e.sync().unwrap();
    e.publish_metrics();
    assert_eq!(open("4"), Some(1.0));
    assert_eq!(op("read"), 4);
}

#[test]
fn a_restored_engine_and_a_new_wave_still_emit() {
    let schema = Schema::default_survey();
    let catalogue = Catalogue::new(
        schema.clone(),
        vec![Category::new("16", "Fresh Coffee", 0.3, 120.0).with_target(5)],
    )
    .unwrap();
    let clock = ManualClock::new(Timestamp(0));
    let recorder = TestRecorder::default();
    let answers = Answers::unknown(&schema);
    let first = metrics::with_local_recorder(&recorder, || {
        Engine::new(
            catalogue.clone(),
            Greedy::scarcity(),
            &clock,
            LiveConfig::default(),
        )
        .unwrap()
    });
    let coffee = first.catalogue().find("16").unwrap();
    first.reserve(1, coffee, &answers).unwrap();
    first.complete(1, coffee).unwrap();
    assert_eq!(recorder.total(names::COMPLETES), 1);
    // Restored: the totals come back from the snapshot, the exported counter keeps counting
    // from where this process was (it only goes up).
    let mut restored = metrics::with_local_recorder(&recorder, || {
        Engine::restore(catalogue, Greedy::scarcity(), &clock, &first.snapshot()).unwrap()
    });
    assert_eq!(restored.stats().completed, 1);
    restored.reserve(2, coffee, &answers).unwrap();
    restored.complete(2, coffee).unwrap();
    assert_eq!(restored.stats().completed, 2);
    assert_eq!(recorder.total(names::COMPLETES), 2);
    // A new wave starts the totals afresh; the exported counters go on.
    metrics::with_local_recorder(&recorder, || restored.close_wave(None).unwrap());
    assert_eq!(restored.stats().completed, 0);
    restored.reserve(3, coffee, &answers).unwrap();
    restored.complete(3, coffee).unwrap();
    assert_eq!(restored.stats().completed, 1);
    assert_eq!(recorder.total(names::COMPLETES), 3);
    assert_eq!(recorder.total(names::HOLDS), 3);
}
