//! The seed's worked examples, bad input, pauses, departures and snapshots.

use quotaroute::dispatch::{
    Dispatcher, DispatcherState, Error, LeavePolicy, RestoreError, STATE_FORMAT_VERSION,
};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

fn three_recipients() -> Dispatcher<&'static str> {
    Dispatcher::from_weights([("A", 0.8), ("B", 1.0), ("C", 1.2)], LeavePolicy::Forget).unwrap()
}

#[test]
fn batches_of_100_50_then_300_with_a_leaver_and_a_joiner() {
    let mut d = three_recipients();
    assert_eq!(d.dispatch(100).unwrap(), vec![27, 33, 40]);
    assert!(close(
        d.cumulative_error(&"A").unwrap(),
        27.0 - 100.0 * 0.8 / 3.0
    ));
    assert!(close(d.cumulative_error(&"B").unwrap(), 33.0 - 100.0 / 3.0));
    assert!(close(d.cumulative_error(&"C").unwrap(), 0.0));
    assert_eq!(d.dispatch(50).unwrap(), vec![13, 17, 20]);
    for id in ["A", "B", "C"] {
        assert!(close(d.cumulative_error(&id).unwrap(), 0.0), "{id}");
    }
    // Day 2: A leaves, C is now 1.1, D joins at 0.5.
    d.configure([("B", 1.0), ("C", 1.1), ("D", 0.5)]).unwrap();
    assert_eq!(d.ids(), &["B", "C", "D"]);
    assert_eq!(d.dispatch(300).unwrap(), vec![115, 127, 58]);
}

#[test]
fn single_item_batches_reach_the_smaller_recipient() {
    // Rounding each batch alone gives A, A, A; carrying the error gives A, B, A.
    let mut d = Dispatcher::from_weights([("A", 0.6), ("B", 0.4)], LeavePolicy::Forget).unwrap();
    let got: Vec<Vec<u64>> = (0..3).map(|_| d.dispatch(1).unwrap()).collect();
    assert_eq!(got, vec![vec![1, 0], vec![0, 1], vec![1, 0]]);
    let mut s = Dispatcher::from_weights([("A", 0.6), ("B", 0.4)], LeavePolicy::Forget).unwrap();
    let seq: Vec<&str> = (0..5).map(|_| *s.next_id().unwrap()).collect();
    assert_eq!(seq, vec!["A", "B", "A", "B", "A"]);
}

#[test]
fn starting_errors_example_with_the_correct_last_column() {
    let mut d = three_recipients();
    d.set_cumulative_error(&"A", 0.5).unwrap();
    d.set_cumulative_error(&"B", 0.6).unwrap();
    d.set_cumulative_error(&"C", -1.1).unwrap();
    assert_eq!(d.dispatch(100).unwrap(), vec![26, 33, 41]);
    // −1/6, 4/15, −1/10, not the seed's 0.333, 0.867, −1.2 (which add the carried error twice).
    assert!(close(d.cumulative_error(&"A").unwrap(), -1.0 / 6.0));
    assert!(close(d.cumulative_error(&"B").unwrap(), 4.0 / 15.0));
    assert!(close(d.cumulative_error(&"C").unwrap(), -0.1));
}

#[test]
fn tie_at_one_and_a_half_goes_to_the_earlier_added() {
    let mut d = Dispatcher::from_weights([("A", 1.0), ("B", 1.0)], LeavePolicy::Forget).unwrap();
    // Ideals 1.5 / 1.5 round to 2 / 2; one must be taken back, from the later-added.
    assert_eq!(d.dispatch(3).unwrap(), vec![2, 1]);
    assert!(close(d.cumulative_error(&"A").unwrap(), 0.5));
    assert!(close(d.cumulative_error(&"B").unwrap(), -0.5));
}

