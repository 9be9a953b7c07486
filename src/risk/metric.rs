//! The metrics: a trait, the specification's four, and a closure adapter for your own.

use std::fmt;

use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::Entity;

/// One risk metric: a name (its weight key and its column in a report) and a value per entity.
///
/// Return `Ok(None)` when the entity lacks the data the metric needs (the entity then
/// contributes nothing for this metric and its other weights are not renormalised, exactly as
/// the specification treats fit at city level); return an error when the data is there but unusable.
/// The ranking rejects a value that is NaN or infinite, so a metric cannot put NaN in a ranking.
///
/// Implementations must be deterministic: the ranking relies on equal inputs giving equal
/// scores.
///
/// ```
/// use quotaroute::risk::{Entity, Metric, MetricError};
///
/// /// Share of the budget spent per day left: high when money runs out before time does.
/// struct BurnRate;
///
/// impl Metric for BurnRate {
///     fn name(&self) -> &str {
///         "burn_rate"
///     }
///     fn compute(&self, e: &Entity) -> Result<Option<f64>, MetricError> {
///         let (Some(spent), Some(budget)) = (e.extra("spent"), e.extra("budget")) else {
///             return Ok(None); // no cost data: no opinion
///         };
///         if budget <= 0.0 {
///             return Err(MetricError::invalid("extra.budget", "must be > 0"));
///         }
///         Ok(Some(spent / budget / e.days_left()))
///     }
/// }
///
/// let cell = Entity::new("north", 200.0, 50.0, 10.0)?
///     .with_extra("spent", 600.0)?
///     .with_extra("budget", 1000.0)?;
/// assert_eq!(BurnRate.compute(&cell)?, Some(0.06));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Metric: Send + Sync {
    /// The metric's name: unique within a model, the key of its weight.
    fn name(&self) -> &str;

    /// The metric's value for one entity, or `None` when the entity has no data for it.
    ///
    /// # Errors
    /// A [`MetricError`] when the entity's data cannot give a value; the ranking reports it
    /// with the entity's and the metric's names.
    fn compute(&self, entity: &Entity) -> Result<Option<f64>, MetricError>;
}

/// Why a metric could not compute a value for an entity. The ranking wraps it in
/// [`RankError::Metric`](super::RankError::Metric) with the entity and metric names.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MetricError {
    /// The entity lacks a value the metric cannot do without.
    #[error("field `{}` is missing", .field.escape_debug())]
    Missing {
        /// The field, e.g. `extra.budget`.
        field: String,
    },
    /// A value the metric reads is outside the metric's domain.
    #[error("field `{}` {}", .field.escape_debug(), .reason.escape_debug())]
    Invalid {
        /// The field, e.g. `extra.budget`.
        field: String,
        /// What is wrong, e.g. `must be > 0`.
        reason: String,
    },
}

impl MetricError {
    /// A [`MetricError::Missing`].
    pub fn missing(field: impl Into<String>) -> MetricError {
        MetricError::Missing {
            field: field.into(),
        }
    }

    /// A [`MetricError::Invalid`].
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> MetricError {
        MetricError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The field the error is about.
    pub fn field(&self) -> &str {
        match self {
            MetricError::Missing { field } | MetricError::Invalid { field, .. } => field,
        }
    }
}

/// Which requirement metric a model (and so a report) uses. Both are named `requirement`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "snake_case")
)]
pub enum RequirementKind {
    /// `received / required`, as the specification's tables compute it (its text says "remaining").
    /// It rises as an entity fills, so **fuller entities score riskier**; kept so the specification's
    /// tables and ranking reproduce. The default.
    #[default]
    Filled,
    /// `(required − received) / required`: the share still to collect, as the specification's text
    /// describes it. It rises with the work left, and is negative once over target.
    Remaining,
}

impl RequirementKind {
    /// The formula, e.g. `received / required`.
    pub const fn formula(self) -> &'static str {
        match self {
            RequirementKind::Filled => "received / required",
            RequirementKind::Remaining => "(required - received) / required",
        }
    }

    /// The serde and command-line name: `filled` or `remaining`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequirementKind::Filled => "filled",
            RequirementKind::Remaining => "remaining",
        }
    }

    /// Reads `filled` or `remaining`.
    pub fn from_name(name: &str) -> Option<RequirementKind> {
        match name {
            "filled" => Some(RequirementKind::Filled),
            "remaining" => Some(RequirementKind::Remaining),
            _ => None,
        }
    }
}

impl fmt::Display for RequirementKind {
    /// `requirement = <formula>`, with the warning the specification's variant needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequirementKind::Filled => f.write_str(
                "requirement = received / required (seed variant: fuller entities score riskier)",
            ),
            RequirementKind::Remaining => f.write_str(
                "requirement = (required - received) / required (share still to collect)",
            ),
        }
    }
}

/// The specification's requirement metric, `requirement`, in either [`RequirementKind`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Requirement(pub RequirementKind);

impl Requirement {
    /// The metric's name and weight key.
    pub const NAME: &'static str = "requirement";

    /// The value, without the trait's `Result`/`Option` wrapping.
    #[inline]
    pub fn value(self, e: &Entity) -> f64 {
        match self.0 {
            RequirementKind::Filled => e.received() / e.required(),
            RequirementKind::Remaining => e.remaining() / e.required(),
        }
    }
}

