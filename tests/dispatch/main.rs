//! The dispatch add-on: the dispatcher's worked examples and refusals, the JSON Lines example,
//! long streams against batches of one, the invariants and an exact-rational oracle, and the
//! streaming mode at the edges of its kinetic structures.

mod dispatcher;
mod example;
mod long;
mod props;
mod stream;

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
