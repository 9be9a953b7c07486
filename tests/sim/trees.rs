//! Quota trees in the simulator (issue 20, item 5): every complete is counted in the nodes the
//! respondent falls in, so a full node closes its branch for every policy; `mins_met`, the
//! routing that ignores mins, the scenario's trees, the LP's node limits and the `simulate`
//! example's JSON contract.

use std::path::PathBuf;
use std::process::Command;

use quotaroute::bound::{LpOptions, lower_bound_lp};
use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::quota::NodeSpec;
use quotaroute::route::{POLICY_NAMES, policy};
use quotaroute::schema::Schema;
use quotaroute::sim::{Scenario, ScenarioError, ScenarioTree, Settings, Summary, monte_carlo};
use serde_json::Value;

/// Region, then gender within it, each with a min and a max; the regions' maxes sum to 45
/// for a target of 40, so the maxes bind.
const TREE: &str = r#"{"children": [
    {"question": "region", "response": "north", "min": 10, "max": 15, "children": [
        {"question": "gender", "response": "female", "min": 4, "max": 8},
        {"question": "gender", "response": "male", "min": 4, "max": 8}]},
    {"question": "region", "response": "central", "min": 10, "max": 15},
    {"question": "region", "response": "south", "min": 10, "max": 15}]}"#;

fn spec(text: &str) -> NodeSpec {
    serde_json::from_str(text).unwrap()
}

fn base() -> Catalogue {
    Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("1", "A", 0.5, 100.0).with_target(40),
            Category::new("2", "B", 0.2, 150.0).with_target(40),
            Category::new("3", "C", 0.3, 60.0).with_target(30),
        ],
    )
    .unwrap()
}

/// The base catalogue with [`TREE`] on categories 1 and 2.
fn with_trees(tree: &str) -> Catalogue {
    Scenario {
        trees: vec![ScenarioTree {
            categories: vec!["1".into(), "2".into()],
            tree: spec(tree),
        }],
        ..Scenario::default()
    }
    .apply(&base())
    .unwrap()
}

fn settings(runs: u32) -> Settings {
    Settings {
        runs,
        seed: 3,
        threads: Some(2),
        max_respondents: Some(5_000),
        ..Settings::default()
    }
}

fn simulate(catalogue: &Catalogue, name: &str, settings: &Settings) -> Summary {
    let router = policy(name).unwrap();
    monte_carlo(catalogue, router.as_ref(), settings, &|_| {}).unwrap()
}

#[test]
fn no_node_passes_its_max_under_any_policy_and_full_nodes_are_reached() {
    let catalogue = with_trees(TREE);
    assert_eq!(catalogue.cell_count(), 10);
    for name in POLICY_NAMES {
        let s = simulate(&catalogue, name, &settings(20));
        assert_eq!(s.failures, 0, "{name}");
        assert_eq!(s.tree_overfill, 0, "{name}");
        let mut reached = 0;
        for cell in 0..catalogue.cell_count() {
            let (_, quota) = catalogue.cell(cell).unwrap();
            let most = s.node_completed_max[cell];
            assert!(most <= quota.max, "{name}: node {cell} had {most}");
            reached += usize::from(most == quota.max);
        }
        // The maxes bind: some node is full in some run, so closing branches was tested.
        assert!(reached > 0, "{name}: no node ever reached its max");
        // Each category's top nodes hold all its completes.
        for (c, range) in [(0, 0..5), (1, 5..10)] {
            let top: u32 = range
                .filter(|&i| catalogue.cell(i).is_some_and(|(_, q)| q.parent.is_none()))
                .map(|i| s.node_completed_min[i])
                .sum();
            assert!(top <= catalogue.categories()[c].target, "{name}");
        }
    }
}

#[test]
fn mins_met_is_measured_and_a_run_that_never_meets_them_reports_the_limit() {
    let catalogue = with_trees(TREE);
    let s = simulate(&catalogue, "greedy", &settings(20));
    for (met, n) in s.mins_met.iter().zip(&s.respondents) {
        // Met at some respondent of the run, or never (the limit).
        assert!(*met <= *n || *met == 5_000, "{met} after a run of {n}");
    }
    assert!(s.mins_met_median <= s.mins_met_p95);
    // Impossible: the regions' mins sum to 48 for a target of 40.
    let impossible = with_trees(
        &TREE
            .replace("\"min\": 10", "\"min\": 16")
            .replace("\"max\": 15", "\"max\": 20"),
    );
    let s = simulate(&impossible, "greedy", &settings(10));
    assert_eq!(s.failures, 0);
    assert!(s.mins_met.iter().all(|&m| m == 5_000), "{:?}", s.mins_met);
    assert_eq!((s.mins_met_median, s.mins_met_p95), (5_000, 5_000));
    // Without trees there are no mins: met from the start.
    let s = simulate(&base(), "greedy", &settings(5));
    assert!(s.mins_met.iter().all(|&m| m == 0));
    assert!(s.node_completed_median.is_empty());
}

