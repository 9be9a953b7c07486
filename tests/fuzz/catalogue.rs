//! The catalogue CSV, eligibility rules, and the schema and catalogue JSON documents.

use proptest::prelude::*;
use quotaroute::catalogue::{Catalogue, CatalogueError};
use quotaroute::schema::{Rule, RuleError, Schema};
use quotaroute::testing;
use serde_json::Value;

use crate::check::{json_error, message, round_trip};
use crate::mutate::*;

const BUNDLED: &str = include_str!("../../examples/data/fake_category_data.csv");

/// A rule as the CSV writes it, when it has that form (everyone, or one-of clauses all of
/// which must hold).
fn rule_text(schema: &Schema, rule: &Rule) -> Option<String> {
    let clause = |r: &Rule| match r {
        Rule::OneOf {
            question,
            responses,
        } if !responses.is_empty() => Some(format!(
            "{}={}",
            schema.question_name(*question),
            responses
                .iter()
                .map(|x| schema.response_name(*question, x))
                .collect::<Vec<_>>()
                .join("|")
        )),
        _ => None,
    };
    match rule {
        Rule::Everyone => Some(String::new()),
        Rule::All(rules) if rules.len() >= 2 => rules
            .iter()
            .map(clause)
            .collect::<Option<Vec<_>>>()
            .map(|c| c.join(";")),
        other => clause(other),
    }
}

