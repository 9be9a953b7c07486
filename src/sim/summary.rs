//! Many runs: [`monte_carlo`] on worker threads, and the [`Summary`] of what they measured.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::run::{Prepared, RunResult, run_with};
use super::{Settings, SimError};
use crate::bound::sample::nearest_rank;
use crate::catalogue::Catalogue;
use crate::route::Router;

/// What many runs measured.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Summary {
    /// The policy's name.
    pub policy: String,
    /// Runs made.
    pub runs: u32,
    /// Respondents per run, in run order.
    pub respondents: Vec<u64>,
    /// Median respondents (nearest rank: the ⌈0.5·runs⌉-th smallest).
    pub respondents_median: u64,
    /// 95th percentile (nearest rank: the ⌈0.95·runs⌉-th smallest).
    pub respondents_p95: u64,
    /// Mean respondents.
    pub respondents_mean: f64,
    /// Runs that did not fill every quota within the respondent limit.
    pub failures: u32,
    /// Whether each run filled every quota, in run order.
    pub filled: Vec<bool>,
    /// Mean interview seconds over all respondents of all runs.
    pub mean_seconds: f64,
    /// Longest interview in any run.
    pub max_seconds: f64,
    /// Mean qualifiers per respondent.
    pub mean_qualifiers: f64,
    /// Most qualifiers shown to one respondent in any run.
    pub max_qualifiers: u32,
    /// Mean over runs of each category's exposure divergence per question (row-major).
    pub divergence: Vec<f64>,
    /// Share of all interviews that would have passed their budget (ended there).
    #[cfg_attr(feature = "serde", serde(default))]
    pub over_cap_share: f64,
    /// Share of all interviews abandoned during a category survey.
    #[cfg_attr(feature = "serde", serde(default))]
    pub abandon_share: f64,
    /// Σ over runs of [`RunResult::tree_overfill`]: 0 when no node of any quota tree passed
    /// its max in any run.
    #[cfg_attr(feature = "serde", serde(default))]
    pub tree_overfill: u64,
    /// [`RunResult::mins_met`] per run, in run order.
    #[cfg_attr(feature = "serde", serde(default))]
    pub mins_met: Vec<u64>,
    /// Median respondents until every min was met (nearest rank; the respondent limit for a
    /// run that never met them).
    #[cfg_attr(feature = "serde", serde(default))]
    pub mins_met_median: u64,
    /// 95th percentile of the same (nearest rank).
    #[cfg_attr(feature = "serde", serde(default))]
    pub mins_met_p95: u64,
    /// Per quota cell (tree node, global cell order): the median over runs of its completes.
    #[cfg_attr(feature = "serde", serde(default))]
    pub node_completed_median: Vec<u32>,
    /// Per quota cell: the most completes it had in any run.
    #[cfg_attr(feature = "serde", serde(default))]
    pub node_completed_max: Vec<u32>,
    /// Per quota cell: the fewest completes it had in any run.
    #[cfg_attr(feature = "serde", serde(default))]
    pub node_completed_min: Vec<u32>,
}

impl Summary {
    /// Share of runs that filled every quota within `respondents`.
    pub fn success_rate(&self, respondents: u64) -> f64 {
        let ok = self
            .respondents
            .iter()
            .zip(&self.filled)
            .filter(|&(&n, &filled)| filled && n <= respondents)
            .count();
        ok as f64 / self.respondents.len().max(1) as f64
    }

    /// The largest mean divergence of any category on any question.
    pub fn worst_divergence(&self) -> f64 {
        self.divergence.iter().copied().fold(0.0, f64::max)
    }

    /// The largest mean divergence of any category on each of `questions` questions.
    pub fn worst_divergence_by_question(&self, questions: usize) -> Vec<f64> {
        let mut worst = vec![0.0f64; questions];
        for (i, d) in self.divergence.iter().enumerate() {
            let q = i % questions.max(1);
            worst[q] = worst[q].max(*d);
        }
        worst
    }
}

