//! Spending points safely: the one-time code a commit needs when the program sets
//! `redeem_requires_code` (`/v1/receipts/redeem-code` sends one by SMS), and the
//! per-customer limit on commits that spend points.

use crate::access::rate_limited;
use crate::error::ApiError;
use crate::json::Unhashed;
use crate::routes::me::code_refused;
use crate::sender::masked;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use rand::Rng;
use std::sync::Arc;
use tessera_api::{ErrorBody, RedeemCodeSentOut, SendRedeemCodeBody};
use tessera_core::one_time_code::{
    code_hash, sent_code_from_random, CodePurpose, SENT_CODE_SECONDS,
};
use tessera_core::receipt::{CustomerRef, ReceiptRequest, Redeem};
use tessera_core::ErrorCode;
use tessera_store::account::{CodeAnswer, CodeChange};

/// Refuses a commit spending points when its customer (as presented) has spent too
/// often lately: a burst of redemptions against one card from many tills is how a
/// photographed card is emptied. Retries never reach here (they are answered from the
/// stored response), so they are never limited.
pub fn limit_redemption(state: &AppState, request: &ReceiptRequest) -> Result<(), ApiError> {
    let (Some(customer), false) = (&request.customer, matches!(request.redeem, Redeem::None))
    else {
        return Ok(());
    };
    let key = match customer {
        CustomerRef::Card(card) => format!("card:{card}"),
        CustomerRef::Phone(phone) => format!("phone:{phone}"),
        CustomerRef::CustomerId(id) => format!("id:{id}"),
    };
    state
        .redeem_limiter
        .admit(&key, state.clock.now())
        .map_err(|wait_ms| rate_limited("spending this customer's points", wait_ms))
}

/// Spending points needs the customer's one-time code when the program says so: the
/// card alone (a photo of it) only earns. The code is judged, and bound to this
/// receipt, before the commit: a retry of the receipt with the same code passes, any
/// other receipt is `code_used`. An unknown card has no points to spend, so the
/// commit itself refuses it.
pub async fn check_redeem_code(
    state: &AppState,
    request: &ReceiptRequest,
    code: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(reference) = &request.customer else {
        return Ok(());
    };
    let Some(customer_id) = state.store.find_customer(reference).await? else {
        return Ok(());
    };
    let Some(code) = code.map(|c| c.trim().to_string()).filter(|c| !c.is_empty()) else {
        return Err(ApiError::field(
            ErrorCode::CodeRequired,
            "customer.code",
            "spending points needs the one-time code from the customer's app or SMS; the card alone only earns",
        ));
    };
    let change = CodeChange::Redeem {
        code,
        receipt_id: request.receipt_id.clone(),
        now: now.timestamp(),
    };
    match state.store.customer_code(&customer_id, change).await? {
        CodeAnswer::Judged(Ok(())) => Ok(()),
        CodeAnswer::Judged(Err(refusal)) => Err(code_refused(refusal, "customer.code")),
        _ => Err(ApiError::new(
            ErrorCode::Internal,
            "the code could not be judged",
        )),
    }
}

/// Sends the customer a one-time code by SMS for spending points, when their app is
/// not at hand.
#[utoipa::path(post, path = "/v1/receipts/redeem-code", tag = "pos", request_body = SendRedeemCodeBody,
    responses((status = 202, body = RedeemCodeSentOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn send_redeem_code(
    State(state): State<Arc<AppState>>,
    Unhashed(body): Unhashed<SendRedeemCodeBody>,
) -> Result<(StatusCode, Json<RedeemCodeSentOut>), ApiError> {
    let now = state.clock.now();
    let mut reference = tessera_api::convert::customer_ref_from(Some(body.customer))?
        .ok_or_else(|| ApiError::field(ErrorCode::MissingField, "customer", "name the customer"))?;
    if !matches!(reference, CustomerRef::Card(_)) {
        // A till sends a code for the card in front of it; looking customers up by
        // phone or id here would let a till key probe who is a member.
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "customer",
            "a code is sent for the card presented at the till: give customer.card",
        ));
    }
    reference
        .normalize()
        .map_err(|e| ApiError::from(e.within("customer")))?;
    let customer_id = state
        .store
        .find_customer(&reference)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::CustomerNotFound,
                "no customer has this identifier",
            )
        })?;
    state
        .send_limiter
        .admit(&format!("redeem:{customer_id}"), now)
        .map_err(|wait| rate_limited("codes sent to this customer", wait))?;
    let phone = state
        .store
        .customer(&customer_id)
        .await?
        .and_then(|c| c.phone)
        .ok_or_else(|| {
            ApiError::field(
                ErrorCode::InvalidField,
                "customer",
                "the customer has no phone to send a code to",
            )
        })?;
    let code = sent_code_from_random(rand::rng().random());
    let expires_at = now.timestamp() + SENT_CODE_SECONDS;
    state
        .store
        .customer_code(
            &customer_id,
            CodeChange::Send {
                purpose: CodePurpose::Redeem,
                code_hash: code_hash(&customer_id, &code),
                expires_at,
            },
        )
        .await?;
    state.sender.send(
        &phone,
        &format!(
            "Your code to pay with points: {code}. It works once, for 5 minutes. Never share it."
        ),
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(RedeemCodeSentOut {
            sent_to: masked(&phone),
            expires_at: tessera_api::convert::time_out(
                DateTime::from_timestamp(expires_at, 0).unwrap_or(now),
            ),
        }),
    ))
}
