//! Customer rows: the customer with its profile document and status (its identifiers
//! and cards are in [`crate::identifiers`]), and the folded name keys a name search
//! reads. The legacy `Customer` of `POST /v1/customers` and the till is stored and
//! read through the same rows.

use crate::identifiers::{self, insert_card};
use crate::rows::json_err;
use crate::sql::{all, db, exec, one, RowExt};
use crate::time::{parse_ts, ts};
use rusqlite::{params, Connection, Row};
use tessera_core::customer::{Card, CardType, Customer};
use tessera_core::profile::{search_keys, ProfileDoc};
use tessera_core::{CoreError, ErrorCode};
use tessera_store::{ProfileStatus, StoreError, StoreResult, StoredProfile};

/// The profile with its identifiers and cards, whatever its status.
pub fn profile(conn: &Connection, customer_id: &str) -> StoreResult<Option<StoredProfile>> {
    let Some(mut profile) = one(
        conn,
        "SELECT customer_id, created_at, updated_at, status, merged_into, profile
         FROM customers WHERE customer_id = ?",
        [customer_id],
        profile_row,
    )?
    else {
        return Ok(None);
    };
    profile.identifiers = identifiers::identifiers(conn, customer_id)?;
    profile.cards = identifiers::cards(conn, customer_id)?;
    Ok(Some(profile))
}

/// A profile, without identifiers and cards, from the columns of [`profile`]'s query.
fn profile_row(row: &Row) -> StoreResult<StoredProfile> {
    let customer_id: String = row.at(0)?;
    let created_at = parse_ts(&row.at::<String>(1)?)?;
    let updated_at = match row.at::<Option<String>>(2)? {
        Some(at) => parse_ts(&at)?,
        None => created_at,
    };
    let status = match row.at::<String>(3)?.as_str() {
        "active" => ProfileStatus::Active,
        "merged" => ProfileStatus::Merged {
            into: row.at::<Option<String>>(4)?.ok_or_else(|| {
                StoreError::backend(format!("customer {customer_id} is merged into no one"))
            })?,
        },
        // The erasure's time is the row's last update (see `status_columns`).
        "erased" => ProfileStatus::Erased { at: updated_at },
        other => {
            return Err(StoreError::backend(format!(
                "customer {customer_id} has an unknown status {other:?}"
            )))
        }
    };
    let doc: ProfileDoc =
        serde_json::from_str(row.get_ref(5).map_err(db)?.as_str().map_err(|e| {
            StoreError::backend(format!("customer {customer_id}: profile is not text: {e}"))
        })?)
        .map_err(json_err)?;
    Ok(StoredProfile {
        customer_id,
        created_at,
        updated_at,
        status,
        doc,
        identifiers: Vec::new(),
        cards: Vec::new(),
    })
}

/// The stored `status`, `merged_into` and `updated_at` of a profile. An erased
/// profile keeps the time of its erasure as its last update.
pub(crate) fn status_columns(profile: &StoredProfile) -> (&'static str, Option<&str>, String) {
    match &profile.status {
        ProfileStatus::Active => ("active", None, ts(profile.updated_at)),
        ProfileStatus::Merged { into } => ("merged", Some(into.as_str()), ts(profile.updated_at)),
        ProfileStatus::Erased { at } => ("erased", None, ts(*at)),
    }
}

pub(crate) fn document(profile: &StoredProfile) -> StoreResult<String> {
    serde_json::to_string(&profile.doc).map_err(json_err)
}

/// Stores a new customer: the row, a zero account, identifiers, cards and name keys.
/// A card, phone or external id someone else holds is refused by the unique indexes
/// (no look-up on the way in); the caller's savepoint or transaction undoes the rest.
pub fn insert_profile(conn: &Connection, profile: &StoredProfile) -> StoreResult<()> {
    let (status, merged_into, updated_at) = status_columns(profile);
    exec(
        conn,
        "INSERT INTO customers (customer_id, name, phone, email, created_at, profile, status, merged_into, updated_at)
         VALUES (?, ?, NULL, NULL, ?, ?, ?, ?, ?)",
        params![
            profile.customer_id,
            profile.doc.display_name(),
            ts(profile.created_at),
            document(profile)?,
            status,
            merged_into,
            updated_at
        ],
    )?;
    exec(
        conn,
        "INSERT INTO customer_accounts (customer_id, pending, available) VALUES (?, 0, 0)",
        [&profile.customer_id],
    )?;
    for identifier in &profile.identifiers {
        identifiers::add_identifier(conn, &profile.customer_id, identifier)?;
    }
    for (idx, card) in profile.cards.iter().enumerate() {
        insert_card(conn, &profile.customer_id, idx, card)?;
    }
    if profile.status == ProfileStatus::Active {
        insert_name_keys(conn, &profile.customer_id, &search_keys(&profile.doc))?;
    }
    Ok(())
}

