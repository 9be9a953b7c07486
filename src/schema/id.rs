//! A respondent's id: the platform's own key (a UUID, any string) or a number, kept inline.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use thiserror::Error;

/// The longest platform key a [`RespondentId`] holds, in bytes (UTF-8). Long enough for a
/// UUID (36 characters), a ULID (26), a database object id or a prefixed id; kept inline so
/// that ids are copied, hashed and stored in the live engine's tables without allocating,
/// and small enough that the engine's errors, which name the respondent, stay small too.
/// Hash a longer key (a SHA-256 in base64url is 43 characters) before routing with it.
pub const MAX_KEY_LEN: usize = 56;

// `words` reads the key array in whole words.
const _: () = assert!(MAX_KEY_LEN.is_multiple_of(8) && MAX_KEY_LEN <= u8::MAX as usize);

/// Who a respondent is: the platform's own key for them — a UUID or any string of 1 to
/// [`MAX_KEY_LEN`] bytes — or a number.
///
/// Held inline (no allocation), so routing, reserving and completing by a string key cost
/// what they cost by a number. One respondent has one id however it is spelt: a key that
/// is the canonical decimal of a `u64` (`"42"`, not `"042"`) *is* that number, so
/// `RespondentId::key("42")` equals `RespondentId::from(42)`, exactly as a shared quota store
/// sees them (both are the store key `42`).
///
/// Displayed, and used as the quota store's key ([`as_store_key`](Self::as_store_key)), as
/// the number's decimal digits or the key itself. Serialised (feature `serde`) as a JSON
/// number or a string, so snapshots written when ids were numbers read back unchanged
/// (reading one back needs a self-describing format, such as JSON, that says which it is).
///
/// ```
/// use quotaroute::schema::{RespondentId, RespondentIdError};
///
/// let uuid = RespondentId::key("0b4f1c1e-93d2-4b7e-9a51-6c8f3e2d7a10")?;
/// assert_eq!(uuid.as_key(), Some("0b4f1c1e-93d2-4b7e-9a51-6c8f3e2d7a10"));
/// assert_eq!(uuid.to_string(), "0b4f1c1e-93d2-4b7e-9a51-6c8f3e2d7a10");
/// assert_eq!(RespondentId::key("42")?, RespondentId::from(42));
/// assert_eq!(
///     RespondentId::key(&"x".repeat(57)),
///     Err(RespondentIdError::TooLong { len: 57, max: 56 })
/// );
/// # Ok::<(), RespondentIdError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RespondentId(Repr);

// Byte arrays only (alignment 1): 58 bytes in all, so a `LiveError` that names a respondent
// stays under 128 bytes and `Result<_, LiveError>` is cheap to return.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Repr {
    /// Little-endian.
    Number([u8; 8]),
    /// `bytes[..len]` is valid UTF-8, 1..=MAX_KEY_LEN bytes, not a canonical `u64`; the rest
    /// is zero (so derived equality compares the key alone).
    Key { len: u8, bytes: [u8; MAX_KEY_LEN] },
}

/// Why a string is not a respondent key ([`RespondentId::key`]).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RespondentIdError {
    /// The key is empty.
    #[error("respondent key is empty")]
    Empty,
    /// The key is longer than [`MAX_KEY_LEN`] bytes (hash longer platform keys first).
    #[error("respondent key of {len} bytes: keys are at most {max} bytes")]
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The most allowed ([`MAX_KEY_LEN`]).
        max: usize,
    },
    /// The key contains a control character (such as NUL or a newline), which stores and
    /// logs cannot keep faithfully.
    #[error("respondent key has a control character at byte {at}")]
    Control {
        /// The byte offset of the first one.
        at: usize,
    },
}

impl RespondentId {
    /// The platform's key for a respondent (a UUID, any string): 1 to [`MAX_KEY_LEN`] bytes
    /// without control characters. The canonical decimal of a `u64` is that number.
    ///
    /// # Errors
    /// [`RespondentIdError`] naming what is wrong: empty, too long (with its length), or the
    /// position of a control character.
    pub fn key(key: &str) -> Result<RespondentId, RespondentIdError> {
        let len = key.len();
        if len == 0 {
            return Err(RespondentIdError::Empty);
        }
        if len > MAX_KEY_LEN {
            return Err(RespondentIdError::TooLong {
                len,
                max: MAX_KEY_LEN,
            });
        }
        if let Some(at) = key.bytes().position(|b| b.is_ascii_control()) {
            return Err(RespondentIdError::Control { at });
        }
        if let Some(n) = canonical_number(key) {
            return Ok(RespondentId::from(n));
        }
        let mut bytes = [0; MAX_KEY_LEN];
        bytes[..len].copy_from_slice(key.as_bytes());
        Ok(RespondentId(Repr::Key {
            len: len as u8,
            bytes,
        }))
    }

