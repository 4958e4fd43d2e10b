//! Finding customers: the service desk's search by card, phone, email or name prefix,
//! and every active profile as the import matcher needs it.

use crate::rows::{db, json_err};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use sqlx::{PgConnection, Row};
use std::collections::HashMap;
use tessera_store::crm_command::{CustomerQuery, MatchProfile};
use tessera_store::{IdentifierKind, StoreResult};

/// Ids of the active customers a query finds, at most `limit`, sorted by id (byte
/// order). A card finds its holder whatever the card's status (the desk unblocks
/// cards). A name prefix is a range scan of the folded keys, which compare byte by
/// byte (`COLLATE "C"`), so that `key < prefix || U+10FFFF` bounds the prefix; only
/// active customers have keys ([`crate::profiles`]), so no customer row is read.
pub async fn search_customers(
    conn: &mut PgConnection,
    query: &CustomerQuery,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let (sql, value) = match query {
        CustomerQuery::NamePrefix(prefix) => (
            // The first matches in key order, so that a common prefix reads `limit`
            // customers, not all of them.
            "SELECT customer_id COLLATE \"C\" FROM (
                 SELECT customer_id, MIN(key) AS first_key FROM (
                     SELECT n.key, n.customer_id FROM customer_name_keys n
                     JOIN customers c ON c.customer_id = n.customer_id
                     WHERE n.key >= $1 AND n.key < $1 || chr(1114111) AND c.status = 'active'
                     ORDER BY n.key LIMIT $2 * 8) k
                 GROUP BY customer_id ORDER BY first_key LIMIT $2) f
             ORDER BY 1",
            prefix,
        ),
        CustomerQuery::Card(card) => (
            "SELECT DISTINCT c.customer_id COLLATE \"C\" FROM cards k
             JOIN customers c ON c.customer_id = k.customer_id
             WHERE k.card = $1 AND c.status = 'active' ORDER BY 1 LIMIT $2",
            card,
        ),
        CustomerQuery::Phone(phone) => (
            "SELECT DISTINCT c.customer_id COLLATE \"C\" FROM customer_identifiers i
             JOIN customers c ON c.customer_id = i.customer_id
             WHERE i.kind = 'phone' AND i.value = $1 AND c.status = 'active' ORDER BY 1 LIMIT $2",
            phone,
        ),
        CustomerQuery::Email(email) => (
            "SELECT DISTINCT c.customer_id COLLATE \"C\" FROM customer_identifiers i
             JOIN customers c ON c.customer_id = i.customer_id
             WHERE i.kind = 'email' AND i.value = $1 AND c.status = 'active' ORDER BY 1 LIMIT $2",
            email,
        ),
    };
    let rows = sqlx::query(sql)
        .bind(value)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The parts of a stored document the matcher reads; the rest is skipped unparsed.
#[derive(Deserialize)]
struct MatchDoc {
    #[serde(default)]
    first_name: Option<Value<String>>,
    #[serde(default)]
    middle_name: Option<Value<String>>,
    #[serde(default)]
    last_name: Option<Value<String>>,
    #[serde(default)]
    birthday: Option<Value<NaiveDate>>,
}

#[derive(Deserialize)]
struct Value<T> {
    value: T,
}

/// Every active profile as the import matcher needs it, sorted by id: three scans
/// (customers, identifiers, active cards) joined here rather than a look-up per
/// customer. Call it in a REPEATABLE READ transaction for one snapshot.
pub async fn match_profiles(conn: &mut PgConnection) -> StoreResult<Vec<MatchProfile>> {
    let rows = sqlx::query(
        "SELECT customer_id, created_at, profile FROM customers WHERE status = 'active'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut profiles = Vec::with_capacity(rows.len());
    let mut at: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    for row in rows {
        let customer_id: String = row.get(0);
        let created_at: DateTime<Utc> = crate::time::parse_ts(&row.get::<String, _>(1))?;
        let doc: MatchDoc = serde_json::from_str(row.get::<&str, _>(2)).map_err(json_err)?;
        at.insert(customer_id.clone(), profiles.len());
        profiles.push(MatchProfile {
            customer_id,
            created_at,
            first_name: doc.first_name.map(|v| v.value),
            middle_name: doc.middle_name.map(|v| v.value),
            last_name: doc.last_name.map(|v| v.value),
            birthday: doc.birthday.map(|v| v.value),
            phones: Vec::new(),
            emails: Vec::new(),
            external_ids: Vec::new(),
            cards: Vec::new(),
        });
    }
    // Oldest first, by `(added_at, value)` within each customer, sorted here.
    let mut identifiers: Vec<(usize, String, IdentifierKind, String)> = Vec::new();
    let rows = sqlx::query("SELECT customer_id, added_at, kind, value FROM customer_identifiers")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    for row in rows {
        let Some(&idx) = at.get(row.get::<&str, _>(0)) else {
            continue;
        };
        let Some(kind) = IdentifierKind::parse(row.get::<&str, _>(2)) else {
            continue;
        };
        identifiers.push((idx, row.get(1), kind, row.get(3)));
    }
    identifiers.sort_unstable_by(|a, b| (a.0, &a.1, &a.3).cmp(&(b.0, &b.1, &b.3)));
    for (idx, _, kind, value) in identifiers {
        let profile = &mut profiles[idx];
        match kind {
            IdentifierKind::Phone => profile.phones.push(value),
            IdentifierKind::Email => profile.emails.push(value),
            IdentifierKind::External => profile.external_ids.push(value),
        }
    }
    let rows = sqlx::query("SELECT customer_id, card FROM cards WHERE status = 'active'")
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    for row in rows {
        if let Some(&idx) = at.get(row.get::<&str, _>(0)) {
            profiles[idx].cards.push(row.get(1));
        }
    }
    for profile in &mut profiles {
        profile.cards.sort_unstable();
    }
    profiles.sort_unstable_by(|a, b| a.customer_id.cmp(&b.customer_id));
    Ok(profiles)
}
