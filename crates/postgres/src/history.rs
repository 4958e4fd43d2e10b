//! A customer's history: the profile's events (field changes, consents, identifiers,
//! cards, merges, adjustments, erasure) and the receipts of the customer and of those
//! merged into them.

use crate::rows::{db, json_err, version_from_row};
use crate::time::{parse_ts, ts};
use sqlx::{PgConnection, Row};
use tessera_core::refund::ReceiptRecord;
use tessera_store::{ProfileEvent, StoreError, StoreResult, StoredReceipt};

/// Appends events in the order given, with one statement: `event_id` is the paging
/// cursor.
pub async fn append_events(conn: &mut PgConnection, events: &[ProfileEvent]) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let details = events
        .iter()
        .map(|e| serde_json::to_string(&e.detail).map_err(StoreError::backend))
        .collect::<StoreResult<Vec<_>>>()?;
    sqlx::query(
        "INSERT INTO profile_events (customer_id, at, kind, source, actor, detail)
         SELECT customer_id, at, kind, source, actor, detail
         FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[])
              WITH ORDINALITY AS e (customer_id, at, kind, source, actor, detail, n)
         ORDER BY n",
    )
    .bind(
        events
            .iter()
            .map(|e| e.customer_id.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(events.iter().map(|e| ts(e.at)).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>())
    .bind(events.iter().map(|e| e.source.as_str()).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|e| e.actor.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind(&details)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Replaces the detail of the customer's entries that carry personal values (field
/// changes, consents, identifiers, cards) with `{"erased":true}`.
pub async fn scrub_events(conn: &mut PgConnection, customer_id: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE profile_events SET detail = '{\"erased\":true}'
         WHERE customer_id = $1
           AND kind IN ('field', 'consent', 'identifier_added', 'identifier_removed', 'card')",
    )
    .bind(customer_id)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// The customer's events with `event_id > after`, oldest first.
pub async fn events(
    conn: &mut PgConnection,
    customer_id: &str,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<ProfileEvent>> {
    let rows = sqlx::query(
        "SELECT event_id, customer_id, at, kind, source, actor, detail FROM profile_events
         WHERE customer_id = $1 AND event_id > $2 ORDER BY event_id LIMIT $3",
    )
    .bind(customer_id)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.iter()
        .map(|row| {
            Ok(ProfileEvent {
                event_id: row.get(0),
                customer_id: row.get(1),
                at: parse_ts(&row.get::<String, _>(2))?,
                kind: row.get(3),
                source: row.get(4),
                actor: row.get(5),
                detail: serde_json::from_str(&row.get::<String, _>(6)).map_err(json_err)?,
            })
        })
        .collect()
}

/// The receipts of these customers, newest first (by the till's instant, then by id,
/// also descending), skipping `offset`, each with its versions: one statement.
pub async fn customer_receipts(
    conn: &mut PgConnection,
    customer_ids: &[String],
    offset: u32,
    limit: u32,
) -> StoreResult<Vec<StoredReceipt>> {
    if customer_ids.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    // `at` keeps the till's offset, so it is compared as an instant, not as text.
    let rows = sqlx::query(
        "WITH r AS MATERIALIZED (
             SELECT receipt_id, record, at::TIMESTAMPTZ AS instant FROM receipts
             WHERE customer_id = ANY($1)
             ORDER BY at::TIMESTAMPTZ DESC, receipt_id COLLATE \"C\" DESC OFFSET $2 LIMIT $3)
         SELECT v.receipt_id, v.version, v.kind, v.op_id, v.request_hash, v.response, v.terminal_id,
                v.at, v.recorded_at, r.record, r.receipt_id
         FROM r LEFT JOIN receipt_versions v ON v.receipt_id = r.receipt_id
         ORDER BY r.instant DESC, r.receipt_id COLLATE \"C\" DESC, v.version",
    )
    .bind(customer_ids)
    .bind(i64::from(offset))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut receipts: Vec<StoredReceipt> = Vec::new();
    let mut current: Option<String> = None;
    for row in &rows {
        let receipt_id: String = row.get(10);
        if current.as_deref() != Some(receipt_id.as_str()) {
            let record: ReceiptRecord =
                serde_json::from_str(&row.get::<String, _>(9)).map_err(json_err)?;
            receipts.push(StoredReceipt {
                record,
                versions: Vec::new(),
            });
            current = Some(receipt_id);
        }
        if row.get::<Option<String>, _>(0).is_some() {
            if let Some(receipt) = receipts.last_mut() {
                receipt.versions.push(version_from_row(row)?);
            }
        }
    }
    Ok(receipts)
}
