//! The crate behind an HTTP JSON API: a small service a platform can copy. It embeds one
//! live [`Engine`](quotaroute::live::Engine) on a quota store, serves interviews over HTTP
//! (axum on tokio), runs the expiry sweep and the mirror's sync as a background task, and
//! shuts down gracefully on SIGTERM or ctrl-c.
//!
//! ```text
//! cargo build --release --example service --features redis,metrics
//! target/release/examples/service                                  # in-memory store
//! target/release/examples/service --listen 127.0.0.1:8081 --redis redis://127.0.0.1:6379
//! ```
//!
//! Flags: `--listen ADDR` (127.0.0.1:8080; port 0 picks a free one), `--catalogue FILE` (a
//! catalogue JSON document; default the bundled catalogue with gender cells, as the `server`
//! example builds it), `--redis URL` (quotas and interviews shared with every node on the
//! same survey; without it an in-process store, same code path), `--postgres URL` (with the
//! `postgres` feature), `--survey NAME` (default derived from the catalogue, so processes
//! started with the same catalogue and store share one survey), `--budget-seconds S` (480),
//! `--ttl-ms MS` (30 minutes), `--sync-ms MS` (250: how often the mirror is pulled and
//! expired holds swept). The first line on stdout is `listening on ADDR` (the bound address).
//!
//! # The API
//!
//! - `POST /v1/next` `{"respondent": "<id>", "answers": {"gender": "female", ...}}` →
//!   `{"offer": "<category id>"}`, or `{"offer": null}` when the interview is over. The
//!   answers are kept with the interview from its first request on; later requests may
//!   leave them out (given again, they must be the same).
//! - `POST /v1/answer` `{"respondent", "category", "qualified"}` → `{"result": "accepted" |
//!   "full" | "already_held" | "already_completed" | "not_qualified"}`.
//! - `POST /v1/complete` `{"respondent", "category"}` → `{"result": "completed" |
//!   "already_completed" | "expired" | "not_reserved"}`.
//! - `POST /v1/abandon` `{"respondent"}` → `{"released": n}`.
//! - `GET /v1/quotas` → `{"categories": [{"id", "target", "completed", "pending"}], "overfill"}`
//!   read from the store. `PUT /v1/categories/<id>/target` `{"target": n}` → the category.
//! - `GET /metrics`: the engine's metrics in the Prometheus text format.
//!
//! A bad request (bad JSON, a wrong type, an unknown field, category or respondent) is a 4xx
//! with `{"error": "..."}` naming what is wrong, and changes nothing. A store failure is a
//! 503 (retrying is safe: every call is idempotent).
//!
//! # State per request
//!
//! A node keeps no interview between requests: each request resumes the respondent's
//! interview from the store (`Engine::resume`), acts, and saves it back
//! (`Engine::save_session`), so any node serves any request. Engine calls that wait on the
//! store run on tokio's blocking pool (`spawn_blocking`), never on the async workers.

mod api;
mod args;
mod interview;

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use metrics_exporter_prometheus::PrometheusBuilder;
use quotaroute::live::{Engine, LiveConfig, SystemClock};
use quotaroute::route::{Router, policy};
use quotaroute::store::{Layout, MemoryStore, QuotaStore, RedisOptions, RedisStore};

/// The engine every request shares.
pub type Live = Engine<Box<dyn Router>, SystemClock>;

fn main() -> std::process::ExitCode {
    let args = args::Args::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("service: {message}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run(args: args::Args) -> Result<(), String> {
    // Installed before the engine is built: the engine registers its handles then.
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("metrics recorder: {e}"))?;
    let catalogue = args.catalogue()?;
    let survey = args.survey(&catalogue);
    let layout = Layout::from_catalogue(survey, &catalogue).map_err(|e| e.to_string())?;
    let store = args.store(layout)?;
    let config = LiveConfig {
        ttl_ms: args.ttl_ms,
        budget_seconds: args.budget_seconds,
        ..LiveConfig::default()
    };
    let router = policy("greedy").map_err(|e| e.to_string())?;
    let engine = Engine::with_store(catalogue, router, SystemClock, config, store)
        .map_err(|e| format!("joining the survey: {e}"))?;
    let state = api::State::new(Arc::new(engine), prometheus);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(serve(args, state))
}

impl args::Args {
    /// The quota store: Redis or PostgreSQL when given, else one in this process.
    fn store(&self, layout: Layout) -> Result<Arc<dyn QuotaStore>, String> {
        if let Some(url) = &self.postgres {
            #[cfg(feature = "postgres")]
            {
                use quotaroute::store::{PostgresOptions, PostgresStore};
                return PostgresStore::connect(url, layout, PostgresOptions::default())
                    .map(|s| Arc::new(s) as Arc<dyn QuotaStore>)
                    .map_err(|e| format!("--postgres {url}: {e}"));
            }
            #[cfg(not(feature = "postgres"))]
            return Err(format!(
                "--postgres {url}: build the example with --features postgres"
            ));
        }
        match &self.redis {
            Some(url) => RedisStore::connect(url, layout, RedisOptions::default())
                .map(|s| Arc::new(s) as Arc<dyn QuotaStore>)
                .map_err(|e| format!("--redis {url}: {e}")),
            None => Ok(Arc::new(MemoryStore::new(layout, SystemClock))),
        }
    }
}

/// Serves until SIGTERM or ctrl-c, then lets requests in flight finish and stops the
/// background task.
async fn serve(args: args::Args, state: api::State) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("--listen {}: {e}", args.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {bound}");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let background = tokio::spawn(background(
        state.engine.clone(),
        Duration::from_millis(args.sync_ms.max(1)),
        stopped,
    ));
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;
    let _ = stop.send(true);
    let _ = background.await;
    Ok(())
}

/// Every `every`: sweep expired holds (any node's), pull the store's counts into this
/// node's mirror, so its routing sees other nodes' holds and completes, and sample the
/// metrics gauges.
async fn background(
    engine: Arc<Live>,
    every: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        let engine = engine.clone();
        let done = tokio::task::spawn_blocking(move || {
            engine.expire()?;
            let synced = engine.sync();
            // The gauges (open slots per category, mirror lag) are sampled, not pushed.
            engine.publish_metrics();
            synced
        })
        .await;
        // A failed sweep or sync is retried at the next tick; the mirror is only staler.
        if let Ok(Err(e)) = done {
            eprintln!("service: background sweep: {e}");
        }
    }
}

/// Resolves on ctrl-c or SIGTERM (what a container runtime sends before it kills).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
