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
//!   exposure mix and its reference mix ([`reference_shares`]: the exposure target, else the
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

use std::collections::{BTreeMap, BTreeSet};

use microlp::{ComparisonOp, LinearExpr, OptimizationDirection, Problem, Variable};
use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, CategoryId};
use crate::schema::{Answers, QuestionId, ResponseId};
use crate::sim::{Settings, reference_shares};

/// The most demographic cells the LP enumerates.
pub const MAX_CELLS: usize = crate::schema::MAX_ENUMERATED_CELLS;

/// The most solver variables the LP builds (types × categories plus auxiliaries).
pub const MAX_VARIABLES: usize = 1_000_000;

/// The most rounds of the incompatibility cutting-plane loop (each adds cuts and re-solves).
pub const MAX_CUT_ROUNDS: u32 = 50;

/// The most violated cliques added per respondent type and round: the most violated first, so
/// a round fixes the worst of each type without flooding the solver with near-duplicates.
const CUTS_PER_TYPE: usize = 3;

/// How far (in completes per respondent of the type) a clique row must be violated to be cut:
/// above the solver's round-off, so the loop does not chase it.
const CUT_VIOLATION: f64 = 1e-9;

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
        }
    }

    /// The budgets a simulation runs under: the bound's budget
    /// ([`Settings::budget_for_bound`]), the hard cap and the qualifier cap.
    pub fn from_settings(settings: &Settings) -> LpOptions {
        LpOptions {
            hard_cap_seconds: Some(settings.hard_cap),
            max_qualifiers: settings.max_qualifiers,
            max_completes: settings.max_completes,
            ..LpOptions::new(settings.budget_for_bound())
        }
    }

    /// [`from_settings`](Self::from_settings) plus the catalogue's exclusion groups (its
    /// categories' [`exclusion_group`](crate::catalogue::Category::exclusion_group) names),
    /// in the order each group is first named.
    pub fn for_run(settings: &Settings, catalogue: &Catalogue) -> LpOptions {
        LpOptions {
            exclusion_groups: catalogue.exclusion_groups(),
            ..LpOptions::from_settings(settings)
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
}

/// The LP bound and the fluid plan that attains it.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
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
    #[error("LP option `exclusion_groups`: group {group}: category {category} {problem}")]
    Exclusion {
        /// The group's index.
        group: usize,
        /// The category as given.
        category: CategoryId,
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

/// One respondent type: its weight, eligibility per open category, and its answers (only kept
/// when exposure constraints need them).
struct Type {
    weight: f64,
    eligible: Vec<bool>,
    answers: Option<Vec<usize>>,
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
    // Seconds one show costs in expectation: the qualifier always, the LOI on qualifying.
    let show_seconds: Vec<f64> = catalogue
        .ids()
        .map(|c| catalogue.qualifier_seconds(c) + catalogue.incidence(c) * catalogue.loi_seconds(c))
        .collect();
    let fits = |c: CategoryId| {
        options
            .hard_cap_seconds
            .is_none_or(|cap| catalogue.seconds_if_qualified(c) <= cap)
    };
    let open: Vec<bool> = remaining.iter().map(|&t| t > 0.0).collect();
    let types = build_types(catalogue, options, &open, &fits)?;

    // The closed form for the same supply: the LP is never below it, and scaling s by it keeps
    // the solver's numbers near 1.
    let mut eligible_share = vec![0.0; k];
    for t in &types {
        for (c, share) in eligible_share.iter_mut().enumerate() {
            if t.eligible[c] {
                *share += t.weight;
            }
        }
    }
    let (mut time, mut rarest, mut shows) = (0.0f64, 0.0f64, 0.0f64);
    for c in catalogue.ids().filter(|c| open[c.index()]) {
        let (t, p) = (remaining[c.index()], catalogue.incidence(c));
        time += t * (catalogue.loi_seconds(c) + catalogue.qualifier_seconds(c) / p);
        rarest = rarest.max(t / (p * eligible_share[c.index()]));
        shows += t / p;
    }
    let closed_form = (time / options.budget_seconds)
        .max(rarest)
        .max(options.max_qualifiers.map_or(0.0, |m| shows / f64::from(m)));
    let empty = |respondents: f64| LpBound {
        respondents,
        closed_form,
        shows: vec![0.0; k],
        seconds_per_respondent: 0.0,
        qualifiers_per_respondent: 0.0,
        types: types.len(),
        limits: Vec::new(),
        cut_rounds: 0,
        cuts: 0,
        cuts_converged: true,
    };
    if !open.iter().any(|&o| o) {
        return Ok(empty(0.0));
    }
    if !closed_form.is_finite() {
        return Ok(empty(f64::INFINITY));
    }

    let responses: usize = catalogue
        .schema()
        .questions()
        .iter()
        .map(|q| q.responses().len())
        .sum();
    let auxiliaries = if options.exposure_tolerance.is_some() {
        open.iter().filter(|&&o| o).count() * responses
    } else {
        0
    };
    let variables = 1
        + auxiliaries
        + types
            .iter()
            .map(|t| t.eligible.iter().filter(|&&e| e).count())
            .sum::<usize>();
    if variables > MAX_VARIABLES {
        return Err(LpBoundError::TooLarge {
            what: "variables",
            needed: variables,
            max: MAX_VARIABLES,
        });
    }
    let mut problem = Problem::new(OptimizationDirection::Maximize);
    let scale = problem.add_var(1.0, (0.0, f64::INFINITY));
    let x: Vec<Vec<Option<Variable>>> = types
        .iter()
        .map(|t| {
            (0..k)
                .map(|c| t.eligible[c].then(|| problem.add_var(0.0, (0.0, 1.0))))
                .collect()
        })
        .collect();
    // Completes: Σ_t w p x ≥ (T / N0) · u, with s = u / N0.
    for c in (0..k).filter(|&c| open[c]) {
        let p = catalogue.incidence(CategoryId::from_index(c));
        let mut expr: LinearExpr = x
            .iter()
            .zip(&types)
            .filter_map(|(row, t)| row[c].map(|v| (v, t.weight * p)))
            .collect();
        expr.add(scale, -remaining[c] / closed_form);
        problem.add_constraint(expr, ComparisonOp::Ge, 0.0);
    }
    // Mean time, in budgets so the coefficients stay near 1.
    let time_expr: LinearExpr = x
        .iter()
        .zip(&types)
        .flat_map(|(row, t)| {
            row.iter().enumerate().filter_map(|(c, v)| {
                v.map(|v| (v, t.weight * show_seconds[c] / options.budget_seconds))
            })
        })
        .collect();
    problem.add_constraint(time_expr, ComparisonOp::Le, 1.0);
    for row in &x {
        if let Some(cap) = options.hard_cap_seconds {
            let expr: LinearExpr = row
                .iter()
                .enumerate()
                .filter_map(|(c, v)| v.map(|v| (v, show_seconds[c] / cap)))
                .collect();
            problem.add_constraint(expr, ComparisonOp::Le, 1.0);
        }
        if let Some(m) = options.max_qualifiers {
            let expr: LinearExpr = row.iter().flatten().map(|&v| (v, 1.0)).collect();
            problem.add_constraint(expr, ComparisonOp::Le, f64::from(m));
        }
        for group in &options.exclusion_groups {
            // Only the members this type can be shown: a subset of a clique is a clique, and
            // the fewer coins, the smaller the right side. One member needs no row (x ≤ 1).
            let members: Vec<(Variable, f64)> = group
                .iter()
                .filter_map(|c| row[c.index()].map(|v| (v, catalogue.incidence(*c))))
                .collect();
            if members.len() >= 2 {
                let rhs = clique_rhs(members.iter().map(|&(_, p)| p));
                let expr: LinearExpr = members.into_iter().collect();
                problem.add_constraint(expr, ComparisonOp::Le, rhs);
            }
        }
        if let Some(k) = options.max_completes {
            let expr: LinearExpr = row
                .iter()
                .enumerate()
                .filter_map(|(c, v)| v.map(|v| (v, catalogue.incidence(CategoryId::from_index(c)))))
                .collect();
            problem.add_constraint(expr, ComparisonOp::Le, f64::from(k));
        }
    }
    // Exposure: the responses' excesses over the reference and their shortfalls both sum to
    // half the L1 distance (Σ_r E_r = E and Σ_r ref_r = 1), so L1 ≤ tol is exactly
    // Σ_r d_r ≤ tol/2 · E with d_r ≥ E_r − ref_r · E, d_r ≥ 0: one row per response, where the
    // two-sided |·| would need two (and took the solver twice as long).
    let mut exposure_rows = Vec::new();
    if let Some(tolerance) = options.exposure_tolerance {
        let reference = reference_shares(catalogue);
        let schema = catalogue.schema();
        for c in (0..k).filter(|&c| open[c]) {
            for q in schema.question_ids() {
                let want = &reference[c * schema.len() + q.index()];
                let mut ds = Vec::with_capacity(want.len());
                for (r, &share) in want.iter().enumerate() {
                    let d = problem.add_var(0.0, (0.0, f64::INFINITY));
                    // d − (E_r − ref_r · E) ≥ 0, one term per variable.
                    let mut above: LinearExpr = x
                        .iter()
                        .zip(&types)
                        .filter_map(|(row, t)| {
                            let v = row[c]?;
                            let answers = t.answers.as_ref()?;
                            let own = if answers[q.index()] == r { 1.0 } else { 0.0 };
                            Some((v, -t.weight * (own - share)))
                        })
                        .filter(|&(_, w)| w != 0.0)
                        .collect();
                    above.add(d, 1.0);
                    problem.add_constraint(above, ComparisonOp::Ge, 0.0);
                    ds.push(d);
                }
                let mut sum: LinearExpr = ds.iter().map(|&d| (d, 1.0)).collect();
                for (row, t) in x.iter().zip(&types) {
                    if let Some(v) = row[c] {
                        sum.add(v, -0.5 * tolerance * t.weight);
                    }
                }
                problem.add_constraint(sum, ComparisonOp::Le, 0.0);
                exposure_rows.push((CategoryId::from_index(c), q, want.clone()));
            }
        }
    }
    let interrupted = || LpBoundError::Solver {
        message: "the solve was interrupted before it found a solution".to_owned(),
    };
    let solution = problem
        .solve()
        .map_err(|e| LpBoundError::Solver {
            message: e.to_string(),
        })?
        .into_solution()
        .map_err(|_| interrupted())?;
    let mut values: Vec<f64> = solution.iter().map(|(_, v)| v).collect();

    // The cutting-plane loop. Every round's LP is a relaxation of the fluid problem (each cut is
    // valid), so the values of the last round solved are always a valid bound: a failed re-solve
    // keeps them and reports the loop as not converged rather than failing the call.
    let mut cut_rows: Vec<(usize, Vec<usize>, f64)> = Vec::new();
    let (mut cut_rounds, mut cuts_converged) = (0u32, true);
    let incidence: Vec<f64> = catalogue.ids().map(|c| catalogue.incidence(c)).collect();
    if options.incompatibility_cuts
        && (options.hard_cap_seconds.is_some() || !options.exclusion_groups.is_empty())
    {
        let conflict = Conflicts::new(catalogue, options, &open, &fits);
        let mut seen: BTreeSet<(usize, Vec<usize>)> = BTreeSet::new();
        let mut solution = Some(solution);
        loop {
            let found = separate(&x, &values, &incidence, &conflict, &seen);
            if found.is_empty() {
                break;
            }
            if cut_rounds == MAX_CUT_ROUNDS {
                cuts_converged = false;
                break;
            }
            let mut solved = solution.take();
            for (t, members, rhs) in &found {
                let Some(current) = solved.take() else { break };
                let expr: LinearExpr = members
                    .iter()
                    .filter_map(|&c| x[*t][c].map(|v| (v, incidence[c])))
                    .collect();
                solved = current
                    .add_constraint(expr, ComparisonOp::Le, *rhs)
                    .ok()
                    .and_then(|outcome| outcome.into_solution().ok());
            }
            let Some(next) = solved else {
                cuts_converged = false;
                break;
            };
            cut_rounds += 1;
            values = next.iter().map(|(_, v)| v).collect();
            for (t, members, rhs) in found {
                seen.insert((t, members.clone()));
                cut_rows.push((t, members, rhs));
            }
            solution = Some(next);
        }
    }
    // u ≤ 1 holds exactly (the LP only adds constraints to the closed form's); round-off above
    // 1 would put the bound below the closed form.
    let u = values[scale.idx()].min(1.0);
    let value = |v: &Option<Variable>| v.map_or(0.0, |v| values[v.idx()]);
    let cuts = u32::try_from(cut_rows.len()).unwrap_or(u32::MAX);
    if u <= 1e-12 {
        return Ok(LpBound {
            cut_rounds,
            cuts,
            cuts_converged,
            ..empty(f64::INFINITY)
        });
    }
    let mut plan_shows = vec![0.0; k];
    let (mut seconds, mut qualifiers) = (0.0, 0.0);
    let mut limits = Vec::new();
    let tight = |lhs: f64, rhs: f64| lhs >= rhs - 1e-7 * rhs.abs().max(1.0);
    let (mut cap_tight, mut quals_tight, mut completes_tight) = (false, false, false);
    let mut groups_tight = vec![false; options.exclusion_groups.len()];
    for (row, t) in x.iter().zip(&types) {
        let (mut type_seconds, mut type_shows) = (0.0, 0.0);
        for (c, v) in row.iter().enumerate() {
            let xv = value(v);
            plan_shows[c] += t.weight * xv;
            type_seconds += xv * show_seconds[c];
            type_shows += xv;
        }
        seconds += t.weight * type_seconds;
        qualifiers += t.weight * type_shows;
        if options
            .hard_cap_seconds
            .is_some_and(|cap| tight(type_seconds, cap))
        {
            cap_tight = true;
        }
        if options
            .max_qualifiers
            .is_some_and(|m| tight(type_shows, f64::from(m)))
        {
            quals_tight = true;
        }
        if let Some(k) = options.max_completes {
            let completes: f64 = row
                .iter()
                .enumerate()
                .map(|(c, v)| value(v) * catalogue.incidence(CategoryId::from_index(c)))
                .sum();
            if tight(completes, f64::from(k)) {
                completes_tight = true;
            }
        }
        for (g, group) in options.exclusion_groups.iter().enumerate() {
            let present = || group.iter().filter(|c| row[c.index()].is_some());
            if present().count() < 2 {
                continue;
            }
            let completes: f64 = present()
                .map(|c| value(&row[c.index()]) * catalogue.incidence(*c))
                .sum();
            if tight(
                completes,
                clique_rhs(present().map(|c| catalogue.incidence(*c))),
            ) {
                groups_tight[g] = true;
            }
        }
    }
    if tight(seconds, options.budget_seconds) {
        limits.push(Limit::MeanTime);
    }
    if cap_tight {
        limits.push(Limit::HardCap);
    }
    if quals_tight {
        limits.push(Limit::Qualifiers);
    }
    if completes_tight {
        limits.push(Limit::Completes);
    }
    for c in (0..k).filter(|&c| open[c]) {
        if eligible_share[c] > 0.0 && tight(plan_shows[c], eligible_share[c]) {
            limits.push(Limit::Supply(CategoryId::from_index(c)));
        }
    }
    limits.extend(
        groups_tight
            .iter()
            .enumerate()
            .filter(|&(_, &t)| t)
            .map(|(g, _)| Limit::Exclusion(g)),
    );
    if cut_rows.iter().any(|(t, members, rhs)| {
        let lhs: f64 = members
            .iter()
            .map(|&c| value(&x[*t][c]) * incidence[c])
            .sum();
        tight(lhs, *rhs)
    }) {
        limits.push(Limit::Incompatibility);
    }
    let tolerance = options.exposure_tolerance.unwrap_or(0.0);
    // The auxiliaries only bound the distance from above: measure it on the plan itself.
    for (c, q, want) in exposure_rows {
        let mut by_response = vec![0.0; want.len()];
        for (row, t) in x.iter().zip(&types) {
            if let Some(answers) = &t.answers {
                by_response[answers[q.index()]] += t.weight * value(&row[c.index()]);
            }
        }
        let e = plan_shows[c.index()];
        let distance: f64 = by_response
            .iter()
            .zip(&want)
            .map(|(er, w)| (er / e - w).abs())
            .sum();
        if e > 1e-12 && tight(distance, tolerance) {
            limits.push(Limit::Exposure(c, q));
        }
    }
    Ok(LpBound {
        respondents: closed_form / u,
        closed_form,
        shows: plan_shows,
        seconds_per_respondent: seconds,
        qualifiers_per_respondent: qualifiers,
        types: types.len(),
        limits,
        cut_rounds,
        cuts,
        cuts_converged,
    })
}

/// 1 − Π(1 − p): the chance that at least one of independent coins of these incidences comes
/// up, which bounds the expected completes of a set of pairwise incompatible categories.
fn clique_rhs(incidences: impl Iterator<Item = f64>) -> f64 {
    1.0 - incidences.map(|p| 1.0 - p).product::<f64>()
}

/// The incompatibility graph: no respondent can complete both categories when qualifier + LOI
/// of the two pass the hard cap, or when an exclusion group holds both. Categories the LP has
/// no variable for have no edges. Edges are answered on demand (no k × k matrix: catalogues of
/// many categories stay linear in memory).
struct Conflicts {
    seconds: Vec<f64>,
    cap: Option<f64>,
    live: Vec<bool>,
    /// The exclusion groups each category is in, ascending.
    groups: Vec<Vec<usize>>,
}

impl Conflicts {
    fn new(
        catalogue: &Catalogue,
        options: &LpOptions,
        open: &[bool],
        fits: &dyn Fn(CategoryId) -> bool,
    ) -> Conflicts {
        let mut groups = vec![Vec::new(); catalogue.len()];
        for (g, group) in options.exclusion_groups.iter().enumerate() {
            for c in group {
                groups[c.index()].push(g);
            }
        }
        Conflicts {
            seconds: catalogue
                .ids()
                .map(|c| catalogue.seconds_if_qualified(c))
                .collect(),
            cap: options.hard_cap_seconds,
            live: catalogue
                .ids()
                .map(|c| open[c.index()] && fits(c))
                .collect(),
            groups,
        }
    }

    fn between(&self, a: usize, b: usize) -> bool {
        // The router offers a category only when qualifier + LOI fit the seconds left
        // (`Interview::fits`: ≤), so a pair is incompatible exactly when the sum passes.
        a != b
            && self.live[a]
            && self.live[b]
            && (self
                .cap
                .is_some_and(|cap| self.seconds[a] + self.seconds[b] > cap)
                || self.groups[a].iter().any(|g| self.groups[b].contains(g)))
    }
}

/// Violated cliques of the incompatibility graph, per type: at most [`CUTS_PER_TYPE`] each,
/// most violated first, none already in `seen`, as (type, sorted members, right side).
///
/// From every category the type is shown, a clique grows greedily: among the categories
/// incompatible with every member, add the one that raises the violation most — adding d
/// raises the left side by p_d·x_d and the right side by p_d·Π(1 − p) over the members, so
/// the gain is p_d·(x_d − Π(1 − p)) — and stop when no addition gains. Only categories with
/// x > 0 are candidates: one with x = 0 adds nothing on the left and raises the right side.
fn separate(
    x: &[Vec<Option<Variable>>],
    values: &[f64],
    incidence: &[f64],
    conflict: &Conflicts,
    seen: &BTreeSet<(usize, Vec<usize>)>,
) -> Vec<(usize, Vec<usize>, f64)> {
    let mut found = Vec::new();
    for (t, row) in x.iter().enumerate() {
        let candidates: Vec<(usize, f64)> = row
            .iter()
            .enumerate()
            .filter_map(|(c, v)| v.map(|v| (c, values[v.idx()])))
            .filter(|&(_, xv)| xv > 1e-12)
            .collect();
        if candidates.len() < 2 {
            continue;
        }
        let mut violated: Vec<(f64, Vec<usize>, f64)> = Vec::new();
        let mut open = vec![false; candidates.len()];
        for &(start, xs) in &candidates {
            let mut members = vec![start];
            let (mut lhs, mut none) = (incidence[start] * xs, 1.0 - incidence[start]);
            for (o, &(d, _)) in open.iter_mut().zip(&candidates) {
                *o = conflict.between(start, d);
            }
            loop {
                let best = candidates
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| open[i])
                    .map(|(i, &(d, xd))| (i, incidence[d] * (xd - none)))
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                let Some((i, _)) = best.filter(|&(_, gain)| gain > 0.0) else {
                    break;
                };
                let (d, xd) = candidates[i];
                members.push(d);
                lhs += incidence[d] * xd;
                none *= 1.0 - incidence[d];
                for (o, &(e, _)) in open.iter_mut().zip(&candidates) {
                    *o = *o && conflict.between(d, e);
                }
            }
            let rhs = 1.0 - none;
            if members.len() >= 2 && lhs - rhs > CUT_VIOLATION {
                members.sort_unstable();
                violated.push((lhs - rhs, members, rhs));
            }
        }
        violated.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        // Several starts grow the same clique: keep each once.
        let mut taken: Vec<Vec<usize>> = Vec::new();
        for (_, members, rhs) in violated {
            if taken.len() == CUTS_PER_TYPE {
                break;
            }
            if !taken.contains(&members) && !seen.contains(&(t, members.clone())) {
                taken.push(members.clone());
                found.push((t, members, rhs));
            }
        }
    }
    found
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
                problem: format!("entry {i} is {v} (must be finite and ≥ 0)"),
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
    let mut types: Vec<Type> = Vec::new();
    let mut by_pattern: BTreeMap<Vec<bool>, usize> = BTreeMap::new();
    for (cell, &weight) in weights.iter().enumerate() {
        if weight <= 0.0 {
            continue;
        }
        let answers = cell_answers(catalogue, cell).expect("cell < cells");
        let eligible: Vec<bool> = catalogue
            .ids()
            .map(|c| open[c.index()] && fits(c) && catalogue.is_eligible(c, &answers))
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
            });
        } else if let Some(&i) = by_pattern.get(&eligible) {
            types[i].weight += weight;
        } else {
            by_pattern.insert(eligible.clone(), types.len());
            types.push(Type {
                weight,
                eligible,
                answers: None,
            });
        }
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Category;
    use crate::schema::{Rule, Schema};

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    fn women_and_men() -> Catalogue {
        let schema = Schema::default_survey();
        let women = Rule::parse(&schema, "gender=female").unwrap();
        Catalogue::new(
            schema,
            vec![
                Category::new("a", "A", 1.0, 60.0)
                    .with_target(100)
                    .with_eligibility(women.clone()),
                Category::new("b", "B", 1.0, 60.0)
                    .with_target(100)
                    .with_eligibility(women),
                Category::new("c", "C", 1.0, 60.0).with_target(10),
            ],
        )
        .unwrap()
    }

    #[test]
    fn no_extras_equals_the_closed_form() {
        let catalogue = women_and_men();
        for budget in [60.0, 120.0, 480.0] {
            let lp = lower_bound_lp(&catalogue, &LpOptions::new(budget)).unwrap();
            let closed = catalogue.lower_bound(budget, None);
            assert!(rel(lp.respondents, closed) < 1e-9, "{budget}: {lp:?}");
            assert!(rel(lp.closed_form, closed) < 1e-12);
        }
    }

    #[test]
    fn merging_cells_by_eligibility() {
        let lp = lower_bound_lp(&women_and_men(), &LpOptions::new(480.0)).unwrap();
        // Women and men: two patterns out of 18 cells.
        assert_eq!(lp.types, 2);
        let exposure = LpOptions {
            exposure_tolerance: Some(2.0),
            ..LpOptions::new(480.0)
        };
        assert_eq!(
            lower_bound_lp(&women_and_men(), &exposure).unwrap().types,
            18
        );
    }

    #[test]
    fn per_type_qualifier_cap_binds() {
        let options = LpOptions {
            max_qualifiers: Some(1),
            ..LpOptions::new(480.0)
        };
        let lp = lower_bound_lp(&women_and_men(), &options).unwrap();
        assert!(rel(lp.respondents, 400.0) < 1e-9, "{lp:?}");
        assert!(lp.limits.contains(&Limit::Qualifiers));
    }

    #[test]
    fn nothing_to_do_and_impossible() {
        let catalogue = women_and_men();
        let none = LpOptions {
            remaining: Some(vec![0.0; 3]),
            ..LpOptions::new(480.0)
        };
        assert_eq!(lower_bound_lp(&catalogue, &none).unwrap().respondents, 0.0);
        // Only men in the supply: the women-only quotas can never fill.
        let men = LpOptions {
            supply: Some((0..18).map(|c| if c >= 9 { 1.0 } else { 0.0 }).collect()),
            ..LpOptions::new(480.0)
        };
        assert!(
            lower_bound_lp(&catalogue, &men)
                .unwrap()
                .respondents
                .is_infinite()
        );
    }

    #[test]
    fn cells_are_row_major() {
        let catalogue = women_and_men();
        let schema = catalogue.schema();
        let a = cell_answers(&catalogue, 17).unwrap();
        assert_eq!(
            schema.response_name(QuestionId(0), a.get(QuestionId(0)).unwrap()),
            "male"
        );
        assert_eq!(
            schema.response_name(QuestionId(2), a.get(QuestionId(2)).unwrap()),
            "south"
        );
        let b = cell_answers(&catalogue, 1).unwrap();
        assert_eq!(
            schema.response_name(QuestionId(2), b.get(QuestionId(2)).unwrap()),
            "central"
        );
        assert!(cell_answers(&catalogue, 18).is_none());
    }

    #[test]
    fn bad_options_are_named() {
        let catalogue = women_and_men();
        let cases: Vec<(LpOptions, &str)> = vec![
            (LpOptions::new(f64::NAN), "budget_seconds"),
            (
                LpOptions {
                    max_qualifiers: Some(0),
                    ..LpOptions::new(480.0)
                },
                "max_qualifiers",
            ),
            (
                LpOptions {
                    exposure_tolerance: Some(-0.1),
                    ..LpOptions::new(480.0)
                },
                "exposure_tolerance",
            ),
            (
                LpOptions {
                    hard_cap_seconds: Some(0.0),
                    ..LpOptions::new(480.0)
                },
                "hard_cap_seconds",
            ),
        ];
        for (options, field) in cases {
            match lower_bound_lp(&catalogue, &options) {
                Err(LpBoundError::Option { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let short = LpOptions {
            supply: Some(vec![1.0; 5]),
            ..LpOptions::new(480.0)
        };
        assert_eq!(
            lower_bound_lp(&catalogue, &short),
            Err(LpBoundError::SupplyLength {
                expected: 18,
                got: 5
            })
        );
        let twice = LpOptions {
            exclusion_groups: vec![vec![CategoryId::from_index(0), CategoryId::from_index(0)]],
            ..LpOptions::new(480.0)
        };
        assert!(matches!(
            lower_bound_lp(&catalogue, &twice),
            Err(LpBoundError::Exclusion {
                group: 0,
                problem: "is named twice",
                ..
            })
        ));
        let unknown = LpOptions {
            exclusion_groups: vec![vec![CategoryId::from_index(7)]],
            ..LpOptions::new(480.0)
        };
        let message = lower_bound_lp(&catalogue, &unknown)
            .unwrap_err()
            .to_string();
        assert!(message.contains("#7 is not in the catalogue"), "{message}");
    }

    #[test]
    fn a_completes_cap_raises_the_bound() {
        // Two categories of incidence 1, 100 completes each, 1 s long: time is free, so N* is
        // 100; one complete per respondent makes it 200.
        let catalogue = Catalogue::new(
            Schema::default_survey(),
            vec![
                Category::new("a", "A", 1.0, 1.0).with_target(100),
                Category::new("b", "B", 1.0, 1.0).with_target(100),
            ],
        )
        .unwrap();
        let free = lower_bound_lp(&catalogue, &LpOptions::new(480.0)).unwrap();
        assert!(
            (free.respondents - 100.0).abs() < 1e-6,
            "{}",
            free.respondents
        );
        let capped = lower_bound_lp(
            &catalogue,
            &LpOptions {
                max_completes: Some(1),
                ..LpOptions::new(480.0)
            },
        )
        .unwrap();
        assert!(
            (capped.respondents - 200.0).abs() < 1e-6,
            "{}",
            capped.respondents
        );
        assert!(capped.limits.contains(&Limit::Completes));
        let zero = LpOptions {
            max_completes: Some(0),
            ..LpOptions::new(480.0)
        };
        assert!(matches!(
            lower_bound_lp(&catalogue, &zero),
            Err(LpBoundError::Option {
                field: "max_completes",
                ..
            })
        ));
    }

    #[test]
    fn runs_take_the_catalogues_exclusion_groups() {
        let mut a = Category::new("a", "A", 1.0, 1.0).with_target(100);
        let mut b = Category::new("b", "B", 1.0, 1.0).with_target(100);
        a.exclusion_group = Some("beer".into());
        b.exclusion_group = Some("beer".into());
        let catalogue = Catalogue::new(Schema::default_survey(), vec![a, b]).unwrap();
        let options = LpOptions::for_run(&crate::sim::Settings::default(), &catalogue);
        assert_eq!(
            options.exclusion_groups,
            vec![vec![CategoryId::from_index(0), CategoryId::from_index(1)]]
        );
        let lp = lower_bound_lp(&catalogue, &options).unwrap();
        assert!((lp.respondents - 200.0).abs() < 1e-6, "{}", lp.respondents);
    }
}
