//! Hostile and careless settings (issue 16): every out-of-range value is a typed error naming
//! its field, never a panic, an abort or a run of NaN priorities.

use proptest::prelude::*;
use quotaroute::bound::{FloorOptions, floors};
use quotaroute::catalogue::{Catalogue, CatalogueError, Category, MIN_INCIDENCE};
use quotaroute::route::{
    DemographicWeight, Greedy, PolicyError, PolicyOptions, Router, policy_with,
};
use quotaroute::schema::{Rule, Schema};
use quotaroute::sim::{
    MAX_MONTH, MAX_RUNS, MAX_THREADS, Scenario, Settings, SimError, monte_carlo, run_once,
};

fn small() -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("a", "A", 0.5, 100.0).with_target(20),
            Category::new("b", "B", 0.2, 200.0).with_target(20),
        ],
    )
    .unwrap()
}

fn field(result: Result<(), SimError>) -> &'static str {
    match result {
        Err(SimError::Setting { field, .. }) => field,
        other => panic!("expected a setting error, got {other:?}"),
    }
}

#[test]
fn a_demographic_weight_with_min_above_max_is_an_option_error_not_a_panic() {
    let weight = DemographicWeight {
        min: 4.0,
        max: 0.25,
        ..DemographicWeight::default()
    };
    let options = PolicyOptions {
        demographic: Some(weight),
        ..PolicyOptions::default()
    };
    match policy_with("greedy", &options) {
        Err(PolicyError::Option(e)) => assert_eq!(e.field, "demographic.max"),
        other => panic!(
            "expected an option error, got {:?}",
            other.map(|r| r.name().to_owned())
        ),
    }
    // Built field by field, past the check: routing must still not panic in `clamp`.
    let catalogue = Scenario {
        demographic_weight: Some(1.0),
        ..Scenario::default()
    }
    .apply(&small())
    .unwrap();
    let router = Greedy::scarcity().with_demographic(DemographicWeight {
        warm_up: 0,
        min: f64::NAN,
        ..weight
    });
    let settings = Settings {
        max_respondents: Some(300),
        ..Settings::default()
    };
    run_once(&catalogue, &router, &settings, 0).unwrap();
}

#[test]
fn a_negative_or_nan_demographic_weight_names_the_field() {
    for k in [-1.0, f64::NAN, f64::INFINITY] {
        let s = Scenario {
            demographic_weight: Some(k),
            ..Scenario::default()
        };
        assert_eq!(field(s.validate()), "demographic_weight", "weight {k}");
    }
    let s = Scenario {
        demographic_weight: Some(1.0),
        demographic_hold: Some(f64::NAN),
        ..Scenario::default()
    };
    assert_eq!(field(s.validate()), "demographic_hold");
}

