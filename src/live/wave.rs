//! Multi-wave fieldwork: closing a wave carries each category's shortfall (debt) or surplus
//! (credit) into the next wave's targets, so the total over the waves stays on target.

use thiserror::Error;

use super::{Clock, Counters, Engine, LiveRestoreError, LiveStats, Shard, lock};
use crate::catalogue::Catalogue;
use crate::route::Router;
use crate::state::QuotaState;
use crate::store::Change;
use crate::store::change::{latest, original_max};

/// Where each category stands across waves.
///
/// For wave w with base target B (what the customer ordered for it) and carry D (debt > 0,
/// credit < 0, from the waves before), the live target is max(0, B + D); closing the wave
/// with C completes carries B + D − C into the next one. Summed over the waves, completes
/// plus the carry still open equal the base targets: nothing is lost or counted twice.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct WaveLedger {
    /// The current wave, from 1.
    pub wave: u32,
    /// Base targets of the current wave, per category in catalogue order.
    pub base: Vec<u32>,
    /// Debt (> 0) or credit (< 0) carried into the current wave, per category.
    pub carried: Vec<i64>,
}

impl WaveLedger {
    /// Wave 1 with the catalogue's targets and nothing carried.
    pub fn new(catalogue: &Catalogue) -> WaveLedger {
        WaveLedger {
            wave: 1,
            base: catalogue.categories().iter().map(|c| c.target).collect(),
            carried: vec![0; catalogue.len()],
        }
    }

    /// The live target of a category: max(0, base + carried), at most `u32::MAX`; 0 for an
    /// index out of range.
    pub fn target(&self, index: usize) -> u32 {
        let (Some(&b), Some(&d)) = (self.base.get(index), self.carried.get(index)) else {
            return 0;
        };
        // Saturating: a carry from a snapshot may be anything an i64 holds.
        i64::from(b).saturating_add(d).clamp(0, i64::from(u32::MAX)) as u32
    }

    /// The largest debt or credit `wave` waves can carry: each wave moves at most one target
    /// (a u32) either way.
    pub fn max_carry(wave: u32) -> i64 {
        i64::from(wave) * i64::from(u32::MAX)
    }

    /// Checks a ledger read from a snapshot against the catalogue and the targets recorded
    /// with it: one base and one carry per category, a wave from 1, carries a run of waves
    /// can reach ([`max_carry`](Self::max_carry)); in wave 1 (no wave closed, so nothing
    /// changed the catalogue's targets) the catalogue's targets and no carry; and every
    /// recorded target the ledger's live target. Recorded targets are authoritative once a
    /// survey runs: a difference from the catalogue that the ledger does not explain is an
    /// error naming the category.
    ///
    /// # Errors
    /// [`LiveRestoreError::Invalid`] naming the field and the category.
    pub fn check(&self, catalogue: &Catalogue, targets: &[u32]) -> Result<(), LiveRestoreError> {
        self.check_with_changes(catalogue, targets, &[])
    }

    /// [`check`](Self::check) with the wave's administrative changes: a category they
    /// changed must have started from the ledger's live target and ended at the recorded
    /// one, and (in wave 1) the catalogue's target is the one before the changes or the one
    /// after.
    ///
    /// # Errors
    /// [`LiveRestoreError::Invalid`] naming the field and the category.
    pub fn check_with_changes(
        &self,
        catalogue: &Catalogue,
        targets: &[u32],
        changes: &[Change],
    ) -> Result<(), LiveRestoreError> {
        let n = catalogue.len();
        let invalid = |problem: String| {
            Err(LiveRestoreError::Invalid {
                field: "ledger",
                problem,
            })
        };
        if self.base.len() != n || self.carried.len() != n {
            return invalid(format!(
                "{} base targets and {} carries, expected {n} of each",
                self.base.len(),
                self.carried.len()
            ));
        }
        if self.wave == 0 {
            return invalid("wave 0: waves count from 1".into());
        }
        let max = Self::max_carry(self.wave);
        for (i, c) in catalogue.categories().iter().enumerate() {
            let (base, carried) = (self.base[i], self.carried[i]);
            if !(-max..=max).contains(&carried) {
                return invalid(format!(
                    "category `{}`: carry {carried} is outside [-{max}, {max}] for wave {}",
                    c.key, self.wave
                ));
            }
            let changed = latest(changes, i as u32).copied();
            if let Some(last) = changed {
                let first = original_max(changes, i as u32);
                if first != Some(self.target(i)) || targets.get(i) != Some(&last.to) {
                    return Err(LiveRestoreError::Invalid {
                        field: "changes",
                        problem: format!(
                            "category `{}`: changes lead from {first:?} to {}, but the wave \
                             ledger's target is {} and the counts' {:?}",
                            c.key,
                            last.to,
                            self.target(i),
                            targets.get(i)
                        ),
                    });
                }
                if self.wave == 1 && carried == 0 && (base == c.target || last.to == c.target) {
                    continue;
                }
                if self.wave > 1 {
                    continue;
                }
            }
            if self.wave == 1 && (base != c.target || carried != 0) {
                return invalid(format!(
                    "category `{}`: wave 1 has base {base} and carry {carried}, but no wave was \
                     closed: the catalogue's target {} and no carry",
                    c.key, c.target
                ));
            }
            if targets.get(i) != Some(&self.target(i)) {
                return Err(LiveRestoreError::Invalid {
                    field: "quotas.targets",
                    problem: format!(
                        "category `{}`: target {:?} in the counts, {} by the wave ledger",
                        c.key,
                        targets.get(i),
                        self.target(i)
                    ),
                });
            }
        }
        Ok(())
    }

