//! The proptest configuration of the grouped test binaries.
//!
//! Failing cases are saved beside the test's source file (`tests/route/properties.rs` →
//! `tests/route/properties.proptest-regressions`) and replayed first on every run. Proptest's
//! default would look for a `lib.rs` or `main.rs` above the source and, finding the binary's
//! `main.rs`, save them in a `tests/proptest-regressions/` directory shared by every binary.

use proptest::test_runner::{Config, FileFailurePersistence};

/// Proptest's defaults, with failing cases persisted beside the source file.
pub fn config() -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    }
}
