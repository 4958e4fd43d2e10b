//! Rows of coupon series, coupon codes, gift certificates and customer grants.

use crate::rows::db;
use crate::time::{parse_ts, ts};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use std::collections::HashMap;
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::money::Money;
use tessera_core::reward::{Certificate, Grant, GrantKind};
use tessera_store::{NewRewards, StoreError, StoreResult};

fn opt_ts(text: Option<String>) -> StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
    text.map(|t| parse_ts(&t)).transpose()
}

pub async fn put_series(conn: &mut SqliteConnection, series: &CouponSeries) -> StoreResult<()> {
    crate::rows::upsert_document(
        conn,
        "coupon_series",
        "series_id",
        &series.series_id,
        series,
    )
    .await
}

pub async fn series(
    conn: &mut SqliteConnection,
    series_id: &str,
) -> StoreResult<Option<CouponSeries>> {
    let row = sqlx::query("SELECT body FROM coupon_series WHERE series_id = ?")
        .bind(series_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    row.map(|r| serde_json::from_str(&r.get::<String, _>(0)).map_err(StoreError::backend))
        .transpose()
}

/// Inserts codes; a code that exists already fails the whole batch.
pub async fn insert_coupons(conn: &mut SqliteConnection, coupons: &[Coupon]) -> StoreResult<()> {
    for chunk in coupons.chunks(100) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO coupons (code, series_id, customer_id, issued_by, valid_until, used_by, revoked) ",
        );
        insert.push_values(chunk, |mut row, c| {
            row.push_bind(&c.code)
                .push_bind(&c.series_id)
                .push_bind(&c.customer_id)
                .push_bind(&c.issued_by)
                .push_bind(c.valid_until.map(ts))
                .push_bind(&c.used_by)
                .push_bind(c.revoked);
        });
        insert.build().execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

fn coupon_from_row(row: &SqliteRow) -> StoreResult<Coupon> {
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

pub async fn coupons(
    conn: &mut SqliteConnection,
    codes: &[String],
) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
    let mut found = HashMap::new();
    for chunk in codes.chunks(100) {
        let mut query = QueryBuilder::<Sqlite>::new(
            "SELECT c.code, c.series_id, c.customer_id, c.issued_by, c.valid_until, c.used_by, c.revoked, s.body
             FROM coupons c JOIN coupon_series s ON s.series_id = c.series_id WHERE c.code IN (",
        );
        let mut list = query.separated(", ");
        for code in chunk {
            list.push_bind(code);
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *conn).await.map_err(db)? {
            let coupon = coupon_from_row(&row)?;
            let series: CouponSeries =
                serde_json::from_str(&row.get::<String, _>(7)).map_err(StoreError::backend)?;
            found.insert(coupon.code.clone(), (coupon, series));
        }
    }
    Ok(found)
}

/// Marks codes used by a receipt (only codes still free) or frees them (only codes
/// that receipt used); anything else means the rows changed under the write.
pub async fn set_coupon_use(
    conn: &mut SqliteConnection,
    codes: &[String],
    receipt_id: Option<&str>,
) -> StoreResult<()> {
    for code in codes {
        let result = match receipt_id {
            Some(receipt_id) => sqlx::query(
                "UPDATE coupons SET used_by = ? WHERE code = ? AND (used_by IS NULL OR used_by = ?)",
            )
            .bind(receipt_id)
            .bind(code)
            .bind(receipt_id),
            None => sqlx::query("UPDATE coupons SET used_by = NULL WHERE code = ?").bind(code),
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

fn certificate_from_row(row: &SqliteRow) -> StoreResult<Certificate> {
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

const CERTIFICATE_COLUMNS: &str =
    "code, amount, balance, customer_id, issued_by, valid_until, revoked";

pub async fn certificates(
    conn: &mut SqliteConnection,
    codes: &[String],
) -> StoreResult<HashMap<String, Certificate>> {
    let mut found = HashMap::new();
    for chunk in codes.chunks(100) {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE code IN ("
        ));
        let mut list = query.separated(", ");
        for code in chunk {
            list.push_bind(code);
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *conn).await.map_err(db)? {
            let certificate = certificate_from_row(&row)?;
            found.insert(certificate.code.clone(), certificate);
        }
    }
    Ok(found)
}

/// Adds amounts to balances; the table's CHECK refuses a balance below zero or above
/// the amount, which fails the write.
pub async fn move_certificates(
    conn: &mut SqliteConnection,
    moves: &[(String, Money)],
) -> StoreResult<()> {
    for (code, delta) in moves {
        let result = sqlx::query("UPDATE certificates SET balance = balance + ? WHERE code = ?")
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

pub async fn insert_rewards(conn: &mut SqliteConnection, rewards: &NewRewards) -> StoreResult<()> {
    insert_coupons(conn, &rewards.coupons).await?;
    for c in &rewards.certificates {
        sqlx::query(&format!(
            "INSERT INTO certificates ({CERTIFICATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&c.code)
        .bind(c.amount)
        .bind(c.balance)
        .bind(&c.customer_id)
        .bind(&c.issued_by)
        .bind(c.valid_until.map(ts))
        .bind(c.revoked)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    for g in &rewards.grants {
        sqlx::query(
            "INSERT INTO customer_grants (customer_id, kind, value, promotion_id, receipt_id, granted_at, until, revoked)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&g.customer_id)
        .bind(g.kind.as_str())
        .bind(&g.value)
        .bind(&g.promotion_id)
        .bind(&g.receipt_id)
        .bind(ts(g.granted_at))
        .bind(g.until.map(ts))
        .bind(g.revoked)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

pub async fn revoke_rewards(conn: &mut SqliteConnection, receipt_id: &str) -> StoreResult<()> {
    for table in ["coupons", "certificates"] {
        sqlx::query(&format!(
            "UPDATE {table} SET revoked = 1 WHERE issued_by = ?"
        ))
        .bind(receipt_id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    sqlx::query("UPDATE customer_grants SET revoked = 1 WHERE receipt_id = ?")
        .bind(receipt_id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn grants(conn: &mut SqliteConnection, customer_id: &str) -> StoreResult<Vec<Grant>> {
    let rows = sqlx::query(
        "SELECT customer_id, kind, value, promotion_id, receipt_id, granted_at, until, revoked
         FROM customer_grants WHERE customer_id = ? ORDER BY granted_at, grant_id",
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
