//! The per-respondent decision path: one decision, and one whole respondent routed, on the
//! bundled 77-category catalogue and a synthetic 10,000-category one.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::route::{Ask, Interview, Router, RouterState, policy};
use quotaroute::schema::{Answers, Respondent, Rule, Schema};
use quotaroute::sim::{Supply, run_rng};
use quotaroute::state::QuotaState;
use rand::{RngExt, SeedableRng};
use std::hint::black_box;

#[path = "../tests/support/interlocked.rs"]
mod interlocked;

fn bundled() -> Catalogue {
    let text = include_str!("../examples/data/fake_category_data.csv");
    Catalogue::from_csv(Schema::default_survey(), text).unwrap()
}

/// 10,000 categories with spread incidences and lengths; one in five has an eligibility rule.
fn synthetic(n: usize) -> Catalogue {
    let schema = Schema::default_survey();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(42);
    let rules = [
        "gender=female",
        "age=18-34|35-54",
        "region=north|south",
        "gender=male;age=55+",
    ];
    let categories = (0..n)
        .map(|i| {
            let mut c = Category::new(
                i.to_string(),
                format!("category {i}"),
                rng.random_range(0.05..0.9),
                rng.random_range(20.0..300.0),
            );
            if i % 5 == 0 {
                c.eligibility = Rule::parse(&schema, rules[i / 5 % rules.len()]).unwrap();
            }
            c
        })
        .collect();
    Catalogue::new(schema, categories).unwrap()
}

/// A state part-way through fieldwork: completes spread over the categories, and held slots
/// spread over the quota cells (up to each one's min), so some mins are met and some not.
fn part_filled(catalogue: &Catalogue) -> QuotaState {
    let mut state = QuotaState::new(catalogue);
    let mut rng = run_rng(9, 0);
    for c in catalogue.ids() {
        let k = rng.random_range(0..catalogue.category(c).target / 2 + 1);
        for _ in 0..k {
            state.complete(c).unwrap();
        }
    }
    for cell in 0..catalogue.cell_count() {
        for _ in 0..rng.random_range(0..=catalogue.cell_min(cell)) {
            state.try_reserve_cell(cell);
        }
    }
    state
}

