//! The test database: `TESSERA_TEST_POSTGRES` (a URL) selects it; each store lives in a
//! fresh schema dropped afterwards. Without the variable the tests skip loudly, and
//! with `TESSERA_REQUIRE_POSTGRES=1` they fail instead.
#![allow(dead_code)]

use sqlx::{ConnectOptions, PgConnection};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};

/// The database URL, or `None` when the tests should skip.
pub fn database_url(test: &str) -> Option<String> {
    match std::env::var("TESSERA_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("TESSERA_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("{test}: TESSERA_REQUIRE_POSTGRES=1 but TESSERA_TEST_POSTGRES is not set");
            }
            // Written to the stderr handle itself, which the test harness does not
            // capture, so the skip shows even when the test "passes".
            use std::io::Write;
            static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
            if SAID.swap(true, Ordering::SeqCst) {
                return None;
            }
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED {test}: set TESSERA_TEST_POSTGRES=postgres://user@host/db to run the PostgreSQL tests !!!\n"
            );
            None
        }
    }
}

/// A schema name no other test (or test process) uses.
pub fn fresh_schema() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("tessera_test_{}_{n}_{nanos}", std::process::id())
}

/// A plain connection working in `schema`, for tests that read or change rows behind a
/// store's back.
#[allow(clippy::unwrap_used)]
pub async fn raw(url: &str, schema: &str) -> PgConnection {
    sqlx::postgres::PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema)])
        .connect()
        .await
        .unwrap()
}
