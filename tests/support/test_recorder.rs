//! A `metrics` recorder for tests (feature `metrics`): every counter, gauge and histogram it
//! hands out records into atomics, readable by `name{label=value,...}`. Registration allocates
//! (once, when an engine is built); recording does not.
//!
//! Include it with `#[path = "../support/test_recorder.rs"] mod test_recorder;`.
// Each test binary reads the part of it that its tests need.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// One metric's atomics: a counter's total, a gauge's value (f64 bits), a histogram's number
/// of records and sum (f64 bits).
#[derive(Debug, Default)]
pub struct Cell {
    total: AtomicU64,
    bits: AtomicU64,
    records: AtomicU64,
}

impl Cell {
    /// A counter's total.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Acquire)
    }
    /// A gauge's last value.
    pub fn value(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Acquire))
    }
    /// How many values a histogram recorded.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Acquire)
    }
    /// The sum of a histogram's values.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Acquire))
    }
    fn update(&self, f: impl Fn(f64) -> f64) {
        let _ = self
            .bits
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some(f(f64::from_bits(b)).to_bits())
            });
    }
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.total.fetch_add(value, Ordering::AcqRel);
    }
    fn absolute(&self, value: u64) {
        self.total.fetch_max(value, Ordering::AcqRel);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        self.update(|v| v + value);
    }
    fn decrement(&self, value: f64) {
        self.update(|v| v - value);
    }
    fn set(&self, value: f64) {
        self.bits.store(value.to_bits(), Ordering::Release);
    }
}

impl HistogramFn for Cell {
    fn record(&self, value: f64) {
        self.records.fetch_add(1, Ordering::AcqRel);
        self.update(|v| v + value);
    }
}

/// The recorder: metrics by `name{label=value,...}` (labels in the order given).
#[derive(Debug, Default)]
pub struct TestRecorder {
    cells: Mutex<BTreeMap<String, Arc<Cell>>>,
    described: Mutex<Vec<String>>,
}

impl TestRecorder {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        let name = if labels.is_empty() {
            key.name().to_string()
        } else {
            format!("{}{{{}}}", key.name(), labels.join(","))
        };
        let mut cells = self.cells.lock().unwrap();
        cells.entry(name).or_default().clone()
    }

    /// The metric of that name and labels, if it was registered.
    pub fn get(&self, name: &str) -> Option<Arc<Cell>> {
        self.cells.lock().unwrap().get(name).cloned()
    }

    /// A counter's total (0 if never registered).
    pub fn total(&self, name: &str) -> u64 {
        self.get(name).map_or(0, |c| c.total())
    }

    /// The names given a description.
    pub fn described(&self) -> Vec<String> {
        self.described.lock().unwrap().clone()
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described
            .lock()
            .unwrap()
            .push(key.as_str().to_string());
    }
    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described
            .lock()
            .unwrap()
            .push(key.as_str().to_string());
    }
    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, _: SharedString) {
        self.described
            .lock()
            .unwrap()
            .push(key.as_str().to_string());
    }
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.cell(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.cell(key))
    }
}
