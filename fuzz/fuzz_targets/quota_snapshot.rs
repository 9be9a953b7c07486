//! A `QuotaSnapshot` from JSON restored against a fixed catalogue: no panic; a restored state
//! gives back the snapshot it came from and never holds completes past a target.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::schema::Schema;
use quotaroute::state::{QuotaSnapshot, QuotaState};

fuzz_target!(|data: &[u8]| {
    let Ok(snapshot) = serde_json::from_slice::<QuotaSnapshot>(data) else {
        return;
    };
    let catalogue = Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("a", "A", 0.5, 100.0).with_target(3),
            Category::new("b", "B", 0.2, 60.0).with_target(0),
            Category::new("c", "C", 1.0, 30.0),
        ],
    )
    .unwrap();
    if let Ok(state) = QuotaState::restore(&catalogue, &snapshot) {
        assert_eq!(state.snapshot(&catalogue), snapshot);
        for id in catalogue.ids() {
            assert!(state.view().completed(id) <= state.target(id));
        }
    }
});
