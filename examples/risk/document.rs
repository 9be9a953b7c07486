//! The JSON documents of the `risk` example, readable with any self-describing serde format.
//!
//! Input ([`RiskDocument`]):
//!
//! ```json
//! {"requirement": "filled",
//!  "weights": {"requirement": 0.4, "pace": 0.3, "quality": 0.2, "fit": 0.1},
//!  "entities": [{"name": "Mumbai", "required": 500, "received": 100,
//!                "quality_levels": [30, 10, 20, 10, 30], "percent_fit": 60, "days_left": 50}]}
//! ```
//!
//! `requirement` (`"filled"`, the seed's default, or `"remaining"`), `weights` (each missing
//! weight keeps its default), and per entity `quality_levels`, `percent_fit` and `extra` (an
//! object of named numbers for your own metrics) are optional; `null` counts as absent.
//! Unknown keys are errors, so a typo never silently drops data.
//!
//! The document is read in two steps so that every error names where it is: deserialising
//! into [`RiskDocument`] accepts any well-formed document, and [`RiskDocument::into_request`]
//! checks it, naming the entity (index and name) and the field of the first problem.
//!
//! Output ([`RankingDocument`]):
//!
//! ```json
//! {"ranking": [{"name": "Mumbai", "rank": 1, "score": 3.313333,
//!               "metrics": {"requirement": 0.2, "pace": 8.0, "quality": 3.333333, "fit": 1.666667}}]}
//! ```
//!
//! with a leading `"requirement": "filled"` or `"remaining"` unless left out with
//! [`RankingDocument::without_requirement`]; a metric an entity has no data for is left out of
//! its `metrics`.

use std::fmt;

use quotaroute::risk::{
    Entity, EntityError, ModelError, QUALITY_LEVELS, RankError, RequirementKind, RiskModel,
    RiskReport,
};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use super::json::Json;

/// What a value is, for messages; the risk document says `an array` where the quota document
/// says `a list`.
fn kind(v: &Json) -> &'static str {
    match v {
        Json::Array(_) => "an array",
        other => other.kind(),
    }
}

/// A user-supplied name in backticks, escaped so an error message stays on one line.
fn quoted(name: &str) -> String {
    format!("`{}`", name.escape_debug())
}

/// The input document of the `risk` example, read but not yet checked; see the module docs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RiskDocument(Json);

/// What is wrong with an entity's field in a [`RiskDocument`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A field that must be there is not.
    Missing,
    /// The field has the wrong JSON type.
    WrongType {
        /// What it must be, e.g. `a number`.
        expected: &'static str,
        /// What it is, e.g. `a string`.
        found: &'static str,
    },
    /// The entity has a field the format does not know.
    Unknown,
    /// The field appears twice.
    Duplicate,
    /// `quality_levels` has the wrong number of counts.
    WrongLength {
        /// How many it must have.
        expected: usize,
        /// How many it has.
        found: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("is missing"),
            Problem::WrongType { expected, found } => write!(f, "must be {expected}, got {found}"),
            Problem::Unknown => write!(f, "is not a known field (expected one of {ENTITY_KEYS})"),
            Problem::Duplicate => f.write_str("appears twice"),
            Problem::WrongLength { expected, found } => {
                write!(
                    f,
                    "must hold {expected} counts (levels 1 to {expected}), got {found}"
                )
            }
        }
    }
}

const TOP_KEYS: &str = "requirement, weights, entities";
const ENTITY_KEYS: &str = "name, required, received, quality_levels, percent_fit, days_left, extra";

/// Why a [`RiskDocument`] does not describe a ranking. Errors inside an entity name the
/// entity (its index in `entities` and its name) and the field.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// A part of the document outside the entities has the wrong JSON type.
    #[error("{} must be {expected}, got {found}", place(path))]
    Malformed {
        /// Where: `""` for the whole document, else e.g. `weights.pace`.
        path: String,
        /// What it must be.
        expected: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// The document has no `entities`.
    #[error("the document has no `entities`")]
    MissingEntities,
    /// The document has a key other than `requirement`, `weights` and `entities` (weight
    /// names are checked against the model instead: [`ModelError::UnknownMetrics`]).
    #[error(
        "the document has an unknown key {} (expected one of {TOP_KEYS})",
        quoted(key)
    )]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A key appears twice in the document or in `weights`.
    #[error("{}: key {} appears twice", place(path), quoted(key))]
    DuplicateKey {
        /// The object it is in: `""` or `weights`.
        path: String,
        /// The key.
        key: String,
    },
    /// `requirement` is neither `"filled"` nor `"remaining"`.
    #[error(
        "`requirement` must be \"filled\" or \"remaining\", got {}",
        quoted(found)
    )]
    UnknownRequirement {
        /// The value given.
        found: String,
    },
    /// The weights are refused: unknown names, or values that are negative or all 0.
    #[error("weights: {0}")]
    Weights(#[source] ModelError),
    /// An entity's field is missing, of the wrong type, unknown or repeated.
    #[error("entities[{index}]: {}field `{}` {problem}", label(entity), field.escape_debug())]
    EntityField {
        /// The entity's index in `entities`.
        index: usize,
        /// The entity's name (empty when the name itself is at fault).
        entity: String,
        /// The field, e.g. `days_left`, `quality_levels[2]` or `extra.budget`.
        field: String,
        /// What is wrong.
        problem: Problem,
    },
    /// An entity's values are refused (e.g. `required` 0, `percent_fit` above 100).
    #[error("entities[{index}]: {source}")]
    Entity {
        /// The entity's index in `entities`.
        index: usize,
        /// The entity's error, naming entity and field.
        source: EntityError,
    },
}

