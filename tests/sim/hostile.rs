//! Hostile and careless settings (issue 16): every out-of-range value is a typed error naming
//! its field, never a panic, an abort or a run of NaN priorities.

use proptest::prelude::*;
use quotaroute::catalogue::{Catalogue, CatalogueError, Category, MIN_INCIDENCE};
use quotaroute::route::{
    DemographicWeight, Greedy, PolicyError, PolicyOptions, Router, policy_with,
};
use quotaroute::schema::Schema;
use quotaroute::sim::{MAX_RUNS, MAX_THREADS, Scenario, Settings, SimError, monte_carlo, run_once};

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
