//! Row-level reads and writes shared by the writer's transactions and the readers.

use crate::time::{parse_offset, parse_ts, ts};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use tessera_core::customer::{Card, CardType, Customer, CustomerFacts, TierGrant};
use tessera_core::ledger::{
    Account, CustomerLedger, Entry, EntryKind, LedgerChanges, Lot, LotState,
};
use tessera_core::limits::{Usage, UsageDelta};
use tessera_core::receipt::CustomerRef;
use tessera_core::refund::ReceiptRecord;
use tessera_core::ErrorCode;
use tessera_store::{
    ReceiptVersion, StoreError, StoreResult, StoredEntry, StoredProfile, StoredReceipt,
};

/// A database error: contention (serialization failure, deadlock, a unique row a
/// concurrent transaction inserted first) is retryable, anything else is a failure.
pub fn db(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(e) = &error {
        if matches!(e.code().as_deref(), Some("40001" | "40P01" | "23505")) {
            return StoreError::Contention(error.to_string());
        }
    }
    StoreError::backend(error)
}

/// Inserts or replaces a configuration document (`body` JSON) keyed by `id`; `table`
/// and `key` are names from the schema, never input.
pub async fn upsert_document<T: serde::Serialize>(
    conn: &mut PgConnection,
    table: &str,
    key: &str,
    id: &str,
    document: &T,
) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO {table} ({key}, body) VALUES ($1, $2)
         ON CONFLICT ({key}) DO UPDATE SET body = excluded.body"
    ))
    .bind(id)
    .bind(serde_json::to_string(document).map_err(StoreError::backend)?)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub fn json_err(error: serde_json::Error) -> StoreError {
    StoreError::backend(format!("stored JSON is unreadable: {error}"))
}

/// The statement that finds the id of the customer a till's identifier names: only an
/// active card identifies, a phone is an identifier of kind `phone`, and a customer
/// merged into another is that other one (merges repoint, so one step is enough).
fn resolve_sql(reference: &CustomerRef) -> (&'static str, &String) {
    match reference {
        CustomerRef::Card(card) => (
            "SELECT customer_id FROM cards WHERE card = $1 AND status = 'active'",
            card,
        ),
        CustomerRef::Phone(phone) => (
            "SELECT customer_id FROM customer_identifiers WHERE kind = 'phone' AND value = $1",
            phone,
        ),
        CustomerRef::CustomerId(id) => (
            "SELECT COALESCE(merged_into, customer_id) AS customer_id FROM customers WHERE customer_id = $1",
            id,
        ),
    }
}

/// As [`resolve_sql`], with a second column `card_status`: the status of a presented
/// card whatever it is (NULL for other identifiers), so that a blocked or replaced
/// card is refused rather than taken for an unknown one.
fn resolve_with_status_sql(reference: &CustomerRef) -> (&'static str, &String) {
    match reference {
        CustomerRef::Card(card) => (
            "SELECT customer_id, status AS card_status FROM cards WHERE card = $1",
            card,
        ),
        CustomerRef::Phone(phone) => (
            "SELECT customer_id, NULL::TEXT AS card_status FROM customer_identifiers
             WHERE kind = 'phone' AND value = $1",
            phone,
        ),
        CustomerRef::CustomerId(id) => (
            "SELECT COALESCE(merged_into, customer_id) AS customer_id, NULL::TEXT AS card_status
             FROM customers WHERE customer_id = $1",
            id,
        ),
    }
}

/// `card_blocked` for a presented card that is not active.
fn unusable_card(reference: &CustomerRef, card_status: Option<&str>) -> StoreResult<()> {
    match (reference, card_status) {
        (CustomerRef::Card(card), Some(status)) if status != "active" => {
            Err(StoreError::Domain(tessera_core::CoreError::field(
                ErrorCode::CardBlocked,
                reference.field(),
                format!("card {card} is {status}"),
            )))
        }
        _ => Ok(()),
    }
}

pub async fn resolve_customer(
    conn: &mut PgConnection,
    reference: &CustomerRef,
) -> StoreResult<Option<String>> {
    let (sql, value) = resolve_with_status_sql(reference);
    let row = sqlx::query(sql)
        .bind(value)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    unusable_card(reference, row.get::<Option<&str>, _>(1))?;
    Ok(Some(row.get::<String, _>(0)))
}

