//! The flags, declared once: clap derives the parser and `--help` from these definitions.
//!
//! A scenario document (`--scenario FILE`) is the base; every other flag overrides it,
//! wherever it stands on the command line. Given twice, a flag's last value wins (as
//! `--exclusion-group` is the one flag that adds up). Every value may start with `-`.

use clap::{ArgAction, Parser};
use quotaroute::route::POLICY_NAMES;
use quotaroute::sim::{DEFAULT_POLICIES, Pacing, Scenario};

/// Prior strength of learned incidence: the catalogue's belief is worth this many respondents.
const DEFAULT_LEARNING: f64 = 50.0;

/// What the command line asks for: the scenario with every flag applied, and what to print.
pub struct Options {
    /// The settings of the simulation: the scenario document's, overridden by the flags.
    pub scenario: Scenario,
    /// One JSON object on stdout instead of the text report.
    pub json: bool,
    /// Where to draw the pictures of run 0 of each policy.
    pub plot: Option<String>,
}

/// Monte-Carlo fieldwork simulation of quotaroute's routing policies: how many respondents
/// each policy needs to fill every quota, against the lower bounds.
#[derive(Parser, Debug)]
#[command(
    name = "simulate",
    args_override_self = true,
    max_term_width = 100,
    after_help = "A bad file or flag prints one line on stderr and exits with code 2."
)]
pub struct Cli {
    /// catalogue CSV, or catalogue document (JSON, may carry quota trees) (default: the
    /// bundled 77 categories)
    #[arg(long, value_name = "FILE", allow_hyphen_values = true)]
    catalogue: Option<String>,
    #[arg(long, value_name = "N", allow_hyphen_values = true,
          help = format!("runs per policy (default {})", Scenario::default().runs))]
    runs: Option<u32>,
    #[arg(long, value_name = "S", allow_hyphen_values = true,
          help = format!("base seed (default {})", Scenario::default().seed))]
    seed: Option<u64>,
    #[arg(long, value_name = "NAME|all", allow_hyphen_values = true, help = policy_help())]
    policy: Option<String>,
    #[arg(long, visible_alias = "budget", value_name = "SECONDS", allow_hyphen_values = true,
          help = format!("seconds per respondent, never exceeded (default {})",
                         Scenario::default().hard_cap))]
    hard_cap: Option<f64>,
    /// time banking: mean seconds per respondent at most S (with --hard-cap)
    #[arg(long, value_name = "S", allow_hyphen_values = true)]
    mean_budget: Option<f64>,
    /// cap on qualifiers per respondent
    #[arg(long, value_name = "K", allow_hyphen_values = true)]
    max_qualifiers: Option<u32>,
    /// true incidences off by a factor in [1-F, 1+F], drawn per run and category
    #[arg(long, value_name = "F", allow_hyphen_values = true)]
    incidence_error: Option<f64>,
    /// route greedy and packing on incidence learned from qualifier answers
    #[arg(long)]
    learn: bool,
    #[arg(long, value_name = "K", allow_hyphen_values = true,
          help = format!("prior strength of --learn, in respondents (default {DEFAULT_LEARNING})"))]
    learn_strength: Option<f64>,
    /// route on the true incidences (to measure what wrong beliefs cost)
    #[arg(long)]
    oracle: bool,
    /// qualifier seconds for every category
    #[arg(long, value_name = "S", allow_hyphen_values = true)]
    qualifier_seconds: Option<f64>,
    /// success = all quotas full within N respondents (default ceil(1.05·N*))
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    success_at: Option<u64>,
    /// stop a run there and count it failed (default 10·N*)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    max_respondents: Option<u64>,
    /// worker threads (results do not depend on it)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    threads: Option<usize>,
    /// also run with true incidence x0.8 and x1.2 while routers believe the catalogue (costs
    /// two more runs of every policy)
    #[arg(long)]
    robustness: bool,
    /// respondents in the 30-day month: of the risk report, the drift, pacing and returning
    /// respondents (default ceil(1.05·N*))
    #[arg(long, value_name = "M", allow_hyphen_values = true)]
    month_respondents: Option<u64>,
    /// every category's LOI log-normal around its mean with this CV (or the catalogue's
    /// loi_spread column)
    #[arg(long, value_name = "CV", allow_hyphen_values = true, help_heading = REAL)]
    loi_spread: Option<f64>,
    /// respondent speed: one log-normal factor (mean 1) on all their LOIs
    #[arg(long, value_name = "CV", allow_hyphen_values = true, help_heading = REAL)]
    speed_spread: Option<f64>,
    #[arg(long, value_name = "A", allow_hyphen_values = true, help_heading = REAL,
          help = format!("with uncertain LOI: P(an interview passes the cap) <= A (default {})",
                         Scenario::default().cap_risk))]
    cap_risk: Option<f64>,
    /// a qualified respondent abandons the category survey with chance P
    #[arg(long, value_name = "P", allow_hyphen_values = true, help_heading = REAL)]
    abandon_rate: Option<f64>,
    /// the 18-34 share moves from 1/3+D to 1/3-D over the month
    #[arg(long, value_name = "D", allow_hyphen_values = true, help_heading = REAL)]
    supply_drift: Option<f64>,
    /// exposure targets = the eligible population's shares, weight power K
    #[arg(long, value_name = "K", allow_hyphen_values = true, help_heading = REAL)]
    demographic_weight: Option<f64>,
    /// with the weight: hold a category from a respondent whose answer's exposure share is
    /// more than H above its target
    #[arg(long, value_name = "H", allow_hyphen_values = true, help_heading = REAL)]
    demographic_hold: Option<f64>,
    /// comma-separated category ids: complete one, never offered the others (repeatable; or
    /// the catalogue's exclusion_group column)
    #[arg(long, value_name = "IDS", allow_hyphen_values = true, action = ArgAction::Append,
          help_heading = REAL)]
    exclusion_group: Vec<String>,
    /// at most N category surveys completed per respondent
    #[arg(long, value_name = "N", allow_hyphen_values = true, help_heading = REAL)]
    max_completes: Option<u32>,
    /// share of respondents returning from the last wave (cooldown on the categories they
    /// completed then)
    #[arg(long, value_name = "R", allow_hyphen_values = true, help_heading = REAL)]
    returning_share: Option<f64>,
    /// fills follow a linear curve over the month, at most LEAD ahead
    #[arg(long, value_name = "LEAD", allow_hyphen_values = true, help_heading = REAL)]
    pacing: Option<f64>,
    /// also run without the rules (weight, exclusions, completes cap, cooldowns, pacing) and
    /// report what they cost
    #[arg(long, help_heading = REAL)]
    baseline: bool,
    /// route as if no quota-tree node had a min (mins_met still measured against the mins)
    #[arg(long, help_heading = REAL)]
    ignore_mins: bool,
    /// JSON document of these settings (docs/scenarios/ has examples); flags override it
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, action = ArgAction::Append,
          help_heading = OUTPUT)]
    scenario: Vec<String>,
    /// one JSON object on stdout instead of the text report (progress stays on stderr)
    #[arg(long, help_heading = OUTPUT)]
    json: bool,
    /// draw fill curves, interview seconds and exposure mixes (run 0 of each policy)
    #[arg(long, value_name = "FILE.svg", allow_hyphen_values = true, help_heading = OUTPUT)]
    plot: Option<String>,
}

