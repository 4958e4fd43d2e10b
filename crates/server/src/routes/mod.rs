//! Route handlers, one file per resource.

pub mod api_keys;
pub mod audit;
pub mod catalog;
pub mod coupons;
pub mod customers;
pub mod import;
pub mod me;
pub mod merges;
pub mod privacy;
pub mod profiles;
pub mod program;
pub mod promotions;
pub mod receipts;
pub mod redeem_code;
pub mod segments;
pub mod service_desk;
pub mod staff;
pub mod timeline;

use crate::error::ApiError;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tessera_core::catalog::validate_id;

/// A stored JSON response, answered byte for byte.
pub fn stored_json(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// Checks an id taken from the path.
pub fn path_id(field: &str, id: &str) -> Result<(), ApiError> {
    validate_id(field, id).map_err(ApiError::from)
}
