//! Proptest strategies and invariant checks, for property-testing routing set-ups (feature
//! `proptest`).
//!
//! Users property-test their own policies and catalogues with the same generators and the same
//! checks the crate uses on itself:
//!
//! ```
//! use proptest::prelude::*;
//! use quotaroute::route::Greedy;
//! use quotaroute::testing::{self, Fieldwork};
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(16))]
//!     // In a test file, put #[test] here.
//!     fn my_policy_keeps_the_rules(fieldwork in testing::fieldwork(12)) {
//!         // Route one respondent to the end, checking every offer as it is made.
//!         let my_policy = Greedy::scarcity();
//!         testing::route_checked(&fieldwork, &my_policy, 7).map_err(TestCaseError::fail)?;
//!     }
//! }
//! # my_policy_keeps_the_rules();
//! ```

use proptest::collection::vec;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

use crate::catalogue::{Catalogue, Category, CategoryId, QuotaCell};
use crate::route::{Ask, Interview, Outcome, Router, RouterState, Turn};
use crate::schema::{Answers, QuestionId, Respondent, ResponseId, ResponseSet, Rule, Schema};
use crate::state::QuotaState;

/// Schemas of 1 to 3 questions with 1 to 4 responses each, uneven supply shares.
pub fn schemas() -> impl Strategy<Value = Schema> {
    vec(vec(1u32..10, 1..=4), 1..=3).prop_map(|questions| {
        let mut builder = Schema::builder();
        for (q, weights) in questions.iter().enumerate() {
            builder = builder.question_with_shares(
                format!("q{q}"),
                weights
                    .iter()
                    .enumerate()
                    .map(|(r, w)| (format!("r{r}"), f64::from(*w))),
            );
        }
        builder.build().expect("generated schemas are valid")
    })
}

/// Eligibility rules over a schema: everyone, one-of clauses, and all / any / not of them.
pub fn rules(schema: &Schema) -> impl Strategy<Value = Rule> + use<> {
    let shape: Vec<usize> = schema
        .question_ids()
        .map(|q| schema.response_count(q))
        .collect();
    let clause = (0..shape.len(), any::<u64>()).prop_map(move |(q, mask)| {
        let n = shape[q];
        let responses: ResponseSet = (0..n)
            .filter(|r| mask >> r & 1 == 1)
            .map(|r| ResponseId(r as u16))
            .collect();
        Rule::OneOf {
            question: QuestionId(q as u16),
            responses,
        }
    });
    let leaf = prop_oneof![3 => Just(Rule::Everyone), 2 => clause];
    leaf.prop_recursive(2, 6, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Rule::All),
            vec(inner.clone(), 0..3).prop_map(Rule::Any),
            inner.prop_map(|r| Rule::Not(Box::new(r))),
        ]
    })
}

/// Answers for a schema, each question answered or still unknown.
pub fn answers(schema: &Schema) -> impl Strategy<Value = Answers> + use<> {
    let schema = schema.clone();
    let shape: Vec<usize> = schema
        .question_ids()
        .map(|q| schema.response_count(q))
        .collect();
    shape
        .into_iter()
        .map(|n| prop::option::weighted(0.85, 0..n))
        .collect::<Vec<_>>()
        .prop_map(move |picked| {
            let mut a = Answers::unknown(&schema);
            for (q, r) in picked.into_iter().enumerate() {
                if let Some(r) = r {
                    a.set(QuestionId(q as u16), ResponseId(r as u16));
                }
            }
            a
        })
}

/// Catalogues of 1 to `max_categories` categories on a generated schema: incidence in
/// (0, 1], LOI 5–300 s, qualifier 0–20 s, target 0–40, generated eligibility rules; about a
/// third of the categories carry a quota tree ([`quota_tree`]).
pub fn catalogues(max_categories: usize) -> impl Strategy<Value = Catalogue> {
    schemas().prop_flat_map(move |schema| {
        let category = (
            1u32..=1000,
            5.0f64..300.0,
            prop_oneof![Just(0.0), 0.0f64..20.0],
            0u32..=40,
            rules(&schema),
            prop::option::weighted(0.3, vec((0u32..=12, 0u32..=6), 8)),
        );
        (Just(schema), vec(category, 1..=max_categories.max(1))).prop_map(|(schema, cats)| {
            let categories = cats
                .into_iter()
                .enumerate()
                .map(|(i, (ir, loi, q, target, rule, tree))| {
                    let c =
                        Category::new(i.to_string(), format!("c{i}"), f64::from(ir) / 1000.0, loi)
                            .with_qualifier_seconds(q)
                            .with_target(target)
                            .with_eligibility(rule);
                    match tree {
                        Some(bounds) => quota_tree(&schema, c, &bounds),
                        None => c,
                    }
                })
                .collect();
            Catalogue::new(schema, categories).expect("generated catalogues are valid")
        })
    })
}

