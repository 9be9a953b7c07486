//! SIGKILL the server mid-run: acknowledged completes survive (AOF, fsync always), calls
//! during the outage fail with Unavailable, retries after indeterminate errors are safe.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use quotaroute::live::Completion;
use quotaroute::store::{Hold, QuotaStore, RedisOptions, RedisStore, StoreError};

use crate::support::{Server, TempDir, free_port, layout};

const AOF: [&str; 4] = ["--appendonly", "yes", "--appendfsync", "always"];

#[derive(Default)]
struct Log {
    /// (respondent, category) whose commit a caller saw succeed.
    acknowledged: Vec<String>,
    /// Calls whose outcome is unknown, to repeat after the restart.
    indeterminate: Vec<(String, bool)>,
    unavailable: u32,
    other_errors: Vec<String>,
}

fn note(log: &Mutex<Log>, r: &str, commit: bool, e: StoreError) {
    let mut log = log.lock().expect("log");
    match e {
        StoreError::Unavailable { indeterminate, .. } => {
            log.unavailable += 1;
            if indeterminate {
                log.indeterminate.push((r.to_string(), commit));
            }
        }
        other => log.other_errors.push(other.to_string()),
    }
}

#[test]
fn completes_acknowledged_before_a_kill_survive_it() {
    let dir = TempDir::new("kill");
    let port = free_port();
    let mut server = Server::start(port, &dir.0, &AOF);
    let options = RedisOptions {
        timeout: Duration::from_millis(300),
        retries: 1,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(50),
        ..RedisOptions::default()
    };
    // b is small: contended to its max while the server dies.
    let store = RedisStore::connect(
        &server.url(),
        layout("kill", &[("a", 100_000), ("b", 40)]),
        options,
    )
    .expect("connect");
    let stop = AtomicBool::new(false);
    let log = Mutex::new(Log::default());
    let calls = AtomicU32::new(0);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (store, stop, log, calls) = (&store, &stop, &log, &calls);
            s.spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let r = format!("t{t}-{i}");
                    let set: &[u32] = if i % 4 == 0 { &[0, 1] } else { &[0] };
                    calls.fetch_add(1, Ordering::Relaxed);
                    match store.hold(&r, 0, set, 60_000) {
                        Ok(Hold::Accepted { .. }) => {}
                        Ok(_) => continue,
                        Err(e) => {
                            note(log, &r, false, e);
                            continue;
                        }
                    }
                    match store.commit(&r, 0) {
                        Ok(Completion::Completed | Completion::AlreadyCompleted) => {
                            log.lock().expect("log").acknowledged.push(r)
                        }
                        Ok(other) => log
                            .lock()
                            .expect("log")
                            .other_errors
                            .push(format!("{other:?}")),
                        Err(e) => note(log, &r, true, e),
                    }
                }
            });
        }
        std::thread::sleep(Duration::from_millis(400));
        server.kill();
        std::thread::sleep(Duration::from_millis(800));
        server = Server::start(port, &dir.0, &AOF);
        std::thread::sleep(Duration::from_millis(400));
        stop.store(true, Ordering::Relaxed);
    });
    let log = log.into_inner().expect("log");
    assert!(log.other_errors.is_empty(), "{:?}", log.other_errors);
    assert!(log.unavailable > 0, "no call failed during the outage");
    assert!(
        log.acknowledged.len() > 20,
        "only {} completes",
        log.acknowledged.len()
    );
    // Retrying an indeterminate call is safe: it answers, and counts at most once.
    for (r, commit) in &log.indeterminate {
        if *commit {
            assert!(store.commit(r, 0).is_ok());
        } else {
            assert!(store.hold(r, 0, &[0], 60_000).is_ok());
            assert!(store.release(r, 0).is_ok());
        }
    }
    // Every acknowledged complete is still there.
    for r in &log.acknowledged {
        assert_eq!(store.hold(r, 0, &[0], 1), Ok(Hold::AlreadyCompleted), "{r}");
    }
    let mut out = Vec::new();
    store.read(&mut out).expect("read");
    for c in &out {
        assert!(c.pending + c.completed <= c.max, "overfill: {c:?}");
    }
    // Completes counted match those acknowledged, give or take the indeterminate commits.
    let acked = log.acknowledged.len() as u32;
    let commits_unknown = log.indeterminate.iter().filter(|(_, c)| *c).count() as u32;
    assert!(out[0].completed >= acked && out[0].completed <= acked + commits_unknown);
    drop(server);
}
