//! Tier rows: each customer's state (`tier_states`) and qualifying events
//! (`tier_events`), in PostgreSQL SQL. The history is one statement (the events'
//! lower bound is computed from the state in SQL), and the writes join a receipt
//! write's last statement ([`crate::batch`]).

use crate::rows::db;
use crate::time::{parse_ts, ts};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use tessera_core::tier::{TierEvent, TierHistory, TierRecord, TierState};
use tessera_store::StoreResult;

/// A customer's record and perhaps a new event, waiting for the last statement.
#[derive(Debug, Clone)]
pub struct TierWrite {
    pub customer_id: String,
    pub event: Option<TierEvent>,
    pub record: TierRecord,
}

/// The customer's record and the events after `evaluated_at − window_days` (all of
/// them without a record; see `tessera_core::tier::events_after`), by time.
pub async fn history(
    conn: &mut PgConnection,
    customer_id: &str,
    window_days: u32,
) -> StoreResult<TierHistory> {
    // The bound is formatted as `crate::time::ts` writes instants, so text order is
    // time order.
    let rows = sqlx::query(
        "SELECT s.tier, s.reached_at, s.below_since, s.evaluated_at, s.reevaluate_at,
                e.at, e.spend, e.points_earned
         FROM (SELECT $1::TEXT AS customer_id) k
         LEFT JOIN tier_states s ON s.customer_id = k.customer_id
         LEFT JOIN tier_events e ON e.customer_id = k.customer_id
             AND (s.evaluated_at IS NULL OR e.at > to_char(
                 (s.evaluated_at::TIMESTAMPTZ - make_interval(days => $2)) AT TIME ZONE 'UTC',
                 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))
         ORDER BY e.at, e.event_id",
    )
    .bind(customer_id)
    .bind(i32::try_from(window_days).unwrap_or(i32::MAX))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let record = match rows.first() {
        Some(row) if row.get::<Option<String>, _>(0).is_some() => Some(record_at(row)?),
        _ => None,
    };
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(at) = row.get::<Option<String>, _>(5) {
            events.push(TierEvent {
                at: parse_ts(&at)?,
                spend: row.get(6),
                points_earned: row.get(7),
            });
        }
    }
    Ok(TierHistory { record, events })
}

fn record_at(row: &PgRow) -> StoreResult<TierRecord> {
    let instant = |idx: usize| -> StoreResult<Option<DateTime<Utc>>> {
        row.get::<Option<String>, _>(idx)
            .map(|t| parse_ts(&t))
            .transpose()
    };
    Ok(TierRecord {
        state: TierState {
            tier: row.get(0),
            reached_at: instant(1)?,
            below_since: instant(2)?,
            evaluated_at: parse_ts(&row.get::<String, _>(3))?,
        },
        reevaluate_at: instant(4)?,
    })
}

/// Customers whose record is due at `now`, earliest first, with their account rows
/// locked; those a write holds are skipped (that write evaluates them).
pub async fn lock_due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT a.customer_id FROM customer_accounts a
         JOIN (SELECT customer_id, reevaluate_at FROM tier_states
               WHERE reevaluate_at IS NOT NULL AND reevaluate_at <= $1
               ORDER BY reevaluate_at, customer_id LIMIT $2) d USING (customer_id)
         ORDER BY a.customer_id
         FOR UPDATE OF a SKIP LOCKED",
    )
    .bind(ts(now))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Adds the writes' events and records to a batch statement, as `WITH` queries
