//! Issue 18: documents written before the strict configuration still load. The two files in
//! `tests/live/data/` were written by the crate as it was before issue 18 (a catalogue with
//! cells, rules, a spread and an exclusion group, and a live snapshot of an engine on it with
//! completes and a held slot): the catalogue reads back the same, and the snapshot restores,
//! or is refused with the typed version error once the snapshot format moves on.

use quotaroute::catalogue::{Catalogue, Category, CategoryId, QuotaCell};
use quotaroute::live::{
    Completion, Engine, LiveRestoreError, LiveSnapshot, ManualClock, Timestamp,
};
use quotaroute::route::Greedy;
use quotaroute::schema::{Rule, Schema};
use quotaroute::state::{QuotaSnapshot, QuotaState, RestoreError};

const CATALOGUE: &str = include_str!("data/catalogue_before_issue_18.json");
const SNAPSHOT: &str = include_str!("data/snapshot_before_issue_18.json");

/// The catalogue the files were written from, built in code today.
fn catalogue() -> Catalogue {
    let schema = Schema::default_survey();
    let rule = |text| Rule::parse(&schema, text).unwrap();
    Catalogue::new(
        schema.clone(),
        vec![
            Category::new("beer-17", "Craft Beer", 0.3, 105.0)
                .with_target(10)
                .with_eligibility(rule("age=18-34|35-54"))
                .with_cell(QuotaCell::new("women", rule("gender=female"), 6).with_min(2))
                .with_cell(QuotaCell::new("men", rule("gender=male"), 6))
                .with_exclusion_group("beer")
                .with_loi_spread(0.3),
            Category::new("coffee-28", "Coffee", 0.4, 32.0)
                .with_target(5)
                .with_qualifier_seconds(10.0),
        ],
    )
    .unwrap()
}

#[test]
fn a_catalogue_document_written_before_reads_the_same() {
    let old: Catalogue = serde_json::from_str(CATALOGUE).unwrap();
    assert_eq!(old.categories(), catalogue().categories());
    assert_eq!(old.schema(), catalogue().schema());
    // And what is written today is what was written then.
    assert_eq!(
        serde_json::to_string(&catalogue()).unwrap(),
        CATALOGUE.trim()
    );
}

#[test]
fn a_live_snapshot_written_before_restores_or_fails_with_the_version_error() {
    let snapshot: LiveSnapshot = serde_json::from_str(SNAPSHOT).unwrap();
    let clock = ManualClock::new(Timestamp(2_000));
    let restored = Engine::restore(catalogue(), Greedy::scarcity(), &clock, &snapshot);
    if snapshot.format == LiveSnapshot::FORMAT {
        let e = restored.unwrap();
        let (beer, coffee) = (CategoryId::from_index(0), CategoryId::from_index(1));
        let view = e.quotas().view();
        assert_eq!((view.completed(beer), view.pending(beer)), (1, 1));
        assert_eq!((view.completed(coffee), view.pending(coffee)), (1, 0));
        assert_eq!(e.quotas().cell_completed(0), 1);
        assert_eq!(e.quotas().cell_pending(1), 1);
    } else {
        assert_eq!(
            restored.err(),
            Some(LiveRestoreError::Version {
                found: snapshot.format,
                expected: LiveSnapshot::FORMAT
            })
        );
    }
}

#[test]
fn a_snapshot_of_another_format_is_refused_with_the_version_error() {
    let mut snapshot: LiveSnapshot = serde_json::from_str(SNAPSHOT).unwrap();
    snapshot.format = LiveSnapshot::FORMAT + 1;
    let clock = ManualClock::new(Timestamp(2_000));
    let restored = Engine::restore(catalogue(), Greedy::scarcity(), &clock, &snapshot);
    assert_eq!(
        restored.err(),
        Some(LiveRestoreError::Version {
            found: LiveSnapshot::FORMAT + 1,
            expected: LiveSnapshot::FORMAT
        })
    );
    let mut quotas: QuotaSnapshot = snapshot.quotas.clone();
    quotas.format = QuotaSnapshot::FORMAT + 1;
    assert_eq!(
        QuotaState::restore(&catalogue(), &quotas).err(),
        Some(RestoreError::Version {
            found: QuotaSnapshot::FORMAT + 1,
            expected: QuotaSnapshot::FORMAT
        })
    );
}

