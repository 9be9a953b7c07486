//! A `Schema` from JSON: no panic; an accepted schema survives a round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotaroute::schema::Schema;

fuzz_target!(|data: &[u8]| {
    if let Ok(schema) = serde_json::from_slice::<Schema>(data) {
        let json = serde_json::to_string(&schema).unwrap();
        assert_eq!(serde_json::from_str::<Schema>(&json).unwrap(), schema);
    }
});
