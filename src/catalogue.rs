//! Categories (routing targets) and the catalogue that holds them.
//!
//! A [`Catalogue`] is immutable configuration: build it once (from code or from the CSV format),
//! share it by reference between threads, and keep the counts that change during fieldwork in a
//! [`QuotaState`](crate::state::QuotaState). Building resolves every name and precomputes what
//! the decision path reads, in flat arrays indexed by [`CategoryId`].
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

use std::fmt;

use thiserror::Error;

use crate::schema::{Answers, QuestionId, Rule, RuleError, Schema};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

/// Index of a category in its [`Catalogue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(transparent))]
pub struct CategoryId(pub(crate) u32);

impl CategoryId {
    /// The category's position in the catalogue, from 0.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The id of the category at this position (not checked against any catalogue).
    pub const fn from_index(index: usize) -> CategoryId {
        CategoryId(index as u32)
    }
}

impl fmt::Display for CategoryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The completes target a category gets when none is given.
pub const DEFAULT_TARGET: u32 = 200;

/// One routing target: a customer's survey behind a qualifier question.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Category {
    /// The caller's id (unique in the catalogue).
    pub key: String,
    /// A readable name.
    pub name: String,
    /// Probability that a respondent shown the qualifier qualifies, in (0, 1].
    pub incidence: f64,
    /// Length of the category survey in seconds (> 0).
    pub loi_seconds: f64,
    /// Seconds the qualifier itself takes (≥ 0).
    pub qualifier_seconds: f64,
    /// Completes wanted.
    pub target: u32,
    /// Who may be shown the qualifier.
    pub eligibility: Rule,
    /// Wanted exposure shares per question (each list has one share per response, summing to
    /// 1). Empty: no exposure target, the demographic weight is neutral.
    pub exposure_targets: Vec<(QuestionId, Vec<f64>)>,
    /// Quota cells inside the category (e.g. completes per gender × age), each with its own
    /// max target. A live reservation takes a slot in the category and in every cell the
    /// respondent falls in, or in none (see [`crate::live`]). Empty: no cells.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Vec::is_empty")
    )]
    pub cells: Vec<QuotaCell>,
    /// Spread of the category survey's length: the coefficient of variation of a log-normal
    /// LOI whose mean is `loi_seconds` (0: every interview takes exactly `loi_seconds`).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_zero"))]
    pub loi_spread: f64,
    /// Exclusion group: a respondent who completed one category of a group is not offered the
    /// others (e.g. two competing beers). `None`: no group.
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub exclusion_group: Option<String>,
}

#[cfg(feature = "serde")]
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// A quota cell of a category: the respondents its rule matches may complete the category at
/// most `max` times (and should at least `min` times).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct QuotaCell {
    /// The caller's name for the cell (unique within its category).
    pub key: String,
    /// Who falls in the cell (an unknown answer never does).
    pub rule: Rule,
    /// Completes the cell may take at most.
    pub max: u32,
    /// Completes the cell should reach (informative: routing never exceeds `max`).
    #[cfg_attr(feature = "serde", serde(default))]
    pub min: u32,
}

impl QuotaCell {
    /// A cell with a max target and no min.
    pub fn new(key: impl Into<String>, rule: Rule, max: u32) -> QuotaCell {
        QuotaCell {
            key: key.into(),
            rule,
            max,
            min: 0,
        }
    }

    /// Sets the min target.
    pub fn with_min(mut self, min: u32) -> QuotaCell {
        self.min = min;
        self
    }
}

impl Category {
    /// A category open to everyone, with no qualifier cost and the default target.
    pub fn new(
        key: impl Into<String>,
        name: impl Into<String>,
        incidence: f64,
        loi_seconds: f64,
    ) -> Category {
        Category {
            key: key.into(),
            name: name.into(),
            incidence,
            loi_seconds,
            qualifier_seconds: 0.0,
            target: DEFAULT_TARGET,
            eligibility: Rule::Everyone,
            exposure_targets: Vec::new(),
            cells: Vec::new(),
            loi_spread: 0.0,
            exclusion_group: None,
        }
    }

