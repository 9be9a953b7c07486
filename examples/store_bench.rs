//! Measures the Redis quota store: holds and hold+commit pairs through `RedisStore` from one
//! node (one store, 8 threads) and from "4 nodes" (4 independent stores, 8 threads each),
//! against `redis-benchmark` running the crate's own hold script (loaded with `SCRIPT LOAD`
//! from the same `.lua` source) with the same number of connections and pipeline depth 1.
//! Then the server memory per hold and per complete. Prints one JSON document.
//!
//! ```text
//! cargo run --release --example store_bench --features redis -- [PORT] [OPS_PER_THREAD]
//! ```
//!
//! Needs `redis-server` on 127.0.0.1:PORT (default 6379) and `redis-cli`/`redis-benchmark`
//! on PATH. It writes surveys named `bench-*` and purges them at the end.

use std::process::Command;
use std::time::{Duration, Instant};

use quotaroute::store::{Counter, Hold, Layout, QuotaStore, RedisOptions, RedisStore};
use serde_json::{Value, json};

const HOLD_LUA: &str = include_str!("../src/store/redis/lua/hold.lua");
const THREADS: usize = 8;
const NODES: usize = 4;

type Error = Box<dyn std::error::Error>;

/// A UUID-shaped respondent key (36 bytes, as platforms send).
fn respondent(node: usize, thread: usize, i: usize) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        0x5eed_0000 + node,
        thread,
        i % 4096,
        (i / 4096) % 4096,
        i
    )
}

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

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    (f64::from(sorted[i]) / 1000.0).round() / 1000.0
}

/// The server's own CPU time per script call (µs) since the last `CONFIG RESETSTAT`: the
/// capacity of one shard is about a million over it.
fn server_us_per_call(port: u16) -> Result<f64, Error> {
    let stats = cli(port, &["INFO", "commandstats"])?;
    let line = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_evalsha:"))
        .ok_or("no EVALSHA in INFO commandstats")?;
    line.split(',')
        .find_map(|f| f.strip_prefix("usec_per_call="))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "no usec_per_call".into())
}

