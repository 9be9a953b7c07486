//! Ranking throughput: entities ranked per second with the seed model, and with a fifth
//! metric of the user's own (a closure reading an extra value).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quotaroute::risk::{Entity, FnMetric, RiskModel};

/// `n` entities shaped like the seed's cities, deterministic and all distinct.
fn entities(n: usize) -> Vec<Entity> {
    (0..n)
        .map(|i| {
            let k = (i * 7919 % 1000) as f64;
            Entity::new(
                format!("cell-{i:06}"),
                200.0 + k,
                k / 2.0,
                1.0 + (i % 30) as f64,
            )
            .and_then(|e| e.with_quality_levels([30.0, 10.0 + k, 20.0, 10.0, 30.0]))
            .and_then(|e| e.with_percent_fit(1.0 + (i % 100) as f64))
            .and_then(|e| e.with_extra("spent", k))
            .expect("bench entities are valid")
        })
        .collect()
}

fn rank(c: &mut Criterion) {
    let seed = RiskModel::prototype();
    let extended = RiskModel::prototype()
        .with_metric(
            FnMetric::new("burn", |e: &Entity| {
                Ok(e.extra("spent").map(|s| s / e.days_left()))
            }),
            0.1,
        )
        .expect("valid metric");
    let mut group = c.benchmark_group("risk_rank");
    for n in [10usize, 1_000, 100_000] {
        let input = entities(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("seed", n), &input, |b, input| {
            b.iter(|| seed.rank(black_box(input)).expect("ranks"))
        });
        group.bench_with_input(BenchmarkId::new("seed+burn", n), &input, |b, input| {
            b.iter(|| extended.rank(black_box(input)).expect("ranks"))
        });
    }
    group.finish();
}

criterion_group!(benches, rank);
criterion_main!(benches);
