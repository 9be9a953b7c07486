use super::*;
use crate::catalogue::Category;
use crate::route::{Greedy, RandomRouter, Router};
use crate::schema::Schema;

fn small() -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("a", "A", 0.5, 100.0).with_target(30),
            Category::new("b", "B", 0.2, 200.0).with_target(30),
            Category::new("c", "C", 0.9, 50.0)
                .with_target(30)
                .with_eligibility(
                    crate::schema::Rule::parse(&Schema::default_survey(), "gender=female").unwrap(),
                ),
        ],
    )
    .unwrap()
}

#[test]
fn same_seed_same_result_whatever_the_threads() {
    let catalogue = small();
    let one = Settings {
        runs: 8,
        threads: Some(1),
        ..Settings::default()
    };
    let two = Settings {
        threads: Some(2),
        ..one.clone()
    };
    for router in [&Greedy::scarcity() as &dyn Router, &RandomRouter] {
        let a = monte_carlo(&catalogue, router, &one, &|_| {}).unwrap();
        let b = monte_carlo(&catalogue, router, &two, &|_| {}).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn runs_fill_every_quota_within_the_cap() {
    let catalogue = small();
    let r = run_once(&catalogue, &Greedy::scarcity(), &Settings::default(), 3).unwrap();
    assert!(r.filled);
    assert_eq!(r.completes, vec![30, 30, 30]);
    assert!(r.max_seconds <= 480.0 + 1e-9);
}

#[test]
fn a_tight_limit_counts_as_failure() {
    let settings = Settings {
        runs: 4,
        max_respondents: Some(5),
        ..Settings::default()
    };
    let s = monte_carlo(&small(), &Greedy::scarcity(), &settings, &|_| {}).unwrap();
    assert_eq!(s.failures, 4);
    assert_eq!(s.respondents_p95, 5);
    assert_eq!(s.success_rate(10), 0.0);
}

#[test]
fn reference_shares_condition_on_eligibility() {
    let catalogue = small();
    let shares = reference_shares(&catalogue);
    // category c (index 2) is female-only: its gender reference is (1, 0).
    assert_eq!(shares[2 * 3], vec![1.0, 0.0]);
    assert_eq!(shares[0], vec![0.5, 0.5]);
}

#[test]
fn bad_settings_are_named() {
    let s = Settings {
        hard_cap: f64::NAN,
        ..Settings::default()
    };
    assert!(matches!(
        s.validate(),
        Err(SimError::Setting {
            field: "hard_cap",
            ..
        })
    ));
}

#[cfg(feature = "lp")]
#[test]
fn runs_take_the_catalogues_exclusion_groups() {
    use crate::bound::{LpOptions, lower_bound_lp};
    use crate::catalogue::CategoryId;
    let mut a = Category::new("a", "A", 1.0, 1.0).with_target(100);
    let mut b = Category::new("b", "B", 1.0, 1.0).with_target(100);
    a.exclusion_group = Some("beer".into());
    b.exclusion_group = Some("beer".into());
    let catalogue = Catalogue::new(Schema::default_survey(), vec![a, b]).unwrap();
    let options = LpOptions::for_run(&Settings::default(), &catalogue);
    assert_eq!(
        options.exclusion_groups,
        vec![vec![CategoryId::from_index(0), CategoryId::from_index(1)]]
    );
    let lp = lower_bound_lp(&catalogue, &options).unwrap();
    assert!((lp.respondents - 200.0).abs() < 1e-6, "{}", lp.respondents);
}
