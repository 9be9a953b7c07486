//! Router nodes sharing one Redis or PostgreSQL quota store: `--nodes` processes (this program started
//! again by itself) of `--threads` routing threads each route `--interviews` simulated
//! respondents on the bundled catalogue (gender cells, as the `server` example builds it),
//! with random abandons, respondents who walk away (their holds expire after `--ttl-ms` of
//! real time, released by any node's sweep) and a few who finish too late. The parent prints
//! one JSON document and exits 0 only if nothing overfilled and the completes the nodes were
//! told counted are exactly the completes the store counted.
//!
//! ```text
//! cargo run --release --example cluster --features redis                 # 4 nodes × 4 threads
//! cargo run --release --example cluster --features redis -- --nodes 2 --interviews 5000
//! cargo run --release --example cluster --features redis,postgres -- \
//!     --postgres postgres://postgres@127.0.0.1:5432/postgres
//! cargo run --release --example cluster --features redis -- \
//!     --redis-cluster redis://127.0.0.1:7101,redis://127.0.0.1:7102,redis://127.0.0.1:7103
//! ```
//!
//! Flags: `--nodes N` (4), `--threads T` (4 per node), `--interviews N` (20,000 in all),
//! `--target N` (40 completes per category), `--ttl-ms MS` (2,000), `--arrival-ms MS` (twice
//! the time-to-live: each thread's respondents arrive evenly over it), `--redis URL`
//! (`redis://127.0.0.1:6379`) or `--redis-cluster URL[,URL...]` or `--postgres URL` (feature
//! `postgres`: the survey's rows in that database), `--survey NAME` (default a
//! fresh name, purged at the end; a named survey is kept), `--store-wait SECONDS` (30: how
//! long a call keeps retrying while the store is unreachable), `--seed S` (1). Hidden:
//! `--kill-node-after-ms MS` SIGKILLs the last node that long after the start (a test of a
//! node lost mid-run); `--node-index I` marks a node process.
//!
//! # Nodes and the parent
//!
//! Each node runs an engine on the shared store (`Engine::with_store`), a background thread
//! that pulls the counts every 100 ms and sweeps expired holds every 250 ms, and reports to
//! the parent through its stdout, a pipe: one JSON object per line (only the parent prints).
//! A node writes `commit` before sending a complete to the store and `done` with the
//! store's answer after; its counters and reserve-latency histogram follow every 200 ms and
//! at the end. Store failures are retried with backoff for up to `--store-wait` seconds.
//!
//! # How completes are acknowledged
//!
//! `acknowledged_completes` counts each (respondent, category) once: those a node reported
//! `done` as completed, or as already completed (a retry after a lost reply), plus the
//! **settled** ones — commits a node started but whose answer never reached the parent
//! (the node was killed, or gave up on the store). Those are reported as `unsettled`, and
//! settled after the run, once every hold has expired: the parent repeats the commit, which
//! with no hold left changes nothing and answers whether the first attempt counted
//! (`settled_completes`). `store_completes` is the sum of the categories' completes read
//! from the store; `overfill` the sum over categories and cells of completes beyond the
//! max. The run passes (exit 0) when overfill is 0, the two counts are equal, no hold is
//! left pending, every unknown outcome was settled and no node failed (the killed one
//! aside); otherwise exit 1, and 2 for an error before the run.
//!
//! A killed node's counters are its last report (up to 200 ms old; none if it dies sooner),
//! so `interviews`, `abandoned`, `reserves` and the latencies may miss its last moments;
//! completes are exact (one line each).

mod args;
mod catalogue;
mod node;
mod parent;
mod wire;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = args::Args::parse();
    if let Some(index) = args.node_index {
        return match node::run(args, index) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("cluster node {index}: {message}");
                ExitCode::from(2)
            }
        };
    }
    match parent::run(args) {
        Ok((doc, pass)) => {
            println!("{doc:#}");
            if pass {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(message) => {
            eprintln!("cluster: {message}");
            ExitCode::from(2)
        }
    }
}