impl DocumentError {
    /// The entity at fault, if the error is inside one (empty if its name is at fault).
    pub fn entity(&self) -> Option<&str> {
        match self {
            DocumentError::EntityField { entity, .. } => Some(entity),
            DocumentError::Entity { source, .. } => Some(source.entity()),
            _ => None,
        }
    }

    /// The entity's field at fault, if the error is inside an entity.
    pub fn field(&self) -> Option<String> {
        match self {
            DocumentError::EntityField { field, .. } => Some(field.clone()),
            DocumentError::Entity { source, .. } => Some(source.field().to_string()),
            _ => None,
        }
    }
}

fn place(path: &str) -> String {
    if path.is_empty() {
        "the document".to_owned()
    } else {
        format!("`{}`", path.escape_debug())
    }
}

fn label(entity: &str) -> String {
    if entity.is_empty() {
        String::new()
    } else {
        format!("entity {}: ", quoted(entity))
    }
}

/// A checked [`RiskDocument`]: the model (the base model with the document's requirement and
/// weights) and the entities, in document order.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RiskRequest {
    /// The model to rank with.
    pub model: RiskModel,
    /// The entities, in document order.
    pub entities: Vec<Entity>,
    /// Whether the document chose the requirement variant itself (the `risk` example echoes
    /// the variant in its output only then, so the documented output shape is kept exactly).
    pub requirement_stated: bool,
}

impl RiskRequest {
    /// Ranks the entities with the model.
    ///
    /// # Errors
    /// As [`RiskModel::rank`].
    pub fn rank(&self) -> Result<RiskReport, RankError> {
        self.model.rank(&self.entities)
    }
}

/// The fields of an object, rejecting repeated keys.
fn fields<'a>(v: &'a Json, path: &str) -> Result<&'a [(String, Json)], DocumentError> {
    let Json::Object(fields) = v else {
        return Err(DocumentError::Malformed {
            path: path.to_owned(),
            expected: "an object",
            found: kind(v),
        });
    };
    for (i, (k, _)) in fields.iter().enumerate() {
        if fields[..i].iter().any(|(seen, _)| seen == k) {
            return Err(DocumentError::DuplicateKey {
                path: path.to_owned(),
                key: k.clone(),
            });
        }
    }
    Ok(fields)
}

fn get<'a>(fields: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .filter(|v| **v != Json::Null)
}

