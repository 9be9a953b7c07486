//! The fluid LP bound against the closed form N* on the bundled catalogue, scenario by scenario:
//! per-respondent caps, gender-only categories, an exclusion group, and a skewed supply that
//! must still be shown each category in the population's mix.
//!
//! ```text
//! cargo run --release --example bound
//! ```
//!
//! It takes no arguments: any is refused (exit code 2).

use std::process::ExitCode;

use quotaroute::bound::{Limit, LpBound, LpOptions, cell_answers, lower_bound_lp};
use quotaroute::catalogue::Catalogue;
use quotaroute::schema::{Rule, Schema};

const BUNDLED: &str = include_str!("data/fake_category_data.csv");

fn main() -> ExitCode {
    if let Err(message) = refuse_arguments(std::env::args().skip(1)) {
        eprintln!("bound: {message}");
        return ExitCode::from(2);
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bound: {message}");
            ExitCode::from(2)
        }
    }
}

/// No flags: an ignored `--catalogue my.csv` would print the bundled figures as if they were
/// the file's.
pub(crate) fn refuse_arguments(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    match args.next() {
        Some(arg) => Err(format!(
            "unexpected argument `{arg}`: this example takes no arguments"
        )),
        None => Ok(()),
    }
}

type Error = Box<dyn std::error::Error>;

fn run() -> Result<(), Error> {
    let schema = Schema::default_survey();
    let bundled = Catalogue::from_csv(schema.clone(), BUNDLED)?;
    let gendered = gendered(&bundled)?;
    println!(
        "{:<52} {:>9} {:>9} {:>7} {:>8}  limits",
        "scenario (480 s, bundled 77 categories)", "N*", "LP", "LP/N*", "rnd/cuts"
    );
    let mean = LpOptions::new(480.0);
    let capped = LpOptions {
        hard_cap_seconds: Some(480.0),
        ..mean.clone()
    };
    row(
        "mean budget only (= Catalogue::lower_bound)",
        &bundled,
        &mean,
    )?;
    // Incompatibility cuts: no respondent completes two categories whose qualifier + LOI pass
    // the hard cap together.
    let cut = LpOptions {
        incompatibility_cuts: true,
        ..capped.clone()
    };
    row("hard cap per respondent", &bundled, &capped)?;
    row("hard cap, incompatibility cuts", &bundled, &cut)?;
    row(
        "hard cap, at most 8 qualifiers",
        &bundled,
        &LpOptions {
            max_qualifiers: Some(8),
            ..capped.clone()
        },
    )?;
    row(
        "hard cap, at most 8 qualifiers, cuts",
        &bundled,
        &LpOptions {
            max_qualifiers: Some(8),
            ..cut.clone()
        },
    )?;
    // A shorter cap makes more pairs incompatible.
    for cap in [360.0, 240.0] {
        let short = LpOptions {
            hard_cap_seconds: Some(cap),
            ..LpOptions::new(cap)
        };
        row(
            &format!("hard cap {cap} s (mean {cap} s)"),
            &bundled,
            &short,
        )?;
        row(
            &format!("hard cap {cap} s (mean {cap} s), cuts"),
            &bundled,
            &LpOptions {
                incompatibility_cuts: true,
                ..short
            },
        )?;
    }
    row("gender-only categories, mean budget only", &gendered, &mean)?;
    row(
        "gender-only categories, hard cap per respondent",
        &gendered,
        &capped,
    )?;
    row("gender-only categories, hard cap, cuts", &gendered, &cut)?;
    let beer = |key: &str| {
        bundled
            .find(key)
            .ok_or("the bundled catalogue has categories 17 and 34")
    };
    let beers = vec![vec![beer("17")?, beer("34")?]];
    row(
        "exclusion: Craft Beer / Alcohol Free Beer",
        &bundled,
        &LpOptions {
            exclusion_groups: beers.clone(),
            ..capped.clone()
        },
    )?;
    row(
        "exclusion: Craft Beer / Alcohol Free Beer, cuts",
        &bundled,
        &LpOptions {
            exclusion_groups: beers,
            ..cut.clone()
        },
    )?;
    drifted_supply(&bundled, &capped)
}

