//! `/v1/receipts`: the POS flow.

use super::{path_id, stored_json};
use crate::access::Principal;
use crate::clock::{code_source, new_customer_id};
use crate::error::ApiError;
use crate::json::{Body, Unhashed};
use crate::render::{calculation_answer, commit_renderer, return_renderer};
use crate::reply::Reply;
use crate::routes::customers::as_of;
use crate::routes::redeem_code;
use crate::till_profile;
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::Extension;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use std::sync::Arc;
use tessera_api::convert::{calculation_out_but_not_applied, not_applied_out, parse_at, parse_qty};
use tessera_api::{
    CalculationOut, CancelBody, ErrorBody, OfflineBody, OfflineOut, OfflineResultOut,
    QuoteChangedOut, ReceiptBody, ReceiptOut, ReturnBody, ReturnOut,
};
use tessera_core::pricing::CustomerView;
use tessera_core::receipt::{CustomerRef, ReceiptRequest, Redeem};
use tessera_core::snapshot::ConfigSnapshot;
use tessera_core::tier::TierHistory;
use tessera_core::{CoreError, ErrorCode};
use tessera_store::quote::{Quote, Recording};
use tessera_store::{service, CancelCommand, CommitCommand, ReturnCommand};

/// How far ahead of the server's clock a till's `at` may be.
const MAX_CLOCK_SKEW_MINUTES: i64 = 10;

fn check_at(at: DateTime<FixedOffset>, now: DateTime<Utc>, field: &str) -> Result<(), ApiError> {
    if at.with_timezone(&Utc) > now + Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
        return Err(ApiError::field(
            ErrorCode::AtInFuture,
            field,
            format!(
                "is more than {MAX_CLOCK_SKEW_MINUTES} minutes ahead of the server clock ({now})"
            ),
        ));
    }
    Ok(())
}

pub fn parse_receipt(
    body: ReceiptBody,
    now: DateTime<Utc>,
) -> Result<(ReceiptRequest, Option<i64>), ApiError> {
    let (request, expect) = tessera_api::convert::receipt_from(body)?;
    check_at(request.at, now, "at")?;
    Ok((request, expect))
}

/// Prices a receipt without writing anything.
#[utoipa::path(post, path = "/v1/receipts/calculate", tag = "pos", request_body = ReceiptBody,
    responses((status = 200, body = CalculationOut), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn calculate(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Unhashed(body): Unhashed<ReceiptBody>,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    principal.check_store(&body.store_id, "store_id")?;
    let (request, _) = parse_receipt(body, now)?;
    let config = state.config();
    let (out, quote) = price(&state, &config, request).await?;
    let (answer, pieces) = calculation_answer(&out, &quote.calculation.not_applied);
    // Kept for the commit of this receipt, which reuses it (and the parts of the
    // answer rendered from its calculation) if nothing changed.
    state.quotes.put(quote.with_pieces(pieces), now);
    Ok(stored_json(answer))
}

/// Prices a receipt against `config` with the customer's balance as of now, writing
/// nothing: calculate, and the preview of a draft promotion.
pub async fn quote(
    state: &AppState,
    config: &Arc<ConfigSnapshot>,
    request: ReceiptRequest,
) -> Result<CalculationOut, ApiError> {
    let (mut out, quote) = price(state, config, request).await?;
    out.not_applied = not_applied_out(&quote.calculation.not_applied);
    Ok(out)
}

/// [`quote`], with the calculation and what it was made from; the answer's
/// `not_applied` is left to the renderer (it is the calculation's).
async fn price(
    state: &AppState,
    config: &Arc<ConfigSnapshot>,
    owned: ReceiptRequest,
) -> Result<(CalculationOut, Quote), ApiError> {
    let request = &owned;
    let now = state.clock.now();
    let at = request.at.with_timezone(&Utc);
    let mut ctx = config.context(request)?;
    let source = &mut service::StoreReads(state.store.as_ref());
    service::load_vouchers(&mut ctx, request, source).await?;
    let mut read = None;
    let mut view = match &request.customer {
        None => None,
        Some(reference) => Some(match state.store.find_ledger(reference).await? {
            Some((ledger, facts)) => {
                if ledger.version.is_some() {
                    read = Some((ledger.clone(), facts.clone()));
                }
                let (ledger, _) = as_of(ledger, now);
                let mut view = CustomerView::known(
                    &ledger.customer_id,
                    ledger.available,
                    ledger.pending,
                    &facts,
                    at,
                );
                // Earned tiers as the commit will see them (it reads them again).
                if let Some(tiers) = &config.program.tiers {
                    let history = state
                        .store
                        .tier_history(&ledger.customer_id, tiers.window_days)
                        .await?;
                    view.tier = Some(history.priced_tier(tiers, facts.tier.as_ref(), at));
                }
                view
            }
            None => match reference {
                CustomerRef::Card(card) => {
                    let mut view = CustomerView::new_card("", card);
                    if let Some(tiers) = &config.program.tiers {
                        view.tier = Some(TierHistory::default().priced_tier(tiers, None, at));
                    }
                    view
                }
                other => {
                    return Err(CoreError::field(
                        ErrorCode::UnknownCustomer,
                        other.field(),
                        "no customer has this identifier",
                    )
                    .into())
                }
            },
        }),
    };
    let mut requests = Vec::new();
    if let Some(view) = view.as_mut().filter(|v| !v.customer_id.is_empty()) {
        requests = till_profile::requests_for(state, config, &view.customer_id, now).await?;
        // As the commit judges it: a program that requires no fields has no
        // questionnaire to complete, so `profile_completed` promotions do not apply.
        view.profile_complete = !config.program.required_fields.is_empty() && requests.is_empty();
    }
    let customer_id = view
        .as_ref()
        .map(|v| v.customer_id.as_str())
        .filter(|id| !id.is_empty());
    let scope = service::usage_scope(&ctx, request, customer_id);
    let mut recording = Recording {
        inner: source,
        usage_reads: Vec::new(),
    };
    let calculation =
        service::calculate_within_limits(&mut ctx, request, view.as_ref(), &scope, &mut recording)
            .await?;
    let mut out =
        calculation_out_but_not_applied(&request.receipt_id, &calculation, None, false, None);
    // A new card has no customer id until its commit.
    if out.customer_id.as_deref() == Some("") {
        out.customer_id = None;
    }
    out.profile_requests = till_profile::requests_out(&requests);
    let quote =
        Quote::made(config, owned, view, ctx, recording.usage_reads, calculation).with_ledger(read);
    Ok((out, quote))
}

/// Commits a receipt exactly once.
#[utoipa::path(post, path = "/v1/receipts/commit", tag = "pos", request_body = ReceiptBody,
    responses((status = 200, body = CalculationOut), (status = 409, description = "insufficient_points, receipt_conflict, or quote_changed with the fresh calculation", body = QuoteChangedOut), (status = 422, body = ErrorBody)))]
