//! Retries change nothing: a sequence of commits, returns and cancels, each delivered
//! one to three times with late duplicates reordered after later requests, ends in the
//! same state as the clean sequence, and every duplicate gets the first delivery's
//! response byte for byte. Adapters drive it with random sequences (proptest).

use crate::command::{CancelCommand, CommitCommand, Committed, Renderer, ReturnCommand, Returned};
use crate::contract::{counting_codes, ensure, ContractResult};
use crate::port::Store;
use chrono::{DateTime, TimeZone, Utc};
use std::future::Future;
use std::sync::Arc;
use tessera_core::customer::Customer;
use tessera_core::promotion::{Effect, Percent, Promotion};
use tessera_core::receipt::{CustomerRef, ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::snapshot::ConfigSnapshot;

/// One request of the sequence, about receipt `r{n}`.
#[derive(Debug, Clone)]
pub enum RetryOp {
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

/// A valid clean sequence from `(price, redeem_max, fate)` per receipt: receipts
/// committed in order; fate 1 returns one of two units, 2 cancels, 3 does both.
pub fn clean_sequence(receipts: &[(i64, bool, u8)]) -> Vec<RetryOp> {
    let mut ops = Vec::new();
    for (n, (price, redeem_max, fate)) in receipts.iter().enumerate() {
        ops.push(RetryOp::Commit {
            n,
            price: *price,
            redeem_max: *redeem_max,
        });
        if *fate == 1 || *fate == 3 {
            ops.push(RetryOp::Return { n });
        }
        if *fate >= 2 {
            ops.push(RetryOp::Cancel { n });
        }
    }
    ops
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// Program without a pending period, one store, one product, 20% back, member `c1`.
async fn setup(store: &dyn Store) -> Result<Arc<ConfigSnapshot>, String> {
    let e = |e: crate::StoreError| e.to_string();
    let program = crate::contract::program_with(0, 0);
    let shop = crate::contract::shop();
    let product = crate::contract::product(None);
    let earn = Promotion::new(
        "earn",
        "earn",
        vec![Effect::EarnPoints {
            percent: Percent(2000),
            items: None,
        }],
    );
    store.put_program(program.clone()).await.map_err(e)?;
    store.put_store(shop.clone()).await.map_err(e)?;
    store.put_products(vec![product.clone()]).await.map_err(e)?;
    store.put_promotion(earn.clone(), now()).await.map_err(e)?;
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
        .map_err(e)?;
    Ok(Arc::new(ConfigSnapshot::new(
        program,
        vec![shop],
        vec![product],
        vec![earn],
    )))
}

async fn apply(
    store: &dyn Store,
    config: &Arc<ConfigSnapshot>,
    op: &RetryOp,
) -> Result<Vec<u8>, String> {
    let render_return: Renderer<Returned> = Arc::new(|r: &Returned| {
        format!("{:?}|{:?}|{:?}", r.record.version, r.outcome, r.balance).into_bytes()
    });
    let result = match op {
        RetryOp::Commit {
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
                    new_code: counting_codes(),
                    now: now(),
                    render: Arc::new(|c: &Committed| {
                        format!("{:?}", c.record.calculation).into_bytes().into()
                    }),
                    profile_complete: None,
                    quote: Default::default(),
                })
                .await
        }
        RetryOp::Return { n } => {
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
                    tiers: None,
                })
                .await
        }
        RetryOp::Cancel { n } => {
            store
                .cancel_receipt(CancelCommand {
                    receipt_id: format!("r{n}"),
                    at: now().fixed_offset(),
                    terminal_id: None,
                    now: now(),
                    render: render_return,
                    tiers: None,
                })
                .await
        }
    };
    result.map_err(|e| e.to_string())
}

/// Balances, entry count and every receipt with its versions; `check` must pass.
async fn final_state(store: &dyn Store) -> Result<(i64, i64, usize, Vec<String>), String> {
    let e = |e: crate::StoreError| e.to_string();
    let ledger = store.customer_ledger("c1").await.map_err(e)?;
    let entries = store.ledger_entries("c1", 0, 10_000).await.map_err(e)?;
    let mut receipts = Vec::new();
    for n in 0..12 {
        if let Some(stored) = store.receipt(&format!("r{n}")).await.map_err(e)? {
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
    let report = store.check().await.map_err(e)?;
    ensure(report.ok(), format!("check: {report:?}"))?;
    Ok((ledger.pending, ledger.available, entries.len(), receipts))
}

/// Runs `ops` cleanly on one fresh store and, on another, with `copies[i] = (extra,
/// delay)`: op `i` delivered once more `extra` times, landing `delay..` positions
/// later. Both must end in the same state, and every duplicate must get the first
/// delivery's answer.
pub async fn retries_change_nothing<F, Fut>(
    open: F,
    ops: &[RetryOp],
    copies: &[(usize, usize)],
) -> ContractResult
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let clean = open().await;
    let config = setup(clean.as_ref()).await?;
    let mut expected = Vec::new();
    for op in ops {
        expected.push(apply(clean.as_ref(), &config, op).await);
    }
    let clean_state = final_state(clean.as_ref()).await;
    clean.close().await;
    let clean_state = clean_state?;

    let mut schedule: Vec<(usize, usize)> = (0..ops.len()).map(|idx| (idx * 10, idx)).collect();
    for (idx, (extra, delay)) in copies.iter().enumerate().take(ops.len()) {
        for copy in 0..*extra {
            schedule.push((idx * 10 + (delay + copy) * 10 + 5, idx));
        }
    }
    schedule.sort();
    let noisy = open().await;
    let config = setup(noisy.as_ref()).await?;
    let mut first: Vec<Option<Result<Vec<u8>, String>>> = vec![None; ops.len()];
    let mut outcome = Ok(());
    for (_, idx) in schedule {
        let response = apply(noisy.as_ref(), &config, &ops[idx]).await;
        let verdict = match &first[idx] {
            None => {
                let same = response == expected[idx];
                first[idx] = Some(response);
                ensure(
                    same,
                    format!(
                        "first delivery of {:?} differs from the clean run",
                        ops[idx]
                    ),
                )
            }
            Some(original) => ensure(
                &response == original,
                format!("a retry of {:?} got another answer", ops[idx]),
            ),
        };
        if verdict.is_err() {
            outcome = verdict;
            break;
        }
    }
    let noisy_state = final_state(noisy.as_ref()).await;
    noisy.close().await;
    outcome?;
    ensure(
        noisy_state? == clean_state,
        "the noisy run ended in another state",
    )
}
