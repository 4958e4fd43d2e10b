//! `tessera check`: verifies the ledger's invariants from the stored rows alone.

use crate::sql::{all, one, RowExt};
use crate::{check_profiles, check_vouchers};
use rusqlite::Connection;
use std::collections::HashMap;
use tessera_core::ledger::Account;
use tessera_core::refund::ReceiptRecord;
use tessera_store::check_ledger::{
    balance_violations, lot_violations, transfer_violations, StoredAccount, StoredLot,
};
use tessera_store::{CheckItem, CheckReport, StoreResult};

/// Runs every check and reports each with the number of rows it looked at.
pub fn run(conn: &Connection) -> StoreResult<CheckReport> {
    let mut report = CheckReport::default();
    report.items.push(double_entry(conn)?);
    report.items.push(customer_balances(conn)?);
    report.items.extend(lots(conn)?);
    report.items.push(receipts(conn)?);
    let records = check_vouchers::records(conn)?;
    report.items.push(promotion_usage(conn, &records)?);
    report.items.push(check_vouchers::coupons(conn, &records)?);
    report
        .items
        .push(check_vouchers::certificates(conn, &records)?);
    report.items.extend(check_profiles::run(conn)?);
    report.items.push(check_profiles::references(conn)?);
    report.items.push(crate::access::check(conn)?);
    Ok(report)
}

/// Promotion limit counters equal what the receipts still counting them say.
fn promotion_usage(conn: &Connection, records: &[ReceiptRecord]) -> StoreResult<CheckItem> {
    let counters: Vec<tessera_store::check_receipts::StoredCounter> = all(
        conn,
        "SELECT promotion_id, key, uses, discount FROM promotion_usage",
        [],
        |row| Ok(((row.at(0)?, row.at(1)?), (row.at(2)?, row.at(3)?))),
    )?;
    Ok(tessera_store::check_receipts::usage_counters(
        records, &counters,
    ))
}

fn double_entry(conn: &Connection) -> StoreResult<CheckItem> {
    let mut item = CheckItem { name: "double-entry: every entry moves points between two known accounts and all accounts sum to zero".into(), checked: 0, violations: Vec::new() };
    let mut total: i64 = 0;
    all(
        conn,
        "SELECT account, SUM(delta), COUNT(*) FROM (
             SELECT credit AS account, amount AS delta FROM entries
             UNION ALL SELECT debit, -amount FROM entries
         ) GROUP BY account",
        [],
        |row| {
            let account: String = row.at(0)?;
            item.checked += row.at::<i64>(2)? as u64;
            if Account::parse(&account).is_none() {
                item.violations.push(format!("unknown account {account:?}"));
            }
            total += row.at::<i64>(1)?;
            Ok(())
        },
    )?;
    item.checked /= 2;
    if total != 0 {
        item.violations
            .push(format!("accounts sum to {total}, not 0"));
    }
    let bad: i64 = one(
        conn,
        "SELECT COUNT(*) FROM entries WHERE amount <= 0 OR debit = credit",
        [],
        |r| r.at(0),
    )?
    .unwrap_or(0);
    if bad > 0 {
        item.violations.push(format!(
            "{bad} entries have a non-positive amount or the same account on both sides"
        ));
    }
    Ok(item)
}

/// Every account row's `(customer_id, pending, available)`.
fn accounts(conn: &Connection) -> StoreResult<Vec<StoredAccount>> {
    all(
        conn,
        "SELECT customer_id, pending, available FROM customer_accounts",
        [],
        |row| Ok((row.at(0)?, row.at(1)?, row.at(2)?)),
    )
}

fn customer_balances(conn: &Connection) -> StoreResult<CheckItem> {
    let sums: HashMap<String, (i64, i64)> = all(
        conn,
        "SELECT customer_id,
                SUM(CASE WHEN credit = 'customer_pending' THEN amount WHEN debit = 'customer_pending' THEN -amount ELSE 0 END),
                SUM(CASE WHEN credit = 'customer_available' THEN amount WHEN debit = 'customer_available' THEN -amount ELSE 0 END)
         FROM entries GROUP BY customer_id",
        [],
        |row| Ok((row.at(0)?, (row.at(1)?, row.at(2)?))),
    )?
    .into_iter()
    .collect();
    Ok(balance_violations(sums, &accounts(conn)?))
}

