//! Rows of coupon series, coupon codes, gift certificates and customer grants.

use crate::rows::db;
use crate::time::parse_ts;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};
use std::collections::HashMap;
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::money::Money;
use tessera_core::reward::{Certificate, Grant, GrantKind};
use tessera_store::{NewRewards, StoreError, StoreResult};

fn opt_ts(text: Option<String>) -> StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
    text.map(|t| parse_ts(&t)).transpose()
}

pub async fn put_series(conn: &mut PgConnection, series: &CouponSeries) -> StoreResult<()> {
    crate::rows::upsert_document(
        conn,
        "coupon_series",
        "series_id",
        &series.series_id,
        series,
    )
    .await
}

pub async fn series(conn: &mut PgConnection, series_id: &str) -> StoreResult<Option<CouponSeries>> {
    let row = sqlx::query("SELECT body FROM coupon_series WHERE series_id = $1")
        .bind(series_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.map(|r| serde_json::from_str(&r.get::<String, _>(0)).map_err(StoreError::backend))
        .transpose()
}

/// Inserts codes with one statement; a code that exists already fails the whole batch.
pub async fn insert_coupons(conn: &mut PgConnection, coupons: &[Coupon]) -> StoreResult<()> {
    if coupons.is_empty() {
        return Ok(());
    }
    let mut insert = QueryBuilder::<Postgres>::new("");
    crate::batch::push_coupons(&mut insert, coupons);
    insert.build().execute(&mut *conn).await.map_err(db)?;
    Ok(())
}

fn coupon_from_row(row: &PgRow) -> StoreResult<Coupon> {
    Ok(Coupon {
        code: row.get(0),
        series_id: row.get(1),
        customer_id: row.get(2),
        issued_by: row.get(3),
        valid_until: opt_ts(row.get(4))?,
        used_by: row.get(5),
        revoked: row.get(6),
    })
}

/// The codes in a deterministic order (sorted, without repeats), so that writers
/// locking several rows always take the locks in the same order.
fn sorted(codes: &[String]) -> Vec<&str> {
    let mut sorted: Vec<&str> = codes.iter().map(String::as_str).collect();
    sorted.sort();
    sorted.dedup();
    sorted
}

/// The codes that exist, with their series. With `lock` (inside a write's
/// transaction) the coupon rows are locked `FOR UPDATE` in code order until the
/// transaction ends.
pub async fn coupons(
    conn: &mut PgConnection,
    codes: &[String],
    lock: bool,
) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
    let mut found = HashMap::new();
    if codes.is_empty() {
        return Ok(found);
    }
    let sql = if lock {
        "SELECT c.code, c.series_id, c.customer_id, c.issued_by, c.valid_until, c.used_by, c.revoked, s.body
         FROM coupons c JOIN coupon_series s ON s.series_id = c.series_id WHERE c.code = ANY($1)
         ORDER BY c.code FOR UPDATE OF c"
    } else {
        "SELECT c.code, c.series_id, c.customer_id, c.issued_by, c.valid_until, c.used_by, c.revoked, s.body
         FROM coupons c JOIN coupon_series s ON s.series_id = c.series_id WHERE c.code = ANY($1)"
    };
    let rows = sqlx::query(sql)
        .bind(sorted(codes))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    for row in rows {
        let coupon = coupon_from_row(&row)?;
        let series: CouponSeries =
            serde_json::from_str(&row.get::<String, _>(7)).map_err(StoreError::backend)?;
        found.insert(coupon.code.clone(), (coupon, series));
    }
    Ok(found)
}

/// Marks codes used by a receipt (only codes still free) or frees them (only codes
/// that receipt used); anything else means the rows changed under the write. Rows
/// are updated in code order, like every other writer locks them.
pub async fn set_coupon_use(
    conn: &mut PgConnection,
    codes: &[String],
    receipt_id: Option<&str>,
) -> StoreResult<()> {
    for code in sorted(codes) {
        let result = match receipt_id {
            Some(receipt_id) => sqlx::query(
                "UPDATE coupons SET used_by = $1 WHERE code = $2 AND (used_by IS NULL OR used_by = $1)",
            )
            .bind(receipt_id)
            .bind(code),
            None => sqlx::query("UPDATE coupons SET used_by = NULL WHERE code = $1").bind(code),
        }
        .execute(&mut *conn)
        .await
        .map_err(db)?;
        if result.rows_affected() != 1 {
            return Err(StoreError::backend(format!(
                "coupon {code} was not free to mark used"
            )));
        }
    }
    Ok(())
}

