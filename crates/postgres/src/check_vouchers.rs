//! `tessera check` for coupon codes and gift certificates: every use and every
//! balance is explained by the receipts.

use crate::rows::db;
use sqlx::{PgConnection, Row};
use std::collections::HashMap;
use tessera_core::certificate::refund_split;
use tessera_core::refund::ReceiptRecord;
use tessera_store::{CheckItem, StoreResult};

async fn records(conn: &mut PgConnection) -> StoreResult<Vec<ReceiptRecord>> {
    let rows = sqlx::query("SELECT record FROM receipts")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    Ok(rows
        .iter()
        .filter_map(|row| serde_json::from_str(&row.get::<String, _>(0)).ok())
        .collect())
}

/// A single-use code is marked used by exactly the receipt that used it and still
/// holds it (not cancelled or fully returned).
pub async fn coupons(conn: &mut PgConnection) -> StoreResult<CheckItem> {
    let mut item = CheckItem {
        name: "coupons: every used code is held by exactly the receipt that used it".into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut holder: HashMap<String, String> = HashMap::new();
    for record in records(conn).await? {
        if record.undone() {
            continue;
        }
        for code in &record.coupons_used {
            if let Some(other) = holder.insert(code.clone(), record.receipt_id.clone()) {
                item.violations.push(format!(
                    "coupon {code} is used by receipts {other} and {}",
                    record.receipt_id
                ));
            }
        }
    }
    let rows = sqlx::query("SELECT code, used_by FROM coupons WHERE used_by IS NOT NULL")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    for row in rows {
        item.checked += 1;
        let code: String = row.get(0);
        let used_by: String = row.get(1);
        if holder.remove(&code).as_deref() != Some(used_by.as_str()) {
            item.violations.push(format!(
                "coupon {code} is marked used by {used_by}, which does not hold it"
            ));
        }
    }
    for (code, receipt_id) in holder {
        item.violations.push(format!(
            "receipt {receipt_id} used coupon {code}, which is not marked used by it"
        ));
    }
    Ok(item)
}

/// A certificate's balance is its amount less what receipts paid with it plus what
/// their returns gave back.
pub async fn certificates(conn: &mut PgConnection) -> StoreResult<CheckItem> {
    let mut item = CheckItem {
        name: "certificates: every balance equals its amount less payments plus refunds".into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut moved: HashMap<String, i64> = HashMap::new();
    for record in records(conn).await? {
        let payments = &record.calculation.certificates;
        for payment in payments {
            *moved.entry(payment.code.clone()).or_default() -= payment.amount;
        }
        let refunded = record.certificate_refunded_so_far();
        for (code, amount) in refund_split(payments, refunded, 0) {
            *moved.entry(code).or_default() += amount;
        }
    }
    let rows = sqlx::query("SELECT code, amount, balance FROM certificates")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    for row in rows {
        item.checked += 1;
        let code: String = row.get(0);
        let amount: i64 = row.get(1);
        let balance: i64 = row.get(2);
        let expected = amount + moved.remove(&code).unwrap_or(0);
        if balance != expected {
            item.violations.push(format!(
                "certificate {code}: balance {balance} but the receipts say {expected}"
            ));
        }
    }
    for (code, _) in moved {
        item.violations.push(format!(
            "receipts paid with certificate {code}, which does not exist"
        ));
    }
    Ok(item)
}
