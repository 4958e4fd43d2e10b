//! The `tessera` binary: `serve`, `demo`, `check`.

mod bench;
mod bench_client;
mod bench_pacer;
mod bench_timeline;
mod config;
mod demo;
mod demo_data;
mod import;
mod import_synth;
mod keys;
mod search_bench;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::sync::Arc;
use tessera_core::rate::Rate;
use tessera_server::clock::SystemClock;
use tessera_server::{AppState, ServerOptions};
use tessera_store::Store;

/// mimalloc instead of the system allocator: a receipt's JSON, engine and rows make
/// many small short-lived allocations, and glibc's malloc was 10–15% of the server's
/// CPU time under load (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Retail loyalty engine: POS receipts, points ledger, promotions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API server.
    Serve(config::ServeArgs),
    /// Load a synthetic chain into a fresh embedded database and serve it.
    Demo(demo::DemoArgs),
    /// Verify the ledger's invariants offline; exits non-zero on any violation.
    Check {
        /// Database URL, e.g. sqlite://./tessera.db
        #[arg(
            long,
            env = "TESSERA_DATABASE",
            default_value = "sqlite://./tessera.db"
        )]
        database: String,
    },
    /// Create, list and revoke API keys on the database directly.
    Keys(keys::KeysArgs),
    /// Import data from another system (`tessera import customers --file F.csv --source NAME`).
    Import(import::ImportArgs),
    /// Play a chain's tills against a server and report throughput and latencies.
    Bench(bench::BenchArgs),
    /// Time customer searches over HTTP on a loaded database.
    BenchSearch(search_bench::SearchBenchArgs),
    /// Print the OpenAPI document.
    Openapi {
        /// Write it to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=error")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(config::resolve(args)?).await,
            Command::Demo(args) => demo::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Import(args) => import::run(args).await,
            Command::Keys(args) => keys::run(args).await,
            Command::BenchSearch(args) => search_bench::run(args).await,
            Command::Check { database } => check(&database).await,
            Command::Openapi { out } => {
                let document = tessera_server::openapi::document();
                match out {
                    Some(path) => std::fs::write(&path, document + "\n")
                        .with_context(|| format!("writing {}", path.display()))?,
                    None => println!("{document}"),
                }
                Ok(())
            }
        }
    })
}

/// Opens the store a database URL names.
pub async fn open_store(database: &str) -> Result<Arc<dyn Store>> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        let store = tessera_postgres::PostgresStore::open(database)
            .await
            .with_context(|| format!("opening database {database}"))?;
        return Ok(Arc::new(store));
    }
    let store = tessera_sqlite::SqliteStore::open(database)
        .await
        .with_context(|| format!("opening database {database}"))?;
    Ok(Arc::new(store))
}

async fn serve(settings: config::Settings) -> Result<()> {
    let store = open_store(&settings.database).await?;
    let admin_token = match (settings.admin_token, settings.insecure_dev) {
        (Some(token), _) => Some(token),
        (None, true) => {
            tracing::warn!("INSECURE DEVELOPMENT MODE: no admin token configured; the API accepts the bearer key `insecure-dev`. Never use this in production.");
            Some(config::INSECURE_DEV_TOKEN.to_string())
        }
        (None, false) => bail!(
            "no admin token configured: set TESSERA_ADMIN_TOKEN (or admin_token in the config file), or pass --insecure-dev for a local trial"
        ),
    };
    let state = AppState::new(
        store,
        Arc::new(SystemClock),
        ServerOptions {
            admin_token,
            catch_up_every: std::time::Duration::from_secs(30),
            key_rate: (settings.key_rate > 0)
                .then(|| Rate::per_second(settings.key_rate, settings.key_rate.saturating_mul(2))),
            redeem_rate: (settings.redeem_burst > 0).then_some(Rate {
                burst: settings.redeem_burst,
                interval_ms: 60_000,
            }),
            sender: Arc::new(tessera_server::sender::LogSender),
        },
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    tracing::info!(address = %listener.local_addr()?, database = %settings.database, "tessera is serving");
    tessera_server::serve(listener, state, shutdown_signal()).await?;
    tracing::info!("stopped cleanly: every acknowledged write is on disk");
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn check(database: &str) -> Result<()> {
    // PostgreSQL is read as it is (no migrations), so a read-only standby can be checked.
    let store: Arc<dyn Store> =
        if database.starts_with("postgres://") || database.starts_with("postgresql://") {
            Arc::new(
                tessera_postgres::PostgresStore::open_existing(database)
                    .await
                    .with_context(|| format!("opening database {database}"))?,
            )
        } else {
            open_store(database).await?
        };
    let report = store.check().await?;
    store.close().await;
    for item in &report.items {
        let mark = if item.violations.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        println!("{mark} {} ({} checked)", item.name, item.checked);
        for violation in item.violations.iter().take(50) {
            println!("     - {violation}");
        }
        if item.violations.len() > 50 {
            println!("     ... and {} more", item.violations.len() - 50);
        }
    }
    if report.ok() {
        println!("ledger check passed");
        Ok(())
    } else {
        bail!("ledger check found violations")
    }
}
