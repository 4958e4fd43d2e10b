//! Customer profiles' rows: the `customers` row with its document and status, its
//! account, identifiers, cards and name keys, read and written with one statement
//! each.
//!
//! A new customer's identifiers and cards are checked against the stored ones inside
//! the statement that inserts them, which writes nothing when one is taken: so a
//! taken card or phone is answered without failing the statement, and the
//! transaction goes on (an import skips that item and writes the others). A value a
//! concurrent transaction inserts meanwhile still fails on the unique index, as
//! contention, and the rerun finds it taken.

use crate::rows::{db, json_err};
use crate::time::{parse_ts, ts};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use std::collections::{HashMap, HashSet};
use tessera_core::customer::CardType;
use tessera_core::profile::{search_keys, ProfileDoc};
use tessera_core::{CoreError, ErrorCode};
use tessera_store::{
    CardStatus, IdentifierKind, ProfileStatus, StoreError, StoreResult, StoredCard,
    StoredIdentifier, StoredProfile,
};

/// New customers per statement: the statement's text and parameters do not depend
/// on it (rows go in as arrays), so it only bounds one statement's work.
const CHUNK: usize = 1000;

/// The columns [`profile_from_row`] reads, from `customers c`.
pub const PROFILE_COLUMNS: &str = "c.customer_id, c.profile, c.status, c.merged_into, c.erased_at, c.created_at, c.updated_at,
     (SELECT json_agg(json_build_array(i.kind, i.value, i.source, i.added_at) 
                        ORDER BY i.added_at, CASE i.kind WHEN 'phone' THEN 0 WHEN 'email' THEN 1 ELSE 2 END,
                                 i.value COLLATE \"C\")
      FROM customer_identifiers i WHERE i.customer_id = c.customer_id)::TEXT,
     (SELECT json_agg(json_build_array(k.card, k.card_type, k.status) ORDER BY k.card COLLATE \"C\")
      FROM cards k WHERE k.customer_id = c.customer_id)::TEXT";

/// A profile from the columns of [`PROFILE_COLUMNS`].
pub fn profile_from_row(row: &PgRow) -> StoreResult<StoredProfile> {
    let customer_id: String = row.get(0);
    let doc: ProfileDoc = serde_json::from_str(&row.get::<String, _>(1)).map_err(json_err)?;
    let status: String = row.get(2);
    let status = match status.as_str() {
        "active" => ProfileStatus::Active,
        "merged" => ProfileStatus::Merged {
            into: row.get::<Option<String>, _>(3).unwrap_or_default(),
        },
        "erased" => ProfileStatus::Erased {
            at: parse_ts(&row.get::<Option<String>, _>(4).unwrap_or_default())?,
        },
        other => return Err(StoreError::backend(format!("unknown status {other}"))),
    };
    let identifiers: Vec<(String, String, String, String)> = row
        .get::<Option<String>, _>(7)
        .map(|text| serde_json::from_str(&text).map_err(json_err))
        .transpose()?
        .unwrap_or_default();
    let identifiers = identifiers
        .into_iter()
        .map(|(kind, value, source, added_at)| {
            Ok(StoredIdentifier {
                kind: IdentifierKind::parse(&kind)
                    .ok_or_else(|| StoreError::backend(format!("unknown identifier {kind}")))?,
                value,
                source,
                added_at: parse_ts(&added_at)?,
            })
        })
        .collect::<StoreResult<_>>()?;
    let cards: Vec<(String, String, String)> = row
        .get::<Option<String>, _>(8)
        .map(|text| serde_json::from_str(&text).map_err(json_err))
        .transpose()?
        .unwrap_or_default();
    let cards = cards
        .into_iter()
        .map(|(number, card_type, status)| {
            Ok(StoredCard {
                number,
                card_type: CardType::parse(&card_type).unwrap_or_default(),
                status: CardStatus::parse(&status)
                    .ok_or_else(|| StoreError::backend(format!("unknown card status {status}")))?,
            })
        })
        .collect::<StoreResult<_>>()?;
    Ok(StoredProfile {
        customer_id,
        created_at: parse_ts(&row.get::<String, _>(5))?,
        updated_at: parse_ts(&row.get::<String, _>(6))?,
        status,
        doc,
        identifiers,
        cards,
    })
}

/// A profile with its identifiers and cards, whatever its status, with one statement.
pub async fn profile(
    conn: &mut PgConnection,
    customer_id: &str,
) -> StoreResult<Option<StoredProfile>> {
    let row = sqlx::query(&format!(
        "SELECT {PROFILE_COLUMNS} FROM customers c WHERE c.customer_id = $1"
    ))
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    row.as_ref().map(profile_from_row).transpose()
}

/// Locks the customer's account row: the customer's lock, which every write of their
/// ledger takes first.
pub async fn lock(conn: &mut PgConnection, customer_id: &str) -> StoreResult<()> {
    sqlx::query("SELECT 1 FROM customer_accounts WHERE customer_id = $1 FOR UPDATE")
        .bind(customer_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// The stored `(status, merged_into, erased_at)` of a profile status.
fn status_columns(status: &ProfileStatus) -> (&'static str, Option<String>, Option<String>) {
    match status {
        ProfileStatus::Active => ("active", None, None),
        ProfileStatus::Merged { into } => ("merged", Some(into.clone()), None),
        ProfileStatus::Erased { at } => ("erased", None, Some(ts(*at))),
    }
}

/// The error of an identifier another customer holds.
pub fn taken(kind: IdentifierKind, value: &str) -> StoreError {
    let (code, field, what) = match kind {
        IdentifierKind::Phone => (ErrorCode::PhoneTaken, "phone", "phone"),
        // Emails may be shared; no write refuses one.
        IdentifierKind::Email => (ErrorCode::InvalidField, "email", "email"),
        IdentifierKind::External => (ErrorCode::ExternalIdTaken, "external_id", "external id"),
    };
    StoreError::Domain(CoreError::field(
        code,
        field,
        format!("{what} {value} already belongs to another customer"),
    ))
}

fn card_taken(idx: usize, number: &str) -> StoreError {
    StoreError::Domain(CoreError::field(
        ErrorCode::CardTaken,
        format!("cards[{idx}]"),
        format!("card {number} already belongs to another customer"),
    ))
}

/// Where a row sent with a chunk came from, to name the field at fault.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    /// `(profile, identifier)` positions.
    Identifier(usize, usize),
    /// `(profile, card)` positions.
    Card(usize, usize),
}

impl Origin {
    fn profile(self) -> usize {
        match self {
            Origin::Identifier(p, _) | Origin::Card(p, _) => p,
        }
    }
}

/// Stores new customers: each customers row with its document, status and display
/// name, a zero account, identifiers, cards and name keys; a few statements for any
/// number (one per [`CHUNK`]). A card, phone or external id already stored, or given
/// twice in `profiles`, fails the whole insert with `card_taken`, `phone_taken` or
/// `external_id_taken` naming the first one, in profile order, and writes nothing
/// of the chunk it is in (the caller's transaction undoes the chunks before).
pub async fn insert_profiles(
    conn: &mut PgConnection,
    profiles: &[StoredProfile],
) -> StoreResult<()> {
    check_distinct(profiles)?;
    for chunk in profiles.chunks(CHUNK) {
        insert_chunk(conn, chunk).await?;
    }
    Ok(())
}

/// A unique value given twice in one batch fails as if the first were stored already.
fn check_distinct(profiles: &[StoredProfile]) -> StoreResult<()> {
    let mut identifiers: HashMap<(IdentifierKind, &str), &str> = HashMap::new();
    let mut cards: HashMap<&str, &str> = HashMap::new();
    for profile in profiles {
        let id = profile.customer_id.as_str();
        for identifier in &profile.identifiers {
            if !identifier.kind.is_unique() {
                continue;
            }
            let holder = identifiers
                .entry((identifier.kind, identifier.value.as_str()))
                .or_insert(id);
            if *holder != id {
                return Err(taken(identifier.kind, &identifier.value));
            }
        }
        for (idx, card) in profile.cards.iter().enumerate() {
            let holder = cards.entry(card.number.as_str()).or_insert(id);
            if *holder != id {
                return Err(card_taken(idx, &card.number));
            }
        }
    }
    Ok(())
}

async fn insert_chunk(conn: &mut PgConnection, chunk: &[StoredProfile]) -> StoreResult<()> {
    let mut customers = CustomerArrays::default();
    let mut identifiers = IdentifierArrays::default();
    let mut cards = CardArrays::default();
    let mut keys: (Vec<&str>, Vec<String>) = (Vec::new(), Vec::new());
    let mut origins: (Vec<Origin>, Vec<Origin>) = (Vec::new(), Vec::new());
    for (p_idx, profile) in chunk.iter().enumerate() {
        customers.push(profile)?;
        let id = profile.customer_id.as_str();
        // A value listed twice for one customer is stored once.
        let mut seen = HashSet::new();
        for (i_idx, identifier) in profile.identifiers.iter().enumerate() {
            if seen.insert((identifier.kind, identifier.value.as_str())) {
                identifiers.push(id, identifier);
                origins.0.push(Origin::Identifier(p_idx, i_idx));
            }
        }
        let mut seen = HashSet::new();
        for (k_idx, card) in profile.cards.iter().enumerate() {
            if seen.insert(card.number.as_str()) {
                cards.push(id, card);
                origins.1.push(Origin::Card(p_idx, k_idx));
            }
        }
        for key in name_keys(profile) {
            keys.0.push(id);
            keys.1.push(key);
        }
    }
    let taken_rows = sqlx::query(
        "WITH p AS (SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[],
                                         $6::TEXT[], $7::TEXT[], $8::TEXT[])
                    AS p (customer_id, name, profile, status, merged_into, erased_at, created_at, updated_at)),
              i AS (SELECT * FROM UNNEST($9::TEXT[], $10::TEXT[], $11::TEXT[], $12::TEXT[], $13::TEXT[])
                    WITH ORDINALITY AS i (customer_id, kind, value, source, added_at, n)),
              k AS (SELECT * FROM UNNEST($14::TEXT[], $15::TEXT[], $16::TEXT[], $17::TEXT[])
                    WITH ORDINALITY AS k (customer_id, card, card_type, status, n)),
              taken AS MATERIALIZED (
                  SELECT FALSE AS card, i.n FROM i
                  WHERE i.kind <> 'email' AND EXISTS (SELECT 1 FROM customer_identifiers x
                                                      WHERE x.kind = i.kind AND x.value = i.value)
                  UNION ALL
                  SELECT TRUE, k.n FROM k WHERE EXISTS (SELECT 1 FROM cards x WHERE x.card = k.card)),
              c AS (INSERT INTO customers (customer_id, name, profile, status, merged_into, erased_at, created_at, updated_at)
                    SELECT * FROM p WHERE NOT EXISTS (SELECT 1 FROM taken)),
              a AS (INSERT INTO customer_accounts (customer_id, pending, available)
                    SELECT customer_id, 0, 0 FROM p WHERE NOT EXISTS (SELECT 1 FROM taken)),
              ii AS (INSERT INTO customer_identifiers (kind, value, customer_id, source, added_at)
                     SELECT kind, value, customer_id, source, added_at FROM i
                     WHERE NOT EXISTS (SELECT 1 FROM taken) ORDER BY n),
              kk AS (INSERT INTO cards (card, customer_id, card_type, status)
                     SELECT card, customer_id, card_type, status FROM k WHERE NOT EXISTS (SELECT 1 FROM taken)),
              nn AS (INSERT INTO customer_name_keys (key, customer_id)
                     SELECT DISTINCT key, customer_id FROM UNNEST($18::TEXT[], $19::TEXT[]) AS n (customer_id, key)
                     WHERE NOT EXISTS (SELECT 1 FROM taken))
         SELECT card, n FROM taken",
    )
    .bind(&customers.ids)
    .bind(&customers.names)
    .bind(&customers.docs)
    .bind(&customers.statuses)
    .bind(&customers.merged_into)
    .bind(&customers.erased_at)
    .bind(&customers.created_at)
    .bind(&customers.updated_at)
    .bind(&identifiers.customer_ids)
    .bind(&identifiers.kinds)
    .bind(&identifiers.values)
    .bind(&identifiers.sources)
    .bind(&identifiers.added_at)
    .bind(&cards.customer_ids)
    .bind(&cards.numbers)
    .bind(&cards.types)
    .bind(&cards.statuses)
    .bind(&keys.0)
    .bind(&keys.1)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    // The first value at fault, in profile order: identifiers (phone first, as given)
    // before cards, as the legacy insert met them.
    let first = taken_rows
        .iter()
        .filter_map(|row| {
            let n = usize::try_from(row.get::<i64, _>(1)).ok()?.checked_sub(1)?;
            if row.get::<bool, _>(0) {
                origins.1.get(n).copied()
            } else {
                origins.0.get(n).copied()
            }
        })
        .min_by_key(|origin| (origin.profile(), *origin));
    match first {
        None if taken_rows.is_empty() => Ok(()),
        None => Err(StoreError::backend("a taken identifier could not be named")),
        Some(Origin::Identifier(p, i)) => {
            let identifier = &chunk[p].identifiers[i];
            Err(taken(identifier.kind, &identifier.value))
        }
        Some(Origin::Card(p, k)) => Err(card_taken(k, &chunk[p].cards[k].number)),
    }
}

#[derive(Default)]
struct CustomerArrays {
    ids: Vec<String>,
    names: Vec<Option<String>>,
    docs: Vec<String>,
    statuses: Vec<&'static str>,
    merged_into: Vec<Option<String>>,
    erased_at: Vec<Option<String>>,
    created_at: Vec<String>,
    updated_at: Vec<String>,
}

impl CustomerArrays {
    fn push(&mut self, profile: &StoredProfile) -> StoreResult<()> {
        let (status, merged_into, erased_at) = status_columns(&profile.status);
        self.ids.push(profile.customer_id.clone());
        self.names.push(profile.doc.display_name());
        self.docs
            .push(serde_json::to_string(&profile.doc).map_err(StoreError::backend)?);
        self.statuses.push(status);
        self.merged_into.push(merged_into);
        self.erased_at.push(erased_at);
        self.created_at.push(ts(profile.created_at));
        self.updated_at.push(ts(profile.updated_at));
        Ok(())
    }
}

#[derive(Default)]
struct IdentifierArrays<'a> {
    customer_ids: Vec<&'a str>,
    kinds: Vec<&'static str>,
    values: Vec<&'a str>,
    sources: Vec<&'a str>,
    added_at: Vec<String>,
}

