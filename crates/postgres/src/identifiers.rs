//! Identifiers and cards of customers as the CRM writes change them, and who holds a
//! customer's points after merges. Nothing here fails a statement on a taken value:
//! a unique value another customer holds is answered as a refusal, and the
//! transaction goes on.

use crate::profiles::taken;
use crate::rows::db;
use crate::time::ts;
use sqlx::{PgConnection, Row};
use tessera_core::customer::CardType;
use tessera_core::{CoreError, ErrorCode};
use tessera_store::{
    CardStatus, IdentifierKind, StoreError, StoreResult, StoredCard, StoredIdentifier,
};

/// The customer holding a phone or external id, or for emails the oldest holder.
pub async fn owner_of(
    conn: &mut PgConnection,
    kind: IdentifierKind,
    value: &str,
) -> StoreResult<Option<String>> {
    let row = sqlx::query(
        "SELECT customer_id FROM customer_identifiers WHERE kind = $1 AND value = $2
         ORDER BY added_at, customer_id COLLATE \"C\" LIMIT 1",
    )
    .bind(kind.as_str())
    .bind(value)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.map(|r| r.get(0)))
}

/// Gives a customer an identifier with one statement. A unique value someone else
/// holds is `phone_taken` or `external_id_taken`; one the customer holds already
/// changes nothing.
pub async fn add(
    conn: &mut PgConnection,
    customer_id: &str,
    identifier: &StoredIdentifier,
) -> StoreResult<()> {
    // The holder is read from the statement's snapshot. When the insert met a value a
    // transaction committed after that snapshot, neither shows: contention, and the
    // rerun sees the holder.
    let row = sqlx::query(
        "WITH added AS (INSERT INTO customer_identifiers (kind, value, customer_id, source, added_at)
                        VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1)
         SELECT (SELECT COUNT(*) FROM added),
                (SELECT customer_id FROM customer_identifiers
                 WHERE kind = $1 AND value = $2 AND (kind <> 'email' OR customer_id = $3) LIMIT 1)",
    )
    .bind(identifier.kind.as_str())
    .bind(&identifier.value)
    .bind(customer_id)
    .bind(&identifier.source)
    .bind(ts(identifier.added_at))
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let added: i64 = row.get(0);
    let holder: Option<String> = row.get(1);
    match holder {
        _ if added == 1 => Ok(()),
        Some(holder) if holder == customer_id => Ok(()),
        Some(_) => Err(taken(identifier.kind, &identifier.value)),
        None => Err(StoreError::Contention(format!(
            "{} {} was added by a concurrent write",
            identifier.kind.as_str(),
            identifier.value
        ))),
    }
}

/// Takes an identifier from a customer (nothing when they do not hold it).
pub async fn remove(
    conn: &mut PgConnection,
    customer_id: &str,
    kind: IdentifierKind,
    value: &str,
) -> StoreResult<()> {
    sqlx::query(
        "DELETE FROM customer_identifiers WHERE kind = $1 AND value = $2 AND customer_id = $3",
    )
    .bind(kind.as_str())
    .bind(value)
    .bind(customer_id)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

/// Whether anyone holds one of the cards or unique identifiers: one statement for a
/// whole import batch instead of a round trip per value.
pub async fn any_held(
    conn: &mut PgConnection,
    cards: &[&str],
    identifiers: &[(IdentifierKind, &str)],
) -> StoreResult<bool> {
    let kinds: Vec<&str> = identifiers.iter().map(|(k, _)| k.as_str()).collect();
    let values: Vec<&str> = identifiers.iter().map(|(_, v)| *v).collect();
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM cards WHERE card = ANY($1::TEXT[]))
             OR EXISTS (SELECT 1 FROM UNNEST($2::TEXT[], $3::TEXT[]) AS u (kind, value)
                        JOIN customer_identifiers i ON i.kind = u.kind AND i.value = u.value)",
    )
    .bind(cards)
    .bind(&kinds)
    .bind(&values)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)
}

