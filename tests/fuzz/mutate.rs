//! Structure-aware mutations for the fuzz tests: byte-level edits of any document, JSON-level
//! edits (values replaced by extremes, keys renamed, entries deleted, duplicated or swapped,
//! types changed), and CSV-level edits (fields replaced, swapped, deleted, rows and columns
//! moved). Every operation carries its own random indices, so proptest shrinks a failing case
//! to the fewest, simplest edits.

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Text worth inserting anywhere: number edge cases, JSON and CSV punctuation, odd Unicode.
pub const TOKENS: &[&str] = &[
    "NaN",
    "-NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1e999",
    "1e-400",
    "-0",
    "-1",
    "0",
    "0.0",
    "1.5",
    "01",
    "1e308",
    "4294967295",
    "4294967296",
    "65535",
    "65536",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "340282366920938463463374607431768211456",
    "1000000000001",
    "\"",
    "\"\"",
    ",",
    ":",
    ";",
    "|",
    "=",
    "{",
    "}",
    "[",
    "]",
    "null",
    "true",
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "\u{feff}",
    "\u{0}",
    "é",
    "–",
    "\\",
    "\\u0000",
    "\\ud800",
    "\\uDFFF",
    "\"\\u",
    "{\"\":",
    "[[[[[[[[[[[[[[[[",
    "]]]]]]]]]]]]]]]]",
];

/// One edit of a document's bytes. Positions are taken modulo the document's length.
#[derive(Clone, Debug)]
pub enum ByteOp {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Delete { at: usize, len: u8 },
    Insert { at: usize, token: usize },
    InsertByte { at: usize, byte: u8 },
    Duplicate { at: usize, len: u8 },
    Swap { a: usize, b: usize, len: u8 },
    Truncate { at: usize },
}

fn byte_op() -> impl Strategy<Value = ByteOp> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| ByteOp::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| ByteOp::Set { at, byte }),
        (any::<usize>(), 1u8..16).prop_map(|(at, len)| ByteOp::Delete { at, len }),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| ByteOp::Insert { at, token }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| ByteOp::InsertByte { at, byte }),
        (any::<usize>(), 1u8..32).prop_map(|(at, len)| ByteOp::Duplicate { at, len }),
        (any::<usize>(), any::<usize>(), 1u8..16).prop_map(|(a, b, len)| ByteOp::Swap {
            a,
            b,
            len
        }),
        any::<usize>().prop_map(|at| ByteOp::Truncate { at }),
    ]
}

/// One to `max` byte edits.
pub fn byte_ops(max: usize) -> impl Strategy<Value = Vec<ByteOp>> {
    vec(byte_op(), 1..=max)
}

/// Applies the edits in order.
pub fn apply_bytes(doc: &[u8], ops: &[ByteOp]) -> Vec<u8> {
    let mut d = doc.to_vec();
    for op in ops {
        let n = d.len();
        let pos = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
        match *op {
            ByteOp::Flip { at, bit } if n > 0 => d[at % n] ^= 1 << bit,
            ByteOp::Set { at, byte } if n > 0 => d[at % n] = byte,
            ByteOp::Delete { at, len } if n > 0 => {
                let s = at % n;
                let e = (s + len as usize).min(n);
                d.drain(s..e);
            }
            ByteOp::Insert { at, token } => {
                let p = pos(at);
                d.splice(p..p, TOKENS[token].bytes());
            }
            ByteOp::InsertByte { at, byte } => d.insert(pos(at), byte),
            ByteOp::Duplicate { at, len } if n > 0 => {
                let s = at % n;
                let e = (s + len as usize).min(n);
                let copy = d[s..e].to_vec();
                d.splice(e..e, copy);
            }
            ByteOp::Swap { a, b, len } if n > 0 => {
                let len = (len as usize).min(n / 2);
                if len > 0 {
                    let (a, b) = (a % (n - len + 1), b % (n - len + 1));
                    let (a, b) = (a.min(b), a.max(b));
                    if b >= a + len {
                        let left = d[a..a + len].to_vec();
                        let right = d[b..b + len].to_vec();
                        d[a..a + len].copy_from_slice(&right);
                        d[b..b + len].copy_from_slice(&left);
                    }
                }
            }
            ByteOp::Truncate { at } => d.truncate(pos(at)),
            _ => {}
        }
    }
    d
}

