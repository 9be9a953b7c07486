//! The weighted model, the ranking and its report.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;
use thiserror::Error;

use super::metric::{Fit, Pace, Quality, Requirement};
use super::report::{RankedEntity, RiskReport};
use super::{Entity, Metric, MetricError, RequirementKind, quoted, quoted_list};

/// The specification's priority weights: requirement 0.4, pace 0.3, quality 0.2, fit 0.1.
pub const DEFAULT_WEIGHTS: [(&str, f64); 4] = [
    (Requirement::NAME, 0.4),
    (Pace::NAME, 0.3),
    (Quality::NAME, 0.2),
    (Fit::NAME, 0.1),
];

/// Metric values are kept inline for up to this many metrics (the specification's four and two more).
const INLINE_METRICS: usize = 6;

/// One entity's metric values, in the model's order.
pub(super) type Values = SmallVec<[Option<f64>; INLINE_METRICS]>;

#[derive(Clone)]
struct Weighted {
    metric: Arc<dyn Metric>,
    weight: f64,
}

/// Metrics with weights: scores entities and ranks them.
///
/// Starts as the specification's prototype model ([`RiskModel::prototype`], also the
/// `Default`): the four metrics requirement, pace, quality, fit with [`DEFAULT_WEIGHTS`] and
/// the specification's [`RequirementKind::Filled`]. You may change weights, switch the requirement variant and add
/// metrics of your own; the four built-in metrics always stay (weight 0 switches one off, and its
/// value still shows in reports). Weights are finite, >= 0 and never all 0; every change is
/// checked and a failed change leaves the model as it was.
///
/// Cheap to clone (metrics are shared) and `Send + Sync`.
#[derive(Clone)]
pub struct RiskModel {
    requirement: RequirementKind,
    metrics: Vec<Weighted>,
}

impl Default for RiskModel {
    fn default() -> RiskModel {
        RiskModel::prototype()
    }
}

impl fmt::Debug for RiskModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RiskModel")
            .field("requirement", &self.requirement)
            .field("weights", &self.weights().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a model change was refused. The model is unchanged.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A weight is NaN or infinite.
    #[error("weight {} must be a finite number, got {value}", quoted(metric))]
    WeightNotFinite {
        /// The metric whose weight it is.
        metric: String,
        /// The value given.
        value: f64,
    },
    /// A weight is negative: a metric may count for nothing, not against risk.
    #[error("weight {} must be >= 0, got {value}", quoted(metric))]
    NegativeWeight {
        /// The metric whose weight it is.
        metric: String,
        /// The value given.
        value: f64,
    },
    /// The change would leave every weight at 0: every score would be 0.
    #[error("every weight would be 0; at least one metric must have a positive weight")]
    AllZero,
    /// Weights were given for metrics the model does not have.
    #[error(
        "no metric named {}; the model has {}",
        quoted_list(names),
        quoted_list(known)
    )]
    UnknownMetrics {
        /// The unknown names, in the order given.
        names: Vec<String>,
        /// The model's metric names.
        known: Vec<String>,
    },
    /// One call gave the same metric's weight twice.
    #[error("weight {} is given twice", quoted(metric))]
    DuplicateWeight {
        /// The metric.
        metric: String,
    },
    /// A metric being added has the name of one already in the model.
    #[error("the model already has a metric named {}", quoted(name))]
    DuplicateMetric {
        /// The name.
        name: String,
    },
    /// A metric being added has an empty name.
    #[error("a metric's name is empty")]
    EmptyMetricName,
}

/// Why a ranking could not be made. Every variant names the entity; the metric variants name
/// the metric (the field of the report), [`RankError::Metric`] also the entity field it read.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum RankError {
    /// Two entities have the same name: names identify entities and break ties.
    #[error(
        "entity {} appears twice (field `name`); names must be unique",
        quoted(name)
    )]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
    /// A metric refused an entity's data.
    #[error("entity {}: metric {}: {source}", quoted(entity), quoted(metric))]
    Metric {
        /// The entity's name.
        entity: String,
        /// The metric's name.
        metric: String,
        /// What the metric reported.
        source: MetricError,
    },
    /// A metric gave NaN or an infinite value (e.g. counts so large that a sum overflows).
    #[error(
        "entity {}: metric {} is not a finite number ({value})",
        quoted(entity),
        quoted(metric)
    )]
    MetricNotFinite {
        /// The entity's name.
        entity: String,
        /// The metric's name.
        metric: String,
        /// The value computed.
        value: f64,
    },
    /// Finite metrics times their weights overflowed the score.
    #[error("entity {}: field `score` overflows ({value})", quoted(entity))]
    ScoreNotFinite {
        /// The entity's name.
        entity: String,
        /// The score computed.
        value: f64,
    },
}