impl RiskDocument {
    /// Builds the document describing `entities` ranked with `model`'s requirement variant
    /// and weights: the inverse of [`RiskDocument::into_request`].
    pub fn new<'a>(
        model: &RiskModel,
        entities: impl IntoIterator<Item = &'a Entity>,
    ) -> RiskDocument {
        let num = Json::Float;
        let entities = entities
            .into_iter()
            .map(|e| {
                let mut f = vec![
                    ("name".to_owned(), Json::String(e.name().to_owned())),
                    ("required".to_owned(), num(e.required())),
                    ("received".to_owned(), num(e.received())),
                ];
                if let Some(levels) = e.quality_levels() {
                    let levels = levels.iter().map(|&c| num(c)).collect();
                    f.push(("quality_levels".to_owned(), Json::Array(levels)));
                }
                if let Some(p) = e.percent_fit() {
                    f.push(("percent_fit".to_owned(), num(p)));
                }
                f.push(("days_left".to_owned(), num(e.days_left())));
                if e.extras().len() > 0 {
                    let extra = e.extras().map(|(k, v)| (k.to_owned(), num(v))).collect();
                    f.push(("extra".to_owned(), Json::Object(extra)));
                }
                Json::Object(f)
            })
            .collect();
        let weights = model
            .weights()
            .map(|(k, w)| (k.to_owned(), num(w)))
            .collect();
        RiskDocument(Json::Object(vec![
            (
                "requirement".to_owned(),
                Json::String(model.requirement().as_str().to_owned()),
            ),
            ("weights".to_owned(), Json::Object(weights)),
            ("entities".to_owned(), Json::Array(entities)),
        ]))
    }

    /// Checks the document against `base` (the seed model, or one with your own metrics, whose
    /// names are then valid weight keys) and returns the model and entities it describes.
    ///
    /// # Errors
    /// The first problem found, in document order: [`DocumentError::Malformed`],
    /// [`DocumentError::UnknownKey`], [`DocumentError::DuplicateKey`],
    /// [`DocumentError::MissingEntities`], [`DocumentError::UnknownRequirement`],
    /// [`DocumentError::Weights`] (unknown names listed together), then per entity
    /// [`DocumentError::EntityField`] and [`DocumentError::Entity`], each naming the entity
    /// and the field.
    pub fn into_request(self, base: RiskModel) -> Result<RiskRequest, DocumentError> {
        let mut model = base;
        let top = fields(&self.0, "")?;
        if let Some((k, _)) = top
            .iter()
            .find(|(k, _)| !matches!(k.as_str(), "requirement" | "weights" | "entities"))
        {
            return Err(DocumentError::UnknownKey { key: k.clone() });
        }
        let requirement_stated = match get(top, "requirement") {
            None => false,
            Some(Json::String(s)) => {
                let kind = RequirementKind::from_name(s)
                    .ok_or_else(|| DocumentError::UnknownRequirement { found: s.clone() })?;
                model.set_requirement(kind);
                true
            }
            Some(v) => {
                return Err(DocumentError::Malformed {
                    path: "requirement".to_owned(),
                    expected: "a string",
                    found: kind(v),
                });
            }
        };
        if let Some(w) = get(top, "weights") {
            let mut weights = Vec::new();
            for (k, v) in fields(w, "weights")? {
                match v.as_f64() {
                    Some(x) => weights.push((k.as_str(), x)),
                    None => {
                        return Err(DocumentError::Malformed {
                            path: format!("weights.{k}"),
                            expected: "a number",
                            found: kind(v),
                        });
                    }
                }
            }
            model.set_weights(weights).map_err(DocumentError::Weights)?;
        }
        let list = match get(top, "entities") {
            None => return Err(DocumentError::MissingEntities),
            Some(Json::Array(list)) => list,
            Some(v) => {
                return Err(DocumentError::Malformed {
                    path: "entities".to_owned(),
                    expected: "an array",
                    found: kind(v),
                });
            }
        };
        let entities = list
            .iter()
            .enumerate()
            .map(|(index, v)| entity(index, v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RiskRequest {
            model,
            entities,
            requirement_stated,
        })
    }
}

fn entity(index: usize, v: &Json) -> Result<Entity, DocumentError> {
    let shape = |entity: &str, field: &str, problem| DocumentError::EntityField {
        index,
        entity: entity.to_owned(),
        field: field.to_owned(),
        problem,
    };
    let Json::Object(f) = v else {
        return Err(DocumentError::Malformed {
            path: format!("entities[{index}]"),
            expected: "an object",
            found: kind(v),
        });
    };
    // The name first, so that every later error can carry it.
    let name = match get(f, "name") {
        Some(Json::String(s)) => s.as_str(),
        None => return Err(shape("", "name", Problem::Missing)),
        Some(v) => {
            return Err(shape(
                "",
                "name",
                Problem::WrongType {
                    expected: "a string",
                    found: kind(v),
                },
            ));
        }
    };
    for (i, (k, _)) in f.iter().enumerate() {
        if f[..i].iter().any(|(seen, _)| seen == k) {
            return Err(shape(name, k, Problem::Duplicate));
        }
        if !ENTITY_KEYS.split(", ").any(|known| known == k) {
            return Err(shape(name, k, Problem::Unknown));
        }
    }
    let number = |field: &str, v: &Json| match v.as_f64() {
        Some(x) => Ok(x),
        None => Err(shape(
            name,
            field,
            Problem::WrongType {
                expected: "a number",
                found: kind(v),
            },
        )),
    };
    let required_number = |field: &str| match get(f, field) {
        Some(v) => number(field, v),
        None => Err(shape(name, field, Problem::Missing)),
    };
    let required = required_number("required")?;
    let received = required_number("received")?;
    let days_left = required_number("days_left")?;
    let quality = match get(f, "quality_levels") {
        None => None,
        Some(Json::Array(items)) if items.len() == QUALITY_LEVELS => {
            let mut counts = [0.0; QUALITY_LEVELS];
            for (i, (c, item)) in counts.iter_mut().zip(items).enumerate() {
                *c = number(&format!("quality_levels[{i}]"), item)?;
            }
            Some(counts)
        }
        Some(Json::Array(items)) => {
            return Err(shape(
                name,
                "quality_levels",
                Problem::WrongLength {
                    expected: QUALITY_LEVELS,
                    found: items.len(),
                },
            ));
        }
        Some(v) => {
            return Err(shape(
                name,
                "quality_levels",
                Problem::WrongType {
                    expected: "an array",
                    found: kind(v),
                },
            ));
        }
    };
    let percent_fit = get(f, "percent_fit")
        .map(|v| number("percent_fit", v))
        .transpose()?;
    let mut extra = Vec::new();
    if let Some(v) = get(f, "extra") {
        let Json::Object(items) = v else {
            return Err(shape(
                name,
                "extra",
                Problem::WrongType {
                    expected: "an object",
                    found: kind(v),
                },
            ));
        };
        for (i, (k, v)) in items.iter().enumerate() {
            let field = format!("extra.{k}");
            if items[..i].iter().any(|(seen, _)| seen == k) {
                return Err(shape(name, &field, Problem::Duplicate));
            }
            extra.push((k, number(&field, v)?));
        }
    }
    let build = || -> Result<Entity, EntityError> {
        let mut e = Entity::new(name, required, received, days_left)?;
        e.set_quality_levels(quality)?;
        e.set_percent_fit(percent_fit)?;
        for (k, v) in extra {
            e.set_extra(k.as_str(), v)?;
        }
        Ok(e)
    };
    build().map_err(|source| DocumentError::Entity { index, source })
}

