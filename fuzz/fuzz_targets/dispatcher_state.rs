//! A `Dispatcher` restored from its JSON snapshot: no panic; it writes back the same snapshot
//! and keeps dispatching (or refusing with a typed error).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotaroute::dispatch::Dispatcher;

fuzz_target!(|data: &[u8]| {
    let Ok(mut d) = serde_json::from_slice::<Dispatcher<String>>(data) else {
        return;
    };
    let json = serde_json::to_string(&d).unwrap();
    let back: Dispatcher<String> = serde_json::from_str(&json).unwrap();
    assert_eq!(back.to_state(), d.to_state());
    for size in [0, 1, 3, 1000, u64::MAX] {
        let _ = d.dispatch(size);
    }
    let _ = d.next();
    let _ = d.add("new".to_owned(), 1.0);
    let _ = d.dispatch(10);
});
