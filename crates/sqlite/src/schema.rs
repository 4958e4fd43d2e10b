//! Embedded migrations, applied in order at start inside one transaction each.

use sqlx::{Connection, Row, SqliteConnection};

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
];

/// Applies the migrations the database has not seen yet.
pub async fn migrate(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        .execute(&mut *conn)
        .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.get::<i64, _>(0))
        .collect();
    for (version, sql) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        let mut tx = conn.begin().await?;
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, datetime('now'))",
        )
        .bind(version)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}