/// The document as text, invalid UTF-8 replaced (for parsers that take `&str`).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Keys of every document format, plus near misses: renaming a key to one of these moves a
/// value to a field of another format, or to one that does not exist.
pub const KEYS: &[&str] = &[
    "",
    "x",
    "Target",
    "target ",
    "target",
    "min",
    "max",
    "observed",
    "children",
    "question",
    "response",
    "responses",
    "schema",
    "tree",
    "ids",
    "queries",
    "method",
    "context",
    "answers",
    "questions",
    "name",
    "shares",
    "categories",
    "key",
    "incidence",
    "loi_seconds",
    "qualifier_seconds",
    "eligibility",
    "exposure_targets",
    "one_of",
    "all",
    "any",
    "not",
    "format",
    "targets",
    "completed",
    "shown",
    "qualified",
    "exposures",
    "size",
    "weights",
    "format_version",
    "leave_policy",
    "denominator",
    "recipients",
    "id",
    "weight",
    "error_numerator",
    "requirement",
    "entities",
    "required",
    "received",
    "quality_levels",
    "percent_fit",
    "days_left",
    "extra",
    "catalogue",
    "policies",
    "runs",
    "seed",
    "hard_cap",
    "mean_budget",
    "max_qualifiers",
    "learn",
    "threads",
];

/// Values to put in place of any other: extremes of every JSON type.
pub fn extreme(i: usize) -> Value {
    let all = [
        json!(null),
        json!(true),
        json!(false),
        json!(-1),
        json!(0),
        json!(1),
        json!(2),
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(u32::MAX),
        json!(u32::MAX as u64 + 1),
        json!(u16::MAX),
        json!(1_000_000_000_001u64),
        json!(1e308),
        json!(-1e308),
        json!(f64::MIN_POSITIVE),
        json!(5e-324),
        json!(0.5),
        json!(-0.5),
        json!(1.5),
        json!(-0.0),
        json!(2e12),
        json!(9.0e15),
        json!(""),
        json!("x"),
        json!("0"),
        json!("-1"),
        json!("NaN"),
        json!("340282366920938463463374607431768211455"),
        json!("\u{0}"),
        json!([]),
        json!([0]),
        json!([null, -1, "x"]),
        json!({}),
        json!({"": null}),
        json!([[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]),
    ];
    all[i % all.len()].clone()
}

/// One edit of a JSON document. Nodes are numbered in document order, modulo their count.
#[derive(Clone, Debug)]
pub enum JsonOp {
    /// Replace a node by an extreme value.
    Replace { node: usize, with: usize },
    /// Replace a number (or a number written as text) by a nearby or scaled one (off by one,
    /// negated, ×10⁹, a fraction, beyond 128 bits).
    Nudge { number: usize, how: u8 },
    /// Rename an object's key.
    Rename {
        object: usize,
        entry: usize,
        key: usize,
    },
    /// Delete an object's entry or an array's element.
    Delete { node: usize, entry: usize },
    /// Copy a node over another (e.g. a child where a number was).
    Copy { from: usize, to: usize },
    /// Swap two entries of the same object or array.
    Swap { node: usize, a: usize, b: usize },
    /// Duplicate an array element.
    Duplicate { node: usize, entry: usize },
    /// Wrap a node in an array or an object.
    Wrap { node: usize, kind: u8 },
}

fn json_op() -> impl Strategy<Value = JsonOp> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(node, with)| JsonOp::Replace { node, with }),
        (any::<usize>(), 0u8..8).prop_map(|(number, how)| JsonOp::Nudge { number, how }),
        (any::<usize>(), any::<usize>(), 0..KEYS.len())
            .prop_map(|(object, entry, key)| JsonOp::Rename { object, entry, key }),
        (any::<usize>(), any::<usize>()).prop_map(|(node, entry)| JsonOp::Delete { node, entry }),
        (any::<usize>(), any::<usize>()).prop_map(|(from, to)| JsonOp::Copy { from, to }),
        (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(node, a, b)| JsonOp::Swap {
            node,
            a,
            b
        }),
        (any::<usize>(), any::<usize>())
            .prop_map(|(node, entry)| JsonOp::Duplicate { node, entry }),
        (any::<usize>(), 0u8..2).prop_map(|(node, kind)| JsonOp::Wrap { node, kind }),
    ]
}