#[test]
fn ties_within_a_billionth_count_as_ties() {
    // 0.1 + 0.2 is 0.30000000000000004: a tie with 0.3 for the purposes of dispatch.
    let mut d =
        Dispatcher::from_weights([("x", 0.3), ("y", 0.1 + 0.2)], LeavePolicy::Forget).unwrap();
    assert_eq!(d.dispatch(1).unwrap(), vec![1, 0]);
    let mut d =
        Dispatcher::from_weights([("y", 0.1 + 0.2), ("x", 0.3)], LeavePolicy::Forget).unwrap();
    assert_eq!(d.dispatch(1).unwrap(), vec![1, 0]);
    assert_eq!(d.dispatch(3).unwrap(), vec![1, 2]);
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let mut d = three_recipients();
    d.dispatch(7).unwrap();
    let before = d.to_state();
    for w in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.5] {
        assert!(matches!(d.add("E", w), Err(Error::InvalidWeight(_))));
        assert!(matches!(
            d.set_weight(&"A", w),
            Err(Error::InvalidWeight(_))
        ));
        assert!(matches!(
            d.configure([("A", 1.0), ("B", w)]),
            Err(Error::InvalidWeight(_))
        ));
    }
    assert!(matches!(
        d.add("A", 1.0),
        Err(Error::DuplicateId { entries: None, .. })
    ));
    assert!(matches!(
        d.configure([("A", 1.0), ("B", 1.0), ("A", 2.0)]),
        Err(Error::DuplicateId {
            entries: Some((0, 2)),
            ..
        })
    ));
    assert!(matches!(
        d.set_weight(&"Z", 1.0),
        Err(Error::UnknownId { .. })
    ));
    assert!(d.remove(&"Z").is_err());
    assert!(matches!(
        d.dispatch(1 << 50),
        Err(Error::SizeTooLarge { .. })
    ));
    assert!(d.set_cumulative_error(&"A", f64::NAN).is_err());
    assert_eq!(d.to_state(), before);

    // All paused: a positive size is refused, size 0 is fine.
    for id in ["A", "B", "C"] {
        d.set_weight(&id, 0.0).unwrap();
    }
    let paused = d.to_state();
    let err = d.dispatch(5).unwrap_err();
    assert_eq!(
        err,
        Error::NoActiveRecipient {
            size: Some(5),
            held: 3
        }
    );
    assert!(err.to_string().contains("no active recipient"));
    assert_eq!(
        d.next(),
        Err(Error::NoActiveRecipient {
            size: None,
            held: 3
        })
    );
    assert_eq!(d.dispatch(0).unwrap(), vec![0, 0, 0]);
    assert_eq!(d.to_state(), paused);
    let mut empty: Dispatcher<String> = Dispatcher::new();
    assert!(empty.dispatch(1).is_err());
    assert_eq!(empty.dispatch(0).unwrap(), Vec::<u64>::new());
}

#[test]
fn error_messages_name_the_culprit() {
    let mut d = three_recipients();
    let e = d.add("E", -2.0).unwrap_err().to_string();
    assert!(
        e.contains("\"E\"") && e.contains("-2") && e.contains("negative"),
        "{e}"
    );
    let e = d.set_weight(&"Q", 1.0).unwrap_err().to_string();
    assert!(e.contains("\"Q\""), "{e}");
}

#[test]
fn size_zero_changes_nothing() {
    let mut d = three_recipients();
    d.set_cumulative_error(&"A", -1.7).unwrap();
    d.set_cumulative_error(&"C", 1.7).unwrap();
    let before = d.to_state();
    assert_eq!(d.dispatch(0).unwrap(), vec![0, 0, 0]);
    assert_eq!(d.to_state(), before);
}

#[test]
fn paused_recipients_get_nothing_and_keep_their_error() {
    let mut d = three_recipients();
    d.dispatch(10).unwrap();
    let kept = d.cumulative_error(&"B").unwrap();
    d.set_weight(&"B", 0.0).unwrap();
    assert_eq!(d.active_len(), 2);
    for _ in 0..20 {
        assert_eq!(d.dispatch(3).unwrap()[1], 0);
        assert_ne!(d.next().unwrap(), 1);
    }
    assert!(close(d.cumulative_error(&"B").unwrap(), kept));
    d.set_weight(&"B", 1.0).unwrap();
    assert!(d.dispatch(30).unwrap()[1] > 0);
}

