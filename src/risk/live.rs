//! Risk ranking of live fieldwork: [`LiveRisk`].

use thiserror::Error;

use crate::catalogue::Catalogue;
use crate::live::{Clock, Engine};
use crate::route::Router;
use crate::state::QuotaState;

use super::{Entity, EntityError, RankError, RequirementKind, RiskModel, RiskReport};

/// Which of the live counts become entities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// One entity per category.
    Categories,
    /// One entity per quota cell.
    Cells,
    /// Categories and cells, ranked together.
    #[default]
    Both,
}

/// Why live counts could not be ranked.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum LiveRiskError {
    /// `days_left` is not a finite number of days > 0 (pace divides by it).
    #[error("days_left must be a finite number > 0, got {value}")]
    DaysLeft {
        /// The value given.
        value: f64,
    },
    /// A category or cell could not be made an entity (its error names it and the field).
    #[error(transparent)]
    Entity(#[from] EntityError),
    /// The model refused the entities (a duplicate name: a category id that looks like a
    /// `category/cell` name; a metric of the caller's own that failed).
    #[error(transparent)]
    Rank(#[from] RankError),
}

/// Risk ranking of live fieldwork: a live engine's (or any [`QuotaState`]'s) categories and
/// quota cells as [`Entity`]s, ranked with a [`RiskModel`] whose requirement defaults to the
/// share **still to collect**.
///
/// [`RiskModel::prototype`] keeps the specification's requirement, received / required, so
/// that its worked example reproduces; on live counts that ranks the fullest cells as the top
/// risks, which is the wrong way round for a field manager. [`LiveRisk`] therefore defaults
/// to [`RequirementKind::Remaining`]: `(target − received) / target`, where received is
/// completed + pending (a held slot is a respondent already in the category survey; count
/// completes only with [`LiveRisk::counting_pending`]). Pace is what must still come in per
/// remaining day. Live counts carry no quality or fit: those metrics have no value and add
/// nothing to a score.
///
/// Entities are named by the catalogue's own ids: a category by its `key`, a cell
/// `category/cell` (as the quota store's layout names them). A category or cell whose target
/// is 0 has nothing to collect and is left out (an entity needs a positive requirement).
///
/// ```
/// use quotaroute::catalogue::{Catalogue, Category};
/// use quotaroute::live::{Engine, LiveConfig, ManualClock, Timestamp};
/// use quotaroute::risk::{LiveRisk, Scope};
/// use quotaroute::route::Greedy;
/// use quotaroute::schema::{Answers, Schema};
///
/// let schema = Schema::default_survey();
/// let catalogue = Catalogue::new(schema.clone(), vec![
///     Category::new("16", "Fresh Coffee", 0.3, 120.0).with_target(2),
///     Category::new("4", "Self Tan", 0.2, 100.0).with_target(2),
/// ])?;
/// let clock = ManualClock::new(Timestamp(0));
/// let engine = Engine::new(catalogue, Greedy::scarcity(), &clock, LiveConfig::default())?;
/// let coffee = engine.catalogue().find("16").unwrap();
/// for respondent in [1, 2] {
///     engine.reserve(respondent, coffee, &Answers::unknown(&schema))?;
///     engine.complete(respondent, coffee)?;
/// }
/// // Ten days of fieldwork left: the untouched category is the risk, not the full one.
/// let report = LiveRisk::new(10.0)?.rank_engine(&engine, Scope::Categories)?;
/// assert_eq!(report.ranking()[0].name(), "4");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct LiveRisk {
    model: RiskModel,
    days_left: f64,
    pending: bool,
}

impl LiveRisk {
    /// The prototype's weights with requirement = remaining, pending slots counted as
    /// received, `days_left` days of fieldwork left.
    ///
    /// # Errors
    /// [`LiveRiskError::DaysLeft`] unless `days_left` is finite and > 0.
    pub fn new(days_left: f64) -> Result<LiveRisk, LiveRiskError> {
        if !(days_left.is_finite() && days_left > 0.0) {
            return Err(LiveRiskError::DaysLeft { value: days_left });
        }
        Ok(LiveRisk {
            model: RiskModel::prototype().with_requirement(RequirementKind::Remaining),
            days_left,
            pending: true,
        })
    }

    /// Ranks with `model` as it is (its weights, metrics and requirement variant).
    pub fn with_model(mut self, model: RiskModel) -> LiveRisk {
        self.model = model;
        self
    }

    /// Whether pending slots count as received (default true: the respondent is in the
    /// category survey; most complete). False ranks on completes alone.
    pub fn counting_pending(mut self, pending: bool) -> LiveRisk {
        self.pending = pending;
        self
    }

    /// The model that ranks.
    pub fn model(&self) -> &RiskModel {
        &self.model
    }

    /// The days of fieldwork left.
    pub fn days_left(&self) -> f64 {
        self.days_left
    }

    /// The counts in `quotas` (of `catalogue`) as entities: categories in catalogue order,
    /// then cells in the catalogue's global cell order; those with a target of 0 left out.
    ///
    /// # Errors
    /// [`LiveRiskError::Entity`] (not expected from counts; kept rather than a panic).
    pub fn entities(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaState,
        scope: Scope,
    ) -> Result<Vec<Entity>, LiveRiskError> {
        let view = quotas.view();
        let mut out = Vec::new();
        let entity = |name: String, target: u32, completed: u32, pending: u32| {
            let received = completed.saturating_add(if self.pending { pending } else { 0 });
            Entity::new(name, f64::from(target), f64::from(received), self.days_left)
        };
        if scope != Scope::Cells {
            for c in catalogue.ids() {
                let target = quotas.target(c);
                if target > 0 {
                    let key = catalogue.category(c).key.clone();
                    out.push(entity(key, target, view.completed(c), view.pending(c))?);
                }
            }
        }
        if scope != Scope::Categories {
            let mut cell = 0;
            while let Some((c, q)) = catalogue.cell(cell) {
                let target = quotas.cell_target(cell);
                if target > 0 {
                    let name = format!("{}/{}", catalogue.category(c).key, q.key);
                    let (completed, pending) =
                        (quotas.cell_completed(cell), quotas.cell_pending(cell));
                    out.push(entity(name, target, completed, pending)?);
                }
                cell += 1;
            }
        }
        Ok(out)
    }

    /// Ranks the counts in `quotas`, highest risk first.
    ///
    /// # Errors
    /// As [`entities`](Self::entities); [`LiveRiskError::Rank`] when the model refuses them.
    pub fn rank(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaState,
        scope: Scope,
    ) -> Result<RiskReport, LiveRiskError> {
        let entities = self.entities(catalogue, quotas, scope)?;
        Ok(self.model.rank(&entities)?)
    }

    /// Ranks a live engine's counts (on a shared store, its mirror: as fresh as the last
    /// [`Engine::sync`]).
    ///
    /// # Errors
    /// As [`rank`](Self::rank).
    pub fn rank_engine<R: Router, C: Clock>(
        &self,
        engine: &Engine<R, C>,
        scope: Scope,
    ) -> Result<RiskReport, LiveRiskError> {
        self.rank(engine.catalogue(), engine.quotas(), scope)
    }
}
