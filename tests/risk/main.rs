//! The risk add-on: the `risk` example's documents, properties of the ranking, the seed's
//! worked example of ranking cities, table by table, and the live adapter.

#[cfg(feature = "serde")]
mod document;
mod live;
mod props;
mod seed;

/// The `risk` example, whose document types the tests read and write.
#[cfg(feature = "serde")]
#[path = "../../examples/risk/main.rs"]
#[allow(dead_code)]
mod example;

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
