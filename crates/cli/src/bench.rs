//! `tessera bench`: a load generator that plays a chain's tills against a server.
//!
//! Each worker takes receipts for a random till of the chain: calculate, then commit
//! the same body (with `expect.to_pay`), and now and then a return. Latencies are kept
//! in HDR histograms per call kind; errors are counted by code. Without `--target` the
//! bench builds the demo chain in a fresh SQLite database, adds scoped promotions and
//! serves it in-process, so one command measures the whole path.

use crate::bench_client::{Client, Target};
use crate::bench_pacer::Pacer;
use crate::bench_timeline::Timeline;
use crate::demo::load_fresh;
use crate::demo_data::{member_card, DemoOptions};
use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tessera_server::clock::SystemClock;
use tessera_server::{AppState, ServerOptions};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// A running server (a chain loaded by `tessera demo` with the same `--members`);
    /// without it the bench loads and serves its own.
    #[arg(long)]
    pub target: Option<String>,
    /// The API key of `--target`.
    #[arg(long, env = "TESSERA_ADMIN_TOKEN", default_value = "insecure-dev")]
    pub token: String,
    /// Without `--target`: the SQLite file to build (removed first), or an empty
    /// PostgreSQL database (`postgres://...`).
    #[arg(long, default_value = "./tessera-bench.db")]
    pub database: String,
    /// Members of the chain (cards the tills present).
    #[arg(long, default_value_t = 100_000)]
    pub members: usize,
    /// Without `--target`: receipts of the past year loaded first (they give points).
    #[arg(long, default_value_t = 20_000)]
    pub history: usize,
    /// Scoped promotions to add (`bench-NNN`) before the run.
    #[arg(long, default_value_t = 200)]
    pub promotions: usize,
    /// Tills of the chain (terminal ids the receipts come from).
    #[arg(long, default_value_t = 1000)]
    pub tills: usize,
    /// Receipts in flight at once (with `--rate`: at most).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Offer this many receipts a second on a fixed schedule (open loop) instead of
    /// sending the next receipt as soon as one is answered. A receipt's calculate
    /// latency then counts from its scheduled start, so time spent waiting for a free
    /// slot behind a slow server is measured, not hidden.
    #[arg(long)]
    pub rate: Option<u32>,
    /// How long to run.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Where to write the JSON report.
    #[arg(long, default_value = "bench-report.json")]
    pub report: String,
    #[arg(long, default_value_t = 11)]
    pub seed: u64,
}

/// What the tills need to know of the chain.
struct Chain {
    stores: Vec<String>,
    skus: Vec<(String, i64)>,
    members: usize,
}

/// Latencies (µs) and errors of one kind of call, over the run and second by second.
struct Stats {
    latency: Histogram<u64>,
    errors: BTreeMap<String, u64>,
    timeline: Timeline,
}

impl Stats {
    fn new(started: Instant) -> Result<Self> {
        Ok(Stats {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            errors: BTreeMap::new(),
            timeline: Timeline::new(started),
        })
    }
}

struct Tally {
    calculate: Option<Stats>,
    commit: Option<Stats>,
    returns: Option<Stats>,
    receipts: u64,
    /// With `--rate`: how late each receipt started against its due time (the load
    /// generator's own delay, counted in its calculate's latency).
    late: Histogram<u64>,
}

