//! `--json`: the report as one JSON object on stdout. Other programs read it: the field names,
//! their nesting and their order are a contract (fields are serialised in declaration order).

use quotaroute::catalogue::{Catalogue, QuotaCell};
use quotaroute::sim::Summary;
use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::context::{Context, Outcome};
use crate::realism::categories_over;

/// The whole document.
#[derive(serde::Serialize)]
pub struct Report<'a> {
    version: &'static str,
    categories: usize,
    runs: u32,
    seed: u64,
    hard_cap: f64,
    mean_budget: Option<f64>,
    lower_bound: f64,
    lower_bound_lp: f64,
    /// The LP bound without the quota-tree node limits (equal without cells).
    lower_bound_lp_without_nodes: f64,
    lower_bound_p95: f64,
    /// Quota cells (tree nodes) over all categories.
    quota_nodes: usize,
    success_at: u64,
    settings: SettingsJson<'a>,
    policies: Vec<PolicyJson<'a>>,
    elapsed_seconds: f64,
    /// With real fieldwork only.
    #[serde(skip_serializing_if = "Option::is_none")]
    month_respondents: Option<u64>,
    /// With real fieldwork only.
    #[serde(skip_serializing_if = "Option::is_none")]
    cap_risk: Option<f64>,
    /// With real fieldwork only.
    #[serde(skip_serializing_if = "Option::is_none")]
    uncertain_loi: Option<bool>,
    /// With `--robustness` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    robustness: Option<Vec<RobustnessJson<'a>>>,
}

/// The settings simulated, as given and as resolved.
#[derive(serde::Serialize)]
struct SettingsJson<'a> {
    catalogue: &'a str,
    policies: &'a [String],
    hard_cap: f64,
    mean_budget: Option<f64>,
    max_qualifiers: Option<u32>,
    incidence_error: f64,
    learn: Option<f64>,
    oracle: bool,
    qualifier_seconds: Option<f64>,
    max_respondents: Option<u64>,
    success_at: Option<u64>,
    robustness: bool,
    threads: Option<usize>,
    loi_spread: Option<f64>,
    speed_spread: f64,
    abandon_rate: f64,
    cap_risk: f64,
    supply_drift: f64,
    month_respondents: Option<u64>,
    demographic_weight: Option<f64>,
    demographic_hold: Option<f64>,
    exclusion_groups: &'a [Vec<String>],
    max_completes: Option<u32>,
    returning_share: f64,
    pacing: Option<f64>,
    baseline: bool,
    ignore_mins: bool,
}

/// One policy's result.
#[derive(serde::Serialize)]
struct PolicyJson<'a> {
    policy: &'a str,
    respondents_median: u64,
    respondents_p95: u64,
    respondents_mean: f64,
    ratio_median: f64,
    ratio_p95: f64,
    ratio_median_lp: f64,
    ratio_p95_lp: f64,
    mean_seconds: f64,
    max_seconds: f64,
    mean_qualifiers: f64,
    max_qualifiers: u32,
    worst_divergence: f64,
    success_rate: f64,
    failures: u32,
    /// Σ over runs and quota-tree nodes of completes past the node's max (0).
    tree_overfill: u64,
    /// Respondents until every node's min is met (the respondent limit for a run that never
    /// meets them; 0 without mins).
    mins_met_median: u64,
    mins_met_p95: u64,
    /// Per quota-tree node, its fill over the runs (catalogues with cells only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    nodes: Vec<NodeJson<'a>>,
    /// When `random` was among the policies (not in the robustness rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    saving_vs_random_p95: Option<f64>,
    /// With real fieldwork only.
    #[serde(skip_serializing_if = "Option::is_none")]
    realism: Option<RealismJson>,
}

/// One quota-tree node's fill under one policy.
#[derive(serde::Serialize)]
struct NodeJson<'a> {
    category: &'a str,
    cell: &'a str,
    min: u32,
    /// `null`: no max.
    max: Option<u32>,
    completed_median: u32,
    completed_min: u32,
    completed_max: u32,
}

