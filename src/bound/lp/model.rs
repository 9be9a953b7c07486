//! The LP itself: its variables and rows, and what its optimal plan says (the bound, the
//! plan's shows and the constraints that set the bound).

use microlp::{ComparisonOp, LinearExpr, OptimizationDirection, Problem, Variable};

use super::cuts::{CutRow, Solved, clique_rhs};
use super::{Limit, LpBound, Setup};
use crate::catalogue::{CategoryId, reference_shares};
use crate::schema::QuestionId;

/// x(t, c) per type and category: `None` where the type may not be shown the category.
pub(super) type Shows = Vec<Vec<Option<Variable>>>;

/// One exposure row set: the category, the question and the reference mix it is held to.
pub(super) type ExposureRow = (CategoryId, QuestionId, Vec<f64>);

/// One node-limit row: the quota cell (global index), its category, and the completes it
/// is held to — at most (a max) or at least (a min).
#[derive(Clone, Copy, Debug)]
pub(super) struct NodeRow {
    pub(super) cell: usize,
    pub(super) category: usize,
    pub(super) completes: f64,
    pub(super) at_most: bool,
}

/// The built LP.
pub(super) struct Model {
    pub(super) problem: Problem,
    /// u = s · N*: the scaled inverse of the respondents, maximised.
    pub(super) scale: Variable,
    pub(super) x: Shows,
    pub(super) exposure_rows: Vec<ExposureRow>,
    pub(super) node_rows: Vec<NodeRow>,
}

/// The solver variables the LP needs: the scale, one per type and category it may be shown,
/// and one per open category and response for exposure.
pub(super) fn variables_needed(setup: &Setup<'_>) -> usize {
    let responses: usize = setup
        .catalogue
        .schema()
        .questions()
        .iter()
        .map(|q| q.responses().len())
        .sum();
    let auxiliaries = if setup.options.exposure_tolerance.is_some() {
        setup.open.iter().filter(|&&o| o).count() * responses
    } else {
        0
    };
    1 + auxiliaries
        + setup
            .types
            .iter()
            .map(|t| t.eligible.iter().filter(|&&e| e).count())
            .sum::<usize>()
}

impl Model {
    /// Every variable and row of the LP (see the [module docs](super)), in a fixed order.
    pub(super) fn build(setup: &Setup<'_>) -> Model {
        let (catalogue, k) = (setup.catalogue, setup.catalogue.len());
        let mut problem = Problem::new(OptimizationDirection::Maximize);
        let scale = problem.add_var(1.0, (0.0, f64::INFINITY));
        let x: Shows = setup
            .types
            .iter()
            .map(|t| {
                (0..k)
                    .map(|c| t.eligible[c].then(|| problem.add_var(0.0, (0.0, 1.0))))
                    .collect()
            })
            .collect();
        // Completes: Σ_t w p x ≥ (T / N0) · u, with s = u / N0.
        for c in (0..k).filter(|&c| setup.open[c]) {
            let p = catalogue.incidence(CategoryId::from_index(c));
            let mut expr: LinearExpr = x
                .iter()
                .zip(&setup.types)
                .filter_map(|(row, t)| row[c].map(|v| (v, t.weight * p)))
                .collect();
            expr.add(scale, -setup.remaining[c] / setup.closed_form);
            problem.add_constraint(expr, ComparisonOp::Ge, 0.0);
        }
        // Mean time, in budgets so the coefficients stay near 1.
        let budget = setup.options.budget_seconds;
        let time_expr: LinearExpr = x
            .iter()
            .zip(&setup.types)
            .flat_map(|(row, t)| {
                row.iter()
                    .enumerate()
                    .filter_map(|(c, v)| v.map(|v| (v, t.weight * setup.show_seconds[c] / budget)))
            })
            .collect();
        problem.add_constraint(time_expr, ComparisonOp::Le, 1.0);
        for row in &x {
            add_type_rows(setup, &mut problem, row);
        }
        let exposure_rows = add_exposure_rows(setup, &mut problem, &x);
        let node_rows = add_node_rows(setup, &mut problem, &x, scale);
        Model {
            problem,
            scale,
            x,
            exposure_rows,
            node_rows,
        }
    }
}

