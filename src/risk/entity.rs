//! The thing being scored: a quota cell, a category or a sample source, with its counts.

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::quoted;

/// How many quality levels an entity reports: levels 1 to 5, as in the specification.
pub const QUALITY_LEVELS: usize = 5;

/// One entity to score, validated when it is built.
///
/// Every number is finite: `required > 0`, `received >= 0`, `days_left > 0`, each quality
/// count `>= 0` with at least one response, `0 < percent_fit <= 100`. Counts are `f64` so that
/// weighted counts (survey weights) fit as well as whole ones; `received` may exceed `required`
/// (an over-target cell), which makes its pace negative.
///
/// Quality and fit are optional: an entity without them contributes nothing for that metric,
/// and its weights are not renormalised (the specification's cities at city level have no fit, and a
/// simulation without response quality has neither).
///
/// `extra` holds named numbers for metrics you add yourself (see [`Metric`](super::Metric)).
///
/// ```
/// use quotaroute::risk::Entity;
///
/// let mumbai = Entity::new("Mumbai", 500.0, 100.0, 50.0)?
///     .with_quality_levels([30.0, 10.0, 20.0, 10.0, 30.0])?
///     .with_percent_fit(60.0)?;
/// assert_eq!(mumbai.percent_fit(), Some(60.0));
/// assert!(Entity::new("Delhi", 300.0, 200.0, 0.0).is_err()); // no days left
/// # Ok::<(), quotaroute::risk::EntityError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(try_from = "EntityRepr", into = "EntityRepr")
)]
pub struct Entity {
    name: String,
    required: f64,
    received: f64,
    days_left: f64,
    quality_levels: Option<[f64; QUALITY_LEVELS]>,
    percent_fit: Option<f64>,
    extra: BTreeMap<String, f64>,
}

/// Which input of an [`Entity`] an error is about; displayed as the field's JSON name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `name`.
    Name,
    /// `required`: the target (completes or applications required).
    Required,
    /// `received`: completes or applications received so far.
    Received,
    /// `days_left`: days left before the deadline.
    DaysLeft,
    /// `quality_levels` as a whole (e.g. every count is 0).
    QualityLevels,
    /// One count of `quality_levels`, by index from 0 (index 0 is level 1).
    QualityLevel(usize),
    /// `percent_fit`.
    PercentFit,
    /// A named value in `extra`.
    Extra(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Name => f.write_str("name"),
            Field::Required => f.write_str("required"),
            Field::Received => f.write_str("received"),
            Field::DaysLeft => f.write_str("days_left"),
            Field::QualityLevels => f.write_str("quality_levels"),
            Field::QualityLevel(i) => write!(f, "quality_levels[{i}]"),
            Field::PercentFit => f.write_str("percent_fit"),
            // Escaped so that a hostile name cannot break the one-line error message.
            Field::Extra(name) => write!(f, "extra.{}", name.escape_debug()),
        }
    }
}

