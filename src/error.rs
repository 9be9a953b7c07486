//! Every error type of the crate in one place.
//!
//! Each operation has its own `#[non_exhaustive]` enum, defined beside the operation and
//! re-exported here, so a caller matches only the failures that operation can have, and every
//! message names what is wrong and where (the line and field of a CSV, the setting, the
//! category).

#[cfg(feature = "lp")]
pub use crate::bound::LpBoundError;
pub use crate::catalogue::CatalogueError;
#[allow(deprecated)]
pub use crate::dispatch::{
    AddError, ConfigureError, NextError, RemoveError, SetErrorError, SetWeightError,
};
pub use crate::dispatch::{
    Error as DispatchError, InvalidWeight, RestoreError as DispatchRestoreError,
};
pub use crate::fill::FillError;
pub use crate::live::{
    AnswerError, ConfigError as LiveConfigError, LiveRestoreError, NextOfferError, SlotError,
    WaveError,
};
pub use crate::quota::{BindError, CountError, EditError, QueryError, SpecError};
pub use crate::risk::{EntityError, MetricError, ModelError, RankError};
pub use crate::route::{BalancedError, OfferError, UnknownPolicy, WeightedError};
pub use crate::schema::{LookupError, RuleError, SchemaError};
pub use crate::sim::ScenarioError;
pub use crate::sim::SimError;
pub use crate::state::{CompleteError, RestoreError};
