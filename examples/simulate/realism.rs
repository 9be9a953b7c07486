//! With real fieldwork on (uncertain lengths, abandons, drift, demographic weight, exclusions,
//! completes cap, returning respondents, pacing): what the options are, and what they did to
//! each policy.

use std::fmt::Write as _;

use quotaroute::sim::Summary;

use crate::context::{Context, Outcome};

/// Categories whose mean divergence passes `limit` on some question.
pub fn categories_over(s: &Summary, questions: usize, limit: f64) -> usize {
    s.divergence
        .chunks(questions.max(1))
        .filter(|row| row.iter().any(|d| *d > limit))
        .count()
}

/// What the real-fieldwork options are, and per policy what they did.
pub fn report(out: &mut String, ctx: &Context, outcome: &Outcome) {
    let (catalogue, settings) = (&ctx.catalogue, &ctx.settings);
    let (summaries, baseline) = (&outcome.summaries, &outcome.baseline);
    let schema = catalogue.schema();
    let _ = writeln!(
        out,
        "\nReal fieldwork: {}; month = {} respondents",
        options_on(ctx).join(", "),
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

/// The real-fieldwork options in force, in words.
fn options_on(ctx: &Context) -> Vec<String> {
    let (catalogue, scenario, settings) = (&ctx.catalogue, &ctx.scenario, &ctx.settings);
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
    what
}
