//! The JSON documents of the `risk` example, through the document types
//! (`examples/risk/document.rs`) the example is a thin shell around: parse, check, rank, round, serialise.
#![cfg(feature = "serde")]

use crate::example::document::{DocumentError, Problem, RankingDocument, RiskDocument};
use quotaroute::risk::{
    Entity, EntityError, Field, FnMetric, ModelError, RankError, RequirementKind, RiskModel,
};
use serde_json::{Value, json};

/// What the example does, minus stdin/stdout: the output document or the one-line error.
fn run(input: &str) -> Result<Value, String> {
    run_with(input, RiskModel::prototype())
}

fn run_with(input: &str, base: RiskModel) -> Result<Value, String> {
    let doc: RiskDocument = serde_json::from_str(input).map_err(|e| e.to_string())?;
    let request = doc.into_request(base).map_err(|e| e.to_string())?;
    let report = request.rank().map_err(|e| e.to_string())?;
    let mut out = RankingDocument::new(&report).rounded(6);
    if !request.requirement_stated {
        out = out.without_requirement();
    }
    Ok(serde_json::to_value(&out).unwrap())
}

fn error(input: &str) -> DocumentError {
    serde_json::from_str::<RiskDocument>(input)
        .unwrap()
        .into_request(RiskModel::prototype())
        .unwrap_err()
}

const ISSUE_INPUT: &str = r#"{"weights": {"requirement": 0.4, "pace": 0.3, "quality": 0.2, "fit": 0.1}, "entities": [{"name": "Mumbai", "required": 500, "received": 100, "quality_levels": [30, 10, 20, 10, 30], "percent_fit": 60, "days_left": 50}]}"#;

const ISSUE_OUTPUT: &str = r#"{"ranking": [{"name": "Mumbai", "rank": 1, "score": 3.313333, "metrics": {"requirement": 0.2, "pace": 8.0, "quality": 3.333333, "fit": 1.666667}}]}"#;

const FIVE_CITIES: &str = r#"{"entities": [
  {"name": "Mumbai", "required": 500, "received": 100, "quality_levels": [30, 10, 20, 10, 30], "percent_fit": 60, "days_left": 50},
  {"name": "Chennai", "required": 250, "received": 50, "quality_levels": [10, 5, 10, 5, 20], "percent_fit": 70, "days_left": 64},
  {"name": "Chandigarh", "required": 450, "received": 100, "quality_levels": [40, 20, 10, 5, 25], "percent_fit": 40, "days_left": 55},
  {"name": "Bengaluru", "required": 350, "received": 150, "quality_levels": [50, 45, 33, 15, 7], "percent_fit": 50, "days_left": 47},
  {"name": "Delhi", "required": 300, "received": 200, "quality_levels": [70, 55, 30, 40, 5], "percent_fit": 67, "days_left": 53}]}"#;

#[test]
fn the_documented_example_gives_its_output_exactly() {
    let out = run(ISSUE_INPUT).unwrap();
    assert_eq!(out, serde_json::from_str::<Value>(ISSUE_OUTPUT).unwrap());
    // Same text too, key order and number spelling included (the example only adds spaces).
    let compact = serde_json::to_string(&out).unwrap();
    assert_eq!(compact, ISSUE_OUTPUT.replace(": ", ":").replace(", ", ","));
}

#[test]
fn five_cities_rank_in_the_published_order_with_the_published_totals() {
    let out = run(FIVE_CITIES).unwrap();
    let rows = out["ranking"].as_array().unwrap();
    let got: Vec<(&str, u64, f64)> = rows
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                r["rank"].as_u64().unwrap(),
                r["score"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Mumbai", 1, 3.313333),
            ("Chandigarh", 2, 3.032294),
            ("Bengaluru", 3, 2.546228),
            ("Delhi", 4, 1.861079),
            ("Chennai", 5, 1.748592),
        ]
    );
    // Six decimals rounded to nearest: the two cells the seed rounds up differ in the last place.
    let chennai = &rows[4]["metrics"];
    assert_eq!(chennai["quality"], json!(2.941176));
    assert_eq!(rows[3]["metrics"]["pace"], json!(1.886792));
}

