//! The `balanced` policy: offers follow `available_balanced` on the live counts of the
//! categories and their quota trees (checked against the quota module on a tree with the same
//! counts), pending slots count as taken, a full node closes its branch, and deciding
//! allocates nothing.
#![cfg(feature = "serde")]

use proptest::prelude::*;
use quotaroute::catalogue::{Catalogue, Category, CategoryId, QuotaCell};
use quotaroute::quota::{NodeId, NodeSpec, Query, QuotaTree};
use quotaroute::route::{Ask, Balanced, Interview, Router, RouterState, policy};
use quotaroute::schema::{Answers, Respondent, Schema};
use quotaroute::state::QuotaState;
use rand::SeedableRng;
use serde_json::json;

use crate::counting_alloc;

/// Takes a slot in the category and in every cell the answers fall in, as a live reservation
/// does; completes it when `complete`. False (nothing taken) when one is full.
fn take(
    catalogue: &Catalogue,
    quotas: &QuotaState,
    c: CategoryId,
    answers: &Answers,
    complete: bool,
) -> bool {
    if quotas.try_reserve(c).is_err() {
        return false;
    }
    let cells: Vec<usize> = catalogue
        .cell_range(c)
        .filter(|&i| catalogue.cell_rule(i).unwrap().matches(answers))
        .collect();
    for (k, &cell) in cells.iter().enumerate() {
        if !quotas.try_reserve_cell(cell) {
            for &taken in &cells[..k] {
                quotas.release_cell(taken);
            }
            quotas.release(c);
            return false;
        }
    }
    if complete {
        quotas.commit(c);
        for &cell in &cells {
            quotas.commit_cell(cell);
        }
    }
    true
}

fn answers(catalogue: &Catalogue, given: &[(&str, &str)]) -> Answers {
    Answers::from_names(catalogue.schema(), given.iter().copied()).unwrap()
}

fn choose(catalogue: &Catalogue, quotas: &QuotaState, who: &Answers) -> Option<CategoryId> {
    crate::first_offer(catalogue, &Balanced::new(), quotas, who)
}

/// Two products; A's tree splits by gender.
fn products() -> Catalogue {
    let schema = Schema::default_survey();
    let spec: NodeSpec = serde_json::from_value(json!({"target": 10, "children": [
        {"question": "gender", "response": "male", "target": 6},
        {"question": "gender", "response": "female", "target": 4}]}))
    .unwrap();
    let tree = QuotaTree::from_spec(schema.clone(), &spec).unwrap();
    Catalogue::new(
        schema,
        vec![
            Category::new("A", "Product A", 0.5, 60.0)
                .with_quota_tree(&tree)
                .unwrap(),
            Category::new("B", "Product B", 0.5, 60.0).with_target(10),
        ],
    )
    .unwrap()
}

#[test]
fn balanced_is_built_by_name_and_offers_the_least_filled_counting_pending_as_taken() {
    assert_eq!(policy("balanced").unwrap().name(), "balanced");
    let catalogue = products();
    let (a, b) = (catalogue.find("A").unwrap(), catalogue.find("B").unwrap());
    let quotas = QuotaState::new(&catalogue);
    let man = answers(&catalogue, &[("gender", "male")]);
    // Nothing taken: a tie, catalogue order.
    assert_eq!(choose(&catalogue, &quotas, &man), Some(a));
    // Two pending slots in A (not completed): A is 2/10 taken, B 0/10.
    assert!(take(&catalogue, &quotas, a, &man, false));
    assert!(take(&catalogue, &quotas, a, &man, false));
    assert_eq!(choose(&catalogue, &quotas, &man), Some(b));
    // Three completes in B: B 3/10 against A 2/10.
    for _ in 0..3 {
        assert!(take(&catalogue, &quotas, b, &man, true));
    }
    assert_eq!(choose(&catalogue, &quotas, &man), Some(a));
}

