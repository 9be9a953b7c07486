//! The catalogue document: the serialised form of a [`Catalogue`] (JSON or any serde format),
//! documented field by field in `docs/catalogue.md`.
//!
//! Reading is strict and readable: every unknown field is an error naming it, rules may be
//! written in the CSV's text form (`"gender=female;age=18-34"`) and exposure targets by
//! question name. Writing gives the structured form the crate always wrote, which reads back
//! unchanged, so documents written by earlier versions still load.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::{Catalogue, CatalogueError, Category, DEFAULT_TARGET, QuotaCell};
use crate::quota::{NodeSpec, QuotaTree};
use crate::schema::{QuestionId, Rule, RuleError, Schema};

/// What a catalogue serialises as: its schema and categories.
#[derive(Serialize)]
pub(super) struct CatalogueOut {
    schema: Schema,
    categories: Vec<Category>,
}

impl From<Catalogue> for CatalogueOut {
    fn from(c: Catalogue) -> Self {
        CatalogueOut {
            schema: c.schema,
            categories: c.categories,
        }
    }
}

/// What a catalogue deserialises from; [`Catalogue::new`] validates it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CatalogueIn {
    schema: Schema,
    categories: Vec<CategoryIn>,
}

/// One category of the document. Only `key`, `name`, `incidence` and `loi_seconds` are
/// required; the rest default as [`Category::new`] does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryIn {
    key: String,
    name: String,
    incidence: f64,
    loi_seconds: f64,
    #[serde(default)]
    qualifier_seconds: f64,
    #[serde(default)]
    target: Option<u32>,
    #[serde(default)]
    eligibility: RuleIn,
    #[serde(default)]
    exposure_targets: Vec<ExposureIn>,
    #[serde(default)]
    cells: Vec<CellIn>,
    /// A quota tree in the quota module's named form, appended to `cells` as
    /// [`Category::with_quota_tree`] does.
    #[serde(default)]
    tree: Option<NodeSpec>,
    #[serde(default)]
    loi_spread: f64,
    #[serde(default)]
    exclusion_group: Option<String>,
}

/// A quota cell of the document.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CellIn {
    key: String,
    #[serde(default)]
    rule: RuleIn,
    max: u32,
    #[serde(default)]
    min: u32,
    #[serde(default)]
    parent: Option<ParentIn>,
}

/// A cell's parent: the key of an earlier cell of the category, or its index (the form the
/// crate writes).
#[derive(Deserialize)]
#[serde(untagged)]
enum ParentIn {
    Index(usize),
    Key(String),
}

/// A rule: the CSV's text form (a string), or the structured [`Rule`] (an object, or the
/// string `"everyone"`). Text is resolved against the document's schema once it is read.
enum RuleIn {
    Text(String),
    Typed(Rule),
}

impl Default for RuleIn {
    fn default() -> Self {
        RuleIn::Typed(Rule::Everyone)
    }
}

impl<'de> Deserialize<'de> for RuleIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RuleIn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a rule: `question=response|response` clauses joined by `;`, or a rule object",
                )
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<RuleIn, E> {
                // The structured form writes `Rule::Everyone` as this string; it has no `=`,
                // so it is no clause of the text form either.
                Ok(if text.trim() == "everyone" {
                    RuleIn::Typed(Rule::Everyone)
                } else {
                    RuleIn::Text(text.to_owned())
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RuleIn, A::Error> {
                Rule::deserialize(de::value::MapAccessDeserializer::new(map)).map(RuleIn::Typed)
            }
        }
        d.deserialize_any(V)
    }
}

impl RuleIn {
    fn resolve(self, schema: &Schema) -> Result<Rule, String> {
        match self {
            RuleIn::Typed(rule) => Ok(rule),
            RuleIn::Text(text) => Rule::parse(schema, &text).map_err(|e| match e {
                RuleError::Unknown(e) => e.to_string(),
                other => other.to_string(),
            }),
        }
    }
}

