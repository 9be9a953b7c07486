//! Issue 18: respondents are identified by the platform's own keys (UUIDs, strings) as well
//! as by numbers: routed, reserved, completed and abandoned in memory; resumed on another
//! node through a shared store that keys them by the UUID itself; in snapshots as strings
//! (numbers stay numbers); an over-long key refused with a typed error.

use std::sync::Arc;

use quotaroute::catalogue::{Catalogue, Category, CategoryId};
use quotaroute::live::{
    Answer, Completion, Engine, LiveConfig, LiveSnapshot, ManualClock, Reservation, SystemClock,
    Timestamp, Worker,
};
use quotaroute::route::Greedy;
use quotaroute::schema::{
    Answers, MAX_KEY_LEN, Respondent, RespondentId, RespondentIdError, Schema,
};
use quotaroute::store::{Layout, MemoryStore, QuotaStore};

use super::store::resume;

const ANN: &str = "3f2b8c1e-6d4a-4e9b-8f7c-2a1d5e6b9c03";
/// Differs from [`ANN`] in its last character only.
const BOB: &str = "3f2b8c1e-6d4a-4e9b-8f7c-2a1d5e6b9c04";

fn two_categories() -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("tea", "Tea", 0.5, 60.0).with_target(2),
            Category::new("soda", "Soda", 0.5, 60.0).with_target(2),
        ],
    )
    .unwrap()
}

const TEA: CategoryId = CategoryId::from_index(0);
const SODA: CategoryId = CategoryId::from_index(1);

fn id(key: &str) -> RespondentId {
    RespondentId::key(key).unwrap()
}

#[test]
fn a_uuid_keyed_respondent_is_routed_reserved_completed_and_abandoned() {
    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(
        two_categories(),
        Greedy::scarcity(),
        &clock,
        LiveConfig::default(),
    )
    .unwrap();
    let nobody = Answers::unknown(e.catalogue().schema());
    let mut w = Worker::new(1);
    let mut s = e.start(&mut w, Respondent::new(id(ANN), nobody.clone()));
    assert_eq!(s.respondent().id.to_string(), ANN);
    let first = e.next_offer(&mut w, &mut s).unwrap().unwrap();
    let Answer::Reserved(Reservation::Accepted { deadline }) =
        e.answer(&mut w, &mut s, first, true).unwrap()
    else {
        panic!("ANN's slot was not taken");
    };
    assert_eq!(e.pending_deadline(id(ANN), first), Some(deadline));
    // A key one character away is someone else, holding nothing.
    assert_eq!(e.pending_deadline(id(BOB), first), None);
    assert_eq!(e.complete(id(BOB), first), Ok(Completion::NotReserved));
    assert_eq!(e.complete(id(ANN), first), Ok(Completion::Completed));
    assert_eq!(e.complete(id(ANN), first), Ok(Completion::AlreadyCompleted));
    assert_eq!(e.quotas().view().completed(first), 1);

    let other = if first == TEA { SODA } else { TEA };
    assert!(matches!(
        e.reserve(id(ANN), other, &nobody),
        Ok(Reservation::Accepted { .. })
    ));
    assert!(matches!(
        e.reserve(id(ANN), other, &nobody),
        Ok(Reservation::AlreadyHeld { .. })
    ));
    assert_eq!(e.quotas().view().pending(other), 1);
    assert_eq!(e.abandon(id(ANN)), Ok(1));
    assert_eq!(e.quotas().view().pending(other), 0);
    assert_eq!(e.abandon(id(ANN)), Ok(0));
    assert_eq!(e.complete(id(ANN), first), Ok(Completion::AlreadyCompleted));

    // A key spelling a number canonically is that number: one respondent either way.
    assert!(matches!(
        e.reserve(id("42"), other, &nobody),
        Ok(Reservation::Accepted { .. })
    ));
    assert_eq!(e.abandon_category(42, other), Ok(true));
    assert_eq!(e.forget(id(ANN)), 1);
    assert_eq!(e.complete(id(ANN), first), Ok(Completion::NotReserved));
}

/// Two nodes on one in-memory store, as router nodes share Redis.
fn two_nodes() -> (Arc<MemoryStore>, Engine<Greedy>, Engine<Greedy>) {
    let cat = resume::catalogue();
    let store = Arc::new(MemoryStore::new(
        Layout::from_catalogue("keys", &cat).unwrap(),
        SystemClock,
    ));
    let node = || {
        let store: Arc<dyn QuotaStore> = store.clone();
        Engine::with_store(
            cat.clone(),
            Greedy::scarcity(),
            SystemClock,
            resume::config(),
            store,
        )
        .unwrap()
    };
    let (a, b) = (node(), node());
    (store, a, b)
}

