//! The respondent fill bound: the most interview seconds one respondent can fill, at best and in
//! expectation, when each category may be offered to them once; and the respondents that
//! bound implies.
//!
//! The fluid bound N* and the LP of [`bound`](crate::bound) let a respondent's seconds be
//! filled to the cap on average. On a small catalogue that is out of reach: once a respondent
//! has been shown the few short categories, the end of their interview cannot be filled, however
//! they are routed. This module computes, for each respondent type (the eligible categories of
//! a demographic cell), the exact optimum of the one-respondent problem
//!
//! > offer open categories one at a time, each at most once; the respondent qualifies for `c`
//! > with probability `p_c`, independently, learnt only when shown; a qualified respondent takes
//! > the survey (`L_c` seconds); a category is offered only if its qualifier and survey fit the
//! > seconds left; maximise the expected seconds used (qualifiers and surveys),
//!
//! by a dynamic programme over the set of categories not yet shown and the seconds left:
//!
//! `V(S, r) = max(0, max_{c ∈ S, q_c + L_c ≤ r} [q_c + p_c (L_c + V(S∖c, r − q_c − L_c)) +
//! (1 − p_c) V(S∖c, r − q_c)])`.
//!
//! Every category open at the start is in `S` for the whole month, so `V` with every category
//! open bounds what any policy fills for any respondent at any point of the month. With the
//! type's mean fill `V̄` (weighted by the supply), the respondents a month needs are on average
//! at least
//!
//! `N_fill = max( Σ_c T_c (L_c + q_c / p_c) / min(V̄, B), max_c T_c / (p_c s_c) )`,
//!
//! because the month's completes need that many seconds in expectation (Wald: a category's
//! shows until its `T_c`-th complete average `T_c / p_c`) and respondent `n` fills at most
//! `V̄` in expectation whatever happened before (the stream's types are independent of the
//! past). `B` is the mean budget where time is banked. The cap on qualifiers is not used (a
//! relaxation: the bound stays valid).
//!
//! The seconds are a grid (1 s by default) and every rounding favours the respondent: a cell
//! stands for the top of its span, lengths are rounded down when they move a respondent back.
//! So the grid can only raise `V` and the bound stays a bound. The table holds `2^n` rows of
//! `budget / grid + 1` cells for a type with `n` eligible categories: the method is for small
//! catalogues (about 20 categories per type), where it matters; with many categories `V̄` is
//! within a second of the cap and N* is the bound.
//!
//! ```
//! use quotaroute::catalogue::{Catalogue, Category};
//! use quotaroute::bound::fill::{respondent_fill, FillOptions};
//! use quotaroute::schema::Schema;
//!
//! // Two 300 s surveys under a 480 s cap: at most one fits, so a respondent fills
//! // 0.5·300 + 0.5·0.5·300 = 225 s at best.
//! let catalogue = Catalogue::new(Schema::default_survey(), vec![
//!     Category::new("a", "A", 0.5, 300.0).with_target(100),
//!     Category::new("b", "B", 0.5, 300.0).with_target(100),
//! ])?;
//! let fill = respondent_fill(&catalogue, &FillOptions::new(480.0))?;
//! assert!((fill.seconds - 225.0).abs() < 0.01);
//! // 200 completes of 300 s need 60,000 s: at least 266.7 respondents, where N* says 200.
//! assert!((fill.respondents - 60_000.0 / 225.0).abs() < 0.01);
//! assert!((catalogue.lower_bound(480.0, None) - 200.0).abs() < 1e-9);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use thiserror::Error;

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use crate::catalogue::{Catalogue, CategoryId};

/// The most categories one type may have for the exact table (its rows are `2^n`).
pub const MAX_CATEGORIES: usize = 30;

/// The most demographic cells (every question answered) the types are built from.
pub const MAX_CELLS: usize = crate::schema::MAX_ENUMERATED_CELLS;

