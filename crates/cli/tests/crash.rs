//! Crash safety of the real binary: many tills commit, return and cancel receipts while
//! `tessera serve` is killed with SIGKILL at random moments and restarted on the same
//! database (on a new port each time). The tills follow the exactly-once protocol of
//! docs/pos-integration.md: whatever got no answer (a connection error, a timeout, a
//! 5xx) is resent with the same body to wherever the server now listens.
//!
//! Afterwards every answered operation must be stored exactly once with the response
//! the till got (and a retry now must get the same bytes), refused commits must not
//! exist, commits a till abandoned when a kill lost the answer must be absent or stored
//! once, the ledger entries of every receipt and operation must be those its response
//! announced, every customer's ledger must sum to their balance, and `tessera check`
//! must pass.
//!
//! Runs on SQLite always and on PostgreSQL when `TESSERA_TEST_POSTGRES` is set (skips
//! loudly otherwise; `TESSERA_REQUIRE_POSTGRES=1` makes a missing URL a failure).
//! `TESSERA_CRASH_SEED=N` replays the same random choices (the kill moments still
//! depend on timing).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{error_code, json_of, Server, TempSchema};

use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_store::Store;
use tokio::sync::watch;

const TOKEN: &str = "crash-test";
const TILLS: usize = 16;
const KILLS: usize = 8;
const MEMBERS: usize = 4;
/// No single operation may stay unanswered longer than this.
const ANSWER_DEADLINE: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------------------
// A tiny seeded random generator (xorshift64*), so a run can be replayed.

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

// ---------------------------------------------------------------------------------------
// The server process.

async fn start_server(db: &str) -> Server {
    let db = db.to_string();
    tokio::task::spawn_blocking(move || Server::start("crash", &db, TOKEN))
        .await
        .expect("server start")
}

// ---------------------------------------------------------------------------------------
// Requests.

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    transport_errors: AtomicU64,
    /// Requests that reached the server but whose answer was lost (not a refused
    /// connection): their outcome was unknown to the till.
    answers_lost: AtomicU64,
    busy: AtomicU64,
    server_errors: AtomicU64,
}

