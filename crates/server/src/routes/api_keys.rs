//! `/v1/api-keys`: keys with scopes, a store for till keys, an expiry; revocation.

use super::path_id;
use crate::access::annotate;
use crate::clock::new_id;
use crate::error::ApiError;
use crate::json::Body;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rand::Rng;
use std::sync::Arc;
use tessera_api::{
    api_key_from, api_key_out, ApiKeyBody, ApiKeyCreated, ApiKeyList, ApiKeyOut, ErrorBody,
};
use tessera_core::ErrorCode;

/// Creates a key; its text is in this answer only (the store keeps a hash).
#[utoipa::path(post, path = "/v1/api-keys", tag = "access", request_body = ApiKeyBody,
    responses((status = 201, body = ApiKeyCreated), (status = 422, body = ErrorBody)))]
pub async fn create_key(
    State(state): State<Arc<AppState>>,
    body: Body<ApiKeyBody>,
) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiError> {
    let now = state.clock.now();
    let request = api_key_from(body.value, now)?;
    if let Some(store_id) = &request.store_id {
        if !state.config().stores.contains_key(store_id) {
            return Err(ApiError::field(
                ErrorCode::UnknownStore,
                "store_id",
                format!("no store {store_id:?} is configured"),
            ));
        }
    }
    let secret: [u8; 20] = rand::rng().random();
    let (key, text) = request.issue(new_id("key", now), secret, now);
    let details = api_key_out(&key, now);
    annotate(None::<&ApiKeyOut>, Some(&details));
    state.store.put_api_key(key.clone()).await?;
    state.reload_keys().await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            id: key.key_id,
            key: text,
            details,
        }),
    ))
}

/// Every key, revoked and expired ones included; never their secrets.
#[utoipa::path(get, path = "/v1/api-keys", tag = "access", responses((status = 200, body = ApiKeyList)))]
pub async fn list_keys(State(state): State<Arc<AppState>>) -> Result<Json<ApiKeyList>, ApiError> {
    let now = state.clock.now();
    let keys = state.store.api_keys().await?;
    Ok(Json(ApiKeyList {
        keys: keys.iter().map(|k| api_key_out(k, now)).collect(),
    }))
}

/// Revokes a key at once (in other server processes within half a second); revoking
/// it again changes nothing.
#[utoipa::path(delete, path = "/v1/api-keys/{key_id}", tag = "access", params(("key_id" = String, Path)),
    responses((status = 200, body = ApiKeyOut), (status = 404, body = ErrorBody)))]
pub async fn revoke_key(
    State(state): State<Arc<AppState>>,
    Path(key_id): Path<String>,
) -> Result<Json<ApiKeyOut>, ApiError> {
    path_id("key_id", &key_id)?;
    let now = state.clock.now();
    // Read fresh (another process may have made it), and refused before any write, so
    // that revoking no key leaves no audit entry.
    let current = state
        .store
        .api_keys()
        .await?
        .into_iter()
        .find(|k| k.key_id == key_id)
        .ok_or_else(|| {
            ApiError::new(ErrorCode::ApiKeyNotFound, format!("no API key {key_id:?}"))
        })?;
    let mut revoked = current.clone();
    revoked.revoked_at = revoked.revoked_at.or(Some(now));
    annotate(
        Some(&api_key_out(&current, now)),
        Some(&api_key_out(&revoked, now)),
    );
    let key = state
        .store
        .revoke_api_key(&key_id, now)
        .await?
        .ok_or_else(|| {
            ApiError::new(ErrorCode::ApiKeyNotFound, format!("no API key {key_id:?}"))
        })?;
    state.reload_keys().await?;
    Ok(Json(api_key_out(&key, now)))
}
