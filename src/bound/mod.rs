//! Every lower bound on the respondents a month needs: what no routing policy can beat.
//!
//! | bound | what it bounds | where |
//! |---|---|---|
//! | N*, the closed form | the mean: max of a time term, a rarest-category term and a qualifier-cap term | [`closed_form`], [`Catalogue::lower_bound`](crate::catalogue::Catalogue::lower_bound) |
//! | the stochastic floors | a quantile (median, p95): the same terms, sampled run by run, plus sets of categories that do not fit together under a cap | [`floors`] |
//! | the respondent fill bound | the mean, where one respondent cannot fill their seconds (small catalogues, long surveys) | [`fill`] |
//! | the fluid LP | the mean, with eligibility, per-respondent limits, exposure and exclusions; incompatibility cuts | [`lp`] (feature `lp`) |
//!
//! N* is computed in one place ([`closed_form`]); the LP's scale and the fill bound's terms
//! call it. The floors and the simulator share their seeded draws (`run_rng`, `nearest_rank`),
//! which live here: the simulator (module `sim`) builds on this module, never the
//! other way round.
//!
//! ```
//! use quotaroute::bound::closed_form;
//! use quotaroute::catalogue::{Catalogue, Category};
//! use quotaroute::schema::Schema;
//!
//! let catalogue = Catalogue::new(Schema::default_survey(), vec![
//!     Category::new("a", "A", 0.5, 100.0).with_target(20),
//!     Category::new("b", "B", 0.1, 200.0).with_target(20),
//! ])?;
//! let terms = closed_form(&catalogue, 480.0, None, |c| f64::from(catalogue.category(c).target));
//! // The rarest category needs 20 / 0.1 = 200 respondents on its own.
//! assert_eq!(terms.rarest, 200.0);
//! assert_eq!(terms.bound(), catalogue.lower_bound(480.0, None));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod closed;
pub mod fill;
mod floors;
#[cfg(feature = "lp")]
pub mod lp;
pub(crate) mod sample;

pub use closed::{BoundTerms, closed_form};
pub use floors::{FLOOR_WORK_LIMIT, FloorOptions, floors};
#[cfg(feature = "lp")]
pub use lp::{
    Limit, LpBound, LpBoundError, LpOptions, MAX_CELLS, MAX_CUT_ROUNDS, MAX_VARIABLES,
    cell_answers, lower_bound_lp,
};
