//! A commit uses the ledger its calculate read (kept in the quote) exactly while the
//! customer's account is still at the version read, and reads the ledger again
//! otherwise. The quotes here carry a ledger marked with 7 pending points the store
//! does not hold, so which ledger a commit used shows in the balance it saves.

use crate::contract::{commit_for_tests, ensure, receipt, setup, t0, ContractResult};
use crate::port::Store;
use crate::quote::{Quote, QuoteSlot};
use crate::StoreError;
use std::sync::Arc;
use tessera_core::customer::CustomerFacts;
use tessera_core::ledger::CustomerLedger;
use tessera_core::pricing::Calculation;
use tessera_core::receipt::{CustomerRef, ReceiptRequest, Redeem};
use tessera_core::snapshot::ConfigSnapshot;

/// Points each receipt of these checks earns (10% of 2 × 5,000.00), pending.
const EARNED: i64 = 1000;
/// The mark: pending points only the quote's ledger has.
const MARK: i64 = 7;

/// Commits receipt `id` with a quote whose ledger is the store's current read, marked,
/// at `version_offset` from the version read; the customer's pending points after it.
async fn commit_with_marked_quote(
    store: &dyn Store,
    config: &Arc<ConfigSnapshot>,
    id: &str,
    version_offset: i64,
) -> Result<(i64, i64), String> {
    let e = |e: StoreError| e.to_string();
    let (mut ledger, facts) = store
        .find_ledger(&CustomerRef::Card("7001".into()))
        .await
        .map_err(e)?
        .ok_or("customer c1 not found")?;
    let version = ledger.version.ok_or("the store keeps no account version")?;
    let before = ledger.pending;
    ledger.pending += MARK;
    ledger.version = Some(version + version_offset);
    let request = receipt(id, 500_000, Redeem::None, t0());
    let mut command = commit_for_tests(config, request.clone(), t0());
    let quote = quote_with_ledger(config, request, Some((ledger, facts)));
    command.quote = QuoteSlot::new(Some(Arc::new(quote)));
    store.commit_receipt(command).await.map_err(e)?;
    let after = store.customer_ledger("c1").await.map_err(e)?.pending;
    Ok((before, after))
}

/// A quote of `request` that kept the calculate's `read` of the customer. Its
/// calculation is empty and its view missing, so the commit prices the receipt itself;
/// only the ledger can be used.
pub fn quote_with_ledger(
    config: &Arc<ConfigSnapshot>,
    request: ReceiptRequest,
    read: Option<(CustomerLedger, CustomerFacts)>,
) -> Quote {
    Quote {
        config: Arc::downgrade(config),
        request,
        view: None,
        coupon_series: Default::default(),
        coupon_rejections: Default::default(),
        certificates: Default::default(),
        usage_reads: Vec::new(),
        exhausted: Vec::new(),
        calculation: Calculation::default(),
        pieces: Vec::new(),
        ledger: None,
    }
    .with_ledger(read)
}

pub async fn quoted_ledgers(store: &dyn Store) -> ContractResult {
    let e = |e: StoreError| e.to_string();
    let config = setup(store).await.map_err(e)?;
    store
        .commit_receipt(commit_for_tests(
            &config,
            receipt("q0", 500_000, Redeem::None, t0()),
            t0(),
        ))
        .await
        .map_err(e)?;
    // At the version read: the commit took the quote's ledger, mark and all.
    let (before, after) = commit_with_marked_quote(store, &config, "q1", 0).await?;
    ensure(
        after == before + MARK + EARNED,
        format!("a quote at the current version is used: pending {before} -> {after}"),
    )?;
    // At another version: the commit read the ledger again.
    let (before, after) = commit_with_marked_quote(store, &config, "q2", -1).await?;
    ensure(
        after == before + EARNED,
        format!("a quote at an older version is not used: pending {before} -> {after}"),
    )
}
