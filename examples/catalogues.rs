//! Checks that routing is not tuned to one file: generates random catalogues (other sizes,
//! incidences, lengths, eligibility rules and targets) and reports, per policy, the median
//! respondents over N* and over N*₅₀ (the stochastic floor of the median: no policy's median
//! can be below it), and the p95 over N*₉₅; and the best median and the best mean over N_LP,
//! the LP bound over respondent types, which also sees what one demographic group's time
//! allows (N*, N_LP and N_fill bound the mean; the median of a run is close to it).
//!
//! With `--fill-bound`, catalogues whose respondent types have at most 22 categories also get
//! the respondent fill bound (`quotaroute::bound::fill`): what no policy beats on average once the end
//! of each interview must be filled from the categories that respondent has not yet seen. It
//! needs up to 8 GiB and a few minutes per catalogue.
//!
//! ```text
//! cargo run --release --example catalogues -- [--catalogues K] [--runs N] [--seed S] [--policy NAME]... [--fill-bound]
//! ```

use quotaroute::bound::fill::{FillOptions, respondent_fill};
use quotaroute::bound::{FloorOptions, LpOptions, floors, lower_bound_lp};
use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::route::policy;
use quotaroute::schema::{Rule, Schema};
use quotaroute::sim::{Settings, monte_carlo, run_rng};
use rand::RngExt;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut catalogues = 8u32;
    let mut runs = 100u32;
    let mut seed = 7u64;
    let mut policies: Vec<String> = Vec::new();
    let mut fill_bound = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--fill-bound" {
            fill_bound = true;
            continue;
        }
        let value = it
            .next()
            .unwrap_or_else(|| fail(&format!("{flag} needs a value")));
        fn num<T: std::str::FromStr>(flag: &str, value: &str) -> T {
            value
                .parse()
                .unwrap_or_else(|_| fail(&format!("{flag}: `{value}` is not valid")))
        }
        match flag.as_str() {
            "--catalogues" => catalogues = num(flag, value),
            "--runs" => runs = num(flag, value),
            "--seed" => seed = num(flag, value),
            "--policy" => policies.push(value.clone()),
            _ => fail(&format!("unknown flag `{flag}`")),
        }
    }
    if policies.is_empty() {
        policies = vec!["greedy".into(), "packing".into(), "paced".into()];
    }
    println!(
        "{:>3} {:>5} {:>9} {:>9} {:>9}  {}",
        "#",
        "cats",
        "N*",
        "N*50",
        "N*95",
        policies
            .iter()
            .map(|p| format!("{:>29}", format!("{p} med/N* med/N*50 p95/N*95")))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut worst = vec![(0.0f64, 0.0f64, 0.0f64); policies.len()];
    for k in 0..catalogues {
        let catalogue = random_catalogue(seed, k);
        let settings = Settings {
            runs,
            seed: seed + u64::from(k),
            ..Settings::default()
        };
        let bound = catalogue.lower_bound(settings.hard_cap, None);
        // The LP over respondent types also sees what one demographic group's time allows.
        let bound_lp = lower_bound_lp(
            &catalogue,
            &LpOptions {
                incompatibility_cuts: true,
                ..LpOptions::for_run(&settings, &catalogue)
            },
        )
        .map_or(bound, |b| b.respondents);
        // Quantile floors from one sample, with the terms of categories that cannot share a
        // respondent under the cap.
        let floors = floors(
            &catalogue,
            &FloorOptions {
                budget_seconds: settings.hard_cap,
                hard_cap_seconds: Some(settings.hard_cap),
                max_qualifiers: None,
                draws: 4000,
                seed: settings.seed,
            },
            &[0.5, 0.95],
        );
        let (bound50, bound95) = (floors[0], floors[1]);
        let mut cells = Vec::new();
        let mut best_median = f64::INFINITY;
        let mut best_mean = f64::INFINITY;
        for (i, name) in policies.iter().enumerate() {
            let router = policy(name).unwrap_or_else(|e| fail(&e.to_string()));
            let s = monte_carlo(&catalogue, router.as_ref(), &settings, &|_| {})
                .unwrap_or_else(|e| fail(&e.to_string()));
            best_median = best_median.min(s.respondents_median as f64);
            best_mean = best_mean.min(s.respondents_mean);
            let (m, f, p) = (
                s.respondents_median as f64 / bound,
                s.respondents_median as f64 / bound50,
                s.respondents_p95 as f64 / bound95,
            );
            worst[i] = (worst[i].0.max(m), worst[i].1.max(f), worst[i].2.max(p));
            cells.push(format!("{:>29}", format!("{m:.4} {f:.4} {p:.4}")));
        }
        let terms = catalogue.bound_terms(settings.hard_cap, None, |c| {
            f64::from(catalogue.category(c).target)
        });
        // The fill bound's table has 2^n rows for a type with n categories: small catalogues only.
        let fill = if fill_bound {
            let options = FillOptions {
                max_cells: 1 << 31,
                ..FillOptions::new(settings.hard_cap)
            };
            match respondent_fill(&catalogue, &options) {
                Ok(f) => format!(
                    "; fill {:.1} s, N_fill {:.1} = {:.4} N*: best median / N_fill {:.4}, best mean / N_fill {:.4}",
                    f.seconds,
                    f.respondents,
                    f.respondents / bound,
                    best_median / f.respondents,
                    best_mean / f.respondents
                ),
                Err(e) => format!("; no fill bound: {e}"),
            }
        } else {
            String::new()
        };
        println!(
            "{k:>3} {:>5} {bound:>9.1} {bound50:>9.1} {bound95:>9.1}  {}   (time {:.0}, rarest {:.0}, LP {bound_lp:.1}: best median / N_LP {:.4}, best mean / N_LP {:.4}{fill})",
            catalogue.len(),
            cells.join(" "),
            terms.time,
            terms.rarest,
            best_median / bound_lp,
            best_mean / bound_lp
        );
    }
    println!(
        "worst{:>35}  {}",
        "",
        worst
            .iter()
            .map(|(m, f, p)| format!("{:>29}", format!("{m:.4} {f:.4} {p:.4}")))
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// Catalogue `k` of the family: 20–150 categories, incidence log-uniform in [0.12, 0.9] (even
/// `k`) or [0.03, 0.9] (odd `k`), LOI 20–300 s, targets 50–400, a fifth with an eligibility
/// rule on the default schema.
fn random_catalogue(seed: u64, k: u32) -> Catalogue {
    let schema = Schema::default_survey();
    let mut rng = run_rng(seed ^ 0xCA7A_1064, k);
    let n = rng.random_range(20..=150);
    // Even catalogues have no very rare category, so time sets their cost; odd ones may have
    // one, which then sets it.
    let lowest: f64 = if k.is_multiple_of(2) { 0.12 } else { 0.03 };
    let rules = [
        "gender=female",
        "gender=male",
        "age=18-34",
        "age=35-54|55+",
        "region=north|south",
        "gender=female;age=18-34|35-54",
    ];
    let categories = (0..n)
        .map(|i| {
            let incidence = (rng.random_range(lowest.ln()..0.9f64.ln())).exp();
            let mut c = Category::new(
                i.to_string(),
                format!("category {i}"),
                incidence,
                rng.random_range(20.0..300.0),
            )
            .with_target(rng.random_range(50..=400));
            if rng.random_bool(0.2) {
                let rule = rules[rng.random_range(0..rules.len())];
                c = c.with_eligibility(Rule::parse(&schema, rule).expect("valid rule"));
            }
            c
        })
        .collect();
    Catalogue::new(schema, categories).expect("generated catalogue is valid")
}

fn fail(message: &str) -> ! {
    eprintln!("catalogues: {message}");
    std::process::exit(2)
}
