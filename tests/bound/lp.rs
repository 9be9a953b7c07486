//! The fluid LP bound: equal to the closed form without extras (on the bundled catalogue and
//! on generated ones), and hand-solved cases where eligibility, the hard cap, exclusions and
//! exposure make it larger.
#![cfg(feature = "lp")]

use proptest::prelude::*;
use quotaroute::bound::{Limit, LpBound, LpBoundError, LpOptions, MAX_CUT_ROUNDS, lower_bound_lp};
use quotaroute::catalogue::{Catalogue, Category, CategoryId};
use quotaroute::route::policy;
use quotaroute::schema::{Rule, Schema};
use quotaroute::sim::{Settings, monte_carlo};
use quotaroute::testing;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

fn bundled() -> Catalogue {
    let text = include_str!("../../examples/data/fake_category_data.csv");
    Catalogue::from_csv(Schema::default_survey(), text).unwrap()
}

fn id(i: usize) -> CategoryId {
    CategoryId::from_index(i)
}

#[test]
fn bundled_catalogue_without_extras_equals_n_star() {
    let catalogue = bundled();
    let closed = catalogue.lower_bound(480.0, None);
    assert!((closed - 3490.8).abs() < 0.05);
    let lp = lower_bound_lp(&catalogue, &LpOptions::new(480.0)).unwrap();
    assert!(
        rel(lp.respondents, closed) < 1e-6,
        "{} vs {closed}",
        lp.respondents
    );
    // The bundled catalogue has no eligibility rules: one respondent type.
    assert_eq!(lp.types, 1);
    // Every respondent the same: the per-respondent hard cap adds nothing either.
    let settings = lower_bound_lp(&catalogue, &LpOptions::from_settings(&Settings::default()));
    assert!(rel(settings.unwrap().respondents, closed) < 1e-6);
}

#[test]
fn bundled_catalogue_with_a_qualifier_cap_and_banking() {
    let catalogue = bundled();
    for (budget, k) in [(480.0, Some(6)), (300.0, Some(3)), (600.0, None)] {
        let closed = catalogue.lower_bound(budget, k);
        let options = LpOptions {
            max_qualifiers: k,
            hard_cap_seconds: Some(budget.max(480.0)),
            ..LpOptions::new(budget)
        };
        let lp = lower_bound_lp(&catalogue, &options).unwrap();
        assert!(rel(lp.respondents, closed) < 1e-6, "{budget} {k:?}: {lp:?}");
    }
}

/// Two women-only categories of 200 s each under a 300 s hard cap, half the supply women.
/// The closed form pools the time: max(40,000 / 300, 100 / 0.5) = 200. But a woman has 300 s:
/// x_A + x_B ≤ 1.5, so each is shown to at most 75% of women: 0.5 · 0.75 · N ≥ 100, N ≥ 800/3.
#[test]
fn the_hard_cap_per_respondent_binds_with_eligibility() {
    let schema = Schema::default_survey();
    let women = Rule::parse(&schema, "gender=female").unwrap();
    let catalogue = Catalogue::new(
        schema,
        vec![
            Category::new("a", "A", 1.0, 200.0)
                .with_target(100)
                .with_eligibility(women.clone()),
            Category::new("b", "B", 1.0, 200.0)
                .with_target(100)
                .with_eligibility(women),
        ],
    )
    .unwrap();
    assert!((catalogue.lower_bound(300.0, None) - 200.0).abs() < 1e-9);
    let mean_only = lower_bound_lp(&catalogue, &LpOptions::new(300.0)).unwrap();
    assert!(rel(mean_only.respondents, 200.0) < 1e-9);
    let options = LpOptions {
        hard_cap_seconds: Some(300.0),
        ..LpOptions::new(300.0)
    };
    let lp = lower_bound_lp(&catalogue, &options).unwrap();
    assert!(rel(lp.respondents, 800.0 / 3.0) < 1e-9, "{lp:?}");
    assert!(lp.limits.contains(&Limit::HardCap));
    assert!(rel(lp.gain(), 4.0 / 3.0) < 1e-9);
    // A category longer than the hard cap can never complete.
    let long = Catalogue::new(
        Schema::default_survey(),
        vec![Category::new("l", "Long", 0.5, 400.0).with_target(1)],
    )
    .unwrap();
    let lp = lower_bound_lp(&long, &options).unwrap();
    assert!(lp.respondents.is_infinite());
}

