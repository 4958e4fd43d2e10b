//! The service desk: staff adjustments of points, and cards (add, block, unblock,
//! replace).

use super::profiles::{unexpected, view, written_profile};
use super::stored_json;
use crate::access::annotate;
use crate::error::ApiError;
use crate::json::{Body, Unhashed};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;
use tessera_api::{
    adjust_command, card_add_from, card_number_in, card_replace_from, ActorBody, AdjustContext,
    AdjustmentBody, AdjustmentOut, CardAddBody, CardReplaceBody, CustomerOut, ErrorBody,
};
use tessera_store::crm_command::{Actor, CardOperation, CrmCommand, CrmOutcome};

/// Adds or takes points, exactly once per `idempotency_key`: a retry with the same
/// body answers the same bytes, another body under the key `adjustment_conflict`.
#[utoipa::path(post, path = "/v1/customers/{customer_id}/adjustments", tag = "service desk", request_body = AdjustmentBody,
    params(("customer_id" = String, Path)),
    responses((status = 201, body = AdjustmentOut), (status = 404, body = ErrorBody),
        (status = 409, description = "adjustment_conflict, insufficient_points, customer_merged", body = ErrorBody),
        (status = 410, description = "customer_erased", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn adjust(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    body: Body<AdjustmentBody>,
) -> Result<Response, ApiError> {
    let context = AdjustContext {
        customer_id,
        request_hash: body.hash,
        program: state.config().program.clone(),
        now: state.clock.now(),
    };
    let value = &body.value;
    let asked = serde_json::json!({"points": value.points, "reason": value.reason,
        "idempotency_key": value.idempotency_key, "actor": value.actor});
    let command = adjust_command(body.value, context)?;
    annotate(None::<&serde_json::Value>, Some(&asked));
    match state
        .store
        .crm(CrmCommand::Adjust(Box::new(command)))
        .await?
    {
        CrmOutcome::Adjusted(bytes) => {
            Ok((StatusCode::CREATED, stored_json(bytes)).into_response())
        }
        other => Err(unexpected(&other)),
    }
}

async fn card_operation(
    state: &AppState,
    customer_id: String,
    operation: CardOperation,
    by: Actor,
) -> Result<Json<CustomerOut>, ApiError> {
    let command = CrmCommand::Card {
        customer_id,
        operation,
        by,
        at: state.clock.now(),
    };
    let profile = written_profile(state.store.crm(command).await?)?;
    Ok(Json(view(state, &profile, None).await?))
}

/// Gives the customer another card (a family card, a virtual card); answers the
/// customer.
#[utoipa::path(post, path = "/v1/customers/{customer_id}/cards", tag = "service desk", request_body = CardAddBody,
    params(("customer_id" = String, Path)),
    responses((status = 200, body = CustomerOut), (status = 404, body = ErrorBody),
        (status = 409, description = "card_taken", body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_card(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    Unhashed(body): Unhashed<CardAddBody>,
) -> Result<Json<CustomerOut>, ApiError> {
    let (operation, by) = card_add_from(body)?;
    card_operation(&state, customer_id, operation, by).await
}

/// Blocks a lost or stolen card: a till presenting it is refused with `card_blocked`.
#[utoipa::path(post, path = "/v1/customers/{customer_id}/cards/{number}/block", tag = "service desk",
    request_body(content = ActorBody, description = "optional"),
    params(("customer_id" = String, Path), ("number" = String, Path)),
    responses((status = 200, body = CustomerOut), (status = 404, description = "customer_not_found, card_not_found", body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn block_card(
    State(state): State<Arc<AppState>>,
    Path((customer_id, number)): Path<(String, String)>,
    Unhashed(body): Unhashed<ActorBody>,
) -> Result<Json<CustomerOut>, ApiError> {
    let number = card_number_in("number", &number)?;
    let by = body.into_actor("service_desk")?;
    card_operation(&state, customer_id, CardOperation::Block { number }, by).await
}

/// Makes a blocked card usable again.
#[utoipa::path(post, path = "/v1/customers/{customer_id}/cards/{number}/unblock", tag = "service desk",
    request_body(content = ActorBody, description = "optional"),
    params(("customer_id" = String, Path), ("number" = String, Path)),
    responses((status = 200, body = CustomerOut), (status = 404, body = ErrorBody),
        (status = 409, description = "card_blocked: the card was replaced", body = ErrorBody), (status = 410, body = ErrorBody)))]
pub async fn unblock_card(
    State(state): State<Arc<AppState>>,
    Path((customer_id, number)): Path<(String, String)>,
    Unhashed(body): Unhashed<ActorBody>,
) -> Result<Json<CustomerOut>, ApiError> {
    let number = card_number_in("number", &number)?;
    let by = body.into_actor("service_desk")?;
    card_operation(&state, customer_id, CardOperation::Unblock { number }, by).await
}

/// Replaces a card with a new one; the balance and history stay with the customer.
#[utoipa::path(post, path = "/v1/customers/{customer_id}/cards/{number}/replace", tag = "service desk",
    request_body = CardReplaceBody, params(("customer_id" = String, Path), ("number" = String, Path)),
    responses((status = 200, body = CustomerOut), (status = 404, body = ErrorBody),
        (status = 409, description = "card_taken, card_blocked", body = ErrorBody), (status = 410, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_card(
    State(state): State<Arc<AppState>>,
    Path((customer_id, number)): Path<(String, String)>,
    Unhashed(body): Unhashed<CardReplaceBody>,
) -> Result<Json<CustomerOut>, ApiError> {
    let number = card_number_in("number", &number)?;
    let (operation, by) = card_replace_from(number, body)?;
    card_operation(&state, customer_id, operation, by).await
}