/// What the fill bound is computed for.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct FillOptions {
    /// Seconds no respondent passes.
    pub hard_cap_seconds: f64,
    /// The mean budget where time is banked (`None`: the hard cap is the budget).
    #[cfg_attr(feature = "serde", serde(default))]
    pub mean_budget_seconds: Option<f64>,
    /// Grid step of the seconds, > 0 (coarser is faster and looser, never invalid).
    pub grid_seconds: f64,
    /// The most table cells one type may need (4 bytes each); larger types are refused.
    pub max_cells: usize,
}

impl FillOptions {
    /// A hard cap, a 1 s grid and at most 2^28 cells (1 GiB) per type.
    pub fn new(hard_cap_seconds: f64) -> FillOptions {
        FillOptions {
            hard_cap_seconds,
            mean_budget_seconds: None,
            grid_seconds: 1.0,
            max_cells: 1 << 28,
        }
    }
}

/// The fill of one respondent type.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct TypeFill {
    /// The type's share of the supply.
    pub share: f64,
    /// The categories it may be shown (eligible, with a target, fitting the cap), by index.
    pub categories: Vec<CategoryId>,
    /// The most seconds one respondent of the type fills in expectation.
    pub seconds: f64,
}

/// The respondent fill bound (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct RespondentFill {
    /// The most seconds a respondent fills in expectation, over the supply: V̄.
    pub seconds: f64,
    /// The bound on the mean respondents a month needs: N_fill.
    pub respondents: f64,
    /// Each distinct respondent type (cells with the same categories merge).
    pub types: Vec<TypeFill>,
}

/// Why [`respondent_fill`] refused.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum FillError {
    /// An option is not a positive finite number.
    #[error("fill option `{field}` is {value}; it must be a positive finite number")]
    Option {
        /// The option's name.
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// The schema has more demographic cells than [`MAX_CELLS`].
    #[error(
        "the schema has {cells} demographic cells, more than the {MAX_CELLS} the fill bound enumerates"
    )]
    TooManyCells {
        /// Its cells (saturating).
        cells: usize,
    },
    /// The catalogue gives some category a spread of lengths: with a short draw two categories
    /// that do not fit together on average may both complete, so the fixed-length table is no
    /// bound.
    #[error("category `{category}` has a length spread; the fill bound assumes fixed lengths")]
    LoiSpread {
        /// The first such category's id.
        category: String,
    },
    /// A type has more categories than the table can hold.
    #[error(
        "a respondent type has {categories} categories: the table needs {cells} cells, more than the {max} allowed (at most {MAX_CATEGORIES} categories, and `max_cells`)"
    )]
    TooLarge {
        /// The type's categories.
        categories: usize,
        /// Cells its table needs (saturating).
        cells: usize,
        /// The limit (`max_cells`).
        max: usize,
    },
}

