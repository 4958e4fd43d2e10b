//! `tessera check` for coupon codes and gift certificates: the rows, judged by
//! [`tessera_store::check_vouchers`].

use crate::sql::{all, RowExt};
use rusqlite::Connection;
use tessera_core::refund::ReceiptRecord;
use tessera_store::check_vouchers::{certificate_balances, coupon_holders};
use tessera_store::{CheckItem, StoreResult};

pub fn records(conn: &Connection) -> StoreResult<Vec<ReceiptRecord>> {
    let texts = all(conn, "SELECT record FROM receipts", [], |row| {
        crate::packed::column(row, 0)
    })?;
    Ok(texts
        .iter()
        .filter_map(|text| serde_json::from_slice(text).ok())
        .collect())
}

/// Every used single-use code is held by exactly the receipt that used it.
pub fn coupons(conn: &Connection, records: &[ReceiptRecord]) -> StoreResult<CheckItem> {
    let used: Vec<(String, String)> = all(
        conn,
        "SELECT code, used_by FROM coupons WHERE used_by IS NOT NULL",
        [],
        |row| Ok((row.at(0)?, row.at(1)?)),
    )?;
    Ok(coupon_holders(records, &used))
}

/// Every certificate balance equals its amount less payments plus refunds.
pub fn certificates(conn: &Connection, records: &[ReceiptRecord]) -> StoreResult<CheckItem> {
    let certificates: Vec<(String, i64, i64)> = all(
        conn,
        "SELECT code, amount, balance FROM certificates",
        [],
        |row| Ok((row.at(0)?, row.at(1)?, row.at(2)?)),
    )?;
    Ok(certificate_balances(records, &certificates))
}
