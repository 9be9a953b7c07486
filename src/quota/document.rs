//! The quota document of `examples/quota.rs`, readable with any self-describing serde format:
//! questions, a tree, and queries, all by name.
//!
//! ```json
//! {"questions": {"Product": ["A", "B", "C"], "Gender": ["Male", "Female"]},
//!  "tree": {"target": 30, "observed": 10, "children": [
//!    {"question": "Product", "response": "A", "target": 8, "observed": 6}]},
//!  "queries": [{"method": "available", "question": "Product", "context": {"Gender": "Male"}}]}
//! ```
//!
//! A node has `target`, or `min` and `max`, or neither; `observed` defaults to 0; `responses`
//! (a list) instead of `response` makes a group; the root has no question. Whole numbers may be
//! written with a point (`30.0`). A query has a `method` (`available`, `available_balanced`,
//! `list`, `balanced_list`), a `question`, and optionally a `context` (question → response, or
//! a list of responses for a group) and `answers` (question → response). Objects are read in
//! document order; a key given twice keeps its first place and its last value (as
//! `serde_json`'s ordered maps do).
//!
//! Reading takes two steps, so that every error names its path: deserialising a
//! [`QuotaDocument`] accepts any well-formed document, and [`QuotaDocument::check`] resolves
//! every name and builds the tree, or names the first problem, e.g.
//! `tree.children[1]: unknown response "Mle" for question "Gender"`.
//!
//! ```
//! use quotaroute::quota::document::QuotaDocument;
//!
//! let doc: QuotaDocument = serde_json::from_str(r#"
//!     {"questions": {"Product": ["A", "B"]},
//!      "tree": {"target": 30, "children": [{"question": "Product", "response": "A", "target": 8}]},
//!      "queries": [{"method": "list", "question": "Product"}]}"#)?;
//! let checked = doc.check()?;
//! let q = &checked.queries[0];
//! let results = checked.tree.query(q.method, &q.query, q.answers.as_ref())?;
//! let b = checked.schema.response(q.query.question(), "B")?;
//! assert_eq!(results[0], (b, 30));
//!
//! let bad: QuotaDocument = serde_json::from_str(r#"{"questions": {"P": ["a"]}, "tree": {"target": "ten"}}"#)?;
//! assert_eq!(bad.check().unwrap_err().to_string(), r#"tree.target: expected a whole number, got "ten""#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::{self, Write as _};

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use super::query::{Query, QuotaMethod};
use super::spec::{NodeSpec, SpecError};
use super::tree::{MAX_COUNT, QuotaTree};
use crate::schema::{Answers, QuestionId, ResponseId, Schema, SchemaError};

/// A value as found in the document, before any checks.
#[derive(Clone, Debug, PartialEq)]
enum Loose {
    Null,
    Bool(bool),
    /// Integers keep their kind, so that a count beyond `i64` is reported as too large rather
    /// than as not a whole number.
    PosInt(u64),
    NegInt(i64),
    Float(f64),
    String(String),
    Array(Vec<Loose>),
    // A list, not a map: keeps document order.
    Object(Vec<(String, Loose)>),
}

