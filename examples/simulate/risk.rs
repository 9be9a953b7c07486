//! `--risk`: the five categories most at risk during a simulated month, ranked by the `risk`
//! add-on from the completes of one simulated run.

use std::fmt::Write as _;

use quotaroute::risk::{Entity, RequirementKind, RiskModel};
use quotaroute::route::Router;
use quotaroute::sim::checkpoints;

use crate::context::Context;

/// The five categories most at risk after 25%, 50% and 75% of a simulated 30-day month of
/// `month` respondents (run 0 of the first policy).
pub fn report(ctx: &Context, router: &dyn Router, month: u64) -> Result<String, String> {
    let (catalogue, settings) = (&ctx.catalogue, &ctx.settings);
    let shares = [0.25, 0.5, 0.75];
    let at: Vec<u64> = shares
        .iter()
        .map(|f| (f * month as f64).round() as u64)
        .collect();
    let counts = checkpoints(catalogue, router, settings, 0, &at).map_err(|e| e.to_string())?;
    let model = RiskModel::prototype().with_requirement(RequirementKind::Remaining);
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
