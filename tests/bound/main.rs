//! Every lower bound (`quotaroute::bound`): the fluid LP and its cuts, the respondent fill bound
//! and the stochastic floors, each against hand-solved cases and against simulation (no policy
//! beats a bound).

#[cfg(feature = "lp")]
mod example;
mod fill;
mod floors;
#[cfg(feature = "lp")]
mod lp;
