//! The fluid LP lower bound on respondents: what no policy can beat on average, once eligibility
//! rules, demographic cells, per-respondent limits, exposure-share constraints and exclusion
//! groups are taken into account.
//!
//! [`Catalogue::lower_bound`] is a closed form: the largest of a time term, a rarest-category
//! term and a qualifier-cap term. It treats the supply as one pool, so it cannot see that two
//! women-only categories compete for the same women's seconds, or that a skewed supply must be
//! shown a category less often to keep its exposure mix representative. The LP here can.
//!
//! ## The model
//!
//! Respondent *types* are the schema's demographic cells (every question answered), weighted by
//! the schema's shares or by a supply mix you give. For each type t and category c a variable
//! x(t, c) ∈ [0, 1] is the share of type-t respondents shown c's qualifier (0 when the type is
//! not eligible, or when qualifier plus LOI passes the hard cap). With N respondents and
//! w(t) the type's weight, maximise the scale s = 1/N subject to
//!
//! - completes: Σ_t w(t) · p(c) · x(t, c) ≥ T(c) · s for every category (T: completes to do);
//! - mean time: Σ_t w(t) Σ_c x(t, c) · (q(c) + p(c) · L(c)) ≤ B (qualifier seconds count for every
//!   show, the LOI only on qualifying);
//! - hard cap, per type: Σ_c x(t, c) · (q(c) + p(c) · L(c)) ≤ cap (every respondent's seconds are
//!   at most the cap, so their expectation over a type is too);
//! - qualifier cap, per type: Σ_c x(t, c) ≤ K;
//! - exclusion groups, per type: Σ_{c ∈ G} p(c) · x(t, c) ≤ 1 − Π_{c ∈ G} (1 − p(c)) over the
//!   members the type can be shown (a respondent completes at most one category of the group,
//!   and only one whose coin comes up: see [Incompatibility cuts](#incompatibility-cuts); a
//!   right side of 1 would be valid too, but weaker);
//! - exposure: for every category and question, the L1 distance between the category's expected
//!   exposure mix and its reference mix ([`reference_shares`](crate::catalogue::reference_shares): the exposure target, else the
//!   eligible *population's* shares) is at most the tolerance — linear with one auxiliary
//!   variable per response.
//!
//! The bound is N_LP = 1/s*. Every constraint is homogeneous in (x, s) except the budgets, so
//! maximising s is one LP, solved once — exact where bisecting on N would need a feasibility LP
//! per step and still only bracket the answer. For numerical range the solver sees s scaled by
//! the closed-form bound of the same supply, so its optimum is about 1.
//!
//! Without extras the LP decomposes by category and equals [`Catalogue::lower_bound`]; with
//! eligibility rules and per-respondent limits it can only be larger (it is the same problem
//! with more constraints).
//!
//! ```
//! use quotaroute::bound::{lower_bound_lp, LpOptions};
//! use quotaroute::catalogue::{Catalogue, Category};
//! use quotaroute::schema::{Rule, Schema};
//!
//! let schema = Schema::default_survey();
//! let women = Rule::parse(&schema, "gender=female")?;
//! let catalogue = Catalogue::new(schema, vec![
//!     Category::new("a", "A", 1.0, 60.0).with_target(100).with_eligibility(women.clone()),
//!     Category::new("b", "B", 1.0, 60.0).with_target(100).with_eligibility(women),
//!     Category::new("c", "C", 1.0, 60.0).with_target(10),
//! ])?;
//! // One qualifier per respondent: the closed form pools everyone and says 210 ...
//! let options = LpOptions { max_qualifiers: Some(1), ..LpOptions::new(480.0) };
//! assert!((catalogue.lower_bound(480.0, Some(1)) - 210.0).abs() < 1e-9);
//! // ... but A and B share the women, one qualifier each: 400 respondents at least.
//! let lp = lower_bound_lp(&catalogue, &options)?;
//! assert!((lp.respondents - 400.0).abs() < 1e-6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Incompatibility cuts
//!
//! Under a hard cap H the rows above only bound a type's *expected* seconds, so they cannot see
//! that two categories whose interviews do not fit together can never both be completed by one
//! respondent. Call a and b *incompatible* when
//! [`seconds_if_qualified`](Catalogue::seconds_if_qualified)(a) + `seconds_if_qualified`(b) > H
//! (the router offers a category only when qualifier + LOI fit the seconds left), or when one
//! exclusion group holds both. For a set U of pairwise incompatible categories (a clique) and
//! every type t:
//!
//! > Σ_{c∈U} p(c) · x(t, c) ≤ 1 − Π_{c∈U} (1 − p(c)).
//!
//! *Proof.* Draw every category's qualifying coin (heads with probability p(c)) in advance,
//! independently of everything else, and read it when c is shown. A respondent completes c
//! only if shown c with room to complete it — what x(t, c) counts — and c's coin is heads; and
//! completes at most one category of U. So the number of U-completes is at most
//! 1[some coin of U is heads], whose expectation is 1 − Π(1 − p). The decision to show c reads
//! only other coins, so it is independent of c's: P(complete c) = p(c) · x(t, c), and the left
//! side is the expected number of U-completes. Both sides are linear in the distribution of
//! respondents, so the row holds for the LP's month-average x(t, c). ∎
//!
//! For a pair it is exactly the convex hull of what showing orders achieve: a first, then b to
//! those who did not qualify, gives (x_a, x_b) = (1, 1 − p_a); the other order
//! (1 − p_b, 1); both lie on p_a·x_a + p_b·x_b = 1 − (1 − p_a)(1 − p_b). An exclusion group is
//! a clique by definition, so its row takes the same right side (always, not only with the
//! option).
//!
//! There are exponentially many cliques, so [`LpOptions::incompatibility_cuts`] adds them as
//! cutting planes: solve; for each type, grow a clique greedily from every category the plan
//! shows it (among the categories incompatible with every member, add the one with the largest
//! gain p(d) · (x(t, d) − Π_members(1 − p)); stop when none gains), keep the cliques violated
//! by more than 1e-9, add the most violated few per type, re-solve warm; stop when none is
//! violated or after [`MAX_CUT_ROUNDS`] rounds ([`LpBound::cut_rounds`], [`LpBound::cuts`],
//! [`LpBound::cuts_converged`]). Every round's LP is a relaxation of the fluid problem, so every
//! round's value is a valid bound; the last is the tightest. The cuts hold x only: the scaling
//! of s does not enter them.
//!
//! The cuts bite where a scarce group must be shown nearly every long category it is eligible
//! for; where time binds (x small) they are slack. They take the cap as certain: with an
//! uncertain LOI ([`Category::loi_spread`](crate::catalogue::Category::loi_spread)) a short
//! draw can let two "incompatible" categories both complete, as it can let a category longer
//! than the cap complete, which the LP also excludes.
//!
//! ```
//! use quotaroute::bound::{lower_bound_lp, Limit, LpOptions};
//! use quotaroute::catalogue::{Catalogue, Category};
//! use quotaroute::schema::Schema;
//!
//! // Two 300 s categories, half qualify for each, 100 completes each, a 480 s hard cap.
//! let catalogue = Catalogue::new(Schema::default_survey(), vec![
//!     Category::new("a", "A", 0.5, 300.0).with_target(100),
//!     Category::new("b", "B", 0.5, 300.0).with_target(100),
//! ])?;
//! let capped = LpOptions { hard_cap_seconds: Some(480.0), ..LpOptions::new(480.0) };
//! // Without the cut: everyone is shown both (300 expected seconds), N = 100 / 0.5 = 200.
//! assert!((lower_bound_lp(&catalogue, &capped)?.respondents - 200.0).abs() < 1e-6);
//! // With it: 0.5 x_a + 0.5 x_b ≤ 0.75 completes per respondent, N ≥ 200 / 0.75.
//! let cut = lower_bound_lp(&catalogue, &LpOptions { incompatibility_cuts: true, ..capped })?;
//! assert!((cut.respondents - 200.0 / 0.75).abs() < 1e-6);
//! assert!(cut.limits.contains(&Limit::Incompatibility));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

