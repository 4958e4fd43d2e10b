//! Embedded migrations, applied at start under an advisory lock, so that several
//! processes starting at once apply each migration exactly once.

use sqlx::{Connection, PgConnection, Row};

/// `(version, sql)` pairs; a released migration is never edited, only followed.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_schema.sql")),
    (2, include_str!("../migrations/0002_refused_commits.sql")),
    (3, include_str!("../migrations/0003_lz4_receipts.sql")),
    (4, include_str!("../migrations/0004_profiles.sql")),
    (5, include_str!("../migrations/0005_access.sql")),
    (6, include_str!("../migrations/0006_accounts.sql")),
    (7, include_str!("../migrations/0007_tiers.sql")),
    (
        8,
        include_str!("../migrations/0008_no_entries_by_receipt.sql"),
    ),
    (9, include_str!("../migrations/0009_receipts_inline.sql")),
    (10, include_str!("../migrations/0010_account_versions.sql")),
];

/// The advisory lock key of migrations ("tessera" in ASCII, as a number).
const MIGRATION_LOCK: i64 = 0x0074_6573_7365_7261;

/// Applies the migrations the database has not seen yet.
pub async fn migrate(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    migrate_to(conn, i64::MAX).await
}

/// Applies the migrations up to `last` the database has not seen yet (tests of a
/// migration start from the schema before it).
pub async fn migrate_to(conn: &mut PgConnection, last: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    let outcome = apply(conn, last).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await?;
    outcome
}

async fn apply(conn: &mut PgConnection, last: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .execute(&mut *conn)
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.get::<i64, _>(0))
        .collect();
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) || *version > last {
            continue;
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        if *version == 4 {
            // Name keys are folded in Rust (Cyrillic and Latin spellings meet), which
            // SQL cannot do.
            crate::profiles::write_all_name_keys(&mut tx).await?;
        }
        sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
