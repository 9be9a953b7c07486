//! The engine's metrics (feature `metrics`): counters, histograms and gauges emitted through
//! the [`metrics`](https://docs.rs/metrics) facade, so the platform picks the exporter.
//!
//! Every handle is registered once, when the engine is built (or restored, or a wave
//! closed, which start the totals afresh), so the decision path only moves atomics through handles it
//! already has: it allocates nothing and looks no name up. Without the feature every type
//! here is empty and every hook an inline no-op.
//!
//! | name | kind | labels | unit | meaning |
//! |---|---|---|---|---|
//! | `quotaroute_offers_total` | counter | | count | qualifiers offered (shown) |
//! | `quotaroute_answers_total` | counter | `outcome` = `qualified`, `not_qualified` | count | answers to a shown qualifier (a repeated answer counts again) |
//! | `quotaroute_qualified_total` | counter | | count | respondents who qualified (counted once per category) |
//! | `quotaroute_holds_total` | counter | | count | pending slots taken |
//! | `quotaroute_holds_refused_total` | counter | | count | holds refused: the category or a cell was full |
//! | `quotaroute_completes_total` | counter | | count | pending slots that became completes |
//! | `quotaroute_abandons_total` | counter | | count | pending slots released by an abandon |
//! | `quotaroute_expiries_total` | counter | | count | pending slots released past their deadline |
//! | `quotaroute_decision_seconds` | histogram | | seconds | one [`Engine::next_offer`] call |
//! | `quotaroute_store_seconds` | histogram | `op` = `hold`, `commit`, `release`, `release_all`, `expire`, `read` | seconds | one call to the shared store, retries included |
//! | `quotaroute_store_retries_total` | counter | `store` = `redis`, `postgres` | count | store attempts that failed and were retried |
//! | `quotaroute_mirror_lag_seconds` | gauge | | seconds | age of the last successful [`Engine::sync`] (shared store only) |
//! | `quotaroute_open_slots` | gauge | `category` = the catalogue's category id | count | slots still open in the category |
//!
//! The gauges are sampled by [`Engine::publish_metrics`], which the background thread calls
//! (see `docs/operations.md`); the counters and histograms move as things happen.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::catalogue::Catalogue;
use crate::route::Router;

use super::{Clock, Counters, Engine};

#[cfg(feature = "metrics")]
use metrics::{Counter, Gauge, Histogram, Unit};
#[cfg(feature = "metrics")]
use std::time::Instant;

/// Qualifiers offered.
pub const OFFERS: &str = "quotaroute_offers_total";
/// Answers to a shown qualifier, by `outcome`.
pub const ANSWERS: &str = "quotaroute_answers_total";
/// Respondents who qualified.
pub const QUALIFIED: &str = "quotaroute_qualified_total";
/// Pending slots taken.
pub const HOLDS: &str = "quotaroute_holds_total";
/// Holds refused because the category or a cell was full.
pub const HOLDS_REFUSED: &str = "quotaroute_holds_refused_total";
/// Pending slots that became completes.
pub const COMPLETES: &str = "quotaroute_completes_total";
/// Pending slots released by an abandon.
pub const ABANDONS: &str = "quotaroute_abandons_total";
/// Pending slots released past their deadline.
pub const EXPIRIES: &str = "quotaroute_expiries_total";
/// Seconds one `next_offer` takes.
pub const DECISION_SECONDS: &str = "quotaroute_decision_seconds";
/// Seconds one store call takes, by `op`.
pub const STORE_SECONDS: &str = "quotaroute_store_seconds";
/// Store attempts retried, by `store`.
pub const STORE_RETRIES: &str = "quotaroute_store_retries_total";
/// Age of the last successful sync, in seconds.
pub const MIRROR_LAG_SECONDS: &str = "quotaroute_mirror_lag_seconds";
/// Open slots, by `category`.
pub const OPEN_SLOTS: &str = "quotaroute_open_slots";

/// One of the engine's running totals: the atomic that [`Engine::stats`] and snapshots read
/// and restore, and (feature `metrics`) the facade counter it moves with.
#[derive(Debug)]
pub(crate) struct Stat {
    value: AtomicU64,
    #[cfg(feature = "metrics")]
    counter: Counter,
}

impl Stat {
    /// A total that also moves the facade counter `name` (registered now; without the
    /// feature, a plain atomic).
    #[allow(unused_variables)]
    fn named(name: &'static str) -> Stat {
        Stat {
            value: AtomicU64::new(0),
            #[cfg(feature = "metrics")]
            counter: metrics::counter!(name),
        }
    }

    /// Adds `by` to the total and to the counter. A restore ([`Stat::store`]) moves only the
    /// total: an exported counter only ever goes up in one process.
    #[inline]
    pub(crate) fn add(&self, by: u64) {
        self.value.fetch_add(by, Ordering::AcqRel);
        #[cfg(feature = "metrics")]
        self.counter.increment(by);
    }