/// Respondent ids were numbers before issue 18 (they may now be platform keys): an old
/// snapshot's numeric respondents restore as those numbers, and are written back as numbers.
#[test]
fn an_old_snapshot_s_numeric_respondents_restore_as_numbers() {
    let snapshot: LiveSnapshot = serde_json::from_str(SNAPSHOT).unwrap();
    assert_eq!(snapshot.held[1].respondent, 2);
    assert!(
        serde_json::to_string(&snapshot)
            .unwrap()
            .contains(r#""respondent":2,"#)
    );
    if snapshot.format != LiveSnapshot::FORMAT {
        return; // refused with the version error (the test above)
    }
    let clock = ManualClock::new(Timestamp(2_000));
    let e = Engine::restore(catalogue(), Greedy::scarcity(), &clock, &snapshot).unwrap();
    let (beer, coffee) = (CategoryId::from_index(0), CategoryId::from_index(1));
    assert_eq!(e.complete(1, beer), Ok(Completion::AlreadyCompleted));
    assert_eq!(e.complete(3, coffee), Ok(Completion::AlreadyCompleted));
    assert_eq!(e.complete(2, beer), Ok(Completion::Completed));
    assert_eq!(e.quotas().view().completed(beer), 2);
}

/// Issue 20: the old snapshot's flat cells are a one-level quota tree, so the engine restored
/// from it answers the live quota queries, as the quota module does on its counts.
#[test]
fn an_old_snapshot_s_flat_cells_answer_live_quota_queries() {
    use quotaroute::live::{Counting, LiveQueryBuffer};
    use quotaroute::quota::{Query, QuotaMethod};

    let snapshot: LiveSnapshot = serde_json::from_str(SNAPSHOT).unwrap();
    if snapshot.format != LiveSnapshot::FORMAT {
        return; // refused with the version error (the test above)
    }
    let clock = ManualClock::new(Timestamp(2_000));
    let e = Engine::restore(catalogue(), Greedy::scarcity(), &clock, &snapshot).unwrap();
    let beer = CategoryId::from_index(0);
    let gender = e.catalogue().schema().question("gender").unwrap();
    let mut expected = e.catalogue().quota_tree(beer).unwrap();
    let view = e.quotas().view();
    let root = expected.tree.root();
    let taken = u64::from(view.completed(beer) + view.pending(beer));
    expected.tree.set_observed(root, taken).unwrap();
    for (cell, &node) in e.catalogue().cell_range(beer).zip(&expected.nodes) {
        let taken = e.quotas().cell_completed(cell) + e.quotas().cell_pending(cell);
        expected.tree.set_observed(node, u64::from(taken)).unwrap();
    }
    let mut buffer = LiveQueryBuffer::new();
    for method in QuotaMethod::ALL {
        let query = Query::new(gender);
        let live = e
            .quota_query(beer, method, &query, None, Counting::Taken, &mut buffer)
            .unwrap();
        assert_eq!(
            live,
            &expected.tree.query(method, &query, None).unwrap()[..]
        );
    }
    // The category has 10 − 2 taken; women (max 6) one complete, men (max 6) one hold: each
    // has min(8, 6 − 1) = 5 to do, in the question's order.
    let women = e.catalogue().schema().response(gender, "female").unwrap();
    let men = e.catalogue().schema().response(gender, "male").unwrap();
    let listed = e
        .quota_query(
            beer,
            QuotaMethod::List,
            &Query::new(gender),
            None,
            Counting::Taken,
            &mut buffer,
        )
        .unwrap();
    assert_eq!(listed, [(women, 5), (men, 5)]);
}
