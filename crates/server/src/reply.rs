//! A JSON answer written with compact_json: the bytes axum's `Json` would send (they
//! are serde_json's), in two thirds of the time, for the answers every till waits on.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::compact_json;

/// An answer serialised as compact JSON, with `content-type: application/json`.
pub struct Reply<T>(pub T);

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        match compact_json::to_vec(&self.0) {
            Ok(bytes) => crate::routes::stored_json(bytes),
            // As axum's `Json` answers a value it cannot serialise (none of ours: their
            // maps have string keys).
            Err(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                )],
                error.to_string(),
            )
                .into_response(),
        }
    }
}