impl RankError {
    /// The entity at fault.
    pub fn entity(&self) -> &str {
        match self {
            RankError::DuplicateName { name: entity }
            | RankError::Metric { entity, .. }
            | RankError::MetricNotFinite { entity, .. }
            | RankError::ScoreNotFinite { entity, .. } => entity,
        }
    }

    /// The report field at fault: a metric's name, `score` or `name`.
    pub fn field(&self) -> &str {
        match self {
            RankError::DuplicateName { .. } => "name",
            RankError::Metric { metric, .. } | RankError::MetricNotFinite { metric, .. } => metric,
            RankError::ScoreNotFinite { .. } => "score",
        }
    }
}

fn check_weight(metric: &str, weight: f64) -> Result<f64, ModelError> {
    if !weight.is_finite() {
        return Err(ModelError::WeightNotFinite {
            metric: metric.to_owned(),
            value: weight,
        });
    }
    if weight < 0.0 {
        return Err(ModelError::NegativeWeight {
            metric: metric.to_owned(),
            value: weight,
        });
    }
    Ok(weight + 0.0)
}

impl RiskModel {
    /// The prototype model of the risk-ranking specification: requirement (received /
    /// required), pace, quality, fit weighted 0.4 / 0.3 / 0.2 / 0.1.
    pub fn prototype() -> RiskModel {
        let metrics: [Arc<dyn Metric>; 4] = [
            Arc::new(Requirement(RequirementKind::Filled)),
            Arc::new(Pace),
            Arc::new(Quality),
            Arc::new(Fit),
        ];
        RiskModel {
            requirement: RequirementKind::Filled,
            metrics: metrics
                .into_iter()
                .zip(DEFAULT_WEIGHTS)
                .map(|(metric, (_, weight))| Weighted { metric, weight })
                .collect(),
        }
    }

    /// The old name of [`prototype`](Self::prototype) ("seed" now means only an RNG seed).
    #[deprecated(note = "renamed `RiskModel::prototype`")]
    pub fn seed() -> RiskModel {
        Self::prototype()
    }

    /// The same model with the given requirement variant.
    pub fn with_requirement(mut self, kind: RequirementKind) -> RiskModel {
        self.set_requirement(kind);
        self
    }

    /// Switches the requirement variant; its weight is kept.
    pub fn set_requirement(&mut self, kind: RequirementKind) {
        self.requirement = kind;
        // The built-in metrics are never removed, and requirement is always the first.
        self.metrics[0].metric = Arc::new(Requirement(kind));
    }

    /// The requirement variant in use.
    pub fn requirement(&self) -> RequirementKind {
        self.requirement
    }

    /// Adds a metric of your own with its weight; it scores after the metrics already there.
    ///
    /// # Errors
    /// [`ModelError::EmptyMetricName`], [`ModelError::DuplicateMetric`],
    /// [`ModelError::WeightNotFinite`], [`ModelError::NegativeWeight`]. The model is unchanged
    /// on error.
    pub fn add_metric(
        &mut self,
        metric: impl Metric + 'static,
        weight: f64,
    ) -> Result<(), ModelError> {
        self.add_shared_metric(Arc::new(metric), weight)
    }

    /// [`RiskModel::add_metric`] for a metric already behind an `Arc`.
    ///
    /// # Errors
    /// As [`RiskModel::add_metric`].
    pub fn add_shared_metric(
        &mut self,
        metric: Arc<dyn Metric>,
        weight: f64,
    ) -> Result<(), ModelError> {
        let name = metric.name();
        if name.is_empty() {
            return Err(ModelError::EmptyMetricName);
        }
        if self.position(name).is_some() {
            return Err(ModelError::DuplicateMetric {
                name: name.to_owned(),
            });
        }
        let weight = check_weight(name, weight)?;
        self.metrics.push(Weighted { metric, weight });
        Ok(())
    }

    /// The same model with one more metric.
    ///
    /// # Errors
    /// As [`RiskModel::add_metric`].
    pub fn with_metric(
        mut self,
        metric: impl Metric + 'static,
        weight: f64,
    ) -> Result<RiskModel, ModelError> {
        self.add_metric(metric, weight)?;
        Ok(self)
    }

