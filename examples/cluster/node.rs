//! One node process: `--threads` routing threads on an engine whose counts live in the shared
//! store, a background thread that pulls the counts, sweeps expired holds and reports, and
//! every line to the parent on stdout.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quotaroute::catalogue::CategoryId;
use quotaroute::live::{
    Answer, Engine, LiveConfig, LiveError, Reservation, Session, SystemClock, Worker,
};
use quotaroute::route::{Router, policy};
use quotaroute::schema::{Answers, Respondent};
use quotaroute::store::{Layout, QuotaStore};
use rand::{RngExt, SeedableRng};

use crate::args::Args;
use crate::catalogue::catalogue;
use crate::wire::{Histogram, Line, Outcome, Stats};

type Live = Engine<Box<dyn Router>, SystemClock>;

/// Respondent ids: node `n`'s are `n × ID_BLOCK + i`, so nodes never share one.
pub const ID_BLOCK: u64 = 1_000_000_000;

/// A node's counters, shared by its threads.
#[derive(Default)]
struct Counters {
    interviews: AtomicU64,
    reserves: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    abandoned: AtomicU64,
    walked_away: AtomicU64,
    swept: AtomicU64,
    late: AtomicU64,
    expired_on_commit: AtomicU64,
    routing_ms: AtomicU64,
    store_retries: AtomicU64,
    store_errors: AtomicU64,
    gave_up: AtomicU64,
}

fn add(a: &AtomicU64, n: u64) {
    a.fetch_add(n, Ordering::Relaxed);
}

/// What a node shares between its threads.
struct Node {
    args: Args,
    index: u32,
    engine: Live,
    counts: Counters,
    /// When the node started routing.
    began: Instant,
    latency: Histogram,
    out: Mutex<std::io::Stdout>,
}

/// A store call given up after `--store-wait` seconds of failures, or another engine error.
struct GaveUp;

impl Node {
    /// Sends one line to the parent; a node whose parent is gone has no one to work for.
    fn emit(&self, line: &Line) {
        let mut text = serde_json::to_string(line).unwrap_or_default();
        text.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            std::process::exit(3);
        }
    }

    fn stats(&self) -> Stats {
        let c = &self.counts;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            interviews: get(&c.interviews),
            reserves: get(&c.reserves),
            accepted: get(&c.accepted),
            refused: get(&c.refused),
            abandoned: get(&c.abandoned),
            walked_away: get(&c.walked_away),
            swept: get(&c.swept),
            late: get(&c.late),
            expired_on_commit: get(&c.expired_on_commit),
            routing_ms: get(&c.routing_ms),
            store_retries: get(&c.store_retries),
            store_errors: get(&c.store_errors),
            gave_up: get(&c.gave_up),
            latency: self.latency.sparse(),
        }
    }

    /// Runs a store call until it answers, retrying store failures with backoff for up to
    /// `--store-wait` seconds (every call is idempotent, so a repeat after a lost reply is
    /// safe).
    fn retry<T>(&self, mut call: impl FnMut() -> Result<T, LiveError>) -> Result<T, GaveUp> {
        let start = Instant::now();
        let wait = Duration::from_secs(self.args.store_wait);
        let mut pause = Duration::from_millis(50);
        loop {
            match call() {
                Ok(v) => return Ok(v),
                Err(LiveError::Store { source }) => {
                    add(&self.counts.store_errors, 1);
                    if start.elapsed() >= wait {
                        eprintln!("node {}: giving up on the store: {source}", self.index);
                        add(&self.counts.gave_up, 1);
                        return Err(GaveUp);
                    }
                    add(&self.counts.store_retries, 1);
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(other) => {
                    eprintln!("node {}: {other}", self.index);
                    return Err(GaveUp);
                }
            }
        }
    }

    /// The background thread: pull the counts every 100 ms, sweep every 250 ms, report
    /// every 200 ms, until `done`.
    fn background(&self, done: &AtomicBool) {
        let mut tick = 0u64;
        while !done.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(50));
            tick += 1;
            if tick.is_multiple_of(5) {
                match self.engine.expire() {
                    Ok(n) => add(&self.counts.swept, n),
                    Err(_) => add(&self.counts.store_errors, 1),
                }
            } else if tick.is_multiple_of(2) && self.engine.sync().is_err() {
                add(&self.counts.store_errors, 1);
            }
            if tick.is_multiple_of(4) {
                self.emit(&Line::Stats(self.stats()));
            }
        }
    }
}

