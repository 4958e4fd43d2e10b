//! Rows of customer segments and their members.

use crate::rows::by_keys;
use crate::sql::{all, exec, one, RowExt};
use rusqlite::{params, Connection};
use std::collections::HashSet;
use tessera_core::segment::{MembershipChange, Segment};
use tessera_core::{CoreError, ErrorCode};
use tessera_store::{StoreError, StoreResult};

pub fn put(conn: &Connection, segment: &Segment) -> StoreResult<()> {
    crate::rows::upsert_document(conn, "segments", "segment_id", &segment.segment_id, segment)
}

pub fn get(conn: &Connection, segment_id: &str) -> StoreResult<Option<(Segment, u64)>> {
    one(
        conn,
        "SELECT body, (SELECT COUNT(*) FROM segment_members m WHERE m.segment_id = s.segment_id)
         FROM segments s WHERE segment_id = ?",
        [segment_id],
        |r| {
            let segment = serde_json::from_str(&r.at::<String>(0)?).map_err(StoreError::backend)?;
            Ok((segment, r.at::<i64>(1)? as u64))
        },
    )
}

/// Applies a membership change after checking, before any write, that the segment
/// and every added customer exist.
pub fn change(conn: &Connection, segment_id: &str, change: &MembershipChange) -> StoreResult<bool> {
    if get(conn, segment_id)?.is_none() {
        return Ok(false);
    }
    let known: HashSet<String> = by_keys(
        conn,
        "SELECT customer_id FROM customers WHERE customer_id IN",
        &change.add,
        |r| r.at(0),
    )?
    .into_iter()
    .collect();
    if let Some((idx, id)) = change
        .add
        .iter()
        .enumerate()
        .find(|(_, id)| !known.contains(*id))
    {
        return Err(StoreError::Domain(CoreError::field(
            ErrorCode::UnknownCustomer,
            format!("add[{idx}]"),
            format!("no customer {id:?}"),
        )));
    }
    for id in &change.add {
        exec(
            conn,
            "INSERT OR IGNORE INTO segment_members (segment_id, customer_id) VALUES (?, ?)",
            params![segment_id, id],
        )?;
    }
    for id in &change.remove {
        exec(
            conn,
            "DELETE FROM segment_members WHERE segment_id = ? AND customer_id = ?",
            params![segment_id, id],
        )?;
    }
    Ok(true)
}

pub fn of_customer(conn: &Connection, customer_id: &str) -> StoreResult<Vec<String>> {
    all(
        conn,
        "SELECT segment_id FROM segment_members WHERE customer_id = ? ORDER BY segment_id",
        [customer_id],
        |r| r.at(0),
    )
}
