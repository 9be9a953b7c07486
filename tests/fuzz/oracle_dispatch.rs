//! Cumulative-error dispatch over JSON Lines.
//!
//! Reads one batch per line on stdin:
//!
//! ```text
//! {"size": 100, "weights": {"A": 0.8, "B": 1.0, "C": 1.2}}
//! ```
//!
//! A recipient absent from a line has left (its error is forgotten), weight 0 pauses it, new ones
//! join in document order, and `size: 0` is valid and changes nothing. Writes one line per batch:
//!
//! ```text
//! {"allocation":{"A":27,"B":33,"C":40},"cumulative_error":{"A":0.33333333333333337,...}}
//! ```
//!
//! with every recipient of the input line in both maps, in the line's order, and errors at full
//! f64 precision. A bad line stops the run: an error naming the line on stderr, exit code 2,
//! nothing written for it.
//!
//! ```text
//! printf '%s\n' '{"size":100,"weights":{"A":0.8,"B":1,"C":1.2}}' | cargo run --example dispatch
//! ```

use std::fmt;
use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use quotaroute::dispatch::{Dispatcher, LeavePolicy};
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The weights of one line, in document order; a repeated id is an error.
struct Weights(Vec<(String, f64)>);

impl<'de> Deserialize<'de> for Weights {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Weights;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of recipient id → weight")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Weights, A::Error> {
                let mut out: Vec<(String, f64)> = Vec::new();
                while let Some((id, w)) = map.next_entry::<String, f64>()? {
                    if out.iter().any(|(seen, _)| *seen == id) {
                        return Err(de::Error::custom(format!("recipient {id:?} appears twice")));
                    }
                    out.push((id, w));
                }
                Ok(Weights(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    size: u64,
    weights: Weights,
}

/// A line that could not be processed (1-based line number).
#[derive(Debug)]
pub struct LineError {
    line: usize,
    message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Processes every line of `input`, writing one JSON line per batch to `out`; stops at the
/// first bad line. Blank lines are skipped.
pub fn process(input: impl BufRead, out: &mut impl Write) -> Result<(), LineError> {
    let mut dispatcher: Dispatcher<String> = Dispatcher::with_policy(LeavePolicy::Forget);
    for (i, line) in input.lines().enumerate() {
        let fail = |message: String| LineError {
            line: i + 1,
            message,
        };
        let line = line.map_err(|e| fail(format!("cannot read: {e}")))?;
        // A byte-order mark before the first line is skipped (issue 16).
        let line = match i {
            0 => line.strip_prefix('\u{feff}').unwrap_or(&line).to_owned(),
            _ => line,
        };
        if line.trim().is_empty() {
            continue;
        }
        let Line { size, weights } =
            serde_json::from_str(&line).map_err(|e| fail(format!("invalid batch: {e}")))?;
        // Work on a copy so a refused line leaves the dispatcher as it was.
        let mut next = dispatcher.clone();
        next.configure(weights.0.iter().cloned())
            .map_err(|e| fail(e.to_string()))?;
        let alloc = next.dispatch(size).map_err(|e| fail(e.to_string()))?;
        let mut allocation = Map::new();
        let mut errors = Map::new();
        for (id, _) in &weights.0 {
            let at = next.position(id).expect("configured");
            allocation.insert(id.clone(), Value::from(alloc[at]));
            let e = next.cumulative_error(id).expect("configured");
            errors.insert(
                id.clone(),
                Number::from_f64(e).map_or(Value::Null, Value::Number),
            );
        }
        let mut record = Map::new();
        record.insert("allocation".into(), Value::Object(allocation));
        record.insert("cumulative_error".into(), Value::Object(errors));
        writeln!(out, "{}", Value::Object(record))
            .map_err(|e| fail(format!("cannot write: {e}")))?;
        dispatcher = next;
    }
    Ok(())
}

#[allow(dead_code)] // unused when the integration test includes this file as a module
fn main() -> ExitCode {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match process(io::stdin().lock(), &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
