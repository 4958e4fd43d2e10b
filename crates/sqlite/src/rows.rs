//! Row-level reads and writes shared by the writer's transactions and the readers.

use crate::time::{parse_offset, parse_ts, ts};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use tessera_core::customer::Customer;
use tessera_core::ledger::{
    Account, CustomerLedger, Entry, EntryKind, LedgerChanges, Lot, LotState,
};
use tessera_core::receipt::CustomerRef;
use tessera_core::refund::ReceiptRecord;
use tessera_core::ErrorCode;
use tessera_store::{ReceiptVersion, StoreError, StoreResult, StoredEntry, StoredReceipt};

pub fn db(error: sqlx::Error) -> StoreError {
    StoreError::backend(error)
}

fn json_err(error: serde_json::Error) -> StoreError {
    StoreError::backend(format!("stored JSON is unreadable: {error}"))
}

pub async fn resolve_customer(
    conn: &mut SqliteConnection,
    reference: &CustomerRef,
) -> StoreResult<Option<String>> {
    let (sql, value) = match reference {
        CustomerRef::Card(card) => ("SELECT customer_id FROM cards WHERE card = ?", card),
        CustomerRef::Phone(phone) => ("SELECT customer_id FROM customers WHERE phone = ?", phone),
        CustomerRef::CustomerId(id) => (
            "SELECT customer_id FROM customers WHERE customer_id = ?",
            id,
        ),
    };
    let row = sqlx::query(sql)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(row.map(|r| r.get::<String, _>(0)))
}