#[test]
fn leaving_forgets_or_spreads() {
    let sum = |d: &Dispatcher<&str>| -> i128 {
        (0..d.len())
            .map(|i| d.exact_error(i).unwrap().numerator)
            .sum()
    };
    let mut forget = three_recipients();
    forget.dispatch(7).unwrap();
    let carried = forget.remove(&"B").unwrap();
    assert!(carried != 0.0);
    assert_ne!(sum(&forget), 0);

    let mut spread =
        Dispatcher::from_weights([("A", 0.8), ("B", 1.0), ("C", 1.2)], LeavePolicy::Spread)
            .unwrap();
    spread.dispatch(7).unwrap();
    spread.remove(&"B").unwrap();
    assert_eq!(sum(&spread), 0);
    spread.set_weight(&"A", 0.0).unwrap();
    spread.remove(&"C").unwrap(); // only a paused recipient left: it takes the whole error
    assert_eq!(sum(&spread), 0);
}

#[cfg(feature = "serde")]
#[test]
fn snapshot_round_trips_exactly_and_continues_identically() {
    let mut d = Dispatcher::from_weights(
        [
            ("A".to_string(), 0.1 + 0.2),
            ("B".into(), 1.0 / 3.0),
            ("C".into(), 2.5e-7),
        ],
        LeavePolicy::Spread,
    )
    .unwrap();
    d.dispatch(1234).unwrap();
    for _ in 0..77 {
        d.next().unwrap();
    }
    let json = serde_json::to_string(&d).unwrap();
    let mut back: Dispatcher<String> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.to_state(), d.to_state());
    assert_eq!(back.weights(), d.weights());
    assert_eq!(back.leave_policy(), LeavePolicy::Spread);
    for k in 0..500 {
        if k % 50 == 0 {
            assert_eq!(back.dispatch(k).unwrap(), d.dispatch(k).unwrap());
        }
        assert_eq!(back.next().unwrap(), d.next().unwrap());
    }
    assert_eq!(back.to_state(), d.to_state());
}

#[test]
fn snapshot_version_and_consistency_are_checked() {
    let d = three_recipients();
    let mut state = d.to_state();
    state.format_version = STATE_FORMAT_VERSION + 1;
    assert_eq!(
        Dispatcher::from_state(state).unwrap_err(),
        RestoreError::UnsupportedVersion {
            found: STATE_FORMAT_VERSION + 1,
            supported: STATE_FORMAT_VERSION
        }
    );
    let mut state = d.to_state();
    state.recipients[1].weight = 2.0;
    assert!(matches!(
        Dispatcher::from_state(state),
        Err(RestoreError::DenominatorMismatch { .. })
    ));
    let mut state = d.to_state();
    state.recipients[2].error_numerator = "12x".into();
    let e = Dispatcher::from_state(state).unwrap_err();
    assert!(
        e.to_string().contains("recipients[2].error_numerator"),
        "{e}"
    );
    let mut state: DispatcherState<&str> = d.to_state();
    state.recipients[2].id = "A";
    assert!(matches!(
        Dispatcher::from_state(state),
        Err(RestoreError::DuplicateId { position: 2, .. })
    ));
    // Through serde too: the typed error's message inside the serde error.
    #[cfg(feature = "serde")]
    {
        let json = serde_json::to_string(&d.to_state()).unwrap().replace(
            &format!("\"format_version\":{STATE_FORMAT_VERSION}"),
            "\"format_version\":99",
        );
        let err = serde_json::from_str::<Dispatcher<String>>(&json).unwrap_err();
        assert!(err.to_string().contains("version 99"), "{err}");
    }
}