/// The node limits: for every limited quota cell of category c, the completes of the types in
/// it, Σ_{t ∋ cell} w(t) · p(c) · x(t, c), at most max · s and at least min · s (the mins only
/// without `remaining`: what is left of a min is not known). Homogeneous in (x, s), as the
/// completes rows are.
fn add_node_rows(
    setup: &Setup<'_>,
    problem: &mut Problem,
    x: &Shows,
    scale: Variable,
) -> Vec<NodeRow> {
    let catalogue = setup.catalogue;
    // Every limited node gets its rows, even one no type falls in: its min then makes the
    // bound infinite, as it should.
    let limited = super::limited_nodes(catalogue, setup.options, &setup.open);
    let mut rows = Vec::new();
    for cell in limited {
        let Some((c, quota)) = catalogue.cell(cell) else {
            continue;
        };
        let p = catalogue.incidence(c);
        let completes = || -> LinearExpr {
            x.iter()
                .zip(&setup.types)
                .filter(|(_, t)| t.nodes.binary_search(&cell).is_ok())
                .filter_map(|(row, t)| row[c.index()].map(|v| (v, t.weight * p)))
                .collect()
        };
        let mut add = |bound: u32, at_most: bool| {
            let mut expr = completes();
            expr.add(scale, -f64::from(bound) / setup.closed_form);
            let op = if at_most {
                ComparisonOp::Le
            } else {
                ComparisonOp::Ge
            };
            problem.add_constraint(expr, op, 0.0);
            rows.push(NodeRow {
                cell,
                category: c.index(),
                completes: f64::from(bound),
                at_most,
            });
        };
        if quota.max != crate::catalogue::QuotaCell::NO_MAX {
            add(quota.max, true);
        }
        if quota.min > 0 && setup.options.remaining.is_none() {
            add(quota.min, false);
        }
    }
    rows
}

