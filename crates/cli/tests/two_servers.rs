//! Two `tessera serve` processes on one PostgreSQL schema, as a chain runs them behind a
//! load balancer.
//!
//! Both start at the same moment on a fresh, empty schema (each applies the migrations at
//! start under an advisory lock). Then:
//! 1. the chain is configured through server A, and a promotion put, changed and deleted
//!    through A is priced by server B within [`PROPAGATION_BOUND`] (B polls the store's
//!    configuration version every 500 ms);
//! 2. points earned through A are spent through B, and 20 concurrent commits redeeming
//!    points, alternating between A and B, never overspend the balance; every refusal is
//!    `409 insufficient_points`;
//! 3. a receipt committed on A and retried on B gets the byte-identical answer, the same
//!    id with another body is `409 receipt_conflict`, and the same commit sent to both at
//!    once is stored once;
//! 4. both stop cleanly on SIGTERM and `tessera check` passes.
//!
//! PostgreSQL only: runs when `TESSERA_TEST_POSTGRES` is set (skips loudly otherwise;
//! `TESSERA_REQUIRE_POSTGRES=1` makes a missing URL a failure). The empty schema is made
//! with `psql` when it is installed; without it the test falls back to a schema the test
//! migrates itself (and says so), so the servers' concurrent migration finds nothing to do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{error_code, json_of, say, Server, TempSchema};

use reqwest::Method;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use tessera_store::Store;

const TOKEN: &str = "two-servers-test";
/// A configuration change made through one server is priced by the other within this
/// time: the 500 ms poll, plus room for scheduling and the 100 ms probing step.
const PROPAGATION_BOUND: Duration = Duration::from_millis(1500);
/// How long to keep probing before giving up (longer than the bound, so a failure says
/// how late the change arrived, if at all).
const PROBE_GIVE_UP: Duration = Duration::from_secs(5);
const PROBE_EVERY: Duration = Duration::from_millis(100);
const CARD: &str = "7700001";
const STORM: usize = 20;
const STORM_REDEEM: i64 = 50;

/// Starts both servers at the same moment, each from its own thread.
fn start_both(db: &str) -> (Server, Server) {
    let gate = Arc::new(Barrier::new(2));
    let start = |name: &'static str| {
        let (gate, db) = (gate.clone(), db.to_string());
        std::thread::spawn(move || {
            gate.wait();
            Server::start(name, &db, TOKEN)
        })
    };
    let (a, b) = (start("A"), start("B"));
    let a = a.join();
    let b = b.join();
    match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => panic!(
            "the two servers did not both start: A {}, B {}",
            if a.is_ok() { "started" } else { "failed" },
            if b.is_ok() { "started" } else { "failed" }
        ),
    }
}

// ---------------------------------------------------------------------------------------
// Requests.

struct Api {
    client: reqwest::Client,
    /// `503 busy` answers met (and resent, as the protocol says).
    busy: AtomicU64,
}

impl Api {
    async fn send(&self, method: Method, url: &str, body: Option<&[u8]>) -> (u16, Vec<u8>) {
        let mut request = self.client.request(method.clone(), url).bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: reading the answer: {e}"));
        (status, bytes.to_vec())
    }