/// What the realism options did to one policy.
#[derive(serde::Serialize)]
struct RealismJson {
    over_cap_share: f64,
    abandon_share: f64,
    worst_divergence_by_question: Keyed<f64>,
    categories_over_0_05: usize,
    divergence: Keyed<Vec<f64>>,
    /// With `--baseline` only.
    #[serde(flatten)]
    rules: Option<RulesCost>,
}

/// What the rules cost against the same world without them.
#[derive(serde::Serialize)]
struct RulesCost {
    without_rules_median: u64,
    without_rules_p95: u64,
    rules_cost_median: i64,
    rules_cost_p95: i64,
    rules_cost_p95_share: f64,
}

/// One incidence scale of the robustness check.
#[derive(serde::Serialize)]
struct RobustnessJson<'a> {
    incidence_scale: f64,
    policies: Vec<PolicyJson<'a>>,
}

/// A JSON object whose keys come from the data (questions, categories), in their order.
struct Keyed<T>(Vec<(String, T)>);

impl<T: Serialize> Serialize for Keyed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'a> Report<'a> {
    /// The document of a finished simulation.
    pub fn new(ctx: &'a Context, outcome: &'a Outcome) -> Report<'a> {
        let (settings, catalogue) = (&ctx.settings, &ctx.catalogue);
        let random_p95 = outcome.random_p95();
        let policies = outcome
            .summaries
            .iter()
            .enumerate()
            .map(|(i, s)| PolicyJson {
                realism: ctx
                    .realistic
                    .then(|| RealismJson::new(catalogue, s, outcome.baseline.get(i))),
                ..PolicyJson::new(ctx, s, random_p95)
            })
            .collect();
        let robustness = ctx.scenario.robustness.then(|| {
            outcome
                .robustness
                .iter()
                .map(|(scale, row)| RobustnessJson {
                    incidence_scale: *scale,
                    policies: row.iter().map(|s| PolicyJson::new(ctx, s, None)).collect(),
                })
                .collect()
        });
        let realistic = ctx.realistic;
        Report {
            version: env!("CARGO_PKG_VERSION"),
            categories: catalogue.len(),
            runs: settings.runs,
            seed: settings.seed,
            hard_cap: settings.hard_cap,
            mean_budget: settings.mean_budget,
            lower_bound: round(ctx.bound, 1),
            lower_bound_lp: round(ctx.bound_lp, 1),
            lower_bound_lp_without_nodes: round(ctx.bound_lp_without_nodes, 1),
            quota_nodes: catalogue.cell_count(),
            lower_bound_p95: round(ctx.bound_p95, 1),
            success_at: ctx.success_at,
            settings: SettingsJson::new(ctx),
            policies,
            elapsed_seconds: round(outcome.elapsed, 2),
            month_respondents: realistic.then(|| settings.month(catalogue)),
            cap_risk: realistic.then_some(settings.cap_risk),
            uncertain_loi: realistic.then(|| settings.uncertain_loi(catalogue)),
            robustness,
        }
    }
}

