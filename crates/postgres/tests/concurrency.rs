//! Two stores on one database (as two server processes would be) taking concurrent
//! writes: balances never go negative, a single-use code is used once, a use limit is
//! never exceeded, and a configuration change made through one is visible to the other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::customer::Customer;
use tessera_core::promotion::{CouponRule, Effect, Percent, Promotion};
use tessera_core::receipt::{CustomerRef, ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::refund::ReceiptRecord;
use tessera_core::snapshot::ConfigSnapshot;
use tessera_postgres::PostgresStore;
use tessera_store::{CommitCommand, Committed, Store, StoreError};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).single().unwrap()
}

fn request(id: &str, card: &str, price: i64, redeem: Redeem, coupons: &[&str]) -> ReceiptRequest {
    ReceiptRequest {
        receipt_id: id.into(),
        store_id: "s1".into(),
        terminal_id: "T1".into(),
        at: t0().fixed_offset(),
        customer: Some(CustomerRef::Card(card.into())),
        lines: vec![ReceiptLine {
            line: 1,
            sku: "A".into(),
            qty: 1000,
            price,
        }],
        redeem,
        coupons: coupons.iter().map(|c| c.to_string()).collect(),
        certificates: Vec::new(),
    }
}

fn commit(config: &Arc<ConfigSnapshot>, request: ReceiptRequest) -> CommitCommand {
    CommitCommand {
        request_hash: format!("h-{}", request.receipt_id),
        request,
        expect_to_pay: None,
        config: config.clone(),
        new_customer_id: "unused".into(),
        new_code: tessera_store::contract::counting_codes(),
        now: t0(),
        render: Arc::new(|c: &Committed| serde_json::to_vec(&c.record).unwrap().into()),
        profile_complete: None,
        quote: Default::default(),
    }
}

/// Program without a pending period (points are spendable at once), one store, one
/// product, 100 members with 1000 points each... built through `a`.
async fn setup(a: &PostgresStore, promotions: Vec<Promotion>) -> Arc<ConfigSnapshot> {
    let program = tessera_store::contract::program_with(0, 0);
    let shop = tessera_store::contract::shop();
    let product = tessera_store::contract::product(None);
    a.put_program(program.clone()).await.unwrap();
    a.put_store(shop.clone()).await.unwrap();
    a.put_products(vec![product.clone()]).await.unwrap();
    for promotion in &promotions {
        a.put_promotion(promotion.clone(), t0()).await.unwrap();
    }
    let members = (0..40)
        .map(|i| Customer {
            customer_id: format!("c{i}"),
            name: None,
            phone: None,
            email: None,
            cards: vec![format!("80{i:02}").as_str().into()],
            created_at: t0(),
        })
        .collect();
    a.create_customers(members).await.unwrap();
    Arc::new(ConfigSnapshot::new(
        program,
        vec![shop],
        vec![product],
        promotions,
    ))
}

