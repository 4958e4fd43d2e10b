#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! The store over TLS: with `sslmode=require` the connection is encrypted and the whole
//! receipts contract runs over it. Needs a server with `ssl = on`; one without it is
//! skipped loudly.

mod common;

use sqlx::{Connection, Row};
use tessera_postgres::PostgresStore;
use tessera_store::Store;

fn with_sslmode(url: &str, mode: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode={mode}")
}

#[tokio::test]
async fn the_store_works_over_tls_when_required() {
    let Some(url) = common::database_url("the_store_works_over_tls_when_required") else {
        return;
    };
    let mut plain = sqlx::PgConnection::connect(&with_sslmode(&url, "disable"))
        .await
        .unwrap();
    let ssl: String = sqlx::query("SHOW ssl")
        .fetch_one(&mut plain)
        .await
        .unwrap()
        .get(0);
    plain.close().await.unwrap();
    if ssl != "on" {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! SKIPPED the_store_works_over_tls_when_required: the test server has ssl = {ssl} !!!\n"
        );
        return;
    }
    let required = with_sslmode(&url, "require");
    let mut conn = sqlx::PgConnection::connect(&required).await.unwrap();
    let encrypted: bool = sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    conn.close().await.unwrap();
    assert!(encrypted, "sslmode=require gave a plain connection");

    let schema = common::fresh_schema();
    let store = PostgresStore::open_in_schema(&required, &schema)
        .await
        .unwrap();
    let outcome = tessera_store::contract::receipts_ledger_and_returns(&store).await;
    let report = store.check().await;
    store.close().await;
    let _ = PostgresStore::drop_schema(&url, &schema).await;
    outcome.unwrap();
    assert!(report.unwrap().ok(), "check over TLS");
}
