//! Every error type of the crate in one place.
//!
//! Each module has its error enums (one where its operations share failures, one per
//! operation where they do not), `#[non_exhaustive]`, defined beside the code and re-exported
//! here; every message names what is wrong and where (the line and field of a CSV, the
//! setting, the category by its own key).

#[cfg(feature = "lp")]
pub use crate::bound::LpBoundError;
pub use crate::bound::fill::FillError;
pub use crate::catalogue::CatalogueError;
pub use crate::catalogue::TreeError;
#[allow(deprecated)]
pub use crate::dispatch::{
    AddError, ConfigureError, NextError, RemoveError, SetErrorError, SetWeightError,
};
pub use crate::dispatch::{
    Error as DispatchError, InvalidWeight, RestoreError as DispatchRestoreError,
};
pub use crate::live::LiveQueryError;
#[allow(deprecated)]
pub use crate::live::{AnswerError, NextOfferError, SlotError};
pub use crate::live::{ConfigError as LiveConfigError, LiveError, LiveRestoreError, WaveError};
pub use crate::quota::{BindError, CountError, EditError, QueryError, SpecError};
pub use crate::risk::{EntityError, MetricError, ModelError, RankError};
pub use crate::route::{OfferError, OptionError, PolicyError, UnknownPolicy, WeightedError};
pub use crate::schema::{AnswersError, LookupError, RuleError, SchemaError};
pub use crate::sim::ScenarioError;
pub use crate::sim::SimError;
pub use crate::state::{CompleteError, RestoreError};
