//! The registry of built-in policies: the one place a policy's stable name, its one-line
//! description and its construction from [`PolicyOptions`] are written.
//!
//! ```
//! use quotaroute::route::{policies, policy, PolicyOptions};
//!
//! for info in policies() {
//!     let router = info.build(&PolicyOptions::default());
//!     assert_eq!(quotaroute::route::Router::name(&router), info.name);
//!     assert_eq!(policy(info.name)?.name(), info.name);
//! }
//! // What a simulation compares by default: every policy but `weighted`.
//! let compared: Vec<&str> = policies().iter().filter(|p| p.in_default_comparison).map(|p| p.name).collect();
//! assert_eq!(compared, ["greedy", "seed-greedy", "seed-greedy-squared", "random", "packing", "paced"]);
//! # Ok::<(), quotaroute::route::UnknownPolicy>(())
//! ```

use thiserror::Error;

use super::factor::{DemographicWeight, Scarcity};
use super::{Balanced, Greedy, Packing, RandomRouter, Router, Weighted};

/// One built-in policy: its stable name, what it does, and how it is built.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct PolicyInfo {
    /// The stable name users type (`--policy greedy`); later versions add names, never reuse
    /// these.
    pub name: &'static str,
    /// What the policy does, in one line.
    pub description: &'static str,
    /// True when a simulation compares this policy by default.
    pub in_default_comparison: bool,
    build: fn(&PolicyOptions) -> Box<dyn Router>,
}

impl PolicyInfo {
    /// The policy with these options (options a policy has no use for are ignored). The
    /// options are not checked here: [`policy_with`] checks them first.
    pub fn build(&self, options: &PolicyOptions) -> Box<dyn Router> {
        (self.build)(options)
    }
}

impl std::fmt::Debug for PolicyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyInfo")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("in_default_comparison", &self.in_default_comparison)
            .finish_non_exhaustive()
    }
}

/// Options of the built-in policies.
///
/// Checked by [`validate`](Self::validate), which [`policy_with`] and deserialising call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(remote = "Self"))]
pub struct PolicyOptions {
    /// Route scarcity-based policies (`greedy`, `packing`, `paced`) on incidence learned from
    /// the qualifier answers, with a prior worth this many respondents (see [`Scarcity`]).
    pub learning: Option<f64>,
    /// The demographic weight of the greedy policies (`greedy`, `seed-greedy`,
    /// `seed-greedy-squared`, `packing`, `paced`); `None`: [`DemographicWeight::default`].
    #[cfg_attr(feature = "serde", serde(default))]
    pub demographic: Option<DemographicWeight>,
}

impl PolicyOptions {
    /// Checks every option: a learning strength that is a finite number of respondents > 0
    /// (0, NaN or infinity would make every priority NaN), and the demographic weight
    /// ([`DemographicWeight::validate`]).
    ///
    /// # Errors
    /// [`OptionError`] naming the first bad option and its allowed range.
    pub fn validate(&self) -> Result<(), OptionError> {
        if let Some(k) = self.learning
            && !(k.is_finite() && k > 0.0)
        {
            return Err(OptionError {
                field: "learning",
                value: k.to_string(),
                allowed: "a finite number of respondents > 0",
            });
        }
        match &self.demographic {
            Some(weight) => weight.validate(),
            None => Ok(()),
        }
    }
}

#[cfg(feature = "serde")]
crate::serde_check::checked_serde!(PolicyOptions);

/// A policy option out of its range.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("policy option `{field}` is {value}: it must be {allowed}")]
#[non_exhaustive]
pub struct OptionError {
    /// The option (`learning`, `demographic.min`, ...).
    pub field: &'static str,
    /// The value given.
    pub value: String,
    /// The allowed range.
    pub allowed: &'static str,
}

