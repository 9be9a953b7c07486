//! Stochastic floors: bounds under a quantile of the respondents any policy needs (where N*
//! bounds the mean), from seeded samples of the supply. [`floors`] is the one entry point.

use rand::{Rng, RngExt};

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};

use super::sample::{nearest_rank, negative_binomial, run_rng};
use crate::catalogue::{Catalogue, CategoryId};
use crate::schema::{Answers, MAX_ENUMERATED_CELLS};

/// What [`floors`] is computed for.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize))]
pub struct FloorOptions {
    /// Mean seconds per respondent: the budget of the time term.
    pub budget_seconds: f64,
    /// Seconds no respondent passes: with it, sets of categories that do not fit together add
    /// their own terms, and a category that never fits makes the floors infinite (`None`: no
    /// such terms; the only valid choice where lengths vary).
    #[cfg_attr(feature = "serde", serde(default))]
    pub hard_cap_seconds: Option<f64>,
    /// Cap on qualifiers per respondent, for the time term (`None`: no cap).
    #[cfg_attr(feature = "serde", serde(default))]
    pub max_qualifiers: Option<u32>,
    /// Seeded runs sampled.
    pub draws: u32,
    /// Seed of the samples.
    pub seed: u64,
}

/// Most elementary steps (coin flips, or a cell's eligibility in a set's head share) one
/// call of [`floors`] spends on each of its two costly parts: growing the sets of categories
/// that do not fit together, and sampling runs jointly. Past it, the sets not grown yet are
/// dropped and the runs are sampled per category (each drop can only lower a floor, so the
/// floors stay floors), with fewer draws if even that would pass it: the cost is bounded
/// whatever the catalogue (about a second of work each).
pub const FLOOR_WORK_LIMIT: u64 = 200_000_000;

/// A sampled term: a set of categories no two of which one respondent completes (a category
/// alone is a set of one), and the completes the set needs.
type Term = (Vec<CategoryId>, u64);

