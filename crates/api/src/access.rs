//! API keys and the audit log on the wire.

use crate::convert::{parse_at, time_out};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::access::{ApiKey, NewApiKey, Scope};
use tessera_core::audit::AuditEntry;
use tessera_core::CoreError;
use utoipa::ToSchema;

/// A key to create.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyBody {
    /// What the key is for, e.g. `Till 4, store msk-1`.
    pub name: String,
    /// Any of `pos`, `admin`, `marketing`, `service`, `analytics`, `audit`.
    pub scopes: Vec<String>,
    /// The store of a `pos` key (required for one, refused for others).
    #[serde(default)]
    pub store_id: Option<String>,
    /// RFC 3339; the key stops working at this instant. Default: never.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyOut {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub store_id: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
}

/// A new key: `key` is shown this once and cannot be read again.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyCreated {
    pub id: String,
    /// `Authorization: Bearer <key>`.
    pub key: String,
    #[serde(flatten)]
    pub details: ApiKeyOut,
}

/// Every key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyList {
    pub keys: Vec<ApiKeyOut>,
}

/// Validates a key request at `now`.
pub fn api_key_from(body: ApiKeyBody, now: DateTime<Utc>) -> Result<NewApiKey, CoreError> {
    let scopes = body
        .scopes
        .iter()
        .enumerate()
        .map(|(idx, name)| {
            Scope::parse(name).ok_or_else(|| {
                CoreError::invalid(
                    format!("scopes[{idx}]"),
                    "must be one of pos, admin, marketing, service, analytics, audit",
                )
            })
        })
        .collect::<Result<Vec<Scope>, CoreError>>()?;
    let expires_at = body
        .expires_at
        .as_deref()
        .map(|text| parse_at(text, "expires_at").map(|at| at.with_timezone(&Utc)))
        .transpose()?;
    let request = NewApiKey {
        name: body.name,
        scopes,
        store_id: body.store_id,
        expires_at,
    };
    request.validate(now)?;
    Ok(request)
}

pub fn api_key_out(key: &ApiKey, now: DateTime<Utc>) -> ApiKeyOut {
    ApiKeyOut {
        id: key.key_id.clone(),
        name: key.name.clone(),
        scopes: key.scopes.iter().map(|s| s.as_str().to_string()).collect(),
        store_id: key.store_id.clone(),
        created_at: time_out(key.created_at),
        expires_at: key.expires_at.map(time_out),
        revoked_at: key.revoked_at.map(time_out),
        status: key.status_at(now).as_str().to_string(),
    }
}

/// One audit entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditEntryOut {
    pub seq: i64,
    /// RFC 3339 UTC with microseconds (the hashed instant).
    pub at: String,
    /// The key id (`bootstrap` for the operator's token), user name or component.
    pub actor: String,
    /// `key`, `user` or `system`.
    pub actor_kind: String,
    /// e.g. `promotion.update`.
    pub action: String,
    /// The path changed, e.g. `/v1/promotions/spring-10`.
    pub target: String,
    /// The caller's IP address, when known.
    pub origin: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub prev_hash: String,
    pub hash: String,
}

/// A page of the audit log, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryOut>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

pub fn audit_entry_out(entry: &AuditEntry) -> AuditEntryOut {
    let c = &entry.content;
    AuditEntryOut {
        seq: entry.seq,
        at: c.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        actor: c.actor.clone(),
        actor_kind: c.actor_kind.as_str().to_string(),
        action: c.action.clone(),
        target: c.target.clone(),
        origin: c.origin.clone(),
        before: c.before.clone(),
        after: c.after.clone(),
        prev_hash: entry.prev_hash.clone(),
        hash: entry.hash.clone(),
    }
}
