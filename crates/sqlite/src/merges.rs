//! What the CRM records beside the profiles: merges (the whole record as JSON, with
//! the ids and dates a query needs as columns) and what a merge moves besides points
//! (the customers merged into the absorbed one, its closed lots), the review queue of
//! merge candidates, the history of changes, and staff adjustments keyed by their
//! idempotency key.

use crate::rows::{self, json_err};
use crate::sql::{all, db, exec, is_unique_violation, one, RowExt};
use crate::time::{parse_ts, ts};
use rusqlite::{params, Connection};
use tessera_core::{CoreError, ErrorCode};
use tessera_store::crm_command::CandidateFilter;
use tessera_store::{
    MergeCandidate, MergeRecord, ProfileEvent, StoreError, StoreResult, StoredAdjustment,
};

fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(json_err)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(json_err)
}

/// Runs a write whose unique indexes stand for a business rule: their violation is
/// `code` with `message`, any other failure a database error.
fn exec_unique(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    code: ErrorCode,
    message: impl FnOnce() -> String,
) -> StoreResult<()> {
    match conn.prepare_cached(sql).and_then(|mut s| s.execute(params)) {
        Ok(_) => Ok(()),
        Err(error) if is_unique_violation(&error) => Err(StoreError::domain(code, message())),
        Err(error) => Err(db(error)),
    }
}

/// Points the customers merged into `from` at `to`; their ids, sorted.
pub fn repoint_merged(conn: &Connection, from: &str, to: &str) -> StoreResult<Vec<String>> {
    let mut ids: Vec<String> = all(
        conn,
        "UPDATE customers SET merged_into = ?2 WHERE merged_into = ?1 RETURNING customer_id",
        [from, to],
        |r| r.at(0),
    )?;
    ids.sort();
    Ok(ids)
}

/// Gives every lot of `from` to `to`, the closed ones (what a merge leaves after the
/// transfer moved the open ones) and any open one; their ids, sorted.
pub fn move_lots(conn: &Connection, from: &str, to: &str) -> StoreResult<Vec<String>> {
    // Two statements, one per partial index: `lots_closed` and `lots_open` together
    // hold every lot, and neither scan reads another customer's lots.
    let mut ids: Vec<String> = all(
        conn,
        "UPDATE lots SET customer_id = ?2
         WHERE customer_id = ?1 AND remaining = 0 AND state <> 'pending' RETURNING lot_id",
        [from, to],
        |r| r.at(0),
    )?;
    ids.extend(all(
        conn,
        "UPDATE lots SET customer_id = ?2
         WHERE customer_id = ?1 AND (state = 'pending' OR remaining > 0) RETURNING lot_id",
        [from, to],
        |r| r.at::<String>(0),
    )?);
    // A ledger read before the move is not the ledger after it.
    rows::touch_account(conn, from)?;
    rows::touch_account(conn, to)?;
    ids.sort();
    Ok(ids)
}

/// Gives the named lots to `to`.
pub fn reassign_lots(conn: &Connection, lot_ids: &[String], to: &str) -> StoreResult<()> {
    for lot_id in lot_ids {
        exec(
            conn,
            "UPDATE lots SET customer_id = ? WHERE lot_id = ?",
            [to, lot_id],
        )?;
    }
    if !lot_ids.is_empty() {
        rows::touch_account(conn, to)?;
    }
    Ok(())
}

/// The customer holding `customer_id`'s points: the one it was merged into, or itself.
pub fn owner(conn: &Connection, customer_id: &str) -> StoreResult<String> {
    let found = one(
        conn,
        "SELECT CASE WHEN status = 'merged' THEN merged_into ELSE customer_id END
         FROM customers WHERE customer_id = ?",
        [customer_id],
        |r| r.at::<Option<String>>(0),
    )?;
    match found {
        Some(Some(owner)) => Ok(owner),
        Some(None) => Err(StoreError::backend(format!(
            "customer {customer_id} is merged into no one"
        ))),
        None => Err(StoreError::Domain(CoreError::field(
            ErrorCode::CustomerNotFound,
            "customer_id",
            format!("no customer {customer_id}"),
        ))),
    }
}