/// Gives the category a quota tree on the schema: a node per response of the first question,
/// and under the first of them a node per response of the last question (when there are two
/// or more questions), each with the next (max, min) of `bounds` (min capped at max).
pub fn quota_tree(schema: &Schema, mut category: Category, bounds: &[(u32, u32)]) -> Category {
    let mut bounds = bounds.iter().cycle();
    let mut node = |key: String, rule: Rule, parent: Option<usize>| {
        let &(max, min) = bounds.next().unwrap_or(&(0, 0));
        let mut cell = QuotaCell::new(key, rule, max).with_min(min.min(max));
        cell.parent = parent;
        cell
    };
    let (first, last) = (
        QuestionId(0),
        QuestionId(schema.len().saturating_sub(1) as u16),
    );
    for r in schema.response_ids(first) {
        let cell = node(format!("q0={}", r.index()), Rule::one_of(first, [r]), None);
        category = category.with_cell(cell);
    }
    if last != first {
        for r in schema.response_ids(last) {
            let key = format!("q0=0 > q{}={}", last.index(), r.index());
            category = category.with_cell(node(key, Rule::one_of(last, [r]), Some(0)));
        }
    }
    category
}

/// A moment of fieldwork: a catalogue, completes so far per category (≤ target), and a
/// respondent with a budget and an optional cap on qualifiers.
#[derive(Clone, Debug)]
pub struct Fieldwork {
    /// The configuration.
    pub catalogue: Catalogue,
    /// Completes so far, per category.
    pub completes: Vec<u32>,
    /// The respondent to route.
    pub respondent: Respondent,
    /// The respondent's budget in seconds.
    pub budget: f64,
    /// Cap on qualifiers.
    pub max_qualifiers: Option<u32>,
}

impl Fieldwork {
    /// A quota state holding this moment's completes.
    pub fn state(&self) -> QuotaState {
        let mut state = QuotaState::new(&self.catalogue);
        for (i, &k) in self.completes.iter().enumerate() {
            for _ in 0..k {
                state
                    .complete(CategoryId::from_index(i))
                    .expect("completes never pass the target");
            }
        }
        state
    }
}

/// Fieldwork moments over catalogues of up to `max_categories` categories.
pub fn fieldwork(max_categories: usize) -> impl Strategy<Value = Fieldwork> {
    catalogues(max_categories).prop_flat_map(|catalogue| {
        let completes: Vec<_> = catalogue
            .categories()
            .iter()
            .map(|c| 0..=c.target)
            .collect();
        let answers = answers(catalogue.schema());
        (
            Just(catalogue),
            completes,
            answers,
            30.0f64..900.0,
            prop::option::of(1u32..12),
        )
            .prop_map(|(catalogue, completes, answers, budget, max_qualifiers)| {
                Fieldwork {
                    catalogue,
                    completes,
                    respondent: Respondent::new(1, answers),
                    budget,
                    max_qualifiers,
                }
            })
    })
}