//! ## Node limits
//!
//! A category's quota cells — the nodes of its quota tree
//! ([`Category::with_quota_tree`](crate::catalogue::Category::with_quota_tree)) — each cover
//! the respondents its path rule ([`Catalogue::cell_rule`]) matches. With
//! [`LpOptions::node_limits`] the types also tell apart the limited nodes they fall in, and
//! each node n of category c with a max or a min adds
//!
//! - max: Σ_{t ∈ n} w(t) · p(c) · x(t, c) ≤ max(n) · s (completes past a node's max are
//!   refused, so the plan may not count on them);
//! - min: Σ_{t ∈ n} w(t) · p(c) · x(t, c) ≥ min(n) · s (the bound is then the respondents
//!   needed to fill every category's target *and* every node's min).
//!
//! Both are homogeneous in (x, s), like the completes rows, so the LP stays one solve. They
//! only add constraints, so the bound with them is never below the bound without. With
//! [`LpOptions::remaining`] only the max rows are added: a max on what is left is at most the
//! whole max (a looser row, still valid), but the min left is not known.
//!
//! ```
//! use quotaroute::bound::{lower_bound_lp, Limit, LpOptions};
//! use quotaroute::catalogue::{Catalogue, Category, QuotaCell};
//! use quotaroute::schema::{Rule, Schema};
//!
//! let schema = Schema::default_survey();
//! let north = Rule::parse(&schema, "region=north")?;
//! // At least 60 of 90 completes from the north, a third of the supply.
//! let a = Category::new("a", "A", 1.0, 60.0)
//!     .with_target(90)
//!     .with_cell(QuotaCell::new("north", north, 90).with_min(60));
//! let catalogue = Catalogue::new(schema, vec![a])?;
//! let plain = lower_bound_lp(&catalogue, &LpOptions::new(480.0))?;
//! let nodes = LpOptions { node_limits: true, ..LpOptions::new(480.0) };
//! let held = lower_bound_lp(&catalogue, &nodes)?;
//! assert!((plain.respondents - 90.0).abs() < 1e-6);
//! // 60 northern completes need 180 respondents.
//! assert!((held.respondents - 180.0).abs() < 1e-6);
//! assert!(held.limits.contains(&Limit::NodeMin(0)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cuts;
mod model;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::closed::{Eligible, fluid_terms};
use crate::catalogue::{Catalogue, CategoryId, QuotaCell};
use crate::schema::{Answers, QuestionId, ResponseId};

