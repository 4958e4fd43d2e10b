//! Merging customers, undoing a merge, and the review queue of suggested merges.

use super::path_id;
use super::profiles::unexpected;
use crate::clock::new_id;
use crate::error::ApiError;
use crate::json::Unhashed;
use crate::query::Params;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use std::sync::Arc;
use tessera_api::{
    candidate_filter, candidate_out, candidates_out, merge_out, ActorBody, CandidateOut,
    CandidatesOut, CandidatesQuery, ErrorBody, MergeBody, MergeOut,
};
use tessera_core::consent::SourceTrust;
use tessera_store::crm_command::{CrmCommand, CrmOutcome};

fn merged(outcome: CrmOutcome) -> Result<Json<MergeOut>, ApiError> {
    match outcome {
        CrmOutcome::Merge(record) => Ok(Json(merge_out(&record))),
        other => Err(unexpected(&other)),
    }
}

fn decided(outcome: CrmOutcome) -> Result<Json<CandidateOut>, ApiError> {
    match outcome {
        CrmOutcome::Candidate(candidate) => Ok(Json(candidate_out(&candidate))),
        other => Err(unexpected(&other)),
    }
}

/// Merges another customer into this one: its phones, emails, cards and points move
/// here, its field values join by survivorship, its receipts are listed here; it
/// stays as `merged`, and a till presenting its card reaches this customer.
#[utoipa::path(post, path = "/v1/customers/{customer_id}/merge", tag = "customers", request_body = MergeBody,
    params(("customer_id" = String, Path, description = "the survivor")),
    responses((status = 200, body = MergeOut), (status = 404, body = ErrorBody),
        (status = 409, description = "merge_conflict, customer_merged", body = ErrorBody),
        (status = 410, description = "customer_erased", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn merge_customers(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    Unhashed(body): Unhashed<MergeBody>,
) -> Result<Json<MergeOut>, ApiError> {
    path_id("customer_id", &body.customer_id)?;
    let now = state.clock.now();
    let by = tessera_api::actor_from(body.actor, body.source, "api")?;
    let command = CrmCommand::Merge {
        merge_id: new_id("mrg", now),
        survivor_id: customer_id,
        absorbed_id: body.customer_id,
        reason: "manual".into(),
        trust: SourceTrust::default(),
        by,
        at: now,
    };
    merged(state.store.crm(command).await?)
}

/// Undoes the merge that absorbed this customer: its profile, identifiers and cards
/// come back, and the points that moved, as far as they were not spent since.
#[utoipa::path(post, path = "/v1/customers/{customer_id}/unmerge", tag = "customers",
    request_body(content = ActorBody, description = "optional"),
    params(("customer_id" = String, Path, description = "the absorbed customer")),
    responses((status = 200, body = MergeOut), (status = 404, description = "customer_not_found, merge_not_found", body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn unmerge_customer(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    Unhashed(body): Unhashed<ActorBody>,
) -> Result<Json<MergeOut>, ApiError> {
    let command = CrmCommand::Unmerge {
        customer_id,
        by: body.into_actor("api")?,
        at: state.clock.now(),
    };
    merged(state.store.crm(command).await?)
}

/// The review queue: pairs of customers that may be one person, by candidate id.
#[utoipa::path(get, path = "/v1/merge-candidates", tag = "customers", params(CandidatesQuery),
    responses((status = 200, body = CandidatesOut), (status = 422, body = ErrorBody)))]
pub async fn list_candidates(
    State(state): State<Arc<AppState>>,
    Params(query): Params<CandidatesQuery>,
) -> Result<Json<CandidatesOut>, ApiError> {
    let filter = candidate_filter(query)?;
    let candidates = state.store.merge_candidates(&filter).await?;
    Ok(Json(candidates_out(&candidates, filter.limit)))
}

async fn decide(
    state: &AppState,
    candidate_id: String,
    accept: bool,
    body: ActorBody,
) -> Result<Json<CandidateOut>, ApiError> {
    path_id("candidate_id", &candidate_id)?;
    let now = state.clock.now();
    let command = CrmCommand::Decide {
        candidate_id,
        accept,
        merge_id: new_id("mrg", now),
        trust: SourceTrust::default(),
        by: body.into_actor("api")?,
        at: now,
    };
    decided(state.store.crm(command).await?)
}

/// Accepts a suggested merge: the customer registered first survives.
#[utoipa::path(post, path = "/v1/merge-candidates/{candidate_id}/accept", tag = "customers",
    request_body(content = ActorBody, description = "optional"), params(("candidate_id" = String, Path)),
    responses((status = 200, body = CandidateOut), (status = 404, body = ErrorBody),
        (status = 409, description = "merge_conflict: decided already", body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn accept_candidate(
    State(state): State<Arc<AppState>>,
    Path(candidate_id): Path<String>,
    Unhashed(body): Unhashed<ActorBody>,
) -> Result<Json<CandidateOut>, ApiError> {
    decide(&state, candidate_id, true, body).await
}

/// Rejects a suggested merge: the two customers stay apart.
#[utoipa::path(post, path = "/v1/merge-candidates/{candidate_id}/reject", tag = "customers",
    request_body(content = ActorBody, description = "optional"), params(("candidate_id" = String, Path)),
    responses((status = 200, body = CandidateOut), (status = 404, body = ErrorBody),
        (status = 409, description = "merge_conflict: decided already", body = ErrorBody)))]
pub async fn reject_candidate(
    State(state): State<Arc<AppState>>,
    Path(candidate_id): Path<String>,
    Unhashed(body): Unhashed<ActorBody>,
) -> Result<Json<CandidateOut>, ApiError> {
    decide(&state, candidate_id, false, body).await
}
