//! Query strings refused with the API's error body (`invalid_field` or
//! `unknown_field`, naming the parameter) instead of axum's plain-text rejection.

use crate::error::ApiError;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tessera_core::ErrorCode;

/// A parsed query string.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(refusal(&rejection.body_text())),
        }
    }
}

/// The error of a refused query string, from serde's message, with or without the
/// parameter in front (`limit: invalid digit found in string`, `q2: unknown field
/// `q2`, expected …`).
fn refusal(text: &str) -> ApiError {
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text);
    let (name, message) = match detail.split_once(": ") {
        Some((name, message)) if !name.contains(' ') => (Some(name), message),
        _ => (None, detail),
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let unknown = rest.split('`').next().unwrap_or_default();
        return ApiError::field(ErrorCode::UnknownField, unknown, "unknown query parameter");
    }
    match name {
        Some(name) => ApiError::field(ErrorCode::InvalidField, name, message),
        None => ApiError::new(ErrorCode::InvalidField, message.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::refusal;

    #[test]
    fn refusals_name_the_parameter() {
        for text in [
            "Failed to deserialize query string: unknown field `q2`, expected `q` or `limit`",
            "Failed to deserialize query string: q2: unknown field `q2`, expected `q` or `limit`",
        ] {
            let error = refusal(text);
            assert_eq!(
                (error.code.as_str(), error.field.as_deref()),
                ("unknown_field", Some("q2"))
            );
        }
        let error =
            refusal("Failed to deserialize query string: limit: invalid digit found in string");
        assert_eq!(
            (error.code.as_str(), error.field.as_deref()),
            ("invalid_field", Some("limit"))
        );
        let error = refusal("Failed to deserialize query string: something else entirely");
        assert_eq!(
            (error.code.as_str(), error.field.as_deref()),
            ("invalid_field", None)
        );
    }
}
