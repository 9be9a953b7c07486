//! Every error type of the crate in one place.
//!
//! Each operation has its own `#[non_exhaustive]` enum, defined beside the operation and
//! re-exported here, so a caller matches only the failures that operation can have, and every
//! message names what is wrong and where (the line and field of a CSV, the setting, the
//! category).

#[cfg(feature = "lp")]
pub use crate::bound::LpBoundError;
pub use crate::catalogue::CatalogueError;
#[cfg(feature = "serde")]
pub use crate::dispatch::document::BatchError;
pub use crate::dispatch::{
    AddError, ConfigureError, DispatchError, InvalidWeight, NextError, RemoveError,
    RestoreError as DispatchRestoreError, SetErrorError, SetWeightError,
};
pub use crate::fill::FillError;
#[allow(deprecated)]
pub use crate::live::{AnswerError, NextOfferError, SlotError};
pub use crate::live::{ConfigError as LiveConfigError, LiveError, LiveRestoreError, WaveError};
#[cfg(feature = "serde")]
pub use crate::quota::document::DocumentError as QuotaDocumentError;
pub use crate::quota::{BindError, CountError, EditError, QueryError, SpecError};
#[cfg(feature = "serde")]
pub use crate::risk::document::DocumentError as RiskDocumentError;
pub use crate::risk::{EntityError, MetricError, ModelError, RankError};
pub use crate::route::{BalancedError, OfferError, UnknownPolicy, WeightedError};
pub use crate::schema::{LookupError, RuleError, SchemaError};
pub use crate::sim::ScenarioError;
pub use crate::sim::SimError;
pub use crate::state::{CompleteError, RestoreError};
