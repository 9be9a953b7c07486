//! The `quota` example's document (`QuotaDocument`, `examples/quota/document.rs`): no panic; a checked
//! document's queries all answer.
#![no_main]

use libfuzzer_sys::fuzz_target;

use document::QuotaDocument;

#[path = "../../examples/quota/document.rs"]
#[allow(dead_code)]
mod document;
#[path = "../../examples/support/json.rs"]
mod json;

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_slice::<QuotaDocument>(data) else {
        return;
    };
    match doc.check() {
        Ok(checked) => {
            for q in &checked.queries {
                checked
                    .tree
                    .query(q.method, &q.query, q.answers.as_ref())
                    .unwrap();
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
