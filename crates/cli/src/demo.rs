//! `tessera demo`: a synthetic chain on the embedded store, served at once.

use crate::config::INSECURE_DEV_TOKEN;
use crate::demo_data::{self, DemoOptions, DemoSummary};
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use tessera_server::clock::SystemClock;
use tessera_server::render::{commit_renderer, return_renderer};
use tessera_server::{AppState, ServerOptions};

#[derive(Args, Debug, Clone)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The demo database file; it is created afresh.
    #[arg(long, default_value = "./tessera-demo.db")]
    pub database: String,
    /// Loyalty members to generate.
    #[arg(long, default_value_t = 100_000)]
    pub members: usize,
    /// Receipts to generate over the past year.
    #[arg(long, default_value_t = 80_000)]
    pub receipts: usize,
    /// Seed of the generator (the same seed gives the same chain).
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Load the data, print the summary and exit without serving.
    #[arg(long)]
    pub load_only: bool,
}

/// The file of a `sqlite://PATH` URL or plain path.
pub fn sqlite_path(database: &str) -> String {
    database
        .strip_prefix("sqlite://")
        .unwrap_or(database)
        .to_string()
}

/// Creates a fresh SQLite database at `database` (removing an old one), or takes an
/// empty PostgreSQL database, and loads the demo chain into it, with a progress bar.
pub async fn load_fresh(
    database: &str,
    options: &DemoOptions,
) -> Result<(Arc<dyn tessera_store::Store>, demo_data::DemoSummary)> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        let store: Arc<dyn tessera_store::Store> = Arc::new(
            tessera_postgres::PostgresStore::open(database)
                .await
                .with_context(|| format!("opening {database}"))?,
        );
        if !store.stores().await?.is_empty() {
            anyhow::bail!("{database} already holds a chain: give an empty database");
        }
        let progress = ProgressBar::new(1);
        let summary = demo_data::load(
            store.clone(),
            options,
            commit_renderer(),
            return_renderer(),
            &progress,
        )
        .await?;
        progress.finish_and_clear();
        return Ok((store, summary));
    }
    let path = sqlite_path(database);
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{path}{suffix}");
        if std::path::Path::new(&file).exists() {
            std::fs::remove_file(&file)
                .with_context(|| format!("removing the previous database {file}"))?;
        }
    }
    let sqlite = Arc::new(
        tessera_sqlite::SqliteStore::open(&path)
            .await
            .with_context(|| format!("creating {path}"))?,
    );
    // The database is rebuilt from scratch if loading fails, so the load need not wait
    // for the disk on every group; serving is fully durable again.
    sqlite.set_durable(false).await?;
    let store: Arc<dyn tessera_store::Store> = sqlite.clone();
    let progress = ProgressBar::new(1);
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg:<22} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let summary = demo_data::load(
        store.clone(),
        options,
        commit_renderer(),
        return_renderer(),
        &progress,
    )
    .await?;
    progress.finish_and_clear();
    sqlite.set_durable(true).await?;
    Ok((store, summary))
}

pub async fn run(args: DemoArgs) -> Result<()> {
    // Take the port before the load, so a busy port fails at once, not after it.
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let now = chrono::Utc::now();
    let mut options = DemoOptions::new(now);
    options.members = args.members;
    options.receipts = args.receipts;
    options.seed = args.seed;
    let (store, summary) = load_fresh(&args.database, &options).await?;
    let path = sqlite_path(&args.database);
    let url = format!("http://{}", listener.local_addr()?);
    print_welcome(&url, &path, &summary);
    if args.load_only {
        store.close().await;
        return Ok(());
    }
    let state = AppState::new(
        store,
        Arc::new(SystemClock),
        ServerOptions::with_defaults(
            Some(INSECURE_DEV_TOKEN.to_string()),
            std::time::Duration::from_secs(30),
        ),
    )
    .await?;
    tessera_server::serve(listener, state, crate::shutdown_signal()).await?;
    Ok(())
}

fn print_welcome(url: &str, path: &str, s: &DemoSummary) {
    let token = INSECURE_DEV_TOKEN;
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let sku = |i: usize| s.sample_skus.get(i).cloned().unwrap_or_default();
    let body = format!(
        r#"{{"receipt_id":"demo-1","store_id":"{store}","terminal_id":"T1","at":"{at}","customer":{{"card":"{card}"}},"lines":[{{"line":1,"sku":"{a}","qty":2,"price":299000}},{{"line":2,"sku":"{b}","qty":0.532,"price":45900}},{{"line":3,"sku":"{c}","qty":1,"price":129900}}],"redeem_points":"max"}}"#,
        store = s.sample_store_id,
        card = s.sample_card,
        a = sku(0),
        b = sku(1),
        c = sku(2),
    );
    let returned =
        format!(r#"{{"return_id":"demo-1-r1","at":"{at}","lines":[{{"line":1,"qty":1}}]}}"#);
    println!();
    println!(
        "Tessera demo chain loaded in {:.1}s: {} stores, {} products, {} members, {} receipts, {} returns.",
        s.elapsed.as_secs_f64(),
        s.stores,
        s.products,
        s.members,
        s.receipts,
        s.returns
    );
    println!("Database: {path}");
    println!();
    println!("!!! INSECURE DEVELOPMENT MODE: the API key is the well-known `{token}`. Do not expose this server. !!!");
    println!();
    println!("URL:   {url}");
    println!("Token: {token}");
    println!();
    println!("Try it from another terminal:");
    println!("  export T={token} U={url}");
    println!("  # a member's balance");
    println!(
        "  curl -s -H \"Authorization: Bearer $T\" $U/v1/customers/{}/balance",
        s.sample_customer_id
    );
    println!("  # price a receipt, paying with as many points as allowed");
    println!("  curl -s -H \"Authorization: Bearer $T\" $U/v1/receipts/calculate -d '{body}'");
    println!("  # commit it; run it twice: the retry returns the same response and writes nothing");
    println!("  curl -s -H \"Authorization: Bearer $T\" $U/v1/receipts/commit -d '{body}'");
    println!("  # return one of the two units of line 1: refunded at its net price, points given back and taken back");
    println!(
        "  curl -s -H \"Authorization: Bearer $T\" $U/v1/receipts/demo-1/returns -d '{returned}'"
    );
    let coupon = s.sample_coupons.first().cloned().unwrap_or_default();
    let with_coupon = format!(
        r#"{{"receipt_id":"demo-2","store_id":"{store}","terminal_id":"T1","at":"{at}","lines":[{{"line":1,"sku":"{a}","qty":1,"price":299000}}],"coupons":["{coupon}"]}}"#,
        store = s.sample_store_id,
        a = sku(0),
    );
    println!("  # a single-use welcome coupon (10% off; more codes: {}): commit it, then try it on another receipt id", s.sample_coupons.join(" "));
    println!("  curl -s -H \"Authorization: Bearer $T\" $U/v1/receipts/commit -d '{with_coupon}'");
    println!("  # the receipt with its versions");
    println!("  curl -s -H \"Authorization: Bearer $T\" $U/v1/receipts/demo-1");
    println!("  # verify the ledger (works while the server runs)");
    println!("  cargo run --release -- check --database sqlite://{path}");
    println!();
    println!("OpenAPI: {url}/openapi.json    Stop: Ctrl-C");
}
