//! The `weighted` policy: respondents split among categories by weight, through the
//! cumulative-error dispatcher's streaming mode.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use smallvec::smallvec;
use thiserror::Error;

use crate::catalogue::{Catalogue, CategoryId};
use crate::dispatch::{Dispatcher, LeavePolicy};
use crate::state::QuotaView;

use super::{Ask, Explanation, Router, RouterState};

static ROUTERS: AtomicU64 = AtomicU64::new(0);

fn next_instance() -> u64 {
    ROUTERS.fetch_add(1, Ordering::Relaxed)
}

/// The default [`Weighted::with_lookahead`]: how many items of the stream a decision reads
/// before it falls back to a scan.
pub const DEFAULT_LOOKAHEAD: u32 = 32;

/// Why a [`Weighted`] router could not be built.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum WeightedError {
    /// A weight is NaN, infinite or negative.
    #[error("weight {weight} of category {category} is not a finite number ≥ 0")]
    InvalidWeight {
        /// The category (its key when built from keys; from bare ids, which carry no key, "at position N").
        category: String,
        /// The weight given.
        weight: f64,
    },
    /// A category is given a weight twice.
    #[error("category {category} is given a weight twice")]
    Duplicate {
        /// The category (its key when built from keys; from bare ids, which carry no key, "at position N").
        category: String,
    },
    /// A key that the catalogue does not have ([`Weighted::from_keys`]).
    #[error("no category with key `{key}` in the catalogue")]
    UnknownCategory {
        /// The key given.
        key: String,
    },
}

/// The `weighted` policy: the sequence of offers follows the cumulative-error dispatch of
/// items to categories with given weights ([`Dispatcher::next`]), so every category is offered
/// within about one item of its weight's share of the stream, in nginx's smooth weighted
/// round-robin order.
///
/// The router holds only the configuration (the weights, or "each category's target" by
/// default); the live [`Dispatcher`] lives in the worker's [`RouterState`], so each worker
/// keeps its own stream (with `k` workers each worker's stream is exact and the union is within
/// about `k` items per category of the weights).
///
/// # Which categories may be offered
///
/// Only offerable ones ([`Ask::is_offerable`]). The stream is read item by item:
///
/// * an item whose category is **not offerable for this respondent** (ineligible, already
///   shown, does not fit in the time left) is **skipped and stays charged** to that category,
///   and the next item is read. The dispatcher therefore keeps its exact guarantees (errors sum
///   to zero, nobody a whole item ahead) over *items*, and because removing some recipients'
///   items from a smooth weighted sequence leaves the others in their weights' ratios, the
///   offers to the categories a respondent population can take still follow their weights
///   relative to each other. A category's share of *offers* is its weight's share of the
///   stream times the rate at which its items land on respondents who can take it: weight a
///   rare category up (e.g. by `1 / eligible share`) if its offers, not its draws, should
///   match. The alternative — not charging skipped items — would let a category that few
///   respondents can take build an unbounded debt and then flood the first respondents who can.
/// * a category that is **closed** (its quota is full) is **paused** (weight 0: it receives
///   nothing and keeps its error, and resumes with that error if it reopens), so the open
///   categories share the stream by their weights. Pausing costs O(n) and allocates, so it is
///   done lazily: closed categories are skipped like the above until their weights add up to
///   half of the active weight (at most two items read per offer on average), then all closed
///   categories are paused at once. Either way the ratios among the open ones are exact.
/// * after [`lookahead`](Weighted::with_lookahead) items without an offerable category (a
///   respondent who can take few categories), the decision falls back to a scan: the
///   offerable category most behind its share (smallest cumulative error), preferring
///   categories with a positive weight; that offer is not charged to the stream. Categories of
///   weight 0 are offered only this way, so the policy returns `None` only when nothing is
///   offerable, like every built-in policy.
///
/// ```
/// use quotaroute::catalogue::{Catalogue, Category};
/// use quotaroute::route::{Interview, Router, RouterState, Ask, Weighted};
/// use quotaroute::schema::{Answers, Respondent, Schema};
/// use quotaroute::state::QuotaState;
/// use rand::SeedableRng;
///
/// let schema = Schema::default_survey();
/// let catalogue = Catalogue::new(schema.clone(), vec![
///     Category::new("a", "A", 0.5, 60.0).with_target(1000),
///     Category::new("b", "B", 0.5, 60.0).with_target(1000),
/// ])?;
/// // A gets 60% of the stream, B 40%, smoothly interleaved: A, B, A, B, A, ...
/// let router = Weighted::from_keys(&catalogue, [("a", 0.6), ("b", 0.4)])?;
/// let quotas = QuotaState::new(&catalogue);
/// let mut rs = RouterState::default();
/// let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
/// let mut offers = String::new();
/// for id in 0..5 {
///     let respondent = Respondent::new(id, Answers::unknown(&schema));
///     let mut interview = Interview::new();
///     interview.begin(&catalogue, &respondent.answers, 480.0, Some(1));
///     let ask = Ask { catalogue: &catalogue, respondent: &respondent, interview: &interview, quotas: quotas.view() };
///     let c = router.next_offer(&ask, &mut rs, &mut rng).unwrap();
///     offers.push_str(&catalogue.category(c).key);
/// }
/// assert_eq!(offers, "ababa");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Weighted {
    /// Weight per category index; `None`: each category's completes target.
    weights: Option<Vec<f64>>,
    lookahead: u32,
    /// Tells this configuration's state apart from another router's in a shared
    /// [`RouterState`].
    #[cfg_attr(feature = "serde", serde(skip, default = "next_instance"))]
    instance: u64,
}