/// One type's rows: the hard cap, the qualifier cap, the exclusion groups and the completes cap.
fn add_type_rows(setup: &Setup<'_>, problem: &mut Problem, row: &[Option<Variable>]) {
    let (catalogue, options) = (setup.catalogue, setup.options);
    if let Some(cap) = options.hard_cap_seconds {
        let expr: LinearExpr = row
            .iter()
            .enumerate()
            .filter_map(|(c, v)| v.map(|v| (v, setup.show_seconds[c] / cap)))
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

/// Exposure: the responses' excesses over the reference and their shortfalls both sum to
/// half the L1 distance (Σ_r E_r = E and Σ_r ref_r = 1), so L1 ≤ tol is exactly
/// Σ_r d_r ≤ tol/2 · E with d_r ≥ E_r − ref_r · E, d_r ≥ 0: one row per response, where the
/// two-sided |·| would need two (and took the solver twice as long).
fn add_exposure_rows(setup: &Setup<'_>, problem: &mut Problem, x: &Shows) -> Vec<ExposureRow> {
    let mut exposure_rows = Vec::new();
    let Some(tolerance) = setup.options.exposure_tolerance else {
        return exposure_rows;
    };
    let catalogue = setup.catalogue;
    let reference = reference_shares(catalogue);
    let schema = catalogue.schema();
    for c in (0..catalogue.len()).filter(|&c| setup.open[c]) {
        for q in schema.question_ids() {
            let want = &reference[c * schema.len() + q.index()];
            let mut ds = Vec::with_capacity(want.len());
            for (r, &share) in want.iter().enumerate() {
                let d = problem.add_var(0.0, (0.0, f64::INFINITY));
                // d − (E_r − ref_r · E) ≥ 0, one term per variable.
                let mut above: LinearExpr = x
                    .iter()
                    .zip(&setup.types)
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
            for (row, t) in x.iter().zip(&setup.types) {
                if let Some(v) = row[c] {
                    sum.add(v, -0.5 * tolerance * t.weight);
                }
            }
            problem.add_constraint(sum, ComparisonOp::Le, 0.0);
            exposure_rows.push((CategoryId::from_index(c), q, want.clone()));
        }
    }
    exposure_rows
}

/// The bound and the plan at the optimum `solved`, with the constraints that hold with
/// equality there.
pub(super) fn read_plan(
    setup: &Setup<'_>,
    x: &Shows,
    scale: Variable,
    exposure_rows: &[ExposureRow],
    node_rows: &[NodeRow],
    solved: Solved,
) -> LpBound {
    let values = &solved.values;
    // u ≤ 1 holds exactly (the LP only adds constraints to the closed form's); round-off above
    // 1 would put the bound below the closed form.
    let u = values[scale.idx()].min(1.0);
    let value = |v: &Option<Variable>| v.map_or(0.0, |v| values[v.idx()]);
    let cuts = u32::try_from(solved.cut_rows.len()).unwrap_or(u32::MAX);
    if u <= 1e-12 {
        return LpBound {
            cut_rounds: solved.cut_rounds,
            cuts,
            cuts_converged: solved.cuts_converged,
            ..setup.empty(f64::INFINITY)
        };
    }
    let mut plan_shows = vec![0.0; setup.catalogue.len()];
    let (mut seconds, mut qualifiers) = (0.0, 0.0);
    // Each type's expected seconds and qualifiers in the plan.
    let mut per_type = Vec::with_capacity(x.len());
    for (row, t) in x.iter().zip(&setup.types) {
        let (mut type_seconds, mut type_shows) = (0.0, 0.0);
        for (c, v) in row.iter().enumerate() {
            let xv = value(v);
            plan_shows[c] += t.weight * xv;
            type_seconds += xv * setup.show_seconds[c];
            type_shows += xv;
        }
        seconds += t.weight * type_seconds;
        qualifiers += t.weight * type_shows;
        per_type.push((type_seconds, type_shows));
    }
    let plan = Plan {
        x,
        values,
        shows: &plan_shows,
        per_type: &per_type,
        seconds,
    };
    let mut limits = tight_limits(setup, &plan, exposure_rows, &solved.cut_rows);
    limits.extend(tight_nodes(setup, &plan, node_rows, setup.closed_form / u));
    LpBound {
        respondents: setup.closed_form / u,
        closed_form: setup.closed_form,
        shows: plan_shows,
        seconds_per_respondent: seconds,
        qualifiers_per_respondent: qualifiers,
        types: setup.types.len(),
        limits,
        cut_rounds: solved.cut_rounds,
        cuts,
        cuts_converged: solved.cuts_converged,
    }
}

/// The node rows that hold with equality in the plan of `respondents` respondents.
fn tight_nodes(
    setup: &Setup<'_>,
    plan: &Plan<'_>,
    node_rows: &[NodeRow],
    respondents: f64,
) -> Vec<Limit> {
    let catalogue = setup.catalogue;
    node_rows
        .iter()
        .filter(|row| {
            let p = catalogue.incidence(CategoryId::from_index(row.category));
            let per_respondent: f64 = plan
                .x
                .iter()
                .zip(&setup.types)
                .filter(|(_, t)| t.nodes.binary_search(&row.cell).is_ok())
                .map(|(x, t)| t.weight * p * plan.value(&x[row.category]))
                .sum();
            let planned = per_respondent * respondents;
            (planned - row.completes).abs() <= 1e-6 * row.completes.max(1.0)
        })
        .map(|row| {
            if row.at_most {
                Limit::NodeMax(row.cell)
            } else {
                Limit::NodeMin(row.cell)
            }
        })
        .collect()
}

/// The optimal plan as [`tight_limits`] reads it.
struct Plan<'a> {
    x: &'a Shows,
    values: &'a [f64],
    /// Expected shows of each category per respondent.
    shows: &'a [f64],
    /// (seconds, qualifiers) per type.
    per_type: &'a [(f64, f64)],
    /// Expected seconds per respondent.
    seconds: f64,
}

impl Plan<'_> {
    fn value(&self, v: &Option<Variable>) -> f64 {
        v.map_or(0.0, |v| self.values[v.idx()])
    }
}

/// The constraints that hold with equality in the plan (up to a relative 1e-7).
fn tight_limits(
    setup: &Setup<'_>,
    plan: &Plan<'_>,
    exposure_rows: &[ExposureRow],
    cut_rows: &[CutRow],
) -> Vec<Limit> {
    let (catalogue, options) = (setup.catalogue, setup.options);
    let mut limits = Vec::new();
    let tight = |lhs: f64, rhs: f64| lhs >= rhs - 1e-7 * rhs.abs().max(1.0);
    let (mut cap_tight, mut quals_tight, mut completes_tight) = (false, false, false);
    let mut groups_tight = vec![false; options.exclusion_groups.len()];
    for (row, &(type_seconds, type_shows)) in plan.x.iter().zip(plan.per_type) {
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
                .map(|(c, v)| plan.value(v) * catalogue.incidence(CategoryId::from_index(c)))
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
                .map(|c| plan.value(&row[c.index()]) * catalogue.incidence(*c))
                .sum();
            if tight(
                completes,
                clique_rhs(present().map(|c| catalogue.incidence(*c))),
            ) {
                groups_tight[g] = true;
            }
        }
    }
    if tight(plan.seconds, options.budget_seconds) {
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
    for c in (0..catalogue.len()).filter(|&c| setup.open[c]) {
        let share = setup.eligible_share[c];
        if share > 0.0 && tight(plan.shows[c], share) {
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
            .map(|&c| plan.value(&plan.x[*t][c]) * catalogue.incidence(CategoryId::from_index(c)))
            .sum();
        tight(lhs, *rhs)
    }) {
        limits.push(Limit::Incompatibility);
    }
    let tolerance = options.exposure_tolerance.unwrap_or(0.0);
    // The auxiliaries only bound the distance from above: measure it on the plan itself.
    for (c, q, want) in exposure_rows {
        let mut by_response = vec![0.0; want.len()];
        for (row, t) in plan.x.iter().zip(&setup.types) {
            if let Some(answers) = &t.answers {
                by_response[answers[q.index()]] += t.weight * plan.value(&row[c.index()]);
            }
        }
        let e = plan.shows[c.index()];
        let distance: f64 = by_response
            .iter()
            .zip(want)
            .map(|(er, w)| (er / e - w).abs())
            .sum();
        if e > 1e-12 && tight(distance, tolerance) {
            limits.push(Limit::Exposure(*c, *q));
        }
    }
    limits
}
