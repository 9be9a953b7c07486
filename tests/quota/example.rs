//! The `quota` example: the issue's document, every kind of bad document, and random valid
//! documents answered as the library answers them.
#![cfg(feature = "serde")]

#[path = "../../examples/quota/main.rs"]
#[allow(dead_code)]
mod program;

use proptest::prelude::*;
use quotaroute::quota::{Condition, NodeId, Query, QuotaMethod, QuotaTree, Target};
use quotaroute::schema::Schema;
use serde_json::json;

const EXAMPLE_DOCUMENT: &str = r#"
{"questions": {"Product": ["A", "B", "C"], "Gender": ["Male", "Female"]},
 "tree": {"target": 30, "observed": 10, "children": [
   {"question": "Product", "response": "A", "target": 8, "observed": 6, "children": [
     {"question": "Gender", "response": "Male", "target": 6, "observed": 6},
     {"question": "Gender", "response": "Female", "target": 2, "observed": 0}]},
   {"question": "Product", "response": "B", "target": 10, "observed": 4}]},
 "queries": [{"method": "available", "question": "Product", "context": {"Gender": "Male"}}]}
"#;

#[test]
fn the_documented_example_gives_c_20_then_b_6() {
    assert_eq!(
        program::answer(EXAMPLE_DOCUMENT).unwrap(),
        vec![r#"{"responses": ["C", "B"], "todo": [20, 6]}"#]
    );
}

#[test]
fn every_method_groups_answers_and_min_max() {
    let doc = json!({
        "questions": {"Product": ["A", "B", "C"], "Gender": ["Male", "Female"]},
        "tree": {"min": 100, "max": 120, "observed": 92, "children": [
            {"question": "Product", "responses": ["A", "B"], "min": 30, "max": 40, "observed": 35},
            {"question": "Product", "response": "C", "target": 0}]},
        "queries": [
            {"method": "available", "question": "Product"},
            {"method": "list", "question": "Product"},
            {"method": "available_balanced", "question": "Product", "answers": {"Gender": "Female"}},
            {"method": "balanced_list", "question": "Product", "context": {"Gender": ["Male", "Female"]}}]
    });
    assert_eq!(
        program::answer(&doc.to_string()).unwrap(),
        vec![
            r#"{"responses": ["A", "B"], "todo": [5, 5]}"#,
            r#"{"responses": ["A", "B", "C"], "todo": [5, 5, 0]}"#,
            r#"{"responses": ["A", "B"], "todo": [5, 5]}"#,
            r#"{"responses": ["A", "B", "C"], "todo": [5, 5, 0]}"#,
        ]
    );
}

#[test]
fn whole_numbers_written_with_a_point_are_read() {
    let doc = json!({"questions": {"P": ["a"]}, "tree": {"target": 30.0, "observed": 1.0},
                     "queries": [{"method": "list", "question": "P"}]});
    assert_eq!(
        program::answer(&doc.to_string()).unwrap(),
        vec![r#"{"responses": ["a"], "todo": [29]}"#]
    );
}

#[test]
fn bad_documents_name_the_path() {
    let cases = [
        (
            json!({"questions": {"Gender": ["Male", "Female"]}, "tree": {"children": [
                {"question": "Gender", "response": "Male", "children": [
                    {"question": "Gender", "response": "Male"}]},
                {"question": "Gender", "response": "Mle"}]}}),
            r#"tree.children[1]: unknown response "Mle" for question "Gender""#,
        ),
        (
            json!({"questions": {"Gender": ["Male"]}, "tree": {"children": [
                {"question": "Gendr", "response": "Male"}]}}),
            r#"tree.children[0]: unknown question "Gendr""#,
        ),
        (
            json!({"questions": {"Gender": ["Male"]}, "tree": {"children": [
                {"question": "Gender", "response": "Male", "target": -1}]}}),
            "tree.children[0]: negative target -1",
        ),
        (
            json!({"questions": {"Gender": ["Male"]}, "tree": {"min": 4, "max": 2}}),
            "tree: min 4 is greater than max 2",
        ),
        (
            json!({"questions": {"Gender": ["Male"]}, "tree": {"target": "ten"}}),
            r#"tree.target: expected a whole number, got "ten""#,
        ),
        (
            json!({"questions": {"Gender": ["Male"]}, "tree": {"children": {}}}),
            "tree.children: expected a list, got an object",
        ),
        (
            json!({"questions": {"Gender": "Male"}, "tree": {}}),
            "questions.Gender: expected a list, got a string",
        ),
        (
            json!({"questions": {"Gender": ["Male"]}, "tree": {}, "queries": [
                {"method": "list", "question": "Gender"},
                {"method": "available", "question": "Product"}]}),
            r#"queries[1].question: unknown question "Product""#,
        ),
        (
            json!({"questions": {"Gender": ["Male"], "P": ["a"]}, "tree": {}, "queries": [
                {"method": "list", "question": "P", "context": {"Gender": ["Male", "Mle"]}}]}),
            r#"queries[0].context.Gender[1]: unknown response "Mle" for question "Gender""#,
        ),
        (
            json!({"questions": {"Gender": ["Male"], "P": ["a"]}, "tree": {}, "queries": [
                {"method": "list", "question": "P", "context": {"P": "a"}}]}),
            r#"queries[0].context.P: "P" is the target question and cannot be in the context"#,
        ),
        (
            json!({"questions": {"Gender": ["Male"]}, "tree": {}, "queries": [
                {"method": "list", "question": "Gender", "answers": {"Gender": "F"}}]}),
            r#"queries[0].answers.Gender: unknown response "F" for question "Gender""#,
        ),
        (
            json!({"questions": {"Gender": ["Male"]}, "tree": {}, "query": []}),
            r#"document: unknown field "query""#,
        ),
        (json!({"questions": {}}), r#"document: missing "tree""#),
        (
            json!({"questions": {}, "tree": {"target": 18_446_744_073_709_551_615_u64}}),
            "tree.target: 18446744073709551615 is above the maximum 1000000000000",
        ),
        (
            json!({"questions": {}, "tree": {"target": 2e12}}),
            "tree: target 2000000000000 is above the maximum 1000000000000",
        ),
    ];
    for (doc, expected) in cases {
        assert_eq!(program::answer(&doc.to_string()).unwrap_err(), expected);
    }
    assert!(
        program::answer("{\"questions\": ")
            .unwrap_err()
            .starts_with("document: EOF while parsing")
    );
}

proptest! {
    #![proptest_config(crate::proptest_config(64))]

    /// Any valid document: a random tree written as the example reads it, random queries.
    #[test]
    fn answers_any_valid_document(
        sizes in prop::collection::vec(1usize..4, 1..4),
        nodes in prop::collection::vec((any::<usize>(), any::<usize>(), any::<usize>(), 0u8..3, 0u64..20, 0u64..20, 0u64..15), 0..15),
        queries in prop::collection::vec((0usize..4, any::<usize>(), prop::collection::vec((any::<usize>(), any::<usize>()), 0..3)), 1..4),
    ) {
        let schema = sizes
            .iter()
            .enumerate()
            .fold(Schema::builder(), |b, (i, &n)| b.question(format!("Q{i}"), (0..n).map(|r| format!("r{r}"))))
            .build()
            .unwrap();
        let qids: Vec<_> = schema.question_ids().collect();
        let mut b = QuotaTree::builder(schema.clone());
        let mut ids = vec![NodeId::ROOT];
        for (i, &(parent, q, r, kind, x, y, obs)) in nodes.iter().enumerate() {
            let q = qids[q % qids.len()];
            let r = schema.response_ids(q).nth(r % schema.response_count(q)).unwrap();
            let target = match kind { 0 => Target::None, 1 => Target::Single(x), _ => Target::MinMax { min: x.min(y), max: x.max(y) } };
            match b.add_child(ids[parent % (i + 1)], Condition::response(q, r), target) {
                Ok(id) => { b.set_observed(id, obs).unwrap(); ids.push(id); }
                Err(_) => ids.push(ids[parent % (i + 1)]),
            }
        }
        let tree = b.build();
        let mut doc_queries = Vec::new();
        let mut expected = Vec::new();
        for (method, target, context) in &queries {
            let method = QuotaMethod::ALL[*method];
            let tq = qids[target % qids.len()];
            let mut query = Query::new(tq);
            let mut ctx = serde_json::Map::new();
            for (q, r) in context {
                let q = qids[q % qids.len()];
                if q == tq || query.context().iter().any(|(c, _)| *c == q) { continue; }
                let r = schema.response_ids(q).nth(r % schema.response_count(q)).unwrap();
                query = query.given(q, r);
                ctx.insert(schema.question_name(q).to_owned(), json!(schema.response_name(q, r)));
            }
            doc_queries.push(json!({"method": method.name(), "question": schema.question_name(tq), "context": ctx}));
            let results = tree.query(method, &query, None).unwrap();
            expected.push(json!({
                "responses": results.iter().map(|(r, _)| schema.response_name(tq, *r)).collect::<Vec<_>>(),
                "todo": results.iter().map(|(_, t)| *t).collect::<Vec<_>>(),
            }));
        }
        let questions: serde_json::Map<String, serde_json::Value> = schema
            .questions()
            .iter()
            .map(|q| (q.name().to_owned(), json!(q.responses())))
            .collect();
        let doc = json!({"questions": questions, "tree": tree.to_spec(), "queries": doc_queries});
        let lines = program::answer(&doc.to_string()).unwrap();
        prop_assert_eq!(lines.len(), expected.len());
        for (line, want) in lines.iter().zip(&expected) {
            let got: serde_json::Value = serde_json::from_str(line).unwrap();
            prop_assert_eq!(&got, want);
        }
    }
}

/// Issue 16: a document with no queries is an error (it exited 0 with no output), and a UTF-8
/// byte-order mark is skipped (it failed at "line 1 column 1").
#[test]
fn no_queries_is_an_error_and_a_byte_order_mark_is_skipped() {
    let no_queries = r#"{"questions": {"P": ["a", "b"]}, "tree": {"target": 2}}"#;
    let e = program::answer(no_queries).unwrap_err();
    assert!(e.contains("no queries"), "{e}");
    let empty = r#"{"questions": {"P": ["a", "b"]}, "tree": {"target": 2}, "queries": []}"#;
    assert!(program::answer(empty).is_err());
    let with_bom = format!("\u{feff}{EXAMPLE_DOCUMENT}");
    assert_eq!(
        program::answer(&with_bom).unwrap(),
        program::answer(EXAMPLE_DOCUMENT).unwrap()
    );
}
