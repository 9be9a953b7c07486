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
