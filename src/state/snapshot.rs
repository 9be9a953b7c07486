//! The counts of a [`QuotaState`] as data, and their restore.

use std::sync::atomic::{AtomicU32, Ordering};

use thiserror::Error;

use super::QuotaState;
use crate::catalogue::Catalogue;

/// Why a snapshot could not be restored.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The snapshot was written in another format version.
    #[error("snapshot format {found} is not the supported format {expected}")]
    Version {
        /// The snapshot's version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The snapshot was taken on a different catalogue or schema.
    #[error("snapshot does not match the catalogue: {what}")]
    Mismatch {
        /// What differs (naming the category or field).
        what: String,
    },
    /// A field is inconsistent (wrong length, completes past the target).
    #[error("snapshot field `{field}`: {problem}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// The counts of a [`QuotaState`], as data: serialise it, and [`QuotaState::restore`] it
/// against the same catalogue. Unknown fields are refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct QuotaSnapshot {
    /// Format version ([`QuotaSnapshot::FORMAT`]).
    pub format: u32,
    /// Category keys, in catalogue order (checked on restore).
    pub categories: Vec<String>,
    /// Each category's [`fingerprint`](crate::catalogue::Category::fingerprint): its
    /// incidence, lengths, eligibility, cells and the rest of its configuration but name and
    /// target (checked on restore).
    pub fingerprints: Vec<u64>,
    /// Question names and response counts of the schema (checked on restore).
    pub questions: Vec<(String, usize)>,
    /// Targets per category.
    pub targets: Vec<u32>,
    /// Completes per category.
    pub completed: Vec<u32>,
    /// Qualifiers shown per category.
    pub shown: Vec<u32>,
    /// Respondents qualified per category.
    pub qualified: Vec<u32>,
    /// Exposures per category per (question, response), row-major.
    pub exposures: Vec<u32>,
}

impl QuotaSnapshot {
    /// The format version this build writes and reads (2: with `fingerprints`).
    pub const FORMAT: u32 = 2;
}

impl QuotaState {
    /// The counts as data.
    pub fn snapshot(&self, catalogue: &Catalogue) -> QuotaSnapshot {
        let load = |v: &[AtomicU32]| v.iter().map(|a| a.load(Ordering::Relaxed)).collect();
        let schema = catalogue.schema();
        QuotaSnapshot {
            format: QuotaSnapshot::FORMAT,
            categories: catalogue
                .categories()
                .iter()
                .map(|c| c.key.clone())
                .collect(),
            fingerprints: catalogue
                .categories()
                .iter()
                .map(|c| c.fingerprint())
                .collect(),
            questions: schema
                .questions()
                .iter()
                .map(|q| (q.name().to_owned(), q.responses().len()))
                .collect(),
            targets: load(&self.targets),
            completed: load(&self.completed),
            shown: load(&self.shown),
            qualified: load(&self.qualified),
            exposures: load(&self.exposures),
        }
    }