    /// The total.
    #[inline]
    pub(crate) fn load(&self, order: Ordering) -> u64 {
        self.value.load(order)
    }

    /// Sets the total (a restore); the exported counter is not moved.
    #[inline]
    pub(crate) fn store(&self, value: u64, order: Ordering) {
        self.value.store(value, order);
    }
}

/// Fresh totals, each with its facade counter registered: wherever the engine starts its
/// totals afresh (built, restored, a new wave), they are exported.
impl Default for Counters {
    fn default() -> Counters {
        #[cfg(feature = "metrics")]
        describe();
        Counters {
            shown: Stat::named(OFFERS),
            qualified: Stat::named(QUALIFIED),
            accepted: Stat::named(HOLDS),
            refused: Stat::named(HOLDS_REFUSED),
            completed: Stat::named(COMPLETES),
            abandoned: Stat::named(ABANDONS),
            expired: Stat::named(EXPIRIES),
        }
    }
}

/// The calls an engine makes to its shared store, for the `op` label of
/// `quotaroute_store_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StoreOp {
    Hold,
    Commit,
    Release,
    ReleaseAll,
    Expire,
    Read,
}

impl StoreOp {
    #[cfg(feature = "metrics")]
    const ALL: [StoreOp; 6] = [
        StoreOp::Hold,
        StoreOp::Commit,
        StoreOp::Release,
        StoreOp::ReleaseAll,
        StoreOp::Expire,
        StoreOp::Read,
    ];

    #[cfg(feature = "metrics")]
    const fn label(self) -> &'static str {
        match self {
            StoreOp::Hold => "hold",
            StoreOp::Commit => "commit",
            StoreOp::Release => "release",
            StoreOp::ReleaseAll => "release_all",
            StoreOp::Expire => "expire",
            StoreOp::Read => "read",
        }
    }
}

/// The engine's handles other than its totals: latencies, gauges, answers, the time of the
/// last sync. Empty without the feature.
#[derive(Debug)]
pub(crate) struct Metrics {
    #[cfg(feature = "metrics")]
    answers: [Counter; 2],
    #[cfg(feature = "metrics")]
    decision: Histogram,
    #[cfg(feature = "metrics")]
    store: [Histogram; 6],
    #[cfg(feature = "metrics")]
    mirror_lag: Gauge,
    /// By category index; labelled with the catalogue's own id.
    #[cfg(feature = "metrics")]
    open_slots: Box<[Gauge]>,
    /// Where the time of the last sync is measured from.
    #[cfg(feature = "metrics")]
    epoch: Instant,
    /// Nanoseconds from `epoch` to the end of the last successful sync; `u64::MAX`: none yet.
    #[cfg(feature = "metrics")]
    last_sync: AtomicU64,
}

impl Metrics {
    /// Registers every handle (feature `metrics`; otherwise nothing to do).
    #[allow(unused_variables)]
    pub(crate) fn new(catalogue: &Catalogue) -> Metrics {
        #[cfg(feature = "metrics")]
        {
            describe();
            Metrics {
                answers: [
                    metrics::counter!(ANSWERS, "outcome" => "qualified"),
                    metrics::counter!(ANSWERS, "outcome" => "not_qualified"),
                ],
                decision: metrics::histogram!(DECISION_SECONDS),
                store: StoreOp::ALL
                    .map(|op| metrics::histogram!(STORE_SECONDS, "op" => op.label())),
                mirror_lag: metrics::gauge!(MIRROR_LAG_SECONDS),
                open_slots: catalogue
                    .ids()
                    .map(|c| {
                        let id = catalogue.category(c).key.clone();
                        metrics::gauge!(OPEN_SLOTS, "category" => id)
                    })
                    .collect(),
                epoch: Instant::now(),
                last_sync: AtomicU64::new(u64::MAX),
            }
        }
        #[cfg(not(feature = "metrics"))]
        Metrics {}
    }

    /// Counts an answer to a shown qualifier.
    #[inline]
    #[allow(unused_variables)]
    pub(crate) fn answer(&self, qualified: bool) {
        #[cfg(feature = "metrics")]
        self.answers[usize::from(!qualified)].increment(1);
    }