/// The most demographic cells the LP enumerates.
pub const MAX_CELLS: usize = crate::schema::MAX_ENUMERATED_CELLS;

/// The most solver variables the LP builds (types × categories plus auxiliaries).
pub const MAX_VARIABLES: usize = 1_000_000;

/// The most rounds of the incompatibility cutting-plane loop (each adds cuts and re-solves).
pub const MAX_CUT_ROUNDS: u32 = 50;

/// The most cell × category eligibility pairs enumerated before cells merge into types.
const MAX_CELL_PAIRS: usize = 50_000_000;

/// What the LP bound is computed for: the budgets and the optional extras.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct LpOptions {
    /// Mean interview seconds per respondent (the banked mean budget, else the hard cap).
    pub budget_seconds: f64,
    /// Seconds no respondent passes (`None`: only the mean counts).
    #[cfg_attr(feature = "serde", serde(default))]
    pub hard_cap_seconds: Option<f64>,
    /// Cap on qualifiers shown to one respondent (`None`: no cap).
    #[cfg_attr(feature = "serde", serde(default))]
    pub max_qualifiers: Option<u32>,
    /// Share of the supply in each demographic cell, every question answered, numbered
    /// row-major in schema order (the last question varies fastest; see [`cell_answers`]);
    /// normalised to sum to 1. `None`: the schema's shares, questions independent.
    #[cfg_attr(feature = "serde", serde(default))]
    pub supply: Option<Vec<f64>>,
    /// Groups of categories of which a respondent completes at most one.
    #[cfg_attr(feature = "serde", serde(default))]
    pub exclusion_groups: Vec<Vec<CategoryId>>,
    /// Largest L1 distance, per category and question, between the expected exposure mix and
    /// the reference mix (`None`: exposure is free).
    #[cfg_attr(feature = "serde", serde(default))]
    pub exposure_tolerance: Option<f64>,
    /// Completes still to do per category (`None`: the catalogue's targets).
    #[cfg_attr(feature = "serde", serde(default))]
    pub remaining: Option<Vec<f64>>,
    /// Cap on category surveys one respondent completes (`None`: no cap): per type,
    /// Σ_c p(c) · x(t, c) ≤ K, a valid relaxation as for exclusion groups.
    #[cfg_attr(feature = "serde", serde(default))]
    pub max_completes: Option<u32>,
    /// Add incompatibility (clique) cuts in a cutting-plane loop: for a set U of categories
    /// of which no respondent can complete two (qualifier + LOI of any two pass the hard cap,
    /// or both in one exclusion group), per type Σ_{c∈U} p(c) · x(t, c) ≤ 1 − Π_{c∈U}(1 − p(c))
    /// (see the [module docs](self#incompatibility-cuts)). Only changes the bound with a
    /// [`hard_cap_seconds`](Self::hard_cap_seconds) or exclusion groups. Default `false`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub incompatibility_cuts: bool,
    /// Hold the categories' quota cells (tree nodes) to their limits (see
    /// [Node limits](self#node-limits)): a node's max caps the completes of the respondent
    /// types in it, and its min must be reached. With [`remaining`](Self::remaining) only the
    /// maxes apply (the mins left are not known). Default `false`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub node_limits: bool,
}

