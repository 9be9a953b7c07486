//! The closed-form fluid bound N*: the largest of a time term, a rarest-category term and a
//! qualifier-cap term. [`fluid_terms`] is the one place N* is computed: the catalogue's
//! [`lower_bound`](Catalogue::lower_bound) family, the LP's scale and the fill bound all call it.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, CategoryId};

/// The terms of the fluid lower bound on respondents (see [`Catalogue::lower_bound`]).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct BoundTerms {
    /// Σ T(L + q/p) / B: the interview time the quotas need over the budget per respondent.
    pub time: f64,
    /// max T / (p·s): the respondents the rarest category needs on its own.
    pub rarest: f64,
    /// Σ (T/p) / k: qualifiers needed over the cap per respondent (`None` without a cap).
    pub qualifiers: Option<f64>,
}

impl BoundTerms {
    /// N*: the largest term.
    pub fn bound(&self) -> f64 {
        self.time_and_qualifiers().max(self.rarest)
    }

    /// The time and qualifier terms only.
    pub fn time_and_qualifiers(&self) -> f64 {
        self.time.max(self.qualifiers.unwrap_or(0.0))
    }
}

/// The terms of N* for the completes `remaining(c)` still to do, with B = `budget_seconds`
/// and k = `max_qualifiers` (`None`: no cap): the same as
/// [`Catalogue::bound_terms`].
pub fn closed_form(
    catalogue: &Catalogue,
    budget_seconds: f64,
    max_qualifiers: Option<u32>,
    remaining: impl Fn(CategoryId) -> f64,
) -> BoundTerms {
    fluid_terms(
        catalogue,
        budget_seconds,
        max_qualifiers,
        remaining,
        Eligible::Catalogue,
    )
}

/// Which share s of the supply each category may be shown to, in the rarest-category term.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Eligible<'a> {
    /// The schema's supply: the catalogue's precomputed 1 / (p·s) per complete.
    Catalogue,
    /// Another supply (or only the categories that fit a cap): s per category, by index.
    #[cfg_attr(not(feature = "lp"), allow(dead_code))]
    Shares(&'a [f64]),
}

/// N*'s terms: Σ T(L + q/p) / B, max T/(p·s) and Σ (T/p) / k over the categories with
/// completes to do. Infinite rarest term when such a category has nobody eligible.
pub(crate) fn fluid_terms(
    catalogue: &Catalogue,
    budget_seconds: f64,
    max_qualifiers: Option<u32>,
    remaining: impl Fn(CategoryId) -> f64,
    eligible: Eligible<'_>,
) -> BoundTerms {
    let (mut time, mut rarest, mut shows) = (0.0f64, 0.0f64, 0.0f64);
    for id in catalogue.ids() {
        let t = remaining(id);
        if t <= 0.0 {
            continue;
        }
        let p = catalogue.incidence(id);
        time += t * (catalogue.loi_seconds(id) + catalogue.qualifier_seconds(id) / p);
        rarest = rarest.max(match eligible {
            Eligible::Catalogue => t * catalogue.respondents_per_complete(id),
            Eligible::Shares(shares) => t / (p * shares[id.index()]),
        });
        shows += t / p;
    }
    BoundTerms {
        time: time / budget_seconds,
        rarest,
        qualifiers: max_qualifiers.map(|k| shows / f64::from(k.max(1))),
    }
}
