//! `/v1/me`: a customer's own account, for the app, a chatbot or the web. Customers
//! sign in with their phone and a code sent to it, and get a one-hour token with the
//! `self_service` scope; every route then acts on that customer only.

use crate::access::{annotate, rate_limited, Principal};
use crate::error::ApiError;
use crate::json::{Body, Unhashed};
use crate::query::Params;
use crate::routes::customers::{BalanceQuery, LedgerQuery};
use crate::routes::profiles::ProfileQuery;
use crate::routes::timeline::ReceiptsQuery;
use crate::session;
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use rand::Rng;
use std::sync::Arc;
use tessera_api::convert::time_out;
use tessera_api::{
    BalanceOut, CodeSentOut, ConsentsBody, CustomerOut, CustomerReceiptsOut, ErrorBody, LedgerOut,
    LoginBody, MyCertificateOut, MyCouponOut, MyCouponsOut, ProfilePatchBody, RedeemCodeOut,
    TokenBody, TokenOut,
};
use tessera_core::coupon::normalize_code;
use tessera_core::customer::normalize_phone;
use tessera_core::one_time_code::{
    code_hash, current_code, sent_code_from_random, CodePurpose, SENT_CODE_SECONDS,
};
use tessera_core::receipt::CustomerRef;
use tessera_core::ErrorCode;
use tessera_store::account::{CodeAnswer, CodeChange, SessionKind};

fn me(principal: &Principal) -> Result<String, ApiError> {
    principal.customer_id.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Forbidden,
            "only a customer's own token reaches /v1/me",
        )
    })
}

/// The customer a phone belongs to, if any.
async fn by_phone(state: &AppState, phone: &str) -> Result<(String, Option<String>), ApiError> {
    let phone = normalize_phone(phone).map_err(|e| ApiError::from(e.within("phone")))?;
    let customer = state
        .store
        .find_customer(&CustomerRef::Phone(phone.clone()))
        .await?;
    Ok((phone, customer))
}

/// Sends a sign-in code to the phone, if a customer has it; answers the same either way.
#[utoipa::path(post, path = "/v1/me/login", tag = "self-service", request_body = LoginBody, security(()),
    responses((status = 202, body = CodeSentOut), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<Arc<AppState>>,
    body: Body<LoginBody>,
) -> Result<(StatusCode, Json<CodeSentOut>), ApiError> {
    let now = state.clock.now();
    let (phone, customer) = by_phone(&state, &body.value.phone).await?;
    state
        .send_limiter
        .admit(&format!("login:{phone}"), now)
        .map_err(|wait| rate_limited("sign-in codes to this phone", wait))?;
    if let Some(customer_id) = customer {
        let code = sent_code_from_random(rand::rng().random());
        state
            .store
            .customer_code(
                &customer_id,
                CodeChange::Send {
                    purpose: CodePurpose::Login,
                    code_hash: code_hash(&customer_id, &code),
                    expires_at: now.timestamp() + SENT_CODE_SECONDS,
                },
            )
            .await?;
        state.sender.send(
            &phone,
            &format!("Your sign-in code: {code}. It works once, for 5 minutes. Never share it."),
        );
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(CodeSentOut {
            expires_in: SENT_CODE_SECONDS,
        }),
    ))
}

