//! A `Catalogue` from JSON (validated as `Catalogue::new` does): no panic; an accepted
//! catalogue answers its derived questions and survives a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotaroute::catalogue::Catalogue;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = serde_json::from_slice::<Catalogue>(data) {
        let _ = c.preflight(480.0);
        let _ = c.lower_bound(480.0, Some(3));
        let json = serde_json::to_string(&c).unwrap();
        let back: Catalogue = serde_json::from_str(&json).unwrap();
        assert_eq!(back.categories(), c.categories());
    }
});