pub async fn run(args: BenchArgs) -> Result<()> {
    let (base, token, _server) = match &args.target {
        Some(target) => (
            target.trim_end_matches('/').to_string(),
            args.token.clone(),
            None,
        ),
        None => {
            let (base, server) = serve_own(&args).await?;
            (
                base,
                crate::config::INSECURE_DEV_TOKEN.to_string(),
                Some(server),
            )
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(1))
        .timeout(Duration::from_secs(30))
        .build()?;
    let chain = read_chain(&client, &base, &token, args.members).await?;
    if args.promotions > 0 {
        add_promotions(&client, &base, &token, &chain, args.promotions).await?;
    }
    let pace = match args.rate {
        Some(rate) => format!(
            "{rate} receipts/s offered, at most {} in flight",
            args.concurrency
        ),
        None => format!("{} in flight", args.concurrency),
    };
    println!(
        "bench: {} stores, {} products, {} members, {} tills, {pace}, {} s against {base}",
        chain.stores.len(),
        chain.skus.len(),
        chain.members,
        args.tills,
        args.seconds
    );
    let chain = Arc::new(chain);
    // Every worker's connection is open before the clock starts: 256 connections
    // opened at once made the first 100-200 ms of every run slow (a median calculate
    // of 4-16 ms), a third of the slow calls a 20 s run's p99 allows.
    let target = Target::parse(&base)?;
    let mut clients = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let mut client = Client::new(target.clone(), &token);
        client
            .open()
            .await
            .map_err(|error| anyhow::anyhow!("connecting to {base}: {error}"))?;
        clients.push(client);
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let tally = Arc::new(Mutex::new(Tally {
        calculate: Some(Stats::new(started)?),
        commit: Some(Stats::new(started)?),
        returns: Some(Stats::new(started)?),
        receipts: 0,
        late: Histogram::new_with_bounds(1, 60_000_000, 3)?,
    }));
    let progress = ProgressBar::new(args.seconds);
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{bar:40}] {pos}/{len} s  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    // Receipt ids unique to this run, so runs against one database never collide.
    let run = chrono::Utc::now().timestamp_millis();
    // With `--rate`, receipt `i` of the run is due at `started + i / rate`; each worker
    // waits for the next due time and reports latency from it.
    let schedule = match args.rate {
        Some(rate) => Some(Pacer::start(rate, started, deadline)?),
        None => None,
    };
    let mut workers = Vec::new();
    for (worker, mut client) in clients.into_iter().enumerate() {
        let (chain, tally) = (chain.clone(), tally.clone());
        let (tills, seed) = (args.tills.max(1), args.seed);
        let schedule = schedule.clone();
        workers.push(tokio::spawn(async move {
            let mut rng = SmallRng::seed_from_u64(seed ^ (worker as u64).wrapping_mul(0x9E37_79B9));
            let mut n = 0u64;
            loop {
                let due = match &schedule {
                    Some(pacer) => match pacer.next().await {
                        Some(due) => {
                            if let Ok(mut t) = tally.lock() {
                                let late = due.elapsed().as_micros().max(1) as u64;
                                let _ = t.late.record(late.min(60_000_000));
                            }
                            Some(due)
                        }
                        None => break,
                    },
                    None if Instant::now() < deadline => None,
                    None => break,
                };
                n += 1;
                let till = rng.random_range(0..tills);
                let id = format!("b{run}-{worker}-{n}");
                one_receipt(&mut client, &chain, &tally, &mut rng, till, &id, due).await;
            }
        }));
    }
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let done = tally.lock().map(|t| t.receipts).unwrap_or(0);
        let secs = started.elapsed().as_secs_f64();
        progress.set_position(started.elapsed().as_secs().min(args.seconds));
        progress.set_message(format!("{done} receipts, {:.0}/s", done as f64 / secs));
    }
    for worker in workers {
        worker.await?;
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let tally = tally
        .lock()
        .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
    let report = report(&args, &tally, elapsed);
    print_report(&report);
    std::fs::write(&args.report, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", args.report))?;
    println!("report written to {}", args.report);
    Ok(())
}

/// Loads the demo chain into a fresh database and serves it on a loopback port.
async fn serve_own(args: &BenchArgs) -> Result<(String, tokio::task::JoinHandle<()>)> {
    let mut options = DemoOptions::new(chrono::Utc::now());
    options.members = args.members;
    options.receipts = args.history;
    let (store, summary) = load_fresh(&args.database, &options).await?;
    println!(
        "loaded {} members and {} receipts in {:.1} s into {}",
        summary.members,
        summary.receipts,
        summary.elapsed.as_secs_f64(),
        args.database
    );
    let state = AppState::new(
        store,
        Arc::new(SystemClock),
        ServerOptions {
            // Synthetic tills pick members at random, far more often per member than
            // shoppers do: the per-customer spending limit would refuse them.
            redeem_rate: None,
            ..ServerOptions::with_defaults(
                Some(crate::config::INSECURE_DEV_TOKEN.to_string()),
                Duration::from_secs(30),
            )
        },
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move {
        if let Err(error) =
            tessera_server::serve(listener, state, std::future::pending::<()>()).await
        {
            tracing::error!(%error, "the bench server failed");
        }
    });
    Ok((base, server))
}

async fn get(client: &reqwest::Client, base: &str, token: &str, path: &str) -> Result<Value> {
    let response = client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("GET {path}"))?;
    if !response.status().is_success() {
        bail!("GET {path}: {}", response.status());
    }
    Ok(response.json().await?)
}

