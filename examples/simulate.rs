//! Simulates a month of fieldwork for each routing policy and reports how many respondents each
//! needs against the fluid lower bound.
//!
//! ```text
//! cargo run --release --example simulate                      # bundled 77-category catalogue
//! cargo run --release --example simulate -- --policy greedy --runs 400 --json
//! cargo run --release --example simulate -- --catalogue my.csv --hard-cap 600 --robustness
//! ```
//!
//! Flags: `--catalogue FILE`, `--runs N`, `--seed S`, `--policy NAME|all`, `--hard-cap SECONDS`
//! (alias `--budget`), `--max-qualifiers K`, `--qualifier-seconds S`, `--success-at N`,
//! `--max-respondents N`, `--threads N`, `--robustness`, `--scenario FILE` (a JSON document of
//! these settings; flags override it), `--json` (one JSON object on stdout), `--plot FILE.svg`
//! (pictures of run 0 of each policy, see `support/plot.rs`).
//! Real fieldwork (docs/guide.md, "Real fieldwork"; scenario documents in docs/scenarios/):
//! `--loi-spread CV`, `--speed-spread CV`, `--abandon-rate P`, `--cap-risk A`,
//! `--supply-drift D`, `--demographic-weight K`, `--exclusion-group ID,ID,..`,
//! `--max-completes N`, `--returning-share R`, `--pacing LEAD`, `--month-respondents M`,
//! `--baseline`.
//! A bad file or flag prints one line on stderr and exits with code 2.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use quotaroute::bound::{LpOptions, lower_bound_lp};
use quotaroute::catalogue::Catalogue;
use quotaroute::risk::{Entity, RequirementKind, RiskModel};
use quotaroute::route::{POLICY_NAMES, policy_with};
use quotaroute::schema::Schema;
#[allow(deprecated)]
use quotaroute::sim::{
    FloorOptions, Scenario, Settings, Summary, checkpoints, monte_carlo, stochastic_floors,
};
use serde_json::{Value, json};

#[path = "support/plot.rs"]
mod plot;

/// The bundled catalogue: `fake_category_data.csv`, the public 77-category survey catalogue
/// of the greedy-survey-allocator exercise (see `examples/data/README.md`).
const BUNDLED: &str = include_str!("data/fake_category_data.csv");

struct Options {
    scenario: Scenario,
    json: bool,
    plot: Option<String>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("simulate: {message}");
            ExitCode::from(2)
        }
    }
}