    /// The id as a number, when it is one.
    #[inline]
    pub fn as_number(&self) -> Option<u64> {
        match self.0 {
            Repr::Number(n) => Some(u64::from_le_bytes(n)),
            Repr::Key { .. } => None,
        }
    }

    /// The id as a platform key, when it is one (not a number).
    pub fn as_key(&self) -> Option<&str> {
        match &self.0 {
            Repr::Number(_) => None,
            Repr::Key { len, bytes } => Some(key_str(bytes, *len)),
        }
    }

    /// The id as a quota store key: a number's decimal digits (written in `buf`), or the key
    /// itself. The same text as [`Display`](fmt::Display), without allocating.
    pub fn as_store_key<'a>(&'a self, buf: &'a mut [u8; 20]) -> &'a str {
        match &self.0 {
            Repr::Number(n) => decimal(u64::from_le_bytes(*n), buf),
            Repr::Key { len, bytes } => key_str(bytes, *len),
        }
    }

    /// A well-mixed 64-bit digest of the id, the same in every process (for sharding).
    #[inline]
    pub(crate) fn spread(&self) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        match &self.0 {
            Repr::Number(n) => u64::from_le_bytes(*n).wrapping_mul(K),
            Repr::Key { len, bytes } => {
                // Two words a multiply (an odd word count pairs the last with the length).
                let mut h = u64::from(*len);
                let mut w = words(bytes, *len);
                while let Some(a) = w.next() {
                    let b = w.next().unwrap_or(u64::from(*len));
                    let p = u128::from(h ^ a) * u128::from(b ^ K);
                    h = (p as u64) ^ ((p >> 64) as u64);
                }
                h.wrapping_mul(K)
            }
        }
    }
}

/// The key's bytes as little-endian words, the last one padded with the array's zeros: whole
/// words straight from the fixed array, with no copy of a partial chunk.
#[inline]
fn words(bytes: &[u8; MAX_KEY_LEN], len: u8) -> impl Iterator<Item = u64> + '_ {
    let n = usize::from(len).div_ceil(8) * 8;
    bytes[..n]
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
}

fn key_str(bytes: &[u8; MAX_KEY_LEN], len: u8) -> &str {
    // Only valid UTF-8 is ever stored (copied from a `&str`).
    std::str::from_utf8(&bytes[..usize::from(len)]).unwrap_or_default()
}

/// The `u64` whose canonical decimal (no sign, no leading zero) `s` is.
fn canonical_number(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    s.parse().ok()
}

/// A number's decimal digits, on the stack.
fn decimal(n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

impl From<u64> for RespondentId {
    fn from(n: u64) -> RespondentId {
        RespondentId(Repr::Number(n.to_le_bytes()))
    }
}

impl From<&RespondentId> for RespondentId {
    fn from(id: &RespondentId) -> RespondentId {
        *id
    }
}

impl TryFrom<&str> for RespondentId {
    type Error = RespondentIdError;
    fn try_from(key: &str) -> Result<RespondentId, RespondentIdError> {
        RespondentId::key(key)
    }
}

impl std::str::FromStr for RespondentId {
    type Err = RespondentIdError;
    fn from_str(key: &str) -> Result<RespondentId, RespondentIdError> {
        RespondentId::key(key)
    }
}

impl PartialEq<u64> for RespondentId {
    fn eq(&self, n: &u64) -> bool {
        self.as_number() == Some(*n)
    }
}

impl PartialEq<&str> for RespondentId {
    fn eq(&self, key: &&str) -> bool {
        let mut buf = [0; 20];
        self.as_store_key(&mut buf) == *key
    }
}

impl Hash for RespondentId {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        match &self.0 {
            Repr::Number(n) => state.write_u64(u64::from_le_bytes(*n)),
            Repr::Key { len, bytes } => hash_key(bytes, *len, state),
        }
    }
}

/// A key's hash, out of line so that hashing a number stays a few inlined instructions.
#[inline(never)]
fn hash_key<H: Hasher>(bytes: &[u8; MAX_KEY_LEN], len: u8, state: &mut H) {
    // Whole words (equal keys have equal zero padding, so a hasher may read eight bytes at a
    // time), then the length, which tells apart keys that differ only in trailing zero bytes.
    state.write(&bytes[..usize::from(len).div_ceil(8) * 8]);
    state.write_u8(len);
}

impl Ord for RespondentId {
    /// Numbers first, by value; then keys, by their bytes.
    fn cmp(&self, other: &RespondentId) -> Ordering {
        match (&self.0, &other.0) {
            (Repr::Number(a), Repr::Number(b)) => {
                u64::from_le_bytes(*a).cmp(&u64::from_le_bytes(*b))
            }
            (Repr::Number(_), Repr::Key { .. }) => Ordering::Less,
            (Repr::Key { .. }, Repr::Number(_)) => Ordering::Greater,
            (Repr::Key { len: la, bytes: a }, Repr::Key { len: lb, bytes: b }) => {
                a[..usize::from(*la)].cmp(&b[..usize::from(*lb)])
            }
        }
    }
}