#[test]
fn ignore_mins_routes_as_the_catalogue_without_mins_and_still_measures_the_mins() {
    let catalogue = with_trees(TREE);
    let minless = with_trees(
        &TREE
            .replace("\"min\": 10", "\"min\": 0")
            .replace("\"min\": 4", "\"min\": 0"),
    );
    assert!(
        minless
            .categories()
            .iter()
            .all(|c| c.cells.iter().all(|q| q.min == 0))
    );
    let ignoring = Settings {
        ignore_mins: true,
        ..settings(20)
    };
    for name in POLICY_NAMES {
        let ignored = simulate(&catalogue, name, &ignoring);
        let plain = simulate(&minless, name, &settings(20));
        // The same routing, respondent for respondent.
        assert_eq!(ignored.respondents, plain.respondents, "{name}");
        assert_eq!(ignored.node_completed_median, plain.node_completed_median);
        // Measured against the real mins: the catalogue without them meets them at once.
        assert!(plain.mins_met.iter().all(|&m| m == 0), "{name}");
        assert!(ignored.mins_met.iter().all(|&m| m > 0), "{name}");
        // Within the run, or never (the limit).
        let within = |(m, n): (&u64, &u64)| m <= n || *m == 5_000;
        assert!(
            ignored
                .mins_met
                .iter()
                .zip(&ignored.respondents)
                .all(within),
            "{name}"
        );
    }
}

#[test]
fn a_scenario_tree_naming_an_unknown_category_or_a_bad_node_is_a_typed_error() {
    let scenario = |categories: &[&str], tree: &str| Scenario {
        trees: vec![ScenarioTree {
            categories: categories.iter().map(|k| k.to_string()).collect(),
            tree: spec(tree),
        }],
        ..Scenario::default()
    };
    let err = scenario(&["1", "nope"], TREE).apply(&base()).unwrap_err();
    assert!(
        matches!(&err, ScenarioError::UnknownTreeCategory { tree: 0, key } if key == "nope"),
        "{err:?}"
    );
    let err = scenario(&["1", "1"], TREE).apply(&base()).unwrap_err();
    assert!(
        matches!(err, ScenarioError::TreeTwice { tree: 0, .. }),
        "{err:?}"
    );
    let bad = r#"{"children": [{"question": "planet", "response": "mars", "min": 1, "max": 2}]}"#;
    let err = scenario(&["1"], bad).apply(&base()).unwrap_err();
    assert!(err.to_string().starts_with("trees[0].tree:"), "{err}");
    assert!(err.to_string().contains("planet"), "{err}");
    let root = r#"{"min": 10, "max": 20}"#;
    let err = scenario(&["2"], root).apply(&base()).unwrap_err();
    assert!(
        matches!(err, ScenarioError::TreeRefused { tree: 0, .. }),
        "{err:?}"
    );
    // Unknown fields are refused, in a tree entry as anywhere in the scenario.
    let doc = r#"{"trees": [{"categories": ["1"], "tree": {}, "extra": 1}]}"#;
    let err = serde_json::from_str::<Scenario>(doc).unwrap_err();
    assert!(err.to_string().contains("extra"), "{err}");
    let doc = r#"{"ignore_mins": true, "trees": [{"categories": ["1"], "tree": {}}]}"#;
    let read: Scenario = serde_json::from_str(doc).unwrap();
    assert!(read.settings().ignore_mins);
}

#[test]
fn the_lp_with_node_limits_is_higher_and_still_below_what_runs_need() {
    // A third of the supply is northern, yet at least 30 of 60 completes must be: the
    // other regions' maxes (15 each) force it, and the min says it.
    let tree = r#"{"children": [
        {"question": "region", "response": "north", "min": 30, "max": 60},
        {"question": "region", "response": "central", "min": 0, "max": 15},
        {"question": "region", "response": "south", "min": 0, "max": 15}]}"#;
    let catalogue = Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("a", "A", 0.5, 60.0)
                .with_target(60)
                .with_quota_tree(
                    &quotaroute::quota::QuotaTree::from_spec(Schema::default_survey(), &spec(tree))
                        .unwrap(),
                )
                .unwrap(),
            // Its own 160 respondents on average: the runs wait for whichever ends last.
            Category::new("b", "B", 0.3, 90.0).with_target(48),
        ],
    )
    .unwrap();
    let settings = settings(200);
    let options = LpOptions::for_run(&settings, &catalogue);
    assert!(options.node_limits);
    let with = lower_bound_lp(&catalogue, &options).unwrap().respondents;
    let without = lower_bound_lp(
        &catalogue,
        &LpOptions {
            node_limits: false,
            ..options
        },
    )
    .unwrap()
    .respondents;
    assert!(with > without + 1.0, "{with} vs {without}");
    for name in ["greedy", "random"] {
        let s = simulate(&catalogue, name, &settings);
        assert_eq!(s.failures, 0);
        // Respondents until every target and every min are met, on average.
        let needed: f64 = s
            .respondents
            .iter()
            .zip(&s.mins_met)
            .map(|(&n, &m)| n.max(m) as f64)
            .sum::<f64>()
            / s.respondents.len() as f64;
        assert!(
            with <= needed,
            "{name}: LP {with} above the runs' mean {needed}"
        );
    }
}

