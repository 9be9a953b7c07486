//! The text report: the settings and bounds, the pre-flight check, the policy table, the
//! robustness table (`--robustness`) and, with real fieldwork, what the rules did.

use std::fmt::Write as _;

use quotaroute::catalogue::QuotaCell;

use crate::context::{Context, Outcome};

/// The whole text report.
pub fn report(ctx: &Context, outcome: &Outcome) -> String {
    let mut out = String::new();
    header(&mut out, ctx);
    preflight(&mut out, ctx);
    table(&mut out, ctx, outcome);
    trees(&mut out, ctx, outcome);
    robustness(&mut out, ctx, outcome);
    let _ = writeln!(out, "\nfinished in {:.1} s", outcome.elapsed);
    if ctx.realistic {
        crate::realism::report(&mut out, ctx, outcome);
    }
    if let Some(risk) = &outcome.risk {
        out.push_str(risk);
    }
    out
}

/// What was simulated, and the lower bounds.
fn header(out: &mut String, ctx: &Context) {
    let settings = &ctx.settings;
    let _ = writeln!(
        out,
        "quotaroute {} — {} categories from {}, {} runs per policy, seed {}, hard cap {} s{}{}",
        env!("CARGO_PKG_VERSION"),
        ctx.catalogue.len(),
        ctx.source,
        settings.runs,
        settings.seed,
        settings.hard_cap,
        settings
            .max_qualifiers
            .map(|k| format!(", at most {k} qualifiers"))
            .unwrap_or_default(),
        settings
            .mean_budget
            .map(|m| format!(", banking to a mean of {m} s"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "Lower bound N* = {:.1} respondents (mean); LP bound (eligibility, per-respondent caps, node limits) = {:.1};\nstochastic floor for p95 N*95 = {:.1}\n",
        ctx.bound, ctx.bound_lp, ctx.bound_p95
    );
}

/// Whether every category can complete under the hard cap, and the rarest one.
fn preflight(out: &mut String, ctx: &Context) {
    let catalogue = &ctx.catalogue;
    let _ = writeln!(out, "Pre-flight check:");
    let preflight = catalogue.preflight(ctx.settings.hard_cap);
    if preflight.is_clean() {
        let hardest = preflight
            .categories
            .iter()
            .max_by(|a, b| a.expected_respondents.total_cmp(&b.expected_respondents));
        if let Some(h) = hardest {
            let _ = writeln!(
                out,
                "  every category can complete; the rarest, `{}` ({}), needs {:.0} respondents on its own\n",
                h.key,
                catalogue.category(h.category).name,
                h.expected_respondents
            );
        }
    } else {
        for b in preflight.blocked() {
            let problems: Vec<String> = b.problems.iter().map(|p| p.to_string()).collect();
            let _ = writeln!(
                out,
                "  BLOCKED `{}` ({}): {}",
                b.key,
                catalogue.category(b.category).name,
                problems.join("; ")
            );
        }
        let _ = writeln!(out);
    }
}

/// One row per policy: respondents needed against the bounds, seconds, qualifiers, exposure.
fn table(out: &mut String, ctx: &Context, outcome: &Outcome) {
    let (bound, bound_lp, success_at) = (ctx.bound, ctx.bound_lp, ctx.success_at);
    let random_p95 = outcome.random_p95();
    let _ = writeln!(
        out,
        "{:<20} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>8} {:>7} {:>9} {:>8}",
        "policy",
        "median",
        "p95",
        "med/N*",
        "p95/N*",
        "p95/LP",
        "vs random",
        "mean s",
        "max s",
        "quals",
        "worst L1",
        "success"
    );
    for s in &outcome.summaries {
        let saving = random_p95
            .map(|r| {
                format!(
                    "{:+.1}%",
                    -100.0 * (1.0 - s.respondents_p95 as f64 / r as f64)
                )
            })
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>8} {:>8.3} {:>8.3} {:>8.3} {:>9} {:>8.1} {:>8.1} {:>7.2} {:>9.3} {:>7.1}%",
            s.policy,
            s.respondents_median,
            s.respondents_p95,
            s.respondents_median as f64 / bound,
            s.respondents_p95 as f64 / bound,
            s.respondents_p95 as f64 / bound_lp,
            saving,
            s.mean_seconds,
            s.max_seconds,
            s.mean_qualifiers,
            s.worst_divergence(),
            100.0 * s.success_rate(success_at),
        );
    }
    let _ = writeln!(
        out,
        "\n(median and p95 are nearest-rank over runs; \"vs random\" is the change in p95 respondents;\n success = every quota full within {success_at} respondents; worst L1 = the largest mean exposure\n divergence of any category on any question, against the eligible supply's shares)"
    );
    if let Some(first) = outcome.summaries.iter().find(|s| s.failures > 0) {
        let _ = writeln!(
            out,
            "warning: {} runs of {} hit the respondent limit",
            first.failures, first.policy
        );
    }
}

