//! Region × gender × age quota trees, min and max on every node, for tests and benches
//! (included by path: one home for the shape).

use quotaroute::catalogue::{Catalogue, Category};
use quotaroute::quota::{Condition, QuotaTree, Target};
use quotaroute::schema::Schema;

/// Region → gender → age on the default survey schema, 3 + 6 + 18 nodes: per region min
/// target/4 max target/2, per gender min target/10 max target/4, per age min target/40 max
/// target/8.
pub fn interlocked(schema: &Schema, target: u32) -> QuotaTree {
    let t = u64::from(target);
    let range = |min: u64, max: u64| Target::MinMax { min, max };
    let mut tree = QuotaTree::builder(schema.clone());
    let q = |name: &str| {
        schema
            .question(name)
            .expect("the default survey's questions")
    };
    let (region, gender, age) = (q("region"), q("gender"), q("age"));
    let root = tree.root();
    for r in schema.response_ids(region) {
        let rn = tree
            .add_child(root, Condition::response(region, r), range(t / 4, t / 2))
            .expect("a valid node");
        for g in schema.response_ids(gender) {
            let gn = tree
                .add_child(rn, Condition::response(gender, g), range(t / 10, t / 4))
                .expect("a valid node");
            for a in schema.response_ids(age) {
                tree.add_child(gn, Condition::response(age, a), range(t / 40, t / 8))
                    .expect("a valid node");
            }
        }
    }
    tree.build()
}

/// The bundled catalogue with an [`interlocked`] tree on every third category (26 of 77).
pub fn bundled_with_trees() -> Catalogue {
    let text = include_str!("../../examples/data/fake_category_data.csv");
    let flat = Catalogue::from_csv(Schema::default_survey(), text).expect("the bundled CSV");
    let schema = flat.schema().clone();
    let categories: Vec<Category> = flat
        .categories()
        .iter()
        .enumerate()
        .map(|(i, c)| match i % 3 {
            0 => c
                .clone()
                .with_quota_tree(&interlocked(&schema, c.target))
                .expect("targets fit"),
            _ => c.clone(),
        })
        .collect();
    Catalogue::new(schema, categories).expect("a valid catalogue")
}