fn parse_args() -> Result<Options, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The scenario file is the base; every other flag overrides it, wherever it stands.
    let mut scenario = Scenario::default();
    if let Some(i) = args.iter().position(|a| a == "--scenario") {
        let path = args.get(i + 1).ok_or("--scenario needs a FILE")?;
        let text = std::fs::read_to_string(path).map_err(|e| format!("--scenario {path}: {e}"))?;
        scenario = serde_json::from_str(&text).map_err(|e| format!("--scenario {path}: {e}"))?;
    }
    let mut json = false;
    let mut plot = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{flag}: `{v}` is not a valid number"))
        }
        match flag.as_str() {
            "--scenario" => {
                value()?;
            }
            "--catalogue" => scenario.catalogue = Some(value()?),
            "--runs" => scenario.runs = num(flag, value()?)?,
            "--seed" => scenario.seed = num(flag, value()?)?,
            "--policy" => scenario.policies = vec![value()?],
            "--hard-cap" | "--budget" => scenario.hard_cap = num(flag, value()?)?,
            "--mean-budget" => scenario.mean_budget = Some(num(flag, value()?)?),
            "--incidence-error" => scenario.incidence_error = num(flag, value()?)?,
            "--learn" => scenario.learn = Some(scenario.learn.unwrap_or(DEFAULT_LEARNING)),
            "--learn-strength" => scenario.learn = Some(num(flag, value()?)?),
            "--oracle" => scenario.oracle = true,
            "--max-qualifiers" => scenario.max_qualifiers = Some(num(flag, value()?)?),
            "--qualifier-seconds" => scenario.qualifier_seconds = Some(num(flag, value()?)?),
            "--success-at" => scenario.success_at = Some(num(flag, value()?)?),
            "--max-respondents" => scenario.max_respondents = Some(num(flag, value()?)?),
            "--threads" => scenario.threads = Some(num(flag, value()?)?),
            "--robustness" => scenario.robustness = true,
            "--month-respondents" => scenario.month_respondents = Some(num(flag, value()?)?),
            "--loi-spread" => scenario.loi_spread = Some(num(flag, value()?)?),
            "--speed-spread" => scenario.speed_spread = num(flag, value()?)?,
            "--abandon-rate" => scenario.abandon_rate = num(flag, value()?)?,
            "--cap-risk" => scenario.cap_risk = num(flag, value()?)?,
            "--supply-drift" => scenario.supply_drift = num(flag, value()?)?,
            "--demographic-weight" => scenario.demographic_weight = Some(num(flag, value()?)?),
            "--demographic-hold" => scenario.demographic_hold = Some(num(flag, value()?)?),
            "--exclusion-group" => scenario
                .exclusion_groups
                .push(value()?.split(',').map(|k| k.trim().to_owned()).collect()),
            "--max-completes" => scenario.max_completes = Some(num(flag, value()?)?),
            "--returning-share" => scenario.returning_share = num(flag, value()?)?,
            "--pacing" => {
                scenario.pacing = Some(quotaroute::sim::Pacing {
                    lead: num(flag, value()?)?,
                })
            }
            "--baseline" => scenario.baseline = true,
            "--json" => json = true,
            "--plot" => plot = Some(value()?),
            "-h" | "--help" => {
                println!("{}", HELP.trim());
                std::process::exit(0);
            }
            other => return Err(format!("unknown flag `{other}` (see --help)")),
        }
    }
    Ok(Options {
        scenario,
        json,
        plot,
    })
}

/// Prior strength of learned incidence: the catalogue's belief is worth this many respondents.
const DEFAULT_LEARNING: f64 = 50.0;

const HELP: &str = "
simulate: Monte-Carlo fieldwork simulation of quotaroute's routing policies.
  --catalogue FILE        catalogue CSV (default: the bundled 77 categories)
  --runs N                runs per policy (default 200)
  --seed S                base seed (default 1)
  --policy NAME|all       greedy, seed-greedy, seed-greedy-squared, random, packing, weighted,
                          or all (default: all but weighted)
  --hard-cap SECONDS      seconds per respondent, never exceeded (alias --budget; default 480)
  --mean-budget S         time banking: mean seconds per respondent at most S (with --hard-cap)
  --max-qualifiers K      cap on qualifiers per respondent
  --incidence-error F     true incidences off by a factor in [1-F, 1+F], drawn per run and category
  --learn                 route greedy and packing on incidence learned from qualifier answers
  --learn-strength K      prior strength of --learn, in respondents (default 50)
  --oracle                route on the true incidences (to measure what wrong beliefs cost)
  --qualifier-seconds S   qualifier seconds for every category
  --success-at N          success = all quotas full within N respondents (default ceil(1.05 N*))
  --max-respondents N     stop a run there and count it failed (default 10 N*)
  --threads N             worker threads (results do not depend on it)
  --robustness            also run with true incidence x0.8 and x1.2
  --month-respondents M   respondents in the 30-day month: of the risk report, the drift,
                          pacing and returning respondents (default ceil(1.05 N*))
