//! SIGKILL the PostgreSQL postmaster mid-run (a private cluster, `fsync=on`) and restart it:
//! acknowledged completes survive crash recovery, the stores reconnect by themselves, no
//! counter overfills, and calls whose outcome was unknown are settled by repeating them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use quotaroute::live::Completion;
use quotaroute::store::{
    Hold, PG_MIGRATIONS, PostgresOptions, PostgresStore, QuotaStore, StoreError,
};

use crate::support::{TempDir, free_port, layout};

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A private PostgreSQL cluster: initdb'd into a temp dir, its postmaster a child process.
struct Private {
    dir: TempDir,
    port: u16,
    postmaster: Option<Child>,
}

impl Private {
    fn init() -> Private {
        let dir = TempDir::new("pg");
        if as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir.0)
                .status()
                .expect("chown");
            assert!(status.success(), "chown the temp dir to postgres");
        }
        let data = dir.0.join("data");
        let status = server_command("initdb")
            .args(["-U", "postgres", "-A", "trust", "--no-sync", "-D"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb (apt-get install postgresql)");
        assert!(status.success(), "initdb failed");
        let mut pg = Private {
            dir,
            port: free_port(),
            postmaster: None,
        };
        pg.start();
        pg
    }

    fn start(&mut self) {
        let data = self.dir.0.join("data");
        let child = server_command("postgres")
            .arg("-D")
            .arg(&data)
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .args(["-c", "fsync=on", "-c", "synchronous_commit=on"])
            .arg("-k")
            .arg(&self.dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start postgres");
        self.postmaster = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.ready() {
            assert!(Instant::now() < deadline, "private postgres did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ready(&self) -> bool {
        Command::new(Path::new(BIN).join("pg_isready"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// SIGKILL of the postmaster: no shutdown checkpoint; its backends exit when they see
    /// it gone, and the restart runs crash recovery from the WAL.
    fn kill(&mut self) {
        if let Some(mut child) = self.postmaster.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        self.kill();
    }
}

/// True when this process runs as root (as CI does).
fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A server program of the PostgreSQL install. initdb and postgres refuse to run as root, so
/// under root they run as the `postgres` user through `setpriv`, which execs (so the child
/// is the postmaster itself, and SIGKILL reaches it).
fn server_command(program: &str) -> Command {
    let path = Path::new(BIN).join(program);
    if as_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            "postgres",
            "--regid",
            "postgres",
            "--init-groups",
            "--",
        ]);
        c.arg(path);
        c
    } else {
        Command::new(path)
    }
}

#[derive(Default)]
struct Log {
    acknowledged: Vec<String>,
    indeterminate: Vec<String>,
    unavailable: u32,
    after_restart: u32,
    other_errors: Vec<String>,
}

#[test]
fn postgres_completes_acknowledged_before_a_kill_survive_it() {
    let mut pg = Private::init();
    let options = PostgresOptions {
        connect_timeout: Duration::from_millis(500),
        statement_timeout: Duration::from_secs(1),
        retries: 2,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        ..PostgresOptions::default()
    };
    // b is small: contended to its max while the server dies.
    let l = layout("pg-kill", &[("a", 100_000), ("b", 60)]);
    // Three nodes start at once on the fresh database: the migration is applied once, the
    // survey created once (the advisory lock), and all three join it.
    let url = pg.url();
    let nodes: Vec<PostgresStore> = std::thread::scope(|s| {
        let starting: Vec<_> = (0..3)
            .map(|_| s.spawn(|| PostgresStore::connect(&url, l.clone(), options.clone())))
            .collect();
        starting
            .into_iter()
            .map(|h| h.join().expect("node thread").expect("connect"))
            .collect()
    });
    let mut db = ::postgres::Client::connect(&url, ::postgres::NoTls).expect("connect");
    let migrations: i64 = db
        .query_one("SELECT count(*) FROM quotaroute.migrations", &[])
        .and_then(|r| r.try_get(0))
        .expect("migrations");
    assert_eq!(
        migrations,
        PG_MIGRATIONS.len() as i64,
        "each migration recorded once"
    );
    drop(db);
    let stop = AtomicBool::new(false);
    let restarted = AtomicBool::new(false);
    let log = Mutex::new(Log::default());
    let next = AtomicU32::new(0);
    std::thread::scope(|s| {
        for store in &nodes {
            for _ in 0..2 {
                let (stop, restarted, log, next) = (&stop, &restarted, &log, &next);
                s.spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let r = format!("r{i}");
                        let counters: &[u32] = if i % 2 == 0 { &[0, 1] } else { &[0] };
                        match store.hold(&r, 0, counters, 600_000) {
                            Ok(Hold::Accepted { .. }) => {}
                            Ok(_) => continue,
                            Err(e) => {
                                note(log, &r, e);
                                std::thread::sleep(Duration::from_millis(20));
                                continue;
                            }
                        }
                        match store.commit(&r, 0) {
                            Ok(Completion::Completed) => {
                                let mut log = log.lock().expect("log");
                                log.acknowledged.push(r);
                                if restarted.load(Ordering::Acquire) {
                                    log.after_restart += 1;
                                }
                            }
                            Ok(other) => log
                                .lock()
                                .expect("log")
                                .other_errors
                                .push(format!("commit {r}: {other:?}")),
                            Err(e) => note(log, &r, e),
                        }
                    }
                });
            }
        }
        std::thread::sleep(Duration::from_millis(700));
        pg.kill();
        std::thread::sleep(Duration::from_millis(300));
        pg.start();
        restarted.store(true, Ordering::Release);
        std::thread::sleep(Duration::from_millis(1_500));
        stop.store(true, Ordering::Release);
    });
    let mut log = log.into_inner().expect("log");
    assert!(log.other_errors.is_empty(), "{:?}", log.other_errors);
    assert!(log.unavailable > 0, "the outage was noticed");
    assert!(
        log.after_restart > 0,
        "the stores reconnected and completed after the restart"
    );
    // Settle the unknown outcomes: a repeated commit says whether the first counted.
    let store = &nodes[0];
    for r in std::mem::take(&mut log.indeterminate) {
        match store.commit(&r, 0).expect("settle") {
            Completion::Completed | Completion::AlreadyCompleted => log.acknowledged.push(r),
            Completion::NotReserved | Completion::Expired => {}
        }
    }
    log.acknowledged.sort();
    log.acknowledged.dedup();
    // Every acknowledged complete is still there after crash recovery, and nothing else.
    for r in &log.acknowledged {
        assert_eq!(
            store.commit(r, 0),
            Ok(Completion::AlreadyCompleted),
            "{r}'s acknowledged complete was lost"
        );
    }
    let mut counts = Vec::new();
    store.read(&mut counts).expect("read");
    assert_eq!(counts[0].completed as usize, log.acknowledged.len());
    assert!(counts[1].completed + counts[1].pending <= 60, "{counts:?}");
}

fn note(log: &Mutex<Log>, r: &str, e: StoreError) {
    let mut log = log.lock().expect("log");
    match e {
        StoreError::Unavailable { indeterminate, .. } => {
            log.unavailable += 1;
            if indeterminate {
                log.indeterminate.push(r.to_string());
            }
        }
        other => log.other_errors.push(other.to_string()),
    }
}
