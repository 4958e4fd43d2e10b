//! Many new customers at once (an import's batch), written table by table, in each
//! table's key order and many rows to a statement.
//!
//! Profile by profile, every identifier, card and name key went to a random page of
//! a B-tree larger than the page cache, and every row paid a statement's fixed cost
//! (cursors on each index, a statement journal). In key order a batch lands on
//! neighbouring pages.
//!
//! The statements cannot fail half-way, so SQLite keeps no statement journal for
//! them (it copied the original of every page each statement changed, a quarter of
//! the writer's time): a unique value is `INSERT OR IGNORE`d and the rows written are
//! counted instead, and foreign keys, when enforced, are checked at commit
//! (`defer_foreign_keys`: the customer rows go in after their accounts, identifiers
//! and cards, while their documents are rendered). The caller has checked every
//! value in this transaction; a row left out is a database failure, never a
//! business refusal.

use crate::profiles::{document, status_columns};
use crate::sql::{db, exec, insert_many};
use crate::time::ts;
use rusqlite::{Connection, ToSql};
use tessera_core::profile::search_keys;
use tessera_store::{ProfileStatus, StoreError, StoreResult, StoredProfile};

/// Stores new customers, as [`crate::profiles::insert_profile`] stores one, whose
/// cards, phones and external ids the caller has found free in this transaction.
pub fn insert_profiles(conn: &Connection, profiles: &[StoredProfile]) -> StoreResult<()> {
    exec(conn, "PRAGMA defer_foreign_keys = ON", [])?;
    let written = write(conn, profiles);
    exec(conn, "PRAGMA defer_foreign_keys = OFF", [])?;
    written
}

/// A customer row's values besides its id: name, `created_at`, document, status,
/// `merged_into`, `updated_at`.
type CustomerRow<'a> = (
    Option<String>,
    String,
    String,
    &'static str,
    Option<&'a str>,
    String,
);

/// The customer rows and the name keys (key, customer id) of a batch.
type Rendered<'a> = (Vec<CustomerRow<'a>>, Vec<(String, &'a str)>);

fn write(conn: &Connection, profiles: &[StoredProfile]) -> StoreResult<()> {
    let mut by_id: Vec<&StoredProfile> = profiles.iter().collect();
    by_id.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    // The documents and name keys are rendered on another thread while this one
    // writes the accounts, identifiers and cards (a tenth of a batch's time).
    std::thread::scope(|scope| {
        let rendered = scope.spawn(|| render(&by_id));
        write_accounts(conn, &by_id)?;
        write_identifiers(conn, &by_id)?;
        write_cards(conn, &by_id)?;
        let (rows, keys) = rendered
            .join()
            .map_err(|_| StoreError::backend("rendering the profiles of a batch failed"))??;
        write_customers(conn, &by_id, &rows)?;
        write_name_keys(conn, &keys)
    })
}

/// The customer rows and the name keys of the profiles.
fn render<'a>(by_id: &[&'a StoredProfile]) -> StoreResult<Rendered<'a>> {
    let mut rows = Vec::with_capacity(by_id.len());
    for profile in by_id {
        let (status, merged_into, updated_at) = status_columns(profile);
        rows.push((
            profile.doc.display_name(),
            ts(profile.created_at),
            document(profile)?,
            status,
            merged_into,
            updated_at,
        ));
    }
    let mut keys: Vec<(String, &str)> = by_id
        .iter()
        .filter(|p| p.status == ProfileStatus::Active)
        .flat_map(|p| {
            search_keys(&p.doc)
                .into_iter()
                .map(|key| (key, p.customer_id.as_str()))
        })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    Ok((rows, keys))
}

