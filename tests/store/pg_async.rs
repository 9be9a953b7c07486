//! The async PostgreSQL store on tokio: the same semantics, many tasks on one pipelined
//! connection, sharing a survey with the blocking store; and `commit_in_async` inside a
//! tokio-postgres transaction.

use std::sync::Arc;

use quotaroute::live::Completion;
use quotaroute::store::{
    AsyncPostgresStore, Count, Hold, PostgresOptions, PostgresStore, QuotaStore, StoreError,
};

use crate::postgres::SHARED;
use crate::support::layout;

/// Runs a future on a current-thread tokio runtime (the feature's own tokio: no
/// dev-dependency).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

#[test]
fn postgres_async_store_races_for_the_last_slots_beside_a_blocking_node() {
    // The blocking store drives a runtime of its own: it is called off the runtime's
    // worker thread, through spawn_blocking or a thread.
    let l = layout("pg-async", &[("a", 50), ("b", 5)]);
    let blocking = Arc::new(
        PostgresStore::connect(SHARED, l.clone(), PostgresOptions::default())
            .expect("PostgreSQL on 127.0.0.1:5432"),
    );
    block_on(async {
        let store = Arc::new(
            AsyncPostgresStore::connect(SHARED, l.clone(), PostgresOptions::default())
                .await
                .expect("async connect"),
        );
        assert_eq!(store.layout(), &l);
        // A blocking-pool thread: the blocking store runs there as an engine in a tokio
        // service would.
        let b = blocking.clone();
        tokio::task::spawn_blocking(move || {
            for i in 0..47 {
                let r = format!("pre{i}");
                assert!(b.hold(&r, 0, &[0], 60_000).expect("hold").is_accepted());
                assert_eq!(b.commit(&r, 0), Ok(Completion::Completed));
            }
        })
        .await
        .expect("blocking node");
        // Twenty tasks race for the last three slots on one connection.
        let mut tasks = Vec::new();
        for i in 0..20 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let r = format!("racer{i}");
                match store.hold(&r, 0, &[0], 60_000).await {
                    Ok(Hold::Accepted { .. }) => {
                        store.commit(&r, 0).await == Ok(Completion::Completed)
                    }
                    Ok(Hold::Full { counter: 0 }) => false,
                    other => panic!("racing hold: {other:?}"),
                }
            }));
        }
        let mut won = 0;
        for t in tasks {
            won += u32::from(t.await.expect("task"));
        }
        assert_eq!(won, 3);
        let b = blocking.clone();
        let mut out = std::thread::spawn(move || {
            let mut out = Vec::new();
            b.read(&mut out).expect("read");
            out
        })
        .join()
        .expect("blocking read");
        assert_eq!(
            out[0],
            Count {
                max: 50,
                pending: 0,
                completed: 50
            }
        );

        // The rest of the operations, and their idempotence.
        assert!(
            store
                .hold("ann", 1, &[1], 60_000)
                .await
                .expect("hold")
                .is_accepted()
        );
        assert!(matches!(
            store.hold("ann", 1, &[1], 60_000).await,
            Ok(Hold::AlreadyHeld { .. })
        ));
        assert_eq!(store.release("ann", 1).await, Ok(true));
        assert_eq!(store.release("ann", 1).await, Ok(false));
        assert!(
            store
                .hold("bob", 1, &[1], 60_000)
                .await
                .expect("hold")
                .is_accepted()
        );
        let released = store.release_all("bob").await.expect("release_all");
        assert_eq!(released.len(), 1);
        assert_eq!(released[0].counters.as_slice(), &[1]);
        assert!(
            store
                .hold("cat", 1, &[1], 1)
                .await
                .expect("hold")
                .is_accepted()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(store.expire().await, Ok(1));
        assert_eq!(store.expire().await, Ok(0));
        assert!(matches!(
            store.hold("dan", 0, &[7], 60_000).await,
            Err(StoreError::UnknownCounter { counter: 7, .. })
        ));
        store.read(&mut out).await.expect("read");
        assert_eq!(out[1].pending, 0);
        store.purge().await.expect("purge");
        assert!(matches!(
            store.read(&mut out).await,
            Err(StoreError::Protocol { .. })
        ));
    });
}

#[test]
fn postgres_commit_in_async_commits_or_rolls_back_with_the_callers_transaction() {
    let l = layout("pg-async-tx", &[("a", 10)]);
    // The blocking store's commit_in_async runs on the caller's client only.
    let blocking =
        PostgresStore::connect(SHARED, l.clone(), PostgresOptions::default()).expect("connect");
    block_on(async {
        let store = AsyncPostgresStore::connect(SHARED, l, PostgresOptions::default())
            .await
            .expect("connect");
        assert!(
            store
                .hold("ann", 0, &[0], 60_000)
                .await
                .expect("hold")
                .is_accepted()
        );
        let (mut client, connection) = tokio_postgres::connect(SHARED, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(async move {
            let _ = connection.await;
        });

        let tx = client.transaction().await.expect("begin");
        assert_eq!(
            blocking.commit_in_async(&tx, "ann", 0).await,
            Ok(Completion::Completed)
        );
        tx.rollback().await.expect("rollback");
        let mut out = Vec::new();
        store.read(&mut out).await.expect("read");
        assert_eq!((out[0].pending, out[0].completed), (1, 0));

        let tx = client.transaction().await.expect("begin");
        assert_eq!(
            store.commit_in(&tx, "ann", 0).await,
            Ok(Completion::Completed)
        );
        tx.commit().await.expect("commit");
        store.read(&mut out).await.expect("read");
        assert_eq!((out[0].pending, out[0].completed), (0, 1));
        assert_eq!(
            store.commit("ann", 0).await,
            Ok(Completion::AlreadyCompleted)
        );
    });
}
