//! The decision path allocates nothing: a counting global allocator watches thousands of
//! respondents routed after warm-up. (One test in this binary, so no other test allocates
//! while it counts.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use quotaroute::catalogue::Catalogue;
use quotaroute::route::{Ask, Interview, RouterState, policy};
use quotaroute::schema::{Answers, Respondent, Schema};
use quotaroute::sim::{Supply, run_rng};
use quotaroute::state::QuotaState;
use rand::RngExt;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Only this test's thread is counted: the harness allocates on its own threads meanwhile.
    static COUNTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTED.with(|c| c.get()) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn routing_allocates_nothing_after_warm_up() {
    COUNTED.with(|c| c.set(true));
    let text = include_str!("../examples/data/fake_category_data.csv");
    let catalogue = Catalogue::from_csv(Schema::default_survey(), text).unwrap();
    let supply = Supply::new(catalogue.schema());
    for name in ["greedy", "seed-greedy", "random"] {
        let router = policy(name).unwrap();
        let mut state = QuotaState::new(&catalogue);
        let mut interview = Interview::new();
        let mut rs = RouterState::default();
        let mut rng = run_rng(3, 0);
        let mut respondent = Respondent::new(0, Answers::unknown(catalogue.schema()));
        let mut decisions = 0u64;
        let mut route = |n: u64, decisions: &mut u64| {
            respondent.id = n;
            supply.draw_into(&mut rng, &mut respondent.answers);
            interview.begin(&catalogue, &respondent.answers, 480.0, None);
            loop {
                let ask = Ask {
                    catalogue: &catalogue,
                    respondent: &respondent,
                    interview: &interview,
                    quotas: state.view(),
                };
                let Some(c) = router.next_offer(&ask, &mut rs, &mut rng) else {
                    break;
                };
                *decisions += 1;
                state.record_shown(c, &respondent.answers);
                interview.record_shown(&catalogue, c);
                let qualified = rng.random_bool(catalogue.incidence(c));
                if qualified && state.complete(c).is_ok() {
                    interview.record_complete(&catalogue, c);
                }
                let ask = Ask {
                    catalogue: &catalogue,
                    respondent: &respondent,
                    interview: &interview,
                    quotas: state.view(),
                };
                router.on_answer(&ask, &mut rs, c, qualified);
            }
        };
        route(0, &mut decisions); // warm-up: buffers reach their size
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for n in 1..=3_000 {
            route(n, &mut decisions);
        }
        let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
        assert!(
            decisions > 20_000,
            "{name}: only {decisions} decisions were measured"
        );
        assert_eq!(
            allocations, 0,
            "{name}: {allocations} allocations in {decisions} decisions"
        );
    }
}
