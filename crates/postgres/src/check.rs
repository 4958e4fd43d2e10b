//! `tessera check`: verifies the ledger's invariants from the stored rows alone.

use crate::rows::db;
use sqlx::{Connection, PgConnection, Row};
use std::collections::HashMap;
use tessera_core::ledger::Account;
use tessera_core::refund::ReceiptRecord;
use tessera_store::check_ledger::{
    balance_violations, lot_violations, transfer_violations, StoredAccount, StoredLot,
};
use tessera_store::{CheckItem, CheckReport, StoreResult};

/// Runs every check and reports each with the number of rows it looked at. Other
/// server processes may write meanwhile, so the checks read one snapshot: a
/// read-only REPEATABLE READ transaction (unless the caller is already in one).
pub async fn run(conn: &mut PgConnection) -> StoreResult<CheckReport> {
    if conn.is_in_transaction() {
        return run_all(conn).await;
    }
    let mut tx = conn
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(db)?;
    let report = run_all(&mut tx).await?;
    tx.commit().await.map_err(db)?;
    Ok(report)
}

async fn run_all(conn: &mut PgConnection) -> StoreResult<CheckReport> {
    let mut report = CheckReport::default();
    report.items.push(double_entry(conn).await?);
    report.items.push(crate::access::check(conn).await?);
    report.items.push(customer_balances(conn).await?);
    report.items.extend(lots(conn).await?);
    report.items.push(receipts(conn).await?);
    report.items.push(promotion_usage(conn).await?);
    report
        .items
        .push(crate::check_vouchers::coupons(conn).await?);
    report
        .items
        .push(crate::check_vouchers::certificates(conn).await?);
    report.items.extend(crate::check_profiles::run(conn).await?);
    Ok(report)
}

/// Promotion limit counters equal what the receipts still counting them say.
async fn promotion_usage(conn: &mut PgConnection) -> StoreResult<CheckItem> {
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

async fn double_entry(conn: &mut PgConnection) -> StoreResult<CheckItem> {
    let mut item = CheckItem { name: "double-entry: every entry moves points between two known accounts and all accounts sum to zero".into(), checked: 0, violations: Vec::new() };
    let rows = sqlx::query(
        "SELECT account, SUM(delta)::BIGINT, COUNT(*) FROM (
             SELECT credit AS account, amount AS delta FROM entries
             UNION ALL SELECT debit, -amount FROM entries
         ) AS moves GROUP BY account",
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

/// Every account row's `(customer_id, pending, available)`.
async fn accounts(conn: &mut PgConnection) -> StoreResult<Vec<StoredAccount>> {
    let rows = sqlx::query("SELECT customer_id, pending, available FROM customer_accounts")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    Ok(rows
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect())
}

async fn customer_balances(conn: &mut PgConnection) -> StoreResult<CheckItem> {
    let sums: HashMap<String, (i64, i64)> = sqlx::query(
        "SELECT customer_id,
                SUM(CASE WHEN credit = 'customer_pending' THEN amount WHEN debit = 'customer_pending' THEN -amount ELSE 0 END)::BIGINT,
                SUM(CASE WHEN credit = 'customer_available' THEN amount WHEN debit = 'customer_available' THEN -amount ELSE 0 END)::BIGINT
         FROM entries GROUP BY customer_id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|row| (row.get(0), (row.get(1), row.get(2))))
    .collect();
    Ok(balance_violations(sums, &accounts(conn).await?))
}

async fn lots(conn: &mut PgConnection) -> StoreResult<Vec<CheckItem>> {
    // One pass over the entries, grouped by lot (no per-lot sub-query).
    let by_lot: HashMap<String, (i64, i64)> = sqlx::query(
        "SELECT lot_id,
                SUM(CASE WHEN credit IN ('customer_pending', 'customer_available') AND debit NOT IN ('customer_pending', 'customer_available') THEN amount
                         WHEN debit IN ('customer_pending', 'customer_available') AND credit NOT IN ('customer_pending', 'customer_available') THEN -amount
                         ELSE 0 END)::BIGINT,
                SUM(CASE WHEN kind = 'mature' THEN 1 ELSE 0 END)::BIGINT
         FROM entries WHERE lot_id IS NOT NULL GROUP BY lot_id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|row| (row.get(0), (row.get(1), row.get(2))))
    .collect();
    let lots: Vec<StoredLot> =
        sqlx::query("SELECT lot_id, customer_id, points, remaining, state FROM lots")
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
            .collect();
    let by_op: HashMap<String, i64> = sqlx::query(
        "SELECT COALESCE(op_id, ''),
                SUM(CASE WHEN credit = 'transfer' THEN amount ELSE -amount END)::BIGINT
         FROM entries WHERE debit = 'transfer' OR credit = 'transfer' GROUP BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect();
    let latest: HashMap<String, String> = sqlx::query(
        "SELECT e.lot_id, e.customer_id FROM entries e
         JOIN (SELECT lot_id, MAX(entry_id) AS id FROM entries
               WHERE kind = 'transfer_in' AND lot_id IS NOT NULL GROUP BY lot_id) m
           ON m.id = e.entry_id",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect();
    Ok(vec![
        lot_violations(by_lot, &lots, &accounts(conn).await?),
        transfer_violations(by_op, latest, &lots),
    ])
}

async fn receipts(conn: &mut PgConnection) -> StoreResult<CheckItem> {
    let mut item = CheckItem {
        name: "receipts: lines sum to totals and every committed receipt is matched by its entries"
            .into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut by_receipt: HashMap<String, HashMap<String, i64>> = HashMap::new();
    let rows = sqlx::query("SELECT receipt_id, kind, SUM(amount)::BIGINT FROM entries WHERE receipt_id IS NOT NULL AND kind IN ('earn', 'redeem', 'redeem_refund', 'earn_reversal') GROUP BY receipt_id, kind")
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