pub async fn commit(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    bytes: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let body = receipt_body(&bytes)?;
    principal.check_store(&body.value.store_id, "store_id")?;
    Ok(stored_json(
        commit_one(&state, body.value, body.hash).await?,
    ))
}

/// Commits one receipt body; the response bytes of its commit.
///
/// A retry is answered with the stored response of the first commit. The transaction
/// finds it (`service::commit` checks for a prior commit first), so most commits are
/// not looked up beforehand: on PostgreSQL that lookup was a round trip of its own.
/// Two kinds are looked up first all the same: a receipt that failed validation (the
/// configuration may have changed since its first commit, and a retry still gets its
/// answer), and one whose steps before the transaction have effects of their own (a
/// redemption's rate limit and one-time code, a profile update), which a retry must
/// not repeat.
async fn commit_one(
    state: &AppState,
    body: ReceiptBody,
    hash: String,
) -> Result<Vec<u8>, ApiError> {
    let now = state.clock.now();
    let receipt_id = body.receipt_id.clone();
    let mut body = body;
    let profile_update = body.profile_update.take();
    let code = body.customer.as_mut().and_then(|c| c.code.take());
    let (request, expect_to_pay) = match parse_receipt(body, now) {
        Ok(parsed) => parsed,
        Err(error) => {
            return match stored_response(state, &receipt_id, &hash).await? {
                Some(response) => Ok(response),
                None => Err(error),
            };
        }
    };
    if !matches!(request.redeem, Redeem::None) || profile_update.is_some() {
        if let Some(response) = stored_response(state, &receipt_id, &hash).await? {
            return Ok(response);
        }
    }
    redeem_code::limit_redemption(state, &request)?;
    let config = state.config();
    if config.program.redeem_requires_code && !matches!(request.redeem, Redeem::None) {
        redeem_code::check_redeem_code(state, &request, code, now).await?;
    }
    if profile_update.is_some() && request.customer.is_none() {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "profile_update",
            "needs a customer on the receipt",
        ));
    }
    // The profile is read only when the receipt brings an update or the program
    // requires fields: most commits never touch it.
    let needs_profile = profile_update.is_some() || !config.program.required_fields.is_empty();
    let known = match &request.customer {
        Some(reference) if needs_profile => state.store.find_customer(reference).await?,
        _ => None,
    };
    // What the customer told the cashier is written first, so that the receipt is
    // priced with it (a `profile_completed` promotion); a new member's card has no
    // profile yet, so theirs follows the receipt.
    if let (Some(update), Some(customer_id)) = (&profile_update, &known) {
        till_profile::apply_update(state, &config, update.clone(), customer_id, &request, now)
            .await?;
    }
    let profile_complete = match &known {
        Some(customer_id) if !config.program.required_fields.is_empty() => Some(
            till_profile::requests_for(state, &config, customer_id, now)
                .await?
                .is_empty(),
        ),
        _ => None,
    };
    // A new member's update waits for the commit that registers them.
    let after_commit = match (profile_update, &known) {
        (Some(update), None) => Some((update, request.clone())),
        _ => None,
    };
    let quote = state.quotes.take(&request.receipt_id, now);
    let command = CommitCommand {
        request,
        request_hash: hash,
        expect_to_pay,
        config: config.clone(),
        new_customer_id: new_customer_id(now),
        new_code: code_source(),
        now,
        render: commit_renderer(),
        profile_complete,
        quote: tessera_store::quote::QuoteSlot::new(quote),
    };
    let response = state.store.commit_receipt(command).await?;
    if let Some((update, request)) = after_commit {
        let member = match &request.customer {
            Some(reference) => state.store.find_customer(reference).await?,
            None => None,
        };
        if let Some(customer_id) = member {
            till_profile::apply_update(state, &config, update, &customer_id, &request, now).await?;
        }
    }
    Ok(response)
}

