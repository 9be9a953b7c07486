use super::*;

#[test]
fn default_schema_names_are_exact() {
    let s = Schema::default_survey();
    let age = s.question("age").unwrap();
    assert_eq!(s.response(age, "18-34").unwrap().index(), 0);
    assert!(matches!(
        s.question("age_band"),
        Err(LookupError::UnknownQuestion { .. })
    ));
    assert!(matches!(
        s.response(age, "18–34"),
        Err(LookupError::UnknownResponse { .. })
    ));
    assert!(s.question("Gender").is_err(), "names are case-sensitive");
}

#[test]
fn builder_rejects_bad_input() {
    assert!(matches!(
        Schema::builder().question("", ["a"]).build(),
        Err(SchemaError::EmptyQuestionName { index: 0 })
    ));
    assert!(matches!(
        Schema::builder()
            .question("a", ["x"])
            .question("a", ["y"])
            .build(),
        Err(SchemaError::DuplicateQuestion { .. })
    ));
    assert!(matches!(
        Schema::builder().question("a", ["x", "x"]).build(),
        Err(SchemaError::BadResponse { .. })
    ));
    assert!(matches!(
        Schema::builder()
            .question_with_shares("a", [("x", f64::NAN)])
            .build(),
        Err(SchemaError::BadShares { .. })
    ));
    assert!(matches!(
        Schema::builder()
            .question("a", Vec::<String>::new())
            .build(),
        Err(SchemaError::NoResponses { .. })
    ));
}

#[test]
fn unknown_answers_never_satisfy_a_rule_on_them() {
    let s = Schema::default_survey();
    let g = s.question("gender").unwrap();
    let female = s.response(g, "female").unwrap();
    let is_female = Rule::one_of(g, [female]);
    let not_female = Rule::Not(Box::new(is_female.clone()));
    let unknown = Answers::unknown(&s);
    assert!(!is_female.matches(&unknown));
    assert!(!not_female.matches(&unknown));
    assert!(Rule::Any(vec![is_female.clone(), Rule::Everyone]).matches(&unknown));
    assert!(!Rule::Any(vec![]).matches(&unknown));
    assert!(Rule::All(vec![]).matches(&unknown));
}

#[test]
fn parse_reports_the_bad_name() {
    let s = Schema::default_survey();
    assert_eq!(Rule::parse(&s, " ").unwrap(), Rule::Everyone);
    assert_eq!(
        Rule::parse(&s, "gender=woman").unwrap_err(),
        RuleError::Unknown(LookupError::UnknownResponse {
            question: "gender".into(),
            response: "woman".into()
        })
    );
    assert!(matches!(
        Rule::parse(&s, "gender"),
        Err(RuleError::Malformed { .. })
    ));
    assert!(matches!(
        Rule::parse(&s, "gender=female|"),
        Err(RuleError::Malformed { .. })
    ));
}

#[test]
fn eligible_share_is_exact() {
    let s = Schema::default_survey();
    let rule = Rule::parse(&s, "gender=female;age=18-34|35-54").unwrap();
    assert!((rule.eligible_share(&s) - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(Rule::Everyone.eligible_share(&s), 1.0);
    let never = Rule::Not(Box::new(Rule::Everyone));
    assert_eq!(never.eligible_share(&s), 0.0);
}

#[cfg(feature = "serde")]
#[test]
fn serde_round_trip() {
    let s = Schema::default_survey();
    let back: Schema = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    let dup =
        r#"{"questions": [{"name": "a", "responses": ["x"]}, {"name": "a", "responses": ["y"]}]}"#;
    let err = serde_json::from_str::<Schema>(dup).unwrap_err();
    assert!(
        err.to_string().contains("question `a` is defined twice"),
        "{err}"
    );
    let rule = Rule::parse(&s, "gender=female;age=18-34|35-54").unwrap();
    let rule = Rule::Any(vec![rule, Rule::Not(Box::new(Rule::Everyone))]);
    let back: Rule = serde_json::from_str(&serde_json::to_string(&rule).unwrap()).unwrap();
    assert_eq!(back, rule);
}

#[test]
fn cells_round_trip() {
    let s = Schema::default_survey();
    let n = s.cell_count_with_unknown().unwrap();
    assert_eq!(n, 3 * 4 * 4);
    for cell in 0..n {
        assert_eq!(s.cell_index(&s.answers_of_cell(cell)), cell);
    }
}
