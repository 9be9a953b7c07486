//! The typed API runs on the same engine as the name-based one and gives the same answers.
#![cfg(feature = "serde")]

use quotaroute::quota::{
    BindError, NodeSpec, Query, QueryBuffer, QueryError, QuotaMethod, QuotaTree, Survey, Target,
    TypedQuery, TypedQuestion, TypedQuotaTree,
};
use quotaroute::schema::{Answers, Schema};
use quotaroute::{quota_query, quota_survey};
use serde_json::json;

quota_survey! {
    /// The issue's example survey.
    pub survey Example {
        Product { A, B, C }
        Gender { Male, Female }
    }
}

mod seed {
    quotaroute::quota_survey! {
        /// The seed's survey, with names that differ from the identifiers.
        pub survey Seed {
            Gender = "Gender" { Man = "1", Woman = "2" }
            Product { A, B }
            Region = "Region" { One = "1", Two = "2" },
        }
    }
}

fn example_tree() -> QuotaTree {
    let spec: NodeSpec = serde_json::from_value(json!(
        {"target": 30, "observed": 10, "children": [
            {"question": "Product", "response": "A", "target": 8, "observed": 6, "children": [
                {"question": "Gender", "response": "Male", "target": 6, "observed": 6},
                {"question": "Gender", "response": "Female", "target": 2, "observed": 0}]},
            {"question": "Product", "response": "B", "target": 10, "observed": 4}]}
    ))
    .unwrap();
    QuotaTree::from_spec(Example::schema().unwrap(), &spec).unwrap()
}

#[test]
fn typed_queries_match_the_runtime_ones() {
    let typed = TypedQuotaTree::<Example>::new(example_tree()).unwrap();
    let query = Product::query().given(Gender::Male);
    assert_eq!(
        typed.available(&query, None).unwrap(),
        vec![(Product::C, 20), (Product::B, 6)]
    );
    let schema = typed.tree().schema();
    let runtime = Query::from_names(schema, "Product", [("Gender", &["Male"][..])]).unwrap();
    assert_eq!(typed.to_query(&query), runtime);
    for method in QuotaMethod::ALL {
        let t: Vec<usize> = typed
            .query(method, &query, None)
            .unwrap()
            .iter()
            .map(|(p, _)| p.response_index())
            .collect();
        let r: Vec<usize> = typed
            .tree()
            .query(method, &runtime, None)
            .unwrap()
            .iter()
            .map(|(p, _)| p.index())
            .collect();
        assert_eq!(t, r, "{method:?}");
    }
    assert_eq!(
        typed.balanced_list(&query, None).unwrap(),
        vec![(Product::B, 6), (Product::A, 0), (Product::C, 20)]
    );
    assert_eq!(
        typed
            .list(&quota_query!(Product(Gender: Female)), None)
            .unwrap(),
        vec![(Product::C, 20), (Product::B, 6), (Product::A, 2)]
    );
    assert_eq!(
        typed
            .available_balanced(&quota_query!(Product(Gender: Female)), None)
            .unwrap(),
        vec![(Product::B, 6), (Product::A, 2), (Product::C, 20)]
    );
}

#[test]
fn typed_query_into_reuses_the_buffer() {
    let typed = TypedQuotaTree::<Example>::new(example_tree()).unwrap();
    let mut buffer = QueryBuffer::new();
    let query: TypedQuery<Product> = quota_query!(Product(Gender: Male | Female));
    let got: Vec<(Product, i64)> = typed
        .query_into(QuotaMethod::List, &query, None, &mut buffer)
        .unwrap()
        .collect();
    assert_eq!(
        got,
        vec![(Product::C, 20), (Product::B, 6), (Product::A, 0)]
    );
    let men = typed.answers().with(Gender::Male).build();
    let got: Vec<(Product, i64)> = typed
        .query_into(
            QuotaMethod::Available,
            &Product::query(),
            Some(&men),
            &mut buffer,
        )
        .unwrap()
        .collect();
    assert_eq!(got, vec![(Product::C, 20), (Product::B, 6)]);
    // Answers of another schema are the one error a typed query can have.
    let other = Schema::builder().question("X", ["x"]).build().unwrap();
    assert!(matches!(
        typed.available(&Product::query(), Some(&Answers::unknown(&other))),
        Err(QueryError::AnswersDoNotFit { .. })
    ));
}

