//! Worked examples of the quota queries: the seed's tree walk step by step, the issue's min/max
//! example and example document, both balanced keys, groups, responses without targets,
//! relaxation, counting, edits and validation.
#![cfg(feature = "serde")]

use quotaroute::quota::{
    Condition, CountError, EditError, NodeId, NodeSpec, Query, QueryBuffer, QueryError,
    QuotaMethod, QuotaTree, Target,
};
use quotaroute::schema::{Answers, QuestionId, ResponseId, Schema};
use serde_json::json;

fn schema(questions: &[(&str, &[&str])]) -> Schema {
    questions
        .iter()
        .fold(Schema::builder(), |b, (q, rs)| {
            b.question(*q, rs.iter().copied())
        })
        .build()
        .unwrap()
}

fn tree(schema: &Schema, spec: serde_json::Value) -> QuotaTree {
    let spec: NodeSpec = serde_json::from_value(spec).unwrap();
    QuotaTree::from_spec(schema.clone(), &spec).unwrap()
}

fn q(schema: &Schema, name: &str) -> QuestionId {
    schema.question(name).unwrap()
}

fn r(schema: &Schema, question: &str, name: &str) -> ResponseId {
    schema.response(q(schema, question), name).unwrap()
}

/// Results as names.
fn named(schema: &Schema, question: &str, results: &[(ResponseId, i64)]) -> Vec<(String, i64)> {
    let qid = q(schema, question);
    results
        .iter()
        .map(|&(r, t)| (schema.response_name(qid, r).to_owned(), t))
        .collect()
}

fn names(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|&(n, t)| (n.to_owned(), t)).collect()
}

fn ids(list: &[u32]) -> Vec<NodeId> {
    list.iter().map(|&i| NodeId::new(i)).collect()
}

// ---------------------------------------------------------------------------------------------
// The example document: Product × Gender.

fn product_gender_tree() -> (Schema, QuotaTree) {
    let s = schema(&[
        ("Product", &["A", "B", "C"]),
        ("Gender", &["Male", "Female"]),
    ]);
    let t = tree(
        &s,
        json!({"target": 30, "observed": 10, "children": [
            {"question": "Product", "response": "A", "target": 8, "observed": 6, "children": [
                {"question": "Gender", "response": "Male", "target": 6, "observed": 6},
                {"question": "Gender", "response": "Female", "target": 2, "observed": 0}]},
            {"question": "Product", "response": "B", "target": 10, "observed": 4}]}),
    );
    (s, t)
}

#[test]
fn available_closes_a_response_whose_cell_in_the_context_is_full() {
    let (s, t) = product_gender_tree();
    let query = Query::new(q(&s, "Product")).given(q(&s, "Gender"), r(&s, "Gender", "Male"));
    let got = t.available(&query, None).unwrap();
    assert_eq!(named(&s, "Product", &got), names(&[("C", 20), ("B", 6)]));
    // A is 0: its Male cell is full. list keeps it, last.
    let got = t.list(&query, None).unwrap();
    assert_eq!(
        named(&s, "Product", &got),
        names(&[("C", 20), ("B", 6), ("A", 0)])
    );
}

#[test]
fn balanced_methods_rank_by_target_share_and_put_zero_targets_last() {
    let (s, t) = product_gender_tree();
    let query = Query::new(q(&s, "Product")).given(q(&s, "Gender"), r(&s, "Gender", "Male"));
    // Cells within Gender = Male: A → A/Male (6, 6), B → B (10, 4), C → none (target 0, last).
    // ΣT = 16, ΣO = 10: B has (10/16 − 4/10)/(10/16) = 0.36; A is not available.
    let got = t.available_balanced(&query, None).unwrap();
    assert_eq!(named(&s, "Product", &got), names(&[("B", 6), ("C", 20)]));
    // T% − O%: A 6/16 − 6/10 = −0.225, B 0.225, C target 0 → last.
    let got = t.balanced_list(&query, None).unwrap();
    assert_eq!(
        named(&s, "Product", &got),
        names(&[("B", 6), ("A", 0), ("C", 20)])
    );
}

#[test]
fn answers_act_as_context_and_explicit_context_overrides_them() {
    let (s, t) = product_gender_tree();
    let male = Answers::from_names(&s, [("Gender", "Male")]).unwrap();
    let query = Query::new(q(&s, "Product"));
    assert_eq!(
        named(&s, "Product", &t.available(&query, Some(&male)).unwrap()),
        names(&[("C", 20), ("B", 6)])
    );
    // The respondent is male, but the script asks about women.
    let female = query.given(q(&s, "Gender"), r(&s, "Gender", "Female"));
    assert_eq!(
        named(&s, "Product", &t.available(&female, Some(&male)).unwrap()),
        names(&[("C", 20), ("B", 6), ("A", 2)])
    );
    // An answer to the target question itself is ignored.
    let a = Answers::from_names(&s, [("Product", "A"), ("Gender", "Male")]).unwrap();
    assert_eq!(
        t.available(&Query::new(q(&s, "Product")), Some(&a))
            .unwrap(),
        t.available(&Query::new(q(&s, "Product")), Some(&male))
            .unwrap()
    );
}

#[test]
fn unknown_gender_counts_both_gender_cells() {
    let (s, t) = product_gender_tree();
    // Without context the Male cell (full) and the Female cell both count for A.
    let got = t.list(&Query::new(q(&s, "Product")), None).unwrap();
    assert_eq!(
        named(&s, "Product", &got),
        names(&[("C", 20), ("B", 6), ("A", 0)])
    );
}