/// Two categories everyone qualifies for (p = 1), 100 completes each, in one exclusion group:
/// a respondent completes at most one, so N ≥ 200 where the closed form says 100.
#[test]
fn an_exclusion_group_binds() {
    let catalogue = Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("beer", "Craft Beer", 1.0, 30.0).with_target(100),
            Category::new("af", "Alcohol-Free Beer", 1.0, 30.0).with_target(100),
            Category::new("tea", "Tea", 0.5, 30.0).with_target(50),
        ],
    )
    .unwrap();
    assert!((catalogue.lower_bound(480.0, None) - 100.0).abs() < 1e-9);
    let options = LpOptions {
        exclusion_groups: vec![vec![id(0), id(1)]],
        ..LpOptions::new(480.0)
    };
    let lp = lower_bound_lp(&catalogue, &options).unwrap();
    assert!(rel(lp.respondents, 200.0) < 1e-9, "{lp:?}");
    assert_eq!(lp.limits, vec![Limit::Exclusion(0)]);
}

/// One category, p = 1, 100 completes; the supply is 80% women. To show it 50/50 by gender
/// (tolerance 0) only 0.2 + 0.2 of each respondent's worth can be shown: N = 250. At an L1
/// tolerance of 0.2 women may be 60% of the exposures: 0.2 / 0.4 = 0.5 per respondent, N = 200.
#[test]
fn exposure_constraints_cost_respondents_under_skewed_supply() {
    let catalogue = Catalogue::new(
        Schema::default_survey(),
        vec![Category::new("a", "A", 1.0, 30.0).with_target(100)],
    )
    .unwrap();
    // 18 cells, gender first: cells 0..9 are women.
    let supply: Vec<f64> = (0..18)
        .map(|c| if c < 9 { 0.8 / 9.0 } else { 0.2 / 9.0 })
        .collect();
    let skewed = |tolerance| LpOptions {
        supply: Some(supply.clone()),
        exposure_tolerance: tolerance,
        ..LpOptions::new(480.0)
    };
    let free = lower_bound_lp(&catalogue, &skewed(None)).unwrap();
    assert!(rel(free.respondents, 100.0) < 1e-9);
    let exact = lower_bound_lp(&catalogue, &skewed(Some(0.0))).unwrap();
    assert!(rel(exact.respondents, 250.0) < 1e-7, "{exact:?}");
    assert!(exact.limits.contains(&Limit::Supply(id(0))) || exact.limits.len() > 1);
    let loose = lower_bound_lp(&catalogue, &skewed(Some(0.2))).unwrap();
    assert!(rel(loose.respondents, 200.0) < 1e-7, "{loose:?}");
    assert!(
        loose
            .limits
            .iter()
            .any(|l| matches!(l, Limit::Exposure(c, _) if *c == id(0)))
    );
    // The schema's own (uniform) supply can be shown in the population's mix at no cost.
    let uniform = LpOptions {
        exposure_tolerance: Some(0.0),
        ..LpOptions::new(480.0)
    };
    let lp = lower_bound_lp(&catalogue, &uniform).unwrap();
    assert!(rel(lp.respondents, 100.0) < 1e-7);
}