impl LpOptions {
    /// A mean budget and no extras: the LP equals [`Catalogue::lower_bound`].
    pub fn new(budget_seconds: f64) -> LpOptions {
        LpOptions {
            budget_seconds,
            hard_cap_seconds: None,
            max_qualifiers: None,
            supply: None,
            exclusion_groups: Vec::new(),
            exposure_tolerance: None,
            remaining: None,
            max_completes: None,
            incompatibility_cuts: false,
            node_limits: false,
        }
    }
}

/// A constraint that holds with equality at the LP's optimum: what sets the bound.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub enum Limit {
    /// The mean time budget is used up.
    MeanTime,
    /// Some respondent type uses its whole hard cap.
    HardCap,
    /// Some respondent type is shown the most qualifiers allowed.
    Qualifiers,
    /// Some respondent type completes the most category surveys allowed.
    Completes,
    /// Every eligible respondent is shown the category (its supply is the limit).
    Supply(CategoryId),
    /// Some respondent type completes a category of this group (index into
    /// [`LpOptions::exclusion_groups`]) for sure.
    Exclusion(usize),
    /// The category's exposure mix on the question is at the tolerance.
    Exposure(CategoryId, QuestionId),
    /// Some respondent type completes one of a set of pairwise incompatible categories
    /// whenever one of their coins comes up (an incompatibility cut is tight; see
    /// [`LpOptions::incompatibility_cuts`]).
    Incompatibility,
    /// The quota cell (tree node; global index, see
    /// [`Catalogue::cell_range`]) is planned at its max ([`LpOptions::node_limits`]).
    NodeMax(usize),
    /// The quota cell is planned at its min, no more ([`LpOptions::node_limits`]).
    NodeMin(usize),
}

