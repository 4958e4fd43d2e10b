//! `POST /v1/import/customers`: the import of `tessera import customers` over HTTP.

use crate::clock::monotonic_ids;
use crate::error::ApiError;
use crate::query::Params;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use std::sync::Arc;
use tessera_api::{ErrorBody, ImportOut, ImportQuery};
use tessera_core::consent::SourceTrust;
use tessera_core::contact::{Country, DateOrder, NormalizeRules};
use tessera_core::import::{read_csv, read_json_lines, RowCleaner};
use tessera_core::matching::MatchRules;
use tessera_core::{CoreError, ErrorCode};
use tessera_store::customer_import::{import_customers, ImportOptions};

/// The largest file one request may carry; bigger files go through the command.
pub const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::field(ErrorCode::InvalidField, field, message.into())
}

/// Imports customers from a CSV or JSON-lines body with normalisation, matching
/// against every profile and deduplication: exact strong matches merge, fuzzy ones go
/// to the review queue, every refused value is reported with its row.
#[utoipa::path(post, path = "/v1/import/customers", tag = "customers", params(ImportQuery),
    request_body(content = String, description = "CSV with a header, or JSON lines", content_type = "text/csv"),
    responses((status = 200, body = ImportOut), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn import(
    State(state): State<Arc<AppState>>,
    Params(query): Params<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportOut>, ApiError> {
    let source = query
        .source
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.len() <= 100)
        .ok_or_else(|| {
            invalid(
                "source",
                "name the system the file comes from (1 to 100 characters)",
            )
        })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json_lines = match query.format.as_deref() {
        Some("csv") => false,
        Some("jsonl") => true,
        Some(other) => return Err(invalid("format", format!("{other:?}: use csv or jsonl"))),
        None => content_type.contains("ndjson") || content_type.contains("jsonl"),
    };
    let default_country = match query.default_country.as_deref() {
        None => Country::Ru,
        Some(code) => Country::parse(&code.to_ascii_uppercase()).ok_or_else(|| {
            invalid(
                "default_country",
                format!("{code:?} is not a supported country"),
            )
        })?,
    };
    let date_order = match query.date_order.as_deref() {
        None | Some("dmy") => DateOrder::DayMonthYear,
        Some("mdy") => DateOrder::MonthDayYear,
        Some(other) => return Err(invalid("date_order", format!("{other:?}: use dmy or mdy"))),
    };
    let text = std::str::from_utf8(&body).map_err(|_| invalid("body", "is not UTF-8 text"))?;
    let now = state.clock.now();
    let cleaner = RowCleaner {
        rules: NormalizeRules {
            default_country,
            date_order,
        },
        today: now.date_naive(),
        now,
    };
    let parsed = if json_lines {
        read_json_lines(text, &cleaner)
    } else {
        read_csv(text, &cleaner).map_err(|e: CoreError| ApiError::from(e.within("body")))?
    };
    let options = ImportOptions {
        source,
        rules: MatchRules::default(),
        trust: SourceTrust::default(),
        batch_size: 5000,
        actor: query.actor,
    };
    let mut ids = monotonic_ids(now);
    let mut progress = |_: u64, _: u64| {};
    let outcome = import_customers(
        state.store.as_ref(),
        &parsed,
        &options,
        now,
        &mut ids,
        &mut progress,
    )
    .await?;
    let value = |v: serde_json::Result<serde_json::Value>| v.unwrap_or_default();
    Ok(Json(ImportOut {
        report: value(serde_json::to_value(&outcome.report)),
        applied: value(serde_json::to_value(&outcome.applied)),
        kept_with_holder: value(serde_json::to_value(&outcome.kept_with_holder)),
        seconds_loading: outcome.seconds_loading,
        seconds_planning: outcome.seconds_planning,
        seconds_writing: outcome.seconds_writing,
    }))
}