async fn read_chain(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    members: usize,
) -> Result<Chain> {
    let stores: Vec<String> = get(client, base, token, "/v1/stores").await?["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|s| s["store_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let skus: Vec<(String, i64)> = get(client, base, token, "/v1/products").await?["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|p| p["sku"].as_str().map(str::to_string))
                .map(|sku| {
                    // A stable shelf price per SKU, 5.00 to 5004.99.
                    let hash = sku
                        .bytes()
                        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
                    (sku, 500 + (hash % 500_000) as i64)
                })
                .collect()
        })
        .unwrap_or_default();
    if stores.is_empty() || skus.is_empty() {
        bail!("the target has no stores or no products: load it with `tessera demo` first");
    }
    Ok(Chain {
        stores,
        skus,
        members,
    })
}

/// `count` promotions with realistic scopes, schedules, audiences and item matches,
/// put as `bench-NNN` (replacing earlier ones of the same id).
async fn add_promotions(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    chain: &Chain,
    count: usize,
) -> Result<()> {
    let products = get(client, base, token, "/v1/products").await?;
    let items = products["items"].as_array().cloned().unwrap_or_default();
    let values = |key: &str| -> Vec<String> {
        let mut v: Vec<String> = items
            .iter()
            .filter_map(|p| p[key].as_str().map(str::to_string))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let (categories, brands) = (values("category"), values("brand"));
    let weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    for i in 0..count {
        let pick = |list: &[String], k: usize| {
            list.get(k % list.len().max(1)).cloned().unwrap_or_default()
        };
        let items_match = match i % 4 {
            0 => json!({"category": [pick(&categories, i)]}),
            1 => json!({"brand": [pick(&brands, i), pick(&brands, i + 1)]}),
            2 => {
                json!({"all": [{"category": [pick(&categories, i * 3)]}, {"not": {"tag": ["sale"]}}]})
            }
            _ => {
                json!({"sku": (0..20).map(|k| chain.skus[(i * 97 + k * 13) % chain.skus.len()].0.clone()).collect::<Vec<_>>()})
            }
        };
        let effect = match i % 5 {
            0 | 1 => json!({"type": "percent_off", "percent": 5 + i % 10, "items": items_match}),
            2 => json!({"type": "amount_off", "amount": 5000, "items": items_match}),
            3 => json!({"type": "buy_get", "buy": 2, "get": 1, "items": items_match}),
            _ => json!({"type": "earn_points", "percent": 3, "items": items_match}),
        };
        let mut promotion = json!({
            "name": format!("bench promotion {i}"),
            "priority": i % 17,
            "stacking": if i % 23 == 0 { "blocking" } else { "stackable" },
            "effects": [effect],
        });
        if i % 11 == 0 {
            promotion["group"] = json!(format!("g{}", i % 3));
        }
        if i % 3 == 0 {
            promotion["schedule"] = json!({"weekdays": [weekdays[i % 7], weekdays[(i + 2) % 7], weekdays[(i + 4) % 7]]});
        }
        match i % 6 {
            0 => {
                promotion["scope"] = json!({"stores": (0..5).map(|k| chain.stores[(i + k * 7) % chain.stores.len()].clone()).collect::<Vec<_>>()})
            }
            1 => promotion["audience"] = json!({"members_only": true}),
            2 => promotion["conditions"] = json!({"min_amount": 100_000}),
            _ => {}
        }
        let response = client
            .put(format!("{base}/v1/promotions/bench-{i:03}"))
            .bearer_auth(token)
            .json(&promotion)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!(
                "PUT bench-{i:03}: {}: {}",
                response.status(),
                response.text().await?
            );
        }
    }
    Ok(())
}

/// A receipt as a till sends it: serialised from these structs straight into the
/// request bytes (no `serde_json::Value` on the hot path).
#[derive(Serialize)]
struct ReceiptRequest<'a> {
    receipt_id: &'a str,
    store_id: &'a str,
    terminal_id: String,
    at: String,
    lines: Vec<LineRequest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer: Option<CustomerRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    redeem_points: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    coupons: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expect: Option<ExpectRequest>,
}

#[derive(Serialize)]
struct LineRequest<'a> {
    line: i32,
    sku: &'a str,
    qty: Qty,
    price: i64,
}

/// Whole units, or a weighed quantity.
#[derive(Serialize)]
#[serde(untagged)]
enum Qty {
    Units(i32),
    Weighed(f64),
}

#[derive(Serialize)]
struct CustomerRequest {
    card: String,
}

