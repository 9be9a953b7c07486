//! The guides in `docs/`, compiled and run as doctests, so every Rust snippet in them builds
//! against the library as it is. Only built by `cargo test --doc`.

/// `docs/guide.md`: concepts and policies.
#[doc = include_str!("../docs/guide.md")]
pub struct GuideDoctests;

/// `docs/bound.md`: the LP lower bound and the pictures.
#[doc = include_str!("../docs/bound.md")]
pub struct BoundDoctests;

/// `docs/catalogue.md`: the catalogue CSV and document, field by field.
#[doc = include_str!("../docs/catalogue.md")]
pub struct CatalogueDoctests;

/// `docs/live.md`: the live engine.
#[doc = include_str!("../docs/live.md")]
pub struct LiveDoctests;

/// `docs/quota.md`: quota trees and the Askia quota queries.
#[doc = include_str!("../docs/quota.md")]
pub struct QuotaDoctests;

/// `docs/dispatch.md`: cumulative-error weighted dispatch.
#[doc = include_str!("../docs/dispatch.md")]
pub struct DispatchDoctests;

/// `docs/risk.md`: risk ranking.
#[doc = include_str!("../docs/risk.md")]
pub struct RiskDoctests;

/// `docs/fuzzing.md`: fuzzing the input parsers.
#[doc = include_str!("../docs/fuzzing.md")]
pub struct FuzzingDoctests;

/// `docs/operations.md`: metrics, snapshot files, live risk, the background thread.
#[doc = include_str!("../docs/operations.md")]
pub struct OperationsDoctests;