fn bench(c: &mut Criterion) {
    let catalogues = [("77", bundled()), ("10000", synthetic(10_000))];
    let mut decision = c.benchmark_group("decision");
    for (label, catalogue) in &catalogues {
        let state = part_filled(catalogue);
        let schema = catalogue.schema();
        let respondent = Respondent::new(
            1,
            Answers::from_names(
                schema,
                [("gender", "female"), ("age", "35-54"), ("region", "north")],
            )
            .unwrap(),
        );
        let mut interview = Interview::new();
        interview.begin(catalogue, &respondent.answers, 480.0, None);
        for name in ["greedy", "random"] {
            let router = policy(name).unwrap();
            let mut rs = RouterState::default();
            let mut rng = run_rng(1, 1);
            decision.throughput(Throughput::Elements(1));
            decision.bench_with_input(BenchmarkId::new(name, label), &(), |b, _| {
                b.iter(|| {
                    let ask = Ask {
                        catalogue,
                        respondent: &respondent,
                        interview: &interview,
                        quotas: state.view(),
                    };
                    black_box(router.next_offer(black_box(&ask), &mut rs, &mut rng))
                })
            });
        }
    }
    decision.finish();

    let mut whole = c.benchmark_group("respondent");
    for (label, catalogue) in &catalogues {
        let state = part_filled(catalogue);
        let supply = Supply::new(catalogue.schema());
        for name in ["greedy", "random", "packing", "paced"] {
            let router = policy(name).unwrap();
            let mut rs = RouterState::default();
            let mut rng = run_rng(2, 2);
            let mut interview = Interview::new();
            let mut respondent = Respondent::new(0, Answers::unknown(catalogue.schema()));
            whole.throughput(Throughput::Elements(1));
            whole.bench_with_input(BenchmarkId::new(name, label), &(), |b, _| {
                b.iter(|| {
                    route_one(
                        catalogue,
                        &state,
                        router.as_ref(),
                        &supply,
                        &mut rs,
                        &mut rng,
                        &mut interview,
                        &mut respondent,
                    )
                })
            });
        }
    }
    whole.finish();

    // Whole simulated runs: everything a respondent costs, table rebuilds and the simulation's
    // own bookkeeping included, reported per respondent.
    // Quota trees: the bundled catalogue against itself with region × gender × age min/max
    // trees (27 nodes) on every third category, per whole respondent, in one run.
    let trees = [
        ("77", bundled()),
        ("77-trees", interlocked::bundled_with_trees()),
    ];
    let mut tree_group = c.benchmark_group("trees");
    for (label, catalogue) in &trees {
        let state = part_filled(catalogue);
        let supply = Supply::new(catalogue.schema());
        for name in ["greedy", "balanced"] {
            let router = policy(name).unwrap();
            let mut rs = RouterState::default();
            let mut rng = run_rng(2, 2);
            let mut interview = Interview::new();
            let mut respondent = Respondent::new(0, Answers::unknown(catalogue.schema()));
            tree_group.throughput(Throughput::Elements(1));
            tree_group.bench_with_input(BenchmarkId::new(name, label), &(), |b, _| {
                b.iter(|| {
                    route_one(
                        catalogue,
                        &state,
                        router.as_ref(),
                        &supply,
                        &mut rs,
                        &mut rng,
                        &mut interview,
                        &mut respondent,
                    )
                })
            });
        }
    }
    tree_group.finish();

    let mut runs = c.benchmark_group("run");
    runs.sample_size(10);
    let catalogue = &catalogues[0].1;
    for name in ["greedy", "packing", "paced"] {
        let router = policy(name).unwrap();
        let settings = quotaroute::sim::Settings {
            runs: 1,
            ..Default::default()
        };
        let n = quotaroute::sim::run_once(catalogue, router.as_ref(), &settings, 0)
            .unwrap()
            .respondents;
        runs.throughput(Throughput::Elements(n));
        runs.bench_with_input(BenchmarkId::new(name, "77"), &(), |b, _| {
            b.iter(|| {
                quotaroute::sim::run_once(catalogue, router.as_ref(), &settings, 0)
                    .unwrap()
                    .respondents
            })
        });
    }
    // Qualifiers at 10 s each and at most 12 per respondent: `packing` uses its max table.
    let q10 = Catalogue::new(
        catalogue.schema().clone(),
        catalogue
            .categories()
            .iter()
            .cloned()
            .map(|c| c.with_qualifier_seconds(10.0))
            .collect(),
    )
    .unwrap();
    let settings = quotaroute::sim::Settings {
        runs: 1,
        max_qualifiers: Some(12),
        ..Default::default()
    };
    for name in ["greedy", "packing"] {
        let router = policy(name).unwrap();
        let n = quotaroute::sim::run_once(&q10, router.as_ref(), &settings, 0)
            .unwrap()
            .respondents;
        runs.throughput(Throughput::Elements(n));
        runs.bench_with_input(BenchmarkId::new(name, "77-q10-k12"), &(), |b, _| {
            b.iter(|| {
                quotaroute::sim::run_once(&q10, router.as_ref(), &settings, 0)
                    .unwrap()
                    .respondents
            })
        });
    }
    runs.finish();
}

/// Draws a respondent and routes it to the end of its budget: every decision, the interview's
/// bookkeeping and the qualification draws. The quota state is read, not written, so every
/// iteration sees the same fieldwork moment.
#[allow(clippy::too_many_arguments)]
fn route_one(
    catalogue: &Catalogue,
    state: &QuotaState,
    router: &dyn Router,
    supply: &Supply,
    rs: &mut RouterState,
    rng: &mut rand::rngs::Xoshiro256PlusPlus,
    interview: &mut Interview,
    respondent: &mut Respondent,
) -> u32 {
    supply.draw_into(rng, &mut respondent.answers);
    interview.begin(catalogue, &respondent.answers, 480.0, None);
    // The respondent's full quota cells are held back, as a turn does (nothing without cells).
    interview.refresh_cells(&state.view());
    loop {
        let ask = Ask {
            catalogue,
            respondent,
            interview,
            quotas: state.view(),
        };
        let Some(c) = router.next_offer(&ask, rs, rng) else {
            break;
        };
        interview.record_shown(catalogue, c);
        if rng.random_bool(catalogue.incidence(c)) {
            interview.record_complete(catalogue, c);
        }
    }
    interview.qualifiers_shown()
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
