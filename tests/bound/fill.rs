//! The respondent fill bound: hand-solved cases, its errors, and checks against simulation
//! (no policy fills more than the bound, so no policy needs fewer respondents on average).

use proptest::prelude::*;
use quotaroute::bound::fill::{FillError, FillOptions, respondent_fill};
use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::route::policy;
use quotaroute::schema::{Rule, Schema};
use quotaroute::sim::{Settings, monte_carlo};

fn catalogue(categories: Vec<Category>) -> Catalogue {
    Catalogue::new(Schema::default_survey(), categories).unwrap()
}

#[test]
fn types_are_the_eligible_sets_weighted_by_the_supply() {
    let schema = Schema::default_survey();
    let women = Rule::parse(&schema, "gender=female").unwrap();
    let c = Catalogue::new(
        schema,
        vec![
            Category::new("a", "A", 1.0, 100.0).with_target(10),
            Category::new("w", "W", 1.0, 200.0)
                .with_target(10)
                .with_eligibility(women),
        ],
    )
    .unwrap();
    let fill = respondent_fill(&c, &FillOptions::new(480.0)).unwrap();
    assert_eq!(fill.types.len(), 2);
    // Women fill 300 s, men 100 s: 200 s on average.
    assert!((fill.seconds - 200.0).abs() < 0.01, "{}", fill.seconds);
    let shares: f64 = fill.types.iter().map(|t| t.share).sum();
    assert!((shares - 1.0).abs() < 1e-12);
    // 3,000 s of surveys over 200 s a respondent, but W alone needs its 10 women: 20.
    assert!(
        (fill.respondents - 20.0).abs() < 1e-9,
        "{}",
        fill.respondents
    );
}

#[test]
fn the_fill_limit_raises_the_bound_above_n_star() {
    // Three 250 s surveys everyone qualifies for: one per respondent fits a 480 s cap, so each
    // complete needs its own respondent: 150, where N* says 3·50·250/480 = 78.1.
    let c = catalogue(
        (0..3)
            .map(|i| Category::new(i.to_string(), format!("c{i}"), 1.0, 250.0).with_target(50))
            .collect(),
    );
    let fill = respondent_fill(&c, &FillOptions::new(480.0)).unwrap();
    assert!((fill.seconds - 250.0).abs() < 0.01);
    assert!(
        (fill.respondents - 150.0).abs() < 0.01,
        "{}",
        fill.respondents
    );
    assert!(c.lower_bound(480.0, None) < 80.0);
}

#[test]
fn a_banked_mean_budget_below_the_fill_sets_the_time_term() {
    let c = catalogue(vec![
        Category::new("a", "A", 1.0, 100.0).with_target(30),
        Category::new("b", "B", 1.0, 100.0).with_target(30),
    ]);
    let options = FillOptions {
        mean_budget_seconds: Some(150.0),
        ..FillOptions::new(600.0)
    };
    let fill = respondent_fill(&c, &options).unwrap();
    // Fill 200 s, budget 150 s: 6,000 s / 150 s = 40 respondents.
    assert!(
        (fill.respondents - 40.0).abs() < 1e-9,
        "{}",
        fill.respondents
    );
}

#[test]
fn nothing_to_do_needs_no_respondents() {
    let c = catalogue(vec![Category::new("a", "A", 0.5, 100.0).with_target(0)]);
    let fill = respondent_fill(&c, &FillOptions::new(480.0)).unwrap();
    assert_eq!(fill.respondents, 0.0);
    assert_eq!(fill.seconds, 0.0);
}

#[test]
fn a_category_nobody_can_complete_needs_infinitely_many() {
    let c = catalogue(vec![
        Category::new("a", "A", 0.5, 100.0).with_target(10),
        Category::new("long", "Long", 0.5, 500.0).with_target(10),
    ]);
    let fill = respondent_fill(&c, &FillOptions::new(480.0)).unwrap();
    assert!(fill.respondents.is_infinite());
    assert!((fill.seconds - 50.0).abs() < 0.01);
}

#[test]
fn lengths_that_vary_are_refused() {
    let c = catalogue(vec![
        Category::new("a", "A", 0.5, 100.0),
        Category::new("b", "B", 0.5, 100.0).with_loi_spread(0.3),
    ]);
    let err = respondent_fill(&c, &FillOptions::new(480.0)).unwrap_err();
    assert_eq!(
        err,
        FillError::LoiSpread {
            category: "b".into()
        }
    );
    assert!(err.to_string().contains("`b`"), "{err}");
}

