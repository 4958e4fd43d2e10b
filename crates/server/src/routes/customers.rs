//! `/v1/customers`.

use super::profiles::not_found;
use crate::clock::new_customer_id;
use crate::error::ApiError;
use crate::json::Body;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use std::sync::Arc;
use tessera_api::convert::{balance_out, customer_from, entry_out, parse_at};
use tessera_api::{BalanceOut, CustomerBody, CustomerCreated, ErrorBody, LedgerOut};
use tessera_core::ledger::CustomerLedger;
use utoipa::IntoParams;

/// Registers a customer.
#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = CustomerBody,
    responses((status = 201, body = CustomerCreated), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_customer(
    State(state): State<Arc<AppState>>,
    body: Body<CustomerBody>,
) -> Result<(StatusCode, Json<CustomerCreated>), ApiError> {
    let now = state.clock.now();
    let customer = customer_from(body.value, new_customer_id(now), now)?;
    let customer_id = customer.customer_id.clone();
    state.store.create_customers(vec![customer]).await?;
    Ok((StatusCode::CREATED, Json(CustomerCreated { customer_id })))
}

/// `?at=` projects the balance to an instant.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BalanceQuery {
    /// RFC 3339; default now. An instant in the past reads as now.
    pub at: Option<String>,
}

/// Available and pending points, and what expires when; `?at=` projects it.
#[utoipa::path(get, path = "/v1/customers/{customer_id}/balance", tag = "customers",
    params(("customer_id" = String, Path), BalanceQuery), responses((status = 200, body = BalanceOut), (status = 404, body = ErrorBody)))]
pub async fn get_balance(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    Query(query): Query<BalanceQuery>,
) -> Result<Json<BalanceOut>, ApiError> {
    if state.store.customer(&customer_id).await?.is_none() {
        return Err(not_found(&customer_id));
    }
    let now = state.clock.now();
    let at = match &query.at {
        Some(text) => parse_at(text, "at")?.with_timezone(&chrono::Utc).max(now),
        None => now,
    };
    let ledger = state.store.customer_ledger(&customer_id).await?;
    let (ledger, _) = as_of(ledger, now);
    Ok(Json(balance_out(&customer_id, at, &ledger.balance_at(at))))
}

/// Paging of the ledger.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Entries after this entry id.
    pub after: Option<i64>,
    /// At most this many entries (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// The customer's ledger entries, oldest first.
#[utoipa::path(get, path = "/v1/customers/{customer_id}/ledger", tag = "customers",
    params(("customer_id" = String, Path), LedgerQuery), responses((status = 200, body = LedgerOut), (status = 404, body = ErrorBody)))]
pub async fn get_ledger(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    Query(query): Query<LedgerQuery>,
) -> Result<Json<LedgerOut>, ApiError> {
    if state.store.customer(&customer_id).await?.is_none() {
        return Err(not_found(&customer_id));
    }
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let entries = state
        .store
        .ledger_entries(&customer_id, query.after.unwrap_or(0), limit)
        .await?;
    let next_after = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.entry_id))
        .flatten();
    Ok(Json(LedgerOut {
        customer_id,
        entries: entries
            .iter()
            .map(|e| entry_out(e.entry_id, &e.entry))
            .collect(),
        next_after,
    }))
}

/// The ledger with due lots matured and expired as of `now` (in memory only).
pub fn as_of(
    mut ledger: CustomerLedger,
    now: chrono::DateTime<chrono::Utc>,
) -> (CustomerLedger, tessera_core::ledger::Balance) {
    ledger.catch_up(now);
    let balance = ledger.balance_at(now);
    (ledger, balance)
}
