//! Contract checks of coupon codes, gift certificates and receipt rewards: what one
//! commit consumes and makes, and what a cancel or a return gives back.

use crate::command::{CancelCommand, CommitCommand, Committed, ReturnCommand};
use crate::contract::{
    counting_codes, ensure, program, receipt, render_return, setup, t0, ContractResult,
};
use crate::port::Store;
use crate::StoreError;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use tessera_core::coupon::{normalize_code, Coupon, CouponSeries};
use tessera_core::promotion::{CouponRule, Effect, Promotion};
use tessera_core::receipt::{CustomerRef, ReceiptRequest, Redeem};
use tessera_core::refund::ReceiptRecord;
use tessera_core::reward::{CertificatePayment, GrantKind};
use tessera_core::snapshot::ConfigSnapshot;

fn e(error: StoreError) -> String {
    error.to_string()
}

/// A commit whose response is the stored record as JSON, to read what it made.
fn commit(
    config: &Arc<ConfigSnapshot>,
    request: ReceiptRequest,
    now: DateTime<Utc>,
) -> CommitCommand {
    CommitCommand {
        request_hash: format!("hash-{}", request.receipt_id),
        request,
        expect_to_pay: None,
        config: config.clone(),
        new_customer_id: "c-new".into(),
        new_code: counting_codes(),
        now,
        render: Arc::new(|c: &Committed| serde_json::to_vec(&c.record).unwrap_or_default().into()),
        profile_complete: None,
        quote: Default::default(),
    }
}

async fn commit_record(
    store: &dyn Store,
    config: &Arc<ConfigSnapshot>,
    request: ReceiptRequest,
) -> Result<ReceiptRecord, String> {
    let bytes = store
        .commit_receipt(commit(config, request, t0()))
        .await
        .map_err(e)?;
    serde_json::from_slice(&bytes).map_err(|err| format!("commit response: {err}"))
}

fn cancel(receipt_id: &str) -> CancelCommand {
    CancelCommand {
        receipt_id: receipt_id.into(),
        at: t0().fixed_offset(),
        terminal_id: None,
        now: t0(),
        render: render_return(),
        tiers: None,
    }
}

fn with_coupon(id: &str, code: &str) -> ReceiptRequest {
    let mut request = receipt(id, 100_000, Redeem::None, t0());
    request.coupons = vec![code.to_string()];
    request
}

/// A coupon code's status on a committed receipt.
fn coupon_status(record: &ReceiptRecord) -> (String, Option<String>) {
    record
        .calculation
        .coupons
        .first()
        .map(|c| (c.status.clone(), c.reason.clone()))
        .unwrap_or_default()
}