    /// The live targets of every category.
    pub fn targets(&self) -> Vec<u32> {
        (0..self.base.len()).map(|i| self.target(i)).collect()
    }
}

/// One category's line in a [`WaveReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct WaveLine {
    /// The category's key.
    pub category: String,
    /// Base target of the closed wave.
    pub base: u32,
    /// Carried into the closed wave.
    pub carried_in: i64,
    /// The closed wave's live target.
    pub target: u32,
    /// Completes in the closed wave.
    pub completed: u32,
    /// Carried out: base + carried_in − completed (debt > 0, credit < 0).
    pub carry_out: i64,
    /// Base target of the next wave.
    pub next_base: u32,
    /// Live target of the next wave: max(0, next_base + carry_out).
    pub next_target: u32,
}

/// What closing a wave did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct WaveReport {
    /// The wave closed.
    pub wave: u32,
    /// Per category, in catalogue order.
    pub lines: Vec<WaveLine>,
    /// The closed wave's totals.
    pub stats: LiveStats,
}

/// Why a wave could not be closed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WaveError {
    /// Respondents still hold pending slots: complete, abandon or expire them first
    /// (e.g. [`Engine::expire_all`]).
    #[error("{count} pending slots are still held: complete, abandon or expire them first")]
    Pending {
        /// How many.
        count: u64,
    },
    /// The next wave's base targets do not have one value per category.
    #[error("{found} base targets for the next wave, the catalogue has {expected} categories")]
    Targets {
        /// Values given.
        found: usize,
        /// Categories.
        expected: usize,
    },
}

impl<R: Router, C: Clock> Engine<R, C> {
    /// Closes the current wave and starts the next with `next_base` targets (`None`: the
    /// catalogue's), each plus the category's debt or credit. Counts, completed markers and
    /// statistics start afresh; quota cells keep their configured max targets.
    ///
    /// Takes `&mut self`: waves change between field periods, not while threads route.
    ///
    /// # Errors
    /// [`WaveError::Pending`] while slots are held, [`WaveError::Targets`] for a wrong
    /// number of targets. Nothing changes then.
    pub fn close_wave(&mut self, next_base: Option<&[u32]>) -> Result<WaveReport, WaveError> {
        let n = self.catalogue.len();
        let next_base: Vec<u32> = match next_base {
            Some(t) if t.len() != n => {
                return Err(WaveError::Targets {
                    found: t.len(),
                    expected: n,
                });
            }
            Some(t) => t.to_vec(),
            None => self
                .catalogue
                .categories()
                .iter()
                .map(|c| c.target)
                .collect(),
        };
        let pending: u64 = self
            .catalogue
            .ids()
            .map(|c| u64::from(self.quotas.pending(c)))
            .sum();
        if pending > 0 {
            return Err(WaveError::Pending { count: pending });
        }
        let changes = std::mem::take(self.admin.get_mut().unwrap_or_else(|e| e.into_inner()));
        let view = self.quotas.view();
        let mut lines = Vec::with_capacity(n);
        let mut carried = Vec::with_capacity(n);
        for (i, c) in self.catalogue.ids().enumerate() {
            let (base, carried_in) = (self.ledger.base[i], self.ledger.carried[i]);
            let completed = view.completed(c);
            // Saturating: a restored carry is checked against `max_carry`, but a ledger is
            // plain data and no value of it may overflow here.
            // A target changed by administration is the wave's target: the shortfall or
            // surplus is against it, not against the ledger's.
            let wave_target = match latest(&changes, i as u32) {
                Some(last) => i64::from(last.to),
                None => i64::from(base).saturating_add(carried_in),
            };
            let carry_out = wave_target.saturating_sub(i64::from(completed));
            let next_target = i64::from(next_base[i])
                .saturating_add(carry_out)
                .clamp(0, i64::from(u32::MAX));
            lines.push(WaveLine {
                category: self.catalogue.category(c).key.clone(),
                base,
                carried_in,
                target: self.quotas.target(c),
                completed,
                carry_out,
                next_base: next_base[i],
                next_target: next_target as u32,
            });
            carried.push(carry_out);
        }
        let report = WaveReport {
            wave: self.ledger.wave,
            lines,
            stats: self.counters.load(),
        };
        self.ledger = WaveLedger {
            wave: self.ledger.wave.saturating_add(1),
            base: next_base,
            carried,
        };
        self.quotas = QuotaState::with_targets(&self.catalogue, self.ledger.targets());
        for shard in self.shards.iter() {
            *lock(shard) = Shard::default();
        }
        self.counters = Counters::default();
        Ok(report)
    }
}
