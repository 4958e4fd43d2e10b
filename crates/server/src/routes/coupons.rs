//! `/v1/coupon-series`: series of unguessable codes that unlock a promotion.

use super::path_id;
use crate::clock::new_code;
use crate::error::ApiError;
use crate::json::Body;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use std::sync::Arc;
use tessera_api::{
    series_from, series_out, CouponSeriesBody, CouponSeriesOut, ErrorBody, GenerateBody,
    GeneratedOut,
};
use tessera_core::coupon::Coupon;
use tessera_core::promotion::CouponRule;
use tessera_core::{CoreError, ErrorCode};

/// The most codes one generate call makes.
const MAX_GENERATE: u32 = 10_000;

/// Creates a coupon series, or updates its settings (its codes stay).
#[utoipa::path(post, path = "/v1/coupon-series", tag = "promotions", request_body = CouponSeriesBody,
    responses((status = 200, body = CouponSeriesOut), (status = 422, body = ErrorBody)))]
pub async fn put_series(
    State(state): State<Arc<AppState>>,
    body: Body<CouponSeriesBody>,
) -> Result<Json<CouponSeriesOut>, ApiError> {
    let series = series_from(body.value)?;
    let promotion = state
        .store
        .promotions()
        .await?
        .into_iter()
        .find(|r| r.promotion.promotion_id == series.promotion_id)
        .ok_or_else(|| {
            ApiError::field(
                ErrorCode::InvalidField,
                "promotion",
                format!("no promotion {:?}", series.promotion_id),
            )
        })?;
    let unlocks = matches!(
        &promotion.promotion.conditions.coupon,
        Some(CouponRule::Series(id)) if *id == series.series_id
    );
    if !unlocks {
        return Err(CoreError::invalid(
            "promotion",
            format!(
                "promotion {:?} must require this series: set its conditions.coupon to {{\"series\": {:?}}} first",
                series.promotion_id, series.series_id
            ),
        )
        .into());
    }
    state.store.put_coupon_series(series.clone()).await?;
    Ok(Json(series_out(&series)))
}

/// One coupon series.
#[utoipa::path(get, path = "/v1/coupon-series/{series_id}", tag = "promotions", params(("series_id" = String, Path)),
    responses((status = 200, body = CouponSeriesOut), (status = 404, body = ErrorBody)))]
pub async fn get_series(
    State(state): State<Arc<AppState>>,
    Path(series_id): Path<String>,
) -> Result<Json<CouponSeriesOut>, ApiError> {
    path_id("series_id", &series_id)?;
    let series = state
        .store
        .coupon_series(&series_id)
        .await?
        .ok_or_else(|| not_found(&series_id))?;
    Ok(Json(series_out(&series)))
}

/// Generates `count` new codes of a series and returns them (shown once: hand them
/// out or print them now).
#[utoipa::path(post, path = "/v1/coupon-series/{series_id}/generate", tag = "promotions", request_body = GenerateBody,
    params(("series_id" = String, Path)),
    responses((status = 200, body = GeneratedOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn generate(
    State(state): State<Arc<AppState>>,
    Path(series_id): Path<String>,
    body: Body<GenerateBody>,
) -> Result<Json<GeneratedOut>, ApiError> {
    path_id("series_id", &series_id)?;
    let count = body.value.count;
    if !(1..=MAX_GENERATE).contains(&count) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "count",
            format!("must be between 1 and {MAX_GENERATE}"),
        ));
    }
    if state.store.coupon_series(&series_id).await?.is_none() {
        return Err(not_found(&series_id));
    }
    let codes: Vec<String> = (0..count).map(|_| new_code()).collect();
    let coupons = codes
        .iter()
        .map(|code| Coupon::generated(code, &series_id))
        .collect();
    state.store.insert_coupons(coupons).await?;
    Ok(Json(GeneratedOut {
        series: series_id,
        codes,
    }))
}

fn not_found(series_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::CouponSeriesNotFound,
        format!("no coupon series {series_id:?}"),
    )
}
