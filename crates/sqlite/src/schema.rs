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
];

/// Applies the migrations the database has not seen yet. Migration 6 is followed, in
/// its transaction, by the name keys of the names it moved (folding names takes Rust).
pub fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .map_err(db)?;
    for (version, sql) in MIGRATIONS {
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
