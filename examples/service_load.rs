//! A load driver for the `service` example: `--clients` threads run interviews over HTTP on
//! loopback, each request to the next of the `--node` URLs in turn, and one JSON object
//! is printed: requests per second and the p50/p99 latency of a whole interview (`/v1/next`
//! → `/v1/answer` qualified → `/v1/complete` when the hold is accepted).
//!
//! ```text
//! cargo build --release --example service --example service_load --features redis,metrics
//! target/release/examples/service --listen 127.0.0.1:8081 &                # in-memory store
//! target/release/examples/service_load --node http://127.0.0.1:8081
//! # two nodes on one Redis (same --survey), the driver alternating between them:
//! target/release/examples/service --listen 127.0.0.1:8082 --redis redis://127.0.0.1:6379 --survey load-1 &
//! target/release/examples/service --listen 127.0.0.1:8083 --redis redis://127.0.0.1:6379 --survey load-1 &
//! target/release/examples/service_load --node http://127.0.0.1:8082 --node http://127.0.0.1:8083
//! ```
//!
//! Flags: `--node URL` (repeatable; at least one), `--clients N` (8), `--interviews N`
//! (4,000 over all clients), `--prefix P` (respondent ids `P-<client>-<n>`; default from the
//! clock, so runs on one survey do not collide). A failed request or an unexpected status
//! ends the run with exit code 1 and one line on stderr.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde_json::{Value, json};
use ureq::Agent;

/// Drives the service example with concurrent interviews.
#[derive(Parser, Debug)]
struct Args {
    /// A service node's base URL (repeat for several; requests alternate between them).
    #[arg(long = "node", required = true)]
    nodes: Vec<String>,
    /// Client threads.
    #[arg(long, default_value_t = 8)]
    clients: u64,
    /// Interviews over all clients.
    #[arg(long, default_value_t = 4000)]
    interviews: u64,
    /// Respondent id prefix (default from the clock).
    #[arg(long)]
    prefix: Option<String>,
}

/// What one client measured.
#[derive(Default)]
struct Tally {
    requests: u64,
    offers: u64,
    accepted: u64,
    completed: u64,
    /// Each interview's duration, microseconds.
    latencies: Vec<u64>,
}

fn post(agent: &Agent, url: &str, body: &Value) -> Result<Value, String> {
    let mut response = agent
        .post(url)
        .send_json(body)
        .map_err(|e| format!("POST {url}: {e}"))?;
    response
        .body_mut()
        .read_json()
        .map_err(|e| format!("POST {url}: {e}"))
}

fn client(args: &Args, prefix: &str, c: u64, count: u64) -> Result<Tally, String> {
    let agent: Agent = Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut tally = Tally::default();
    let mut turn = c as usize;
    let mut url = |path: &str| {
        turn += 1;
        format!("{}{path}", args.nodes[turn % args.nodes.len()])
    };
    for n in 0..count {
        let respondent = format!("{prefix}-{c}-{n}");
        let gender = ["female", "male"][(n % 2) as usize];
        let age = ["18-34", "35-54", "55+"][(n % 3) as usize];
        let region = ["north", "central", "south"][(n / 3 % 3) as usize];
        let answers = json!({ "gender": gender, "age": age, "region": region });
        let start = Instant::now();
        let next = json!({ "respondent": respondent, "answers": answers });
        let offer = post(&agent, &url("/v1/next"), &next)?;
        tally.requests += 1;
        if let Some(category) = offer["offer"].as_str() {
            tally.offers += 1;
            let body = json!({ "respondent": respondent, "category": category, "qualified": true });
            let answer = post(&agent, &url("/v1/answer"), &body)?;
            tally.requests += 1;
            if answer["result"] == "accepted" {
                tally.accepted += 1;
                let body = json!({ "respondent": respondent, "category": category });
                let done = post(&agent, &url("/v1/complete"), &body)?;
                tally.requests += 1;
                if done["result"] == "completed" {
                    tally.completed += 1;
                }
            }
        }
        tally
            .latencies
            .push(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
    }
    Ok(tally)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[at] as f64 / 1000.0
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let prefix = args.prefix.clone().unwrap_or_else(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("load-{nanos}")
    });
    let clients = args.clients.max(1);
    let began = Instant::now();
    let results: Vec<Result<Tally, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let count = args.interviews / clients + u64::from(c < args.interviews % clients);
                let (args, prefix) = (&args, &prefix);
                s.spawn(move || client(args, prefix, c, count))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a client panicked".into())))
            .collect()
    });
    let elapsed = began.elapsed().as_secs_f64();
    let mut all = Tally::default();
    for r in results {
        match r {
            Ok(t) => {
                all.requests += t.requests;
                all.offers += t.offers;
                all.accepted += t.accepted;
                all.completed += t.completed;
                all.latencies.extend(t.latencies);
            }
            Err(message) => {
                eprintln!("service_load: {message}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    all.latencies.sort_unstable();
    let doc = json!({
        "nodes": args.nodes.len(),
        "clients": clients,
        "interviews": all.latencies.len(),
        "requests": all.requests,
        "offers": all.offers,
        "accepted": all.accepted,
        "completed": all.completed,
        "seconds": (elapsed * 1000.0).round() / 1000.0,
        "requests_per_second": (all.requests as f64 / elapsed).round(),
        "interviews_per_second": (all.latencies.len() as f64 / elapsed).round(),
        "interview_ms_p50": percentile(&all.latencies, 0.50),
        "interview_ms_p99": percentile(&all.latencies, 0.99),
    });
    println!("{doc:#}");
    std::process::ExitCode::SUCCESS
}
