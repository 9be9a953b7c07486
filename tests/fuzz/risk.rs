//! The risk ranking document of the `risk` example (`RiskDocument` in
//! `examples/risk/document.rs`, included here; checked by `into_request`, ranked, rendered as
//! a `RankingDocument`).

use proptest::prelude::*;
use quotaroute::risk::RiskModel;
use serde_json::{Value, json};

#[path = "../../examples/risk/main.rs"]
#[allow(dead_code)]
mod risk_example;

use risk_example::document::{RankingDocument, RiskDocument};

use crate::check::{json_error, message};
use crate::mutate::*;

fn entity() -> impl Strategy<Value = Value> {
    (
        "[A-Za-z]{1,8}",
        1u32..1000,
        0u32..1000,
        prop::option::of(prop::collection::vec(0u32..50, 5)),
        prop::option::of(0u32..=100),
        0u32..100,
        prop::option::of(0u32..10),
    )
        .prop_map(|(name, required, received, levels, fit, days, extra)| {
            let mut e = json!({"name": name, "required": required, "received": received.min(required), "days_left": days});
            if let Some(l) = levels {
                e["quality_levels"] = json!(l);
            }
            if let Some(f) = fit {
                e["percent_fit"] = json!(f);
            }
            if let Some(x) = extra {
                e["extra"] = json!({"budget": x});
            }
            e
        })
}

fn documents() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(entity(), 0..5),
        prop::option::of(prop_oneof![Just("filled"), Just("remaining")]),
        prop::option::of(prop::collection::vec(0u32..10, 4)),
    )
        .prop_map(|(entities, requirement, weights)| {
            let mut d = json!({"entities": entities});
            if let Some(r) = requirement {
                d["requirement"] = json!(r);
            }
            if let Some(w) = weights {
                d["weights"] =
                    json!({"requirement": w[0], "pace": w[1], "quality": w[2], "fit": w[3]});
            }
            d
        })
}

fn check_risk(bytes: &[u8]) -> Result<(), TestCaseError> {
    let doc = match serde_json::from_slice::<RiskDocument>(bytes) {
        Ok(d) => d,
        Err(e) => {
            json_error(&e, &[])?;
            return Ok(());
        }
    };
    let request = match doc.into_request(RiskModel::prototype()) {
        Ok(r) => r,
        Err(e) => {
            let m = message(&e)?;
            if let Some(field) = e.field() {
                // `extra.budget`, `quality_levels[2]`: at least the entity's field is named.
                let head = field.split(['.', '[']).next().unwrap_or_default();
                prop_assert!(
                    m.contains(&head.escape_debug().to_string()),
                    "{m:?} does not name {field}"
                );
            }
            return Ok(());
        }
    };
    // The document the request describes reads back as the same request.
    let again =
        RiskDocument::new(&request.model, &request.entities).into_request(RiskModel::prototype());
    prop_assert!(again.is_ok(), "{:?}", again.err());
    let again = again.unwrap();
    prop_assert_eq!(&again.entities, &request.entities);
    prop_assert_eq!(
        again.model.weights().collect::<Vec<_>>(),
        request.model.weights().collect::<Vec<_>>()
    );
    match request.rank() {
        Ok(report) => {
            prop_assert_eq!(report.len(), request.entities.len());
            for (i, row) in report.ranking().iter().enumerate() {
                prop_assert_eq!(row.rank(), i + 1);
                prop_assert!(row.score().is_finite());
            }
            let out = RankingDocument::new(&report).rounded(6);
            let text = serde_json::to_string(&out);
            prop_assert!(text.is_ok(), "{:?}", text.err());
        }
        Err(e) => {
            message(&e)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn risk_document_arbitrary_bytes(bytes in junk()) {
        check_risk(&bytes)?;
    }

    #[test]
    fn risk_document_mutated((doc, json, bytes) in mutated_json(documents())) {
        check_risk(&render_json(&doc, &json, &bytes))?;
    }
}
