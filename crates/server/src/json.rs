//! Request bodies: strict JSON with errors that name the field, and a canonical hash
//! of the body for idempotency checks.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tessera_core::ErrorCode;

/// The largest body accepted (a receipt of 1000 lines fits many times over).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// A parsed JSON body and the hash of its canonical form (keys sorted, no spaces), so
/// that a retry that re-serialises the same data hashes the same.
pub struct Body<T> {
    pub value: T,
    pub hash: String,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|_| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the body is over {MAX_BODY_BYTES} bytes or unreadable"),
            )
        })?;
        parse(&bytes)
    }
}

/// Parses a body; an empty body reads as `{}`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<Body<T>, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    let canonical = serde_json::to_vec(&value).unwrap_or_default();
    let hash = hex(&Sha256::digest(&canonical));
    let typed = serde_path_to_error::deserialize::<_, T>(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner().to_string();
        let (code, field) = if let Some(rest) = inner.strip_prefix("unknown field `") {
            let name = rest.split('`').next().unwrap_or_default();
            (ErrorCode::UnknownField, join(&path, name))
        } else if let Some(rest) = inner.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or_default();
            (ErrorCode::MissingField, join(&path, name))
        } else {
            (ErrorCode::InvalidField, path)
        };
        let message = inner
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string();
        ApiError::field(code, field, message)
    })?;
    Ok(Body { value: typed, hash })
}

fn join(path: &str, name: &str) -> String {
    if path == name || path.ends_with(&format!(".{name}")) {
        path.to_string()
    } else if path.is_empty() || path == "." {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
