//! What every section of the report reads: the catalogue with the scenario applied, the
//! settings, the routers and the lower bounds ([`Context`]); and what the simulation found
//! ([`Outcome`]).

use std::time::Instant;

use quotaroute::bound::{FloorOptions, floors};
use quotaroute::bound::{LpOptions, lower_bound_lp};
use quotaroute::catalogue::Catalogue;
use quotaroute::route::{POLICY_NAMES, Router, policy_with};
use quotaroute::schema::Schema;
use quotaroute::sim::{Scenario, Settings, Summary, trace};

use crate::args::Options;
use crate::plot;
use crate::progress::Progress;

/// The bundled catalogue: `fake_category_data.csv`, the public 77-category survey catalogue
/// of the greedy-survey-allocator exercise (see `examples/data/README.md`).
const BUNDLED: &str = include_str!("../data/fake_category_data.csv");

/// The simulated world and its bounds.
pub struct Context {
    /// The scenario, every flag applied.
    pub scenario: Scenario,
    /// The catalogue as read, before the scenario's changes (for the run without rules).
    pub base: Catalogue,
    /// The catalogue with the scenario's changes.
    pub catalogue: Catalogue,
    /// Where the catalogue came from, for the report.
    pub source: String,
    /// The simulation settings of the scenario.
    pub settings: Settings,
    /// The policies compared, by name.
    pub names: Vec<String>,
    /// The policies compared.
    pub routers: Vec<Box<dyn Router>>,
    /// The closed-form lower bound N* on the mean.
    pub bound: f64,
    /// The LP bound (eligibility, per-respondent caps, quota-tree node limits).
    pub bound_lp: f64,
    /// The same LP without the node limits.
    pub bound_lp_without_nodes: f64,
    /// The stochastic floor for the p95.
    pub bound_p95: f64,
    /// A run succeeds when every quota is full within this many respondents.
    pub success_at: u64,
    /// Whether any real-fieldwork option is on (adds the realism sections).
    pub realistic: bool,
}

impl Context {
    /// Reads the catalogue, applies the scenario, builds the routers and computes the bounds.
    pub fn new(scenario: Scenario) -> Result<Context, String> {
        // Every flag and document value, checked once before anything is read or built.
        scenario.validate().map_err(|e| e.to_string())?;
        let text = match &scenario.catalogue {
            Some(path) => crate::input::read_document(
                std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?,
                path,
            )?,
            None => BUNDLED.to_owned(),
        };
        let source = scenario
            .catalogue
            .clone()
            .unwrap_or_else(|| "bundled catalogue".to_owned());
        let base = read_catalogue(&text).map_err(|e| format!("{source}: {e}"))?;
        let catalogue = scenario
            .apply(&base)
            .map_err(|e| format!("scenario: {e}"))?;
        let settings = scenario.settings();
        // An impossible catalogue would make every run (and the month of the risk report)
        // simulate without end.
        settings
            .check_catalogue(&catalogue)
            .map_err(|e| format!("{source}: {e}"))?;
        let names: Vec<String> = if scenario.policies.iter().any(|p| p == "all") {
            POLICY_NAMES.iter().map(|s| s.to_string()).collect()
        } else {
            scenario.policies.clone()
        };
        let routers = names
            .iter()
            .map(|n| policy_with(n, &scenario.policy_options()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let bound = catalogue.lower_bound(settings.budget_for_bound(), settings.max_qualifiers);
        // With the terms of categories that cannot share a respondent under the hard cap, where
        // lengths are certain (a short draw could let two of them share one).
        let floor = FloorOptions {
            budget_seconds: settings.budget_for_bound(),
            hard_cap_seconds: (!settings.uncertain_loi(&catalogue)).then_some(settings.hard_cap),
            max_qualifiers: settings.max_qualifiers,
            draws: 4000,
            seed: settings.seed,
        };
        let bound_p95 = floors(&catalogue, &floor, &[0.95])[0];
        let lp = LpOptions::for_run(&settings, &catalogue);
        let bound_lp = lower_bound_lp(&catalogue, &lp)
            .map_err(|e| e.to_string())?
            .respondents;
        // What the node limits add to the bound: the same LP without them.
        let bound_lp_without_nodes = if catalogue.has_cells() {
            let plain = LpOptions {
                node_limits: false,
                ..lp
            };
            lower_bound_lp(&catalogue, &plain)
                .map_err(|e| e.to_string())?
                .respondents
        } else {
            bound_lp
        };
        let success_at = scenario
            .success_at
            .unwrap_or_else(|| (1.05 * bound).ceil() as u64);
        let realistic = scenario.is_realistic()
            || settings.uncertain_loi(&catalogue)
            || catalogue.has_exclusion_groups();
        Ok(Context {
            scenario,
            base,
            catalogue,
            source,
            settings,
            names,
            routers,
            bound,
            bound_lp,
            bound_lp_without_nodes,
            bound_p95,
            success_at,
            realistic,
        })
    }

    /// Respondents in the month of the risk report (at least 4).
    pub fn month(&self) -> u64 {
        // The library's one definition (⌈1.05 · N*⌉ unless set), checked finite at `new`.
        self.settings.month(&self.catalogue).max(4)
    }
}

/// The catalogue in `text`: a catalogue document (JSON, which may carry quota trees) when it
/// starts with `{`, else the CSV on the default survey schema.
fn read_catalogue(text: &str) -> Result<Catalogue, String> {
    let text = crate::input::without_bom(text);
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("catalogue document: {e}"))
    } else {
        Catalogue::from_csv(Schema::default_survey(), text).map_err(|e| e.to_string())
    }
}

