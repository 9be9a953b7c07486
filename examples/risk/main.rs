//! Risk ranking from the command line.
//!
//! Reads one JSON document on stdin and prints one JSON document on stdout:
//!
//! ```text
//! $ echo '{"weights": {"requirement": 0.4, "pace": 0.3, "quality": 0.2, "fit": 0.1},
//!          "entities": [{"name": "Mumbai", "required": 500, "received": 100,
//!                        "quality_levels": [30, 10, 20, 10, 30], "percent_fit": 60,
//!                        "days_left": 50}]}' | cargo run -q --example risk
//! {"ranking": [{"name": "Mumbai", "rank": 1, "score": 3.313333, "metrics": {"requirement": 0.2, "pace": 8.0, "quality": 3.333333, "fit": 1.666667}}]}
//! ```
//!
//! Optional input: `"requirement": "filled"` (the seed's received / required, the default) or
//! `"remaining"` ((required − received) / required); when given, the output starts with the
//! same key so it says which variant it used. Missing weights keep their defaults;
//! `quality_levels` and `percent_fit` are optional per entity. Numbers are printed rounded to
//! six decimals; ranks come from the exact scores.
//!
//! Bad input: one line on stderr naming the entity and the field, exit code 2.
//! The document format is `quotaroute::risk::document`; see `docs/risk.md`.

use std::io::{self, Write};
use std::process::ExitCode;

use quotaroute::risk::RiskModel;

pub mod document;
#[path = "../support/json.rs"]
mod json;

use document::{RankingDocument, RiskDocument};

/// JSON with a space after `:` and `,`, as the documented examples write it.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

#[allow(dead_code)] // unused when a test includes this file as a module
fn run() -> Result<Vec<u8>, String> {
    let input = json::read_document(io::stdin(), "cannot read stdin")?;
    let document: RiskDocument = serde_json::from_str(json::without_bom(&input))
        .map_err(|e| format!("input is not valid JSON: {e}"))?;
    let request = document
        .into_request(RiskModel::prototype())
        .map_err(|e| e.to_string())?;
    let report = request.rank().map_err(|e| e.to_string())?;
    let mut output = RankingDocument::new(&report).rounded(6);
    if !request.requirement_stated {
        // The documented output shape has no `requirement` key; the default variant is documented.
        output = output.without_requirement();
    }
    let mut bytes = Vec::new();
    serde::Serialize::serialize(
        &output,
        &mut serde_json::Serializer::with_formatter(&mut bytes, Spaced),
    )
    .map_err(|e| format!("cannot write the ranking: {e}"))?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[allow(dead_code)] // unused when a test includes this file as a module
fn main() -> ExitCode {
    match run() {
        Ok(bytes) => match io::stdout().lock().write_all(&bytes) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("risk: cannot write stdout: {e}");
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("risk: {message}");
            ExitCode::from(2)
        }
    }
}
