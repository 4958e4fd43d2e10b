//! `/v1/segments`: named sets of customers promotions can be for.

use super::path_id;
use crate::error::ApiError;
use crate::json::Body;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use std::sync::Arc;
use tessera_api::{
    members_from, segment_from, segment_out, ErrorBody, MembersBody, SegmentBody, SegmentOut,
};
use tessera_core::ErrorCode;

/// Creates or renames a segment (its members stay).
#[utoipa::path(put, path = "/v1/segments/{segment_id}", tag = "customers", request_body = SegmentBody,
    params(("segment_id" = String, Path)), responses((status = 200, body = SegmentOut), (status = 422, body = ErrorBody)))]
pub async fn put_segment(
    State(state): State<Arc<AppState>>,
    Path(segment_id): Path<String>,
    body: Body<SegmentBody>,
) -> Result<Json<SegmentOut>, ApiError> {
    path_id("segment_id", &segment_id)?;
    let segment = segment_from(&segment_id, body.value)?;
    state.store.put_segment(segment).await?;
    read(&state, &segment_id).await
}

/// A segment with its member count.
#[utoipa::path(get, path = "/v1/segments/{segment_id}", tag = "customers", params(("segment_id" = String, Path)),
    responses((status = 200, body = SegmentOut), (status = 404, body = ErrorBody)))]
pub async fn get_segment(
    State(state): State<Arc<AppState>>,
    Path(segment_id): Path<String>,
) -> Result<Json<SegmentOut>, ApiError> {
    path_id("segment_id", &segment_id)?;
    read(&state, &segment_id).await
}

/// Adds and removes members, all or nothing; answers the segment with its new count.
#[utoipa::path(post, path = "/v1/segments/{segment_id}/members", tag = "customers", request_body = MembersBody,
    params(("segment_id" = String, Path)),
    responses((status = 200, body = SegmentOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn change_members(
    State(state): State<Arc<AppState>>,
    Path(segment_id): Path<String>,
    body: Body<MembersBody>,
) -> Result<Json<SegmentOut>, ApiError> {
    path_id("segment_id", &segment_id)?;
    let change = members_from(body.value)?;
    // Refused before any write, so that changing no segment leaves no audit entry.
    if state.store.segment(&segment_id).await?.is_none() {
        return Err(ApiError::new(
            ErrorCode::SegmentNotFound,
            format!("no segment {segment_id:?}"),
        ));
    }
    state.store.change_segment(&segment_id, change).await?;
    read(&state, &segment_id).await
}

async fn read(state: &AppState, segment_id: &str) -> Result<Json<SegmentOut>, ApiError> {
    let (segment, members) = state.store.segment(segment_id).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::SegmentNotFound,
            format!("no segment {segment_id:?}"),
        )
    })?;
    Ok(Json(segment_out(&segment, members)))
}
