//! Privacy: erasing a person's data, and exporting everything held about them.

use super::profiles::{all_events, existing, view, written_profile};
use super::timeline::{all_entries, all_receipts, merged_ids};
use crate::error::ApiError;
use crate::json::Unhashed;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use std::sync::Arc;
use tessera_api::convert::{entry_out, time_out};
use tessera_api::{
    grant_out, merge_out, stored_receipt_out, ActorBody, CustomerOut, ErrorBody, ExportOut,
};
use tessera_store::crm_command::CrmCommand;

/// Erases the customer's personal data (and that of the customers merged into them):
/// names, birthday, attributes, consents, phones, emails and external ids go, cards
/// are freed for reuse, values are removed from the history. The id stays as a
/// pseudonym with the ledger and receipts, so every total stays correct. Answers what
/// is left.
#[utoipa::path(post, path = "/v1/customers/{customer_id}/erase", tag = "privacy",
    request_body(content = ActorBody, description = "optional"), params(("customer_id" = String, Path)),
    responses((status = 200, body = CustomerOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn erase_customer(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    Unhashed(body): Unhashed<ActorBody>,
) -> Result<Json<CustomerOut>, ApiError> {
    let now = state.clock.now();
    let command = CrmCommand::Erase {
        customer_id: customer_id.clone(),
        by: body.into_actor("service_desk")?,
        at: now,
    };
    let profile = written_profile(state.store.crm(command).await?)?;
    // Their codes and sign-in sessions go with the personal data. A crash between the
    // two is repaired by erasing again (erasure is idempotent).
    state
        .store
        .forget_customer_access(&customer_id, now)
        .await?;
    Ok(Json(view(&state, &profile, None).await?))
}

/// Everything held about the customer as one document: the profile with field
/// sources and the whole history, identifiers, cards, consents, balance, tier,
/// segments, every ledger entry and grant, every receipt with its versions (with
/// those of customers merged into them), and the merges. For an erased customer, what
/// is left under the pseudonymous id.
#[utoipa::path(get, path = "/v1/customers/{customer_id}/export", tag = "privacy",
    params(("customer_id" = String, Path)),
    responses((status = 200, body = ExportOut), (status = 404, body = ErrorBody)))]
pub async fn export_customer(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
) -> Result<Json<ExportOut>, ApiError> {
    let profile = existing(&state, &customer_id).await?;
    let events = all_events(&state, &customer_id).await?;
    let customer = view(&state, &profile, Some(&events)).await?;
    let entries = all_entries(&state, &customer_id).await?;
    let ids = merged_ids(&state, &customer_id).await?;
    let receipts = all_receipts(&state, &ids).await?;
    let merges = state.store.merges_into(&customer_id).await?;
    let grants = state.store.grants(&customer_id).await?;
    Ok(Json(ExportOut {
        exported_at: time_out(state.clock.now()),
        customer,
        ledger_entries: entries
            .iter()
            .map(|e| entry_out(e.entry_id, &e.entry))
            .collect(),
        receipts: receipts.iter().map(stored_receipt_out).collect(),
        merges: merges.iter().map(merge_out).collect(),
        grants: grants.iter().map(grant_out).collect(),
    }))
}
