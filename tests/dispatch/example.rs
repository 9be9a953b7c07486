//! The JSON Lines example, driven in-process (its source is included as a module).
#![cfg(feature = "serde")]

#[path = "../../examples/dispatch/main.rs"]
#[allow(dead_code)]
mod program;

use serde_json::Value;

fn run(input: &str) -> (Vec<Value>, Option<String>) {
    let mut out = Vec::new();
    let err = program::process(input.as_bytes(), &mut out).err();
    let lines = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, err.map(|e| e.to_string()))
}

fn alloc(v: &Value) -> Vec<(String, u64)> {
    v["allocation"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| {
            (
                k.clone(),
                n.as_u64().expect("allocations are JSON integers"),
            )
        })
        .collect()
}

fn errors(v: &Value) -> Vec<(String, f64)> {
    v["cumulative_error"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_f64().unwrap()))
        .collect()
}

fn pairs(p: &[(&str, u64)]) -> Vec<(String, u64)> {
    p.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

#[test]
fn writes_allocations_and_errors_per_line_for_a_changing_roster() {
    let (out, err) = run(concat!(
        r#"{"size": 100, "weights": {"A": 0.8, "B": 1.0, "C": 1.2}}"#,
        "\n",
        r#"{"size": 50, "weights": {"A": 0.8, "B": 1.0, "C": 1.2}}"#,
        "\n\n",
        r#"{"size": 300, "weights": {"B": 1.0, "C": 1.1, "D": 0.5}}"#,
        "\n"
    ));
    assert_eq!(err, None);
    assert_eq!(out.len(), 3);
    assert_eq!(alloc(&out[0]), pairs(&[("A", 27), ("B", 33), ("C", 40)]));
    assert_eq!(alloc(&out[1]), pairs(&[("A", 13), ("B", 17), ("C", 20)]));
    assert_eq!(alloc(&out[2]), pairs(&[("B", 115), ("C", 127), ("D", 58)]));
    let want = [1.0 / 3.0, -1.0 / 3.0, 0.0];
    for ((_, e), w) in errors(&out[0]).iter().zip(want) {
        assert!((e - w).abs() < 1e-6);
    }
    let want = [115.0 - 300.0 / 2.6, 127.0 - 330.0 / 2.6, 58.0 - 150.0 / 2.6];
    for ((_, e), w) in errors(&out[2]).iter().zip(want) {
        assert!((e - w).abs() < 1e-6);
    }
}

#[test]
fn reproduces_the_single_item_batches() {
    let line = r#"{"size": 1, "weights": {"A": 0.6, "B": 0.4}}"#;
    let (out, err) = run(&[line; 3].join("\n"));
    assert_eq!(err, None);
    let got: Vec<_> = out.iter().map(alloc).collect();
    assert_eq!(
        got,
        vec![
            pairs(&[("A", 1), ("B", 0)]),
            pairs(&[("A", 0), ("B", 1)]),
            pairs(&[("A", 1), ("B", 0)])
        ]
    );
}

#[test]
fn pauses_size_zero_and_document_order() {
    let (out, err) = run(concat!(
        r#"{"size": 10, "weights": {"Z": 1, "A": 3}}"#,
        "\n",
        r#"{"size": 0, "weights": {"Z": 1, "A": 3}}"#,
        "\n",
        r#"{"size": 8, "weights": {"A": 3, "Z": 0, "N": 1}}"#,
        "\n"
    ));
    assert_eq!(err, None);
    assert_eq!(alloc(&out[0]), pairs(&[("Z", 3), ("A", 7)]));
    assert_eq!(alloc(&out[1]), pairs(&[("Z", 0), ("A", 0)]));
    assert_eq!(errors(&out[1]), errors(&out[0]));
    // Z paused keeps its error; every recipient of the line appears, in the line's order.
    assert_eq!(alloc(&out[2]), pairs(&[("A", 6), ("Z", 0), ("N", 2)]));
    assert_eq!(errors(&out[2])[1], errors(&out[0])[0]);
}

#[test]
fn a_bad_line_stops_with_its_number() {
    let good = r#"{"size": 2, "weights": {"A": 1}}"#;
    for (bad, needle) in [
        (r#"{"size": 2, "weights": {"A": -1}}"#, "negative"),
        (r#"{"size": 2, "weights": {"A": 1, "A": 2}}"#, "twice"),
        (r#"{"size": 2, "weights": {"A": 0}}"#, "no active recipient"),
        (r#"{"size": -2, "weights": {"A": 1}}"#, "invalid batch"),
        (r#"{"size": 2}"#, "weights"),
        (r#"not json"#, "invalid batch"),
    ] {
        let (out, err) = run(&[good, bad, good].join("\n"));
        assert_eq!(out.len(), 1, "{bad}");
        let err = err.expect(bad);
        assert!(err.starts_with("line 2:") && err.contains(needle), "{err}");
    }
}

/// Issue 16: a line of 64 MiB is read; a longer one is an error found without buffering past
/// the limit (an endless line is refused after reading 64 MiB and a buffer, not never).
#[test]
fn lines_up_to_64_mib_are_read_and_a_longer_one_is_refused_at_the_limit() {
    use std::io::{BufReader, Read};

    let batch = r#"{"size": 1, "weights": {"A": 1}}"#;
    let long = format!("{batch}{}\n", " ".repeat(program::MAX_LINE - batch.len()));
    let (lines, err) = run(&long);
    assert_eq!((lines.len(), err), (1, None));

    /// Counts the bytes read through it.
    struct Counted<R>(R, std::rc::Rc<std::cell::Cell<u64>>);
    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1.set(self.1.get() + n as u64);
            Ok(n)
        }
    }
    let read = std::rc::Rc::new(std::cell::Cell::new(0));
    let endless = BufReader::new(Counted(std::io::repeat(b' '), read.clone()));
    let err = program::process(endless, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 1") && err.contains("64 MiB"), "{err}");
    assert!(
        read.get() <= program::MAX_LINE as u64 + 2 + 64 * 1024,
        "{}",
        read.get()
    );
    // A byte-order mark before the first line is skipped.
    let (lines, err) = run(&format!("\u{feff}{batch}\n"));
    assert_eq!((lines.len(), err), (1, None));
}
