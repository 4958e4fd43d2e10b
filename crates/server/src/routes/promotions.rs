//! `/v1/promotions`.

use super::path_id;
use crate::access::annotate;
use crate::error::ApiError;
use crate::json::{Body, Unhashed};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use std::sync::Arc;
use tessera_api::convert::{promotion_from, promotion_out};
use tessera_api::{
    CalculationOut, ErrorBody, PreviewBody, PromotionBody, PromotionList, PromotionOut,
};
use tessera_core::promotion::Effect;
use tessera_core::ErrorCode;

/// Creates or replaces a promotion.
#[utoipa::path(put, path = "/v1/promotions/{promotion_id}", tag = "promotions", request_body = PromotionBody,
    params(("promotion_id" = String, Path)), responses((status = 200, body = PromotionOut), (status = 422, body = ErrorBody)))]
pub async fn put_promotion(
    State(state): State<Arc<AppState>>,
    Path(promotion_id): Path<String>,
    body: Body<PromotionBody>,
) -> Result<Json<PromotionOut>, ApiError> {
    path_id("promotion_id", &promotion_id)?;
    let promotion = promotion_from(&promotion_id, body.value)?;
    for (idx, effect) in promotion.effects.iter().enumerate() {
        if let Effect::IssueCoupon { series, .. } = effect {
            if state.store.coupon_series(series).await?.is_none() {
                return Err(ApiError::field(
                    ErrorCode::InvalidField,
                    format!("effects[{idx}].series"),
                    format!("no coupon series {series:?}; create it first"),
                ));
            }
        }
    }
    let now = state.clock.now();
    let before = stored(&state, &promotion_id).await?;
    let after = promotion_out(&promotion, now, None);
    annotate(before.as_ref(), Some(&after));
    state.store.put_promotion(promotion.clone(), now).await?;
    state.reload_config().await?;
    Ok(Json(after))
}

/// The stored promotion as answered, if there is one.
async fn stored(state: &AppState, promotion_id: &str) -> Result<Option<PromotionOut>, ApiError> {
    Ok(state
        .store
        .promotions()
        .await?
        .into_iter()
        .find(|r| r.promotion.promotion_id == promotion_id)
        .map(|r| promotion_out(&r.promotion, r.updated_at, r.deleted_at)))
}

/// One promotion, deleted ones included.
#[utoipa::path(get, path = "/v1/promotions/{promotion_id}", tag = "promotions", params(("promotion_id" = String, Path)),
    responses((status = 200, body = PromotionOut), (status = 404, body = ErrorBody)))]
pub async fn get_promotion(
    State(state): State<Arc<AppState>>,
    Path(promotion_id): Path<String>,
) -> Result<Json<PromotionOut>, ApiError> {
    stored(&state, &promotion_id)
        .await?
        .map(Json)
        .ok_or_else(|| not_found(&promotion_id))
}

/// All promotions, deleted ones included.
#[utoipa::path(get, path = "/v1/promotions", tag = "promotions", responses((status = 200, body = PromotionList)))]
pub async fn list_promotions(
    State(state): State<Arc<AppState>>,
) -> Result<Json<PromotionList>, ApiError> {
    let items = state
        .store
        .promotions()
        .await?
        .iter()
        .map(|r| promotion_out(&r.promotion, r.updated_at, r.deleted_at))
        .collect();
    Ok(Json(PromotionList { items }))
}

/// Disables a promotion; it stays in history (receipts name it).
#[utoipa::path(delete, path = "/v1/promotions/{promotion_id}", tag = "promotions", params(("promotion_id" = String, Path)),
    responses((status = 200, body = PromotionOut), (status = 404, body = ErrorBody)))]
pub async fn delete_promotion(
    State(state): State<Arc<AppState>>,
    Path(promotion_id): Path<String>,
) -> Result<Json<PromotionOut>, ApiError> {
    let now = state.clock.now();
    let record = state
        .store
        .promotions()
        .await?
        .into_iter()
        .find(|r| r.promotion.promotion_id == promotion_id)
        .ok_or_else(|| not_found(&promotion_id))?;
    let before = promotion_out(&record.promotion, record.updated_at, record.deleted_at);
    let mut disabled = record.promotion.clone();
    disabled.enabled = false;
    let after = promotion_out(&disabled, now, Some(record.deleted_at.unwrap_or(now)));
    annotate(Some(&before), Some(&after));
    if !state
        .store
        .delete_promotion(promotion_id.clone(), now)
        .await?
    {
        return Err(not_found(&promotion_id));
    }
    state.reload_config().await?;
    let after = stored(&state, &promotion_id)
        .await?
        .ok_or_else(|| not_found(&promotion_id))?;
    Ok(Json(after))
}

/// Prices a receipt as if a draft promotion were live (enabled, replacing a live one
/// of the same id). Writes nothing.
#[utoipa::path(post, path = "/v1/promotions/preview", tag = "promotions", request_body = PreviewBody,
    responses((status = 200, body = CalculationOut), (status = 422, body = ErrorBody)))]
pub async fn preview_promotion(
    State(state): State<Arc<AppState>>,
    Unhashed(body): Unhashed<PreviewBody>,
) -> Result<Json<CalculationOut>, ApiError> {
    let PreviewBody {
        promotion_id,
        promotion,
        receipt,
    } = body;
    let promotion_id = promotion_id.unwrap_or_else(|| "preview".to_string());
    path_id("promotion_id", &promotion_id)?;
    let mut draft = promotion_from(&promotion_id, promotion)
        .map_err(|e| ApiError::from(e.within("promotion")))?;
    draft.enabled = true;
    let in_receipt = |mut error: ApiError| {
        error.field = error.field.take().map(|field| format!("receipt.{field}"));
        error
    };
    let (request, _) =
        crate::routes::receipts::parse_receipt(receipt, state.clock.now()).map_err(in_receipt)?;
    let config = Arc::new(state.config().with_draft(draft));
    Ok(Json(
        crate::routes::receipts::quote(&state, &config, request)
            .await
            .map_err(in_receipt)?,
    ))
}

fn not_found(promotion_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PromotionNotFound,
        format!("no promotion {promotion_id:?}"),
    )
}
