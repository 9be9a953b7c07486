//! Routing policies: `balanced` on a quota tree, `weighted` through the dispatcher, and the
//! properties every built-in policy keeps.

// Installs a global allocator that counts allocations per thread, for the decision paths
// checked to allocate nothing.
#[path = "../support/counting_alloc.rs"]
mod counting_alloc;

mod balanced;
mod mins;
mod properties;
mod weighted;

#[path = "../support/proptest_config.rs"]
mod support;

use quotaroute::catalogue::{Catalogue, CategoryId};
use quotaroute::route::{Ask, Interview, Router, RouterState};
use quotaroute::schema::{Answers, Respondent};
use quotaroute::state::QuotaState;

/// The router's first offer to a respondent with these answers and 480 seconds, on these
/// counts, the respondent's full quota cells held back first as a turn does.
fn first_offer(
    catalogue: &Catalogue,
    router: &dyn Router,
    quotas: &QuotaState,
    answers: &Answers,
) -> Option<CategoryId> {
    let respondent = Respondent::new(1, answers.clone());
    let mut interview = Interview::new();
    interview.begin(catalogue, &respondent.answers, 480.0, None);
    interview.refresh_cells(&quotas.view());
    let ask = Ask {
        catalogue,
        respondent: &respondent,
        interview: &interview,
        quotas: quotas.view(),
    };
    let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(1);
    router.next_offer(&ask, &mut RouterState::default(), &mut rng)
}
