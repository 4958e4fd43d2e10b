//! Merges (with what undoing them needs), the review queue of suggested merges, and
//! staff adjustments kept by their idempotency key. Each record is stored whole as
//! JSON beside the columns it is found by.

use crate::rows::{db, json_err};
use crate::time::{parse_ts, ts};
use sqlx::{PgConnection, Row};
use tessera_store::crm_command::CandidateFilter;
use tessera_store::{MergeCandidate, MergeRecord, StoreError, StoreResult, StoredAdjustment};

fn record<T: serde::de::DeserializeOwned>(row: &sqlx::postgres::PgRow) -> StoreResult<T> {
    serde_json::from_str(&row.get::<String, _>(0)).map_err(json_err)
}

fn records<T: serde::de::DeserializeOwned>(rows: &[sqlx::postgres::PgRow]) -> StoreResult<Vec<T>> {
    rows.iter().map(record).collect()
}

pub async fn insert_merge(conn: &mut PgConnection, merge: &MergeRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO merges (merge_id, survivor_id, absorbed_id, at, undone_at, record)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&merge.merge_id)
    .bind(&merge.survivor_id)
    .bind(&merge.absorbed_id)
    .bind(ts(merge.at))
    .bind(merge.undone_at.map(ts))
    .bind(serde_json::to_string(merge).map_err(StoreError::backend)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Rewrites a merge (to mark it undone).
pub async fn update_merge(conn: &mut PgConnection, merge: &MergeRecord) -> StoreResult<()> {
    let updated = sqlx::query(
        "UPDATE merges SET survivor_id = $2, absorbed_id = $3, at = $4, undone_at = $5, record = $6
         WHERE merge_id = $1",
    )
    .bind(&merge.merge_id)
    .bind(&merge.survivor_id)
    .bind(&merge.absorbed_id)
    .bind(ts(merge.at))
    .bind(merge.undone_at.map(ts))
    .bind(serde_json::to_string(merge).map_err(StoreError::backend)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if updated.rows_affected() != 1 {
        return Err(StoreError::backend(format!(
            "no merge {} to update",
            merge.merge_id
        )));
    }
    Ok(())
}

pub async fn merge(conn: &mut PgConnection, merge_id: &str) -> StoreResult<Option<MergeRecord>> {
    let row = sqlx::query("SELECT record FROM merges WHERE merge_id = $1")
        .bind(merge_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(record).transpose()
}

/// The merge, not undone, that absorbed `absorbed_id`.
pub async fn merge_of(
    conn: &mut PgConnection,
    absorbed_id: &str,
) -> StoreResult<Option<MergeRecord>> {
    let row = sqlx::query("SELECT record FROM merges WHERE absorbed_id = $1 AND undone_at IS NULL")
        .bind(absorbed_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(record).transpose()
}

/// The merges into `survivor_id` that are not undone, oldest first.
pub async fn merges_into(
    conn: &mut PgConnection,
    survivor_id: &str,
) -> StoreResult<Vec<MergeRecord>> {
    let rows = sqlx::query(
        "SELECT record FROM merges WHERE survivor_id = $1 AND undone_at IS NULL
         ORDER BY at, merge_id COLLATE \"C\"",
    )
    .bind(survivor_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    records(&rows)
}

/// Every merge, undone or not, in which the customer was the survivor or the absorbed
/// one, oldest first.
pub async fn merges_involving(
    conn: &mut PgConnection,
    customer_id: &str,
) -> StoreResult<Vec<MergeRecord>> {
    let rows = sqlx::query(
        "SELECT record FROM merges WHERE survivor_id = $1 OR absorbed_id = $1
         ORDER BY at, merge_id COLLATE \"C\"",
    )
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    records(&rows)
}

/// Inserts a candidate, or updates the one with the same id.
pub async fn put_candidate(conn: &mut PgConnection, candidate: &MergeCandidate) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO merge_candidates (candidate_id, customer_a, customer_b, status, record)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (candidate_id) DO UPDATE SET customer_a = excluded.customer_a,
             customer_b = excluded.customer_b, status = excluded.status, record = excluded.record",
    )
    .bind(&candidate.candidate_id)
    .bind(&candidate.customer_a)
    .bind(&candidate.customer_b)
    .bind(candidate.status.as_str())
    .bind(serde_json::to_string(candidate).map_err(StoreError::backend)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn candidate(
    conn: &mut PgConnection,
    candidate_id: &str,
) -> StoreResult<Option<MergeCandidate>> {
    let row = sqlx::query("SELECT record FROM merge_candidates WHERE candidate_id = $1")
        .bind(candidate_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.as_ref().map(record).transpose()
}

/// The open candidate for a pair (`a < b`), if any.
pub async fn candidate_for(
    conn: &mut PgConnection,
    a: &str,
    b: &str,
) -> StoreResult<Option<MergeCandidate>> {
    let row = sqlx::query(
        "SELECT record FROM merge_candidates
         WHERE customer_a = $1 AND customer_b = $2 AND status = 'open'",
    )
    .bind(a)
    .bind(b)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.as_ref().map(record).transpose()
}

/// The review queue, by candidate id (byte order).
pub async fn candidates(
    conn: &mut PgConnection,
    filter: &CandidateFilter,
) -> StoreResult<Vec<MergeCandidate>> {
    // Two texts rather than `$1 IS NULL OR status = $1`, so that each is planned on
    // the index once.
    let sql = match filter.status {
        Some(_) => {
            "SELECT record FROM merge_candidates WHERE status = $1 AND candidate_id > $2
             ORDER BY candidate_id LIMIT $3"
        }
        None => {
            "SELECT record FROM merge_candidates WHERE $1::TEXT IS NULL AND candidate_id > $2
             ORDER BY candidate_id LIMIT $3"
        }
    };
    let rows = sqlx::query(sql)
        .bind(filter.status.map(|s| s.as_str()))
        .bind(filter.after.as_deref().unwrap_or(""))
        .bind(i64::from(filter.limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    records(&rows)
}

pub async fn adjustment(
    conn: &mut PgConnection,
    key: &str,
) -> StoreResult<Option<StoredAdjustment>> {
    let row = sqlx::query(
        "SELECT key, customer_id, request_hash, response, at FROM adjustments WHERE key = $1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(StoredAdjustment {
        key: row.get(0),
        customer_id: row.get(1),
        request_hash: row.get(2),
        response: row.get(3),
        at: parse_ts(&row.get::<String, _>(4))?,
    }))
}

pub async fn insert_adjustment(
    conn: &mut PgConnection,
    adjustment: &StoredAdjustment,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO adjustments (key, customer_id, request_hash, response, at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&adjustment.key)
    .bind(&adjustment.customer_id)
    .bind(&adjustment.request_hash)
    .bind(&adjustment.response)
    .bind(ts(adjustment.at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}