/// Quota trees (catalogues with cells only): overfill, when every min was met, and how the
/// nodes filled, per policy; the LP bound with and without the node limits.
fn trees(out: &mut String, ctx: &Context, outcome: &Outcome) {
    let catalogue = &ctx.catalogue;
    let nodes = catalogue.cell_count();
    if nodes == 0 {
        return;
    }
    let with_min: Vec<usize> = (0..nodes)
        .filter(|&i| catalogue.cell(i).is_some_and(|(_, c)| c.min > 0))
        .collect();
    let with_max: Vec<usize> = (0..nodes)
        .filter(|&i| {
            catalogue
                .cell(i)
                .is_some_and(|(_, c)| c.max != QuotaCell::NO_MAX)
        })
        .collect();
    let _ = writeln!(
        out,
        "\nQuota trees: {nodes} nodes ({} with a min, {} with a max){}; LP bound {:.1} with the node limits, {:.1} without",
        with_min.len(),
        with_max.len(),
        if ctx.settings.ignore_mins {
            "; routed ignoring mins"
        } else {
            ""
        },
        ctx.bound_lp,
        ctx.bound_lp_without_nodes
    );
    let _ = writeln!(
        out,
        "{:<20} {:>9} {:>10} {:>10} {:>14} {:>16}",
        "policy", "overfill", "mins med", "mins p95", "nodes at max", "mins short"
    );
    for s in &outcome.summaries {
        let at = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(0);
        // Nodes at their max in the median run, and nodes below their min in some run.
        let full = with_max
            .iter()
            .filter(|&&i| {
                catalogue
                    .cell(i)
                    .is_some_and(|(_, c)| at(&s.node_completed_median, i) >= c.max)
            })
            .count();
        let short = with_min
            .iter()
            .filter(|&&i| {
                catalogue
                    .cell(i)
                    .is_some_and(|(_, c)| at(&s.node_completed_min, i) < c.min)
            })
            .count();
        let _ = writeln!(
            out,
            "{:<20} {:>9} {:>10} {:>10} {:>14} {:>16}",
            s.policy,
            s.tree_overfill,
            s.mins_met_median,
            s.mins_met_p95,
            format!("{full}/{}", with_max.len()),
            format!("{short}/{}", with_min.len()),
        );
    }
    let _ = writeln!(
        out,
        "(overfill = completes past a node's max over all runs; mins med/p95 = respondents until every\n min is met, the respondent limit when a run never meets them; nodes at max = at their max in\n the median run; mins short = below their min in some run; per-node fill in --json `nodes`)"
    );
}

/// p95 and success per policy and incidence scale (`--robustness`).
fn robustness(out: &mut String, ctx: &Context, outcome: &Outcome) {
    let (robustness, success_at) = (&outcome.robustness, ctx.success_at);
    if robustness.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nRobustness: true incidence scaled while routers believe the catalogue (p95 respondents / success within {success_at})"
    );
    let _ = write!(out, "{:<20}", "policy");
    for (scale, _) in robustness {
        let _ = write!(out, " {:>20}", format!("x{scale:.1}"));
    }
    let _ = writeln!(out);
    for (i, s) in outcome.summaries.iter().enumerate() {
        let _ = write!(out, "{:<20}", s.policy);
        for (_, row) in robustness {
            let r = &row[i];
            let _ = write!(
                out,
                " {:>20}",
                format!(
                    "{} / {:.0}%",
                    r.respondents_p95,
                    100.0 * r.success_rate(success_at)
                )
            );
        }
        let _ = writeln!(out);
    }
}