impl Stats {
    fn transport_failure(&self, answer_lost: bool) {
        self.transport_errors.fetch_add(1, Ordering::Relaxed);
        if answer_lost {
            self.answers_lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct Shared {
    client: reqwest::Client,
    address: watch::Receiver<Option<String>>,
    stop: AtomicBool,
    stats: Stats,
}

/// Sends `body` to `path` on whatever address the server has now, again and again with
/// the same bytes until an answer other than a 5xx arrives. With `abandon`, the first
/// answer lost to a kill ends it with status 0: a till that lost its journal and never
/// learns what became of the request (the operation may or may not be stored).
async fn send_until_answered(
    shared: &Shared,
    path: &str,
    body: &[u8],
    abandon: bool,
) -> Result<(u16, Vec<u8>, Option<chrono::DateTime<chrono::Utc>>), String> {
    let started = Instant::now();
    let mut attempt: u64 = 0;
    let mut last_problem = String::new();
    loop {
        if started.elapsed() > ANSWER_DEADLINE {
            return Err(format!(
                "POST {path} got no answer in {ANSWER_DEADLINE:?} ({attempt} attempts, last: {last_problem})"
            ));
        }
        if attempt > 0 {
            let pause = (10 * attempt).min(200);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        attempt += 1;
        let Some(base) = shared.address.borrow().clone() else {
            last_problem = "the server is down".into();
            continue;
        };
        shared.stats.requests.fetch_add(1, Ordering::Relaxed);
        let sent_at = chrono::Utc::now();
        let sent = shared
            .client
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                let lost = !error.is_connect();
                shared.stats.transport_failure(lost);
                if abandon && lost && !error.is_timeout() {
                    return Ok((0, Vec::new(), None));
                }
                last_problem = error.to_string();
                continue;
            }
        };
        let status = response.status().as_u16();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes.to_vec(),
            Err(error) => {
                shared.stats.transport_failure(true);
                if abandon && !error.is_timeout() {
                    return Ok((0, Vec::new(), None));
                }
                last_problem = error.to_string();
                continue;
            }
        };
        if status >= 500 {
            let code = error_code(&bytes);
            if code == "busy" {
                shared.stats.busy.fetch_add(1, Ordering::Relaxed);
            } else {
                shared.stats.server_errors.fetch_add(1, Ordering::Relaxed);
            }
            last_problem = format!("{status} {code}");
            continue;
        }
        return Ok((status, bytes, (attempt > 1).then_some(sent_at)));
    }
}

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let response = client
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

async fn admin(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Value,
) -> Value {
    let response = client
        .request(method, &url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status == 200 || status == 201, "{url}: {status} {value}");
    value
}

// ---------------------------------------------------------------------------------------
// The tills.

#[derive(Debug, Clone)]
enum Op {
    Commit {
        receipt_id: String,
    },
    Return {
        receipt_id: String,
        return_id: String,
    },
    Cancel {
        receipt_id: String,
    },
}

#[derive(Debug, Clone)]
struct Outcome {
    op: Op,
    path: String,
    body: Vec<u8>,
    status: u16,
    response: Vec<u8>,
    /// When the answered attempt was sent, if earlier attempts got no answer.
    retried: Option<chrono::DateTime<chrono::Utc>>,
}

struct Mine {
    receipt_id: String,
    line1_qty: u64,
    line1_returned: u64,
    cancelled: bool,
}

fn now_text() -> String {
    chrono::Utc::now().to_rfc3339()
}

const SKUS: [&str; 3] = ["MILK", "BREAD", "SHOES"];

fn member_card(k: usize) -> String {
    format!("770000{k:02}")
}

async fn till(shared: Arc<Shared>, till: usize, seed: u64) -> Result<Vec<Outcome>, String> {
    let mut rng = Rng::new(seed);
    let mut mine: Vec<Mine> = Vec::new();
    let mut outcomes = Vec::new();
    let mut n = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        n += 1;
        let roll = rng.range(0, 99);
        let returnable: Vec<usize> = (0..mine.len())
            .filter(|&i| !mine[i].cancelled && mine[i].line1_returned < mine[i].line1_qty)
            .collect();
        let cancellable: Vec<usize> = (0..mine.len()).filter(|&i| !mine[i].cancelled).collect();
        if roll < 10 && !returnable.is_empty() {
            let idx = returnable[rng.range(0, returnable.len() as u64 - 1) as usize];
            let receipt_id = mine[idx].receipt_id.clone();
            let return_id = format!("ret-t{till}-{n}");
            let body = json!({"return_id": return_id, "at": now_text(), "terminal_id": format!("T{till}"),
                "lines": [{"line": 1, "qty": 1}]});
            let path = format!("/v1/receipts/{receipt_id}/returns");
            let body = serde_json::to_vec(&body).unwrap();
            let (status, response, retried) =
                send_until_answered(&shared, &path, &body, false).await?;
            if status != 200 {
                return Err(format!(
                    "return {return_id} of {receipt_id}: {status} {}",
                    String::from_utf8_lossy(&response)
                ));
            }
            mine[idx].line1_returned += 1;
            outcomes.push(Outcome {
                op: Op::Return {
                    receipt_id,
                    return_id,
                },
                path,
                body,
                status,
                response,
                retried,
            });
        } else if roll < 16 && !cancellable.is_empty() {
            let idx = cancellable[rng.range(0, cancellable.len() as u64 - 1) as usize];
            let receipt_id = mine[idx].receipt_id.clone();
            let body = json!({"at": now_text(), "terminal_id": format!("T{till}")});
            let path = format!("/v1/receipts/{receipt_id}/cancel");
            let body = serde_json::to_vec(&body).unwrap();
            let (status, response, retried) =
                send_until_answered(&shared, &path, &body, false).await?;
            if status != 200 {
                return Err(format!(
                    "cancel of {receipt_id}: {status} {}",
                    String::from_utf8_lossy(&response)
                ));
            }
            mine[idx].cancelled = true;
            outcomes.push(Outcome {
                op: Op::Cancel { receipt_id },
                path,
                body,
                status,
                response,
                retried,
            });
        } else {
            let receipt_id = format!("r-t{till}-{n}");
            let mut lines = Vec::new();
            let mut line1_qty = 0;
            let mut amount = 0;
            for line in 1..=rng.range(1, 3) {
                let qty = rng.range(1, 3);
                if line == 1 {
                    line1_qty = qty;
                }
                let price = rng.range(50, 2000) * 100;
                amount += price * qty;
                lines.push(json!({"line": line, "sku": SKUS[rng.range(0, 2) as usize],
                    "qty": qty, "price": price}));
            }
            let mut body = json!({"receipt_id": receipt_id, "store_id": "s1",
                "terminal_id": format!("T{till}"), "at": now_text(), "lines": lines});
            let kind = rng.range(0, 99);
            if kind < 5 {
                // Anonymous.
            } else if kind < 10 {
                // An unknown card: the commit registers a new member.
                body["customer"] = json!({"card": format!("9{till:02}{n:06}")});
            } else {
                let member = rng.range(0, MEMBERS as u64 - 1) as usize;
                body["customer"] = json!({"card": member_card(member)});
                if kind < 32 {
                    body["redeem_points"] = json!(rng.range(1, 30));
                } else if kind < 40 {
                    // Large enough to be refused now and then, never above what the
                    // receipt allows (point_value 100, discounts at most 10%).
                    let most = (amount / 100 * 8 / 10).max(1);
                    body["redeem_points"] = json!(rng.range(1, 3000).min(most));
                }
            }
            let body = serde_json::to_vec(&body).unwrap();
            let path = "/v1/receipts/commit".to_string();
            let abandon = rng.range(0, 99) < 20;
            let (status, response, retried) =
                send_until_answered(&shared, &path, &body, abandon).await?;
            let refused = status == 409 && error_code(&response) == "insufficient_points";
            if status != 200 && status != 0 && !refused {
                return Err(format!(
                    "commit {receipt_id}: {status} {}",
                    String::from_utf8_lossy(&response)
                ));
            }
            if status == 200 {
                mine.push(Mine {
                    receipt_id: receipt_id.clone(),
                    line1_qty,
                    line1_returned: 0,
                    cancelled: false,
                });
            }
            outcomes.push(Outcome {
                op: Op::Commit { receipt_id },
                path,
                body,
                status,
                response,
                retried,
            });
        }
    }
    Ok(outcomes)
}