// ---------------------------------------------------------------------------------------------
// The min/max rule.

#[test]
fn min_max_example_gives_five() {
    let s = schema(&[("Product", &["A", "B"])]);
    let t = tree(
        &s,
        json!({"min": 100, "max": 120, "observed": 92, "children": [
            {"question": "Product", "response": "A", "min": 30, "max": 40, "observed": 35}]}),
    );
    let e = t.explain(&Query::new(q(&s, "Product")), None).unwrap();
    // A: min(max(8, −5), min(28, 5)) = 5. B: only the root, min(8, 28) = 8.
    assert_eq!(e.responses[0].todo, 5);
    assert_eq!(e.responses[1].todo, 8);
    let got = t.available(&Query::new(q(&s, "Product")), None).unwrap();
    assert_eq!(named(&s, "Product", &got), names(&[("B", 8), ("A", 5)]));
}

#[test]
fn min_max_rule_closes_a_response_once_every_min_is_met() {
    let s = schema(&[("Product", &["A", "B"])]);
    // Root: min met (need −5), room 15. A: min met (need −1), room 3.
    let t = tree(
        &s,
        json!({"min": 100, "max": 120, "observed": 105, "children": [
            {"question": "Product", "response": "A", "min": 30, "max": 34, "observed": 31},
            {"question": "Product", "response": "B", "min": 10, "max": 20, "observed": 2}]}),
    );
    let query = Query::new(q(&s, "Product"));
    let all = t.list(&query, None).unwrap();
    // A: min(max(−5, −1), min(15, 3)) = −1; B: min(max(−5, 8), min(15, 18)) = 8.
    assert_eq!(named(&s, "Product", &all), names(&[("B", 8), ("A", -1)]));
    assert_eq!(
        named(&s, "Product", &t.available(&query, None).unwrap()),
        names(&[("B", 8)])
    );
}

#[test]
fn max_reached_closes_even_when_a_min_is_unmet() {
    let s = schema(&[("Product", &["A"])]);
    let t = tree(
        &s,
        json!({"min": 100, "max": 120, "observed": 50, "children": [
            {"question": "Product", "response": "A", "min": 10, "max": 12, "observed": 12}]}),
    );
    // need max(50, −2) = 50, room min(70, 0) = 0.
    let got = t.list(&Query::new(q(&s, "Product")), None).unwrap();
    assert_eq!(got, vec![(r(&s, "Product", "A"), 0)]);
}

// ---------------------------------------------------------------------------------------------
// The seed's tree walk: `Product.AvailableQuota(Gender: 2)`.
//
//   Root           (no target)
//   1 Male            50
//   2   Product A     40
//   3   Product B      0
//   4 Female          40
//   5   Product A     15
//   6     Region1     10
//   7     Region 2     5
//   8   Product B     15
//
// The seed's "TO DO" column is modelled as targets with nothing observed yet.

fn seed_tree() -> (Schema, QuotaTree) {
    let s = schema(&[
        ("Gender", &["1", "2"]),
        ("Product", &["A", "B"]),
        ("Region", &["1", "2"]),
    ]);
    let t = tree(
        &s,
        json!({"children": [
            {"question": "Gender", "response": "1", "target": 50, "children": [
                {"question": "Product", "response": "A", "target": 40},
                {"question": "Product", "response": "B", "target": 0}]},
            {"question": "Gender", "response": "2", "target": 40, "children": [
                {"question": "Product", "response": "A", "target": 15, "children": [
                    {"question": "Region", "response": "1", "target": 10},
                    {"question": "Region", "response": "2", "target": 5}]},
                {"question": "Product", "response": "B", "target": 15}]}]}),
    );
    (s, t)
}

fn seed_query(s: &Schema) -> Query {
    Query::new(q(s, "Product")).given(q(s, "Gender"), r(s, "Gender", "2"))
}

#[test]
fn rows_are_numbered_in_the_order_added() {
    let (s, t) = seed_tree();
    // Row k is node k: the depth-first order of the spec.
    let region = q(&s, "Region");
    let row6 = t.node(ids(&[6])[0]).unwrap();
    assert_eq!(row6.condition().unwrap().question(), region);
    assert_eq!(row6.target(), Target::Single(10));
    assert_eq!(row6.path(), "tree.children[1].children[0].children[0]");
}

#[test]
fn explain_lists_every_response_in_question_order() {
    let (s, t) = seed_tree();
    let e = t.explain(&seed_query(&s), None).unwrap();
    let order: Vec<ResponseId> = e.responses.iter().map(|x| x.response).collect();
    assert_eq!(order, vec![r(&s, "Product", "A"), r(&s, "Product", "B")]);
}

#[test]
fn a_context_skips_contradicting_branches_and_selects_the_matching_subtree() {
    let (s, t) = seed_tree();
    let e = t.explain(&seed_query(&s), None).unwrap();
    let a = &e.responses[0];
    // Step 6: at row 2 (under Male) the walk skips that whole branch: rows 1, 2, 3 never count.
    // Step 7: the targets (Product, Gender) are both hit at row 5.
    // Step 8: row 5 and all its sub-rows (6, 7) are selected.
    assert_eq!(a.specific, ids(&[5, 6, 7]));
    // The ancestor Female (row 4) counts too, for every product alike; the root has no target.
    assert_eq!(a.shared, ids(&[4]));
    // Step 10: the most constraining to-do: min(40, 15, 10, 5) = 5.
    assert_eq!(a.todo, 5);
    // Product A's cell within Gender = 2 is row 5.
    assert_eq!(a.cells, ids(&[5]));
    assert!(e.dropped.is_empty());
}

