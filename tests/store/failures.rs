//! AUTH, an unreachable server, a reply lost after the server applied the call.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use quotaroute::live::Completion;
use quotaroute::store::{Hold, QuotaStore, RedisOptions, RedisStore, StoreError};

use crate::support::{LossyProxy, Server, TempDir, free_port, layout, quick};

#[test]
fn auth_with_the_password_works_and_a_wrong_one_is_a_typed_error() {
    let dir = TempDir::new("auth");
    let port = free_port();
    let server = Server::start(port, &dir.0, &["--requirepass", "s3cret"]);
    let l = layout("auth", &[("a", 5)]);
    let good = format!("redis://:s3cret@127.0.0.1:{}/", server.port);
    let store = RedisStore::connect(&good, l.clone(), quick()).expect("connect with AUTH");
    assert!(matches!(
        store.hold("r", 0, &[0], 60_000),
        Ok(Hold::Accepted { .. })
    ));

    let bad = format!("redis://:wrong@127.0.0.1:{}/", server.port);
    let started = Instant::now();
    match RedisStore::connect(&bad, l.clone(), quick()) {
        Err(StoreError::Protocol { detail, source }) => {
            assert!(detail.contains("authentication"), "{detail}");
            assert!(source.is_some());
        }
        other => panic!("expected a Protocol error, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a refused password is not retried"
    );
    // No password at all: refused by the server, a typed error too.
    match RedisStore::connect(&server.url(), l, quick()) {
        Err(StoreError::Protocol { .. }) => {}
        other => panic!("expected a Protocol error, got {other:?}"),
    }
}

#[test]
fn an_unreachable_server_is_unavailable_after_bounded_retries() {
    let port = free_port(); // nothing listens there
    let url = format!("redis://127.0.0.1:{port}/");
    let started = Instant::now();
    match RedisStore::connect(&url, layout("down", &[("a", 1)]), quick()) {
        Err(e @ StoreError::Unavailable { .. }) => {
            let StoreError::Unavailable {
                attempts,
                indeterminate,
                ..
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(*attempts, 3);
            assert!(!indeterminate, "nothing was sent");
            assert!(!e.is_indeterminate());
            assert!(std::error::Error::source(&e).is_some());
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_lost_reply_is_indeterminate_and_the_retry_is_safe() {
    let dir = TempDir::new("lost");
    let server = Server::start(free_port(), &dir.0, &[]);
    let proxy = LossyProxy::start(server.port);
    let options = RedisOptions {
        timeout: Duration::from_millis(200),
        retries: 1,
        ..quick()
    };
    let url = format!("redis://127.0.0.1:{}/", proxy.port);
    let store = RedisStore::connect(&url, layout("lost", &[("a", 5)]), options).expect("connect");
    // Scripts loaded first (a NOSCRIPT whose reply is lost would apply nothing).
    assert!(matches!(
        store.hold("warm", 0, &[0], 60_000),
        Ok(Hold::Accepted { .. })
    ));
    assert_eq!(store.commit("warm", 0), Ok(Completion::Completed));
    // The server applies the hold (and its retry); the replies never arrive.
    proxy.drop_replies.store(true, Ordering::SeqCst);
    match store.hold("r", 0, &[0], 60_000) {
        Err(e @ StoreError::Unavailable { .. }) => assert!(e.is_indeterminate(), "{e}"),
        other => panic!("expected an indeterminate Unavailable, got {other:?}"),
    }
    proxy.drop_replies.store(false, Ordering::SeqCst);
    // Repeating the call is safe: the hold is found, and counted once.
    let retry = store.hold("r", 0, &[0], 60_000);
    assert!(matches!(retry, Ok(Hold::AlreadyHeld { .. })), "{retry:?}");
    let mut out = Vec::new();
    store.read(&mut out).expect("read");
    assert_eq!((out[0].pending, out[0].completed), (1, 1));
    // The same for a commit whose reply is lost.
    proxy.drop_replies.store(true, Ordering::SeqCst);
    assert!(store.commit("r", 0).is_err_and(|e| e.is_indeterminate()));
    proxy.drop_replies.store(false, Ordering::SeqCst);
    assert_eq!(store.commit("r", 0), Ok(Completion::AlreadyCompleted));
    store.read(&mut out).expect("read");
    assert_eq!((out[0].pending, out[0].completed), (0, 2));
}