impl Default for Weighted {
    fn default() -> Self {
        Weighted::by_target()
    }
}

impl PartialEq for Weighted {
    fn eq(&self, other: &Self) -> bool {
        self.weights == other.weights && self.lookahead == other.lookahead
    }
}

impl Weighted {
    /// The registry's `weighted`: each category weighted by its completes target, so that the
    /// stream of offers is split in proportion to the quotas.
    pub fn by_target() -> Weighted {
        Weighted {
            weights: None,
            lookahead: DEFAULT_LOOKAHEAD,
            instance: next_instance(),
        }
    }

    /// Explicit weights per category; a category not listed has weight 0 (offered only when
    /// nothing weighted is offerable), and an id beyond the catalogue routed is ignored.
    ///
    /// # Errors
    /// [`WeightedError::InvalidWeight`] for a NaN, infinite or negative weight,
    /// [`WeightedError::Duplicate`] for a category listed twice.
    pub fn new(
        weights: impl IntoIterator<Item = (CategoryId, f64)>,
    ) -> Result<Weighted, WeightedError> {
        let mut dense: Vec<f64> = Vec::new();
        let mut seen: Vec<bool> = Vec::new();
        for (c, w) in weights {
            if !(w.is_finite() && w >= 0.0) {
                return Err(WeightedError::InvalidWeight {
                    category: position(c),
                    weight: w,
                });
            }
            let i = c.index();
            if i >= dense.len() {
                dense.resize(i + 1, 0.0);
                seen.resize(i + 1, false);
            }
            if seen[i] {
                return Err(WeightedError::Duplicate {
                    category: position(c),
                });
            }
            seen[i] = true;
            dense[i] = w;
        }
        Ok(Weighted {
            weights: Some(dense),
            lookahead: DEFAULT_LOOKAHEAD,
            instance: next_instance(),
        })
    }

