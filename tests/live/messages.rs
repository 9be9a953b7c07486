//! Issue 18: errors and reports name a category by the catalogue's own id (its key), never by
//! its index (they printed `` category `b` (#1) is full ``).

use quotaroute::catalogue::{Catalogue, Category, CategoryId};
use quotaroute::live::{Engine, LiveConfig, LiveError, ManualClock, Timestamp, Worker};
use quotaroute::route::{Greedy, Interview};
use quotaroute::schema::{Answers, Respondent, Schema};
use quotaroute::state::QuotaState;

/// Keys that differ from the positions, so a message showing either can be told apart.
fn catalogue(target: u32) -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("beer-17", "Craft Beer", 0.5, 60.0).with_target(target),
            Category::new("coffee-28", "Coffee", 0.5, 60.0).with_target(target),
        ],
    )
    .unwrap()
}

const COFFEE: CategoryId = CategoryId::from_index(1);

/// The message names the key and shows no `#N` index.
fn names_key(message: &str, key: &str) {
    assert!(message.contains(&format!("`{key}`")), "{message}");
    let hashed = message
        .char_indices()
        .any(|(i, c)| c == '#' && message[i + 1..].starts_with(|d: char| d.is_ascii_digit()));
    assert!(!hashed, "an index in {message}");
}

#[test]
fn a_full_category_is_named_by_its_key() {
    let c = catalogue(1);
    let mut quotas = QuotaState::new(&c);
    quotas.complete(COFFEE).unwrap();
    let message = quotas.complete(COFFEE).unwrap_err().to_string();
    assert_eq!(message, "category `coffee-28` is full");
}

#[test]
fn an_offer_refused_names_the_key() {
    let c = catalogue(5);
    let quotas = QuotaState::new(&c);
    let answers = Answers::unknown(c.schema());
    let mut interview = Interview::new();
    // Too little time for any category: every offer is refused.
    interview.begin(&c, &answers, 10.0, None);
    let err = interview
        .check_offer(&c, &quotas.view(), COFFEE)
        .unwrap_err();
    names_key(&err.to_string(), "coffee-28");
    assert_eq!(
        err.to_string(),
        "category `coffee-28` cannot be offered: does not fit"
    );
}

#[test]
fn a_live_answer_to_an_unshown_qualifier_names_the_key() {
    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::new(
        catalogue(5),
        Greedy::scarcity(),
        &clock,
        LiveConfig::default(),
    )
    .unwrap();
    let mut w = Worker::new(1);
    let answers = Answers::unknown(e.catalogue().schema());
    let mut s = e.start(&mut w, Respondent::new(4, answers));
    let err = e.answer(&mut w, &mut s, COFFEE, true).unwrap_err();
    assert!(matches!(err, LiveError::NotShown { .. }));
    names_key(&err.to_string(), "coffee-28");
    // An id from another catalogue has no key: its position is named, in words.
    let err = e
        .answer(&mut w, &mut s, CategoryId::from_index(7), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no category at position 7"), "{err}");
}

#[test]
fn a_restore_onto_a_changed_category_names_the_key() {
    let before = catalogue(5);
    let snapshot = QuotaState::new(&before).snapshot(&before);
    let changed = Catalogue::new(
        Schema::default_survey(),
        vec![
            before.categories()[0].clone(),
            Category::new("coffee-28", "Coffee", 0.4, 60.0).with_target(5),
        ],
    )
    .unwrap();
    let err = QuotaState::restore(&changed, &snapshot).unwrap_err();
    names_key(&err.to_string(), "coffee-28");
}

#[test]
fn catalogue_validation_names_the_key() {
    let err = Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("beer-17", "Craft Beer", 0.5, 60.0),
            Category::new("coffee-28", "Coffee", 1.5, 60.0),
        ],
    )
    .unwrap_err();
    names_key(&err.to_string(), "coffee-28");
}
