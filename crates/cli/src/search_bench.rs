//! `tessera bench-search`: the latency of `GET /v1/customers?q=` over HTTP on a
//! loaded database, by kind of query (card, phone in another format, email in capitals,
//! a name prefix), with the values taken from an imported file.

use anyhow::{bail, Context, Result};
use clap::Args;
use hdrhistogram::Histogram;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_server::clock::SystemClock;
use tessera_server::{AppState, ServerOptions};

#[derive(Args)]
pub struct SearchBenchArgs {
    /// The database holding the customers (e.g. one `tessera import customers` loaded).
    #[arg(
        long,
        env = "TESSERA_DATABASE",
        default_value = "sqlite://./tessera.db"
    )]
    database: String,
    /// The CSV the customers were imported from: the queries use its phones, emails,
    /// cards and last names.
    #[arg(long)]
    file: std::path::PathBuf,
    /// Queries of each kind.
    #[arg(long, default_value_t = 2000)]
    queries: usize,
    #[arg(long, default_value_t = 5)]
    seed: u64,
}

/// Sample values of each kind from the file's columns.
fn samples(text: &str, n: usize, rng: &mut SmallRng) -> Result<[Vec<String>; 4]> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(phone), Some(email), Some(card), Some(last)) =
        (col("phone"), col("email"), col("card"), col("last_name"))
    else {
        bail!("the file needs phone, email, card and last_name columns");
    };
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    if rows.is_empty() {
        bail!("the file has no rows");
    }
    let mut out: [Vec<String>; 4] = Default::default();
    while out.iter().any(|v| v.len() < n) {
        let row = &rows[rng.random_range(0..rows.len())];
        let get = |i: usize| row.get(i).map(|v| v.trim()).unwrap_or_default();
        let p = get(phone);
        if out[0].len() < n && p.len() == 12 && p.starts_with("+79") {
            // The phone as a cashier might type it.
            out[0].push(format!("8 ({}) {}-{}", &p[2..5], &p[5..8], &p[8..]));
        }
        let e = get(email);
        if out[1].len() < n && e.contains('@') && !e.starts_with("test@") {
            out[1].push(e.to_uppercase());
        }
        let c = get(card);
        if out[2].len() < n && !c.is_empty() {
            out[2].push(c.to_string());
        }
        let l = get(last);
        if out[3].len() < n && l.chars().count() >= 4 {
            out[3].push(l.chars().take(4).collect());
        }
    }
    Ok(out)
}

pub async fn run(args: SearchBenchArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let mut rng = SmallRng::seed_from_u64(args.seed);
    let queries = samples(&text, args.queries, &mut rng)?;
    drop(text);
    let store = crate::open_store(&args.database).await?;
    let state = AppState::new(
        store.clone(),
        Arc::new(SystemClock),
        ServerOptions::with_defaults(
            Some(crate::config::INSECURE_DEV_TOKEN.to_string()),
            Duration::from_secs(3600),
        ),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = tessera_server::serve(listener, state, std::future::pending::<()>()).await;
    });
    let client = reqwest::Client::new();
    println!(
        "GET /v1/customers?q= on {}, {} queries of each kind, one at a time:",
        args.database, args.queries
    );
    for (kind, values) in ["phone", "email", "card", "name prefix"]
        .iter()
        .zip(queries.iter())
    {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let mut found = 0usize;
        for value in values {
            let started = Instant::now();
            let response = client
                .get(format!("{base}/v1/customers"))
                .query(&[("q", value.as_str())])
                .bearer_auth(crate::config::INSECURE_DEV_TOKEN)
                .send()
                .await?;
            if !response.status().is_success() {
                bail!("q={value}: {}", response.status());
            }
            let body: serde_json::Value = response.json().await?;
            histogram.record(started.elapsed().as_micros().max(1) as u64)?;
            if body["customers"].as_array().is_some_and(|c| !c.is_empty()) {
                found += 1;
            }
        }
        let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "  {kind:<12} p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (found {found}/{})",
            ms(0.5),
            ms(0.9),
            ms(0.99),
            histogram.max() as f64 / 1000.0,
            values.len()
        );
    }
    server.abort();
    store.close().await;
    Ok(())
}
