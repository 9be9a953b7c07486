//! The exposure mix each category should see: what routers steer to and what the simulator and
//! the LP measure exposure against.

use super::Catalogue;
use crate::schema::{Answers, MAX_ENUMERATED_CELLS, QuestionId, ResponseId};

/// The exposure shares each category should see per question (row-major, `questions` per
/// category): the category's exposure target where it has one, else the supply's shares among
/// the respondents eligible for it (exact by enumeration when the schema has at most
/// [`MAX_ENUMERATED_CELLS`] complete cells, else the unconditional shares).
pub fn reference_shares(catalogue: &Catalogue) -> Vec<Vec<f64>> {
    let schema = catalogue.schema();
    let cells: Option<usize> = schema
        .complete_cell_count()
        .filter(|&n| n <= MAX_ENUMERATED_CELLS);
    let mut out = Vec::with_capacity(catalogue.len() * schema.len());
    for c in catalogue.ids() {
        let category = catalogue.category(c);
        let mut conditional: Vec<Vec<f64>> = schema
            .questions()
            .iter()
            .map(|q| q.shares().to_vec())
            .collect();
        if let Some(cells) = cells.filter(|_| category.eligibility != Default::default()) {
            let mut sums: Vec<Vec<f64>> = schema
                .questions()
                .iter()
                .map(|q| vec![0.0; q.responses().len()])
                .collect();
            let mut answers = Answers::unknown(schema);
            for mut cell in 0..cells {
                let mut weight = 1.0;
                for (q, question) in schema.questions().iter().enumerate().rev() {
                    let r = cell % question.responses().len();
                    cell /= question.responses().len();
                    weight *= question.shares()[r];
                    answers.set(QuestionId(q as u16), ResponseId(r as u16));
                }
                if weight > 0.0 && category.eligibility.matches(&answers) {
                    for (q, sum) in sums.iter_mut().enumerate() {
                        let r = answers.get(QuestionId(q as u16)).expect("set above");
                        sum[r.index()] += weight;
                    }
                }
            }
            for (q, sum) in sums.into_iter().enumerate() {
                let total: f64 = sum.iter().sum();
                if total > 0.0 {
                    conditional[q] = sum.into_iter().map(|s| s / total).collect();
                }
            }
        }
        for (q, shares) in conditional.into_iter().enumerate() {
            let target = category
                .exposure_targets
                .iter()
                .find(|(tq, _)| tq.index() == q)
                .map(|(_, s)| s.clone());
            out.push(target.unwrap_or(shares));
        }
    }
    out
}
