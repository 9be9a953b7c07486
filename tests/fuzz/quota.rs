//! Quota trees: the serialised tree document (schema + name-based spec + ids) and the spec
//! alone through `QuotaTree::from_spec`.

use proptest::prelude::*;
use quotaroute::quota::{Condition, NodeId, NodeSpec, Query, QuotaMethod, QuotaTree, Target};
use quotaroute::schema::Schema;
use serde_json::Value;

use crate::check::{json_error, message, round_trip};
use crate::mutate::*;

/// Random trees over random schemas, built with the builder (so ids are not always depth
/// first), with targets of every kind and observed counts.
pub fn trees() -> impl Strategy<Value = QuotaTree> {
    (
        prop::collection::vec(1usize..4, 1..4),
        prop::collection::vec(
            (
                any::<usize>(),
                any::<usize>(),
                any::<usize>(),
                0u8..4,
                0u64..20,
                0u64..20,
                0u64..15,
            ),
            0..12,
        ),
    )
        .prop_map(|(sizes, nodes)| {
            let schema = sizes
                .iter()
                .enumerate()
                .fold(Schema::builder(), |b, (i, &n)| {
                    b.question(format!("Q{i}"), (0..n).map(|r| format!("r{r}")))
                })
                .build()
                .unwrap();
            let qids: Vec<_> = schema.question_ids().collect();
            let mut b = QuotaTree::builder(schema.clone());
            b.set_target(b.root(), Target::Single(40)).unwrap();
            let mut ids = vec![NodeId::ROOT];
            for (i, &(parent, q, r, kind, x, y, obs)) in nodes.iter().enumerate() {
                let q = qids[q % qids.len()];
                let n = schema.response_count(q);
                let first = schema.response_ids(q).nth(r % n).unwrap();
                let condition = if kind == 3 && n > 1 {
                    let second = schema.response_ids(q).nth((r + 1) % n).unwrap();
                    Condition::group(q, [first, second])
                } else {
                    Condition::response(q, first)
                };
                let target = match kind {
                    0 => Target::None,
                    1 | 3 => Target::Single(x),
                    _ => Target::MinMax {
                        min: x.min(y),
                        max: x.max(y),
                    },
                };
                match b.add_child(ids[parent % (i + 1)], condition, target) {
                    Ok(id) => {
                        b.set_observed(id, obs).unwrap();
                        ids.push(id);
                    }
                    Err(_) => ids.push(ids[parent % (i + 1)]),
                }
            }
            b.build()
        })
}

/// Everything an accepted tree promises: its spec rebuilds it, it survives serde, and every
/// query on every question answers.
pub fn check_tree(tree: &QuotaTree) -> Result<(), TestCaseError> {
    let again = QuotaTree::from_spec(tree.schema().clone(), &tree.to_spec());
    prop_assert!(again.is_ok(), "{:?}", again.err());
    prop_assert_eq!(again.unwrap().to_spec(), tree.to_spec());
    prop_assert_eq!(&round_trip(tree)?, tree);
    for q in tree.schema().question_ids() {
        for method in QuotaMethod::ALL {
            let results = tree.query(method, &Query::new(q), None);
            prop_assert!(results.is_ok(), "{:?}", results.err());
            for (r, _) in results.unwrap() {
                prop_assert!(r.index() < tree.schema().response_count(q));
            }
        }
    }
    Ok(())
}

fn check_tree_json(bytes: &[u8]) -> Result<(), TestCaseError> {
    match serde_json::from_slice::<QuotaTree>(bytes) {
        Ok(tree) => check_tree(&tree)?,
        Err(e) => {
            json_error(&e, &["ids: "])?;
        }
    }
    Ok(())
}

fn check_spec_json(schema: &Schema, bytes: &[u8]) -> Result<(), TestCaseError> {
    let spec = match serde_json::from_slice::<NodeSpec>(bytes) {
        Ok(s) => s,
        Err(e) => {
            json_error(&e, &[])?;
            return Ok(());
        }
    };
    match QuotaTree::from_spec(schema.clone(), &spec) {
        Ok(tree) => check_tree(&tree)?,
        Err(e) => {
            let m = message(&e)?;
            prop_assert!(m.starts_with("tree"), "no path in {m:?}");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn tree_json_arbitrary_bytes(bytes in junk()) {
        check_tree_json(&bytes)?;
    }

    #[test]
    fn tree_json_mutated((doc, json, bytes) in mutated_json(trees().prop_map(|t| serde_json::to_value(&t).unwrap()))) {
        check_tree_json(&render_json(&doc, &json, &bytes))?;
    }

    #[test]
    fn spec_arbitrary_bytes(tree in trees(), bytes in junk()) {
        check_spec_json(tree.schema(), &bytes)?;
    }

    #[test]
    fn spec_mutated(
        (tree, json, bytes) in (trees(), prop_oneof![Just(Vec::new()), json_ops(4)], prop_oneof![2 => Just(Vec::new()), 1 => byte_ops(3)])
    ) {
        let doc: Value = serde_json::to_value(tree.to_spec()).unwrap();
        check_spec_json(tree.schema(), &render_json(&doc, &json, &bytes))?;
    }
}