/// Two stores on one fresh schema, as two server processes on one database would be;
/// `None` when the PostgreSQL tests are skipped.
async fn two_stores(
    test: &str,
) -> Option<(String, String, Arc<PostgresStore>, Arc<PostgresStore>)> {
    let url = common::database_url(test)?;
    let schema = common::fresh_schema();
    let a = Arc::new(PostgresStore::open_in_schema(&url, &schema).await.unwrap());
    let b = Arc::new(PostgresStore::open_in_schema(&url, &schema).await.unwrap());
    Some((url, schema, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_keep_every_invariant_under_concurrent_commits() {
    let Some((url, schema, a, b)) =
        two_stores("two_processes_keep_every_invariant_under_concurrent_commits").await
    else {
        return;
    };
    let earn = Promotion::new(
        "earn",
        "earn 10%",
        vec![Effect::EarnPoints {
            percent: Percent(1000),
            items: None,
        }],
    );
    let mut coded = Promotion::new(
        "coded",
        "10.00 off with a code",
        vec![Effect::AmountOff {
            amount: 1000,
            items: None,
        }],
    );
    coded.conditions.coupon = Some(CouponRule::Series("one".into()));
    let mut first3 = Promotion::new(
        "first3",
        "1.00 off, three times in all",
        vec![Effect::AmountOff {
            amount: 100,
            items: None,
        }],
    );
    first3.limits.total_uses = Some(3);
    let config = setup(&a, vec![earn, coded, first3]).await;
    let version = b.config_version().await.unwrap();
    assert!(
        version > 0,
        "configuration writes bump the version: {version}"
    );

    // Customer c0 earns 1999 points: 10% of 20000.00 less the 1.00 of `first3`, whose
    // first use this is (available at once).
    let out = a
        .commit_receipt(commit(
            &config,
            request("seed", "8000", 2_000_000, Redeem::None, &[]),
        ))
        .await
        .unwrap();
    let seed: ReceiptRecord = serde_json::from_slice(&out).unwrap();
    assert_eq!(seed.calculation.points_earned, 1999);

    // A single-use code.
    a.put_coupon_series(CouponSeries {
        series_id: "one".into(),
        promotion_id: "coded".into(),
        single_use: true,
        valid_from: None,
        valid_to: None,
    })
    .await
    .unwrap();
    let code = (tessera_store::contract::counting_codes())();
    a.insert_coupons(vec![Coupon::generated(&code, "one")])
        .await
        .unwrap();

    // 40 commits at once through both stores: each redeems 100 points of c0 and
    // carries the code; c1..c39 commits run alongside for the use limit.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let config = config.clone();
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            let redeem = request(
                &format!("r{i}"),
                "8000",
                20_000,
                Redeem::Points(100),
                &[&code],
            );
            let redeemed = store.commit_receipt(commit(&config, redeem)).await;
            let other = request(
                &format!("o{i}"),
                &format!("80{:02}", i % 39 + 1),
                10_000,
                Redeem::None,
                &[],
            );
            let limited = store.commit_receipt(commit(&config, other)).await;
            (redeemed, limited)
        }));
    }
    let (mut redeemed_ok, mut refused, mut code_uses, mut limited_uses) = (0, 0, 0, 1);
    let mut earned_by_redeemers = 0;
    for task in tasks {
        let (redeemed, limited) = task.await.unwrap();
        match redeemed {
            Ok(bytes) => {
                let record: ReceiptRecord = serde_json::from_slice(&bytes).unwrap();
                redeemed_ok += 1;
                earned_by_redeemers += record.calculation.points_earned;
                assert_eq!(record.calculation.points_redeemed, 100);
                if record.calculation.coupons[0].status == "applied" {
                    code_uses += 1;
                }
                if record
                    .calculation
                    .promotions
                    .iter()
                    .any(|p| p.promotion_id == "first3")
                {
                    limited_uses += 1;
                }
                let balance = record.calculation.balance.unwrap();
                assert!(balance.available >= 0, "{balance:?}");
            }
            Err(StoreError::Domain(e)) if e.code == tessera_core::ErrorCode::InsufficientPoints => {
                refused += 1
            }
            Err(other) => panic!("unexpected: {other}"),
        }
        let record: ReceiptRecord = serde_json::from_slice(&limited.unwrap()).unwrap();
        if record
            .calculation
            .promotions
            .iter()
            .any(|p| p.promotion_id == "first3")
        {
            limited_uses += 1;
        }
    }
    // Every point is accounted for: what c0 had, plus what the successful receipts
    // earned, less what they spent; the balance ran out (some were refused) and never
    // went below zero.
    assert_eq!(redeemed_ok + refused, 40);
    assert!(refused > 0, "the balance ran out");
    let ledger = b.customer_ledger("c0").await.unwrap();
    assert_eq!(
        ledger.available,
        1999 + earned_by_redeemers - 100 * redeemed_ok as i64
    );
    assert!(
        ledger.available >= 0 && ledger.available < 100,
        "{}",
        ledger.available
    );
    assert_eq!(code_uses, 1, "a single-use code is used once");
    assert_eq!(limited_uses, 3, "total_uses 3 is never exceeded");
    assert!(a.check().await.unwrap().ok());

    a.close().await;
    b.close().await;
    let _ = PostgresStore::drop_schema(&url, &schema).await;
}