impl Loose {
    fn kind(&self) -> &'static str {
        match self {
            Loose::Null => "null",
            Loose::Bool(_) => "a boolean",
            Loose::PosInt(_) | Loose::NegInt(_) | Loose::Float(_) => "a number",
            Loose::String(_) => "a string",
            Loose::Array(_) => "a list",
            Loose::Object(_) => "an object",
        }
    }

    fn as_object(&self, path: &str) -> Result<&[(String, Loose)], DocumentError> {
        match self {
            Loose::Object(fields) => Ok(fields),
            other => Err(wrong_type(path, "an object", other)),
        }
    }

    fn as_list(&self, path: &str) -> Result<&[Loose], DocumentError> {
        match self {
            Loose::Array(items) => Ok(items),
            other => Err(wrong_type(path, "a list", other)),
        }
    }

    fn as_string(&self, path: &str) -> Result<String, DocumentError> {
        match self {
            Loose::String(s) => Ok(s.clone()),
            other => Err(wrong_type(path, "a string", other)),
        }
    }

    /// A whole number; `30.0` is read as 30, and the tree reports negative or too large values
    /// with their path.
    fn as_integer(&self, path: &str) -> Result<i64, DocumentError> {
        match *self {
            Loose::NegInt(n) => Ok(n),
            Loose::PosInt(n) => i64::try_from(n).map_err(|_| DocumentError::AboveMaximum {
                path: path.to_owned(),
                value: n,
            }),
            Loose::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(x as i64),
            _ => Err(DocumentError::NotWholeNumber {
                path: path.to_owned(),
                found: self.to_json(),
            }),
        }
    }

    /// Compact JSON, written exactly as `serde_json` writes a value.
    fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Loose::Null => out.push_str("null"),
            Loose::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Loose::PosInt(n) => {
                let _ = write!(out, "{n}");
            }
            Loose::NegInt(n) => {
                let _ = write!(out, "{n}");
            }
            Loose::Float(x) => write_float(*x, out),
            Loose::String(s) => write_json_string(s, out),
            Loose::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Loose::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string literal, escaped as `serde_json` escapes it.
fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A finite float laid out as `serde_json` writes it: the shortest digits that read back to
/// the same value, in plain notation with at least one decimal for magnitudes from 1e-5 to
/// below 1e16, in scientific notation otherwise (`1e-6`, `1.5e+16`). Non-finite values are
/// `null`.
fn write_float(x: f64, out: &mut String) {
    if !x.is_finite() {
        out.push_str("null");
        return;
    }
    // `{:e}` gives the same shortest digits: `d.ddde±x`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let length = digits.len() as i32;
    // The value is digits × 10^k, and the decimal point falls after kk digits.
    let k = exp - (length - 1);
    let kk = length + k;
    if x.is_sign_negative() {
        out.push('-');
    }
    if (0..=16).contains(&kk) && k >= 0 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k as usize));
        out.push_str(".0");
    } else if 0 < kk && kk <= 16 {
        out.push_str(&digits[..kk as usize]);
        out.push('.');
        out.push_str(&digits[kk as usize..]);
    } else if -5 < kk && kk <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-kk) as usize));
        out.push_str(&digits);
    } else {
        let exp = kk - 1;
        let sign = if exp > 0 { "+" } else { "" };
        if length == 1 {
            let _ = write!(out, "{digits}e{sign}{exp}");
        } else {
            let _ = write!(out, "{}.{}e{sign}{exp}", &digits[..1], &digits[1..]);
        }
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Loose, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Loose;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Loose, E> {
                Ok(Loose::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Loose, E> {
                Ok(if v < 0 {
                    Loose::NegInt(v)
                } else {
                    Loose::PosInt(v as u64)
                })
            }
            fn visit_u64<E>(self, v: u64) -> Result<Loose, E> {
                Ok(Loose::PosInt(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Loose, E> {
                Ok(Loose::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Loose, E> {
                Ok(Loose::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Loose, E> {
                Ok(Loose::String(v))
            }
            fn visit_unit<E>(self) -> Result<Loose, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E>(self) -> Result<Loose, E> {
                Ok(Loose::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Loose, D::Error> {
                Loose::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Loose::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
                let mut fields: Vec<(String, Loose)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) = map.next_entry::<String, Loose>()? {
                    // A repeated key keeps its first place and takes the last value.
                    match fields.iter_mut().find(|(seen, _)| *seen == k) {
                        Some((_, old)) => *old = v,
                        None => fields.push((k, v)),
                    }
                }
                Ok(Loose::Object(fields))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Loose {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Loose::Null => s.serialize_unit(),
            Loose::Bool(b) => s.serialize_bool(*b),
            Loose::PosInt(n) => s.serialize_u64(*n),
            Loose::NegInt(n) => s.serialize_i64(*n),
            Loose::Float(x) => s.serialize_f64(*x),
            Loose::String(x) => s.serialize_str(x),
            Loose::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Loose::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// The input document of `examples/quota.rs`, read but not yet checked; see the module docs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuotaDocument(Loose);

/// A checked [`QuotaDocument`]: the schema its questions make, the tree, and the queries.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct CheckedDocument {
    /// The questions, in document order.
    pub schema: Schema,
    /// The quota tree.
    pub tree: QuotaTree,
    /// The queries, in document order.
    pub queries: Vec<DocumentQuery>,
}

/// One query of a [`CheckedDocument`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DocumentQuery {
    /// The Askia method.
    pub method: QuotaMethod,
    /// The target question and the context.
    pub query: Query,
    /// What the respondent already answered, when the query says.
    pub answers: Option<Answers>,
    /// Where the query is in the document, e.g. `queries[2]`.
    pub path: String,
}

/// Why a [`QuotaDocument`] does not describe a tree and its queries; every variant names the
/// path of the problem (`document`, `questions.Gender`, `tree.children[0].target`,
/// `queries[1].context.Gender[0]`).
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// A value has the wrong type.
    #[error("{path}: expected {expected}, got {found}")]
    WrongType {
        /// Where.
        path: String,
        /// What it must be, e.g. `a list`.
        expected: &'static str,
        /// What it is, e.g. `a string`.
        found: &'static str,
    },
    /// An object has a key the format does not know.
    #[error("{path}: unknown field \"{field}\"")]
    UnknownField {
        /// The object's path.
        path: String,
        /// The key.
        field: String,
    },
    /// A required key is missing.
    #[error("{path}: missing \"{field}\"")]
    Missing {
        /// The object's path.
        path: String,
        /// The key.
        field: &'static str,
    },
    /// A response of a question is empty or listed twice.
    #[error("questions.{question}: response \"{response}\" is empty or listed twice")]
    BadResponse {
        /// The question.
        question: String,
        /// The response.
        response: String,
    },
    /// A question has no responses.
    #[error("questions.{question}: no responses")]
    NoResponses {
        /// The question.
        question: String,
    },
    /// The questions do not make a schema (an empty name, too many).
    #[error("questions: {0}")]
    Schema(#[source] SchemaError),
    /// A count is not a whole number.
    #[error("{path}: expected a whole number, got {found}")]
    NotWholeNumber {
        /// Where.
        path: String,
        /// The value, as JSON.
        found: String,
    },
    /// A count is beyond any count a tree holds.
    #[error("{path}: {value} is above the maximum {MAX_COUNT}")]
    AboveMaximum {
        /// Where.
        path: String,
        /// The value.
        value: u64,
    },
    /// The tree is refused (an unknown name, a bad target, a contradiction), with its path.
    #[error(transparent)]
    Tree(#[from] SpecError),
    /// A query's method is not one of the four.
    #[error(
        "{path}: unknown method \"{method}\" (expected available, available_balanced, list or balanced_list)"
    )]
    UnknownMethod {
        /// Where.
        path: String,
        /// The name given.
        method: String,
    },
    /// A query names a question the document does not have.
    #[error("{path}: unknown question \"{question}\"")]
    UnknownQuestion {
        /// Where.
        path: String,
        /// The name given.
        question: String,
    },
    /// A query names a response its question does not have.
    #[error("{path}: unknown response \"{response}\" for question \"{question}\"")]
    UnknownResponse {
        /// Where.
        path: String,
        /// The question.
        question: String,
        /// The name given.
        response: String,
    },
    /// A query's context fixes its own target question.
    #[error("{path}: \"{question}\" is the target question and cannot be in the context")]
    TargetInContext {
        /// Where.
        path: String,
        /// The question.
        question: String,
    },
    /// A context group lists no response.
    #[error("{path}: the group is empty")]
    EmptyGroup {
        /// Where.
        path: String,
    },
}

fn wrong_type(path: &str, expected: &'static str, found: &Loose) -> DocumentError {
    DocumentError::WrongType {
        path: path.to_owned(),
        expected,
        found: found.kind(),
    }
}

fn get<'a>(fields: &'a [(String, Loose)], key: &str) -> Option<&'a Loose> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn known_fields(
    fields: &[(String, Loose)],
    path: &str,
    known: &[&str],
) -> Result<(), DocumentError> {
    match fields.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        Some((k, _)) => Err(DocumentError::UnknownField {
            path: path.to_owned(),
            field: k.clone(),
        }),
        None => Ok(()),
    }
}

impl QuotaDocument {
    /// Checks the document in document order, builds the tree and resolves every query.
    ///
    /// # Errors
    /// The first problem, naming its path: the document's shape
    /// ([`DocumentError::WrongType`], [`DocumentError::UnknownField`],
    /// [`DocumentError::Missing`]), the questions, the tree's counts and names
    /// ([`DocumentError::Tree`]), then each query's method, question, context and answers.
    pub fn check(&self) -> Result<CheckedDocument, DocumentError> {
        let doc = self.0.as_object("document")?;
        known_fields(doc, "document", &["questions", "tree", "queries"])?;
        let missing = |field| DocumentError::Missing {
            path: "document".to_owned(),
            field,
        };
        let schema = read_schema(get(doc, "questions").ok_or_else(|| missing("questions"))?)?;
        let spec = read_node(get(doc, "tree").ok_or_else(|| missing("tree"))?, "tree")?;
        let tree = QuotaTree::from_spec(schema.clone(), &spec)?;
        let queries = match get(doc, "queries") {
            None => Vec::new(),
            Some(v) => v
                .as_list("queries")?
                .iter()
                .enumerate()
                .map(|(i, q)| read_query(&schema, q, &format!("queries[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(CheckedDocument {
            schema,
            tree,
            queries,
        })
    }
}

fn read_schema(value: &Loose) -> Result<Schema, DocumentError> {
    let mut builder = Schema::builder();
    for (name, responses) in value.as_object("questions")? {
        let path = format!("questions.{name}");
        let responses = responses
            .as_list(&path)?
            .iter()
            .enumerate()
            .map(|(i, r)| r.as_string(&format!("{path}[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        builder = builder.question(name.as_str(), responses);
    }
    builder.build().map_err(|e| match e {
        SchemaError::BadResponse { question, response } => {
            DocumentError::BadResponse { question, response }
        }
        SchemaError::NoResponses { question } => DocumentError::NoResponses { question },
        other => DocumentError::Schema(other),
    })
}

fn read_node(value: &Loose, path: &str) -> Result<NodeSpec, DocumentError> {
    let node = value.as_object(path)?;
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
    let field = |name: &str| get(node, name).map(|v| (v, format!("{path}.{name}")));
    let text = |name: &str| field(name).map(|(v, p)| v.as_string(&p)).transpose();
    let number = |name: &str| field(name).map(|(v, p)| v.as_integer(&p)).transpose();
    Ok(NodeSpec {
        question: text("question")?,
        response: text("response")?,
        responses: field("responses")
            .map(|(v, p)| {
                v.as_list(&p)?
                    .iter()
                    .enumerate()
                    .map(|(i, r)| r.as_string(&format!("{p}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?,
        target: number("target")?,
        min: number("min")?,
        max: number("max")?,
        observed: number("observed")?.unwrap_or(0),
        children: match field("children") {
            None => Vec::new(),
            Some((v, p)) => v
                .as_list(&p)?
                .iter()
                .enumerate()
                .map(|(i, c)| read_node(c, &format!("{path}.children[{i}]")))
                .collect::<Result<Vec<_>, _>>()?,
        },
    })
}

fn read_query(schema: &Schema, value: &Loose, path: &str) -> Result<DocumentQuery, DocumentError> {
    let q = value.as_object(path)?;
    known_fields(q, path, &["method", "question", "context", "answers"])?;
    let missing = |field| DocumentError::Missing {
        path: path.to_owned(),
        field,
    };
    let method_path = format!("{path}.method");
    let method = get(q, "method")
        .ok_or_else(|| missing("method"))?
        .as_string(&method_path)?;
    let method = QuotaMethod::from_name(&method).ok_or(DocumentError::UnknownMethod {
        path: method_path,
        method,
    })?;
    let question_path = format!("{path}.question");
    let name = get(q, "question")
        .ok_or_else(|| missing("question"))?
        .as_string(&question_path)?;
    let target = question(schema, &name, &question_path)?;
    let mut query = Query::new(target);
    if let Some(context) = get(q, "context") {
        let context_path = format!("{path}.context");
        for (name, value) in context.as_object(&context_path)? {
            let entry_path = format!("{context_path}.{name}");
            let qid = question(schema, name, &entry_path)?;
            if qid == target {
                return Err(DocumentError::TargetInContext {
                    path: entry_path,
                    question: name.clone(),
                });
            }
            let responses = match value {
                Loose::Array(list) => {
                    if list.is_empty() {
                        return Err(DocumentError::EmptyGroup { path: entry_path });
                    }
                    list.iter()
                        .enumerate()
                        .map(|(i, r)| {
                            let p = format!("{entry_path}[{i}]");
                            response(schema, qid, &r.as_string(&p)?, &p)
                        })
                        .collect::<Result<Vec<_>, _>>()?
                }
                other => vec![response(
                    schema,
                    qid,
                    &other.as_string(&entry_path)?,
                    &entry_path,
                )?],
            };
            query = query.given_any(qid, responses);
        }
    }
    let answers = match get(q, "answers") {
        None => None,
        Some(value) => {
            let answers_path = format!("{path}.answers");
            let mut answers = Answers::unknown(schema);
            for (name, value) in value.as_object(&answers_path)? {
                let entry_path = format!("{answers_path}.{name}");
                let qid = question(schema, name, &entry_path)?;
                let r = response(schema, qid, &value.as_string(&entry_path)?, &entry_path)?;
                answers.set(qid, r);
            }
            Some(answers)
        }
    };
    Ok(DocumentQuery {
        method,
        query,
        answers,
        path: path.to_owned(),
    })
}

fn question(schema: &Schema, name: &str, path: &str) -> Result<QuestionId, DocumentError> {
    schema
        .question(name)
        .map_err(|_| DocumentError::UnknownQuestion {
            path: path.to_owned(),
            question: name.to_owned(),
        })
}

fn response(
    schema: &Schema,
    q: QuestionId,
    name: &str,
    path: &str,
) -> Result<ResponseId, DocumentError> {
    schema
        .response(q, name)
        .map_err(|_| DocumentError::UnknownResponse {
            path: path.to_owned(),
            question: schema.question_name(q).to_owned(),
            response: name.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_serde_json_writes_them() {
        for x in [
            0.0,
            -0.0,
            1.0,
            30.5,
            0.1,
            1e-5,
            1.5e-5,
            1e-6,
            1e-7,
            1e15,
            1e16,
            1.5e16,
            2e12,
            1e300,
            -1e-300,
            123456.789,
            5e-324,
            1.7976931348623157e308,
        ] {
            let mut got = String::new();
            write_float(x, &mut got);
            assert_eq!(got, serde_json::Value::from(x).to_string(), "{x:e}");
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let s = "a\"b\\c\u{0}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é";
        let mut got = String::new();
        write_json_string(s, &mut got);
        assert_eq!(got, serde_json::Value::from(s).to_string());
    }
}