/// The holder of a card and the card, whatever its status.
pub async fn card(
    conn: &mut PgConnection,
    number: &str,
) -> StoreResult<Option<(String, StoredCard)>> {
    let row = sqlx::query("SELECT customer_id, card, card_type, status FROM cards WHERE card = $1")
        .bind(number)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let status: String = row.get(3);
    let card = StoredCard {
        number: row.get(1),
        card_type: CardType::parse(&row.get::<String, _>(2)).unwrap_or_default(),
        status: CardStatus::parse(&status)
            .ok_or_else(|| StoreError::backend(format!("unknown card status {status}")))?,
    };
    Ok(Some((row.get(0), card)))
}

/// Inserts a card, or when the number exists, sets its holder, type and status.
pub async fn put_card(
    conn: &mut PgConnection,
    customer_id: &str,
    card: &StoredCard,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO cards (card, customer_id, card_type, status) VALUES ($1, $2, $3, $4)
         ON CONFLICT (card) DO UPDATE SET customer_id = excluded.customer_id,
             card_type = excluded.card_type, status = excluded.status",
    )
    .bind(&card.number)
    .bind(customer_id)
    .bind(card.card_type.as_str())
    .bind(card.status.as_str())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}

pub async fn delete_card(conn: &mut PgConnection, number: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM cards WHERE card = $1")
        .bind(number)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Points every customer merged into `from` at `to`; their ids, sorted.
pub async fn repoint_merged(
    conn: &mut PgConnection,
    from: &str,
    to: &str,
) -> StoreResult<Vec<String>> {
    let mut ids: Vec<String> = sqlx::query(
        "UPDATE customers SET merged_into = $2 WHERE merged_into = $1 RETURNING customer_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|r| r.get(0))
    .collect();
    ids.sort();
    Ok(ids)
}

/// The customer that now holds `customer_id`'s points: itself, or the customer it
/// was merged into (merges repoint, so one step is enough).
pub async fn owner(conn: &mut PgConnection, customer_id: &str) -> StoreResult<String> {
    let row = sqlx::query(
        "SELECT COALESCE(merged_into, customer_id) FROM customers WHERE customer_id = $1",
    )
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    match row {
        Some(row) => Ok(row.get(0)),
        None => Err(StoreError::Domain(CoreError::field(
            ErrorCode::UnknownCustomer,
            "customer_id",
            format!("no customer {customer_id}"),
        ))),
    }
}

/// Gives every lot of `from` to `to`: the closed ones (what a merge leaves after the
/// transfer moved the open ones) and any open one; their ids, sorted. One statement,
/// a scan of each partial index (`lots_closed`, `lots_open`), which together hold
/// every lot; the lots are the customer's, whose account row the merge has locked.
/// Both accounts' rows are updated, which advances their versions (migration 10's
/// trigger), as with every write of lots.
pub async fn move_lots(conn: &mut PgConnection, from: &str, to: &str) -> StoreResult<Vec<String>> {
    let mut ids: Vec<String> = sqlx::query(
        "WITH closed AS (UPDATE lots SET customer_id = $2
                         WHERE customer_id = $1 AND remaining = 0 AND state <> 'pending'
                         RETURNING lot_id),
              open AS (UPDATE lots SET customer_id = $2
                       WHERE customer_id = $1 AND (state = 'pending' OR remaining > 0)
                       RETURNING lot_id),
              versions AS (UPDATE customer_accounts SET version = version
                           WHERE customer_id IN ($1, $2))
         SELECT lot_id FROM closed UNION ALL SELECT lot_id FROM open",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?
    .iter()
    .map(|r| r.get(0))
    .collect();
    ids.sort();
    Ok(ids)
}

/// Gives the named lots to `to` (an unmerge giving back closed lots), updating `to`'s
/// account row so that its version advances.
pub async fn reassign_lots(
    conn: &mut PgConnection,
    lot_ids: &[String],
    to: &str,
) -> StoreResult<()> {
    if lot_ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "WITH moved AS (UPDATE lots SET customer_id = $2 WHERE lot_id = ANY($1))
         UPDATE customer_accounts SET version = version WHERE customer_id = $2",
    )
    .bind(lot_ids)
    .bind(to)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(())
}