/// One to `max` JSON edits.
pub fn json_ops(max: usize) -> impl Strategy<Value = Vec<JsonOp>> {
    vec(json_op(), 1..=max)
}

fn count(v: &Value, keep: &dyn Fn(&Value) -> bool) -> usize {
    let own = usize::from(keep(v));
    own + match v {
        Value::Array(a) => a.iter().map(|x| count(x, keep)).sum(),
        Value::Object(o) => o.values().map(|x| count(x, keep)).sum(),
        _ => 0,
    }
}

/// The `n`th node (pre-order) among those `keep` accepts.
fn nth<'a>(
    v: &'a mut Value,
    n: &mut usize,
    keep: &dyn Fn(&Value) -> bool,
) -> Option<&'a mut Value> {
    if keep(v) {
        if *n == 0 {
            return Some(v);
        }
        *n -= 1;
    }
    match v {
        Value::Array(a) => a.iter_mut().find_map(|x| nth(x, n, keep)),
        Value::Object(o) => o.values_mut().find_map(|x| nth(x, n, keep)),
        _ => None,
    }
}

fn pick<'a>(v: &'a mut Value, i: usize, keep: &dyn Fn(&Value) -> bool) -> Option<&'a mut Value> {
    let total = count(v, keep);
    if total == 0 {
        return None;
    }
    nth(v, &mut (i % total), keep)
}

fn any_node(_: &Value) -> bool {
    true
}

fn container(v: &Value) -> bool {
    matches!(v, Value::Array(a) if !a.is_empty()) || matches!(v, Value::Object(o) if !o.is_empty())
}

/// Applies the edits in order.
pub fn apply_json(doc: &Value, ops: &[JsonOp]) -> Value {
    let mut d = doc.clone();
    for op in ops {
        match *op {
            JsonOp::Replace { node, with } => {
                if let Some(v) = pick(&mut d, node, &any_node) {
                    *v = extreme(with);
                }
            }
            JsonOp::Nudge { number, how } => {
                let numeric = |v: &Value| {
                    v.is_number() || v.as_str().is_some_and(|t| t.parse::<i128>().is_ok())
                };
                if let Some(v) = pick(&mut d, number, &numeric) {
                    if let Some(t) = v.as_str() {
                        // Numbers kept as decimal text (exact fractions): scale them out of
                        // every range.
                        let n: i128 = t.parse().unwrap_or(0);
                        *v = json!(match how {
                            0 => n.wrapping_add(1).to_string(),
                            1 => n.wrapping_neg().to_string(),
                            2 => n.wrapping_mul(1 << 60).to_string(),
                            3 => u128::MAX.to_string(),
                            4 => i128::MIN.to_string(),
                            5 => format!("{n}0"),
                            6 => format!("+{n}"),
                            _ => "0".to_owned(),
                        });
                        continue;
                    }
                    let x = v.as_f64().unwrap_or(0.0);
                    let i = v.as_i64();
                    *v = match (how, i) {
                        (0, Some(i)) => json!(i.wrapping_add(1)),
                        (1, Some(i)) => json!(i.wrapping_sub(1)),
                        (2, Some(i)) => json!(i.wrapping_neg()),
                        (3, Some(i)) => json!(i.wrapping_mul(1_000_000_000)),
                        (4, _) => json!(x + 0.5),
                        (5, _) => json!(-x),
                        (6, _) => json!(x * 1e9),
                        _ => json!(x / 3.0),
                    };
                }
            }
            JsonOp::Rename { object, entry, key } => {
                if let Some(Value::Object(o)) = pick(
                    &mut d,
                    object,
                    &|v| matches!(v, Value::Object(o) if !o.is_empty()),
                ) {
                    let entries: Vec<(String, Value)> = std::mem::take(o).into_iter().collect();
                    let at = entry % entries.len();
                    let mut out = Map::new();
                    for (i, (k, v)) in entries.into_iter().enumerate() {
                        let k = if i == at { KEYS[key].to_owned() } else { k };
                        out.insert(k, v);
                    }
                    *o = out;
                }
            }
            JsonOp::Delete { node, entry } => match pick(&mut d, node, &container) {
                Some(Value::Array(a)) => {
                    let at = entry % a.len();
                    a.remove(at);
                }
                Some(Value::Object(o)) => {
                    let key = o.keys().nth(entry % o.len()).cloned();
                    if let Some(k) = key {
                        o.shift_remove(&k);
                    }
                }
                _ => {}
            },
            JsonOp::Copy { from, to } => {
                let source = pick(&mut d, from, &any_node).map(|v| v.clone());
                if let (Some(s), Some(t)) = (source, pick(&mut d, to, &any_node)) {
                    *t = s;
                }
            }
            JsonOp::Swap { node, a, b } => match pick(&mut d, node, &container) {
                Some(Value::Array(list)) => {
                    let n = list.len();
                    list.swap(a % n, b % n);
                }
                Some(Value::Object(o)) => {
                    let n = o.len();
                    let (a, b) = (a % n, b % n);
                    let keys: Vec<String> = o.keys().cloned().collect();
                    let va = o[&keys[a]].clone();
                    let vb = o[&keys[b]].clone();
                    o[&keys[a]] = vb;
                    o[&keys[b]] = va;
                }
                _ => {}
            },
            JsonOp::Duplicate { node, entry } => {
                if let Some(Value::Array(a)) = pick(
                    &mut d,
                    node,
                    &|v| matches!(v, Value::Array(a) if !a.is_empty()),
                ) {
                    let at = entry % a.len();
                    let copy = a[at].clone();
                    a.insert(at, copy);
                }
            }
            JsonOp::Wrap { node, kind } => {
                if let Some(v) = pick(&mut d, node, &any_node) {
                    let inner = v.take();
                    *v = if kind == 0 {
                        json!([inner])
                    } else {
                        json!({ "x": inner })
                    };
                }
            }
        }
    }
    d
}

