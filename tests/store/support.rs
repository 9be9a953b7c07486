//! Servers for the store tests: the shared one on 6379, private ones started (and killed)
//! by a test, and a private three-master Cluster.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[cfg(feature = "redis")]
use quotaroute::store::RedisOptions;
use quotaroute::store::{Counter, Layout};

/// The shared server CI starts.
pub const SHARED: &str = "redis://127.0.0.1:6379/";

/// A survey name no other test (or earlier run) uses.
pub fn survey(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A layout of counters `(name, max)` for a fresh survey.
pub fn layout(prefix: &str, counters: &[(&str, u32)]) -> Layout {
    Layout::new(
        survey(prefix),
        counters.iter().map(|&(n, m)| Counter::new(n, m)).collect(),
    )
    .expect("test layouts are valid")
}

/// Options that give up quickly: for tests of outages.
#[cfg(feature = "redis")]
pub fn quick() -> RedisOptions {
    RedisOptions {
        timeout: Duration::from_millis(500),
        retries: 2,
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        ..RedisOptions::default()
    }
}

/// A port that is free, and whose Cluster bus port (+10000) is free too.
pub fn free_port() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
        let port = l.local_addr().expect("local address").port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(survey(&format!("quotaroute-{tag}")));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A private `redis-server`, killed on drop.
pub struct Server {
    pub port: u16,
    child: Child,
}

impl Server {
    /// Starts `redis-server` on `port` with data in `dir` and the extra `args`; waits until
    /// it answers PING.
    pub fn start(port: u16, dir: &Path, args: &[&str]) -> Server {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args(["--save", "", "--daemonize", "no", "--logfile", "redis.log"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH (apt-get install redis-server)");
        let server = Server { port, child };
        server.wait_ready(&[]);
        server
    }

    /// Waits until the server answers PING (with `auth` arguments for redis-cli).
    pub fn wait_ready(&self, auth: &[&str]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let answer = self.cli(auth, &["ping"]);
            // A server with a password answers NOAUTH: it is up.
            if answer.contains("PONG") || answer.contains("NOAUTH") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not start", self.port);
    }

    /// Runs redis-cli against this server; its stdout (empty when it failed).
    pub fn cli(&self, auth: &[&str], args: &[&str]) -> String {
        cli(self.port, auth, args)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// SIGKILL: no shutdown, no final fsync.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs redis-cli on `port`; its stdout, empty when it could not run.
pub fn cli(port: u16, auth: &[&str], args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(auth)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// A private three-master Redis Cluster, killed on drop.
pub struct Cluster {
    pub servers: Vec<Server>,
    _dir: TempDir,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = TempDir::new("cluster");
        let mut servers = Vec::new();
        for i in 0..3 {
            let port = free_port();
            let node = dir.0.join(format!("n{i}"));
            std::fs::create_dir_all(&node).expect("node dir");
            servers.push(Server::start(
                port,
                &node,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--appendonly",
                    "no",
                ],
            ));
        }
        let addrs: Vec<String> = servers
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let status = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli on PATH");
        assert!(status.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !servers.iter().all(|s| {
            s.cli(&[], &["cluster", "info"])
                .contains("cluster_state:ok")
        }) {
            assert!(Instant::now() < deadline, "cluster did not reach state ok");
            std::thread::sleep(Duration::from_millis(50));
        }
        Cluster { servers, _dir: dir }
    }

    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(Server::url).collect()
    }

    /// The port of the master that holds the survey's keys (it must exist).
    pub fn owner(&self, survey: &str) -> u16 {
        let meta = format!("qr:v1:{{{survey}}}:meta");
        self.servers
            .iter()
            .find(|s| s.cli(&[], &["exists", &meta]).trim() == "1")
            .map(|s| s.port)
            .expect("one master holds the survey")
    }
}

/// A TCP proxy in front of a server whose replies can be dropped: the server applies a
/// request and the client never hears back, as when a network fails mid-call.
pub struct LossyProxy {
    pub port: u16,
    pub drop_replies: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl LossyProxy {
    pub fn start(upstream: u16) -> LossyProxy {
        use std::io::{Read, Write};
        use std::net::TcpStream;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let drop_replies = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = drop_replies.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let pipe = |mut from: TcpStream, mut to: TcpStream, lossy: Option<_>| {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n @ 1..) = from.read(&mut buf) {
                            let lost = lossy.as_ref().is_some_and(
                                |f: &std::sync::Arc<std::sync::atomic::AtomicBool>| {
                                    f.load(Ordering::SeqCst)
                                },
                            );
                            if !lost && to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                };
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                pipe(client, server, None);
                pipe(s2, c2, Some(flag.clone()));
            }
        });
        LossyProxy { port, drop_replies }
    }
}

/// The features this test binary was built with, plus those an example `needs`, so the
/// example builds against the same dependency artifacts.
pub fn example_features(needs: &[&'static str]) -> String {
    let mut on = Vec::new();
    for (name, enabled) in [
        ("serde", cfg!(feature = "serde")),
        ("lp", cfg!(feature = "lp")),
        ("proptest", cfg!(feature = "proptest")),
        ("conformance", cfg!(feature = "conformance")),
        ("redis", cfg!(feature = "redis")),
        ("postgres", cfg!(feature = "postgres")),
        ("metrics", cfg!(feature = "metrics")),
    ] {
        if enabled {
            on.push(name);
        }
    }
    for &name in needs {
        if !on.contains(&name) {
            on.push(name);
        }
    }
    on.join(",")
}

/// The cargo profile this test runs in (`test`, or `bench` under --release): its
/// dependencies are built already, so only an example itself compiles.
pub fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "test"
    } else {
        "bench"
    }
}