/// Floors under the given quantiles (`shares`, each in (0, 1]) of the respondents any policy
/// needs, from one sample of `draws` runs.
///
/// Each sampled run draws its respondents from the schema's supply, one at a time, with each
/// category's qualifying coin; its floor is the largest of
///
/// - τ_c for every category: the position of its T_c-th eligible respondent whose coin is
///   heads (no policy completes c earlier);
/// - with a hard cap, τ_U for sets U of categories no two of which fit together under the cap
///   (qualifier + LOI each): the position of the (Σ_{c∈U} T_c)-th respondent with heads on a
///   category of U they are eligible for. U's completes need distinct respondents, each with
///   such a head, so no policy finishes U earlier;
///
/// and the floor of a quantile is the larger of that quantile of the runs' floors and that
/// quantile of the run's time term: its completes' seconds, with each category's qualifier paid
/// on at least T_c + NegativeBinomial(T_c, p_c) shows, over the budget (each respondent's
/// seconds are within it, on average where time is banked), and those shows over the cap on
/// qualifiers. With free, uncapped qualifiers the time term is Σ T·L / B in every run. Each of
/// the two is a floor of every run, so each quantile of either is a floor of that quantile. The
/// runs draw the demographic cell of each respondent, so categories that share eligible
/// respondents move together as they do in fieldwork (sampling each τ_c on its own overstates
/// the maximum of such categories).
///
/// Only terms that can set a floor are sampled: those whose mean + 8 sd reaches the least time
/// term of a run and every term's mean − 8 sd (dropping a term can only lower a floor). With
/// more than [`MAX_ENUMERATED_CELLS`] complete cells categories cannot be sampled together: the
/// floor is then the largest of each τ_c's own quantile, with no set terms.
///
/// Where the time term and the rarest categories' terms are close, the median floor lies well
/// above N*: the maximum of near-equal random terms exceeds each term's mean.
///
/// The floors assume what N* assumes: the catalogue's incidences and fixed lengths, and the
/// schema's supply shares. Leave `hard_cap_seconds` at `None` where lengths vary (LOI or
/// speed spread): a short draw can let two categories that do not fit on average both
/// complete.
///
/// ```
/// use quotaroute::bound::{floors, FloorOptions};
/// use quotaroute::catalogue::{Catalogue, Category};
/// use quotaroute::schema::Schema;
///
/// let catalogue = Catalogue::new(Schema::default_survey(), vec![
///     Category::new("a", "A", 0.1, 60.0).with_target(50),
/// ])?;
/// let options = FloorOptions { budget_seconds: 480.0, hard_cap_seconds: None,
///                              max_qualifiers: None, draws: 400, seed: 1 };
/// let [median, p95] = floors(&catalogue, &options, &[0.5, 0.95])[..] else { unreachable!() };
/// // N* is 500 (50 completes at 10%): the p95 floor lies above it.
/// assert!(median <= p95 && p95 > 500.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Performance
/// O(draws × floor × terms sampled): about the respondents of `draws` runs, with a coin per
/// sampled category each, and at most [`FLOOR_WORK_LIMIT`] steps for each part (see there).
/// Infinite when a category has a target but no eligible supply.
pub fn floors(catalogue: &Catalogue, options: &FloorOptions, shares: &[f64]) -> Vec<f64> {
    let schema = catalogue.schema();
    let cells: Vec<(Answers, f64)> = if schema
        .complete_cell_count()
        .is_some_and(|n| n <= MAX_ENUMERATED_CELLS)
    {
        schema.complete_cells().collect()
    } else {
        Vec::new()
    };
    let with_targets: Vec<CategoryId> = catalogue
        .ids()
        .filter(|&c| catalogue.category(c).target > 0)
        .collect();
    let never = |c: CategoryId| {
        catalogue.incidence(c) * catalogue.eligible_share(c) <= 0.0
            || options
                .hard_cap_seconds
                .is_some_and(|cap| catalogue.seconds_if_qualified(c) > cap)
    };
    if with_targets.iter().any(|&c| never(c)) {
        return vec![f64::INFINITY; shares.len()];
    }
    let draws = options.draws.max(1);
    // The time term, per run: the completes' seconds, each category's qualifier paid on its
    // T_c + NegativeBinomial(T_c, p_c) shows at least (its coins are read in the order it is
    // shown, whoever sees it), over the budget; and those shows over the qualifier cap.
    let time = run_time_floors(catalogue, options, shares, draws);
    let mut rng = run_rng(options.seed, u32::MAX);
    // Without the cells, categories cannot be sampled together: each quantile of each τ_c is
    // a floor on its own, so their largest is one.
    let independent = |rng: &mut _| {
        let quantiles = independent_quantiles(catalogue, &with_targets, shares, draws, rng);
        quantiles
            .iter()
            .zip(&time)
            .map(|(&q, &t): (&f64, &f64)| q.max(t))
            .collect()
    };
    if cells.is_empty() {
        return independent(&mut rng);
    }
    // Terms: (members, completes needed); a category alone is a set of one.
    let mut terms: Vec<Term> = with_targets
        .iter()
        .map(|&c| (vec![c], u64::from(catalogue.category(c).target)))
        .collect();
    if let Some(cap) = options.hard_cap_seconds {
        terms.extend(set_terms(catalogue, &cells, &with_targets, cap));
    }
    let certain = certain_time(catalogue, options, &with_targets);
    let terms = terms_that_can_bind(catalogue, &cells, terms, certain);
    if joint_work(catalogue, &cells, &terms, draws) > FLOOR_WORK_LIMIT as f64 {
        return independent(&mut rng);
    }
    let mut maxima = sample_maxima(catalogue, &cells, &terms, draws, &mut rng);
    maxima.sort_unstable();
    shares
        .iter()
        .zip(&time)
        .map(|(&share, &t)| t.max(nearest_rank(&maxima, share) as f64))
        .collect()
}