/// What becomes of a respondent who holds a slot.
#[derive(Clone, Copy)]
enum Fate {
    Complete,
    Abandon,
    WalkAway,
}

/// One routing thread: `count` interviews with ids from `first`.
fn serve(node: &Node, thread: u32, first: u64, count: u64) {
    let e = &node.engine;
    let schema = e.catalogue().schema().clone();
    let seed = node.args.seed ^ (u64::from(node.index) << 48) ^ (u64::from(thread) << 32);
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut worker = Worker::new(seed);
    let mut session = e.start(&mut worker, Respondent::new(0, Answers::unknown(&schema)));
    let mut answers = Answers::unknown(&schema);
    // Respondents taking a category survey, by when they finish.
    let mut in_flight: VecDeque<(Instant, u64, CategoryId, Fate)> = VecDeque::new();
    let ttl = Duration::from_millis(node.args.ttl_ms);
    // Respondents arrive evenly over the arrival window; surveys that end meanwhile are
    // finished on time.
    let spacing = Duration::from_millis(node.args.arrival())
        / u32::try_from(count.max(1)).unwrap_or(u32::MAX);
    for i in 0..count {
        let arrives = node.began + spacing * u32::try_from(i).unwrap_or(u32::MAX);
        loop {
            while in_flight.front().is_some_and(|f| f.0 <= Instant::now()) {
                if let Some((_, id, c, fate)) = in_flight.pop_front() {
                    finish(node, id, c, fate);
                }
            }
            let now = Instant::now();
            if now >= arrives {
                break;
            }
            let next = in_flight.front().map_or(arrives, |f| f.0.min(arrives));
            std::thread::sleep(next.saturating_duration_since(now));
        }
        let id = first + i;
        for q in schema.question_ids() {
            let n = schema.response_count(q);
            if let Some(r) = schema.response_ids(q).nth(rng.random_range(0..n)) {
                answers.set(q, r);
            }
        }
        e.restart(&mut worker, &mut session, id, &answers);
        add(&node.counts.interviews, 1);
        while let Ok(Some(c)) = e.next_offer(&mut worker, &mut session) {
            let qualified = rng.random_bool(e.catalogue().incidence(c));
            let Some(answer) = reserve(node, &mut worker, &mut session, c, qualified) else {
                break; // the store is gone: this respondent is turned away
            };
            match answer {
                // After a lost reply the retry finds the hold its first attempt took.
                Answer::Reserved(
                    Reservation::Accepted { .. } | Reservation::AlreadyHeld { .. },
                ) => {
                    add(&node.counts.accepted, 1);
                    let (fate, due) = match rng.random_range(0..100) {
                        0..10 => (Fate::Abandon, rng.random_range(0..200)),
                        10..14 => (Fate::WalkAway, 0),
                        // A few finish after their slot's time-to-live: the hold has expired.
                        14..16 => (Fate::Complete, node.args.ttl_ms + rng.random_range(1..500)),
                        // Longer surveys take longer (here, a few hundred milliseconds).
                        _ => {
                            let loi = e.catalogue().loi_seconds(c) / 4.0;
                            (Fate::Complete, rng.random_range(0..loi as u64 + 1))
                        }
                    };
                    let due = Instant::now() + Duration::from_millis(due).min(ttl * 2);
                    let at = in_flight.partition_point(|f| f.0 <= due);
                    in_flight.insert(at, (due, id, c, fate));
                }
                Answer::Reserved(Reservation::Full { .. }) => add(&node.counts.refused, 1),
                _ => {}
            }
        }
    }
    let routed = u64::try_from(node.began.elapsed().as_millis()).unwrap_or(u64::MAX);
    node.counts.routing_ms.fetch_max(routed, Ordering::Relaxed);
    for (due, id, c, fate) in in_flight {
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        finish(node, id, c, fate);
    }
}