/// Commits of many customers meeting a promotion whose counters do not exist yet: they
/// create the same `total` and `store:` counters at once (all but one wait for the
/// first insert and then find the counter after their statement's snapshot), and the
/// use limit still holds exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counters_created_at_once_keep_their_limit() {
    let Some((url, schema, a, b)) = two_stores("counters_created_at_once_keep_their_limit").await
    else {
        return;
    };
    let mut limited = Promotion::new(
        "five",
        "1.00 off, five times in all, three per store",
        vec![Effect::AmountOff {
            amount: 100,
            items: None,
        }],
    );
    limited.limits.total_uses = Some(5);
    limited.limits.per_store_uses = Some(3);
    limited.limits.per_customer = Some(1);
    let config = setup(&a, vec![limited]).await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let request = request(
                &format!("l{i}"),
                &format!("80{:02}", i % 40),
                10_000,
                Redeem::None,
                &[],
            );
            store.commit_receipt(commit(&config, request)).await
        }));
    }
    let mut uses = 0;
    for task in tasks {
        let record: ReceiptRecord = serde_json::from_slice(&task.await.unwrap().unwrap()).unwrap();
        if record
            .calculation
            .promotions
            .iter()
            .any(|p| p.promotion_id == "five")
        {
            uses += 1;
        }
    }
    assert_eq!(uses, 3, "per_store_uses 3 (one store) is never exceeded");
    let usage = a
        .promotion_usage(&[
            ("five".to_string(), "total".to_string()),
            ("five".to_string(), "store:s1".to_string()),
        ])
        .await
        .unwrap();
    assert_eq!(usage.len(), 2, "{usage:?}");
    assert!(usage.values().all(|u| u.uses == 3), "{usage:?}");
    assert!(a.check().await.unwrap().ok());
    a.close().await;
    b.close().await;
    let _ = PostgresStore::drop_schema(&url, &schema).await;
}

/// Several processes starting at once on an empty database: migrations run once, under
/// the advisory lock, and every store opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stores_opening_at_once_migrate_once() {
    let Some(url) = common::database_url("stores_opening_at_once_migrate_once") else {
        return;
    };
    let schema = common::fresh_schema();
    // Joined in one task (the open future is not `Send` for every lifetime), so the four
    // opens still race on four connections.
    let open = || PostgresStore::open_in_schema(&url, &schema);
    let (a, b, c, d) = tokio::join!(open(), open(), open(), open());
    let stores = vec![a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()];
    for store in &stores {
        assert_eq!(store.config_version().await.unwrap(), 0);
        assert!(store.check().await.unwrap().ok());
    }
    for store in stores {
        store.close().await;
    }
    let _ = PostgresStore::drop_schema(&url, &schema).await;
}

/// Two attempts at one cancel that meet at the receipt's lock (a till's retry reaching
/// another server while the first attempt's transaction still holds the lock): the one
/// that waited answers the stored response, not `receipt_cancelled`. The same for a
/// return.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_waiting_for_the_first_attempts_lock_gets_its_answer() {
    use sqlx::Connection;
    use tessera_store::{CancelCommand, ReturnCommand, Returned};
    let Some((url, schema, a, b)) =
        two_stores("a_retry_waiting_for_the_first_attempts_lock_gets_its_answer").await
    else {
        return;
    };
    let config = setup(&a, Vec::new()).await;
    for id in ["to-cancel", "to-return"] {
        a.commit_receipt(commit(
            &config,
            request(id, "8001", 10_000, Redeem::None, &[]),
        ))
        .await
        .unwrap();
    }
    let render: tessera_store::Renderer<Returned> =
        Arc::new(|r: &Returned| serde_json::to_vec(&r.record).unwrap());
    let cancel = |store: Arc<PostgresStore>| {
        let render = render.clone();
        tokio::spawn(async move {
            store
                .cancel_receipt(CancelCommand {
                    receipt_id: "to-cancel".into(),
                    at: t0().fixed_offset(),
                    terminal_id: None,
                    now: t0(),
                    render,
                    tiers: None,
                })
                .await
        })
    };
    let give_back = |store: Arc<PostgresStore>| {
        let render = render.clone();
        tokio::spawn(async move {
            store
                .return_receipt(ReturnCommand {
                    receipt_id: "to-return".into(),
                    return_id: "ret-1".into(),
                    request_hash: "h-ret-1".into(),
                    lines: vec![(1, 1000)],
                    at: t0().fixed_offset(),
                    terminal_id: None,
                    now: t0(),
                    render,
                    tiers: None,
                })
                .await
        })
    };
    // Both attempts find nothing stored, then queue for the receipts' locks.
    let mut holder = common::raw(&url, &schema).await;
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT 1 FROM receipts WHERE receipt_id IN ('to-cancel', 'to-return') FOR UPDATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let attempts = [
        cancel(a.clone()),
        cancel(b.clone()),
        give_back(a.clone()),
        give_back(b.clone()),
    ];
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();
    let mut answers = Vec::new();
    for attempt in attempts {
        answers.push(attempt.await.unwrap().expect("every attempt answers"));
    }
    assert_eq!(answers[0], answers[1], "the cancel answered twice the same");
    assert_eq!(answers[2], answers[3], "the return answered twice the same");
    a.close().await;
    b.close().await;
    let _ = PostgresStore::drop_schema(&url, &schema).await;
}