/// The LP bound and the fluid plan that attains it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct LpBound {
    /// N_LP: the least mean number of respondents that can fill every quota (infinite when
    /// some quota cannot be filled at all, 0 when nothing is left to do).
    pub respondents: f64,
    /// The closed-form bound for the same supply (equal to [`Catalogue::lower_bound`] for the
    /// schema's supply); `respondents` is never below it.
    pub closed_form: f64,
    /// Expected qualifier shows of each category per respondent in the optimal plan.
    pub shows: Vec<f64>,
    /// Expected interview seconds per respondent in the plan.
    pub seconds_per_respondent: f64,
    /// Expected qualifiers per respondent in the plan.
    pub qualifiers_per_respondent: f64,
    /// Respondent types the LP used (cells merged where nothing tells them apart).
    pub types: usize,
    /// The constraints that hold with equality at the optimum.
    pub limits: Vec<Limit>,
    /// Rounds of the cutting-plane loop that added cuts (each one re-solve; 0 without
    /// [`LpOptions::incompatibility_cuts`]). At most [`MAX_CUT_ROUNDS`].
    #[cfg_attr(feature = "serde", serde(default))]
    pub cut_rounds: u32,
    /// Incompatibility cuts added over all rounds.
    #[cfg_attr(feature = "serde", serde(default))]
    pub cuts: u32,
    /// False when the loop stopped with a violated cut left (after [`MAX_CUT_ROUNDS`] rounds, or
    /// when a re-solve failed): `respondents` is then the last solved round's value, still a
    /// valid bound but not the tightest the cuts give. True otherwise (and without cuts).
    #[cfg_attr(feature = "serde", serde(default = "converged"))]
    pub cuts_converged: bool,
}

#[cfg(feature = "serde")]
fn converged() -> bool {
    true
}

impl LpBound {
    /// How far the LP bound is above the closed form, as a ratio (1: no gain; infinite when
    /// only the LP finds a quota unfillable).
    pub fn gain(&self) -> f64 {
        if self.closed_form > 0.0 {
            self.respondents / self.closed_form
        } else {
            1.0
        }
    }
}

/// Why the LP bound could not be computed.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum LpBoundError {
    /// An option is out of range.
    #[error("LP option `{field}`: {problem}")]
    Option {
        /// The option.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The supply mix does not have one share per demographic cell.
    #[error("LP option `supply`: {got} shares given, the schema has {expected} cells")]
    SupplyLength {
        /// The schema's cells (product of response counts).
        expected: usize,
        /// Shares given.
        got: usize,
    },
    /// The supply mix has a negative or non-finite share, or sums to 0.
    #[error(
        "LP option `supply`: share {index} is {value} (shares must be finite, ≥ 0, with a positive sum)"
    )]
    SupplyShare {
        /// The first bad cell (or 0 when only the sum is bad).
        index: usize,
        /// Its share.
        value: f64,
    },
    /// `remaining` does not have one entry per category, or one is negative or not finite.
    #[error("LP option `remaining`: {problem}")]
    Remaining {
        /// What is wrong.
        problem: String,
    },
    /// An exclusion group names a category the catalogue does not have, or one twice.
    #[error(
        "LP option `exclusion_groups`: group {group}: {} {problem}",
        match .key.as_deref() {
            Some(k) => format!("category `{k}`"),
            None => format!("the category at position {}", .category.index()),
        }
    )]
    Exclusion {
        /// The group's index.
        group: usize,
        /// The category as given.
        category: CategoryId,
        /// Its key ([`Category::key`](crate::catalogue::Category::key)); `None` when the
        /// catalogue has no such category.
        key: Option<String>,
        /// "is not in the catalogue" or "is named twice".
        problem: &'static str,
    },
    /// The schema has too many cells, or the LP too many variables, to build.
    #[error("the LP would need {needed} {what}, more than the {max} allowed")]
    TooLarge {
        /// "demographic cells" or "variables".
        what: &'static str,
        /// How many it would need.
        needed: usize,
        /// The limit.
        max: usize,
    },
    /// The solver failed numerically (it does not answer what it could not verify).
    #[error("the LP solver failed: {message}")]
    Solver {
        /// The solver's message.
        message: String,
    },
}

/// The answers of demographic cell `cell`, numbered as in [`LpOptions::supply`] (row-major in
/// schema order, every question answered); `None` past the last cell.
pub fn cell_answers(catalogue: &Catalogue, cell: usize) -> Option<Answers> {
    let schema = catalogue.schema();
    let cells = complete_cells(catalogue)?;
    if cell >= cells {
        return None;
    }
    let mut answers = Answers::unknown(schema);
    let mut rest = cell;
    for q in (0..schema.len()).rev() {
        let q = QuestionId(q as u16);
        let radix = schema.response_count(q);
        answers.set(q, ResponseId((rest % radix) as u16));
        rest /= radix;
    }
    Some(answers)
}

