#![allow(clippy::panic)]
//! The PostgreSQL adapter against the store contract.

mod common;

use std::sync::Arc;
use tessera_postgres::PostgresStore;
use tessera_store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_store_contract() {
    let Some(url) = common::database_url("postgres_passes_the_store_contract") else {
        return;
    };
    let schemas = std::sync::Mutex::new(Vec::new());
    let outcome = tessera_store::contract::run_all(|| {
        let schema = common::fresh_schema();
        if let Ok(mut s) = schemas.lock() {
            s.push(schema.clone());
        }
        let url = url.clone();
        async move {
            let store = PostgresStore::open_in_schema(&url, &schema).await;
            Arc::new(store.unwrap_or_else(|e| panic!("open: {e}"))) as Arc<dyn Store>
        }
    })
    .await;
    for schema in schemas.lock().map(|s| s.clone()).unwrap_or_default() {
        let _ = PostgresStore::drop_schema(&url, &schema).await;
    }
    if let Err(message) = outcome {
        panic!("contract violated: {message}");
    }
}
