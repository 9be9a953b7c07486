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
//! A bad file or flag prints one line on stderr and exits with code 2.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use quotaroute::bound::{LpOptions, lower_bound_lp};
use quotaroute::catalogue::Catalogue;
use quotaroute::risk::{Entity, RequirementKind, RiskModel};
use quotaroute::route::{POLICY_NAMES, PolicyOptions, policy_with};
use quotaroute::schema::Schema;
use quotaroute::sim::{Scenario, Settings, Summary, checkpoints, lower_bound_p95, monte_carlo};
use serde_json::{Value, json};

#[path = "support/plot.rs"]
mod plot;

/// The bundled catalogue: `fake_category_data.csv`, the public 77-category survey catalogue
/// of the greedy-survey-allocator exercise (see `examples/data/README.md`).
const BUNDLED: &str = include_str!("data/fake_category_data.csv");

struct Options {
    scenario: Scenario,
    json: bool,
    month_respondents: Option<u64>,
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
    let mut month_respondents = None;
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
            "--month-respondents" => month_respondents = Some(num(flag, value()?)?),
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
        month_respondents,
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
  --month-respondents M   respondents in the simulated 30-day month of the risk report
                          (default ceil(1.05 N*))
  --scenario FILE         JSON document of these settings; flags override it
  --json                  one JSON object on stdout
  --plot FILE.svg         draw fill curves, interview seconds and exposure mixes (run 0)";

fn run() -> Result<(), String> {
    let Options {
        scenario,
        json,
        month_respondents,
        plot,
    } = parse_args()?;
    let text = match &scenario.catalogue {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?,
        None => BUNDLED.to_owned(),
    };
    let source = scenario.catalogue.as_deref().unwrap_or("bundled catalogue");
    let mut catalogue = Catalogue::from_csv(Schema::default_survey(), &text)
        .map_err(|e| format!("{source}: {e}"))?;
    if let Some(q) = scenario.qualifier_seconds {
        let mut categories = catalogue.categories().to_vec();
        for c in &mut categories {
            c.qualifier_seconds = q;
        }
        catalogue = Catalogue::new(catalogue.schema().clone(), categories)
            .map_err(|e| format!("--qualifier-seconds: {e}"))?;
    }
    let settings = scenario.settings();
    settings.validate().map_err(|e| e.to_string())?;
    let names: Vec<String> = if scenario.policies.iter().any(|p| p == "all") {
        POLICY_NAMES.iter().map(|s| s.to_string()).collect()
    } else {
        scenario.policies.clone()
    };
    let routers = names
        .iter()
        .map(|n| {
            policy_with(
                n,
                &PolicyOptions {
                    learning: scenario.learn,
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;

    let bound = catalogue.lower_bound(settings.budget_for_bound(), settings.max_qualifiers);
    let bound_p95 = lower_bound_p95(
        &catalogue,
        settings.budget_for_bound(),
        settings.max_qualifiers,
        4000,
        settings.seed,
    );
    let bound_lp = lower_bound_lp(&catalogue, &LpOptions::from_settings(&settings))
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
    let month = month_respondents
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
            .map(|s| policy_json(s, bound, bound_lp, success_at, random_p95))
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
