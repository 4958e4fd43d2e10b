//! Rows of customer segments and their members.

use crate::rows::db;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use std::collections::HashSet;
use tessera_core::segment::{MembershipChange, Segment};
use tessera_core::{CoreError, ErrorCode};
use tessera_store::{StoreError, StoreResult};

pub async fn put(conn: &mut PgConnection, segment: &Segment) -> StoreResult<()> {
    crate::rows::upsert_document(conn, "segments", "segment_id", &segment.segment_id, segment).await
}

pub async fn get(conn: &mut PgConnection, segment_id: &str) -> StoreResult<Option<(Segment, u64)>> {
    let row = sqlx::query(
        "SELECT body, (SELECT COUNT(*) FROM segment_members m WHERE m.segment_id = s.segment_id)
         FROM segments s WHERE s.segment_id = $1",
    )
    .bind(segment_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.map(|r| {
        let segment = serde_json::from_str(&r.get::<String, _>(0)).map_err(StoreError::backend)?;
        Ok((segment, r.get::<i64, _>(1) as u64))
    })
    .transpose()
}

/// Applies a membership change after checking, before any write, that the segment
/// and every added customer exist. The segment row is locked first, so that changes
/// of one segment from several server processes take turns.
pub async fn change(
    conn: &mut PgConnection,
    segment_id: &str,
    change: &MembershipChange,
) -> StoreResult<bool> {
    let segment = sqlx::query("SELECT segment_id FROM segments WHERE segment_id = $1 FOR UPDATE")
        .bind(segment_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    if segment.is_none() {
        return Ok(false);
    }
    let mut known = HashSet::new();
    for chunk in change.add.chunks(500) {
        let mut query = QueryBuilder::<Postgres>::new(
            "SELECT customer_id FROM customers WHERE customer_id IN (",
        );
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(id);
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *conn).await.map_err(db)? {
            known.insert(row.get::<String, _>(0));
        }
    }
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
    for chunk in change.add.chunks(500) {
        let mut insert =
            QueryBuilder::<Postgres>::new("INSERT INTO segment_members (segment_id, customer_id) ");
        insert.push_values(chunk, |mut row, id| {
            row.push_bind(segment_id).push_bind(id);
        });
        insert.push(" ON CONFLICT DO NOTHING");
        insert.build().execute(&mut *conn).await.map_err(db)?;
    }
    for chunk in change.remove.chunks(500) {
        let mut delete =
            QueryBuilder::<Postgres>::new("DELETE FROM segment_members WHERE segment_id = ");
        delete.push_bind(segment_id);
        delete.push(" AND customer_id IN (");
        let mut list = delete.separated(", ");
        for id in chunk {
            list.push_bind(id);
        }
        delete.push(")");
        delete.build().execute(&mut *conn).await.map_err(db)?;
    }
    Ok(true)
}

pub async fn of_customer(conn: &mut PgConnection, customer_id: &str) -> StoreResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT segment_id FROM segment_members WHERE customer_id = $1 ORDER BY segment_id",
    )
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
