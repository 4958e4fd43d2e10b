//! The contract suite every store adapter passes. An adapter's tests call
//! [`run_all`] with a function that opens a fresh, empty store.

use crate::command::{CancelCommand, CommitCommand, Committed, ReturnCommand, Returned};
use crate::port::Store;
use crate::StoreError;
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::future::Future;
use std::sync::Arc;
use tessera_core::catalog::{Product, Store as ChainStore};
use tessera_core::customer::{Card, CardType, Customer};
use tessera_core::program::Program;
use tessera_core::promotion::{Effect, Percent, Promotion};
use tessera_core::receipt::{CustomerRef, ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::segment::{MembershipChange, Segment};
use tessera_core::snapshot::ConfigSnapshot;
use tessera_core::ErrorCode;

/// A failed contract check.
pub type ContractResult = Result<(), String>;

pub(crate) fn ensure(condition: bool, what: impl Into<String>) -> ContractResult {
    if condition {
        Ok(())
    } else {
        Err(what.into())
    }
}

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

pub(crate) fn program() -> Program {
    program_with(14, 30)
}

/// A rouble program (1 point = 1 rouble, points may pay the whole receipt) with these
/// pending and expiry periods: the fixture of the contract suites and adapter tests.
pub fn program_with(pending_days: u32, expiry_days: u32) -> Program {
    Program {
        currency: "RUB".into(),
        point_value: 100,
        pending_days,
        expiry_days,
        max_redeem_percent: 100,
        required_fields: Vec::new(),
        redeem_requires_code: false,
        tiers: None,
    }
}

/// Store `s1` in Moscow: the one shop of the test chains.
pub fn shop() -> ChainStore {
    ChainStore {
        store_id: "s1".into(),
        name: "Shop".into(),
        timezone: "Europe/Moscow".into(),
        region: None,
        tags: vec![],
    }
}

/// Product `A` with the given category, no brand or tags, payable with points.
pub fn product(category: Option<&str>) -> Product {
    Product {
        sku: "A".into(),
        name: "A".into(),
        category: category.map(str::to_string),
        brand: None,
        tags: vec![],
        no_points_payment: false,
    }
}

pub(crate) async fn setup(store: &dyn Store) -> Result<Arc<ConfigSnapshot>, StoreError> {
    setup_with(store, program()).await
}

/// The test chain with this program: store `s1`, product `A` (shoes), a 10% earn and
/// customer `c1` with card `7001`.
pub(crate) async fn setup_with(
    store: &dyn Store,
    program: Program,
) -> Result<Arc<ConfigSnapshot>, StoreError> {
    store.put_program(program.clone()).await?;
    let shop = shop();
    store.put_store(shop.clone()).await?;
    let product = product(Some("shoes"));
    store.put_products(vec![product.clone()]).await?;
    let earn = Promotion::new(
        "earn10",
        "10% back",
        vec![Effect::EarnPoints {
            percent: Percent(1000),
            items: None,
        }],
    );
    store.put_promotion(earn.clone(), t0()).await?;
    store
        .create_customers(vec![Customer {
            customer_id: "c1".into(),
            name: Some("Anna".into()),
            phone: Some("+79160000001".into()),
            email: None,
            cards: vec!["7001".into()],
            created_at: t0(),
        }])
        .await?;
    Ok(Arc::new(ConfigSnapshot::new(
        program,
        vec![shop],
        vec![product],
        vec![earn],
    )))
}

pub(crate) fn receipt(id: &str, price: i64, redeem: Redeem, at: DateTime<Utc>) -> ReceiptRequest {
    ReceiptRequest {
        coupons: Vec::new(),
        certificates: Vec::new(),
        receipt_id: id.into(),
        store_id: "s1".into(),
        terminal_id: "T1".into(),
        at: at.fixed_offset(),
        customer: Some(CustomerRef::Card("7001".into())),
        lines: vec![ReceiptLine {
            line: 1,
            sku: "A".into(),
            qty: 2000,
            price,
        }],
        redeem,
    }
}

/// Codes from a counter: distinct and well-formed (tests only; the server draws them
/// from a CSPRNG).
pub fn counting_codes() -> crate::command::CodeSource {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    Arc::new(|| {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as u128;
        tessera_core::coupon::code_from_random(n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C))
    })
}

pub(crate) fn commit_for_tests(
    config: &Arc<ConfigSnapshot>,
    request: ReceiptRequest,
    now: DateTime<Utc>,
) -> CommitCommand {
    commit(config, request, now)
}

