//! One run: respondents drawn from the supply, routed, answering, until every quota is full;
//! and what the run measured ([`RunResult`], [`Trace`], [`checkpoints`]).

use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, RngExt};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::realism::{self, DRIFT_QUESTION, SupplyDrift};
use super::trees::{NodeTally, node_bounds, without_mins};
use super::{Settings, SimError};
use crate::bound::sample::{run_rng, splitmix64};
use crate::catalogue::{Catalogue, Category, CategoryId, reference_shares};
use crate::route::{CapRisk, Interview, Outcome, Router, RouterState, Turn};
use crate::schema::{Answers, QuestionId, Respondent, ResponseId, Schema};
use crate::state::{QuotaState, QuotaView};

/// Draws respondents from the schema's supply shares, questions independent.
#[derive(Clone, Debug)]
pub struct Supply {
    cumulative: Vec<Vec<f64>>,
}

impl Supply {
    /// The supply the schema describes.
    pub fn new(schema: &Schema) -> Supply {
        let cumulative = schema
            .questions()
            .iter()
            .map(|q| {
                let mut acc = 0.0;
                q.shares()
                    .iter()
                    .map(|s| {
                        acc += s;
                        acc
                    })
                    .collect()
            })
            .collect();
        Supply { cumulative }
    }

    /// Overwrites `answers` with a fresh draw: every question answered.
    pub fn draw_into<R: Rng + ?Sized>(&self, rng: &mut R, answers: &mut Answers) {
        self.draw_with(rng, answers, None);
    }

    /// As [`draw_into`](Self::draw_into), with question `shares.0` drawn from the shares
    /// `shares.1` instead of the schema's (a drifting supply). The same draws are made.
    pub fn draw_with<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        answers: &mut Answers,
        shares: Option<(usize, &[f64])>,
    ) {
        for (q, cumulative) in self.cumulative.iter().enumerate() {
            if let Some((dq, shares)) = shares
                && dq == q
            {
                let mut u: f64 = rng.random::<f64>() * shares.iter().sum::<f64>();
                let mut r = shares.len() - 1;
                for (i, s) in shares.iter().enumerate() {
                    if u < *s {
                        r = i;
                        break;
                    }
                    u -= s;
                }
                answers.set(QuestionId(q as u16), ResponseId(r as u16));
                continue;
            }
            let u: f64 = rng.random::<f64>() * cumulative.last().copied().unwrap_or(1.0);
            let r = cumulative
                .iter()
                .position(|&c| u < c)
                .unwrap_or(cumulative.len() - 1);
            answers.set(QuestionId(q as u16), ResponseId(r as u16));
        }
    }
}

/// What one run measured.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct RunResult {
    /// Respondents drawn (the limit, for a failed run).
    pub respondents: u64,
    /// True when every quota was filled.
    pub filled: bool,
    /// Completes per category at the end.
    pub completes: Vec<u32>,
    /// Mean interview seconds per respondent.
    pub mean_seconds: f64,
    /// Longest interview in seconds.
    pub max_seconds: f64,
    /// Mean qualifiers shown per respondent.
    pub mean_qualifiers: f64,
    /// Most qualifiers shown to one respondent.
    pub max_qualifiers: u32,
    /// Exposure L1 divergence per category per question (row-major, `questions` per
    /// category): Σ_r |observed share − reference share|, where the reference is the
    /// category's exposure target or else the eligible supply's shares; 0 when nobody was shown.
    pub divergence: Vec<f64>,
    /// Interviews whose survey would have passed the budget (uncertain LOI): ended at the
    /// budget, the complete lost.
    #[cfg_attr(feature = "serde", serde(default))]
    pub over_cap: u64,
    /// Interviews abandoned during a category survey.
    #[cfg_attr(feature = "serde", serde(default))]
    pub abandoned: u64,
    /// Most category surveys one respondent completed.
    #[cfg_attr(feature = "serde", serde(default))]
    pub most_completes: u32,
    /// Completes counted in each quota cell (tree node), in the catalogue's global cell order
    /// ([`Catalogue::cell_range`]); empty without cells.
    #[cfg_attr(feature = "serde", serde(default))]
    pub node_completes: Vec<u32>,
    /// Σ over quota cells (tree nodes) of the completes past their max: 0 when every full node
    /// closed its branch.
    #[cfg_attr(feature = "serde", serde(default))]
    pub tree_overfill: u64,
    /// Respondents until every cell's min was met (measured against the catalogue's mins, also
    /// under [`Settings::ignore_mins`]): 0 without mins, and the run's respondent limit
    /// ([`Settings::respondent_limit`]) when the run ended with a min unmet.
    #[cfg_attr(feature = "serde", serde(default))]
    pub mins_met: u64,
}

