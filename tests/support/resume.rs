//! One respondent's interview carried from one node to another through their shared store:
//! the scenario both the in-memory and the Redis tests run.

use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::live::{Answer, Completion, Engine, LiveConfig, Reservation, Worker};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Respondent, RespondentId, Schema};

/// Eight categories of one minute each: a 330 s budget fits the two qualifiers of the first
/// node, one complete and a few more qualifiers, never all eight.
pub fn catalogue() -> Catalogue {
    let categories = (0..8)
        .map(|i| Category::new(format!("c{i}"), format!("Category {i}"), 0.5, 60.0).with_target(5))
        .collect();
    Catalogue::new(Schema::default_survey(), categories).expect("catalogue")
}

/// The engines' configuration: the budget above, at most five qualifiers.
pub fn config() -> LiveConfig {
    LiveConfig {
        budget_seconds: 330.0,
        max_qualifiers: Some(5),
        ..LiveConfig::default()
    }
}

/// Node `a` shows two qualifiers (the second qualifies and holds a slot) and saves; node
/// `b` resumes the respondent and routes them to the end. Nothing is shown twice, the
/// budget and the cap hold across both nodes, each exposure is counted once, and `b`
/// completes the slot `a` took.
pub fn resumed_on_another_node(
    a: &Engine<Greedy>,
    b: &Engine<Greedy>,
    id: impl Into<RespondentId>,
) {
    let id = id.into();
    let catalogue = a.catalogue();
    let answers = Answers::unknown(catalogue.schema());
    let mut wa = Worker::new(1);
    let mut on_a = a.start(&mut wa, Respondent::new(id, answers.clone()));
    let first = a
        .next_offer(&mut wa, &mut on_a)
        .expect("offer")
        .expect("some");
    assert_eq!(
        a.answer(&mut wa, &mut on_a, first, false),
        Ok(Answer::NotQualified)
    );
    let second = a
        .next_offer(&mut wa, &mut on_a)
        .expect("offer")
        .expect("some");
    assert!(matches!(
        a.answer(&mut wa, &mut on_a, second, true),
        Ok(Answer::Reserved(Reservation::Accepted { .. }))
    ));
    a.save_session(&on_a).expect("save");

    let mut wb = Worker::new(2);
    let mut on_b = b
        .resume(&mut wb, Respondent::new(id, answers))
        .expect("resume");
    let (ia, ib) = (on_a.interview(), on_b.interview());
    assert_eq!(ib.seconds_used(), ia.seconds_used());
    assert_eq!(ib.qualifiers_shown(), 2);
    assert!(ib.was_shown(first) && ib.was_shown(second));
    assert!(ib.has_completed(second) && !ib.is_candidate(first));
    // Answering again on b is idempotent: the slot a took, nothing counted twice.
    assert!(matches!(
        b.answer(&mut wb, &mut on_b, second, true),
        Ok(Answer::Reserved(Reservation::AlreadyHeld { .. }))
    ));

    let mut offered = vec![first, second];
    while let Some(c) = b.next_offer(&mut wb, &mut on_b).expect("offer") {
        assert!(!offered.contains(&c), "{c:?} shown twice");
        offered.push(c);
        b.answer(&mut wb, &mut on_b, c, false).expect("answer");
    }
    let ib = on_b.interview();
    assert!(
        ib.seconds_used() <= config().budget_seconds,
        "{}",
        ib.seconds_used()
    );
    assert!(offered.len() >= 3, "b offered nothing: {offered:?}");
    assert!(ib.qualifiers_shown() <= 5);
    assert_eq!(ib.qualifiers_shown() as usize, offered.len());
    for c in catalogue.ids() {
        let shown = a.quotas().view().shown(c) + b.quotas().view().shown(c);
        assert_eq!(shown, u32::from(offered.contains(&c)), "exposures of {c:?}");
    }
    assert_eq!(b.complete(id, second), Ok(Completion::Completed));
}