/// Why an [`Entity`] could not be built or changed. Every variant names the entity (except an
/// empty name) and the field; [`EntityError::entity`] and [`EntityError::field`] return them.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum EntityError {
    /// The entity's name is empty; names identify entities in a ranking and break ties.
    #[error("an entity has an empty name (field `name`)")]
    EmptyName,
    /// A number is NaN or infinite.
    #[error(
        "entity {}: field `{field}` must be a finite number, got {value}",
        quoted(entity)
    )]
    NotFinite {
        /// The entity's name.
        entity: String,
        /// The field.
        field: Field,
        /// The value given.
        value: f64,
    },
    /// `required` or `days_left` is 0 or negative: the metrics divide by them.
    #[error("entity {}: field `{field}` must be > 0, got {value}", quoted(entity))]
    NotPositive {
        /// The entity's name.
        entity: String,
        /// The field.
        field: Field,
        /// The value given.
        value: f64,
    },
    /// `received` or a quality count is negative.
    #[error("entity {}: field `{field}` must be >= 0, got {value}", quoted(entity))]
    Negative {
        /// The entity's name.
        entity: String,
        /// The field.
        field: Field,
        /// The value given.
        value: f64,
    },
    /// `percent_fit` is 0 or below, or above 100 (fit = 100 / percent fit).
    #[error(
        "entity {}: field `percent_fit` must be in (0, 100], got {value}",
        quoted(entity)
    )]
    PercentFitOutOfRange {
        /// The entity's name.
        entity: String,
        /// The value given.
        value: f64,
    },
    /// `quality_levels` is given but every count is 0: there is no quality to measure.
    /// Leave quality out for an entity that has no quality data.
    #[error(
        "entity {}: field `quality_levels` has no responses (every count is 0); \
         omit it for an entity without quality data",
        quoted(entity)
    )]
    NoQualityResponses {
        /// The entity's name.
        entity: String,
    },
    /// A name in `extra` is empty.
    #[error(
        "entity {}: field `extra` has a value with an empty name",
        quoted(entity)
    )]
    EmptyExtraName {
        /// The entity's name.
        entity: String,
    },
}

impl EntityError {
    /// The name of the entity at fault (empty for [`EntityError::EmptyName`]).
    pub fn entity(&self) -> &str {
        match self {
            EntityError::EmptyName => "",
            EntityError::NotFinite { entity, .. }
            | EntityError::NotPositive { entity, .. }
            | EntityError::Negative { entity, .. }
            | EntityError::PercentFitOutOfRange { entity, .. }
            | EntityError::NoQualityResponses { entity }
            | EntityError::EmptyExtraName { entity } => entity,
        }
    }

    /// The field at fault.
    pub fn field(&self) -> Field {
        match self {
            EntityError::EmptyName => Field::Name,
            EntityError::NotFinite { field, .. }
            | EntityError::NotPositive { field, .. }
            | EntityError::Negative { field, .. } => field.clone(),
            EntityError::PercentFitOutOfRange { .. } => Field::PercentFit,
            EntityError::NoQualityResponses { .. } => Field::QualityLevels,
            EntityError::EmptyExtraName { .. } => Field::Extra(String::new()),
        }
    }
}

/// The checks every number goes through; the field is built only on the error path.
fn finite(name: &str, field: impl FnOnce() -> Field, value: f64) -> Result<f64, EntityError> {
    if value.is_finite() {
        // Adding +0.0 turns -0.0 into +0.0, so reports never show "-0".
        Ok(value + 0.0)
    } else {
        Err(EntityError::NotFinite {
            entity: name.to_owned(),
            field: field(),
            value,
        })
    }
}

fn positive(name: &str, field: impl Fn() -> Field, value: f64) -> Result<f64, EntityError> {
    let value = finite(name, &field, value)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(EntityError::NotPositive {
            entity: name.to_owned(),
            field: field(),
            value,
        })
    }
}

fn non_negative(name: &str, field: impl Fn() -> Field, value: f64) -> Result<f64, EntityError> {
    let value = finite(name, &field, value)?;
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(EntityError::Negative {
            entity: name.to_owned(),
            field: field(),
            value,
        })
    }
}

impl Entity {
    /// An entity with its target, what it has received so far and the days left; no quality,
    /// no fit, no extra values.
    ///
    /// # Errors
    /// [`EntityError::EmptyName`]; [`EntityError::NotFinite`] for a NaN or infinite number;
    /// [`EntityError::NotPositive`] for `required` or `days_left` at 0 or below;
    /// [`EntityError::Negative`] for `received` below 0. Fields are checked in the order
    /// required, received, days left.
    pub fn new(
        name: impl Into<String>,
        required: f64,
        received: f64,
        days_left: f64,
    ) -> Result<Entity, EntityError> {
        let name = name.into();
        if name.is_empty() {
            return Err(EntityError::EmptyName);
        }
        let required = positive(&name, || Field::Required, required)?;
        let received = non_negative(&name, || Field::Received, received)?;
        let days_left = positive(&name, || Field::DaysLeft, days_left)?;
        Ok(Entity {
            name,
            required,
            received,
            days_left,
            quality_levels: None,
            percent_fit: None,
            extra: BTreeMap::new(),
        })
    }