/// Why [`policy_with`] could not build a policy.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The name is not a built-in policy.
    #[error(transparent)]
    Unknown(#[from] UnknownPolicy),
    /// An option is out of range.
    #[error(transparent)]
    Option(#[from] OptionError),
}

/// Every built-in policy, in a stable order.
pub const POLICIES: &[PolicyInfo] = &[
    PolicyInfo {
        name: "greedy",
        description: "scarcity (open slots / (incidence × share)) × time fit × demographic weight",
        in_default_comparison: true,
        build: build_greedy,
    },
    PolicyInfo {
        name: "seed-greedy",
        description: "the prototype policy: (open/target) × incidence × time fit × demographic weight",
        in_default_comparison: true,
        build: build_prototype,
    },
    PolicyInfo {
        name: "seed-greedy-squared",
        description: "the prototype with its urgency (open/target) squared",
        in_default_comparison: true,
        build: build_prototype_squared,
    },
    PolicyInfo {
        name: "random",
        description: "uniform over the offerable categories (the naive baseline)",
        in_default_comparison: true,
        build: build_random,
    },
    PolicyInfo {
        name: "packing",
        description: "greedy with an end-of-interview look-ahead that packs the time left",
        in_default_comparison: true,
        build: build_packing,
    },
    PolicyInfo {
        name: "weighted",
        description: "offers split by the cumulative-error dispatcher in proportion to the targets",
        in_default_comparison: false,
        build: build_weighted,
    },
    PolicyInfo {
        name: "paced",
        description: "packing with each category priced by its pace against the month",
        in_default_comparison: true,
        build: build_paced,
    },
    PolicyInfo {
        name: "balanced",
        description: "Askia's AvailableBalancedQuota order on the live counts (least filled first; a full node closes)",
        in_default_comparison: false,
        build: build_balanced,
    },
];

/// Every built-in policy ([`POLICIES`]).
pub fn policies() -> &'static [PolicyInfo] {
    POLICIES
}

/// The stable names of the built-in policies, in registry order.
pub fn policy_names() -> impl Iterator<Item = &'static str> {
    POLICIES.iter().map(|p| p.name)
}

/// The names of the policies a simulation compares by default, in registry order.
pub fn default_comparison() -> impl Iterator<Item = &'static str> {
    POLICIES
        .iter()
        .filter(|p| p.in_default_comparison)
        .map(|p| p.name)
}

/// The registry entry of a policy name.
///
/// # Errors
/// [`UnknownPolicy`] naming the unknown name.
pub fn policy_info(name: &str) -> Result<&'static PolicyInfo, UnknownPolicy> {
    POLICIES
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| UnknownPolicy {
            name: name.to_owned(),
        })
}

/// The stable names [`policy`] knows, in registry order: [`POLICIES`]' names, as a `const`
/// slice (derived at compile time, never written out).
pub const POLICY_NAMES: &[&str] = &{
    let mut names = [""; POLICIES.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = POLICIES[i].name;
        i += 1;
    }
    names
};

/// The names of the policies a simulation compares by default ([`PolicyInfo::in_default_comparison`]),
/// in registry order, as a `const` slice (derived at compile time).
pub const DEFAULT_COMPARISON: &[&str] = &{
    let mut names = [""; default_comparison_len()];
    let (mut i, mut k) = (0, 0);
    while i < POLICIES.len() {
        if POLICIES[i].in_default_comparison {
            names[k] = POLICIES[i].name;
            k += 1;
        }
        i += 1;
    }
    names
};

const fn default_comparison_len() -> usize {
    let (mut i, mut n) = (0, 0);
    while i < POLICIES.len() {
        if POLICIES[i].in_default_comparison {
            n += 1;
        }
        i += 1;
    }
    n
}

/// A policy name [`policy`] does not know.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("unknown policy `{name}` (known: {})", known())]
#[non_exhaustive]
pub struct UnknownPolicy {
    /// The name asked for.
    pub name: String,
}

fn known() -> String {
    policy_names().collect::<Vec<_>>().join(", ")
}

/// [`policy`] with options.
///
/// # Errors
/// [`PolicyError::Unknown`] naming the unknown name, [`PolicyError::Option`] naming an option
/// out of range ([`PolicyOptions::validate`]).
pub fn policy_with(name: &str, options: &PolicyOptions) -> Result<Box<dyn Router>, PolicyError> {
    options.validate()?;
    Ok(policy_info(name)?.build(options))
}

