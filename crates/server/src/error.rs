//! The one table mapping every error code to an HTTP status, and the error response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tessera_api::{ErrorBody, ErrorDetail};
use tessera_core::{CoreError, ErrorCode};
use tessera_store::StoreError;

/// The HTTP status of each error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        MalformedJson => StatusCode::BAD_REQUEST,
        InvalidField
        | UnknownField
        | MissingField
        | InvalidQuantity
        | InvalidPhone
        | InvalidEmail
        | InvalidCard
        | InvalidTimezone
        | InvalidCurrency
        | OfflineRedemption
        | DuplicateLine
        | AtInFuture
        | UnknownStore
        | UnknownCustomer
        | RedeemNeedsCustomer
        | RedeemExceedsLimit
        | CertificateInvalid
        | CertificateExceedsTotal
        | CodeRequired
        | CodeInvalid => StatusCode::UNPROCESSABLE_ENTITY,
        StoreNotFound | CustomerNotFound | ProductNotFound | PromotionNotFound
        | ReceiptNotFound | RouteNotFound | CouponSeriesNotFound | SegmentNotFound
        | MergeNotFound | CandidateNotFound | CardNotFound | ApiKeyNotFound | StaffUserNotFound => {
            StatusCode::NOT_FOUND
        }
        InsufficientPoints
        | CertificateInsufficient
        | QuoteChanged
        | ReceiptConflict
        | ReturnConflict
        | ReturnExceedsPurchase
        | ReceiptCancelled
        | CardTaken
        | PhoneTaken
        | ExternalIdTaken
        | CustomerMerged
        | CardBlocked
        | MergeConflict
        | AdjustmentConflict
        | CodeUsed
        | StaffUserTaken => StatusCode::CONFLICT,
        CustomerErased => StatusCode::GONE,
        Unauthorized => StatusCode::UNAUTHORIZED,
        Forbidden => StatusCode::FORBIDDEN,
        RateLimited => StatusCode::TOO_MANY_REQUESTS,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ShuttingDown | Busy => StatusCode::SERVICE_UNAVAILABLE,
        Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error answered to the client.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    /// Extra top-level members of the body (the fresh calculation of `quote_changed`).
    pub extra: Option<Box<(String, serde_json::Value)>>,
    /// Seconds to wait before trying again, sent as `Retry-After` (429).
    pub retry_after: Option<i64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
            extra: None,
            retry_after: None,
        }
    }

    pub fn field(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: Some(field.into()),
            extra: None,
            retry_after: None,
        }
    }

    /// The error as it appears in a body: code, message, field.
    pub fn detail(&self) -> ErrorDetail {
        ErrorDetail {
            code: self.code.as_str().to_string(),
            message: self.message.clone(),
            field: self.field.clone(),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        ApiError {
            code: error.code,
            message: error.message,
            field: error.field,
            extra: None,
            retry_after: None,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Domain(error) => error.into(),
            StoreError::QuoteChanged(calc) => {
                let fresh = tessera_api::convert::calculation_out("", &calc, None, false, None);
                let mut api = ApiError::new(
                    ErrorCode::QuoteChanged,
                    format!(
                        "the receipt now costs {} to pay; nothing was written",
                        calc.totals.to_pay
                    ),
                );
                api.extra = serde_json::to_value(fresh)
                    .ok()
                    .map(|v| Box::new(("calculation".to_string(), v)));
                api
            }
            StoreError::ShuttingDown => ApiError::new(
                ErrorCode::ShuttingDown,
                "the server is shutting down; retry on another instance or later",
            ),
            StoreError::Contention(message) => {
                tracing::warn!(%message, "a write kept meeting concurrent writes");
                ApiError::new(
                    ErrorCode::Busy,
                    "the write met concurrent writes too often; retry the same request",
                )
            }
            StoreError::Backend(message) => {
                tracing::error!(%message, "storage failure");
                ApiError::new(
                    ErrorCode::Internal,
                    "internal storage error; the request may be retried with the same body",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = status_of(self.code);
        let mut body = match serde_json::to_value(ErrorBody {
            error: self.detail(),
        }) {
            Ok(body) => body,
            Err(_) => serde_json::Value::Null,
        };
        if let (Some(extra), Some(map)) = (self.extra, body.as_object_mut()) {
            let (key, value) = *extra;
            map.insert(key, value);
        }
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            if let Ok(value) = axum::http::HeaderValue::from_str(&seconds.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
        }
        response
    }
}