/// An exposure target: `[question index, shares]` (the structured form) or
/// `{"question": name, "shares": [...]}`.
enum ExposureIn {
    Typed(QuestionId, Vec<f64>),
    Named(String, Vec<f64>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedExposure {
    question: String,
    shares: Vec<f64>,
}

impl<'de> Deserialize<'de> for ExposureIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ExposureIn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "an exposure target: {\"question\": name, \"shares\": [...]} or [question index, [...]]",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ExposureIn, A::Error> {
                let (q, shares) = <(QuestionId, Vec<f64>)>::deserialize(
                    de::value::SeqAccessDeserializer::new(seq),
                )?;
                Ok(ExposureIn::Typed(q, shares))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ExposureIn, A::Error> {
                let n = NamedExposure::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(ExposureIn::Named(n.question, n.shares))
            }
        }
        d.deserialize_any(V)
    }
}

impl TryFrom<CatalogueIn> for Catalogue {
    type Error = CatalogueError;
    fn try_from(doc: CatalogueIn) -> Result<Self, Self::Error> {
        let schema = doc.schema;
        let mut categories = Vec::with_capacity(doc.categories.len());
        for (i, c) in doc.categories.into_iter().enumerate() {
            // The line `Catalogue::new` reports for the category at this position.
            let line = i + 2;
            let key = c.key.clone();
            let bad = |field: &'static str, problem: String| CatalogueError::Field {
                line,
                field,
                problem: format!("category `{key}`: {problem}"),
            };
            let eligibility = c
                .eligibility
                .resolve(&schema)
                .map_err(|p| bad("eligibility", p))?;
            let mut cells: Vec<QuotaCell> = Vec::with_capacity(c.cells.len());
            for cell in c.cells {
                let rule = cell
                    .rule
                    .resolve(&schema)
                    .map_err(|p| bad("cells", format!("cell `{}`: {p}", cell.key)))?;
                let parent = match cell.parent {
                    None => None,
                    Some(ParentIn::Index(i)) => Some(i),
                    Some(ParentIn::Key(key)) => {
                        Some(cells.iter().position(|o| o.key == key).ok_or_else(|| {
                            bad(
                                "cells",
                                format!(
                                    "cell `{}`: parent `{key}` is no earlier cell of the category",
                                    cell.key
                                ),
                            )
                        })?)
                    }
                };
                let mut made = QuotaCell::new(cell.key, rule, cell.max).with_min(cell.min);
                made.parent = parent;
                cells.push(made);
            }
            let mut exposure_targets = Vec::with_capacity(c.exposure_targets.len());
            for target in c.exposure_targets {
                exposure_targets.push(match target {
                    ExposureIn::Typed(q, shares) => (q, shares),
                    ExposureIn::Named(name, shares) => (
                        schema
                            .question(&name)
                            .map_err(|e| bad("exposure_targets", e.to_string()))?,
                        shares,
                    ),
                });
            }
            categories.push(Category {
                key: c.key,
                name: c.name,
                incidence: c.incidence,
                loi_seconds: c.loi_seconds,
                qualifier_seconds: c.qualifier_seconds,
                target: c.target.unwrap_or(DEFAULT_TARGET),
                eligibility,
                exposure_targets,
                cells,
                loi_spread: c.loi_spread,
                exclusion_group: c.exclusion_group,
            });
            if let Some(spec) = c.tree {
                let tree = QuotaTree::from_spec(schema.clone(), &spec)
                    .map_err(|e| bad("tree", e.to_string()))?;
                let Some(category) = categories.pop() else {
                    unreachable!("pushed above")
                };
                let category = category
                    .with_quota_tree(&tree)
                    .map_err(|e| bad("tree", e.to_string()))?;
                if let Some(given) = c.target
                    && given != category.target
                {
                    return Err(bad(
                        "target",
                        format!(
                            "{given} differs from the tree's root target {}",
                            category.target
                        ),
                    ));
                }
                categories.push(category);
            }
        }
        Catalogue::new(schema, categories)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn document() -> Value {
        json!({
            "schema": {"questions": [
                {"name": "gender", "responses": ["female", "male"]},
                {"name": "age", "responses": ["18-34", "35-54", "55+"]}
            ]},
            "categories": [
                {"key": "17", "name": "Craft Beer", "incidence": 0.3, "loi_seconds": 105,
                 "eligibility": "age=18-34|35-54",
                 "exposure_targets": [{"question": "gender", "shares": [0.5, 0.5]}],
                 "cells": [{"key": "women", "rule": "gender=female", "max": 60, "min": 20}]},
                {"key": "28", "name": "Coffee", "incidence": 0.4, "loi_seconds": 32}
            ]
        })
    }