pub fn append_events(conn: &Connection, events: &[ProfileEvent]) -> StoreResult<()> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO profile_events (customer_id, at, kind, source, actor, detail)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .map_err(db)?;
    for event in events {
        insert
            .execute(params![
                event.customer_id,
                ts(event.at),
                event.kind,
                event.source,
                event.actor,
                to_json(&event.detail)?
            ])
            .map_err(db)?;
    }
    Ok(())
}

/// The customer's history entries after `after`, oldest first.
pub fn events(
    conn: &Connection,
    customer_id: &str,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<ProfileEvent>> {
    all(
        conn,
        "SELECT event_id, customer_id, at, kind, source, actor, detail FROM profile_events
         WHERE customer_id = ? AND event_id > ? ORDER BY event_id LIMIT ?",
        params![customer_id, after, limit as i64],
        |row| {
            Ok(ProfileEvent {
                event_id: row.at(0)?,
                customer_id: row.at(1)?,
                at: parse_ts(&row.at::<String>(2)?)?,
                kind: row.at(3)?,
                source: row.at(4)?,
                actor: row.at(5)?,
                detail: from_json(&row.at::<String>(6)?)?,
            })
        },
    )
}

/// Keeps that the customer's field, consent, identifier and card changes happened,
/// not their values.
pub fn scrub_events(conn: &Connection, customer_id: &str) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE profile_events SET detail = '{\"erased\":true}'
         WHERE customer_id = ?
           AND kind IN ('field', 'consent', 'identifier_added', 'identifier_removed', 'card')",
        [customer_id],
    )?;
    Ok(())
}

pub fn insert_merge(conn: &Connection, merge: &MergeRecord) -> StoreResult<()> {
    exec_unique(
        conn,
        "INSERT INTO merges (merge_id, survivor_id, absorbed_id, at, undone_at, record)
         VALUES (?, ?, ?, ?, ?, ?)",
        params![
            merge.merge_id,
            merge.survivor_id,
            merge.absorbed_id,
            ts(merge.at),
            merge.undone_at.map(ts),
            to_json(merge)?
        ],
        ErrorCode::MergeConflict,
        || {
            format!(
                "merge {} exists, or {} is merged already",
                merge.merge_id, merge.absorbed_id
            )
        },
    )
}

/// Rewrites a merge (marked undone, or its snapshots scrubbed by an erasure).
pub fn update_merge(conn: &Connection, merge: &MergeRecord) -> StoreResult<()> {
    exec_unique(
        conn,
        "UPDATE merges SET survivor_id = ?, absorbed_id = ?, at = ?, undone_at = ?, record = ?
         WHERE merge_id = ?",
        params![
            merge.survivor_id,
            merge.absorbed_id,
            ts(merge.at),
            merge.undone_at.map(ts),
            to_json(merge)?,
            merge.merge_id
        ],
        ErrorCode::MergeConflict,
        || format!("{} is merged already", merge.absorbed_id),
    )
}

fn merge_from(row: &rusqlite::Row) -> StoreResult<MergeRecord> {
    from_json(&row.at::<String>(0)?)
}

pub fn merge_record(conn: &Connection, merge_id: &str) -> StoreResult<Option<MergeRecord>> {
    one(
        conn,
        "SELECT record FROM merges WHERE merge_id = ?",
        [merge_id],
        merge_from,
    )
}

/// The merge in force that absorbed the customer.
pub fn merge_of(conn: &Connection, absorbed_id: &str) -> StoreResult<Option<MergeRecord>> {
    one(
        conn,
        "SELECT record FROM merges WHERE absorbed_id = ? AND undone_at IS NULL",
        [absorbed_id],
        merge_from,
    )
}

/// Every merge the customer took part in, undone or not, oldest first.
pub fn merges_involving(conn: &Connection, customer_id: &str) -> StoreResult<Vec<MergeRecord>> {
    all(
        conn,
        "SELECT record FROM merges WHERE survivor_id = ?1 OR absorbed_id = ?1
         ORDER BY at, merge_id",
        [customer_id],
        merge_from,
    )
}

