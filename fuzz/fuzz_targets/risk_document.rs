//! The `risk` example's document: no panic; an accepted request ranks or refuses with a typed
//! error, and its ranking serialises.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotaroute::risk::RiskModel;

use document::{RankingDocument, RiskDocument};

#[path = "../../examples/risk/document.rs"]
#[allow(dead_code)]
mod document;
#[path = "../../examples/support/json.rs"]
mod json;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<RiskDocument>(data) else {
        return;
    };
    let Ok(request) = doc.into_request(RiskModel::seed()) else {
        return;
    };
    if let Ok(report) = request.rank() {
        let out = RankingDocument::new(&report).rounded(6);
        serde_json::to_string(&out).unwrap();
    }
});
