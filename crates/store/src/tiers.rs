//! Status levels in the receipt writes, written once for every adapter: the tier a
//! receipt is priced with, the qualifying event each receipt, return and cancel adds
//! with the record evaluated after it (in the same transaction), and the daily
//! re-evaluation of customers who do not shop.
//!
//! Evaluations after a write are made at the later of the server's `now` and the
//! write's own time, so the stored record is always as of the customer's last
//! receipt, return or cancel; an offline receipt dated before the record counts from
//! the record's instant on (the core never runs time backwards).

use crate::port::{LedgerTx, StoreResult};
use chrono::{DateTime, Utc};
use tessera_core::customer::TierGrant;
use tessera_core::tier::{TierEvent, TierHistory, TierProgram};

/// The most customers the daily job evaluates in one transaction.
pub const DUE_BATCH: u32 = 500;

/// The customer's history (one read) and the tier a receipt at `at` is priced with.
pub async fn priced(
    tx: &mut dyn LedgerTx,
    program: &TierProgram,
    customer_id: &str,
    grant: Option<&TierGrant>,
    at: DateTime<Utc>,
) -> StoreResult<(TierHistory, String)> {
    let history = tx.tier_history(customer_id, program.window_days).await?;
    let tier = history.priced_tier(program, grant, at);
    Ok((history, tier))
}

/// Adds `event` to the customer's history and stores the record evaluated at the
/// later of `now` and the event's time. Writes only: call it after every refusal.
pub async fn record(
    tx: &mut dyn LedgerTx,
    program: &TierProgram,
    customer_id: &str,
    history: TierHistory,
    event: TierEvent,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let at = now.max(event.at);
    let record = history.with(&event).record_at(program, at);
    let stored = (!event.is_zero()).then_some(&event);
    tx.save_tier(customer_id, stored, &record).await
}

/// Re-evaluates up to `limit` customers whose record is due at `now`, so that a
/// downgrade reaches customers who do not shop; returns how many it evaluated.
pub async fn reevaluate_due(
    tx: &mut dyn LedgerTx,
    program: &TierProgram,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u32> {
    let due = tx.tiers_due(now, limit).await?;
    for customer_id in &due {
        let history = tx.tier_history(customer_id, program.window_days).await?;
        let record = history.record_at(program, now);
        tx.save_tier(customer_id, None, &record).await?;
    }
    Ok(due.len() as u32)
}
