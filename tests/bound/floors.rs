//! The stochastic floors: categories that share respondents move together, and categories that
//! cannot share one add their own term under a hard cap.

use quotaroute::bound::{FloorOptions, floors};
use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::route::policy;
use quotaroute::schema::{Rule, Schema};
use quotaroute::sim::{Settings, monte_carlo};

fn options(hard_cap: Option<f64>) -> FloorOptions {
    FloorOptions {
        budget_seconds: 480.0,
        hard_cap_seconds: hard_cap,
        max_qualifiers: None,
        draws: 4000,
        seed: 17,
    }
}

#[test]
fn categories_on_the_same_respondents_move_together() {
    // Both complete on every woman: in each run τ_A = τ_B = the position of the 100th woman,
    // about 200 (sd 14). Sampled on their own, the larger of the two would sit near 208.
    let schema = Schema::default_survey();
    let women = Rule::parse(&schema, "gender=female").unwrap();
    let c = Catalogue::new(
        schema,
        vec![
            Category::new("a", "A", 1.0, 30.0)
                .with_target(100)
                .with_eligibility(women.clone()),
            Category::new("b", "B", 1.0, 30.0)
                .with_target(100)
                .with_eligibility(women),
        ],
    )
    .unwrap();
    let floors = floors(&c, &options(None), &[0.5, 0.95]);
    assert!(
        (floors[0] - 200.0).abs() <= 4.0,
        "median floor {}",
        floors[0]
    );
    // p95 of one NegBin(100, 1/2) + 100: 200 + 1.645 · 14.1 ≈ 223.
    assert!((floors[1] - 223.0).abs() <= 5.0, "p95 floor {}", floors[1]);
    // The deprecated one-quantile entry point of `sim` is the same floor.
    #[allow(deprecated)]
    let one = quotaroute::sim::stochastic_floor(&c, 480.0, None, 4000, 17, 0.5);
    assert_eq!(one, floors[0]);
}

fn incompatible_pair() -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("a", "A", 0.5, 300.0).with_target(100),
            Category::new("b", "B", 0.5, 300.0).with_target(100),
        ],
    )
    .unwrap()
}

#[test]
fn a_pair_that_cannot_share_a_respondent_needs_its_own_term() {
    let c = incompatible_pair();
    // Alone each needs 200 on average; together they need 200 respondents with a head on
    // either (probability 3/4): 266.7 on average.
    let alone = floors(&c, &options(None), &[0.5])[0];
    let apart = floors(&c, &options(Some(480.0)), &[0.5])[0];
    assert!(alone < 215.0, "{alone}");
    assert!((apart - 266.7).abs() <= 6.0, "{apart}");
    // The pair fits a 600 s cap: no term, the floor is the categories' own.
    let fits = floors(&c, &options(Some(600.0)), &[0.5])[0];
    assert_eq!(fits, alone);
    // No policy's median needs fewer.
    let settings = Settings {
        runs: 200,
        seed: 3,
        ..Settings::default()
    };
    for name in ["greedy", "packing", "random"] {
        let s = monte_carlo(&c, policy(name).unwrap().as_ref(), &settings, &|_| {}).unwrap();
        assert!(
            s.respondents_median as f64 >= apart - 6.0,
            "{name}: median {} below the floor {apart}",
            s.respondents_median
        );
    }
}

#[test]
fn the_time_term_floors_every_quantile_and_a_certain_clique_is_exact() {
    // Everyone qualifies for three 300 s surveys: 90,000 s of interviews, 187.5 respondents of
    // 480 s; each category alone needs only its 100.
    let c = Catalogue::new(
        Schema::default_survey(),
        (0..3)
            .map(|i| Category::new(i.to_string(), format!("c{i}"), 1.0, 300.0).with_target(100))
            .collect(),
    )
    .unwrap();
    let shares = [0.05, 0.5, 1.0];
    assert_eq!(floors(&c, &options(None), &shares), vec![187.5; 3]);
    // Under a 480 s cap no two fit one respondent: 300 respondents in every run.
    assert_eq!(floors(&c, &options(Some(480.0)), &shares), vec![300.0; 3]);
}

#[test]
fn a_category_without_supply_has_no_finite_floor() {
    let schema = Schema::builder()
        .question_with_shares("gender", [("female", 1.0), ("male", 0.0)])
        .build()
        .unwrap();
    let men = Rule::parse(&schema, "gender=male").unwrap();
    let c = Catalogue::new(
        schema,
        vec![
            Category::new("a", "A", 0.5, 60.0)
                .with_target(10)
                .with_eligibility(men),
        ],
    )
    .unwrap();
    assert!(floors(&c, &options(None), &[0.5])[0].is_infinite());
}

#[cfg(feature = "serde")]
#[test]
fn floor_options_round_trip_through_json() {
    let o = options(Some(600.0));
    let text = serde_json::to_string(&o).unwrap();
    assert_eq!(serde_json::from_str::<FloorOptions>(&text).unwrap(), o);
}

#[test]
fn a_qualifier_cap_floors_each_run_by_its_own_shows() {
    // One qualifier per respondent: a run needs one respondent per show, and the shows that
    // give 100 completes of each category are 200 + NegativeBinomial(200, 1/2) in all: 400 on
    // average, sd 20. Its 5% quantile is near 367, not the fluid 400.
    let c = Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("a", "A", 0.5, 30.0).with_target(100),
            Category::new("b", "B", 0.5, 30.0).with_target(100),
        ],
    )
    .unwrap();
    let options = FloorOptions {
        max_qualifiers: Some(1),
        ..options(None)
    };
    let floors = floors(&c, &options, &[0.05, 0.5, 0.95]);
    assert!((floors[0] - 367.0).abs() <= 10.0, "{floors:?}");
    assert!((floors[1] - 400.0).abs() <= 6.0, "{floors:?}");
    assert!((floors[2] - 433.0).abs() <= 10.0, "{floors:?}");
}

#[test]
fn a_category_that_never_fits_the_cap_has_no_finite_floor() {
    let c = Catalogue::new(
        Schema::default_survey(),
        vec![Category::new("a", "A", 0.5, 500.0).with_target(10)],
    )
    .unwrap();
    assert!(floors(&c, &options(Some(480.0)), &[0.5])[0].is_infinite());
    assert!(floors(&c, &options(None), &[0.5])[0].is_finite());
}