/// `nodes` stores × `THREADS` threads, `ops` respondents each; `commit` adds the complete.
/// Latency is per store call (µs), throughput in store calls per second.
fn run(
    url: &str,
    port: u16,
    survey: &str,
    nodes: usize,
    ops: usize,
    commit: bool,
) -> Result<Value, Error> {
    let stores: Vec<RedisStore> = (0..nodes)
        .map(|_| {
            RedisStore::connect(url, layout(survey)?, RedisOptions::default()).map_err(Error::from)
        })
        .collect::<Result<_, _>>()?;
    // Warm the pools and the script cache.
    for (n, s) in stores.iter().enumerate() {
        s.hold(&respondent(n, 99, 0), 1, &[0, 1], 600_000)?;
    }
    cli(port, &["CONFIG", "RESETSTAT"])?;
    let started = Instant::now();
    let lat: Vec<Vec<u32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..nodes * THREADS)
            .map(|t| {
                let store = &stores[t / THREADS];
                scope.spawn(move || -> Result<Vec<u32>, quotaroute::store::StoreError> {
                    let mut lat = Vec::with_capacity(ops * 2);
                    for i in 0..ops {
                        let r = respondent(t / THREADS, t, i);
                        let t0 = Instant::now();
                        let h = store.hold(&r, 0, &[0, 1], 600_000)?;
                        lat.push(t0.elapsed().as_nanos() as u32);
                        if commit && matches!(h, Hold::Accepted { .. }) {
                            let t0 = Instant::now();
                            store.commit(&r, 0)?;
                            lat.push(t0.elapsed().as_nanos() as u32);
                        }
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect::<Result<_, _>>()
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut all: Vec<u32> = lat.into_iter().flatten().collect();
    all.sort_unstable();
    Ok(json!({
        "nodes": nodes,
        "threads_per_node": THREADS,
        "connections": nodes * THREADS,
        "calls": all.len(),
        "calls_per_s": (all.len() as f64 / elapsed).round(),
        "pairs_per_s": if commit { (all.len() as f64 / 2.0 / elapsed).round() } else { 0.0 },
        "p50_ms": percentile(&all, 0.50),
        "p99_ms": percentile(&all, 0.99),
        "server_us_per_call": server_us_per_call(port)?,
    }))
}

fn cli(port: u16, args: &[&str]) -> Result<String, Error> {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()?;
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

/// redis-benchmark running the hold script by EVALSHA with `clients` connections,
/// pipeline 1, random UUID-length respondents.
fn redis_benchmark(port: u16, survey: &str, clients: usize, n: usize) -> Result<Value, Error> {
    let sha = cli(port, &["SCRIPT", "LOAD", HOLD_LUA])?;
    let key = |k: &str| format!("qr:v1:{{{survey}}}:{k}");
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-c", &clients.to_string(), "-n", &n.to_string(), "-P", "1"])
        .args(["-r", "100000000000", "--csv"])
        .args([
            "EVALSHA",
            &sha,
            "3",
            &key("counts"),
            &key("resp"),
            &key("due"),
        ])
        .args([
            "00000000-0000-4000-8000-__rand_int__",
            "0",
            "600000",
            "0",
            "1",
        ])
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    // CSV: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95…","p99…","max…"
    let row = text
        .lines()
        .filter(|l| l.starts_with('"') && !l.starts_with("\"test\""))
        .next_back()
        .ok_or("redis-benchmark printed no result")?;
    let cols: Vec<f64> = row
        .split(',')
        .skip(1)
        .map(|c| c.trim_matches('"').parse().unwrap_or(f64::NAN))
        .collect();
    Ok(json!({
        "connections": clients,
        "calls": n,
        "calls_per_s": cols.first().copied().unwrap_or(f64::NAN),
        "p50_ms": cols.get(3).copied().unwrap_or(f64::NAN),
        "p99_ms": cols.get(5).copied().unwrap_or(f64::NAN),
        "script_sha": sha,
    }))
}

fn used_memory(port: u16) -> Result<i64, Error> {
    let info = cli(port, &["INFO", "memory"])?;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| "no used_memory in INFO".into())
}

/// Server memory per respondent: `n` holds, then the same `n` committed.
fn memory(url: &str, port: u16, survey: &str, n: usize) -> Result<Value, Error> {
    let before = used_memory(port)?;
    let store = RedisStore::connect(url, layout(survey)?, RedisOptions::default())?;
    let empty = used_memory(port)?;
    for i in 0..n {
        store.hold(&respondent(7, 0, i), 0, &[0, 1], 600_000)?;
    }
    let held = used_memory(port)?;
    let key = |k: &str| format!("qr:v1:{{{survey}}}:{k}");
    let usage = |k: &str| -> Result<i64, Error> {
        Ok(cli(port, &["MEMORY", "USAGE", &key(k), "SAMPLES", "0"])?.parse()?)
    };
    let (resp_held, due_held) = (usage("resp")?, usage("due")?);
    for i in 0..n {
        store.commit(&respondent(7, 0, i), 0)?;
    }
    let done = used_memory(port)?;
    let resp_done = usage("resp")?;
    let survey_bytes = usage("meta")? + usage("counts")?;
    store.purge()?;
    let per = |b: i64| (b as f64 / n as f64 * 10.0).round() / 10.0;
    Ok(json!({
        "respondents": n,
        "respondent_key_bytes": 36,
        "counters_per_hold": 2,
        "survey_fixed_bytes": survey_bytes,
        "survey_join_used_memory_delta": empty - before,
        "per_hold_used_memory": per(held - empty),
        "per_hold_memory_usage_keys": per(resp_held + due_held),
        "per_complete_used_memory": per(done - empty),
        "per_complete_memory_usage_keys": per(resp_done),
    }))
}

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(6379), |p| p.parse())?;
    let ops: usize = args.next().map_or(Ok(5000), |p| p.parse())?;
    let url = format!("redis://127.0.0.1:{port}/");
    let tag = std::process::id();
    let s = |what: &str| format!("bench-{what}-{tag}");

    let one_hold = run(&url, port, &s("1h"), 1, ops, false)?;
    let one_pair = run(&url, port, &s("1p"), 1, ops, true)?;
    let four_hold = run(&url, port, &s("4h"), NODES, ops / NODES.max(1), false)?;
    let four_pair = run(&url, port, &s("4p"), NODES, ops / NODES.max(1), true)?;
    // Same survey shape for redis-benchmark (created by a join, so the counters exist).
    RedisStore::connect(&url, layout(&s("rb"))?, RedisOptions::default())?;
    cli(port, &["CONFIG", "RESETSTAT"])?;
    let rb8 = redis_benchmark(port, &s("rb"), THREADS, ops * THREADS)?;
    let rb8_server_us = server_us_per_call(port)?;
    let rb32 = redis_benchmark(port, &s("rb"), NODES * THREADS, ops * THREADS)?;
    let ratio = |ours: &Value, theirs: &Value| {
        let (a, b) = (ours["calls_per_s"].as_f64(), theirs["calls_per_s"].as_f64());
        a.zip(b)
            .map_or(f64::NAN, |(a, b)| (a / b * 100.0).round() / 100.0)
    };
    let mem = memory(&url, port, &s("mem"), 20_000)?;
    let out = json!({
        "port": port,
        "ops_per_thread": ops,
        "one_node_hold": one_hold,
        "one_node_hold_commit": one_pair,
        "four_nodes_hold": four_hold,
        "four_nodes_hold_commit": four_pair,
        "redis_benchmark_hold_8": rb8,
        "redis_benchmark_hold_8_server_us_per_call": rb8_server_us,
        "redis_benchmark_hold_32": rb32,
        "ratio_hold_one_node_vs_redis_benchmark": ratio(&one_hold, &rb8),
        "ratio_hold_four_nodes_vs_redis_benchmark": ratio(&four_hold, &rb32),
        "memory": mem,
    });
    // Clean up every survey written.
    for what in ["1h", "1p", "4h", "4p", "rb"] {
        RedisStore::connect(&url, layout(&s(what))?, RedisOptions::default())?.purge()?;
    }
    std::thread::sleep(Duration::from_millis(10));
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