#[test]
fn bad_options_name_the_field() {
    let c = catalogue(vec![Category::new("a", "A", 0.5, 100.0)]);
    for (options, field) in [
        (FillOptions::new(0.0), "hard_cap_seconds"),
        (FillOptions::new(f64::NAN), "hard_cap_seconds"),
        (
            FillOptions {
                grid_seconds: -1.0,
                ..FillOptions::new(480.0)
            },
            "grid_seconds",
        ),
        (
            FillOptions {
                mean_budget_seconds: Some(f64::INFINITY),
                ..FillOptions::new(480.0)
            },
            "mean_budget_seconds",
        ),
    ] {
        match respondent_fill(&c, &options) {
            Err(FillError::Option { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
        let message = respondent_fill(&c, &options).unwrap_err().to_string();
        assert!(message.contains(field), "{message}");
    }
}

#[test]
fn a_type_too_large_for_the_table_is_refused() {
    let c = catalogue(
        (0..12)
            .map(|i| Category::new(i.to_string(), format!("c{i}"), 0.5, 60.0))
            .collect(),
    );
    let options = FillOptions {
        max_cells: 1 << 20,
        ..FillOptions::new(480.0)
    };
    assert_eq!(
        respondent_fill(&c, &options),
        Err(FillError::TooLarge {
            categories: 12,
            cells: 4096 * 481,
            max: 1 << 20,
        })
    );
    let many = catalogue(
        (0..40)
            .map(|i| Category::new(i.to_string(), format!("c{i}"), 0.5, 60.0))
            .collect(),
    );
    assert!(matches!(
        respondent_fill(&many, &FillOptions::new(480.0)),
        Err(FillError::TooLarge { categories: 40, .. })
    ));
}

/// A small catalogue where the end of an interview is hard to fill: few short surveys.
fn small_catalogue() -> Catalogue {
    catalogue(vec![
        Category::new("a", "A", 0.9, 230.0).with_target(100),
        Category::new("b", "B", 0.8, 170.0).with_target(100),
        Category::new("c", "C", 0.9, 140.0).with_target(100),
        Category::new("d", "D", 0.8, 90.0).with_target(100),
        Category::new("e", "E", 0.9, 290.0).with_target(100),
    ])
}

#[test]
fn no_policy_needs_fewer_respondents_than_the_bound_on_average() {
    let c = small_catalogue();
    let fill = respondent_fill(&c, &FillOptions::new(480.0)).unwrap();
    let n_star = c.lower_bound(480.0, None);
    // The bound is the point: well above N* here.
    assert!(
        fill.respondents > 1.05 * n_star,
        "{} vs {n_star}",
        fill.respondents
    );
    let settings = Settings {
        runs: 60,
        seed: 5,
        ..Settings::default()
    };
    for name in ["greedy", "packing", "paced", "random"] {
        let router = policy(name).unwrap();
        let s = monte_carlo(&c, router.as_ref(), &settings, &|_| {}).unwrap();
        // The policies' means sit 5–17% above the bound; 60 runs' standard error is under 1%.
        assert!(
            s.respondents_mean >= fill.respondents,
            "{name}: mean {} below the bound {}",
            s.respondents_mean,
            fill.respondents
        );
        // Every respondent's seconds are at most the bound's fill, on average.
        assert!(s.mean_seconds <= fill.seconds, "{name}: {}", s.mean_seconds);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// More categories never fill less, the fill never passes the cap, and a coarser grid
    /// (which only favours the respondent) never fills less than a finer one it refines.
    #[test]
    fn fill_is_monotone_and_within_the_cap(
        specs in prop::collection::vec((0.05f64..1.0, 10.0f64..300.0, 0u32..3), 1..7),
        cap in 100.0f64..600.0,
    ) {
        let categories: Vec<Category> = specs
            .iter()
            .enumerate()
            .map(|(i, &(p, l, q))| {
                Category::new(i.to_string(), format!("c{i}"), p, l)
                    .with_target(10)
                    .with_qualifier_seconds(f64::from(q) * 5.0)
            })
            .collect();
        let all = catalogue(categories.clone());
        let fine = respondent_fill(&all, &FillOptions { grid_seconds: 0.5, ..FillOptions::new(cap) }).unwrap();
        let coarse = respondent_fill(&all, &FillOptions { grid_seconds: 1.0, ..FillOptions::new(cap) }).unwrap();
        prop_assert!(fine.seconds <= cap * (1.0 + 1e-5) + 1e-9);
        prop_assert!(coarse.seconds >= fine.seconds * (1.0 - 1e-6) - 1e-6);
        prop_assert!(fine.respondents >= all.lower_bound(cap, None) * (1.0 - 1e-9));
        if categories.len() > 1 {
            let fewer = catalogue(categories[..categories.len() - 1].to_vec());
            let less = respondent_fill(&fewer, &FillOptions { grid_seconds: 0.5, ..FillOptions::new(cap) }).unwrap();
            prop_assert!(less.seconds <= fine.seconds * (1.0 + 1e-6) + 1e-6);
        }
    }
}

#[cfg(feature = "serde")]
#[test]
fn options_and_results_round_trip_through_json() {
    let options = FillOptions {
        mean_budget_seconds: Some(450.0),
        grid_seconds: 0.5,
        ..FillOptions::new(600.0)
    };
    let text = serde_json::to_string(&options).unwrap();
    assert_eq!(serde_json::from_str::<FillOptions>(&text).unwrap(), options);
    let fill = respondent_fill(&small_catalogue(), &options).unwrap();
    let text = serde_json::to_string(&fill).unwrap();
    assert_eq!(
        serde_json::from_str::<quotaroute::bound::fill::RespondentFill>(&text).unwrap(),
        fill
    );
}

#[test]
fn a_schema_with_too_many_cells_is_refused() {
    let mut builder = Schema::builder();
    for q in 0..17 {
        builder = builder.question(format!("q{q}"), ["yes", "no"]);
    }
    let c = Catalogue::new(
        builder.build().unwrap(),
        vec![Category::new("a", "A", 0.5, 100.0)],
    )
    .unwrap();
    assert_eq!(
        respondent_fill(&c, &FillOptions::new(480.0)),
        Err(FillError::TooManyCells { cells: 1 << 17 })
    );
}
