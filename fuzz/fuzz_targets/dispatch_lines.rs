//! The `dispatch` example's JSON Lines (`Batch`, `examples/dispatch/document.rs`), applied in turn to one
//! dispatcher: no panic; an allocation sums to the batch; a refused batch changes nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotaroute::dispatch::Dispatcher;

use document::Batch;

#[path = "../../examples/dispatch/document.rs"]
#[allow(dead_code)]
mod document;

fuzz_target!(|data: &[u8]| {
    let mut d: Dispatcher<String> = Dispatcher::new();
    for line in String::from_utf8_lossy(data).lines() {
        let Ok(batch) = serde_json::from_str::<Batch>(line) else {
            continue;
        };
        let before = d.to_state();
        match batch.apply(&mut d) {
            Ok(alloc) => assert_eq!(alloc.iter().map(|&a| u128::from(a)).sum::<u128>(), u128::from(batch.size)),
            Err(_) => assert_eq!(d.to_state(), before),
        }
    }
});