    /// A POST resent with the same bytes while the answer is `503 busy` (PostgreSQL: the
    /// write met concurrent writes too often and wrote nothing).
    async fn post(&self, url: &str, body: &[u8]) -> (u16, Vec<u8>) {
        for _ in 0..50 {
            let (status, bytes) = self.send(Method::POST, url, Some(body)).await;
            if status == 503 && error_code(&bytes) == "busy" {
                self.busy.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            return (status, bytes);
        }
        panic!("POST {url}: busy 50 times in a row");
    }

    async fn get(&self, url: &str) -> (u16, Value) {
        let (status, bytes) = self.send(Method::GET, url, None).await;
        (status, json_of(&bytes))
    }

    /// An admin write that must succeed.
    async fn admin(&self, method: Method, url: &str, body: Value) -> Value {
        let body = serde_json::to_vec(&body).unwrap();
        let (status, bytes) = self.send(method.clone(), url, Some(&body)).await;
        let value = json_of(&bytes);
        assert!(
            status == 200 || status == 201,
            "{method} {url}: {status} {value}"
        );
        value
    }

    async fn calculate(&self, base: &str, receipt: &Value) -> (u16, Value) {
        let body = serde_json::to_vec(receipt).unwrap();
        let (status, bytes) = self
            .post(&format!("{base}/v1/receipts/calculate"), &body)
            .await;
        (status, json_of(&bytes))
    }

    async fn available(&self, base: &str, customer: &str) -> i64 {
        let (status, balance) = self
            .get(&format!("{base}/v1/customers/{customer}/balance"))
            .await;
        assert_eq!(status, 200, "balance of {customer} via {base}: {balance}");
        assert_eq!(
            balance["pending"].as_i64(),
            Some(0),
            "pending_days is 0, so nothing is pending: {balance}"
        );
        balance["available"]
            .as_i64()
            .unwrap_or_else(|| panic!("balance without available: {balance}"))
    }

    /// Probes `server` with a calculation every [`PROBE_EVERY`] until `wanted` holds of
    /// the answer; how long after `since` that was.
    async fn until_priced(
        &self,
        server: &Server,
        receipt: &Value,
        what: &str,
        since: Instant,
        wanted: impl Fn(&Value) -> bool,
    ) -> Duration {
        let started = since;
        loop {
            let (status, answer) = self.calculate(&server.base, receipt).await;
            if status == 200 && wanted(&answer) {
                return started.elapsed();
            }
            if started.elapsed() > PROBE_GIVE_UP {
                panic!(
                    "server {} still does not price {what} {:?} after the change; its last \
                     answer: {status} {answer}\nits log:\n{}",
                    server.name,
                    started.elapsed(),
                    server.log_tail()
                );
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }
}

fn receipt(receipt_id: &str, price: i64, redeem: Option<i64>) -> Value {
    let mut body = json!({"receipt_id": receipt_id, "store_id": "s1", "terminal_id": "T1",
        "at": chrono::Utc::now().to_rfc3339(), "customer": {"card": CARD},
        "lines": [{"line": 1, "sku": "MILK", "qty": 1, "price": price}]});
    if let Some(points) = redeem {
        body["redeem_points"] = json!(points);
    }
    body
}

fn discount(answer: &Value) -> i64 {
    answer["totals"]["discount"].as_i64().unwrap_or(-1)
}

fn points(answer: &Value, key: &str) -> i64 {
    answer["rewards"][key].as_i64().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// The scenario.

async fn run(db: &str, empty_schema: bool) {
    let began = Instant::now();
    let (a, b) = tokio::task::spawn_blocking({
        let db = db.to_string();
        move || start_both(&db)
    })
    .await
    .expect("start the servers");
    let started = began.elapsed();
    let api = Api {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap(),
        busy: AtomicU64::new(0),
    };

    // 1. The chain is configured through A; B prices with it.
    let (base_a, base_b) = (a.base.clone(), b.base.clone());
    api.admin(
        Method::PUT,
        &format!("{base_a}/v1/program"),
        json!({"currency": "RUB", "point_value": 100, "pending_days": 0}),
    )
    .await;
    api.admin(
        Method::PUT,
        &format!("{base_a}/v1/stores/s1"),
        json!({"name": "Two servers", "timezone": "Europe/Moscow", "region": "central"}),
    )
    .await;
    api.admin(
        Method::PUT,
        &format!("{base_a}/v1/products/MILK"),
        json!({"name": "Milk", "category": "dairy"}),
    )
    .await;
    // Points for big receipts only, so the redeeming receipts below earn nothing.
    api.admin(
        Method::PUT,
        &format!("{base_a}/v1/promotions/earn5"),
        json!({"name": "5% back on big receipts", "conditions": {"min_amount": 500_000},
            "effects": [{"type": "earn_points", "percent": 5}]}),
    )
    .await;
    let created = api
        .admin(
            Method::POST,
            &format!("{base_a}/v1/customers"),
            json!({"name": "Shared member", "cards": [CARD]}),
        )
        .await;
    let customer = created["customer_id"].as_str().unwrap().to_string();
    let big = receipt("probe-big", 1_000_000, None);
    let configured = Instant::now();
    let initial = api
        .until_priced(&b, &big, "the initial configuration", configured, |v| {
            points(v, "points_earned") > 0
        })
        .await;

    let probe = receipt("probe", 10_000, None);
    let (_, before) = api.calculate(&base_b, &probe).await;
    assert_eq!(discount(&before), 0, "no discount yet on B: {before}");
    let mut propagation = Vec::new();
    for (step, method, body, want) in [
        (
            "10% off put",
            Method::PUT,
            json!({"name": "10% off", "effects": [{"type": "percent_off", "percent": 10}]}),
            1_000,
        ),
        (
            "changed to 20% off",
            Method::PUT,
            json!({"name": "20% off", "effects": [{"type": "percent_off", "percent": 20}]}),
            2_000,
        ),
        ("deleted", Method::DELETE, json!(null), 0),
    ] {
        let url = format!("{base_a}/v1/promotions/off");
        if method == Method::DELETE {
            let (status, bytes) = api.send(Method::DELETE, &url, None).await;
            assert_eq!(status, 200, "DELETE {url}: {}", json_of(&bytes));
        } else {
            api.admin(method, &url, body).await;
        }
        let changed = Instant::now();
        // A reloads as part of the write.
        let (_, on_a) = api.calculate(&base_a, &probe).await;
        assert_eq!(
            discount(&on_a),
            want,
            "A prices its own change ({step}): {on_a}"
        );
        let took = api
            .until_priced(&b, &probe, step, changed, |v| discount(v) == want)
            .await;
        assert!(
            took <= PROPAGATION_BOUND,
            "the promotion {step} through A reached B only after {took:?} (bound {PROPAGATION_BOUND:?})"
        );
        propagation.push(format!("{step}: {took:.0?}"));
    }

    // 2. Points earned through A are spent through B, and never overspent.
    let (status, bytes) = api
        .post(
            &format!("{base_a}/v1/receipts/commit"),
            &serde_json::to_vec(&receipt("earn-on-a", 1_000_000, None)).unwrap(),
        )
        .await;
    let earned = json_of(&bytes);
    assert_eq!(status, 200, "commit on A: {earned}");
    let first_points = points(&earned, "points_earned");
    assert!(first_points > 0, "the big receipt earns points: {earned}");
    assert_eq!(api.available(&base_b, &customer).await, first_points);

    let (status, bytes) = api
        .post(
            &format!("{base_b}/v1/receipts/commit"),
            &serde_json::to_vec(&receipt("spend-on-b", 20_000, Some(30))).unwrap(),
        )
        .await;
    let spent = json_of(&bytes);
    assert_eq!(status, 200, "B spends points earned through A: {spent}");
    assert_eq!(points(&spent, "points_redeemed"), 30, "{spent}");
    let available = api.available(&base_a, &customer).await;
    assert_eq!(
        available,
        first_points - 30 + points(&spent, "points_earned"),
        "A sees B's redemption"
    );

    let gate = Arc::new(tokio::sync::Barrier::new(STORM));
    let api = Arc::new(api);
    let storm: Vec<_> = (0..STORM)
        .map(|i| {
            let (api, gate) = (api.clone(), gate.clone());
            let base = if i % 2 == 0 {
                base_a.clone()
            } else {
                base_b.clone()
            };
            let body =
                serde_json::to_vec(&receipt(&format!("storm-{i}"), 20_000, Some(STORM_REDEEM)))
                    .unwrap();
            tokio::spawn(async move {
                gate.wait().await;
                let (status, bytes) = api.post(&format!("{base}/v1/receipts/commit"), &body).await;
                (i, status, bytes)
            })
        })
        .collect();
    let (mut successes, mut storm_spent, mut storm_earned) = (0i64, 0i64, 0i64);
    let mut refused = Vec::new();
    for task in storm {
        let (i, status, bytes) = task.await.expect("storm task");
        let answer = json_of(&bytes);
        match status {
            200 => {
                assert_eq!(
                    points(&answer, "points_redeemed"),
                    STORM_REDEEM,
                    "storm-{i}: {answer}"
                );
                successes += 1;
                storm_spent += STORM_REDEEM;
                storm_earned += points(&answer, "points_earned");
            }
            409 if error_code(&bytes) == "insufficient_points" => refused.push(i),
            _ => panic!(
                "storm-{i} via {}: want 200 or 409 insufficient_points, got {status} {answer}",
                if i % 2 == 0 { "A" } else { "B" }
            ),
        }
    }
    assert!(
        successes * STORM_REDEEM <= available,
        "overspent: {successes} commits of {STORM_REDEEM} points succeeded with {available} available"
    );
    assert_eq!(storm_earned, 0, "the small storm receipts earn nothing");
    // A refusal means the balance was below the redemption then, and it only fell since:
    // exactly as many commits as the balance covers succeed.
    assert_eq!(
        successes,
        available / STORM_REDEEM,
        "with {available} points available, {successes} of {STORM} commits of {STORM_REDEEM} succeeded"
    );
    let want = available - storm_spent + storm_earned;
    assert!(want >= 0);
    for base in [&base_a, &base_b] {
        assert_eq!(
            api.available(base, &customer).await,
            want,
            "final balance via {base}: {available} available - {storm_spent} spent + {storm_earned} earned"
        );
    }
    for i in &refused {
        let (status, value) = api.get(&format!("{base_b}/v1/receipts/storm-{i}")).await;
        assert_eq!(status, 404, "refused storm-{i} was stored: {value}");
    }

    // 3. Exactly once across processes.
    let body = serde_json::to_vec(&receipt("once-1", 30_000, None)).unwrap();
    let (status_a, first) = api
        .post(&format!("{base_a}/v1/receipts/commit"), &body)
        .await;
    assert_eq!(status_a, 200, "commit on A: {}", json_of(&first));
    let (status_b, retry) = api
        .post(&format!("{base_b}/v1/receipts/commit"), &body)
        .await;
    assert_eq!(status_b, 200, "retry on B: {}", json_of(&retry));
    assert!(
        first == retry,
        "the retry on B answered other bytes:\nA: {}\nB: {}",
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&retry)
    );
    let other = serde_json::to_vec(&receipt("once-1", 31_000, None)).unwrap();
    for base in [&base_b, &base_a] {
        let (status, bytes) = api
            .post(&format!("{base}/v1/receipts/commit"), &other)
            .await;
        assert_eq!(
            (status, error_code(&bytes)),
            (409, "receipt_conflict".to_string()),
            "another body under the same id via {base}"
        );
    }
    // The same commit sent to both at once.
    let body = serde_json::to_vec(&receipt("once-2", 40_000, None)).unwrap();
    let (url_a, url_b) = (
        format!("{base_a}/v1/receipts/commit"),
        format!("{base_b}/v1/receipts/commit"),
    );
    let ((status_a, on_a), (status_b, on_b)) =
        tokio::join!(api.post(&url_a, &body), api.post(&url_b, &body));
    assert_eq!(
        (status_a, status_b),
        (200, 200),
        "A: {}\nB: {}",
        json_of(&on_a),
        json_of(&on_b)
    );
    assert!(
        on_a == on_b,
        "one commit raced to both servers answered differently:\nA: {}\nB: {}",
        String::from_utf8_lossy(&on_a),
        String::from_utf8_lossy(&on_b)
    );
    for id in ["once-1", "once-2"] {
        let (status, stored) = api.get(&format!("{base_a}/v1/receipts/{id}")).await;
        assert_eq!(status, 200, "{id}: {stored}");
        let versions = stored["versions"].as_array().map(Vec::len);
        assert_eq!(versions, Some(1), "{id} is stored once: {stored}");
    }

    // 4. Both stop cleanly, and the database checks out.
    let busy = api.busy.load(Ordering::Relaxed);
    for server in [a, b] {
        let name = server.name.clone();
        let status = server.stop();
        assert!(
            status.success(),
            "server {name} did not stop cleanly: {status:?}"
        );
    }
    let check = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["check", "--database", db])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "tessera check failed:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    say(&format!(
        "two servers: started together in {started:.1?} ({}); initial configuration on B after \
         {initial:.0?}; promotion through A priced by B: {}; storm: {successes} of {STORM} \
         commits of {STORM_REDEEM} points succeeded with {available} available, {} refused, \
         final balance {want}; {busy} busy answers resent; total {:.1?}",
        if empty_schema {
            "empty schema, both migrating"
        } else {
            "pre-migrated schema: psql was unavailable"
        },
        propagation.join(", "),
        refused.len(),
        began.elapsed()
    ));
}

// ---------------------------------------------------------------------------------------
// The schema.

/// Creates `schema` empty with `psql`, so that the servers apply the migrations
/// themselves; false when `psql` is missing or cannot use the URL.
fn create_empty_schema(url: &str, schema: &str) -> bool {
    Command::new("psql")
        .args([
            url,
            "-w",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            &format!("CREATE SCHEMA \"{schema}\""),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_share_one_postgres_database() {
    let Some(url) = common::postgres_url("the two-servers PostgreSQL test") else {
        return;
    };
    let schema = common::schema_name("tessera_two");
    let _cleanup = TempSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let empty = create_empty_schema(&url, &schema);
    if !empty {
        say(&format!(
            "two servers test: psql could not create an empty schema; the test migrates {schema} \
             itself, so the servers' concurrent migration has nothing to apply"
        ));
        tessera_postgres::PostgresStore::open_in_schema(&url, &schema)
            .await
            .expect("create the test schema")
            .close()
            .await;
    }
    let db = common::url_in_schema(&url, &schema);
    run(&db, empty).await;
}
