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
