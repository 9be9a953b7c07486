//! `sim::trace`, the per-respondent record behind the simulate example's pictures, agrees with
//! the run it records.

use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::route::{Greedy, RandomRouter, Router};
use quotaroute::schema::{Rule, Schema};
use quotaroute::sim::{Settings, run_once, trace};

fn small() -> Catalogue {
    let schema = Schema::default_survey();
    let women = Rule::parse(&schema, "gender=female").unwrap();
    Catalogue::new(
        schema,
        vec![
            Category::new("a", "A", 0.5, 100.0).with_target(30),
            Category::new("b", "B", 0.2, 200.0).with_target(20),
            Category::new("c", "C", 0.9, 50.0)
                .with_target(25)
                .with_eligibility(women),
        ],
    )
    .unwrap()
}

#[test]
fn a_trace_records_the_run_it_traces() {
    let catalogue = small();
    let settings = Settings::default();
    for router in [&Greedy::scarcity() as &dyn Router, &RandomRouter] {
        for run in 0..3 {
            let t = trace(&catalogue, router, &settings, run).unwrap();
            assert_eq!(
                t.result,
                run_once(&catalogue, router, &settings, run).unwrap()
            );
            let n = t.result.respondents as usize;
            assert_eq!(t.seconds.len(), n);
            assert_eq!(t.completes.len(), n);
            // Completes only grow, and end at the targets.
            assert!(t.completes.windows(2).all(|w| w[0] <= w[1]));
            assert_eq!(t.completes.last().copied(), Some(75));
            assert!(t.seconds.iter().all(|&s| (0.0..=480.0).contains(&s)));
            let mean = t.seconds.iter().sum::<f64>() / n as f64;
            assert!((mean - t.result.mean_seconds).abs() < 1e-9);
            // Three categories × (2 + 3 + 3) responses; each question counts every show.
            assert_eq!(t.exposures.len(), 3 * 8);
            for c in 0..3 {
                let row = &t.exposures[c * 8..(c + 1) * 8];
                let (gender, age, region) = (&row[..2], &row[2..5], &row[5..]);
                let shows: u32 = gender.iter().sum();
                assert_eq!(shows, age.iter().sum::<u32>());
                assert_eq!(shows, region.iter().sum::<u32>());
                assert!(shows >= t.result.completes[c]);
            }
            // The women-only category was never shown to a man.
            assert_eq!(t.exposures[2 * 8 + 1], 0);
        }
    }
}

#[test]
fn a_trace_checks_its_settings() {
    let settings = Settings {
        runs: 0,
        ..Settings::default()
    };
    assert!(trace(&small(), &Greedy::scarcity(), &settings, 0).is_err());
}