/// The stored response of a committed receipt, if `receipt_id` was committed with this
/// body; `receipt_conflict` if it was committed with another.
async fn stored_response(
    state: &AppState,
    receipt_id: &str,
    hash: &str,
) -> Result<Option<Vec<u8>>, ApiError> {
    match state.store.commit_response(receipt_id).await? {
        Some((stored_hash, response)) if stored_hash == hash => Ok(Some(response)),
        Some(_) => Err(ApiError::new(
            ErrorCode::ReceiptConflict,
            format!("receipt {receipt_id} was already committed with a different body"),
        )),
        None => Ok(None),
    }
}

/// A receipt body and its idempotency hash, which leaves out `customer.code`: a till
/// retrying a committed receipt after a lost reply may hold a newer one-time code, and
/// must still get the stored answer (the code is bound to the receipt anyway).
fn receipt_body(bytes: &[u8]) -> Result<Body<ReceiptBody>, ApiError> {
    let mut body = crate::json::parse::<ReceiptBody>(bytes)?;
    // Only bodies with a code pay for a second parse.
    if body
        .value
        .customer
        .as_ref()
        .is_some_and(|c| c.code.is_some())
    {
        if let Some(hash) = crate::json::hash_without(bytes, &["customer", "code"])? {
            body.hash = hash;
        }
    }
    Ok(body)
}

/// The most receipts one offline batch may carry.
const MAX_OFFLINE_BATCH: usize = 500;

/// Commits receipts a till made while Tessera was unreachable, each exactly once and
/// priced with the promotions in force at its own `at`; answers each in order. Points
/// and certificates cannot pay offline (nothing could check the balance).
#[utoipa::path(post, path = "/v1/receipts/offline", tag = "pos", request_body = OfflineBody,
    responses((status = 200, body = OfflineOut), (status = 422, body = ErrorBody)))]
pub async fn offline(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    body: Body<OfflineBody>,
) -> Result<Reply<OfflineOut>, ApiError> {
    let receipts = body.value.receipts;
    if receipts.is_empty() || receipts.len() > MAX_OFFLINE_BATCH {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "receipts",
            format!("a batch holds 1 to {MAX_OFFLINE_BATCH} receipts"),
        ));
    }
    let mut results = Vec::with_capacity(receipts.len());
    for (idx, value) in receipts.into_iter().enumerate() {
        let receipt_id = value
            .get("receipt_id")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let outcome = offline_one(&state, &principal, value).await;
        results.push(match outcome {
            Ok(bytes) => OfflineResultOut {
                receipt_id,
                status: 200,
                receipt: serde_json::from_slice(&bytes).ok(),
                error: None,
            },
            Err(error) => {
                let mut detail = error.detail();
                detail.field = Some(match detail.field {
                    Some(field) => format!("receipts[{idx}].{field}"),
                    None => format!("receipts[{idx}]"),
                });
                OfflineResultOut {
                    receipt_id,
                    status: crate::error::status_of(error.code).as_u16(),
                    receipt: None,
                    error: Some(detail),
                }
            }
        });
    }
    Ok(Reply(OfflineOut { results }))
}

