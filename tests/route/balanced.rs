//! The `balanced` policy: offers follow `available_balanced` for the respondent's cell, skip
//! what is not offerable, and follow the counts as completes are recorded.
#![cfg(feature = "serde")]

use std::sync::{Arc, RwLock};

use proptest::prelude::*;
use quotaroute::catalogue::{Catalogue, Category, CategoryId};
use quotaroute::quota::{Condition, NodeSpec, Query, QuotaTree, Target};
use quotaroute::route::{Ask, Balanced, BalancedError, Interview, Router, RouterState};
use quotaroute::schema::{Answers, QuestionId, Respondent, Rule, Schema};

/// The tree's first question (the category question in every tree here).
fn q0(tree: &Arc<RwLock<QuotaTree>>) -> QuestionId {
    tree.read().unwrap().schema().question_ids().next().unwrap()
}
use quotaroute::state::QuotaState;
use quotaroute::testing;
use rand::SeedableRng;
use serde_json::json;

use crate::counting_alloc;

fn tree_schema() -> Schema {
    Schema::builder()
        .question("Product", ["A", "B", "C"])
        .question("Gender", ["Male", "Female"])
        .build()
        .unwrap()
}

/// The quota tests' example document: Product × Gender.
fn product_by_gender_tree() -> QuotaTree {
    let spec: NodeSpec = serde_json::from_value(json!({"target": 30, "observed": 10, "children": [
        {"question": "Product", "response": "A", "target": 8, "observed": 6, "children": [
            {"question": "Gender", "response": "Male", "target": 6, "observed": 6},
            {"question": "Gender", "response": "Female", "target": 2, "observed": 0}]},
        {"question": "Product", "response": "B", "target": 10, "observed": 4}]}))
    .unwrap();
    QuotaTree::from_spec(tree_schema(), &spec).unwrap()
}

/// Categories C, A, B (not in the response order: mapped by key), on a schema with Gender
/// (responses in another order too) and Age.
fn catalogue(rule_on_c: Rule) -> Catalogue {
    let schema = Schema::builder()
        .question("Gender", ["Female", "Male"])
        .question("Age", ["young", "old"])
        .build()
        .unwrap();
    Catalogue::new(
        schema,
        vec![
            Category::new("C", "Product C", 0.5, 60.0)
                .with_target(100)
                .with_eligibility(rule_on_c),
            Category::new("A", "Product A", 0.5, 60.0).with_target(100),
            Category::new("B", "Product B", 0.5, 60.0).with_target(100),
        ],
    )
    .unwrap()
}

fn respondent(catalogue: &Catalogue, gender: &str) -> Respondent {
    Respondent::new(
        1,
        Answers::from_names(catalogue.schema(), [("Gender", gender), ("Age", "old")]).unwrap(),
    )
}

/// Every offer of one interview (no one qualifies), as keys.
fn offers(
    router: &Balanced,
    catalogue: &Catalogue,
    quotas: &QuotaState,
    respondent: &Respondent,
) -> Vec<String> {
    let mut interview = Interview::new();
    interview.begin(catalogue, &respondent.answers, 10_000.0, None);
    let mut rs = RouterState::default();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
    let mut out = Vec::new();
    loop {
        let ask = Ask {
            catalogue,
            respondent,
            interview: &interview,
            quotas: quotas.view(),
        };
        let Some(c) = router.next_offer(&ask, &mut rs, &mut rng) else {
            break;
        };
        assert!(ask.is_offerable(c));
        assert_eq!(router.explain(&ask, &mut rs).chosen, Some(c));
        out.push(catalogue.category(c).key.clone());
        interview.record_shown(catalogue, c);
    }
    out
}

/// The query the router runs, by hand: names in `available_balanced` order.
fn expected(tree: &QuotaTree, gender: &str) -> Vec<String> {
    let s = tree.schema();
    let product = s.question("Product").unwrap();
    let answers = Answers::from_names(s, [("Gender", gender)]).unwrap();
    tree.available_balanced(&Query::new(product), Some(&answers))
        .unwrap()
        .into_iter()
        .map(|(r, _)| s.response_name(product, r).to_owned())
        .collect()
}