/// Answers a qualifier; a qualified answer is a reservation in the store, timed.
fn reserve(
    node: &Node,
    worker: &mut Worker,
    session: &mut Session,
    c: CategoryId,
    qualified: bool,
) -> Option<Answer> {
    let e = &node.engine;
    if !qualified {
        return e.answer(worker, session, c, false).ok();
    }
    add(&node.counts.reserves, 1);
    let start = Instant::now();
    let answer = node.retry(|| e.answer(worker, session, c, true)).ok();
    node.latency
        .record(u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX));
    answer
}

/// The respondent's category survey is over: complete, abandon, or nothing (walked away).
fn finish(node: &Node, id: u64, c: CategoryId, fate: Fate) {
    let e = &node.engine;
    match fate {
        Fate::Complete => {
            let r = id;
            let ci = c.index() as u32;
            node.emit(&Line::Commit { r, c: ci });
            // Given up: the parent settles this outcome from the store.
            if let Ok(done) = node.retry(|| e.complete(id, c)) {
                let outcome = Outcome::of(done);
                if !outcome.counted() {
                    add(&node.counts.late, 1);
                }
                if outcome == Outcome::Expired {
                    add(&node.counts.expired_on_commit, 1);
                }
                node.emit(&Line::Done { r, c: ci, outcome });
            }
        }
        Fate::Abandon => {
            if let Ok(true) = node.retry(|| e.abandon_category(id, c)) {
                add(&node.counts.abandoned, 1);
            }
        }
        Fate::WalkAway => add(&node.counts.walked_away, 1),
    }
}

/// Runs node `index`; the error is for stderr.
pub fn run(args: Args, index: u32) -> Result<(), String> {
    let survey = args.survey.clone().ok_or("a node needs --survey")?;
    let catalogue = catalogue(args.target)?;
    let layout = Layout::from_catalogue(survey, &catalogue).map_err(|e| e.to_string())?;
    let mut errors = 0;
    let store = args
        .connect(&layout, &mut errors)
        .map_err(|e| e.to_string())?;
    let store: Arc<dyn QuotaStore> = store.into_dyn();
    let router = policy("greedy").map_err(|e| e.to_string())?;
    let config = LiveConfig {
        ttl_ms: args.ttl_ms,
        ..LiveConfig::default()
    };
    let engine = Engine::with_store(catalogue, router, SystemClock, config, store)
        .map_err(|e| e.to_string())?;
    let node = Node {
        index,
        engine,
        counts: Counters::default(),
        began: Instant::now(),
        latency: Histogram::new(),
        out: Mutex::new(std::io::stdout()),
        args,
    };
    add(&node.counts.store_errors, errors);
    let share = node.args.node_share(index);
    if share >= ID_BLOCK {
        return Err(format!(
            "{share} interviews on one node: at most {ID_BLOCK}"
        ));
    }
    let threads = u64::from(node.args.threads);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let background = s.spawn(|| node.background(&done));
        let workers: Vec<_> = (0..node.args.threads)
            .map(|t| {
                let t64 = u64::from(t);
                let before = share / threads * t64 + t64.min(share % threads);
                let count = share / threads + u64::from(t64 < share % threads);
                let first = u64::from(index) * ID_BLOCK + before;
                let node = &node;
                s.spawn(move || serve(node, t, first, count))
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        done.store(true, Ordering::Release);
        let _ = background.join();
    });
    node.emit(&Line::End(node.stats()));
    Ok(())
}