/// Routes one run.
///
/// # Errors
/// [`SimError::InvalidOffer`] when the router offers something it may not; settings errors.
pub fn run_once(
    catalogue: &Catalogue,
    router: &dyn Router,
    settings: &Settings,
    run: u32,
) -> Result<RunResult, SimError> {
    settings.validate()?;
    let prepared = Prepared::new(catalogue, settings)?;
    run_with(
        catalogue,
        router,
        settings,
        run,
        &prepared,
        &mut |_, _, _| {},
    )
}

/// Completes per category after each of `at` respondents of run `run` (a checkpoint after the
/// quotas filled reports the final counts), in the order of `at`.
///
/// # Errors
/// As [`run_once`].
pub fn checkpoints(
    catalogue: &Catalogue,
    router: &dyn Router,
    settings: &Settings,
    run: u32,
    at: &[u64],
) -> Result<Vec<Vec<u32>>, SimError> {
    settings.validate()?;
    let prepared = Prepared::new(catalogue, settings)?;
    let mut seen: Vec<Option<Vec<u32>>> = vec![None; at.len()];
    let limit = at.iter().copied().max().unwrap_or(0);
    let settings = Settings {
        max_respondents: Some(limit.max(1)),
        ..settings.clone()
    };
    let mut last = Vec::new();
    let result = run_with(
        catalogue,
        router,
        &settings,
        run,
        &prepared,
        &mut |n, view, _| {
            for (i, &a) in at.iter().enumerate() {
                if a == n {
                    seen[i] = Some(catalogue.ids().map(|c| view.completed(c)).collect());
                }
            }
        },
    )?;
    last.extend(result.completes);
    Ok(seen
        .into_iter()
        .map(|s| s.unwrap_or_else(|| last.clone()))
        .collect())
}

/// What happened to each respondent of one run, in order: the data behind the simulate
/// example's pictures.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
#[non_exhaustive]
pub struct Trace {
    /// Interview seconds of each respondent.
    pub seconds: Vec<f64>,
    /// Completes over all categories after each respondent.
    pub completes: Vec<u64>,
    /// Exposures at the end of the run: for each category, for each question in schema order,
    /// one count per response.
    pub exposures: Vec<u32>,
    /// What the run measured.
    pub result: RunResult,
}

/// Routes run `run` as [`run_once`] does, recording every respondent.
///
/// # Errors
/// As [`run_once`].
///
/// # Performance
/// Reads every category's counts after each respondent: for pictures and diagnostics, not
/// for Monte-Carlo loops ([`monte_carlo`](super::monte_carlo) records none of this).
pub fn trace(
    catalogue: &Catalogue,
    router: &dyn Router,
    settings: &Settings,
    run: u32,
) -> Result<Trace, SimError> {
    settings.validate()?;
    let prepared = Prepared::new(catalogue, settings)?;
    let schema = catalogue.schema();
    let (mut seconds, mut completes, mut exposures) = (Vec::new(), Vec::new(), Vec::new());
    let result = run_with(
        catalogue,
        router,
        settings,
        run,
        &prepared,
        &mut |_, view, interview| {
            seconds.push(interview.seconds_used());
            completes.push(catalogue.ids().map(|c| u64::from(view.completed(c))).sum());
            exposures.clear();
            for c in catalogue.ids() {
                for q in schema.question_ids() {
                    exposures.extend(schema.response_ids(q).map(|r| view.exposures(c, q, r)));
                }
            }
        },
    )?;
    Ok(Trace {
        seconds,
        completes,
        exposures,
        result,
    })
}

/// Routes run `run`, calling `observe` after each respondent with the respondent's number,
/// the quotas and the finished interview.
/// What every run of one simulation shares, worked out once: the reference exposure shares,
/// and under `ignore_mins` the catalogue the routers see (a copy without mins).
pub(super) struct Prepared {
    reference: Vec<Vec<f64>>,
    minless: Option<Catalogue>,
    /// Every quota cell's min and max in the catalogue as given (the tally's measure).
    node_mins: Vec<u32>,
    node_maxes: Vec<u32>,
}