    /// Times a decision until the returned guard drops.
    #[inline]
    pub(crate) fn decision(&self) -> Timer<'_> {
        #[cfg(feature = "metrics")]
        return Timer {
            histogram: &self.decision,
            start: Instant::now(),
        };
        #[cfg(not(feature = "metrics"))]
        Timer(std::marker::PhantomData)
    }

    /// Times a store call until the returned guard drops.
    #[inline]
    #[allow(unused_variables)]
    pub(crate) fn store(&self, op: StoreOp) -> Timer<'_> {
        #[cfg(feature = "metrics")]
        return Timer {
            histogram: &self.store[op as usize],
            start: Instant::now(),
        };
        #[cfg(not(feature = "metrics"))]
        Timer(std::marker::PhantomData)
    }

    /// Notes that a sync just succeeded (the mirror lag is measured from here).
    #[inline]
    pub(crate) fn synced(&self) {
        #[cfg(feature = "metrics")]
        {
            let nanos = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
            self.last_sync.store(nanos, Ordering::Release);
        }
    }
}

/// Records the time from its creation to its drop in a histogram, in seconds (feature
/// `metrics`; otherwise it is empty and does nothing).
#[cfg(feature = "metrics")]
#[derive(Debug)]
#[must_use = "a timer measures until it is dropped"]
pub(crate) struct Timer<'a> {
    histogram: &'a Histogram,
    start: Instant,
}

#[cfg(feature = "metrics")]
impl Drop for Timer<'_> {
    #[inline]
    fn drop(&mut self) {
        self.histogram.record(self.start.elapsed().as_secs_f64());
    }
}

/// Empty without the feature: creating and dropping it costs nothing.
#[cfg(not(feature = "metrics"))]
#[derive(Debug)]
#[must_use = "a timer measures until it is dropped"]
pub(crate) struct Timer<'a>(std::marker::PhantomData<&'a ()>);

/// Counts one failed store attempt that will be retried (`store`: `redis` or `postgres`).
/// Looked up through the global recorder each time: retries are rare and followed by a
/// backoff sleep, so the lookup costs nothing that matters.
#[cfg(any(feature = "redis", feature = "postgres"))]
#[inline]
#[allow(unused_variables)]
pub(crate) fn store_retry(store: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(STORE_RETRIES, "store" => store).increment(1);
}

/// Gives every metric its unit and meaning, for exporters that show them.
#[cfg(feature = "metrics")]
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        OFFERS,
        Unit::Count,
        "Qualifiers offered (shown) to respondents."
    );
    describe_counter!(
        ANSWERS,
        Unit::Count,
        "Answers to a shown qualifier, by outcome."
    );
    describe_counter!(
        QUALIFIED,
        Unit::Count,
        "Respondents who qualified for a category."
    );
    describe_counter!(HOLDS, Unit::Count, "Pending slots taken.");
    describe_counter!(
        HOLDS_REFUSED,
        Unit::Count,
        "Holds refused because the category or a quota cell was full."
    );
    describe_counter!(
        COMPLETES,
        Unit::Count,
        "Pending slots that became completes."
    );
    describe_counter!(
        ABANDONS,
        Unit::Count,
        "Pending slots released by an abandon."
    );
    describe_counter!(
        EXPIRIES,
        Unit::Count,
        "Pending slots released past their deadline."
    );
    describe_histogram!(DECISION_SECONDS, Unit::Seconds, "One next_offer call.");
    describe_histogram!(
        STORE_SECONDS,
        Unit::Seconds,
        "One call to the shared quota store, retries included, by operation."
    );
    describe_counter!(
        STORE_RETRIES,
        Unit::Count,
        "Quota store attempts that failed and were retried, by store."
    );
    describe_gauge!(
        MIRROR_LAG_SECONDS,
        Unit::Seconds,
        "Age of the last successful sync of the local mirror from the shared store."
    );
    describe_gauge!(OPEN_SLOTS, Unit::Count, "Slots still open, by category id.");
}

impl<R: Router, C: Clock> Engine<R, C> {
    /// Samples the gauges (feature `metrics`; without it this does nothing): open slots per
    /// category (`quotaroute_open_slots`, labelled with the catalogue's category id) and, for
    /// an engine on a shared store, the mirror lag (`quotaroute_mirror_lag_seconds`, the age
    /// of the last successful [`sync`](Self::sync)). Call it from the background thread that
    /// syncs and sweeps, every few seconds; the counters and histograms need no call.
    ///
    /// Install the platform's recorder before building the engine: handles are registered
    /// when it is built, and an engine built before a recorder exists emits nothing.
    pub fn publish_metrics(&self) {
        #[cfg(feature = "metrics")]
        {
            let view = self.quotas.view();
            for (c, gauge) in self.catalogue.ids().zip(self.metrics.open_slots.iter()) {
                gauge.set(f64::from(view.open_slots(c)));
            }
            if self.shared.is_some() {
                let last = self.metrics.last_sync.load(Ordering::Acquire);
                if last != u64::MAX {
                    let now = self.metrics.epoch.elapsed().as_nanos() as f64;
                    self.metrics
                        .mirror_lag
                        .set(((now - last as f64) / 1e9).max(0.0));
                }
            }
        }
    }
}
