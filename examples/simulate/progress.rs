//! Progress on stderr while the Monte-Carlo batches run, with the total: on a terminal a bar
//! redrawn in place, otherwise a line at most every few seconds. Stdout stays clean.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quotaroute::catalogue::Catalogue;
use quotaroute::route::Router;
use quotaroute::sim::{Settings, Summary, monte_carlo};

/// Seconds between two progress lines when stderr is not a terminal.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The runs of the whole invocation: how many there are and how many are done.
pub struct Progress {
    tty: bool,
    total: u64,
    done: AtomicU64,
    last_line: Mutex<Instant>,
}

impl Progress {
    /// Progress over `total` runs in all.
    pub fn new(total: u64) -> Progress {
        Progress {
            tty: std::io::stderr().is_terminal(),
            total,
            done: AtomicU64::new(0),
            last_line: Mutex::new(Instant::now()),
        }
    }

    /// Runs `router` for `settings.runs` runs, showing progress as `router name` + `label`.
    pub fn simulate(
        &self,
        catalogue: &Catalogue,
        router: &dyn Router,
        settings: &Settings,
        label: &str,
    ) -> Result<Summary, String> {
        let runs = settings.runs;
        let name = format!("{}{label}", router.name());
        let before = self.done.load(Ordering::Relaxed);
        let shown = AtomicU32::new(0);
        let step = (runs / 50).max(1);
        let progress = |done: u32| {
            // Redraw at most 50 times per batch.
            if (done.is_multiple_of(step) || done == runs)
                && shown.fetch_max(done, Ordering::Relaxed) < done
            {
                self.show(&name, done, runs, before + u64::from(done));
            }
        };
        let summary =
            monte_carlo(catalogue, router, settings, &progress).map_err(|e| e.to_string())?;
        let all = before + u64::from(runs);
        self.done.store(all, Ordering::Relaxed);
        if self.tty {
            eprintln!();
        } else {
            eprintln!("{name}: {runs} runs done ({all}/{} in all)", self.total);
        }
        Ok(summary)
    }

    fn show(&self, name: &str, done: u32, runs: u32, all: u64) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let width = 30;
            let filled = (done as usize * width) / runs.max(1) as usize;
            let _ = write!(
                err,
                "\r{name:<26} [{}{}] {done}/{runs}  ({all}/{} runs in all)",
                "#".repeat(filled),
                "-".repeat(width - filled),
                self.total
            );
            let _ = err.flush();
        } else if done < runs {
            let Ok(mut last) = self.last_line.lock() else {
                return;
            };
            if last.elapsed() >= LOG_EVERY {
                *last = Instant::now();
                let _ = writeln!(
                    err,
                    "{name}: run {done}/{runs} ({all}/{} in all)",
                    self.total
                );
            }
        }
    }
}