/// The bundled catalogue, 480 s each, with the 18-34 band at 1/3 + 0.15 of the supply and each
/// category to be shown in the population's age mix exactly: only 3 × (2/3 − 0.15)/2 = 0.775 of
/// the supply's time is usable, so N = N* / 0.775 (time is what binds N*).
#[test]
fn a_skewed_supply_shown_in_the_population_mix() {
    let catalogue = bundled();
    let young = |cell: usize| (cell / 3).is_multiple_of(3);
    let supply: Vec<f64> = (0..18)
        .map(|cell| {
            if young(cell) {
                1.0 / 3.0 + 0.15
            } else {
                (2.0 / 3.0 - 0.15) / 2.0
            }
        })
        .collect();
    let options = LpOptions {
        hard_cap_seconds: Some(480.0),
        supply: Some(supply),
        exposure_tolerance: Some(0.0),
        ..LpOptions::new(480.0)
    };
    let lp = lower_bound_lp(&catalogue, &options).unwrap();
    let closed = catalogue.lower_bound(480.0, None);
    assert!(rel(lp.respondents, closed / 0.775) < 1e-6, "{lp:?}");
    check_plan(&catalogue, &options, &lp);
}

#[test]
fn the_bundled_catalogue_with_every_extra_solves() {
    let catalogue = bundled();
    let options = LpOptions {
        hard_cap_seconds: Some(480.0),
        max_qualifiers: Some(8),
        exclusion_groups: vec![vec![id(0), id(1)], vec![id(5), id(6), id(7)]],
        exposure_tolerance: Some(0.05),
        incompatibility_cuts: true,
        ..LpOptions::new(480.0)
    };
    let lp = lower_bound_lp(&catalogue, &options).unwrap();
    assert!(lp.cuts_converged);
    let closed = catalogue.lower_bound(480.0, Some(8));
    assert!(lp.respondents >= closed * (1.0 - 1e-9));
    assert_eq!(lp.types, 18);
    check_plan(&catalogue, &options, &lp);
}

