//! The service's flags, and the catalogue and survey name they select.

use clap::Parser;
use quotaroute::catalogue::Catalogue;

#[path = "../support/bundled.rs"]
mod bundled;

/// An HTTP JSON service embedding the routing engine on a quota store.
#[derive(Parser, Debug)]
#[command(name = "service")]
pub struct Args {
    /// Address to listen on (port 0: a free port; the first stdout line names it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// A catalogue JSON document (default: the bundled catalogue with gender cells).
    #[arg(long)]
    pub catalogue: Option<std::path::PathBuf>,
    /// Redis URL: quotas and interviews shared with every node on the same survey.
    #[arg(long)]
    pub redis: Option<String>,
    /// PostgreSQL URL (the example built with the `postgres` feature).
    #[arg(long)]
    pub postgres: Option<String>,
    /// The survey's name in the store (default derived from the catalogue).
    #[arg(long)]
    pub survey: Option<String>,
    /// Interview seconds each respondent may spend.
    #[arg(long, default_value_t = 480.0)]
    pub budget_seconds: f64,
    /// Milliseconds a hold (and a saved interview) is kept.
    #[arg(long, default_value_t = 30 * 60 * 1000)]
    pub ttl_ms: u64,
    /// Milliseconds between background sweeps and syncs of the mirror.
    #[arg(long, default_value_t = 250)]
    pub sync_ms: u64,
}

impl Args {
    /// The catalogue of `--catalogue`, or the bundled one.
    pub fn catalogue(&self) -> Result<Catalogue, String> {
        match &self.catalogue {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--catalogue {}: {e}", path.display()))?;
                serde_json::from_str(&text)
                    .map_err(|e| format!("--catalogue {}: {e}", path.display()))
            }
            None => bundled::catalogue(40),
        }
    }

    /// `--survey`, or a name fixed by the catalogue's categories (their fingerprints), so
    /// processes started with the same catalogue find the same survey.
    pub fn survey(&self, catalogue: &Catalogue) -> String {
        if let Some(name) = &self.survey {
            return name.clone();
        }
        // FNV-1a over the fingerprints: stable across builds and platforms.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for c in catalogue.categories() {
            for b in c.fingerprint().to_le_bytes() {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("service-{hash:016x}")
    }
}
