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
//! A bad document prints one line naming the path of the problem on stderr
//! (`error: tree.children[0].children[1]: unknown response "Mle" for question "Gender"`) and
//! exits with code 2; nothing is printed on stdout then.

use std::io::Read;
use std::process::ExitCode;

use quotaroute::quota::{NodeSpec, Query, QuotaMethod, QuotaTree};
use quotaroute::schema::{Answers, QuestionId, ResponseId, Schema, SchemaError};
use serde_json::{Map, Value};

fn main() -> ExitCode {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("error: stdin: {e}");
        return ExitCode::from(2);
    }
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

/// The output lines for a document, or its error. Reads and checks the whole document first,
/// so that a bad query prints nothing but its error.
pub fn answer(text: &str) -> Result<Vec<String>, String> {
    // A UTF-8 byte-order mark is skipped, as the CSV reader does (issue 16).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("document: {e}"))?;
    let doc = object(&doc, "document")?;
    known_fields(doc, "document", &["questions", "tree", "queries"])?;
    let schema = read_schema(
        doc.get("questions")
            .ok_or("document: missing \"questions\"")?,
    )?;
    let spec = read_node(doc.get("tree").ok_or("document: missing \"tree\"")?, "tree")?;
    let tree = QuotaTree::from_spec(schema.clone(), &spec).map_err(|e| e.to_string())?;
    let queries = match doc.get("queries") {
        None => Vec::new(),
        Some(v) => array(v, "queries")?
            .iter()
            .enumerate()
            .map(|(i, q)| read_query(&schema, q, &format!("queries[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
    };
    if queries.is_empty() {
        // A document asking nothing is an error, not a silent exit 0 (issue 16).
        return Err("document: no queries to answer (add \"queries\": [...])".to_owned());
    }
    queries
        .iter()
        .map(|(method, query, answers, path)| {
            let results = tree
                .query(*method, query, answers.as_ref())
                .map_err(|e| format!("{path}: {e}"))?;
            Ok(output_line(&schema, query.question(), &results))
        })
        .collect()
}

/// `{"responses": ["C", "B"], "todo": [20, 6]}`, spaced as in the issue.
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

fn read_schema(value: &Value) -> Result<Schema, String> {
    let mut builder = Schema::builder();
    for (name, responses) in object(value, "questions")? {
        let path = format!("questions.{name}");
        let responses = array(responses, &path)?
            .iter()
            .enumerate()
            .map(|(i, r)| string(r, &format!("{path}[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        builder = builder.question(name.as_str(), responses);
    }
    builder.build().map_err(|e| match e {
        SchemaError::BadResponse { question, response } => {
            format!("questions.{question}: response \"{response}\" is empty or listed twice")
        }
        SchemaError::NoResponses { question } => format!("questions.{question}: no responses"),
        other => format!("questions: {other}"),
    })
}

fn read_node(value: &Value, path: &str) -> Result<NodeSpec, String> {
    let node = object(value, path)?;
    known_fields(
        node,
        path,
        &[
            "question",
            "response",
            "responses",
            "target",
            "min",
            "max",
            "observed",
            "children",
        ],
    )?;
    let field = |name: &str| node.get(name).map(|v| (v, format!("{path}.{name}")));
    let text = |name: &str| field(name).map(|(v, p)| string(v, &p)).transpose();
    let number = |name: &str| field(name).map(|(v, p)| integer(v, &p)).transpose();
    Ok(NodeSpec {
        question: text("question")?,
        response: text("response")?,
        responses: field("responses")
            .map(|(v, p)| {
                array(v, &p)?
                    .iter()
                    .enumerate()
                    .map(|(i, r)| string(r, &format!("{p}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?,
        target: number("target")?,
        min: number("min")?,
        max: number("max")?,
        observed: number("observed")?.unwrap_or(0),
        children: match field("children") {
            None => Vec::new(),
            Some((v, p)) => array(v, &p)?
                .iter()
                .enumerate()
                .map(|(i, c)| read_node(c, &format!("{path}.children[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
        },
    })
}

type ParsedQuery = (QuotaMethod, Query, Option<Answers>, String);

fn read_query(schema: &Schema, value: &Value, path: &str) -> Result<ParsedQuery, String> {
    let q = object(value, path)?;
    known_fields(q, path, &["method", "question", "context", "answers"])?;
    let method_path = format!("{path}.method");
    let method = string(
        q.get("method")
            .ok_or_else(|| format!("{path}: missing \"method\""))?,
        &method_path,
    )?;
    let method = QuotaMethod::from_name(&method).ok_or_else(|| {
        format!(
            "{method_path}: unknown method \"{method}\" (expected available, available_balanced, list or balanced_list)"
        )
    })?;
    let question_path = format!("{path}.question");
    let name = string(
        q.get("question")
            .ok_or_else(|| format!("{path}: missing \"question\""))?,
        &question_path,
    )?;
    let target = question(schema, &name, &question_path)?;
    let mut query = Query::new(target);
    if let Some(context) = q.get("context") {
        let context_path = format!("{path}.context");
        for (name, value) in object(context, &context_path)? {
            let entry_path = format!("{context_path}.{name}");
            let qid = question(schema, name, &entry_path)?;
            if qid == target {
                return Err(format!(
                    "{entry_path}: \"{name}\" is the target question and cannot be in the context"
                ));
            }
            let responses = match value {
                Value::Array(list) => {
                    if list.is_empty() {
                        return Err(format!("{entry_path}: the group is empty"));
                    }
                    list.iter()
                        .enumerate()
                        .map(|(i, r)| {
                            let p = format!("{entry_path}[{i}]");
                            response(schema, qid, &string(r, &p)?, &p)
                        })
                        .collect::<Result<Vec<_>, _>>()?
                }
                other => vec![response(
                    schema,
                    qid,
                    &string(other, &entry_path)?,
                    &entry_path,
                )?],
            };
            query = query.given_any(qid, responses);
        }
    }
    let answers = match q.get("answers") {
        None => None,
        Some(value) => {
            let answers_path = format!("{path}.answers");
            let mut answers = Answers::unknown(schema);
            for (name, value) in object(value, &answers_path)? {
                let entry_path = format!("{answers_path}.{name}");
                let qid = question(schema, name, &entry_path)?;
                let r = response(schema, qid, &string(value, &entry_path)?, &entry_path)?;
                answers.set(qid, r);
            }
            Some(answers)
        }
    };
    Ok((method, query, answers, path.to_owned()))
}

fn question(schema: &Schema, name: &str, path: &str) -> Result<QuestionId, String> {
    schema
        .question(name)
        .map_err(|_| format!("{path}: unknown question \"{name}\""))
}

fn response(schema: &Schema, q: QuestionId, name: &str, path: &str) -> Result<ResponseId, String> {
    schema.response(q, name).map_err(|_| {
        format!(
            "{path}: unknown response \"{name}\" for question \"{}\"",
            schema.question_name(q)
        )
    })
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{path}: expected an object, got {}", kind(value)))
}

fn array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("{path}: expected a list, got {}", kind(value)))
}

fn string(value: &Value, path: &str) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{path}: expected a string, got {}", kind(value)))
}

/// A whole number; `30.0` is read as 30, and the library reports negative or too large values
/// with their path.
fn integer(value: &Value, path: &str) -> Result<i64, String> {
    if let Some(n) = value.as_i64() {
        return Ok(n);
    }
    if value.as_u64().is_some() {
        return Err(format!(
            "{path}: {value} is above the maximum {}",
            quotaroute::quota::MAX_COUNT
        ));
    }
    match value.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(x as i64),
        _ => Err(format!("{path}: expected a whole number, got {value}")),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn known_fields(map: &Map<String, Value>, path: &str, known: &[&str]) -> Result<(), String> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!("{path}: unknown field \"{k}\"")),
        None => Ok(()),
    }
}