/// Π response counts, or `None` when it overflows.
fn complete_cells(catalogue: &Catalogue) -> Option<usize> {
    catalogue.schema().complete_cell_count()
}

/// One respondent type: its weight, eligibility per open category, its answers (only kept
/// when exposure constraints need them) and the limited quota cells it falls in (with node
/// limits).
struct Type {
    weight: f64,
    eligible: Vec<bool>,
    answers: Option<Vec<usize>>,
    nodes: Vec<usize>,
}

/// What the model is built from: the options resolved against the catalogue.
struct Setup<'a> {
    catalogue: &'a Catalogue,
    options: &'a LpOptions,
    /// Completes still to do per category.
    remaining: Vec<f64>,
    /// Seconds one show costs in expectation: the qualifier always, the LOI on qualifying.
    show_seconds: Vec<f64>,
    /// Categories with completes to do.
    open: Vec<bool>,
    types: Vec<Type>,
    /// Share of the supply each category may be shown to (eligible, open and fitting the cap).
    eligible_share: Vec<f64>,
    /// N* for the same supply: the LP is never below it, and scaling s by it keeps the
    /// solver's numbers near 1.
    closed_form: f64,
}

impl Setup<'_> {
    /// The bound when the LP need not be solved: nothing to do (0) or impossible (infinite).
    fn empty(&self, respondents: f64) -> LpBound {
        LpBound {
            respondents,
            closed_form: self.closed_form,
            shows: vec![0.0; self.catalogue.len()],
            seconds_per_respondent: 0.0,
            qualifiers_per_respondent: 0.0,
            types: self.types.len(),
            limits: Vec::new(),
            cut_rounds: 0,
            cuts: 0,
            cuts_converged: true,
        }
    }
}

/// The fluid LP lower bound on the mean number of respondents (see the [module docs](self)).
///
/// # Errors
/// [`LpBoundError::Option`] for a non-positive or non-finite budget or cap, a qualifier cap of 0
/// or a tolerance outside [0, 2]; [`LpBoundError::SupplyLength`] /
/// [`LpBoundError::SupplyShare`] for a bad supply mix; [`LpBoundError::Remaining`];
/// [`LpBoundError::Exclusion`] for an unknown or repeated category; [`LpBoundError::TooLarge`]
/// for a schema with more than [`MAX_CELLS`] cells or an LP with more than [`MAX_VARIABLES`]
/// variables; [`LpBoundError::Solver`] when the solver fails numerically.
///
/// # Performance
/// Builds one LP of (types × eligible categories) variables and solves it once. Without exposure
/// constraints, cells with the same eligibility merge into one type. On the bundled 77-category
/// catalogue a solve takes about 2 ms; with exposure constraints (18 cell types, about 2,000
/// variables) about 160 ms (see `benches/bound.rs`). For planning and reports, not for
/// the decision path.
///
/// With [`incompatibility_cuts`](LpOptions::incompatibility_cuts) each round adds up to 3 cuts
/// per type, one warm (dual simplex) re-solve per cut, and separation costs about
/// types × shown² × clique size per round (shown: the categories a type's plan shows). On the bundled
/// catalogue no clique is violated (time binds, every x is small): 1.7 ms with or without. On
/// random catalogue 4 of seed 11 of the `catalogues` example (61 categories, 10 types) 3 rounds
/// and 37 cuts take the solve from 4.8 ms to 11.8 ms. Single-threaded (microlp).
pub fn lower_bound_lp(catalogue: &Catalogue, options: &LpOptions) -> Result<LpBound, LpBoundError> {
    let setup = setup(catalogue, options)?;
    if !setup.open.iter().any(|&o| o) {
        return Ok(setup.empty(0.0));
    }
    if !setup.closed_form.is_finite() {
        return Ok(setup.empty(f64::INFINITY));
    }
    let variables = model::variables_needed(&setup);
    if variables > MAX_VARIABLES {
        return Err(LpBoundError::TooLarge {
            what: "variables",
            needed: variables,
            max: MAX_VARIABLES,
        });
    }
    let model = model::Model::build(&setup);
    let solved = cuts::solve(&setup, model.problem, &model.x)?;
    Ok(model::read_plan(
        &setup,
        &model.x,
        model.scale,
        &model.exposure_rows,
        &model.node_rows,
        solved,
    ))
}

