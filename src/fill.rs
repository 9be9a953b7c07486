//! The respondent fill bound, now [`bound::fill`](crate::bound::fill): these names forward
//! there for one release.

use crate::bound::fill as moved;
use crate::catalogue::Catalogue;

/// See [`bound::fill::MAX_CATEGORIES`](crate::bound::fill::MAX_CATEGORIES).
#[deprecated(note = "moved to `quotaroute::bound::fill::MAX_CATEGORIES`")]
pub const MAX_CATEGORIES: usize = moved::MAX_CATEGORIES;

/// See [`bound::fill::MAX_CELLS`](crate::bound::fill::MAX_CELLS).
#[deprecated(note = "moved to `quotaroute::bound::fill::MAX_CELLS`")]
pub const MAX_CELLS: usize = moved::MAX_CELLS;

/// See [`bound::fill::FillOptions`](crate::bound::fill::FillOptions).
#[deprecated(note = "moved to `quotaroute::bound::fill::FillOptions`")]
pub type FillOptions = moved::FillOptions;

/// See [`bound::fill::TypeFill`](crate::bound::fill::TypeFill).
#[deprecated(note = "moved to `quotaroute::bound::fill::TypeFill`")]
pub type TypeFill = moved::TypeFill;

/// See [`bound::fill::RespondentFill`](crate::bound::fill::RespondentFill).
#[deprecated(note = "moved to `quotaroute::bound::fill::RespondentFill`")]
pub type RespondentFill = moved::RespondentFill;

/// See [`bound::fill::FillError`](crate::bound::fill::FillError).
#[deprecated(note = "moved to `quotaroute::bound::fill::FillError`")]
pub type FillError = moved::FillError;

/// See [`bound::fill::respondent_fill`](crate::bound::fill::respondent_fill).
///
/// # Errors
/// As [`bound::fill::respondent_fill`](crate::bound::fill::respondent_fill).
#[deprecated(note = "moved to `quotaroute::bound::fill::respondent_fill`")]
pub fn respondent_fill(
    catalogue: &Catalogue,
    options: &moved::FillOptions,
) -> Result<moved::RespondentFill, moved::FillError> {
    moved::respondent_fill(catalogue, options)
}
