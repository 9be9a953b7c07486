//! The `balanced` policy: categories offered in Askia's `AvailableBalancedQuota` order, on the
//! live counts of the categories and their quota trees.

use rand::Rng;
use smallvec::smallvec;

use crate::catalogue::CategoryId;

use super::{Ask, Explanation, Router, RouterState};

/// The `balanced` policy: offer the categories in Askia's `AvailableBalancedQuota` order for
/// the respondent, as Askia users script it, read from the live counts every router sees.
///
/// The categories are the responses of the query's target question; below each one lies its
/// quota tree ([`QuotaCell`](crate::catalogue::QuotaCell)s with parents). The router answers
/// `Category.AvailableBalancedQuota()` with the respondent's answers as context, by the rules
/// of the [`quota`](crate::quota) module:
///
/// * **To-do** of category `c`: `min(max over counted rows of (min − taken), min over counted
///   rows of (max − taken))`, where the rows are the category itself (min = max = its target)
///   and every node of its tree whose conditions the respondent's answers satisfy or leave
///   unknown (a node on a question not answered yet counts, as in Askia); nodes without a
///   target are skipped. A category is available when its to-do is above 0: a node of the
///   respondent's that is full closes it, and so does a node on an unknown question.
/// * **Order**: `(Target% − Observed%) / Target%` descending over the categories, i.e. the
///   least filled (taken / target) first, compared exactly; ties in catalogue order.
/// * **Counts**: completes and pending slots (a held slot is taken, as for every router), read
///   from the [`QuotaView`](crate::state::QuotaView): one set of counts for every worker,
///   every node and a shared store's mirror, with nothing to count by hand.
///
/// The first available category in that order that is offerable ([`Ask::is_offerable`]:
/// eligible, not shown, open, fits, a qualifier slot left) is offered. Since it reads the live
/// counts, `balanced` is built by name like the others (`policy("balanced")`); a test checks
/// its order against [`QuotaTree::available_balanced`](crate::quota::QuotaTree::available_balanced)
/// on a tree with the same counts.
///
/// ```
/// use quotaroute::catalogue::{Catalogue, Category};
/// use quotaroute::route::{policy, Interview, RouterState, Turn, Outcome};
/// use quotaroute::schema::{Answers, Respondent, Schema};
/// use quotaroute::state::QuotaState;
/// use rand::SeedableRng;
///
/// let catalogue = Catalogue::new(Schema::default_survey(), vec![
///     Category::new("A", "Product A", 0.5, 60.0).with_target(10),
///     Category::new("B", "Product B", 0.5, 60.0).with_target(10),
/// ])?;
/// let mut quotas = QuotaState::new(&catalogue);
/// let a = catalogue.find("A").unwrap();
/// for _ in 0..8 {
///     quotas.complete(a)?;
/// }
/// let router = policy("balanced")?;
/// let respondent = Respondent::new(1, Answers::unknown(catalogue.schema()));
/// let mut interview = Interview::new();
/// interview.begin(&catalogue, &respondent.answers, 480.0, None);
/// let mut state = RouterState::default();
/// let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(7);
/// let mut turn = Turn::start(&catalogue, &router, &mut state, &respondent, &mut interview, &quotas);
/// // B is the least filled (0 of 10 against 8 of 10): offered first.
/// assert_eq!(turn.offer(&mut quotas, &mut rng)?, catalogue.find("B"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Balanced;

impl Balanced {
    /// The policy.
    pub const fn new() -> Balanced {
        Balanced
    }