    /// Explicit weights by category key; categories not listed have weight 0.
    ///
    /// # Errors
    /// [`WeightedError::UnknownCategory`] naming a key the catalogue does not have, and the
    /// errors of [`Weighted::new`] (naming the key).
    pub fn from_keys<'k>(
        catalogue: &Catalogue,
        weights: impl IntoIterator<Item = (&'k str, f64)>,
    ) -> Result<Weighted, WeightedError> {
        let mut ids = Vec::new();
        for (key, w) in weights {
            let c = catalogue
                .find(key)
                .ok_or_else(|| WeightedError::UnknownCategory {
                    key: key.to_owned(),
                })?;
            if ids.iter().any(|&(d, _)| d == c) {
                return Err(WeightedError::Duplicate {
                    category: key.to_owned(),
                });
            }
            if !(w.is_finite() && w >= 0.0) {
                return Err(WeightedError::InvalidWeight {
                    category: key.to_owned(),
                    weight: w,
                });
            }
            ids.push((c, w));
        }
        Weighted::new(ids)
    }

    /// How many items of the stream one decision reads before falling back to a scan (at
    /// least 1; default [`DEFAULT_LOOKAHEAD`]).
    pub fn with_lookahead(mut self, items: u32) -> Weighted {
        self.lookahead = items.max(1);
        self
    }

    /// The configured weight of a category in `catalogue` (its target by default).
    pub fn weight(&self, catalogue: &Catalogue, category: CategoryId) -> f64 {
        match &self.weights {
            Some(w) => w.get(category.index()).copied().unwrap_or(0.0),
            None => {
                if category.index() < catalogue.len() {
                    f64::from(catalogue.category(category).target)
                } else {
                    0.0
                }
            }
        }
    }

    /// This worker's live state, (re)built for this router and catalogue, with closed
    /// categories paused when they hold half the active weight.
    fn live<'s>(
        &self,
        catalogue: &Catalogue,
        quotas: &QuotaView<'_>,
        state: &'s mut RouterState,
    ) -> &'s mut WeightedState {
        let st = state.get_or_insert_with(WeightedState::default);
        let key = (self.instance, catalogue.instance());
        if st.key != Some(key) {
            st.key = Some(key);
            st.base = catalogue.ids().map(|c| self.weight(catalogue, c)).collect();
            st.dispatcher = Dispatcher::from_weights(
                st.base.iter().enumerate().map(|(i, &w)| (i as u32, w)),
                LeavePolicy::Forget,
            )
            .unwrap_or_default();
            st.sync = None;
        }
        let sync = (quotas.epoch(), quotas.closes());
        if st.sync != Some(sync) {
            st.sync = Some(sync);
            st.resync(quotas);
        }
        st
    }
}

/// The `weighted` policy's per-worker state: the live dispatcher over the categories.
#[derive(Debug, Default)]
struct WeightedState {
    /// (router instance, catalogue instance) this state was built for.
    key: Option<(u64, u64)>,
    /// The view's (epoch, closes) when pauses were last checked.
    sync: Option<((u64, u64), u64)>,
    /// Configured weight per category.
    base: Vec<f64>,
    /// Recipient `i` is category `i`.
    dispatcher: Dispatcher<u32>,
}

impl WeightedState {
    /// Resumes reopened categories, and pauses the closed ones when they hold at least half of
    /// the active weight (O(n); allocates only when the weights change).
    fn resync(&mut self, quotas: &QuotaView<'_>) {
        let weights = self.dispatcher.weights();
        let (mut active, mut closed_active, mut reopened) = (0.0, 0.0, false);
        for (i, (&w, &base)) in weights.iter().zip(&self.base).enumerate() {
            let open = quotas.is_open(CategoryId::from_index(i));
            active += w;
            if w > 0.0 && !open {
                closed_active += w;
            }
            reopened |= w == 0.0 && base > 0.0 && open;
        }
        if reopened || (closed_active > 0.0 && 2.0 * closed_active >= active) {
            let base = &self.base;
            // Failure leaves the dispatcher as it was: closed categories are then skipped.
            let _ = self
                .dispatcher
                .configure(base.iter().enumerate().map(|(i, &w)| {
                    let open = quotas.is_open(CategoryId::from_index(i));
                    (i as u32, if open { w } else { 0.0 })
                }));
        }
    }