/// A valid JSON document mutated: JSON-level edits, then (sometimes) byte-level ones. Returns
/// the bytes to parse.
pub fn mutated_json(
    docs: impl Strategy<Value = Value>,
) -> impl Strategy<Value = (Value, Vec<JsonOp>, Vec<ByteOp>)> {
    (
        docs,
        prop_oneof![Just(Vec::new()), json_ops(4)],
        prop_oneof![2 => Just(Vec::new()), 1 => byte_ops(3)],
    )
}

/// Renders a case of [`mutated_json`].
pub fn render_json(doc: &Value, json: &[JsonOp], bytes: &[ByteOp]) -> Vec<u8> {
    let mutated = apply_json(doc, json);
    apply_bytes(mutated.to_string().as_bytes(), bytes)
}

/// Arbitrary bytes, biased towards what parsers care about: a mix of random bytes and tokens.
pub fn junk() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        vec(any::<u8>(), 0..8),
        (0..TOKENS.len()).prop_map(|i| TOKENS[i].as_bytes().to_vec()),
        (0..KEYS.len()).prop_map(|i| format!("\"{}\"", KEYS[i]).into_bytes()),
        "[a-z0-9 ,:;=|\"{}\\[\\]\n.-]{0,12}".prop_map(String::into_bytes),
    ];
    vec(piece, 0..24).prop_map(|p| p.concat())
}

/// One edit of a CSV table (header row first). Indices are taken modulo the table's shape.
#[derive(Clone, Debug)]
pub enum CsvOp {
    Replace {
        row: usize,
        col: usize,
        token: usize,
    },
    Swap {
        row: usize,
        a: usize,
        b: usize,
    },
    DeleteField {
        row: usize,
        col: usize,
    },
    InsertField {
        row: usize,
        col: usize,
        token: usize,
    },
    DeleteRow {
        row: usize,
    },
    DuplicateRow {
        row: usize,
    },
    SwapColumns {
        a: usize,
        b: usize,
    },
    DeleteColumn {
        col: usize,
    },
    RenameHeader {
        col: usize,
        key: usize,
    },
}

/// Field values worth trying in a catalogue CSV.
pub const CSV_FIELDS: &[&str] = &[
    "",
    " ",
    "NaN",
    "inf",
    "-inf",
    "1e999",
    "-1",
    "0",
    "-0",
    "1",
    "1.0000001",
    "0.5",
    "5e-324",
    "1e308",
    "4294967295",
    "4294967296",
    "-4294967296",
    "18446744073709551616",
    "x",
    "\"",
    "gender=female",
    "gender=",
    "=female",
    "gender",
    "gender=female|",
    "gender=female|male;age=55+",
    "age=18–34",
    "Gender=female",
    ";;",
    "|",
    "a,b",
    "\n",
    "é",
    "\u{feff}",
];

