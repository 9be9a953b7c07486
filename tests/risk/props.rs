//! Properties of the risk ranking: input order does not matter, raising one metric of one
//! entity never lowers its rank, no NaN or infinity ever reaches a ranking, and every error
//! names the entity and the field.

use std::collections::BTreeSet;

use proptest::prelude::*;
use quotaroute::risk::{Entity, EntityError, Field, FnMetric, RankError, RiskModel, RiskReport};

/// Valid entity data: required, received, days left, quality counts, percent fit, extra `x`.
/// Small integer domains make equal scores (ties) common.
type Data = (f64, f64, f64, Option<[f64; 5]>, Option<f64>, Option<f64>);

fn data() -> impl Strategy<Value = Data> {
    let counts = prop::array::uniform5(0u8..4).prop_filter_map("some response", |c| {
        c.iter().any(|&x| x > 0).then(|| c.map(f64::from))
    });
    (
        1u16..6,
        0u16..8,
        1u8..4,
        prop::option::of(counts),
        prop::option::of(prop_oneof![
            (1u8..=100).prop_map(f64::from),
            0.001f64..100.0
        ]),
        prop::option::of(-5i8..5),
    )
        .prop_map(|(req, rec, days, q, fit, x)| {
            (
                f64::from(req),
                f64::from(rec),
                f64::from(days),
                q,
                fit,
                x.map(f64::from),
            )
        })
}

fn build(name: &str, d: &Data) -> Entity {
    let (required, received, days, quality, fit, x) = *d;
    let mut e = Entity::new(name, required, received, days).unwrap();
    e.set_quality_levels(quality).unwrap();
    e.set_percent_fit(fit).unwrap();
    if let Some(x) = x {
        e.set_extra("x", x).unwrap();
    }
    e
}

/// Between 1 and 12 entities with distinct names.
fn entities() -> impl Strategy<Value = Vec<Entity>> {
    prop::collection::btree_set("[a-e]{1,3}", 1..12).prop_flat_map(|names: BTreeSet<String>| {
        let n = names.len();
        prop::collection::vec(data(), n).prop_map(move |ds| {
            names
                .iter()
                .zip(&ds)
                .map(|(name, d)| build(name, d))
                .collect::<Vec<_>>()
        })
    })
}

/// Weights for requirement, pace, quality, fit and the extra metric `x`; not all zero.
fn weights() -> impl Strategy<Value = [f64; 5]> {
    prop::array::uniform5(prop_oneof![Just(0.0), Just(0.1), 0.0f64..2.0])
        .prop_filter("a positive weight", |w| w.iter().any(|&x| x > 0.0))
}

/// The seed model plus a metric `x` that reads the extra value `x`.
fn model(w: [f64; 5]) -> RiskModel {
    let mut m = RiskModel::prototype()
        .with_metric(FnMetric::new("x", |e: &Entity| Ok(e.extra("x"))), 0.0)
        .unwrap();
    m.set_weights(
        ["requirement", "pace", "quality", "fit", "x"]
            .into_iter()
            .zip(w),
    )
    .unwrap();
    m
}

/// Any f64 at all, weighted towards values an entity accepts and towards the extremes where
/// arithmetic overflows or underflows.
fn wild() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => 0.0f64..200.0,
        2 => prop::num::f64::ANY,
        2 => prop::sample::select(vec![
            f64::MAX, f64::MIN_POSITIVE, 1e-300, 1e300, 5e-324, 100.0, 0.0, -0.0, f64::NAN,
            f64::INFINITY,
        ]),
    ]
}

fn rank_of(report: &RiskReport, name: &str) -> usize {
    report.get(name).unwrap().rank()
}

fn assert_finite(report: &RiskReport) {
    for (i, row) in report.ranking().iter().enumerate() {
        assert_eq!(row.rank(), i + 1);
        assert!(row.score().is_finite(), "score {}", row.score());
        for v in row.metrics().iter().flatten() {
            assert!(v.is_finite(), "metric {v}");
        }
    }
}

