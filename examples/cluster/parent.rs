//! The parent: starts the node processes, reads their lines, kills one when asked, then
//! waits out the holds left behind, settles the completes whose outcome it never heard,
//! reads the store and prints the one JSON document.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use quotaroute::live::Completion;
use quotaroute::store::{Count, Layout, QuotaStore};
use serde_json::{Value, json};

use crate::args::Args;
use crate::catalogue::catalogue;
use crate::wire::{Line, Stats, merge, quantile};

/// What the parent heard from the nodes.
#[derive(Default)]
struct Heard {
    /// Commits a node started: (respondent, category).
    commits: HashSet<(u64, u32)>,
    /// Commits the store answered, with whether they counted.
    done: BTreeMap<(u64, u32), bool>,
    /// Commits answered `completed` (counted by that very call).
    completed: u64,
    /// Each node's latest counters, and whether its last line was `end`.
    stats: Vec<(Stats, bool)>,
    /// Lines that were not JSON (a node killed mid-line).
    torn: u64,
}

impl Heard {
    fn take(&mut self, node: usize, line: Line) {
        match line {
            Line::Commit { r, c } => {
                self.commits.insert((r, c));
            }
            Line::Done { r, c, outcome } => {
                self.completed += u64::from(outcome == crate::wire::Outcome::Completed);
                let counted = self.done.entry((r, c)).or_insert(false);
                *counted |= outcome.counted();
            }
            Line::Stats(s) => self.stats[node] = (s, false),
            Line::End(s) => self.stats[node] = (s, true),
        }
    }
}

enum Event {
    Line(usize, String),
    Closed,
}

fn spawn(args: &Args, survey: &str, tx: &mpsc::Sender<Event>) -> Result<Vec<Child>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut children = Vec::new();
    for i in 0..args.nodes {
        let mut child = Command::new(&exe)
            .args(args.node_argv(i, survey))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting node {i}: {e}"))?;
        let out = child.stdout.take().ok_or("node stdout")?;
        let tx = tx.clone();
        let node = i as usize;
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(Event::Line(node, l)).is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
            let _ = tx.send(Event::Closed);
        });
        children.push(child);
    }
    Ok(children)
}