impl Prepared {
    pub(super) fn new(catalogue: &Catalogue, settings: &Settings) -> Result<Prepared, SimError> {
        let (node_mins, node_maxes) = node_bounds(catalogue);
        Ok(Prepared {
            reference: reference_shares(catalogue),
            node_mins,
            node_maxes,
            minless: match settings.ignore_mins && catalogue.has_cells() {
                true => Some(without_mins(catalogue)?),
                false => None,
            },
        })
    }
}

pub(super) fn run_with(
    catalogue: &Catalogue,
    router: &dyn Router,
    settings: &Settings,
    run: u32,
    prepared: &Prepared,
    observe: &mut dyn FnMut(u64, &QuotaView<'_>, &Interview),
) -> Result<RunResult, SimError> {
    let reference = &prepared.reference;
    // Common random numbers: the supply, the router's own draws and every qualifier answer come
    // from separate streams, and respondent n's answer to category c is one fixed draw whatever
    // was shown before. Two policies then meet the same respondents, who qualify for the same
    // categories, and their difference is not drowned in the noise of different draws.
    let mut supply_rng = run_rng(settings.seed, run);
    let mut route_rng = run_rng(settings.seed ^ ROUTER_STREAM, run);
    let answer_key = splitmix64(splitmix64(settings.seed ^ ANSWER_STREAM) ^ u64::from(run));
    let true_incidence = settings.true_incidence(catalogue, run);
    // Mins and maxes are measured on the catalogue as given; under `ignore_mins` the routers
    // see a copy without mins (the cells, and so every cell index, stay the same).
    let mut nodes = NodeTally::new(&prepared.node_mins);
    let catalogue = prepared.minless.as_ref().unwrap_or(catalogue);
    // The oracle routes on a copy of the catalogue that believes the truth.
    let oracle_catalogue;
    let catalogue = if settings.oracle {
        oracle_catalogue = believing(catalogue, &true_incidence)?;
        &oracle_catalogue
    } else {
        catalogue
    };
    let schema = catalogue.schema();
    let supply = Supply::new(schema);
    let limit = settings.respondent_limit(catalogue);
    // Realism draws come from their own stream: none are made when every option is off.
    let mut extra = run_rng(settings.seed ^ 0x5EA1_F1E1_D000_0000, run);
    let uncertain = settings.uncertain_loi(catalogue);
    let month = settings.month(catalogue);
    let speed_log_variance = (settings.speed_spread * settings.speed_spread).ln_1p();
    let mut drift = drift(settings, schema)?;
    let context = Context {
        settings,
        catalogue,
        month,
        uncertain,
        speed_log_variance,
    };
    let mut state = QuotaState::new(catalogue);
    let mut tally = Tally {
        open_total: state.total_open(),
        ..Tally::default()
    };
    let mut interview = Interview::new();
    let mut router_state = RouterState::default();
    let mut respondent = Respondent::new(0, Answers::unknown(schema));
    let mut n = 0u64;
    while tally.open_total > 0 && n < limit {
        n += 1;
        respondent.id = n.into();
        match &mut drift {
            None => supply.draw_into(&mut supply_rng, &mut respondent.answers),
            Some((q, population, shares)) => {
                SupplyDrift {
                    amount: settings.supply_drift,
                }
                .shares_into(population, (n - 1) as f64 / month as f64, shares);
                supply.draw_with(&mut supply_rng, &mut respondent.answers, Some((*q, shares)));
            }
        }
        let budget = match settings.mean_budget {
            // The bank: what the running mean allows, never more than the hard cap.
            Some(mean) => (mean * n as f64 - tally.seconds_total).clamp(0.0, settings.hard_cap),
            None => settings.hard_cap,
        };
        let speed = context.begin(
            &state.view(),
            n,
            &respondent.answers,
            budget,
            &mut extra,
            &mut interview,
        );
        let mut turn = Turn::start(
            catalogue,
            router,
            &mut router_state,
            &respondent,
            &mut interview,
            &state,
        );
        loop {
            let c = match turn.offer(&mut state, &mut route_rng) {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(error) => {
                    return Err(SimError::InvalidOffer {
                        policy: router.name().to_owned(),
                        run,
                        respondent: n,
                        error,
                    });
                }
            };
            let qualified = answer_draw(answer_key, n, c.index()) < true_incidence[c.index()];
            let outcome = if qualified {
                context.take_survey(c, speed, turn.interview(), &mut extra, &mut tally)
            } else {
                Outcome::NotQualified
            };
            let made = matches!(outcome, Outcome::Completed { .. });
            let counted = turn.answered(&mut state, c, outcome).completed;
            if counted {
                tally.open_total -= 1;
            }
            // The turn counts a complete in every node of the respondent's path or refuses it
            // when one is full (a node at its max closes its branch for every policy, so only
            // a policy offering into a full node is refused). The tally counts every complete
            // the respondent made, refused or not, so such an offer shows as tree overfill.
            if counted || made {
                for cell in turn.interview().cells_of(c) {
                    nodes.complete(cell, n);
                }
            }
        }
        tally.interview_ended(&interview);
        observe(n, &state.view(), &interview);
    }
    let view = state.view();
    let divergence = divergence(catalogue, &view, reference);
    let denominator = n.max(1) as f64;
    Ok(RunResult {
        respondents: n,
        filled: tally.open_total == 0,
        completes: catalogue.ids().map(|c| view.completed(c)).collect(),
        mean_seconds: tally.seconds_total / denominator,
        max_seconds: tally.max_seconds,
        mean_qualifiers: tally.qualifiers_total as f64 / denominator,
        max_qualifiers: tally.max_qualifiers,
        divergence,
        over_cap: tally.over_cap,
        abandoned: tally.abandoned,
        most_completes: tally.most_completes,
        tree_overfill: nodes.overfill(&prepared.node_maxes),
        mins_met: nodes.mins_met.unwrap_or(limit),
        node_completes: nodes.completes,
    })
}

/// `catalogue` believing the true incidences: what the oracle routes on.
///
/// The true incidences are catalogue incidences ([`Settings::true_incidence`]); were one
/// ever refused, the run fails with a typed error rather than a panic.
fn believing(catalogue: &Catalogue, true_incidence: &[f64]) -> Result<Catalogue, SimError> {
    let categories = catalogue
        .categories()
        .iter()
        .zip(true_incidence)
        .map(|(c, &p)| Category {
            incidence: p,
            ..c.clone()
        })
        .collect();
    Catalogue::new(catalogue.schema().clone(), categories).map_err(|e| SimError::Setting {
        field: "incidence_error",
        problem: format!("the true incidences make no catalogue: {e}"),
    })
}

/// A drifting supply: the question that drifts, its population shares and the shares of the
/// moment (`None` without drift).
type Drift = Option<(usize, Vec<f64>, Vec<f64>)>;

/// The drifting question and its shares, checked against the schema.
fn drift(settings: &Settings, schema: &Schema) -> Result<Drift, SimError> {
    if settings.supply_drift == 0.0 {
        return Ok(None);
    }
    let q = schema
        .questions()
        .iter()
        .position(|q| q.name() == DRIFT_QUESTION)
        .ok_or_else(|| SimError::Setting {
            field: "supply_drift",
            problem: format!("the schema has no question `{DRIFT_QUESTION}` to drift"),
        })?;
    let population = schema.questions()[q].shares().to_vec();
    let first = population.first().copied().unwrap_or(0.0);
    if !(0.0..=1.0).contains(&(first + settings.supply_drift))
        || !(0.0..=1.0).contains(&(first - settings.supply_drift))
    {
        return Err(SimError::Setting {
            field: "supply_drift",
            problem: format!(
                "{} moves the first share of `{DRIFT_QUESTION}` ({first}) outside [0, 1]",
                settings.supply_drift
            ),
        });
    }
    Ok(Some((q, population.clone(), population)))
}

/// What a run's respondents are routed under, the same for each.
struct Context<'a> {
    settings: &'a Settings,
    catalogue: &'a Catalogue,
    month: u64,
    /// Interview lengths are uncertain: cap risk applies and lengths are drawn.
    uncertain: bool,
    speed_log_variance: f64,
}

