//! The identifiers beside a profile: phones, emails and external ids
//! (`customer_identifiers`, where a unique index keeps a phone or an external id with
//! one customer) and cards with their type and status.

use crate::sql::{all, db, exec, is_unique_violation, one, RowExt};
use crate::time::{parse_ts, ts};
use rusqlite::{params, Connection, Row};
use tessera_core::customer::CardType;
use tessera_core::{CoreError, ErrorCode};
use tessera_store::{
    CardStatus, IdentifierKind, StoreError, StoreResult, StoredCard, StoredIdentifier,
};

/// The customer's phones, emails and external ids, oldest first (then in the order of
/// [`IdentifierKind`] and by value, so that the order is the same in every adapter).
pub fn identifiers(conn: &Connection, customer_id: &str) -> StoreResult<Vec<StoredIdentifier>> {
    all(
        conn,
        "SELECT kind, value, source, added_at FROM customer_identifiers WHERE customer_id = ?
         ORDER BY added_at, CASE kind WHEN 'phone' THEN 0 WHEN 'email' THEN 1 ELSE 2 END, value",
        [customer_id],
        |row| {
            let kind: String = row.at(0)?;
            Ok(StoredIdentifier {
                kind: IdentifierKind::parse(&kind).ok_or_else(|| {
                    StoreError::backend(format!("unknown identifier kind {kind:?}"))
                })?,
                value: row.at(1)?,
                source: row.at(2)?,
                added_at: parse_ts(&row.at::<String>(3)?)?,
            })
        },
    )
}

/// The customer's cards, whatever their status, by number.
pub fn cards(conn: &Connection, customer_id: &str) -> StoreResult<Vec<StoredCard>> {
    all(
        conn,
        "SELECT card, card_type, status FROM cards WHERE customer_id = ? ORDER BY card",
        [customer_id],
        |row| card_at(row, 0),
    )
}

/// A card from the columns `card, card_type, status` starting at `at`.
fn card_at(row: &Row, at: usize) -> StoreResult<StoredCard> {
    let status: String = row.at(at + 2)?;
    Ok(StoredCard {
        number: row.at(at)?,
        card_type: CardType::parse(&row.at::<String>(at + 1)?).unwrap_or_default(),
        status: CardStatus::parse(&status)
            .ok_or_else(|| StoreError::backend(format!("unknown card status {status:?}")))?,
    })
}

/// The refusal of a unique identifier someone else holds.
fn identifier_taken(kind: IdentifierKind, value: &str) -> StoreError {
    let (code, field, what) = match kind {
        IdentifierKind::Phone => (ErrorCode::PhoneTaken, "phone", "phone"),
        IdentifierKind::External => (ErrorCode::ExternalIdTaken, "external_id", "external id"),
        IdentifierKind::Email => {
            return StoreError::backend(format!("email {value} refused by a unique index"))
        }
    };
    StoreError::Domain(CoreError::field(
        code,
        field,
        format!("{what} {value} already belongs to another customer"),
    ))
}

/// Gives a customer an identifier; one they hold already changes nothing, a unique
/// one someone else holds is refused by `customer_identifiers_unique`.
pub fn add_identifier(
    conn: &Connection,
    customer_id: &str,
    identifier: &StoredIdentifier,
) -> StoreResult<()> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO customer_identifiers (kind, value, customer_id, source, added_at)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, value, customer_id) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                identifier.kind.as_str(),
                identifier.value,
                customer_id,
                identifier.source,
                ts(identifier.added_at)
            ])
        });
    match inserted {
        Ok(_) => Ok(()),
        Err(error) if is_unique_violation(&error) => {
            Err(identifier_taken(identifier.kind, &identifier.value))
        }
        Err(error) => Err(db(error)),
    }
}

pub fn remove_identifier(
    conn: &Connection,
    customer_id: &str,
    kind: IdentifierKind,
    value: &str,
) -> StoreResult<()> {
    exec(
        conn,
        "DELETE FROM customer_identifiers WHERE kind = ? AND value = ? AND customer_id = ?",
        params![kind.as_str(), value, customer_id],
    )?;
    Ok(())
}

