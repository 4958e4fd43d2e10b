#![allow(clippy::panic)]
//! The SQLite adapter against the store contract.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tessera_store::Store;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn temp_db() -> std::path::PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    std::env::temp_dir().join(format!("tessera-contract-{}-{n}.db", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_store_contract() {
    let paths = std::sync::Mutex::new(Vec::new());
    let outcome = tessera_store::contract::run_all(|| {
        let path = temp_db();
        if let Ok(mut p) = paths.lock() {
            p.push(path.clone());
        }
        async move {
            let store = tessera_sqlite::SqliteStore::open(&path.display().to_string()).await;
            Arc::new(store.unwrap_or_else(|e| panic!("open: {e}"))) as Arc<dyn Store>
        }
    })
    .await;
    for path in paths.lock().map(|p| p.clone()).unwrap_or_default() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    if let Err(message) = outcome {
        panic!("contract violated: {message}");
    }
}
