//! The `quota` example's input document, readable with any self-describing serde format:
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
//! (The unit test below runs the reading and checking end to end.)

use quotaroute::quota::{MAX_COUNT, NodeSpec, Query, QuotaMethod, QuotaTree, SpecError};
use quotaroute::schema::{Answers, QuestionId, ResponseId, Schema, SchemaError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::json::Json;

/// The input document of the `quota` example, read but not yet checked; see the module docs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "Json", into = "Json")]
pub struct QuotaDocument(Json);

impl From<Json> for QuotaDocument {
    /// A key given twice keeps its first place and its last value.
    fn from(value: Json) -> QuotaDocument {
        QuotaDocument(value.merge_repeated_keys())
    }
}

impl From<QuotaDocument> for Json {
    fn from(doc: QuotaDocument) -> Json {
        doc.0
    }
}

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

/// The reads the document makes of a [`Json`] value, each naming the path on failure.
trait Read {
    fn as_object(&self, path: &str) -> Result<&[(String, Json)], DocumentError>;
    fn as_list(&self, path: &str) -> Result<&[Json], DocumentError>;
    fn as_string(&self, path: &str) -> Result<String, DocumentError>;
    fn as_integer(&self, path: &str) -> Result<i64, DocumentError>;
}

impl Read for Json {
    fn as_object(&self, path: &str) -> Result<&[(String, Json)], DocumentError> {
        match self {
            Json::Object(fields) => Ok(fields),
            other => Err(wrong_type(path, "an object", other)),
        }
    }

    fn as_list(&self, path: &str) -> Result<&[Json], DocumentError> {
        match self {
            Json::Array(items) => Ok(items),
            other => Err(wrong_type(path, "a list", other)),
        }
    }

    fn as_string(&self, path: &str) -> Result<String, DocumentError> {
        match self {
            Json::String(s) => Ok(s.clone()),
            other => Err(wrong_type(path, "a string", other)),
        }
    }

    /// A whole number; `30.0` is read as 30, and the tree reports negative or too large values
    /// with their path.
    fn as_integer(&self, path: &str) -> Result<i64, DocumentError> {
        match *self {
            Json::NegInt(n) => Ok(n),
            Json::PosInt(n) => i64::try_from(n).map_err(|_| DocumentError::AboveMaximum {
                path: path.to_owned(),
                value: n,
            }),
            Json::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(x as i64),
            _ => Err(DocumentError::NotWholeNumber {
                path: path.to_owned(),
                found: self.to_json(),
            }),
        }
    }
}

fn wrong_type(path: &str, expected: &'static str, found: &Json) -> DocumentError {
    DocumentError::WrongType {
        path: path.to_owned(),
        expected,
        found: found.kind(),
    }
}

fn get<'a>(fields: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn known_fields(
    fields: &[(String, Json)],
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

fn read_schema(value: &Json) -> Result<Schema, DocumentError> {
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

fn read_node(value: &Json, path: &str) -> Result<NodeSpec, DocumentError> {
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

fn read_query(schema: &Schema, value: &Json, path: &str) -> Result<DocumentQuery, DocumentError> {
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
                Json::Array(list) => {
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

    /// The module's example: a checked document answers its query; a bad one names the path.
    #[test]
    fn a_checked_document_answers_its_queries_and_a_bad_one_names_the_path() {
        let doc: QuotaDocument = serde_json::from_str(
            r#"
            {"questions": {"Product": ["A", "B"]},
             "tree": {"target": 30, "children": [{"question": "Product", "response": "A", "target": 8}]},
             "queries": [{"method": "list", "question": "Product"}]}"#,
        )
        .unwrap();
        let checked = doc.check().unwrap();
        let q = &checked.queries[0];
        let results = checked
            .tree
            .query(q.method, &q.query, q.answers.as_ref())
            .unwrap();
        let b = checked.schema.response(q.query.question(), "B").unwrap();
        assert_eq!(results[0], (b, 30));

        let bad: QuotaDocument =
            serde_json::from_str(r#"{"questions": {"P": ["a"]}, "tree": {"target": "ten"}}"#)
                .unwrap();
        assert_eq!(
            bad.check().unwrap_err().to_string(),
            r#"tree.target: expected a whole number, got "ten""#
        );
    }
}
