use super::*;
use crate::catalogue::Category;
use crate::schema::{Rule, Schema};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

fn women_and_men() -> Catalogue {
    let schema = Schema::default_survey();
    let women = Rule::parse(&schema, "gender=female").unwrap();
    Catalogue::new(
        schema,
        vec![
            Category::new("a", "A", 1.0, 60.0)
                .with_target(100)
                .with_eligibility(women.clone()),
            Category::new("b", "B", 1.0, 60.0)
                .with_target(100)
                .with_eligibility(women),
            Category::new("c", "C", 1.0, 60.0).with_target(10),
        ],
    )
    .unwrap()
}

#[test]
fn no_extras_equals_the_closed_form() {
    let catalogue = women_and_men();
    for budget in [60.0, 120.0, 480.0] {
        let lp = lower_bound_lp(&catalogue, &LpOptions::new(budget)).unwrap();
        let closed = catalogue.lower_bound(budget, None);
        assert!(rel(lp.respondents, closed) < 1e-9, "{budget}: {lp:?}");
        assert!(rel(lp.closed_form, closed) < 1e-12);
    }
}

#[test]
fn merging_cells_by_eligibility() {
    let lp = lower_bound_lp(&women_and_men(), &LpOptions::new(480.0)).unwrap();
    // Women and men: two patterns out of 18 cells.
    assert_eq!(lp.types, 2);
    let exposure = LpOptions {
        exposure_tolerance: Some(2.0),
        ..LpOptions::new(480.0)
    };
    assert_eq!(
        lower_bound_lp(&women_and_men(), &exposure).unwrap().types,
        18
    );
}

#[test]
fn per_type_qualifier_cap_binds() {
    let options = LpOptions {
        max_qualifiers: Some(1),
        ..LpOptions::new(480.0)
    };
    let lp = lower_bound_lp(&women_and_men(), &options).unwrap();
    assert!(rel(lp.respondents, 400.0) < 1e-9, "{lp:?}");
    assert!(lp.limits.contains(&Limit::Qualifiers));
}

#[test]
fn nothing_to_do_and_impossible() {
    let catalogue = women_and_men();
    let none = LpOptions {
        remaining: Some(vec![0.0; 3]),
        ..LpOptions::new(480.0)
    };
    assert_eq!(lower_bound_lp(&catalogue, &none).unwrap().respondents, 0.0);
    // Only men in the supply: the women-only quotas can never fill.
    let men = LpOptions {
        supply: Some((0..18).map(|c| if c >= 9 { 1.0 } else { 0.0 }).collect()),
        ..LpOptions::new(480.0)
    };
    assert!(
        lower_bound_lp(&catalogue, &men)
            .unwrap()
            .respondents
            .is_infinite()
    );
}

#[test]
fn cells_are_row_major() {
    let catalogue = women_and_men();
    let schema = catalogue.schema();
    let a = cell_answers(&catalogue, 17).unwrap();
    assert_eq!(
        schema.response_name(QuestionId(0), a.get(QuestionId(0)).unwrap()),
        "male"
    );
    assert_eq!(
        schema.response_name(QuestionId(2), a.get(QuestionId(2)).unwrap()),
        "south"
    );
    let b = cell_answers(&catalogue, 1).unwrap();
    assert_eq!(
        schema.response_name(QuestionId(2), b.get(QuestionId(2)).unwrap()),
        "central"
    );
    assert!(cell_answers(&catalogue, 18).is_none());
}

#[test]
fn bad_options_are_named() {
    let catalogue = women_and_men();
    let cases: Vec<(LpOptions, &str)> = vec![
        (LpOptions::new(f64::NAN), "budget_seconds"),
        (
            LpOptions {
                max_qualifiers: Some(0),
                ..LpOptions::new(480.0)
            },
            "max_qualifiers",
        ),
        (
            LpOptions {
                exposure_tolerance: Some(-0.1),
                ..LpOptions::new(480.0)
            },
            "exposure_tolerance",
        ),
        (
            LpOptions {
                hard_cap_seconds: Some(0.0),
                ..LpOptions::new(480.0)
            },
            "hard_cap_seconds",
        ),
    ];
    for (options, field) in cases {
        match lower_bound_lp(&catalogue, &options) {
            Err(LpBoundError::Option { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let short = LpOptions {
        supply: Some(vec![1.0; 5]),
        ..LpOptions::new(480.0)
    };
    assert_eq!(
        lower_bound_lp(&catalogue, &short),
        Err(LpBoundError::SupplyLength {
            expected: 18,
            got: 5
        })
    );
    let twice = LpOptions {
        exclusion_groups: vec![vec![CategoryId::from_index(0), CategoryId::from_index(0)]],
        ..LpOptions::new(480.0)
    };
    assert!(matches!(
        lower_bound_lp(&catalogue, &twice),
        Err(LpBoundError::Exclusion {
            group: 0,
            problem: "is named twice",
            ..
        })
    ));
    let unknown = LpOptions {
        exclusion_groups: vec![vec![CategoryId::from_index(7)]],
        ..LpOptions::new(480.0)
    };
    let message = lower_bound_lp(&catalogue, &unknown)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("the category at position 7 is not in the catalogue"),
        "{message}"
    );
    let message = lower_bound_lp(&catalogue, &twice).unwrap_err().to_string();
    let key = &catalogue.categories()[0].key;
    assert!(
        message.contains(&format!("category `{key}` is named twice")),
        "{message}"
    );
    assert!(!message.contains('#'), "{message}");
}

#[test]
fn a_completes_cap_raises_the_bound() {
    // Two categories of incidence 1, 100 completes each, 1 s long: time is free, so N* is
    // 100; one complete per respondent makes it 200.
    let catalogue = Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("a", "A", 1.0, 1.0).with_target(100),
            Category::new("b", "B", 1.0, 1.0).with_target(100),
        ],
    )
    .unwrap();
    let free = lower_bound_lp(&catalogue, &LpOptions::new(480.0)).unwrap();
    assert!(
        (free.respondents - 100.0).abs() < 1e-6,
        "{}",
        free.respondents
    );
    let capped = lower_bound_lp(
        &catalogue,
        &LpOptions {
            max_completes: Some(1),
            ..LpOptions::new(480.0)
        },
    )
    .unwrap();
    assert!(
        (capped.respondents - 200.0).abs() < 1e-6,
        "{}",
        capped.respondents
    );
    assert!(capped.limits.contains(&Limit::Completes));
    let zero = LpOptions {
        max_completes: Some(0),
        ..LpOptions::new(480.0)
    };
    assert!(matches!(
        lower_bound_lp(&catalogue, &zero),
        Err(LpBoundError::Option {
            field: "max_completes",
            ..
        })
    ));
}