fn certificate_from_row(row: &PgRow) -> StoreResult<Certificate> {
    Ok(Certificate {
        code: row.get(0),
        amount: row.get(1),
        balance: row.get(2),
        customer_id: row.get(3),
        issued_by: row.get(4),
        valid_until: opt_ts(row.get(5))?,
        revoked: row.get(6),
    })
}

/// The certificates that exist. With `lock` (inside a write's transaction) the rows
/// are locked `FOR UPDATE` in code order until the transaction ends.
pub async fn certificates(
    conn: &mut PgConnection,
    codes: &[String],
    lock: bool,
) -> StoreResult<HashMap<String, Certificate>> {
    let mut found = HashMap::new();
    if codes.is_empty() {
        return Ok(found);
    }
    let sql = if lock {
        "SELECT code, amount, balance, customer_id, issued_by, valid_until, revoked
         FROM certificates WHERE code = ANY($1) ORDER BY code FOR UPDATE"
    } else {
        "SELECT code, amount, balance, customer_id, issued_by, valid_until, revoked
         FROM certificates WHERE code = ANY($1)"
    };
    let rows = sqlx::query(sql)
        .bind(sorted(codes))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    for row in rows {
        let certificate = certificate_from_row(&row)?;
        found.insert(certificate.code.clone(), certificate);
    }
    Ok(found)
}

/// Adds amounts to balances; the table's CHECK refuses a balance below zero or above
/// the amount, which fails the write. Rows are updated in code order (a stable sort,
/// so several moves of one code keep their order).
pub async fn move_certificates(
    conn: &mut PgConnection,
    moves: &[(String, Money)],
) -> StoreResult<()> {
    let mut ordered: Vec<&(String, Money)> = moves.iter().collect();
    ordered.sort_by(|a, b| a.0.cmp(&b.0));
    for (code, delta) in ordered {
        let result = sqlx::query("UPDATE certificates SET balance = balance + $1 WHERE code = $2")
            .bind(delta)
            .bind(code)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        if result.rows_affected() != 1 {
            return Err(StoreError::backend(format!("no certificate {code}")));
        }
    }
    Ok(())
}

/// Inserts a receipt's new codes, certificates and grants with one statement.
pub async fn insert_rewards(conn: &mut PgConnection, rewards: &NewRewards) -> StoreResult<()> {
    crate::batch::Batch {
        rewards: Some(rewards),
        ..Default::default()
    }
    .write(conn)
    .await
}

/// Revokes what a receipt issued. The coupon and certificate rows are locked in code
/// order first (each table's statement locks, then updates), as every other writer
/// locks them, so that no two writes deadlock.
pub async fn revoke_rewards(conn: &mut PgConnection, receipt_id: &str) -> StoreResult<()> {
    for table in ["coupons", "certificates"] {
        sqlx::query(&format!(
            "WITH l AS MATERIALIZED (SELECT code FROM {table} WHERE issued_by = $1 ORDER BY code FOR UPDATE)
             UPDATE {table} SET revoked = TRUE FROM l WHERE {table}.code = l.code"
        ))
        .bind(receipt_id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    sqlx::query("UPDATE customer_grants SET revoked = TRUE WHERE receipt_id = $1")
        .bind(receipt_id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn grants(conn: &mut PgConnection, customer_id: &str) -> StoreResult<Vec<Grant>> {
    let rows = sqlx::query(
        "SELECT customer_id, kind, value, promotion_id, receipt_id, granted_at, until, revoked
         FROM customer_grants WHERE customer_id = $1 ORDER BY granted_at, grant_id",
    )
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.iter()
        .map(|row| {
            Ok(Grant {
                customer_id: row.get(0),
                kind: match row.get::<String, _>(1).as_str() {
                    "tier" => GrantKind::Tier,
                    _ => GrantKind::Entitlement,
                },
                value: row.get(2),
                promotion_id: row.get(3),
                receipt_id: row.get(4),
                granted_at: parse_ts(&row.get::<String, _>(5))?,
                until: opt_ts(row.get(6))?,
                revoked: row.get(7),
            })
        })
        .collect()
}
