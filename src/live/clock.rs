//! Injected time: reservations expire by a clock the engine is given, so tests control it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time in milliseconds, as a clock counts them: since the Unix epoch for
/// [`SystemClock`], since whatever origin a [`ManualClock`] was started at. Deadlines are
/// stored as these, so they serialise and survive a restart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(transparent)
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Milliseconds since the clock's origin.
    #[inline]
    pub const fn millis(self) -> u64 {
        self.0
    }

    /// This time plus `ms` milliseconds (saturating at the end of time).
    #[inline]
    pub const fn plus_millis(self, ms: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }
}

/// Where an engine reads the time. `Send + Sync`: one clock serves every thread.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The wall clock: milliseconds since the Unix epoch (0 for a clock set before it).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Timestamp(ms)
    }
}

/// A clock that moves only when told: for tests and simulations. Shared by reference (or in
/// an [`Arc`]) between the engine and whoever advances it.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(AtomicU64::new(start.0))
    }

    /// Moves the clock forward by `ms` milliseconds; returns the new time.
    pub fn advance(&self, ms: u64) -> Timestamp {
        let before = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(ms))
            })
            .unwrap_or_else(|t| t);
        Timestamp(before.saturating_add(ms))
    }

    /// Sets the clock (it may go backwards: a test's business).
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.0, Ordering::Release);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::Acquire))
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp(1_000));
        assert_eq!(clock.now(), Timestamp(1_000));
        assert_eq!(clock.advance(250), Timestamp(1_250));
        assert_eq!(clock.now(), Timestamp(1_250));
        clock.set(Timestamp(5));
        assert_eq!(Arc::new(clock).now(), Timestamp(5));
        assert_eq!(Timestamp(u64::MAX - 1).plus_millis(10), Timestamp(u64::MAX));
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now() > Timestamp(1_577_836_800_000));
    }
}