    /// Askia's to-do of the category for this respondent on the live counts (see the type's
    /// docs); above 0 when the category is available.
    ///
    /// # Performance
    /// One pass over the category's cells that apply to the respondent (found when the
    /// interview began, [`Interview::applicable_cells_of`](super::Interview::applicable_cells_of));
    /// no allocation.
    pub fn todo(ask: &Ask<'_>, category: CategoryId) -> i64 {
        let (catalogue, quotas) = (ask.catalogue, &ask.quotas);
        // An id from another catalogue has nothing to do (and no counter to read).
        if category.index() >= quotas.len() || category.index() >= catalogue.len() {
            return 0;
        }
        // The category's own row: min = max = its target (live, administrative changes in),
        // so its need and its room are both its open slots.
        let open = i64::from(quotas.open_slots(category));
        let (mut need, mut room) = (open, open);
        for cell in ask.interview.applicable_cells_of(category) {
            let (min, max) = (catalogue.cell_min(cell), quotas.cell_target(cell));
            if min == 0 && max == crate::catalogue::QuotaCell::NO_MAX {
                continue;
            }
            let taken = i64::from(quotas.cell_taken(cell));
            need = need.max(i64::from(min) - taken);
            room = room.min(i64::from(max) - taken);
        }
        need.min(room)
    }

    /// The available, offerable category the query puts first, with its to-do.
    fn best(ask: &Ask<'_>) -> Option<(CategoryId, i64)> {
        let quotas = &ask.quotas;
        // (category, to-do, taken, target) of the best so far.
        let mut best: Option<(CategoryId, i64, u64, u64)> = None;
        ask.interview.for_each_candidate(|c| {
            if !ask.is_offerable(c) {
                return;
            }
            let todo = Balanced::todo(ask, c);
            if todo <= 0 {
                return;
            }
            let (taken, target) = taken_and_target(quotas, c);
            // Ascending taken / target, exactly: taken_c · target_b < taken_b · target_c.
            // Candidates come in catalogue order, so a tie keeps the earlier one.
            let better = match best {
                None => true,
                Some((_, _, tb, gb)) => {
                    u128::from(taken) * u128::from(gb) < u128::from(tb) * u128::from(target)
                }
            };
            if better {
                best = Some((c, todo, taken, target));
            }
        });
        best.map(|(c, todo, ..)| (c, todo))
    }
}

/// The category's completes and pending slots, and its target as routing sees it (taken +
/// open: a category past a lowered target reads as full, not as more than full).
fn taken_and_target(quotas: &crate::state::QuotaView<'_>, c: CategoryId) -> (u64, u64) {
    let taken = u64::from(quotas.completed(c)) + u64::from(quotas.pending(c));
    (taken, taken + u64::from(quotas.open_slots(c)))
}

impl Router for Balanced {
    fn name(&self) -> &str {
        "balanced"
    }

    /// # Performance
    /// One pass over the respondent's candidates, each reading its counts and its quota
    /// cells ([`Balanced::todo`]); no allocation.
    fn next_offer(
        &self,
        ask: &Ask<'_>,
        _: &mut RouterState,
        _: &mut dyn Rng,
    ) -> Option<CategoryId> {
        if ask.interview.is_over(ask.catalogue) {
            return None;
        }
        Balanced::best(ask).map(|(c, _)| c)
    }

    /// Each candidate with its to-do and fill (taken / target); its priority is
    /// `1 − fill` when available (to-do above 0), else 0, so the order is the query's.
    fn explain(&self, ask: &Ask<'_>, _: &mut RouterState) -> Explanation {
        let mut e = Explanation::exclusions_only(ask);
        let quotas = &ask.quotas;
        for candidate in &mut e.candidates {
            let c = candidate.category;
            let todo = Balanced::todo(ask, c);
            let (taken, target) = taken_and_target(quotas, c);
            let fill = if target > 0 {
                taken as f64 / target as f64
            } else {
                1.0
            };
            candidate.priority = if todo > 0 {
                (1.0 - fill).max(f64::MIN_POSITIVE)
            } else {
                0.0
            };
            candidate.factors =
                smallvec![("todo".to_owned(), todo as f64), ("fill".to_owned(), fill),];
        }
        e.candidates.sort_by(|a, b| {
            b.priority
                .total_cmp(&a.priority)
                .then(a.category.cmp(&b.category))
        });
        if !ask.interview.is_over(ask.catalogue) {
            e.chosen = Balanced::best(ask).map(|(c, _)| c);
        }
        e
    }
}
