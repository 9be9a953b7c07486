//! A `QuotaTree` from JSON (schema, name-based spec, ids): no panic; an accepted tree rebuilds
//! from its spec, survives a round trip, and answers every query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotaroute::quota::{Query, QuotaMethod, QuotaTree};

fuzz_target!(|data: &[u8]| {
    let Ok(tree) = serde_json::from_slice::<QuotaTree>(data) else {
        return;
    };
    let again = QuotaTree::from_spec(tree.schema().clone(), &tree.to_spec()).unwrap();
    assert_eq!(again.to_spec(), tree.to_spec());
    let json = serde_json::to_string(&tree).unwrap();
    assert_eq!(serde_json::from_str::<QuotaTree>(&json).unwrap(), tree);
    for q in tree.schema().question_ids() {
        for method in QuotaMethod::ALL {
            tree.query(method, &Query::new(q), None).unwrap();
        }
    }
});