/// What a run counts as its respondents go.
#[derive(Default)]
struct Tally {
    /// Completes still to do over all categories.
    open_total: u64,
    over_cap: u64,
    abandoned: u64,
    most_completes: u32,
    seconds_total: f64,
    max_seconds: f64,
    qualifiers_total: u64,
    max_qualifiers: u32,
}

impl Tally {
    /// Counts one finished interview.
    fn interview_ended(&mut self, interview: &Interview) {
        self.seconds_total += interview.seconds_used();
        self.max_seconds = self.max_seconds.max(interview.seconds_used());
        self.qualifiers_total += u64::from(interview.qualifiers_shown());
        self.max_qualifiers = self.max_qualifiers.max(interview.qualifiers_shown());
        self.most_completes = self.most_completes.max(interview.completes());
    }
}

impl Context<'_> {
    /// Begins respondent `n`'s interview under `budget` with the run's limits, cap risk,
    /// cooldown and pacing holds; returns the respondent's speed factor (1 with certain
    /// lengths). The realism draws come from `extra` in a fixed order: speed, then returning.
    fn begin(
        &self,
        quotas: &QuotaView<'_>,
        n: u64,
        answers: &Answers,
        budget: f64,
        extra: &mut Xoshiro256PlusPlus,
        interview: &mut Interview,
    ) -> f64 {
        let (settings, catalogue) = (self.settings, self.catalogue);
        interview.begin(catalogue, answers, budget, settings.max_qualifiers);
        interview.set_max_completes(settings.max_completes);
        let mut speed = 1.0;
        if self.uncertain {
            interview.set_cap_risk(CapRisk {
                alpha: settings.cap_risk,
                speed_spread: settings.speed_spread,
            });
            speed = realism::unit_lognormal(extra, self.speed_log_variance);
        }
        if settings.returning_share > 0.0 && extra.random_bool(settings.returning_share) {
            realism::hold_last_wave(extra, catalogue, self.month, interview);
        }
        if let Some(pacing) = settings.pacing {
            pacing.hold_ahead(catalogue, quotas, n, self.month, interview);
        }
        speed
    }

    /// What becomes of a respondent who qualified for `c`: abandons part way, passes the
    /// budget (uncertain lengths), or completes (if the quota still has room, which the
    /// [`Turn`] checks). The draws come from `extra` in a fixed order: the length (uncertain
    /// lengths), abandonment, then the share of the survey abandoned.
    fn take_survey(
        &self,
        c: CategoryId,
        speed: f64,
        interview: &Interview,
        extra: &mut Xoshiro256PlusPlus,
        tally: &mut Tally,
    ) -> Outcome {
        let (settings, catalogue) = (self.settings, self.catalogue);
        let loi = if self.uncertain {
            catalogue.loi_seconds(c)
                * speed
                * realism::unit_lognormal(extra, catalogue.loi_log_variance(c))
        } else {
            catalogue.loi_seconds(c)
        };
        let room = interview.budget() - interview.seconds_used();
        if settings.abandon_rate > 0.0 && extra.random_bool(settings.abandon_rate) {
            // Left part way through the survey: no complete, and no more routing.
            tally.abandoned += 1;
            Outcome::Abandoned {
                seconds: (extra.random::<f64>() * loi).min(room.max(0.0)),
            }
        } else if self.uncertain && loi > room {
            // The survey would pass the budget: the interview ends there.
            tally.over_cap += 1;
            Outcome::Abandoned {
                seconds: room.max(0.0),
            }
        } else {
            Outcome::Completed { seconds: loi }
        }
    }
}

