//! Server settings from flags, environment variables and an optional TOML file.
//! Precedence: flag, then environment, then file, then default.

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;
use std::path::PathBuf;

/// The bearer key accepted in insecure development mode.
pub const INSECURE_DEV_TOKEN: &str = "insecure-dev";

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "TESSERA_LISTEN")]
    pub listen: Option<String>,
    /// Database URL [default: sqlite://./tessera.db]
    #[arg(long, env = "TESSERA_DATABASE")]
    pub database: Option<String>,
    /// A TOML file with `listen`, `database`, `admin_token`, `key_rate`, `redeem_burst`.
    #[arg(long, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run without an admin token (accepts the key `insecure-dev`). Local trials only.
    #[arg(long)]
    pub insecure_dev: bool,
    /// Requests a second each API key may make (a burst of twice as many); 0: no
    /// limit. Not applied to the admin token. [default: 100]
    #[arg(long, env = "TESSERA_KEY_RATE")]
    pub key_rate: Option<u32>,
    /// Commits spending one customer's points allowed at once, then one a minute; 0:
    /// no limit. [default: 5]
    #[arg(long, env = "TESSERA_REDEEM_BURST")]
    pub redeem_burst: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    database: Option<String>,
    admin_token: Option<String>,
    key_rate: Option<u32>,
    redeem_burst: Option<u32>,
}

/// The resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: String,
    pub database: String,
    pub admin_token: Option<String>,
    pub insecure_dev: bool,
    /// Requests a second per API key; 0: no limit.
    pub key_rate: u32,
    /// Point-spending commits per customer at once; 0: no limit.
    pub redeem_burst: u32,
}

pub fn resolve(args: ServeArgs) -> Result<Settings> {
    let file = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config file {}", path.display()))?;
            toml::from_str::<FileSettings>(&text)
                .with_context(|| format!("parsing config file {}", path.display()))?
        }
        None => FileSettings::default(),
    };
    let admin_token = std::env::var("TESSERA_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty())
        .or(file.admin_token);
    Ok(Settings {
        listen: args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".to_string()),
        database: args
            .database
            .or(file.database)
            .unwrap_or_else(|| "sqlite://./tessera.db".to_string()),
        admin_token,
        insecure_dev: args.insecure_dev,
        key_rate: args.key_rate.or(file.key_rate).unwrap_or(100),
        redeem_burst: args.redeem_burst.or(file.redeem_burst).unwrap_or(5),
    })
}