#[test]
fn streaming_and_batches_mix() {
    let mut a = three_recipients();
    let mut b = three_recipients();
    for k in 0..300u64 {
        if k % 7 == 0 {
            assert_eq!(a.dispatch(k).unwrap(), b.dispatch(k).unwrap());
        } else {
            let i = a.next().unwrap();
            assert_eq!(b.dispatch(1).unwrap()[i], 1);
        }
    }
    assert_eq!(a.to_state(), b.to_state());
}

/// Folding the per-operation error enums into one kept every message word for word, and the old
/// names still compile (deprecated aliases of `dispatch::Error`).
#[test]
#[allow(deprecated)]
fn every_operation_error_keeps_its_message() {
    use quotaroute::dispatch::{
        AddError, ConfigureError, DispatchError, NextError, Operation, RemoveError, SetErrorError,
        SetWeightError,
    };
    let mut d = three_recipients();
    let add: Result<(), AddError> = d.add("A", 1.0);
    assert_eq!(
        add.unwrap_err().to_string(),
        r#"recipient "A" is already held; ids must be unique"#
    );
    let configure: Result<(), ConfigureError> = d.configure([("A", 1.0), ("B", 1.0), ("A", 2.0)]);
    assert_eq!(
        configure.unwrap_err().to_string(),
        r#"recipient "A" appears twice in the weights (entries 0 and 2, from 0)"#
    );
    let set: Result<(), SetWeightError> = d.set_weight(&"Z", 1.0);
    assert_eq!(set.unwrap_err().to_string(), r#"no recipient "Z" is held"#);
    let remove: Result<f64, RemoveError> = d.remove(&"Z");
    assert_eq!(
        remove.unwrap_err().to_string(),
        r#"no recipient "Z" is held"#
    );
    let set_error: Result<(), SetErrorError> = d.set_cumulative_error(&"A", f64::INFINITY);
    assert_eq!(
        set_error.unwrap_err().to_string(),
        r#"cumulative error inf for "A" is not usable: it must be finite and at most 1099511627776 in magnitude"#
    );
    let too_large: Result<Vec<u64>, DispatchError> = d.dispatch(1 << 50);
    assert_eq!(
        too_large.unwrap_err().to_string(),
        "batch size 1125899906842624 exceeds the maximum of 1099511627776"
    );
    for id in ["A", "B", "C"] {
        d.set_weight(&id, 0.0).unwrap();
    }
    assert_eq!(
        d.dispatch(5).unwrap_err().to_string(),
        "cannot dispatch 5 items: no active recipient (all 3 held are paused or none is held)"
    );
    let next: Result<usize, NextError> = d.next();
    assert_eq!(
        next.unwrap_err().to_string(),
        "cannot hand out an item: no active recipient (all 3 held are paused or none is held)"
    );
    let out_of_range = |operation, id: Option<&str>| {
        Error::OutOfRange {
            operation,
            id: id.map(str::to_owned),
        }
        .to_string()
    };
    let range = "would push the cumulative errors out of the supported range";
    let a = Some(r#""A""#);
    assert_eq!(
        out_of_range(Operation::Add, a),
        format!(r#"adding recipient "A" {range}"#)
    );
    assert_eq!(
        out_of_range(Operation::SetWeight, a),
        format!(r#"setting the weight of "A" {range}"#)
    );
    assert_eq!(
        out_of_range(Operation::Remove, a),
        format!(r#"removing "A" {range}"#)
    );
    assert_eq!(
        out_of_range(Operation::Configure, None),
        format!("the new weights {range}")
    );
    assert_eq!(
        out_of_range(Operation::Dispatch { size: 7 }, a),
        r#"dispatching 7 items would push the cumulative error of "A" beyond 1099511627776 items"#
    );
    let full = Error::TooManyRecipients {
        count: 3,
        limit: 2,
        id: Some(r#""D""#.to_owned()),
    };
    assert_eq!(
        full.to_string(),
        r#"cannot add recipient "D": the dispatcher already holds the maximum of 2 recipients"#
    );
    let many = Error::TooManyRecipients {
        count: 3,
        limit: 2,
        id: None,
    };
    assert_eq!(
        many.to_string(),
        "3 recipients given; at most 2 are supported"
    );
}
