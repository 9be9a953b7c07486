//! A small survey server: many threads route concurrent interviews through one live
//! [`Engine`], with random abandons and respondents who walk away (their slots time out), and
//! report the final counts and any overfill — which must be zero.
//!
//! ```text
//! cargo run --release --example server -- --json          # 8 threads, 20,000 interviews
//! cargo run --release --example server -- --threads 2 --interviews 5000 --policy packing
//! ```
//!
//! Flags: `--threads N` (8), `--interviews N` (20,000, over all threads), `--target N`
//! (completes per category, 40: tight), `--ttl-ms MS` (simulated milliseconds a slot is held,
//! 10,000), `--policy NAME` (greedy; any name of the registry, `quotaroute::route::POLICIES`),
//! `--seed S` (1), `--json` (one JSON object on stdout).
//! The bundled 77-category catalogue is used, each category split into gender cells of at most
//! 60% of its target. Time is a shared simulated clock advanced 50 ms per interview, so runs
//! are fast and timeouts happen. A bad flag prints one line on stderr and exits with code 2;
//! overfill exits with code 1.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::sync::Barrier;
use std::time::Instant;

use quotaroute::catalogue::CategoryId;
use quotaroute::live::{
    Answer, Completion, Engine, LiveConfig, ManualClock, Reservation, Timestamp, Worker,
};
use quotaroute::route::{Router, policy};
use quotaroute::schema::{Answers, Respondent};
use rand::{RngExt, SeedableRng};
use serde_json::json;

#[path = "support/bundled.rs"]
mod bundled;

use bundled::catalogue;
/// Simulated milliseconds each interview moves the shared clock.
const TICK_MS: u64 = 50;

struct Options {
    threads: u64,
    interviews: u64,
    target: u32,
    ttl_ms: u64,
    policy: String,
    seed: u64,
    json: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        threads: 8,
        interviews: 20_000,
        target: 40,
        ttl_ms: 10_000,
        policy: "greedy".into(),
        seed: 1,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        let number = |name: &str, v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: `{v}` is not a whole number"))
        };
        match flag.as_str() {
            "--json" => o.json = true,
            "--threads" => o.threads = number("--threads", value("--threads")?)?.max(1),
            "--interviews" => o.interviews = number("--interviews", value("--interviews")?)?,
            "--target" => {
                o.target = u32::try_from(number("--target", value("--target")?)?)
                    .map_err(|_| "--target is too large".to_owned())?
            }
            "--ttl-ms" => o.ttl_ms = number("--ttl-ms", value("--ttl-ms")?)?,
            "--seed" => o.seed = number("--seed", value("--seed")?)?,
            "--policy" => o.policy = value("--policy")?,
            other => return Err(format!("unknown flag `{other}`")),
        }
    }
    Ok(o)
}

#[derive(Default, Clone, Copy)]
struct Tally {
    interviews: u64,
    accepted: u64,
    refused: u64,
    completed: u64,
    abandoned: u64,
    expired: u64,
}

enum Fate {
    Complete,
    Abandon,
    Vanish,
}

type Live = Engine<Box<dyn Router>, &'static ManualClock>;

/// One server thread: starts interviews, routes them, and later hears that respondents
/// finished, abandoned, or said nothing at all.
fn serve(e: &Live, start: &Barrier, t: u64, interviews: u64, seed: u64) -> Tally {
    let schema = e.catalogue().schema().clone();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed ^ (t << 32));
    let mut worker = Worker::new(seed.wrapping_add(t));
    let mut session = e.start(&mut worker, Respondent::new(0, Answers::unknown(&schema)));
    let mut answers = Answers::unknown(&schema);
    // Respondents in a category survey: (due interview, respondent, category, fate).
    let mut in_flight: VecDeque<(u64, u64, CategoryId, Fate)> = VecDeque::new();
    let mut tally = Tally::default();
    let finish = |tally: &mut Tally, (_, id, c, fate): (u64, u64, CategoryId, Fate)| match fate {
        Fate::Complete => match e.complete(id, c) {
            Ok(Completion::Completed) => tally.completed += 1,
            Ok(Completion::Expired) => tally.expired += 1,
            _ => {} // released by a sweep, which counted it
        },
        Fate::Abandon => {
            tally.abandoned += u64::from(e.abandon_category(id, c).unwrap_or(false));
        }
        Fate::Vanish => {}
    };
    start.wait();
    for i in 0..interviews {
        while in_flight.front().is_some_and(|f| f.0 <= i) {
            if let Some(f) = in_flight.pop_front() {
                finish(&mut tally, f);
            }
        }
        let id = t << 40 | i;
        for q in schema.question_ids() {
            let n = schema.response_count(q);
            if let Some(r) = schema.response_ids(q).nth(rng.random_range(0..n)) {
                answers.set(q, r);
            }
        }
        e.restart(&mut worker, &mut session, id, &answers);
        tally.interviews += 1;
        while let Ok(Some(c)) = e.next_offer(&mut worker, &mut session) {
            let qualified = rng.random_bool(e.catalogue().incidence(c));
            match e.answer(&mut worker, &mut session, c, qualified) {
                Ok(Answer::Reserved(Reservation::Accepted { .. })) => {
                    tally.accepted += 1;
                    let fate = match rng.random_range(0..20) {
                        0 | 1 => Fate::Abandon,
                        2 => Fate::Vanish,
                        _ => Fate::Complete,
                    };
                    // Longer surveys take longer; some outlast their slot's time-to-live.
                    let due = i
                        + 1
                        + rng.random_range(0..(e.catalogue().loi_seconds(c) / 4.0) as u64 + 1);
                    let at = in_flight.partition_point(|f| f.0 <= due);
                    in_flight.insert(at, (due, id, c, fate));
                }
                Ok(Answer::Reserved(Reservation::Full { .. })) => tally.refused += 1,
                _ => {}
            }
        }
        e.clock().advance(TICK_MS);
        if i % 256 == 0 {
            // An engine that keeps its own counts never fails to expire.
            tally.expired += e.expire().unwrap_or(0);
        }
    }
    for f in in_flight {
        finish(&mut tally, f);
    }
    tally
}

