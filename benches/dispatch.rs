//! Dispatch benches: one batch over 10 / 1,000 / 100,000 recipients; 1,000,000 streamed items
//! over 1,000 recipients; the per-item streaming cost at 100,000 recipients.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quotaroute::dispatch::{Dispatcher, LeavePolicy};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// `n` recipients with real weights in [0.5, 2), errors warmed up by a few batches.
fn dispatcher(n: usize, seed: u64) -> Dispatcher<u32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut d = Dispatcher::from_weights(
        (0..n as u32).map(|i| (i, rng.random_range(0.5..2.0))),
        LeavePolicy::Forget,
    )
    .expect("valid weights");
    for k in 0..3 {
        d.dispatch(n as u64 * 3 + 17 + k)
            .expect("active recipients");
    }
    d
}

fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("dispatch_batch");
    for &n in &[10usize, 1_000, 100_000] {
        let size = 7 * n as u64 + 3;
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("recipients", n), &n, |b, &n| {
            let mut d = dispatcher(n, 7);
            let mut out = Vec::new();
            b.iter(|| {
                d.dispatch_into(black_box(size), &mut out)
                    .expect("dispatch");
                black_box(&out);
            });
        });
    }
    g.finish();
}

fn stream(c: &mut Criterion) {
    let mut g = c.benchmark_group("dispatch_stream");
    g.sample_size(10);
    let items = 1_000_000u64;
    g.throughput(Throughput::Elements(items));
    g.bench_with_input(
        BenchmarkId::new("1e6_items_recipients", 1_000),
        &1_000usize,
        |b, &n| {
            let mut d = dispatcher(n, 11);
            b.iter(|| {
                for _ in 0..items {
                    black_box(d.next().expect("active"));
                }
            });
        },
    );
    let per = 10_000u64;
    g.throughput(Throughput::Elements(per));
    g.bench_with_input(
        BenchmarkId::new("per_item_recipients", 100_000),
        &100_000usize,
        |b, &n| {
            let mut d = dispatcher(n, 13);
            d.next().expect("active"); // build the tournament outside the timing
            b.iter(|| {
                for _ in 0..per {
                    black_box(d.next().expect("active"));
                }
            });
        },
    );
    g.finish();
}

criterion_group!(benches, batch, stream);
criterion_main!(benches);
