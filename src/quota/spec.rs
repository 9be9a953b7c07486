//! The name-based form of a quota tree: what configuration files and the example's JSON
//! documents hold, and what a tree serialises to.

use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::tree::{Condition, EditError, MAX_COUNT, NodeId, QuotaTree, QuotaTreeBuilder, Target};
use crate::schema::{ResponseId, Schema};

/// One node of a quota tree, by names, as configuration gives it.
///
/// The root has no `question`; every other node has a `question` and either one `response` or
/// a group of `responses`. A node has a `target`, or `min` and `max`, or none of them;
/// `observed` defaults to 0. Numbers are signed so that a negative one is reported with its
/// path rather than as a parse error. In JSON:
///
/// ```json
/// {"target": 30, "observed": 10, "children": [
///   {"question": "Product", "response": "A", "min": 5, "max": 8, "children": [
///     {"question": "Gender", "responses": ["Male", "Female"], "target": 6}]}]}
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct NodeSpec {
    /// The question of the node's condition (none for the root).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub question: Option<String>,
    /// The one response of the condition.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub response: Option<String>,
    /// The responses of a group condition.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub responses: Option<Vec<String>>,
    /// A single target (min = max).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub target: Option<i64>,
    /// The min target (with `max`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub min: Option<i64>,
    /// The max target (with `min`).
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub max: Option<i64>,
    /// Completes counted so far (default 0).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_zero"))]
    pub observed: i64,
    /// The children, in order.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub children: Vec<NodeSpec>,
}

#[cfg(feature = "serde")]
fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Why a tree given by names could not be built; every variant names the node's path, e.g.
/// `tree.children[0].children[1]`.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The root has a question or response.
    #[error("{path}: the root cannot have a question or response")]
    RootCondition {
        /// The root's path (`tree`).
        path: String,
    },
    /// A node below the root has no question.
    #[error("{path}: a node below the root needs a \"question\"")]
    MissingQuestion {
        /// The node's path.
        path: String,
    },
    /// The question is not in the schema.
    #[error("{path}: unknown question \"{question}\"")]
    UnknownQuestion {
        /// The node's path.
        path: String,
        /// The name given.
        question: String,
    },
    /// A response is not a response of the node's question.
    #[error("{path}: unknown response \"{response}\" for question \"{question}\"")]
    UnknownResponse {
        /// The node's path.
        path: String,
        /// The node's question.
        question: String,
        /// The name given.
        response: String,
    },
    /// A node below the root has neither `response` nor `responses`.
    #[error("{path}: give \"response\" or \"responses\" for question \"{question}\"")]
    MissingResponse {
        /// The node's path.
        path: String,
        /// The node's question.
        question: String,
    },
    /// A node has both `response` and `responses`.
    #[error("{path}: give \"response\" or \"responses\", not both")]
    ResponseAndResponses {
        /// The node's path.
        path: String,
    },
    /// `responses` is an empty list.
    #[error("{path}: the group \"responses\" of question \"{question}\" is empty")]
    EmptyGroup {
        /// The node's path.
        path: String,
        /// The node's question.
        question: String,
    },
    /// A response is listed twice in a group.
    #[error("{path}: response \"{response}\" is listed twice in the group")]
    RepeatedResponse {
        /// The node's path.
        path: String,
        /// The repeated name.
        response: String,
    },
    /// A target, min, max or observed count below 0.
    #[error("{path}: negative {field} {value}")]
    Negative {
        /// The node's path.
        path: String,
        /// `target`, `min`, `max` or `observed`.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// A target, min, max or observed count above [`MAX_COUNT`].
    #[error("{path}: {field} {value} is above the maximum {MAX_COUNT}")]
    TooLarge {
        /// The node's path.
        path: String,
        /// `target`, `min`, `max` or `observed`.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// `target` together with `min` or `max`.
    #[error("{path}: give \"target\" or \"min\" and \"max\", not both")]
    TargetAndRange {
        /// The node's path.
        path: String,
    },
    /// `min` without `max` or the reverse.
    #[error("{path}: \"{given}\" needs \"{missing}\"")]
    HalfRange {
        /// The node's path.
        path: String,
        /// The field given.
        given: &'static str,
        /// The field missing.
        missing: &'static str,
    },
    /// `min` above `max`.
    #[error("{path}: min {min} is greater than max {max}")]
    MinAboveMax {
        /// The node's path.
        path: String,
        /// The min given.
        min: i64,
        /// The max given.
        max: i64,
    },
    /// The condition and an ancestor's condition on the same question have no response in
    /// common.
    #[error(
        "{path}: no response of question \"{question}\" satisfies both this node and its ancestor"
    )]
    Contradiction {
        /// The node's path.
        path: String,
        /// The question.
        question: String,
    },
    /// The tree would have more than [`super::MAX_NODES`] nodes.
    #[error("{path}: too many nodes")]
    TooManyNodes {
        /// The path of the first node that did not fit.
        path: String,
    },
}