/// Exposure L1 divergence per category per question from the reference mix (see
/// [`RunResult::divergence`]).
fn divergence(catalogue: &Catalogue, view: &QuotaView<'_>, reference: &[Vec<f64>]) -> Vec<f64> {
    let schema = catalogue.schema();
    let questions = schema.len();
    let mut divergence = vec![0.0; catalogue.len() * questions];
    for c in catalogue.ids() {
        for q in schema.question_ids() {
            let counts: Vec<u32> = schema
                .response_ids(q)
                .map(|r| view.exposures(c, q, r))
                .collect();
            let total: u32 = counts.iter().sum();
            if total > 0 {
                let want = &reference[c.index() * questions + q.index()];
                divergence[c.index() * questions + q.index()] = counts
                    .iter()
                    .zip(want)
                    .map(|(&k, w)| (f64::from(k) / f64::from(total) - w).abs())
                    .sum();
            }
        }
    }
    divergence
}

/// Stream tags: each random quantity of a run has a stream of its own.
const ROUTER_STREAM: u64 = 0x0D0E_C1DE_0000_0001;
const ANSWER_STREAM: u64 = 0x0A25_3E25_0000_0002;

/// Respondent `n`'s uniform draw in [0, 1) for category `c`: a hash, so it does not depend on
/// the order or number of earlier draws.
#[inline]
fn answer_draw(key: u64, n: u64, c: usize) -> f64 {
    let h = splitmix64(key ^ splitmix64(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ c as u64));
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}
