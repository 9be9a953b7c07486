//! Fuzzing every input parser with proptest (issue 4, item 7): arbitrary bytes, and valid
//! documents mutated structure-aware (byte flips, deletions, insertions, fields swapped,
//! numbers replaced by extreme values, keys renamed). Each case asserts that the parser does
//! not panic, that a refusal is a typed error with a message naming where the problem is, and
//! that an accepted document satisfies its type's invariants and survives a round trip.
//!
//! Every test runs 10,000 cases; `docs/fuzzing.md` has the `cargo fuzz` targets for longer
//! runs.
#![cfg(feature = "serde")]
// The `quota` and `risk` examples are included whole, and each brings its own copy of the
// examples' shared JSON module (`examples/support/json.rs`), as it does when built alone.
#![allow(clippy::duplicate_mod)]

#[path = "fuzz/check.rs"]
mod check;
#[path = "fuzz/mutate.rs"]
mod mutate;

#[path = "fuzz/catalogue.rs"]
mod catalogue;
#[path = "fuzz/dispatch.rs"]
mod dispatch;
#[path = "fuzz/examples.rs"]
mod examples;
#[path = "fuzz/quota.rs"]
mod quota;
#[path = "fuzz/risk.rs"]
mod risk;
#[path = "fuzz/state.rs"]
mod state;
