//! Hostile and careless callers of the live engine (issue 16): answers that do not fit the
//! schema, truncated ids, repeated answers, saturating counters, and snapshots tampered with
//! one field at a time in the ways the attack found accepted.

use quotaroute::catalogue::{Catalogue, Category, CategoryId, QuotaCell};
use quotaroute::live::{
    Answer, Completion, Engine, LiveConfig, LiveError, LiveRestoreError, LiveSnapshot, ManualClock,
    Reservation, Timestamp, WaveLedger, Worker,
};
use quotaroute::route::{DemographicWeight, Greedy, Router};
use quotaroute::schema::{Answers, AnswersError, Respondent, Rule, Schema};
use quotaroute::state::{QuotaState, RestoreError};

fn catalogue() -> Catalogue {
    catalogue_with(|c| c)
}

/// The test catalogue with its first category changed by `edit`.
fn catalogue_with(edit: impl Fn(Category) -> Category) -> Catalogue {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let r = |name| schema.response(g, name).unwrap();
    Catalogue::new(
        schema.clone(),
        vec![
            edit(
                Category::new("a", "A", 0.5, 60.0)
                    .with_target(4)
                    .with_cell(QuotaCell::new("f", Rule::one_of(g, [r("female")]), 2))
                    .with_cell(QuotaCell::new("m", Rule::one_of(g, [r("male")]), 3)),
            ),
            Category::new("b", "B", 0.3, 90.0).with_target(4),
        ],
    )
    .unwrap()
}

/// A change to a category's configuration.
type Edit = Box<dyn Fn(Category) -> Category>;
/// A change to one field of a snapshot.
type Corruption = Box<dyn Fn(&mut LiveSnapshot)>;

const A: CategoryId = CategoryId::from_index(0);
const B: CategoryId = CategoryId::from_index(1);

/// Answers as a platform may deserialise them: `[gender, age, region]` response indices.
fn raw_answers(slots: &str) -> Answers {
    serde_json::from_str(slots).unwrap()
}

fn engine(clock: &ManualClock) -> Engine<Greedy, &ManualClock> {
    let config = LiveConfig {
        ttl_ms: 1_000,
        ..LiveConfig::default()
    };
    Engine::new(catalogue(), Greedy::scarcity(), clock, config).unwrap()
}

/// A snapshot with a completed and a pending slot (one in a cell), a qualifier shown and
/// answered.
fn busy_snapshot() -> LiveSnapshot {
    let clock = ManualClock::new(Timestamp(1_000));
    let e = engine(&clock);
    let schema = e.catalogue().schema().clone();
    let man = Answers::from_names(&schema, [("gender", "male")]).unwrap();
    e.reserve(1, A, &man).unwrap();
    e.complete(1, A).unwrap();
    e.reserve(2, A, &man).unwrap();
    let mut worker = Worker::new(1);
    let mut session = e.start(&mut worker, Respondent::new(3, man));
    let offered = e.next_offer(&mut worker, &mut session).unwrap().unwrap();
    e.answer(&mut worker, &mut session, offered, false).unwrap();
    e.snapshot()
}

fn restore(snap: &LiveSnapshot) -> Result<(), LiveRestoreError> {
    restore_on(catalogue(), snap)
}

fn restore_on(catalogue: Catalogue, snap: &LiveSnapshot) -> Result<(), LiveRestoreError> {
    let clock = ManualClock::new(Timestamp(0));
    Engine::restore(catalogue, Greedy::scarcity(), &clock, snap).map(|_| ())
}

fn invalid_field(result: Result<(), LiveRestoreError>) -> &'static str {
    match result {
        Err(LiveRestoreError::Invalid { field, .. }) => field,
        other => panic!("expected an invalid field, got {other:?}"),
    }
}

#[test]
fn the_busy_snapshot_restores() {
    restore(&busy_snapshot()).unwrap();
}