#[test]
fn options_and_bounds_round_trip_through_json() {
    let options = LpOptions {
        budget_seconds: 480.0,
        hard_cap_seconds: Some(480.0),
        max_qualifiers: Some(4),
        supply: Some(vec![1.0; 18]),
        exclusion_groups: vec![vec![id(0), id(1)]],
        exposure_tolerance: Some(0.05),
        remaining: Some(vec![10.0; 77]),
        max_completes: Some(5),
        incompatibility_cuts: true,
        node_limits: true,
    };
    let text = serde_json::to_string(&options).unwrap();
    assert_eq!(serde_json::from_str::<LpOptions>(&text).unwrap(), options);
    // Only the budget is required.
    let minimal: LpOptions = serde_json::from_str(r#"{"budget_seconds": 480}"#).unwrap();
    assert_eq!(minimal, LpOptions::new(480.0));
    assert!(serde_json::from_str::<LpOptions>(r#"{"budget_seconds": 480, "budget": 1}"#).is_err());
    let lp = lower_bound_lp(&bundled(), &options).unwrap();
    let text = serde_json::to_string(&lp).unwrap();
    assert_eq!(serde_json::from_str::<LpBound>(&text).unwrap(), lp);
    // A bound saved before the cuts existed reads as computed without them.
    let mut old: serde_json::Value = serde_json::to_value(&lp).unwrap();
    for field in ["cut_rounds", "cuts", "cuts_converged"] {
        old.as_object_mut().unwrap().remove(field);
    }
    let read: LpBound = serde_json::from_value(old).unwrap();
    assert_eq!(
        (read.cut_rounds, read.cuts, read.cuts_converged),
        (0, 0, true)
    );
}

#[test]
fn errors_name_what_is_wrong() {
    let catalogue = bundled();
    let bad_supply = LpOptions {
        supply: Some(vec![f64::NAN; 18]),
        ..LpOptions::new(480.0)
    };
    let e = lower_bound_lp(&catalogue, &bad_supply).unwrap_err();
    assert!(matches!(e, LpBoundError::SupplyShare { index: 0, .. }));
    let zero = LpOptions {
        supply: Some(vec![0.0; 18]),
        ..LpOptions::new(480.0)
    };
    assert!(matches!(
        lower_bound_lp(&catalogue, &zero),
        Err(LpBoundError::SupplyShare { .. })
    ));
    let remaining = LpOptions {
        remaining: Some(vec![1.0; 3]),
        ..LpOptions::new(480.0)
    };
    let message = lower_bound_lp(&catalogue, &remaining)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("3 entries given, the catalogue has 77"),
        "{message}"
    );
}

/// Categories everyone is eligible for, no qualifier seconds, one incidence and LOI, 100
/// completes each.
fn alike(n: usize, incidence: f64, loi: f64) -> Catalogue {
    let categories = (0..n)
        .map(|i| Category::new(i.to_string(), format!("c{i}"), incidence, loi).with_target(100))
        .collect();
    Catalogue::new(Schema::default_survey(), categories).unwrap()
}

fn capped(cuts: bool) -> LpOptions {
    LpOptions {
        hard_cap_seconds: Some(480.0),
        incompatibility_cuts: cuts,
        ..LpOptions::new(480.0)
    }
}

/// Two 300 s categories, p = 0.5, 100 completes each, under a 480 s hard cap: no respondent
/// completes both. N* = max(60,000 / 480, 100 / 0.5) = 200, and the LP without cuts agrees
/// (x = 1 for both costs 2 × 150 = 300 expected seconds, under the cap). With the cut
/// 0.5 x_a + 0.5 x_b ≤ 1 − 0.5 · 0.5 = 0.75 and 0.5 x ≥ 100 / N for each: N ≥ 200 / 0.75.
#[test]
fn an_incompatible_pair_is_cut() {
    let catalogue = alike(2, 0.5, 300.0);
    assert!(rel(catalogue.lower_bound(480.0, None), 200.0) < 1e-12);
    let plain = lower_bound_lp(&catalogue, &capped(false)).unwrap();
    assert!(rel(plain.respondents, 200.0) < 1e-9, "{plain:?}");
    assert_eq!((plain.cut_rounds, plain.cuts), (0, 0));
    let cut = lower_bound_lp(&catalogue, &capped(true)).unwrap();
    assert!(rel(cut.respondents, 200.0 / 0.75) < 1e-6, "{cut:?}");
    assert_eq!((cut.cut_rounds, cut.cuts), (1, 1));
    assert!(cut.cuts_converged);
    assert!(cut.limits.contains(&Limit::Incompatibility), "{cut:?}");
    check_plan(&catalogue, &capped(true), &cut);
    // Without a hard cap (and without groups) nothing is incompatible: the option is inert.
    let mean = LpOptions {
        incompatibility_cuts: true,
        ..LpOptions::new(480.0)
    };
    let lp = lower_bound_lp(&catalogue, &mean).unwrap();
    assert!(rel(lp.respondents, 200.0) < 1e-9);
    assert_eq!(lp.cuts, 0);
}

/// Three mutually incompatible 300 s categories, p = 0.4, 100 completes each. Each pair's cut
/// gives 0.4 (x_a + x_b) ≤ 1 − 0.6² = 0.64, so N ≥ 200 / 0.64 = 312.5; the triangle's gives
/// 0.4 (x_a + x_b + x_c) ≤ 1 − 0.6³ = 0.784, so N ≥ 300 / 0.784 = 382.65 (symmetric plan
/// x = 250 / N each). N* is 250 (the supply of each: 100 / 0.4), and the per-type hard cap
/// (Σ 120 x ≤ 480) does not bind.
#[test]
fn an_incompatible_triangle_is_cut() {
    let catalogue = alike(3, 0.4, 300.0);
    assert!(rel(catalogue.lower_bound(480.0, None), 250.0) < 1e-12);
    let plain = lower_bound_lp(&catalogue, &capped(false)).unwrap();
    assert!(rel(plain.respondents, 250.0) < 1e-9, "{plain:?}");
    let cut = lower_bound_lp(&catalogue, &capped(true)).unwrap();
    assert!(rel(cut.respondents, 300.0 / 0.784) < 1e-6, "{cut:?}");
    assert!(cut.cuts >= 1 && cut.cuts_converged);
    for &shows in &cut.shows {
        assert!(rel(shows, 250.0 / cut.respondents) < 1e-6, "{cut:?}");
    }
}

/// Two 200 s categories fit together under 480 s: no cut applies and the LP stays N* = 200.
#[test]
fn compatible_categories_are_not_cut() {
    let catalogue = alike(2, 0.5, 200.0);
    let cut = lower_bound_lp(&catalogue, &capped(true)).unwrap();
    assert!(rel(cut.respondents, 200.0) < 1e-9, "{cut:?}");
    assert_eq!((cut.cut_rounds, cut.cuts), (0, 0));
    assert!(!cut.limits.contains(&Limit::Incompatibility));
}

/// Two 30 s categories in one exclusion group, p = 0.5, 100 completes each, everyone
/// eligible, no hard cap. The old group row 0.5 x_a + 0.5 x_b ≤ 1 allowed x = 1 for both
/// (LP 200 = N*); the tightened row's right side is 1 − 0.5 · 0.5 = 0.75: N ≥ 200 / 0.75. It
/// applies whether or not the cuts are on.
#[test]
fn the_exclusion_group_row_is_tightened() {
    let catalogue = alike(2, 0.5, 30.0);
    assert!(rel(catalogue.lower_bound(480.0, None), 200.0) < 1e-12);
    for cuts in [false, true] {
        let options = LpOptions {
            exclusion_groups: vec![vec![id(0), id(1)]],
            incompatibility_cuts: cuts,
            ..LpOptions::new(480.0)
        };
        let lp = lower_bound_lp(&catalogue, &options).unwrap();
        assert!(rel(lp.respondents, 200.0 / 0.75) < 1e-6, "{cuts}: {lp:?}");
        assert_eq!(lp.limits, vec![Limit::Exclusion(0)]);
        // The group row already is the pair's clique: nothing is left to cut.
        assert_eq!(lp.cuts, 0);
    }
}

/// A three-member group whose third member is rare: the group row (right side
/// 1 − 0.5 · 0.5 · 0.9 = 0.775) is weaker than the pair's clique (0.75), which the cuts find
/// even without a hard cap.
#[test]
fn cuts_find_cliques_inside_a_group() {
    let categories = vec![
        Category::new("a", "A", 0.5, 30.0).with_target(100),
        Category::new("b", "B", 0.5, 30.0).with_target(100),
        Category::new("c", "C", 0.1, 30.0).with_target(1),
    ];
    let catalogue = Catalogue::new(Schema::default_survey(), categories).unwrap();
    let options = |cuts| LpOptions {
        exclusion_groups: vec![vec![id(0), id(1), id(2)]],
        incompatibility_cuts: cuts,
        ..LpOptions::new(480.0)
    };
    let group_only = lower_bound_lp(&catalogue, &options(false)).unwrap();
    let cut = lower_bound_lp(&catalogue, &options(true)).unwrap();
    // Group row only: 0.5 (x_a + x_b) + 0.1 x_c ≤ 0.775 with 0.1 x_c ≥ 1 / N.
    assert!(
        rel(group_only.respondents, 201.0 / 0.775) < 1e-6,
        "{group_only:?}"
    );
    // Pair cut: 0.5 (x_a + x_b) ≤ 0.75 gives N ≥ 266.67, and then the group row has room for
    // 0.1 x_c = 1 / N.
    assert!(rel(cut.respondents, 200.0 / 0.75) < 1e-6, "{cut:?}");
    assert!(cut.cuts >= 1);
}

/// The cut is not over-tight: on the pair above, greedy routing (show one, and the other only
/// to those who did not qualify) needs at least the bound on average.
#[test]
fn the_cut_bound_is_below_what_greedy_needs() {
    let catalogue = alike(2, 0.5, 300.0);
    let bound = lower_bound_lp(&catalogue, &capped(true))
        .unwrap()
        .respondents;
    let settings = Settings {
        runs: 200,
        seed: 5,
        threads: Some(1),
        ..Settings::default()
    };
    let router = policy("greedy").unwrap();
    let summary = monte_carlo(&catalogue, router.as_ref(), &settings, &|_| {}).unwrap();
    // Greedy completes 0.75 per respondent until one quota fills: about 267 + a short tail.
    assert!(
        summary.respondents_mean >= bound,
        "{} < {bound}",
        summary.respondents_mean
    );
    assert!(
        summary.respondents_mean < bound * 1.15,
        "{} vs {bound}",
        summary.respondents_mean
    );
}

/// The plan the LP returns is feasible: every quota filled at N_LP respondents, within the
/// mean budget and the qualifier cap.
fn check_plan(catalogue: &Catalogue, options: &LpOptions, lp: &LpBound) {
    if !lp.respondents.is_finite() || lp.respondents == 0.0 {
        return;
    }
    for c in catalogue.ids() {
        let want = options
            .remaining
            .as_ref()
            .map_or(f64::from(catalogue.category(c).target), |r| r[c.index()]);
        let got = lp.shows[c.index()] * catalogue.incidence(c) * lp.respondents;
        assert!(
            got >= want * (1.0 - 1e-6) - 1e-6,
            "`{}`: {got} < {want}",
            catalogue.category(c).key
        );
    }
    assert!(lp.seconds_per_respondent <= options.budget_seconds * (1.0 + 1e-6));
    if let Some(k) = options.max_qualifiers {
        assert!(lp.qualifiers_per_respondent <= f64::from(k) * (1.0 + 1e-6));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Without extras the LP is the closed form; each extra only raises it; every plan is
    /// feasible.
    #[test]
    fn the_lp_is_the_closed_form_tightened(
        catalogue in testing::catalogues(12),
        budget in 60.0f64..900.0,
        k in prop::option::of(1u32..6),
        tolerance in prop::option::of(0.0f64..0.5),
        group in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let closed = catalogue.lower_bound(budget, None);
        let plain = LpOptions::new(budget);
        let lp = lower_bound_lp(&catalogue, &plain).unwrap();
        if closed.is_finite() {
            prop_assert!(rel(lp.respondents, closed) < 1e-6 || (closed == 0.0 && lp.respondents == 0.0),
                "{} vs {closed}", lp.respondents);
        } else {
            prop_assert!(lp.respondents.is_infinite());
        }
        check_plan(&catalogue, &plain, &lp);
        let mut members: Vec<CategoryId> = group.iter().map(|i| id(i.index(catalogue.len()))).collect();
        members.sort();
        members.dedup();
        let extras = LpOptions {
            hard_cap_seconds: Some(budget * 1.5),
            max_qualifiers: k,
            exposure_tolerance: tolerance,
            exclusion_groups: vec![members],
            ..plain.clone()
        };
        let tight = lower_bound_lp(&catalogue, &extras).unwrap();
        prop_assert!(tight.respondents >= lp.respondents * (1.0 - 1e-6), "{} < {}", tight.respondents, lp.respondents);
        prop_assert!(tight.respondents >= catalogue.lower_bound(budget, k) * (1.0 - 1e-6));
        check_plan(&catalogue, &extras, &tight);
    }

    /// The cuts only raise the bound, and the plan still fills every quota.
    #[test]
    fn cuts_only_raise_the_bound(
        catalogue in testing::catalogues(10),
        cap in 100.0f64..600.0,
        k in prop::option::of(1u32..6),
        group in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let mut members: Vec<CategoryId> = group.iter().map(|i| id(i.index(catalogue.len()))).collect();
        members.sort();
        members.dedup();
        let without = LpOptions {
            hard_cap_seconds: Some(cap),
            max_qualifiers: k,
            exclusion_groups: vec![members],
            ..LpOptions::new(cap)
        };
        let with = LpOptions { incompatibility_cuts: true, ..without.clone() };
        let a = lower_bound_lp(&catalogue, &without).unwrap();
        let b = lower_bound_lp(&catalogue, &with).unwrap();
        if a.respondents.is_infinite() {
            prop_assert!(b.respondents.is_infinite());
        } else {
            prop_assert!(b.respondents >= a.respondents * (1.0 - 1e-9), "{} < {}", b.respondents, a.respondents);
        }
        prop_assert!(b.cut_rounds <= MAX_CUT_ROUNDS);
        check_plan(&catalogue, &with, &b);
    }
}