/// Checks the options and resolves them: what is left to do, the respondent types and N* for
/// their supply.
fn setup<'a>(catalogue: &'a Catalogue, options: &'a LpOptions) -> Result<Setup<'a>, LpBoundError> {
    validate(catalogue, options)?;
    let k = catalogue.len();
    let remaining: Vec<f64> = match &options.remaining {
        Some(r) => r.clone(),
        None => catalogue
            .categories()
            .iter()
            .map(|c| f64::from(c.target))
            .collect(),
    };
    let show_seconds: Vec<f64> = catalogue
        .ids()
        .map(|c| catalogue.qualifier_seconds(c) + catalogue.incidence(c) * catalogue.loi_seconds(c))
        .collect();
    let open: Vec<bool> = remaining.iter().map(|&t| t > 0.0).collect();
    let types = build_types(catalogue, options, &open, &|c| fits(catalogue, options, c))?;
    let mut eligible_share = vec![0.0; k];
    for t in &types {
        for (c, share) in eligible_share.iter_mut().enumerate() {
            if t.eligible[c] {
                *share += t.weight;
            }
        }
    }
    let closed_form = fluid_terms(
        catalogue,
        options.budget_seconds,
        options.max_qualifiers,
        |c| remaining[c.index()],
        Eligible::Shares(&eligible_share),
    )
    .bound();
    Ok(Setup {
        catalogue,
        options,
        remaining,
        show_seconds,
        open,
        types,
        eligible_share,
        closed_form,
    })
}

/// True when qualifier plus LOI of `c` fit the hard cap (always without one).
fn fits(catalogue: &Catalogue, options: &LpOptions, c: CategoryId) -> bool {
    options
        .hard_cap_seconds
        .is_none_or(|cap| catalogue.seconds_if_qualified(c) <= cap)
}

fn validate(catalogue: &Catalogue, options: &LpOptions) -> Result<(), LpBoundError> {
    let bad = |field, problem: &str| {
        Err(LpBoundError::Option {
            field,
            problem: problem.to_owned(),
        })
    };
    if !(options.budget_seconds.is_finite() && options.budget_seconds > 0.0) {
        return bad("budget_seconds", "must be a positive number of seconds");
    }
    if let Some(cap) = options.hard_cap_seconds
        && !(cap.is_finite() && cap > 0.0)
    {
        return bad("hard_cap_seconds", "must be a positive number of seconds");
    }
    if options.max_qualifiers == Some(0) {
        return bad("max_qualifiers", "must be at least 1");
    }
    if options.max_completes == Some(0) {
        return bad("max_completes", "must be at least 1");
    }
    if let Some(tol) = options.exposure_tolerance
        && !(tol.is_finite() && (0.0..=2.0).contains(&tol))
    {
        return bad(
            "exposure_tolerance",
            "must be an L1 distance in [0, 2] (2 allows any mix)",
        );
    }
    if let Some(r) = &options.remaining {
        if r.len() != catalogue.len() {
            return Err(LpBoundError::Remaining {
                problem: format!(
                    "{} entries given, the catalogue has {} categories",
                    r.len(),
                    catalogue.len()
                ),
            });
        }
        if let Some((i, v)) = r
            .iter()
            .enumerate()
            .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
        {
            return Err(LpBoundError::Remaining {
                problem: format!(
                    "entry {i} (category `{}`) is {v} (must be finite and ≥ 0)",
                    catalogue.category(CategoryId::from_index(i)).key
                ),
            });
        }
    }
    for (g, group) in options.exclusion_groups.iter().enumerate() {
        for (i, &c) in group.iter().enumerate() {
            let problem = if c.index() >= catalogue.len() {
                "is not in the catalogue"
            } else if group[..i].contains(&c) {
                "is named twice"
            } else {
                continue;
            };
            return Err(LpBoundError::Exclusion {
                group: g,
                category: c,
                key: (c.index() < catalogue.len()).then(|| catalogue.category(c).key.clone()),
                problem,
            });
        }
    }
    Ok(())
}

