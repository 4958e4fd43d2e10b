//! On PostgreSQL, retries change nothing: random sequences of commits, returns and
//! cancels, duplicated and reordered, end in the state of the clean sequence, with
//! every duplicate answered byte for byte (`tessera_store::contract_retries`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use proptest::prelude::*;
use std::sync::{Arc, Mutex};
use tessera_postgres::PostgresStore;
use tessera_store::contract_retries::{clean_sequence, retries_change_nothing};
use tessera_store::Store;

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn duplicated_and_reordered_retries_change_nothing(
        receipts in proptest::collection::vec((1_000i64..500_000, any::<bool>(), 0u8..4), 1..12),
        copies in proptest::collection::vec((0usize..3, 0usize..6), 32),
    ) {
        let Some(url) = common::database_url("postgres duplicated_and_reordered_retries_change_nothing") else {
            return Ok(());
        };
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let schemas = Mutex::new(Vec::new());
        let outcome = runtime.block_on(async {
            let outcome = retries_change_nothing(
                || {
                    let schema = common::fresh_schema();
                    schemas.lock().unwrap().push(schema.clone());
                    let url = url.clone();
                    async move {
                        Arc::new(PostgresStore::open_in_schema(&url, &schema).await.unwrap()) as Arc<dyn Store>
                    }
                },
                &clean_sequence(&receipts),
                &copies,
            )
            .await;
            let dropped: Vec<String> = schemas.lock().unwrap().clone();
            for schema in dropped {
                let _ = PostgresStore::drop_schema(&url, &schema).await;
            }
            outcome
        });
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}