impl PartialOrd for RespondentId {
    fn partial_cmp(&self, other: &RespondentId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for RespondentId {
    /// The number's decimal digits, or the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0; 20];
        f.pad(self.as_store_key(&mut buf))
    }
}

impl fmt::Debug for RespondentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Number(n) => write!(f, "RespondentId({})", u64::from_le_bytes(*n)),
            Repr::Key { len, bytes } => write!(f, "RespondentId({:?})", key_str(bytes, *len)),
        }
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::{Repr, RespondentId, key_str};
    use serde::de::{self, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    impl Serialize for RespondentId {
        /// A number as a number, a key as a string.
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match &self.0 {
                Repr::Number(n) => s.serialize_u64(u64::from_le_bytes(*n)),
                Repr::Key { len, bytes } => s.serialize_str(key_str(bytes, *len)),
            }
        }
    }

    struct IdVisitor;

    impl Visitor<'_> for IdVisitor {
        type Value = RespondentId;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a respondent id: a number >= 0 or a key string of 1 to 56 bytes")
        }

        fn visit_u64<E: de::Error>(self, n: u64) -> Result<RespondentId, E> {
            Ok(RespondentId::from(n))
        }

        fn visit_i64<E: de::Error>(self, n: i64) -> Result<RespondentId, E> {
            u64::try_from(n)
                .map(RespondentId::from)
                .map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))
        }

        fn visit_str<E: de::Error>(self, key: &str) -> Result<RespondentId, E> {
            RespondentId::key(key).map_err(E::custom)
        }
    }

    impl<'de> Deserialize<'de> for RespondentId {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RespondentId, D::Error> {
            d.deserialize_any(IdVisitor)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_numbers_are_one_id_however_spelt() {
        assert_eq!(RespondentId::key("42").unwrap(), RespondentId::from(42));
        assert_eq!(RespondentId::key("0").unwrap(), RespondentId::from(0));
        let max = u64::MAX.to_string();
        assert_eq!(
            RespondentId::key(&max).unwrap(),
            RespondentId::from(u64::MAX)
        );
        // Not canonical, or past u64: a key, spelt as given.
        for text in ["042", "18446744073709551616", "-1", "+1", "4 2"] {
            let id = RespondentId::key(text).unwrap();
            assert_eq!(id.as_number(), None, "{text}");
            assert_eq!(id.as_key(), Some(text));
            assert_eq!(id.to_string(), text);
        }
    }

    #[test]
    fn the_store_key_is_the_number_s_digits_or_the_key() {
        let mut buf = [0; 20];
        for n in [0, 7, 10, 12_345, u64::MAX] {
            assert_eq!(RespondentId::from(n).as_store_key(&mut buf), n.to_string());
        }
        let uuid = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
        assert_eq!(
            RespondentId::key(uuid).unwrap().as_store_key(&mut buf),
            uuid
        );
        let longest = "é".repeat(MAX_KEY_LEN / 2);
        assert_eq!(RespondentId::key(&longest).unwrap().to_string(), longest);
    }

    #[test]
    fn bad_keys_are_typed_errors() {
        assert_eq!(RespondentId::key(""), Err(RespondentIdError::Empty));
        assert_eq!(
            RespondentId::key(&"a".repeat(MAX_KEY_LEN + 1)),
            Err(RespondentIdError::TooLong {
                len: MAX_KEY_LEN + 1,
                max: MAX_KEY_LEN
            })
        );
        assert_eq!(
            RespondentId::key("ab\0c"),
            Err(RespondentIdError::Control { at: 2 })
        );
    }

    #[test]
    fn ids_order_numbers_first_then_keys_by_bytes() {
        let mut ids = [
            RespondentId::key("b").unwrap(),
            RespondentId::from(10),
            RespondentId::key("a").unwrap(),
            RespondentId::key("ab").unwrap(),
            RespondentId::from(2),
        ];
        ids.sort();
        let shown: Vec<String> = ids.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["2", "10", "a", "ab", "b"]);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn numbers_serialise_as_numbers_and_keys_as_strings() {
        let ids = vec![
            RespondentId::from(3),
            RespondentId::key("f47ac10b-58cc-4372-a567-0e02b2c3d479").unwrap(),
        ];
        let json = serde_json::to_string(&ids).unwrap();
        assert_eq!(json, r#"[3,"f47ac10b-58cc-4372-a567-0e02b2c3d479"]"#);
        assert_eq!(
            serde_json::from_str::<Vec<RespondentId>>(&json).unwrap(),
            ids
        );
        let long = format!("\"{}\"", "k".repeat(70));
        let e = serde_json::from_str::<RespondentId>(&long).unwrap_err();
        assert!(e.to_string().contains("70 bytes"), "{e}");
        assert!(serde_json::from_str::<RespondentId>("-4").is_err());
    }
}