fn commit(
    config: &Arc<ConfigSnapshot>,
    request: ReceiptRequest,
    now: DateTime<Utc>,
) -> CommitCommand {
    CommitCommand {
        request_hash: format!("hash-{}-{}", request.receipt_id, request.lines[0].price),
        request,
        expect_to_pay: None,
        config: config.clone(),
        new_customer_id: "c-new".into(),
        new_code: counting_codes(),
        now,
        render: Arc::new(|c: &Committed| {
            format!(
                "{}:{}",
                c.record.receipt_id, c.record.calculation.totals.to_pay
            )
            .into_bytes()
            .into()
        }),
        profile_complete: None,
        quote: Default::default(),
    }
}

pub(crate) fn render_return() -> crate::command::Renderer<Returned> {
    Arc::new(|r: &Returned| {
        format!(
            "{}:{}:{}",
            r.record.receipt_id, r.record.version, r.outcome.refund_money
        )
        .into_bytes()
    })
}

async fn available(store: &dyn Store, now: DateTime<Utc>) -> Result<(i64, i64), StoreError> {
    let mut ledger = store.customer_ledger("c1").await?;
    ledger.catch_up(now);
    Ok((ledger.available, ledger.pending))
}

/// Runs every contract check against fresh stores from `open`.
pub async fn run_all<F, Fut>(open: F) -> ContractResult
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let store = open().await;
    let outcome = receipts_ledger_and_returns(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = configuration_and_customers(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = crate::contract_vouchers::vouchers_and_rewards(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = refusals_are_remembered(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = crate::contract_crm::profiles_merges_and_privacy(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = crate::contract_access::api_keys(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = crate::contract_access::audit_log(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = crate::contract_access::audited_write(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = crate::contract_accounts::customer_codes(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = crate::contract_accounts::sessions_and_staff(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = crate::contract_tiers::tier_state_and_events(store.as_ref()).await;
    store.close().await;
    outcome?;
    let store = open().await;
    let outcome = crate::contract_quotes::quoted_ledgers(store.as_ref()).await;
    store.close().await;
    outcome
}

/// A commit refused for insufficient points stays refused when the same body is
/// retried after the customer got points; another body for the receipt is a new try.
async fn refusals_are_remembered(store: &dyn Store) -> ContractResult {
    let e = |e: StoreError| e.to_string();
    let config = setup(store).await.map_err(e)?;
    let refused = |outcome: Result<Vec<u8>, StoreError>| matches!(outcome, Err(StoreError::Domain(error)) if error.code == ErrorCode::InsufficientPoints);
    let spend = receipt("spend", 100_000, Redeem::Points(500), t0());
    ensure(
        refused(
            store
                .commit_receipt(commit(&config, spend.clone(), t0()))
                .await,
        ),
        "no points yet: refused",
    )?;
    // 10% of 2 x 5000.00 = 1000 points, available after the 14 pending days.
    store
        .commit_receipt(commit(
            &config,
            receipt("earn", 500_000, Redeem::None, t0()),
            t0(),
        ))
        .await
        .map_err(e)?;
    let later = t0() + Duration::days(15);
    ensure(
        available(store, later).await.map_err(e)?.0 == 1000,
        "points available",
    )?;
    ensure(
        refused(
            store
                .commit_receipt(commit(&config, spend.clone(), later))
                .await,
        ),
        "the same body retried is refused again",
    )?;
    let changed = receipt("spend", 100_001, Redeem::Points(500), t0());
    store
        .commit_receipt(commit(&config, changed, later))
        .await
        .map_err(e)?;
    // 1000 - 500 spent + 10% of the 1500.02 paid in cash (150 points, matured at once
    // since the receipt is 15 days old).
    let now_available = available(store, later).await.map_err(e)?.0;
    ensure(
        now_available == 650,
        format!("a new body commits: {now_available} available"),
    )?;
    let report = store.check().await.map_err(e)?;
    ensure(report.ok(), format!("check after refusals: {report:?}"))
}

async fn configuration_and_customers(store: &dyn Store) -> ContractResult {
    let e = |e: StoreError| e.to_string();
    setup(store).await.map_err(e)?;
    ensure(
        store.program().await.map_err(e)? == Some(program()),
        "program round trip",
    )?;
    ensure(store.stores().await.map_err(e)?.len() == 1, "one store")?;
    ensure(store.products().await.map_err(e)?.len() == 1, "one product")?;
    ensure(
        store
            .delete_promotion("earn10".into(), t0())
            .await
            .map_err(e)?,
        "delete finds the promotion",
    )?;
    ensure(
        !store
            .delete_promotion("nope".into(), t0())
            .await
            .map_err(e)?,
        "delete of an unknown promotion says so",
    )?;
    let promotions = store.promotions().await.map_err(e)?;
    ensure(
        promotions.len() == 1
            && !promotions[0].promotion.enabled
            && promotions[0].deleted_at.is_some(),
        "a deleted promotion is kept, disabled",
    )?;
    let duplicate_card = Customer {
        customer_id: "c2".into(),
        name: None,
        phone: None,
        email: None,
        cards: vec!["7001".into()],
        created_at: t0(),
    };
    match store.create_customers(vec![duplicate_card]).await {
        Err(StoreError::Domain(error)) if error.code == ErrorCode::CardTaken => {}
        other => return Err(format!("a taken card must be card_taken, got {other:?}")),
    }
    ensure(
        store.customer("c2").await.map_err(e)?.is_none(),
        "a refused customer is not stored",
    )?;
    let found = store
        .find_customer(&CustomerRef::Phone("+79160000001".into()))
        .await
        .map_err(e)?;
    ensure(found.as_deref() == Some("c1"), "find by phone")?;
    segments_and_card_types(store).await
}

/// Card types are stored with the cards; segment membership changes all or nothing;
/// the facts a receipt is priced with carry both.
async fn segments_and_card_types(store: &dyn Store) -> ContractResult {
    let e = |e: StoreError| e.to_string();
    let vera = Customer {
        customer_id: "c3".into(),
        name: None,
        phone: Some("+79160000003".into()),
        email: None,
        cards: vec![
            "7003".into(),
            Card {
                number: "7004".into(),
                card_type: CardType::Virtual,
            },
        ],
        created_at: t0(),
    };
    store
        .create_customers(vec![vera.clone()])
        .await
        .map_err(e)?;
    ensure(
        store.customer("c3").await.map_err(e)? == Some(vera),
        "cards come back with their types",
    )?;
    let segment = Segment {
        segment_id: "vip".into(),
        name: "VIP".into(),
        description: None,
    };
    store.put_segment(segment.clone()).await.map_err(e)?;
    let change = |add: &[&str], remove: &[&str]| MembershipChange {
        add: add.iter().map(|s| s.to_string()).collect(),
        remove: remove.iter().map(|s| s.to_string()).collect(),
    };
    store
        .change_segment("vip", change(&["c1", "c3"], &[]))
        .await
        .map_err(e)?;
    match store
        .change_segment("vip", change(&["nobody"], &["c1"]))
        .await
    {
        Err(StoreError::Domain(error)) if error.code == ErrorCode::UnknownCustomer => {}
        other => {
            return Err(format!(
                "an unknown member must be unknown_customer, got {other:?}"
            ))
        }
    }
    match store.change_segment("nope", change(&["c1"], &[])).await {
        Err(StoreError::Domain(error)) if error.code == ErrorCode::SegmentNotFound => {}
        other => {
            return Err(format!(
                "an unknown segment must be segment_not_found, got {other:?}"
            ))
        }
    }
    store
        .change_segment("vip", change(&["c3"], &["c1"]))
        .await
        .map_err(e)?;
    ensure(
        store.segment("vip").await.map_err(e)? == Some((segment, 1)),
        "one member left",
    )?;
    ensure(
        store.customer_segments("c3").await.map_err(e)? == vec!["vip".to_string()]
            && store.customer_segments("c1").await.map_err(e)?.is_empty(),
        "customer segments",
    )?;
    let facts = |reference: CustomerRef| async move {
        store
            .find_ledger(&reference)
            .await
            .map(|found| found.map(|(_, facts)| (facts.card_types, facts.segments)))
    };
    let vip = vec!["vip".to_string()];
    ensure(
        facts(CustomerRef::Card("7004".into())).await.map_err(e)?
            == Some((vec![CardType::Virtual], vip.clone())),
        "the presented card's type",
    )?;
    ensure(
        facts(CustomerRef::Card("7003".into())).await.map_err(e)?
            == Some((vec![CardType::Plastic], vip.clone())),
        "the presented plastic card",
    )?;
    ensure(
        facts(CustomerRef::Phone("+79160000003".into()))
            .await
            .map_err(e)?
            == Some((vec![CardType::Plastic, CardType::Virtual], vip)),
        "every card's type when identified by phone",
    )
}

/// Commits, retries, returns, cancels and expires receipts of one customer, checking
/// every step; leaves a store with a populated ledger (used to test `check` too).
pub async fn receipts_ledger_and_returns(store: &dyn Store) -> ContractResult {
    let e = |e: StoreError| e.to_string();
    let config = setup(store).await.map_err(e)?;
    // Earn 10% of 2 x 5000.00 = 1000 points, pending for 14 days.
    let first = store
        .commit_receipt(commit(
            &config,
            receipt("r1", 500_000, Redeem::None, t0()),
            t0(),
        ))
        .await
        .map_err(e)?;
    ensure(
        first == b"r1:1000000".to_vec(),
        format!("commit response: {:?}", String::from_utf8_lossy(&first)),
    )?;
    let retry = store
        .commit_receipt(commit(
            &config,
            receipt("r1", 500_000, Redeem::None, t0()),
            t0(),
        ))
        .await
        .map_err(e)?;
    ensure(retry == first, "a retry returns the stored response")?;
    match store
        .commit_receipt(commit(
            &config,
            receipt("r1", 400_000, Redeem::None, t0()),
            t0(),
        ))
        .await
    {
        Err(StoreError::Domain(error)) if error.code == ErrorCode::ReceiptConflict => {}
        other => {
            return Err(format!(
                "a different body must be receipt_conflict, got {other:?}"
            ))
        }
    }
    ensure(
        available(store, t0()).await.map_err(e)? == (0, 1000),
        "1000 points pending after commit",
    )?;
    // Redeeming before maturity is refused and writes nothing.
    match store
        .commit_receipt(commit(
            &config,
            receipt("r2", 100_000, Redeem::Points(10), t0()),
            t0(),
        ))
        .await
    {
        Err(StoreError::Domain(error)) if error.code == ErrorCode::InsufficientPoints => {}
        other => {
            return Err(format!(
                "redeeming pending points must be insufficient_points, got {other:?}"
            ))
        }
    }
    ensure(
        store.receipt("r2").await.map_err(e)?.is_none(),
        "a refused commit stores no receipt",
    )?;
    let day15 = t0() + Duration::days(15);
    ensure(
        store.catch_up_due(day15, 100).await.map_err(e)? == 1,
        "one customer caught up",
    )?;
    ensure(
        store.catch_up_due(day15, 100).await.map_err(e)? == 0,
        "catch-up is done once",
    )?;
    ensure(
        available(store, day15).await.map_err(e)? == (1000, 0),
        "points mature after 14 days",
    )?;
    // Pay 300 points on a 2 x 1000.00 receipt: 2000.00 - 300.00 = 1700.00 paid, earns 170.
    store
        .commit_receipt(commit(
            &config,
            receipt("r3", 100_000, Redeem::Points(300), day15),
            day15,
        ))
        .await
        .map_err(e)?;
    ensure(
        available(store, day15).await.map_err(e)? == (700, 170),
        "700 available and 170 pending after paying 300",
    )?;
    // Return one of the two units: 150 points back, 85 taken back, 850.00 refunded.
    let return_command = ReturnCommand {
        receipt_id: "r3".into(),
        return_id: "ret1".into(),
        request_hash: "h-ret1".into(),
        at: day15.fixed_offset(),
        terminal_id: Some("T2".into()),
        lines: vec![(1, 1000)],
        now: day15,
        render: render_return(),
        tiers: None,
    };
    let returned = store
        .return_receipt(return_command.clone())
        .await
        .map_err(e)?;
    ensure(
        returned == b"r3:2:85000".to_vec(),
        format!("return response: {:?}", String::from_utf8_lossy(&returned)),
    )?;
    ensure(
        store.return_receipt(return_command).await.map_err(e)? == returned,
        "a return retry returns the stored response",
    )?;
    ensure(
        available(store, day15).await.map_err(e)? == (850, 85),
        "return gives back 150 and takes back 85",
    )?;
    let cancel = CancelCommand {
        receipt_id: "r3".into(),
        at: day15.fixed_offset(),
        terminal_id: None,
        now: day15,
        render: render_return(),
        tiers: None,
    };
    let cancelled = store.cancel_receipt(cancel.clone()).await.map_err(e)?;
    ensure(
        store.cancel_receipt(cancel).await.map_err(e)? == cancelled,
        "a second cancel returns the first one's response",
    )?;
    ensure(
        available(store, day15).await.map_err(e)? == (1000, 0),
        "cancel restores the balance before the receipt",
    )?;
    let stored = store
        .receipt("r3")
        .await
        .map_err(e)?
        .ok_or("r3 is stored")?;
    let kinds: Vec<&str> = stored.versions.iter().map(|v| v.kind.as_str()).collect();
    ensure(
        kinds == ["commit", "return", "cancel"],
        format!("versions {kinds:?}"),
    )?;
    // Points expire 30 days after maturing.
    let day50 = t0() + Duration::days(50);
    store.catch_up_due(day50, 100).await.map_err(e)?;
    ensure(
        available(store, day50).await.map_err(e)? == (0, 0),
        "points expire after expiry_days",
    )?;
    let entries = store.ledger_entries("c1", 0, 1000).await.map_err(e)?;
    ensure(
        entries.windows(2).all(|w| w[0].entry_id < w[1].entry_id),
        "entries are ordered",
    )?;
    ensure(
        entries
            .iter()
            .any(|s| s.entry.kind == tessera_core::ledger::EntryKind::Expire),
        "an expire entry exists",
    )?;
    let report = store.check().await.map_err(e)?;
    ensure(report.ok(), format!("check passes: {report:?}"))?;
    Ok(())
}