#[test]
fn answers_outside_the_schema_are_counted_nowhere_else_and_refused_by_reserve() {
    let c = catalogue();
    let schema = c.schema();
    // gender 99 (2 responses), age 2 (valid), region 7 (3 responses).
    let bad = raw_answers("[99, 2, 7]");
    assert!(matches!(
        bad.check(schema),
        Err(AnswersError::Response { response: 99, .. })
    ));
    assert!(matches!(
        raw_answers("[0]").check(schema),
        Err(AnswersError::Length { found: 1, .. })
    ));
    let mut state = QuotaState::new(&c);
    state.record_shown(A, &bad);
    state.record_shown_shared(B, &raw_answers("[0, 0, 0, 5, 5]"));
    let view = state.view();
    assert_eq!(view.shown(A), 1);
    let age = schema.question("age").unwrap();
    let gender = schema.question("gender").unwrap();
    for q in schema.question_ids() {
        let total: u32 = schema
            .response_ids(q)
            .map(|r| view.exposures(A, q, r))
            .sum();
        // Only the valid age answer counted; never into the next question's counters.
        assert_eq!(total, u32::from(q == age), "question {q:?}");
    }
    let past_the_end = raw_answers("[1, 0, 0]").get(gender).unwrap();
    assert_eq!(view.exposures(A, gender, past_the_end), 0);
    // The engine refuses them where they would pick cells.
    let clock = ManualClock::new(Timestamp(0));
    let e = engine(&clock);
    assert!(matches!(
        e.reserve(7, A, &bad),
        Err(LiveError::Answers { respondent, .. }) if respondent == 7
    ));
    assert_eq!(e.quotas().pending(A), 0);
}

#[test]
fn a_demographic_weight_routes_answers_outside_the_schema_without_a_panic() {
    let weighted = catalogue_with(|c| {
        let schema = Schema::default_survey();
        let g = schema.question("gender").unwrap();
        c.with_exposure_target(g, vec![0.5, 0.5])
    });
    let clock = ManualClock::new(Timestamp(0));
    let router = Greedy::scarcity().with_demographic(DemographicWeight {
        warm_up: 0,
        ..DemographicWeight::default()
    });
    let e = Engine::new(weighted, router, &clock, LiveConfig::default()).unwrap();
    let mut worker = Worker::new(1);
    for id in 0..20 {
        let mut session = e.start(&mut worker, Respondent::new(id, raw_answers("[99, 1, 9]")));
        while let Some(c) = e.next_offer(&mut worker, &mut session).unwrap() {
            e.answer(&mut worker, &mut session, c, id % 2 == 0).unwrap();
        }
        assert!(session.respondent().answers.fits(e.catalogue().schema()));
    }
    assert_eq!(e.router().name(), "greedy");
}

#[test]
fn a_category_index_past_u32_is_never_truncated_onto_category_0() {
    let far = CategoryId::from_index(1 << 32);
    assert_ne!(far, A);
    assert_eq!(CategoryId::from_index(usize::MAX), far);
    let clock = ManualClock::new(Timestamp(0));
    let e = engine(&clock);
    let nobody = Answers::unknown(e.catalogue().schema());
    assert!(matches!(
        e.reserve(1, far, &nobody),
        Err(LiveError::UnknownCategory { .. })
    ));
    assert!(matches!(
        e.complete(1, far),
        Err(LiveError::UnknownCategory { .. })
    ));
    assert_eq!(e.quotas().pending(A), 0);
}

#[test]
fn repeated_answers_never_count_a_qualifier_twice() {
    let clock = ManualClock::new(Timestamp(0));
    let e = engine(&clock);
    let mut worker = Worker::new(1);
    let nobody = Answers::unknown(e.catalogue().schema());
    let mut session = e.start(&mut worker, Respondent::new(1, nobody));
    let c = e.next_offer(&mut worker, &mut session).unwrap().unwrap();
    let first = e.answer(&mut worker, &mut session, c, true).unwrap();
    assert!(matches!(
        first,
        Answer::Reserved(Reservation::Accepted { .. })
    ));
    let seconds = session.interview().seconds_used();
    for _ in 0..9 {
        let again = e.answer(&mut worker, &mut session, c, true).unwrap();
        assert!(matches!(
            again,
            Answer::Reserved(Reservation::AlreadyHeld { .. })
        ));
        e.answer(&mut worker, &mut session, c, false).unwrap();
    }
    let view = e.quotas().view();
    assert_eq!((view.shown(c), view.qualified(c)), (1, 1));
    assert_eq!(e.stats().qualified, 1);
    assert_eq!(session.interview().seconds_used(), seconds);
    assert_eq!(e.quotas().pending(c), 1);
    // A not-qualified answer first, then "qualified": still one answer learned.
    let mut other = e.start(
        &mut worker,
        Respondent::new(2, Answers::unknown(e.catalogue().schema())),
    );
    let d = e.next_offer(&mut worker, &mut other).unwrap().unwrap();
    e.answer(&mut worker, &mut other, d, false).unwrap();
    e.answer(&mut worker, &mut other, d, true).unwrap();
    assert!(e.quotas().view().qualified(d) <= e.quotas().view().shown(d));
    restore_on(catalogue(), &e.snapshot()).unwrap();
}