#[test]
fn a_scenario_without_policies_is_refused() {
    let s = Scenario {
        policies: Vec::new(),
        ..Scenario::default()
    };
    assert_eq!(field(s.validate()), "policies");
    let s = Scenario {
        policies: vec!["no-such-policy".into()],
        ..Scenario::default()
    };
    assert_eq!(field(s.validate()), "policies");
    let e = serde_json::from_str::<Scenario>(r#"{"policies": []}"#).unwrap_err();
    assert!(e.to_string().contains("policies"), "{e}");
}

#[test]
fn a_scenario_document_must_be_an_object() {
    for doc in ["[]", "[1]", "null", "3"] {
        assert!(serde_json::from_str::<Scenario>(doc).is_err(), "{doc}");
        assert!(serde_json::from_str::<Settings>(doc).is_err(), "{doc}");
    }
    assert_eq!(
        serde_json::from_str::<Scenario>("{}").unwrap(),
        Scenario::default()
    );
}

#[test]
fn a_subnormal_incidence_is_refused_and_the_oracle_never_rounds_one_to_zero() {
    let tiny = Category::new("t", "Tiny", 5e-324, 100.0);
    match Catalogue::new(Schema::default_survey(), vec![tiny]) {
        Err(CatalogueError::Field { field, .. }) => assert_eq!(field, "incidence_rate"),
        other => panic!("expected a field error, got {other:?}"),
    }
    // The rarest allowed incidence, shrunk by a 90% error, stays a catalogue incidence.
    let catalogue = Catalogue::new(
        Schema::default_survey(),
        vec![Category::new("t", "Tiny", MIN_INCIDENCE, 100.0).with_target(1)],
    )
    .unwrap();
    let settings = Settings {
        oracle: true,
        incidence_error: 0.9,
        max_respondents: Some(50),
        ..Settings::default()
    };
    for run in 0..20 {
        let truth = settings.true_incidence(&catalogue, run);
        assert!(truth.iter().all(|&p| p >= MIN_INCIDENCE), "{truth:?}");
        let r = run_once(&catalogue, &Greedy::scarcity(), &settings, run).unwrap();
        assert_eq!(r.respondents, 50);
    }
}

#[test]
fn runs_and_threads_past_their_limits_are_refused_before_anything_is_allocated() {
    let settings = Settings {
        runs: u32::MAX,
        ..Settings::default()
    };
    assert_eq!(field(settings.validate()), "runs");
    let router = Greedy::scarcity();
    let e = monte_carlo(&small(), &router, &settings, &|_| {}).unwrap_err();
    assert!(matches!(e, SimError::Setting { field: "runs", .. }));
    let ok = Settings {
        runs: MAX_RUNS,
        ..Settings::default()
    };
    ok.validate().unwrap();
    for threads in [0, MAX_THREADS + 1, 3000, usize::MAX] {
        let s = Settings {
            threads: Some(threads),
            ..Settings::default()
        };
        assert_eq!(field(s.validate()), "threads", "threads {threads}");
    }
    // At the limit, a simulation of few runs spawns no more threads than runs.
    let s = Settings {
        runs: 2,
        threads: Some(MAX_THREADS),
        max_respondents: Some(200),
        ..Settings::default()
    };
    assert_eq!(monte_carlo(&small(), &router, &s, &|_| {}).unwrap().runs, 2);
}

#[test]
fn a_learning_strength_that_makes_priorities_nan_is_refused() {
    for k in [0.0, f64::NAN, f64::INFINITY, -50.0] {
        let s = Scenario {
            learn: Some(k),
            ..Scenario::default()
        };
        assert_eq!(field(s.validate()), "learn", "strength {k}");
        let options = PolicyOptions {
            learning: Some(k),
            ..PolicyOptions::default()
        };
        assert!(matches!(
            policy_with("greedy", &options),
            Err(PolicyError::Option(_))
        ));
    }
    let e = serde_json::from_str::<PolicyOptions>(r#"{"learning": -50.0}"#).unwrap_err();
    assert!(e.to_string().contains("learning"), "{e}");
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(0.0),
        Just(-1.0),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(5e-324),
        -2.0..2.0f64,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any scenario numbers either validate, and then the policies build and one short run
    /// goes through without a panic, or are refused with a setting error.
    #[test]
    fn any_scenario_numbers_validate_or_name_a_field(
        learn in proptest::option::of(any_f64()),
        weight in proptest::option::of(any_f64()),
        hold in proptest::option::of(any_f64()),
        hard_cap in any_f64(),
        error in any_f64(),
        spread in any_f64(),
        abandon in any_f64(),
        runs in any::<u32>(),
        threads in proptest::option::of(any::<usize>()),
    ) {
        let s = Scenario {
            learn,
            demographic_weight: weight,
            demographic_hold: hold,
            hard_cap,
            incidence_error: error,
            speed_spread: spread,
            abandon_rate: abandon,
            runs,
            threads,
            ..Scenario::default()
        };
        match s.validate() {
            Err(SimError::Setting { .. }) => {}
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            Ok(()) => {
                let catalogue = s.apply(&small()).unwrap();
                let settings = Settings { max_respondents: Some(40), ..s.settings() };
                for name in &s.policies {
                    let router = policy_with(name, &s.policy_options()).unwrap();
                    run_once(&catalogue, router.as_ref(), &settings, 0).unwrap();
                }
            }
        }
    }
}

#[test]
fn a_csv_exclusion_group_never_merges_with_a_scenario_group() {
    let csv = "category_id,category_name,incidence_rate,category_length_seconds,exclusion_group\n\
               a,A,0.5,100,scenario-0\n\
               b,B,0.5,100,scenario-0\n\
               c,C,0.5,100,\n\
               d,D,0.5,100,\n";
    let base = Catalogue::from_csv(Schema::default_survey(), csv).unwrap();
    let s = Scenario {
        exclusion_groups: vec![vec!["c".into(), "d".into()]],
        ..Scenario::default()
    };
    let groups = s.apply(&base).unwrap().exclusion_groups();
    assert_eq!(groups.len(), 2, "{groups:?}");
}

/// A category nobody is eligible for, one longer than the cap, or a bound past the month
/// limit: the example refuses the catalogue up front instead of simulating ~10¹⁹
/// respondents, and the derived month and limit never pass MAX_MONTH.
#[test]
fn an_impossible_catalogue_is_refused_and_the_derived_month_is_bounded() {
    let schema = Schema::default_survey();
    let nobody = Rule::parse(&schema, "gender=male;gender=female").unwrap();
    let cases = [
        Category::new("x", "X", 0.5, 100.0).with_eligibility(nobody),
        Category::new("x", "X", 0.5, 10_000.0),
        Category::new("x", "X", MIN_INCIDENCE, 100.0),
    ];
    for category in cases {
        let catalogue = Catalogue::new(schema.clone(), vec![category]).unwrap();
        let settings = Settings::default();
        assert!(
            matches!(
                settings.check_catalogue(&catalogue),
                Err(SimError::Impossible { .. })
            ),
            "{:?}",
            catalogue.categories()[0]
        );
        assert!(settings.month(&catalogue) <= MAX_MONTH);
        assert!(settings.respondent_limit(&catalogue) <= MAX_MONTH);
    }
    // Set explicitly, the limits are the caller's: the rare category is then simulated.
    let rare = Catalogue::new(
        schema.clone(),
        vec![Category::new("x", "X", MIN_INCIDENCE, 100.0)],
    )
    .unwrap();
    let explicit = Settings {
        month_respondents: Some(1_000),
        max_respondents: Some(1_000),
        ..Settings::default()
    };
    explicit.check_catalogue(&rare).unwrap();
    Settings::default().check_catalogue(&small()).unwrap();
}

/// Incidence 0.0001 and target 200 put N* at 2,000,000: 4,000 joint draws would flip ~10¹⁰
/// coins. The floors stay floors (at least the time term) and their cost is bounded by
/// FLOOR_WORK_LIMIT (this test would not end in reasonable time otherwise).
#[test]
fn floors_on_a_rare_category_are_bounded_by_the_work_limit() {
    let catalogue = Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("rare", "Rare", 0.0001, 60.0).with_target(200),
            Category::new("b", "B", 0.3, 300.0).with_target(200),
        ],
    )
    .unwrap();
    let options = FloorOptions {
        budget_seconds: 480.0,
        hard_cap_seconds: Some(480.0),
        max_qualifiers: None,
        draws: 4000,
        seed: 1,
    };
    let [p50, p95] = floors(&catalogue, &options, &[0.5, 0.95])[..] else {
        unreachable!()
    };
    let n_star = catalogue.lower_bound(480.0, None);
    assert!(p50.is_finite() && p95 >= p50, "{p50} {p95}");
    assert!(p95 >= 0.9 * n_star, "{p95} against N* {n_star}");
}