#[test]
fn an_answer_excludes_rows_on_other_responses_of_its_question() {
    let (s, t) = seed_tree();
    let region1 = Answers::from_names(&s, [("Region", "1")]).unwrap();
    let e = t.explain(&seed_query(&s), Some(&region1)).unwrap();
    assert_eq!(e.responses[0].specific, ids(&[5, 6]));
    assert_eq!(e.responses[0].todo, 10);
    let got = t.available(&seed_query(&s), Some(&region1)).unwrap();
    assert_eq!(named(&s, "Product", &got), names(&[("B", 15), ("A", 10)]));
}

#[test]
fn a_response_counts_its_own_rows_and_the_shared_ancestors() {
    let (s, t) = seed_tree();
    let e = t.explain(&seed_query(&s), None).unwrap();
    let b = &e.responses[1];
    assert_eq!(b.specific, ids(&[8]));
    assert_eq!(b.shared, ids(&[4]));
    assert_eq!(b.todo, 15);
    let got = t.available(&seed_query(&s), None).unwrap();
    assert_eq!(named(&s, "Product", &got), names(&[("B", 15), ("A", 5)]));
}

#[test]
fn more_context_excludes_more_rows() {
    // Product.AvailableQuota(Gender: 2, Region: 2): three targets; row 6 no longer counts.
    let (s, t) = seed_tree();
    let query = seed_query(&s).given(q(&s, "Region"), r(&s, "Region", "2"));
    let e = t.explain(&query, None).unwrap();
    assert_eq!(e.responses[0].specific, ids(&[5, 7]));
    assert_eq!(e.responses[0].todo, 5);
    assert_eq!(e.responses[0].cells, ids(&[5]));
}

#[test]
fn a_full_cell_closes_its_response_and_no_context_counts_every_gender() {
    let (s, t) = seed_tree();
    let male = Query::new(q(&s, "Product")).given(q(&s, "Gender"), r(&s, "Gender", "1"));
    // A: rows 1, 2 → 40; B: rows 1, 3 → 0 (closed).
    assert_eq!(
        named(&s, "Product", &t.available(&male, None).unwrap()),
        names(&[("A", 40)])
    );
    // Without context both genders count: A min(50, 40, 40, 15, 10, 5) = 5; B min(…, 0) = 0.
    let e = t.explain(&Query::new(q(&s, "Product")), None).unwrap();
    assert_eq!(e.responses[0].specific, ids(&[2, 5, 6, 7]));
    assert_eq!(e.responses[0].shared, ids(&[1, 4]));
    assert_eq!(e.responses[0].todo, 5);
    assert_eq!(e.responses[1].todo, 0);
    // A's cells without context: rows 2 and 5 (one per gender): targets 40 + 15.
    assert_eq!(e.responses[0].cells, ids(&[2, 5]));
    assert_eq!(e.responses[0].target, 55);
}

#[test]
fn relaxation_drops_the_context_when_nothing_counts() {
    // A tree with targets only under Female: asking about Gender 1 finds no row, so Gender is
    // dropped and the query runs again without it.
    let s = schema(&[("Gender", &["1", "2"]), ("Product", &["A", "B"])]);
    let t = tree(
        &s,
        json!({"children": [
            {"question": "Gender", "response": "1", "children": [
                {"question": "Product", "response": "A"}]},
            {"question": "Gender", "response": "2", "children": [
                {"question": "Product", "response": "A", "target": 15, "observed": 5},
                {"question": "Product", "response": "B", "target": 15, "observed": 12}]}]}),
    );
    let male = Query::new(q(&s, "Product")).given(q(&s, "Gender"), r(&s, "Gender", "1"));
    let e = t.explain(&male, None).unwrap();
    assert_eq!(e.dropped, vec![q(&s, "Gender")]);
    let mut buffer = QueryBuffer::new();
    let got = t
        .query_into(QuotaMethod::Available, &male, None, &mut buffer)
        .unwrap()
        .to_vec();
    assert_eq!(buffer.relaxed(), 1);
    assert_eq!(named(&s, "Product", &got), names(&[("A", 10), ("B", 3)]));
    // With Gender 2 rows count: no relaxation.
    let female = Query::new(q(&s, "Product")).given(q(&s, "Gender"), r(&s, "Gender", "2"));
    t.query_into(QuotaMethod::Available, &female, None, &mut buffer)
        .unwrap();
    assert_eq!(buffer.relaxed(), 0);
}

// ---------------------------------------------------------------------------------------------
// Relaxation order, answers never dropped.

fn relaxation_tree() -> (Schema, QuotaTree) {
    let s = schema(&[
        ("Gender", &["Male", "Female"]),
        ("Region", &["North", "South"]),
        ("Product", &["A", "B"]),
    ]);
    let t = tree(
        &s,
        json!({"children": [
            {"question": "Gender", "response": "Male", "target": 10, "children": [
                {"question": "Product", "response": "A", "target": 5}]},
            {"question": "Region", "response": "North", "target": 7}]}),
    );
    (s, t)
}

