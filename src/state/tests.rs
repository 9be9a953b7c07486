use super::*;
use crate::catalogue::Category;
use crate::schema::Schema;

fn catalogue() -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("a", "A", 0.5, 60.0).with_target(3),
            Category::new("b", "B", 0.5, 60.0).with_target(2),
        ],
    )
    .unwrap()
}

#[test]
fn completes_stop_at_the_target_and_leave_state_unchanged() {
    let c = catalogue();
    let mut s = QuotaState::new(&c);
    let b = CategoryId::from_index(1);
    s.complete(b).unwrap();
    s.complete(b).unwrap();
    assert_eq!(
        s.complete(b),
        Err(CompleteError::Full {
            category: b,
            key: "b".into()
        })
    );
    assert_eq!(
        s.complete(b).unwrap_err().to_string(),
        "category `b` is full"
    );
    assert_eq!(s.view().completed(b), 2);
    assert_eq!(s.view().open_slots(b), 0);
    assert_eq!(
        s.complete(CategoryId::from_index(9)),
        Err(CompleteError::UnknownCategory {
            category: CategoryId::from_index(9)
        })
    );
    let message = s
        .complete(CategoryId::from_index(9))
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "no category at position 9 in the catalogue (an id from another catalogue)"
    );
    assert_eq!(s.total_open(), 3);
}

#[test]
fn exposures_count_known_answers_only() {
    let c = catalogue();
    let mut s = QuotaState::new(&c);
    let schema = c.schema();
    let answers = Answers::from_names(schema, [("gender", "male"), ("region", "south")]).unwrap();
    let a = CategoryId::from_index(0);
    s.record_shown(a, &answers);
    s.record_shown(a, &answers);
    let g = schema.question("gender").unwrap();
    let age = schema.question("age").unwrap();
    assert_eq!(
        s.view()
            .exposures(a, g, schema.response(g, "male").unwrap()),
        2
    );
    assert_eq!(
        s.view()
            .exposures(a, g, schema.response(g, "female").unwrap()),
        0
    );
    assert!(
        schema
            .response_ids(age)
            .all(|r| s.view().exposures(a, age, r) == 0)
    );
    assert_eq!(s.view().shown(a), 2);
}

#[test]
fn snapshots_restore_exactly_and_refuse_other_catalogues() {
    let c = catalogue();
    let mut s = QuotaState::new(&c);
    let answers = Answers::from_names(c.schema(), [("gender", "male")]).unwrap();
    s.record_shown(CategoryId::from_index(0), &answers);
    s.record_qualified(CategoryId::from_index(0));
    s.complete(CategoryId::from_index(0)).unwrap();
    let snap = s.snapshot(&c);
    let back = QuotaState::restore(&c, &snap).unwrap();
    assert_eq!(back.snapshot(&c), snap);
    assert_eq!(back.view().open_slots(CategoryId::from_index(0)), 2);

    let other = Catalogue::new(
        Schema::default_survey(),
        vec![Category::new("x", "X", 0.5, 60.0)],
    )
    .unwrap();
    assert!(matches!(
        QuotaState::restore(&other, &snap),
        Err(RestoreError::Mismatch { .. })
    ));
    let mut old = snap.clone();
    old.format = 0;
    assert_eq!(
        QuotaState::restore(&c, &old).unwrap_err(),
        RestoreError::Version {
            found: 0,
            expected: QuotaSnapshot::FORMAT
        }
    );
    let mut bad = snap.clone();
    bad.completed[1] = 5;
    assert!(matches!(
        QuotaState::restore(&c, &bad),
        Err(RestoreError::Invalid {
            field: "completed",
            ..
        })
    ));
    #[cfg(feature = "serde")]
    {
        let json = serde_json::to_string(&snap).unwrap();
        assert_eq!(serde_json::from_str::<QuotaSnapshot>(&json).unwrap(), snap);
    }
}

#[test]
fn an_unknown_category_is_ignored_alike_by_record_shown_and_record_shown_shared() {
    let c = catalogue();
    let answers = crate::schema::Answers::unknown(c.schema());
    let unknown = CategoryId::from_index(9);
    let mut exclusive = QuotaState::new(&c);
    let shared = QuotaState::new(&c);
    let before = exclusive.snapshot(&c);
    exclusive.record_shown(unknown, &answers);
    exclusive.record_qualified(unknown);
    shared.record_shown_shared(unknown, &answers);
    shared.record_qualified_shared(unknown);
    assert_eq!(exclusive.snapshot(&c), before, "nothing counted, no panic");
    assert_eq!(shared.snapshot(&c), before, "nothing counted, no panic");
    // A known id is counted the same way by both.
    let a = CategoryId::from_index(0);
    exclusive.record_shown(a, &answers);
    shared.record_shown_shared(a, &answers);
    assert_eq!(exclusive.view().shown(a), 1);
    assert_eq!(exclusive.snapshot(&c), shared.snapshot(&c));
}
