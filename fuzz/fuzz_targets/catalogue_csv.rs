//! `Catalogue::from_csv` on the default schema: no panic; an accepted catalogue is valid and
//! survives a JSON round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotaroute::catalogue::Catalogue;
use quotaroute::schema::Schema;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Catalogue::from_csv(Schema::default_survey(), &text) {
        Ok(c) => {
            for cat in c.categories() {
                assert!(cat.incidence > 0.0 && cat.incidence <= 1.0);
                assert!(cat.loi_seconds.is_finite() && cat.loi_seconds > 0.0);
                assert!(cat.eligibility.fits(c.schema()));
            }
            let _ = c.preflight(480.0);
            let json = serde_json::to_string(&c).unwrap();
            let back: Catalogue = serde_json::from_str(&json).unwrap();
            assert_eq!(back.categories(), c.categories());
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