/// Routes the fieldwork's respondent to the end with `router` (every qualifier failed or
/// passed by a seeded draw at the catalogue incidence), checking each step:
/// an offer is eligible, not shown before, open, fits the time left, within the qualifier cap;
/// the budget is never exceeded; no category passes its target and no quota cell (tree node)
/// its max; and `None` comes only when nothing is offerable (for `balanced`, which reads trees
/// as Askia's queries do: [`check_offer_askia`]).
///
/// # Errors
/// A description of the first broken rule.
pub fn route_checked(fieldwork: &Fieldwork, router: &dyn Router, seed: u64) -> Result<(), String> {
    let catalogue = &fieldwork.catalogue;
    let mut state = fieldwork.state();
    let mut interview = Interview::new();
    let mut rs = RouterState::default();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let respondent = &fieldwork.respondent;
    // `balanced` reads quota trees as Askia's queries do (see `check_offer_askia`).
    let askia = router.name() == "balanced";
    interview.begin(
        catalogue,
        &respondent.answers,
        fieldwork.budget,
        fieldwork.max_qualifiers,
    );
    // Every event is recorded through a turn, as the simulation and the live engine do.
    let mut turn = Turn::start(
        catalogue,
        router,
        &mut rs,
        respondent,
        &mut interview,
        &state,
    );
    for _ in 0..=catalogue.len() {
        let offer = turn.next_offer(&state, &mut rng);
        let ask = Ask {
            catalogue,
            respondent,
            interview: turn.interview(),
            quotas: state.view(),
        };
        match askia {
            true => check_offer_askia(&ask, offer)?,
            false => check_offer(&ask, offer)?,
        }
        let Some(c) = offer else {
            return Ok(());
        };
        turn.shown(&mut state, c);
        let qualified = rand::RngExt::random_bool(&mut rng, catalogue.incidence(c));
        let outcome = if qualified {
            Outcome::completed(catalogue, c)
        } else {
            Outcome::NotQualified
        };
        let recorded = turn.answered(&mut state, c, outcome);
        if qualified && !recorded.completed {
            let key = &catalogue.category(c).key;
            return Err(format!(
                "offered `{key}` but completing it failed: it is full"
            ));
        }
        let interview = turn.interview();
        if interview.seconds_used() > interview.budget() + 1e-9 {
            return Err(format!(
                "budget exceeded: {} s used of {} s",
                interview.seconds_used(),
                interview.budget()
            ));
        }
        for id in catalogue.ids() {
            if state.view().completed(id) > catalogue.category(id).target {
                return Err(format!("`{}` overfilled", catalogue.category(id).key));
            }
            for cell in catalogue.cell_range(id) {
                let view = state.view();
                if view.cell_completed(cell) > view.cell_target(cell) {
                    let key = &catalogue.category(id).key;
                    return Err(format!("`{key}`: quota cell {cell} overfilled"));
                }
            }
        }
    }
    Err("the router kept offering after every category was shown".into())
}

/// Checks one decision: an offer must be offerable now; `None` is allowed only when nothing
/// is.
///
/// # Errors
/// A description of the broken rule.
pub fn check_offer(ask: &Ask<'_>, offer: Option<CategoryId>) -> Result<(), String> {
    match offer {
        Some(c) => {
            if c.index() >= ask.catalogue.len() {
                return Err(format!(
                    "offered the category at position {}, not in the catalogue",
                    c.index()
                ));
            }
            let key = &ask.catalogue.category(c).key;
            match ask.exclusion(c) {
                None => Ok(()),
                Some(why) => Err(format!("offered `{key}`, which is {why}")),
            }
        }
        None => match ask.catalogue.ids().find(|&c| ask.is_offerable(c)) {
            Some(c) => Err(format!(
                "offered nothing while `{}` was offerable",
                ask.catalogue.category(c).key
            )),
            None => Ok(()),
        },
    }
}

/// [`check_offer`] for a policy that reads quota trees as Askia's queries do (`balanced`): it
/// may also hold back a category in which a node on a question the respondent has not
/// answered yet is full, so `None` is allowed when every offerable category has such a node.
///
/// # Errors
/// A description of the broken rule.
pub fn check_offer_askia(ask: &Ask<'_>, offer: Option<CategoryId>) -> Result<(), String> {
    if offer.is_some() {
        return check_offer(ask, offer);
    }
    match ask
        .catalogue
        .ids()
        .find(|&c| ask.is_offerable(c) && !applicable_node_full(ask, c))
    {
        Some(c) => Err(format!(
            "offered nothing while `{}` was offerable",
            ask.catalogue.category(c).key
        )),
        None => Ok(()),
    }
}

/// True when a quota cell of the category that applies to the respondent (one they fall in,
/// or one on a question they have not answered) is full.
fn applicable_node_full(ask: &Ask<'_>, category: CategoryId) -> bool {
    ask.interview
        .applicable_cells_of(category)
        .any(|cell| ask.quotas.cell_open_slots(cell) == 0)
}
