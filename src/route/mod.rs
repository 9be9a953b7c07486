//! Routing: which category qualifier a respondent sees next.
//!
//! A [`Router`] looks at one respondent, the [`Interview`] so far and a read-only
//! [`QuotaView`], and returns the next category to offer, or `None` to end the routing. Policies
//! are types ([`Greedy`], [`RandomRouter`]); [`policy`] builds one by its stable name from the
//! registry ([`POLICIES`]). A [`Turn`] records what happens to a respondent (shown, answered,
//! completed, abandoned) in the quota counts, the interview and the router's hooks at once.
//!
//! ```
//! use quotaroute::catalogue::{Catalogue, Category};
//! use quotaroute::route::{Ask, Greedy, Interview, Router, RouterState};
//! use quotaroute::schema::{Answers, Respondent, Schema};
//! use quotaroute::state::QuotaState;
//! use rand::SeedableRng;
//!
//! let schema = Schema::default_survey();
//! let catalogue = Catalogue::new(schema.clone(), vec![
//!     Category::new("coffee", "Fresh Coffee", 0.32, 145.0),
//!     Category::new("ivf", "Fertility or IVF service", 0.10, 165.0),
//! ])?;
//! let quotas = QuotaState::new(&catalogue);
//! let router = Greedy::scarcity();
//! let respondent = Respondent::new(1, Answers::from_names(&schema, [("gender", "female")])?);
//! let mut interview = Interview::new();
//! interview.begin(&catalogue, &respondent.answers, 480.0, None);
//!
//! let ask = Ask { catalogue: &catalogue, respondent: &respondent, interview: &interview, quotas: quotas.view() };
//! let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(7);
//! // The scarcest category comes first: IVF needs 2,000 respondents for 200 completes.
//! let offer = router.next_offer(&ask, &mut RouterState::default(), &mut rng);
//! assert_eq!(offer, catalogue.find("ivf"));
//! // Ask why.
//! let why = router.explain(&ask, &mut RouterState::default());
//! assert_eq!(why.chosen, offer);
//! assert_eq!(why.candidates.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod balanced;
mod factor;
mod interview;
mod packing;
mod policy;
mod record;
mod registry;
mod weighted;

use std::any::Any;
use std::fmt;

use rand::Rng;
use smallvec::SmallVec;

use crate::catalogue::{Catalogue, CategoryId};
use crate::schema::Respondent;
use crate::state::QuotaView;

pub use balanced::Balanced;
pub use factor::{
    BelievedIncidence, DemographicWeight, Factor, MinUrgency, Neutral, RemainingShare, Scarcity,
    TimeFit, believed_incidence,
};
pub use interview::{CapRisk, Interview, OfferError, ResumeError, SavedInterview};
pub use packing::{Pace, Packing};
pub use policy::{Greedy, RandomRouter};
pub use record::{Outcome, QuotaCounts, Recorded, Turn};
pub use registry::{
    DEFAULT_COMPARISON, OptionError, POLICIES, POLICY_NAMES, PolicyError, PolicyInfo,
    PolicyOptions, UnknownPolicy, default_comparison, policies, policy, policy_info, policy_names,
    policy_with,
};
pub use weighted::{DEFAULT_LOOKAHEAD, Weighted, WeightedError};

/// Everything a router may look at for one decision.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    /// The configuration.
    pub catalogue: &'a Catalogue,
    /// Who is being routed.
    pub respondent: &'a Respondent,
    /// The respondent's interview so far.
    pub interview: &'a Interview,
    /// The live quota counters.
    pub quotas: QuotaView<'a>,
}

impl Ask<'_> {
    /// True when the category may be offered now: eligible, not shown yet, open, fits in the
    /// time left, and a qualifier slot is left.
    #[inline]
    pub fn is_offerable(&self, category: CategoryId) -> bool {
        self.exclusion(category).is_none()
    }

    /// Why the category may not be offered now, or `None` when it may.
    pub fn exclusion(&self, category: CategoryId) -> Option<Exclusion> {
        self.interview
            .exclusion(self.catalogue, &self.quotas, category)
    }
}

