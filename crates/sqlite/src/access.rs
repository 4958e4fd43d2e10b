//! API key and audit log rows. Audit entries are appended by the writer, which reads
//! the last entry in the same transaction, so the chain has one order.

use crate::sql::{all, exec, one, RowExt};
use crate::time::{parse_ts, ts};
use chrono::{DateTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, Row};
use tessera_core::access::{ApiKey, Scope};
use tessera_core::audit::{ActorKind, AuditContent, AuditEntry};
use tessera_store::audit::{stored_json, ChainCheck, CHECK_PAGE};
use tessera_store::{AuditFilter, CheckItem, StoreError, StoreResult};

const KEY_COLUMNS: &str =
    "key_id, name, scopes, store_id, secret_hash, created_at, expires_at, revoked_at";

fn key_row(row: &Row) -> StoreResult<ApiKey> {
    let scopes = row.at::<String>(2)?;
    let scopes = scopes
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| Scope::parse(s).ok_or_else(|| StoreError::backend(format!("unknown scope {s:?}"))))
        .collect::<StoreResult<Vec<Scope>>>()?;
    let instant = |idx| -> StoreResult<Option<DateTime<Utc>>> {
        row.at::<Option<String>>(idx)?
            .map(|t| parse_ts(&t))
            .transpose()
    };
    Ok(ApiKey {
        key_id: row.at(0)?,
        name: row.at(1)?,
        scopes,
        store_id: row.at(3)?,
        secret_hash: row.at(4)?,
        created_at: parse_ts(&row.at::<String>(5)?)?,
        expires_at: instant(6)?,
        revoked_at: instant(7)?,
    })
}

/// Every key, by id.
pub fn api_keys(conn: &Connection) -> StoreResult<Vec<ApiKey>> {
    all(
        conn,
        &format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY key_id"),
        [],
        key_row,
    )
}

pub fn insert_key(conn: &Connection, key: &ApiKey) -> StoreResult<()> {
    let scopes: Vec<&str> = key.scopes.iter().map(|s| s.as_str()).collect();
    exec(
        conn,
        &format!("INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
        params![
            key.key_id,
            key.name,
            scopes.join(","),
            key.store_id,
            key.secret_hash,
            ts(key.created_at),
            key.expires_at.map(ts),
            key.revoked_at.map(ts),
        ],
    )
    .map(drop)
}

/// Revokes a key (keeping an earlier revocation) and answers it as stored.
pub fn revoke_key(
    conn: &Connection,
    key_id: &str,
    at: DateTime<Utc>,
) -> StoreResult<Option<ApiKey>> {
    exec(
        conn,
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
        params![ts(at), key_id],
    )?;
    one(
        conn,
        &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_id = ?"),
        [key_id],
        key_row,
    )
}

const AUDIT_COLUMNS: &str =
    "seq, at, actor, actor_kind, action, target, origin, before, after, prev_hash, hash";

fn audit_row(row: &Row) -> StoreResult<AuditEntry> {
    let json = |idx| -> StoreResult<Option<serde_json::Value>> {
        row.at::<Option<String>>(idx)?
            .map(|t| serde_json::from_str(&t).map_err(StoreError::backend))
            .transpose()
    };
    let kind = row.at::<String>(3)?;
    Ok(AuditEntry {
        seq: row.at(0)?,
        content: AuditContent {
            at: parse_ts(&row.at::<String>(1)?)?,
            actor: row.at(2)?,
            actor_kind: ActorKind::parse(&kind)
                .ok_or_else(|| StoreError::backend(format!("unknown actor kind {kind:?}")))?,
            action: row.at(4)?,
            target: row.at(5)?,
            origin: row.at(6)?,
            before: json(7)?,
            after: json(8)?,
        },
        prev_hash: row.at(9)?,
        hash: row.at(10)?,
    })
}

/// Seals `content` after the last entry and stores it.
pub fn append_audit(conn: &Connection, content: AuditContent) -> StoreResult<AuditEntry> {
    let last = one(
        conn,
        &format!("SELECT {AUDIT_COLUMNS} FROM audit_log ORDER BY seq DESC LIMIT 1"),
        [],
        audit_row,
    )?;
    let entry = AuditEntry::seal(content, last.as_ref());
    let c = &entry.content;
    exec(
        conn,
        &format!(
            "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        params![
            entry.seq,
            ts(c.at),
            c.actor,
            c.actor_kind.as_str(),
            c.action,
            c.target,
            c.origin,
            stored_json(&c.before)?,
            stored_json(&c.after)?,
            entry.prev_hash,
            entry.hash,
        ],
    )?;
    Ok(entry)
}

/// The entries a filter selects, by seq.
pub fn audit_entries(
    conn: &Connection,
    filter: &AuditFilter,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ?");
    let mut values: Vec<SqlValue> = vec![SqlValue::Integer(filter.after_seq)];
    if let Some(actor) = &filter.actor {
        sql.push_str(" AND actor = ?");
        values.push(SqlValue::Text(actor.clone()));
    }
    if let Some(action) = &filter.action {
        // `substr` rather than LIKE: an action may hold `_` or `%`.
        sql.push_str(" AND (action = ? OR substr(action, 1, ?) = ?)");
        let family = format!("{action}.");
        values.push(SqlValue::Text(action.clone()));
        values.push(SqlValue::Integer(family.chars().count() as i64));
        values.push(SqlValue::Text(family));
    }
    if let Some(target) = &filter.target {
        sql.push_str(" AND target = ?");
        values.push(SqlValue::Text(target.clone()));
    }
    if let Some(from) = filter.from {
        sql.push_str(" AND at >= ?");
        values.push(SqlValue::Text(ts(from)));
    }
    if let Some(to) = filter.to {
        sql.push_str(" AND at < ?");
        values.push(SqlValue::Text(ts(to)));
    }
    sql.push_str(" ORDER BY seq LIMIT ?");
    values.push(SqlValue::Integer(i64::from(limit)));
    all(conn, &sql, rusqlite::params_from_iter(values), audit_row)
}

/// `tessera check` over the whole chain.
pub fn check(conn: &Connection) -> StoreResult<CheckItem> {
    let mut check = ChainCheck::new();
    while let Some(after) = check.next_after() {
        let page = all(
            conn,
            &format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"),
            params![after, CHECK_PAGE],
            audit_row,
        )?;
        check.take(&page);
    }
    Ok(check.finish())
}