/// Signs in with the code: a token for one hour.
#[utoipa::path(post, path = "/v1/me/token", tag = "self-service", request_body = TokenBody, security(()),
    responses((status = 200, body = TokenOut), (status = 409, description = "code_used", body = ErrorBody),
        (status = 422, description = "code_invalid", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    State(state): State<Arc<AppState>>,
    Unhashed(body): Unhashed<TokenBody>,
) -> Result<Json<TokenOut>, ApiError> {
    let now = state.clock.now();
    let (phone, customer) = by_phone(&state, &body.phone).await?;
    let invalid = || ApiError::field(ErrorCode::CodeInvalid, "code", "the code is not valid");
    let Some(customer_id) = customer else {
        // Locked after as many guesses as a member's phone, so the answers tell nobody
        // which phones are members'.
        let guessed = state
            .guesses
            .guess(&format!("phone:{phone}"), now.timestamp());
        return Err(match guessed {
            Ok(()) => invalid(),
            Err(retry_after) => code_refused(
                tessera_core::one_time_code::CodeRefusal::Locked { retry_after },
                "code",
            ),
        });
    };
    let change = CodeChange::Login {
        code: body.code.trim().to_string(),
        now: now.timestamp(),
    };
    match state.store.customer_code(&customer_id, change).await? {
        CodeAnswer::Judged(Ok(())) => {}
        CodeAnswer::Judged(Err(refusal)) => return Err(code_refused(refusal, "code")),
        _ => return Err(invalid()),
    }
    let (token, expires_at) =
        session::start(&state, SessionKind::Customer, &customer_id, now).await?;
    Ok(Json(TokenOut {
        token,
        expires_at: time_out(expires_at),
        customer_id: Some(customer_id),
        role: None,
    }))
}

/// The API error of a refused code: a lock is a 429 with `Retry-After`.
pub fn code_refused(refusal: tessera_core::one_time_code::CodeRefusal, field: &str) -> ApiError {
    if let tessera_core::one_time_code::CodeRefusal::Locked { retry_after } = refusal {
        let mut error = rate_limited("wrong codes", retry_after.saturating_mul(1000));
        error.field = Some(field.to_string());
        return error;
    }
    refusal.error(field).into()
}

/// Ends the session of the token presented.
#[utoipa::path(post, path = "/v1/me/logout", tag = "self-service", responses((status = 204)))]
pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    end_session(&state, &headers).await
}

