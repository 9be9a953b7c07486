//! The examples' inputs: the `quota` document and the `dispatch` JSON Lines, read by the
//! examples' document modules (`examples/quota/document.rs`, `examples/dispatch/document.rs`,
//! included here); each case is also run through the examples' earlier in-example parsers (kept
//! verbatim in `oracle_*.rs`) to check that the examples' output and error messages stay byte
//! for byte the same.

use proptest::prelude::*;
use quotaroute::dispatch::Dispatcher;
use serde_json::{Value, json};

use crate::check::{json_error, message};
use crate::mutate::*;

#[path = "../../examples/dispatch/main.rs"]
#[allow(dead_code)]
mod dispatch_example;
#[path = "oracle_dispatch.rs"]
#[allow(dead_code)]
mod oracle_dispatch;
#[path = "oracle_quota.rs"]
#[allow(dead_code)]
mod oracle_quota;
#[path = "../../examples/quota/main.rs"]
#[allow(dead_code)]
mod quota_example;

use dispatch_example::document::Batch;
use quota_example::document::QuotaDocument;

/// Quota documents as the example reads them: a tree of `crate::quota::trees`, its questions,
/// and queries with contexts, groups and answers.
fn quota_documents() -> impl Strategy<Value = Value> {
    (
        crate::quota::trees(),
        prop::collection::vec(
            (0usize..4, any::<usize>(), prop::collection::vec((any::<usize>(), any::<usize>(), any::<bool>()), 0..3), any::<bool>()),
            0..4,
        ),
    )
        .prop_map(|(tree, queries)| {
            let schema = tree.schema();
            let qs: Vec<_> = schema.question_ids().collect();
            let questions: serde_json::Map<String, Value> = schema
                .questions()
                .iter()
                .map(|q| (q.name().to_owned(), json!(q.responses())))
                .collect();
            let name = |q, r| schema.response_name(q, schema.response_ids(q).nth(r % schema.response_count(q)).unwrap()).to_owned();
            let queries: Vec<Value> = queries
                .into_iter()
                .map(|(method, target, context, with_answers)| {
                    let method = ["available", "available_balanced", "list", "balanced_list"][method];
                    let tq = qs[target % qs.len()];
                    let mut ctx = serde_json::Map::new();
                    let mut answers = serde_json::Map::new();
                    for (q, r, group) in context {
                        let q = qs[q % qs.len()];
                        let qn = schema.question_name(q).to_owned();
                        if with_answers {
                            answers.insert(qn.clone(), json!(name(q, r)));
                        }
                        if q != tq {
                            let value = if group { json!([name(q, r)]) } else { json!(name(q, r)) };
                            ctx.insert(qn, value);
                        }
                    }
                    let mut query = json!({"method": method, "question": schema.question_name(tq), "context": ctx});
                    if with_answers {
                        query["answers"] = Value::Object(answers);
                    }
                    query
                })
                .collect();
            json!({"questions": questions, "tree": tree.to_spec(), "queries": queries})
        })
}

fn check_quota_document(bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = text(bytes);
    // The example, as a whole, behaves exactly as before.
    prop_assert_eq!(quota_example::answer(&text), oracle_quota::answer(&text));
    match serde_json::from_str::<QuotaDocument>(&text) {
        Ok(doc) => match doc.check() {
            Ok(checked) => {
                crate::quota::check_tree(&checked.tree)?;
                for q in &checked.queries {
                    prop_assert!(q.path.starts_with("queries["));
                    let results = checked.tree.query(q.method, &q.query, q.answers.as_ref());
                    prop_assert!(results.is_ok(), "{}: {:?}", q.path, results.err());
                }
            }
            Err(e) => {
                let m = message(&e)?;
                let path = m.split(": ").next().unwrap_or_default();
                prop_assert!(
                    ["document", "questions", "tree", "queries"]
                        .iter()
                        .any(|p| path.starts_with(p)),
                    "no path in {m:?}"
                );
            }
        },
        Err(e) => {
            json_error(&e, &[])?;
        }
    }
    Ok(())
}

fn batches() -> impl Strategy<Value = String> {
    let line = (
        prop_oneof![Just(0u64), 0u64..1000, Just(u64::MAX)],
        prop::collection::vec(("[A-E]", prop_oneof![Just(0.0), 0.01f64..5.0]), 0..5),
    )
        .prop_map(|(size, weights)| {
            let mut w = serde_json::Map::new();
            for (id, x) in weights {
                w.insert(id, json!(x));
            }
            json!({"size": size, "weights": w}).to_string()
        });
    prop::collection::vec(line, 1..5).prop_map(|lines| lines.join("\n"))
}

fn check_dispatch_lines(bytes: &[u8]) -> Result<(), TestCaseError> {
    type Process<'a> = &'a dyn Fn(&[u8], &mut Vec<u8>) -> Result<(), String>;
    let run = |process: Process| {
        let mut out = Vec::new();
        let err = process(bytes, &mut out).err();
        (out, err)
    };
    let new = run(&|input, out| dispatch_example::process(input, out).map_err(|e| e.to_string()));
    let old = run(&|input, out| oracle_dispatch::process(input, out).map_err(|e| e.to_string()));
    prop_assert_eq!(&new, &old);
    if let Some(e) = &new.1 {
        prop_assert!(e.starts_with("line "), "{e}");
    }
    // Line by line through the library: a refused batch leaves the dispatcher unchanged.
    let mut d: Dispatcher<String> = Dispatcher::new();
    for line in text(bytes).lines() {
        match serde_json::from_str::<Batch>(line) {
            Ok(batch) => {
                let before = d.to_state();
                match batch.apply(&mut d) {
                    Ok(alloc) => {
                        prop_assert_eq!(alloc.len(), d.len());
                        prop_assert_eq!(
                            alloc.iter().map(|&a| u128::from(a)).sum::<u128>(),
                            u128::from(batch.size)
                        );
                    }
                    Err(e) => {
                        message(&e)?;
                        prop_assert_eq!(d.to_state(), before);
                    }
                }
            }
            Err(e) => {
                json_error(&e, &[])?;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn quota_document_arbitrary_bytes(bytes in junk()) {
        check_quota_document(&bytes)?;
    }

    #[test]
    fn quota_document_mutated((doc, json, bytes) in mutated_json(quota_documents())) {
        check_quota_document(&render_json(&doc, &json, &bytes))?;
    }

    #[test]
    fn dispatch_lines_arbitrary_bytes(bytes in junk()) {
        check_dispatch_lines(&bytes)?;
    }

    #[test]
    fn dispatch_lines_mutated(
        lines in batches(),
        json in prop::collection::vec(json_ops(2), 0..3),
        bytes in prop_oneof![2 => Just(Vec::new()), 1 => byte_ops(3)],
    ) {
        // JSON edits line by line, then byte edits over the whole input.
        let mutated: Vec<String> = lines
            .lines()
            .enumerate()
            .map(|(i, l)| match json.get(i) {
                Some(ops) => apply_json(&serde_json::from_str(l).unwrap(), ops).to_string(),
                None => l.to_owned(),
            })
            .collect();
        check_dispatch_lines(&apply_bytes(mutated.join("\n").as_bytes(), &bytes))?;
    }
}