const REAL: &str = "Real fieldwork (each off by default; see docs/guide.md, \"Real fieldwork\")";
const OUTPUT: &str = "Scenario and output";

/// The help of `--policy`, with the names from the library's lists.
fn policy_help() -> String {
    let left_out: Vec<&str> = POLICY_NAMES
        .iter()
        .filter(|p| !DEFAULT_POLICIES.contains(p))
        .copied()
        .collect();
    let default = if left_out.is_empty() {
        "all".to_owned()
    } else {
        format!("all but {}", left_out.join(", "))
    };
    format!("{}, or all (default: {default})", POLICY_NAMES.join(", "))
}

impl Cli {
    /// The options the flags ask for: the scenario document read (when given), then every
    /// other flag applied over it.
    pub fn into_options(self) -> Result<Options, String> {
        // As before: the first `--scenario` is the one read.
        let scenario = match self.scenario.first() {
            Some(path) => {
                let file =
                    std::fs::File::open(path).map_err(|e| format!("--scenario {path}: {e}"))?;
                let text = crate::input::read_document(file, &format!("--scenario {path}"))?;
                serde_json::from_str(crate::input::without_bom(&text))
                    .map_err(|e| format!("--scenario {path}: {e}"))?
            }
            None => Scenario::default(),
        };
        let (json, plot) = (self.json, self.plot.clone());
        Ok(Options {
            scenario: self.apply(scenario),
            json,
            plot,
        })
    }

    /// Applies every flag given over `s`.
    fn apply(self, mut s: Scenario) -> Scenario {
        fn set<T>(field: &mut T, flag: Option<T>) {
            if let Some(v) = flag {
                *field = v;
            }
        }
        fn set_some<T>(field: &mut Option<T>, flag: Option<T>) {
            if flag.is_some() {
                *field = flag;
            }
        }
        set_some(&mut s.catalogue, self.catalogue);
        set(&mut s.runs, self.runs);
        set(&mut s.seed, self.seed);
        set(&mut s.policies, self.policy.map(|p| vec![p]));
        set(&mut s.hard_cap, self.hard_cap);
        set_some(&mut s.mean_budget, self.mean_budget);
        set(&mut s.incidence_error, self.incidence_error);
        if self.learn {
            s.learn = Some(s.learn.unwrap_or(DEFAULT_LEARNING));
        }
        set_some(&mut s.learn, self.learn_strength);
        s.oracle |= self.oracle;
        set_some(&mut s.max_qualifiers, self.max_qualifiers);
        set_some(&mut s.qualifier_seconds, self.qualifier_seconds);
        set_some(&mut s.success_at, self.success_at);
        set_some(&mut s.max_respondents, self.max_respondents);
        set_some(&mut s.threads, self.threads);
        s.robustness |= self.robustness;
        set_some(&mut s.month_respondents, self.month_respondents);
        set_some(&mut s.loi_spread, self.loi_spread);
        set(&mut s.speed_spread, self.speed_spread);
        set(&mut s.abandon_rate, self.abandon_rate);
        set(&mut s.cap_risk, self.cap_risk);
        set(&mut s.supply_drift, self.supply_drift);
        set_some(&mut s.demographic_weight, self.demographic_weight);
        set_some(&mut s.demographic_hold, self.demographic_hold);
        s.exclusion_groups.extend(
            self.exclusion_group
                .iter()
                .map(|ids| ids.split(',').map(|k| k.trim().to_owned()).collect()),
        );
        set_some(&mut s.max_completes, self.max_completes);
        set(&mut s.returning_share, self.returning_share);
        set_some(&mut s.pacing, self.pacing.map(|lead| Pacing { lead }));
        s.baseline |= self.baseline;
        s.ignore_mins |= self.ignore_mins;
        s
    }
}

/// The command line parsed: `--help` prints and exits 0; a bad flag prints one line on stderr
/// and exits 2, as a bad file does.
pub fn parse() -> Result<Cli, String> {
    Cli::try_parse().map_err(|e| match e.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => e.exit(),
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            format!("{} (see --help)", first.trim_start_matches("error: "))
        }
    })
}