/// A catalogue as a CSV table, every column present.
fn to_table(c: &Catalogue) -> Vec<Vec<String>> {
    let mut t = vec![
        [
            "category_id",
            "category_name",
            "incidence_rate",
            "category_length_seconds",
            "target",
            "qualifier_seconds",
            "eligibility",
            "loi_spread",
            "exclusion_group",
            "cells",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for cat in c.categories() {
        let cells: Vec<String> = cat
            .cells
            .iter()
            .map(|cell| {
                let rule = rule_text(c.schema(), &cell.rule).expect("CSV rules have the CSV form");
                format!("{}: {}..{}: {rule}", cell.key, cell.min, cell.max)
            })
            .collect();
        t.push(vec![
            cat.key.clone(),
            cat.name.clone(),
            cat.incidence.to_string(),
            cat.loi_seconds.to_string(),
            cat.target.to_string(),
            cat.qualifier_seconds.to_string(),
            rule_text(c.schema(), &cat.eligibility).expect("CSV rules have the CSV form"),
            cat.loi_spread.to_string(),
            cat.exclusion_group.clone().unwrap_or_default(),
            cells.join(" / "),
        ]);
    }
    t
}

/// Everything a loaded catalogue promises: valid categories, usable derived numbers, and the
/// same catalogue again from its CSV and from its JSON.
fn check_catalogue(c: &Catalogue) -> Result<(), TestCaseError> {
    prop_assert!(!c.is_empty());
    for (id, cat) in c.ids().zip(c.categories()) {
        prop_assert!(cat.incidence > 0.0 && cat.incidence <= 1.0);
        prop_assert!(cat.loi_seconds.is_finite() && cat.loi_seconds > 0.0);
        prop_assert!(cat.qualifier_seconds.is_finite() && cat.qualifier_seconds >= 0.0);
        prop_assert!(cat.eligibility.fits(c.schema()));
        let share = c.eligible_share(id);
        prop_assert!((0.0..=1.0 + 1e-9).contains(&share), "share {share}");
        prop_assert_eq!(c.find(&cat.key), Some(id));
    }
    let _ = c.preflight(480.0);
    let bound = c.lower_bound(480.0, Some(3));
    prop_assert!(!bound.is_nan());
    let back = round_trip(c)?;
    prop_assert_eq!(back.categories(), c.categories());
    prop_assert_eq!(back.schema(), c.schema());
    Ok(())
}

fn check_csv(text: &str) -> Result<(), TestCaseError> {
    match Catalogue::from_csv(Schema::default_survey(), text) {
        Ok(c) => {
            check_catalogue(&c)?;
            for quote_all in [false, true] {
                let csv = write_csv(&to_table(&c), quote_all, false);
                let again = Catalogue::from_csv(Schema::default_survey(), &csv);
                prop_assert!(
                    again.is_ok(),
                    "written back as\n{csv}\nbut {:?}",
                    again.err()
                );
                let again = again.unwrap();
                prop_assert_eq!(again.categories(), c.categories());
            }
        }
        Err(e) => {
            let m = message(&e)?;
            match e {
                CatalogueError::Empty | CatalogueError::TooMany { .. } => {}
                _ => prop_assert!(m.starts_with("line "), "no line in {m:?}"),
            }
        }
    }
    Ok(())
}

fn rules_text() -> impl Strategy<Value = String> {
    let clause = prop_oneof![
        prop::sample::subsequence(vec!["female", "male"], 1..=2)
            .prop_map(|r| format!("gender={}", r.join("|"))),
        prop::sample::subsequence(vec!["18-34", "35-54", "55+"], 1..=3)
            .prop_map(|r| format!("age={}", r.join("|"))),
        prop::sample::subsequence(vec!["north", "central", "south"], 1..=3)
            .prop_map(|r| format!("region={}", r.join("|"))),
    ];
    prop::collection::vec(clause, 0..4).prop_map(|c| c.join(";"))
}

/// Valid catalogue tables on the default schema: the optional columns (quota cells among
/// them), in any order, with names that need quoting.
fn tables() -> impl Strategy<Value = Vec<Vec<String>>> {
    let row = (
        "[a-z0-9]{1,4}",
        "[ -~]{0,12}",
        1u32..=1000,
        1u32..100_000,
        prop::option::of(0u32..500),
        prop::option::of(0u32..6000),
        rules_text(),
        prop::collection::vec(("[a-z ]{1,5}", 0u32..50, 0u32..100, rules_text()), 0..3),
    );
    (
        prop::collection::vec(row, 1..6),
        Just((0..8).collect::<Vec<usize>>()).prop_shuffle(),
    )
        .prop_map(|(rows, order)| {
            let header = [
                "category_id",
                "category_name",
                "incidence_rate",
                "category_length_seconds",
                "target",
                "qualifier_seconds",
                "eligibility",
                "cells",
            ];
            let mut t = vec![
                order
                    .iter()
                    .map(|&i| header[i].to_owned())
                    .collect::<Vec<_>>(),
            ];
            for (i, (key, name, ir, loi, target, q, rule, cells)) in rows.into_iter().enumerate() {
                // Cells `key: min..max: rule` (a key made unique by its position).
                let cells: Vec<String> = cells
                    .into_iter()
                    .enumerate()
                    .map(|(j, (k, min, extra, rule))| {
                        format!("{k}{j}: {min}..{}: {rule}", min + extra)
                    })
                    .collect();
                let fields = [
                    format!("{key}{i}"),
                    name,
                    (f64::from(ir) / 1000.0).to_string(),
                    (f64::from(loi) / 100.0).to_string(),
                    target.map_or(String::new(), |t| t.to_string()),
                    q.map_or(String::new(), |q| (f64::from(q) / 100.0).to_string()),
                    rule,
                    cells.join(" / "),
                ];
                t.push(order.iter().map(|&i| fields[i].clone()).collect());
            }
            t
        })
}

fn bundled_table() -> Vec<Vec<String>> {
    BUNDLED
        .lines()
        .take(12)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

fn schema_docs() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(serde_json::to_value(Schema::default_survey()).unwrap()),
        3 => testing::schemas().prop_map(|s| serde_json::to_value(s).unwrap()),
    ]
}

fn catalogue_docs() -> impl Strategy<Value = Value> {
    testing::catalogues(6).prop_map(|c| serde_json::to_value(c).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn csv_arbitrary_bytes(bytes in junk()) {
        check_csv(&text(&bytes))?;
    }

    #[test]
    fn csv_mutated(
        table in prop_oneof![4 => tables(), 1 => Just(bundled_table())],
        ops in prop_oneof![Just(Vec::new()), csv_ops(4)],
        quote_all in any::<bool>(),
        crlf in any::<bool>(),
        bom in any::<bool>(),
        bytes in prop_oneof![2 => Just(Vec::new()), 1 => byte_ops(3)],
    ) {
        let mut csv = write_csv(&apply_csv(&table, &ops), quote_all, crlf);
        if bom {
            csv.insert(0, '\u{feff}');
        }
        check_csv(&text(&apply_bytes(csv.as_bytes(), &bytes)))?;
    }

    #[test]
    fn rule_arbitrary_text(bytes in junk()) {
        check_rule(&text(&bytes))?;
    }

    #[test]
    fn rule_mutated(rule in rules_text(), bytes in byte_ops(4)) {
        check_rule(&text(&apply_bytes(rule.as_bytes(), &bytes)))?;
    }

    #[test]
    fn schema_json_arbitrary_bytes(bytes in junk()) {
        check_schema_json(&bytes)?;
    }

    #[test]
    fn schema_json_mutated((doc, json, bytes) in mutated_json(schema_docs())) {
        check_schema_json(&render_json(&doc, &json, &bytes))?;
    }

    #[test]
    fn catalogue_json_arbitrary_bytes(bytes in junk()) {
        check_catalogue_json(&bytes)?;
    }

    #[test]
    fn catalogue_json_mutated((doc, json, bytes) in mutated_json(catalogue_docs())) {
        check_catalogue_json(&render_json(&doc, &json, &bytes))?;
    }
}

fn check_rule(text: &str) -> Result<(), TestCaseError> {
    let schema = Schema::default_survey();
    match Rule::parse(&schema, text) {
        Ok(rule) => {
            prop_assert!(rule.fits(&schema));
            let written = rule_text(&schema, &rule);
            prop_assert!(
                written.is_some(),
                "parsed into a form the CSV cannot write: {rule:?}"
            );
            prop_assert_eq!(Rule::parse(&schema, &written.unwrap()), Ok(rule.clone()));
            let share = rule.eligible_share(&schema);
            prop_assert!((0.0..=1.0 + 1e-9).contains(&share));
        }
        Err(e) => {
            let m = message(&e)?;
            match &e {
                RuleError::Malformed { clause } => prop_assert!(m.contains(clause.as_str())),
                RuleError::Unknown(_) => prop_assert!(m.contains('`')),
                _ => {}
            }
        }
    }
    Ok(())
}

fn check_schema_json(bytes: &[u8]) -> Result<(), TestCaseError> {
    match serde_json::from_slice::<Schema>(bytes) {
        Ok(schema) => {
            prop_assert!(!schema.questions().is_empty() || schema.is_empty());
            for q in schema.questions() {
                prop_assert!(!q.name().is_empty() && !q.responses().is_empty());
                let total: f64 = q.shares().iter().sum();
                prop_assert!((total - 1.0).abs() < 1e-6, "shares sum to {total}");
            }
            prop_assert_eq!(round_trip(&schema)?, schema);
        }
        Err(e) => {
            json_error(&e, &[])?;
        }
    }
    Ok(())
}

fn check_catalogue_json(bytes: &[u8]) -> Result<(), TestCaseError> {
    match serde_json::from_slice::<Catalogue>(bytes) {
        Ok(c) => check_catalogue(&c)?,
        Err(e) => {
            json_error(&e, &["the catalogue has no category"])?;
        }
    }
    Ok(())
}

/// Issue 16: CR-only line endings (old Mac files) were one header line with every other
/// column "missing"; they read as CRLF and LF files do, as does a byte-order mark.
#[test]
fn cr_only_line_endings_read_as_lines() {
    let lf = "category_id,category_name,incidence_rate,category_length_seconds\n1,A,0.5,60\n2,B,0.25,90\n";
    let cr = lf.replace('\n', "\r");
    let crlf = lf.replace('\n', "\r\n");
    let expected = Catalogue::from_csv(Schema::default_survey(), lf).unwrap();
    for text in [cr.clone(), crlf, format!("\u{feff}{cr}")] {
        let c = Catalogue::from_csv(Schema::default_survey(), &text).unwrap();
        assert_eq!(c.categories(), expected.categories());
    }
}
