//! Risk ranking: which quota cells, categories or sample sources will miss their target.
//!
//! Each [`Entity`] (a cell, a category, a source, a city in the specification) is scored on weighted
//! metrics and the entities are ranked highest score first. The specification's four metrics, computed
//! exactly as its tables compute them:
//!
//! | metric | formula | default weight |
//! |---|---|---|
//! | `requirement` | received / required ([`RequirementKind::Filled`]) | 0.4 |
//! | `pace` | (required − received) / days left | 0.3 |
//! | `quality` | 10 · total / Σ(level · count), levels 1–5 | 0.2 |
//! | `fit` | 100 / percent fit | 0.1 |
//!
//! score = Σ weight · metric; ties go to the name that sorts first.
//!
//! **Read the requirement metric with care.** The specification's text calls it "the proportion of
//! applications remaining", but its tables compute received / required, which rises as an
//! entity fills: fuller entities score riskier. The default keeps it so that the specification's tables
//! reproduce; [`RequirementKind::Remaining`] is the share still to collect. Every
//! [`RiskReport`] says which variant it used ([`RiskReport::requirement`]), and its text table
//! prints it.
//!
//! Quality and fit are optional per entity: an entity without them gets no value for that
//! metric and its other weights are **not** renormalised, so its score can only be lower
//! than with the data. A simulation that models neither quality nor fit ranks on requirement
//! and pace alone. Weights are configurable ([`RiskModel::set_weights`]), and you add metrics
//! of your own (burn rate, incidence drift) by implementing [`Metric`].
//!
//! Bad input is refused with a typed error naming the entity and the field: `required` or
//! `days_left` at 0, `percent_fit` at 0 or above 100, quality counts with no responses, NaN or
//! infinite numbers ([`EntityError`]); duplicate names and overflowing metrics when ranking
//! ([`RankError`]). A ranking never holds NaN.
//!
//! ```
//! use quotaroute::risk::{Entity, RequirementKind, RiskModel};
//!
//! let cities = [
//!     Entity::new("Mumbai", 500.0, 100.0, 50.0)?
//!         .with_quality_levels([30.0, 10.0, 20.0, 10.0, 30.0])?
//!         .with_percent_fit(60.0)?,
//!     Entity::new("Delhi", 300.0, 200.0, 53.0)?
//!         .with_quality_levels([70.0, 55.0, 30.0, 40.0, 5.0])?
//!         .with_percent_fit(67.0)?,
//! ];
//! let report = RiskModel::prototype().rank(&cities)?;
//! assert_eq!(report.requirement(), RequirementKind::Filled);
//! let top = &report.ranking()[0];
//! assert_eq!((top.name(), top.rank()), ("Mumbai", 1));
//! assert!((top.score() - 3.313333).abs() < 1e-6);
//! // pace = (500 - 100) / 50
//! assert_eq!(report.metrics_of(top).nth(1), Some(("pace", Some(8.0))));
//!
//! // Weights: the ones not named keep their defaults.
//! let mut model = RiskModel::prototype().with_requirement(RequirementKind::Remaining);
//! model.set_weights([("pace", 0.5), ("fit", 0.0)])?;
//! assert_eq!(model.weight("quality"), Some(0.2));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`LiveRisk`] ranks a live engine's categories and quota cells from its counts, with
//! requirement = the share still to collect (the right default for live fieldwork).
//!
//! The `risk` example reads entities from a JSON document and writes the ranking as one.
//! `docs/risk.md` is the guide.

mod entity;
mod live;
mod metric;
mod model;
mod report;

pub use entity::{Entity, EntityError, Field, QUALITY_LEVELS};
pub use live::{LiveRisk, LiveRiskError, Scope};
pub use metric::{Fit, FnMetric, Metric, MetricError, Pace, Quality, Requirement, RequirementKind};
pub use model::{DEFAULT_WEIGHTS, ModelError, RankError, RiskModel};
pub use report::{RankedEntity, ReportTable, RiskReport};

/// A user-supplied name in backticks, escaped so an error message stays on one line.
fn quoted(name: &str) -> String {
    format!("`{}`", name.escape_debug())
}

/// Names in backticks, comma-separated.
fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quoted(n))
        .collect::<Vec<_>>()
        .join(", ")
}
