//! The `service` example over real HTTP: two service processes on the shared Redis, driven
//! by concurrent clients whose requests alternate between the nodes. Nothing overfills, no
//! respondent is offered a category twice or passes the time budget, both nodes report the
//! same quotas, a target raised on one node is taken up through both, bad input is a 4xx
//! with a JSON error that changes nothing, and SIGTERM stops a node cleanly.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use quotaroute::catalogue::Catalogue;
use quotaroute::schema::Schema;
use serde_json::{Value, json};
use ureq::Agent;

use crate::support::{self, SHARED, survey};

const BUNDLED: &str = include_str!("../../examples/data/fake_category_data.csv");
/// The service's default interview budget.
const BUDGET_SECONDS: f64 = 480.0;
/// The target every category is lowered to before the run, so categories fill.
const TARGET: u64 = 3;

/// Builds the example in this test's profile and returns its executable.
fn build() -> PathBuf {
    let profile = support::profile();
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
            "service",
            "--no-default-features",
            "--features",
        ])
        .arg(support::example_features(&["serde", "redis", "metrics"]))
        .output()
        .expect("cargo build --example service");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["target"]["name"] == "service" && m["executable"].is_string())
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("the example's executable in cargo's messages")
}

/// A running service process; killed when dropped.
struct Node {
    child: Child,
    base: String,
}