/// Runs `settings.runs` seeded runs on worker threads and summarises them. `progress` is called
/// with the number of runs finished so far, from the worker threads.
///
/// # Errors
/// [`SimError`] from the settings or from the first run whose router misbehaved.
pub fn monte_carlo(
    catalogue: &Catalogue,
    router: &dyn Router,
    settings: &Settings,
    progress: &(dyn Fn(u32) + Sync),
) -> Result<Summary, SimError> {
    settings.validate()?;
    let prepared = Prepared::new(catalogue, settings)?;
    let threads = settings
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(settings.runs as usize)
        .max(1);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    // Results as they come, sorted afterwards: nothing is allocated per run up front, so the
    // memory follows the runs made, not the runs asked for.
    let results: Mutex<Vec<(u32, Result<RunResult, SimError>)>> = Mutex::new(Vec::new());
    let work = || {
        loop {
            let run = next.fetch_add(1, Ordering::Relaxed);
            if run >= settings.runs as usize {
                break;
            }
            // `run` < `settings.runs`, a u32.
            let run = run as u32;
            let result = run_with(
                catalogue,
                router,
                settings,
                run,
                &prepared,
                &mut |_, _, _| {},
            );
            let failed = result.is_err();
            results
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((run, result));
            progress(done.fetch_add(1, Ordering::Relaxed) as u32 + 1);
            if failed {
                next.store(usize::MAX / 2, Ordering::Relaxed);
            }
        }
    };
    std::thread::scope(|scope| {
        // The calling thread works too, so a thread the system refuses to spawn only makes
        // the simulation slower (results do not depend on the number of threads).
        for _ in 1..threads {
            if std::thread::Builder::new()
                .spawn_scoped(scope, work)
                .is_err()
            {
                break;
            }
        }
        work();
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_unstable_by_key(|(run, _)| *run);
    let mut runs = Vec::with_capacity(results.len());
    for (_, r) in results {
        runs.push(r?);
    }
    Ok(summarise(router.name(), &runs))
}

fn summarise(policy: &str, runs: &[RunResult]) -> Summary {
    let respondents: Vec<u64> = runs.iter().map(|r| r.respondents).collect();
    let total_respondents: f64 = respondents.iter().map(|&n| n as f64).sum();
    let weighted = |f: &dyn Fn(&RunResult) -> f64| {
        runs.iter()
            .map(|r| f(r) * r.respondents as f64)
            .sum::<f64>()
            / total_respondents.max(1.0)
    };
    let mut divergence = vec![0.0; runs.first().map_or(0, |r| r.divergence.len())];
    for r in runs {
        for (d, x) in divergence.iter_mut().zip(&r.divergence) {
            *d += x / runs.len() as f64;
        }
    }
    let mins_met: Vec<u64> = runs.iter().map(|r| r.mins_met).collect();
    let cells = runs.first().map_or(0, |r| r.node_completes.len());
    let node = |cell: usize| -> Vec<u64> {
        runs.iter()
            .map(|r| r.node_completes.get(cell).copied().map_or(0, u64::from))
            .collect()
    };
    let per_node = |f: &dyn Fn(&[u64]) -> u64| -> Vec<u32> {
        (0..cells)
            .map(|cell| u32::try_from(f(&node(cell))).unwrap_or(u32::MAX))
            .collect()
    };
    Summary {
        tree_overfill: runs.iter().map(|r| r.tree_overfill).sum(),
        mins_met_median: nearest_rank(&mins_met, 0.5),
        mins_met_p95: nearest_rank(&mins_met, 0.95),
        mins_met,
        node_completed_median: per_node(&|v| nearest_rank(v, 0.5)),
        node_completed_max: per_node(&|v| v.iter().copied().max().unwrap_or(0)),
        node_completed_min: per_node(&|v| v.iter().copied().min().unwrap_or(0)),
        policy: policy.to_owned(),
        runs: runs.len() as u32,
        respondents_median: nearest_rank(&respondents, 0.5),
        respondents_p95: nearest_rank(&respondents, 0.95),
        respondents_mean: total_respondents / runs.len().max(1) as f64,
        failures: runs.iter().filter(|r| !r.filled).count() as u32,
        mean_seconds: weighted(&|r| r.mean_seconds),
        max_seconds: runs.iter().map(|r| r.max_seconds).fold(0.0, f64::max),
        mean_qualifiers: weighted(&|r| r.mean_qualifiers),
        max_qualifiers: runs.iter().map(|r| r.max_qualifiers).max().unwrap_or(0),
        filled: runs.iter().map(|r| r.filled).collect(),
        over_cap_share: runs.iter().map(|r| r.over_cap as f64).sum::<f64>()
            / total_respondents.max(1.0),
        abandon_share: runs.iter().map(|r| r.abandoned as f64).sum::<f64>()
            / total_respondents.max(1.0),
        respondents,
        divergence,
    }
}