/// One offline receipt: the same body and hash as a direct commit would have, so a
/// till may also resend it to `/v1/receipts/commit`.
async fn offline_one(
    state: &AppState,
    principal: &Principal,
    value: serde_json::Value,
) -> Result<Vec<u8>, ApiError> {
    let bytes = serde_json::to_vec(&value).unwrap_or_default();
    let body = receipt_body(&bytes)?;
    principal.check_store(&body.value.store_id, "store_id")?;
    let redeems = body
        .value
        .redeem_points
        .as_ref()
        .is_some_and(|v| !v.is_null() && *v != serde_json::json!(0));
    if redeems {
        return Err(ApiError::field(
            ErrorCode::OfflineRedemption,
            "redeem_points",
            "points cannot pay offline: nothing could check the balance",
        ));
    }
    if !body.value.certificates.is_empty() {
        return Err(ApiError::field(
            ErrorCode::OfflineRedemption,
            "certificates",
            "gift certificates cannot pay offline: nothing could check the balance",
        ));
    }
    commit_one(state, body.value, body.hash).await
}

/// Returns units of a committed receipt, idempotent by `return_id`.
#[utoipa::path(post, path = "/v1/receipts/{receipt_id}/returns", tag = "pos", request_body = ReturnBody, params(("receipt_id" = String, Path)),
    responses((status = 200, body = ReturnOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn return_receipt(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(receipt_id): Path<String>,
    body: Body<ReturnBody>,
) -> Result<Response, ApiError> {
    path_id("receipt_id", &receipt_id)?;
    check_receipt_store(&state, &principal, &receipt_id).await?;
    let now = state.clock.now();
    let value = body.value;
    path_id("return_id", &value.return_id)?;
    let at = parse_at(&value.at, "at")?;
    check_at(at, now, "at")?;
    let mut lines = Vec::with_capacity(value.lines.len());
    for (idx, line) in value.lines.iter().enumerate() {
        lines.push((
            line.line,
            parse_qty(&line.qty, || format!("lines[{idx}].qty"))?,
        ));
    }
    let command = ReturnCommand {
        receipt_id,
        return_id: value.return_id,
        request_hash: body.hash,
        at,
        terminal_id: value.terminal_id,
        lines,
        now,
        render: return_renderer(),
        tiers: state.config().program.tiers.clone(),
    };
    Ok(stored_json(state.store.return_receipt(command).await?))
}

/// Cancels a committed receipt entirely; idempotent.
#[utoipa::path(post, path = "/v1/receipts/{receipt_id}/cancel", tag = "pos", request_body(content = CancelBody, description = "optional"), params(("receipt_id" = String, Path)),
    responses((status = 200, body = ReturnOut), (status = 404, body = ErrorBody)))]
pub async fn cancel_receipt(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(receipt_id): Path<String>,
    body: Body<CancelBody>,
) -> Result<Response, ApiError> {
    path_id("receipt_id", &receipt_id)?;
    check_receipt_store(&state, &principal, &receipt_id).await?;
    let now = state.clock.now();
    let at = match &body.value.at {
        Some(text) => parse_at(text, "at")?,
        None => now.fixed_offset(),
    };
    let command = CancelCommand {
        receipt_id,
        at,
        terminal_id: body.value.terminal_id,
        now,
        render: return_renderer(),
        tiers: state.config().program.tiers.clone(),
    };
    Ok(stored_json(state.store.cancel_receipt(command).await?))
}

/// A receipt with all its versions.
#[utoipa::path(get, path = "/v1/receipts/{receipt_id}", tag = "pos", params(("receipt_id" = String, Path)),
    responses((status = 200, body = ReceiptOut), (status = 404, body = ErrorBody)))]
pub async fn get_receipt(
    State(state): State<Arc<AppState>>,
    Extension(principal): Extension<Principal>,
    Path(receipt_id): Path<String>,
) -> Result<Reply<ReceiptOut>, ApiError> {
    let stored = state.store.receipt(&receipt_id).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::ReceiptNotFound,
            format!("no receipt {receipt_id:?} was committed"),
        )
    })?;
    principal.check_store(&stored.record.store_id, "receipt_id")?;
    Ok(Reply(tessera_api::stored_receipt_out(&stored)))
}

/// Refuses a store-bound key a return or cancel of another store's receipt. A receipt
/// the key cannot see yet is `receipt_not_found` for it: letting it through would let a
/// return race the receipt's commit past this check (a receipt's store never changes,
/// so a receipt found here is the one the write finds).
async fn check_receipt_store(
    state: &AppState,
    principal: &Principal,
    receipt_id: &str,
) -> Result<(), ApiError> {
    if principal.store_id.is_none() {
        return Ok(());
    }
    match state.store.receipt(receipt_id).await? {
        Some(stored) => principal.check_store(&stored.record.store_id, "receipt_id"),
        None => Err(ApiError::new(
            ErrorCode::ReceiptNotFound,
            format!("no receipt {receipt_id:?} was committed"),
        )),
    }
}
