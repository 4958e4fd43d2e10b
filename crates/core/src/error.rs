//! The domain error: a stable machine-readable code, a human message and, when one
//! input field is at fault, the JSON path of that field.

use std::fmt;

/// Every stable error code Tessera can answer with. The HTTP status of each is fixed
/// in one table in the server crate; the codes never change once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    MalformedJson,
    InvalidField,
    UnknownField,
    MissingField,
    InvalidQuantity,
    InvalidPhone,
    InvalidEmail,
    InvalidCard,
    InvalidTimezone,
    InvalidCurrency,
    DuplicateLine,
    AtInFuture,
    UnknownStore,
    UnknownCustomer,
    StoreNotFound,
    CustomerNotFound,
    ProductNotFound,
    PromotionNotFound,
    ReceiptNotFound,
    RouteNotFound,
    RedeemNeedsCustomer,
    RedeemExceedsLimit,
    OfflineRedemption,
    InsufficientPoints,
    CertificateInvalid,
    CertificateInsufficient,
    CertificateExceedsTotal,
    CouponSeriesNotFound,
    SegmentNotFound,
    QuoteChanged,
    ReceiptConflict,
    ReturnConflict,
    ReturnExceedsPurchase,
    ReceiptCancelled,
    CardTaken,
    PhoneTaken,
    CustomerMerged,
    CustomerErased,
    MergeNotFound,
    CandidateNotFound,
    CardNotFound,
    CardBlocked,
    MergeConflict,
    AdjustmentConflict,
    ExternalIdTaken,
    Unauthorized,
    Forbidden,
    RateLimited,
    ApiKeyNotFound,
    CodeRequired,
    CodeInvalid,
    CodeUsed,
    StaffUserNotFound,
    StaffUserTaken,
    MethodNotAllowed,
    PayloadTooLarge,
    ShuttingDown,
    Busy,
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 59] = [
        ErrorCode::MalformedJson,
        ErrorCode::InvalidField,
        ErrorCode::UnknownField,
        ErrorCode::MissingField,
        ErrorCode::InvalidQuantity,
        ErrorCode::InvalidPhone,
        ErrorCode::InvalidEmail,
        ErrorCode::InvalidCard,
        ErrorCode::InvalidTimezone,
        ErrorCode::InvalidCurrency,
        ErrorCode::DuplicateLine,
        ErrorCode::AtInFuture,
        ErrorCode::UnknownStore,
        ErrorCode::UnknownCustomer,
        ErrorCode::StoreNotFound,
        ErrorCode::CustomerNotFound,
        ErrorCode::ProductNotFound,
        ErrorCode::PromotionNotFound,
        ErrorCode::ReceiptNotFound,
        ErrorCode::RouteNotFound,
        ErrorCode::RedeemNeedsCustomer,
        ErrorCode::RedeemExceedsLimit,
        ErrorCode::OfflineRedemption,
        ErrorCode::InsufficientPoints,
        ErrorCode::CertificateInvalid,
        ErrorCode::CertificateInsufficient,
        ErrorCode::CertificateExceedsTotal,
        ErrorCode::CouponSeriesNotFound,
        ErrorCode::SegmentNotFound,
        ErrorCode::QuoteChanged,
        ErrorCode::ReceiptConflict,
        ErrorCode::ReturnConflict,
        ErrorCode::ReturnExceedsPurchase,
        ErrorCode::ReceiptCancelled,
        ErrorCode::CardTaken,
        ErrorCode::PhoneTaken,
        ErrorCode::CustomerMerged,
        ErrorCode::CustomerErased,
        ErrorCode::MergeNotFound,
        ErrorCode::CandidateNotFound,
        ErrorCode::CardNotFound,
        ErrorCode::CardBlocked,
        ErrorCode::MergeConflict,
        ErrorCode::AdjustmentConflict,
        ErrorCode::ExternalIdTaken,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::RateLimited,
        ErrorCode::ApiKeyNotFound,
        ErrorCode::CodeRequired,
        ErrorCode::CodeInvalid,
        ErrorCode::CodeUsed,
        ErrorCode::StaffUserNotFound,
        ErrorCode::StaffUserTaken,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::ShuttingDown,
        ErrorCode::Busy,
        ErrorCode::Internal,
    ];

    /// The code of a wire name.
    pub fn parse(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The snake_case wire form of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedJson => "malformed_json",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidQuantity => "invalid_quantity",
            ErrorCode::InvalidPhone => "invalid_phone",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::InvalidCard => "invalid_card",
            ErrorCode::InvalidTimezone => "invalid_timezone",
            ErrorCode::InvalidCurrency => "invalid_currency",
            ErrorCode::DuplicateLine => "duplicate_line",
            ErrorCode::AtInFuture => "at_in_future",
            ErrorCode::UnknownStore => "unknown_store",
            ErrorCode::UnknownCustomer => "unknown_customer",
            ErrorCode::StoreNotFound => "store_not_found",
            ErrorCode::CustomerNotFound => "customer_not_found",
            ErrorCode::ProductNotFound => "product_not_found",
            ErrorCode::PromotionNotFound => "promotion_not_found",
            ErrorCode::ReceiptNotFound => "receipt_not_found",
            ErrorCode::RouteNotFound => "route_not_found",
            ErrorCode::RedeemNeedsCustomer => "redeem_needs_customer",
            ErrorCode::RedeemExceedsLimit => "redeem_exceeds_limit",
            ErrorCode::OfflineRedemption => "offline_redemption",
            ErrorCode::InsufficientPoints => "insufficient_points",
            ErrorCode::CertificateInvalid => "certificate_invalid",
            ErrorCode::CertificateInsufficient => "certificate_insufficient",
            ErrorCode::CertificateExceedsTotal => "certificate_exceeds_total",
            ErrorCode::CouponSeriesNotFound => "coupon_series_not_found",
            ErrorCode::SegmentNotFound => "segment_not_found",
            ErrorCode::QuoteChanged => "quote_changed",
            ErrorCode::ReceiptConflict => "receipt_conflict",
            ErrorCode::ReturnConflict => "return_conflict",
            ErrorCode::ReturnExceedsPurchase => "return_exceeds_purchase",
            ErrorCode::ReceiptCancelled => "receipt_cancelled",
            ErrorCode::CardTaken => "card_taken",
            ErrorCode::PhoneTaken => "phone_taken",
            ErrorCode::CustomerMerged => "customer_merged",
            ErrorCode::CustomerErased => "customer_erased",
            ErrorCode::MergeNotFound => "merge_not_found",
            ErrorCode::CandidateNotFound => "candidate_not_found",
            ErrorCode::CardNotFound => "card_not_found",
            ErrorCode::CardBlocked => "card_blocked",
            ErrorCode::MergeConflict => "merge_conflict",
            ErrorCode::AdjustmentConflict => "adjustment_conflict",
            ErrorCode::ExternalIdTaken => "external_id_taken",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::ApiKeyNotFound => "api_key_not_found",
            ErrorCode::CodeRequired => "code_required",
            ErrorCode::CodeInvalid => "code_invalid",
            ErrorCode::CodeUsed => "code_used",
            ErrorCode::StaffUserNotFound => "staff_user_not_found",
            ErrorCode::StaffUserTaken => "staff_user_taken",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A domain error. Messages are lowercase with no final period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CoreError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
}

impl CoreError {
    /// An error not tied to one input field.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        CoreError {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// An error caused by the input field at `field` (a JSON path such as `lines[2].qty`).
    pub fn field(code: ErrorCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError {
            code,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// A generic validation error of one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        CoreError::field(ErrorCode::InvalidField, field, message)
    }

    /// Prefixes the field path, e.g. `qty` becomes `lines[2].qty`.
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = Some(match self.field {
            Some(inner) if inner.starts_with('[') => format!("{prefix}{inner}"),
            Some(inner) => format!("{prefix}.{inner}"),
            None => prefix.to_string(),
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_and_names_are_unique() {
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }
}