    /// Sets the LOI spread (coefficient of variation of a log-normal LOI around the mean).
    pub fn with_loi_spread(mut self, cv: f64) -> Category {
        self.loi_spread = cv;
        self
    }

    /// Puts the category in an exclusion group.
    pub fn with_exclusion_group(mut self, group: impl Into<String>) -> Category {
        self.exclusion_group = Some(group.into());
        self
    }

    /// Sets the completes target.
    pub fn with_target(mut self, target: u32) -> Category {
        self.target = target;
        self
    }

    /// Sets the qualifier's cost in seconds.
    pub fn with_qualifier_seconds(mut self, seconds: f64) -> Category {
        self.qualifier_seconds = seconds;
        self
    }

    /// Sets who may be shown the qualifier.
    pub fn with_eligibility(mut self, rule: Rule) -> Category {
        self.eligibility = rule;
        self
    }

    /// Adds wanted exposure shares for a question.
    pub fn with_exposure_target(mut self, question: QuestionId, shares: Vec<f64>) -> Category {
        self.exposure_targets.push((question, shares));
        self
    }

    /// Adds a quota cell.
    pub fn with_cell(mut self, cell: QuotaCell) -> Category {
        self.cells.push(cell);
        self
    }

    /// Seconds a complete costs, qualifier included.
    pub fn seconds_if_qualified(&self) -> f64 {
        self.qualifier_seconds + self.loi_seconds
    }
}

