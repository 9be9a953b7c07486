//! The async store on tokio: same semantics, many tasks on one multiplexed connection,
//! interoperable with the blocking store.

use std::time::Duration;

use quotaroute::live::Completion;
use quotaroute::store::{
    AsyncRedisStore, Count, Hold, QuotaStore, RedisOptions, RedisStore, StoreError,
};

use crate::support::{SHARED, free_port, layout, quick};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn async_store_holds_commits_and_shares_with_a_blocking_node() {
    let l = layout("async", &[("a", 50), ("b", 5)]);
    let store = AsyncRedisStore::connect(SHARED, l.clone(), RedisOptions::default())
        .await
        .expect("Redis on 127.0.0.1:6379");
    // 47 of 50 completed, then twenty tasks race for the last three.
    for i in 0..47 {
        let r = format!("pre{i}");
        assert!(matches!(
            store.hold(&r, 0, &[0], 60_000).await,
            Ok(Hold::Accepted { .. })
        ));
        assert_eq!(store.commit(&r, 0).await, Ok(Completion::Completed));
    }
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let r = format!("racer{i}");
            match store.hold(&r, 0, &[0], 60_000).await {
                Ok(Hold::Accepted { .. }) => store.commit(&r, 0).await == Ok(Completion::Completed),
                Ok(_) => false,
                Err(e) => panic!("{e}"),
            }
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += u32::from(t.await.expect("task"));
    }
    assert_eq!(won, 3);
    // Idempotence, all-or-none, release and expiry.
    assert!(matches!(
        store.commit("racer0", 0).await,
        Ok(Completion::AlreadyCompleted | Completion::NotReserved)
    ));
    assert!(matches!(
        store.hold("x", 1, &[1], 60_000).await,
        Ok(Hold::Accepted { .. })
    ));
    assert!(matches!(
        store.hold("x", 1, &[1], 60_000).await,
        Ok(Hold::AlreadyHeld { .. })
    ));
    assert_eq!(
        store.hold("y", 1, &[1, 0], 60_000).await,
        Ok(Hold::Full { counter: 0 })
    );
    assert_eq!(store.release("x", 1).await, Ok(true));
    assert!(matches!(
        store.hold("z", 2, &[1], 30).await,
        Ok(Hold::Accepted { .. })
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.expire().await, Ok(1));
    assert!(matches!(
        store.hold("w", 2, &[1], 60_000).await,
        Ok(Hold::Accepted { .. })
    ));
    let released = store.release_all("w").await.expect("release_all");
    assert_eq!(released.len(), 1);
    assert!(matches!(
        store.hold("u", 2, &[7], 1).await,
        Err(StoreError::UnknownCounter { .. })
    ));

    // A blocking node on the same survey sees the same counts.
    let blocking = tokio::task::spawn_blocking(move || {
        let b = RedisStore::connect(SHARED, l, RedisOptions::default()).expect("connect");
        let mut out = Vec::new();
        b.read(&mut out).expect("read");
        out
    })
    .await
    .expect("blocking task");
    let mut out = Vec::new();
    store.read(&mut out).await.expect("read");
    assert_eq!(out, blocking);
    assert_eq!(
        out[0],
        Count {
            max: 50,
            pending: 0,
            completed: 50
        }
    );
    assert_eq!(
        out[1],
        Count {
            max: 5,
            pending: 0,
            completed: 0
        }
    );
    store.purge().await.expect("purge");
}

#[tokio::test(flavor = "current_thread")]
async fn async_store_reports_an_unreachable_server() {
    let url = format!("redis://127.0.0.1:{}/", free_port());
    match AsyncRedisStore::connect(&url, layout("async-down", &[("a", 1)]), quick()).await {
        Err(StoreError::Unavailable {
            attempts,
            indeterminate,
            ..
        }) => {
            assert_eq!((attempts, indeterminate), (3, false));
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