#[test]
fn a_full_node_closes_its_branch_and_an_unknown_answer_counts_every_node() {
    let catalogue = products();
    let (a, b) = (catalogue.find("A").unwrap(), catalogue.find("B").unwrap());
    let quotas = QuotaState::new(&catalogue);
    let woman = answers(&catalogue, &[("gender", "female")]);
    let man = answers(&catalogue, &[("gender", "male")]);
    for _ in 0..4 {
        assert!(take(&catalogue, &quotas, a, &woman, true));
    }
    for _ in 0..6 {
        assert!(take(&catalogue, &quotas, b, &man, true));
    }
    // A is 4/10, B 6/10: a man goes to A; A's female node is full, so a woman goes to B.
    assert_eq!(choose(&catalogue, &quotas, &man), Some(a));
    assert_eq!(choose(&catalogue, &quotas, &woman), Some(b));
    // Gender unknown: the female row counts for them too (Askia), so A is closed to them.
    let unknown = Answers::unknown(catalogue.schema());
    assert_eq!(choose(&catalogue, &quotas, &unknown), Some(b));
}

/// The quota module's tree for the same counts: the catalogue's questions, then a category
/// question whose responses are the category keys; below each category its cells' nodes.
fn oracle_tree(catalogue: &Catalogue, quotas: &QuotaState) -> (QuotaTree, Query) {
    let schema = catalogue.schema();
    let mut builder = Schema::builder();
    for q in schema.question_ids() {
        let responses: Vec<&str> = schema
            .response_ids(q)
            .map(|r| schema.response_name(q, r))
            .collect();
        builder = builder.question(schema.question_name(q), responses);
    }
    let keys: Vec<&str> = catalogue
        .categories()
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    let wide = builder.question("category", keys).build().unwrap();
    let category_q = wide.question("category").unwrap();
    let view = quotas.view();
    let mut tree = QuotaTree::builder(wide.clone());
    for c in catalogue.ids() {
        let own = catalogue.quota_tree(c).unwrap();
        let taken = u64::from(view.completed(c) + view.pending(c));
        let node = tree
            .add_child(
                tree.root(),
                quotaroute::quota::Condition::response(
                    category_q,
                    wide.response(category_q, &catalogue.category(c).key)
                        .unwrap(),
                ),
                own.tree.node(own.tree.root()).unwrap().target(),
            )
            .unwrap();
        tree.set_observed(node, taken).unwrap();
        let mut map = vec![NodeId::ROOT; own.tree.node_count()];
        map[own.tree.root().index()] = node;
        for id in own.tree.nodes().skip(1) {
            let n = own.tree.node(id).unwrap();
            let parent = map[n.parent().unwrap().index()];
            let added = tree
                .add_child(parent, n.condition().unwrap().clone(), n.target())
                .unwrap();
            map[id.index()] = added;
        }
        for (k, cell) in catalogue.cell_range(c).enumerate() {
            let at = map[own.nodes[k].index()];
            tree.set_observed(at, u64::from(view.cell_taken(cell)))
                .unwrap();
        }
    }
    (tree.build(), Query::new(category_q))
}

/// Catalogues of up to four categories, each with a random two-level region × gender tree
/// (some nodes without a max, some with a min) and random counts.
/// (category, region, gender, complete) of each slot taken; 3 (or 2 for gender) is unknown.
type Events = Vec<(usize, u8, u8, bool)>;

fn fieldwork() -> impl Strategy<Value = (Catalogue, Events, (u8, u8))> {
    let node = (0u32..4, 0u32..3, proptest::bool::ANY);
    let category = (
        1u32..12,
        prop::collection::vec(node, 3),
        prop::collection::vec((0u32..4, 0u32..3), 2),
    );
    (
        prop::collection::vec(category, 1..5),
        prop::collection::vec((0usize..4, 0u8..4, 0u8..3, proptest::bool::ANY), 0..40),
        (0u8..4, 0u8..3),
    )
        .prop_map(|(categories, events, who)| {
            let schema = Schema::default_survey();
            let regions = ["north", "central", "south"];
            let genders = ["female", "male"];
            let made = categories
                .iter()
                .enumerate()
                .map(|(i, (target, regional, gendered))| {
                    let mut c = Category::new(format!("c{i}"), format!("C{i}"), 0.5, 30.0)
                        .with_target(*target);
                    for (r, (max, min, unlimited)) in regional.iter().enumerate() {
                        let rule = quotaroute::schema::Rule::parse(
                            &schema,
                            &format!("region={}", regions[r]),
                        )
                        .unwrap();
                        let max = if *unlimited { QuotaCell::NO_MAX } else { *max };
                        c = c.with_cell(
                            QuotaCell::new(format!("r{r}"), rule, max).with_min((*min).min(max)),
                        );
                    }
                    for (g, (max, min)) in gendered.iter().enumerate() {
                        let rule = quotaroute::schema::Rule::parse(
                            &schema,
                            &format!("gender={}", genders[g]),
                        )
                        .unwrap();
                        // Under the first region: a second level.
                        c = c.with_cell(
                            QuotaCell::new(format!("r0/g{g}"), rule, *max)
                                .with_min((*min).min(*max))
                                .with_parent(0),
                        );
                    }
                    c
                })
                .collect();
            (Catalogue::new(schema, made).unwrap(), events, who)
        })
}