/// Why a set of categories does not make a catalogue.
#[derive(Clone, Debug, PartialEq, Error)]
#[non_exhaustive]
pub enum CatalogueError {
    /// A CSV line or category has a bad field.
    #[error("line {line}: field `{field}`: {problem}")]
    Field {
        /// 1-based line of the CSV (for categories built in code: position + 1).
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
/// [`Catalogue::new`] does and recomputes the rest.
#[derive(Clone, Debug)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(try_from = "CatalogueDocument", into = "CatalogueDocument")
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
    /// True when some category's LOI is uncertain.
    any_loi_spread: bool,
    /// Each category's exclusion group index (`u32::MAX`: none).
    group_of: Vec<u32>,
    /// Each exclusion group's members, a bitset of `words` words per group.
    group_members: Vec<u64>,
}

static CATALOGUES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// The serialised form of a [`Catalogue`].
#[cfg(feature = "serde")]
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueDocument {
    schema: Schema,
    categories: Vec<Category>,
}

#[cfg(feature = "serde")]
impl TryFrom<CatalogueDocument> for Catalogue {
    type Error = CatalogueError;
    fn try_from(doc: CatalogueDocument) -> Result<Self, Self::Error> {
        Catalogue::new(doc.schema, doc.categories)
    }
}

#[cfg(feature = "serde")]
impl From<Catalogue> for CatalogueDocument {
    fn from(c: Catalogue) -> Self {
        CatalogueDocument {
            schema: c.schema,
            categories: c.categories,
        }
    }
}

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
    /// [`CatalogueError::Field`] for an incidence outside (0, 1], a non-positive or non-finite
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
            validate(c, &schema, line)?;
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
            .map(|c| c.eligibility.eligible_share(&schema))
            .collect();
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
        let qualifiers_free = categories.iter().all(|c| c.qualifier_seconds == 0.0);
        let any_exposure_targets = categories.iter().any(|c| !c.exposure_targets.is_empty());
        let shortest = categories
            .iter()
            .map(Category::seconds_if_qualified)
            .fold(f64::INFINITY, f64::min);
        let any_loi_spread = categories.iter().any(|c| c.loi_spread > 0.0);
        let mut group_names: Vec<&str> = Vec::new();
        let group_of: Vec<u32> = categories
            .iter()
            .map(|c| match &c.exclusion_group {
                None => u32::MAX,
                Some(g) => match group_names.iter().position(|n| n == g) {
                    Some(i) => i as u32,
                    None => {
                        group_names.push(g);
                        (group_names.len() - 1) as u32
                    }
                },
            })
            .collect();
        let mut group_members = vec![0u64; group_names.len() * words];
        for (i, &g) in group_of.iter().enumerate() {
            if g != u32::MAX {
                group_members[g as usize * words + i / 64] |= 1 << (i % 64);
            }
        }
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
            any_loi_spread,
            group_of,
            group_members,
        })
    }

    /// Reads the catalogue CSV format: the columns `category_id`, `category_name`,
    /// `incidence_rate`, `category_length_seconds`, and optionally `target` (default 200),
    /// `qualifier_seconds` (default 0) and `eligibility` (`question=resp|resp` clauses joined by
    /// `;`; empty means everyone), `loi_spread` (the LOI's coefficient of variation, default 0)
    /// and `exclusion_group` (a name; empty means none). Other columns are ignored; quoted
    /// fields may hold commas.
    ///
    /// # Errors
    /// A [`CatalogueError`] naming the line and the field; nothing is half-loaded.
    pub fn from_csv(schema: Schema, text: &str) -> Result<Catalogue, CatalogueError> {
        let rows = parse_csv(text)?;
        let mut rows = rows.into_iter();
        let Some((_, header)) = rows.next() else {
            return Err(CatalogueError::Empty);
        };
        let header: Vec<String> = header.into_iter().map(|h| h.trim().to_owned()).collect();
        for (i, h) in header.iter().enumerate() {
            if header[..i].contains(h) {
                return Err(CatalogueError::DuplicateColumn { column: h.clone() });
            }
        }
        let col = |name: &'static str| header.iter().position(|h| h == name);
        let need =
            |name: &'static str| col(name).ok_or(CatalogueError::MissingColumn { column: name });
        let (id_col, name_col) = (need("category_id")?, need("category_name")?);
        let (ir_col, loi_col) = (need("incidence_rate")?, need("category_length_seconds")?);
        let (target_col, q_col, elig_col) =
            (col("target"), col("qualifier_seconds"), col("eligibility"));
        let (spread_col, group_col) = (col("loi_spread"), col("exclusion_group"));

        let mut categories = Vec::new();
        let mut lines = Vec::new();
        for (line, fields) in rows {
            if fields.len() == 1 && fields[0].trim().is_empty() {
                continue; // blank line
            }
            if fields.len() != header.len() {
                return Err(CatalogueError::FieldCount {
                    line,
                    found: fields.len(),
                    expected: header.len(),
                });
            }
            let field = |i: usize| fields[i].trim();
            let number = |i: usize, name: &'static str| -> Result<f64, CatalogueError> {
                field(i).parse::<f64>().map_err(|_| CatalogueError::Field {
                    line,
                    field: name,
                    problem: format!("`{}` is not a number", field(i)),
                })
            };
            let key = field(id_col).to_owned();
            if key.is_empty() {
                return Err(CatalogueError::Field {
                    line,
                    field: "category_id",
                    problem: "empty id".into(),
                });
            }
            let mut category = Category::new(
                key,
                field(name_col),
                number(ir_col, "incidence_rate")?,
                number(loi_col, "category_length_seconds")?,
            );
            if let Some(i) = target_col.filter(|&i| !field(i).is_empty()) {
                category.target = field(i).parse::<u32>().map_err(|_| CatalogueError::Field {
                    line,
                    field: "target",
                    problem: format!("`{}` is not a whole number of completes", field(i)),
                })?;
            }
            if let Some(i) = q_col.filter(|&i| !field(i).is_empty()) {
                category.qualifier_seconds = number(i, "qualifier_seconds")?;
            }
            if let Some(i) = spread_col.filter(|&i| !field(i).is_empty()) {
                category.loi_spread = number(i, "loi_spread")?;
            }
            if let Some(i) = group_col.filter(|&i| !field(i).is_empty()) {
                category.exclusion_group = Some(field(i).to_owned());
            }
            if let Some(i) = elig_col {
                category.eligibility =
                    Rule::parse(&schema, field(i)).map_err(|e| CatalogueError::Field {
                        line,
                        field: "eligibility",
                        problem: match e {
                            RuleError::Unknown(e) => e.to_string(),
                            other => other.to_string(),
                        },
                    })?;
            }
            categories.push(category);
            lines.push(line);
        }
        Self::with_lines(schema, categories, &lines)
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

    /// The category whose key is `key`.
    pub fn find(&self, key: &str) -> Option<CategoryId> {
        self.categories
            .iter()
            .position(|c| c.key == key)
            .map(|i| CategoryId(i as u32))
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

    /// The members of the category's exclusion group as a bitset (one bit per category, in
    /// 64-bit words), or `None` when it is in no group.
    #[inline]
    pub fn exclusion_group_members(&self, id: CategoryId) -> Option<&[u64]> {
        let g = *self.group_of.get(id.index())?;
        (g != u32::MAX)
            .then(|| &self.group_members[g as usize * self.words..(g as usize + 1) * self.words])
    }

    /// The exclusion groups, each as its categories in catalogue order, the groups in the
    /// order their names first appear.
    pub fn exclusion_groups(&self) -> Vec<Vec<CategoryId>> {
        let groups = self.group_members.len() / self.words.max(1);
        (0..groups)
            .map(|g| {
                self.ids()
                    .filter(|c| self.group_of[c.index()] == g as u32)
                    .collect()
            })
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

    /// The three terms of the fluid bound for the completes `remaining(c)` still to do.
    pub fn bound_terms(
        &self,
        budget_seconds: f64,
        max_qualifiers: Option<u32>,
        remaining: impl Fn(CategoryId) -> f64,
    ) -> BoundTerms {
        let (mut time, mut rarest, mut shows) = (0.0f64, 0.0f64, 0.0f64);
        for id in self.ids() {
            let t = remaining(id);
            if t <= 0.0 {
                continue;
            }
            let c = &self.categories[id.index()];
            time += t * (c.loi_seconds + c.qualifier_seconds / c.incidence);
            rarest = rarest.max(t * self.respondents_per_complete(id));
            shows += t / c.incidence;
        }
        BoundTerms {
            time: time / budget_seconds,
            rarest,
            qualifiers: max_qualifiers.map(|k| shows / f64::from(k.max(1))),
        }
    }

    /// Checks before fieldwork which categories can never complete and how many respondents
    /// each would need on its own.
    pub fn preflight(&self, hard_cap_seconds: f64) -> Preflight {
        let categories = self
            .ids()
            .map(|id| {
                let c = &self.categories[id.index()];
                let mut problems = Vec::new();
                if self.seconds_if_qualified(id) > hard_cap_seconds {
                    problems.push(PreflightProblem::LongerThanCap {
                        seconds: self.seconds_if_qualified(id),
                    });
                }
                if self.eligible_share(id) <= 0.0 && c.target > 0 {
                    problems.push(PreflightProblem::NobodyEligible);
                }
                PreflightCategory {
                    category: id,
                    expected_respondents: f64::from(c.target) * self.respondents_per_complete(id),
                    problems,
                }
            })
            .collect();
        Preflight { categories }
    }
}

/// The terms of the fluid lower bound on respondents (see [`Catalogue::lower_bound`]).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct BoundTerms {
    /// Σ T(L + q/p) / B: the interview time the quotas need over the budget per respondent.
    pub time: f64,
    /// max T / (p·s): the respondents the rarest category needs on its own.
    pub rarest: f64,
    /// Σ (T/p) / k: qualifiers needed over the cap per respondent (`None` without a cap).
    pub qualifiers: Option<f64>,
}