/// Inserts a customer with their cards and empty accounts. A phone or card that
/// already belongs to someone is refused by the unique constraints (no extra look-up
/// on the way in); the caller's savepoint or transaction undoes the partial insert.
pub async fn insert_customer(conn: &mut SqliteConnection, customer: &Customer) -> StoreResult<()> {
    let taken = |error: sqlx::Error, customer: &Customer| -> StoreError {
        let unique = matches!(&error, sqlx::Error::Database(e) if e.is_unique_violation());
        if !unique {
            return db(error);
        }
        let message = error.to_string();
        if message.contains("customers.phone") {
            let phone = customer.phone.clone().unwrap_or_default();
            return StoreError::Domain(tessera_core::CoreError::field(
                ErrorCode::PhoneTaken,
                "phone",
                format!("phone {phone} already belongs to another customer"),
            ));
        }
        db(error)
    };
    sqlx::query("INSERT INTO customers (customer_id, name, phone, email, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&customer.customer_id)
        .bind(&customer.name)
        .bind(&customer.phone)
        .bind(&customer.email)
        .bind(ts(customer.created_at))
        .execute(&mut *conn)
        .await
        .map_err(|e| taken(e, customer))?;
    for (idx, card) in customer.cards.iter().enumerate() {
        let inserted = sqlx::query("INSERT INTO cards (card, customer_id) VALUES (?, ?)")
            .bind(card)
            .bind(&customer.customer_id)
            .execute(&mut *conn)
            .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Domain(tessera_core::CoreError::field(
                    ErrorCode::CardTaken,
                    format!("cards[{idx}]"),
                    format!("card {card} already belongs to another customer"),
                )));
            }
            Err(error) => return Err(db(error)),
        }
    }
    sqlx::query("INSERT INTO customer_accounts (customer_id, pending, available) VALUES (?, 0, 0)")
        .bind(&customer.customer_id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

pub async fn customer(
    conn: &mut SqliteConnection,
    customer_id: &str,
) -> StoreResult<Option<Customer>> {
    let Some(row) = sqlx::query(
        "SELECT customer_id, name, phone, email, created_at FROM customers WHERE customer_id = ?",
    )
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    else {
        return Ok(None);
    };
    let cards = sqlx::query("SELECT card FROM cards WHERE customer_id = ? ORDER BY card")
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect();
    Ok(Some(Customer {
        customer_id: row.get(0),
        name: row.get(1),
        phone: row.get(2),
        email: row.get(3),
        created_at: parse_ts(&row.get::<String, _>(4))?,
        cards,
    }))
}

const LOT_COLUMNS: &str =
    "lot_id, customer_id, receipt_id, points, remaining, state, earned_at, matures_at, expires_at";

fn lot_from_row(row: &SqliteRow) -> StoreResult<Lot> {
    let state: String = row.get(5);
    Ok(Lot {
        lot_id: row.get(0),
        customer_id: row.get(1),
        receipt_id: row.get(2),
        points: row.get(3),
        remaining: row.get(4),
        state: LotState::parse(&state)
            .ok_or_else(|| StoreError::backend(format!("unknown lot state {state}")))?,
        earned_at: parse_ts(&row.get::<String, _>(6))?,
        matures_at: parse_ts(&row.get::<String, _>(7))?,
        expires_at: row
            .get::<Option<String>, _>(8)
            .map(|t| parse_ts(&t))
            .transpose()?,
    })
}

pub async fn load_ledger(
    conn: &mut SqliteConnection,
    customer_id: &str,
    extra_lots: &[String],
) -> StoreResult<CustomerLedger> {
    let balances =
        sqlx::query("SELECT pending, available FROM customer_accounts WHERE customer_id = ?")
            .bind(customer_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    let (pending, available) = balances
        .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
        .unwrap_or((0, 0));
    let sql = format!("SELECT {LOT_COLUMNS} FROM lots WHERE customer_id = ? AND (state = 'pending' OR remaining > 0)");
    let mut lots = Vec::new();
    for row in sqlx::query(&sql)
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
    {
        lots.push(lot_from_row(&row)?);
    }
    for lot_id in extra_lots {
        if lots.iter().any(|l| &l.lot_id == lot_id) {
            continue;
        }
        let sql = format!("SELECT {LOT_COLUMNS} FROM lots WHERE lot_id = ?");
        if let Some(row) = sqlx::query(&sql)
            .bind(lot_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?
        {
            lots.push(lot_from_row(&row)?);
        }
    }
    Ok(CustomerLedger::new(
        customer_id.to_string(),
        pending,
        available,
        lots,
    ))
}

pub async fn save_ledger(conn: &mut SqliteConnection, changes: &LedgerChanges) -> StoreResult<()> {
    let Some(customer_id) = changes
        .entries
        .first()
        .map(|e| e.customer_id.clone())
        .or_else(|| changes.new_lots.first().map(|l| l.customer_id.clone()))
        .or_else(|| changes.changed_lots.first().map(|l| l.customer_id.clone()))
    else {
        return Ok(());
    };
    for lot in &changes.new_lots {
        sqlx::query(&format!(
            "INSERT INTO lots ({LOT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&lot.lot_id)
        .bind(&lot.customer_id)
        .bind(&lot.receipt_id)
        .bind(lot.points)
        .bind(lot.remaining)
        .bind(lot.state.as_str())
        .bind(ts(lot.earned_at))
        .bind(ts(lot.matures_at))
        .bind(lot.expires_at.map(ts))
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    for lot in &changes.changed_lots {
        sqlx::query("UPDATE lots SET remaining = ?, state = ? WHERE lot_id = ?")
            .bind(lot.remaining)
            .bind(lot.state.as_str())
            .bind(&lot.lot_id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    // One statement for many entries: each statement is a round trip to the
    // connection's thread.
    for chunk in changes.entries.chunks(100) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO entries (customer_id, kind, debit, credit, amount, lot_id, receipt_id, op_id, at) ",
        );
        insert.push_values(chunk, |mut row, entry| {
            row.push_bind(&entry.customer_id)
                .push_bind(entry.kind.as_str())
                .push_bind(entry.debit.as_str())
                .push_bind(entry.credit.as_str())
                .push_bind(entry.amount)
                .push_bind(&entry.lot_id)
                .push_bind(&entry.receipt_id)
                .push_bind(&entry.op_id)
                .push_bind(ts(entry.at));
        });
        insert.build().execute(&mut *conn).await.map_err(db)?;
    }
    sqlx::query(
        "INSERT INTO customer_accounts (customer_id, pending, available) VALUES (?, ?, ?)
         ON CONFLICT (customer_id) DO UPDATE SET pending = excluded.pending, available = excluded.available",
    )
    .bind(&customer_id)
    .bind(changes.pending)
    .bind(changes.available)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn entries(
    conn: &mut SqliteConnection,
    customer_id: &str,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<StoredEntry>> {
    let rows = sqlx::query(
        "SELECT entry_id, customer_id, kind, debit, credit, amount, lot_id, receipt_id, op_id, at FROM entries
         WHERE customer_id = ? AND entry_id > ? ORDER BY entry_id LIMIT ?",
    )
    .bind(customer_id)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.iter().map(entry_from_row).collect()
}

pub fn entry_from_row(row: &SqliteRow) -> StoreResult<StoredEntry> {
    let unknown = |what: &str, value: &str| StoreError::backend(format!("unknown {what} {value}"));
    let kind: String = row.get(2);
    let debit: String = row.get(3);
    let credit: String = row.get(4);
    Ok(StoredEntry {
        entry_id: row.get(0),
        entry: Entry {
            customer_id: row.get(1),
            kind: EntryKind::parse(&kind).ok_or_else(|| unknown("entry kind", &kind))?,
            debit: Account::parse(&debit).ok_or_else(|| unknown("account", &debit))?,
            credit: Account::parse(&credit).ok_or_else(|| unknown("account", &credit))?,
            amount: row.get(5),
            lot_id: row.get(6),
            receipt_id: row.get(7),
            op_id: row.get(8),
            at: parse_ts(&row.get::<String, _>(9))?,
        },
    })
}

pub async fn receipt(
    conn: &mut SqliteConnection,
    receipt_id: &str,
) -> StoreResult<Option<StoredReceipt>> {
    let Some(row) = sqlx::query("SELECT record FROM receipts WHERE receipt_id = ?")
        .bind(receipt_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
    else {
        return Ok(None);
    };
    let record: ReceiptRecord = serde_json::from_str(&row.get::<String, _>(0)).map_err(json_err)?;
    let rows = sqlx::query(
        "SELECT receipt_id, version, kind, op_id, request_hash, response, terminal_id, at, recorded_at
         FROM receipt_versions WHERE receipt_id = ? ORDER BY version",
    )
    .bind(receipt_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut versions = Vec::with_capacity(rows.len());
    for row in rows {
        versions.push(ReceiptVersion {
            receipt_id: row.get(0),
            version: row.get::<i64, _>(1) as u32,
            kind: row.get(2),
            op_id: row.get(3),
            request_hash: row.get(4),
            response: row.get(5),
            terminal_id: row.get(6),
            at: parse_offset(&row.get::<String, _>(7))?,
            recorded_at: parse_ts(&row.get::<String, _>(8))?,
        });
    }
    Ok(Some(StoredReceipt { record, versions }))
}

pub async fn commit_response(
    conn: &mut SqliteConnection,
    receipt_id: &str,
) -> StoreResult<Option<(String, Vec<u8>)>> {
    let row = sqlx::query(
        "SELECT request_hash, response FROM receipt_versions WHERE receipt_id = ? AND version = 1",
    )
    .bind(receipt_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

pub async fn operation(
    conn: &mut SqliteConnection,
    op_id: &str,
) -> StoreResult<Option<(String, String, Vec<u8>)>> {
    let row = sqlx::query("SELECT receipt_id, request_hash, response FROM receipt_versions WHERE op_id = ? AND kind <> 'commit'")
        .bind(op_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

pub async fn write_receipt(
    conn: &mut SqliteConnection,
    record: &ReceiptRecord,
    version: &ReceiptVersion,
    insert: bool,
) -> StoreResult<()> {
    let body = serde_json::to_string(record).map_err(json_err)?;
    if insert {
        sqlx::query("INSERT INTO receipts (receipt_id, customer_id, store_id, at, status, version, record) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(&record.receipt_id)
            .bind(&record.customer_id)
            .bind(&record.store_id)
            .bind(record.at.to_rfc3339())
            .bind(record.status.as_str())
            .bind(record.version as i64)
            .bind(body)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    } else {
        sqlx::query("UPDATE receipts SET status = ?, version = ?, record = ? WHERE receipt_id = ?")
            .bind(record.status.as_str())
            .bind(record.version as i64)
            .bind(body)
            .bind(&record.receipt_id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    sqlx::query(
        "INSERT INTO receipt_versions (receipt_id, version, kind, op_id, request_hash, response, terminal_id, at, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&version.receipt_id)
    .bind(version.version as i64)
    .bind(&version.kind)
    .bind(&version.op_id)
    .bind(&version.request_hash)
    .bind(&version.response)
    .bind(&version.terminal_id)
    .bind(version.at.to_rfc3339())
    .bind(ts(version.recorded_at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}