/// What every run needs at the least: each complete's qualifier and survey, and one show.
fn certain_time(catalogue: &Catalogue, options: &FloorOptions, with_targets: &[CategoryId]) -> f64 {
    let (seconds, shows) = with_targets.iter().fold((0.0, 0.0), |(s, n), &c| {
        let t = f64::from(catalogue.category(c).target);
        (s + t * catalogue.seconds_if_qualified(c), n + t)
    });
    (seconds / options.budget_seconds).max(
        options
            .max_qualifiers
            .map_or(0.0, |k| shows / f64::from(k.max(1))),
    )
}

/// The coin flips of sampling `terms` jointly: per draw, about the respondents of the
/// slowest term (its mean + 8 sd), each with a coin per involved category and a check per
/// term.
fn joint_work(catalogue: &Catalogue, cells: &[(Answers, f64)], terms: &[Term], draws: u32) -> f64 {
    let respondents = terms
        .iter()
        .map(|(members, needed)| {
            let p = set_head_share(catalogue, cells, members);
            let t = *needed as f64;
            t / p + 8.0 * (t * (1.0 - p)).sqrt() / p
        })
        .fold(0.0, f64::max);
    let mut involved: Vec<CategoryId> = terms.iter().flat_map(|t| t.0.iter().copied()).collect();
    involved.sort_unstable();
    involved.dedup();
    f64::from(draws) * respondents * (involved.len() + terms.len()) as f64
}

/// Sets of categories that do not fit together under the cap, grown greedily from each pair
/// that does not fit, by the member that most raises the set's mean τ: exponentially many
/// sets exist, and the heaviest are the ones that can set a maximum. Each set once. Stops
/// after [`FLOOR_WORK_LIMIT`] steps (a cell's eligibility in a set's mean each): the sets
/// not grown are dropped, which can only lower the floors.
fn set_terms(
    catalogue: &Catalogue,
    cells: &[(Answers, f64)],
    with_targets: &[CategoryId],
    cap: f64,
) -> Vec<Term> {
    let apart = |a: CategoryId, b: CategoryId| {
        catalogue.seconds_if_qualified(a) + catalogue.seconds_if_qualified(b) > cap
    };
    let mut terms = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let work = std::cell::Cell::new(0u64);
    let mean = |members: &[CategoryId]| {
        work.set(
            work.get()
                .saturating_add((cells.len() * members.len()) as u64),
        );
        set_mean(catalogue, cells, members)
    };
    for (i, &a) in with_targets.iter().enumerate() {
        for &b in &with_targets[i + 1..] {
            if !apart(a, b) {
                continue;
            }
            let mut members = vec![a, b];
            loop {
                if work.get() > FLOOR_WORK_LIMIT {
                    return terms;
                }
                let now = mean(&members);
                let mut trial = members.clone();
                let best = with_targets
                    .iter()
                    .filter(|&&d| !members.contains(&d) && members.iter().all(|&m| apart(m, d)))
                    .map(|&d| {
                        trial.push(d);
                        let m = mean(&trial);
                        trial.pop();
                        (m, d)
                    })
                    .filter(|&(mean, _)| mean > now)
                    .max_by(|x, y| x.0.total_cmp(&y.0));
                match best {
                    Some((_, d)) => members.push(d),
                    None => break,
                }
            }
            members.sort_unstable();
            if seen.insert(members.clone()) {
                let needed = members
                    .iter()
                    .map(|&c| u64::from(catalogue.category(c).target))
                    .sum();
                terms.push((members, needed));
            }
        }
    }
    terms
}