/// Per-worker mutable state of a stateful policy (caches, tables), kept apart from the
/// immutable router so that one router can serve many threads.
///
/// Stateless policies ignore it; `RouterState::default()` holds nothing and does not allocate.
#[derive(Default)]
pub struct RouterState {
    /// The built-in greedy policies' order of categories by priority bound, held directly so
    /// the hot path makes no dynamic type check.
    pub(crate) bounds: policy::BoundOrder,
    /// The `packing` policy's expected-fill table.
    pub(crate) packing: packing::PackingTable,
    inner: Option<Box<dyn Any + Send>>,
}

impl fmt::Debug for RouterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterState")
            .field("holds_state", &self.inner.is_some())
            .field("bound_order_len", &self.bounds.len())
            .finish()
    }
}

impl RouterState {
    /// The state as a `T`, made by `init` on first use or when it holds another type.
    pub fn get_or_insert_with<T: Any + Send>(&mut self, init: impl FnOnce() -> T) -> &mut T {
        if !self.inner.as_ref().is_some_and(|b| b.is::<T>()) {
            self.inner = Some(Box::new(init()));
        }
        self.inner
            .as_mut()
            .and_then(|b| b.downcast_mut::<T>())
            .expect("just inserted")
    }

    /// The state as a `T`, if it holds one.
    pub fn get_mut<T: Any + Send>(&mut self) -> Option<&mut T> {
        self.inner.as_mut().and_then(|b| b.downcast_mut::<T>())
    }

    /// Drops whatever is held.
    pub fn clear(&mut self) {
        self.inner = None;
        self.bounds = policy::BoundOrder::default();
        self.packing = packing::PackingTable::default();
    }
}

/// A routing policy: the next category to offer a respondent.
///
/// Routers are immutable configuration (`Send + Sync`, shareable by reference between
/// threads); whatever a policy learns or caches lives in the [`RouterState`] its caller keeps
/// per worker. The trait is object safe: `Box<dyn Router>` works, and randomised policies take
/// `&mut dyn Rng`.
pub trait Router: Send + Sync {
    /// The policy's stable name.
    fn name(&self) -> &str;

    /// The next category to offer, or `None` when nothing should be offered.
    ///
    /// A well-behaved router only returns categories for which [`Ask::is_offerable`] is true;
    /// the simulation and the engine check this.
    ///
    /// # Performance
    /// Called once per qualifier shown: implementations must not allocate.
    fn next_offer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        rng: &mut dyn Rng,
    ) -> Option<CategoryId>;

    /// Every category with why it is excluded, or its priority and factor values; allocates.
    ///
    /// The default lists exclusions and candidates without factors, and chooses nothing.
    fn explain(&self, ask: &Ask<'_>, state: &mut RouterState) -> Explanation {
        let _ = state;
        Explanation::exclusions_only(ask)
    }

    /// Called when a respondent's routing starts (after [`Interview::begin`]).
    fn on_respondent_start(&self, ask: &Ask<'_>, state: &mut RouterState) {
        let _ = (ask, state);
    }

    /// Called after the respondent answered a category's qualifier.
    fn on_answer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        category: CategoryId,
        qualified: bool,
    ) {
        let _ = (ask, state, category, qualified);
    }

    /// Called when a category reaches its target.
    fn on_close(&self, catalogue: &Catalogue, state: &mut RouterState, category: CategoryId) {
        let _ = (catalogue, state, category);
    }
}

impl<R: Router + ?Sized> Router for Box<R> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn next_offer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        rng: &mut dyn Rng,
    ) -> Option<CategoryId> {
        (**self).next_offer(ask, state, rng)
    }
    fn explain(&self, ask: &Ask<'_>, state: &mut RouterState) -> Explanation {
        (**self).explain(ask, state)
    }
    fn on_respondent_start(&self, ask: &Ask<'_>, state: &mut RouterState) {
        (**self).on_respondent_start(ask, state)
    }
    fn on_answer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        category: CategoryId,
        qualified: bool,
    ) {
        (**self).on_answer(ask, state, category, qualified)
    }
    fn on_close(&self, catalogue: &Catalogue, state: &mut RouterState, category: CategoryId) {
        (**self).on_close(catalogue, state, category)
    }
}