#[test]
fn relaxation_drops_the_last_listed_context_entry_first() {
    let (s, t) = relaxation_tree();
    let (gender, region) = (q(&s, "Gender"), q(&s, "Region"));
    let (female, south) = (r(&s, "Gender", "Female"), r(&s, "Region", "South"));
    // Region: South, Gender: Female → nothing counts; Gender (last) goes: the Male rows count.
    let q1 = Query::new(q(&s, "Product"))
        .given(region, south)
        .given(gender, female);
    let e = t.explain(&q1, None).unwrap();
    assert_eq!(e.dropped, vec![gender]);
    assert_eq!(
        named(&s, "Product", &t.list(&q1, None).unwrap()),
        names(&[("B", 10), ("A", 5)])
    );
    // Gender: Female, Region: South → Region goes: the North row counts for every product.
    let q2 = Query::new(q(&s, "Product"))
        .given(gender, female)
        .given(region, south);
    assert_eq!(t.explain(&q2, None).unwrap().dropped, vec![region]);
    assert_eq!(
        named(&s, "Product", &t.list(&q2, None).unwrap()),
        names(&[("A", 7), ("B", 7)])
    );
}

#[test]
fn relaxation_keeps_the_answers() {
    let (s, t) = relaxation_tree();
    let (gender, region) = (q(&s, "Gender"), q(&s, "Region"));
    // The respondent is from the South; the script asks about women: nothing counts, Gender is
    // dropped, and the answer South still holds, so the Male rows count but North does not.
    let south = Answers::from_names(&s, [("Region", "South")]).unwrap();
    let query = Query::new(q(&s, "Product")).given(gender, r(&s, "Gender", "Female"));
    let e = t.explain(&query, Some(&south)).unwrap();
    assert_eq!(e.dropped, vec![gender]);
    assert_eq!(
        named(&s, "Product", &t.list(&query, Some(&south)).unwrap()),
        names(&[("B", 10), ("A", 5)])
    );
    // A woman from the South with no context: nothing counts, nothing to drop: to-do 1 each.
    let woman = Answers::from_names(&s, [("Gender", "Female"), ("Region", "South")]).unwrap();
    let product = Query::new(q(&s, "Product"));
    assert!(
        t.explain(&product, Some(&woman))
            .unwrap()
            .dropped
            .is_empty()
    );
    assert_eq!(
        named(&s, "Product", &t.available(&product, Some(&woman)).unwrap()),
        names(&[("A", 1), ("B", 1)])
    );
    let _ = region;
}

#[test]
fn no_relaxation_when_some_row_counts_for_any_response() {
    // Only a Male → A row has a target; asking about women... finds nothing for A or B: relax.
    // Asking about men finds the A row: B has no counted row (to-do 1) and nothing is dropped.
    let (s, t) = relaxation_tree();
    let men = Query::new(q(&s, "Product"))
        .given(q(&s, "Gender"), r(&s, "Gender", "Male"))
        .given(q(&s, "Region"), r(&s, "Region", "South"));
    let e = t.explain(&men, None).unwrap();
    assert!(e.dropped.is_empty());
    assert_eq!(
        named(&s, "Product", &t.list(&men, None).unwrap()),
        names(&[("B", 10), ("A", 5)])
    );
}

// ---------------------------------------------------------------------------------------------
// No targets, groups, balanced keys, ties.

#[test]
fn a_response_without_a_counted_row_has_to_do_1() {
    let s = schema(&[("Product", &["A", "B", "C"])]);
    let t = tree(
        &s,
        json!({"children": [
            {"question": "Product", "response": "A", "target": 5, "observed": 1},
            {"question": "Product", "response": "B"}]}),
    );
    let got = t.available(&Query::new(q(&s, "Product")), None).unwrap();
    assert_eq!(
        named(&s, "Product", &got),
        names(&[("A", 4), ("B", 1), ("C", 1)])
    );
    // Balanced: B and C have no cell (target 0), so they come last, in response order.
    let got = t
        .available_balanced(&Query::new(q(&s, "Product")), None)
        .unwrap();
    assert_eq!(
        named(&s, "Product", &got),
        names(&[("A", 4), ("B", 1), ("C", 1)])
    );
}

#[test]
fn the_three_orders_differ() {
    let s = schema(&[("Product", &["A", "B", "C"])]);
    let t = tree(
        &s,
        json!({"children": [
            {"question": "Product", "response": "A", "target": 100, "observed": 50},
            {"question": "Product", "response": "B", "target": 10, "observed": 2},
            {"question": "Product", "response": "C", "target": 50, "observed": 40}]}),
    );
    let query = Query::new(q(&s, "Product"));
    // To-do: A 50, C 10, B 8.
    assert_eq!(
        named(&s, "Product", &t.available(&query, None).unwrap()),
        names(&[("A", 50), ("C", 10), ("B", 8)])
    );
    // ΣT = 160, ΣO = 92. (T% − O%)/T%: A 0.130, B 0.652, C −0.391.
    assert_eq!(
        named(&s, "Product", &t.available_balanced(&query, None).unwrap()),
        names(&[("B", 8), ("A", 50), ("C", 10)])
    );
    // T% − O%: A 0.0815, B 0.0408, C −0.1223.
    assert_eq!(
        named(&s, "Product", &t.balanced_list(&query, None).unwrap()),
        names(&[("A", 50), ("B", 8), ("C", 10)])
    );
}

