//! An interview saved as plain data, so another process can carry it on: what was shown,
//! answered and completed, the time and qualifiers used, the risk budget left.

use thiserror::Error;

use crate::catalogue::{Catalogue, CategoryId};
use crate::schema::Answers;

use super::{Interview, RiskState, bit, set_bit};

/// The first line of [`SavedInterview::to_text`]: the format and its version.
const HEADER: &str = "quotaroute-interview 1";

/// An interview's progress as plain data ([`Interview::save`]), to be carried on by
/// [`Interview::resume`] in another process against the same catalogue.
///
/// Categories are kept by index, with the catalogue's fingerprint beside them: a resume
/// onto another catalogue is refused rather than mapped by position.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct SavedInterview {
    /// A hash of the catalogue the interview ran on: its categories'
    /// [fingerprints](crate::catalogue::Category::fingerprint), in order.
    pub catalogue: u64,
    /// Seconds used (qualifiers and category surveys).
    pub seconds_used: f64,
    /// Qualifiers shown.
    pub qualifiers_shown: u32,
    /// Category surveys completed.
    pub completes: u32,
    /// The cap on completes, if one was set.
    pub max_completes: Option<u32>,
    /// The interview was ended early.
    pub ended: bool,
    /// Categories whose qualifier was shown, by index, ascending.
    pub shown: Vec<u32>,
    /// Categories whose qualifier was answered, by index, ascending.
    pub answered: Vec<u32>,
    /// Categories this interview was charged a complete of, by index, ascending.
    pub completed: Vec<u32>,
    /// The LOI risk state `[alpha, left, speed_mean, speed_variance]`, when routing under a
    /// [`CapRisk`](super::CapRisk) target.
    pub risk: Option<[f64; 4]>,
}

/// Why a saved interview cannot be carried on.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// The interview ran on another catalogue (or another version of it).
    #[error("the saved interview ran on catalogue {saved:016x}, this one is {current:016x}")]
    Catalogue {
        /// The saved fingerprint.
        saved: u64,
        /// This catalogue's.
        current: u64,
    },
    /// A field names a position outside the catalogue (`key: None`), or a category the
    /// respondent is not eligible for (their answers changed), or one answered or completed
    /// but not shown.
    #[error("field `{field}`: {}", match key {
        Some(key) => format!("category `{key}` cannot be carried on for this respondent"),
        None => format!("no category at position {index} in this catalogue"),
    })]
    Category {
        /// The field.
        field: &'static str,
        /// The position saved.
        index: u32,
        /// The category's key, when the position is in the catalogue.
        key: Option<String>,
    },
    /// A number is not finite, or is negative, or counts disagree (more completes than
    /// categories completed).
    #[error("field `{field}`: {detail}")]
    Value {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The text is not a saved interview of this version ([`SavedInterview::from_text`]).
    #[error("not a saved interview (line {line}): {detail}")]
    Format {
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        detail: String,
    },
}

/// The catalogue's categories' fingerprints, folded in order (targets are not in them, so
/// an administrative target change does not strand saved interviews).
pub(crate) fn fingerprint(catalogue: &Catalogue) -> u64 {
    catalogue
        .categories()
        .iter()
        .fold(0x9e37_79b9_7f4a_7c15, |h: u64, c| {
            (h ^ c.fingerprint())
                .wrapping_mul(0x0100_0000_01b3)
                .rotate_left(29)
        })
}

fn indices(words: &[u64]) -> Vec<u32> {
    let mut out = Vec::new();
    for (w, &word) in words.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            out.push((w * 64) as u32 + bits.trailing_zeros());
            bits &= bits - 1;
        }
    }
    out
}

impl Interview {
    /// The interview's progress as plain data, for [`resume`](Self::resume) elsewhere.
    pub fn save(&self, catalogue: &Catalogue) -> SavedInterview {
        let shown = catalogue
            .ids()
            .filter(|&c| self.was_shown(c))
            .map(|c| c.index() as u32)
            .collect();
        SavedInterview {
            catalogue: fingerprint(catalogue),
            seconds_used: self.seconds_used,
            qualifiers_shown: self.qualifiers_shown,
            completes: self.completes,
            max_completes: self.max_completes,
            ended: self.ended,
            shown,
            answered: indices(&self.answered),
            completed: indices(&self.completed),
            risk: self
                .risk
                .map(|r| [r.alpha, r.left, r.speed_mean, r.speed_variance]),
        }
    }