/// The merges in force into the survivor, oldest first.
pub fn merges_into(conn: &Connection, survivor_id: &str) -> StoreResult<Vec<MergeRecord>> {
    all(
        conn,
        "SELECT record FROM merges WHERE survivor_id = ? AND undone_at IS NULL
         ORDER BY at, merge_id",
        [survivor_id],
        merge_from,
    )
}

/// Inserts a candidate or rewrites the one with its id. A second open candidate for
/// one pair is refused by `merge_candidates_open_pair`.
pub fn put_candidate(conn: &Connection, candidate: &MergeCandidate) -> StoreResult<()> {
    exec_unique(
        conn,
        "INSERT INTO merge_candidates (candidate_id, customer_a, customer_b, status, record)
         VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (candidate_id) DO UPDATE SET customer_a = excluded.customer_a,
             customer_b = excluded.customer_b, status = excluded.status, record = excluded.record",
        params![
            candidate.candidate_id,
            candidate.customer_a,
            candidate.customer_b,
            candidate.status.as_str(),
            to_json(candidate)?
        ],
        ErrorCode::MergeConflict,
        || {
            format!(
                "{} and {} already have an open candidate",
                candidate.customer_a, candidate.customer_b
            )
        },
    )
}

fn candidate_from(row: &rusqlite::Row) -> StoreResult<MergeCandidate> {
    from_json(&row.at::<String>(0)?)
}

pub fn candidate(conn: &Connection, candidate_id: &str) -> StoreResult<Option<MergeCandidate>> {
    one(
        conn,
        "SELECT record FROM merge_candidates WHERE candidate_id = ?",
        [candidate_id],
        candidate_from,
    )
}

/// The open candidate for the pair `a < b`.
pub fn candidate_for(conn: &Connection, a: &str, b: &str) -> StoreResult<Option<MergeCandidate>> {
    one(
        conn,
        "SELECT record FROM merge_candidates WHERE customer_a = ? AND customer_b = ? AND status = 'open'",
        [a, b],
        candidate_from,
    )
}

/// The review queue by candidate id, from after `filter.after`.
pub fn candidates(conn: &Connection, filter: &CandidateFilter) -> StoreResult<Vec<MergeCandidate>> {
    let after = filter.after.as_deref().unwrap_or("");
    let limit = filter.limit as i64;
    match filter.status {
        Some(status) => all(
            conn,
            "SELECT record FROM merge_candidates WHERE status = ? AND candidate_id > ?
             ORDER BY candidate_id LIMIT ?",
            params![status.as_str(), after, limit],
            candidate_from,
        ),
        None => all(
            conn,
            "SELECT record FROM merge_candidates WHERE candidate_id > ?
             ORDER BY candidate_id LIMIT ?",
            params![after, limit],
            candidate_from,
        ),
    }
}

pub fn adjustment(conn: &Connection, key: &str) -> StoreResult<Option<StoredAdjustment>> {
    one(
        conn,
        "SELECT key, customer_id, request_hash, response, at FROM adjustments WHERE key = ?",
        [key],
        |row| {
            Ok(StoredAdjustment {
                key: row.at(0)?,
                customer_id: row.at(1)?,
                request_hash: row.at(2)?,
                response: row.at(3)?,
                at: parse_ts(&row.at::<String>(4)?)?,
            })
        },
    )
}

pub fn insert_adjustment(conn: &Connection, adjustment: &StoredAdjustment) -> StoreResult<()> {
    exec_unique(
        conn,
        "INSERT INTO adjustments (key, customer_id, request_hash, response, at) VALUES (?, ?, ?, ?, ?)",
        params![
            adjustment.key,
            adjustment.customer_id,
            adjustment.request_hash,
            adjustment.response,
            ts(adjustment.at)
        ],
        ErrorCode::AdjustmentConflict,
        || format!("adjustment {} exists", adjustment.key),
    )
}