#[test]
fn balanced_with_nothing_observed_and_target_zero() {
    let s = schema(&[("Product", &["A", "B", "C", "D"])]);
    let t = tree(
        &s,
        json!({"target": 100, "children": [
            {"question": "Product", "response": "A", "target": 10},
            {"question": "Product", "response": "B", "target": 0},
            {"question": "Product", "response": "C", "target": 30},
            {"question": "Product", "response": "D", "target": 10}]}),
    );
    let query = Query::new(q(&s, "Product"));
    // Observed% is 0 everywhere: (T% − 0)/T% = 1 for all: ties in response order.
    assert_eq!(
        named(&s, "Product", &t.available_balanced(&query, None).unwrap()),
        names(&[("A", 10), ("C", 30), ("D", 10)])
    );
    // T% − 0: C, then A and D tied (response order), B (target 0) last.
    assert_eq!(
        named(&s, "Product", &t.balanced_list(&query, None).unwrap()),
        names(&[("C", 30), ("A", 10), ("D", 10), ("B", 0)])
    );
    // Ties in to-do keep the response order too.
    assert_eq!(
        named(&s, "Product", &t.list(&query, None).unwrap()),
        names(&[("C", 30), ("A", 10), ("D", 10), ("B", 0)])
    );
}

#[test]
fn equal_percentages_are_exact_ties() {
    // 1/3 and 2/6 filled: (T% − O%)/T% equal; floating point would not promise that.
    let s = schema(&[("Product", &["A", "B"])]);
    let t = tree(
        &s,
        json!({"children": [
            {"question": "Product", "response": "A", "target": 6, "observed": 2},
            {"question": "Product", "response": "B", "target": 3, "observed": 1}]}),
    );
    let query = Query::new(q(&s, "Product"));
    let got = t.available_balanced(&query, None).unwrap();
    assert_eq!(named(&s, "Product", &got), names(&[("A", 4), ("B", 2)]));
}

fn group_tree() -> (Schema, QuotaTree) {
    let s = schema(&[("Product", &["A", "B", "C", "D"]), ("Gender", &["M", "F"])]);
    let t = tree(
        &s,
        json!({"children": [
            {"question": "Product", "responses": ["A", "B", "C"], "target": 30, "observed": 9,
             "children": [
                {"question": "Product", "responses": ["A", "B"], "children": [
                    {"question": "Product", "response": "A", "target": 8, "observed": 6},
                    {"question": "Product", "response": "B"}]}]},
            {"question": "Product", "response": "D", "target": 10, "observed": 1}]}),
    );
    (s, t)
}

#[test]
fn groups_count_for_every_member() {
    let (s, t) = group_tree();
    let e = t.explain(&Query::new(q(&s, "Product")), None).unwrap();
    // A: group (21) and A (2) → 2; B and C: the group → 21; D → 9.
    let todo: Vec<i64> = e.responses.iter().map(|x| x.todo).collect();
    assert_eq!(todo, vec![2, 21, 21, 9]);
    assert_eq!(
        named(
            &s,
            "Product",
            &t.available(&Query::new(q(&s, "Product")), None).unwrap()
        ),
        names(&[("B", 21), ("C", 21), ("D", 9), ("A", 2)])
    );
}

#[test]
fn a_group_without_target_falls_back_to_the_nearest_parent_group_with_one() {
    let (s, t) = group_tree();
    let e = t.explain(&Query::new(q(&s, "Product")), None).unwrap();
    // A has a target of its own; B (no target, in group {A, B} without target) uses the group
    // {A, B, C} above it; so does C; D has its own.
    assert_eq!(e.responses[0].cells, ids_of(&t, &[3]));
    assert_eq!(e.responses[1].cells, ids_of(&t, &[1]));
    assert_eq!(e.responses[2].cells, ids_of(&t, &[1]));
    assert_eq!(e.responses[3].cells, ids_of(&t, &[5]));
    // Target%: A 8, B 30, C 30, D 10 (ΣT 78); Observed%: A 6, B 9, C 9, D 1 (ΣO 25).
    // O/T ascending: D 0.1, B 0.3, C 0.3, A 0.75.
    let got = t
        .available_balanced(&Query::new(q(&s, "Product")), None)
        .unwrap();
    assert_eq!(
        named(&s, "Product", &got),
        names(&[("D", 9), ("B", 21), ("C", 21), ("A", 2)])
    );
}

fn ids_of(t: &QuotaTree, list: &[u32]) -> Vec<NodeId> {
    let found = ids(list);
    assert!(found.iter().all(|&n| t.node(n).is_some()));
    found
}

#[test]
fn a_group_in_the_context_meets_any_member() {
    let (s, t) = product_gender_tree();
    let query = Query::new(q(&s, "Product")).given_any(
        q(&s, "Gender"),
        [r(&s, "Gender", "Male"), r(&s, "Gender", "Female")],
    );
    // Both gender cells count for A, as with an unknown gender.
    assert_eq!(
        t.list(&query, None).unwrap(),
        t.list(&Query::new(q(&s, "Product")), None).unwrap()
    );
}

#[test]
fn cells_prefer_rows_the_context_pins() {
    // A at the top (50) and again under Male (40): with Gender = Male the Male row is A's cell;
    // without context the top row is (the Male row has an unknown condition).
    let s = schema(&[("Product", &["A", "B"]), ("Gender", &["Male", "Female"])]);
    let t = tree(
        &s,
        json!({"children": [
            {"question": "Product", "response": "A", "target": 50, "observed": 10},
            {"question": "Product", "response": "B", "target": 50, "observed": 20},
            {"question": "Gender", "response": "Male", "children": [
                {"question": "Product", "response": "A", "target": 40, "observed": 10}]}]}),
    );
    let e = t.explain(&Query::new(q(&s, "Product")), None).unwrap();
    assert_eq!(e.responses[0].cells, ids_of(&t, &[1]));
    let male = Query::new(q(&s, "Product")).given(q(&s, "Gender"), r(&s, "Gender", "Male"));
    let e = t.explain(&male, None).unwrap();
    assert_eq!(e.responses[0].cells, ids_of(&t, &[4]));
    assert_eq!(e.responses[1].cells, ids_of(&t, &[2]));
}