// ---------------------------------------------------------------------------------------
// Verification.

/// An acknowledged receipt: its commit's response, and its acknowledged returns and
/// cancel, each op id with its response.
struct Acked {
    commit: Value,
    operations: Vec<(String, Value)>,
    cancelled: bool,
}

/// What one till's verification found.
#[derive(Default)]
struct Verified {
    /// The customers its commits name.
    customers: HashSet<String>,
    /// Abandoned commits that had been stored: receipt id and stored response.
    abandoned_stored: Vec<(String, Value)>,
    abandoned: usize,
}

/// Checks every outcome of one till against the restarted server.
async fn verify_till(
    client: reqwest::Client,
    base: String,
    outcomes: Vec<Outcome>,
) -> Result<Verified, String> {
    let mut verified = Verified::default();
    let mut acked: BTreeMap<String, Acked> = BTreeMap::new();
    for outcome in &outcomes {
        if let (Op::Commit { receipt_id }, 0) = (&outcome.op, outcome.status) {
            // Abandoned when its answer was lost: stored once, or not at all.
            verified.abandoned += 1;
            let url = format!("{base}/v1/receipts/{receipt_id}");
            let (status, receipt) = get(&client, url).await;
            if status == 404 {
                continue;
            }
            let versions = receipt["versions"].as_array().cloned().unwrap_or_default();
            if status != 200
                || versions.len() != 1
                || receipt["version"] != 1
                || versions[0]["kind"] != "commit"
            {
                return Err(format!(
                    "abandoned commit {receipt_id}: want absent or committed once, got {status} {receipt}"
                ));
            }
            let stored = versions[0]["response"].clone();
            if let Some(customer) = stored["customer_id"].as_str() {
                verified.customers.insert(customer.to_string());
            }
            verified.abandoned_stored.push((receipt_id.clone(), stored));
            continue;
        }
        // A retry now, long after the answer, must get the very same answer.
        let (status, replay) =
            send_until_answered_once(&client, &base, &outcome.path, &outcome.body).await?;
        if status != outcome.status || replay != outcome.response {
            return Err(format!(
                "{:?}: first answer {} {}, retry after the crashes {} {}",
                outcome.op,
                outcome.status,
                String::from_utf8_lossy(&outcome.response),
                status,
                String::from_utf8_lossy(&replay)
            ));
        }
        let response = json_of(&outcome.response);
        match &outcome.op {
            Op::Commit { receipt_id } if outcome.status == 200 => {
                if let Some(customer) = response["customer_id"].as_str() {
                    verified.customers.insert(customer.to_string());
                }
                acked.insert(
                    receipt_id.clone(),
                    Acked {
                        commit: response,
                        operations: Vec::new(),
                        cancelled: false,
                    },
                );
            }
            Op::Commit { receipt_id } => {
                let (status, value) =
                    get(&client, format!("{base}/v1/receipts/{receipt_id}")).await;
                if status != 404 {
                    return Err(format!(
                        "commit {receipt_id} was refused ({}) but the receipt exists: {status} {value}",
                        error_code(&outcome.response)
                    ));
                }
            }
            Op::Return {
                receipt_id,
                return_id,
            } => {
                let entry = acked
                    .get_mut(receipt_id)
                    .ok_or_else(|| format!("return {return_id} of an unknown receipt"))?;
                entry.operations.push((return_id.clone(), response));
            }
            Op::Cancel { receipt_id } => {
                let entry = acked
                    .get_mut(receipt_id)
                    .ok_or_else(|| format!("cancel of an unknown receipt {receipt_id}"))?;
                entry
                    .operations
                    .push((format!("cancel/{receipt_id}"), response));
                entry.cancelled = true;
            }
        }
    }
    for (receipt_id, acked) in &acked {
        let (status, receipt) = get(&client, format!("{base}/v1/receipts/{receipt_id}")).await;
        if status != 200 {
            return Err(format!(
                "receipt {receipt_id} was acknowledged (200) but after the crashes GET answers {status} {receipt}"
            ));
        }
        let versions = receipt["versions"].as_array().cloned().unwrap_or_default();
        let expected = 1 + acked.operations.len();
        if versions.len() != expected || receipt["version"].as_u64() != Some(expected as u64) {
            return Err(format!(
                "receipt {receipt_id}: {} acknowledged operations but {} versions (version {}): {receipt}",
                expected,
                versions.len(),
                receipt["version"]
            ));
        }
        for (idx, version) in versions.iter().enumerate() {
            if version["version"].as_u64() != Some(idx as u64 + 1) {
                return Err(format!(
                    "receipt {receipt_id}: versions out of order: {receipt}"
                ));
            }
        }
        let first = &versions[0];
        let commit = &acked.commit;
        if first["kind"] != "commit" || first["response"] != *commit {
            return Err(format!(
                "receipt {receipt_id}: the stored commit differs from the acknowledged one\nstored: {first}\nacknowledged: {commit}"
            ));
        }
        for (op_id, response) in &acked.operations {
            let matching: Vec<&Value> = versions.iter().filter(|v| v["op_id"] == *op_id).collect();
            if matching.len() != 1 || matching[0]["response"] != *response {
                return Err(format!(
                    "receipt {receipt_id}: operation {op_id} stored {} times (want once with the acknowledged response {response}): {receipt}",
                    matching.len()
                ));
            }
        }
        if acked.cancelled && receipt["status"] != "cancelled" {
            return Err(format!(
                "receipt {receipt_id}: cancelled but status {}",
                receipt["status"]
            ));
        }
    }
    Ok(verified)
}

