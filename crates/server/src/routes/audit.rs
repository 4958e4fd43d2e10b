//! `/v1/audit`: the hash-chained record of every change a key or a person made.

use crate::error::ApiError;
use crate::query::Params;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;
use tessera_api::{audit_entry_out, AuditPage, ErrorBody};
use tessera_store::AuditFilter;
use utoipa::IntoParams;

/// The most entries a page holds.
const MAX_LIMIT: u32 = 1000;

/// Filters of the audit log; all optional.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Entries after this seq (the `next_after` of the previous page).
    pub after: Option<i64>,
    /// A key id or user name.
    pub actor: Option<String>,
    /// An action (`promotion.update`) or a family of them (`promotion`).
    pub action: Option<String>,
    /// The path changed, exactly (`/v1/promotions/spring-10`).
    pub target: Option<String>,
    /// RFC 3339: entries at or after.
    pub from: Option<String>,
    /// RFC 3339: entries before.
    pub to: Option<String>,
    /// 1 to 1000, default 100.
    pub limit: Option<u32>,
}

/// Audit entries, oldest first, with filters.
#[utoipa::path(get, path = "/v1/audit", tag = "access", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 422, body = ErrorBody)))]
pub async fn list_audit(
    State(state): State<Arc<AppState>>,
    Params(query): Params<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(tessera_core::CoreError::invalid("limit", "must be 1 to 1000").into());
    }
    let instant = |text: &Option<String>, field: &str| {
        text.as_deref()
            .map(|t| tessera_api::convert::parse_at(t, field).map(|at| at.to_utc()))
            .transpose()
    };
    let filter = AuditFilter {
        after_seq: query.after.unwrap_or(0).max(0),
        actor: query.actor,
        action: query.action,
        target: query.target,
        from: instant(&query.from, "from")?,
        to: instant(&query.to, "to")?,
    };
    let entries = state.store.audit_entries(&filter, limit).await?;
    let next_after = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(Json(AuditPage {
        entries: entries.iter().map(audit_entry_out).collect(),
        next_after,
    }))
}
