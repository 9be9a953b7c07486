//! A simulation `Scenario` from JSON: no panic; its settings validate or refuse with a typed
//! error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotaroute::sim::Scenario;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = serde_json::from_slice::<Scenario>(data) {
        if let Err(e) = s.settings().validate() {
            assert!(!e.to_string().is_empty());
        }
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Scenario>(&json).unwrap(), s);
    }
});
