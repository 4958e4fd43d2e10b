//! The contract of status levels (tiers): each receipt, return and cancel of an
//! identified customer adds a qualifying event in both metrics and stores the record
//! evaluated after it, in the same transaction; retries add nothing; the history
//! holds only the events an evaluation needs; the daily job re-evaluates exactly the
//! customers that are due.

use crate::command::{CancelCommand, ReturnCommand};
use crate::contract::{
    commit_for_tests, ensure, program, receipt, render_return, setup_with, t0, ContractResult,
};
use crate::port::Store;
use crate::StoreError;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use tessera_core::program::Program;
use tessera_core::receipt::Redeem;
use tessera_core::snapshot::ConfigSnapshot;
use tessera_core::tier::{
    DowngradePolicy, TierEvent, TierHistory, TierLevel, TierMetric, TierProgram, TierRecord,
};

/// base 0, silver 100.00 of spend in 30 days, kept 10 days below it.
pub fn silver_by_spend() -> TierProgram {
    TierProgram {
        levels: vec![
            TierLevel {
                id: "base".into(),
                threshold: 0,
            },
            TierLevel {
                id: "silver".into(),
                threshold: 10_000,
            },
        ],
        metric: TierMetric::Spend,
        window_days: 30,
        downgrade: DowngradePolicy::AfterGraceDays { days: 10 },
    }
}

async fn setup(store: &dyn Store) -> Result<Arc<ConfigSnapshot>, StoreError> {
    let program = Program {
        tiers: Some(silver_by_spend()),
        ..program()
    };
    setup_with(store, program).await
}

/// `c1`'s history with a 30-day window.
async fn history_of(store: &dyn Store) -> Result<TierHistory, String> {
    store
        .tier_history("c1", 30)
        .await
        .map_err(|e| e.to_string())
}

/// `c1`'s stored record.
async fn record_of(store: &dyn Store) -> Result<TierRecord, String> {
    history_of(store)
        .await?
        .record
        .ok_or_else(|| "no stored record".to_string())
}

fn event(at: DateTime<Utc>, spend: i64, points_earned: i64) -> TierEvent {
    TierEvent {
        at,
        spend,
        points_earned,
    }
}

fn day(n: i64) -> DateTime<Utc> {
    t0() + Duration::days(n)
}

/// Tier state and events through commits, a return, a cancel and the daily job.
pub async fn tier_state_and_events(store: &dyn Store) -> ContractResult {
    let e = |e: StoreError| e.to_string();
    let config = setup(store).await.map_err(e)?;
    let tiers = silver_by_spend();
    let history = history_of(store).await?;
    ensure(
        history.record.is_none() && history.events.is_empty(),
        "no record and no events before the first receipt",
    )?;

    // 2 x 30.00 = 60.00 spent, 6 points earned: still base.
    let first = commit_for_tests(&config, receipt("r1", 3000, Redeem::None, t0()), t0());
    store.commit_receipt(first.clone()).await.map_err(e)?;
    store.commit_receipt(first).await.map_err(e)?;
    let history = history_of(store).await?;
    ensure(
        history.events == vec![event(t0(), 6000, 6)],
        format!("one event in both metrics, none for the retry: {history:?}"),
    )?;
    let record = record_of(store).await?;
    ensure(
        record.state.tier == "base"
            && record.state.evaluated_at == t0()
            && record.reevaluate_at.is_none(),
        format!("base as of the receipt, nothing due: {record:?}"),
    )?;

    // Another 60.00 the next day: 120.00 in the window, silver at once; due when the
    // grace after the first receipt leaves the window runs out.
    store
        .commit_receipt(commit_for_tests(
            &config,
            receipt("r2", 3000, Redeem::None, day(1)),
            day(1),
        ))
        .await
        .map_err(e)?;
    let record = record_of(store).await?;
    ensure(
        record.state.tier == "silver"
            && record.state.reached_at == Some(day(1))
            && record.reevaluate_at == Some(day(40)),
        format!("silver from day 1, due on day 40: {record:?}"),
    )?;

    // Returning one unit of r2 takes 30.00 and 3 points back: 90.00 is below silver,
    // which is kept for the 10 days of grace.
    store
        .return_receipt(ReturnCommand {
            receipt_id: "r2".into(),
            return_id: "ret-r2".into(),
            request_hash: "h-ret-r2".into(),
            at: day(2).fixed_offset(),
            terminal_id: None,
            lines: vec![(1, 1000)],
            now: day(2),
            render: render_return(),
            tiers: Some(tiers.clone()),
        })
        .await
        .map_err(e)?;
    let history = history_of(store).await?;
    ensure(
        history.events.last() == Some(&event(day(2), -3000, -3)) && history.events.len() == 3,
        format!("the return is a negative event: {history:?}"),
    )?;
    let record = record_of(store).await?;
    ensure(
        record.state.tier == "silver"
            && record.state.below_since == Some(day(2))
            && record.reevaluate_at == Some(day(12)),
        format!("silver in grace until day 12: {record:?}"),
    )?;

    // The daily job: nothing due before day 12; then exactly this customer, once.
    ensure(
        store
            .reevaluate_tiers_due(&tiers, day(11), 100)
            .await
            .map_err(e)?
            == 0,
        "nothing is due on day 11",
    )?;
    ensure(
        store
            .reevaluate_tiers_due(&tiers, day(12), 100)
            .await
            .map_err(e)?
            == 1,
        "one customer is due on day 12",
    )?;
    let history = history_of(store).await?;
    let record = record_of(store).await?;
    ensure(
        record.state.tier == "base"
            && record.state.evaluated_at == day(12)
            && record.reevaluate_at.is_none()
            && history.events.len() == 3,
        format!("downgraded on day 12 with no event added: {history:?}"),
    )?;
    ensure(
        store
            .reevaluate_tiers_due(&tiers, day(13), 100)
            .await
            .map_err(e)?
            == 0,
        "a re-evaluated customer is not due again",
    )?;

    // Much later, the history holds only the events an evaluation needs: those after
    // evaluated_at − window.
    store
        .commit_receipt(commit_for_tests(
            &config,
            receipt("r3", 1000, Redeem::None, day(100)),
            day(100),
        ))
        .await
        .map_err(e)?;
    let history = history_of(store).await?;
    ensure(
        history.events == vec![event(day(100), 2000, 2)],
        format!("only the events of the window before the record: {history:?}"),
    )?;

    // A cancel takes the whole receipt back, at its own time.
    store
        .cancel_receipt(CancelCommand {
            receipt_id: "r3".into(),
            at: day(101).fixed_offset(),
            terminal_id: None,
            now: day(101),
            render: render_return(),
            tiers: Some(tiers.clone()),
        })
        .await
        .map_err(e)?;
    let history = history_of(store).await?;
    ensure(
        history.events == vec![event(day(100), 2000, 2), event(day(101), -2000, -2)],
        format!("the cancel is a negative event: {history:?}"),
    )?;
    let record = record_of(store).await?;
    ensure(
        record.state.tier == "base" && record.state.evaluated_at == day(101),
        format!("evaluated as of the cancel: {record:?}"),
    )?;
    // A window of 400 days reaches back to the first receipts.
    let wide = store.tier_history("c1", 400).await.map_err(e)?;
    ensure(
        wide.events.len() == 5,
        format!("a wider window reads older events: {wide:?}"),
    )?;
    // Another customer has nothing.
    let other = store.tier_history("nobody", 30).await.map_err(e)?;
    ensure(
        other.record.is_none() && other.events.is_empty(),
        "no history for another customer",
    )
}