real fieldwork (each off by default; see docs/guide.md, \"Real fieldwork\"):
  --loi-spread CV         every category's LOI log-normal around its mean with this CV
                          (or the catalogue's loi_spread column)
  --speed-spread CV       respondent speed: one log-normal factor (mean 1) on all their LOIs
  --cap-risk A            with uncertain LOI: P(an interview passes the cap) <= A (default 0.05)
  --abandon-rate P        a qualified respondent abandons the category survey with chance P
  --supply-drift D        the 18-34 share moves from 1/3+D to 1/3-D over the month
  --demographic-weight K  exposure targets = the eligible population's shares, weight power K
  --demographic-hold H    with the weight: hold a category from a respondent whose answer's
                          exposure share is more than H above its target
  --exclusion-group IDS   comma-separated category ids: complete one, never offered the others
                          (repeatable; or the catalogue's exclusion_group column)
  --max-completes N       at most N category surveys completed per respondent
  --returning-share R     share of respondents returning from the last wave (cooldown on
                          the categories they completed then)
  --pacing LEAD           fills follow a linear curve over the month, at most LEAD ahead
  --baseline              also run without the rules (weight, exclusions, completes cap,
                          cooldowns, pacing) and report what they cost
  --scenario FILE         JSON document of these settings; flags override it
  --json                  one JSON object on stdout
  --plot FILE.svg         draw fill curves, interview seconds and exposure mixes (run 0)";

fn run() -> Result<(), String> {
    let Options {
        scenario,
        json,
        plot,
    } = parse_args()?;
    let text = match &scenario.catalogue {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
        None => BUNDLED.to_owned(),
    };
    let source = scenario.catalogue.as_deref().unwrap_or("bundled catalogue");
    let base = Catalogue::from_csv(Schema::default_survey(), &text)
        .map_err(|e| format!("{source}: {e}"))?;
    let catalogue = scenario
        .apply(&base)
        .map_err(|e| format!("scenario: {e}"))?;
    let settings = scenario.settings();
    settings.validate().map_err(|e| e.to_string())?;
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
    #[allow(deprecated)]
    let bound_p95 = stochastic_floors(
        &catalogue,
        &FloorOptions {
            budget_seconds: settings.budget_for_bound(),
            hard_cap_seconds: (!settings.uncertain_loi(&catalogue)).then_some(settings.hard_cap),
            max_qualifiers: settings.max_qualifiers,
            draws: 4000,
            seed: settings.seed,
        },
        &[0.95],
    )[0];
    let bound_lp = lower_bound_lp(&catalogue, &LpOptions::for_run(&settings, &catalogue))
        .map_err(|e| e.to_string())?
        .respondents;
    let success_at = scenario
        .success_at
        .unwrap_or_else(|| (1.05 * bound).ceil() as u64);
    let started = Instant::now();

    let mut summaries = Vec::new();
    for router in &routers {
        summaries.push(simulate(&catalogue, router.as_ref(), &settings, "")?);
    }
    if let Some(path) = &plot {
        let traces = routers
            .iter()
            .map(|r| quotaroute::sim::trace(&catalogue, r.as_ref(), &settings, 0))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let runs: Vec<plot::Run<'_>> = routers
            .iter()
            .zip(&traces)
            .map(|(r, trace)| plot::Run {
                policy: r.name(),
                trace,
            })
            .collect();
        let marks = plot::Marks {
            n_star: bound,
            n_lp: bound_lp,
            hard_cap: settings.hard_cap,
        };
        plot::draw(path, &catalogue, &runs, &marks)?;
        eprintln!("wrote {path}");
    }
    // What the rules cost: the same world without them.
    let mut baseline: Vec<Summary> = Vec::new();
    if scenario.baseline {
        let plain = scenario.without_rules();
        let plain_catalogue = plain.apply(&base).map_err(|e| format!("scenario: {e}"))?;
        for name in &names {
            let router = policy_with(name, &plain.policy_options()).map_err(|e| e.to_string())?;
            baseline.push(simulate(
                &plain_catalogue,
                router.as_ref(),
                &plain.settings(),
                " without rules",
            )?);
        }
    }
    let realistic = scenario.is_realistic()
        || settings.uncertain_loi(&catalogue)
        || catalogue.has_exclusion_groups();
    let robustness_wanted = scenario.robustness || !json;
    let mut robustness: Vec<(f64, Vec<Summary>)> = Vec::new();
    if robustness_wanted {
        for scale in [0.8, 1.0, 1.2] {
            if scale == 1.0 {
                robustness.push((scale, summaries.clone()));
                continue;
            }
            let scaled = Settings {
                incidence_scale: scale,
                ..settings.clone()
            };
            let mut row = Vec::new();
            for router in &routers {
                row.push(simulate(
                    &catalogue,
                    router.as_ref(),
                    &scaled,
                    &format!(" x{scale}"),
                )?);
            }
            robustness.push((scale, row));
        }
    }
    let month = scenario
        .month_respondents
        .unwrap_or((1.05 * bound).ceil() as u64)
        .max(4);
    let risk = if json {
        String::new()
    } else {
        risk_report(&catalogue, routers[0].as_ref(), &settings, month)?
    };
    let elapsed = started.elapsed().as_secs_f64();
    let random_p95 = summaries
        .iter()
        .find(|s| s.policy == "random")
        .map(|s| s.respondents_p95);

    if json {
        let policies: Vec<Value> = summaries
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut v = policy_json(s, bound, bound_lp, success_at, random_p95);
                if realistic {
                    v["realism"] = realism_json(&catalogue, s, baseline.get(i));
                }
                v
            })
            .collect();
        let mut doc = json!({
            "version": env!("CARGO_PKG_VERSION"),
            "categories": catalogue.len(),
            "runs": settings.runs,
            "seed": settings.seed,
            "hard_cap": settings.hard_cap,
            "mean_budget": settings.mean_budget,
            "lower_bound": round(bound, 1),
            "lower_bound_lp": round(bound_lp, 1),
            "lower_bound_p95": round(bound_p95, 1),
            "success_at": success_at,
            "settings": settings_json(&scenario, &settings, source),
            "policies": policies,
            "elapsed_seconds": round(elapsed, 2),
        });
        if realistic {
            doc["month_respondents"] = json!(settings.month(&catalogue));
            doc["cap_risk"] = json!(settings.cap_risk);
            doc["uncertain_loi"] = json!(settings.uncertain_loi(&catalogue));
        }
        if scenario.robustness {
            doc["robustness"] = Value::Array(
                robustness
                    .iter()
                    .map(|(scale, row)| {
                        json!({
                            "incidence_scale": scale,
                            "policies": row.iter().map(|s| policy_json(s, bound, bound_lp, success_at, None)).collect::<Vec<_>>(),
                        })
                    })
                    .collect(),
            );
        }
        println!("{doc}");
        return Ok(());
    }

    let mut out = String::new();
    report(
        &mut out,
        &catalogue,
        source,
        &settings,
        bound,
        bound_lp,
        bound_p95,
        success_at,
        &summaries,
        random_p95,
        &robustness,
        elapsed,
    );
    if realistic {
        realism_report(
            &mut out, &catalogue, &scenario, &settings, &summaries, &baseline,
        );
    }
    print!("{out}{risk}");
    Ok(())
}

fn simulate(
    catalogue: &Catalogue,
    router: &dyn quotaroute::route::Router,
    settings: &Settings,
    label: &str,
) -> Result<Summary, String> {
    let total = settings.runs;
    let name = format!("{}{label}", router.name());
    let tty = std::io::stderr().is_terminal();
    let shown = AtomicU32::new(0);
    let progress = |done: u32| {
        // Redraw at most 50 times per policy, and only on a terminal.
        let step = (total / 50).max(1);
        if tty
            && (done.is_multiple_of(step) || done == total)
            && shown.fetch_max(done, Ordering::Relaxed) < done
        {
            let width = 30;
            let filled = (done as usize * width) / total as usize;
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r{name:<26} [{}{}] {done}/{total}",
                "#".repeat(filled),
                "-".repeat(width - filled)
            );
            let _ = err.flush();
        }
    };
    let summary = monte_carlo(catalogue, router, settings, &progress).map_err(|e| e.to_string())?;
    if tty {
        eprintln!();
    } else {
        eprintln!("{name}: {total} runs done");
    }
    Ok(summary)
}