// ---------------------------------------------------------------------------------------------
// Counting, gating, edits.

#[test]
fn record_increments_every_matching_node() {
    let (s, mut t) = seed_tree();
    let a = Answers::from_names(&s, [("Gender", "2"), ("Product", "A"), ("Region", "2")]).unwrap();
    assert_eq!(t.record(&a).unwrap(), 4); // root, Female, Female/A, Female/A/Region2
    let mut matched = Vec::new();
    t.matching_nodes(&a, &mut matched).unwrap();
    assert_eq!(matched, ids(&[0, 4, 5, 7]));
    assert_eq!(t.node(ids(&[7])[0]).unwrap().observed(), 1);
    assert_eq!(t.node(ids(&[6])[0]).unwrap().observed(), 0);
    // An unknown answer satisfies no condition on its question.
    let partial = Answers::from_names(&s, [("Gender", "2")]).unwrap();
    assert_eq!(t.record(&partial).unwrap(), 2);
    assert_eq!(t.node(NodeId::ROOT).unwrap().observed(), 2);
    // Five completes in Region 2 fill row 7: product A closes for women.
    for _ in 0..4 {
        t.record(&a).unwrap();
    }
    let got = t.available(&seed_query(&s), None).unwrap();
    assert_eq!(named(&s, "Product", &got), names(&[("B", 15)]));
    // Unless the woman is from Region 1: rows 4 (40 − 6), 5 (15 − 5) and 6 (10 − 0).
    let region1 = Answers::from_names(&s, [("Region", "1")]).unwrap();
    let got = t.available(&seed_query(&s), Some(&region1)).unwrap();
    assert_eq!(named(&s, "Product", &got), names(&[("B", 15), ("A", 10)]));
    // Taking them back out restores the counts.
    for _ in 0..5 {
        t.unrecord(&a).unwrap();
    }
    t.unrecord(&partial).unwrap();
    assert_eq!(t, seed_tree().1);
    assert!(matches!(
        t.unrecord(&a),
        Err(CountError::Underflow { path }) if path == "tree"
    ));
    assert_eq!(t, seed_tree().1, "a failed unrecord changes nothing");
}

#[test]
fn headroom_gates_completes_with_pending_reservations() {
    // The notes' overfill example: max 50, 47 completed; four arrive: three accepted.
    let s = schema(&[("Gender", &["Male", "Female"])]);
    let mut t = tree(
        &s,
        json!({"children": [{"question": "Gender", "response": "Female", "min": 40, "max": 50,
                             "observed": 47}]}),
    );
    let woman = Answers::from_names(&s, [("Gender", "Female")]).unwrap();
    let cell = t.nodes().nth(1).unwrap();
    let mut pending = vec![0u64; t.node_count()];
    let mut accepted = 0;
    for _ in 0..4 {
        if t.headroom_with_pending(&woman, &pending).unwrap() > Some(0) {
            // Hold the slot in every node the respondent matches.
            let mut nodes = Vec::new();
            t.matching_nodes(&woman, &mut nodes).unwrap();
            nodes.iter().for_each(|n| pending[n.index()] += 1);
            accepted += 1;
        }
    }
    assert_eq!(accepted, 3);
    // One times out; another arrives and is accepted; all three complete → 50.
    pending[cell.index()] -= 1;
    pending[0] -= 1;
    assert_eq!(t.headroom_with_pending(&woman, &pending).unwrap(), Some(1));
    pending[cell.index()] += 1;
    pending[0] += 1;
    for _ in 0..3 {
        t.record(&woman).unwrap();
    }
    assert_eq!(t.node(cell).unwrap().observed(), 50);
    assert!(t.is_full_for(&woman).unwrap());
    let man = Answers::from_names(&s, [("Gender", "Male")]).unwrap();
    assert_eq!(t.headroom(&man).unwrap(), None, "no cell with a target");
    assert!(!t.is_full_for(&man).unwrap());
    assert!(matches!(
        t.headroom_with_pending(&man, &[0]),
        Err(CountError::PendingLength {
            expected: 2,
            found: 1
        })
    ));
}

#[test]
fn target_edits_mid_field_never_fail_below_the_count() {
    let (s, mut t) = product_gender_tree();
    let node_b = ids_of(&t, &[4])[0];
    t.set_target(node_b, Target::Single(2)).unwrap(); // 4 observed: over quota
    let query = Query::new(q(&s, "Product")).given(q(&s, "Gender"), r(&s, "Gender", "Male"));
    assert_eq!(
        named(&s, "Product", &t.list(&query, None).unwrap()),
        names(&[("C", 20), ("A", 0), ("B", -2)])
    );
    assert_eq!(
        named(&s, "Product", &t.available(&query, None).unwrap()),
        names(&[("C", 20)])
    );
    // Raise the root's target and give B a range.
    t.set_target(NodeId::ROOT, Target::MinMax { min: 30, max: 60 })
        .unwrap();
    t.set_target(node_b, Target::MinMax { min: 3, max: 12 })
        .unwrap();
    // B: min(max(20, −1), min(50, 8)) = 8.
    assert_eq!(
        named(&s, "Product", &t.available(&query, None).unwrap()),
        names(&[("C", 20), ("B", 8)])
    );
    assert_eq!(
        t.set_target(node_b, Target::MinMax { min: 5, max: 4 }),
        Err(EditError::MinAboveMax {
            path: "tree.children[1]".into(),
            min: 5,
            max: 4
        })
    );
    t.set_target(node_b, Target::None).unwrap();
    assert_eq!(
        named(&s, "Product", &t.available(&query, None).unwrap()),
        names(&[("B", 20), ("C", 20)])
    );
    t.set_observed(NodeId::ROOT, 29).unwrap();
    assert_eq!(
        named(&s, "Product", &t.available(&query, None).unwrap()),
        names(&[("B", 1), ("C", 1)])
    );
}

