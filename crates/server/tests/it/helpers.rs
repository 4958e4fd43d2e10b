//! `spawn_app`, request helpers and the shared chain configuration.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tessera_server::clock::ManualClock;
use tessera_server::{AppState, ServerOptions};
use tessera_sqlite::SqliteStore;
use tessera_store::Store;
use tokio::sync::oneshot;

pub const TOKEN: &str = "test-token";

/// The instant every test starts at: 2026-03-10T09:00:00Z (12:00 in Moscow).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
}

/// An instant as Moscow local time with offset, as a till in msk-1 sends it.
pub fn msk(at: DateTime<Utc>) -> String {
    at.with_timezone(&FixedOffset::east_opt(3 * 3600).unwrap())
        .to_rfc3339()
}

/// An instant as RFC 3339 UTC (`Z`), safe in a query string.
pub fn utc(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub db_path: PathBuf,
    pub store: Arc<dyn Store>,
    /// The messages the server sent (one-time codes).
    pub sender: Arc<tessera_server::sender::MemorySender>,
    /// The server's state, for running its background jobs on demand.
    pub state: Arc<AppState>,
    /// On PostgreSQL: the database URL and the test's schema, dropped at the end.
    postgres: Option<(String, String)>,
    shutdown: Option<oneshot::Sender<()>>,
}

/// `TESSERA_TEST_SERVER_STORE=postgres` (with `TESSERA_TEST_POSTGRES`) runs every HTTP
/// test against PostgreSQL, each in a schema of its own; the default is SQLite.
fn postgres_url() -> Option<String> {
    if std::env::var("TESSERA_TEST_SERVER_STORE").as_deref() != Ok("postgres") {
        return None;
    }
    match std::env::var("TESSERA_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => panic!("TESSERA_TEST_SERVER_STORE=postgres needs TESSERA_TEST_POSTGRES"),
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub async fn spawn_app() -> TestApp {
    spawn_app_with(None, None).await
}

/// A test server with these rate limits (per key, and per customer spending points).
pub async fn spawn_app_with(
    key_rate: Option<tessera_core::rate::Rate>,
    redeem_rate: Option<tessera_core::rate::Rate>,
) -> TestApp {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let db_path = std::env::temp_dir().join(format!(
        "tessera-it-{}-{}-{}.db",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        nanos
    ));
    let (store, postgres): (Arc<dyn Store>, _) = match postgres_url() {
        Some(url) => {
            let schema = format!(
                "tessera_it_{}_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::SeqCst),
                nanos % 1_000_000_000
            );
            let store = tessera_postgres::PostgresStore::open_in_schema(&url, &schema)
                .await
                .unwrap();
            (Arc::new(store), Some((url, schema)))
        }
        None => (
            Arc::new(SqliteStore::open(db_path.to_str().unwrap()).await.unwrap()),
            None,
        ),
    };
    let clock = Arc::new(ManualClock::new(t0()));
    let sender = Arc::new(tessera_server::sender::MemorySender::default());
    let state = AppState::new(
        store.clone(),
        clock.clone(),
        ServerOptions {
            admin_token: Some(TOKEN.to_string()),
            catch_up_every: std::time::Duration::from_secs(3600),
            key_rate,
            redeem_rate,
            sender: sender.clone(),
        },
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(tessera_server::serve(listener, state.clone(), async move {
        let _ = rx.await;
    }));
    TestApp {
        base_url: format!("http://{addr}"),
        client: reqwest::Client::new(),
        clock,
        db_path,
        store,
        sender,
        state,
        postgres,
        shutdown: Some(tx),
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.db_path.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(path));
        }
        if let Some((url, schema)) = self.postgres.take() {
            // Drop runs outside async code: drop the schema on a thread of its own.
            let _ = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    let _ = runtime
                        .block_on(tessera_postgres::PostgresStore::drop_schema(&url, &schema));
                }
            })
            .join();
        }
    }
}

pub fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