fn lots(conn: &Connection) -> StoreResult<Vec<CheckItem>> {
    // One pass over the entries, grouped by lot (no per-lot sub-query).
    let by_lot: HashMap<String, (i64, i64)> = all(
        conn,
        "SELECT lot_id,
                SUM(CASE WHEN credit IN ('customer_pending', 'customer_available') AND debit NOT IN ('customer_pending', 'customer_available') THEN amount
                         WHEN debit IN ('customer_pending', 'customer_available') AND credit NOT IN ('customer_pending', 'customer_available') THEN -amount
                         ELSE 0 END),
                SUM(CASE WHEN kind = 'mature' THEN 1 ELSE 0 END)
         FROM entries WHERE lot_id IS NOT NULL GROUP BY lot_id",
        [],
        |row| Ok((row.at(0)?, (row.at(1)?, row.at(2)?))),
    )?
    .into_iter()
    .collect();
    let lots: Vec<StoredLot> = all(
        conn,
        "SELECT lot_id, customer_id, points, remaining, state FROM lots",
        [],
        |row| Ok((row.at(0)?, row.at(1)?, row.at(2)?, row.at(3)?, row.at(4)?)),
    )?;
    let by_op: HashMap<String, i64> = all(
        conn,
        "SELECT COALESCE(op_id, ''),
                SUM(CASE WHEN credit = 'transfer' THEN amount ELSE -amount END)
         FROM entries WHERE debit = 'transfer' OR credit = 'transfer' GROUP BY 1",
        [],
        |row| Ok((row.at(0)?, row.at(1)?)),
    )?
    .into_iter()
    .collect();
    let latest: HashMap<String, String> = all(
        conn,
        "SELECT e.lot_id, e.customer_id FROM entries e
         JOIN (SELECT lot_id, MAX(entry_id) AS id FROM entries
               WHERE kind = 'transfer_in' AND lot_id IS NOT NULL GROUP BY lot_id) m
           ON m.id = e.entry_id",
        [],
        |row| Ok((row.at(0)?, row.at(1)?)),
    )?
    .into_iter()
    .collect();
    Ok(vec![
        lot_violations(by_lot, &lots, &accounts(conn)?),
        transfer_violations(by_op, latest, &lots),
    ])
}

fn receipts(conn: &Connection) -> StoreResult<CheckItem> {
    let mut item = CheckItem {
        name: "receipts: lines sum to totals and every committed receipt is matched by its entries"
            .into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut by_receipt: HashMap<String, HashMap<String, i64>> = HashMap::new();
    all(
        conn,
        "SELECT receipt_id, kind, SUM(amount) FROM entries WHERE receipt_id IS NOT NULL AND kind IN ('earn', 'redeem', 'redeem_refund', 'earn_reversal') GROUP BY receipt_id, kind",
        [],
        |row| {
            by_receipt
                .entry(row.at(0)?)
                .or_default()
                .insert(row.at(1)?, row.at(2)?);
            Ok(())
        },
    )?;
    all(
        conn,
        "SELECT receipt_id, record, (SELECT COUNT(*) FROM receipt_versions v WHERE v.receipt_id = r.receipt_id) FROM receipts r",
        [],
        |row| {
            item.checked += 1;
            let receipt_id: String = row.at(0)?;
            let record: ReceiptRecord = match serde_json::from_slice(&crate::packed::column(row, 1)?)
            {
                Ok(record) => record,
                Err(error) => {
                    item.violations
                        .push(format!("receipt {receipt_id}: unreadable record: {error}"));
                    return Ok(());
                }
            };
            let versions_stored: i64 = row.at(2)?;
            let entries = by_receipt.remove(&receipt_id).unwrap_or_default();
            item.violations
                .extend(tessera_store::check_receipts::receipt_violations(
                    &record,
                    versions_stored,
                    &entries,
                ));
            Ok(())
        },
    )?;
    for (receipt_id, _) in by_receipt {
        item.violations.push(format!(
            "entries name receipt {receipt_id}, which does not exist"
        ));
    }
    Ok(item)
}