#[test]
fn a_later_context_entry_on_the_same_question_replaces_the_earlier() {
    let typed = TypedQuotaTree::<Example>::new(example_tree()).unwrap();
    let q = Product::query().given(Gender::Male).given(Gender::Female);
    assert_eq!(
        typed.available(&q, None).unwrap(),
        typed
            .available(&Product::query().given(Gender::Female), None)
            .unwrap()
    );
}

#[test]
fn typed_queries_walk_the_tree_as_named_queries_do() {
    use seed::{Gender, Product, Region, Seed};
    let schema = Seed::schema().unwrap();
    let mut typed = TypedQuotaTree::<Seed>::new(QuotaTree::new(schema)).unwrap();
    let root = typed.tree().root();
    let man = typed
        .add_child(root, Gender::Man, Target::Single(50))
        .unwrap();
    typed
        .add_child(man, Product::A, Target::Single(40))
        .unwrap();
    typed.add_child(man, Product::B, Target::Single(0)).unwrap();
    let woman = typed
        .add_child(root, Gender::Woman, Target::Single(40))
        .unwrap();
    let a = typed
        .add_child(woman, Product::A, Target::Single(15))
        .unwrap();
    typed.add_child(a, Region::One, Target::Single(10)).unwrap();
    typed.add_child(a, Region::Two, Target::Single(5)).unwrap();
    typed
        .add_child(woman, Product::B, Target::Single(15))
        .unwrap();
    // Product.AvailableQuota(Gender: 2)
    assert_eq!(
        typed
            .available(&quota_query!(Product(Gender: Woman)), None)
            .unwrap(),
        vec![(Product::B, 15), (Product::A, 5)]
    );
    let region_one = typed.answers().with(Region::One).build();
    assert_eq!(
        typed
            .available(&quota_query!(Product(Gender: Woman)), Some(&region_one))
            .unwrap(),
        vec![(Product::B, 15), (Product::A, 10)]
    );
    // A group node from a typed group.
    let both = typed.condition(Region::One | Region::Two);
    assert!(both.is_group());
    assert_eq!(both.responses().iter().count(), 2);
    assert!(!typed.condition(Region::One).is_group());
    let complete = typed
        .answers()
        .with(Gender::Woman)
        .with(Product::A)
        .with(Region::Two)
        .build();
    assert_eq!(typed.tree_mut().record(&complete).unwrap(), 4);
}

#[test]
fn binding_checks_the_schema_once() {
    let wrong_order = Schema::builder()
        .question("Gender", ["Female", "Male"])
        .question("Product", ["A", "B", "C"])
        .build()
        .unwrap();
    assert_eq!(
        TypedQuotaTree::<Example>::new(QuotaTree::new(wrong_order))
            .unwrap_err()
            .to_string(),
        r#"question "Gender": the survey declares responses ["Male", "Female"] but the tree's schema has ["Female", "Male"]"#
    );
    let missing = Schema::builder()
        .question("Product", ["A", "B", "C"])
        .build()
        .unwrap();
    assert_eq!(
        TypedQuotaTree::<Example>::new(QuotaTree::new(missing)).unwrap_err(),
        BindError::MissingQuestion { question: "Gender" }
    );
    // A larger schema, questions in another order: fine.
    let larger = Schema::builder()
        .question("Age", ["young", "old"])
        .question("Gender", ["Male", "Female"])
        .question("Product", ["A", "B", "C"])
        .build()
        .unwrap();
    let typed = TypedQuotaTree::<Example>::new(QuotaTree::new(larger)).unwrap();
    assert_eq!(typed.question_id::<Product>().index(), 2);
    assert_eq!(
        typed
            .available(&quota_query!(Product(Gender: Female)), None)
            .unwrap(),
        vec![(Product::A, 1), (Product::B, 1), (Product::C, 1)]
    );
}

#[test]
fn declarations() {
    use seed::{Product, Region, Seed};
    assert_eq!(Seed::QUESTIONS[0].name, "Gender");
    assert_eq!(Seed::QUESTIONS[0].responses, ["1", "2"]);
    assert_eq!(<Region as TypedQuestion>::decl().responses, ["1", "2"]);
    assert_eq!(Region::from_response_index(1), Some(Region::Two));
    assert_eq!(Region::from_response_index(2), None);
    assert_eq!(<Product as TypedQuestion>::INDEX, 1);
    let g = Region::One | Region::Two;
    assert!(g.contains(Region::Two));
    assert_eq!(g.iter().collect::<Vec<_>>(), vec![Region::One, Region::Two]);
    assert_eq!(format!("{g:?}"), "{One, Two}");
}