/// Ends the session of the bearer token in `headers`.
pub async fn end_session(state: &AppState, headers: &HeaderMap) -> Result<StatusCode, ApiError> {
    let token = crate::access::bearer(headers).unwrap_or_default();
    session::end(state, token, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The customer's profile.
#[utoipa::path(get, path = "/v1/me", tag = "self-service", responses((status = 200, body = CustomerOut)))]
pub async fn profile(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<CustomerOut>, ApiError> {
    let query = ProfileQuery { history: None };
    crate::routes::profiles::get_customer(State(state), Path(me(&principal)?), Params(query)).await
}

/// The customer's points: available, pending, what expires when.
#[utoipa::path(get, path = "/v1/me/balance", tag = "self-service", params(BalanceQuery), responses((status = 200, body = BalanceOut)))]
pub async fn balance(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    query: Query<BalanceQuery>,
) -> Result<Json<BalanceOut>, ApiError> {
    crate::routes::customers::get_balance(State(state), Path(me(&principal)?), query).await
}

/// The customer's ledger entries, oldest first.
#[utoipa::path(get, path = "/v1/me/ledger", tag = "self-service", params(LedgerQuery), responses((status = 200, body = LedgerOut)))]
pub async fn ledger(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    query: Query<LedgerQuery>,
) -> Result<Json<LedgerOut>, ApiError> {
    crate::routes::customers::get_ledger(State(state), Path(me(&principal)?), query).await
}

/// The customer's e-receipts: lines, discounts, points, returns.
#[utoipa::path(get, path = "/v1/me/receipts", tag = "self-service", params(ReceiptsQuery), responses((status = 200, body = CustomerReceiptsOut)))]
pub async fn receipts(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    query: Params<ReceiptsQuery>,
) -> Result<Json<CustomerReceiptsOut>, ApiError> {
    crate::routes::timeline::customer_receipts(State(state), Path(me(&principal)?), query).await
}

/// The most receipts read for the customer's coupons and certificates.
const COUPON_RECEIPTS: u32 = 500;

/// The coupons and gift certificates the customer's receipts issued, with their state.
#[utoipa::path(get, path = "/v1/me/coupons", tag = "self-service", responses((status = 200, body = MyCouponsOut)))]
pub async fn coupons(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<MyCouponsOut>, ApiError> {
    let customer_id = me(&principal)?;
    let now = state.clock.now();
    let ids = crate::routes::timeline::merged_ids(&state, &customer_id).await?;
    let receipts = state
        .store
        .customer_receipts(&ids, 0, COUPON_RECEIPTS)
        .await?;
    let issued_coupons: Vec<_> = receipts
        .iter()
        .flat_map(|r| r.record.issued.coupons.clone())
        .collect();
    let issued_certificates: Vec<_> = receipts
        .iter()
        .flat_map(|r| r.record.issued.certificates.clone())
        .collect();
    let codes: Vec<String> = issued_coupons
        .iter()
        .map(|c| normalize_code(&c.code))
        .collect();
    let stored = state.store.coupons(&codes).await?;
    let coupons = issued_coupons
        .iter()
        .map(|issued| {
            let status = match stored.get(&normalize_code(&issued.code)) {
                Some((coupon, _)) if coupon.revoked => "revoked",
                Some((coupon, _)) if coupon.used_by.is_some() => "used",
                _ if issued.valid_until.is_some_and(|until| until <= now) => "expired",
                Some(_) => "active",
                None => "revoked",
            };
            MyCouponOut {
                code: issued.code.clone(),
                series_id: issued.series_id.clone(),
                promotion_id: issued.promotion_id.clone(),
                valid_until: issued.valid_until.map(time_out),
                status: status.to_string(),
            }
        })
        .collect();
    let codes: Vec<String> = issued_certificates
        .iter()
        .map(|c| normalize_code(&c.code))
        .collect();
    let stored = state.store.certificates(&codes).await?;
    let certificates = issued_certificates
        .iter()
        .map(|issued| {
            let found = stored.get(&normalize_code(&issued.code));
            let status = match found {
                Some(c) if c.revoked => "revoked",
                _ if issued.valid_until.is_some_and(|until| until <= now) => "expired",
                Some(c) if c.balance == 0 => "spent",
                Some(_) => "active",
                None => "revoked",
            };
            MyCertificateOut {
                code: issued.code.clone(),
                amount: issued.amount,
                balance: found.map_or(0, |c| c.balance),
                valid_until: issued.valid_until.map(time_out),
                status: status.to_string(),
            }
        })
        .collect();
    Ok(Json(MyCouponsOut {
        coupons,
        certificates,
    }))
}

/// The code to show at the till (as a barcode) for spending points: it changes every
/// 30 seconds and works once.
#[utoipa::path(post, path = "/v1/me/redeem-code", tag = "self-service", responses((status = 200, body = RedeemCodeOut)))]
pub async fn redeem_code(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<RedeemCodeOut>, ApiError> {
    let customer_id = me(&principal)?;
    let now = state.clock.now();
    let random: [u8; 20] = rand::rng().random();
    let secret = match state
        .store
        .customer_code(&customer_id, CodeChange::EnsureSecret(random))
        .await?
    {
        CodeAnswer::Secret(secret) => secret,
        _ => {
            return Err(ApiError::new(
                ErrorCode::Internal,
                "the code secret could not be read",
            ))
        }
    };
    let (code, ends) = current_code(&secret, now.timestamp());
    let expires_at = chrono::DateTime::from_timestamp(ends, 0).unwrap_or(now);
    Ok(Json(RedeemCodeOut {
        code,
        expires_at: time_out(expires_at),
        step_seconds: tessera_core::otp::STEP_SECONDS,
    }))
}

/// Gives or withdraws consents per channel, effective at once.
#[utoipa::path(put, path = "/v1/me/consents", tag = "self-service", request_body = ConsentsBody,
    responses((status = 200, body = CustomerOut), (status = 422, body = ErrorBody)))]
pub async fn consents(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Unhashed(body): Unhashed<ConsentsBody>,
) -> Result<Json<CustomerOut>, ApiError> {
    let customer_id = me(&principal)?;
    let after: Vec<serde_json::Value> = body
        .consents
        .iter()
        .map(|c| serde_json::json!({"channel": c.channel, "granted": c.granted}))
        .collect();
    let patch = ProfilePatchBody {
        consents: body.consents,
        source: Some("app".into()),
        ..ProfilePatchBody::default()
    };
    annotate(None::<&serde_json::Value>, Some(&after));
    crate::routes::profiles::patch_customer(State(state), Path(customer_id), Unhashed(patch)).await
}