impl BoundTerms {
    /// N*: the largest term.
    pub fn bound(&self) -> f64 {
        self.time_and_qualifiers().max(self.rarest)
    }

    /// The time and qualifier terms only.
    pub fn time_and_qualifiers(&self) -> f64 {
        self.time.max(self.qualifiers.unwrap_or(0.0))
    }
}

/// Why a category can never complete.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub enum PreflightProblem {
    /// Qualifier plus LOI is longer than the hard cap.
    LongerThanCap {
        /// Qualifier plus LOI, in seconds.
        seconds: f64,
    },
    /// The eligibility rule excludes the whole supply.
    NobodyEligible,
}

impl fmt::Display for PreflightProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreflightProblem::LongerThanCap { seconds } => {
                write!(f, "qualifier + LOI = {seconds:.1} s is longer than the cap")
            }
            PreflightProblem::NobodyEligible => f.write_str("nobody in the supply is eligible"),
        }
    }
}

/// One category's pre-flight result.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct PreflightCategory {
    /// The category.
    pub category: CategoryId,
    /// Respondents the category needs if every eligible respondent is shown it: T / (p·s).
    pub expected_respondents: f64,
    /// Why it can never complete; empty when it can.
    pub problems: Vec<PreflightProblem>,
}

/// The result of [`Catalogue::preflight`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct Preflight {
    /// Every category, in catalogue order.
    pub categories: Vec<PreflightCategory>,
}