/// Inserts a customer registered by a commit (a new member's card): its profile,
/// empty account and cards with one statement ([`crate::profiles::insert_profiles`]).
/// A taken card is `card_taken`, which the commit reruns as contention.
pub async fn insert_customer_at_once(
    conn: &mut PgConnection,
    customer: &Customer,
) -> StoreResult<()> {
    let profile = StoredProfile::from_customer(customer, "api");
    crate::profiles::insert_profiles(conn, std::slice::from_ref(&profile)).await
}

/// Inserts many customers (`POST /v1/customers`) as profiles, their phones and emails
/// as identifiers, with one statement per thousand. A taken phone or card fails the
/// whole batch, naming the first in order; the caller's transaction undoes the rest.
pub async fn insert_customers(conn: &mut PgConnection, customers: &[Customer]) -> StoreResult<()> {
    let profiles: Vec<StoredProfile> = customers
        .iter()
        .map(|c| StoredProfile::from_customer(c, "api"))
        .collect();
    crate::profiles::insert_profiles(conn, &profiles).await
}

/// A customer as registered: the display name, the oldest phone and email, the active
/// cards; one statement.
pub async fn customer(conn: &mut PgConnection, customer_id: &str) -> StoreResult<Option<Customer>> {
    let Some(row) = sqlx::query(
        "SELECT c.customer_id, c.name,
                (SELECT i.value FROM customer_identifiers i WHERE i.customer_id = c.customer_id
                 AND i.kind = 'phone' ORDER BY i.added_at, i.value COLLATE \"C\" LIMIT 1),
                (SELECT i.value FROM customer_identifiers i WHERE i.customer_id = c.customer_id
                 AND i.kind = 'email' ORDER BY i.added_at, i.value COLLATE \"C\" LIMIT 1),
                c.created_at,
                (SELECT json_agg(json_build_array(k.card, k.card_type) ORDER BY k.card COLLATE \"C\") FROM cards k
                 WHERE k.customer_id = c.customer_id AND k.status = 'active')::TEXT
         FROM customers c WHERE c.customer_id = $1",
    )
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    else {
        return Ok(None);
    };
    let cards: Vec<(String, String)> = row
        .get::<Option<String>, _>(5)
        .map(|text| serde_json::from_str(&text).map_err(json_err))
        .transpose()?
        .unwrap_or_default();
    Ok(Some(Customer {
        customer_id: row.get(0),
        name: row.get(1),
        phone: row.get(2),
        email: row.get(3),
        created_at: parse_ts(&row.get::<String, _>(4))?,
        cards: cards
            .into_iter()
            .map(|(number, card_type)| Card {
                number,
                card_type: CardType::parse(&card_type).unwrap_or_default(),
            })
            .collect(),
    }))
}

const LOT_COLUMNS: &str =
    "lot_id, customer_id, receipt_id, points, remaining, state, earned_at, matures_at, expires_at";

fn lot_from_row(row: &PgRow) -> StoreResult<Lot> {
    lot_at(row, 0)
}

/// A lot from the columns of [`LOT_COLUMNS`] starting at column `at`.
fn lot_at(row: &PgRow, at: usize) -> StoreResult<Lot> {
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
    conn: &mut PgConnection,
    reference: &CustomerRef,
) -> StoreResult<Option<(CustomerLedger, CustomerFacts)>> {
    let (resolve, value) = resolve_with_status_sql(reference);
    // The identifier is parameter 2 (parameter 1 is the presented card, if any).
    let resolve_c = resolve.replace("$1", "$2");
    let columns = LOT_COLUMNS
        .split(", ")
        .map(|c| format!("l.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    // With a card, the presented card's type; otherwise those of all the active
    // cards. Two texts rather than `$1 IS NULL OR card = $1`, which PostgreSQL cannot
    // plan once for every value: it would plan the statement again at every execution.
    let (presented, card_filter) = match reference {
        CustomerRef::Card(card) => (Some(card), "k.card = $1"),
        _ => (None, "$1::TEXT IS NULL AND k.status = 'active'"),
    };
    // The customer's facts are computed once in `c`, not once per lot row.
    let sql = format!(
        "WITH c AS MATERIALIZED (
             SELECT r.customer_id, r.card_status,
                    NOT EXISTS (SELECT 1 FROM receipts x WHERE x.customer_id = r.customer_id)
                        AS first_purchase,
                    (SELECT string_agg(k.card_type, ',') FROM cards k
                     WHERE k.customer_id = r.customer_id AND {card_filter})
                        AS card_types,
                    (SELECT string_agg(m.segment_id, ',') FROM segment_members m
                     WHERE m.customer_id = r.customer_id) AS segments
             FROM ({resolve_c}) r)
         SELECT c.customer_id, a.pending, a.available, c.first_purchase,
                t.value, t.until, t.granted_at, c.card_types, c.segments, c.card_status, a.version,
                {columns}
         FROM c
         LEFT JOIN customer_accounts a ON a.customer_id = c.customer_id
         LEFT JOIN (SELECT g.value, g.until, g.granted_at FROM customer_grants g, c gc
                    WHERE g.customer_id = gc.customer_id AND g.kind = 'tier' AND NOT g.revoked
                    ORDER BY g.granted_at DESC, g.grant_id DESC LIMIT 1) t ON TRUE
         LEFT JOIN lots l ON l.customer_id = c.customer_id AND (l.state = 'pending' OR l.remaining > 0)
             AND (c.card_status IS NULL OR c.card_status = 'active')"
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
    unusable_card(reference, first.get::<Option<&str>, _>(9))?;
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
        profile_complete: false,
    };
    let version: Option<i64> = first.get(10);
    let mut lots = Vec::with_capacity(rows.len());
    for row in &rows {
        if row.get::<Option<String>, _>(11).is_some() {
            lots.push(lot_at(row, 11)?);
        }
    }
    let mut ledger = CustomerLedger::new(customer_id, pending, available, lots);
    ledger.version = version;
    Ok(Some((ledger, facts)))
}

/// Locks the account row of the customer a till's identifier names, if any: the
/// customer's lock for the rest of the transaction. Answers the locked customer's id.
pub async fn lock_customer(
    conn: &mut PgConnection,
    reference: &CustomerRef,
) -> StoreResult<Option<String>> {
    let (resolve, value) = resolve_sql(reference);
    let row = sqlx::query(&format!(
        "SELECT customer_id FROM customer_accounts WHERE customer_id IN ({resolve}) FOR UPDATE"
    ))
    .bind(value)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.map(|r| r.get(0)))
}

/// What a commit meets before it decides anything.
pub struct Prior {
    /// The receipt was committed before (its row is now locked).
    pub committed: bool,
    /// The remembered refusal of this body, as stored.
    pub refusal: Option<String>,
    /// When the receipt is new and a customer was given: the id of the customer whose
    /// account row is now locked, or `None` when no customer has the identifier.
    pub customer: Option<Option<String>>,
    /// The locked account's version (see [`find_ledger`]).
    pub version: Option<i64>,
}

/// Reads what a commit meets with one statement: the receipt row (locked if it
/// exists), the remembered refusal of this body, and, when the receipt is new, the
/// account row of the customer `customer` names, locked: the receipt row before the
/// account row, as a return or cancel takes them.
///
/// The customer's ledger is not read here: a statement that waited for a lock reads
/// the other tables as they were before the wait, so the ledger is read by the next
/// statement, whose snapshot is taken after the lock.
pub async fn prior_commit(
    conn: &mut PgConnection,
    receipt_id: &str,
    request_hash: &str,
    customer: Option<&CustomerRef>,
) -> StoreResult<Prior> {
    let prior =
        "r AS MATERIALIZED (SELECT receipt_id FROM receipts WHERE receipt_id = $1 FOR UPDATE)";
    let refusal = "(SELECT error FROM refused_commits WHERE receipt_id = $1 AND request_hash = $2)";
    let Some(reference) = customer else {
        let row = sqlx::query(&format!(
            "WITH {prior} SELECT EXISTS (SELECT 1 FROM r), {refusal}"
        ))
        .bind(receipt_id)
        .bind(request_hash)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
        return Ok(Prior {
            committed: row.get(0),
            refusal: row.get(1),
            customer: None,
            version: None,
        });
    };
    let (resolve, value) = resolve_sql(reference);
    let resolve = resolve.replace("$1", "$3");
    let row = sqlx::query(&format!(
        "WITH {prior},
              c AS MATERIALIZED (SELECT customer_id, version FROM customer_accounts
                                 WHERE customer_id IN ({resolve}) AND NOT EXISTS (SELECT 1 FROM r)
                                 FOR UPDATE)
         SELECT EXISTS (SELECT 1 FROM r), {refusal}, (SELECT customer_id FROM c LIMIT 1),
                (SELECT version FROM c LIMIT 1)"
    ))
    .bind(receipt_id)
    .bind(request_hash)
    .bind(value)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let committed: bool = row.get(0);
    Ok(Prior {
        committed,
        refusal: row.get(1),
        // Nothing is locked when the receipt exists.
        customer: (!committed).then(|| row.get(2)),
        version: row.get(3),
    })
}

/// Makes sure the counters exist (at zero), locks them in `(promotion_id, key)` order,
/// so that concurrent commits of a limited promotion take turns, and reads them: one
/// statement, which inserts the missing counters, then locks the others in order.
///
/// A counter another transaction created after this statement's snapshot (the insert
/// waited for it) is neither inserted nor seen; those few are locked and read by a
/// second statement, whose snapshot is taken after the wait.
pub async fn lock_usage(
    conn: &mut PgConnection,
    keys: &[(String, String)],
) -> StoreResult<std::collections::HashMap<(String, String), Usage>> {
    let mut sorted: Vec<&(String, String)> = keys.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut usage = std::collections::HashMap::new();
    if sorted.is_empty() {
        return Ok(usage);
    }
    let promotions: Vec<&str> = sorted.iter().map(|(p, _)| p.as_str()).collect();
    let keys: Vec<&str> = sorted.iter().map(|(_, k)| k.as_str()).collect();
    let rows = sqlx::query(
        "WITH k AS (SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[]) AS k (promotion_id, key)),
              created AS (INSERT INTO promotion_usage (promotion_id, key, uses, discount)
                          SELECT promotion_id, key, 0, 0 FROM k ORDER BY promotion_id, key
                          ON CONFLICT DO NOTHING
                          RETURNING promotion_id, key, uses, discount),
              locked AS MATERIALIZED (SELECT u.promotion_id, u.key, u.uses, u.discount
                          FROM promotion_usage u JOIN k USING (promotion_id, key)
                          ORDER BY u.promotion_id, u.key FOR UPDATE OF u)
         SELECT promotion_id, key, uses, discount FROM created
         UNION ALL
         SELECT promotion_id, key, uses, discount FROM locked",
    )
    .bind(&promotions)
    .bind(&keys)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    read_usage(&rows, &mut usage);
    if usage.len() < sorted.len() {
        let missing: Vec<&&(String, String)> =
            sorted.iter().filter(|k| !usage.contains_key(**k)).collect();
        let promotions: Vec<&str> = missing.iter().map(|(p, _)| p.as_str()).collect();
        let keys: Vec<&str> = missing.iter().map(|(_, k)| k.as_str()).collect();
        let rows = sqlx::query(
            "SELECT u.promotion_id, u.key, u.uses, u.discount FROM promotion_usage u
             JOIN UNNEST($1::TEXT[], $2::TEXT[]) AS k (promotion_id, key) USING (promotion_id, key)
             ORDER BY u.promotion_id, u.key FOR UPDATE OF u",
        )
        .bind(&promotions)
        .bind(&keys)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        read_usage(&rows, &mut usage);
        if usage.len() < sorted.len() {
            return Err(StoreError::backend(
                "a promotion counter could not be created",
            ));
        }
    }
    Ok(usage)
}

fn read_usage(rows: &[PgRow], usage: &mut std::collections::HashMap<(String, String), Usage>) {
    for row in rows {
        usage.insert(
            (row.get(0), row.get(1)),
            Usage {
                uses: row.get(2),
                discount: row.get(3),
            },
        );
    }
}

/// The customer's balances and open lots (and `extra_lots`). With `lock`, the account
/// row is locked first: it is the customer's lock, which every write of their ledger
/// takes; the lots are then read by a second statement, whose snapshot is taken after
/// the lock. Without it, call it in a REPEATABLE READ transaction for a consistent read.
pub async fn load_ledger(
    conn: &mut PgConnection,
    customer_id: &str,
    extra_lots: &[String],
    lock: bool,
) -> StoreResult<CustomerLedger> {
    let balances = sqlx::query(if lock {
        "SELECT pending, available FROM customer_accounts WHERE customer_id = $1 FOR UPDATE"
    } else {
        "SELECT pending, available FROM customer_accounts WHERE customer_id = $1"
    })
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    let (pending, available) = balances
        .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
        .unwrap_or((0, 0));
    let lots = open_lots(conn, customer_id, extra_lots).await?;
    Ok(CustomerLedger::new(
        customer_id.to_string(),
        pending,
        available,
        lots,
    ))
}

/// The customer's open lots and the lots named in `extra_lots`, with one statement.
async fn open_lots(
    conn: &mut PgConnection,
    customer_id: &str,
    extra_lots: &[String],
) -> StoreResult<Vec<Lot>> {
    let sql = if extra_lots.is_empty() {
        format!("SELECT {LOT_COLUMNS} FROM lots WHERE customer_id = $1 AND (state = 'pending' OR remaining > 0)")
    } else {
        format!(
            "SELECT {LOT_COLUMNS} FROM lots WHERE customer_id = $1 AND (state = 'pending' OR remaining > 0)
             UNION ALL
             SELECT {LOT_COLUMNS} FROM lots WHERE lot_id = ANY($2)"
        )
    };
    let mut query = sqlx::query(&sql).bind(customer_id);
    if !extra_lots.is_empty() {
        query = query.bind(extra_lots);
    }
    let mut lots: Vec<Lot> = Vec::new();
    for row in query.fetch_all(&mut *conn).await.map_err(db)? {
        let lot = lot_from_row(&row)?;
        if !lots.iter().any(|l| l.lot_id == lot.lot_id) {
            lots.push(lot);
        }
    }
    Ok(lots)
}

/// The customer holding `customer_id`'s points (itself, or the customer it was merged
/// into) with its account row locked and its balances as locked, in one statement; or
/// `None` when there is no such account.
pub async fn lock_owner(
    conn: &mut PgConnection,
    customer_id: &str,
) -> StoreResult<Option<(String, i64, i64)>> {
    let row = sqlx::query(
        "SELECT a.customer_id, a.pending, a.available FROM customer_accounts a
         WHERE a.customer_id = (SELECT COALESCE(merged_into, customer_id) FROM customers
                                WHERE customer_id = $1)
         FOR UPDATE",
    )
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// The open lots of `owner` and the lots in `extra_lots`, read after
/// [`lock_owner`]'s lock, with the holder of `customer_id`'s points as it is now: a
/// merge that committed while the lock waited shows as another holder (one
/// statement).
pub async fn owner_lots(
    conn: &mut PgConnection,
    customer_id: &str,
    owner: &str,
    extra_lots: &[String],
) -> StoreResult<(Option<String>, Vec<Lot>)> {
    let rows = sqlx::query(&format!(
        "WITH o AS (SELECT COALESCE(merged_into, customer_id) AS owner FROM customers
                    WHERE customer_id = $1)
         SELECT o.owner, l.* FROM o LEFT JOIN (
             SELECT {LOT_COLUMNS} FROM lots WHERE customer_id = $2 AND (state = 'pending' OR remaining > 0)
             UNION ALL
             SELECT {LOT_COLUMNS} FROM lots WHERE lot_id = ANY($3)) l ON TRUE"
    ))
    .bind(customer_id)
    .bind(owner)
    .bind(extra_lots)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut now = None;
    let mut lots: Vec<Lot> = Vec::new();
    for row in &rows {
        now = row.get::<Option<String>, _>(0);
        if row.get::<Option<String>, _>(1).is_none() {
            continue;
        }
        let lot = lot_at(row, 1)?;
        if !lots.iter().any(|l| l.lot_id == lot.lot_id) {
            lots.push(lot);
        }
    }
    Ok((now, lots))
}

/// Persists the changes of many customers' ledgers with one statement (see
/// [`crate::batch`]).
pub async fn save_ledgers(conn: &mut PgConnection, all: &[&LedgerChanges]) -> StoreResult<()> {
    crate::batch::Batch {
        ledgers: all.to_vec(),
        ..Default::default()
    }
    .write(conn)
    .await
}

/// The ledgers (balances and open lots) of up to `limit` customers with lots due to
/// mature or expire at `now`, loaded with one statement.
pub async fn due_ledgers(
    conn: &mut PgConnection,
    now: &str,
    limit: u32,
) -> StoreResult<Vec<CustomerLedger>> {
    let columns = LOT_COLUMNS
        .split(", ")
        .map(|c| format!("l.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    // Lock the due customers first (those a commit holds are skipped: the commit
    // catches them up itself, the next round finds what is still due), then read their
    // balances and lots in a second statement, whose snapshot is taken after the locks
    // and so sees every write committed before them.
    let locked: Vec<String> = sqlx::query(
        "WITH due (customer_id) AS (
             SELECT customer_id FROM lots WHERE state = 'pending' AND matures_at <= $1
             UNION
             SELECT customer_id FROM lots WHERE state = 'available' AND remaining > 0 AND expires_at <= $1
             LIMIT $2
         )
         SELECT a.customer_id FROM customer_accounts a JOIN due USING (customer_id)
         ORDER BY a.customer_id
         FOR UPDATE OF a SKIP LOCKED",
    )
    .bind(now)
    .bind(limit as i64)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|r| r.get(0))
    .collect();
    if locked.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT a.customer_id, a.pending, a.available, {columns}
         FROM customer_accounts a
         LEFT JOIN lots l ON l.customer_id = a.customer_id AND (l.state = 'pending' OR l.remaining > 0)
         WHERE a.customer_id = ANY($1)
         ORDER BY a.customer_id"
    );
    let rows = sqlx::query(&sql)
        .bind(&locked)
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
    conn: &mut PgConnection,
    customer_id: &str,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<StoredEntry>> {
    let rows = sqlx::query(
        "SELECT entry_id, customer_id, kind, debit, credit, amount, lot_id, receipt_id, op_id, at FROM entries
         WHERE customer_id = $1 AND entry_id > $2 ORDER BY entry_id LIMIT $3",
    )
    .bind(customer_id)
    .bind(after)
    .bind(limit as i64)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    rows.iter().map(entry_from_row).collect()
}

pub fn entry_from_row(row: &PgRow) -> StoreResult<StoredEntry> {
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

/// A stored receipt; with `lock`, its row is locked for the rest of the transaction.
pub async fn receipt(
    conn: &mut PgConnection,
    receipt_id: &str,
    lock: bool,
) -> StoreResult<Option<StoredReceipt>> {
    const VERSION_COLUMNS: &str = "v.receipt_id, v.version, v.kind, v.op_id, v.request_hash, v.response, v.terminal_id, v.at, v.recorded_at";
    if !lock {
        // The record and its versions from one snapshot, with one statement.
        let rows = sqlx::query(&format!(
            "SELECT {VERSION_COLUMNS}, r.record FROM receipts r
             LEFT JOIN receipt_versions v ON v.receipt_id = r.receipt_id
             WHERE r.receipt_id = $1 ORDER BY v.version"
        ))
        .bind(receipt_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let record: ReceiptRecord =
            serde_json::from_str(&first.get::<String, _>(9)).map_err(json_err)?;
        let mut versions = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.get::<Option<String>, _>(0).is_some() {
                versions.push(version_from_row(row)?);
            }
        }
        return Ok(Some(StoredReceipt { record, versions }));
    }
    // The row is locked first; the versions are read by a second statement, whose
    // snapshot is taken after the lock (a statement that waited for a lock reads other
    // rows as they were before the wait).
    let Some(row) = sqlx::query("SELECT record FROM receipts WHERE receipt_id = $1 FOR UPDATE")
        .bind(receipt_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
    else {
        return Ok(None);
    };
    let record: ReceiptRecord = serde_json::from_str(&row.get::<String, _>(0)).map_err(json_err)?;
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} FROM receipt_versions v WHERE v.receipt_id = $1 ORDER BY v.version"
    ))
    .bind(receipt_id)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let versions = rows
        .iter()
        .map(version_from_row)
        .collect::<StoreResult<_>>()?;
    Ok(Some(StoredReceipt { record, versions }))
}

pub fn version_from_row(row: &PgRow) -> StoreResult<ReceiptVersion> {
    Ok(ReceiptVersion {
        receipt_id: row.get(0),
        version: row.get::<i64, _>(1) as u32,
        kind: row.get(2),
        op_id: row.get(3),
        request_hash: row.get(4),
        response: row.get(5),
        pieces: Vec::new(),
        quoted: false,
        terminal_id: row.get(6),
        at: parse_offset(&row.get::<String, _>(7))?,
        recorded_at: parse_ts(&row.get::<String, _>(8))?,
    })
}

pub async fn commit_response(
    conn: &mut PgConnection,
    receipt_id: &str,
) -> StoreResult<Option<(String, Vec<u8>)>> {
    let row = sqlx::query(
        "SELECT request_hash, response FROM receipt_versions WHERE receipt_id = $1 AND version = 1",
    )
    .bind(receipt_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

pub async fn operation(
    conn: &mut PgConnection,
    op_id: &str,
) -> StoreResult<Option<(String, String, Vec<u8>)>> {
    let row = sqlx::query("SELECT receipt_id, request_hash, response FROM receipt_versions WHERE op_id = $1 AND kind <> 'commit'")
        .bind(op_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
}

/// Promotion limit counters as stored (a read: nothing is locked).
pub async fn promotion_usage(
    conn: &mut PgConnection,
    keys: &[(String, String)],
) -> StoreResult<std::collections::HashMap<(String, String), Usage>> {
    let mut usage = std::collections::HashMap::new();
    if keys.is_empty() {
        return Ok(usage);
    }
    let promotions: Vec<&str> = keys.iter().map(|(p, _)| p.as_str()).collect();
    let names: Vec<&str> = keys.iter().map(|(_, k)| k.as_str()).collect();
    let rows = sqlx::query(
        "SELECT u.promotion_id, u.key, u.uses, u.discount FROM promotion_usage u
         JOIN (SELECT DISTINCT * FROM UNNEST($1::TEXT[], $2::TEXT[]) AS k (promotion_id, key)) k
         USING (promotion_id, key)",
    )
    .bind(&promotions)
    .bind(&names)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    read_usage(&rows, &mut usage);
    Ok(usage)
}

fn push_delta<'q>(
    mut row: sqlx::query_builder::Separated<'_, 'q, sqlx::Postgres, &'static str>,
    delta: &'q UsageDelta,
) {
    row.push_bind(&delta.promotion_id)
        .push_bind(&delta.key)
        .push_bind(delta.uses)
        .push_bind(delta.discount);
}

pub async fn add_usage(
    conn: &mut PgConnection,
    deltas: &[UsageDelta],
    sign: i64,
) -> StoreResult<()> {
    for chunk in deltas.chunks(100) {
        if sign < 0 {
            // A release updates existing counters (an insert of a negative row would
            // trip the CHECK before the conflict clause is considered).
            let mut update = sqlx::QueryBuilder::<sqlx::Postgres>::new(
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
        let mut upsert = sqlx::QueryBuilder::<sqlx::Postgres>::new(
            "INSERT INTO promotion_usage (promotion_id, key, uses, discount) ",
        );
        upsert.push_values(chunk, push_delta);
        upsert.push(
            " ON CONFLICT (promotion_id, key) DO UPDATE SET uses = promotion_usage.uses + excluded.uses, discount = promotion_usage.discount + excluded.discount",
        );
        upsert.build().execute(&mut *conn).await.map_err(db)?;
    }
    Ok(())
}

/// A remembered refusal of a commit with this body.
pub async fn refusal(
    conn: &mut PgConnection,
    receipt_id: &str,
    request_hash: &str,
) -> StoreResult<Option<tessera_core::CoreError>> {
    let row = sqlx::query(
        "SELECT error FROM refused_commits WHERE receipt_id = $1 AND request_hash = $2",
    )
    .bind(receipt_id)
    .bind(request_hash)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.map(|row| parse_refusal(&row.get::<String, _>(0)))
        .transpose()
}

/// A remembered refusal as stored in `refused_commits.error`.
pub fn parse_refusal(stored: &str) -> StoreResult<tessera_core::CoreError> {
    let stored: serde_json::Value = serde_json::from_str(stored).map_err(json_err)?;
    let text = |key: &str| stored.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let code = text("code")
        .and_then(|c| ErrorCode::parse(&c))
        .ok_or_else(|| StoreError::backend("a remembered refusal has no known code"))?;
    Ok(tessera_core::CoreError {
        code,
        message: text("message").unwrap_or_default(),
        field: text("field"),
    })
}

/// Remembers a refused commit (the first refusal of a body stays).
pub async fn record_refusal(
    conn: &mut PgConnection,
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
        "INSERT INTO refused_commits (receipt_id, request_hash, error, at) VALUES ($1, $2, $3, $4)
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
