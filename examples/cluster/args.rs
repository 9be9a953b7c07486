//! The flags, declared once (clap derives the parser and `--help`), and the one way parent
//! and nodes connect to the store.

use std::time::{Duration, Instant};

use std::sync::Arc;

use clap::Parser;
use quotaroute::store::{Layout, QuotaStore, RedisOptions, RedisStore, StoreError};
#[cfg(feature = "postgres")]
use quotaroute::store::{PostgresOptions, PostgresStore};

/// The shared store the run uses: Redis (one server or a Cluster), or PostgreSQL.
pub enum Shared {
    /// `--redis` or `--redis-cluster`.
    Redis(RedisStore),
    /// `--postgres` (with the `postgres` feature).
    #[cfg(feature = "postgres")]
    Postgres(PostgresStore),
}

impl Shared {
    /// Deletes the survey from the store.
    pub fn purge(&self) -> Result<(), StoreError> {
        match self {
            Shared::Redis(s) => s.purge(),
            #[cfg(feature = "postgres")]
            Shared::Postgres(s) => s.purge(),
        }
    }

    /// The store as an engine keeps it.
    pub fn into_dyn(self) -> Arc<dyn QuotaStore> {
        match self {
            Shared::Redis(s) => Arc::new(s),
            #[cfg(feature = "postgres")]
            Shared::Postgres(s) => Arc::new(s),
        }
    }
}

impl std::ops::Deref for Shared {
    type Target = dyn QuotaStore;

    fn deref(&self) -> &(dyn QuotaStore + 'static) {
        match self {
            Shared::Redis(s) => s,
            #[cfg(feature = "postgres")]
            Shared::Postgres(s) => s,
        }
    }
}

/// Router nodes sharing one Redis or PostgreSQL quota store: the run's flags.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "cluster",
    about = "Router node processes sharing one Redis or PostgreSQL quota store; prints one JSON document"
)]
pub struct Args {
    /// Node processes to start.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub nodes: u32,
    /// Routing threads per node.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub threads: u32,
    /// Interviews in total, shared out over nodes and threads.
    #[arg(long, default_value_t = 20_000)]
    pub interviews: u64,
    /// Completes per category (its max target).
    #[arg(long, default_value_t = 40)]
    pub target: u32,
    /// Real milliseconds a held slot lives before it expires.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub ttl_ms: u64,
    /// Real milliseconds over which each routing thread's respondents arrive, evenly spaced
    /// (default: twice the time-to-live). Fieldwork spreads arrivals over days against a
    /// 30-minute time-to-live; routing them all at once would leave every slot an abandon
    /// or an expiry frees with nobody left to take it, and make the fill a measure of the
    /// machine's speed.
    #[arg(long)]
    pub arrival_ms: Option<u64>,
    /// One Redis server.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// A Redis Cluster, through any of its nodes: URL[,URL...] (instead of --redis).
    #[arg(long, value_delimiter = ',', num_args = 1.., conflicts_with = "redis")]
    pub redis_cluster: Option<Vec<String>>,
    /// A PostgreSQL database, e.g. postgres://postgres@127.0.0.1:5432/postgres (instead of
    /// --redis; needs the `postgres` feature). Each survey is its own rows, keyed by name.
    #[arg(long, conflicts_with_all = ["redis", "redis_cluster"])]
    pub postgres: Option<String>,
    /// The survey's name in the store (default: a fresh name, so runs never share counts; a
    /// generated survey is purged at the end, a named one kept).
    #[arg(long)]
    pub survey: Option<String>,
    /// Seconds a node keeps retrying while the store is unreachable before it gives up.
    #[arg(long, default_value_t = 30)]
    pub store_wait: u64,
    /// Seed of the simulated respondents.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Test: SIGKILL one node process this many milliseconds after the start.
    #[arg(long, hide = true)]
    pub kill_node_after_ms: Option<u64>,
    /// Internal: run as node I of a parent's run (set by the parent).
    #[arg(long, hide = true)]
    pub node_index: Option<u32>,
}

impl Args {
    /// Which store, for the report.
    pub fn store_kind(&self) -> &'static str {
        if self.postgres.is_some() {
            "postgres"
        } else if self.redis_cluster.is_some() {
            "redis-cluster"
        } else {
            "redis"
        }
    }

    /// The arrival window in milliseconds: `--arrival-ms`, or twice the time-to-live.
    pub fn arrival(&self) -> u64 {
        self.arrival_ms.unwrap_or(self.ttl_ms.saturating_mul(2))
    }

    /// The interviews node `node` runs: an even share, the remainder to the first nodes.
    pub fn node_share(&self, node: u32) -> u64 {
        let n = u64::from(self.nodes);
        self.interviews / n + u64::from(u64::from(node) < self.interviews % n)
    }

    /// The flags a node process is started with: the run's own, and its index.
    pub fn node_argv(&self, node: u32, survey: &str) -> Vec<String> {
        let mut v: Vec<String> = vec![
            "--node-index".into(),
            node.to_string(),
            "--survey".into(),
            survey.into(),
        ];
        for (flag, value) in [
            ("--nodes", self.nodes.to_string()),
            ("--threads", self.threads.to_string()),
            ("--interviews", self.interviews.to_string()),
            ("--target", self.target.to_string()),
            ("--ttl-ms", self.ttl_ms.to_string()),
            ("--arrival-ms", self.arrival().to_string()),
            ("--store-wait", self.store_wait.to_string()),
            ("--seed", self.seed.to_string()),
        ] {
            v.push(flag.into());
            v.push(value);
        }
        match (&self.postgres, &self.redis_cluster) {
            (Some(url), _) => v.extend(["--postgres".into(), url.clone()]),
            (None, Some(urls)) => v.extend(["--redis-cluster".into(), urls.join(",")]),
            (None, None) => v.extend(["--redis".into(), self.redis.clone()]),
        }
        v
    }

    /// Connects to the store and joins the survey, retrying while it is unreachable for up
    /// to `--store-wait` seconds (each attempt already retries a few times inside the store).
    /// Counts each failed attempt in `errors`.
    pub fn connect(&self, layout: &Layout, errors: &mut u64) -> Result<Shared, StoreError> {
        let give_up = Instant::now() + Duration::from_secs(self.store_wait);
        let mut pause = Duration::from_millis(100);
        loop {
            let attempt = match (&self.postgres, &self.redis_cluster) {
                #[cfg(feature = "postgres")]
                (Some(url), _) => {
                    PostgresStore::connect(url, layout.clone(), PostgresOptions::default())
                        .map(Shared::Postgres)
                }
                #[cfg(not(feature = "postgres"))]
                (Some(_), _) => Err(StoreError::Protocol {
                    detail: "--postgres needs the example built with --features postgres".into(),
                    source: None,
                }),
                (None, Some(urls)) => {
                    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
                    RedisStore::connect_cluster(&urls, layout.clone(), RedisOptions::default())
                        .map(Shared::Redis)
                }
                (None, None) => {
                    RedisStore::connect(&self.redis, layout.clone(), RedisOptions::default())
                        .map(Shared::Redis)
                }
            };
            match attempt {
                Err(StoreError::Unavailable { .. }) if Instant::now() < give_up => {
                    *errors += 1;
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                other => return other,
            }
        }
    }
}
