//! `tessera check`: verifies the ledger's invariants from the stored rows alone.

use crate::rows::db;
use sqlx::{Row, SqliteConnection};
use std::collections::HashMap;
use tessera_core::ledger::Account;
use tessera_core::refund::ReceiptRecord;
use tessera_store::{CheckItem, CheckReport, StoreResult};

/// Runs every check and reports each with the number of rows it looked at.
pub async fn run(conn: &mut SqliteConnection) -> StoreResult<CheckReport> {
    let mut report = CheckReport::default();
    report.items.push(double_entry(conn).await?);
    report.items.push(customer_balances(conn).await?);
    report.items.push(lots(conn).await?);
    report.items.push(receipts(conn).await?);
    report.items.push(promotion_usage(conn).await?);
    report
        .items
        .push(crate::check_vouchers::coupons(conn).await?);
    report
        .items
        .push(crate::check_vouchers::certificates(conn).await?);
    Ok(report)
}

/// Promotion limit counters equal what the receipts still counting them say.
async fn promotion_usage(conn: &mut SqliteConnection) -> StoreResult<CheckItem> {
    let records: Vec<ReceiptRecord> = sqlx::query("SELECT record FROM receipts")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
        .iter()
        .filter_map(|row| serde_json::from_str(&row.get::<String, _>(0)).ok())
        .collect();
    let counters: Vec<tessera_store::check_receipts::StoredCounter> =
        sqlx::query("SELECT promotion_id, key, uses, discount FROM promotion_usage")
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
            .iter()
            .map(|row| ((row.get(0), row.get(1)), (row.get(2), row.get(3))))
            .collect();
    Ok(tessera_store::check_receipts::usage_counters(
        &records, &counters,
    ))
}

async fn double_entry(conn: &mut SqliteConnection) -> StoreResult<CheckItem> {
    let mut item = CheckItem { name: "double-entry: every entry moves points between two known accounts and all accounts sum to zero".into(), checked: 0, violations: Vec::new() };
    let rows = sqlx::query(
        "SELECT account, SUM(delta), COUNT(*) FROM (
             SELECT credit AS account, amount AS delta FROM entries
             UNION ALL SELECT debit, -amount FROM entries
         ) GROUP BY account",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut total: i64 = 0;
    for row in rows {
        let account: String = row.get(0);
        let sum: i64 = row.get(1);
        item.checked += row.get::<i64, _>(2) as u64;
        if Account::parse(&account).is_none() {
            item.violations.push(format!("unknown account {account:?}"));
        }
        total += sum;
    }
    item.checked /= 2;
    if total != 0 {
        item.violations
            .push(format!("accounts sum to {total}, not 0"));
    }
    let bad = sqlx::query("SELECT COUNT(*) FROM entries WHERE amount <= 0 OR debit = credit")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let bad: i64 = bad.get(0);
    if bad > 0 {
        item.violations.push(format!(
            "{bad} entries have a non-positive amount or the same account on both sides"
        ));
    }
    Ok(item)
}