#[derive(Serialize)]
struct ExpectRequest {
    /// Null when the calculation did not say (the commit is then refused and counted).
    to_pay: Option<i64>,
}

#[derive(Serialize)]
struct ReturnRequest {
    return_id: String,
    at: String,
    lines: [ReturnLineRequest; 1],
}

#[derive(Serialize)]
struct ReturnLineRequest {
    line: i32,
    qty: i32,
}

/// What the bench reads of a calculation: `totals.to_pay`; the rest is skipped.
#[derive(Deserialize)]
struct Calculated {
    totals: Option<CalculatedTotals>,
}

#[derive(Deserialize)]
struct CalculatedTotals {
    to_pay: Option<i64>,
}

/// What the bench reads of a refusal: `error.code`.
#[derive(Deserialize)]
struct Refused {
    error: Option<RefusedError>,
}

#[derive(Deserialize)]
struct RefusedError {
    code: Option<String>,
}

/// A receipt of 5–30 lines; 60% of members (10% of them paying with points), 3% with
/// a coupon code; calculated, committed with `expect.to_pay`, and 2% returned in part.
async fn one_receipt(
    client: &mut Client,
    chain: &Chain,
    tally: &Mutex<Tally>,
    rng: &mut SmallRng,
    till: usize,
    receipt_id: &str,
    due: Option<Instant>,
) {
    let store = &chain.stores[till % chain.stores.len()];
    let lines: Vec<LineRequest> = (0..rng.random_range(5..=30))
        .map(|n| {
            let (sku, price) = &chain.skus[rng.random_range(0..chain.skus.len())];
            let qty = if rng.random_bool(0.1) {
                Qty::Weighed(rng.random_range(100..3000) as f64 / 1000.0)
            } else {
                Qty::Units(rng.random_range(1..=3))
            };
            LineRequest {
                line: n + 1,
                sku,
                qty,
                price: *price,
            }
        })
        .collect();
    let mut body = ReceiptRequest {
        receipt_id,
        store_id: store,
        terminal_id: format!("T{till:04}"),
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        lines,
        customer: None,
        redeem_points: None,
        coupons: None,
        expect: None,
    };
    if chain.members > 0 && rng.random_bool(0.6) {
        body.customer = Some(CustomerRequest {
            card: member_card(rng.random_range(0..chain.members)),
        });
        if rng.random_bool(0.1) {
            body.redeem_points = Some("max");
        }
    }
    if rng.random_bool(0.03) {
        body.coupons = Some(["SPRING10"]);
    }
    let calc = call(
        client,
        "/v1/receipts/calculate",
        to_json(&body),
        due,
        tally,
        |t| &mut t.calculate,
        |answer| {
            serde_json::from_slice::<Calculated>(answer)
                .ok()
                .and_then(|calc| calc.totals)
                .and_then(|totals| totals.to_pay)
        },
    )
    .await;
    let Some(to_pay) = calc else { return };
    body.expect = Some(ExpectRequest { to_pay });
    let committed = call(
        client,
        "/v1/receipts/commit",
        to_json(&body),
        None,
        tally,
        |t| &mut t.commit,
        |_| (),
    )
    .await;
    if let Ok(mut t) = tally.lock() {
        t.receipts += 1;
    }
    if committed.is_some() && rng.random_bool(0.02) {
        let ret = ReturnRequest {
            return_id: format!("{receipt_id}-r"),
            at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            lines: [ReturnLineRequest { line: 1, qty: 1 }],
        };
        let path = format!("/v1/receipts/{receipt_id}/returns");
        call(
            client,
            &path,
            to_json(&ret),
            None,
            tally,
            |t| &mut t.returns,
            |_| (),
        )
        .await;
    }
}

