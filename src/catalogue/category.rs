//! One category: its numbers, its eligibility, its quota cells, and the checks a catalogue
//! makes of it.

use std::fmt;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::CatalogueError;
use crate::schema::{QuestionId, Rule, Schema};

/// Index of a category in its [`Catalogue`](super::Catalogue).
///
/// Deliberately not `Display`: a person reads a category by its key, the platform's own id
/// (`catalogue.category(id).key`), never by this position.
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
    ///
    /// Never truncated: a position past `u32::MAX - 1` gives the id `u32::MAX`, which no
    /// catalogue has (catalogues are smaller), so every call with it is refused as an unknown
    /// category rather than landing on the category at the position modulo 2³².
    pub const fn from_index(index: usize) -> CategoryId {
        if index >= u32::MAX as usize {
            CategoryId(u32::MAX)
        } else {
            CategoryId(index as u32)
        }
    }
}

/// The lowest incidence a category may have: one qualifier in a billion. Below it no
/// fieldwork fills a survey, `1 / incidence` leaves the finite numbers for subnormal rates,
/// and a simulated incidence error could round a rate to 0.
pub const MIN_INCIDENCE: f64 = 1e-9;

/// The completes target a category gets when none is given.
pub const DEFAULT_TARGET: u32 = 200;

/// One routing target: a customer's survey behind a qualifier question.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
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
#[derive(Clone, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(deny_unknown_fields)
)]
pub struct QuotaCell {
    /// The caller's name for the cell (unique within its category).
    pub key: String,
    /// Who falls in the cell (an unknown answer never does).
    pub rule: Rule,
    /// Completes the cell may take at most.
    pub max: u32,
    /// Completes the cell should reach: while a cell is below its min, the categories it
    /// belongs to are more urgent for the respondents in it (see
    /// [`route::MinUrgency`](crate::route::MinUrgency)); routing never exceeds `max`.
    #[cfg_attr(feature = "serde", serde(default))]
    pub min: u32,
    /// The cell this one refines, as an index into the category's cells (always an earlier
    /// one): the cells of a category then form a quota tree, and a respondent falls in a cell
    /// only when they fall in its parent too. `None`: directly under the category. A tree of
    /// the [`quota`](crate::quota) module becomes such cells with
    /// [`Category::with_quota_tree`].
    #[cfg_attr(
        feature = "serde",
        serde(default, skip_serializing_if = "Option::is_none")
    )]
    pub parent: Option<usize>,
}

impl fmt::Debug for QuotaCell {
    /// The fields; `parent` only when set, so that a flat cell's form (which
    /// [`Category::fingerprint`] hashes, and snapshots keep) is what it was before cells had
    /// parents.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("QuotaCell");
        d.field("key", &self.key)
            .field("rule", &self.rule)
            .field("max", &self.max)
            .field("min", &self.min);
        if let Some(parent) = self.parent {
            d.field("parent", &parent);
        }
        d.finish()
    }
}

impl QuotaCell {
    /// A cell with a max target and no min.
    pub fn new(key: impl Into<String>, rule: Rule, max: u32) -> QuotaCell {
        QuotaCell {
            key: key.into(),
            rule,
            max,
            min: 0,
            parent: None,
        }
    }

    /// Max of a node that has no max of its own (a [`Target::None`](crate::quota::Target) or
    /// a structural node): larger than any count a catalogue can reach.
    pub const NO_MAX: u32 = u32::MAX;

    /// Places the cell under the category's cell at index `parent` (an earlier one).
    pub fn with_parent(mut self, parent: usize) -> QuotaCell {
        self.parent = Some(parent);
        self
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

    /// A hash of everything routing and counting read of the category: all its fields but
    /// the readable `name` and the `target` (targets change by recorded administrative steps,
    /// such as a new wave's). Snapshots keep it, so a restore on a catalogue whose incidence,
    /// lengths, eligibility, cells, exclusion group or exposure targets changed is refused.
    /// Stable within one version of the crate (it hashes the `Debug` form, whose floats are
    /// exact).
    pub fn fingerprint(&self) -> u64 {
        use std::fmt::Write;
        /// FNV-1a over the text written into it: no allocation, the same on every platform.
        struct Fnv(u64);
        impl Write for Fnv {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                for b in s.bytes() {
                    self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
                Ok(())
            }
        }
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        let content = Category {
            name: String::new(),
            target: 0,
            ..self.clone()
        };
        // Writing into `Fnv` cannot fail.
        let _ = write!(h, "{content:?}");
        h.0
    }

    /// Seconds a complete costs, qualifier included.
    pub fn seconds_if_qualified(&self) -> f64 {
        self.qualifier_seconds + self.loi_seconds
    }
}

pub(super) fn validate(c: &Category, schema: &Schema, line: usize) -> Result<(), CatalogueError> {
    // The problem names the category by its key: for a JSON document or categories built in
    // code, `line` is only a position.
    let bad = |field: &'static str, problem: String| {
        Err(CatalogueError::Field {
            line,
            field,
            problem: format!("category `{}`: {problem}", c.key),
        })
    };
    if !(c.incidence >= MIN_INCIDENCE && c.incidence <= 1.0) {
        return bad(
            "incidence_rate",
            format!("{:?} is outside [1e-9, 1] (MIN_INCIDENCE)", c.incidence),
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
        if let Some(p) = cell.parent
            && p >= i
        {
            return bad(
                "cells",
                format!(
                    "cell `{}`: its parent {p} is not an earlier cell of the category (cells list a parent before its children)",
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