#[test]
fn offers_follow_available_balanced_for_the_cell() {
    let catalogue = catalogue(Rule::Everyone);
    let tree = Arc::new(RwLock::new(product_by_gender_tree()));
    let product = tree.read().unwrap().schema().question("Product").unwrap();
    let router = Balanced::new(&catalogue, tree.clone(), product).unwrap();
    let quotas = QuotaState::new(&catalogue);
    // Male: A's Male cell is full (to-do 0), so A is left out; B has observed 4 of 10, C has
    // no cell (sorts last).
    let male = expected(&tree.read().unwrap(), "Male");
    assert_eq!(male, ["B", "C"]);
    assert_eq!(
        offers(
            &router,
            &catalogue,
            &quotas,
            &respondent(&catalogue, "Male")
        ),
        male
    );
    // Female: A (6 of 8) vs B (4 of 10): B is less filled relative to its target.
    let female = expected(&tree.read().unwrap(), "Female");
    assert_eq!(female, ["B", "A", "C"]);
    assert_eq!(
        offers(
            &router,
            &catalogue,
            &quotas,
            &respondent(&catalogue, "Female")
        ),
        female
    );
}

#[test]
fn never_offers_what_is_not_offerable() {
    // C only for the young; B closed in the quota state.
    let c_rule = Rule::parse(catalogue(Rule::Everyone).schema(), "Age = young").unwrap();
    let catalogue = catalogue(c_rule);
    let tree = Arc::new(RwLock::new(product_by_gender_tree()));
    let router = Balanced::new(&catalogue, tree.clone(), q0(&tree)).unwrap();
    let mut quotas = QuotaState::new(&catalogue);
    let b = catalogue.find("B").unwrap();
    for _ in 0..100 {
        quotas.complete(b).unwrap();
    }
    // Female and old: B is closed, C ineligible: only A.
    assert_eq!(
        offers(
            &router,
            &catalogue,
            &quotas,
            &respondent(&catalogue, "Female")
        ),
        ["A"]
    );
    // Male and old: A's cell is full in the tree: nothing at all.
    assert!(
        offers(
            &router,
            &catalogue,
            &quotas,
            &respondent(&catalogue, "Male")
        )
        .is_empty()
    );
}

#[test]
fn offers_follow_the_counts_as_completes_are_recorded() {
    let catalogue = catalogue(Rule::Everyone);
    let tree = Arc::new(RwLock::new(product_by_gender_tree()));
    let router = Balanced::new(&catalogue, tree.clone(), q0(&tree)).unwrap();
    let mut quotas = QuotaState::new(&catalogue);
    let female = respondent(&catalogue, "Female");
    let mut rs = RouterState::default();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
    let mut firsts = Vec::new();
    // One female respondent after another, each qualifying for her first offer: the router
    // counts it in the tree, and the order follows.
    for _ in 0..12 {
        let mut interview = Interview::new();
        interview.begin(&catalogue, &female.answers, 480.0, Some(1));
        let ask = Ask {
            catalogue: &catalogue,
            respondent: &female,
            interview: &interview,
            quotas: quotas.view(),
        };
        let Some(c) = router.next_offer(&ask, &mut rs, &mut rng) else {
            break;
        };
        let key = catalogue.category(c).key.clone();
        assert_eq!(key, expected(&tree.read().unwrap(), "Female")[0]);
        firsts.push(key);
        quotas.complete(c).unwrap();
        interview.record_shown(&catalogue, c);
        interview.record_complete(&catalogue, c);
        let ask = Ask {
            catalogue: &catalogue,
            respondent: &female,
            interview: &interview,
            quotas: quotas.view(),
        };
        router.on_answer(&ask, &mut rs, c, true);
    }
    // B (4/10) is offered until it is as filled as A (6/8) relative to its target, then they
    // alternate; the root (30) and A's Female cell (2) cap the rest.
    assert_eq!(firsts[..4], ["B", "B", "B", "B"]);
    assert!(firsts.contains(&"A".to_owned()));
    let t = tree.read().unwrap();
    assert_eq!(
        t.node(t.root()).unwrap().observed(),
        10 + firsts.len() as u64
    );

    // Recording by hand (an engine that counts completes itself).
    let manual = Balanced::new(&catalogue, tree.clone(), q0(&tree))
        .unwrap()
        .without_counting();
    drop(t);
    let before = tree
        .read()
        .unwrap()
        .node(quotaroute::quota::NodeId::ROOT)
        .unwrap()
        .observed();
    manual
        .record_complete(&female.answers, catalogue.find("C").unwrap())
        .unwrap();
    let after = tree
        .read()
        .unwrap()
        .node(quotaroute::quota::NodeId::ROOT)
        .unwrap()
        .observed();
    assert_eq!(after, before + 1);
}

