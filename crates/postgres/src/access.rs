//! API key and audit log rows. An audit entry is appended under a transaction-level
//! advisory lock, so entries from every server process form one chain.

use crate::rows::db;
use crate::time::{parse_ts, ts};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use tessera_core::access::{ApiKey, Scope};
use tessera_core::audit::{ActorKind, AuditContent, AuditEntry};
use tessera_store::audit::{stored_json, ChainCheck, CHECK_PAGE};
use tessera_store::{AuditFilter, CheckItem, StoreError, StoreResult};

/// The advisory lock key of audit appends ("audit" in ASCII, as a number).
const AUDIT_LOCK: i64 = 0x0061_7564_6974;

const KEY_COLUMNS: &str =
    "key_id, name, scopes, store_id, secret_hash, created_at, expires_at, revoked_at";

fn key_row(row: &PgRow) -> StoreResult<ApiKey> {
    let scopes = row
        .get::<String, _>(2)
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Scope::parse(s).ok_or_else(|| StoreError::backend(format!("unknown scope {s:?}"))))
        .collect::<StoreResult<Vec<Scope>>>()?;
    let instant = |idx: usize| -> StoreResult<Option<DateTime<Utc>>> {
        row.get::<Option<String>, _>(idx)
            .map(|t| parse_ts(&t))
            .transpose()
    };
    Ok(ApiKey {
        key_id: row.get(0),
        name: row.get(1),
        scopes,
        store_id: row.get(3),
        secret_hash: row.get(4),
        created_at: parse_ts(&row.get::<String, _>(5))?,
        expires_at: instant(6)?,
        revoked_at: instant(7)?,
    })
}

/// Every key, by id.
pub async fn api_keys(conn: &mut PgConnection) -> StoreResult<Vec<ApiKey>> {
    sqlx::query(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY key_id"
    ))
    .fetch_all(conn)
    .await
    .map_err(db)?
    .iter()
    .map(key_row)
    .collect()
}

pub async fn insert_key(conn: &mut PgConnection, key: &ApiKey) -> StoreResult<()> {
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
    sqlx::query(&format!(
        "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&key.key_id)
    .bind(&key.name)
    .bind(scopes.join(","))
    .bind(&key.store_id)
    .bind(&key.secret_hash)
    .bind(ts(key.created_at))
    .bind(key.expires_at.map(ts))
    .bind(key.revoked_at.map(ts))
    .execute(conn)
    .await
    .map_err(db)
    .map(drop)
}

/// Revokes a key (keeping an earlier revocation) and answers it as stored.
pub async fn revoke_key(
    conn: &mut PgConnection,
    key_id: &str,
    at: DateTime<Utc>,
) -> StoreResult<Option<ApiKey>> {
    sqlx::query(&format!(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE key_id = $2 RETURNING {KEY_COLUMNS}"
    ))
    .bind(ts(at))
    .bind(key_id)
    .fetch_optional(conn)
    .await
    .map_err(db)?
    .as_ref()
    .map(key_row)
    .transpose()
}

const AUDIT_COLUMNS: &str =
    "seq, at, actor, actor_kind, action, target, origin, before, after, prev_hash, hash";

fn audit_row(row: &PgRow) -> StoreResult<AuditEntry> {
    let json = |idx: usize| -> StoreResult<Option<serde_json::Value>> {
        row.get::<Option<String>, _>(idx)
            .map(|t| serde_json::from_str(&t).map_err(StoreError::backend))
            .transpose()
    };
    let kind: String = row.get(3);
    Ok(AuditEntry {
        seq: row.get(0),
        content: AuditContent {
            at: parse_ts(&row.get::<String, _>(1))?,
            actor: row.get(2),
            actor_kind: ActorKind::parse(&kind)
                .ok_or_else(|| StoreError::backend(format!("unknown actor kind {kind:?}")))?,
            action: row.get(4),
            target: row.get(5),
            origin: row.get(6),
            before: json(7)?,
            after: json(8)?,
        },
        prev_hash: row.get(9),
        hash: row.get(10),
    })
}

/// Seals `content` after the last entry and stores it, inside the caller's
/// transaction, which holds the audit lock until it ends.
pub async fn append_audit(
    conn: &mut PgConnection,
    content: AuditContent,
) -> StoreResult<AuditEntry> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let last = sqlx::query(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"
    ))
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .as_ref()
    .map(audit_row)
    .transpose()?;
    let entry = AuditEntry::seal(content, last.as_ref());
    let c = &entry.content;
    sqlx::query(&format!(
        "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(entry.seq)
    .bind(ts(c.at))
    .bind(&c.actor)
    .bind(c.actor_kind.as_str())
    .bind(&c.action)
    .bind(&c.target)
    .bind(&c.origin)
    .bind(stored_json(&c.before)?)
    .bind(stored_json(&c.after)?)
    .bind(&entry.prev_hash)
    .bind(&entry.hash)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(entry)
}

/// The entries a filter selects, by seq.
pub async fn audit_entries(
    conn: &mut PgConnection,
    filter: &AuditFilter,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let family = filter.action.as_ref().map(|a| format!("{a}."));
    sqlx::query(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1
           AND ($2::text IS NULL OR actor = $2)
           AND ($3::text IS NULL OR action = $3 OR left(action, char_length($4)) = $4)
           AND ($5::text IS NULL OR target = $5)
           AND ($6::text IS NULL OR at >= $6)
           AND ($7::text IS NULL OR at < $7)
         ORDER BY seq LIMIT $8"
    ))
    .bind(filter.after_seq)
    .bind(&filter.actor)
    .bind(&filter.action)
    .bind(family)
    .bind(&filter.target)
    .bind(filter.from.map(ts))
    .bind(filter.to.map(ts))
    .bind(i64::from(limit))
    .fetch_all(conn)
    .await
    .map_err(db)?
    .iter()
    .map(audit_row)
    .collect()
}

/// `tessera check` over the whole chain.
pub async fn check(conn: &mut PgConnection) -> StoreResult<CheckItem> {
    let mut check = ChainCheck::new();
    while let Some(after) = check.next_after() {
        let page = sqlx::query(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(CHECK_PAGE))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
        .iter()
        .map(audit_row)
        .collect::<StoreResult<Vec<_>>>()?;
        check.take(&page);
    }
    Ok(check.finish())
}
