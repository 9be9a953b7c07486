//! A ranking as users read it: [`RiskReport`], its [`RankedEntity`] rows and a text table.

use std::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::RequirementKind;
use super::model::Values;

/// A ranking: entities highest risk first, with their scores and metric values, and the
/// model's requirement variant, metric names and weights, so it reads on its own.
///
/// ```
/// use quotaroute::risk::{Entity, RiskModel};
///
/// let cells = [
///     Entity::new("female 18-34", 200.0, 40.0, 12.0)?,
///     Entity::new("male 55+", 200.0, 150.0, 12.0)?,
/// ];
/// let report = RiskModel::prototype().rank(&cells)?;
/// let worst = &report.ranking()[0];
/// assert_eq!((worst.name(), worst.rank()), ("female 18-34", 1));
/// for (metric, value) in report.metrics_of(worst) {
///     println!("{metric}: {value:?}");
/// }
/// println!("{}", report.table(5)); // a text table for a human report
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct RiskReport {
    pub(super) requirement: RequirementKind,
    pub(super) metrics: Vec<String>,
    pub(super) weights: Vec<f64>,
    pub(super) ranking: Vec<RankedEntity>,
}

/// One entity in a [`RiskReport`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct RankedEntity {
    pub(super) name: String,
    pub(super) rank: usize,
    pub(super) score: f64,
    pub(super) metrics: Values,
}

impl RankedEntity {
    /// The entity's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its rank, from 1 (highest risk).
    pub fn rank(&self) -> usize {
        self.rank
    }
    /// Its score: Σ weight · metric over the metrics it has. Finite.
    pub fn score(&self) -> f64 {
        self.score
    }
    /// Its metric values, in the order of [`RiskReport::metric_names`]; `None` where the
    /// entity has no data for the metric. Finite.
    pub fn metrics(&self) -> &[Option<f64>] {
        &self.metrics
    }
}

impl RiskReport {
    /// The requirement variant the scores use. Say it wherever the report is shown: with
    /// [`RequirementKind::Filled`] fuller entities score riskier.
    pub fn requirement(&self) -> RequirementKind {
        self.requirement
    }
    /// The metric names, in scoring order.
    pub fn metric_names(&self) -> &[String] {
        &self.metrics
    }
    /// The weights, aligned with [`RiskReport::metric_names`].
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// The ranking, rank 1 first.
    pub fn ranking(&self) -> &[RankedEntity] {
        &self.ranking
    }
    /// The `n` entities most at risk (all of them if fewer).
    pub fn top(&self, n: usize) -> &[RankedEntity] {
        &self.ranking[..n.min(self.ranking.len())]
    }
    /// The number of entities ranked.
    pub fn len(&self) -> usize {
        self.ranking.len()
    }
    /// True when nothing was ranked.
    pub fn is_empty(&self) -> bool {
        self.ranking.is_empty()
    }
    /// An entity by name (linear search).
    pub fn get(&self, name: &str) -> Option<&RankedEntity> {
        self.ranking.iter().find(|r| r.name == name)
    }
    /// An entity's metric values with their names.
    pub fn metrics_of<'a>(
        &'a self,
        entity: &'a RankedEntity,
    ) -> impl Iterator<Item = (&'a str, Option<f64>)> + 'a {
        self.metrics
            .iter()
            .map(String::as_str)
            .zip(entity.metrics.iter().copied())
    }
    /// An entity's weighted metric values (weight · metric), which sum to its score: the
    /// specification's "combined score" table. Explains why an entity ranks where it does.
    pub fn contributions_of<'a>(
        &'a self,
        entity: &'a RankedEntity,
    ) -> impl Iterator<Item = (&'a str, Option<f64>)> + 'a {
        self.metrics_of(entity)
            .zip(self.weights.iter())
            .map(|((name, v), &w)| (name, v.map(|v| w * v)))
    }
    /// A fixed-width text table of the `top` entities most at risk, with a line saying which
    /// requirement variant the scores use. For human reports; values have six decimals and a
    /// missing metric shows as `-`.
    pub fn table(&self, top: usize) -> ReportTable<'_> {
        ReportTable { report: self, top }
    }
}

/// A [`RiskReport`] as a text table; see [`RiskReport::table`].
#[derive(Clone, Copy, Debug)]
pub struct ReportTable<'a> {
    pub(super) report: &'a RiskReport,
    pub(super) top: usize,
}

impl fmt::Display for ReportTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.report;
        let rows = r.top(self.top);
        writeln!(
            f,
            "risk ranking, top {} of {}; {}",
            rows.len(),
            r.len(),
            r.requirement
        )?;
        let cell = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.6}"));
        let name_w = rows
            .iter()
            .map(|e| e.name.escape_debug().count())
            .chain([4])
            .max()
            .unwrap_or(4);
        let mut widths: Vec<usize> = r.metrics.iter().map(|m| m.len().max(9)).collect();
        let mut score_w = 9;
        for e in rows {
            score_w = score_w.max(cell(Some(e.score)).len());
            for (w, &v) in widths.iter_mut().zip(e.metrics.iter()) {
                *w = (*w).max(cell(v).len());
            }
        }
        write!(
            f,
            "{:>4}  {:<name_w$}  {:>score_w$}",
            "rank", "name", "score"
        )?;
        for (m, w) in r.metrics.iter().zip(&widths) {
            write!(f, "  {:>w$}", m.escape_debug().to_string())?;
        }
        for e in rows {
            writeln!(f)?;
            write!(
                f,
                "{:>4}  {:<name_w$}  {:>score_w$}",
                e.rank,
                e.name.escape_debug().to_string(),
                cell(Some(e.score))
            )?;
            for (&v, w) in e.metrics.iter().zip(&widths) {
                write!(f, "  {:>w$}", cell(v))?;
            }
        }
        Ok(())
    }
}