#[test]
fn shown_saturates_at_u32_max_instead_of_wrapping() {
    let c = catalogue();
    let mut snap = QuotaState::new(&c).snapshot(&c);
    snap.shown[0] = u32::MAX;
    let mut state = QuotaState::restore(&c, &snap).unwrap();
    let nobody = Answers::unknown(c.schema());
    state.record_shown(A, &nobody);
    state.record_shown_shared(A, &nobody);
    state.record_qualified(A);
    assert_eq!(state.view().shown(A), u32::MAX);
}

#[test]
fn a_carry_near_i64_max_is_refused_on_restore_and_never_overflows() {
    let mut snap = busy_snapshot();
    snap.ledger.carried[1] = i64::MAX - 1;
    assert_eq!(invalid_field(restore(&snap)), "ledger");
    // Any ledger value is arithmetic-safe.
    let ledger = WaveLedger {
        wave: 3,
        base: vec![u32::MAX, 0],
        carried: vec![i64::MAX, i64::MIN],
    };
    assert_eq!(ledger.targets(), vec![u32::MAX, 0]);
    // A legitimate ledger closes waves without overflow.
    let clock = ManualClock::new(Timestamp(0));
    let mut e = engine(&clock);
    for _ in 0..3 {
        e.close_wave(Some(&[u32::MAX, 0])).unwrap();
    }
    assert_eq!(e.ledger().wave, 4);
}

#[test]
fn a_target_the_ledger_does_not_explain_is_refused() {
    // The attack: target 1000 against a ledger and catalogue of 4, then 998 completes.
    let mut snap = busy_snapshot();
    snap.quotas.targets[0] = 1_000;
    assert_eq!(invalid_field(restore(&snap)), "quotas.targets");
    // A ledger forged to match in wave 1 is refused too: no wave closed, no change.
    snap.ledger.base[0] = 1_000;
    assert_eq!(invalid_field(restore(&snap)), "ledger");
    snap.ledger.base[0] = 4;
    snap.ledger.carried[0] = 996;
    assert_eq!(invalid_field(restore(&snap)), "ledger");
}

#[test]
fn a_changed_category_configuration_is_a_mismatch() {
    let snap = busy_snapshot();
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let age = schema.question("age").unwrap();
    let male = schema.response(g, "male").unwrap();
    let young = schema.response(age, "18-34").unwrap();
    let edits: Vec<(&str, Edit)> = vec![
        (
            "incidence",
            Box::new(|c| Category {
                incidence: 0.25,
                ..c
            }),
        ),
        (
            "length",
            Box::new(|c| Category {
                loi_seconds: 61.0,
                ..c
            }),
        ),
        (
            "eligibility",
            Box::new(move |c| c.with_eligibility(Rule::one_of(g, [male]))),
        ),
        (
            "cell rule",
            Box::new(move |mut c: Category| {
                c.cells[0].rule = Rule::one_of(age, [young]);
                c
            }),
        ),
    ];
    for (what, edit) in edits {
        let changed = catalogue_with(edit);
        assert!(
            matches!(
                restore_on(changed, &snap),
                Err(LiveRestoreError::Mismatch { .. })
            ),
            "{what}"
        );
    }
    // A new name is no change to routing or counting.
    restore_on(
        catalogue_with(|c| Category {
            name: "Renamed".into(),
            ..c
        }),
        &snap,
    )
    .unwrap();
}

#[test]
fn counts_that_do_not_add_up_are_refused() {
    let base = busy_snapshot();
    let cases: Vec<(&str, Corruption)> = vec![
        // Cell completes without category completes.
        ("cells", Box::new(|s| s.cells[1].completed = 2)),
        // A completed marker without a complete (that respondent would be blocked for good).
        (
            "held",
            Box::new(|s| {
                s.held.push(quotaroute::live::HeldSlot {
                    respondent: 9.into(),
                    category: 1,
                    deadline: None,
                    cells: Vec::new(),
                })
            }),
        ),
        ("stats.shown", Box::new(|s| s.stats.shown += 5)),
        ("stats.qualified", Box::new(|s| s.stats.qualified += 1)),
        // Qualified above shown.
        (
            "qualified",
            Box::new(|s| {
                let i = s.quotas.shown.iter().position(|&n| n > 0).unwrap();
                s.quotas.qualified[i] = s.quotas.shown[i] + 1;
                s.stats.qualified = s.quotas.qualified.iter().map(|&n| u64::from(n)).sum();
            }),
        ),
        // A slot that never expires.
        (
            "held",
            Box::new(|s| {
                let h = s.held.iter_mut().find(|h| h.deadline.is_some()).unwrap();
                h.deadline = Some(Timestamp(u64::MAX));
            }),
        ),
        // A held slot stripped of its cells.
        (
            "cells",
            Box::new(|s| {
                let h = s.held.iter_mut().find(|h| !h.cells.is_empty()).unwrap();
                h.cells.clear();
            }),
        ),
    ];
    for (field, corrupt) in cases {
        let mut snap = base.clone();
        corrupt(&mut snap);
        assert_eq!(invalid_field(restore(&snap)), field);
    }
}