impl TestApp {
    /// One request; `auth` is the full Authorization header value, if any.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        auth: Option<&str>,
    ) -> (u16, Vec<u8>) {
        let mut request = self
            .client
            .request(method, format!("{}{}", self.base_url, path));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    }

    /// A request with the bearer `token` (a key or a session token), the body as JSON.
    pub async fn with_token(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let (status, bytes) = self
            .send(
                method,
                path,
                body.map(|b| serde_json::to_vec(b).unwrap()),
                Some(&format!("Bearer {token}")),
            )
            .await;
        (status, parse(&bytes))
    }

    async fn authed(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> (u16, Vec<u8>) {
        self.send(method, path, body, Some(&format!("Bearer {TOKEN}")))
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, bytes) = self
            .authed(Method::PUT, path, Some(serde_json::to_vec(body).unwrap()))
            .await;
        (status, parse(&bytes))
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, bytes) = self.post_bytes(path, body).await;
        (status, parse(&bytes))
    }

    /// A POST answering the raw response bytes (for byte-identical retries).
    pub async fn post_bytes(&self, path: &str, body: &Value) -> (u16, Vec<u8>) {
        self.authed(Method::POST, path, Some(serde_json::to_vec(body).unwrap()))
            .await
    }

    pub async fn post_raw(&self, path: &str, bytes: &[u8]) -> (u16, Value) {
        let (status, bytes) = self.authed(Method::POST, path, Some(bytes.to_vec())).await;
        (status, parse(&bytes))
    }

    /// A GET answering the raw response bytes.
    pub async fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        self.authed(Method::GET, path, None).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (status, bytes) = self.authed(Method::GET, path, None).await;
        (status, parse(&bytes))
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let (status, bytes) = self.authed(Method::DELETE, path, None).await;
        (status, parse(&bytes))
    }

    /// Registers a customer and answers its id.
    pub async fn create_customer(&self, body: Value) -> String {
        let (status, out) = self.post("/v1/customers", &body).await;
        assert_eq!(status, 201, "{out}");
        out["customer_id"].as_str().unwrap().to_string()
    }

    /// `(available, pending)` now.
    pub async fn balance(&self, customer_id: &str) -> (i64, i64) {
        let (status, out) = self
            .get(&format!("/v1/customers/{customer_id}/balance"))
            .await;
        assert_eq!(status, 200, "{out}");
        (
            out["available"].as_i64().unwrap(),
            out["pending"].as_i64().unwrap(),
        )
    }

    /// All ledger entries of a customer.
    pub async fn ledger(&self, customer_id: &str) -> Vec<Value> {
        let (status, out) = self
            .get(&format!("/v1/customers/{customer_id}/ledger?limit=1000"))
            .await;
        assert_eq!(status, 200, "{out}");
        out["entries"].as_array().unwrap().clone()
    }

    /// Moves the clock forward.
    pub fn advance_days(&self, days: i64) {
        self.clock.advance(Duration::days(days));
    }

    /// The store's consistency check passes.
    pub async fn assert_store_ok(&self) {
        let report = self.store.check().await.unwrap();
        assert!(report.ok(), "store check failed: {report:?}");
    }
}

/// The customer-account sums of ledger entries: `(available, pending)`.
pub fn customer_sums(entries: &[Value]) -> (i64, i64) {
    let (mut available, mut pending) = (0, 0);
    for entry in entries {
        let amount = entry["amount"].as_i64().unwrap();
        for (account, sign) in [(&entry["debit"], -1), (&entry["credit"], 1)] {
            match account.as_str().unwrap() {
                "customer_available" => available += sign * amount,
                "customer_pending" => pending += sign * amount,
                _ => {}
            }
        }
    }
    (available, pending)
}