    /// Begins the interview as [`begin`](Self::begin) does, then carries on from `saved`:
    /// nothing shown is a candidate again, completes rule out their exclusion groups, and
    /// the time, qualifiers and risk budget used stay used.
    ///
    /// # Errors
    /// [`ResumeError`] when `saved` is from another catalogue, names a category the
    /// respondent is not eligible for, or holds numbers an interview cannot have. The
    /// interview is then begun afresh (nothing carried on).
    pub fn resume(
        &mut self,
        catalogue: &Catalogue,
        answers: &Answers,
        budget_seconds: f64,
        max_qualifiers: Option<u32>,
        saved: &SavedInterview,
    ) -> Result<(), ResumeError> {
        self.begin(catalogue, answers, budget_seconds, max_qualifiers);
        let checked = self.check(catalogue, saved);
        if checked.is_ok() {
            self.apply(catalogue, saved);
        }
        checked
    }

    fn check(&self, catalogue: &Catalogue, saved: &SavedInterview) -> Result<(), ResumeError> {
        let current = fingerprint(catalogue);
        if saved.catalogue != current {
            return Err(ResumeError::Catalogue {
                saved: saved.catalogue,
                current,
            });
        }
        let named = |field, index: u32| ResumeError::Category {
            field,
            index,
            key: catalogue
                .categories()
                .get(index as usize)
                .map(|c| c.key.clone()),
        };
        // The shown set as bits: the checks below stay linear whatever a stored text holds.
        let mut shown = Vec::new();
        for (field, list) in [
            ("shown", &saved.shown),
            ("answered", &saved.answered),
            ("completed", &saved.completed),
        ] {
            if let Some(&index) = list
                .iter()
                .find(|&&i| i as usize >= catalogue.len() || !bit(&self.eligible, i as usize))
            {
                return Err(named(field, index));
            }
            if field == "shown" {
                for &i in list {
                    set_bit(&mut shown, i as usize);
                }
            } else if let Some(&index) = list.iter().find(|&&i| !bit(&shown, i as usize)) {
                // Answered and completed qualifiers were shown first.
                return Err(named(field, index));
            }
        }
        let value = |field, detail: &str| {
            Err(ResumeError::Value {
                field,
                detail: detail.to_string(),
            })
        };
        if !(saved.seconds_used.is_finite() && saved.seconds_used >= 0.0) {
            return value("seconds_used", "not a finite number of seconds >= 0");
        }
        if saved.qualifiers_shown < saved.shown.len() as u32 {
            return value("qualifiers_shown", "fewer than the categories shown");
        }
        if saved.completes < saved.completed.len() as u32 {
            return value("completes", "fewer than the categories completed");
        }
        if let Some(r) = saved.risk
            && !r.iter().all(|v| v.is_finite())
        {
            return value("risk", "not finite");
        }
        Ok(())
    }

    fn apply(&mut self, catalogue: &Catalogue, saved: &SavedInterview) {
        for &i in &saved.shown {
            let (w, b) = (i as usize / 64, 1u64 << (i % 64));
            self.candidates[w] &= !b;
            if let Some(blocked) = self.blocked.get_mut(w) {
                *blocked &= !b;
            }
        }
        for &i in &saved.answered {
            set_bit(&mut self.answered, i as usize);
        }
        for &i in &saved.completed {
            // Seconds and the speed are restored below, as saved.
            self.record_complete_in(catalogue, CategoryId::from_index(i as usize), 0.0);
        }
        self.seconds_used = saved.seconds_used;
        self.qualifiers_shown = saved.qualifiers_shown;
        self.completes = saved.completes;
        self.max_completes = saved.max_completes;
        self.ended = saved.ended;
        self.risk = saved
            .risk
            .map(|[alpha, left, speed_mean, speed_variance]| RiskState {
                alpha,
                left,
                speed_mean,
                speed_variance,
            });
    }
}