impl<'a> IdentifierArrays<'a> {
    fn push(&mut self, customer_id: &'a str, identifier: &'a StoredIdentifier) {
        self.customer_ids.push(customer_id);
        self.kinds.push(identifier.kind.as_str());
        self.values.push(&identifier.value);
        self.sources.push(&identifier.source);
        self.added_at.push(ts(identifier.added_at));
    }
}

#[derive(Default)]
struct CardArrays<'a> {
    customer_ids: Vec<&'a str>,
    numbers: Vec<&'a str>,
    types: Vec<&'static str>,
    statuses: Vec<&'static str>,
}

impl<'a> CardArrays<'a> {
    fn push(&mut self, customer_id: &'a str, card: &'a StoredCard) {
        self.customer_ids.push(customer_id);
        self.numbers.push(&card.number);
        self.types.push(card.card_type.as_str());
        self.statuses.push(card.status.as_str());
    }
}

/// The name keys a profile is found by: those of its document while it is active,
/// none once merged or erased (a search leaves those out, and then reads no customer
/// row to find out).
fn name_keys(profile: &StoredProfile) -> Vec<String> {
    match profile.status {
        ProfileStatus::Active => search_keys(&profile.doc),
        ProfileStatus::Merged { .. } | ProfileStatus::Erased { .. } => Vec::new(),
    }
}