/// Kinds of the entries, in order.
pub fn kinds(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

/// Checks an error response: status, code and the exact shape
/// `{"error":{"code","message"[,"field"]}}`. Answers the field.
pub fn assert_error(response: &(u16, Value), status: u16, code: &str) -> Option<String> {
    let (actual, body) = response;
    assert_eq!(*actual, status, "status of {body}");
    let top = body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {body}"));
    assert_eq!(
        top.keys().collect::<Vec<_>>(),
        vec!["error"],
        "top-level members of {body}"
    );
    let error = top["error"].as_object().unwrap();
    for key in error.keys() {
        assert!(
            ["code", "message", "field"].contains(&key.as_str()),
            "unexpected member {key} in {body}"
        );
    }
    assert_eq!(error["code"], code, "code of {body}");
    assert!(
        !error["message"].as_str().unwrap().is_empty(),
        "empty message in {body}"
    );
    error.get("field").map(|f| f.as_str().unwrap().to_string())
}

/// `n * num / den` rounded half to even, for hand checks of return shares.
pub fn half_even(numerator: i64, denominator: i64) -> i64 {
    let q = numerator.div_euclid(denominator);
    let r = numerator.rem_euclid(denominator);
    if r * 2 > denominator || (r * 2 == denominator && q % 2 != 0) {
        q + 1
    } else {
        q
    }
}

/// A receipt body for store msk-1, terminal T1, at `at`.
pub fn receipt(
    receipt_id: &str,
    at: DateTime<Utc>,
    customer: Option<Value>,
    lines: Value,
) -> Value {
    let mut body = json!({
        "receipt_id": receipt_id,
        "store_id": "msk-1",
        "terminal_id": "T1",
        "at": msk(at),
        "lines": lines,
    });
    if let Some(customer) = customer {
        body["customer"] = customer;
    }
    body
}

/// Program RUB (1 point = 100 kopecks, 14 pending days, 365 expiry days, points pay at
/// most 50%), stores msk-1 and vvo-1, products, a 5% earn on everything and 10% off
/// shoes (priority 10).
pub async fn setup_chain(app: &TestApp) {
    let calls = [
        (
            "/v1/program",
            json!({"currency":"RUB","point_value":100,"pending_days":14,"expiry_days":365,"max_redeem_percent":50}),
        ),
        (
            "/v1/stores/msk-1",
            json!({"name":"Moscow 1","timezone":"Europe/Moscow","region":"msk","tags":["flagship"]}),
        ),
        (
            "/v1/stores/vvo-1",
            json!({"name":"Vladivostok 1","timezone":"Asia/Vladivostok"}),
        ),
        (
            "/v1/products/SHOE-1",
            json!({"name":"Sneakers","category":"shoes","brand":"acme"}),
        ),
        (
            "/v1/products/MILK-1",
            json!({"name":"Milk 1l","category":"dairy"}),
        ),
        (
            "/v1/products/APPLE-KG",
            json!({"name":"Apples, per kg","category":"fruit"}),
        ),
        (
            "/v1/products/CIG-1",
            json!({"name":"Cigarettes","category":"tobacco","no_points_payment":true}),
        ),
        (
            "/v1/promotions/earn5",
            json!({"name":"5% back in points","effects":[{"type":"earn_points","percent":5}]}),
        ),
        (
            "/v1/promotions/shoes10",
            json!({"name":"10% off shoes","priority":10,"effects":[{"type":"percent_off","percent":10,"items":{"category":["shoes"]}}]}),
        ),
    ];
    for (path, body) in calls {
        let (status, out) = app.put(path, &body).await;
        assert_eq!(status, 200, "PUT {path}: {out}");
    }
}

/// Promotion `budget`: 10% off dairy with a budget of 25.00, so receipts of 100.00
/// take 10.00 each and two fit.
pub async fn put_dairy_budget(app: &TestApp) {
    let budget = json!({"name": "Budgeted", "priority": 100, "limits": {"total_discount": 2500},
        "effects": [{"type": "percent_off", "percent": 10, "items": {"category": ["dairy"]}}]});
    let (status, out) = app.put("/v1/promotions/budget", &budget).await;
    assert_eq!(status, 200, "{out}");
}

/// `body` with `"coupons": codes`.
pub fn with_coupons(mut body: Value, codes: &[&str]) -> Value {
    body["coupons"] = json!(codes);
    body
}

/// The money a promotion gave on a calculated or committed receipt.
pub fn discount_of(body: &Value, promotion_id: &str) -> i64 {
    body["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["promotion_id"] == promotion_id)
        .map(|p| p["discount"].as_i64().unwrap())
        .sum()
}

impl TestApp {
    /// Creates or updates a coupon series; the response must be 200.
    pub async fn put_series(&self, body: &Value) -> Value {
        let (status, out) = self.post("/v1/coupon-series", body).await;
        assert_eq!(status, 200, "POST /v1/coupon-series {body}: {out}");
        out
    }

    /// Generates `count` codes of a series.
    pub async fn generate_codes(&self, series: &str, count: u32) -> Vec<String> {
        let (status, out) = self
            .post(
                &format!("/v1/coupon-series/{series}/generate"),
                &json!({ "count": count }),
            )
            .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["series"], series);
        out["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    }

    /// Commits every body at once, each from its own task; answers in body order.
    pub async fn commit_concurrently(&self, bodies: Vec<Value>) -> Vec<(u16, Value)> {
        let start = Arc::new(tokio::sync::Barrier::new(bodies.len()));
        let tasks: Vec<_> = bodies
            .into_iter()
            .map(|body| {
                let client = self.client.clone();
                let url = format!("{}/v1/receipts/commit", self.base_url);
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    let response = client
                        .post(url)
                        .bearer_auth(TOKEN)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    let status = response.status().as_u16();
                    (status, response.json::<Value>().await.unwrap())
                })
            })
            .collect();
        let mut out = Vec::with_capacity(tasks.len());
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    }
}