/// The holder of a phone or external id; for an email, its oldest holder.
pub fn identifier_owner(
    conn: &Connection,
    kind: IdentifierKind,
    value: &str,
) -> StoreResult<Option<String>> {
    one(
        conn,
        "SELECT customer_id FROM customer_identifiers WHERE kind = ? AND value = ?
         ORDER BY added_at, customer_id LIMIT 1",
        params![kind.as_str(), value],
        |r| r.at(0),
    )
}

/// The holder of a card and the card, whatever its status.
pub fn card(conn: &Connection, number: &str) -> StoreResult<Option<(String, StoredCard)>> {
    one(
        conn,
        "SELECT customer_id, card, card_type, status FROM cards WHERE card = ?",
        [number],
        |row| Ok((row.at(0)?, card_at(row, 1)?)),
    )
}

/// Values per look-up of [`any_held`].
const HELD_CHUNK: usize = 64;

/// Whether anyone holds one of the cards or unique identifiers: a statement per 64
/// values of a kind (the last one padded with its own last value) instead of one per
/// value. Sorted values read neighbouring pages.
pub fn any_held(
    conn: &Connection,
    cards: &[&str],
    identifiers: &[(IdentifierKind, &str)],
) -> StoreResult<bool> {
    let in_list = crate::sql::marks(HELD_CHUNK);
    let card_sql = format!("SELECT 1 FROM cards WHERE card IN ({in_list}) LIMIT 1");
    let identifier_sql = format!(
        "SELECT 1 FROM customer_identifiers WHERE kind = ? AND value IN ({in_list}) LIMIT 1"
    );
    let found = |sql: &str, kind: Option<&str>, values: &[&str]| -> StoreResult<bool> {
        let mut statement = conn.prepare_cached(sql).map_err(db)?;
        for chunk in values.chunks(HELD_CHUNK) {
            let Some(last) = chunk.last() else {
                continue;
            };
            let padded = chunk
                .iter()
                .chain(std::iter::repeat_n(last, HELD_CHUNK - chunk.len()));
            let params = kind.iter().chain(padded);
            if statement
                .query(rusqlite::params_from_iter(params))
                .map_err(db)?
                .next()
                .map_err(db)?
                .is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    };
    if found(&card_sql, None, cards)? {
        return Ok(true);
    }
    for kind in [IdentifierKind::Phone, IdentifierKind::External] {
        let values: Vec<&str> = identifiers
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, v)| *v)
            .collect();
        if found(&identifier_sql, Some(kind.as_str()), &values)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Inserts a card of a new customer; a number someone holds is `card_taken` on
/// `cards[idx]`.
pub fn insert_card(
    conn: &Connection,
    customer_id: &str,
    idx: usize,
    card: &StoredCard,
) -> StoreResult<()> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO cards (card, customer_id, card_type, status) VALUES (?, ?, ?, ?)",
        )
        .and_then(|mut s| {
            s.execute(params![
                card.number,
                customer_id,
                card.card_type.as_str(),
                card.status.as_str()
            ])
        });
    match inserted {
        Ok(_) => Ok(()),
        Err(error) if is_unique_violation(&error) => Err(StoreError::Domain(CoreError::field(
            ErrorCode::CardTaken,
            format!("cards[{idx}]"),
            format!("card {} already belongs to another customer", card.number),
        ))),
        Err(error) => Err(db(error)),
    }
}

/// Inserts a card, or gives an existing one this holder, type and status.
pub fn put_card(conn: &Connection, customer_id: &str, card: &StoredCard) -> StoreResult<()> {
    exec(
        conn,
        "INSERT INTO cards (card, customer_id, card_type, status) VALUES (?, ?, ?, ?)
         ON CONFLICT (card) DO UPDATE SET customer_id = excluded.customer_id,
             card_type = excluded.card_type, status = excluded.status",
        params![
            card.number,
            customer_id,
            card.card_type.as_str(),
            card.status.as_str()
        ],
    )?;
    Ok(())
}

pub fn delete_card(conn: &Connection, number: &str) -> StoreResult<()> {
    exec(conn, "DELETE FROM cards WHERE card = ?", [number])?;
    Ok(())
}
