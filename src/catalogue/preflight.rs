//! The pre-flight check: which categories can never complete, before fieldwork starts.

use std::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::{Catalogue, CategoryId};

impl Catalogue {
    /// Checks before fieldwork which categories can never complete and how many respondents
    /// each would need on its own.
    pub fn preflight(&self, hard_cap_seconds: f64) -> Preflight {
        let categories = self
            .ids()
            .map(|id| {
                let c = &self.categories[id.index()];
                let mut problems = Vec::new();
                if self.seconds_if_qualified(id) > hard_cap_seconds {
                    problems.push(PreflightProblem::LongerThanCap {
                        seconds: self.seconds_if_qualified(id),
                    });
                }
                if self.eligible_share(id) <= 0.0 && c.target > 0 {
                    problems.push(PreflightProblem::NobodyEligible);
                }
                PreflightCategory {
                    category: id,
                    key: c.key.clone(),
                    expected_respondents: f64::from(c.target) * self.respondents_per_complete(id),
                    problems,
                }
            })
            .collect();
        Preflight { categories }
    }
}

/// Why a category can never complete.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub enum PreflightProblem {
    /// Qualifier plus LOI is longer than the hard cap.
    LongerThanCap {
        /// Qualifier plus LOI, in seconds.
        seconds: f64,
    },
    /// The eligibility rule excludes the whole supply.
    NobodyEligible,
}

impl fmt::Display for PreflightProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreflightProblem::LongerThanCap { seconds } => {
                write!(f, "qualifier + LOI = {seconds:.1} s is longer than the cap")
            }
            PreflightProblem::NobodyEligible => f.write_str("nobody in the supply is eligible"),
        }
    }
}

/// One category's pre-flight result.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct PreflightCategory {
    /// The category.
    pub category: CategoryId,
    /// Its key ([`Category::key`](super::Category::key)).
    #[cfg_attr(feature = "serde", serde(default))]
    pub key: String,
    /// Respondents the category needs if every eligible respondent is shown it: T / (p·s).
    pub expected_respondents: f64,
    /// Why it can never complete; empty when it can.
    pub problems: Vec<PreflightProblem>,
}

/// The result of [`Catalogue::preflight`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Preflight {
    /// Every category, in catalogue order.
    pub categories: Vec<PreflightCategory>,
}

impl Preflight {
    /// The categories that can never complete.
    pub fn blocked(&self) -> impl Iterator<Item = &PreflightCategory> {
        self.categories.iter().filter(|c| !c.problems.is_empty())
    }

    /// True when every category can complete.
    pub fn is_clean(&self) -> bool {
        self.blocked().next().is_none()
    }
}