impl Metric for Requirement {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn compute(&self, e: &Entity) -> Result<Option<f64>, MetricError> {
        Ok(Some(self.value(e)))
    }
}

/// The specification's pace metric, `pace` = (required − received) / days left: what must still come
/// in per remaining day. Negative once over target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pace;

impl Pace {
    /// The metric's name and weight key.
    pub const NAME: &'static str = "pace";
}

impl Metric for Pace {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn compute(&self, e: &Entity) -> Result<Option<f64>, MetricError> {
        Ok(Some(e.remaining() / e.days_left()))
    }
}

/// The specification's quality metric, `quality` = 10 · total / Σ(level · count) over levels 1 to 5,
/// i.e. 10 / the mean level: between 2 (everyone at level 5) and 10 (everyone at level 1), so
/// poorer quality scores riskier. `None` for an entity without quality counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quality;

impl Quality {
    /// The metric's name and weight key.
    pub const NAME: &'static str = "quality";

    /// The metric for counts at levels 1 to 5, at least one positive.
    #[inline]
    pub fn of_levels(counts: &[f64; super::QUALITY_LEVELS]) -> f64 {
        let mut total = 0.0;
        let mut weighted = 0.0;
        let mut level = 0.0;
        for &c in counts {
            level += 1.0;
            total += c;
            weighted += level * c;
        }
        10.0 * total / weighted
    }
}

impl Metric for Quality {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn compute(&self, e: &Entity) -> Result<Option<f64>, MetricError> {
        Ok(e.quality_levels().map(Quality::of_levels))
    }
}

/// The specification's fit metric, `fit` = 100 / percent fit: 1 when everything fits, growing as fewer
/// do. `None` for an entity without a percent fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fit;

impl Fit {
    /// The metric's name and weight key.
    pub const NAME: &'static str = "fit";
}

impl Metric for Fit {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn compute(&self, e: &Entity) -> Result<Option<f64>, MetricError> {
        Ok(e.percent_fit().map(|p| 100.0 / p))
    }
}

/// A metric from a name and a closure, for metrics too small to deserve a type.
///
/// ```
/// use quotaroute::risk::{Entity, FnMetric, Metric};
///
/// let overdue = FnMetric::new("over_target", |e: &Entity| {
///     Ok(Some(if e.received() > e.required() { 1.0 } else { 0.0 }))
/// });
/// let e = Entity::new("cell", 10.0, 12.0, 3.0)?;
/// assert_eq!(overdue.compute(&e)?, Some(1.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FnMetric<F> {
    name: String,
    f: F,
}

impl<F> FnMetric<F>
where
    F: Fn(&Entity) -> Result<Option<f64>, MetricError> + Send + Sync,
{
    /// A metric named `name` computed by `f`.
    pub fn new(name: impl Into<String>, f: F) -> FnMetric<F> {
        FnMetric {
            name: name.into(),
            f,
        }
    }
}

impl<F> fmt::Debug for FnMetric<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnMetric")
            .field("name", &self.name)
            .finish()
    }
}

impl<F> Metric for FnMetric<F>
where
    F: Fn(&Entity) -> Result<Option<f64>, MetricError> + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }
    fn compute(&self, entity: &Entity) -> Result<Option<f64>, MetricError> {
        (self.f)(entity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_quality_cases() {
        // The specification's two worked cases: 3.333 and 4.348.
        let q1 = Quality::of_levels(&[30.0, 10.0, 20.0, 10.0, 30.0]);
        let q2 = Quality::of_levels(&[30.0, 40.0, 10.0, 10.0, 10.0]);
        assert!((q1 - 10.0 / 3.0).abs() < 1e-12);
        assert!((q2 - 1000.0 / 230.0).abs() < 1e-12);
        assert_eq!((q1 * 1000.0).round() / 1000.0, 3.333);
        assert_eq!((q2 * 1000.0).round() / 1000.0, 4.348);
        // Bounds: all at level 5 gives 2, all at level 1 gives 10.
        assert_eq!(Quality::of_levels(&[0.0, 0.0, 0.0, 0.0, 7.0]), 2.0);
        assert_eq!(Quality::of_levels(&[7.0, 0.0, 0.0, 0.0, 0.0]), 10.0);
    }

    #[test]
    fn requirement_variants() {
        let e = Entity::new("Delhi", 300.0, 200.0, 53.0).unwrap();
        assert_eq!(
            Requirement(RequirementKind::Filled).value(&e),
            200.0 / 300.0
        );
        assert_eq!(
            Requirement(RequirementKind::Remaining).value(&e),
            100.0 / 300.0
        );
        assert_eq!(Pace.compute(&e).unwrap(), Some(100.0 / 53.0));
        assert_eq!(Quality.compute(&e).unwrap(), None);
        assert_eq!(Fit.compute(&e).unwrap(), None);
        for kind in [RequirementKind::Filled, RequirementKind::Remaining] {
            assert_eq!(RequirementKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(RequirementKind::from_name("Filled"), None);
    }

    #[test]
    fn metric_error_messages_stay_on_one_line() {
        let e = MetricError::invalid("extra.x\ny", "must be\n> 0");
        assert!(!e.to_string().contains('\n'));
        assert_eq!(e.field(), "extra.x\ny");
        assert_eq!(
            MetricError::missing("extra.b").to_string(),
            "field `extra.b` is missing"
        );
    }
}