#[test]
fn missing_weights_keep_their_defaults() {
    let without = run(&ISSUE_INPUT.replace(
        r#""weights": {"requirement": 0.4, "pace": 0.3, "quality": 0.2, "fit": 0.1}, "#,
        "",
    ))
    .unwrap();
    assert_eq!(without, run(ISSUE_INPUT).unwrap());
    // Only pace given: 0.4·0.2 + 1·8 + 0.2·10/3 + 0.1·100/60.
    let pace_only = run(&ISSUE_INPUT.replace(
        r#"{"requirement": 0.4, "pace": 0.3, "quality": 0.2, "fit": 0.1}"#,
        r#"{"pace": 1}"#,
    ))
    .unwrap();
    assert_eq!(pace_only["ranking"][0]["score"], json!(8.913333));
}

#[test]
fn fit_is_optional_and_left_out_of_metrics() {
    let out =
        run(r#"{"entities": [{"name": "A", "required": 10, "received": 5, "days_left": 5}]}"#)
            .unwrap();
    assert_eq!(
        out,
        json!({"ranking": [{"name": "A", "rank": 1, "score": 0.5,
                            "metrics": {"requirement": 0.5, "pace": 1.0}}]})
    );
    let null = run(
        r#"{"entities": [{"name": "A", "required": 10, "received": 5, "days_left": 5,
                                     "percent_fit": null, "quality_levels": null}]}"#,
    )
    .unwrap();
    assert_eq!(null, out);
}

#[test]
fn requirement_variant_is_echoed_when_chosen() {
    let doc = r#"{"requirement": "remaining", "entities": [{"name": "A", "required": 10, "received": 2, "days_left": 4}]}"#;
    let out = run(doc).unwrap();
    assert_eq!(out["requirement"], json!("remaining"));
    assert_eq!(out["ranking"][0]["metrics"]["requirement"], json!(0.8));
    let first_key = out.as_object().unwrap().keys().next().unwrap().clone();
    assert_eq!(first_key, "requirement");
    let filled = run(&doc.replace("remaining", "filled")).unwrap();
    assert_eq!(filled["requirement"], json!("filled"));
    assert_eq!(filled["ranking"][0]["metrics"]["requirement"], json!(0.2));
}

/// A document whose second entity, Delhi, has the given fields after its name.
fn with_delhi(fields: &str) -> String {
    format!(
        r#"{{"entities": [{{"name": "Ok", "required": 1, "received": 0, "days_left": 1}},
                         {{"name": "Delhi", {fields}}}]}}"#
    )
}

#[test]
fn bad_values_name_entity_and_field() {
    let cases = [
        (
            r#""required": 300, "received": 200, "days_left": 0"#,
            "days_left",
            "must be > 0, got 0",
        ),
        (
            r#""required": 0, "received": 200, "days_left": 53"#,
            "required",
            "must be > 0, got 0",
        ),
        (
            r#""required": 300, "received": -1, "days_left": 53"#,
            "received",
            "must be >= 0, got -1",
        ),
        (
            r#""required": 300, "received": 200, "days_left": 53, "percent_fit": 0"#,
            "percent_fit",
            "must be in (0, 100], got 0",
        ),
        (
            r#""required": 300, "received": 200, "days_left": 53, "percent_fit": 100.5"#,
            "percent_fit",
            "must be in (0, 100], got 100.5",
        ),
        (
            r#""required": 300, "received": 200, "days_left": 53, "quality_levels": [0, 0, 0, 0, 0]"#,
            "quality_levels",
            "has no responses",
        ),
        (
            r#""required": 300, "received": 200, "days_left": 53, "quality_levels": [1, 0, -2, 0, 0]"#,
            "quality_levels[2]",
            "must be >= 0, got -2",
        ),
    ];
    for (fields, field, message) in cases {
        let e = error(&with_delhi(fields));
        assert_eq!(e.entity(), Some("Delhi"), "{e}");
        assert_eq!(e.field().as_deref(), Some(field), "{e}");
        let text = e.to_string();
        assert_eq!(
            text,
            format!("entities[1]: entity `Delhi`: field `{field}` {message}")
                + if field == "quality_levels" {
                    " (every count is 0); omit it for an entity without quality data"
                } else {
                    ""
                }
        );
    }
    let e = error(&with_delhi(
        r#""required": 0, "received": 200, "days_left": 53"#,
    ));
    assert!(matches!(
        e,
        DocumentError::Entity {
            index: 1,
            source: EntityError::NotPositive {
                field: Field::Required,
                ..
            }
        }
    ));
}