#[test]
fn decisions_and_counting_allocate_nothing_after_warm_up() {
    let catalogue = catalogue(Rule::Everyone);
    // Large targets so that the order keeps moving and nothing closes.
    let spec: NodeSpec = serde_json::from_value(json!({"children": [
        {"question": "Product", "response": "A", "target": 100000, "children": [
            {"question": "Gender", "response": "Male", "target": 60000},
            {"question": "Gender", "response": "Female", "target": 40000}]},
        {"question": "Product", "response": "B", "target": 50000},
        {"question": "Product", "response": "C", "target": 70000}]}))
    .unwrap();
    let tree = Arc::new(RwLock::new(
        QuotaTree::from_spec(tree_schema(), &spec).unwrap(),
    ));
    let router = Balanced::new(&catalogue, tree.clone(), q0(&tree)).unwrap();
    let mut quotas = QuotaState::new(&catalogue);
    let people = [
        respondent(&catalogue, "Male"),
        respondent(&catalogue, "Female"),
    ];
    let mut interview = Interview::new();
    let mut rs = RouterState::default();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
    let mut decisions = 0;
    let mut route = |n: usize, decisions: &mut usize| {
        let who = &people[n % 2];
        interview.begin(&catalogue, &who.answers, 480.0, None);
        loop {
            let ask = Ask {
                catalogue: &catalogue,
                respondent: who,
                interview: &interview,
                quotas: quotas.view(),
            };
            let Some(c) = router.next_offer(&ask, &mut rs, &mut rng) else {
                break;
            };
            *decisions += 1;
            interview.record_shown(&catalogue, c);
            let qualified = n.is_multiple_of(3);
            if qualified && quotas.complete(c).is_ok() {
                interview.record_complete(&catalogue, c);
            }
            let ask = Ask {
                catalogue: &catalogue,
                respondent: who,
                interview: &interview,
                quotas: quotas.view(),
            };
            router.on_answer(&ask, &mut rs, c, qualified);
        }
    };
    route(0, &mut decisions);
    let before = counting_alloc::allocations();
    for n in 1..=300 {
        route(n, &mut decisions);
    }
    let allocations = counting_alloc::allocations() - before;
    assert!(decisions >= 300);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {decisions} decisions"
    );
}

#[test]
fn construction_errors_name_the_mismatch() {
    let tree = || Arc::new(RwLock::new(product_by_gender_tree()));
    let two = Catalogue::new(
        Schema::default_survey(),
        vec![
            Category::new("A", "A", 0.5, 60.0),
            Category::new("B", "B", 0.5, 60.0),
        ],
    )
    .unwrap();
    let e = Balanced::new(&two, tree(), tree_schema().question("Product").unwrap()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "response \"C\" of the category question \"Product\" is the key of no category"
    );
    let four = Catalogue::new(
        Schema::default_survey(),
        ["A", "B", "C", "D"]
            .iter()
            .map(|k| Category::new(*k, *k, 0.5, 60.0))
            .collect(),
    )
    .unwrap();
    let e = Balanced::new(&four, tree(), tree_schema().question("Product").unwrap()).unwrap_err();
    assert_eq!(
        e,
        BalancedError::NoResponseForCategory {
            question: "Product".into(),
            key: "D".into()
        }
    );
    let e = Balanced::new(
        &four,
        tree(),
        Schema::default_survey().question("region").unwrap(),
    )
    .unwrap_err();
    assert!(matches!(e, BalancedError::UnknownQuestion { .. }));
    // Gender in the catalogue without "Female".
    let odd = Catalogue::new(
        Schema::builder()
            .question("Gender", ["Male", "Other"])
            .build()
            .unwrap(),
        ["A", "B", "C"]
            .iter()
            .map(|k| Category::new(*k, *k, 0.5, 60.0))
            .collect(),
    )
    .unwrap();
    let e = Balanced::new(&odd, tree(), tree_schema().question("Product").unwrap()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "question \"Gender\" of the quota tree has response \"Female\", which the catalogue's question \"Gender\" does not have"
    );
}