    /// Sets one metric's weight.
    ///
    /// # Errors
    /// As [`RiskModel::set_weights`].
    pub fn set_weight(&mut self, metric: &str, weight: f64) -> Result<(), ModelError> {
        self.set_weights([(metric, weight)])
    }

    /// Sets several weights at once, all or none; metrics not named keep theirs.
    ///
    /// # Errors
    /// [`ModelError::UnknownMetrics`] listing every unknown name; then, in the order given,
    /// [`ModelError::DuplicateWeight`], [`ModelError::WeightNotFinite`],
    /// [`ModelError::NegativeWeight`]; finally [`ModelError::AllZero`] if the result would
    /// have no positive weight. The model is unchanged on error.
    pub fn set_weights<K: AsRef<str>>(
        &mut self,
        weights: impl IntoIterator<Item = (K, f64)>,
    ) -> Result<(), ModelError> {
        let weights: Vec<(K, f64)> = weights.into_iter().collect();
        let positions: Vec<Option<usize>> = weights
            .iter()
            .map(|(k, _)| self.position(k.as_ref()))
            .collect();
        let unknown: Vec<String> = weights
            .iter()
            .zip(&positions)
            .filter(|(_, p)| p.is_none())
            .map(|((k, _), _)| k.as_ref().to_owned())
            .collect();
        if !unknown.is_empty() {
            return Err(ModelError::UnknownMetrics {
                names: unknown,
                known: self.metric_names().map(str::to_owned).collect(),
            });
        }
        let mut next: Vec<f64> = self.metrics.iter().map(|m| m.weight).collect();
        let mut seen = vec![false; next.len()];
        for ((k, w), i) in weights.iter().zip(&positions) {
            let (name, &Some(i)) = (k.as_ref(), i) else {
                continue; // every position is known: unknown names were refused above
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(ModelError::DuplicateWeight {
                    metric: name.to_owned(),
                });
            }
            next[i] = check_weight(name, *w)?;
        }
        if next.iter().all(|&w| w == 0.0) {
            return Err(ModelError::AllZero);
        }
        for (m, w) in self.metrics.iter_mut().zip(next) {
            m.weight = w;
        }
        Ok(())
    }

    /// A metric's weight, if the model has it.
    pub fn weight(&self, metric: &str) -> Option<f64> {
        self.position(metric).map(|i| self.metrics[i].weight)
    }

