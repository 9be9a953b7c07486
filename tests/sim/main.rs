//! The simulator (`quotaroute::sim`): real fieldwork (uncertain lengths, abandonment, drift,
//! exclusions, returning respondents, pacing), `paced` against `packing`, and the per-respondent
//! trace.

mod hostile;
mod paced;
mod realism;
mod trace;
