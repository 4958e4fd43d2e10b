//! `tessera check` for merges and identifiers: a merged customer points at an active
//! one and holds nothing any more; phones and external ids name active customers.
//!
//! Both read only the few customers that are not active (a partial index), and the
//! active customers that wrongly point somewhere (another partial index), so they cost
//! little on a database of millions of customers.

use crate::sql::{all, RowExt};
use rusqlite::Connection;
use tessera_store::{CheckItem, StoreResult};

/// The merge check and the identifier check, from one pass over the customers that
/// are not active.
pub fn run(conn: &Connection) -> StoreResult<[CheckItem; 2]> {
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
    all(
        conn,
        "SELECT c.customer_id, c.status, c.merged_into, t.status,
                (SELECT group_concat(i.kind || ' ' || i.value, ', ') FROM customer_identifiers i
                 WHERE i.customer_id = c.customer_id AND i.kind <> 'email'),
                EXISTS (SELECT 1 FROM customer_identifiers i WHERE i.customer_id = c.customer_id),
                EXISTS (SELECT 1 FROM cards k WHERE k.customer_id = c.customer_id AND k.status = 'active'),
                EXISTS (SELECT 1 FROM lots l WHERE l.customer_id = c.customer_id
                        AND (l.state = 'pending' OR l.remaining > 0))
         FROM customers c LEFT JOIN customers t ON t.customer_id = c.merged_into
         WHERE c.status <> 'active'",
        [],
        |row| {
            let customer_id: String = row.at(0)?;
            let status: String = row.at(1)?;
            identifiers.checked += 1;
            if let Some(held) = row.at::<Option<String>>(4)? {
                identifiers
                    .violations
                    .push(format!("{status} customer {customer_id} holds {held}"));
            }
            if status != "merged" {
                return Ok(());
            }
            merges.checked += 1;
            let merged_into: Option<String> = row.at(2)?;
            let target_status: Option<String> = row.at(3)?;
            match (&merged_into, target_status.as_deref()) {
                (None, _) => merges
                    .violations
                    .push(format!("merged customer {customer_id} is merged into no one")),
                (Some(into), None) => merges.violations.push(format!(
                    "merged customer {customer_id} is merged into {into}, which does not exist"
                )),
                (Some(into), Some(other)) if other != "active" => {
                    merges.violations.push(format!(
                        "merged customer {customer_id} is merged into {into}, which is {other}"
                    ))
                }
                _ => {}
            }
            for (column, what) in [
                (5, "identifiers"),
                (6, "active cards"),
                (7, "open lots"),
            ] {
                if row.at::<bool>(column)? {
                    merges
                        .violations
                        .push(format!("merged customer {customer_id} still holds {what}"));
                }
            }
            Ok(())
        },
    )?;
    all(
        conn,
        "SELECT customer_id, merged_into, status FROM customers
         WHERE merged_into IS NOT NULL AND status <> 'merged'",
        [],
        |row| {
            merges.violations.push(format!(
                "{} customer {} points at {} as if merged",
                row.at::<String>(2)?,
                row.at::<String>(0)?,
                row.at::<String>(1)?
            ));
            Ok(())
        },
    )?;
    Ok([merges, identifiers])
}

/// Every identifier, card, account and name key names a stored customer. Import
/// batches write these rows without SQLite's foreign-key enforcement (see the
/// writer's `run_import`); this is the check that it left nothing pointing nowhere.
pub fn references(conn: &Connection) -> StoreResult<CheckItem> {
    let mut item = CheckItem {
        name: "references: every identifier, card, account and name key names a stored customer"
            .into(),
        checked: 0,
        violations: Vec::new(),
    };
    for table in [
        "customer_identifiers",
        "cards",
        "customer_accounts",
        "customer_name_keys",
    ] {
        let orphans: Vec<String> = all(
            conn,
            &format!(
                "SELECT DISTINCT customer_id FROM {table} t
                 WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = t.customer_id)
                 LIMIT 20"
            ),
            [],
            |row| row.at(0),
        )?;
        let rows: i64 = all(conn, &format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.at::<i64>(0)
        })?
        .into_iter()
        .sum();
        item.checked += rows as u64;
        item.violations.extend(
            orphans
                .into_iter()
                .map(|id| format!("{table}: customer {id} is not stored")),
        );
    }
    Ok(item)
}