/// opened by `open` (each customer once: the caller sends earlier writes first).
pub fn push(
    query: &mut QueryBuilder<'_, Postgres>,
    writes: &[&TierWrite],
    mut open: impl FnMut(&mut QueryBuilder<'_, Postgres>, &str),
) {
    let events: Vec<(&str, &TierEvent)> = writes
        .iter()
        .filter_map(|w| w.event.as_ref().map(|e| (w.customer_id.as_str(), e)))
        .collect();
    if !events.is_empty() {
        open(query, "tier_events_new");
        query.push(
            "INSERT INTO tier_events (customer_id, at, spend, points_earned) SELECT * FROM UNNEST(",
        );
        query.push_bind(
            events
                .iter()
                .map(|(c, _)| c.to_string())
                .collect::<Vec<_>>(),
        );
        query.push("::TEXT[], ");
        query.push_bind(events.iter().map(|(_, e)| ts(e.at)).collect::<Vec<_>>());
        query.push("::TEXT[], ");
        query.push_bind(events.iter().map(|(_, e)| e.spend).collect::<Vec<_>>());
        query.push("::INT8[], ");
        query.push_bind(
            events
                .iter()
                .map(|(_, e)| e.points_earned)
                .collect::<Vec<_>>(),
        );
        query.push("::INT8[]))");
    }
    if writes.is_empty() {
        return;
    }
    let states: Vec<&TierState> = writes.iter().map(|w| &w.record.state).collect();
    open(query, "tier_states_set");
    query.push(
        "INSERT INTO tier_states (customer_id, tier, reached_at, below_since, evaluated_at, reevaluate_at)
         SELECT * FROM UNNEST(",
    );
    query.push_bind(
        writes
            .iter()
            .map(|w| w.customer_id.clone())
            .collect::<Vec<_>>(),
    );
    query.push("::TEXT[], ");
    query.push_bind(states.iter().map(|s| s.tier.clone()).collect::<Vec<_>>());
    query.push("::TEXT[], ");
    query.push_bind(
        states
            .iter()
            .map(|s| s.reached_at.map(ts))
            .collect::<Vec<_>>(),
    );
    query.push("::TEXT[], ");
    query.push_bind(
        states
            .iter()
            .map(|s| s.below_since.map(ts))
            .collect::<Vec<_>>(),
    );
    query.push("::TEXT[], ");
    query.push_bind(
        states
            .iter()
            .map(|s| ts(s.evaluated_at))
            .collect::<Vec<_>>(),
    );
    query.push("::TEXT[], ");
    query.push_bind(
        writes
            .iter()
            .map(|w| w.record.reevaluate_at.map(ts))
            .collect::<Vec<_>>(),
    );
    query.push(
        "::TEXT[]) ON CONFLICT (customer_id) DO UPDATE SET tier = excluded.tier,
             reached_at = excluded.reached_at, below_since = excluded.below_since,
             evaluated_at = excluded.evaluated_at, reevaluate_at = excluded.reevaluate_at)",
    );
}

/// Gives `to` the tier events of `from` (a merge); both records are due at `at`.
pub async fn move_events(
    conn: &mut PgConnection,
    from: &str,
    to: &str,
    at: DateTime<Utc>,
) -> StoreResult<Vec<i64>> {
    let mut ids: Vec<i64> = sqlx::query(
        "UPDATE tier_events SET customer_id = $2 WHERE customer_id = $1 RETURNING event_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|r| r.get(0))
    .collect();
    ids.sort_unstable();
    mark_due(conn, &[from, to], at).await?;
    Ok(ids)
}

/// Gives these events back from `from` to `to` (an unmerge); both records are due at
/// `at`.
pub async fn reassign_events(
    conn: &mut PgConnection,
    ids: &[i64],
    from: &str,
    to: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE tier_events SET customer_id = $2 WHERE event_id = ANY($1)")
        .bind(ids)
        .bind(to)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    mark_due(conn, &[from, to], at).await
}

/// Makes the daily job re-evaluate these customers' tier records at `at`.
async fn mark_due(
    conn: &mut PgConnection,
    customers: &[&str],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let customers: Vec<String> = customers.iter().map(|c| c.to_string()).collect();
    sqlx::query(
        "UPDATE tier_states SET reevaluate_at = $1 WHERE customer_id = ANY($2)
         AND (reevaluate_at IS NULL OR reevaluate_at > $1)",
    )
    .bind(ts(at))
    .bind(&customers)
    .execute(conn)
    .await
    .map_err(db)
    .map(drop)
}
