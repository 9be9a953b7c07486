//! Categories (routing targets) and the catalogue that holds them.
//!
//! A [`Catalogue`] is immutable configuration: build it once (from code or from the CSV format),
//! share it by reference between threads, and keep the counts that change during fieldwork in a
//! [`QuotaState`](crate::state::QuotaState). Building resolves every name and precomputes what
//! the decision path reads, in flat arrays indexed by [`CategoryId`]. A category is named by
//! its key (the platform's own id) everywhere a person reads it; a [`CategoryId`] is only its
//! position. `docs/catalogue.md` documents the CSV and the catalogue document (JSON) field by
//! field; both refuse unknown columns and fields, naming them.
//!
//! ```
//! use quotaroute::catalogue::Catalogue;
//! use quotaroute::schema::Schema;
//!
//! let csv = "category_id,category_name,incidence_rate,category_length_seconds,target,eligibility\n\
//!            1,Self Tan,0.19,116,150,gender=female\n\
//!            2,Fresh Coffee,0.32,145,,\n";
//! let catalogue = Catalogue::from_csv(Schema::default_survey(), csv)?;
//! assert_eq!(catalogue.len(), 2);
//! let tan = catalogue.find("1").unwrap();
//! assert_eq!(catalogue.category(tan).target, 150);
//! assert!((catalogue.eligible_share(tan) - 0.5).abs() < 1e-12);
//! // The fluid lower bound on respondents at a 480 s cap.
//! assert!(catalogue.lower_bound(480.0, None) > 0.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod category;
mod csv;
#[cfg(feature = "serde")]
mod document;
mod preflight;
mod reference;
#[cfg(test)]
mod tests;
mod tree;

pub use crate::bound::BoundTerms;
pub use category::{Category, CategoryId, DEFAULT_TARGET, MIN_INCIDENCE, QuotaCell};
pub use csv::CSV_COLUMNS;
pub use preflight::{Preflight, PreflightCategory, PreflightProblem};
pub use reference::reference_shares;
pub use tree::{CategoryTree, TreeError};

use thiserror::Error;

use crate::schema::{Answers, Rule, Schema};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// Why a set of categories does not make a catalogue.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// A CSV line or category has a bad field.
    #[error("line {line}: field `{field}`: {problem}")]
    Field {
        /// 1-based line of the CSV (for categories built in code or read from a document:
        /// position + 2, the line the category would have under a CSV header).
        line: usize,
        /// The column or field name.
        field: &'static str,
        /// What is wrong, quoting the value.
        problem: String,
    },
    /// Two categories share an id.
    #[error("line {line}: field `category_id`: duplicate id `{key}` (first on line {first_line})")]
    DuplicateId {
        /// Line of the repeat.
        line: usize,
        /// The id.
        key: String,
        /// Line where it first appeared.
        first_line: usize,
    },
    /// The CSV header lacks a required column.
    #[error("line 1: missing column `{column}`")]
    MissingColumn {
        /// The column.
        column: &'static str,
    },
    /// The CSV header names a column the format does not have (often a misspelling, such as
    /// `targets` for `target`, which would otherwise leave every value at its default).
    #[error("line 1: unknown column `{column}` (known columns: {})", known.join(", "))]
    UnknownColumn {
        /// The column as written.
        column: String,
        /// Every column the format has ([`CSV_COLUMNS`]).
        known: &'static [&'static str],
    },
    /// The CSV header names a column twice.
    #[error("line 1: column `{column}` appears twice")]
    DuplicateColumn {
        /// The column.
        column: String,
    },
    /// A CSV line has a different number of fields from the header.
    #[error("line {line}: {found} fields, the header has {expected}")]
    FieldCount {
        /// The line.
        line: usize,
        /// Fields found.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A quoted field is not closed.
    #[error("line {line}: unterminated quoted field")]
    Unterminated {
        /// The line where the field starts.
        line: usize,
    },
    /// The catalogue has no category.
    #[error("the catalogue has no category")]
    Empty,
    /// More categories than ids can number.
    #[error("too many categories (at most {max})")]
    TooMany {
        /// The limit.
        max: usize,
    },
}

