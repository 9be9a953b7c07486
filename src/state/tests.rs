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

#[test]
fn a_complete_in_cells_counts_every_node_or_none() {
    use crate::catalogue::QuotaCell;
    use crate::schema::Rule;
    let schema = Schema::default_survey();
    let catalogue = Catalogue::new(
        schema.clone(),
        vec![
            Category::new("a", "A", 0.5, 60.0)
                .with_target(5)
                .with_cell(QuotaCell::new(
                    "n",
                    Rule::parse(&schema, "region=north").unwrap(),
                    2,
                ))
                .with_cell(
                    QuotaCell::new("nf", Rule::parse(&schema, "gender=female").unwrap(), 1)
                        .with_parent(0),
                ),
            Category::new("b", "B", 0.5, 60.0).with_cell(QuotaCell::new("x", Rule::Everyone, 9)),
        ],
    )
    .unwrap();
    let (a, b) = (CategoryId::from_index(0), CategoryId::from_index(1));
    let mut s = QuotaState::new(&catalogue);
    s.complete_in(a, [0, 1].into_iter()).unwrap();
    let counts = |s: &QuotaState| {
        (
            s.view().completed(a),
            s.cell_completed(0),
            s.cell_completed(1),
        )
    };
    assert_eq!(counts(&s), (1, 1, 1));
    // The female node is full: nothing is counted, not even the category.
    let err = s.complete_in(a, [0, 1].into_iter()).unwrap_err();
    assert!(
        matches!(err, CompleteError::CellFull { cell: 1, .. }),
        "{err:?}"
    );
    assert_eq!(counts(&s), (1, 1, 1));
    // A repeated cell, a cell out of order and another category's cell are refused.
    for cells in [vec![0, 0], vec![1, 0], vec![2]] {
        let err = s.complete_in(a, cells.clone().into_iter()).unwrap_err();
        assert!(
            matches!(err, CompleteError::NotACell { .. }),
            "{cells:?}: {err:?}"
        );
    }
    assert_eq!(counts(&s), (1, 1, 1));
    s.complete_in(a, [0].into_iter()).unwrap();
    assert_eq!(counts(&s), (2, 2, 1));
    s.complete_in(b, [2].into_iter()).unwrap();
    assert_eq!(s.cell_completed(2), 1);
}

#[test]
fn a_mirrored_count_that_falls_moves_the_epoch_even_when_the_open_slots_do_not() {
    let c = catalogue();
    let s = QuotaState::new(&c);
    // Category `a` (counter 0): max 3, one pending.
    s.mirror_set(0, 3, 1, 0);
    let before = s.view().epoch();
    // Another node gave the slot back while an administrator lowered the max to 2: open stays
    // 2, but what the counter holds fell, which can raise a min-steered priority.
    s.mirror_set(0, 2, 0, 0);
    assert_eq!(s.view().open_slots(CategoryId::from_index(0)), 2);
    assert_ne!(s.view().epoch(), before);
    // Nothing moved: the epoch stays.
    let same = s.view().epoch();
    s.mirror_set(0, 2, 0, 0);
    assert_eq!(s.view().epoch(), same);
}