/// The catalogue names some categories "(Female Only)" or "(Male Only)" without a rule: give
/// them one.
fn gendered(bundled: &Catalogue) -> Result<Catalogue, Error> {
    let schema = bundled.schema();
    let mut categories = bundled.categories().to_vec();
    for c in &mut categories {
        if c.name.contains("Female Only") {
            c.eligibility = Rule::parse(schema, "gender=female")?;
        } else if c.name.contains("Male Only") {
            c.eligibility = Rule::parse(schema, "gender=male")?;
        }
    }
    Ok(Catalogue::new(schema.clone(), categories)?)
}

/// Solves one scenario and prints its row: N*, the LP, their ratio, the cut rounds and the
/// first three limits.
fn row(label: &str, catalogue: &Catalogue, options: &LpOptions) -> Result<LpBound, Error> {
    let lp = lower_bound_lp(catalogue, options)?;
    let limits: Vec<String> = lp.limits.iter().map(|l| limit(catalogue, l)).collect();
    let shown = limits
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let more = limits.len().saturating_sub(3);
    let cuts = if options.incompatibility_cuts {
        format!(
            "{}/{}{}",
            lp.cut_rounds,
            lp.cuts,
            if lp.cuts_converged { "" } else { "+" }
        )
    } else {
        "-".to_owned()
    };
    println!(
        "{label:<52} {:>9.1} {:>9.1} {:>7.3} {cuts:>8}  {shown}{}",
        lp.closed_form,
        lp.respondents,
        lp.gain(),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    );
    Ok(lp)
}

/// The supply-drift scenario at its start: 18-34 at 1/3 + D, the other bands share the rest,
/// under tighter and tighter exposure tolerances.
fn drifted_supply(bundled: &Catalogue, capped: &LpOptions) -> Result<(), Error> {
    let schema = bundled.schema();
    let age = schema.question("age")?;
    let young = schema.response(age, "18-34")?;
    for drift in [0.15] {
        let cells = (0..18)
            .map(|cell| {
                let answers = cell_answers(bundled, cell).expect("18 cells");
                let age_share = if answers.get(age) == Some(young) {
                    1.0 / 3.0 + drift
                } else {
                    (2.0 / 3.0 - drift) / 2.0
                };
                age_share / 6.0
            })
            .collect::<Vec<f64>>();
        for tolerance in [
            None,
            Some(0.2),
            Some(0.1),
            Some(0.05),
            Some(0.02),
            Some(0.0),
        ] {
            let label = format!(
                "18-34 at 1/3 + {drift}, exposure L1 ≤ {}",
                tolerance.map_or("any".to_owned(), |t| format!("{t}"))
            );
            row(
                &label,
                bundled,
                &LpOptions {
                    supply: Some(cells.clone()),
                    exposure_tolerance: tolerance,
                    ..capped.clone()
                },
            )?;
        }
    }
    Ok(())
}

fn limit(catalogue: &Catalogue, limit: &Limit) -> String {
    // A category by the catalogue's own id, with its readable name.
    let name = |c: quotaroute::catalogue::CategoryId| {
        let c = catalogue.category(c);
        format!("`{}` ({})", c.key, c.name)
    };
    match limit {
        Limit::MeanTime => "mean time".into(),
        Limit::HardCap => "hard cap".into(),
        Limit::Qualifiers => "qualifier cap".into(),
        Limit::Completes => "completes cap".into(),
        Limit::Supply(c) => format!("supply of {}", name(*c)),
        Limit::Exclusion(g) => format!("exclusion group {g}"),
        Limit::Incompatibility => "incompatibility cut".into(),
        Limit::Exposure(c, q) => format!(
            "exposure of {} on {}",
            name(*c),
            catalogue.schema().question_name(*q)
        ),
        other => format!("{other:?}"),
    }
}