impl SavedInterview {
    /// The interview as a few lines of text (for a store that keeps strings): numbers in
    /// Rust's shortest round-trip form, so [`from_text`](Self::from_text) gives back the
    /// same value exactly.
    pub fn to_text(&self) -> String {
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let opt = |v: Option<u32>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        let risk = self
            .risk
            .map_or_else(|| "-".to_string(), |r| r.map(|v| v.to_string()).join(","));
        format!(
            "{HEADER}\ncatalogue {:016x}\nseconds_used {}\nqualifiers_shown {}\ncompletes {}\n\
             max_completes {}\nended {}\nshown {}\nanswered {}\ncompleted {}\nrisk {}\n",
            self.catalogue,
            self.seconds_used,
            self.qualifiers_shown,
            self.completes,
            opt(self.max_completes),
            u8::from(self.ended),
            list(&self.shown),
            list(&self.answered),
            list(&self.completed),
            risk,
        )
    }

    /// Reads [`to_text`](Self::to_text)'s form.
    ///
    /// # Errors
    /// [`ResumeError::Format`] naming the line that is missing, out of order or unreadable.
    pub fn from_text(text: &str) -> Result<SavedInterview, ResumeError> {
        let mut lines = text.lines().enumerate();
        let mut next = |name: &str| -> Result<(usize, String), ResumeError> {
            let (n, line) = lines.next().ok_or_else(|| ResumeError::Format {
                line: 0,
                detail: format!("`{name}` missing"),
            })?;
            let value = if name == HEADER {
                (line == HEADER).then_some("")
            } else {
                line.strip_prefix(name).and_then(|r| r.strip_prefix(' '))
            };
            value
                .map(|v| (n + 1, v.to_string()))
                .ok_or_else(|| ResumeError::Format {
                    line: n + 1,
                    detail: format!("expected `{name}`, found {line:?}"),
                })
        };
        fn bad(line: usize, what: &str, v: &str) -> ResumeError {
            ResumeError::Format {
                line,
                detail: format!("`{what}` = {v:?}"),
            }
        }
        fn num<T: std::str::FromStr>(l: (usize, String), what: &str) -> Result<T, ResumeError> {
            l.1.parse().map_err(|_| bad(l.0, what, &l.1))
        }
        fn opt(l: (usize, String), what: &str) -> Result<Option<u32>, ResumeError> {
            if l.1 == "-" {
                Ok(None)
            } else {
                num(l, what).map(Some)
            }
        }
        fn list(l: (usize, String), what: &str) -> Result<Vec<u32>, ResumeError> {
            if l.1.is_empty() {
                return Ok(Vec::new());
            }
            l.1.split(',')
                .map(|v| v.parse().map_err(|_| bad(l.0, what, &l.1)))
                .collect()
        }
        next(HEADER)?;
        let catalogue = next("catalogue")?;
        let catalogue = u64::from_str_radix(&catalogue.1, 16)
            .map_err(|_| bad(catalogue.0, "catalogue", &catalogue.1))?;
        let seconds_used = num(next("seconds_used")?, "seconds_used")?;
        let qualifiers_shown = num(next("qualifiers_shown")?, "qualifiers_shown")?;
        let completes = num(next("completes")?, "completes")?;
        let max_completes = opt(next("max_completes")?, "max_completes")?;
        let ended = match next("ended")? {
            (_, v) if v == "0" => false,
            (_, v) if v == "1" => true,
            (n, v) => return Err(bad(n, "ended", &v)),
        };
        let shown = list(next("shown")?, "shown")?;
        let answered = list(next("answered")?, "answered")?;
        let completed = list(next("completed")?, "completed")?;
        let risk = next("risk")?;
        let risk = if risk.1 == "-" {
            None
        } else {
            let v: Vec<f64> = risk
                .1
                .split(',')
                .map(|v| v.parse().map_err(|_| bad(risk.0, "risk", &risk.1)))
                .collect::<Result<_, _>>()?;
            Some(<[f64; 4]>::try_from(v).map_err(|_| bad(risk.0, "risk", &risk.1))?)
        };
        Ok(SavedInterview {
            catalogue,
            seconds_used,
            qualifiers_shown,
            completes,
            max_completes,
            ended,
            shown,
            answered,
            completed,
            risk,
        })
    }
}