fn count(path: &str, field: &'static str, value: i64) -> Result<u64, SpecError> {
    if value < 0 {
        Err(SpecError::Negative {
            path: path.to_owned(),
            field,
            value,
        })
    } else if value as u64 > MAX_COUNT {
        Err(SpecError::TooLarge {
            path: path.to_owned(),
            field,
            value,
        })
    } else {
        Ok(value as u64)
    }
}

fn target_of(spec: &NodeSpec, path: &str) -> Result<Target, SpecError> {
    let p = || path.to_owned();
    match (spec.target, spec.min, spec.max) {
        (None, None, None) => Ok(Target::None),
        (Some(t), None, None) => Ok(Target::Single(count(path, "target", t)?)),
        (Some(_), _, _) => Err(SpecError::TargetAndRange { path: p() }),
        (None, Some(_), None) => Err(SpecError::HalfRange {
            path: p(),
            given: "min",
            missing: "max",
        }),
        (None, None, Some(_)) => Err(SpecError::HalfRange {
            path: p(),
            given: "max",
            missing: "min",
        }),
        (None, Some(lo), Some(hi)) => {
            let min = count(path, "min", lo)?;
            let max = count(path, "max", hi)?;
            if min > max {
                return Err(SpecError::MinAboveMax {
                    path: p(),
                    min: lo,
                    max: hi,
                });
            }
            Ok(Target::MinMax { min, max })
        }
    }
}

fn condition_of(schema: &Schema, spec: &NodeSpec, path: &str) -> Result<Condition, SpecError> {
    let p = || path.to_owned();
    let Some(qname) = &spec.question else {
        return Err(SpecError::MissingQuestion { path: p() });
    };
    let q = schema
        .question(qname)
        .map_err(|_| SpecError::UnknownQuestion {
            path: p(),
            question: qname.clone(),
        })?;
    let resolve = |name: &String| {
        schema
            .response(q, name)
            .map_err(|_| SpecError::UnknownResponse {
                path: p(),
                question: qname.clone(),
                response: name.clone(),
            })
    };
    match (&spec.response, &spec.responses) {
        (Some(_), Some(_)) => Err(SpecError::ResponseAndResponses { path: p() }),
        (None, None) => Err(SpecError::MissingResponse {
            path: p(),
            question: qname.clone(),
        }),
        (Some(r), None) => Ok(Condition::response(q, resolve(r)?)),
        (None, Some(group)) => {
            if group.is_empty() {
                return Err(SpecError::EmptyGroup {
                    path: p(),
                    question: qname.clone(),
                });
            }
            let mut ids: Vec<ResponseId> = Vec::with_capacity(group.len());
            for name in group {
                let r = resolve(name)?;
                if ids.contains(&r) {
                    return Err(SpecError::RepeatedResponse {
                        path: p(),
                        response: name.clone(),
                    });
                }
                ids.push(r);
            }
            Ok(Condition::group(q, ids))
        }
    }
}

impl QuotaTree {
    /// Builds a tree from its name-based form, resolving every name once.
    ///
    /// Nodes get ids in depth-first order of the spec (the root is 0).
    ///
    /// # Errors
    /// The first bad node's [`SpecError`], naming its path, e.g.
    /// `tree.children[0].children[1]: unknown response "Mle" for question "Gender"`.
    pub fn from_spec(schema: Schema, spec: &NodeSpec) -> Result<QuotaTree, SpecError> {
        let mut builder = QuotaTreeBuilder::new(schema);
        let root_path = String::from("tree");
        if spec.question.is_some() || spec.response.is_some() || spec.responses.is_some() {
            return Err(SpecError::RootCondition { path: root_path });
        }
        let target = target_of(spec, &root_path)?;
        let observed = count(&root_path, "observed", spec.observed)?;
        let root = builder.root();
        builder
            .set_target(root, target)
            .and_then(|()| builder.set_observed(root, observed))
            .map_err(|e| edit_to_spec(e, &root_path))?;
        // Explicit stack: a tree may be deeper than the call stack.
        let mut stack: Vec<(&NodeSpec, NodeId, String)> = Vec::new();
        push_children(&mut stack, spec, root, &root_path);
        while let Some((node, parent, path)) = stack.pop() {
            let condition = condition_of(builder.schema(), node, &path)?;
            let target = target_of(node, &path)?;
            let observed = count(&path, "observed", node.observed)?;
            let id = builder
                .add_child(parent, condition, target)
                .and_then(|id| builder.set_observed(id, observed).map(|()| id))
                .map_err(|e| edit_to_spec(e, &path))?;
            push_children(&mut stack, node, id, &path);
        }
        Ok(builder.build())
    }