/// Builds a built-in policy by its stable name, with default options. [`POLICIES`] lists
/// every name with what it builds: `greedy` is [`Greedy::scarcity`], `seed-greedy` and
/// `seed-greedy-squared` are [`Greedy::prototype`] with power 1 and 2, `random` is
/// [`RandomRouter`], `packing` and `paced` are [`Packing`] and [`Packing::paced`], and
/// `weighted` is [`Weighted::by_target`].
///
/// # Errors
/// [`UnknownPolicy`] naming the unknown name.
pub fn policy(name: &str) -> Result<Box<dyn Router>, UnknownPolicy> {
    // The default options are valid: only the name can be wrong.
    Ok(policy_info(name)?.build(&PolicyOptions::default()))
}

fn build_greedy(options: &PolicyOptions) -> Box<dyn Router> {
    let urgency = Scarcity {
        learning: options.learning,
    };
    match options.demographic {
        Some(weight) => Box::new(
            Greedy::scarcity()
                .with_urgency(urgency)
                .with_demographic(weight)
                .named("greedy"),
        ),
        None if options.learning.is_some() => {
            Box::new(Greedy::scarcity().with_urgency(urgency).named("greedy"))
        }
        None => Box::new(Greedy::scarcity()),
    }
}

fn build_prototype(options: &PolicyOptions) -> Box<dyn Router> {
    match options.demographic {
        Some(weight) => Box::new(Greedy::prototype(1).with_demographic(weight)),
        None => Box::new(Greedy::prototype(1)),
    }
}

fn build_prototype_squared(options: &PolicyOptions) -> Box<dyn Router> {
    let router = Greedy::prototype(2).named("seed-greedy-squared");
    match options.demographic {
        Some(weight) => Box::new(router.with_demographic(weight)),
        None => Box::new(router),
    }
}

fn build_random(_: &PolicyOptions) -> Box<dyn Router> {
    Box::new(RandomRouter)
}

fn build_weighted(_: &PolicyOptions) -> Box<dyn Router> {
    Box::new(Weighted::by_target())
}

fn build_packing(options: &PolicyOptions) -> Box<dyn Router> {
    Box::new(with_options(Packing::new(), options))
}

fn build_paced(options: &PolicyOptions) -> Box<dyn Router> {
    Box::new(with_options(Packing::paced(), options))
}

fn build_balanced(_: &PolicyOptions) -> Box<dyn Router> {
    Box::new(Balanced::new())
}

/// Learning first (it rebuilds the scarcity order), then the demographic weight.
fn with_options(packing: Packing, options: &PolicyOptions) -> Packing {
    let packing = match options.learning {
        Some(k) => packing.learning(k),
        None => packing,
    };
    match options.demographic {
        Some(weight) => packing.with_demographic(weight),
        None => packing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_const_names_are_the_registry_names() {
        assert!(POLICY_NAMES.iter().copied().eq(policy_names()));
    }

    #[test]
    fn every_registered_policy_is_built_under_its_own_name() {
        for info in POLICIES {
            assert_eq!(info.build(&PolicyOptions::default()).name(), info.name);
            let options = PolicyOptions {
                learning: Some(50.0),
                demographic: Some(DemographicWeight::default()),
            };
            assert_eq!(policy_with(info.name, &options).unwrap().name(), info.name);
        }
        let Err(err) = policy("nope") else {
            panic!("`nope` is not a policy")
        };
        assert_eq!(err.name, "nope");
        assert!(err.to_string().contains("greedy, seed-greedy"), "{err}");
    }

    #[test]
    fn the_const_default_comparison_is_the_flagged_policies() {
        assert!(DEFAULT_COMPARISON.iter().copied().eq(default_comparison()));
        assert_eq!(
            DEFAULT_COMPARISON,
            [
                "greedy",
                "seed-greedy",
                "seed-greedy-squared",
                "random",
                "packing",
                "paced"
            ]
        );
    }

    #[test]
    fn names_are_unique() {
        for (i, a) in POLICIES.iter().enumerate() {
            assert!(POLICIES[i + 1..].iter().all(|b| b.name != a.name));
        }
    }
}
