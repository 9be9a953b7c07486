//! Simulates a month of fieldwork for each routing policy and reports how many respondents each
//! needs against the lower bounds.
//!
//! ```text
//! cargo run --release --example simulate                      # bundled 77-category catalogue
//! cargo run --release --example simulate -- --help            # every flag
//! cargo run --release --example simulate -- --policy greedy --runs 400 --json
//! cargo run --release --example simulate -- --catalogue my.csv --hard-cap 600 --robustness
//! cargo run --release --example simulate -- --scenario docs/scenarios/drift.json
//! cargo run --release --example simulate -- --scenario docs/scenarios/interlocked.json --ignore-mins
//! ```
//!
//! The flags are declared once, in `args.rs`; `--help` is generated from them. A bad file or
//! flag prints one line on stderr and exits with code 2.
//!
//! - `args`: the flags, applied over a scenario document (`--scenario FILE`);
//! - `context`: the catalogue, settings, routers and lower bounds, and the runs of every
//!   section asked for, with `progress` on stderr;
//! - `text`, `realism`, `risk`: the text report; `json`: the `--json` document;
//! - `support/plot.rs`: the pictures of `--plot FILE.svg`.

use std::process::ExitCode;

mod args;
mod context;
#[path = "../support/json.rs"]
mod input;
mod json;
#[path = "../support/plot.rs"]
mod plot;
mod progress;
mod realism;
mod risk;
mod text;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("simulate: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let options = args::parse()?.into_options()?;
    let ctx = context::Context::new(options.scenario.clone())?;
    let outcome = context::Outcome::collect(&ctx, &options)?;
    if options.json {
        let doc = json::Report::new(&ctx, &outcome);
        println!(
            "{}",
            serde_json::to_string(&doc).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", text::report(&ctx, &outcome));
    }
    Ok(())
}
