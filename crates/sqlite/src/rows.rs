//! Row-level reads and writes shared by the writer's transactions and the readers.

use crate::time::{parse_offset, parse_ts, ts};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use tessera_core::customer::{Card, CardType, Customer, CustomerFacts, TierGrant};
use tessera_core::ledger::{
    Account, CustomerLedger, Entry, EntryKind, LedgerChanges, Lot, LotState,
};
use tessera_core::limits::{Usage, UsageDelta};
use tessera_core::receipt::CustomerRef;
use tessera_core::refund::ReceiptRecord;
use tessera_core::ErrorCode;
use tessera_store::{ReceiptVersion, StoreError, StoreResult, StoredEntry, StoredReceipt};

pub fn db(error: sqlx::Error) -> StoreError {
    StoreError::backend(error)
}

/// Inserts or replaces a configuration document (`body` JSON) keyed by `id`; `table`
/// and `key` are names from the schema, never input.
pub async fn upsert_document<T: serde::Serialize>(
    conn: &mut SqliteConnection,
    table: &str,
    key: &str,
    id: &str,
    document: &T,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO {table} ({key}, body) VALUES (?, ?)
         ON CONFLICT ({key}) DO UPDATE SET body = excluded.body"
    ))
    .bind(id)
    .bind(serde_json::to_string(document).map_err(StoreError::backend)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

fn json_err(error: serde_json::Error) -> StoreError {
    StoreError::backend(format!("stored JSON is unreadable: {error}"))
}

/// The statement that finds the id of the customer a till's identifier names.
fn resolve_sql(reference: &CustomerRef) -> (&'static str, &String) {
    match reference {
        CustomerRef::Card(card) => ("SELECT customer_id FROM cards WHERE card = ?", card),
        CustomerRef::Phone(phone) => ("SELECT customer_id FROM customers WHERE phone = ?", phone),
        CustomerRef::CustomerId(id) => (
            "SELECT customer_id FROM customers WHERE customer_id = ?",
            id,
        ),
    }
}

pub async fn resolve_customer(
    conn: &mut SqliteConnection,
    reference: &CustomerRef,
) -> StoreResult<Option<String>> {
    let (sql, value) = resolve_sql(reference);
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
        let inserted =
            sqlx::query("INSERT INTO cards (card, customer_id, card_type) VALUES (?, ?, ?)")
                .bind(&card.number)
                .bind(&customer.customer_id)
                .bind(card.card_type.as_str())
                .execute(&mut *conn)
                .await;
        match inserted {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Domain(tessera_core::CoreError::field(
                    ErrorCode::CardTaken,
                    format!("cards[{idx}]"),
                    format!("card {} already belongs to another customer", card.number),
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

/// Inserts many customers with few statements (100 rows each). When a chunk hits a
/// taken phone or card, it is undone and inserted row by row to name the field at
/// fault; the caller's savepoint undoes the earlier chunks.
pub async fn insert_customers(
    conn: &mut SqliteConnection,
    customers: &[Customer],
) -> StoreResult<()> {
    for chunk in customers.chunks(100) {
        sqlx::query("SAVEPOINT customers_chunk")
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        match insert_chunk(conn, chunk).await {
            Ok(()) => {
                sqlx::query("RELEASE customers_chunk")
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
            }
            Err(error) => {
                sqlx::query("ROLLBACK TO customers_chunk")
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                sqlx::query("RELEASE customers_chunk")
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                if !matches!(&error, sqlx::Error::Database(e) if e.is_unique_violation()) {
                    return Err(db(error));
                }
                for customer in chunk {
                    insert_customer(conn, customer).await?;
                }
            }
        }
    }
    Ok(())
}

async fn insert_chunk(conn: &mut SqliteConnection, chunk: &[Customer]) -> Result<(), sqlx::Error> {
    let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "INSERT INTO customers (customer_id, name, phone, email, created_at) ",
    );
    insert.push_values(chunk, |mut row, c| {
        row.push_bind(&c.customer_id)
            .push_bind(&c.name)
            .push_bind(&c.phone)
            .push_bind(&c.email)
            .push_bind(ts(c.created_at));
    });
    insert.build().execute(&mut *conn).await?;
    let cards: Vec<(&Card, &String)> = chunk
        .iter()
        .flat_map(|c| c.cards.iter().map(move |card| (card, &c.customer_id)))
        .collect();
    if !cards.is_empty() {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO cards (card, customer_id, card_type) ",
        );
        insert.push_values(&cards, |mut row, (card, customer_id)| {
            row.push_bind(&card.number)
                .push_bind(*customer_id)
                .push_bind(card.card_type.as_str());
        });
        insert.build().execute(&mut *conn).await?;
    }
    let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
        "INSERT INTO customer_accounts (customer_id, pending, available) ",
    );
    insert.push_values(chunk, |mut row, c| {
        row.push_bind(&c.customer_id)
            .push_bind(0i64)
            .push_bind(0i64);
    });
    insert.build().execute(&mut *conn).await?;
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
    let cards =
        sqlx::query("SELECT card, card_type FROM cards WHERE customer_id = ? ORDER BY card")
            .bind(customer_id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?
            .iter()
            .map(|r| Card {
                number: r.get(0),
                card_type: CardType::parse(&r.get::<String, _>(1)).unwrap_or_default(),
            })
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
    lot_at(row, 0)
}

/// A lot from the columns of [`LOT_COLUMNS`] starting at column `at`.
fn lot_at(row: &SqliteRow, at: usize) -> StoreResult<Lot> {
    let state: String = row.get(at + 5);
    Ok(Lot {
        lot_id: row.get(at),
        customer_id: row.get(at + 1),
        receipt_id: row.get(at + 2),
        points: row.get(at + 3),
        remaining: row.get(at + 4),
        state: LotState::parse(&state)
            .ok_or_else(|| StoreError::backend(format!("unknown lot state {state}")))?,
        earned_at: parse_ts(&row.get::<String, _>(at + 6))?,
        matures_at: parse_ts(&row.get::<String, _>(at + 7))?,
        expires_at: row
            .get::<Option<String>, _>(at + 8)
            .map(|t| parse_ts(&t))
            .transpose()?,
    })
}

/// Resolves a customer and loads their ledger and facts in one statement (a round trip
/// to the connection's thread is most of a write's cost).
pub async fn find_ledger(
    conn: &mut SqliteConnection,
    reference: &CustomerRef,
) -> StoreResult<Option<(CustomerLedger, CustomerFacts)>> {
    let (resolve, value) = resolve_sql(reference);
    // The identifier is parameter 2 (parameter 1 is the presented card, if any).
    let resolve_c = resolve.replace('?', "?2");
    let columns = LOT_COLUMNS
        .split(", ")
        .map(|c| format!("l.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    // With a card, the presented card's type; otherwise those of all the cards.
    let presented = match reference {
        CustomerRef::Card(card) => Some(card),
        _ => None,
    };
    // The customer's facts are computed once in `c`, not once per lot row.
    let sql = format!(
        "WITH c AS MATERIALIZED (
             SELECT r.customer_id,
                    NOT EXISTS (SELECT 1 FROM receipts x WHERE x.customer_id = r.customer_id)
                        AS first_purchase,
                    (SELECT group_concat(k.card_type, ',') FROM cards k
                     WHERE k.customer_id = r.customer_id AND (?1 IS NULL OR k.card = ?1))
                        AS card_types,
                    (SELECT group_concat(m.segment_id, ',') FROM segment_members m
                     WHERE m.customer_id = r.customer_id) AS segments
             FROM ({resolve_c}) r)
         SELECT c.customer_id, a.pending, a.available, c.first_purchase,
                t.value, t.until, t.granted_at, c.card_types, c.segments, {columns}
         FROM c
         LEFT JOIN customer_accounts a ON a.customer_id = c.customer_id
         LEFT JOIN (SELECT g.value, g.until, g.granted_at FROM customer_grants g, c gc
                    WHERE g.customer_id = gc.customer_id AND g.kind = 'tier' AND g.revoked = 0
                    ORDER BY g.granted_at DESC, g.grant_id DESC LIMIT 1) t ON 1
         LEFT JOIN lots l ON l.customer_id = c.customer_id AND (l.state = 'pending' OR l.remaining > 0)"
    );
    let rows = sqlx::query(&sql)
        .bind(presented)
        .bind(value)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let tier = match first.get::<Option<String>, _>(4) {
        Some(tier) => Some(TierGrant {
            tier,
            until: first
                .get::<Option<String>, _>(5)
                .map(|t| parse_ts(&t))
                .transpose()?,
            granted_at: parse_ts(&first.get::<String, _>(6))?,
        }),
        None => None,
    };
    let customer_id: String = first.get(0);
    let pending: i64 = first.get::<Option<i64>, _>(1).unwrap_or(0);
    let available: i64 = first.get::<Option<i64>, _>(2).unwrap_or(0);
    let list = |at: usize| -> Vec<String> {
        first
            .get::<Option<String>, _>(at)
            .map(|l| l.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    };
    let mut card_types: Vec<CardType> = list(7).iter().filter_map(|t| CardType::parse(t)).collect();
    card_types.sort_by_key(|t| t.as_str());
    card_types.dedup();
    let mut segments = list(8);
    segments.sort();
    let facts = CustomerFacts {
        first_purchase: first.get::<bool, _>(3),
        tier,
        card_types,
        segments,
    };
    let mut lots = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.get::<Option<String>, _>(9).is_some() {
            lots.push(lot_at(row, 9)?);
        }
    }
    Ok(Some((
        CustomerLedger::new(customer_id, pending, available, lots),
        facts,
    )))
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
    save_ledgers(conn, &[changes]).await
}

/// Persists the changes of many customers' ledgers with a few multi-row statements:
/// each statement is a round trip to the connection's thread, which is most of the
/// cost of a write.
pub async fn save_ledgers(conn: &mut SqliteConnection, all: &[&LedgerChanges]) -> StoreResult<()> {
    const ROWS: usize = 100;
    let new_lots: Vec<&Lot> = all.iter().flat_map(|c| &c.new_lots).collect();
    for chunk in new_lots.chunks(ROWS) {
        let mut insert =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!("INSERT INTO lots ({LOT_COLUMNS}) "));
        insert.push_values(chunk, |mut row, lot| {
            row.push_bind(&lot.lot_id)
                .push_bind(&lot.customer_id)
                .push_bind(&lot.receipt_id)
                .push_bind(lot.points)
                .push_bind(lot.remaining)
                .push_bind(lot.state.as_str())
                .push_bind(ts(lot.earned_at))
                .push_bind(ts(lot.matures_at))
                .push_bind(lot.expires_at.map(ts));
        });
        insert.build().execute(&mut *conn).await.map_err(db)?;
    }
    let changed_lots: Vec<&Lot> = all.iter().flat_map(|c| &c.changed_lots).collect();
    for chunk in changed_lots.chunks(ROWS) {
        let mut update =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("WITH v (lot_id, remaining, state) AS (");
        update.push_values(chunk, |mut row, lot| {
            row.push_bind(&lot.lot_id)
                .push_bind(lot.remaining)
                .push_bind(lot.state.as_str());
        });
        update.push(
            ") UPDATE lots SET remaining = v.remaining, state = v.state FROM v WHERE lots.lot_id = v.lot_id",
        );
        update.build().execute(&mut *conn).await.map_err(db)?;
    }
    let entries: Vec<&Entry> = all.iter().flat_map(|c| &c.entries).collect();
    for chunk in entries.chunks(ROWS) {
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
    let touched: Vec<&&LedgerChanges> = all
        .iter()
        .filter(|c| !c.entries.is_empty() || !c.new_lots.is_empty() || !c.changed_lots.is_empty())
        .collect();
    for chunk in touched.chunks(ROWS) {
        let mut upsert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO customer_accounts (customer_id, pending, available) ",
        );
        upsert.push_values(chunk, |mut row, changes| {
            row.push_bind(&changes.customer_id)
                .push_bind(changes.pending)
                .push_bind(changes.available);
        });
        upsert.push(
            " ON CONFLICT (customer_id) DO UPDATE SET pending = excluded.pending, available = excluded.available",
        );
        upsert.build().execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// The ledgers (balances and open lots) of up to `limit` customers with lots due to
/// mature or expire at `now`, loaded with one statement.
pub async fn due_ledgers(
    conn: &mut SqliteConnection,
    now: &str,
    limit: u32,
) -> StoreResult<Vec<CustomerLedger>> {
    let columns = LOT_COLUMNS
        .split(", ")
        .map(|c| format!("l.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "WITH due (customer_id) AS (
             SELECT customer_id FROM lots WHERE state = 'pending' AND matures_at <= ?1
             UNION
             SELECT customer_id FROM lots WHERE state = 'available' AND remaining > 0 AND expires_at <= ?1
             LIMIT ?2
         )
         SELECT d.customer_id, a.pending, a.available, {columns}
         FROM due d
         LEFT JOIN customer_accounts a ON a.customer_id = d.customer_id
         LEFT JOIN lots l ON l.customer_id = d.customer_id AND (l.state = 'pending' OR l.remaining > 0)
         ORDER BY d.customer_id"
    );
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let mut ledgers: Vec<CustomerLedger> = Vec::new();
    let mut current: Option<(String, i64, i64, Vec<Lot>)> = None;
    for row in &rows {
        let customer_id: String = row.get(0);
        if current.as_ref().is_none_or(|(id, ..)| *id != customer_id) {
            if let Some((id, pending, available, lots)) = current.take() {
                ledgers.push(CustomerLedger::new(id, pending, available, lots));
            }
            let pending = row.get::<Option<i64>, _>(1).unwrap_or(0);
            let available = row.get::<Option<i64>, _>(2).unwrap_or(0);
            current = Some((customer_id, pending, available, Vec::new()));
        }
        if row.get::<Option<String>, _>(3).is_some() {
            if let Some((.., lots)) = current.as_mut() {
                lots.push(lot_at(row, 3)?);
            }
        }
    }
    if let Some((id, pending, available, lots)) = current {
        ledgers.push(CustomerLedger::new(id, pending, available, lots));
    }
    Ok(ledgers)
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

pub async fn promotion_usage(
    conn: &mut SqliteConnection,
    keys: &[(String, String)],
) -> StoreResult<std::collections::HashMap<(String, String), Usage>> {
    let mut usage = std::collections::HashMap::new();
    for chunk in keys.chunks(200) {
        let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT promotion_id, key, uses, discount FROM promotion_usage WHERE (promotion_id, key) IN (",
        );
        let mut separated = query.separated(", ");
        for (promotion_id, key) in chunk {
            separated.push("(");
            separated.push_bind_unseparated(promotion_id);
            separated.push_unseparated(", ");
            separated.push_bind_unseparated(key);
            separated.push_unseparated(")");
        }
        query.push(")");
        for row in query.build().fetch_all(&mut *conn).await.map_err(db)? {
            usage.insert(
                (row.get(0), row.get(1)),
                Usage {
                    uses: row.get(2),
                    discount: row.get(3),
                },
            );
        }
    }
    Ok(usage)
}

fn push_delta<'q>(
    mut row: sqlx::query_builder::Separated<'_, 'q, sqlx::Sqlite, &'static str>,
    delta: &'q UsageDelta,
) {
    row.push_bind(&delta.promotion_id)
        .push_bind(&delta.key)
        .push_bind(delta.uses)
        .push_bind(delta.discount);
}

pub async fn add_usage(
    conn: &mut SqliteConnection,
    deltas: &[UsageDelta],
    sign: i64,
) -> StoreResult<()> {
    for chunk in deltas.chunks(100) {
        if sign < 0 {
            // A release updates existing counters (an insert of a negative row would
            // trip the CHECK before the conflict clause is considered).
            let mut update = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "WITH v (promotion_id, key, uses, discount) AS (",
            );
            update.push_values(chunk, push_delta);
            update.push(
                ") UPDATE promotion_usage SET uses = promotion_usage.uses - v.uses, discount = promotion_usage.discount - v.discount
                 FROM v WHERE promotion_usage.promotion_id = v.promotion_id AND promotion_usage.key = v.key",
            );
            update.build().execute(&mut *conn).await.map_err(db)?;
            continue;
        }
        let mut upsert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO promotion_usage (promotion_id, key, uses, discount) ",
        );
        upsert.push_values(chunk, push_delta);
        upsert.push(
            " ON CONFLICT (promotion_id, key) DO UPDATE SET uses = uses + excluded.uses, discount = discount + excluded.discount",
        );
        upsert.build().execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// A remembered refusal of a commit with this body.
pub async fn refusal(
    conn: &mut SqliteConnection,
    receipt_id: &str,
    request_hash: &str,
) -> StoreResult<Option<tessera_core::CoreError>> {
    let row =
        sqlx::query("SELECT error FROM refused_commits WHERE receipt_id = ? AND request_hash = ?")
            .bind(receipt_id)
            .bind(request_hash)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored: serde_json::Value =
        serde_json::from_str(&row.get::<String, _>(0)).map_err(json_err)?;
    let text = |key: &str| stored.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let code = text("code")
        .and_then(|c| ErrorCode::parse(&c))
        .ok_or_else(|| StoreError::backend("a remembered refusal has no known code"))?;
    Ok(Some(tessera_core::CoreError {
        code,
        message: text("message").unwrap_or_default(),
        field: text("field"),
    }))
}

/// Remembers a refused commit (the first refusal of a body stays).
pub async fn record_refusal(
    conn: &mut SqliteConnection,
    receipt_id: &str,
    request_hash: &str,
    error: &tessera_core::CoreError,
    at: chrono::DateTime<chrono::Utc>,
) -> StoreResult<()> {
    let body = serde_json::json!({
        "code": error.code.as_str(),
        "message": error.message,
        "field": error.field,
    });
    sqlx::query(
        "INSERT INTO refused_commits (receipt_id, request_hash, error, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (receipt_id, request_hash) DO NOTHING",
    )
    .bind(receipt_id)
    .bind(request_hash)
    .bind(body.to_string())
    .bind(ts(at))
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// A commit's first read, in one statement for the usual case (a new receipt): is the
/// receipt there, or a remembered refusal of this body?
pub async fn prior_commit(
    conn: &mut SqliteConnection,
    receipt_id: &str,
    request_hash: &str,
) -> StoreResult<tessera_store::PriorCommit> {
    let row = sqlx::query(
        "SELECT EXISTS (SELECT 1 FROM receipts WHERE receipt_id = ?1),
                EXISTS (SELECT 1 FROM refused_commits WHERE receipt_id = ?1 AND request_hash = ?2)",
    )
    .bind(receipt_id)
    .bind(request_hash)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let (committed, refused): (bool, bool) = (row.get(0), row.get(1));
    if committed {
        if let Some(stored) = receipt(conn, receipt_id).await? {
            return Ok(tessera_store::PriorCommit::Committed(Box::new(stored)));
        }
    }
    if refused {
        if let Some(error) = refusal(conn, receipt_id, request_hash).await? {
            return Ok(tessera_store::PriorCommit::Refused(error));
        }
    }
    Ok(tessera_store::PriorCommit::Nothing)
}