#[test]
fn unknown_fields_are_refused_in_every_snapshot_type() {
    let snap = busy_snapshot();
    let doc = serde_json::to_value(&snap).unwrap();
    let paths: [&[&str]; 6] = [
        &[],
        &["quotas"],
        &["config"],
        &["stats"],
        &["ledger"],
        &["held", "0"],
    ];
    for path in paths {
        let mut bad = doc.clone();
        let mut node = &mut bad;
        for key in path {
            node = match key.parse::<usize>() {
                Ok(i) => &mut node[i],
                Err(_) => &mut node[*key],
            };
        }
        node.as_object_mut()
            .unwrap()
            .insert("extra".into(), 1.into());
        assert!(
            serde_json::from_value::<LiveSnapshot>(bad).is_err(),
            "an unknown field under {path:?} was accepted"
        );
    }
    let quotas = serde_json::to_value(&snap.quotas).unwrap();
    let mut bad = quotas.clone();
    bad.as_object_mut()
        .unwrap()
        .insert("extra".into(), 1.into());
    assert!(serde_json::from_value::<quotaroute::state::QuotaSnapshot>(bad).is_err());
}

#[test]
fn quota_restore_refuses_learned_counts_past_the_shown() {
    let c = catalogue();
    let mut snap = QuotaState::new(&c).snapshot(&c);
    snap.shown[0] = 1;
    snap.qualified[0] = 10;
    assert!(matches!(
        QuotaState::restore(&c, &snap),
        Err(RestoreError::Invalid {
            field: "qualified",
            ..
        })
    ));
    snap.qualified[0] = 1;
    snap.exposures[0] = 2;
    assert!(matches!(
        QuotaState::restore(&c, &snap),
        Err(RestoreError::Invalid {
            field: "exposures",
            ..
        })
    ));
}

#[test]
fn a_late_complete_after_a_sweep_is_not_reserved_as_documented() {
    let clock = ManualClock::new(Timestamp(0));
    let e = engine(&clock);
    let nobody = Answers::unknown(e.catalogue().schema());
    e.reserve(1, B, &nobody).unwrap();
    e.reserve(2, B, &nobody).unwrap();
    clock.advance(1_000);
    // Past its deadline and not swept: released by this call.
    assert_eq!(e.complete(1, B), Ok(Completion::Expired));
    // Swept first: the sweep released it, the late complete finds nothing.
    assert_eq!(e.expire(), Ok(1));
    assert_eq!(e.complete(2, B), Ok(Completion::NotReserved));
}

/// 100,000 categories through the router and the live engine: respondents routed, answered
/// and completed, then a snapshot restored. Nothing here may be quadratic in the categories
/// (catalogue building, group and key look-ups, restore checks).
#[test]
fn a_hundred_thousand_categories_route_and_restore() {
    let categories = (0..100_000)
        .map(|i| {
            Category::new(format!("c{i}"), "C", 0.5, 30.0 + f64::from(i % 7))
                .with_target(2)
                .with_exclusion_group(format!("g{}", i / 2))
        })
        .collect();
    let catalogue = Catalogue::new(Schema::default_survey(), categories).unwrap();
    assert_eq!(catalogue.find("c99999").map(|c| c.index()), Some(99_999));
    let clock = ManualClock::new(Timestamp(0));
    // At most 20 qualifiers each: routing is then 20 decisions over 100,000 categories.
    let config = LiveConfig {
        max_qualifiers: Some(20),
        ..LiveConfig::default()
    };
    let e = Engine::new(catalogue, Greedy::scarcity(), &clock, config).unwrap();
    let mut worker = Worker::new(1);
    let mut completes = 0u64;
    for id in 0..200 {
        let answers = Answers::unknown(e.catalogue().schema());
        let mut session = e.start(&mut worker, Respondent::new(id, answers));
        while let Some(c) = e.next_offer(&mut worker, &mut session).unwrap() {
            if let Answer::Reserved(Reservation::Accepted { .. }) =
                e.answer(&mut worker, &mut session, c, id % 3 == 0).unwrap()
            {
                assert_eq!(e.complete(id, c), Ok(Completion::Completed));
                completes += 1;
            }
        }
    }
    assert_eq!(e.stats().completed, completes);
    assert!(completes > 0);
    let snap = e.snapshot();
    let back = Engine::restore(e.catalogue().clone(), Greedy::scarcity(), &clock, &snap).unwrap();
    assert_eq!(back.stats(), e.stats());
    assert_eq!(back.overfill(), 0);
}