    /// The same entity with quality counts for levels 1 to 5.
    ///
    /// # Errors
    /// As [`Entity::set_quality_levels`].
    pub fn with_quality_levels(
        mut self,
        counts: [f64; QUALITY_LEVELS],
    ) -> Result<Entity, EntityError> {
        self.set_quality_levels(Some(counts))?;
        Ok(self)
    }

    /// The same entity with a percent fit.
    ///
    /// # Errors
    /// As [`Entity::set_percent_fit`].
    pub fn with_percent_fit(mut self, percent_fit: f64) -> Result<Entity, EntityError> {
        self.set_percent_fit(Some(percent_fit))?;
        Ok(self)
    }

    /// The same entity with a named extra value, for a metric of your own.
    ///
    /// # Errors
    /// As [`Entity::set_extra`].
    pub fn with_extra(
        mut self,
        name: impl Into<String>,
        value: f64,
    ) -> Result<Entity, EntityError> {
        self.set_extra(name, value)?;
        Ok(self)
    }

    /// Sets the target. On error the entity is unchanged.
    ///
    /// # Errors
    /// [`EntityError::NotFinite`] or [`EntityError::NotPositive`].
    pub fn set_required(&mut self, required: f64) -> Result<(), EntityError> {
        self.required = positive(&self.name, || Field::Required, required)?;
        Ok(())
    }

    /// Sets what has been received so far. On error the entity is unchanged.
    ///
    /// # Errors
    /// [`EntityError::NotFinite`] or [`EntityError::Negative`].
    pub fn set_received(&mut self, received: f64) -> Result<(), EntityError> {
        self.received = non_negative(&self.name, || Field::Received, received)?;
        Ok(())
    }

    /// Sets the days left. On error the entity is unchanged.
    ///
    /// # Errors
    /// [`EntityError::NotFinite`] or [`EntityError::NotPositive`] (the deadline has passed:
    /// pace is undefined).
    pub fn set_days_left(&mut self, days_left: f64) -> Result<(), EntityError> {
        self.days_left = positive(&self.name, || Field::DaysLeft, days_left)?;
        Ok(())
    }

    /// Sets (or with `None` removes) the quality counts for levels 1 to 5. On error the entity
    /// is unchanged.
    ///
    /// # Errors
    /// [`EntityError::NotFinite`] or [`EntityError::Negative`] naming the first bad count
    /// (`quality_levels[i]`); [`EntityError::NoQualityResponses`] when every count is 0.
    pub fn set_quality_levels(
        &mut self,
        counts: Option<[f64; QUALITY_LEVELS]>,
    ) -> Result<(), EntityError> {
        let Some(mut counts) = counts else {
            self.quality_levels = None;
            return Ok(());
        };
        for (i, count) in counts.iter_mut().enumerate() {
            *count = non_negative(&self.name, || Field::QualityLevel(i), *count)?;
        }
        if counts.iter().all(|&c| c == 0.0) {
            return Err(EntityError::NoQualityResponses {
                entity: self.name.clone(),
            });
        }
        self.quality_levels = Some(counts);
        Ok(())
    }

    /// Sets (or with `None` removes) the percent fit, in (0, 100]. On error the entity is
    /// unchanged.
    ///
    /// # Errors
    /// [`EntityError::NotFinite`] or [`EntityError::PercentFitOutOfRange`].
    pub fn set_percent_fit(&mut self, percent_fit: Option<f64>) -> Result<(), EntityError> {
        let Some(p) = percent_fit else {
            self.percent_fit = None;
            return Ok(());
        };
        let p = finite(&self.name, || Field::PercentFit, p)?;
        if !(p > 0.0 && p <= 100.0) {
            return Err(EntityError::PercentFitOutOfRange {
                entity: self.name.clone(),
                value: p,
            });
        }
        self.percent_fit = Some(p);
        Ok(())
    }

