use quotaroute::dispatch::{Dispatcher, LeavePolicy};
use rand::{RngExt, SeedableRng};
fn main() {
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(7);
    let mut d = Dispatcher::from_weights(
        (0..n as u32).map(|i| (i, rng.random_range(0.5..2.0))),
        LeavePolicy::Forget,
    )
    .unwrap();
    for k in 0..3 {
        d.dispatch(n as u64 * 3 + 17 + k).unwrap();
    }
    let mut out = Vec::new();
    let t = std::time::Instant::now();
    for _ in 0..100 {
        d.dispatch_into(7 * n as u64 + 3, &mut out).unwrap();
    }
    println!("{:?}/batch", t.elapsed() / 100);
}
