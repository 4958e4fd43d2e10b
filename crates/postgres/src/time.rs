//! Timestamps are stored as text in UTC with a fixed width, so text order is time order.

use chrono::{DateTime, FixedOffset, Utc};
use tessera_store::StoreError;

/// The stored form of an instant.
pub fn ts(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses a stored instant.
pub fn parse_ts(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(StoreError::backend)
}

/// Parses a stored offset date-time (kept with the offset the till sent).
pub fn parse_offset(text: &str) -> Result<DateTime<FixedOffset>, StoreError> {
    DateTime::parse_from_rfc3339(text).map_err(StoreError::backend)
}