    /// Sets a named extra value (any finite number), replacing one of the same name. On error
    /// the entity is unchanged.
    ///
    /// # Errors
    /// [`EntityError::EmptyExtraName`] or [`EntityError::NotFinite`].
    pub fn set_extra(&mut self, name: impl Into<String>, value: f64) -> Result<(), EntityError> {
        let key = name.into();
        if key.is_empty() {
            return Err(EntityError::EmptyExtraName {
                entity: self.name.clone(),
            });
        }
        let value = finite(&self.name, || Field::Extra(key.clone()), value)?;
        self.extra.insert(key, value);
        Ok(())
    }

    /// Removes a named extra value, returning it.
    pub fn remove_extra(&mut self, name: &str) -> Option<f64> {
        self.extra.remove(name)
    }

    /// The entity's name, unique within a ranking.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The target (> 0).
    pub fn required(&self) -> f64 {
        self.required
    }
    /// Received so far (>= 0; may exceed the target).
    pub fn received(&self) -> f64 {
        self.received
    }
    /// `required − received`: what is still to collect (negative once over target).
    pub fn remaining(&self) -> f64 {
        self.required - self.received
    }
    /// Days left (> 0).
    pub fn days_left(&self) -> f64 {
        self.days_left
    }
    /// Quality counts for levels 1 to 5, if known (at least one is positive).
    pub fn quality_levels(&self) -> Option<&[f64; QUALITY_LEVELS]> {
        self.quality_levels.as_ref()
    }
    /// Percent fit in (0, 100], if known.
    pub fn percent_fit(&self) -> Option<f64> {
        self.percent_fit
    }
    /// A named extra value, if set.
    pub fn extra(&self, name: &str) -> Option<f64> {
        self.extra.get(name).copied()
    }
    /// Every extra value, by name.
    pub fn extras(&self) -> impl ExactSizeIterator<Item = (&str, f64)> + '_ {
        self.extra.iter().map(|(k, &v)| (k.as_str(), v))
    }
}

/// The serde form of [`Entity`]: the same fields as the `risk` example's input document
/// (`examples/risk/document.rs`), so a stored entity reads back through the same validation.
#[cfg(feature = "serde")]
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityRepr {
    name: String,
    required: f64,
    received: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quality_levels: Option<[f64; QUALITY_LEVELS]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    percent_fit: Option<f64>,
    days_left: f64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    extra: BTreeMap<String, f64>,
}

#[cfg(feature = "serde")]
impl TryFrom<EntityRepr> for Entity {
    type Error = EntityError;
    fn try_from(r: EntityRepr) -> Result<Entity, EntityError> {
        let mut e = Entity::new(r.name, r.required, r.received, r.days_left)?;
        e.set_quality_levels(r.quality_levels)?;
        e.set_percent_fit(r.percent_fit)?;
        for (k, v) in r.extra {
            e.set_extra(k, v)?;
        }
        Ok(e)
    }
}