    /// The tree's name-based form, with targets and observed counts.
    pub fn to_spec(&self) -> NodeSpec {
        let ix = &self.index;
        // Last node first: a node's children are then the specs most recently completed, on
        // top of the stack, first child on top.
        let mut done: Vec<NodeSpec> = Vec::new();
        for p in (0..ix.len()).rev() {
            let data = &self.nodes[ix.node[p] as usize];
            let mut spec = NodeSpec {
                observed: data.observed as i64,
                ..NodeSpec::default()
            };
            match data.target {
                Target::None => {}
                Target::Single(t) => spec.target = Some(t as i64),
                Target::MinMax { min, max } => {
                    spec.min = Some(min as i64);
                    spec.max = Some(max as i64);
                }
            }
            if let Some(c) = &data.condition {
                let q = c.question();
                spec.question = Some(self.schema.question_name(q).to_owned());
                let names = c
                    .responses()
                    .iter()
                    .map(|r| self.schema.response_name(q, r).to_owned());
                if c.is_group() {
                    spec.responses = Some(names.collect());
                } else {
                    spec.response = names.into_iter().next();
                }
            }
            let mut c = p + 1;
            while c < ix.end[p] as usize {
                if let Some(child) = done.pop() {
                    spec.children.push(child);
                }
                c = ix.end[c] as usize;
            }
            done.push(spec);
        }
        // The root is the last one completed.
        done.pop().unwrap_or_default()
    }
}

fn push_children<'s>(
    stack: &mut Vec<(&'s NodeSpec, NodeId, String)>,
    node: &'s NodeSpec,
    id: NodeId,
    path: &str,
) {
    for (k, child) in node.children.iter().enumerate().rev() {
        stack.push((child, id, format!("{path}.children[{k}]")));
    }
}

fn edit_to_spec(e: EditError, path: &str) -> SpecError {
    let path = path.to_owned();
    match e {
        EditError::Contradiction { question, .. } => SpecError::Contradiction { path, question },
        // Every other edit failure was ruled out by the checks above, except the node cap.
        _ => SpecError::TooManyNodes { path },
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{NodeSpec, QuotaTree};
    use crate::schema::Schema;

    #[derive(Serialize)]
    struct TreeOut<'a> {
        schema: &'a Schema,
        tree: NodeSpec,
        /// Node ids in depth-first order, when nodes were not added depth first (so that ids
        /// kept by the caller stay valid across a snapshot).
        #[serde(skip_serializing_if = "Option::is_none")]
        ids: Option<&'a [u32]>,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct TreeIn {
        schema: Schema,
        tree: NodeSpec,
        #[serde(default)]
        ids: Option<Vec<u32>>,
    }

    impl Serialize for QuotaTree {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let order = self.depth_first_ids();
            let in_order = order.iter().enumerate().all(|(p, &id)| p == id as usize);
            TreeOut {
                schema: &self.schema,
                tree: self.to_spec(),
                ids: (!in_order).then_some(order),
            }
            .serialize(serializer)
        }
    }

    impl<'de> Deserialize<'de> for QuotaTree {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let doc = TreeIn::deserialize(deserializer)?;
            // A schema read from a file has not been through its builder: check its names.
            let mut check = Schema::builder();
            for q in doc.schema.questions() {
                check = check.question_with_shares(
                    q.name(),
                    q.responses()
                        .iter()
                        .cloned()
                        .zip(q.shares().iter().copied()),
                );
            }
            check.build().map_err(D::Error::custom)?;
            let tree = QuotaTree::from_spec(doc.schema, &doc.tree).map_err(D::Error::custom)?;
            match doc.ids {
                None => Ok(tree),
                Some(order) => tree.renumber(&order).map_err(D::Error::custom),
            }
        }
    }
}