/// The five categories most at risk after 25%, 50% and 75% of a simulated 30-day month of
/// `month` respondents (run 0 of the first policy).
fn risk_report(
    catalogue: &Catalogue,
    router: &dyn quotaroute::route::Router,
    settings: &Settings,
    month: u64,
) -> Result<String, String> {
    use std::fmt::Write as _;
    let shares = [0.25, 0.5, 0.75];
    let at: Vec<u64> = shares
        .iter()
        .map(|f| (f * month as f64).round() as u64)
        .collect();
    let counts = checkpoints(catalogue, router, settings, 0, &at).map_err(|e| e.to_string())?;
    let model = RiskModel::seed().with_requirement(RequirementKind::Remaining);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nRisk during a 30-day month of {month} respondents ({}, run 0). Metrics: requirement =\n(target − completes) / target (the share still to do: emptier categories score riskier),\npace = (target − completes) / days left; weights requirement 0.4, pace 0.3 (no quality or fit\nis simulated, so those weights add nothing). Scarcity routing fills common categories last on\npurpose, so early in the month they lead the ranking while on course.",
        router.name()
    );
    for ((share, n), completes) in shares.iter().zip(&at).zip(&counts) {
        let days_left = 30.0 * (1.0 - share);
        let entities = catalogue
            .ids()
            .filter(|&c| catalogue.category(c).target > 0)
            .map(|c| {
                let category = catalogue.category(c);
                Entity::new(
                    format!("{} {}", category.key, category.name),
                    f64::from(category.target),
                    f64::from(completes[c.index()]),
                    days_left,
                )
                .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let report = model.rank(&entities).map_err(|e| e.to_string())?;
        let _ = writeln!(
            out,
            "\nafter {:.0}% of the month ({n} respondents, day {:.1}, {:.1} days left):",
            100.0 * share,
            30.0 * share,
            days_left
        );
        let _ = writeln!(
            out,
            "  {:>4}  {:<44} {:>8} {:>12} {:>8}",
            "rank", "category", "score", "requirement", "pace"
        );
        for row in report.top(5) {
            let metric = |name: &str| {
                report
                    .metrics_of(row)
                    .find(|(m, _)| *m == name)
                    .and_then(|(_, v)| v)
                    .map_or("-".to_owned(), |v| format!("{v:.3}"))
            };
            let _ = writeln!(
                out,
                "  {:>4}  {:<44} {:>8.3} {:>12} {:>8}",
                row.rank(),
                row.name(),
                row.score(),
                metric("requirement"),
                metric("pace")
            );
        }
    }
    Ok(out)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

fn policy_json(
    s: &Summary,
    bound: f64,
    bound_lp: f64,
    success_at: u64,
    random_p95: Option<u64>,
) -> Value {
    let mut v = json!({
        "policy": s.policy,
        "respondents_median": s.respondents_median,
        "respondents_p95": s.respondents_p95,
        "respondents_mean": round(s.respondents_mean, 1),
        "ratio_median": round(s.respondents_median as f64 / bound, 4),
        "ratio_p95": round(s.respondents_p95 as f64 / bound, 4),
        "ratio_median_lp": round(s.respondents_median as f64 / bound_lp, 4),
        "ratio_p95_lp": round(s.respondents_p95 as f64 / bound_lp, 4),
        "mean_seconds": round(s.mean_seconds, 2),
        "max_seconds": round(s.max_seconds, 2),
        "mean_qualifiers": round(s.mean_qualifiers, 2),
        "max_qualifiers": s.max_qualifiers,
        "worst_divergence": round(s.worst_divergence(), 4),
        "success_rate": round(s.success_rate(success_at), 4),
        "failures": s.failures,
    });
    if let Some(r) = random_p95 {
        v["saving_vs_random_p95"] = json!(round(
            100.0 * (1.0 - s.respondents_p95 as f64 / r as f64),
            2
        ));
    }
    v
}

/// What the realism options did to one policy: interviews passing the cap, abandoned, the
/// exposure divergence per question (worst category, and every category), and what the rules
/// cost against the run without them.
fn realism_json(catalogue: &Catalogue, s: &Summary, baseline: Option<&Summary>) -> Value {
    let schema = catalogue.schema();
    let questions = schema.len();
    let worst = s.worst_divergence_by_question(questions);
    let by_question: serde_json::Map<String, Value> = schema
        .questions()
        .iter()
        .zip(&worst)
        .map(|(q, d)| (q.name().to_owned(), json!(round(*d, 4))))
        .collect();
    let categories: serde_json::Map<String, Value> = catalogue
        .ids()
        .map(|c| {
            let row = &s.divergence[c.index() * questions..(c.index() + 1) * questions];
            (
                catalogue.category(c).key.clone(),
                json!(row.iter().map(|d| round(*d, 4)).collect::<Vec<_>>()),
            )
        })
        .collect();
    let mut v = json!({
        "over_cap_share": round(s.over_cap_share, 5),
        "abandon_share": round(s.abandon_share, 5),
        "worst_divergence_by_question": by_question,
        "categories_over_0_05": categories_over(s, questions, 0.05),
        "divergence": categories,
    });
    if let Some(b) = baseline {
        v["without_rules_median"] = json!(b.respondents_median);
        v["without_rules_p95"] = json!(b.respondents_p95);
        v["rules_cost_median"] = json!(s.respondents_median as i64 - b.respondents_median as i64);
        v["rules_cost_p95"] = json!(s.respondents_p95 as i64 - b.respondents_p95 as i64);
        v["rules_cost_p95_share"] = json!(round(
            s.respondents_p95 as f64 / b.respondents_p95.max(1) as f64 - 1.0,
            4
        ));
    }
    v
}

/// Categories whose mean divergence passes `limit` on some question.
fn categories_over(s: &Summary, questions: usize, limit: f64) -> usize {
    s.divergence
        .chunks(questions.max(1))
        .filter(|row| row.iter().any(|d| *d > limit))
        .count()
}

fn realism_report(
    out: &mut String,
    catalogue: &Catalogue,
    scenario: &Scenario,
    settings: &Settings,
    summaries: &[Summary],
    baseline: &[Summary],
) {
    use std::fmt::Write as _;
    let mut what = Vec::new();
    if settings.uncertain_loi(catalogue) {
        what.push(format!(
            "uncertain LOI (spread {}, speed spread {}), P(pass the cap) <= {}",
            scenario
                .loi_spread
                .map_or("from the catalogue".to_owned(), |cv| cv.to_string()),
            settings.speed_spread,
            settings.cap_risk
        ));
    }
    if settings.abandon_rate > 0.0 {
        what.push(format!("abandon rate {}", settings.abandon_rate));
    }
    if settings.supply_drift != 0.0 {
        what.push(format!("supply drift {}", settings.supply_drift));
    }
    if let Some(k) = scenario.demographic_weight {
        what.push(format!("demographic weight power {k}"));
        if let Some(h) = scenario.demographic_hold {
            what.push(format!("hold above target + {h}"));
        }
    }
    if catalogue.has_exclusion_groups() {
        what.push("exclusion groups".to_owned());
    }
    if let Some(k) = settings.max_completes {
        what.push(format!("at most {k} completes"));
    }
    if settings.returning_share > 0.0 {
        what.push(format!("{} returning", settings.returning_share));
    }
    if let Some(p) = settings.pacing {
        what.push(format!("pacing (lead {})", p.lead));
    }
    let schema = catalogue.schema();
    let _ = writeln!(
        out,
        "\nReal fieldwork: {}; month = {} respondents",
        what.join(", "),
        settings.month(catalogue)
    );
    let names: Vec<&str> = schema.questions().iter().map(|q| q.name()).collect();
    let _ = writeln!(
        out,
        "{:<20} {:>10} {:>10} {:>22} {:>10} {:>16}",
        "policy",
        "passed cap",
        "abandoned",
        format!("worst L1 {}", names.join("/")),
        "cats>0.05",
        "rules cost p95"
    );
    for (i, s) in summaries.iter().enumerate() {
        let worst = s.worst_divergence_by_question(schema.len());
        let cost = baseline.get(i).map_or("-".to_owned(), |b| {
            format!(
                "{:+} ({:+.1}%)",
                s.respondents_p95 as i64 - b.respondents_p95 as i64,
                100.0 * (s.respondents_p95 as f64 / b.respondents_p95.max(1) as f64 - 1.0)
            )
        });
        let _ = writeln!(
            out,
            "{:<20} {:>9.2}% {:>9.2}% {:>22} {:>10} {:>16}",
            s.policy,
            100.0 * s.over_cap_share,
            100.0 * s.abandon_share,
            worst
                .iter()
                .map(|d| format!("{d:.3}"))
                .collect::<Vec<_>>()
                .join("/"),
            categories_over(s, schema.len(), 0.05),
            cost
        );
    }
}

fn settings_json(scenario: &Scenario, settings: &Settings, source: &str) -> Value {
    json!({
        "catalogue": source,
        "policies": scenario.policies,
        "hard_cap": settings.hard_cap,
        "mean_budget": settings.mean_budget,
        "max_qualifiers": settings.max_qualifiers,
        "incidence_error": settings.incidence_error,
        "learn": scenario.learn,
        "oracle": settings.oracle,
        "qualifier_seconds": scenario.qualifier_seconds,
        "max_respondents": settings.max_respondents,
        "success_at": scenario.success_at,
        "robustness": scenario.robustness,
        "threads": settings.threads,
        "loi_spread": scenario.loi_spread,
        "speed_spread": settings.speed_spread,
        "abandon_rate": settings.abandon_rate,
        "cap_risk": settings.cap_risk,
        "supply_drift": settings.supply_drift,
        "month_respondents": settings.month_respondents,
        "demographic_weight": scenario.demographic_weight,
        "demographic_hold": scenario.demographic_hold,
        "exclusion_groups": scenario.exclusion_groups,
        "max_completes": settings.max_completes,
        "returning_share": settings.returning_share,
        "pacing": settings.pacing.map(|p| p.lead),
        "baseline": scenario.baseline,
    })
}

#[allow(clippy::too_many_arguments)]
fn report(
    out: &mut String,
    catalogue: &Catalogue,
    source: &str,
    settings: &Settings,
    bound: f64,
    bound_lp: f64,
    bound_p95: f64,
    success_at: u64,
    summaries: &[Summary],
    random_p95: Option<u64>,
    robustness: &[(f64, Vec<Summary>)],
    elapsed: f64,
) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "quotaroute {} — {} categories from {source}, {} runs per policy, seed {}, hard cap {} s{}{}",
        env!("CARGO_PKG_VERSION"),
        catalogue.len(),
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
        "Lower bound N* = {bound:.1} respondents (mean); LP bound (eligibility, per-respondent caps) = {bound_lp:.1};\nstochastic floor for p95 N*95 = {bound_p95:.1}\n"
    );
    let _ = writeln!(out, "Pre-flight check:");
    let preflight = catalogue.preflight(settings.hard_cap);
    if preflight.is_clean() {
        let hardest = preflight
            .categories
            .iter()
            .max_by(|a, b| a.expected_respondents.total_cmp(&b.expected_respondents));
        if let Some(h) = hardest {
            let _ = writeln!(
                out,
                "  every category can complete; the rarest, {}, needs {:.0} respondents on its own\n",
                catalogue.category(h.category).name,
                h.expected_respondents
            );
        }
    } else {
        for b in preflight.blocked() {
            let problems: Vec<String> = b.problems.iter().map(|p| p.to_string()).collect();
            let _ = writeln!(
                out,
                "  BLOCKED {}: {}",
                catalogue.category(b.category).name,
                problems.join("; ")
            );
        }
        let _ = writeln!(out);
    }
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
    for s in summaries {
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
    if let Some(first) = summaries.iter().find(|s| s.failures > 0) {
        let _ = writeln!(
            out,
            "warning: {} runs of {} hit the respondent limit",
            first.failures, first.policy
        );
    }
    if !robustness.is_empty() {
        let _ = writeln!(
            out,
            "\nRobustness: true incidence scaled while routers believe the catalogue (p95 respondents / success within {success_at})"
        );
        let _ = write!(out, "{:<20}", "policy");
        for (scale, _) in robustness {
            let _ = write!(out, " {:>20}", format!("x{scale:.1}"));
        }
        let _ = writeln!(out);
        for (i, s) in summaries.iter().enumerate() {
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
    let _ = writeln!(out, "\nfinished in {elapsed:.1} s");
}