#[cfg(feature = "serde")]
impl From<Entity> for EntityRepr {
    fn from(e: Entity) -> EntityRepr {
        EntityRepr {
            name: e.name,
            required: e.required,
            received: e.received,
            quality_levels: e.quality_levels,
            percent_fit: e.percent_fit,
            days_left: e.days_left,
            extra: e.extra,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city() -> Entity {
        Entity::new("Mumbai", 500.0, 100.0, 50.0).unwrap()
    }

    #[test]
    fn bad_numbers_name_entity_and_field() {
        let e = Entity::new("Pune", 0.0, 1.0, 1.0).unwrap_err();
        assert_eq!((e.entity(), e.field()), ("Pune", Field::Required));
        assert_eq!(
            e.to_string(),
            "entity `Pune`: field `required` must be > 0, got 0"
        );
        let e = Entity::new("Pune", 1.0, -1.0, 1.0).unwrap_err();
        assert_eq!(e.field(), Field::Received);
        let e = Entity::new("Pune", 1.0, 1.0, 0.0).unwrap_err();
        assert_eq!(e.field(), Field::DaysLeft);
        let e = Entity::new("Pune", 1.0, f64::NAN, 1.0).unwrap_err();
        assert!(matches!(e, EntityError::NotFinite { .. }));
        assert_eq!(
            e.to_string(),
            "entity `Pune`: field `received` must be a finite number, got NaN"
        );
        let e = Entity::new("Pune", f64::INFINITY, 1.0, 1.0).unwrap_err();
        assert_eq!(e.field(), Field::Required);
        assert_eq!(Entity::new("", 1.0, 1.0, 1.0), Err(EntityError::EmptyName));
    }

    #[test]
    fn failed_setters_leave_the_entity_unchanged() {
        let mut e = city().with_percent_fit(60.0).unwrap();
        let before = e.clone();
        assert!(e.set_percent_fit(Some(0.0)).is_err());
        assert!(e.set_percent_fit(Some(100.5)).is_err());
        assert!(e.set_quality_levels(Some([0.0; 5])).is_err());
        assert!(
            e.set_quality_levels(Some([1.0, 1.0, -2.0, 0.0, 0.0]))
                .is_err()
        );
        assert!(e.set_days_left(0.0).is_err());
        assert!(e.set_received(f64::NAN).is_err());
        assert!(e.set_required(-3.0).is_err());
        assert!(e.set_extra("", 1.0).is_err());
        assert!(e.set_extra("spend", f64::INFINITY).is_err());
        assert_eq!(e, before);
    }

    #[test]
    fn quality_errors_point_at_the_count() {
        let e = city()
            .with_quality_levels([1.0, 2.0, f64::NAN, 0.0, 0.0])
            .unwrap_err();
        assert_eq!(e.field(), Field::QualityLevel(2));
        assert_eq!(
            e.to_string(),
            "entity `Mumbai`: field `quality_levels[2]` must be a finite number, got NaN"
        );
        let e = city().with_quality_levels([0.0; 5]).unwrap_err();
        assert_eq!(
            e,
            EntityError::NoQualityResponses {
                entity: "Mumbai".into()
            }
        );
        assert_eq!(e.field(), Field::QualityLevels);
    }

    #[test]
    fn percent_fit_bounds() {
        assert!(city().with_percent_fit(100.0).is_ok());
        assert!(city().with_percent_fit(1e-9).is_ok());
        for bad in [0.0, -0.0, -5.0, 100.000_001] {
            let e = city().with_percent_fit(bad).unwrap_err();
            assert!(
                matches!(e, EntityError::PercentFitOutOfRange { .. }),
                "{bad}"
            );
            assert_eq!(e.field(), Field::PercentFit);
        }
    }

    #[test]
    fn negative_zero_is_stored_as_zero() {
        let e = Entity::new("a", 1.0, -0.0, 1.0).unwrap();
        assert!(e.received().is_sign_positive());
    }

    #[test]
    fn names_cannot_break_the_error_line() {
        let e = Entity::new("evil\nname", 0.0, 0.0, 1.0).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
        let e = city().with_extra("a\nb", f64::NAN).unwrap_err();
        assert!(!e.to_string().contains('\n'), "{e}");
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip_and_validation() {
        let e = city()
            .with_quality_levels([30.0, 10.0, 20.0, 10.0, 30.0])
            .unwrap()
            .with_extra("spend", 12.5)
            .unwrap();
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Entity>(&json).unwrap(), e);
        let bad = r#"{"name":"X","required":0,"received":1,"days_left":3}"#;
        let err = serde_json::from_str::<Entity>(bad).unwrap_err().to_string();
        assert!(err.contains("entity `X`: field `required`"), "{err}");
    }
}