    /// The offerable category most behind its share, weighted ones first; not charged.
    fn fallback(&self, ask: &Ask<'_>) -> Option<CategoryId> {
        let mut best: Option<(bool, f64, CategoryId)> = None;
        let d = &self.dispatcher;
        for (i, &base) in self.base.iter().enumerate() {
            let c = CategoryId::from_index(i);
            if !ask.is_offerable(c) {
                continue;
            }
            let error = d.exact_error(i).map_or(0.0, |e| e.to_f64());
            let key = (base > 0.0, error, c);
            best = match best {
                None => Some(key),
                Some(b) if (key.0 && !b.0) || (key.0 == b.0 && key.1 < b.1) => Some(key),
                keep => keep,
            };
        }
        best.map(|b| b.2)
    }

    /// The decision, reading the stream.
    fn decide(&mut self, ask: &Ask<'_>, lookahead: u32) -> Option<CategoryId> {
        for _ in 0..lookahead {
            let Ok(i) = self.dispatcher.next() else {
                break;
            };
            let c = CategoryId::from_index(self.dispatcher.ids()[i] as usize);
            if ask.is_offerable(c) {
                return Some(c);
            }
        }
        self.fallback(ask)
    }
}

impl Router for Weighted {
    fn name(&self) -> &str {
        "weighted"
    }

    /// # Performance
    /// Reads the stream ([`Dispatcher::next`], amortised O(log n)) until an offerable category
    /// comes up: one item when everything is offerable, a few more per category the respondent
    /// cannot take, at most the [lookahead](Weighted::with_lookahead), then an O(n) scan. No
    /// allocation after the first decision, except an O(n) re-weighting when closed categories
    /// come to hold half the active weight or a category reopens.
    fn next_offer(
        &self,
        ask: &Ask<'_>,
        state: &mut RouterState,
        _: &mut dyn Rng,
    ) -> Option<CategoryId> {
        if ask.interview.is_over(ask.catalogue) {
            return None;
        }
        self.live(ask.catalogue, &ask.quotas, state)
            .decide(ask, self.lookahead)
    }

    /// Candidates by their weight's share of the active weight, with their cumulative error;
    /// `chosen` is what [`next_offer`](Router::next_offer) would offer now (read on a copy of
    /// the stream, which is left as it is).
    fn explain(&self, ask: &Ask<'_>, state: &mut RouterState) -> Explanation {
        let mut e = Explanation::exclusions_only(ask);
        let st = self.live(ask.catalogue, &ask.quotas, state);
        let total: f64 = st.dispatcher.weights().iter().sum();
        let weights = st.dispatcher.weights();
        let errors: Vec<f64> = st.dispatcher.cumulative_errors().collect();
        for candidate in &mut e.candidates {
            let i = candidate.category.index();
            let w = weights.get(i).copied().unwrap_or(0.0);
            let share = if total > 0.0 { w / total } else { 0.0 };
            candidate.priority = share;
            candidate.factors = smallvec![
                ("share".to_owned(), share),
                (
                    "cumulative_error".to_owned(),
                    errors.get(i).copied().unwrap_or(0.0)
                ),
            ];
        }
        e.candidates
            .sort_by(|a, b| b.priority.total_cmp(&a.priority));
        if !ask.interview.is_over(ask.catalogue) {
            let mut copy = WeightedState {
                key: st.key,
                sync: st.sync,
                base: st.base.clone(),
                dispatcher: st.dispatcher.clone(),
            };
            e.chosen = copy.decide(ask, self.lookahead);
        }
        e
    }

