//! What a store counts: the survey's name and its counters with their maxes.

use thiserror::Error;

use crate::catalogue::Catalogue;

use super::{CounterId, StoreError};

/// One counter: a category, a quota cell, later a node of a quota tree.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Counter {
    /// Its name, unique in the layout (a category's key; `key/cell` for a cell).
    pub name: String,
    /// The max target: pending + completed never passes it.
    pub max: u32,
}

impl Counter {
    /// A counter named `name` with max target `max`.
    pub fn new(name: impl Into<String>, max: u32) -> Counter {
        Counter {
            name: name.into(),
            max,
        }
    }
}

/// Why a [`Layout`] could not be built.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// The survey name is empty, longer than 200 bytes, or holds a character a key may not
    /// (`{`, `}`, `:`, whitespace or a control character: the name goes into every key).
    #[error(
        "survey name {name:?} is not 1 to 200 characters without braces, colons, spaces or control characters"
    )]
    Survey {
        /// The name given.
        name: String,
    },
    /// Two counters share a name.
    #[error("counter name {name:?} is used twice")]
    DuplicateCounter {
        /// The name.
        name: String,
    },
    /// No counter at all, or more than `u32::MAX`.
    #[error("a layout needs 1 to 4294967295 counters, got {count}")]
    Count {
        /// How many were given.
        count: usize,
    },
}

/// A survey's name and counters, numbered from 0 in order. The name namespaces the store's
/// keys, so two surveys (or two runs) never see each other's counts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Layout {
    survey: String,
    counters: Vec<Counter>,
}

impl Layout {
    /// A layout of `counters` for the survey `survey`.
    ///
    /// # Errors
    /// [`LayoutError`] for a bad survey name, a repeated counter name or no counters.
    pub fn new(survey: impl Into<String>, counters: Vec<Counter>) -> Result<Layout, LayoutError> {
        let survey = survey.into();
        let bad = |c: char| matches!(c, '{' | '}' | ':') || c.is_whitespace() || c.is_control();
        if survey.is_empty() || survey.len() > 200 || survey.chars().any(bad) {
            return Err(LayoutError::Survey { name: survey });
        }
        if counters.is_empty() || u32::try_from(counters.len()).is_err() {
            return Err(LayoutError::Count {
                count: counters.len(),
            });
        }
        let mut names: Vec<&str> = counters.iter().map(|c| c.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(LayoutError::DuplicateCounter {
                name: w[0].to_string(),
            });
        }
        Ok(Layout { survey, counters })
    }

    /// Every id of `counters` is a counter of the layout.
    ///
    /// # Errors
    /// [`StoreError::UnknownCounter`] naming the first that is not.
    pub fn check_counters(&self, counters: &[CounterId]) -> Result<(), StoreError> {
        match counters
            .iter()
            .find(|&&c| c as usize >= self.counters.len())
        {
            Some(&counter) => Err(StoreError::UnknownCounter {
                counter,
                len: self.counters.len(),
            }),
            None => Ok(()),
        }
    }

    /// Sets the counters' maxes in order (extra values ignored): the layout as a store has it
    /// after administrative changes.
    pub(crate) fn set_maxes(&mut self, maxes: impl Iterator<Item = u32>) {
        for (c, m) in self.counters.iter_mut().zip(maxes) {
            c.max = m;
        }
    }

    /// The catalogue's counters: one per category (its key, max its target), in catalogue
    /// order, then one per quota cell (`category/cell`, max the cell's), in the catalogue's
    /// global cell order. So category `c` is counter `c` and cell `i` is counter
    /// `categories + i`.
    ///
    /// # Errors
    /// [`LayoutError::Survey`] for a bad survey name.
    pub fn from_catalogue(
        survey: impl Into<String>,
        catalogue: &Catalogue,
    ) -> Result<Layout, LayoutError> {
        let mut counters: Vec<Counter> = catalogue
            .categories()
            .iter()
            .map(|c| Counter::new(c.key.as_str(), c.target))
            .collect();
        let mut cell = 0;
        while let Some((category, q)) = catalogue.cell(cell) {
            let key = &catalogue.categories()[category.index()].key;
            counters.push(Counter::new(format!("{key}/{}", q.key), q.max));
            cell += 1;
        }
        Layout::new(survey, counters)
    }

    /// The survey's name.
    pub fn survey(&self) -> &str {
        &self.survey
    }

    /// The counters, by [`CounterId`].
    pub fn counters(&self) -> &[Counter] {
        &self.counters
    }

    /// How many counters.
    pub fn len(&self) -> usize {
        self.counters.len()
    }

    /// Always false: a layout has at least one counter.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// The counter with this id.
    pub fn counter(&self, id: CounterId) -> Option<&Counter> {
        self.counters.get(id as usize)
    }

    /// The first counter whose max differs from `other`'s, or whose name does, or a length
    /// that differs: `None` when the two describe the same counters.
    pub fn first_difference<'a>(
        &'a self,
        other: &'a Layout,
    ) -> Option<(usize, Option<&'a Counter>, Option<&'a Counter>)> {
        let n = self.counters.len().max(other.counters.len());
        (0..n).find_map(|i| {
            let (a, b) = (self.counters.get(i), other.counters.get(i));
            (a != b).then_some((i, a, b))
        })
    }
}
