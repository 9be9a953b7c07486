//! A JSON value as found in an example's input document, before any checks: the one value type
//! the `quota` and `risk` examples read their documents into, so that every error can name its
//! path and the type it found.
//!
//! Unlike `serde_json::Value`, integers keep their kind (a count beyond `i64` is reported as too
//! large rather than as not a whole number) and objects keep document order and every entry,
//! repeated keys included (the risk document reports them; the quota document keeps the first
//! place and the last value, [`Json::merge_repeated_keys`]).
#![allow(dead_code)] // each example uses part of it

use std::fmt::{self, Write as _};

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest document an example reads (256 MiB): a larger one is refused after reading
/// this much, not buffered whole.
pub const MAX_DOCUMENT: u64 = 256 << 20;

/// Reads a whole document from `reader`, at most [`MAX_DOCUMENT`] bytes; `what` names it in
/// errors.
pub fn read_document(reader: impl std::io::Read, what: &str) -> Result<String, String> {
    read_at_most(reader, what, MAX_DOCUMENT)
}

/// [`read_document`] with another limit: at most `limit + 1` bytes are read.
fn read_at_most(reader: impl std::io::Read, what: &str, limit: u64) -> Result<String, String> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{what}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{what}: larger than {limit} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| format!("{what}: not UTF-8"))
}

/// The text of a document without a leading UTF-8 byte-order mark: editors on Windows write
/// one, the CSV reader accepts it, and serde_json would refuse it at "line 1 column 1".
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A value as found in the document, before any checks.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A non-negative integer.
    PosInt(u64),
    /// A negative integer.
    NegInt(i64),
    /// A number with a fraction or an exponent.
    Float(f64),
    /// A string.
    String(String),
    /// A list.
    Array(Vec<Json>),
    /// An object: a list, not a map, so that it keeps document order and repeated keys.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// What the value is, for messages: `a number`, `a list`, `an object`, ….
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::PosInt(_) | Json::NegInt(_) | Json::Float(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "a list",
            Json::Object(_) => "an object",
        }
    }

    /// The number, as an f64 (integers beyond 2⁵³ rounded), or `None` for any other value.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Json::PosInt(n) => Some(n as f64),
            Json::NegInt(n) => Some(n as f64),
            Json::Float(x) => Some(x),
            _ => None,
        }
    }

    /// The value with every repeated key of every object merged, as `serde_json`'s ordered
    /// maps read them: the key keeps its first place and takes its last value.
    pub fn merge_repeated_keys(self) -> Json {
        match self {
            Json::Array(items) => {
                Json::Array(items.into_iter().map(Json::merge_repeated_keys).collect())
            }
            Json::Object(entries) => {
                let mut fields: Vec<(String, Json)> = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let v = v.merge_repeated_keys();
                    match fields.iter_mut().find(|(seen, _)| *seen == k) {
                        Some((_, old)) => *old = v,
                        None => fields.push((k, v)),
                    }
                }
                Json::Object(fields)
            }
            other => other,
        }
    }

    /// Compact JSON, written exactly as `serde_json` writes a value.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::PosInt(n) => {
                let _ = write!(out, "{n}");
            }
            Json::NegInt(n) => {
                let _ = write!(out, "{n}");
            }
            Json::Float(x) => write_float(*x, out),
            Json::String(s) => write_json_string(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(k, out);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

/// A JSON string literal, escaped as `serde_json` escapes it.
pub fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A finite float laid out as `serde_json` writes it: the shortest digits that read back to
/// the same value, in plain notation with at least one decimal for magnitudes from 1e-5 to
/// below 1e16, in scientific notation otherwise (`1e-6`, `1.5e+16`). Non-finite values are
/// `null`.
pub fn write_float(x: f64, out: &mut String) {
    if !x.is_finite() {
        out.push_str("null");
        return;
    }
    // `{:e}` gives the same shortest digits: `d.ddde±x`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let length = digits.len() as i32;
    // The value is digits × 10^k, and the decimal point falls after kk digits.
    let k = exp - (length - 1);
    let kk = length + k;
    if x.is_sign_negative() {
        out.push('-');
    }
    if (0..=16).contains(&kk) && k >= 0 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', k as usize));
        out.push_str(".0");
    } else if 0 < kk && kk <= 16 {
        out.push_str(&digits[..kk as usize]);
        out.push('.');
        out.push_str(&digits[kk as usize..]);
    } else if -5 < kk && kk <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-kk) as usize));
        out.push_str(&digits);
    } else {
        let exp = kk - 1;
        let sign = if exp > 0 { "+" } else { "" };
        if length == 1 {
            let _ = write!(out, "{digits}e{sign}{exp}");
        } else {
            let _ = write!(out, "{}.{}e{sign}{exp}", &digits[..1], &digits[1..]);
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(if v < 0 {
                    Json::NegInt(v)
                } else {
                    Json::PosInt(v as u64)
                })
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::PosInt(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
                Ok(Json::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::String(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Json, E> {
                Ok(Json::String(v))
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
                Json::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) = map.next_entry::<String, Json>()? {
                    fields.push((k, v));
                }
                Ok(Json::Object(fields))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::PosInt(n) => s.serialize_u64(*n),
            Json::NegInt(n) => s.serialize_i64(*n),
            Json::Float(x) => s.serialize_f64(*x),
            Json::String(x) => s.serialize_str(x),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Issue 16: a document past the limit is refused after reading the limit and one byte,
    /// never buffered whole (here an endless one).
    #[test]
    fn documents_past_the_limit_are_refused_at_the_limit() {
        use std::io::Read as _;
        let mut endless = std::io::repeat(b' ');
        let e = super::read_at_most(endless.by_ref(), "stdin", 1000).unwrap_err();
        assert!(e.contains("larger than 1000"), "{e}");
        assert_eq!(super::read_at_most(&b"{}"[..], "stdin", 2).unwrap(), "{}");
        assert!(super::read_at_most(&[0xff][..], "stdin", 2).is_err());
        assert_eq!(super::without_bom("\u{feff}{}"), "{}");
    }

    use super::*;

    #[test]
    fn floats_are_written_as_serde_json_writes_them() {
        for x in [
            0.0,
            -0.0,
            1.0,
            30.5,
            0.1,
            1e-5,
            1.5e-5,
            1e-6,
            1e-7,
            1e15,
            1e16,
            1.5e16,
            2e12,
            1e300,
            -1e-300,
            123456.789,
            5e-324,
            1.7976931348623157e308,
        ] {
            let mut got = String::new();
            write_float(x, &mut got);
            assert_eq!(got, serde_json::Value::from(x).to_string(), "{x:e}");
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let s = "a\"b\\c\u{0}\u{8}\u{c}\n\r\t\u{1f}\u{7f}é";
        let mut got = String::new();
        write_json_string(s, &mut got);
        assert_eq!(got, serde_json::Value::from(s).to_string());
    }
}