    /// Rebuilds the state a snapshot was taken of.
    ///
    /// The snapshot's targets are taken as recorded (a new wave or an administrative change
    /// may have set them apart from the catalogue's; the [live engine](crate::live) checks
    /// them against its wave ledger). Everything else is checked: the categories' keys and
    /// [fingerprints](crate::catalogue::Category::fingerprint), the schema, every length,
    /// completes within targets, qualified respondents and each question's exposures within
    /// the qualifiers shown.
    ///
    /// # Errors
    /// [`RestoreError::Version`] for another format, [`RestoreError::Mismatch`] when the
    /// catalogue's categories (keys or configuration) or schema differ,
    /// [`RestoreError::Invalid`] for inconsistent counts.
    pub fn restore(
        catalogue: &Catalogue,
        snapshot: &QuotaSnapshot,
    ) -> Result<QuotaState, RestoreError> {
        if snapshot.format != QuotaSnapshot::FORMAT {
            return Err(RestoreError::Version {
                found: snapshot.format,
                expected: QuotaSnapshot::FORMAT,
            });
        }
        let keys: Vec<&str> = catalogue
            .categories()
            .iter()
            .map(|c| c.key.as_str())
            .collect();
        if snapshot.categories.len() != keys.len() {
            return Err(RestoreError::Mismatch {
                what: format!(
                    "{} categories in the snapshot, {} in the catalogue",
                    snapshot.categories.len(),
                    keys.len()
                ),
            });
        }
        if let Some((i, k)) = snapshot
            .categories
            .iter()
            .enumerate()
            .find(|(i, k)| keys[*i] != k.as_str())
        {
            return Err(RestoreError::Mismatch {
                what: format!(
                    "the category at position {i} is `{k}` in the snapshot, `{}` in the catalogue",
                    keys[i]
                ),
            });
        }
        if snapshot.fingerprints.len() != keys.len() {
            return Err(RestoreError::Invalid {
                field: "fingerprints",
                problem: format!(
                    "{} values, expected {}",
                    snapshot.fingerprints.len(),
                    keys.len()
                ),
            });
        }
        if let Some((_, c)) = catalogue
            .categories()
            .iter()
            .enumerate()
            .find(|(i, c)| snapshot.fingerprints.get(*i) != Some(&c.fingerprint()))
        {
            return Err(RestoreError::Mismatch {
                what: format!(
                    "category `{}` changed since the snapshot: its incidence, lengths, \
                     eligibility, cells, exclusion group or exposure targets differ",
                    c.key
                ),
            });
        }
        let mut state = QuotaState::new(catalogue);
        let schema_now: Vec<(String, usize)> = catalogue
            .schema()
            .questions()
            .iter()
            .map(|q| (q.name().to_owned(), q.responses().len()))
            .collect();
        if snapshot.questions != schema_now {
            return Err(RestoreError::Mismatch {
                what: "the schema's questions or responses changed".into(),
            });
        }
        let n = keys.len();
        for (field, v, len) in [
            ("targets", &snapshot.targets, n),
            ("completed", &snapshot.completed, n),
            ("shown", &snapshot.shown, n),
            ("qualified", &snapshot.qualified, n),
            ("exposures", &snapshot.exposures, n * state.stride),
        ] {
            if v.len() != len {
                return Err(RestoreError::Invalid {
                    field,
                    problem: format!("{} values, expected {len}", v.len()),
                });
            }
        }
        for (i, key) in keys.iter().enumerate() {
            let (target, done) = (snapshot.targets[i], snapshot.completed[i]);
            if done > target {
                return Err(RestoreError::Invalid {
                    field: "completed",
                    problem: format!(
                        "category `{key}` has {done} completes over a target of {target}"
                    ),
                });
            }
            *state.targets[i].get_mut() = target;
            *state.open[i].get_mut() = i64::from(target - done);
            if target == done {
                *state.closes.get_mut() += 1;
            }
            *state.completed[i].get_mut() = done;
            *state.shown[i].get_mut() = snapshot.shown[i];
            *state.qualified[i].get_mut() = snapshot.qualified[i];
        }
        check_learned(&state, &keys, snapshot)?;
        for (a, &v) in state.exposures.iter_mut().zip(&snapshot.exposures) {
            *a.get_mut() = v;
        }
        Ok(state)
    }
}

/// What was learned adds up: per category, qualified respondents and each question's exposures
/// are within the qualifiers shown (every one is counted with a showing, at most once).
fn check_learned(
    state: &QuotaState,
    keys: &[&str],
    snapshot: &QuotaSnapshot,
) -> Result<(), RestoreError> {
    for (i, key) in keys.iter().enumerate() {
        let shown = snapshot.shown[i];
        if snapshot.qualified[i] > shown {
            return Err(RestoreError::Invalid {
                field: "qualified",
                problem: format!(
                    "category `{key}`: {} qualified of {shown} shown",
                    snapshot.qualified[i]
                ),
            });
        }
        let row = &snapshot.exposures[i * state.stride..(i + 1) * state.stride];
        for (q, &start) in state.offsets.iter().enumerate() {
            let end = state
                .offsets
                .get(q + 1)
                .map_or(state.stride, |&e| e as usize);
            let total: u64 = row[start as usize..end].iter().map(|&e| u64::from(e)).sum();
            if total > u64::from(shown) {
                return Err(RestoreError::Invalid {
                    field: "exposures",
                    problem: format!(
                        "category `{key}`: {total} exposures on question {q} of {shown} shown"
                    ),
                });
            }
        }
    }
    Ok(())
}
