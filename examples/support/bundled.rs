//! The survey the live examples (`server`, `cluster`, `service`) route: the bundled
//! 77-category catalogue with `target` completes per category, each split into gender cells
//! of at most 60% of it. Included with `#[path = "../support/bundled.rs"] mod bundled;`
//! (`support/bundled.rs` from an example at the top of `examples/`).

use quotaroute::catalogue::{Catalogue, QuotaCell};
use quotaroute::schema::{Rule, Schema};

const BUNDLED: &str = include_str!("../data/fake_category_data.csv");

/// The bundled catalogue with `target` completes per category and gender cells.
pub fn catalogue(target: u32) -> Result<Catalogue, String> {
    let schema = Schema::default_survey();
    let base = Catalogue::from_csv(schema.clone(), BUNDLED).map_err(|e| e.to_string())?;
    let g = schema.question("gender").map_err(|e| e.to_string())?;
    let cap = (target * 3).div_ceil(5);
    let categories = base
        .categories()
        .iter()
        .map(|c| {
            let mut c = c.clone().with_target(target);
            for r in schema.response_ids(g) {
                let name = schema.response_name(g, r).to_owned();
                c = c.with_cell(QuotaCell::new(name, Rule::one_of(g, [r]), cap));
            }
            c
        })
        .collect();
    Catalogue::new(schema, categories).map_err(|e| e.to_string())
}