    /// Every metric's name and weight, in scoring order.
    pub fn weights(&self) -> impl ExactSizeIterator<Item = (&str, f64)> + '_ {
        self.metrics.iter().map(|m| (m.metric.name(), m.weight))
    }

    /// Every metric's name, in scoring order.
    pub fn metric_names(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.metrics.iter().map(|m| m.metric.name())
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.metrics.iter().position(|m| m.metric.name() == name)
    }

    /// Scores every entity (score = Σ weight · metric over the metrics it has) and ranks them,
    /// highest score first, equal scores by name (byte order); ranks are 1, 2, 3, … with no
    /// shared ranks. The result does not depend on the order of the input.
    ///
    /// Scores are compared exactly: the same data always gives the same score, because the
    /// sum is taken in the model's metric order.
    ///
    /// # Errors
    /// [`RankError::DuplicateName`]; [`RankError::Metric`] when a metric refuses an entity;
    /// [`RankError::MetricNotFinite`] and [`RankError::ScoreNotFinite`] when extreme values
    /// overflow. No ranking is returned on error, so a ranking never holds NaN or infinity.
    ///
    /// # Performance
    /// O(n · m + n log n) for n entities and m metrics, one virtual call per metric and
    /// entity, one allocation per entity (its name) and none for up to six metric values.
    /// Measured by `benches/risk.rs`.
    pub fn rank<'a>(
        &self,
        entities: impl IntoIterator<Item = &'a Entity>,
    ) -> Result<RiskReport, RankError> {
        let entities = entities.into_iter();
        let mut names: HashSet<&str> = HashSet::with_capacity(entities.size_hint().0);
        let mut ranking: Vec<RankedEntity> = Vec::with_capacity(entities.size_hint().0);
        for entity in entities {
            if !names.insert(entity.name()) {
                return Err(RankError::DuplicateName {
                    name: entity.name().to_owned(),
                });
            }
            let (score, metrics) = self.score(entity)?;
            ranking.push(RankedEntity {
                name: entity.name().to_owned(),
                rank: 0,
                score,
                metrics,
            });
        }
        ranking.sort_unstable_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.name.cmp(&b.name))
        });
        for (i, r) in ranking.iter_mut().enumerate() {
            r.rank = i + 1;
        }
        Ok(RiskReport {
            requirement: self.requirement,
            metrics: self.metric_names().map(str::to_owned).collect(),
            weights: self.metrics.iter().map(|m| m.weight).collect(),
            ranking,
        })
    }

    fn score(&self, entity: &Entity) -> Result<(f64, Values), RankError> {
        let mut values = SmallVec::with_capacity(self.metrics.len());
        let mut score = 0.0;
        for m in &self.metrics {
            let value = m
                .metric
                .compute(entity)
                .map_err(|source| RankError::Metric {
                    entity: entity.name().to_owned(),
                    metric: m.metric.name().to_owned(),
                    source,
                })?;
            let value = match value {
                Some(v) if !v.is_finite() => {
                    return Err(RankError::MetricNotFinite {
                        entity: entity.name().to_owned(),
                        metric: m.metric.name().to_owned(),
                        value: v,
                    });
                }
                Some(v) => {
                    score += m.weight * v;
                    Some(v + 0.0)
                }
                None => None,
            };
            values.push(value);
        }
        if !score.is_finite() {
            return Err(RankError::ScoreNotFinite {
                entity: entity.name().to_owned(),
                value: score,
            });
        }
        Ok((score, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::FnMetric;

    fn e(name: &str, required: f64, received: f64, days: f64) -> Entity {
        Entity::new(name, required, received, days).unwrap()
    }

    #[test]
    fn weights_are_checked_and_atomic() {
        let mut m = RiskModel::prototype();
        let before = format!("{m:?}");
        assert!(matches!(
            m.set_weights([("pace", 1.0), ("speed", 1.0), ("cost", 2.0)]),
            Err(ModelError::UnknownMetrics { ref names, .. }) if names == &["speed", "cost"]
        ));
        assert!(matches!(
            m.set_weights([("pace", 1.0), ("fit", f64::NAN)]),
            Err(ModelError::WeightNotFinite { ref metric, .. }) if metric == "fit"
        ));
        assert!(matches!(
            m.set_weight("quality", -0.1),
            Err(ModelError::NegativeWeight { .. })
        ));
        assert!(matches!(
            m.set_weights([("pace", 1.0), ("pace", 2.0)]),
            Err(ModelError::DuplicateWeight { .. })
        ));
        assert_eq!(
            m.set_weights(DEFAULT_WEIGHTS.map(|(k, _)| (k, 0.0))),
            Err(ModelError::AllZero)
        );
        assert_eq!(format!("{m:?}"), before);
        m.set_weights([("pace", 0.0), ("fit", 2.0)]).unwrap();
        assert_eq!(m.weight("pace"), Some(0.0));
        assert_eq!(m.weight("fit"), Some(2.0));
        assert_eq!(m.weight("requirement"), Some(0.4));
    }

    #[test]
    fn added_metrics_are_checked() {
        let mut m = RiskModel::prototype();
        let x = || FnMetric::new("x", |_: &Entity| Ok(Some(1.0)));
        m.add_metric(x(), 0.5).unwrap();
        assert!(matches!(
            m.add_metric(x(), 0.5),
            Err(ModelError::DuplicateMetric { .. })
        ));
        assert!(matches!(
            m.add_metric(FnMetric::new("pace", |_: &Entity| Ok(None)), 0.5),
            Err(ModelError::DuplicateMetric { .. })
        ));
        assert_eq!(
            m.add_metric(FnMetric::new("", |_: &Entity| Ok(None)), 0.5),
            Err(ModelError::EmptyMetricName)
        );
        assert!(matches!(
            m.add_metric(FnMetric::new("y", |_: &Entity| Ok(None)), f64::INFINITY),
            Err(ModelError::WeightNotFinite { .. })
        ));
        assert_eq!(
            m.metric_names().collect::<Vec<_>>(),
            ["requirement", "pace", "quality", "fit", "x"]
        );
    }

    #[test]
    fn ties_break_by_name_and_ranks_are_distinct() {
        let cells = [
            e("b", 10.0, 5.0, 5.0),
            e("a", 10.0, 5.0, 5.0),
            e("c", 10.0, 0.0, 5.0),
        ];
        let r = RiskModel::prototype().rank(&cells).unwrap();
        let order: Vec<_> = r.ranking().iter().map(|x| (x.name(), x.rank())).collect();
        assert_eq!(order, [("c", 1), ("a", 2), ("b", 3)]);
    }

    #[test]
    fn rank_errors_name_entity_and_field() {
        let cells = [e("a", 1.0, 0.0, 1.0), e("a", 2.0, 0.0, 1.0)];
        let err = RiskModel::prototype().rank(&cells).unwrap_err();
        assert_eq!((err.entity(), err.field()), ("a", "name"));

        let model = RiskModel::prototype()
            .with_metric(
                FnMetric::new("burn", |e: &Entity| {
                    e.extra("budget")
                        .ok_or_else(|| MetricError::missing("extra.budget"))
                        .map(Some)
                }),
                1.0,
            )
            .unwrap();
        let err = model.rank(&[e("north", 1.0, 0.0, 1.0)]).unwrap_err();
        assert_eq!((err.entity(), err.field()), ("north", "burn"));
        assert_eq!(
            err.to_string(),
            "entity `north`: metric `burn`: field `extra.budget` is missing"
        );

        let nan = RiskModel::prototype()
            .with_metric(FnMetric::new("nan", |_: &Entity| Ok(Some(f64::NAN))), 0.0)
            .unwrap();
        let err = nan.rank(&[e("south", 1.0, 0.0, 1.0)]).unwrap_err();
        assert!(matches!(err, RankError::MetricNotFinite { .. }));
        assert_eq!((err.entity(), err.field()), ("south", "nan"));

        // Finite inputs whose metric overflows: received / required with a tiny target.
        let err = RiskModel::prototype()
            .rank(&[e("tiny", 1e-300, 1e300, 1.0)])
            .unwrap_err();
        assert_eq!((err.entity(), err.field()), ("tiny", "requirement"));

        let err = RiskModel::prototype()
            .with_metric(FnMetric::new("big", |_: &Entity| Ok(Some(f64::MAX))), 10.0)
            .unwrap()
            .rank(&[e("huge", 1.0, 0.0, 1.0)])
            .unwrap_err();
        assert_eq!((err.entity(), err.field()), ("huge", "score"));
    }

    #[test]
    fn empty_input_gives_an_empty_report() {
        let r = RiskModel::prototype().rank(&[]).unwrap();
        assert!(r.is_empty());
        assert_eq!(r.top(5).len(), 0);
        assert!(
            r.table(5)
                .to_string()
                .starts_with("risk ranking, top 0 of 0")
        );
    }

    #[test]
    fn switching_requirement_keeps_its_weight() {
        let m = RiskModel::prototype().with_requirement(RequirementKind::Remaining);
        assert_eq!(m.requirement(), RequirementKind::Remaining);
        assert_eq!(m.weight("requirement"), Some(0.4));
        let r = m.rank(&[e("a", 10.0, 4.0, 2.0)]).unwrap();
        assert_eq!(r.requirement(), RequirementKind::Remaining);
        assert_eq!(r.ranking()[0].metrics()[0], Some(0.6));
    }

    #[test]
    fn table_shows_requirement_and_missing_values() {
        let cells = [
            e("Mumbai", 500.0, 100.0, 50.0)
                .with_quality_levels([30.0, 10.0, 20.0, 10.0, 30.0])
                .unwrap()
                .with_percent_fit(60.0)
                .unwrap(),
            e("Pune", 100.0, 10.0, 50.0),
        ];
        let text = RiskModel::prototype()
            .rank(&cells)
            .unwrap()
            .table(1)
            .to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].contains("top 1 of 2"));
        assert!(lines[0].contains("fuller entities score riskier"));
        assert!(lines[1].split_whitespace().eq([
            "rank",
            "name",
            "score",
            "requirement",
            "pace",
            "quality",
            "fit"
        ]));
        assert!(lines[2].split_whitespace().eq([
            "1", "Mumbai", "3.313333", "0.200000", "8.000000", "3.333333", "1.666667"
        ]));
        let all = RiskModel::prototype()
            .rank(&cells)
            .unwrap()
            .table(9)
            .to_string();
        let last: Vec<&str> = all.lines().last().unwrap().split_whitespace().collect();
        assert_eq!(last[..2], ["2", "Pune"]);
        assert_eq!(last[5..], ["-", "-"], "{all}");
    }

    // Models and reports cross threads and clone: checked at compile time.
    const _: fn() = || {
        fn check<T: Send + Sync + Clone>() {}
        check::<RiskModel>();
        check::<RiskReport>();
    };

    #[cfg(feature = "serde")]
    #[test]
    fn report_round_trips() {
        let cells = [
            e("a", 10.0, 4.0, 2.0).with_percent_fit(50.0).unwrap(),
            e("b", 3.0, 1.0, 7.0),
        ];
        let r = RiskModel::prototype().rank(&cells).unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<RiskReport>(&json).unwrap(), r);
    }
}
