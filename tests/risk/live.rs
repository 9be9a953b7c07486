//! The live adapter: a live engine's categories and cells ranked from its counts, by default
//! with requirement = the share still to collect.

use quotaroute::catalogue::{Catalogue, Category, QuotaCell};
use quotaroute::live::{Engine, LiveConfig, ManualClock, Reservation, Timestamp};
use quotaroute::risk::{LiveRisk, LiveRiskError, RequirementKind, RiskModel, Scope};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Rule, Schema};

fn engine(clock: &ManualClock) -> Engine<Greedy, &ManualClock> {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let female = schema.response(g, "female").unwrap();
    let catalogue = Catalogue::new(
        schema,
        vec![
            Category::new("16", "Fresh Coffee", 0.3, 120.0).with_target(4),
            Category::new("4", "Self Tan", 0.2, 100.0)
                .with_target(10)
                .with_cell(QuotaCell::new("women", Rule::one_of(g, [female]), 5)),
            Category::new("9", "Closed", 0.2, 100.0).with_target(0),
        ],
    )
    .unwrap();
    Engine::new(catalogue, Greedy::scarcity(), clock, LiveConfig::default()).unwrap()
}

#[test]
fn a_full_category_ranks_below_an_unfilled_one() {
    let clock = ManualClock::new(Timestamp(0));
    let e = engine(&clock);
    let schema = e.catalogue().schema().clone();
    let unknown = Answers::unknown(&schema);
    let coffee = e.catalogue().find("16").unwrap();
    // Coffee: 3 completes and 1 pending slot, full. Self Tan: 1 complete of 10.
    for id in 0..4 {
        assert!(matches!(
            e.reserve(id, coffee, &unknown).unwrap(),
            Reservation::Accepted { .. }
        ));
    }
    for id in 0..3 {
        e.complete(id, coffee).unwrap();
    }
    let tan = e.catalogue().find("4").unwrap();
    e.reserve(10, tan, &unknown).unwrap();
    e.complete(10, tan).unwrap();

    let risk = LiveRisk::new(10.0).unwrap();
    assert_eq!(risk.model().requirement(), RequirementKind::Remaining);
    let report = risk.rank_engine(&e, Scope::Categories).unwrap();
    let names: Vec<&str> = report.ranking().iter().map(|r| r.name()).collect();
    // The target-0 category has nothing to collect: left out.
    assert_eq!(names, ["4", "16"]);
    let full = report.get("16").unwrap();
    // remaining = (4 − 3 − 1) / 4 = 0, pace = 0.
    assert_eq!(
        report.metrics_of(full).next(),
        Some(("requirement", Some(0.0)))
    );
    assert_eq!(full.score(), 0.0);
    let open = report.get("4").unwrap();
    // remaining = 9/10, pace = 9/10 days: 0.4 · 0.9 + 0.3 · 0.9.
    assert!((open.score() - 0.63).abs() < 1e-12, "{}", open.score());

    // The prototype's requirement (received / required) gets it the wrong way round.
    let filled = risk
        .clone()
        .with_model(RiskModel::prototype())
        .rank_engine(&e, Scope::Categories)
        .unwrap();
    assert_eq!(filled.ranking()[0].name(), "16");

    // Counting completes only, coffee still has one to collect.
    let completes = risk
        .counting_pending(false)
        .rank_engine(&e, Scope::Categories)
        .unwrap();
    let coffee = completes.get("16").unwrap();
    assert_eq!(
        completes.metrics_of(coffee).next(),
        Some(("requirement", Some(0.25)))
    );
}

#[test]
fn cells_are_ranked_by_category_and_cell_id() {
    let clock = ManualClock::new(Timestamp(0));
    let e = engine(&clock);
    let schema = e.catalogue().schema().clone();
    let woman = Answers::from_names(&schema, [("gender", "female")]).unwrap();
    let tan = e.catalogue().find("4").unwrap();
    for id in 0..5 {
        e.reserve(id, tan, &woman).unwrap();
        e.complete(id, tan).unwrap();
    }
    let risk = LiveRisk::new(5.0).unwrap();
    let cells = risk.rank_engine(&e, Scope::Cells).unwrap();
    let names: Vec<&str> = cells.ranking().iter().map(|r| r.name()).collect();
    assert_eq!(names, ["4/women"]);
    assert_eq!(cells.ranking()[0].score(), 0.0, "the cell is full");
    // Together: the category (5 of 10) above its full cell, coffee (0 of 4) on top.
    let both = risk.rank_engine(&e, Scope::Both).unwrap();
    let names: Vec<&str> = both.ranking().iter().map(|r| r.name()).collect();
    assert_eq!(names, ["16", "4", "4/women"]);
}

#[test]
fn days_left_must_be_positive() {
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        match LiveRisk::new(bad) {
            Err(LiveRiskError::DaysLeft { value }) => {
                assert!(value.is_nan() && bad.is_nan() || value == bad)
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}