proptest! {
    #![proptest_config(crate::proptest_config(256))]

    #[test]
    fn ranking_does_not_depend_on_input_order(
        (es, shuffled) in entities().prop_flat_map(|es| (Just(es.clone()), Just(es).prop_shuffle())),
        w in weights(),
    ) {
        let m = model(w);
        let a = m.rank(&es).unwrap();
        let b = m.rank(&shuffled).unwrap();
        prop_assert_eq!(&a, &b);
        // Sorted by score, then name.
        for pair in a.ranking().windows(2) {
            prop_assert!(
                pair[0].score() > pair[1].score()
                    || (pair[0].score() == pair[1].score() && pair[0].name() < pair[1].name())
            );
        }
    }

    #[test]
    fn raising_one_metric_never_lowers_rank(
        es in entities(),
        w in weights(),
        pick in any::<prop::sample::Index>(),
        delta in prop_oneof![Just(0.0), 0.0f64..10.0, 1e-12f64..1e-9],
    ) {
        let m = model(w);
        let i = pick.index(es.len());
        let name = es[i].name().to_owned();
        let before = rank_of(&m.rank(&es).unwrap(), &name);

        // The user metric `x`, raised directly.
        let mut raised = es.clone();
        let x = raised[i].extra("x").unwrap_or(0.0);
        raised[i].set_extra("x", x + delta).unwrap();
        prop_assert!(rank_of(&m.rank(&raised).unwrap(), &name) <= before);

        // Fit = 100 / percent fit, raised by lowering the percent fit.
        let mut raised = es.clone();
        let p = raised[i].percent_fit().unwrap_or(100.0);
        raised[i].set_percent_fit(Some(p / (1.0 + delta))).unwrap();
        prop_assert!(rank_of(&m.rank(&raised).unwrap(), &name) <= before);

        // Quality, raised by moving one response down a level.
        let mut raised = es.clone();
        if let Some(mut q) = raised[i].quality_levels().copied()
            && let Some(l) = (1..5).find(|&l| q[l] > 0.0)
        {
            q[l] -= 1.0;
            q[l - 1] += 1.0;
            raised[i].set_quality_levels(Some(q)).unwrap();
            prop_assert!(rank_of(&m.rank(&raised).unwrap(), &name) <= before);
        }

        // Pace, raised by fewer days left while work remains.
        let mut raised = es.clone();
        if raised[i].remaining() >= 0.0 {
            let d = raised[i].days_left();
            raised[i].set_days_left(d / (1.0 + delta)).unwrap();
            prop_assert!(rank_of(&m.rank(&raised).unwrap(), &name) <= before);
        }

        // Changing one entity never moves another's score.
        let others_before: Vec<_> = m.rank(&es).unwrap().ranking().iter()
            .filter(|r| r.name() != name).map(|r| r.score()).collect();
        let others_after: Vec<_> = m.rank(&raised).unwrap().ranking().iter()
            .filter(|r| r.name() != name).map(|r| r.score()).collect();
        prop_assert_eq!(others_before, others_after);
    }

    #[test]
    fn no_nan_ever_in_a_ranking(
        raw in prop::collection::vec(
            (
                wild(),
                wild(),
                wild(),
                prop::option::of(prop::array::uniform5(wild())),
                prop::option::of(wild()),
                prop::option::of(wild()),
            ),
            0..8,
        ),
        w in prop::array::uniform5(wild()),
    ) {
        let mut m = model([1.0, 1.0, 1.0, 1.0, 1.0]);
        // Refused weights leave the model as it was, so it always has valid weights.
        let _ = m.set_weights(["requirement", "pace", "quality", "fit", "x"].into_iter().zip(w));
        // A user metric that overflows for large values must be refused too.
        m.add_metric(FnMetric::new("big", |e: &Entity| Ok(e.extra("x").map(|x| x * 1e300))), 1.0)
            .unwrap();
        for (_, weight) in m.weights() {
            prop_assert!(weight.is_finite() && weight >= 0.0);
        }
        prop_assert!(m.weights().any(|(_, weight)| weight > 0.0));
        let es: Vec<Entity> = raw
            .iter()
            .enumerate()
            .filter_map(|(i, &(req, rec, days, q, fit, x))| {
                let mut e = Entity::new(format!("e{i}"), req, rec, days).ok()?;
                // Each refused change leaves the entity valid.
                let _ = e.set_quality_levels(q);
                let _ = e.set_percent_fit(fit);
                if let Some(x) = x {
                    let _ = e.set_extra("x", x);
                }
                Some(e)
            })
            .collect();
        match m.rank(&es) {
            Ok(report) => {
                prop_assert_eq!(report.len(), es.len());
                assert_finite(&report);
            }
            Err(e) => {
                prop_assert!(es.iter().any(|x| x.name() == e.entity()));
                let overflow =
                    matches!(e, RankError::MetricNotFinite { .. } | RankError::ScoreNotFinite { .. });
                prop_assert!(overflow, "{}", e);
            }
        }
    }

    #[test]
    fn entity_errors_name_entity_and_field(
        name in "[A-Za-z][A-Za-z ]{0,8}",
        d in data(),
        which in 0usize..5,
        bad in prop_oneof![
            Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY),
            Just(0.0), Just(-0.0), -1e9f64..-1e-9, 100.000_01f64..1e9,
        ],
        level in 0usize..5,
    ) {
        let (required, received, days, _, _, _) = d;
        let (result, field) = match which {
            0 => (Entity::new(name.as_str(), bad, received, days), Field::Required),
            1 => (Entity::new(name.as_str(), required, bad, days), Field::Received),
            2 => (Entity::new(name.as_str(), required, received, bad), Field::DaysLeft),
            3 => (
                Entity::new(name.as_str(), required, received, days)
                    .and_then(|e| e.with_percent_fit(bad)),
                Field::PercentFit,
            ),
            _ => {
                let mut q = [0.0; 5];
                q[level] = bad;
                let field = if bad == 0.0 { Field::QualityLevels } else { Field::QualityLevel(level) };
                (
                    Entity::new(name.as_str(), required, received, days)
                        .and_then(|e| e.with_quality_levels(q)),
                    field,
                )
            }
        };
        // Some of these values are valid for some fields: large targets and day counts,
        // received 0, a large quality count. The others must be refused.
        let valid = match which {
            0 | 2 | 4 => bad > 0.0 && bad.is_finite(),
            1 => bad >= 0.0 && bad.is_finite(),
            _ => false,
        };
        if valid {
            prop_assert!(result.is_ok());
        } else {
            let e: EntityError = result.unwrap_err();
            prop_assert_eq!(e.entity(), name.as_str());
            prop_assert_eq!(e.field(), field.clone());
            let text = e.to_string();
            let quoted_name = format!("entity `{name}`");
            let quoted_field = format!("field `{field}`");
            prop_assert!(text.contains(&quoted_name), "{}", text);
            prop_assert!(text.contains(&quoted_field), "{}", text);
        }
    }
}

