//! Errors of the storage layer.

use tessera_core::pricing::Calculation;
use tessera_core::{CoreError, ErrorCode};

/// What can go wrong in a store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A business rule refused the operation; nothing was written.
    #[error(transparent)]
    Domain(#[from] CoreError),
    /// The till's expected amount differs from the fresh calculation; nothing was written.
    #[error("quote changed: the receipt now costs {}", .0.totals.to_pay)]
    QuoteChanged(Box<Calculation>),
    /// The store is shutting down and takes no more writes.
    #[error("the store is shutting down")]
    ShuttingDown,
    /// A concurrent write got in the way (a serialization failure, a deadlock, or a
    /// row another transaction inserted first). Nothing was written; running the whole
    /// operation again gives a fresh answer, which adapters do a few times before
    /// giving up with this error.
    #[error("concurrent write: {0}")]
    Contention(String),
    /// The database failed.
    #[error("database error: {0}")]
    Backend(String),
}

impl StoreError {
    /// A business error with a code and message.
    pub fn domain(code: ErrorCode, message: impl Into<String>) -> Self {
        StoreError::Domain(CoreError::new(code, message))
    }

    /// A refusal that is remembered for retries of the same body: the write has
    /// stored that remembrance and nothing else, so its transaction is committed, not
    /// rolled back (see [`crate::service::REMEMBERED_REFUSALS`]).
    pub fn keeps_its_write(&self) -> bool {
        matches!(self, StoreError::Domain(error)
            if crate::service::REMEMBERED_REFUSALS.contains(&error.code))
    }

    /// The business error's code, if it is one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            StoreError::Domain(error) => Some(error.code),
            _ => None,
        }
    }

    /// A database failure.
    pub fn backend(error: impl std::fmt::Display) -> Self {
        StoreError::Backend(error.to_string())
    }
}
