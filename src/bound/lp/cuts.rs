//! Incompatibility cuts (see the [module docs](super#incompatibility-cuts)): the solve, and
//! the cutting-plane loop that adds violated clique rows and re-solves warm.

use std::collections::BTreeSet;

use microlp::{ComparisonOp, LinearExpr, Problem, Variable};

use super::{LpBoundError, LpOptions, MAX_CUT_ROUNDS, Setup, fits};
use crate::catalogue::{Catalogue, CategoryId};

/// The most violated cliques added per respondent type and round: the most violated first, so
/// a round fixes the worst of each type without flooding the solver with near-duplicates.
const CUTS_PER_TYPE: usize = 3;

/// How far (in completes per respondent of the type) a clique row must be violated to be cut:
/// above the solver's round-off, so the loop does not chase it.
const CUT_VIOLATION: f64 = 1e-9;

/// A cut: the type, its clique's members (sorted category indices) and the right side.
pub(super) type CutRow = (usize, Vec<usize>, f64);

/// The last round solved: its values (by solver variable) and the cuts that led there.
pub(super) struct Solved {
    pub(super) values: Vec<f64>,
    pub(super) cut_rows: Vec<CutRow>,
    pub(super) cut_rounds: u32,
    pub(super) cuts_converged: bool,
}

/// Solves the LP, then (with [`LpOptions::incompatibility_cuts`] and a cap or exclusion
/// groups) runs the cutting-plane loop.
///
/// Every round's LP is a relaxation of the fluid problem (each cut is valid), so the values of
/// the last round solved are always a valid bound: a failed re-solve keeps them and reports
/// the loop as not converged rather than failing the call.
pub(super) fn solve(
    setup: &Setup<'_>,
    problem: Problem,
    x: &[Vec<Option<Variable>>],
) -> Result<Solved, LpBoundError> {
    let (catalogue, options) = (setup.catalogue, setup.options);
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
    let mut solved = Solved {
        values: solution.iter().map(|(_, v)| v).collect(),
        cut_rows: Vec::new(),
        cut_rounds: 0,
        cuts_converged: true,
    };
    if !(options.incompatibility_cuts
        && (options.hard_cap_seconds.is_some() || !options.exclusion_groups.is_empty()))
    {
        return Ok(solved);
    }
    let incidence: Vec<f64> = catalogue.ids().map(|c| catalogue.incidence(c)).collect();
    let conflict = Conflicts::new(catalogue, options, &setup.open, &|c| {
        fits(catalogue, options, c)
    });
    let mut seen: BTreeSet<(usize, Vec<usize>)> = BTreeSet::new();
    let mut solution = Some(solution);
    loop {
        let found = separate(x, &solved.values, &incidence, &conflict, &seen);
        if found.is_empty() {
            break;
        }
        if solved.cut_rounds == MAX_CUT_ROUNDS {
            solved.cuts_converged = false;
            break;
        }
        let mut next = solution.take();
        for (t, members, rhs) in &found {
            let Some(current) = next.take() else { break };
            let expr: LinearExpr = members
                .iter()
                .filter_map(|&c| x[*t][c].map(|v| (v, incidence[c])))
                .collect();
            next = current
                .add_constraint(expr, ComparisonOp::Le, *rhs)
                .ok()
                .and_then(|outcome| outcome.into_solution().ok());
        }
        let Some(next) = next else {
            solved.cuts_converged = false;
            break;
        };
        solved.cut_rounds += 1;
        solved.values = next.iter().map(|(_, v)| v).collect();
        for (t, members, rhs) in found {
            seen.insert((t, members.clone()));
            solved.cut_rows.push((t, members, rhs));
        }
        solution = Some(next);
    }
    Ok(solved)
}

/// 1 − Π(1 − p): the chance that at least one of independent coins of these incidences comes
/// up, which bounds the expected completes of a set of pairwise incompatible categories.
pub(super) fn clique_rhs(incidences: impl Iterator<Item = f64>) -> f64 {
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