/// The terms that can set a run's maximum (normal approximation, 8 sd either side): a term
/// below the time term, or below another term, in every plausible run cannot move a floor.
fn terms_that_can_bind(
    catalogue: &Catalogue,
    cells: &[(Answers, f64)],
    terms: Vec<Term>,
    certain_time: f64,
) -> Vec<Term> {
    let stats: Vec<(f64, f64)> = terms
        .iter()
        .map(|(members, needed)| {
            let p = set_head_share(catalogue, cells, members);
            let t = *needed as f64;
            (t / p, (t * (1.0 - p)).sqrt() / p)
        })
        .collect();
    let low = stats
        .iter()
        .map(|s| s.0 - 8.0 * s.1)
        .fold(certain_time, f64::max);
    terms
        .into_iter()
        .zip(&stats)
        .filter(|(_, s)| s.0 + 8.0 * s.1 >= low)
        .map(|(t, _)| t)
        .collect()
}

/// Each sampled run's maximum over the terms of τ: respondents drawn (cell by the supply's
/// shares, then a coin per involved category the cell is eligible for) until every term has
/// its completes' worth of heads.
fn sample_maxima<R: Rng + ?Sized>(
    catalogue: &Catalogue,
    cells: &[(Answers, f64)],
    terms: &[Term],
    draws: u32,
    rng: &mut R,
) -> Vec<u64> {
    // The categories whose coins the sampled terms read, and each term's members among them.
    let mut involved: Vec<CategoryId> = terms.iter().flat_map(|t| t.0.iter().copied()).collect();
    involved.sort_unstable();
    involved.dedup();
    let members: Vec<Vec<usize>> = terms
        .iter()
        .map(|t| {
            t.0.iter()
                .map(|c| {
                    involved
                        .binary_search(c)
                        .expect("involved holds every member")
                })
                .collect()
        })
        .collect();
    let eligible: Vec<bool> = cells
        .iter()
        .flat_map(|(answers, _)| involved.iter().map(|&c| catalogue.is_eligible(c, answers)))
        .collect();
    let mut cdf: Vec<f64> = cells
        .iter()
        .scan(0.0, |sum, (_, share)| {
            *sum += share;
            Some(*sum)
        })
        .collect();
    let total = cdf.last().copied().unwrap_or(1.0);
    cdf.iter_mut().for_each(|x| *x /= total);
    let incidence: Vec<f64> = involved.iter().map(|&c| catalogue.incidence(c)).collect();
    let m = involved.len();
    let mut heads = vec![false; m];
    let mut counts = vec![0u64; terms.len()];
    (0..draws)
        .map(|_| {
            counts.iter_mut().for_each(|c| *c = 0);
            let mut open = terms.len();
            let mut n = 0u64;
            while open > 0 {
                n += 1;
                let u: f64 = rng.random();
                let cell = cdf.partition_point(|&x| x <= u).min(cells.len() - 1);
                let row = &eligible[cell * m..(cell + 1) * m];
                for j in 0..m {
                    heads[j] = row[j] && rng.random::<f64>() < incidence[j];
                }
                for (k, term) in members.iter().enumerate() {
                    if counts[k] < terms[k].1 && term.iter().any(|&j| heads[j]) {
                        counts[k] += 1;
                        if counts[k] == terms[k].1 {
                            open -= 1;
                        }
                    }
                }
            }
            n
        })
        .collect()
}

/// Share of the supply with heads on some category of `members` they are eligible for.
fn set_head_share(catalogue: &Catalogue, cells: &[(Answers, f64)], members: &[CategoryId]) -> f64 {
    // The cells' shares sum to 1 only up to rounding; a share just above 1 would make the
    // term's spread √(T(1 − p)) NaN and drop a term that is certain.
    let total: f64 = cells.iter().map(|c| c.1).sum();
    cells
        .iter()
        .map(|(answers, share)| {
            let none: f64 = members
                .iter()
                .filter(|&&c| catalogue.is_eligible(c, answers))
                .map(|&c| 1.0 - catalogue.incidence(c))
                .product();
            share * (1.0 - none)
        })
        .sum::<f64>()
        / total
}