#[test]
fn shape_errors_name_entity_and_field() {
    let e = error(
        r#"{"entities": [{"name": "Pune", "required": "300", "received": 1, "days_left": 1}]}"#,
    );
    assert_eq!(
        e.to_string(),
        "entities[0]: entity `Pune`: field `required` must be a number, got a string"
    );
    assert!(matches!(
        e,
        DocumentError::EntityField {
            problem: Problem::WrongType { .. },
            ..
        }
    ));
    let e = error(r#"{"entities": [{"name": "Pune", "required": 3, "days_left": 1}]}"#);
    assert_eq!(
        e.to_string(),
        "entities[0]: entity `Pune`: field `received` is missing"
    );
    let e = error(
        r#"{"entities": [{"name": "Pune", "required": 3, "received": 1, "days_left": 1, "percent_fitt": 5}]}"#,
    );
    assert_eq!(
        (e.entity(), e.field().as_deref()),
        (Some("Pune"), Some("percent_fitt"))
    );
    let e = error(
        r#"{"entities": [{"name": "Pune", "required": 3, "received": 1, "days_left": 1, "quality_levels": [1, 2]}]}"#,
    );
    assert!(matches!(
        e,
        DocumentError::EntityField {
            problem: Problem::WrongLength {
                expected: 5,
                found: 2
            },
            ..
        }
    ));
    let e = error(
        r#"{"entities": [{"name": "Pune", "required": 3, "received": 1, "days_left": 1, "quality_levels": [1, 2, "x", 4, 5]}]}"#,
    );
    assert_eq!(e.field().as_deref(), Some("quality_levels[2]"));
    let e = error(
        r#"{"entities": [{"name": "Pune", "required": 3, "received": 1, "days_left": 1, "days_left": 2}]}"#,
    );
    assert!(matches!(
        e,
        DocumentError::EntityField {
            problem: Problem::Duplicate,
            ..
        }
    ));
    let e = error(r#"{"entities": [{"required": 3, "received": 1, "days_left": 1}]}"#);
    assert_eq!(e.to_string(), "entities[0]: field `name` is missing");
    let e = error(r#"{"entities": [{"name": 7, "required": 3, "received": 1, "days_left": 1}]}"#);
    assert_eq!(e.field().as_deref(), Some("name"));
    let e = error(r#"{"entities": [{"name": "", "required": 3, "received": 1, "days_left": 1}]}"#);
    assert!(matches!(
        e,
        DocumentError::Entity {
            source: EntityError::EmptyName,
            ..
        }
    ));
    let e = error(
        r#"{"entities": [{"name": "P", "required": 3, "received": 1, "days_left": 1, "extra": {"spend": true}}]}"#,
    );
    assert_eq!(e.field().as_deref(), Some("extra.spend"));
    let e = error(r#"{"entities": [3]}"#);
    assert_eq!(
        e.to_string(),
        "`entities[0]` must be an object, got a number"
    );
}

#[test]
fn document_level_errors() {
    assert_eq!(
        error("[]").to_string(),
        "the document must be an object, got an array"
    );
    assert_eq!(error("{}"), DocumentError::MissingEntities);
    assert_eq!(
        error(r#"{"entities": {}}"#).to_string(),
        "`entities` must be an array, got an object"
    );
    assert!(matches!(
        error(r#"{"entites": []}"#),
        DocumentError::UnknownKey { .. }
    ));
    assert!(matches!(
        error(r#"{"entities": [], "entities": []}"#),
        DocumentError::DuplicateKey { .. }
    ));
    assert!(matches!(
        error(r#"{"requirement": "left", "entities": []}"#),
        DocumentError::UnknownRequirement { .. }
    ));
    assert!(matches!(
        error(r#"{"requirement": 1, "entities": []}"#),
        DocumentError::Malformed { .. }
    ));
    assert_eq!(
        error(r#"{"weights": {"pace": "high"}, "entities": []}"#).to_string(),
        "`weights.pace` must be a number, got a string"
    );
    assert!(matches!(
        error(r#"{"weights": {"pace": 1, "pace": 2}, "entities": []}"#),
        DocumentError::DuplicateKey { .. }
    ));
}

#[test]
fn weights_are_validated_and_unknown_names_listed() {
    let e = error(r#"{"weights": {"pace": 1, "speed": 2, "cost": 3}, "entities": []}"#);
    assert_eq!(
        e.to_string(),
        "weights: no metric named `speed`, `cost`; the model has `requirement`, `pace`, `quality`, `fit`"
    );
    assert!(matches!(
        e,
        DocumentError::Weights(ModelError::UnknownMetrics { .. })
    ));
    assert!(matches!(
        error(r#"{"weights": {"fit": -0.5}, "entities": []}"#),
        DocumentError::Weights(ModelError::NegativeWeight { .. })
    ));
    assert!(matches!(
        error(
            r#"{"weights": {"requirement": 0, "pace": 0, "quality": 0, "fit": 0}, "entities": []}"#
        ),
        DocumentError::Weights(ModelError::AllZero)
    ));
}

#[test]
fn a_user_metric_name_is_a_weight_key() {
    let base = RiskModel::prototype()
        .with_metric(
            FnMetric::new("burn", |e: &Entity| {
                Ok(e.extra("spent").map(|s| s / e.days_left()))
            }),
            0.0,
        )
        .unwrap();
    let doc = r#"{"weights": {"burn": 1}, "entities": [
        {"name": "A", "required": 10, "received": 10, "days_left": 2, "extra": {"spent": 8}},
        {"name": "B", "required": 10, "received": 10, "days_left": 2}]}"#;
    let out = run_with(doc, base).unwrap();
    assert_eq!(out["ranking"][0]["name"], json!("A"));
    assert_eq!(out["ranking"][0]["metrics"]["burn"], json!(4.0));
    assert_eq!(out["ranking"][1]["metrics"].get("burn"), None);
    // The seed model does not know it.
    assert!(run(doc).unwrap_err().contains("no metric named `burn`"));
}

#[test]
fn duplicate_names_are_a_rank_error() {
    let doc = r#"{"entities": [{"name": "A", "required": 1, "received": 0, "days_left": 1},
                               {"name": "A", "required": 2, "received": 0, "days_left": 1}]}"#;
    let request = serde_json::from_str::<RiskDocument>(doc)
        .unwrap()
        .into_request(RiskModel::prototype())
        .unwrap();
    let e = request.rank().unwrap_err();
    assert!(matches!(e, RankError::DuplicateName { .. }));
    assert_eq!((e.entity(), e.field()), ("A", "name"));
}

#[test]
fn documents_round_trip() {
    let model = RiskModel::prototype()
        .with_requirement(RequirementKind::Remaining)
        .with_metric(FnMetric::new("burn", |_: &Entity| Ok(None)), 0.25)
        .unwrap();
    let entities = vec![
        Entity::new("A", 10.5, 2.25, 3.0)
            .and_then(|e| e.with_quality_levels([1.0, 2.0, 3.0, 4.0, 0.5]))
            .and_then(|e| e.with_percent_fit(33.3))
            .and_then(|e| e.with_extra("spent", -4.0))
            .unwrap(),
        Entity::new("B", 1.0, 7.0, 0.125).unwrap(),
    ];
    let doc = RiskDocument::new(&model, &entities);
    let text = serde_json::to_string(&doc).unwrap();
    let back: RiskDocument = serde_json::from_str(&text).unwrap();
    assert_eq!(back, doc);
    // Read against a model with the seed weights: the document restores the changed ones.
    let base = RiskModel::prototype()
        .with_metric(FnMetric::new("burn", |_: &Entity| Ok(None)), 0.0)
        .unwrap();
    let request = back.into_request(base).unwrap();
    assert_eq!(request.entities, entities);
    assert!(request.requirement_stated);
    assert_eq!(request.model.requirement(), RequirementKind::Remaining);
    assert_eq!(
        request.model.weights().collect::<Vec<_>>(),
        model.weights().collect::<Vec<_>>()
    );

    let ranking = RankingDocument::new(&model.rank(&entities).unwrap());
    let text = serde_json::to_string(&ranking).unwrap();
    assert_eq!(
        serde_json::from_str::<RankingDocument>(&text).unwrap(),
        ranking
    );
    assert_eq!(ranking.ranking[1].metrics.get("fit"), None);
}

#[test]
fn entities_read_with_serde_directly_are_validated() {
    let e: Entity = serde_json::from_str(
        r#"{"name": "Mumbai", "required": 500, "received": 100, "quality_levels": [30, 10, 20, 10, 30], "percent_fit": 60, "days_left": 50}"#,
    )
    .unwrap();
    assert_eq!(e.quality_levels(), Some(&[30.0, 10.0, 20.0, 10.0, 30.0]));
    let err = serde_json::from_str::<Entity>(
        r#"{"name": "Mumbai", "required": 500, "received": 100, "percent_fit": 0, "days_left": 50}"#,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("entity `Mumbai`: field `percent_fit`"),
        "{err}"
    );
}
