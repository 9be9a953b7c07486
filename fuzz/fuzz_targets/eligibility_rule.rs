//! `Rule::parse` on the default schema: no panic; an accepted rule fits the schema.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotaroute::schema::{Rule, Schema};

fuzz_target!(|data: &[u8]| {
    let schema = Schema::default_survey();
    match Rule::parse(&schema, &String::from_utf8_lossy(data)) {
        Ok(rule) => {
            assert!(rule.fits(&schema));
            let share = rule.eligible_share(&schema);
            assert!((0.0..=1.0 + 1e-9).contains(&share));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