fn run() -> Result<bool, String> {
    let o = parse_args()?;
    let catalogue = catalogue(o.target)?;
    let router = policy(&o.policy).map_err(|e| e.to_string())?;
    // The clock lives as long as the program: threads and the engine share it by reference.
    let clock: &'static ManualClock = Box::leak(Box::new(ManualClock::new(Timestamp(0))));
    let config = LiveConfig {
        ttl_ms: o.ttl_ms.max(1),
        ..LiveConfig::default()
    };
    let engine = Engine::new(catalogue, router, clock, config).map_err(|e| e.to_string())?;
    let began = Instant::now();
    let start = Barrier::new(o.threads as usize);
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..o.threads)
            .map(|t| {
                let per = o.interviews / o.threads + u64::from(t < o.interviews % o.threads);
                let (engine, start) = (&engine, &start);
                s.spawn(move || serve(engine, start, t, per, o.seed))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    // Fieldwork is over: slots still held are released and counted as expired.
    let left = engine.expire_all().map_err(|e| e.to_string())?;
    let seconds = began.elapsed().as_secs_f64();
    let mut sum = Tally::default();
    for t in &tallies {
        sum.interviews += t.interviews;
        sum.accepted += t.accepted;
        sum.refused += t.refused;
        sum.completed += t.completed;
        sum.abandoned += t.abandoned;
        sum.expired += t.expired;
    }
    sum.expired += left;
    let stats = engine.stats();
    let view = engine.quotas().view();
    let completed: u64 = engine
        .catalogue()
        .ids()
        .map(|c| u64::from(view.completed(c)))
        .sum();
    let targets_total: u64 = engine
        .catalogue()
        .ids()
        .map(|c| u64::from(engine.quotas().target(c)))
        .sum();
    let overfill = engine.overfill();
    let consistent = stats.completed == sum.completed
        && completed == sum.completed
        && stats.accepted == sum.accepted
        && stats.abandoned == sum.abandoned
        && stats.expired == sum.expired;
    let snapshot_bytes = serde_json::to_vec(&engine.snapshot())
        .map_err(|e| e.to_string())?
        .len();
    if o.json {
        let doc = json!({
            "threads": o.threads,
            "interviews": sum.interviews,
            "policy": o.policy,
            "categories": engine.catalogue().len(),
            "cells": engine.catalogue().cell_count(),
            "targets_total": targets_total,
            "completed": completed,
            "accepted": stats.accepted,
            "refused": stats.refused,
            "abandoned": stats.abandoned,
            "expired": stats.expired,
            "qualifiers_shown": stats.shown,
            "overfill": overfill,
            "counts_match_threads": consistent,
            "snapshot_bytes": snapshot_bytes,
            "seconds": seconds,
        });
        println!("{doc}");
    } else {
        println!(
            "{} threads, {} interviews in {seconds:.2} s ({} policy, {} categories, {} cells)",
            o.threads,
            sum.interviews,
            o.policy,
            engine.catalogue().len(),
            engine.catalogue().cell_count()
        );
        println!(
            "completed {completed} of {targets_total}; accepted {}, refused {}, abandoned {}, expired {}",
            stats.accepted, stats.refused, stats.abandoned, stats.expired
        );
        println!(
            "overfill {overfill}; engine counts equal the threads' sums: {consistent}; snapshot {snapshot_bytes} bytes of JSON"
        );
    }
    Ok(overfill == 0 && consistent)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("server: {message}");
            ExitCode::from(2)
        }
    }
}
