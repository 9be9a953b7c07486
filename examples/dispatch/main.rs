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
//! nothing written for it. Lines may be up to 64 MiB long; a longer one is such an error.
//!
//! ```text
//! printf '%s\n' '{"size":100,"weights":{"A":0.8,"B":1,"C":1.2}}' | cargo run --example dispatch
//! ```

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::process::ExitCode;

use quotaroute::dispatch::{Dispatcher, LeavePolicy};
use serde_json::{Map, Number, Value};

pub mod document;

use document::Batch;

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

/// The longest line read (64 MiB, its line ending not counted): a longer one is an error,
/// found without buffering more than this.
pub const MAX_LINE: usize = 64 << 20;

/// The next line of `input` without its line ending, `None` at the end; a line past
/// [`MAX_LINE`] bytes or not UTF-8 is an error. At most `MAX_LINE + 2` bytes are buffered.
fn next_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> Result<Option<String>, String> {
    buf.clear();
    // `\r\n` is two bytes past the content.
    let read = input
        .by_ref()
        .take(MAX_LINE as u64 + 2)
        .read_until(b'\n', buf)
        .map_err(|e| format!("cannot read: {e}"))?;
    if read == 0 {
        return Ok(None);
    }
    // As `BufRead::lines`: `\n` or `\r\n` ends a line, a lone `\r` at the end stays.
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    }
    if buf.len() > MAX_LINE {
        return Err(format!("longer than {MAX_LINE} bytes (64 MiB)"));
    }
    String::from_utf8(std::mem::take(buf))
        .map(Some)
        // As `BufRead::lines` words it.
        .map_err(|_| "cannot read: stream did not contain valid UTF-8".to_owned())
}

/// Processes every line of `input`, writing one JSON line per batch to `out`; stops at the
/// first bad line. Blank lines are skipped, and a byte-order mark before the first.
pub fn process(mut input: impl BufRead, out: &mut impl Write) -> Result<(), LineError> {
    let mut dispatcher: Dispatcher<String> = Dispatcher::with_policy(LeavePolicy::Forget);
    let mut buf = Vec::new();
    for i in 0.. {
        let fail = |message: String| LineError {
            line: i + 1,
            message,
        };
        let Some(line) = next_line(&mut input, &mut buf).map_err(fail)? else {
            break;
        };
        let line = if i == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(&line)
        } else {
            &line
        };
        if line.trim().is_empty() {
            continue;
        }
        let batch: Batch =
            serde_json::from_str(line).map_err(|e| fail(format!("invalid batch: {e}")))?;
        // All or nothing: a refused line leaves the dispatcher as it was.
        let alloc = batch
            .apply(&mut dispatcher)
            .map_err(|e| fail(e.to_string()))?;
        let mut allocation = Map::new();
        let mut errors = Map::new();
        for (id, _) in &batch.weights {
            let at = dispatcher.position(id).expect("configured");
            allocation.insert(id.clone(), Value::from(alloc[at]));
            let e = dispatcher.cumulative_error(id).expect("configured");
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
    }
    Ok(())
}

#[allow(dead_code)] // unused when a test includes this file as a module
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