impl<'a> SettingsJson<'a> {
    fn new(ctx: &'a Context) -> SettingsJson<'a> {
        let (scenario, settings) = (&ctx.scenario, &ctx.settings);
        SettingsJson {
            catalogue: &ctx.source,
            policies: &scenario.policies,
            hard_cap: settings.hard_cap,
            mean_budget: settings.mean_budget,
            max_qualifiers: settings.max_qualifiers,
            incidence_error: settings.incidence_error,
            learn: scenario.learn,
            oracle: settings.oracle,
            qualifier_seconds: scenario.qualifier_seconds,
            max_respondents: settings.max_respondents,
            success_at: scenario.success_at,
            robustness: scenario.robustness,
            threads: settings.threads,
            loi_spread: scenario.loi_spread,
            speed_spread: settings.speed_spread,
            abandon_rate: settings.abandon_rate,
            cap_risk: settings.cap_risk,
            supply_drift: settings.supply_drift,
            month_respondents: settings.month_respondents,
            demographic_weight: scenario.demographic_weight,
            demographic_hold: scenario.demographic_hold,
            exclusion_groups: &scenario.exclusion_groups,
            max_completes: settings.max_completes,
            returning_share: settings.returning_share,
            pacing: settings.pacing.map(|p| p.lead),
            baseline: scenario.baseline,
            ignore_mins: settings.ignore_mins,
        }
    }
}

impl<'a> PolicyJson<'a> {
    fn new(ctx: &'a Context, s: &'a Summary, random_p95: Option<u64>) -> PolicyJson<'a> {
        let (bound, bound_lp) = (ctx.bound, ctx.bound_lp);
        let (median, p95) = (s.respondents_median as f64, s.respondents_p95 as f64);
        PolicyJson {
            policy: &s.policy,
            respondents_median: s.respondents_median,
            respondents_p95: s.respondents_p95,
            respondents_mean: round(s.respondents_mean, 1),
            ratio_median: round(median / bound, 4),
            ratio_p95: round(p95 / bound, 4),
            ratio_median_lp: round(median / bound_lp, 4),
            ratio_p95_lp: round(p95 / bound_lp, 4),
            mean_seconds: round(s.mean_seconds, 2),
            max_seconds: round(s.max_seconds, 2),
            mean_qualifiers: round(s.mean_qualifiers, 2),
            max_qualifiers: s.max_qualifiers,
            worst_divergence: round(s.worst_divergence(), 4),
            success_rate: round(s.success_rate(ctx.success_at), 4),
            failures: s.failures,
            tree_overfill: s.tree_overfill,
            mins_met_median: s.mins_met_median,
            mins_met_p95: s.mins_met_p95,
            nodes: nodes(&ctx.catalogue, s),
            saving_vs_random_p95: random_p95.map(|r| round(100.0 * (1.0 - p95 / r as f64), 2)),
            realism: None,
        }
    }
}

impl RealismJson {
    /// Interviews passing the cap, abandoned, the exposure divergence per question (worst
    /// category, and every category), and what the rules cost against the run without them.
    fn new(catalogue: &Catalogue, s: &Summary, baseline: Option<&Summary>) -> RealismJson {
        let schema = catalogue.schema();
        let questions = schema.len();
        let worst = s.worst_divergence_by_question(questions);
        let by_question = schema
            .questions()
            .iter()
            .zip(&worst)
            .map(|(q, d)| (q.name().to_owned(), round(*d, 4)))
            .collect();
        let categories = catalogue
            .ids()
            .map(|c| {
                let row = &s.divergence[c.index() * questions..(c.index() + 1) * questions];
                let row = row.iter().map(|d| round(*d, 4)).collect();
                (catalogue.category(c).key.clone(), row)
            })
            .collect();
        RealismJson {
            over_cap_share: round(s.over_cap_share, 5),
            abandon_share: round(s.abandon_share, 5),
            worst_divergence_by_question: Keyed(by_question),
            categories_over_0_05: categories_over(s, questions, 0.05),
            divergence: Keyed(categories),
            rules: baseline.map(|b| RulesCost {
                without_rules_median: b.respondents_median,
                without_rules_p95: b.respondents_p95,
                rules_cost_median: s.respondents_median as i64 - b.respondents_median as i64,
                rules_cost_p95: s.respondents_p95 as i64 - b.respondents_p95 as i64,
                rules_cost_p95_share: round(
                    s.respondents_p95 as f64 / b.respondents_p95.max(1) as f64 - 1.0,
                    4,
                ),
            }),
        }
    }
}

/// Every quota-tree node's fill under one policy, in the catalogue's cell order.
fn nodes<'a>(catalogue: &'a Catalogue, s: &Summary) -> Vec<NodeJson<'a>> {
    (0..catalogue.cell_count())
        .filter_map(|i| {
            let (c, cell) = catalogue.cell(i)?;
            let at = |v: &[u32]| v.get(i).copied().unwrap_or(0);
            Some(NodeJson {
                category: &catalogue.category(c).key,
                cell: &cell.key,
                min: cell.min,
                max: (cell.max != QuotaCell::NO_MAX).then_some(cell.max),
                completed_median: at(&s.node_completed_median),
                completed_min: at(&s.node_completed_min),
                completed_max: at(&s.node_completed_max),
            })
        })
        .collect()
}

/// `x` rounded to `digits` decimals.
fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}