    /// Pauses the category at once (O(n)), rather than when closed categories come to hold
    /// half the active weight.
    fn on_close(&self, catalogue: &Catalogue, state: &mut RouterState, category: CategoryId) {
        if let Some(st) = state.get_mut::<WeightedState>()
            && st.key == Some((self.instance, catalogue.instance()))
            && st.dispatcher.weights().get(category.index()) > Some(&0.0)
        {
            let _ = st.dispatcher.set_weight(&(category.index() as u32), 0.0);
        }
    }
}

/// How [`Weighted::new`] names a category in an error: it is given bare ids, without the
/// catalogue that would give their keys.
fn position(c: CategoryId) -> String {
    format!("at position {}", c.index())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Category;
    use crate::route::Interview;
    use crate::schema::{Answers, Respondent, Schema};
    use crate::state::QuotaState;
    use rand::SeedableRng;

    fn catalogue(targets: &[u32]) -> Catalogue {
        Catalogue::new(
            Schema::default_survey(),
            targets
                .iter()
                .enumerate()
                .map(|(i, &t)| {
                    Category::new(format!("c{i}"), format!("C{i}"), 0.5, 60.0).with_target(t)
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn bad_weights_are_typed_errors() {
        let c = CategoryId::from_index;
        assert!(matches!(
            Weighted::new([(c(0), f64::NAN)]),
            Err(WeightedError::InvalidWeight { .. })
        ));
        assert!(matches!(
            Weighted::new([(c(0), -1.0)]),
            Err(WeightedError::InvalidWeight { .. })
        ));
        assert_eq!(
            Weighted::new([(c(1), 1.0), (c(1), 2.0)]),
            Err(WeightedError::Duplicate {
                category: "at position 1".into()
            })
        );
        assert_eq!(
            Weighted::new([(c(1), 1.0), (c(1), 2.0)])
                .unwrap_err()
                .to_string(),
            "category at position 1 is given a weight twice"
        );
        let cat = catalogue(&[10, 10]);
        let e = Weighted::from_keys(&cat, [("c9", 1.0)]).unwrap_err();
        assert_eq!(e.to_string(), "no category with key `c9` in the catalogue");
        let e = Weighted::from_keys(&cat, [("c0", 1.0), ("c0", 1.0)]).unwrap_err();
        assert_eq!(e.to_string(), "category c0 is given a weight twice");
    }

    #[test]
    fn default_weights_are_the_targets() {
        let cat = catalogue(&[10, 30]);
        let w = Weighted::by_target();
        assert_eq!(w.weight(&cat, CategoryId::from_index(1)), 30.0);
        assert_eq!(w.weight(&cat, CategoryId::from_index(5)), 0.0);
        let w = Weighted::new([(CategoryId::from_index(0), 2.0)]).unwrap();
        assert_eq!(w.weight(&cat, CategoryId::from_index(1)), 0.0);
    }

    #[test]
    fn weight_zero_is_offered_only_as_a_last_resort() {
        let cat = catalogue(&[10, 10]);
        let router = Weighted::new([(CategoryId::from_index(1), 1.0)]).unwrap();
        let state = QuotaState::new(&cat);
        let respondent = Respondent::new(1, Answers::unknown(cat.schema()));
        let mut interview = Interview::new();
        interview.begin(&cat, &respondent.answers, 480.0, None);
        let mut rs = RouterState::default();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
        let mut offers = Vec::new();
        for _ in 0..3 {
            let ask = Ask {
                catalogue: &cat,
                respondent: &respondent,
                interview: &interview,
                quotas: state.view(),
            };
            let Some(c) = router.next_offer(&ask, &mut rs, &mut rng) else {
                break;
            };
            offers.push(c.index());
            interview.record_shown(&cat, c);
        }
        assert_eq!(offers, vec![1, 0]);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn config_round_trips() {
        let w = Weighted::new([(CategoryId::from_index(2), 0.5)])
            .unwrap()
            .with_lookahead(7);
        let json = serde_json::to_string(&w).unwrap();
        let back: Weighted = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
    }
}