/// The respondent fill bound for a catalogue's targets (see the [module docs](self)).
///
/// # Errors
/// [`FillError::Option`] for a cap, mean budget or grid that is not positive and finite;
/// [`FillError::LoiSpread`] for a catalogue with a length spread; [`FillError::TooManyCells`]
/// for a schema of more than [`MAX_CELLS`] cells; [`FillError::TooLarge`] when a type has more
/// than [`MAX_CATEGORIES`] categories or its table more than `max_cells` cells.
///
/// # Performance
/// One table per distinct type, `2^n × (cap / grid + 1)` cells of 4 bytes, each row computed
/// from its subsets in `O(n × cells per row)` vectorised steps. 20 categories at 480 s and a
/// 1 s grid: 2 GiB and tens of seconds. For planning, not for the decision path.
pub fn respondent_fill(
    catalogue: &Catalogue,
    options: &FillOptions,
) -> Result<RespondentFill, FillError> {
    let positive = |field, value: f64| {
        if value.is_finite() && value > 0.0 {
            Ok(())
        } else {
            Err(FillError::Option { field, value })
        }
    };
    positive("hard_cap_seconds", options.hard_cap_seconds)?;
    positive("grid_seconds", options.grid_seconds)?;
    if let Some(b) = options.mean_budget_seconds {
        positive("mean_budget_seconds", b)?;
    }
    let cap = options.hard_cap_seconds;
    if let Some(c) = catalogue
        .ids()
        .find(|&c| catalogue.category(c).loi_spread > 0.0)
    {
        return Err(FillError::LoiSpread {
            category: catalogue.category(c).key.clone(),
        });
    }
    let cells = catalogue
        .schema()
        .complete_cell_count()
        .unwrap_or(usize::MAX);
    if cells > MAX_CELLS {
        return Err(FillError::TooManyCells { cells });
    }
    let mut types: BTreeMap<Vec<CategoryId>, f64> = BTreeMap::new();
    for (answers, share) in catalogue.schema().complete_cells() {
        if share <= 0.0 {
            continue;
        }
        let categories: Vec<CategoryId> = catalogue
            .ids()
            .filter(|&c| {
                catalogue.category(c).target > 0
                    && catalogue.is_eligible(c, &answers)
                    && catalogue.seconds_if_qualified(c) <= cap
            })
            .collect();
        *types.entry(categories).or_insert(0.0) += share;
    }
    let width = (cap / options.grid_seconds).floor() as usize + 1;
    for categories in types.keys() {
        let n = categories.len();
        let cells = 1usize
            .checked_shl(n as u32)
            .and_then(|rows| rows.checked_mul(width))
            .filter(|_| n <= MAX_CATEGORIES)
            .unwrap_or(usize::MAX);
        if cells > options.max_cells {
            return Err(FillError::TooLarge {
                categories: n,
                cells,
                max: options.max_cells,
            });
        }
    }
    let total_share: f64 = types.values().sum();
    let mut fills = Vec::with_capacity(types.len());
    let mut mean = 0.0;
    for (categories, share) in types {
        let items: Vec<Item> = categories
            .iter()
            .map(|&c| Item {
                p: catalogue.incidence(c),
                q: catalogue.qualifier_seconds(c),
                l: catalogue.loi_seconds(c),
            })
            .collect();
        let seconds = best_fill(&items, cap, options.grid_seconds);
        mean += share / total_share * seconds;
        fills.push(TypeFill {
            share: share / total_share,
            categories,
            seconds,
        });
    }
    // A category no respondent can complete (too long for the cap, or nobody eligible) is
    // never filled: no number of respondents is enough.
    let unfillable = catalogue.ids().any(|c| {
        catalogue.category(c).target > 0 && !fills.iter().any(|t| t.categories.contains(&c))
    });
    if unfillable {
        return Ok(RespondentFill {
            seconds: mean,
            respondents: f64::INFINITY,
            types: fills,
        });
    }
    let budget = options.mean_budget_seconds.map_or(cap, |b| b.min(cap));
    let terms = super::closed_form(catalogue, budget, None, |c| {
        f64::from(catalogue.category(c).target)
    });
    // No seconds to do needs no fill (and 0 / 0 must not become NaN).
    let time = if terms.time > 0.0 {
        terms.time * budget / mean.min(budget)
    } else {
        0.0
    };
    Ok(RespondentFill {
        seconds: mean,
        respondents: time.max(terms.rarest),
        types: fills,
    })
}

/// One category as the table sees it.
#[derive(Clone, Copy, Debug)]
struct Item {
    p: f64,
    q: f64,
    l: f64,
}

