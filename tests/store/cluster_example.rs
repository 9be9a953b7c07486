//! The `cluster` example as a whole: node processes on the shared Redis, one of them
//! SIGKILLed mid-run, and the run must still end with nothing overfilled and every complete
//! accounted for.

use std::process::Command;

use crate::support;

#[test]
fn a_node_killed_mid_run_leaves_no_overfill_and_every_complete_accounted_for() {
    let doc = run_with_a_killed_node(&[]);
    assert_eq!(doc["store"], "redis", "{doc:#}");
}

/// Runs the example (3 nodes, the last SIGKILLed after 300 ms) with `store` flags (none: the
/// shared Redis) and checks the rules every store must meet; returns the JSON document.
pub fn run_with_a_killed_node(store: &[&str]) -> serde_json::Value {
    let profile = support::profile();
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "run",
            "--quiet",
            "--profile",
            profile,
            "--example",
            "cluster",
        ])
        .args([
            "--no-default-features",
            "--features",
            &support::example_features(&["serde", "redis"]),
            "--",
        ])
        .args(["--nodes", "3", "--threads", "2", "--interviews", "3000"])
        .args(["--ttl-ms", "1000", "--store-wait", "10"])
        .args(["--kill-node-after-ms", "300"])
        .args(store)
        .output()
        .expect("cargo run --example cluster");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status.code()
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    let field = |name: &str| {
        doc[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} missing in {doc:#}"))
    };
    assert_eq!(field("overfill"), 0, "{doc:#}");
    assert_eq!(field("pending"), 0, "{doc:#}");
    assert_eq!(
        field("acknowledged_completes"),
        field("store_completes"),
        "{doc:#}"
    );
    assert_eq!(field("nodes"), 3);
    assert_eq!(field("killed_node"), 2, "{doc:#}");
    // The node was cut short: it never sent its final report.
    assert_eq!(field("nodes_without_end"), 1, "{doc:#}");
    assert!(field("store_completes") > 0, "{doc:#}");
    assert!(field("reserves") > 0, "{doc:#}");
    doc
}