pub async fn vouchers_and_rewards(store: &dyn Store) -> ContractResult {
    setup(store).await.map_err(e)?;
    // Promotions: 10.00 off with a code of series "spr"; a receipt of 10000.00 or more
    // gives a 500.00 certificate, 50 bonus points, the gold tier and a draw entry.
    let mut unlocked = Promotion::new(
        "spr-off",
        "10.00 off",
        vec![Effect::AmountOff {
            amount: 1_000,
            items: None,
        }],
    );
    unlocked.conditions.coupon = Some(CouponRule::Series("spr".into()));
    let mut rewards = Promotion::new(
        "big",
        "big basket",
        vec![
            Effect::IssueCertificate {
                amount: 50_000,
                valid_days: Some(30),
            },
            Effect::BonusPoints {
                points: 50,
                expires_in_days: Some(10),
            },
            Effect::SetTier {
                tier: "gold".into(),
                days: None,
            },
            Effect::Grant {
                entitlement: "draw".into(),
            },
        ],
    );
    rewards.conditions.min_amount = Some(1_000_000);
    for promotion in [unlocked, rewards] {
        store.put_promotion(promotion, t0()).await.map_err(e)?;
    }
    let promotions = store
        .promotions()
        .await
        .map_err(e)?
        .into_iter()
        .map(|r| r.promotion)
        .collect();
    let stores = store.stores().await.map_err(e)?;
    let products = store.products().await.map_err(e)?;
    let config = Arc::new(ConfigSnapshot::new(program(), stores, products, promotions));

    let series = CouponSeries {
        series_id: "spr".into(),
        promotion_id: "spr-off".into(),
        single_use: true,
        valid_from: None,
        valid_to: None,
    };
    store.put_coupon_series(series.clone()).await.map_err(e)?;
    ensure(
        store.coupon_series("spr").await.map_err(e)? == Some(series),
        "series round trip",
    )?;
    let shown = (counting_codes())();
    let code = normalize_code(&shown);
    let coupon = Coupon {
        code: code.clone(),
        series_id: "spr".into(),
        customer_id: None,
        issued_by: None,
        valid_until: None,
        used_by: None,
        revoked: false,
    };
    store
        .insert_coupons(vec![coupon.clone()])
        .await
        .map_err(e)?;
    ensure(
        store.insert_coupons(vec![coupon.clone()]).await.is_err(),
        "a code cannot be stored twice",
    )?;
    let found = store
        .coupons(&[code.clone(), "NOPE".into()])
        .await
        .map_err(e)?;
    ensure(
        found.len() == 1 && found.get(&code).map(|(c, _)| c) == Some(&coupon),
        "coupon lookup",
    )?;

    // Single use: the first receipt uses the code, the second is refused `used`, a
    // cancel frees it, and the third uses it.
    let first = commit_record(store, &config, with_coupon("v1", &shown.to_lowercase())).await?;
    ensure(
        coupon_status(&first) == ("applied".into(), None),
        format!("first use: {:?}", first.calculation.coupons),
    )?;
    ensure(
        first.calculation.totals.discount == 1_000,
        "the code's discount",
    )?;
    ensure(
        first.coupons_used == vec![code.clone()],
        "the record names the code it used",
    )?;
    let used_by = store
        .coupons(std::slice::from_ref(&code))
        .await
        .map_err(e)?;
    ensure(
        used_by.get(&code).and_then(|(c, _)| c.used_by.clone()) == Some("v1".into()),
        "marked used by v1",
    )?;
    let second = commit_record(store, &config, with_coupon("v2", &shown)).await?;
    ensure(
        coupon_status(&second) == ("rejected".into(), Some("used".into())),
        format!("second use: {:?}", second.calculation.coupons),
    )?;
    ensure(
        second.calculation.totals.discount == 0 && second.coupons_used.is_empty(),
        "no discount without the code",
    )?;
    store.cancel_receipt(cancel("v1")).await.map_err(e)?;
    let freed = store
        .coupons(std::slice::from_ref(&code))
        .await
        .map_err(e)?;
    ensure(
        freed.get(&code).is_some_and(|(c, _)| c.used_by.is_none()),
        "a cancel frees the code",
    )?;
    let third = commit_record(store, &config, with_coupon("v3", &shown)).await?;
    ensure(
        coupon_status(&third) == ("applied".into(), None),
        "the freed code works again",
    )?;

    // Rewards of a big receipt: a certificate, bonus points in a lot of their own, a
    // tier and an entitlement.
    let (before, _) = pending(store, "c1").await?;
    let big = commit_record(
        store,
        &config,
        receipt("big1", 10_000_000, Redeem::None, t0()),
    )
    .await?;
    ensure(
        big.issued.certificates.len() == 1,
        format!("one certificate: {:?}", big.issued),
    )?;
    ensure(
        big.issued.bonus_lots.len() == 1 && big.issued.bonus_lots[0].1 == 50,
        "one bonus lot of 50",
    )?;
    let (after, _) = pending(store, "c1").await?;
    // 10% of 2 x 100000.00 back = 20000 points, plus 50 bonus points.
    ensure(
        after - before == 20_000 + 50,
        format!("pending grew by {}", after - before),
    )?;
    let certificate_code = normalize_code(&big.issued.certificates[0].code);
    let certificate = store
        .certificates(std::slice::from_ref(&certificate_code))
        .await
        .map_err(e)?;
    let stored = certificate
        .get(&certificate_code)
        .ok_or("certificate stored")?;
    ensure(
        stored.balance == 50_000 && stored.valid_until == Some(t0() + Duration::days(30)),
        format!("certificate: {stored:?}"),
    )?;
    let facts = store
        .find_ledger(&CustomerRef::CustomerId("c1".into()))
        .await
        .map_err(e)?
        .map(|(_, f)| f);
    ensure(
        facts.as_ref().and_then(|f| f.tier_at(t0())) == Some("gold"),
        format!("tier: {facts:?}"),
    )?;
    let grants = store.grants("c1").await.map_err(e)?;
    ensure(
        grants
            .iter()
            .filter(|g| !g.revoked)
            .map(|g| (g.kind, g.value.as_str()))
            .collect::<Vec<_>>()
            == vec![(GrantKind::Tier, "gold"), (GrantKind::Entitlement, "draw")],
        format!("grants: {grants:?}"),
    )?;

    // The certificate pays 300.00 of a later receipt, and a full return of that
    // receipt gives the 300.00 back to it.
    let mut paying = receipt("pay1", 100_000, Redeem::None, t0());
    paying.certificates = vec![CertificatePayment {
        code: certificate_code.clone(),
        amount: 30_000,
    }];
    let paid = commit_record(store, &config, paying).await?;
    ensure(
        paid.calculation.totals.certificates == 30_000,
        "the certificate paid 300.00",
    )?;
    ensure(
        certificate_balance(store, &certificate_code).await? == Some(20_000),
        "balance after paying",
    )?;
    let returned = ReturnCommand {
        receipt_id: "pay1".into(),
        return_id: "pay1-r".into(),
        request_hash: "h".into(),
        at: t0().fixed_offset(),
        terminal_id: None,
        lines: vec![(1, 2000)],
        now: t0(),
        render: render_return(),
        tiers: None,
    };
    store.return_receipt(returned).await.map_err(e)?;
    ensure(
        certificate_balance(store, &certificate_code).await? == Some(50_000),
        "a full return gives the certificate money back",
    )?;

    // Cancelling the big receipt takes back the bonus points and revokes what it made.
    store.cancel_receipt(cancel("big1")).await.map_err(e)?;
    let (cancelled, _) = pending(store, "c1").await?;
    ensure(
        cancelled == before,
        format!("pending back to {before}, is {cancelled}"),
    )?;
    let revoked = store
        .certificates(std::slice::from_ref(&certificate_code))
        .await
        .map_err(e)?;
    ensure(
        revoked.get(&certificate_code).is_some_and(|c| c.revoked),
        "the certificate is revoked",
    )?;
    let facts = store
        .find_ledger(&CustomerRef::CustomerId("c1".into()))
        .await
        .map_err(e)?
        .map(|(_, f)| f);
    ensure(
        facts.as_ref().and_then(|f| f.tier_at(t0())).is_none(),
        format!("tier after cancel: {facts:?}"),
    )?;
    ensure(
        store
            .grants("c1")
            .await
            .map_err(e)?
            .iter()
            .all(|g| g.revoked),
        "grants revoked",
    )?;
    let report = store.check().await.map_err(e)?;
    ensure(report.ok(), format!("check after vouchers: {report:?}"))
}

async fn pending(store: &dyn Store, customer_id: &str) -> Result<(i64, i64), String> {
    let ledger = store.customer_ledger(customer_id).await.map_err(e)?;
    Ok((ledger.pending, ledger.available))
}

async fn certificate_balance(store: &dyn Store, code: &str) -> Result<Option<i64>, String> {
    let found = store.certificates(&[code.to_string()]).await.map_err(e)?;
    Ok(found.get(code).map(|c| c.balance))
}
