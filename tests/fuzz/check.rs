//! What every fuzz case asserts about an error, whichever parser produced it.

use std::fmt::Display;

use proptest::prelude::*;

/// An error must say something: its message is not empty and is one line or more of text.
pub fn message(e: &impl Display) -> Result<String, TestCaseError> {
    let m = e.to_string();
    prop_assert!(!m.trim().is_empty(), "an error with an empty message");
    Ok(m)
}

/// A serde_json error must say something and name where the problem is: serde_json gives
/// syntax and type errors a position; a document's own validation (raised through serde once
/// the value is read, so without a position) names the field, question or category at fault,
/// quoted in backquotes or double quotes, by its number (`question 0`, `line 5`), or by a
/// path prefix (`tree.children[0]: ...`). Errors
/// about the whole document (`the catalogue has no category`) are listed by the caller.
pub fn json_error(e: &serde_json::Error, whole_document: &[&str]) -> Result<String, TestCaseError> {
    let m = message(e)?;
    prop_assert!(
        (e.line() > 0 && m.contains(" at line "))
            || whole_document.iter().any(|w| m.contains(w))
            || m.split_once(": ")
                .is_some_and(|(path, _)| !path.is_empty() && !path.contains(' '))
            || m.contains(['`', '"'])
            || m.contains(|c: char| c.is_ascii_digit()),
        "a JSON error naming neither a position nor a field: {m}"
    );
    Ok(m)
}

/// Values must survive a JSON round trip: serialise, parse back, compare.
pub fn round_trip<T>(value: &T) -> Result<T, TestCaseError>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = serde_json::to_string(value)
        .map_err(|e| TestCaseError::fail(format!("cannot serialise an accepted value: {e}")))?;
    serde_json::from_str(&text).map_err(|e| {
        TestCaseError::fail(format!(
            "an accepted value does not re-parse: {e}\n  written as {text}"
        ))
    })
}
