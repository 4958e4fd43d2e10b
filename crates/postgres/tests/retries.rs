//! On PostgreSQL, retries change nothing: a random sequence of commits, returns and cancels, each
//! delivered one to three times with late duplicates reordered after later requests,
//! ends in the same state as the clean sequence, and every duplicate gets the first
//! delivery's response byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use std::sync::Arc;
use tessera_core::catalog::{Product, Store as ChainStore};
use tessera_core::customer::Customer;
use tessera_core::program::Program;
use tessera_core::promotion::{Effect, Percent, Promotion};
use tessera_core::receipt::{CustomerRef, ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::snapshot::ConfigSnapshot;
use tessera_postgres::PostgresStore;

mod common;
use tessera_store::{CancelCommand, CommitCommand, Committed, ReturnCommand, Returned, Store};

#[derive(Debug, Clone)]
enum Op {
    Commit {
        n: usize,
        price: i64,
        redeem_max: bool,
    },
    Return {
        n: usize,
    },
    Cancel {
        n: usize,
    },
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).single().unwrap()
}

async fn open(url: &str) -> (PostgresStore, String, Arc<ConfigSnapshot>) {
    let path = common::fresh_schema();
    let store = PostgresStore::open_in_schema(url, &path).await.unwrap();
    let program = Program {
        currency: "RUB".into(),
        point_value: 100,
        pending_days: 0,
        expiry_days: 0,
        max_redeem_percent: 100,
    };
    let shop = ChainStore {
        store_id: "s1".into(),
        name: "Shop".into(),
        timezone: "Europe/Moscow".into(),
        region: None,
        tags: vec![],
    };
    let product = Product {
        sku: "A".into(),
        name: "A".into(),
        category: None,
        brand: None,
        tags: vec![],
        no_points_payment: false,
    };
    let earn = Promotion::new(
        "earn",
        "earn",
        vec![Effect::EarnPoints {
            percent: Percent(2000),
            items: None,
        }],
    );
    store.put_program(program.clone()).await.unwrap();
    store.put_store(shop.clone()).await.unwrap();
    store.put_products(vec![product.clone()]).await.unwrap();
    store.put_promotion(earn.clone(), now()).await.unwrap();
    store
        .create_customers(vec![Customer {
            customer_id: "c1".into(),
            name: None,
            phone: None,
            email: None,
            cards: vec!["7001".into()],
            created_at: now(),
        }])
        .await
        .unwrap();
    let config = Arc::new(ConfigSnapshot::new(
        program,
        vec![shop],
        vec![product],
        vec![earn],
    ));
    (store, path, config)
}

async fn apply(
    store: &PostgresStore,
    config: &Arc<ConfigSnapshot>,
    op: &Op,
) -> Result<Vec<u8>, String> {
    let render_return: tessera_store::Renderer<Returned> = Arc::new(|r: &Returned| {
        format!("{:?}|{:?}|{:?}", r.record.version, r.outcome, r.balance).into_bytes()
    });
    let result = match op {
        Op::Commit {
            n,
            price,
            redeem_max,
        } => {
            let request = ReceiptRequest {
                coupons: Vec::new(),
                certificates: Vec::new(),
                receipt_id: format!("r{n}"),
                store_id: "s1".into(),
                terminal_id: "T1".into(),
                at: now().fixed_offset(),
                customer: Some(CustomerRef::Card("7001".into())),
                lines: vec![ReceiptLine {
                    line: 1,
                    sku: "A".into(),
                    qty: 2000,
                    price: *price,
                }],
                redeem: if *redeem_max {
                    Redeem::Max
                } else {
                    Redeem::None
                },
            };
            store
                .commit_receipt(CommitCommand {
                    request_hash: format!("{n}-{price}-{redeem_max}"),
                    request,
                    expect_to_pay: None,
                    config: config.clone(),
                    new_customer_id: "unused".into(),
                    new_code: tessera_store::contract::counting_codes(),
                    now: now(),
                    render: Arc::new(|c: &Committed| {
                        format!("{:?}", c.record.calculation).into_bytes()
                    }),
                })
                .await
        }
        Op::Return { n } => {
            store
                .return_receipt(ReturnCommand {
                    receipt_id: format!("r{n}"),
                    return_id: format!("ret{n}"),
                    request_hash: format!("ret{n}"),
                    at: now().fixed_offset(),
                    terminal_id: None,
                    lines: vec![(1, 1000)],
                    now: now(),
                    render: render_return,
                })
                .await
        }
        Op::Cancel { n } => {
            store
                .cancel_receipt(CancelCommand {
                    receipt_id: format!("r{n}"),
                    at: now().fixed_offset(),
                    terminal_id: None,
                    now: now(),
                    render: render_return,
                })
                .await
        }
    };
    result.map_err(|e| e.to_string())
}