/// The respondent types: every cell with positive weight, merged by eligibility when no
/// exposure constraint needs their answers.
fn build_types(
    catalogue: &Catalogue,
    options: &LpOptions,
    open: &[bool],
    fits: &dyn Fn(CategoryId) -> bool,
) -> Result<Vec<Type>, LpBoundError> {
    let schema = catalogue.schema();
    let cells = complete_cells(catalogue)
        .filter(|&n| n <= MAX_CELLS && n.saturating_mul(catalogue.len()) <= MAX_CELL_PAIRS)
        .ok_or(LpBoundError::TooLarge {
            what: "demographic cells",
            needed: complete_cells(catalogue).unwrap_or(usize::MAX),
            max: MAX_CELLS.min(MAX_CELL_PAIRS / catalogue.len().max(1)),
        })?;
    let weights: Vec<f64> = match &options.supply {
        Some(s) => {
            if s.len() != cells {
                return Err(LpBoundError::SupplyLength {
                    expected: cells,
                    got: s.len(),
                });
            }
            if let Some((index, &value)) = s
                .iter()
                .enumerate()
                .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                return Err(LpBoundError::SupplyShare { index, value });
            }
            let total: f64 = s.iter().sum();
            if !(total.is_finite() && total > 0.0) {
                return Err(LpBoundError::SupplyShare {
                    index: 0,
                    value: total,
                });
            }
            s.iter().map(|w| w / total).collect()
        }
        None => schema.complete_cells().map(|(_, share)| share).collect(),
    };
    let keep_answers = options.exposure_tolerance.is_some();
    let limited = limited_nodes(catalogue, options, open);
    let mut types: Vec<Type> = Vec::new();
    // Cells merge when they are eligible for the same categories and fall in the same
    // limited nodes: nothing in the LP tells them apart then.
    let mut by_pattern: BTreeMap<(Vec<bool>, Vec<usize>), usize> = BTreeMap::new();
    for (cell, &weight) in weights.iter().enumerate() {
        if weight <= 0.0 {
            continue;
        }
        let answers = cell_answers(catalogue, cell).expect("cell < cells");
        let eligible: Vec<bool> = catalogue
            .ids()
            .map(|c| open[c.index()] && fits(c) && catalogue.is_eligible(c, &answers))
            .collect();
        let nodes: Vec<usize> = limited
            .iter()
            .copied()
            .filter(|&n| catalogue.cell_rule(n).is_some_and(|r| r.matches(&answers)))
            .collect();
        if keep_answers {
            let digits = schema
                .question_ids()
                .map(|q| answers.get(q).map_or(0, |r| r.index()))
                .collect();
            types.push(Type {
                weight,
                eligible,
                answers: Some(digits),
                nodes,
            });
        } else if let Some(&i) = by_pattern.get(&(eligible.clone(), nodes.clone())) {
            types[i].weight += weight;
        } else {
            by_pattern.insert((eligible.clone(), nodes.clone()), types.len());
            types.push(Type {
                weight,
                eligible,
                answers: None,
                nodes,
            });
        }
    }
    Ok(types)
}

/// With node limits: the quota cells (global indices) of open categories that have a max or
/// a min, in order; otherwise none.
fn limited_nodes(catalogue: &Catalogue, options: &LpOptions, open: &[bool]) -> Vec<usize> {
    if !options.node_limits {
        return Vec::new();
    }
    catalogue
        .ids()
        .filter(|c| open[c.index()])
        .flat_map(|c| catalogue.cell_range(c))
        .filter(|&n| {
            catalogue
                .cell(n)
                .is_some_and(|(_, cell)| cell.max != QuotaCell::NO_MAX || cell.min > 0)
        })
        .collect()
}
