//! `/v1/program`.

use crate::access::annotate;
use crate::error::ApiError;
use crate::json::Body;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use std::sync::Arc;
use tessera_api::convert::{program_from, program_out};
use tessera_api::{ErrorBody, ProgramBody, ProgramOut};

/// The program settings (defaults until set).
#[utoipa::path(get, path = "/v1/program", tag = "configuration", responses((status = 200, body = ProgramOut), (status = 401, body = ErrorBody)))]
pub async fn get_program(State(state): State<Arc<AppState>>) -> Result<Json<ProgramOut>, ApiError> {
    Ok(Json(program_out(&state.config().program)))
}

/// Sets the program settings.
#[utoipa::path(put, path = "/v1/program", tag = "configuration", request_body = ProgramBody,
    responses((status = 200, body = ProgramOut), (status = 422, body = ErrorBody)))]
pub async fn put_program(
    State(state): State<Arc<AppState>>,
    body: Body<ProgramBody>,
) -> Result<Json<ProgramOut>, ApiError> {
    let program = program_from(body.value)?;
    let before = state.store.program().await?.map(|p| program_out(&p));
    let after = program_out(&program);
    annotate(before.as_ref(), Some(&after));
    state.store.put_program(program.clone()).await?;
    state.reload_config().await?;
    Ok(Json(after))
}