    fn read(doc: &Value) -> Result<Catalogue, String> {
        serde_json::from_value::<Catalogue>(doc.clone()).map_err(|e| e.to_string())
    }

    #[test]
    fn text_rules_and_named_exposures_read_as_the_typed_form() {
        let c = read(&document()).unwrap();
        let schema = c.schema();
        let beer = &c.categories()[0];
        assert_eq!(
            beer.eligibility,
            Rule::parse(schema, "age=18-34|35-54").unwrap()
        );
        let gender = schema.question("gender").unwrap();
        assert_eq!(beer.exposure_targets, vec![(gender, vec![0.5, 0.5])]);
        assert_eq!(
            beer.cells,
            vec![
                QuotaCell::new("women", Rule::parse(schema, "gender=female").unwrap(), 60)
                    .with_min(20)
            ]
        );
        // The defaults of `Category::new`.
        let coffee = &c.categories()[1];
        assert_eq!(coffee, &Category::new("28", "Coffee", 0.4, 32.0));
        // Written in the structured form, read back the same.
        let back = read(&serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back.categories(), c.categories());
    }

    /// Issue 18: an unknown field anywhere in the document is an error naming it (and serde
    /// lists the fields expected there).
    #[test]
    fn unknown_fields_are_errors_naming_them() {
        /// A field's name, and the change to the document that adds it.
        type Case = (&'static str, fn(&mut Value));
        let cases: [Case; 6] = [
            ("categoriez", |d| d["categoriez"] = json!([])),
            ("targets", |d| d["categories"][1]["targets"] = json!(150)),
            ("maximum", |d| {
                d["categories"][0]["cells"][0]["maximum"] = json!(3)
            }),
            ("share", |d| {
                d["categories"][0]["exposure_targets"][0] =
                    json!({"question": "age", "share": [1.0, 0.0, 0.0]})
            }),
            (
                "weight",
                |d| {
                    d["categories"][1]["eligibility"] =
                        json!({"one_of": {"question": 0, "responses": [1], "weight": 2}})
                },
            ),
            ("answers", |d| {
                d["schema"]["questions"][0]["answers"] = json!([])
            }),
        ];
        for (field, change) in cases {
            let mut doc = document();
            change(&mut doc);
            let err = read(&doc).unwrap_err();
            assert!(
                err.contains(&format!("unknown field `{field}`")),
                "{field}: {err}"
            );
        }
        let mut doc = document();
        doc["categories"][1]["targets"] = json!(150);
        let err = read(&doc).unwrap_err();
        assert!(err.contains("expected one of `key`, `name`"), "{err}");
        assert!(err.contains("`target`"), "{err}");
    }

    #[test]
    fn bad_text_names_the_category_and_the_field() {
        let mut doc = document();
        doc["categories"][1]["eligibility"] = json!("gender=woman");
        let err = read(&doc).unwrap_err();
        assert!(
            err.contains(
                "field `eligibility`: category `28`: question `gender` has no response `woman`"
            ),
            "{err}"
        );
        let mut doc = document();
        doc["categories"][0]["cells"][0]["rule"] = json!("sex=female");
        let err = read(&doc).unwrap_err();
        assert!(
            err.contains("field `cells`: category `17`: cell `women`: unknown question `sex`"),
            "{err}"
        );
        let mut doc = document();
        doc["categories"][0]["exposure_targets"][0]["question"] = json!("region");
        let err = read(&doc).unwrap_err();
        assert!(
            err.contains("field `exposure_targets`: category `17`: unknown question `region`"),
            "{err}"
        );
    }
}