/// Rewrites an existing customer row (document, status, display name, `updated_at`)
/// and its name keys, with one statement. Identifiers and cards are not touched.
pub async fn update_profile(conn: &mut PgConnection, profile: &StoredProfile) -> StoreResult<()> {
    let (status, merged_into, erased_at) = status_columns(&profile.status);
    let row = sqlx::query(
        "WITH u AS (UPDATE customers SET name = $2, profile = $3, status = $4, merged_into = $5,
                        erased_at = $6, updated_at = $7
                    WHERE customer_id = $1 RETURNING customer_id),
              d AS (DELETE FROM customer_name_keys WHERE customer_id = $1 AND key <> ALL($8::TEXT[])),
              i AS (INSERT INTO customer_name_keys (key, customer_id)
                    SELECT DISTINCT k, u.customer_id FROM UNNEST($8::TEXT[]) AS k, u
                    ON CONFLICT DO NOTHING)
         SELECT COUNT(*) FROM u",
    )
    .bind(&profile.customer_id)
    .bind(profile.doc.display_name())
    .bind(serde_json::to_string(&profile.doc).map_err(StoreError::backend)?)
    .bind(status)
    .bind(merged_into)
    .bind(erased_at)
    .bind(ts(profile.updated_at))
    .bind(name_keys(profile))
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    if row.get::<i64, _>(0) != 1 {
        return Err(StoreError::backend(format!(
            "no customer {} to update",
            profile.customer_id
        )));
    }
    Ok(())
}

/// Writes the name keys of every customer from their stored document (the migration
/// that introduced them), a page of customers per statement pair.
pub async fn write_all_name_keys(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    const PAGE: i64 = 10_000;
    let mut after = String::new();
    loop {
        let rows = sqlx::query(
            "SELECT customer_id, profile FROM customers
             WHERE customer_id > $1 AND status = 'active' ORDER BY customer_id LIMIT $2",
        )
        .bind(&after)
        .bind(PAGE)
        .fetch_all(&mut *conn)
        .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.get(0);
        let (mut ids, mut keys) = (Vec::new(), Vec::new());
        for row in &rows {
            let doc: ProfileDoc = serde_json::from_str(&row.get::<String, _>(1))
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            for key in search_keys(&doc) {
                ids.push(row.get::<String, _>(0));
                keys.push(key);
            }
        }
        sqlx::query(
            "INSERT INTO customer_name_keys (customer_id, key)
             SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[]) ON CONFLICT DO NOTHING",
        )
        .bind(&ids)
        .bind(&keys)
        .execute(&mut *conn)
        .await?;
    }
}