/// The immutable set of categories, with everything the decision path reads precomputed.
///
/// Serialises as its schema and categories; deserialising validates them as
/// [`Catalogue::new`] does and recomputes the rest. Unknown fields are errors naming them;
/// rules may be written in the CSV's text form. `docs/catalogue.md` documents the document
/// field by field.
#[derive(Clone, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(try_from = "document::CatalogueIn", into = "document::CatalogueOut")
)]
pub struct Catalogue {
    schema: Schema,
    categories: Vec<Category>,
    /// Share of the supply eligible for each category.
    eligible_share: Vec<f64>,
    /// What the decision path reads per category, packed so one candidate is one cache line.
    hot: Vec<Hot>,
    /// Eligibility bitsets per demographic cell, when the schema's cells are few enough.
    cell_eligibility: Option<Vec<u64>>,
    words: usize,
    /// Distinguishes catalogues (clones share it: their content is the same).
    instance: u64,
    /// The least qualifier + LOI of any category.
    shortest: f64,
    /// True when no qualifier costs time.
    qualifiers_free: bool,
    /// True when some category has exposure targets.
    any_exposure_targets: bool,
    /// Global index of each category's first quota cell; one more entry than categories.
    cell_offsets: Vec<u32>,
    /// Each cell's rule with its ancestors' (global cell order): who falls in it.
    cell_rules: Vec<Rule>,
    /// Each cell's min target (global cell order).
    cell_mins: Vec<u32>,
    /// Per category: true when one of its cells has a min target.
    has_mins: Vec<bool>,
    /// The cells each combination of answers falls in, when the schema's are few enough.
    cell_table: Option<tree::CellTable>,
    /// True when some category's LOI is uncertain.
    any_loi_spread: bool,
    /// Each category's exclusion group index (`u32::MAX`: none).
    group_of: Vec<u32>,
    /// Each exclusion group's members in catalogue order, group after group (sparse: a
    /// catalogue of 100,000 groups of two takes 200,000 ids, not 100,000 bitsets).
    group_members: Vec<CategoryId>,
    /// Where each group's members start in `group_members`; one more entry than groups.
    group_starts: Vec<u32>,
    /// Each category's position by key, for [`find`](Self::find).
    by_key: std::collections::HashMap<String, u32>,
}

/// Each category's exclusion group index (`u32::MAX`: none), the groups in the order their
/// names first appear; the groups' members, group after group; where each group starts.
/// Linear: names are looked up in a hash map.
fn exclusion_groups_of(categories: &[Category]) -> (Vec<u32>, Vec<CategoryId>, Vec<u32>) {
    let mut index: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let group_of: Vec<u32> = categories
        .iter()
        .map(|c| match c.exclusion_group.as_deref() {
            None => u32::MAX,
            Some(name) => {
                let next = index.len() as u32;
                *index.entry(name).or_insert(next)
            }
        })
        .collect();
    let mut sizes = vec![0u32; index.len()];
    for &g in group_of.iter().filter(|&&g| g != u32::MAX) {
        sizes[g as usize] += 1;
    }
    let mut starts = Vec::with_capacity(sizes.len() + 1);
    starts.push(0u32);
    for size in &sizes {
        starts.push(starts[starts.len() - 1] + size);
    }
    let mut fill = starts.clone();
    let mut members = vec![CategoryId::from_index(0); starts[starts.len() - 1] as usize];
    for (i, &g) in group_of.iter().enumerate() {
        if g != u32::MAX {
            members[fill[g as usize] as usize] = CategoryId::from_index(i);
            fill[g as usize] += 1;
        }
    }
    (group_of, members, starts)
}

static CATALOGUES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The per-category numbers the decision path reads, kept together.
#[derive(Clone, Copy, Debug)]
struct Hot {
    /// q + L: the time a qualified respondent spends on the category.
    seconds_if_qualified: f64,
    /// 1 / (p · s): respondents that must see the category per complete.
    respondents_per_complete: f64,
    incidence: f64,
    qualifier_seconds: f64,
    loi_seconds: f64,
    has_exposure_targets: bool,
    /// ln(1 + cv²): the variance of the log of a log-normal LOI with this spread.
    loi_log_variance: f64,
}

/// Cells × words above which eligibility is evaluated per respondent instead of tabulated.
const MAX_TABLE_WORDS: usize = 1 << 22;