/// 300 categories that pairwise do not fit under the cap: the greedy set growth was ~n⁴
/// (300: 9.7 s, 1,000: half an hour); it now stops at FLOOR_WORK_LIMIT.
#[test]
fn floors_of_many_categories_that_do_not_fit_together_are_bounded() {
    let categories = (0..300)
        .map(|i| {
            Category::new(format!("c{i}"), "C", 0.2 + 0.001 * f64::from(i), 300.0).with_target(5)
        })
        .collect();
    let catalogue = Catalogue::new(Schema::default_survey(), categories).unwrap();
    let options = FloorOptions {
        budget_seconds: 480.0,
        hard_cap_seconds: Some(480.0),
        max_qualifiers: None,
        draws: 200,
        seed: 1,
    };
    let floor = floors(&catalogue, &options, &[0.95])[0];
    assert!(floor.is_finite() && floor >= catalogue.lower_bound(480.0, None) * 0.9);
}

/// Shares by brute force over the complete cells: the reference for the decomposition.
fn brute_share(rule: &Rule, schema: &Schema) -> f64 {
    schema
        .complete_cells()
        .filter(|(answers, _)| rule.matches(answers))
        .map(|(_, share)| share)
        .sum()
}

#[test]
fn eligible_share_of_many_questions_is_linear_and_exact() {
    let mut builder = Schema::builder();
    for q in 0..40 {
        builder = builder.question(format!("q{q}"), ["yes", "no"]);
    }
    let schema = builder.build().unwrap();
    // 28 binary questions in one conjunction: 2²⁸ answers enumerated before.
    let text: Vec<String> = (0..28).map(|q| format!("q{q}=yes")).collect();
    let rule = Rule::parse(&schema, &text.join(";")).unwrap();
    let share = rule.try_eligible_share(&schema).unwrap();
    assert!((share - 0.5f64.powi(28)).abs() < 1e-15, "{share}");
    // Entangled beyond any decomposition: every clause shares questions with the next.
    let q = |i: usize| schema.question(&format!("q{i}")).unwrap();
    let yes = |i: usize| schema.response(q(i), "yes").unwrap();
    let chain: Vec<Rule> = (0..39)
        .map(|i| {
            Rule::Any(vec![
                Rule::one_of(q(i), [yes(i)]),
                Rule::one_of(q(i + 1), [yes(i + 1)]),
            ])
        })
        .collect();
    let all = Rule::All(chain);
    match all.try_eligible_share(&schema) {
        Ok(p) => assert!((0.0..=1.0).contains(&p)),
        Err(e) => assert!(matches!(
            e,
            quotaroute::schema::RuleError::TooComplex { .. }
        )),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The decomposition agrees with enumeration on random rules of the default survey.
    #[test]
    fn eligible_share_agrees_with_enumeration(rule in quotaroute::testing::rules(&Schema::default_survey())) {
        let schema = Schema::default_survey();
        let exact = brute_share(&rule, &schema);
        let share = rule.try_eligible_share(&schema).unwrap();
        prop_assert!((share - exact).abs() < 1e-12, "{share} vs {exact} for {rule:?}");
        // Exactly 0 when nobody is eligible (never a rounding residue such as -2.2e-16).
        let anyone = schema.complete_cells().any(|(a, s)| s > 0.0 && rule.matches(&a));
        prop_assert_eq!(share == 0.0, !anyone, "{} for {:?}", share, rule);
        prop_assert!((0.0..=1.0).contains(&share));
    }
}

/// 100,000 exclusion groups of one category each: a hash map and sparse member lists, so
/// parsing is linear (it took 11.5 s and 478 MB with linear look-ups and dense bitsets).
#[test]
fn a_catalogue_of_100000_exclusion_groups_parses_with_sparse_groups() {
    let mut csv = String::from(
        "category_id,category_name,incidence_rate,category_length_seconds,exclusion_group\n",
    );
    for i in 0..100_000 {
        csv.push_str(&format!("c{i},C,0.5,60,g{}\n", i / 2));
    }
    let catalogue = Catalogue::from_csv(Schema::default_survey(), &csv).unwrap();
    let groups = catalogue.exclusion_groups();
    assert_eq!(groups.len(), 50_000);
    assert!(groups.iter().all(|g| g.len() == 2));
    let last = catalogue.find("c99999").unwrap();
    assert_eq!(catalogue.exclusion_group_members(last).unwrap().len(), 2);
}
