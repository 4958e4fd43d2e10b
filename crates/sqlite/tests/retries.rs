//! On SQLite, retries change nothing: random sequences of commits, returns and cancels,
//! duplicated and reordered, end in the state of the clean sequence, with every
//! duplicate answered byte for byte (`tessera_store::contract_retries`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use tessera_sqlite::SqliteStore;
use tessera_store::contract_retries::{clean_sequence, retries_change_nothing};
use tessera_store::Store;

static COUNTER: AtomicU32 = AtomicU32::new(0);

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn duplicated_and_reordered_retries_change_nothing(
        receipts in proptest::collection::vec((1_000i64..500_000, any::<bool>(), 0u8..4), 1..12),
        copies in proptest::collection::vec((0usize..3, 0usize..6), 32),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let paths = Mutex::new(Vec::new());
        let outcome = runtime.block_on(retries_change_nothing(
            || {
                let n = COUNTER.fetch_add(1, Ordering::SeqCst);
                let path = std::env::temp_dir()
                    .join(format!("tessera-retries-{}-{n}.db", std::process::id()))
                    .display()
                    .to_string();
                paths.lock().unwrap().push(path.clone());
                async move { Arc::new(SqliteStore::open(&path).await.unwrap()) as Arc<dyn Store> }
            },
            &clean_sequence(&receipts),
            &copies,
        ));
        for path in paths.lock().unwrap().iter() {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{path}{suffix}"));
            }
        }
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}
