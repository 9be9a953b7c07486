//! The quota add-on: worked examples of the queries, the `quota` example, properties on random
//! trees against a plain reference implementation, and the typed API.
#![cfg(feature = "serde")]

mod example;
mod props;
mod queries;
mod typed;

/// Proptest settings: `cases` cases, and failures persisted beside the test's source file
/// (`props.rs` → `props.proptest-regressions`). Proptest's default would write every binary's
/// failures to one shared `tests/proptest-regressions/` directory, by file name alone.
pub fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    proptest::test_runner::Config {
        cases,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..proptest::test_runner::Config::default()
    }
}