/// Mean respondents a set of mutually exclusive categories needs: Σ T / head share.
fn set_mean(catalogue: &Catalogue, cells: &[(Answers, f64)], members: &[CategoryId]) -> f64 {
    let needed: f64 = members
        .iter()
        .map(|&c| f64::from(catalogue.category(c).target))
        .sum();
    needed / set_head_share(catalogue, cells, members)
}

/// The largest over categories of each quantile of τ_c, each sampled on its own (schemas too
/// large to sample cells from).
fn independent_quantiles<R: Rng + ?Sized>(
    catalogue: &Catalogue,
    with_targets: &[CategoryId],
    shares: &[f64],
    draws: u32,
    rng: &mut R,
) -> Vec<f64> {
    let draws = affordable_draws(catalogue, with_targets.iter().copied(), draws);
    let mut best = vec![0.0f64; shares.len()];
    let mut samples = Vec::with_capacity(draws as usize);
    for &c in with_targets {
        let t = catalogue.category(c).target;
        let p = catalogue.incidence(c) * catalogue.eligible_share(c);
        samples.clear();
        samples.extend((0..draws).map(|_| u64::from(t) + negative_binomial(rng, t, p)));
        samples.sort_unstable();
        for (b, &share) in best.iter_mut().zip(shares) {
            *b = b.max(nearest_rank(&samples, share) as f64);
        }
    }
    best
}

/// The draws within [`FLOOR_WORK_LIMIT`] (at most `draws`, at least 1) when each costs a
/// geometric draw per complete wanted.
fn affordable_draws(
    catalogue: &Catalogue,
    with_targets: impl Iterator<Item = CategoryId>,
    draws: u32,
) -> u32 {
    let per_draw: u64 = with_targets
        .map(|c| u64::from(catalogue.category(c).target))
        .sum::<u64>()
        .max(1);
    draws.min(
        u32::try_from(FLOOR_WORK_LIMIT / per_draw)
            .unwrap_or(u32::MAX)
            .max(1),
    )
}

/// Each quantile of the run's time term: (Σ T_c L_c + Σ q_c · shows_c) / budget, and Σ shows_c
/// over the qualifier cap, with shows_c = T_c + NegativeBinomial(T_c, p_c), the fewest shows
/// that give T_c completes. Exact (no sampling) when qualifiers are free and uncapped.
fn run_time_floors(
    catalogue: &Catalogue,
    options: &FloorOptions,
    shares: &[f64],
    draws: u32,
) -> Vec<f64> {
    let budget = options.budget_seconds;
    let with_targets = || {
        catalogue
            .ids()
            .filter(|&c| catalogue.category(c).target > 0)
    };
    let interviews: f64 = with_targets()
        .map(|c| f64::from(catalogue.category(c).target) * catalogue.loi_seconds(c))
        .sum();
    let sampled = options.max_qualifiers.is_some()
        || with_targets().any(|c| catalogue.qualifier_seconds(c) > 0.0);
    if !sampled {
        return vec![interviews / budget; shares.len()];
    }
    let k = options.max_qualifiers.map(|k| f64::from(k.max(1)));
    let draws = affordable_draws(catalogue, with_targets(), draws);
    let mut rng = run_rng(options.seed, u32::MAX - 1);
    let mut runs: Vec<u64> = (0..draws)
        .map(|_| {
            let (mut seconds, mut shows) = (interviews, 0.0);
            for c in with_targets() {
                let t = catalogue.category(c).target;
                let n =
                    f64::from(t) + negative_binomial(&mut rng, t, catalogue.incidence(c)) as f64;
                seconds += catalogue.qualifier_seconds(c) * n;
                shows += n;
            }
            let floor = (seconds / budget).max(k.map_or(0.0, |k| shows / k));
            // Whole respondents: the floor rounds up, as the run's count does.
            floor.ceil() as u64
        })
        .collect();
    runs.sort_unstable();
    shares
        .iter()
        .map(|&share| nearest_rank(&runs, share) as f64)
        .collect()
}