#[test]
fn add_child_to_a_built_tree() {
    let (s, mut t) = product_gender_tree();
    let c = t
        .add_child(
            NodeId::ROOT,
            Condition::response(q(&s, "Product"), r(&s, "Product", "C")),
            Target::Single(3),
        )
        .unwrap();
    assert_eq!(t.path(c).unwrap(), "tree.children[2]");
    let query = Query::new(q(&s, "Product")).given(q(&s, "Gender"), r(&s, "Gender", "Male"));
    assert_eq!(
        named(&s, "Product", &t.available(&query, None).unwrap()),
        names(&[("B", 6), ("C", 3)])
    );
    // A contradiction with an ancestor is refused, with the path the node would have had.
    let node_a = ids_of(&t, &[1])[0];
    assert_eq!(
        t.add_child(
            node_a,
            Condition::response(q(&s, "Product"), r(&s, "Product", "B")),
            Target::None
        ),
        Err(EditError::Contradiction {
            path: "tree.children[0].children[2]".into(),
            question: "Product".into()
        })
    );
    assert_eq!(
        t.add_child(node_a, Condition::group(q(&s, "Gender"), []), Target::None),
        Err(EditError::EmptyGroup {
            path: "tree.children[0].children[2]".into(),
            question: "Gender".into()
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Validation with paths.

fn spec_error(s: &Schema, spec: serde_json::Value) -> String {
    let spec: NodeSpec = serde_json::from_value(spec).unwrap();
    QuotaTree::from_spec(s.clone(), &spec)
        .unwrap_err()
        .to_string()
}

#[test]
fn spec_errors_name_the_exact_path() {
    let s = schema(&[("Product", &["A", "B"]), ("Gender", &["Male", "Female"])]);
    assert_eq!(
        spec_error(
            &s,
            json!({"children": [{"question": "Product", "response": "A", "children": [
                {"question": "Gender", "response": "Male"},
                {"question": "Gender", "response": "Mle"}]}]})
        ),
        r#"tree.children[0].children[1]: unknown response "Mle" for question "Gender""#
    );
    assert_eq!(
        spec_error(
            &s,
            json!({"children": [{"question": "Gendr", "response": "Male"}]})
        ),
        r#"tree.children[0]: unknown question "Gendr""#
    );
    assert_eq!(
        spec_error(
            &s,
            json!({"children": [{"question": "Product", "response": "A", "target": -5}]})
        ),
        "tree.children[0]: negative target -5"
    );
    assert_eq!(
        spec_error(
            &s,
            json!({"children": [{"question": "Product", "response": "B", "min": 9, "max": 3}]})
        ),
        "tree.children[0]: min 9 is greater than max 3"
    );
    assert_eq!(
        spec_error(&s, json!({"min": -1, "max": 3})),
        "tree: negative min -1"
    );
    assert_eq!(
        spec_error(&s, json!({"observed": -2})),
        "tree: negative observed -2"
    );
    assert_eq!(
        spec_error(&s, json!({"question": "Product", "response": "A"})),
        "tree: the root cannot have a question or response"
    );
    assert_eq!(
        spec_error(&s, json!({"children": [{"response": "A"}]})),
        r#"tree.children[0]: a node below the root needs a "question""#
    );
    assert_eq!(
        spec_error(
            &s,
            json!({"children": [{"question": "Product", "responses": ["A", "A"]}]})
        ),
        r#"tree.children[0]: response "A" is listed twice in the group"#
    );
    assert_eq!(
        spec_error(
            &s,
            json!({"children": [{"question": "Product", "response": "A", "target": 3, "min": 1, "max": 4}]})
        ),
        r#"tree.children[0]: give "target" or "min" and "max", not both"#
    );
    assert_eq!(
        spec_error(
            &s,
            json!({"children": [{"question": "Product", "response": "A", "max": 4}]})
        ),
        r#"tree.children[0]: "max" needs "min""#
    );
    assert_eq!(
        spec_error(
            &s,
            json!({"children": [{"question": "Product", "response": "A", "children": [
                {"question": "Product", "response": "B"}]}]})
        ),
        r#"tree.children[0].children[0]: no response of question "Product" satisfies both this node and its ancestor"#
    );
    assert_eq!(
        spec_error(&s, json!({"target": 1_000_000_000_001_i64})),
        "tree: target 1000000000001 is above the maximum 1000000000000"
    );
    let e: Result<NodeSpec, _> = serde_json::from_value(json!({"taget": 3}));
    assert!(e.unwrap_err().to_string().contains("unknown field `taget`"));
}

#[test]
fn spec_round_trips() {
    let (_, t) = group_tree();
    let spec = t.to_spec();
    let again = QuotaTree::from_spec(t.schema().clone(), &spec).unwrap();
    assert_eq!(again, t);
    assert_eq!(again.to_spec(), spec);
    let (_, t) = seed_tree();
    assert_eq!(
        QuotaTree::from_spec(t.schema().clone(), &t.to_spec()).unwrap(),
        t
    );
}

#[test]
fn serde_round_trip_keeps_targets_and_counts() {
    let (s, mut t) = seed_tree();
    let a = Answers::from_names(&s, [("Gender", "2"), ("Product", "A"), ("Region", "1")]).unwrap();
    t.record(&a).unwrap();
    let text = serde_json::to_string(&t).unwrap();
    let back: QuotaTree = serde_json::from_str(&text).unwrap();
    assert_eq!(back, t);
    for m in QuotaMethod::ALL {
        assert_eq!(
            back.query(m, &seed_query(&s), None).unwrap(),
            t.query(m, &seed_query(&s), None).unwrap()
        );
    }
    // A document with a bad node is refused with its path.
    let bad = text.replacen(
        "\"Region\",\"response\":\"2\"",
        "\"Region\",\"response\":\"3\"",
        1,
    );
    let err = serde_json::from_str::<QuotaTree>(&bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(r#"tree.children[1].children[0].children[1]: unknown response "3""#),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Query errors.

#[test]
fn query_errors() {
    let (s, mut t) = product_gender_tree();
    let product = q(&s, "Product");
    let gender = q(&s, "Gender");
    let on_target = Query::new(product).given(product, r(&s, "Product", "A"));
    assert_eq!(
        t.available(&on_target, None),
        Err(QueryError::ContextOnTargetQuestion {
            question: "Product".into()
        })
    );
    assert_eq!(
        t.available(&Query::new(product).given_any(gender, []), None),
        Err(QueryError::EmptyGroup {
            question: "Gender".into()
        })
    );
    let other = schema(&[("X", &["a"]), ("Y", &["a"]), ("Z", &["a", "b", "c"])]);
    let z = q(&other, "Z");
    assert_eq!(
        t.available(&Query::new(z), None),
        Err(QueryError::UnknownQuestion { question: 2 })
    );
    let c_of_z = r(&other, "Z", "c");
    assert_eq!(
        t.available(&Query::new(product).given(gender, c_of_z), None),
        Err(QueryError::UnknownResponse {
            question: "Gender".into(),
            response: 2
        })
    );
    let foreign = Answers::unknown(&other);
    assert_eq!(
        t.available(&Query::new(product), Some(&foreign)),
        Err(QueryError::AnswersDoNotFit { expected: 2 })
    );
    assert!(matches!(
        t.record(&foreign),
        Err(CountError::AnswersDoNotFit { expected: 2 })
    ));
    assert_eq!(
        Query::from_names(&s, "Product", [("Gender", &["Male", "Female"][..])]).unwrap(),
        Query::new(product).given_any(gender, [r(&s, "Gender", "Male"), r(&s, "Gender", "Female")])
    );
    assert_eq!(
        Query::from_names(&s, "Product", [("Gender", &["Mle"][..])])
            .unwrap_err()
            .to_string(),
        "query: question `Gender` has no response `Mle`"
    );
    // A buffer that saw an error holds no stale results.
    let mut buffer = QueryBuffer::new();
    t.query_into(QuotaMethod::List, &Query::new(product), None, &mut buffer)
        .unwrap();
    assert_eq!(buffer.results().len(), 3);
    assert!(
        t.query_into(QuotaMethod::List, &on_target, None, &mut buffer)
            .is_err()
    );
    assert!(buffer.results().is_empty());
}

#[test]
fn questions_with_many_responses() {
    // 150 responses: bitsets of several words, in the context and in groups.
    let responses: Vec<String> = (0..150).map(|i| format!("r{i}")).collect();
    let s = Schema::builder()
        .question("Brand", responses.iter().map(String::as_str))
        .question("Region", responses.iter().map(String::as_str))
        .build()
        .unwrap();
    let t = tree(
        &s,
        json!({"target": 1000, "children": [
            {"question": "Region", "responses": ["r1", "r70", "r140"], "children": [
                {"question": "Brand", "responses": ["r3", "r100", "r149"], "target": 10,
                 "observed": 4, "children": [
                    {"question": "Brand", "response": "r100", "target": 2, "observed": 1}]}]},
            {"question": "Region", "response": "r149", "children": [
                {"question": "Brand", "response": "r149", "target": 3, "observed": 3}]}]}),
    );
    let brand = q(&s, "Brand");
    let region = q(&s, "Region");
    let query =
        Query::new(brand).given_any(region, [r(&s, "Region", "r140"), r(&s, "Region", "r149")]);
    let got = t.list(&query, None).unwrap();
    assert_eq!(got.len(), 150);
    let todo = |name: &str| got.iter().find(|x| x.0 == r(&s, "Brand", name)).unwrap().1;
    assert_eq!(todo("r3"), 6);
    assert_eq!(todo("r100"), 1);
    assert_eq!(todo("r149"), 0);
    assert_eq!(todo("r0"), 1000);
    let e = t.explain(&query, None).unwrap();
    for x in &e.responses {
        assert_eq!(got.iter().find(|g| g.0 == x.response).unwrap().1, x.todo);
    }
    let balanced = t.available_balanced(&query, None).unwrap();
    assert_eq!(balanced[0].0, r(&s, "Brand", "r3"));
}

// Trees, buffers and queries cross threads: checked at compile time.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<QuotaTree>();
    send_sync::<QueryBuffer>();
    send_sync::<Query>();
};

#[test]
fn one_tree_answers_queries_from_several_threads() {
    // Queries take `&self`: one tree, several threads, a buffer each.
    let (s, t) = seed_tree();
    let expected = t.available(&seed_query(&s), None).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let mut buffer = QueryBuffer::new();
                let got = t
                    .query_into(QuotaMethod::Available, &seed_query(&s), None, &mut buffer)
                    .unwrap();
                assert_eq!(got, &expected[..]);
            });
        }
    });
}