fn demographics(catalogue: &Catalogue, region: u8, gender: u8) -> Answers {
    let regions = ["north", "central", "south"];
    let genders = ["female", "male"];
    let mut given = Vec::new();
    if let Some(r) = regions.get(region as usize) {
        given.push(("region", *r));
    }
    if let Some(g) = genders.get(gender as usize) {
        given.push(("gender", *g));
    }
    answers(catalogue, &given)
}

proptest! {
    #![proptest_config(crate::support::config())]

    /// The router's choice and every category's to-do are those of the quota module's
    /// `available_balanced` on a tree holding the same counts (pending as taken).
    #[test]
    fn balanced_equals_the_quota_modules_available_balanced(
        (catalogue, events, (region, gender)) in fieldwork()
    ) {
        let quotas = QuotaState::new(&catalogue);
        for (c, region, gender, complete) in events {
            let c = CategoryId::from_index(c % catalogue.len());
            let who = demographics(&catalogue, region, gender);
            // Some answers are unknown: those respondents hold no node on that question.
            take(&catalogue, &quotas, c, &who, complete);
        }
        let who = demographics(&catalogue, region, gender);
        let (tree, query) = oracle_tree(&catalogue, &quotas);
        let mut wide = Answers::unknown(tree.schema());
        for q in catalogue.schema().question_ids() {
            if let Some(r) = who.get(q) {
                wide.set(q, r);
            }
        }
        let listed = tree.available_balanced(&query, Some(&wide)).unwrap();
        let respondent = Respondent::new(1, who.clone());
        let mut interview = Interview::new();
        interview.begin(&catalogue, &respondent.answers, 10_000.0, None);
        interview.refresh_cells(&quotas.view());
        let ask = Ask { catalogue: &catalogue, respondent: &respondent, interview: &interview, quotas: quotas.view() };
        for c in catalogue.ids() {
            let in_list = listed.iter().find(|(r, _)| r.index() == c.index()).map(|&(_, t)| t);
            let todo = Balanced::todo(&ask, c);
            match in_list {
                Some(t) => prop_assert_eq!(todo, t, "category {}", catalogue.category(c).key),
                None => prop_assert!(todo <= 0, "category {} to-do {}", catalogue.category(c).key, todo),
            }
        }
        let want = listed
            .iter()
            .map(|&(r, _)| CategoryId::from_index(r.index()))
            .find(|&c| ask.is_offerable(c));
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(3);
        let got = Balanced::new().next_offer(&ask, &mut RouterState::default(), &mut rng);
        prop_assert_eq!(got, want);
    }
}

#[test]
fn deciding_allocates_nothing_after_warm_up() {
    let catalogue = products();
    let quotas = QuotaState::new(&catalogue);
    let router = Balanced::new();
    let people = [
        Respondent::new(1, answers(&catalogue, &[("gender", "male")])),
        Respondent::new(2, answers(&catalogue, &[("gender", "female")])),
    ];
    let mut interview = Interview::new();
    let mut rs = RouterState::default();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
    let mut decide = |n: usize| {
        let who = &people[n % 2];
        interview.begin(&catalogue, &who.answers, 480.0, None);
        interview.refresh_cells(&quotas.view());
        let ask = Ask {
            catalogue: &catalogue,
            respondent: who,
            interview: &interview,
            quotas: quotas.view(),
        };
        router.next_offer(&ask, &mut rs, &mut rng)
    };
    decide(0);
    let before = counting_alloc::allocations();
    let mut offered = 0;
    for n in 1..=300 {
        offered += usize::from(decide(n).is_some());
    }
    let allocations = counting_alloc::allocations() - before;
    assert_eq!(offered, 300);
    assert_eq!(allocations, 0, "{allocations} allocations in 300 decisions");
}