/// The request bytes of a body (these structs always serialise).
fn to_json(body: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// Posts the JSON `body`, records the latency (from `since`, the call's scheduled
/// start, when it has one) or the error code; what `read` makes of the answer when it
/// was 200.
async fn call<R>(
    client: &mut Client,
    path: &str,
    body: Vec<u8>,
    since: Option<Instant>,
    tally: &Mutex<Tally>,
    stats: impl Fn(&mut Tally) -> &mut Option<Stats>,
    read: impl FnOnce(&[u8]) -> R,
) -> Option<R> {
    let started = since.unwrap_or_else(Instant::now);
    let (answer, code) = match client.post(path, &body).await {
        Ok(answer) if (200..300).contains(&answer.status) => {
            (Some(read(&answer.body)), String::new())
        }
        Ok(answer) => {
            let code = serde_json::from_slice::<Refused>(&answer.body)
                .ok()
                .and_then(|refused| refused.error)
                .and_then(|error| error.code)
                .unwrap_or_else(|| answer.status.to_string());
            (None, code)
        }
        Err(error) => (None, format!("transport: {error}")),
    };
    let ok = answer.is_some();
    let micros = started.elapsed().as_micros().max(1) as u64;
    if let Ok(mut t) = tally.lock() {
        if let Some(stats) = stats(&mut t).as_mut() {
            if ok {
                let _ = stats.latency.record(micros.min(60_000_000));
                stats.timeline.record(started, micros);
            } else {
                *stats.errors.entry(code).or_default() += 1;
            }
        }
    }
    answer
}

fn summary(stats: &Option<Stats>, elapsed: f64) -> Value {
    let Some(stats) = stats else {
        return Value::Null;
    };
    let h = &stats.latency;
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    json!({
        "ok": h.len(),
        "per_second": (h.len() as f64 / elapsed * 10.0).round() / 10.0,
        "p50_ms": ms(0.50), "p90_ms": ms(0.90), "p99_ms": ms(0.99), "p999_ms": ms(0.999),
        "max_ms": h.max() as f64 / 1000.0,
        "errors": stats.errors,
        "seconds": stats.timeline.summary(),
        "slowest_seconds": stats.timeline.slowest(3)
            .into_iter()
            .map(|(second, p99)| json!({"second": second, "p99_ms": p99}))
            .collect::<Vec<_>>(),
    })
}

/// With `--rate`: how late receipts started against their due times (nothing is
/// recorded without it).
fn started_late(late: &Histogram<u64>) -> Value {
    if late.is_empty() {
        return Value::Null;
    }
    let ms = |q: f64| late.value_at_quantile(q) as f64 / 1000.0;
    json!({"p50_ms": ms(0.50), "p99_ms": ms(0.99), "max_ms": late.max() as f64 / 1000.0})
}

fn report(args: &BenchArgs, tally: &Tally, elapsed: f64) -> Value {
    json!({
        "target": args.target.clone().unwrap_or_else(|| format!("in-process, {}", args.database)),
        "members": args.members,
        "promotions_added": args.promotions,
        "tills": args.tills,
        "concurrency": args.concurrency,
        "offered_rate": args.rate,
        "seconds": (elapsed * 10.0).round() / 10.0,
        "receipts": tally.receipts,
        "receipts_per_second": (tally.receipts as f64 / elapsed * 10.0).round() / 10.0,
        "calculate": summary(&tally.calculate, elapsed),
        "commit": summary(&tally.commit, elapsed),
        "return": summary(&tally.returns, elapsed),
        "started_late": started_late(&tally.late),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    })
}

fn print_report(report: &Value) {
    println!(
        "\n{} receipts (calculate + commit) in {} s: {} receipts/s",
        report["receipts"], report["seconds"], report["receipts_per_second"]
    );
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}  errors",
        "call", "ok", "per s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    for kind in ["calculate", "commit", "return"] {
        let s = &report[kind];
        println!(
            "{:<10} {:>8} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>9.2} {:>9.2}  {}",
            kind,
            s["ok"],
            s["per_second"],
            s["p50_ms"].as_f64().unwrap_or(0.0),
            s["p90_ms"].as_f64().unwrap_or(0.0),
            s["p99_ms"].as_f64().unwrap_or(0.0),
            s["p999_ms"].as_f64().unwrap_or(0.0),
            s["max_ms"].as_f64().unwrap_or(0.0),
            s["errors"]
        );
    }
    for kind in ["calculate", "commit"] {
        let slowest: Vec<String> = report[kind]["slowest_seconds"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| {
                format!(
                    "second {} ({:.2} ms)",
                    s["second"],
                    s["p99_ms"].as_f64().unwrap_or(0.0)
                )
            })
            .collect();
        if !slowest.is_empty() {
            println!("{kind}: highest p99 in {}", slowest.join(", "));
        }
    }
    let late = &report["started_late"];
    if !late.is_null() {
        println!(
            "receipts started late (load generator): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            late["p50_ms"].as_f64().unwrap_or(0.0),
            late["p99_ms"].as_f64().unwrap_or(0.0),
            late["max_ms"].as_f64().unwrap_or(0.0),
        );
    }
}
