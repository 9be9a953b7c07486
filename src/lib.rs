//! # quotaroute
//!
//! A survey routing engine to link into survey platforms and sample routers: which category
//! qualifier each respondent sees next, so that every category reaches its quota of completes
//! with the fewest respondents, while interview time stays bounded and exposure stays
//! representative.
//!
//! ```
//! use quotaroute::catalogue::Catalogue;
//! use quotaroute::route::{policy, Interview, Outcome, RouterState, Turn};
//! use quotaroute::schema::{Answers, Respondent, Schema};
//! use quotaroute::state::QuotaState;
//! use rand::SeedableRng;
//!
//! // Configuration: built once, names resolved once, shared between threads.
//! let csv = "category_id,category_name,incidence_rate,category_length_seconds,eligibility\n\
//!            1,Fertility or IVF service,0.0956,164.5,\n\
//!            4,Self Tan (Female Only),0.191,115.9,gender=female\n\
//!            16,Fresh Coffee,0.321,145.5,\n";
//! let catalogue = Catalogue::from_csv(Schema::default_survey(), csv)?;
//! // Live state: completes and exposures, changing as fieldwork goes.
//! let mut quotas = QuotaState::new(&catalogue);
//! let router = policy("greedy")?;
//!
//! // One respondent, 480 seconds of interview time.
//! let answers = Answers::from_names(catalogue.schema(), [("gender", "male"), ("age", "35-54")])?;
//! let respondent = Respondent::new(42, answers);
//! let mut interview = Interview::new();
//! interview.begin(&catalogue, &respondent.answers, 480.0, None);
//! let mut state = RouterState::default();
//! let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
//!
//! // A turn keeps the quota counts, the interview and the router's hooks in step.
//! let mut turn = Turn::start(&catalogue, &router, &mut state, &respondent, &mut interview, &quotas);
//! let mut offers = Vec::new();
//! // Decided, checked and counted as shown.
//! while let Some(category) = turn.offer(&mut quotas, &mut rng)? {
//!     offers.push(catalogue.category(category).name.as_str());
//!     let qualified = offers.len() == 1; // the survey platform tells us
//!     let outcome = if qualified { Outcome::completed(&catalogue, category) } else { Outcome::NotQualified };
//!     turn.answered(&mut quotas, category, outcome);
//! }
//! // The rarest category first; Self Tan is for women only.
//! assert_eq!(offers, ["Fertility or IVF service", "Fresh Coffee"]);
//! assert!(interview.seconds_used() <= 480.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The map
//!
//! | module | idea |
//! |---|---|
//! | [`schema`] | questions, responses, respondents' answers, eligibility rules: names resolved once to `Copy` ids |
//! | [`catalogue`] | categories (incidence, length, qualifier cost, target, eligibility, quota cells forming a quota tree per category), the CSV reader, the catalogue document and the pre-flight check (`docs/catalogue.md` documents both forms field by field) |
//! | [`state`] | live quota counts and the read-only [`QuotaView`](state::QuotaView) routers decide on; snapshots |
//! | [`route`] | the [`Router`](route::Router) trait, the [`Interview`](route::Interview), the [`Turn`](route::Turn) that records what happened to a respondent, the policy registry ([`POLICIES`](route::POLICIES)), the policies and their factors, explanations |
//! | [`live`] | the engine a survey server embeds: many threads, reservations that never overfill (pending slots with timeouts, on every node of a category's quota tree), the Askia quota queries on live counts, consistent snapshots, waves |
//! | [`sim`] | seeded Monte-Carlo fieldwork: settings, runs, summaries of the respondents each policy needs |
//! | [`bound`] | every lower bound: the closed form N*, the stochastic floors, the respondent fill bound, the fluid LP with its cuts (feature `lp`) |
//! | [`quota`] | typed quota trees with Askia-style queries (a category's tree is enforced live and steers routing: [`route::MinUrgency`], the `balanced` policy) |
//! | [`dispatch`] | cumulative-error weighted dispatch of batches among recipients |
//! | [`risk`] | risk ranking of quota cells, categories and sources |
//! | [`store`] | the quota store: counts and holds shared by many router nodes (in memory; Redis with `redis`) |
//! | [`error`] | every error type, re-exported from the module that makes it |
//! | `testing` | proptest strategies and invariant checks (feature `proptest`) |
//!
//! ## Configuration and live state
//!
//! A [`Catalogue`](catalogue::Catalogue) never changes during fieldwork and is shared by
//! reference. Counts live in a [`QuotaState`](state::QuotaState); a router sees them only through
//! a [`QuotaView`](state::QuotaView). What a policy caches between decisions lives in a
//! [`RouterState`](route::RouterState) that each worker keeps, so one router serves many threads.
//! A [`Turn`](route::Turn) records each event of a respondent's routing (shown, answered,
//! completed, abandoned) in the counts, the interview and the router's hooks in one call; the
//! simulation and the live engine record through it too.
//!
//! ## Performance
//!
//! The decision path does no string lookup and allocates nothing (a counting-allocator test
//! checks it). On the bundled 77-category catalogue a `greedy` decision takes tens of
//! nanoseconds and a whole respondent about a microsecond (see `benches/route.rs` and the
//! README for measured figures).
//!
//! ## Features
//!
//! - `serde` (default): serde derives on configuration and state types.
//! - `proptest`: the `testing` module.
//! - `lp` (default): `bound::lp`, the fluid LP lower bound (a pure-Rust simplex solver).
//! - `redis`: `store::RedisStore` and `store::AsyncRedisStore` (tokio), the quota store on
//!   Redis or Redis Cluster.
//! - `conformance`: `store::conformance`, the suite any quota store must pass.
//! - `metrics`: the live engine's counters, histograms and gauges (offers, answers, holds,
//!   completes, abandons, expiries, refused holds, decision and store latency, store retries,
//!   mirror lag, open slots per category id) through the `metrics` facade; the platform
//!   installs the exporter. Listed in [`live::metrics`] and `docs/operations.md`. Decisions
//!   still allocate nothing; without the feature the hooks compile to nothing.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bound;
pub mod catalogue;
pub mod dispatch;
pub mod error;
pub mod fill;
pub mod live;
pub mod quota;
pub mod risk;
pub mod route;
pub mod schema;
#[cfg(feature = "serde")]
mod serde_check;
pub mod sim;
pub mod state;
pub mod store;
#[cfg(feature = "proptest")]
pub mod testing;

#[cfg(doctest)]
mod doctests;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
