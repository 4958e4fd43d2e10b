//! What happened to a customer: `/receipts` (with those of customers merged into
//! them) and `/timeline` (receipts, ledger entries and history in one feed).

use super::profiles::{all_events, existing};
use crate::error::ApiError;
use crate::query::Params;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use tessera_api::{stored_receipt_out, timeline_out, CustomerReceiptsOut, ErrorBody, TimelineOut};
use tessera_store::{StoredEntry, StoredReceipt};
use utoipa::IntoParams;

/// How many ledger entries one store read pages through.
const ENTRIES_PAGE: u32 = 1000;
/// How many receipts one store read pages through.
const RECEIPTS_PAGE: u32 = 100;
/// A bound on how many merged customers are followed.
const MERGED_MAX: usize = 1000;

/// The customer and every customer merged into them, directly or through another
/// merged one (a merge repoints those merged into the absorbed customer).
pub async fn merged_ids(state: &AppState, customer_id: &str) -> Result<Vec<String>, ApiError> {
    let mut ids = vec![customer_id.to_string()];
    let mut seen: BTreeSet<String> = ids.iter().cloned().collect();
    let mut next = 0;
    while let Some(survivor) = ids.get(next).cloned() {
        next += 1;
        if ids.len() >= MERGED_MAX {
            break;
        }
        for merge in state.store.merges_into(&survivor).await? {
            for id in std::iter::once(&merge.absorbed_id).chain(&merge.repointed) {
                if seen.insert(id.clone()) {
                    ids.push(id.clone());
                }
            }
        }
    }
    Ok(ids)
}

/// Every ledger entry of a customer, oldest first.
pub async fn all_entries(
    state: &AppState,
    customer_id: &str,
) -> Result<Vec<StoredEntry>, ApiError> {
    let mut entries: Vec<StoredEntry> = Vec::new();
    loop {
        let after = entries.last().map_or(0, |e| e.entry_id);
        let page = state
            .store
            .ledger_entries(customer_id, after, ENTRIES_PAGE)
            .await?;
        let full = page.len() == ENTRIES_PAGE as usize;
        entries.extend(page);
        if !full {
            return Ok(entries);
        }
    }
}

/// Every receipt of these customers, newest first.
pub async fn all_receipts(
    state: &AppState,
    ids: &[String],
) -> Result<Vec<StoredReceipt>, ApiError> {
    let mut receipts = Vec::new();
    loop {
        let offset = u32::try_from(receipts.len()).unwrap_or(u32::MAX);
        let page = state
            .store
            .customer_receipts(ids, offset, RECEIPTS_PAGE)
            .await?;
        let full = page.len() == RECEIPTS_PAGE as usize;
        receipts.extend(page);
        if !full {
            return Ok(receipts);
        }
    }
}

/// Paging of a customer's receipts.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReceiptsQuery {
    /// Skip this many (default 0).
    pub offset: Option<u32>,
    /// At most this many (default 20, at most 100).
    pub limit: Option<u32>,
}

/// The customer's receipts and those of customers merged into them, newest first,
/// each with its versions.
#[utoipa::path(get, path = "/v1/customers/{customer_id}/receipts", tag = "customers",
    params(("customer_id" = String, Path), ReceiptsQuery),
    responses((status = 200, body = CustomerReceiptsOut), (status = 404, body = ErrorBody)))]
pub async fn customer_receipts(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    Params(query): Params<ReceiptsQuery>,
) -> Result<Json<CustomerReceiptsOut>, ApiError> {
    existing(&state, &customer_id).await?;
    let offset = query.offset.unwrap_or(0);
    let limit = query.limit.unwrap_or(20).clamp(1, 100);
    let ids = merged_ids(&state, &customer_id).await?;
    let receipts = state.store.customer_receipts(&ids, offset, limit).await?;
    let next_offset = (receipts.len() == limit as usize).then(|| offset.saturating_add(limit));
    Ok(Json(CustomerReceiptsOut {
        customer_id,
        customer_ids: ids,
        receipts: receipts.iter().map(stored_receipt_out).collect(),
        next_offset,
    }))
}

/// The length of a timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// At most this many items (default 100, at most 500).
    pub limit: Option<u32>,
}

/// One feed, newest first, of the customer's receipt versions (commits, returns,
/// cancels, with those of customers merged into them), ledger entries and history
/// (field changes, consents, identifiers, cards, merges, adjustments, erasure).
#[utoipa::path(get, path = "/v1/customers/{customer_id}/timeline", tag = "customers",
    params(("customer_id" = String, Path), TimelineQuery),
    responses((status = 200, body = TimelineOut), (status = 404, body = ErrorBody)))]
pub async fn timeline(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    Params(query): Params<TimelineQuery>,
) -> Result<Json<TimelineOut>, ApiError> {
    existing(&state, &customer_id).await?;
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let ids = merged_ids(&state, &customer_id).await?;
    // The newest `limit` receipts hold every receipt version among the newest
    // `limit` items, unless a return came long after its commit.
    let receipts = state.store.customer_receipts(&ids, 0, limit).await?;
    let entries = all_entries(&state, &customer_id).await?;
    let events = all_events(&state, &customer_id).await?;
    Ok(Json(timeline_out(
        &customer_id,
        &receipts,
        &entries,
        &events,
        limit as usize,
    )))
}