/// Column names worth trying.
pub const CSV_HEADERS: &[&str] = &[
    "category_id",
    "category_name",
    "incidence_rate",
    "category_length_seconds",
    "target",
    "qualifier_seconds",
    "eligibility",
    "",
    "other",
    " target ",
    "Category_ID",
];

fn csv_op() -> impl Strategy<Value = CsvOp> {
    let ix = || any::<usize>();
    prop_oneof![
        3 => (ix(), ix(), 0..CSV_FIELDS.len())
            .prop_map(|(row, col, token)| CsvOp::Replace { row, col, token }),
        1 => (ix(), ix(), ix()).prop_map(|(row, a, b)| CsvOp::Swap { row, a, b }),
        1 => (ix(), ix()).prop_map(|(row, col)| CsvOp::DeleteField { row, col }),
        1 => (ix(), ix(), 0..CSV_FIELDS.len())
            .prop_map(|(row, col, token)| CsvOp::InsertField { row, col, token }),
        1 => ix().prop_map(|row| CsvOp::DeleteRow { row }),
        1 => ix().prop_map(|row| CsvOp::DuplicateRow { row }),
        1 => (ix(), ix()).prop_map(|(a, b)| CsvOp::SwapColumns { a, b }),
        1 => ix().prop_map(|col| CsvOp::DeleteColumn { col }),
        1 => (ix(), 0..CSV_HEADERS.len()).prop_map(|(col, key)| CsvOp::RenameHeader { col, key }),
    ]
}

/// One to `max` CSV edits.
pub fn csv_ops(max: usize) -> impl Strategy<Value = Vec<CsvOp>> {
    vec(csv_op(), 1..=max)
}

/// Applies the edits in order.
pub fn apply_csv(table: &[Vec<String>], ops: &[CsvOp]) -> Vec<Vec<String>> {
    let mut t = table.to_vec();
    for op in ops {
        let rows = t.len();
        if rows == 0 {
            break;
        }
        match *op {
            CsvOp::Replace { row, col, token } => {
                let r = &mut t[row % rows];
                if !r.is_empty() {
                    let n = r.len();
                    r[col % n] = CSV_FIELDS[token].to_owned();
                }
            }
            CsvOp::Swap { row, a, b } => {
                let r = &mut t[row % rows];
                if !r.is_empty() {
                    let n = r.len();
                    r.swap(a % n, b % n);
                }
            }
            CsvOp::DeleteField { row, col } => {
                let r = &mut t[row % rows];
                if !r.is_empty() {
                    let n = r.len();
                    r.remove(col % n);
                }
            }
            CsvOp::InsertField { row, col, token } => {
                let r = &mut t[row % rows];
                let at = col % (r.len() + 1);
                r.insert(at, CSV_FIELDS[token].to_owned());
            }
            CsvOp::DeleteRow { row } => {
                t.remove(row % rows);
            }
            CsvOp::DuplicateRow { row } => {
                let copy = t[row % rows].clone();
                t.insert(row % rows, copy);
            }
            CsvOp::SwapColumns { a, b } => {
                for r in &mut t {
                    if !r.is_empty() {
                        let n = r.len();
                        r.swap(a % n, b % n);
                    }
                }
            }
            CsvOp::DeleteColumn { col } => {
                for r in &mut t {
                    if !r.is_empty() {
                        let n = r.len();
                        r.remove(col % n);
                    }
                }
            }
            CsvOp::RenameHeader { col, key } => {
                let r = &mut t[0];
                if !r.is_empty() {
                    let n = r.len();
                    r[col % n] = CSV_HEADERS[key].to_owned();
                }
            }
        }
    }
    t
}

/// Writes a table as CSV, quoting every field that needs it (or every field, with `quote_all`).
pub fn write_csv(table: &[Vec<String>], quote_all: bool, crlf: bool) -> String {
    let mut out = String::new();
    for row in table {
        let fields: Vec<String> = row
            .iter()
            .map(|f| {
                if quote_all || f.contains([',', '"', '\n', '\r']) || f.trim() != f {
                    format!("\"{}\"", f.replace('"', "\"\""))
                } else {
                    f.clone()
                }
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push_str(if crlf { "\r\n" } else { "\n" });
    }
    out
}