/// Why a category was not a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Exclusion {
    /// The respondent does not satisfy the eligibility rule (or its answer is unknown).
    Ineligible,
    /// The respondent has already seen the qualifier.
    AlreadyShown,
    /// The category has reached its target.
    Closed,
    /// Qualifier plus LOI does not fit in the seconds left.
    DoesNotFit,
    /// The respondent has seen as many qualifiers as allowed.
    NoQualifierSlots,
    /// A quota cell of the category that the respondent falls in is full (completes and
    /// pending reservations at its max target).
    CellFull,
    /// The respondent completed another category of its exclusion group.
    ExclusionGroup,
    /// Held back for this respondent (a cooldown from an earlier wave, or pacing).
    Held,
    /// The interview ended early (abandoned, or a survey ran into the cap).
    Ended,
    /// The respondent completed as many category surveys as allowed.
    NoCompletesLeft,
}

impl fmt::Display for Exclusion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Exclusion::Ineligible => "ineligible",
            Exclusion::AlreadyShown => "already shown",
            Exclusion::Closed => "closed",
            Exclusion::DoesNotFit => "does not fit",
            Exclusion::NoQualifierSlots => "no qualifier slots left",
            Exclusion::CellFull => "a quota cell of the respondent is full",
            Exclusion::ExclusionGroup => "excluded by its exclusion group",
            Exclusion::Held => "held back",
            Exclusion::Ended => "interview ended",
            Exclusion::NoCompletesLeft => "no completes left",
        })
    }
}

/// One candidate's priority and the factors it is the product of.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Candidate {
    /// The category.
    pub category: CategoryId,
    /// The policy's priority (higher is offered first).
    pub priority: f64,
    /// `(factor name, value)` in the order the policy multiplies them.
    pub factors: SmallVec<[(String, f64); 4]>,
}

impl Candidate {
    /// A candidate with its priority and no factors (a custom policy's [`explain`] adds its
    /// own to `factors`).
    ///
    /// [`explain`]: Router::explain
    pub fn new(category: CategoryId, priority: f64) -> Candidate {
        Candidate {
            category,
            priority,
            factors: SmallVec::new(),
        }
    }
}

/// A decision laid open: the candidates with their factors, and why the others were excluded.
#[derive(Clone, Debug, PartialEq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Explanation {
    /// What the policy offers (for a randomised policy: `None`, the draw is not made).
    pub chosen: Option<CategoryId>,
    /// Offerable categories, best first.
    pub candidates: Vec<Candidate>,
    /// The others, in catalogue order.
    pub excluded: Vec<(CategoryId, Exclusion)>,
    /// N_left: the fluid lower bound on the respondents still needed for the open quotas at
    /// this respondent's budget. Scarcity factors are `open / (p·s)`; divided by this they are
    /// the share of the respondents still to come who must see the category.
    pub respondents_left: f64,
}

impl Explanation {
    /// Exclusions for every category; candidates listed without factors.
    pub fn exclusions_only(ask: &Ask<'_>) -> Explanation {
        let mut e = Explanation {
            respondents_left: respondents_left(ask),
            ..Explanation::default()
        };
        for c in ask.catalogue.ids() {
            match ask.exclusion(c) {
                Some(why) => e.excluded.push((c, why)),
                None => e.candidates.push(Candidate {
                    category: c,
                    priority: 1.0,
                    factors: SmallVec::new(),
                }),
            }
        }
        e
    }
}

/// The fluid bound over the open quotas at this respondent's budget.
fn respondents_left(ask: &Ask<'_>) -> f64 {
    ask.catalogue.lower_bound_for(
        ask.interview.budget(),
        ask.interview.max_qualifiers(),
        |c| f64::from(ask.quotas.open_slots(c)),
    )
}

// Compile-time checks: the trait is object safe, and routers are `Send + Sync` (shareable by
// reference between threads).
const _: () = {
    fn object_safe(_: &dyn Router) {}
    fn send_sync<T: Send + Sync>() {}
    let _ = object_safe;
    let _ = send_sync::<Box<dyn Router>>;
    let _ = send_sync::<Greedy>;
    let _ = send_sync::<RandomRouter>;
};
