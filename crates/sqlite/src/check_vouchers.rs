//! `tessera check` for coupon codes and gift certificates: the rows, judged by
//! [`tessera_store::check_vouchers`].

use crate::rows::db;
use sqlx::{Row, SqliteConnection};
use tessera_core::refund::ReceiptRecord;
use tessera_store::check_vouchers::{certificate_balances, coupon_holders};
use tessera_store::{CheckItem, StoreResult};

async fn records(conn: &mut SqliteConnection) -> StoreResult<Vec<ReceiptRecord>> {
    let rows = sqlx::query("SELECT record FROM receipts")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    Ok(rows
        .iter()
        .filter_map(|row| serde_json::from_str(&row.get::<String, _>(0)).ok())
        .collect())
}

/// Every used single-use code is held by exactly the receipt that used it.
pub async fn coupons(conn: &mut SqliteConnection) -> StoreResult<CheckItem> {
    let records = records(conn).await?;
    let used: Vec<(String, String)> =
        sqlx::query("SELECT code, used_by FROM coupons WHERE used_by IS NOT NULL")
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    Ok(coupon_holders(&records, &used))
}

/// Every certificate balance equals its amount less payments plus refunds.
pub async fn certificates(conn: &mut SqliteConnection) -> StoreResult<CheckItem> {
    let records = records(conn).await?;
    let certificates: Vec<(String, i64, i64)> =
        sqlx::query("SELECT code, amount, balance FROM certificates")
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect();
    Ok(certificate_balances(&records, &certificates))
}