/// A quota tree for a generated fieldwork: the category question ("category", one response
/// per category key) then the fieldwork's questions; a node per category with its target and
/// completes, and under each a node per response of the first question with a random target.
fn fieldwork_tree(fieldwork: &testing::Fieldwork, sub: &[u32]) -> QuotaTree {
    let cat = &fieldwork.catalogue;
    let cs = cat.schema();
    let mut b =
        Schema::builder().question("category", cat.categories().iter().map(|c| c.key.clone()));
    for q in cs.questions() {
        b = b.question(q.name(), q.responses().iter().cloned());
    }
    let schema = b.build().unwrap();
    let cq = schema.question("category").unwrap();
    let first = schema.question_ids().nth(1).unwrap();
    let mut t = QuotaTree::builder(schema.clone());
    let mut k = 0;
    for (i, c) in cat.categories().iter().enumerate() {
        let node = t
            .add_child(
                t.root(),
                Condition::response(cq, schema.response_ids(cq).nth(i).unwrap()),
                Target::Single(u64::from(c.target)),
            )
            .unwrap();
        t.set_observed(node, u64::from(fieldwork.completes[i]))
            .unwrap();
        for r in schema.response_ids(first) {
            let target = sub[k % sub.len()];
            k += 1;
            t.add_child(
                node,
                Condition::response(first, r),
                Target::Single(u64::from(target)),
            )
            .unwrap();
        }
    }
    t.build()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..crate::support::config() })]

    /// Every offer is offerable and is the first offerable category in the query's order; the
    /// router offers nothing only when no offerable category is available in the tree for the
    /// respondent.
    #[test]
    fn balanced_offers_the_first_offerable_in_query_order(
        fieldwork in testing::fieldwork(12),
        sub in prop::collection::vec(0u32..6, 1..8),
        seed in any::<u64>(),
    ) {
        let tree = Arc::new(RwLock::new(fieldwork_tree(&fieldwork, &sub)));
        let router = Balanced::new(&fieldwork.catalogue, tree.clone(), q0(&tree)).unwrap();
        let catalogue = &fieldwork.catalogue;
        let mut state = fieldwork.state();
        let mut interview = Interview::new();
        let mut rs = RouterState::default();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        let respondent = &fieldwork.respondent;
        interview.begin(catalogue, &respondent.answers, fieldwork.budget, fieldwork.max_qualifiers);
        for _ in 0..=catalogue.len() {
            let ask = Ask { catalogue, respondent, interview: &interview, quotas: state.view() };
            let offer = router.next_offer(&ask, &mut rs, &mut rng);
            let order: Vec<CategoryId> = {
                let t = tree.read().unwrap();
                let answers = router.tree_answers(&respondent.answers, None);
                t.available_balanced(&Query::new(q0(&tree)), Some(&answers))
                    .unwrap()
                    .into_iter()
                    .filter_map(|(r, _)| router.category_of(r))
                    .collect()
            };
            let want = if ask.interview.is_over(catalogue) {
                None
            } else {
                order.into_iter().find(|&c| ask.is_offerable(c))
            };
            prop_assert_eq!(offer, want);
            prop_assert_eq!(router.explain(&ask, &mut rs).chosen, want);
            let Some(c) = offer else { break };
            testing::check_offer(&ask, Some(c)).map_err(TestCaseError::fail)?;
            state.record_shown(c, &respondent.answers);
            interview.record_shown(catalogue, c);
            let qualified = rand::RngExt::random_bool(&mut rng, catalogue.incidence(c));
            if qualified {
                state.complete(c).unwrap();
                interview.record_complete(catalogue, c);
            }
            let ask = Ask { catalogue, respondent, interview: &interview, quotas: state.view() };
            router.on_answer(&ask, &mut rs, c, qualified);
        }
    }
}
