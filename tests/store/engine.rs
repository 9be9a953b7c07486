//! Two engines (router nodes) on one Redis store: the store grants the last slot once, a
//! node completes a hold the other took, and a sync shows it.

use std::sync::Arc;

use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::live::{Completion, Engine, LiveConfig, Reservation, SystemClock};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Schema};
use quotaroute::store::{Layout, QuotaStore, RedisOptions, RedisStore};

use crate::support::{SHARED, survey};

#[test]
fn two_engines_share_a_redis_store() {
    let catalogue = Catalogue::new(
        Schema::default_survey(),
        vec![Category::new("coffee", "Fresh Coffee", 0.3, 120.0).with_target(1)],
    )
    .expect("catalogue");
    let layout = Layout::from_catalogue(survey("engine"), &catalogue).expect("layout");
    let store: Arc<dyn QuotaStore> = Arc::new(
        RedisStore::connect(SHARED, layout, RedisOptions::default()).expect("Redis on 6379"),
    );
    let node = |store| {
        Engine::with_store(
            catalogue.clone(),
            Greedy::scarcity(),
            SystemClock,
            LiveConfig::default(),
            store,
        )
        .expect("engine")
    };
    let (a, b) = (node(store.clone()), node(store.clone()));
    let coffee = catalogue.find("coffee").expect("coffee");
    let nobody = Answers::unknown(catalogue.schema());
    assert!(matches!(
        a.reserve(1, coffee, &nobody),
        Ok(Reservation::Accepted { .. })
    ));
    // b's mirror has not seen a's hold, but the store refuses a second slot.
    assert_eq!(
        b.reserve(2, coffee, &nobody),
        Ok(Reservation::Full { cell: None })
    );
    assert_eq!(b.complete(1, coffee), Ok(Completion::Completed));
    b.sync().expect("sync");
    assert_eq!(b.quotas().view().completed(coffee), 1);
    let mut out = Vec::new();
    store.read(&mut out).expect("read");
    assert_eq!((out[0].pending, out[0].completed), (0, 1));
}

/// The documented pattern for a tokio service: the engine's calls wait on the store, so they
/// run on tokio's blocking pool (`spawn_blocking`) and the runtime's workers never block.
#[test]
fn a_tokio_service_calls_the_engine_through_spawn_blocking() {
    let catalogue = Catalogue::new(
        Schema::default_survey(),
        vec![Category::new("coffee", "Fresh Coffee", 0.3, 120.0).with_target(3)],
    )
    .expect("catalogue");
    let layout = Layout::from_catalogue(survey("tokio"), &catalogue).expect("layout");
    let store: Arc<dyn QuotaStore> = Arc::new(
        RedisStore::connect(SHARED, layout, RedisOptions::default()).expect("Redis on 6379"),
    );
    let engine = Arc::new(
        Engine::with_store(
            catalogue.clone(),
            Greedy::scarcity(),
            SystemClock,
            LiveConfig::default(),
            store,
        )
        .expect("engine"),
    );
    let coffee = catalogue.find("coffee").expect("coffee");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Five respondents at once on a one-thread runtime: three holds granted, two refused.
    let outcomes = runtime.block_on(async {
        let calls: Vec<_> = (1..=5u64)
            .map(|id| {
                let (engine, nobody) = (engine.clone(), Answers::unknown(catalogue.schema()));
                tokio::task::spawn_blocking(move || {
                    let held = engine.reserve(id, coffee, &nobody)?;
                    if matches!(held, Reservation::Accepted { .. }) {
                        engine.complete(id, coffee)?;
                    }
                    Ok::<_, quotaroute::live::LiveError>(held)
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for call in calls {
            outcomes.push(call.await.expect("task").expect("engine call"));
        }
        outcomes
    });
    let accepted = outcomes
        .iter()
        .filter(|r| matches!(r, Reservation::Accepted { .. }))
        .count();
    assert_eq!(accepted, 3, "{outcomes:?}");
    engine.sync().expect("sync");
    assert_eq!(engine.quotas().view().completed(coffee), 3);
}

#[path = "../support/resume.rs"]
mod resume;

/// A respondent's interview moves between two nodes on one Redis store.
#[test]
fn an_interview_resumed_on_another_redis_node_shows_nothing_twice() {
    let catalogue = resume::catalogue();
    let layout = Layout::from_catalogue(survey("resume"), &catalogue).expect("layout");
    let store: Arc<dyn QuotaStore> = Arc::new(
        RedisStore::connect(SHARED, layout, RedisOptions::default()).expect("Redis on 6379"),
    );
    let node = || {
        Engine::with_store(
            catalogue.clone(),
            Greedy::scarcity(),
            SystemClock,
            resume::config(),
            store.clone(),
        )
        .expect("engine")
    };
    resume::resumed_on_another_node(&node(), &node(), 7);
}

/// A target raised on one node is seen by the other at its next sync; a node restarted
/// on the catalogue as it was joins (the store's target stands), one on a third value is
/// refused.
#[test]
fn a_target_raised_on_one_redis_node_is_seen_by_the_other() {
    let catalogue = resume::catalogue();
    let survey = survey("admin");
    let connect = |catalogue: &quotaroute::catalogue::Catalogue| {
        let layout = Layout::from_catalogue(survey.as_str(), catalogue).expect("layout");
        RedisStore::connect(SHARED, layout, RedisOptions::default()).map(|s| {
            let s: Arc<dyn QuotaStore> = Arc::new(s);
            s
        })
    };
    let node = |catalogue: &quotaroute::catalogue::Catalogue| {
        Engine::with_store(
            catalogue.clone(),
            Greedy::scarcity(),
            SystemClock,
            resume::config(),
            connect(catalogue).expect("connect"),
        )
    };
    let (a, b) = (node(&catalogue).expect("a"), node(&catalogue).expect("b"));
    let c0 = catalogue.find("c0").expect("c0");
    a.set_target(c0, 9).expect("set_target");
    assert_eq!(b.quotas().target(c0), 5);
    b.sync().expect("sync");
    assert_eq!(b.quotas().target(c0), 9);
    assert_eq!(b.quotas().view().open_slots(c0), 9);
    b.close(c0).expect("close");
    a.sync().expect("sync");
    assert_eq!(a.quotas().view().open_slots(c0), 0);
    assert!(a.changes().expect("changes").len() == 2);
    a.reopen(c0).expect("reopen");
    // Restarted on the catalogue as it was: joins, with the store's target.
    let restarted = node(&catalogue).expect("restarted");
    assert_eq!(restarted.quotas().target(c0), 9);
    let mut third = catalogue.categories().to_vec();
    third[0].target = 7;
    let third = quotaroute::catalogue::Catalogue::new(catalogue.schema().clone(), third)
        .expect("catalogue");
    assert!(matches!(
        connect(&third),
        Err(quotaroute::store::StoreError::TargetMismatch { .. })
    ));
}