impl Node {
    fn start(bin: &PathBuf, survey: &str) -> Node {
        let mut child = Command::new(bin)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--redis",
                SHARED,
                "--survey",
                survey,
            ])
            .args(["--sync-ms", "50"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the service");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped stdout");
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the service's first line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Node {
            base: format!("http://{addr}"),
            child,
        }
    }

    /// Sends SIGTERM and waits: the service must stop on its own, with exit code 0.
    fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let status = self.child.wait().expect("wait for the service");
        assert!(status.success(), "service stopped with {status:?}");
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn new_agent() -> Agent {
    Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// One request; the status and the body (JSON, or the text when it is not JSON).
fn call(agent: &Agent, method: &str, url: &str, body: Option<&str>) -> (u16, Value) {
    let sent = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("PUT", Some(b)) => agent.put(url).content_type("application/json").send(b),
        (_, b) => agent
            .post(url)
            .content_type("application/json")
            .send(b.unwrap_or("")),
    };
    let response = sent.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status().as_u16();
    let text = response
        .into_body()
        .read_to_string()
        .expect("a response body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn post(agent: &Agent, node: &Node, path: &str, body: Value) -> (u16, Value) {
    let url = format!("{}{path}", node.base);
    call(agent, "POST", &url, Some(&body.to_string()))
}

fn quotas(agent: &Agent, node: &Node) -> Value {
    let (status, doc) = call(agent, "GET", &format!("{}/v1/quotas", node.base), None);
    assert_eq!(status, 200, "{doc}");
    doc
}

fn set_target(agent: &Agent, node: &Node, category: &str, target: u64) -> (u16, Value) {
    let url = format!("{}/v1/categories/{category}/target", node.base);
    call(
        agent,
        "PUT",
        &url,
        Some(&json!({ "target": target }).to_string()),
    )
}

fn answers(i: u64) -> Value {
    let gender = ["female", "male"][(i % 2) as usize];
    let age = ["18-34", "35-54", "55+"][(i % 3) as usize];
    let region = ["north", "central", "south"][(i / 3 % 3) as usize];
    json!({ "gender": gender, "age": age, "region": region })
}

/// What the clients saw.
#[derive(Default)]
struct Seen {
    accepted: u64,
    completed: u64,
    full: u64,
}

/// One respondent's whole interview, each request on the next node in turn: every offer is
/// new, qualified answers hold slots that are completed (or, one in ten, abandoned), and
/// the seconds charged stay within the budget.
fn interview(agent: &Agent, nodes: &[&Node], catalogue: &Catalogue, i: u64, seen: &mut Seen) {
    let respondent = format!("svc-resp-{i:04}-{:x}", i.wrapping_mul(0x9e37_79b9));
    let mut turn = 0;
    let mut node = || {
        turn += 1;
        nodes[turn % nodes.len()]
    };
    let mut shown = HashSet::new();
    let mut seconds = 0.0;
    let mut first = true;
    for _ in 0..200 {
        let mut body = json!({ "respondent": respondent });
        if first {
            body["answers"] = answers(i);
            first = false;
        }
        let (status, doc) = post(agent, node(), "/v1/next", body);
        assert_eq!(status, 200, "{doc}");
        let Some(offer) = doc["offer"].as_str().map(str::to_owned) else {
            break;
        };
        assert!(
            shown.insert(offer.clone()),
            "{respondent} offered {offer} twice"
        );
        let c = catalogue.find(&offer).expect("a category of the catalogue");
        seconds += catalogue.qualifier_seconds(c);
        let qualified = !(i + shown.len() as u64).is_multiple_of(3);
        let body = json!({ "respondent": respondent, "category": offer, "qualified": qualified });
        let (status, doc) = post(agent, node(), "/v1/answer", body);
        assert_eq!(status, 200, "{doc}");
        match doc["result"].as_str() {
            Some("not_qualified") => assert!(!qualified),
            Some("full") => seen.full += 1,
            Some("accepted") => {
                seen.accepted += 1;
                seconds += catalogue.loi_seconds(c);
                if (i + shown.len() as u64).is_multiple_of(10) {
                    let (status, doc) = post(
                        agent,
                        node(),
                        "/v1/abandon",
                        json!({ "respondent": respondent }),
                    );
                    assert_eq!((status, &doc["released"]), (200, &json!(1)), "{doc}");
                    break;
                }
                let body = json!({ "respondent": respondent, "category": offer });
                let (status, doc) = post(agent, node(), "/v1/complete", body);
                assert_eq!(
                    (status, &doc["result"]),
                    (200, &json!("completed")),
                    "{doc}"
                );
                seen.completed += 1;
            }
            other => panic!("unexpected answer {other:?} for {respondent}: {doc}"),
        }
        assert!(
            seconds <= BUDGET_SECONDS + 1e-6,
            "{respondent} charged {seconds} s of {BUDGET_SECONDS}"
        );
    }
}

/// Bad requests, each answered with a 4xx and a JSON error naming the problem.
fn bad_requests_change_nothing(agent: &Agent, a: &Node, b: &Node) {
    let before = quotas(agent, a);
    let started = json!({ "respondent": "svc-bad", "answers": answers(1) });
    assert_eq!(post(agent, a, "/v1/next", started).0, 200);
    let url = format!("{}/v1/next", b.base);
    let cases: Vec<(u16, Value, &str)> = vec![
        {
            let (s, d) = call(agent, "POST", &url, Some("{not json"));
            (s, d, "JSON")
        },
        {
            let body = json!({ "respondent": "svc-bad", "category": "1", "qualified": "yes" });
            let (s, d) = post(agent, b, "/v1/answer", body);
            (s, d, "qualified")
        },
        {
            let body = json!({ "respondent": "svc-bad", "tip": 1 });
            let (s, d) = post(agent, a, "/v1/next", body);
            (s, d, "tip")
        },
        {
            let body = json!({ "respondent": "svc-x", "answers": { "gender": "robot" } });
            let (s, d) = post(agent, b, "/v1/next", body);
            (s, d, "robot")
        },
        {
            let body = json!({ "respondent": "svc-bad", "category": "no-such", "qualified": true });
            let (s, d) = post(agent, a, "/v1/answer", body);
            (s, d, "no-such")
        },
        {
            let body = json!({ "respondent": "svc-nobody", "category": "1" });
            let (s, d) = post(agent, b, "/v1/complete", body);
            (s, d, "svc-nobody")
        },
        {
            let (s, d) = set_target(agent, a, "no-such", 5);
            (s, d, "no-such")
        },
        {
            let url = format!("{}/v1/categories/1/target", b.base);
            let (s, d) = call(agent, "PUT", &url, Some(r#"{"target": -1}"#));
            (s, d, "target")
        },
    ];
    for (status, doc, names) in cases {
        assert!((400..500).contains(&status), "{status} {doc}");
        let message = doc["error"].as_str().unwrap_or_else(|| panic!("{doc}"));
        assert!(message.contains(names), "`{message}` should name `{names}`");
    }
    assert_eq!(quotas(agent, b), before);
}

#[test]
fn two_service_nodes_on_one_redis_share_quotas_and_interviews_over_http() {
    let bin = build();
    let survey = survey("svc");
    let (a, b) = (Node::start(&bin, &survey), Node::start(&bin, &survey));
    let catalogue = Catalogue::from_csv(Schema::default_survey(), BUNDLED).expect("bundled");
    let agent = new_agent();
    bad_requests_change_nothing(&agent, &a, &b);

    // Every category down to a few completes, alternately through each node.
    for (k, c) in catalogue.categories().iter().enumerate() {
        let node = if k % 2 == 0 { &a } else { &b };
        let (status, doc) = set_target(&agent, node, &c.key, TARGET);
        assert_eq!((status, &doc["target"]), (200, &json!(TARGET)), "{doc}");
    }

    let nodes = [&a, &b];
    let seen: Vec<Seen> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..4u64)
            .map(|t| {
                let (catalogue, nodes) = (&catalogue, &nodes);
                s.spawn(move || {
                    let agent = new_agent();
                    let mut seen = Seen::default();
                    for i in 0..40 {
                        interview(&agent, nodes, catalogue, t * 1000 + i, &mut seen);
                    }
                    seen
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|c| c.join().expect("a client"))
            .collect()
    });
    let completed: u64 = seen.iter().map(|s| s.completed).sum();
    let accepted: u64 = seen.iter().map(|s| s.accepted).sum();
    assert!(completed > 0 && accepted >= completed);

    let doc = quotas(&agent, &a);
    assert_eq!(quotas(&agent, &b), doc, "both nodes read the store");
    assert_eq!(doc["overfill"], 0, "{doc}");
    let categories = doc["categories"].as_array().expect("categories");
    let mut in_store = 0;
    for c in categories {
        assert_eq!(c["pending"], 0, "{c}");
        assert!(c["completed"].as_u64() <= c["target"].as_u64(), "{c}");
        in_store += c["completed"].as_u64().unwrap_or(0);
    }
    assert_eq!(
        in_store, completed,
        "every complete a client was told of, once"
    );
    let filled: Vec<&str> = categories
        .iter()
        .filter(|c| c["completed"] == json!(TARGET))
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert!(!filled.is_empty(), "the run filled some category: {doc}");

    raised_target_is_taken_up_by_both(&agent, &a, &b, &catalogue, filled[0]);

    let (status, text) = call(&agent, "GET", &format!("{}/metrics", b.base), None);
    let text = text.as_str().unwrap_or_default().to_owned();
    assert_eq!(status, 200);
    for name in [
        "quotaroute_holds_total",
        "quotaroute_completes_total",
        "quotaroute_open_slots",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
    a.terminate();
    b.terminate();
}

/// Raises a full category's target by two on node `a`; respondents on each node in turn
/// until each node has held and completed one of the new slots.
fn raised_target_is_taken_up_by_both(
    agent: &Agent,
    a: &Node,
    b: &Node,
    catalogue: &Catalogue,
    full: &str,
) {
    let (status, doc) = set_target(agent, a, full, TARGET + 2);
    assert_eq!((status, &doc["target"]), (200, &json!(TARGET + 2)), "{doc}");
    let mut took = [false, false];
    for i in 0..300u64 {
        let Some(n) = took.iter().position(|t| !t) else {
            break;
        };
        let node = [a, b][n];
        let respondent = format!("svc-raise-{i}");
        let mut body = json!({ "respondent": respondent, "answers": answers(i) });
        for _ in 0..catalogue.len() {
            let (status, doc) = post(agent, node, "/v1/next", body.clone());
            assert_eq!(status, 200, "{doc}");
            body = json!({ "respondent": respondent });
            let Some(offer) = doc["offer"].as_str().map(str::to_owned) else {
                break;
            };
            let qualified = offer == full;
            let answer =
                json!({ "respondent": respondent, "category": offer, "qualified": qualified });
            let (status, doc) = post(agent, node, "/v1/answer", answer);
            assert_eq!(status, 200, "{doc}");
            if qualified {
                assert_eq!(doc["result"], "accepted", "{doc}");
                let done = json!({ "respondent": respondent, "category": offer });
                let (_, doc) = post(agent, node, "/v1/complete", done);
                assert_eq!(doc["result"], "completed", "{doc}");
                took[n] = true;
                break;
            }
        }
    }
    assert_eq!(took, [true, true], "each node took one of the raised slots");
    let doc = quotas(agent, b);
    let c = doc["categories"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["id"] == full))
        .expect("the raised category");
    assert_eq!(
        (&c["completed"], &c["target"]),
        (&json!(TARGET + 2), &json!(TARGET + 2))
    );
    assert_eq!(doc["overfill"], 0, "{doc}");
}