#[test]
fn a_uuid_keyed_session_resumes_on_another_node_and_the_store_keys_it_by_the_uuid() {
    let (store, a, b) = two_nodes();
    resume::resumed_on_another_node(&a, &b, id(ANN));
    // The store keeps the session and the slots under the UUID itself.
    assert!(store.load_interview(ANN).unwrap().is_some());
    assert_eq!(store.load_interview(BOB).unwrap(), None);
    let completed: Vec<_> = a
        .catalogue()
        .ids()
        .filter(|c| store.commit(ANN, c.index() as u32).unwrap() == Completion::AlreadyCompleted)
        .collect();
    assert_eq!(completed.len(), 1, "{completed:?}");
    // A numeric respondent keeps the decimal key it always had (existing data stay valid).
    let (store, a, b) = two_nodes();
    resume::resumed_on_another_node(&a, &b, 7);
    assert!(store.load_interview("7").unwrap().is_some());
}

/// An engine on [`two_categories`] where ANN completed tea, BOB holds soda and respondent 7
/// holds tea.
fn engine_with_keys(clock: &ManualClock) -> Engine<Greedy, &ManualClock> {
    let e = Engine::new(
        two_categories(),
        Greedy::scarcity(),
        clock,
        LiveConfig::default(),
    )
    .unwrap();
    let nobody = Answers::unknown(e.catalogue().schema());
    assert!(matches!(
        e.reserve(id(ANN), TEA, &nobody),
        Ok(Reservation::Accepted { .. })
    ));
    assert_eq!(e.complete(id(ANN), TEA), Ok(Completion::Completed));
    assert!(matches!(
        e.reserve(id(BOB), SODA, &nobody),
        Ok(Reservation::Accepted { .. })
    ));
    assert!(matches!(
        e.reserve(7, TEA, &nobody),
        Ok(Reservation::Accepted { .. })
    ));
    e
}

#[test]
fn a_snapshot_with_string_keys_round_trips_through_json_and_restores() {
    let clock = ManualClock::new(Timestamp(1_000));
    let snapshot = engine_with_keys(&clock).snapshot();
    let json = serde_json::to_string(&snapshot).unwrap();
    assert!(json.contains(&format!(r#""respondent":"{ANN}""#)), "{json}");
    assert!(json.contains(r#""respondent":7,"#), "{json}");
    let back: LiveSnapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back, snapshot);

    let restored = Engine::restore(two_categories(), Greedy::scarcity(), &clock, &back).unwrap();
    assert_eq!(
        restored.complete(id(ANN), TEA),
        Ok(Completion::AlreadyCompleted)
    );
    assert_eq!(restored.complete(id(BOB), SODA), Ok(Completion::Completed));
    assert_eq!(restored.complete(7, TEA), Ok(Completion::Completed));
    assert_eq!(restored.quotas().view().completed(TEA), 2);
}

#[test]
fn an_over_long_key_is_a_typed_error_in_code_and_in_a_snapshot() {
    let long = "k".repeat(MAX_KEY_LEN + 1);
    assert_eq!(
        RespondentId::key(&long),
        Err(RespondentIdError::TooLong {
            len: MAX_KEY_LEN + 1,
            max: MAX_KEY_LEN
        })
    );
    assert_eq!(RespondentId::try_from(""), Err(RespondentIdError::Empty));
    assert!(RespondentId::key(&"k".repeat(MAX_KEY_LEN)).is_ok());
    // In a snapshot document: refused when read, naming the length.
    let clock = ManualClock::new(Timestamp(1_000));
    let json = serde_json::to_string(&engine_with_keys(&clock).snapshot()).unwrap();
    let tampered = json.replace(ANN, &long);
    let e = serde_json::from_str::<LiveSnapshot>(&tampered).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("{} bytes", MAX_KEY_LEN + 1)),
        "{e}"
    );
}

/// A snapshot document naming one respondent twice, once as the number 7 and once as the key
/// `"7"`, holds one slot twice: refused on restore, naming the respondent.
#[test]
fn a_snapshot_naming_a_respondent_by_number_and_by_key_holds_one_slot_twice() {
    let clock = ManualClock::new(Timestamp(1_000));
    let snapshot = engine_with_keys(&clock).snapshot();
    let json = serde_json::to_string(&snapshot).unwrap();
    let slot7 = snapshot.held.iter().find(|h| h.respondent == 7).unwrap();
    let twice = json.replace(
        r#""held":["#,
        &format!(
            r#""held":[{{"respondent":"7","category":{},"deadline":{},"cells":[]}},"#,
            slot7.category,
            slot7.deadline.unwrap().0
        ),
    );
    let read: LiveSnapshot = serde_json::from_str(&twice).unwrap();
    assert_eq!(read.held.len(), snapshot.held.len() + 1);
    let e =
        Engine::restore(two_categories(), Greedy::scarcity(), &clock, &read).expect_err("refused");
    assert!(
        e.to_string()
            .contains("respondent 7 holds category `tea` twice"),
        "{e}"
    );
}