/// Builds the `simulate` example in this test's profile and with its features (so its
/// dependencies are built already) and returns its executable.
fn simulate_example() -> PathBuf {
    let profile = if cfg!(debug_assertions) {
        "test"
    } else {
        "bench"
    };
    let features: Vec<&str> = [
        ("serde", true),
        ("lp", true),
        ("proptest", cfg!(feature = "proptest")),
        ("conformance", cfg!(feature = "conformance")),
        ("redis", cfg!(feature = "redis")),
        ("postgres", cfg!(feature = "postgres")),
        ("metrics", cfg!(feature = "metrics")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "--message-format",
            "json",
            "--profile",
            profile,
        ])
        .args([
            "--example",
            "simulate",
            "--no-default-features",
            "--features",
        ])
        .arg(features.join(","))
        .output()
        .expect("cargo build --example simulate");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["target"]["name"] == "simulate" && m["executable"].is_string())
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("the example's executable in cargo's messages")
}

#[test]
fn the_interlocked_scenario_gives_the_json_contract_for_every_policy() {
    let bin = simulate_example();
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/scenarios/interlocked.json"
    );
    for extra in [&[][..], &["--ignore-mins"][..]] {
        let output = Command::new(&bin)
            .args([
                "--scenario",
                scenario,
                "--json",
                "--runs",
                "2",
                "--policy",
                "all",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(doc["settings"]["ignore_mins"], !extra.is_empty());
        let (lp, plain) = (&doc["lower_bound_lp"], &doc["lower_bound_lp_without_nodes"]);
        assert!(
            lp.as_f64().unwrap() >= plain.as_f64().unwrap() - 1e-6,
            "{lp} {plain}"
        );
        let nodes = doc["quota_nodes"].as_u64().unwrap();
        // Region × gender × age on at least a third of the 77 categories.
        assert!(nodes >= 26 * 27, "{nodes}");
        let policies = doc["policies"].as_array().unwrap();
        assert_eq!(policies.len(), POLICY_NAMES.len());
        for p in policies {
            let name = &p["policy"];
            assert_eq!(p["tree_overfill"].as_u64(), Some(0), "{name}");
            let median = p["mins_met_median"].as_u64().expect("a number");
            let p95 = p["mins_met_p95"].as_u64().expect("a number");
            assert!(median <= p95, "{name}");
            let fill = p["nodes"].as_array().unwrap();
            assert_eq!(fill.len() as u64, nodes);
            for node in fill {
                let most = node["completed_max"].as_u64().unwrap();
                assert!(most <= node["max"].as_u64().unwrap(), "{name}: {node}");
                assert!(node["min"].as_u64().unwrap() <= node["max"].as_u64().unwrap());
                assert!(node["category"].is_string() && node["cell"].is_string());
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("quotaroute-trees-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A catalogue document carries its trees to `--catalogue`.
    let document = dir.join("catalogue.json");
    std::fs::write(&document, serde_json::to_string(&with_trees(TREE)).unwrap()).unwrap();
    let output = Command::new(&bin)
        .args([
            "--catalogue",
            document.to_str().unwrap(),
            "--json",
            "--runs",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let doc: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["quota_nodes"], 10);
    for p in doc["policies"].as_array().unwrap() {
        assert_eq!(p["tree_overfill"], 0);
        assert_eq!(p["nodes"][0]["cell"], "region=north");
    }
    // A tree naming an unknown category stops the example with one line naming it.
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"trees": [{"categories": ["1", "999"], "tree": {}}]}"#,
    )
    .unwrap();
    let output = Command::new(&bin)
        .args(["--scenario", bad.to_str().unwrap(), "--json", "--runs", "1"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("trees[0].categories: no category with id `999`"),
        "{stderr}"
    );
}

/// Min steering (on by default) changes routing and meets the mins no later at the median than
/// routing that ignores them, for the scoring policies (the comparison `--ignore-mins` makes).
#[test]
fn min_steering_meets_the_mins_no_later_than_ignoring_them() {
    // The tree on category 1 only, which is less scarce than 2: only steering offers it first
    // to respondents in its nodes below their mins. A 200 s cap leaves room for about one
    // category survey per respondent, so which one is offered first matters.
    let catalogue = Scenario {
        trees: vec![ScenarioTree {
            categories: vec!["1".into()],
            tree: spec(TREE),
        }],
        ..Scenario::default()
    }
    .apply(&base())
    .unwrap();
    let capped = Settings {
        hard_cap: 200.0,
        ..settings(40)
    };
    let ignoring = Settings {
        ignore_mins: true,
        ..capped.clone()
    };
    for name in ["greedy", "packing"] {
        let steered = simulate(&catalogue, name, &capped);
        let ignored = simulate(&catalogue, name, &ignoring);
        assert_eq!(steered.tree_overfill, 0, "{name}");
        assert_ne!(
            steered.mins_met, ignored.mins_met,
            "{name}: routing unchanged"
        );
        assert!(
            steered.mins_met_median <= ignored.mins_met_median,
            "{name}: steering {} against {} ignoring",
            steered.mins_met_median,
            ignored.mins_met_median
        );
    }
}
