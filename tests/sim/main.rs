//! The simulator (`quotaroute::sim`): real fieldwork (uncertain lengths, abandonment, drift,
//! exclusions, returning respondents, pacing), `paced` against `packing`, the per-respondent
//! trace, and quota trees (node counts, mins, node limits, the example's JSON contract).

mod hostile;
mod paced;
mod realism;
mod trace;
mod trees;
