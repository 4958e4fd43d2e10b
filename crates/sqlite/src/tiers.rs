//! Tier rows: each customer's state (`tier_states`) and qualifying events
//! (`tier_events`). Written by the receipt writes and the daily job on the writer
//! thread; read by the readers for showing.

use crate::sql::{all, exec, one, RowExt};
use crate::time::{parse_ts, ts};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};
use tessera_core::tier::{events_after, TierEvent, TierHistory, TierRecord, TierState};
use tessera_store::StoreResult;

/// The customer's record and the events an evaluation of it needs, by time.
pub fn history(conn: &Connection, customer_id: &str, window_days: u32) -> StoreResult<TierHistory> {
    let record = one(
        conn,
        "SELECT tier, reached_at, below_since, evaluated_at, reevaluate_at
         FROM tier_states WHERE customer_id = ?",
        [customer_id],
        record_at,
    )?;
    let after = events_after(record.as_ref().map(|r| &r.state), window_days);
    // Without a record, every event: the empty text sorts before every instant.
    let after = after.map(ts).unwrap_or_default();
    let events = all(
        conn,
        "SELECT at, spend, points_earned FROM tier_events
         WHERE customer_id = ? AND at > ? ORDER BY at, event_id",
        params![customer_id, after],
        |row| {
            Ok(TierEvent {
                at: parse_ts(&row.at::<String>(0)?)?,
                spend: row.at(1)?,
                points_earned: row.at(2)?,
            })
        },
    )?;
    Ok(TierHistory { record, events })
}

fn record_at(row: &Row) -> StoreResult<TierRecord> {
    let instant = |idx: usize| -> StoreResult<Option<DateTime<Utc>>> {
        row.at::<Option<String>>(idx)?
            .map(|t| parse_ts(&t))
            .transpose()
    };
    Ok(TierRecord {
        state: TierState {
            tier: row.at(0)?,
            reached_at: instant(1)?,
            below_since: instant(2)?,
            evaluated_at: parse_ts(&row.at::<String>(3)?)?,
        },
        reevaluate_at: instant(4)?,
    })
}

/// Stores the record and, if given, a new event.
pub fn save(
    conn: &Connection,
    customer_id: &str,
    event: Option<&TierEvent>,
    record: &TierRecord,
) -> StoreResult<()> {
    if let Some(event) = event {
        exec(
            conn,
            "INSERT INTO tier_events (customer_id, at, spend, points_earned) VALUES (?, ?, ?, ?)",
            params![customer_id, ts(event.at), event.spend, event.points_earned],
        )?;
    }
    let state = &record.state;
    exec(
        conn,
        "INSERT INTO tier_states (customer_id, tier, reached_at, below_since, evaluated_at, reevaluate_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (customer_id) DO UPDATE SET tier = excluded.tier,
             reached_at = excluded.reached_at, below_since = excluded.below_since,
             evaluated_at = excluded.evaluated_at, reevaluate_at = excluded.reevaluate_at",
        params![
            customer_id,
            state.tier,
            state.reached_at.map(ts),
            state.below_since.map(ts),
            ts(state.evaluated_at),
            record.reevaluate_at.map(ts),
        ],
    )?;
    Ok(())
}

/// Customers whose record is due at `now`, earliest first.
pub fn due(conn: &Connection, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<String>> {
    all(
        conn,
        "SELECT customer_id FROM tier_states
         WHERE reevaluate_at IS NOT NULL AND reevaluate_at <= ?
         ORDER BY reevaluate_at, customer_id LIMIT ?",
        params![ts(now), limit],
        |row| row.at(0),
    )
}

/// Gives `to` the tier events of `from` (a merge); both records are due at `at`.
pub fn move_events(
    conn: &Connection,
    from: &str,
    to: &str,
    at: DateTime<Utc>,
) -> StoreResult<Vec<i64>> {
    let mut ids: Vec<i64> = all(
        conn,
        "UPDATE tier_events SET customer_id = ?2 WHERE customer_id = ?1 RETURNING event_id",
        [from, to],
        |r| r.at(0),
    )?;
    ids.sort_unstable();
    mark_due(conn, &[from, to], at)?;
    Ok(ids)
}

/// Gives these events back from `from` to `to` (an unmerge); both records are due at
/// `at`.
pub fn reassign_events(
    conn: &Connection,
    ids: &[i64],
    from: &str,
    to: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    for id in ids {
        exec(
            conn,
            "UPDATE tier_events SET customer_id = ?2 WHERE event_id = ?1",
            params![id, to],
        )?;
    }
    mark_due(conn, &[from, to], at)
}

/// Makes the daily job re-evaluate these customers' tier records at `at`.
fn mark_due(conn: &Connection, customers: &[&str], at: DateTime<Utc>) -> StoreResult<()> {
    for customer in customers {
        exec(
            conn,
            "UPDATE tier_states SET reevaluate_at = ?1 WHERE customer_id = ?2
             AND (reevaluate_at IS NULL OR reevaluate_at > ?1)",
            params![ts(at), customer],
        )?;
    }
    Ok(())
}
