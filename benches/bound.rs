//! The fluid LP bound on the bundled 77-category catalogue: one solve per iteration, with no
//! extras (one respondent type), with the per-respondent caps and two exclusion groups (also
//! with incompatibility cuts), and with exposure constraints (18 cell types and about 600
//! auxiliary variables).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quotaroute::bound::{LpOptions, lower_bound_lp};
use quotaroute::catalogue::{Catalogue, CategoryId};
use quotaroute::schema::Schema;

fn solve(c: &mut Criterion) {
    let catalogue = Catalogue::from_csv(
        Schema::default_survey(),
        include_str!("../examples/data/fake_category_data.csv"),
    )
    .expect("the bundled catalogue loads");
    let id = CategoryId::from_index;
    let plain = LpOptions::new(480.0);
    let caps = LpOptions {
        hard_cap_seconds: Some(480.0),
        max_qualifiers: Some(8),
        exclusion_groups: vec![vec![id(0), id(1)], vec![id(5), id(6), id(7)]],
        ..plain.clone()
    };
    let cuts = LpOptions {
        incompatibility_cuts: true,
        ..caps.clone()
    };
    let exposure = LpOptions {
        exposure_tolerance: Some(0.05),
        ..caps.clone()
    };
    let mut group = c.benchmark_group("lower_bound_lp");
    group.throughput(Throughput::Elements(catalogue.len() as u64));
    for (name, options) in [
        ("plain", &plain),
        ("caps", &caps),
        ("caps+cuts", &cuts),
        ("exposure", &exposure),
    ] {
        group.bench_with_input(BenchmarkId::new("bundled", name), options, |b, o| {
            b.iter(|| lower_bound_lp(black_box(&catalogue), black_box(o)).expect("solves"))
        });
    }
    group.finish();
}

criterion_group!(benches, solve);
criterion_main!(benches);