async fn customer_balances(conn: &mut SqliteConnection) -> StoreResult<CheckItem> {
    let mut item = CheckItem {
        name: "customer balances equal the sums of their entries".into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut sums: HashMap<String, (i64, i64)> = HashMap::new();
    let rows = sqlx::query(
        "SELECT customer_id,
                SUM(CASE WHEN credit = 'customer_pending' THEN amount WHEN debit = 'customer_pending' THEN -amount ELSE 0 END),
                SUM(CASE WHEN credit = 'customer_available' THEN amount WHEN debit = 'customer_available' THEN -amount ELSE 0 END)
         FROM entries GROUP BY customer_id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for row in rows {
        sums.insert(row.get(0), (row.get(1), row.get(2)));
    }
    let accounts = sqlx::query("SELECT customer_id, pending, available FROM customer_accounts")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    for row in accounts {
        item.checked += 1;
        let customer_id: String = row.get(0);
        let stored: (i64, i64) = (row.get(1), row.get(2));
        let from_entries = sums.remove(&customer_id).unwrap_or((0, 0));
        if stored != from_entries {
            item.violations.push(format!(
                "customer {customer_id}: stored pending/available {stored:?} but entries sum to {from_entries:?}"
            ));
        }
    }
    for (customer_id, sums) in sums {
        if sums != (0, 0) {
            item.violations.push(format!(
                "customer {customer_id} has entries {sums:?} but no account row"
            ));
        }
    }
    Ok(item)
}

async fn lots(conn: &mut SqliteConnection) -> StoreResult<CheckItem> {
    let mut item = CheckItem { name: "lots: remaining points equal their entries, none over-consumed, pending and available lots cover the balances".into(), checked: 0, violations: Vec::new() };
    // One pass over the entries, grouped by lot (no per-lot sub-query).
    let mut by_lot: HashMap<String, (i64, i64)> = HashMap::new();
    let sums = sqlx::query(
        "SELECT lot_id,
                SUM(CASE WHEN credit IN ('customer_pending', 'customer_available') AND debit NOT IN ('customer_pending', 'customer_available') THEN amount
                         WHEN debit IN ('customer_pending', 'customer_available') AND credit NOT IN ('customer_pending', 'customer_available') THEN -amount
                         ELSE 0 END),
                SUM(CASE WHEN kind = 'mature' THEN 1 ELSE 0 END)
         FROM entries WHERE lot_id IS NOT NULL GROUP BY lot_id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for row in sums {
        by_lot.insert(row.get(0), (row.get(1), row.get(2)));
    }
    let rows = sqlx::query("SELECT lot_id, customer_id, points, remaining, state FROM lots")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let mut pending_by_customer: HashMap<String, i64> = HashMap::new();
    let mut available_by_customer: HashMap<String, i64> = HashMap::new();
    for row in rows {
        item.checked += 1;
        let lot_id: String = row.get(0);
        let customer_id: String = row.get(1);
        let points: i64 = row.get(2);
        let remaining: i64 = row.get(3);
        let state: String = row.get(4);
        let (from_entries, maturations) = by_lot.remove(&lot_id).unwrap_or((0, 0));
        if remaining < 0 || remaining > points {
            item.violations.push(format!(
                "lot {lot_id}: remaining {remaining} outside 0..={points}"
            ));
        }
        if remaining != from_entries {
            item.violations.push(format!(
                "lot {lot_id}: remaining {remaining} but entries leave {from_entries}"
            ));
        }
        if maturations > 1 {
            item.violations
                .push(format!("lot {lot_id} matured {maturations} times"));
        }
        match state.as_str() {
            "pending" => *pending_by_customer.entry(customer_id).or_default() += remaining,
            "available" => *available_by_customer.entry(customer_id).or_default() += remaining,
            _ => {}
        }
    }
    for lot_id in by_lot.keys() {
        item.violations
            .push(format!("entries name lot {lot_id}, which does not exist"));
    }
    let accounts = sqlx::query("SELECT customer_id, pending, available FROM customer_accounts")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    for row in accounts {
        let customer_id: String = row.get(0);
        let pending: i64 = row.get(1);
        let available: i64 = row.get(2);
        let lot_pending = pending_by_customer.get(&customer_id).copied().unwrap_or(0);
        let lot_available = available_by_customer
            .get(&customer_id)
            .copied()
            .unwrap_or(0);
        if lot_pending != pending {
            item.violations.push(format!("customer {customer_id}: pending balance {pending} but pending lots hold {lot_pending}"));
        }
        if lot_available < available {
            item.violations.push(format!("customer {customer_id}: available balance {available} exceeds available lots {lot_available}"));
        }
    }
    Ok(item)
}

async fn receipts(conn: &mut SqliteConnection) -> StoreResult<CheckItem> {
    let mut item = CheckItem {
        name: "receipts: lines sum to totals and every committed receipt is matched by its entries"
            .into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut by_receipt: HashMap<String, HashMap<String, i64>> = HashMap::new();
    let rows = sqlx::query("SELECT receipt_id, kind, SUM(amount) FROM entries WHERE receipt_id IS NOT NULL AND kind IN ('earn', 'redeem', 'redeem_refund', 'earn_reversal') GROUP BY receipt_id, kind")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    for row in rows {
        by_receipt
            .entry(row.get(0))
            .or_default()
            .insert(row.get(1), row.get(2));
    }
    let rows = sqlx::query("SELECT receipt_id, record, (SELECT COUNT(*) FROM receipt_versions v WHERE v.receipt_id = r.receipt_id) FROM receipts r")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    for row in rows {
        item.checked += 1;
        let receipt_id: String = row.get(0);
        let record: ReceiptRecord = match serde_json::from_str(&row.get::<String, _>(1)) {
            Ok(record) => record,
            Err(error) => {
                item.violations
                    .push(format!("receipt {receipt_id}: unreadable record: {error}"));
                continue;
            }
        };
        let versions_stored: i64 = row.get(2);
        let entries = by_receipt.remove(&receipt_id).unwrap_or_default();
        item.violations
            .extend(tessera_store::check_receipts::receipt_violations(
                &record,
                versions_stored,
                &entries,
            ));
    }
    for (receipt_id, _) in by_receipt {
        item.violations.push(format!(
            "entries name receipt {receipt_id}, which does not exist"
        ));
    }
    Ok(item)
}