impl Preflight {
    /// The categories that can never complete.
    pub fn blocked(&self) -> impl Iterator<Item = &PreflightCategory> {
        self.categories.iter().filter(|c| !c.problems.is_empty())
    }

    /// True when every category can complete.
    pub fn is_clean(&self) -> bool {
        self.blocked().next().is_none()
    }
}

fn validate(c: &Category, schema: &Schema, line: usize) -> Result<(), CatalogueError> {
    let bad = |field: &'static str, problem: String| {
        Err(CatalogueError::Field {
            line,
            field,
            problem,
        })
    };
    if !(c.incidence > 0.0 && c.incidence <= 1.0) {
        return bad(
            "incidence_rate",
            format!("{} is outside (0, 1]", c.incidence),
        );
    }
    if !(c.loi_seconds.is_finite() && c.loi_seconds > 0.0) {
        return bad(
            "category_length_seconds",
            format!("{} is not a positive number of seconds", c.loi_seconds),
        );
    }
    if !(c.qualifier_seconds.is_finite() && c.qualifier_seconds >= 0.0) {
        return bad(
            "qualifier_seconds",
            format!("{} is not a number of seconds >= 0", c.qualifier_seconds),
        );
    }
    if !(c.loi_spread.is_finite() && c.loi_spread >= 0.0) {
        return bad(
            "loi_spread",
            format!("{} is not a coefficient of variation >= 0", c.loi_spread),
        );
    }
    if c.exclusion_group
        .as_ref()
        .is_some_and(|g| g.trim().is_empty())
    {
        return bad("exclusion_group", "an empty group name".into());
    }
    if !c.eligibility.fits(schema) {
        return bad(
            "eligibility",
            "the rule names a question or response the schema does not have".into(),
        );
    }
    for (i, cell) in c.cells.iter().enumerate() {
        if cell.key.is_empty() {
            return bad("cells", format!("cell {i} has an empty key"));
        }
        if c.cells[..i].iter().any(|o| o.key == cell.key) {
            return bad("cells", format!("cell `{}` appears twice", cell.key));
        }
        if !cell.rule.fits(schema) {
            return bad(
                "cells",
                format!(
                    "cell `{}`: the rule names a question or response the schema does not have",
                    cell.key
                ),
            );
        }
        if cell.min > cell.max {
            return bad(
                "cells",
                format!(
                    "cell `{}`: min {} is above max {}",
                    cell.key, cell.min, cell.max
                ),
            );
        }
    }
    for (q, shares) in &c.exposure_targets {
        let fits = q.index() < schema.len()
            && shares.len() == schema.response_count(*q)
            && shares.iter().all(|s| s.is_finite() && *s >= 0.0)
            && (shares.iter().sum::<f64>() - 1.0).abs() < 1e-6;
        if !fits {
            return bad(
                "exposure_targets",
                "each target needs one share >= 0 per response of a schema question, summing to 1"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Splits CSV text into records of fields, with the 1-based line each record starts on.
/// Handles quoted fields (with `""` escapes and embedded commas or newlines) and CRLF.
fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, CatalogueError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = text.chars().peekable();
    let mut in_quotes = false;
    let mut quote_line = 0;
    while let Some(ch) = chars.next() {
        if in_quotes {
            match ch {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(ch),
            }
            continue;
        }
        match ch {
            '"' if field.trim().is_empty() => {
                field.clear();
                in_quotes = true;
                quote_line = line;
            }
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                records.push((record_line, std::mem::take(&mut fields)));
                line += 1;
                record_line = line;
            }
            _ => field.push(ch),
        }
    }
    if in_quotes {
        return Err(CatalogueError::Unterminated { line: quote_line });
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push((record_line, fields));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "category_id,category_name,incidence_rate,category_length_seconds";

    fn load(rows: &str) -> Result<Catalogue, CatalogueError> {
        Catalogue::from_csv(Schema::default_survey(), &format!("{HEADER}\n{rows}"))
    }

    #[test]
    fn bundled_catalogue_loads_with_the_documented_bound() {
        let text = include_str!("../examples/data/fake_category_data.csv");
        let catalogue = Catalogue::from_csv(Schema::default_survey(), text).unwrap();
        assert_eq!(catalogue.len(), 77);
        let bound = catalogue.lower_bound(480.0, None);
        assert!((bound - 3490.8).abs() < 0.05, "N* = {bound}");
        assert!(catalogue.preflight(480.0).is_clean());
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        let err = load("1,a,0.5,100\n2,b,abc,100\n").unwrap_err();
        assert_eq!(
            err,
            CatalogueError::Field {
                line: 3,
                field: "incidence_rate",
                problem: "`abc` is not a number".into()
            }
        );
        assert!(matches!(
            load("1,a,1.5,100").unwrap_err(),
            CatalogueError::Field {
                line: 2,
                field: "incidence_rate",
                ..
            }
        ));
        assert!(matches!(
            load("1,a,0,100").unwrap_err(),
            CatalogueError::Field {
                field: "incidence_rate",
                ..
            }
        ));
        assert!(matches!(
            load("1,a,0.5,0").unwrap_err(),
            CatalogueError::Field {
                field: "category_length_seconds",
                ..
            }
        ));
        assert!(matches!(
            load("1,a,0.5,NaN").unwrap_err(),
            CatalogueError::Field {
                field: "category_length_seconds",
                ..
            }
        ));
        assert_eq!(
            load("1,a,0.5,10\n1,b,0.5,10").unwrap_err(),
            CatalogueError::DuplicateId {
                line: 3,
                key: "1".into(),
                first_line: 2
            }
        );
        assert!(matches!(
            load("1,a,0.5").unwrap_err(),
            CatalogueError::FieldCount {
                line: 2,
                found: 3,
                expected: 4
            }
        ));
    }

    #[test]
    fn eligibility_errors_name_the_unknown_response() {
        let text = format!("{HEADER},eligibility\n1,a,0.5,10,gender=woman\n");
        let err = Catalogue::from_csv(Schema::default_survey(), &text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: field `eligibility`: question `gender` has no response `woman`"
        );
    }

    #[test]
    fn loi_spread_and_exclusion_group_columns() {
        let text = "category_id,category_name,incidence_rate,category_length_seconds,loi_spread,exclusion_group\n\
                    17,Craft Beer,0.31,105,0.3,beer\n\
                    28,Coffee,0.4,32,,\n\
                    34,Alcohol Free Beer,0.40,104,0,beer\n";
        let c = Catalogue::from_csv(Schema::default_survey(), text).unwrap();
        assert!(c.has_any_loi_spread() && c.has_exclusion_groups());
        assert!((c.loi_log_variance(CategoryId(0)) - 1.09f64.ln()).abs() < 1e-12);
        assert_eq!(c.loi_log_variance(CategoryId(1)), 0.0);
        assert_eq!(
            c.exclusion_group_members(CategoryId(0)),
            Some(&[0b101u64][..])
        );
        assert_eq!(
            c.exclusion_group_members(CategoryId(2)),
            Some(&[0b101u64][..])
        );
        assert_eq!(c.exclusion_group_members(CategoryId(1)), None);
        let bad = "category_id,category_name,incidence_rate,category_length_seconds,loi_spread\n1,A,0.5,10,-1\n";
        assert!(matches!(
            Catalogue::from_csv(Schema::default_survey(), bad),
            Err(CatalogueError::Field {
                line: 2,
                field: "loi_spread",
                ..
            })
        ));
    }

    #[test]
    fn optional_columns_and_quotes() {
        let text = "category_name,category_id,incidence_rate,category_length_seconds,target,qualifier_seconds,eligibility\n\
                    \"Beer, craft\",7,0.5,100,50,10,\"age=18-34|35-54\"\r\n\
                    \"Say \"\"hi\"\"\",8,0.25,60,,,\n";
        let c = Catalogue::from_csv(Schema::default_survey(), text).unwrap();
        assert_eq!(c.category(CategoryId(0)).name, "Beer, craft");
        assert_eq!(c.category(CategoryId(0)).target, 50);
        assert_eq!(c.seconds_if_qualified(CategoryId(0)), 110.0);
        assert!((c.eligible_share(CategoryId(0)) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(c.category(CategoryId(1)).name, "Say \"hi\"");
        assert_eq!(c.category(CategoryId(1)).target, DEFAULT_TARGET);
        assert!(matches!(
            Catalogue::from_csv(Schema::default_survey(), "category_id\n1\n"),
            Err(CatalogueError::MissingColumn {
                column: "category_name"
            })
        ));
        assert!(matches!(
            Catalogue::from_csv(
                Schema::default_survey(),
                &format!("{HEADER}\n\"1,a,0.5,10\n")
            ),
            Err(CatalogueError::Unterminated { line: 2 })
        ));
        assert_eq!(
            Catalogue::from_csv(Schema::default_survey(), HEADER).unwrap_err(),
            CatalogueError::Empty
        );
    }

    #[test]
    fn eligibility_table_matches_rules() {
        let schema = Schema::default_survey();
        let text = format!(
            "{HEADER},eligibility\n1,a,0.5,10,gender=female\n2,b,0.5,10,age=55+;region=north|south\n3,c,0.5,10,\n"
        );
        let c = Catalogue::from_csv(schema.clone(), &text).unwrap();
        let mut bits = Vec::new();
        for cell in 0..schema.cell_count_with_unknown().unwrap() {
            let answers = schema.answers_of_cell(cell);
            c.eligibility_into(&answers, &mut bits);
            for id in c.ids() {
                let bit = bits[id.index() / 64] >> (id.index() % 64) & 1 == 1;
                assert_eq!(bit, c.is_eligible(id, &answers));
            }
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn serde_round_trip_revalidates() {
        let text = format!("{HEADER},eligibility\n1,a,0.5,10,gender=female\n2,b,0.25,60,\n");
        let c = Catalogue::from_csv(Schema::default_survey(), &text).unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let back: Catalogue = serde_json::from_str(&json).unwrap();
        assert_eq!(back.categories(), c.categories());
        assert_eq!(back.schema(), c.schema());
        assert_eq!(back.eligible_share(CategoryId(0)), 0.5);
        let broken = json.replace("0.25", "1.25");
        let err = serde_json::from_str::<Catalogue>(&broken).unwrap_err();
        assert!(err.to_string().contains("incidence_rate"), "{err}");
    }

    #[test]
    fn preflight_reports_blocked_categories() {
        let text = format!(
            "{HEADER},eligibility\n1,long,0.5,500,\n2,nobody,0.5,10,gender=female;gender=male\n3,ok,0.5,10,\n"
        );
        let c = Catalogue::from_csv(Schema::default_survey(), &text).unwrap();
        let p = c.preflight(480.0);
        let blocked: Vec<_> = p.blocked().map(|b| b.category.index()).collect();
        assert_eq!(blocked, vec![0, 1]);
        assert_eq!(p.categories[2].expected_respondents, 400.0);
        assert!(c.lower_bound(480.0, None).is_infinite());
    }
}