/// Sweeps and reads until no hold is left (or `within` passes); returns the last read, how
/// many holds the sweeps released, and the store errors met.
fn drain(store: &dyn QuotaStore, within: Duration) -> (Vec<Count>, u64, u64) {
    let until = Instant::now() + within;
    let (mut counts, mut swept, mut errors) = (Vec::new(), 0, 0);
    loop {
        match store.expire() {
            Ok(n) => swept += n,
            Err(_) => errors += 1,
        }
        match store.read(&mut counts) {
            Ok(()) if counts.iter().all(|c| c.pending == 0) => break,
            Ok(()) => {}
            Err(_) => errors += 1,
        }
        if Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (counts, swept, errors)
}

/// Runs the whole cluster; returns the document and whether the run passed.
pub fn run(args: Args) -> Result<(Value, bool), String> {
    let generated = args.survey.is_none();
    let survey = args.survey.clone().unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("cluster-{}-{nanos:x}", std::process::id())
    });
    let catalogue = catalogue(args.target)?;
    let layout = Layout::from_catalogue(survey.clone(), &catalogue).map_err(|e| e.to_string())?;
    let categories = catalogue.len();
    let targets_total: u64 = catalogue
        .categories()
        .iter()
        .map(|c| u64::from(c.target))
        .sum();
    let mut parent_errors = 0;
    // The parent joins first: the survey exists before any node starts.
    let store = args
        .connect(&layout, &mut parent_errors)
        .map_err(|e| e.to_string())?;

    let began = Instant::now();
    let (tx, rx) = mpsc::channel();
    let mut children = spawn(&args, &survey, &tx)?;
    drop(tx);
    let mut heard = Heard {
        stats: vec![(Stats::default(), false); children.len()],
        ..Heard::default()
    };
    let kill_at = args
        .kill_node_after_ms
        .map(|ms| (began + Duration::from_millis(ms), children.len() - 1));
    let mut killed = None;
    let mut open = children.len();
    while open > 0 {
        let tick = Duration::from_millis(20);
        match rx.recv_timeout(tick) {
            Ok(Event::Line(node, text)) => match serde_json::from_str::<Line>(&text) {
                Ok(line) => heard.take(node, line),
                Err(_) => heard.torn += 1,
            },
            Ok(Event::Closed) => open -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Some((at, node)) = kill_at
            && killed.is_none()
            && Instant::now() >= at
        {
            // SIGKILL: the node gets no chance to finish, report or release anything.
            children[node]
                .kill()
                .map_err(|e| format!("killing node {node}: {e}"))?;
            killed = Some(node);
        }
    }
    let mut failed = Vec::new();
    for (i, child) in children.iter_mut().enumerate() {
        let status = child.wait().map_err(|e| e.to_string())?;
        if !status.success() && killed != Some(i) {
            failed.push(i);
        }
    }
    let seconds = began.elapsed().as_secs_f64();

    // Holds left behind (walked away, a killed node's) expire after their time-to-live.
    let (counts, final_swept, drain_errors) =
        drain(&*store, Duration::from_millis(args.ttl_ms * 2 + 5_000));
    let pending: u64 = counts.iter().map(|c| u64::from(c.pending)).sum();
    // Commits whose answer never came back: with no hold left, a repeated commit changes
    // nothing and says whether the first one counted.
    let unknown: Vec<(u64, u32)> = heard
        .commits
        .iter()
        .filter(|k| !heard.done.contains_key(k))
        .copied()
        .collect();
    let (mut settled, mut still_unknown) = (0u64, 0u64);
    if pending > 0 {
        // A repeated commit could still complete a live hold: settle nothing.
        still_unknown = unknown.len() as u64;
    }
    for &(r, c) in unknown.iter().filter(|_| pending == 0) {
        match store.commit(&r.to_string(), c) {
            Ok(Completion::AlreadyCompleted) => settled += 1,
            Ok(Completion::Expired | Completion::NotReserved) => {}
            _ => still_unknown += 1,
        }
    }
    let acknowledged = heard.done.values().filter(|&&counted| counted).count() as u64 + settled;
    let store_completes: u64 = counts[..categories]
        .iter()
        .map(|c| u64::from(c.completed))
        .sum();
    let overfill: u64 = counts
        .iter()
        .map(|c| u64::from(c.completed.saturating_sub(c.max)))
        .sum();

    let mut sum = Stats::default();
    let mut latency = Vec::new();
    for (s, _) in &heard.stats {
        sum.interviews += s.interviews;
        sum.reserves += s.reserves;
        sum.accepted += s.accepted;
        sum.refused += s.refused;
        sum.abandoned += s.abandoned;
        sum.walked_away += s.walked_away;
        sum.swept += s.swept;
        sum.late += s.late;
        sum.expired_on_commit += s.expired_on_commit;
        sum.routing_ms = sum.routing_ms.max(s.routing_ms);
        sum.store_retries += s.store_retries;
        sum.store_errors += s.store_errors;
        sum.gave_up += s.gave_up;
        merge(&mut latency, &s.latency);
    }
    if generated && pending == 0 {
        // Nobody else knows the name: leave nothing behind.
        let _ = store.purge();
    }
    // Over the routing phase (until the last node had started its last interview), not the
    // wait for late completes and expiring holds after it.
    let per_second = sum.reserves as f64 * 1000.0 / sum.routing_ms.max(1) as f64;
    let pass = overfill == 0
        && acknowledged == store_completes
        && pending == 0
        && still_unknown == 0
        && failed.is_empty();
    let doc = json!({
        "nodes": args.nodes,
        "threads": args.threads,
        "store": args.store_kind(),
        "survey": survey,
        "interviews": sum.interviews,
        "interviews_planned": args.interviews,
        "target": args.target,
        "ttl_ms": args.ttl_ms,
        "categories": categories,
        "targets_total": targets_total,
        "completed": heard.completed,
        "abandoned": sum.abandoned,
        "expired": sum.swept + sum.expired_on_commit + final_swept,
        "walked_away": sum.walked_away,
        "late_completes": sum.late,
        "accepted": sum.accepted,
        "refused": sum.refused,
        "overfill": overfill,
        "pending": pending,
        "acknowledged_completes": acknowledged,
        "unsettled": unknown.len(),
        "settled_completes": settled,
        "store_completes": store_completes,
        "store_retries": sum.store_retries,
        "store_errors": sum.store_errors + parent_errors + drain_errors,
        "gave_up": sum.gave_up,
        "reserves": sum.reserves,
        "reserves_per_second": per_second.round(),
        "routing_seconds": sum.routing_ms as f64 / 1000.0,
        "reserve_p50_us": quantile(&latency, 0.50),
        "reserve_p99_us": quantile(&latency, 0.99),
        "seconds": (seconds * 1000.0).round() / 1000.0,
        "killed_node": killed,
        "nodes_without_end": heard.stats.iter().filter(|(_, end)| !end).count(),
        "failed_nodes": failed,
        "torn_lines": heard.torn,
        "pass": pass,
    });
    Ok((doc, pass))
}
