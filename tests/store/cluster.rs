//! The store on a private three-master Redis Cluster: the same checks, surveys spread over
//! the shards, the async flavour too.

use std::collections::BTreeSet;

use quotaroute::live::Completion;
use quotaroute::store::{
    AsyncRedisStore, Hold, Layout, QuotaStore, RedisOptions, RedisStore, conformance,
};

use crate::semantics;
use crate::support::{Cluster, layout};

fn connect(urls: &[String], l: Layout) -> RedisStore {
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    RedisStore::connect_cluster(&urls, l, RedisOptions::default()).expect("cluster store")
}

#[test]
fn cluster_store_passes_the_checks_on_every_shard() {
    let cluster = Cluster::start();
    let urls = cluster.urls();
    let made = std::sync::Mutex::new(Vec::new());
    semantics::run_all(&|l| {
        made.lock().expect("lock").push(l.survey().to_string());
        Box::new(connect(&urls, l))
    });
    let conformance_surveys = std::sync::Mutex::new(Vec::new());
    let make = |l: Layout| {
        conformance_surveys
            .lock()
            .expect("lock")
            .push(l.survey().to_string());
        connect(&urls, l)
    };
    if let Err(f) = conformance::run_all(&make) {
        panic!("{f}");
    }
    made.lock()
        .expect("lock")
        .extend(conformance_surveys.into_inner().expect("lock"));
    // Surveys land on the shard of their name's hash slot: the checks' surveys spread.
    let owners: BTreeSet<u16> = made
        .lock()
        .expect("lock")
        .iter()
        .map(|s| cluster.owner(s))
        .collect();
    assert!(owners.len() >= 2, "all surveys on one shard: {owners:?}");

    // Surveys until every master holds one (random names: 64 miss a master with probability
    // 3 × (2/3)^64, about 1e-11), each one's keys on one master.
    let mut owners = BTreeSet::new();
    for i in 0..64 {
        if owners.len() == 3 {
            break;
        }
        let store = connect(&urls, layout(&format!("spread{i}"), &[("a", 2)]));
        assert!(matches!(
            store.hold("r", 0, &[0], 60_000),
            Ok(Hold::Accepted { .. })
        ));
        assert_eq!(store.commit("r", 0), Ok(Completion::Completed));
        owners.insert(cluster.owner(store.layout().survey()));
    }
    assert_eq!(owners.len(), 3, "surveys over 3 masters: {owners:?}");

    // The async flavour on the same cluster, sharing a survey with a blocking node.
    let l = layout("cluster-async", &[("a", 3)]);
    let blocking = connect(&urls, l.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        let store = AsyncRedisStore::connect_cluster(&urls, l, RedisOptions::default())
            .await
            .expect("async cluster store");
        for i in 0..4 {
            let h = store
                .hold(&format!("r{i}"), 0, &[0], 60_000)
                .await
                .expect("hold");
            assert_eq!(matches!(h, Hold::Accepted { .. }), i < 3, "hold {i}: {h:?}");
        }
        assert_eq!(store.commit("r0", 0).await, Ok(Completion::Completed));
    });
    let mut out = Vec::new();
    blocking.read(&mut out).expect("read");
    assert_eq!((out[0].pending, out[0].completed), (2, 1));
}
