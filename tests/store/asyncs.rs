//! The async store on tokio: same semantics, many tasks on one multiplexed connection,
//! interoperable with the blocking store.

use std::time::Duration;

use quotaroute::live::Completion;
use quotaroute::store::{
    AsyncRedisStore, Count, Hold, QuotaStore, RedisOptions, RedisStore, StoreError,
};

use crate::support::{SHARED, Server, TempDir, free_port, layout, quick};

/// Runs a future on a current-thread tokio runtime (the redis feature's tokio: no
/// dev-dependency, so a plain `cargo test` does not build tokio's macros).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

#[test]
fn async_store_holds_commits_and_shares_with_a_blocking_node() {
    block_on(holds_commits_and_shares());
}

/// Tasks interleave on one thread and share one multiplexed connection.
async fn holds_commits_and_shares() {
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

#[test]
fn async_store_reports_an_unreachable_server() {
    block_on(unreachable());
}

async fn unreachable() {
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

#[test]
fn async_store_rides_out_a_server_restart() {
    let dir = TempDir::new("async-restart");
    let port = free_port();
    let aof = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut server = Server::start(port, &dir.0, &aof);
    block_on(async {
        let store =
            AsyncRedisStore::connect(&server.url(), layout("async-restart", &[("a", 5)]), quick())
                .await
                .expect("connect");
        assert!(matches!(
            store.hold("r1", 0, &[0], 60_000).await,
            Ok(Hold::Accepted { .. })
        ));
        assert_eq!(store.commit("r1", 0).await, Ok(Completion::Completed));
        server.kill();
        match store.hold("r2", 0, &[0], 60_000).await {
            Err(StoreError::Unavailable { attempts, .. }) => assert_eq!(attempts, 3),
            other => panic!("expected Unavailable, got {other:?}"),
        }
        server = Server::start(port, &dir.0, &aof);
        // The dropped connection is opened again; the acknowledged complete survived.
        assert_eq!(
            store.hold("r1", 0, &[0], 60_000).await,
            Ok(Hold::AlreadyCompleted)
        );
        assert!(matches!(
            store.hold("r2", 0, &[0], 60_000).await,
            Ok(Hold::Accepted { .. })
        ));
        let mut out = Vec::new();
        store.read(&mut out).await.expect("read");
        assert_eq!(
            out[0],
            Count {
                max: 5,
                pending: 1,
                completed: 1
            }
        );
    });
    drop(server);
}
