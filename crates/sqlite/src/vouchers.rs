//! Rows of coupon series, coupon codes, gift certificates and customer grants.

use crate::rows::by_keys;
use crate::sql::{all, exec, one, RowExt};
use crate::time::{parse_ts, ts};
use rusqlite::{params, Connection, Row};
use std::collections::HashMap;
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::money::Money;
use tessera_core::reward::{Certificate, Grant, GrantKind};
use tessera_store::{NewRewards, StoreError, StoreResult};

fn opt_ts(text: Option<String>) -> StoreResult<Option<chrono::DateTime<chrono::Utc>>> {
    text.map(|t| parse_ts(&t)).transpose()
}

pub fn put_series(conn: &Connection, series: &CouponSeries) -> StoreResult<()> {
    crate::rows::upsert_document(
        conn,
        "coupon_series",
        "series_id",
        &series.series_id,
        series,
    )
}

pub fn series(conn: &Connection, series_id: &str) -> StoreResult<Option<CouponSeries>> {
    one(
        conn,
        "SELECT body FROM coupon_series WHERE series_id = ?",
        [series_id],
        |r| serde_json::from_str(&r.at::<String>(0)?).map_err(StoreError::backend),
    )
}

/// Inserts codes; a code that exists already fails the whole batch.
pub fn insert_coupons(conn: &Connection, coupons: &[Coupon]) -> StoreResult<()> {
    for c in coupons {
        exec(
            conn,
            "INSERT INTO coupons (code, series_id, customer_id, issued_by, valid_until, used_by, revoked)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            params![
                c.code,
                c.series_id,
                c.customer_id,
                c.issued_by,
                c.valid_until.map(ts),
                c.used_by,
                c.revoked
            ],
        )?;
    }
    Ok(())
}

fn coupon_from_row(row: &Row) -> StoreResult<Coupon> {
    Ok(Coupon {
        code: row.at(0)?,
        series_id: row.at(1)?,
        customer_id: row.at(2)?,
        issued_by: row.at(3)?,
        valid_until: opt_ts(row.at(4)?)?,
        used_by: row.at(5)?,
        revoked: row.at(6)?,
    })
}

pub fn coupons(
    conn: &Connection,
    codes: &[String],
) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
    let found = by_keys(
        conn,
        "SELECT c.code, c.series_id, c.customer_id, c.issued_by, c.valid_until, c.used_by, c.revoked, s.body
         FROM coupons c JOIN coupon_series s ON s.series_id = c.series_id WHERE c.code IN",
        codes,
        |row| {
            let coupon = coupon_from_row(row)?;
            let series: CouponSeries =
                serde_json::from_str(&row.at::<String>(7)?).map_err(StoreError::backend)?;
            Ok((coupon.code.clone(), (coupon, series)))
        },
    )?;
    Ok(found.into_iter().collect())
}

/// Marks codes used by a receipt (only codes still free) or frees them (only codes
/// that receipt used); anything else means the rows changed under the write.
pub fn set_coupon_use(
    conn: &Connection,
    codes: &[String],
    receipt_id: Option<&str>,
) -> StoreResult<()> {
    for code in codes {
        let changed = match receipt_id {
            Some(receipt_id) => exec(
                conn,
                "UPDATE coupons SET used_by = ?1 WHERE code = ?2 AND (used_by IS NULL OR used_by = ?1)",
                params![receipt_id, code],
            )?,
            None => exec(conn, "UPDATE coupons SET used_by = NULL WHERE code = ?", [code])?,
        };
        if changed != 1 {
            return Err(StoreError::backend(format!(
                "coupon {code} was not free to mark used"
            )));
        }
    }
    Ok(())
}

fn certificate_from_row(row: &Row) -> StoreResult<Certificate> {
    Ok(Certificate {
        code: row.at(0)?,
        amount: row.at(1)?,
        balance: row.at(2)?,
        customer_id: row.at(3)?,
        issued_by: row.at(4)?,
        valid_until: opt_ts(row.at(5)?)?,
        revoked: row.at(6)?,
    })
}

const CERTIFICATE_COLUMNS: &str =
    "code, amount, balance, customer_id, issued_by, valid_until, revoked";

pub fn certificates(
    conn: &Connection,
    codes: &[String],
) -> StoreResult<HashMap<String, Certificate>> {
    let found = by_keys(
        conn,
        &format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE code IN"),
        codes,
        |row| {
            let certificate = certificate_from_row(row)?;
            Ok((certificate.code.clone(), certificate))
        },
    )?;
    Ok(found.into_iter().collect())
}

/// Adds amounts to balances; the table's CHECK refuses a balance below zero or above
/// the amount, which fails the write.
pub fn move_certificates(conn: &Connection, moves: &[(String, Money)]) -> StoreResult<()> {
    for (code, delta) in moves {
        let changed = exec(
            conn,
            "UPDATE certificates SET balance = balance + ? WHERE code = ?",
            params![delta, code],
        )?;
        if changed != 1 {
            return Err(StoreError::backend(format!("no certificate {code}")));
        }
    }
    Ok(())
}

pub fn insert_rewards(conn: &Connection, rewards: &NewRewards) -> StoreResult<()> {
    insert_coupons(conn, &rewards.coupons)?;
    for c in &rewards.certificates {
        exec(
            conn,
            &format!(
                "INSERT INTO certificates ({CERTIFICATE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            params![
                c.code,
                c.amount,
                c.balance,
                c.customer_id,
                c.issued_by,
                c.valid_until.map(ts),
                c.revoked
            ],
        )?;
    }
    for g in &rewards.grants {
        exec(
            conn,
            "INSERT INTO customer_grants (customer_id, kind, value, promotion_id, receipt_id, granted_at, until, revoked)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            params![
                g.customer_id,
                g.kind.as_str(),
                g.value,
                g.promotion_id,
                g.receipt_id,
                ts(g.granted_at),
                g.until.map(ts),
                g.revoked
            ],
        )?;
    }
    Ok(())
}

pub fn revoke_rewards(conn: &Connection, receipt_id: &str) -> StoreResult<()> {
    for sql in [
        "UPDATE coupons SET revoked = 1 WHERE issued_by = ?",
        "UPDATE certificates SET revoked = 1 WHERE issued_by = ?",
        "UPDATE customer_grants SET revoked = 1 WHERE receipt_id = ?",
    ] {
        exec(conn, sql, [receipt_id])?;
    }
    Ok(())
}

pub fn grants(conn: &Connection, customer_id: &str) -> StoreResult<Vec<Grant>> {
    all(
        conn,
        "SELECT customer_id, kind, value, promotion_id, receipt_id, granted_at, until, revoked
         FROM customer_grants WHERE customer_id = ? ORDER BY granted_at, grant_id",
        [customer_id],
        |row| {
            Ok(Grant {
                customer_id: row.at(0)?,
                kind: match row.at::<String>(1)?.as_str() {
                    "tier" => GrantKind::Tier,
                    _ => GrantKind::Entitlement,
                },
                value: row.at(2)?,
                promotion_id: row.at(3)?,
                receipt_id: row.at(4)?,
                granted_at: parse_ts(&row.at::<String>(5)?)?,
                until: opt_ts(row.at(6)?)?,
                revoked: row.at(7)?,
            })
        },
    )
}