fn write_customers(
    conn: &Connection,
    by_id: &[&StoredProfile],
    rows: &[CustomerRow<'_>],
) -> StoreResult<()> {
    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(rows.len() * 7);
    for (profile, row) in by_id.iter().zip(rows) {
        values.extend([
            &profile.customer_id as &dyn ToSql,
            &row.0,
            &row.1,
            &row.2,
            &row.3,
            &row.4,
            &row.5,
        ]);
    }
    all_written(
        "customers",
        by_id.len(),
        insert_many(
            conn,
            "INSERT OR IGNORE INTO customers (customer_id, name, created_at, profile, status, merged_into, updated_at)",
            "",
            7,
            &values,
        ),
    )
}

fn write_accounts(conn: &Connection, by_id: &[&StoredProfile]) -> StoreResult<()> {
    const ZERO: i64 = 0;
    let accounts: Vec<&dyn ToSql> = by_id
        .iter()
        .flat_map(|p| [&p.customer_id as &dyn ToSql, &ZERO, &ZERO])
        .collect();
    all_written(
        "customer_accounts",
        by_id.len(),
        insert_many(
            conn,
            "INSERT OR IGNORE INTO customer_accounts (customer_id, pending, available)",
            "",
            3,
            &accounts,
        ),
    )
}

fn write_identifiers(conn: &Connection, by_id: &[&StoredProfile]) -> StoreResult<()> {
    // A value listed twice for one customer is stored once, as one at a time would.
    let mut owned: Vec<(&str, &str, &str, String, &str)> = by_id
        .iter()
        .flat_map(|p| {
            p.identifiers.iter().map(|i| {
                (
                    i.kind.as_str(),
                    i.value.as_str(),
                    p.customer_id.as_str(),
                    ts(i.added_at),
                    i.source.as_str(),
                )
            })
        })
        .collect();
    owned.sort_unstable_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
    owned.dedup_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2));
    let mut values: Vec<&dyn ToSql> = Vec::with_capacity(owned.len() * 5);
    for (kind, value, customer_id, added_at, source) in &owned {
        values.extend([kind as &dyn ToSql, value, customer_id, source, added_at]);
    }
    all_written(
        "customer_identifiers",
        owned.len(),
        insert_many(
            conn,
            "INSERT OR IGNORE INTO customer_identifiers (kind, value, customer_id, source, added_at)",
            "",
            5,
            &values,
        ),
    )
}

fn write_cards(conn: &Connection, by_id: &[&StoredProfile]) -> StoreResult<()> {
    let mut cards: Vec<[&str; 4]> = by_id
        .iter()
        .flat_map(|p| {
            p.cards.iter().map(|card| {
                [
                    card.number.as_str(),
                    p.customer_id.as_str(),
                    card.card_type.as_str(),
                    card.status.as_str(),
                ]
            })
        })
        .collect();
    cards.sort_unstable();
    cards.dedup_by(|a, b| a[..2] == b[..2]);
    let values: Vec<&dyn ToSql> = cards
        .iter()
        .flat_map(|card| card.iter().map(|v| v as &dyn ToSql))
        .collect();
    all_written(
        "cards",
        cards.len(),
        insert_many(
            conn,
            "INSERT OR IGNORE INTO cards (card, customer_id, card_type, status)",
            "",
            4,
            &values,
        ),
    )
}

fn write_name_keys(conn: &Connection, keys: &[(String, &str)]) -> StoreResult<()> {
    let values: Vec<&dyn ToSql> = keys
        .iter()
        .flat_map(|(key, customer_id)| [key as &dyn ToSql, customer_id])
        .collect();
    all_written(
        "customer_name_keys",
        keys.len(),
        insert_many(
            conn,
            "INSERT OR IGNORE INTO customer_name_keys (key, customer_id)",
            "",
            2,
            &values,
        ),
    )
}

/// Every row went in: one ignored is a value the caller's check missed.
fn all_written(
    table: &str,
    expected: usize,
    written: Result<usize, rusqlite::Error>,
) -> StoreResult<()> {
    let written = written.map_err(db)?;
    if written == expected {
        Ok(())
    } else {
        Err(StoreError::backend(format!(
            "{table}: {} of {expected} new rows were taken before they were written",
            expected - written
        )))
    }
}