async fn final_state(store: &PostgresStore) -> (i64, i64, usize, Vec<String>) {
    let ledger = store.customer_ledger("c1").await.unwrap();
    let entries = store.ledger_entries("c1", 0, 10_000).await.unwrap();
    let mut receipts = Vec::new();
    for n in 0..12 {
        if let Some(stored) = store.receipt(&format!("r{n}")).await.unwrap() {
            receipts.push(format!(
                "{:?} {:?}",
                stored.record,
                stored
                    .versions
                    .iter()
                    .map(|v| (&v.kind, &v.response))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(store.check().await.unwrap().ok());
    (ledger.pending, ledger.available, entries.len(), receipts)
}

async fn cleanup(url: &str, schema: &str) {
    let _ = PostgresStore::drop_schema(url, schema).await;
}

/// A valid clean sequence: receipts 0..n committed in order, some returned (one of two
/// units) and some cancelled afterwards.
fn clean_ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec((1_000i64..500_000, any::<bool>(), 0u8..4), 1..12).prop_map(
        |receipts| {
            let mut ops = Vec::new();
            for (n, (price, redeem_max, fate)) in receipts.into_iter().enumerate() {
                ops.push(Op::Commit {
                    n,
                    price,
                    redeem_max,
                });
                if fate == 1 || fate == 3 {
                    ops.push(Op::Return { n });
                }
                if fate >= 2 {
                    ops.push(Op::Cancel { n });
                }
            }
            ops
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn duplicated_and_reordered_retries_change_nothing(ops in clean_ops(), copies in proptest::collection::vec((0usize..3, 0usize..6), 32)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let Some(url) = common::database_url("postgres duplicated_and_reordered_retries_change_nothing") else {
            return Ok(());
        };
        runtime.block_on(async {
            let (clean, clean_path, clean_config) = open(&url).await;
            let mut expected = Vec::new();
            for op in &ops {
                expected.push(apply(&clean, &clean_config, op).await);
            }
            let clean_state = final_state(&clean).await;
            clean.close().await;
            cleanup(&url, &clean_path).await;

            // Deliver each op once in order; extra copies land up to 5 positions later.
            let mut schedule: Vec<(usize, usize)> = ops.iter().enumerate().map(|(idx, _)| (idx * 10, idx)).collect();
            for (idx, (extra, delay)) in copies.iter().enumerate().take(ops.len()) {
                for copy in 0..*extra {
                    schedule.push((idx * 10 + (delay + copy) * 10 + 5, idx));
                }
            }
            schedule.sort();
            let (noisy, noisy_path, noisy_config) = open(&url).await;
            let mut first: Vec<Option<Result<Vec<u8>, String>>> = vec![None; ops.len()];
            for (_, idx) in schedule {
                let response = apply(&noisy, &noisy_config, &ops[idx]).await;
                match &first[idx] {
                    None => {
                        assert_eq!(&response, &expected[idx], "first delivery of {:?} differs from the clean run", ops[idx]);
                        first[idx] = Some(response);
                    }
                    Some(original) => assert_eq!(&response, original, "a retry of {:?} got another answer", ops[idx]),
                }
            }
            let noisy_state = final_state(&noisy).await;
            noisy.close().await;
            cleanup(&url, &noisy_path).await;
            assert_eq!(noisy_state, clean_state);
        });
    }
}
