//! Answers quota queries on a quota tree read from one JSON document on stdin, one JSON line
//! per query on stdout:
//!
//! ```text
//! cargo run --example quota <<'EOF'
//! {"questions": {"Product": ["A", "B", "C"], "Gender": ["Male", "Female"]},
//!  "tree": {"target": 30, "observed": 10, "children": [
//!    {"question": "Product", "response": "A", "target": 8, "observed": 6, "children": [
//!      {"question": "Gender", "response": "Male", "target": 6, "observed": 6},
//!      {"question": "Gender", "response": "Female", "target": 2, "observed": 0}]},
//!    {"question": "Product", "response": "B", "target": 10, "observed": 4}]},
//!  "queries": [{"method": "available", "question": "Product", "context": {"Gender": "Male"}}]}
//! EOF
//! {"responses": ["C", "B"], "todo": [20, 6]}
//! ```
//!
//! A node has `target`, or `min` and `max`, or neither; `observed` defaults to 0; `responses`
//! (a list) instead of `response` makes a group; the root has no question. A query has a
//! `method` (`available`, `available_balanced`, `list`, `balanced_list`), a `question`, and
//! optionally a `context` (question → response, or a list of responses for a group; relaxation
//! drops entries last-listed first) and `answers` (question → response: what the respondent
//! already answered). JSON objects are read in document order.
//!
//! A document with no queries is an error too. A UTF-8 byte-order mark is skipped.
//!
//! A bad document prints one line naming the path of the problem on stderr
//! (`error: tree.children[0].children[1]: unknown response "Mle" for question "Gender"`) and
//! exits with code 2; nothing is printed on stdout then.

use std::process::ExitCode;

use quotaroute::schema::{QuestionId, ResponseId, Schema};
use serde_json::Value;

pub mod document;
#[path = "../support/json.rs"]
mod json;

use document::QuotaDocument;

#[allow(dead_code)] // unused when a test includes this file as a module
fn main() -> ExitCode {
    let text = match json::read_document(std::io::stdin(), "stdin") {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match answer(&text) {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// The output lines for a document, or its error. Reads and checks the whole document first
/// (`document`), so that a bad query prints nothing but its error.
pub fn answer(text: &str) -> Result<Vec<String>, String> {
    let doc: QuotaDocument =
        serde_json::from_str(json::without_bom(text)).map_err(|e| format!("document: {e}"))?;
    let checked = doc.check().map_err(|e| e.to_string())?;
    if checked.queries.is_empty() {
        // Exiting 0 with no output would look like a tree with nothing available.
        return Err("document: no queries to answer (add \"queries\": [...])".to_owned());
    }
    checked
        .queries
        .iter()
        .map(|q| {
            let results = checked
                .tree
                .query(q.method, &q.query, q.answers.as_ref())
                .map_err(|e| format!("{}: {e}", q.path))?;
            Ok(output_line(&checked.schema, q.query.question(), &results))
        })
        .collect()
}

/// `{"responses": ["C", "B"], "todo": [20, 6]}`, spaced as documented.
fn output_line(schema: &Schema, question: QuestionId, results: &[(ResponseId, i64)]) -> String {
    let names: Vec<String> = results
        .iter()
        .map(|(r, _)| Value::from(schema.response_name(question, *r)).to_string())
        .collect();
    let todo: Vec<String> = results.iter().map(|(_, t)| t.to_string()).collect();
    format!(
        "{{\"responses\": [{}], \"todo\": [{}]}}",
        names.join(", "),
        todo.join(", ")
    )
}