/// V(all, cap): the exact optimum on the grid, every rounding in the respondent's favour.
fn best_fill(items: &[Item], cap: f64, grid: f64) -> f64 {
    let n = items.len();
    if n == 0 {
        return 0.0;
    }
    let width = (cap / grid).floor() as usize + 1;
    // Cell i stands for every r in [i·g, (i+1)·g); using its top, (i+1)·g, and moving back
    // floor(x / g) cells for x seconds spent both only help the respondent.
    let back = |x: f64| (x / grid).floor() as usize;
    let shifts: Vec<(usize, usize)> = items.iter().map(|c| (back(c.q + c.l), back(c.q))).collect();
    let mut table = vec![0f32; (1usize << n) * width];
    let mut row = vec![0f32; width];
    for set in 1usize..(1 << n) {
        row.fill(0.0);
        let mut members = set;
        while members != 0 {
            let c = members.trailing_zeros() as usize;
            members &= members - 1;
            let rest = set & !(1 << c);
            let before = &table[rest * width..(rest + 1) * width];
            let (qualified_back, failed_back) = shifts[c];
            let Item { p, q, l } = items[c];
            let (p, q, l) = (p as f32, q as f32, l as f32);
            // Offered only where q + L fits the cell's top: qualified_back ≤ i.
            for i in qualified_back..width {
                let v =
                    q + p * (l + before[i - qualified_back]) + (1.0 - p) * before[i - failed_back];
                if v > row[i] {
                    row[i] = v;
                }
            }
        }
        table[set * width..(set + 1) * width].copy_from_slice(&row);
    }
    // Each of the n levels of the recursion rounds a handful of f32 operations, a relative
    // error of at most 8 · 2^-24 per level: widen by that so the bound stays one.
    f64::from(table[((1 << n) - 1) * width + width - 1])
        * (1.0 + 8.0 * n as f64 * f64::powi(2.0, -24))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The optimum over continuous seconds, by plain recursion over subsets: the oracle.
    fn exact(items: &[Item], set: usize, r: f64) -> f64 {
        let mut best = 0.0f64;
        for c in 0..items.len() {
            if set >> c & 1 == 0 || items[c].q + items[c].l > r {
                continue;
            }
            let rest = set & !(1 << c);
            let Item { p, q, l } = items[c];
            let v =
                q + p * (l + exact(items, rest, r - q - l)) + (1.0 - p) * exact(items, rest, r - q);
            best = best.max(v);
        }
        best
    }

    #[test]
    fn hand_solved_orders() {
        // Offering B (300 s, certain) first fills 300; A first fills .5·200 + .5·300 = 250.
        let items = [
            Item {
                p: 0.5,
                q: 0.0,
                l: 200.0,
            },
            Item {
                p: 1.0,
                q: 0.0,
                l: 300.0,
            },
        ];
        assert!((best_fill(&items, 480.0, 1.0) - 300.0).abs() < 1e-2);
        // One 100 s category at one half: 50 s.
        let one = [Item {
            p: 0.5,
            q: 0.0,
            l: 100.0,
        }];
        assert!((best_fill(&one, 480.0, 1.0) - 50.0).abs() < 1e-3);
        // A qualifier that costs 10 s is paid on every show.
        let paid = [Item {
            p: 0.5,
            q: 10.0,
            l: 100.0,
        }];
        assert!((best_fill(&paid, 480.0, 1.0) - 60.0).abs() < 1e-3);
    }

    #[test]
    fn grid_table_bounds_the_oracle_from_above_and_closely() {
        let items = [
            Item {
                p: 0.3,
                q: 0.0,
                l: 137.3,
            },
            Item {
                p: 0.7,
                q: 0.0,
                l: 251.9,
            },
            Item {
                p: 0.45,
                q: 2.5,
                l: 88.1,
            },
            Item {
                p: 0.9,
                q: 0.0,
                l: 41.6,
            },
            Item {
                p: 0.2,
                q: 0.0,
                l: 299.0,
            },
        ];
        let oracle = exact(&items, (1 << items.len()) - 1, 480.0);
        for grid in [0.25, 1.0, 5.0] {
            let table = best_fill(&items, 480.0, grid);
            assert!(table >= oracle - 1e-9, "grid {grid}: {table} < {oracle}");
            // Each of at most five moves gains under one grid step.
            assert!(
                table <= oracle + 5.0 * grid + 1e-3,
                "grid {grid}: {table} vs {oracle}"
            );
        }
    }
}