/// The output document of the `risk` example; see the module docs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankingDocument {
    /// The requirement variant the scores use; left out of the JSON when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<RequirementKind>,
    /// The ranking, rank 1 first.
    pub ranking: Vec<RankingRow>,
}

/// One entity of a [`RankingDocument`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankingRow {
    /// The entity's name.
    pub name: String,
    /// Its rank, from 1.
    pub rank: usize,
    /// Its score.
    pub score: f64,
    /// Its metric values by name, in the model's order; metrics it has no data for are left
    /// out.
    pub metrics: MetricValues,
}

/// Metric values by name, in order; serialised as a JSON object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricValues(pub Vec<(String, f64)>);

impl MetricValues {
    /// A value by metric name.
    pub fn get(&self, metric: &str) -> Option<f64> {
        self.0.iter().find(|(k, _)| k == metric).map(|&(_, v)| v)
    }
}

impl Serialize for MetricValues {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for MetricValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MetricValues, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MetricValues;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of metric values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MetricValues, A::Error> {
                let mut values: Vec<(String, f64)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, f64>()? {
                    if values.iter().any(|(seen, _)| *seen == k) {
                        return Err(de::Error::custom(format_args!(
                            "metric `{k}` appears twice"
                        )));
                    }
                    values.push((k, v));
                }
                Ok(MetricValues(values))
            }
        }
        d.deserialize_map(V)
    }
}

/// `x` to `decimals` places, for display. Values too large to scale are returned as they are.
fn round_to(x: f64, decimals: u32) -> f64 {
    let scale = 10f64.powi(decimals.min(300) as i32);
    let r = (x * scale).round() / scale;
    // +0.0 turns a rounded -0.0 into 0.0 so a tiny negative value does not print as "-0.0".
    if r.is_finite() { r + 0.0 } else { x }
}

impl RankingDocument {
    /// The document for a report, at full precision, stating its requirement variant.
    pub fn new(report: &RiskReport) -> RankingDocument {
        RankingDocument {
            requirement: Some(report.requirement()),
            ranking: report
                .ranking()
                .iter()
                .map(|e| RankingRow {
                    name: e.name().to_owned(),
                    rank: e.rank(),
                    score: e.score(),
                    metrics: MetricValues(
                        report
                            .metrics_of(e)
                            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
                            .collect(),
                    ),
                })
                .collect(),
        }
    }

    /// The same document with scores and metric values rounded to `decimals` places (half
    /// away from zero), as the `risk` example prints them (6). Ranks are not recomputed: they
    /// come from the exact scores.
    pub fn rounded(mut self, decimals: u32) -> RankingDocument {
        for row in &mut self.ranking {
            row.score = round_to(row.score, decimals);
            for (_, v) in &mut row.metrics.0 {
                *v = round_to(*v, decimals);
            }
        }
        self
    }

    /// The same document without the `requirement` key.
    pub fn without_requirement(mut self) -> RankingDocument {
        self.requirement = None;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding() {
        assert_eq!(round_to(3.313_333_333, 6), 3.313333);
        assert_eq!(round_to(10.0 / 3.0, 6), 3.333333);
        assert_eq!(round_to(5.0 / 3.0, 6), 1.666667);
        assert_eq!(round_to(0.2, 6), 0.2);
        assert!(round_to(-1e-9, 6).is_sign_positive());
        assert_eq!(round_to(1e305, 6), 1e305);
        assert_eq!(round_to(f64::MAX, 6), f64::MAX);
    }
}
