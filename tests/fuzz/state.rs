//! Quota snapshots (`QuotaSnapshot` JSON, then `QuotaState::restore`) and simulation scenario
//! and settings documents.

use proptest::prelude::*;
use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::schema::Schema;
use quotaroute::sim::{Scenario, Settings};
use quotaroute::state::{QuotaSnapshot, QuotaState, RestoreError};
use quotaroute::testing;
use serde_json::{Value, json};

use crate::check::{json_error, message, round_trip};
use crate::mutate::*;

fn fixed_catalogue() -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("a", "A", 0.5, 100.0).with_target(3),
            Category::new("b", "B", 0.2, 60.0).with_target(0),
            Category::new("c", "C", 1.0, 30.0),
        ],
    )
    .unwrap()
}

/// A catalogue and a snapshot of some moment of its fieldwork, as JSON.
fn snapshots() -> impl Strategy<Value = (Catalogue, Value)> {
    prop_oneof![
        1 => Just(fixed_catalogue()).prop_map(|c| {
            let s = serde_json::to_value(QuotaState::new(&c).snapshot(&c)).unwrap();
            (c, s)
        }),
        3 => testing::fieldwork(5).prop_map(|f| {
            let mut state = f.state();
            for id in f.catalogue.ids() {
                state.record_shown(id, &f.respondent.answers);
            }
            let s = serde_json::to_value(state.snapshot(&f.catalogue)).unwrap();
            (f.catalogue, s)
        }),
    ]
}

fn check_snapshot(catalogue: &Catalogue, bytes: &[u8]) -> Result<(), TestCaseError> {
    let snapshot = match serde_json::from_slice::<QuotaSnapshot>(bytes) {
        Ok(s) => s,
        Err(e) => {
            json_error(&e, &[])?;
            return Ok(());
        }
    };
    prop_assert_eq!(&round_trip(&snapshot)?, &snapshot);
    match QuotaState::restore(catalogue, &snapshot) {
        Ok(state) => {
            // Restoring is exact: the state gives back the snapshot it came from.
            prop_assert_eq!(&state.snapshot(catalogue), &snapshot);
            let view = state.view();
            for id in catalogue.ids() {
                let (target, done) = (state.target(id), view.completed(id));
                prop_assert!(done <= target);
                prop_assert_eq!(view.open_slots(id), target - done);
            }
            prop_assert_eq!(
                state.all_full(),
                catalogue.ids().all(|id| !view.is_open(id))
            );
        }
        Err(e) => {
            let m = message(&e)?;
            match &e {
                RestoreError::Invalid { field, .. } => prop_assert!(m.contains(field)),
                RestoreError::Version { found, .. } => prop_assert!(m.contains(&found.to_string())),
                _ => {}
            }
        }
    }
    Ok(())
}

fn scenarios() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({})),
        Just(serde_json::to_value(Scenario::default()).unwrap()),
        Just(json!({
            "catalogue": "examples/data/fake_category_data.csv",
            "policies": ["greedy", "packing"], "runs": 400, "seed": 7, "hard_cap": 600.0,
            "mean_budget": 480.0, "max_qualifiers": 4, "incidence_error": 0.2, "oracle": true,
            "learn": 50.0, "qualifier_seconds": 10.0, "max_respondents": 100000,
            "success_at": 3666, "robustness": true, "threads": 2
        })),
        Just(serde_json::to_value(Settings::default()).unwrap()),
    ]
}

fn check_scenario(bytes: &[u8]) -> Result<(), TestCaseError> {
    match serde_json::from_slice::<Scenario>(bytes) {
        Ok(s) => {
            prop_assert_eq!(&round_trip(&s)?, &s);
            let settings = s.settings();
            if let Err(e) = settings.validate() {
                message(&e)?;
            } else {
                prop_assert!(settings.hard_cap > 0.0 && settings.runs > 0);
                let _ = settings.respondent_limit(&fixed_catalogue());
            }
        }
        Err(e) => {
            json_error(&e, &[])?;
        }
    }
    match serde_json::from_slice::<Settings>(bytes) {
        Ok(s) => {
            prop_assert_eq!(&round_trip(&s)?, &s);
            if let Err(e) = s.validate() {
                message(&e)?;
            } else {
                let c = fixed_catalogue();
                let _ = s.respondent_limit(&c);
                prop_assert_eq!(s.true_incidence(&c, 0).len(), c.len());
            }
        }
        Err(e) => {
            json_error(&e, &[])?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn snapshot_arbitrary_bytes(bytes in junk()) {
        check_snapshot(&fixed_catalogue(), &bytes)?;
    }

    #[test]
    fn snapshot_mutated(
        ((catalogue, doc), json, bytes) in snapshots().prop_flat_map(|(c, s)| {
            (Just((c, s.clone())), prop_oneof![Just(Vec::new()), json_ops(4)], prop_oneof![2 => Just(Vec::new()), 1 => byte_ops(3)])
        })
    ) {
        check_snapshot(&catalogue, &render_json(&doc, &json, &bytes))?;
    }

    #[test]
    fn scenario_arbitrary_bytes(bytes in junk()) {
        check_scenario(&bytes)?;
    }

    #[test]
    fn scenario_mutated((doc, json, bytes) in mutated_json(scenarios())) {
        check_scenario(&render_json(&doc, &json, &bytes))?;
    }
}
