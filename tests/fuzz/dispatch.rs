//! Dispatcher snapshots (`DispatcherState` JSON, restored by deserialising a `Dispatcher`).

use proptest::prelude::*;
use quotaroute::dispatch::{Dispatcher, LeavePolicy};

use crate::check::{json_error, round_trip};
use crate::mutate::*;

/// Dispatchers that have lived a little: recipients added, batches dispatched, one removed.
fn dispatchers() -> impl Strategy<Value = Dispatcher<String>> {
    (
        prop::collection::vec(
            prop_oneof![Just(0.0), 0.001f64..10.0, (1u32..5u32).prop_map(f64::from)],
            0..6,
        ),
        prop::collection::vec(0u64..500, 0..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(weights, sizes, spread, remove)| {
            let policy = if spread {
                LeavePolicy::Spread
            } else {
                LeavePolicy::Forget
            };
            let mut d = Dispatcher::with_policy(policy);
            for (i, w) in weights.iter().enumerate() {
                d.add(format!("r{i}"), *w).unwrap();
            }
            for s in sizes {
                let _ = d.dispatch(s);
            }
            if remove && !weights.is_empty() {
                d.remove(&"r0".to_owned()).unwrap();
                let _ = d.dispatch(7);
            }
            d
        })
}

/// An accepted snapshot must restore into a working dispatcher: it writes back the same
/// snapshot, dispatches (or refuses with a typed error) and keeps doing so.
fn check_dispatcher(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut d = match serde_json::from_slice::<Dispatcher<String>>(bytes) {
        Ok(d) => d,
        Err(e) => {
            json_error(&e, &["denominator"])?;
            return Ok(());
        }
    };
    let state = d.to_state();
    let back: Dispatcher<String> = round_trip(&d)?;
    prop_assert_eq!(back.to_state(), state.clone());
    for size in [0, 1, 3, 1000, u64::MAX] {
        match d.dispatch(size) {
            Ok(alloc) => {
                prop_assert_eq!(alloc.len(), d.len());
                let total: u128 = alloc.iter().map(|&a| u128::from(a)).sum();
                if d.active_len() > 0 {
                    prop_assert_eq!(total, u128::from(size));
                }
            }
            Err(e) => {
                crate::check::message(&e)?;
            }
        }
    }
    if d.next().is_ok() {
        prop_assert!(d.cumulative_errors().all(|e| e.is_finite()));
    }
    let _ = d.add("new".to_owned(), 1.0);
    let _ = d.dispatch(10);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn dispatcher_state_arbitrary_bytes(bytes in junk()) {
        check_dispatcher(&bytes)?;
    }

    #[test]
    fn dispatcher_state_mutated((doc, json, bytes) in mutated_json(dispatchers().prop_map(|d| serde_json::to_value(&d).unwrap()))) {
        check_dispatcher(&render_json(&doc, &json, &bytes))?;
    }

}

/// Found by fuzzing: with every recipient paused (or none), the weights cannot vouch for the
/// stored denominator, and one beyond any weights' (up to u128::MAX) overflowed the error
/// arithmetic (a panic in debug builds, garbage in release). Now a typed error.
#[test]
fn a_denominator_no_weights_give_is_refused() {
    for recipients in [
        "[]",
        r#"[{"id": "a", "weight": 0.0, "error_numerator": "0"}]"#,
    ] {
        for den in [
            "340282366920938463463374607431768211455",
            "170141183460469231731687303715884105728",
            "151115727451828646838273",
        ] {
            let doc = format!(
                r#"{{"format_version": 1, "leave_policy": "spread", "denominator": "{den}", "recipients": {recipients}}}"#
            );
            let err = serde_json::from_str::<Dispatcher<String>>(&doc).unwrap_err();
            assert!(
                err.to_string().starts_with(&format!(
                    "denominator {den} is above the largest possible, 151115727451828646838272"
                )),
                "{err}"
            );
        }
        // The largest possible is accepted, and the dispatcher works with it.
        let doc = format!(
            r#"{{"format_version": 1, "leave_policy": "spread", "denominator": "151115727451828646838272", "recipients": {recipients}}}"#
        );
        let mut d: Dispatcher<String> = serde_json::from_str(&doc).unwrap();
        d.add("b".to_owned(), 1.0).unwrap();
        assert_eq!(d.dispatch(10).unwrap().iter().sum::<u64>(), 10);
    }
}