/// One POST against the (final, stable) server; a transport error is a failure here.
async fn send_until_answered_once(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), String> {
    for _ in 0..50 {
        let response = client
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| format!("POST {path} to the final server: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|e| e.to_string())?.to_vec();
        if status == 503 && error_code(&bytes) == "busy" {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        return Ok((status, bytes));
    }
    Err(format!("POST {path}: busy 50 times in a row"))
}

/// The customer's whole ledger; checks it against the balance and returns its entries.
async fn verify_customer(
    client: &reqwest::Client,
    base: &str,
    customer: &str,
) -> Result<Vec<Value>, String> {
    let mut entries = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let url = match after {
            Some(after) => {
                format!("{base}/v1/customers/{customer}/ledger?limit=1000&after={after}")
            }
            None => format!("{base}/v1/customers/{customer}/ledger?limit=1000"),
        };
        let (status, page) = get(client, url).await;
        if status != 200 {
            return Err(format!("ledger of {customer}: {status} {page}"));
        }
        entries.extend(page["entries"].as_array().cloned().unwrap_or_default());
        match page["next_after"].as_i64() {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let (mut available, mut pending) = (0i64, 0i64);
    for entry in &entries {
        let amount = entry["amount"].as_i64().unwrap_or(0);
        for (side, sign) in [("debit", -1), ("credit", 1)] {
            match entry[side].as_str() {
                Some("customer_available") => available += sign * amount,
                Some("customer_pending") => pending += sign * amount,
                _ => {}
            }
        }
    }
    let (status, balance) = get(client, format!("{base}/v1/customers/{customer}/balance")).await;
    if status != 200 {
        return Err(format!("balance of {customer}: {status} {balance}"));
    }
    if balance["available"].as_i64() != Some(available)
        || balance["pending"].as_i64() != Some(pending)
    {
        return Err(format!(
            "customer {customer}: ledger entries sum to available {available}, pending {pending}, but the balance is {balance}"
        ));
    }
    Ok(entries)
}

// ---------------------------------------------------------------------------------------
// The scenario.

async fn seed_chain(client: &reqwest::Client, base: &str) -> Vec<String> {
    use reqwest::Method;
    admin(
        client,
        Method::PUT,
        format!("{base}/v1/program"),
        json!({"currency": "RUB", "point_value": 100, "pending_days": 0}),
    )
    .await;
    admin(
        client,
        Method::PUT,
        format!("{base}/v1/stores/s1"),
        json!({"name": "Crash store", "timezone": "Europe/Moscow", "region": "central"}),
    )
    .await;
    for (sku, category) in [("MILK", "dairy"), ("BREAD", "bakery"), ("SHOES", "shoes")] {
        admin(
            client,
            Method::PUT,
            format!("{base}/v1/products/{sku}"),
            json!({"name": sku, "category": category}),
        )
        .await;
    }
    admin(
        client,
        Method::PUT,
        format!("{base}/v1/promotions/earn5"),
        json!({"name": "5% back", "effects": [{"type": "earn_points", "percent": 5}]}),
    )
    .await;
    admin(
        client,
        Method::PUT,
        format!("{base}/v1/promotions/dairy10"),
        json!({"name": "Dairy 10% off", "effects": [{"type": "percent_off", "percent": 10,
            "items": {"category": ["dairy"]}}],
            "limits": {"total_uses": 1_000_000, "per_customer_per_day": 1_000_000}}),
    )
    .await;
    let mut customers = Vec::new();
    for k in 0..MEMBERS {
        let created = admin(
            client,
            Method::POST,
            format!("{base}/v1/customers"),
            json!({"name": format!("Member {k}"), "cards": [member_card(k)]}),
        )
        .await;
        customers.push(created["customer_id"].as_str().unwrap().to_string());
    }
    customers
}

/// Points per (receipt id, op id, entry kind).
type PointsByOp = HashMap<(String, Option<String>, String), i64>;

fn add_points(
    expected: &mut PointsByOp,
    receipt: &str,
    op: Option<&str>,
    kind: &str,
    value: &Value,
) {
    let points = value.as_i64().unwrap_or(0);
    if points != 0 {
        *expected
            .entry((
                receipt.to_string(),
                op.map(str::to_string),
                kind.to_string(),
            ))
            .or_default() += points;
    }
}

/// The entries a commit's response says it made: its earning and its redemption.
fn expect_commit(expected: &mut PointsByOp, receipt: &str, response: &Value) {
    if response["customer_id"].is_string() {
        add_points(
            expected,
            receipt,
            None,
            "earn",
            &response["rewards"]["points_earned"],
        );
        add_points(
            expected,
            receipt,
            None,
            "redeem",
            &response["rewards"]["points_redeemed"],
        );
    }
}

/// The entries a return's or cancel's response says it made.
fn expect_reversal(expected: &mut PointsByOp, receipt: &str, op: &str, response: &Value) {
    add_points(
        expected,
        receipt,
        Some(op),
        "redeem_refund",
        &response["points_refunded"],
    );
    add_points(
        expected,
        receipt,
        Some(op),
        "earn_reversal",
        &response["points_reversed"],
    );
}

fn seed_from_env() -> u64 {
    std::env::var("TESSERA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        })
}

async fn run_scenario(backend: &str, db: &str, direct: Direct) {
    let began = Instant::now();
    let seed = seed_from_env();
    // Shown with the failure message as well as in the output.
    let _ = writeln!(
        std::io::stderr(),
        "crash test ({backend}): TESSERA_CRASH_SEED={seed}"
    );
    let mut rng = Rng::new(seed);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let mut server = start_server(db).await;
    let members = seed_chain(&client, &server.base).await;

    let (address, address_rx) = watch::channel(Some(server.base.clone()));
    let shared = Arc::new(Shared {
        client: client.clone(),
        address: address_rx,
        stop: AtomicBool::new(false),
        stats: Stats::default(),
    });
    let tills: Vec<_> = (0..TILLS)
        .map(|t| {
            let shared = shared.clone();
            let till_seed = seed ^ ((t as u64 + 1) * 0x1000_0001);
            tokio::spawn(till(shared, t, till_seed))
        })
        .collect();

    let mut restarts = Duration::ZERO;
    for _ in 0..KILLS {
        tokio::time::sleep(Duration::from_millis(rng.range(150, 600))).await;
        address.send_replace(None);
        server.kill();
        let restart = Instant::now();
        server = start_server(db).await;
        restarts += restart.elapsed();
        address.send_replace(Some(server.base.clone()));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    shared.stop.store(true, Ordering::SeqCst);
    let mut outcomes = Vec::new();
    for (t, handle) in tills.into_iter().enumerate() {
        match handle.await.expect("till task") {
            Ok(mine) => outcomes.push(mine),
            Err(error) => panic!(
                "{backend} (seed {seed}): till {t}: {error}\nserver log:\n{}",
                server.log_tail()
            ),
        }
    }
    let load_done = began.elapsed();

    // Every answered operation, checked against the restarted server.
    let base = server.base.clone();
    let checks: Vec<_> = outcomes
        .iter()
        .cloned()
        .map(|o| tokio::spawn(verify_till(client.clone(), base.clone(), o)))
        .collect();
    let mut customers: HashSet<String> = members.iter().cloned().collect();
    let mut abandoned_stored = Vec::new();
    let mut abandoned = 0;
    for check in checks {
        match check.await.expect("verify task") {
            Ok(found) => {
                customers.extend(found.customers);
                abandoned_stored.extend(found.abandoned_stored);
                abandoned += found.abandoned;
            }
            Err(error) => panic!("{backend} (seed {seed}): {error}"),
        }
    }

    // Ledgers: sum to the balances, and each answered operation's points appear once.
    let mut by_op: PointsByOp = HashMap::new();
    for customer in &customers {
        let entries = verify_customer(&client, &base, customer)
            .await
            .unwrap_or_else(|e| panic!("{backend} (seed {seed}): {e}"));
        for entry in entries {
            let receipt = entry["receipt_id"].as_str().unwrap_or("").to_string();
            let op = entry["op_id"].as_str().map(str::to_string);
            let kind = entry["kind"].as_str().unwrap_or("").to_string();
            *by_op.entry((receipt, op, kind)).or_default() += entry["amount"].as_i64().unwrap_or(0);
        }
    }
    let (mut commits, mut refused, mut returns, mut cancels) = (0, 0, 0, 0);
    let mut expected: PointsByOp = HashMap::new();
    for outcome in outcomes.iter().flatten() {
        let response = json_of(&outcome.response);
        match &outcome.op {
            Op::Commit { .. } if outcome.status == 0 => {}
            Op::Commit { .. } if outcome.status != 200 => refused += 1,
            Op::Commit { receipt_id } => {
                commits += 1;
                expect_commit(&mut expected, receipt_id, &response);
            }
            Op::Return {
                receipt_id,
                return_id,
            } => {
                returns += 1;
                expect_reversal(&mut expected, receipt_id, return_id, &response);
            }
            Op::Cancel { receipt_id } => {
                cancels += 1;
                let op = format!("cancel/{receipt_id}");
                expect_reversal(&mut expected, receipt_id, &op, &response);
            }
        }
    }
    for (receipt_id, response) in &abandoned_stored {
        expect_commit(&mut expected, receipt_id, response);
    }
    by_op.retain(|(_, _, kind), _| kind != "mature" && kind != "expire");
    if by_op != expected {
        let mut differences = Vec::new();
        for key in by_op.keys().chain(expected.keys()).collect::<HashSet<_>>() {
            let (got, want) = (by_op.get(key), expected.get(key));
            if got != want {
                differences.push(format!("{key:?}: ledger {got:?}, answered {want:?}"));
            }
        }
        differences.sort();
        differences.truncate(30);
        panic!(
            "{backend} (seed {seed}): the ledger's entries differ from the acknowledged operations:\n{}",
            differences.join("\n")
        );
    }

    let stats = &shared.stats;
    let status = server.stop();
    assert!(
        status.success(),
        "{backend}: the final server did not stop cleanly: {status:?}"
    );
    let check = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["check", "--database", db])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{backend} (seed {seed}): tessera check failed:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    // Read straight from the database (for PostgreSQL: from the test's schema, so this
    // also proves the URL's search_path reached the server): every acknowledged
    // operation is there, and its stored instant (microseconds) tells whether an attempt
    // the kill left unanswered had already stored it, the retry being answered from the
    // stored response.
    let store = direct.open().await;
    let mut replayed = 0;
    for outcome in outcomes.iter().flatten().filter(|o| o.status == 200) {
        let (receipt_id, op_id) = match &outcome.op {
            Op::Commit { receipt_id } => (receipt_id, format!("commit/{receipt_id}")),
            Op::Return {
                receipt_id,
                return_id,
            } => (receipt_id, return_id.clone()),
            Op::Cancel { receipt_id } => (receipt_id, format!("cancel/{receipt_id}")),
        };
        let stored = store
            .receipt(receipt_id)
            .await
            .expect("read a receipt")
            .unwrap_or_else(|| {
                panic!("{backend}: receipt {receipt_id} is not in the database the test reads")
            });
        let version = stored
            .versions
            .iter()
            .find(|v| v.op_id == op_id)
            .unwrap_or_else(|| panic!("{backend}: {op_id} is not stored"));
        if outcome
            .retried
            .is_some_and(|sent| version.recorded_at < sent)
        {
            replayed += 1;
        }
    }
    store.close().await;

    let _ = writeln!(
        std::io::stderr(),
        "crash test ({backend}, seed {seed}): {KILLS} SIGKILLs; {commits} commits acknowledged, \
         {refused} refused (insufficient_points), {returns} returns, {cancels} cancels, \
         {abandoned} commits abandoned after a lost answer ({} of them stored), {} customers; \
         {replayed} operations stored by an attempt the kill left unanswered and answered \
         on the retry; {} requests, {} transport errors ({} with the answer \
         lost), {} busy, {} other 5xx; restarts {restarts:.1?}, load {:.1?}, total {:.1?}",
        abandoned_stored.len(),
        customers.len(),
        stats.requests.load(Ordering::Relaxed),
        stats.transport_errors.load(Ordering::Relaxed),
        stats.answers_lost.load(Ordering::Relaxed),
        stats.busy.load(Ordering::Relaxed),
        stats.server_errors.load(Ordering::Relaxed),
        load_done,
        began.elapsed()
    );
}

/// How the test reads the database itself, without the server.
enum Direct {
    Sqlite(String),
    Postgres { url: String, schema: String },
}

impl Direct {
    async fn open(&self) -> Box<dyn Store> {
        match self {
            Direct::Sqlite(db) => Box::new(
                tessera_sqlite::SqliteStore::open(db)
                    .await
                    .expect("open the SQLite database"),
            ),
            Direct::Postgres { url, schema } => Box::new(
                tessera_postgres::PostgresStore::open_in_schema(url, schema)
                    .await
                    .expect("open the test schema"),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The backends.

/// Removes the SQLite files however the test ends.
struct TempDb(std::path::PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_and_duplicates_nothing_sqlite() {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let path =
        std::env::temp_dir().join(format!("tessera-crash-{}-{nanos}.db", std::process::id()));
    let _cleanup = TempDb(path.clone());
    let db = format!("sqlite://{}", path.display());
    run_scenario("sqlite", &db, Direct::Sqlite(db.clone())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_and_duplicates_nothing_postgres() {
    let Some(url) = common::postgres_url("the PostgreSQL crash test") else {
        return;
    };
    let schema = common::schema_name("tessera_crash");
    // Creates the schema (and its tables); the binary reaches it through the URL's
    // `options`, which sqlx passes to the server as `-c search_path=...`.
    let direct = Direct::Postgres {
        url: url.clone(),
        schema: schema.clone(),
    };
    direct.open().await.close().await;
    let _cleanup = TempSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let db = common::url_in_schema(&url, &schema);
    run_scenario("postgres", &db, direct).await;
}
