//! Finding customers: the search of the service desk (a card, a phone, an email, the
//! start of a name) and the snapshot of every active profile the import matcher
//! compares incoming records with.

use crate::rows::json_err;
use crate::sql::{all, db, RowExt};
use crate::time::parse_ts;
use chrono::NaiveDate;
use rusqlite::{params, Connection};
use serde::Deserialize;
use tessera_store::crm_command::{CustomerQuery, MatchProfile};
use tessera_store::{StoreError, StoreResult};

/// Ids of the active customers the query finds, sorted, at most `limit`.
pub fn search_customers(
    conn: &Connection,
    query: &CustomerQuery,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let limit = limit as i64;
    let read = |r: &rusqlite::Row| r.at::<String>(0);
    match query {
        // A blocked or replaced card still finds its holder at the service desk.
        CustomerQuery::Card(card) => all(
            conn,
            "SELECT k.customer_id FROM cards k JOIN customers c ON c.customer_id = k.customer_id
             WHERE k.card = ? AND c.status = 'active' LIMIT ?",
            params![card, limit],
            read,
        ),
        CustomerQuery::Phone(value) | CustomerQuery::Email(value) => {
            let kind = match query {
                CustomerQuery::Phone(_) => "phone",
                _ => "email",
            };
            all(
                conn,
                "SELECT i.customer_id FROM customer_identifiers i
                 JOIN customers c ON c.customer_id = i.customer_id
                 WHERE i.kind = ? AND i.value = ? AND c.status = 'active'
                 ORDER BY i.customer_id LIMIT ?",
                params![kind, value, limit],
                read,
            )
        }
        // Keys starting with the prefix: from the prefix up to the prefix followed by
        // the greatest code point (text compares as UTF-8 bytes, in code point order).
        CustomerQuery::NamePrefix(prefix) => all(
            conn,
            // The first matches in key order,
            // so that a common prefix reads `limit` customers, not all of them.
            "SELECT customer_id FROM (
                 SELECT customer_id, MIN(key) AS first_key FROM (
                     SELECT k.key, k.customer_id FROM customer_name_keys k
                     JOIN customers c ON c.customer_id = k.customer_id
                     WHERE k.key >= ?1 AND k.key < ?1 || char(1114111) AND c.status = 'active'
                     ORDER BY k.key LIMIT ?2 * 8)
                 GROUP BY customer_id ORDER BY first_key LIMIT ?2)
             ORDER BY customer_id",
            params![prefix, limit],
            read,
        ),
    }
}

/// A field's value, the only part of a `Sourced` the matcher needs (its time and
/// source are skipped unparsed).
#[derive(Deserialize)]
struct Value<T> {
    value: T,
}

/// The parts of a profile document the matcher reads; the rest is skipped (a missing
/// field is `None`).
#[derive(Deserialize)]
struct MatchDoc {
    first_name: Option<Value<String>>,
    middle_name: Option<Value<String>>,
    last_name: Option<Value<String>>,
    birthday: Option<Value<NaiveDate>>,
}

/// Every active profile, by id, with its identifiers and active cards, without a
/// query per customer. The customers and the cards are read in storage order and
/// sorted here (walking them in id order through their indexes costs a random row
/// read each, several times slower); the identifiers come in id order from their
/// covering index. Each list is then merged into the sorted profiles: a million
/// profiles take about three seconds, most of it reading the documents.
pub fn match_profiles(conn: &Connection) -> StoreResult<Vec<MatchProfile>> {
    let mut profiles = all(
        conn,
        "SELECT customer_id, created_at, profile FROM customers WHERE status = 'active'",
        [],
        |row| {
            let doc: MatchDoc = serde_json::from_str(text_at(row, 2)?).map_err(json_err)?;
            Ok(MatchProfile {
                customer_id: row.at(0)?,
                created_at: parse_ts(text_at(row, 1)?)?,
                first_name: doc.first_name.map(|v| v.value),
                middle_name: doc.middle_name.map(|v| v.value),
                last_name: doc.last_name.map(|v| v.value),
                birthday: doc.birthday.map(|v| v.value),
                phones: Vec::new(),
                emails: Vec::new(),
                external_ids: Vec::new(),
                cards: Vec::new(),
            })
        },
    )?;
    profiles.sort_unstable_by(|a, b| a.customer_id.cmp(&b.customer_id));

    let mut statement = conn
        .prepare_cached(
            "SELECT customer_id, kind, value FROM customer_identifiers ORDER BY customer_id",
        )
        .map_err(db)?;
    let mut rows = statement.query([]).map_err(db)?;
    let mut idx = 0;
    while let Some(row) = rows.next().map_err(db)? {
        if let Some(profile) = seek(&mut profiles, &mut idx, text_at(row, 0)?) {
            let list = match text_at(row, 1)? {
                "phone" => &mut profile.phones,
                "email" => &mut profile.emails,
                _ => &mut profile.external_ids,
            };
            list.push(row.at(2)?);
        }
    }

    let mut cards: Vec<(String, String)> = all(
        conn,
        "SELECT customer_id, card FROM cards WHERE status = 'active'",
        [],
        |row| Ok((row.at(0)?, row.at(1)?)),
    )?;
    cards.sort_unstable();
    let mut idx = 0;
    for (customer_id, card) in cards {
        if let Some(profile) = seek(&mut profiles, &mut idx, &customer_id) {
            profile.cards.push(card);
        }
    }
    Ok(profiles)
}

/// A text column, borrowed from the row.
fn text_at<'r>(row: &'r rusqlite::Row, idx: usize) -> StoreResult<&'r str> {
    row.get_ref(idx)
        .map_err(db)?
        .as_str()
        .map_err(StoreError::backend)
}

/// The profile of `customer_id`, looked for from `*idx` on; `idx` moves forward, so
/// ids must come in ascending order. `None` for a customer that is not active.
fn seek<'p>(
    profiles: &'p mut [MatchProfile],
    idx: &mut usize,
    customer_id: &str,
) -> Option<&'p mut MatchProfile> {
    while *idx < profiles.len() && profiles[*idx].customer_id.as_str() < customer_id {
        *idx += 1;
    }
    profiles
        .get_mut(*idx)
        .filter(|p| p.customer_id == customer_id)
}