/// Incidence scales of the robustness check (1.0 is the main run).
const SCALES: [f64; 3] = [0.8, 1.0, 1.2];

/// What the simulation found.
pub struct Outcome {
    /// One summary per policy, in the order of [`Context::routers`].
    pub summaries: Vec<Summary>,
    /// The same without the rules (`--baseline`), or empty.
    pub baseline: Vec<Summary>,
    /// Per incidence scale, one summary per policy (`--robustness`), or empty.
    pub robustness: Vec<(f64, Vec<Summary>)>,
    /// The risk report's text (text output only).
    pub risk: Option<String>,
    /// Seconds the simulations took.
    pub elapsed: f64,
}

impl Outcome {
    /// Runs every section `options` asks for, showing progress on stderr.
    pub fn collect(ctx: &Context, options: &Options) -> Result<Outcome, String> {
        let robustness_wanted = ctx.scenario.robustness;
        let batches = ctx.routers.len()
            * (1 + usize::from(ctx.scenario.baseline) + 2 * usize::from(robustness_wanted));
        let progress = Progress::new(batches as u64 * u64::from(ctx.settings.runs));
        let started = Instant::now();
        let mut summaries = Vec::new();
        for router in &ctx.routers {
            summaries.push(progress.simulate(
                &ctx.catalogue,
                router.as_ref(),
                &ctx.settings,
                "",
            )?);
        }
        if let Some(path) = &options.plot {
            draw(ctx, path)?;
        }
        let baseline = if ctx.scenario.baseline {
            without_rules(ctx, &progress)?
        } else {
            Vec::new()
        };
        let robustness = if robustness_wanted {
            robustness(ctx, &progress, &summaries)?
        } else {
            Vec::new()
        };
        // Cheap (one run to 75% of the month): kept in the default text report.
        let risk = match ctx.routers.first() {
            Some(first) if !options.json => {
                Some(crate::risk::report(ctx, first.as_ref(), ctx.month())?)
            }
            _ => None,
        };
        Ok(Outcome {
            summaries,
            baseline,
            robustness,
            risk,
            elapsed: started.elapsed().as_secs_f64(),
        })
    }

    /// The p95 of `random`, when it was among the policies.
    pub fn random_p95(&self) -> Option<u64> {
        self.summaries
            .iter()
            .find(|s| s.policy == "random")
            .map(|s| s.respondents_p95)
    }
}

/// Draws the pictures of run 0 of each policy into `path`.
fn draw(ctx: &Context, path: &str) -> Result<(), String> {
    let traces = ctx
        .routers
        .iter()
        .map(|r| trace(&ctx.catalogue, r.as_ref(), &ctx.settings, 0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let runs: Vec<plot::Run<'_>> = ctx
        .routers
        .iter()
        .zip(&traces)
        .map(|(r, trace)| plot::Run {
            policy: r.name(),
            trace,
        })
        .collect();
    let marks = plot::Marks {
        n_star: ctx.bound,
        n_lp: ctx.bound_lp,
        hard_cap: ctx.settings.hard_cap,
    };
    plot::draw(path, &ctx.catalogue, &runs, &marks)?;
    eprintln!("wrote {path}");
    Ok(())
}

/// What the rules cost: the same world without them.
fn without_rules(ctx: &Context, progress: &Progress) -> Result<Vec<Summary>, String> {
    let plain = ctx.scenario.without_rules();
    let plain_catalogue = plain
        .apply(&ctx.base)
        .map_err(|e| format!("scenario: {e}"))?;
    let settings = plain.settings();
    ctx.names
        .iter()
        .map(|name| {
            let router = policy_with(name, &plain.policy_options()).map_err(|e| e.to_string())?;
            progress.simulate(
                &plain_catalogue,
                router.as_ref(),
                &settings,
                " without rules",
            )
        })
        .collect()
}

/// True incidence scaled while the routers believe the catalogue.
fn robustness(
    ctx: &Context,
    progress: &Progress,
    summaries: &[Summary],
) -> Result<Vec<(f64, Vec<Summary>)>, String> {
    let mut rows = Vec::new();
    for scale in SCALES {
        if scale == 1.0 {
            rows.push((scale, summaries.to_vec()));
            continue;
        }
        let scaled = Settings {
            incidence_scale: scale,
            ..ctx.settings.clone()
        };
        let label = format!(" x{scale}");
        let row = ctx
            .routers
            .iter()
            .map(|router| progress.simulate(&ctx.catalogue, router.as_ref(), &scaled, &label))
            .collect::<Result<Vec<_>, _>>()?;
        rows.push((scale, row));
    }
    Ok(rows)
}
