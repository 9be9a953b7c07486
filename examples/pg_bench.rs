//! Measures the PostgreSQL quota store: reserve + commit pairs (a hold across a category and
//! one of its cells, then its complete) through `PostgresStore` from 1 node (one store,
//! `THREADS` threads) and from 4 nodes (4 stores, `THREADS` threads each), and in the same run,
//! as the database's ceiling, `pgbench -M prepared` running the crate's own SQL (the same
//! `quotaroute.hold` and `quotaroute.commit` calls, one operation per transaction) with the
//! same number of connections. Prints one JSON document with the ratio of each.
//!
//! ```text
//! cargo run --release --example pg_bench --features postgres -- [URL] [SECONDS]
//! ```
//!
//! URL defaults to `postgres://postgres@127.0.0.1:5432/postgres`, SECONDS (per measurement)
//! to 10. Needs `pgbench` on PATH or in /usr/lib/postgresql/15/bin. It writes surveys named
//! `pgbench-*` and purges them at the end.

use std::process::Command;
use std::time::{Duration, Instant};

use quotaroute::store::{Counter, Hold, Layout, PostgresOptions, PostgresStore, QuotaStore};
use serde_json::{Value, json};

/// Threads (so connections) per node: with 4 nodes, 8 connections on a 2-core machine.
const THREADS: usize = 2;

type Error = Box<dyn std::error::Error>;

fn layout(survey: &str) -> Result<Layout, Error> {
    // A category and one of its quota cells: every hold takes two counters, never full.
    Ok(Layout::new(
        survey,
        vec![
            Counter::new("cat", 2_000_000_000),
            Counter::new("cat/cell", 2_000_000_000),
        ],
    )?)
}

fn survey(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("pgbench-{tag}-{}-{nanos:x}", std::process::id())
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

/// `nodes` stores × `THREADS` threads doing reserve + commit pairs for `secs` seconds.
fn store_run(url: &str, nodes: usize, secs: u64) -> Result<(Value, f64), Error> {
    let name = survey(&format!("store{nodes}"));
    let l = layout(&name)?;
    let stores = (0..nodes)
        .map(|_| PostgresStore::connect(url, l.clone(), PostgresOptions::default()))
        .collect::<Result<Vec<_>, _>>()?;
    let until = Instant::now() + Duration::from_secs(secs);
    let began = Instant::now();
    let mut lat: Vec<u32> = Vec::new();
    let mut errors = 0u64;
    std::thread::scope(|s| {
        let handles: Vec<_> = stores
            .iter()
            .enumerate()
            .flat_map(|(n, store)| (0..THREADS).map(move |t| (n, t, store)))
            .map(|(n, t, store)| {
                s.spawn(move || {
                    let (mut lat, mut errors) = (Vec::new(), 0u64);
                    let mut i = 0u64;
                    while Instant::now() < until {
                        let r = format!("n{n}-t{t}-{i:012}");
                        i += 1;
                        let start = Instant::now();
                        let ok = matches!(
                            store.hold(&r, 0, &[0, 1], 600_000),
                            Ok(Hold::Accepted { .. })
                        ) && store.commit(&r, 0).is_ok();
                        if ok {
                            lat.push(start.elapsed().as_micros().min(u32::MAX as u128) as u32);
                        } else {
                            errors += 1;
                        }
                    }
                    (lat, errors)
                })
            })
            .collect();
        for h in handles {
            if let Ok((l, e)) = h.join() {
                lat.extend(l);
                errors += e;
            }
        }
    });
    let elapsed = began.elapsed().as_secs_f64();
    lat.sort_unstable();
    let pairs = lat.len() as f64 / elapsed;
    let mut counts = Vec::new();
    stores[0].read(&mut counts)?;
    stores[0].purge()?;
    Ok((
        json!({
            "nodes": nodes,
            "connections": nodes * THREADS,
            "pairs": lat.len(),
            "errors": errors,
            "seconds": (elapsed * 1000.0).round() / 1000.0,
            "pairs_per_second": pairs.round(),
            "pair_p50_ms": percentile(&lat, 0.50),
            "pair_p99_ms": percentile(&lat, 0.99),
            "completed_read_back": counts.first().map_or(0, |c| c.completed),
        }),
        pairs,
    ))
}

fn pgbench_path() -> String {
    let packaged = "/usr/lib/postgresql/15/bin/pgbench";
    if std::path::Path::new(packaged).exists() {
        packaged.into()
    } else {
        "pgbench".into()
    }
}

/// pgbench with `clients` connections running the crate's own hold and commit, one
/// statement per transaction, prepared; returns its report and scripts (pairs) per second.
fn pgbench(url: &str, clients: usize, secs: u64) -> Result<(Value, f64), Error> {
    let name = survey(&format!("pgbench{clients}"));
    let store = PostgresStore::connect(url, layout(&name)?, PostgresOptions::default())?;
    let script =
        std::env::temp_dir().join(format!("quotaroute-pgbench-{}.sql", std::process::id()));
    // The same calls, text and parameters the store sends (its HOLD and COMMIT statements).
    std::fs::write(
        &script,
        "\\set r random(1, 2000000000)\n\
         SELECT code, val FROM quotaroute.hold(:survey, 'pgb-' || :client_id || '-' || :r, 0, '{0,1}', 600000);\n\
         SELECT quotaroute.commit(:survey, 'pgb-' || :client_id || '-' || :r, 0);\n",
    )?;
    let c = clients.to_string();
    let t = secs.to_string();
    let out = Command::new(pgbench_path())
        .args(["-M", "prepared", "-n", "-c", &c, "-j", &c, "-T", &t, "-f"])
        .arg(&script)
        .args(["-D", &format!("survey={name}")])
        .arg(url)
        .output()?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("pgbench failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let field = |prefix: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let tps = field("tps = ").ok_or("no tps in pgbench's output")?;
    let mut counts = Vec::new();
    store.read(&mut counts)?;
    store.purge()?;
    Ok((
        json!({
            "connections": clients,
            "pairs_per_second": tps.round(),
            "latency_average_ms": field("latency average = "),
            "failed": field("number of failed transactions: "),
            "completed_read_back": counts.first().map_or(0, |c| c.completed),
        }),
        tps,
    ))
}

fn main() -> Result<(), Error> {
    let mut argv = std::env::args().skip(1);
    let url = argv
        .next()
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let secs: u64 = argv.next().map_or(Ok(10), |s| s.parse())?;
    let mut runs = Vec::new();
    for nodes in [1, 4] {
        let (store, store_pairs) = store_run(&url, nodes, secs)?;
        let (bench, bench_pairs) = pgbench(&url, nodes * THREADS, secs)?;
        runs.push(json!({
            "store": store,
            "pgbench": bench,
            "ratio": (store_pairs / bench_pairs * 1000.0).round() / 1000.0,
        }));
    }
    let out = json!({
        "operation": "reserve (hold across a category and a cell) + commit",
        "threads_per_node": THREADS,
        "runs": runs,
    });
    println!("{out:#}");
    Ok(())
}
