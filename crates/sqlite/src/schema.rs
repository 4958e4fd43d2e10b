//! Embedded migrations, applied in order at start inside one transaction each.

use crate::sql::db;
use rusqlite::Connection;
use tessera_store::StoreResult;

/// `(version, sql)` pairs; a released migration is never edited, only followed.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_foundation.sql")),
    (2, include_str!("../migrations/0002_promotion_usage.sql")),
    (3, include_str!("../migrations/0003_vouchers.sql")),
    (
        4,
        include_str!("../migrations/0004_segments_and_card_types.sql"),
    ),
    (5, include_str!("../migrations/0005_refused_commits.sql")),
    (6, include_str!("../migrations/0006_profiles.sql")),
    (7, include_str!("../migrations/0007_access.sql")),
    (8, include_str!("../migrations/0008_accounts.sql")),
    (9, include_str!("../migrations/0009_tiers.sql")),
    (
        10,
        include_str!("../migrations/0010_no_entries_by_receipt.sql"),
    ),
    (11, include_str!("../migrations/0011_account_versions.sql")),
];

/// Applies the migrations the database has not seen yet. Migration 6 is followed, in
/// its transaction, by the name keys of the names it moved (folding names takes Rust).
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    migrate_to(conn, i64::MAX)
}

/// Applies the migrations up to `last` the database has not seen yet (tests of a
/// migration start from the schema before it).
fn migrate_to(conn: &mut Connection, last: i64) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .map_err(db)?;
    for (version, sql) in MIGRATIONS
        .iter()
        .take_while(|(version, _)| *version <= last)
    {
        // Checked inside the write transaction, so two processes opening one file at
        // once apply each migration once.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(db)?;
        let applied: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)",
                [version],
                |row| row.get(0),
            )
            .map_err(db)?;
        if !applied {
            tx.execute_batch(sql).map_err(db)?;
            if *version == 6 {
                crate::profiles::backfill_name_keys(&tx)?;
            }
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, datetime('now'))",
                [version],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn has_index(conn: &Connection, name: &str) -> bool {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?)",
            [name],
            |row| row.get(0),
        )
        .unwrap()
    }

    #[test]
    fn migration_10_drops_the_entries_by_receipt_index_and_keeps_the_entries() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 9).unwrap();
        assert!(has_index(&conn, "entries_by_receipt"));
        conn.execute_batch(
            "INSERT INTO customers (customer_id, created_at) VALUES ('c1', '2026-12-07T10:00:00Z');
             INSERT INTO entries (customer_id, kind, debit, credit, amount, receipt_id, at)
             VALUES ('c1', 'earn', 'issued', 'customer_pending', 50, 'r1', '2026-12-07T10:00:00Z');",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        assert!(!has_index(&conn, "entries_by_receipt"));
        assert!(has_index(&conn, "entries_by_customer"));
        let kept: i64 = conn
            .query_row(
                "SELECT amount FROM entries WHERE receipt_id = 'r1'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(kept, 50);
        // Applied once: opening again changes nothing.
        migrate(&mut conn).unwrap();
        let applied: i64 = conn
            .query_row("SELECT MAX(version) FROM schema_migrations", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(
            Some(applied),
            MIGRATIONS.last().map(|(version, _)| *version)
        );
    }

    fn version(conn: &Connection, customer: &str) -> i64 {
        conn.query_row(
            "SELECT version FROM customer_accounts WHERE customer_id = ?",
            [customer],
            |row| row.get(0),
        )
        .unwrap()
    }

    #[test]
    fn migration_11_advances_an_account_version_with_every_update() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 10).unwrap();
        conn.execute_batch(
            "INSERT INTO customers (customer_id, created_at) VALUES ('c1', '2026-12-07T10:00:00Z');
             INSERT INTO customers (customer_id, created_at) VALUES ('c2', '2026-12-07T10:00:00Z');
             INSERT INTO customer_accounts (customer_id, pending, available) VALUES ('c1', 5, 7);
             INSERT INTO customer_accounts (customer_id, pending, available) VALUES ('c2', 0, 0);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        // Existing rows start at 0, balances as they were.
        assert_eq!(version(&conn, "c1"), 0);
        let balances: (i64, i64) = conn
            .query_row(
                "SELECT pending, available FROM customer_accounts WHERE customer_id = 'c1'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(balances, (5, 7));
        // A balance update, an update that changes nothing and the ledger's upsert each
        // advance it by one, and only the row updated.
        conn.execute_batch("UPDATE customer_accounts SET available = 9 WHERE customer_id = 'c1'")
            .unwrap();
        assert_eq!(version(&conn, "c1"), 1);
        conn.execute_batch(
            "UPDATE customer_accounts SET version = version WHERE customer_id = 'c1'",
        )
        .unwrap();
        assert_eq!(version(&conn, "c1"), 2);
        conn.execute_batch(
            "INSERT INTO customer_accounts (customer_id, pending, available) VALUES ('c1', 1, 1)
             ON CONFLICT (customer_id) DO UPDATE SET pending = excluded.pending, available = excluded.available",
        )
        .unwrap();
        assert_eq!(version(&conn, "c1"), 3);
        assert_eq!(version(&conn, "c2"), 0);
        // A new row starts at 0.
        conn.execute_batch(
            "INSERT INTO customers (customer_id, created_at) VALUES ('c3', '2026-12-07T10:00:00Z');
             INSERT INTO customer_accounts (customer_id, pending, available) VALUES ('c3', 0, 0);",
        )
        .unwrap();
        assert_eq!(version(&conn, "c3"), 0);
    }
}
