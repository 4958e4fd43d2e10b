//! `tessera check` for merges and identifiers, as the SQLite adapter checks them: a
//! merged customer points at an active one and holds nothing any more; phones and
//! external ids name active customers.
//!
//! Both read only the few customers that are not active (the partial index
//! `customers_not_active`), so they cost little on a database of millions.

use crate::rows::db;
use sqlx::{PgConnection, Row};
use tessera_store::{CheckItem, StoreResult};

/// The merge check and the identifier check, from one pass over the customers that
/// are not active.
pub async fn run(conn: &mut PgConnection) -> StoreResult<[CheckItem; 2]> {
    let mut merges = CheckItem {
        name: "merges: every merged customer points at an active customer and holds no identifiers, active cards or open lots".into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut identifiers = CheckItem {
        name: "identifiers: every phone and external id belongs to an active customer".into(),
        checked: 0,
        violations: Vec::new(),
    };
    let rows = sqlx::query(
        "SELECT c.customer_id, c.status, c.merged_into, t.status,
                (SELECT string_agg(i.kind || ' ' || i.value, ', ' ORDER BY i.kind, i.value COLLATE \"C\")
                 FROM customer_identifiers i
                 WHERE i.customer_id = c.customer_id AND i.kind <> 'email'),
                EXISTS (SELECT 1 FROM customer_identifiers i WHERE i.customer_id = c.customer_id),
                EXISTS (SELECT 1 FROM cards k WHERE k.customer_id = c.customer_id AND k.status = 'active'),
                EXISTS (SELECT 1 FROM lots l WHERE l.customer_id = c.customer_id
                        AND (l.state = 'pending' OR l.remaining > 0))
         FROM customers c LEFT JOIN customers t ON t.customer_id = c.merged_into
         WHERE c.status <> 'active'
         ORDER BY c.customer_id COLLATE \"C\"",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for row in rows {
        let customer_id: String = row.get(0);
        let status: String = row.get(1);
        identifiers.checked += 1;
        if let Some(held) = row.get::<Option<String>, _>(4) {
            identifiers
                .violations
                .push(format!("{status} customer {customer_id} holds {held}"));
        }
        if status != "merged" {
            continue;
        }
        merges.checked += 1;
        let merged_into: Option<String> = row.get(2);
        let target_status: Option<String> = row.get(3);
        match (&merged_into, target_status.as_deref()) {
            (None, _) => merges.violations.push(format!(
                "merged customer {customer_id} is merged into no one"
            )),
            (Some(into), None) => merges.violations.push(format!(
                "merged customer {customer_id} is merged into {into}, which does not exist"
            )),
            (Some(into), Some(other)) if other != "active" => merges.violations.push(format!(
                "merged customer {customer_id} is merged into {into}, which is {other}"
            )),
            _ => {}
        }
        for (column, what) in [(5, "identifiers"), (6, "active cards"), (7, "open lots")] {
            if row.get::<bool, _>(column) {
                merges
                    .violations
                    .push(format!("merged customer {customer_id} still holds {what}"));
            }
        }
    }
    // The schema's constraint keeps merged_into with status = 'merged'; a row that
    // broke it (written with the constraint dropped) is named too.
    let rows = sqlx::query(
        "SELECT customer_id, merged_into, status FROM customers
         WHERE merged_into IS NOT NULL AND status <> 'merged'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for row in rows {
        merges.violations.push(format!(
            "{} customer {} points at {} as if merged",
            row.get::<String, _>(2),
            row.get::<String, _>(0),
            row.get::<String, _>(1)
        ));
    }
    Ok([merges, identifiers])
}