/// Rewrites the customer row and, when they changed, the name keys. Only active
/// customers are found by name, so the others keep none.
pub fn update_profile(conn: &Connection, profile: &StoredProfile) -> StoreResult<()> {
    let (status, merged_into, updated_at) = status_columns(profile);
    let changed = exec(
        conn,
        "UPDATE customers SET name = ?, profile = ?, status = ?, merged_into = ?, updated_at = ?
         WHERE customer_id = ?",
        params![
            profile.doc.display_name(),
            document(profile)?,
            status,
            merged_into,
            updated_at,
            profile.customer_id
        ],
    )?;
    if changed == 0 {
        return Err(StoreError::Domain(CoreError::field(
            ErrorCode::CustomerNotFound,
            "customer_id",
            format!("no customer {}", profile.customer_id),
        )));
    }
    let keys = match profile.status {
        ProfileStatus::Active => search_keys(&profile.doc),
        _ => Vec::new(),
    };
    // Most updates (a consent, a city) leave the name alone: one read instead of
    // rewriting the keys.
    let stored: Vec<String> = all(
        conn,
        "SELECT key FROM customer_name_keys WHERE customer_id = ? ORDER BY key",
        [&profile.customer_id],
        |r| r.at(0),
    )?;
    if stored != keys {
        exec(
            conn,
            "DELETE FROM customer_name_keys WHERE customer_id = ?",
            [&profile.customer_id],
        )?;
        insert_name_keys(conn, &profile.customer_id, &keys)?;
    }
    Ok(())
}

fn insert_name_keys(conn: &Connection, customer_id: &str, keys: &[String]) -> StoreResult<()> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO customer_name_keys (key, customer_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        )
        .map_err(db)?;
    for key in keys {
        insert.execute(params![key, customer_id]).map_err(db)?;
    }
    Ok(())
}

/// Writes the name keys of every active customer with a name: migration 6 moves the
/// legacy names into the documents, and folding them takes Rust.
pub fn backfill_name_keys(conn: &Connection) -> StoreResult<()> {
    let named: Vec<(String, ProfileDoc)> = all(
        conn,
        "SELECT customer_id, profile FROM customers WHERE status = 'active' AND name IS NOT NULL",
        [],
        |row| {
            let doc = serde_json::from_str(&row.at::<String>(1)?).map_err(json_err)?;
            Ok((row.at(0)?, doc))
        },
    )?;
    for (customer_id, doc) in named {
        insert_name_keys(conn, &customer_id, &search_keys(&doc))?;
    }
    Ok(())
}

/// Stores a customer registered through `POST /v1/customers` or a till, as the
/// profile [`StoredProfile::from_customer`] makes of it.
pub fn insert_customer(conn: &Connection, customer: &Customer) -> StoreResult<()> {
    insert_profile(conn, &StoredProfile::from_customer(customer, "api"))
}

/// Inserts many customers; the first taken phone or card fails the batch with the
/// field at fault, and the caller's savepoint undoes the rest.
pub fn insert_customers(conn: &Connection, customers: &[Customer]) -> StoreResult<()> {
    customers.iter().try_for_each(|c| insert_customer(conn, c))
}

/// The legacy view of a customer: the display name, the oldest phone and email, the
/// active cards.
pub fn customer(conn: &Connection, customer_id: &str) -> StoreResult<Option<Customer>> {
    let Some(mut customer) = one(
        conn,
        "SELECT customer_id, name, created_at,
                (SELECT value FROM customer_identifiers i
                 WHERE i.customer_id = c.customer_id AND i.kind = 'phone'
                 ORDER BY added_at, value LIMIT 1),
                (SELECT value FROM customer_identifiers i
                 WHERE i.customer_id = c.customer_id AND i.kind = 'email'
                 ORDER BY added_at, value LIMIT 1)
         FROM customers c WHERE customer_id = ?",
        [customer_id],
        |row| {
            Ok(Customer {
                customer_id: row.at(0)?,
                name: row.at(1)?,
                created_at: parse_ts(&row.at::<String>(2)?)?,
                phone: row.at(3)?,
                email: row.at(4)?,
                cards: Vec::new(),
            })
        },
    )?
    else {
        return Ok(None);
    };
    customer.cards = all(
        conn,
        "SELECT card, card_type FROM cards WHERE customer_id = ? AND status = 'active' ORDER BY card",
        [customer_id],
        |r| {
            Ok(Card {
                number: r.at(0)?,
                card_type: CardType::parse(&r.at::<String>(1)?).unwrap_or_default(),
            })
        },
    )?;
    Ok(Some(customer))
}