impl Catalogue {
    /// Validates the categories against the schema and precomputes the decision path's arrays.
    ///
    /// # Errors
    /// [`CatalogueError::Field`] for an incidence outside [[`MIN_INCIDENCE`], 1], a non-positive or non-finite
    /// LOI, a negative or non-finite qualifier cost, a rule or exposure target that does not fit
    /// the schema; [`CatalogueError::DuplicateId`]; [`CatalogueError::Empty`].
    pub fn new(schema: Schema, categories: Vec<Category>) -> Result<Catalogue, CatalogueError> {
        let lines: Vec<usize> = (2..categories.len() + 2).collect();
        Self::with_lines(schema, categories, &lines)
    }

    fn with_lines(
        schema: Schema,
        categories: Vec<Category>,
        lines: &[usize],
    ) -> Result<Catalogue, CatalogueError> {
        if categories.is_empty() {
            return Err(CatalogueError::Empty);
        }
        if categories.len() > u32::MAX as usize / 2 {
            return Err(CatalogueError::TooMany {
                max: u32::MAX as usize / 2,
            });
        }
        let mut seen = std::collections::HashMap::with_capacity(categories.len());
        for (c, &line) in categories.iter().zip(lines) {
            category::validate(c, &schema, line)?;
            if let Some(&first_line) = seen.get(c.key.as_str()) {
                return Err(CatalogueError::DuplicateId {
                    line,
                    key: c.key.clone(),
                    first_line,
                });
            }
            seen.insert(c.key.as_str(), line);
        }
        let eligible_share: Vec<f64> = categories
            .iter()
            .zip(lines)
            .map(|(c, &line)| {
                c.eligibility
                    .try_eligible_share(&schema)
                    .map_err(|e| CatalogueError::Field {
                        line,
                        field: "eligibility",
                        problem: e.to_string(),
                    })
            })
            .collect::<Result<_, _>>()?;
        let words = categories.len().div_ceil(64);
        let cell_eligibility = schema
            .cell_count_with_unknown()
            .filter(|cells| cells.saturating_mul(words) <= MAX_TABLE_WORDS)
            .map(|cells| {
                let mut table = vec![0u64; cells * words];
                for cell in 0..cells {
                    let answers = schema.answers_of_cell(cell);
                    for (i, c) in categories.iter().enumerate() {
                        if c.eligibility.matches(&answers) {
                            table[cell * words + i / 64] |= 1 << (i % 64);
                        }
                    }
                }
                table
            });
        let mut cell_offsets = Vec::with_capacity(categories.len() + 1);
        let mut cells = 0usize;
        for c in &categories {
            cell_offsets.push(cells as u32);
            cells += c.cells.len();
        }
        if cells > u32::MAX as usize / 2 {
            return Err(CatalogueError::TooMany {
                max: u32::MAX as usize / 2,
            });
        }
        cell_offsets.push(cells as u32);
        let cell_rules = tree::path_rules(&categories);
        let cell_table = tree::CellTable::build(&schema, &categories, &cell_rules);
        let cell_mins = categories
            .iter()
            .flat_map(|c| c.cells.iter().map(|cell| cell.min))
            .collect();
        let has_mins = categories
            .iter()
            .map(|c| c.cells.iter().any(|cell| cell.min > 0))
            .collect();
        let qualifiers_free = categories.iter().all(|c| c.qualifier_seconds == 0.0);
        let any_exposure_targets = categories.iter().any(|c| !c.exposure_targets.is_empty());
        let shortest = categories
            .iter()
            .map(Category::seconds_if_qualified)
            .fold(f64::INFINITY, f64::min);
        let any_loi_spread = categories.iter().any(|c| c.loi_spread > 0.0);
        let (group_of, group_members, group_starts) = exclusion_groups_of(&categories);
        // Keys are unique (checked above): a category's position by its key.
        let by_key = categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.key.clone(), i as u32))
            .collect();
        Ok(Catalogue {
            hot: categories
                .iter()
                .zip(&eligible_share)
                .map(|(c, s)| Hot {
                    seconds_if_qualified: c.seconds_if_qualified(),
                    respondents_per_complete: if *s > 0.0 {
                        1.0 / (c.incidence * s)
                    } else {
                        f64::INFINITY
                    },
                    incidence: c.incidence,
                    qualifier_seconds: c.qualifier_seconds,
                    loi_seconds: c.loi_seconds,
                    has_exposure_targets: !c.exposure_targets.is_empty(),
                    loi_log_variance: (c.loi_spread * c.loi_spread).ln_1p(),
                })
                .collect(),
            eligible_share,
            categories,
            schema,
            cell_eligibility,
            words,
            instance: CATALOGUES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            shortest,
            qualifiers_free,
            any_exposure_targets,
            cell_offsets,
            cell_rules,
            cell_mins,
            has_mins,
            cell_table,
            any_loi_spread,
            group_of,
            group_members,
            group_starts,
            by_key,
        })
    }

    /// The number of quota cells over all categories.
    #[inline]
    pub fn cell_count(&self) -> usize {
        self.cell_offsets.last().map_or(0, |&n| n as usize)
    }

    /// True when some category has quota cells.
    #[inline]
    pub fn has_cells(&self) -> bool {
        self.cell_count() > 0
    }

    /// The global indices of the category's quota cells (cells are numbered category by
    /// category, in order).
    #[inline]
    pub fn cell_range(&self, id: CategoryId) -> std::ops::Range<usize> {
        let i = id.index();
        match (self.cell_offsets.get(i), self.cell_offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => a as usize..b as usize,
            _ => 0..0,
        }
    }

    /// The quota cell with this global index, with its category.
    pub fn cell(&self, index: usize) -> Option<(CategoryId, &QuotaCell)> {
        if index >= self.cell_count() {
            return None;
        }
        let c = self.cell_offsets.partition_point(|&o| o as usize <= index) - 1;
        let first = self.cell_offsets[c] as usize;
        Some((
            CategoryId::from_index(c),
            &self.categories[c].cells[index - first],
        ))
    }

    /// The schema the catalogue was built on.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The number of categories.
    #[inline]
    pub fn len(&self) -> usize {
        self.categories.len()
    }

    /// Always false: a catalogue has at least one category.
    pub fn is_empty(&self) -> bool {
        self.categories.is_empty()
    }

    /// All categories in order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// Ids of all categories, in order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = CategoryId> + use<> {
        (0..self.categories.len() as u32).map(CategoryId)
    }

    /// The category with this id.
    ///
    /// # Panics
    /// If the id is not from this catalogue.
    pub fn category(&self, id: CategoryId) -> &Category {
        &self.categories[id.index()]
    }

    /// The category whose key is `key` (a hash-map look-up).
    pub fn find(&self, key: &str) -> Option<CategoryId> {
        self.by_key.get(key).map(|&i| CategoryId(i))
    }

    /// A number distinguishing this catalogue from others built in the process (a clone keeps
    /// it), so caches keyed on a catalogue are not used on another.
    #[inline]
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Share of the supply eligible for the category.
    #[inline]
    pub fn eligible_share(&self, id: CategoryId) -> f64 {
        self.eligible_share[id.index()]
    }

    /// Seconds a complete costs (qualifier plus LOI).
    #[inline]
    pub fn seconds_if_qualified(&self, id: CategoryId) -> f64 {
        self.hot[id.index()].seconds_if_qualified
    }

    /// The least qualifier + LOI of any category: with fewer seconds left, nothing fits.
    #[inline]
    pub fn shortest_seconds_if_qualified(&self) -> f64 {
        self.shortest
    }

    /// True when some category's LOI has a spread (so interview lengths are uncertain).
    #[inline]
    pub fn has_any_loi_spread(&self) -> bool {
        self.any_loi_spread
    }

    /// Variance of the log of the category's LOI, `ln(1 + cv²)` (0 when the LOI is certain).
    #[inline]
    pub fn loi_log_variance(&self, id: CategoryId) -> f64 {
        self.hot[id.index()].loi_log_variance
    }

    /// The members of the category's exclusion group (the category among them), in
    /// catalogue order, or `None` when it is in no group.
    #[inline]
    pub fn exclusion_group_members(&self, id: CategoryId) -> Option<&[CategoryId]> {
        let g = *self.group_of.get(id.index())? as usize;
        let (start, end) = (*self.group_starts.get(g)?, *self.group_starts.get(g + 1)?);
        Some(&self.group_members[start as usize..end as usize])
    }

    /// The exclusion groups, each as its categories in catalogue order, the groups in the
    /// order their names first appear.
    pub fn exclusion_groups(&self) -> Vec<Vec<CategoryId>> {
        self.group_starts
            .windows(2)
            .map(|w| self.group_members[w[0] as usize..w[1] as usize].to_vec())
            .collect()
    }

    /// True when some category is in an exclusion group.
    #[inline]
    pub fn has_exclusion_groups(&self) -> bool {
        !self.group_members.is_empty()
    }

    /// True when some category has exposure targets (so demographic weights apply).
    #[inline]
    pub fn has_any_exposure_targets(&self) -> bool {
        self.any_exposure_targets
    }

    /// True when no category's qualifier costs time.
    #[inline]
    pub fn qualifiers_free(&self) -> bool {
        self.qualifiers_free
    }

    /// Seconds the qualifier costs.
    #[inline]
    pub fn qualifier_seconds(&self, id: CategoryId) -> f64 {
        self.hot[id.index()].qualifier_seconds
    }

    /// Length of the category survey in seconds.
    #[inline]
    pub fn loi_seconds(&self, id: CategoryId) -> f64 {
        self.hot[id.index()].loi_seconds
    }

    /// True when the category has exposure targets (a demographic weight applies).
    #[inline]
    pub fn has_exposure_targets(&self, id: CategoryId) -> bool {
        self.hot[id.index()].has_exposure_targets
    }

    /// Catalogue incidence.
    #[inline]
    pub fn incidence(&self, id: CategoryId) -> f64 {
        self.hot[id.index()].incidence
    }

    /// 1 / (incidence × eligible share): respondents drawn from the supply per complete when
    /// every eligible one is shown the qualifier (infinite when nobody is eligible).
    #[inline]
    pub fn respondents_per_complete(&self, id: CategoryId) -> f64 {
        self.hot[id.index()].respondents_per_complete
    }

    /// Writes the respondent's eligibility, one bit per category, into `out`.
    ///
    /// # Performance
    /// A copy from a precomputed per-cell table when the schema's cells are few (the default
    /// schema has 48 with unknowns); otherwise every rule is evaluated. No allocation when
    /// `out` already has the catalogue's size.
    pub(crate) fn eligibility_into(&self, answers: &Answers, out: &mut Vec<u64>) {
        out.clear();
        match &self.cell_eligibility {
            Some(table) if answers.fits(&self.schema) => {
                let cell = self.schema.cell_index(answers);
                out.extend_from_slice(&table[cell * self.words..(cell + 1) * self.words]);
            }
            _ => {
                out.resize(self.words, 0);
                for (i, c) in self.categories.iter().enumerate() {
                    if c.eligibility.matches(answers) {
                        out[i / 64] |= 1 << (i % 64);
                    }
                }
            }
        }
    }

    /// True when the answers make the respondent eligible for the category.
    pub fn is_eligible(&self, id: CategoryId, answers: &Answers) -> bool {
        self.categories[id.index()].eligibility.matches(answers)
    }

    /// The fluid lower bound N* on the mean number of respondents needed to fill every quota
    /// from scratch: max(Σ T(L + q/p) / B, max T/(p·s), Σ (T/p) / k), with B the mean budget in
    /// seconds and k the cap on qualifiers per respondent (`None`: no cap).
    ///
    /// Infinite when some category with a positive target has nobody eligible.
    pub fn lower_bound(&self, budget_seconds: f64, max_qualifiers: Option<u32>) -> f64 {
        self.lower_bound_for(budget_seconds, max_qualifiers, |c| {
            f64::from(self.categories[c.index()].target)
        })
    }

    /// [`lower_bound`](Self::lower_bound) for the completes `remaining(c)` still to do.
    pub fn lower_bound_for(
        &self,
        budget_seconds: f64,
        max_qualifiers: Option<u32>,
        remaining: impl Fn(CategoryId) -> f64,
    ) -> f64 {
        self.bound_terms(budget_seconds, max_qualifiers, remaining)
            .bound()
    }

    /// The three terms of the fluid bound for the completes `remaining(c)` still to do
    /// ([`bound::closed_form`](crate::bound::closed_form)).
    pub fn bound_terms(
        &self,
        budget_seconds: f64,
        max_qualifiers: Option<u32>,
        remaining: impl Fn(CategoryId) -> f64,
    ) -> BoundTerms {
        crate::bound::closed_form(self, budget_seconds, max_qualifiers, remaining)
    }
}