#[cfg(feature = "serde")]
mod documents {
    use super::*;
    use crate::example::document::RiskDocument;

    proptest! {
        #![proptest_config(crate::proptest_config(128))]

        /// A bad value in one entity of a JSON document is reported with that entity's index,
        /// name and field, whatever the other entities hold.
        #[test]
        fn document_errors_name_entity_and_field(
            es in entities(),
            pick in any::<prop::sample::Index>(),
            which in 0usize..5,
        ) {
            let i = pick.index(es.len());
            let mut doc: serde_json::Value =
                serde_json::to_value(RiskDocument::new(&RiskModel::prototype(), &es)).unwrap();
            let entity = &mut doc["entities"][i];
            let field = match which {
                0 => { entity["required"] = 0.into(); "required" }
                1 => { entity["days_left"] = (-2).into(); "days_left" }
                2 => { entity["percent_fit"] = 101.into(); "percent_fit" }
                3 => { entity["quality_levels"] = serde_json::json!([0, 0, 0, 0, 0]); "quality_levels" }
                _ => { entity["received"] = "many".into(); "received" }
            };
            let err = serde_json::from_value::<RiskDocument>(doc)
                .unwrap()
                .into_request(RiskModel::prototype())
                .unwrap_err();
            prop_assert_eq!(err.entity(), Some(es[i].name()));
            prop_assert_eq!(err.field(), Some(field.to_owned()));
            let text = err.to_string();
            let prefix = format!("entities[{i}]: entity `{}`: field `{field}`", es[i].name());
            prop_assert!(text.starts_with(&prefix), "{}", text);
        }
    }
}
