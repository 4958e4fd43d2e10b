//! Writes are answered only once their commit is synced to disk by the sync thread;
//! when a sync fails, that write and every later one are refused.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use tessera_store::{Store, StoreError};

#[tokio::test]
async fn a_failed_sync_refuses_its_write_and_every_later_one_and_reads_go_on() {
    let path = std::env::temp_dir().join(format!("tessera-sync-{}.db", std::process::id()));
    let url = path.display().to_string();
    let wal = format!("{url}-wal");
    let store = tessera_sqlite::SqliteStore::open(&url).await.unwrap();
    store.put_products(Vec::new()).await.unwrap();
    assert!(std::path::Path::new(&wal).exists());

    // SQLite keeps writing to the file it has open; the sync thread, which opens the
    // WAL by its name for each sync, can no longer find it.
    std::fs::remove_file(&wal).unwrap();
    let refused = store.put_products(Vec::new()).await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::Backend(m) if m.contains("synced to disk")),
        "{refused:?}"
    );
    let later = store.put_products(Vec::new()).await.unwrap_err();
    assert!(
        matches!(&later, StoreError::Backend(m) if m.contains("restarted")),
        "{later:?}"
    );
    // Reads still answer.
    assert!(store.products().await.unwrap().is_empty());
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
}
