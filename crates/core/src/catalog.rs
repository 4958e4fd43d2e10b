//! Stores and products: the catalogue the receipt engine prices against.

use crate::error::{CoreError, ErrorCode};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A store of the chain, with the IANA time zone its promotions run in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Store {
    pub store_id: String,
    pub name: String,
    pub timezone: String,
    pub region: Option<String>,
    pub tags: Vec<String>,
}

impl Store {
    /// Checks the fields and returns the store's parsed time zone.
    pub fn validate(&self) -> Result<Tz, CoreError> {
        validate_id("store_id", &self.store_id)?;
        validate_name("name", &self.name)?;
        validate_tags(&self.tags)?;
        self.tz()
    }

    /// The store's time zone.
    pub fn tz(&self) -> Result<Tz, CoreError> {
        self.timezone.parse::<Tz>().map_err(|_| {
            CoreError::field(
                ErrorCode::InvalidTimezone,
                "timezone",
                format!("unknown IANA time zone {:?}", self.timezone),
            )
        })
    }
}

/// A catalogue product, looked up by SKU when a receipt is priced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub tags: Vec<String>,
    pub no_points_payment: bool,
}

impl Product {
    /// Checks the fields.
    pub fn validate(&self) -> Result<(), CoreError> {
        validate_id("sku", &self.sku)?;
        validate_name("name", &self.name)?;
        validate_tags(&self.tags)
    }
}

/// Ids (store ids, SKUs, promotion ids, receipt ids) are 1 to 64 printable characters
/// without spaces or slashes, so they are safe in URL paths.
pub fn validate_id(field: &str, id: &str) -> Result<(), CoreError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '/' && c != '?' && c != '#' && c != '%');
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            field,
            "must be 1 to 64 printable ASCII characters without '/', '?', '#' or '%'",
        ))
    }
}

/// Names are non-blank and at most 200 characters.
pub fn validate_name(field: &str, name: &str) -> Result<(), CoreError> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(CoreError::invalid(
            field,
            "must be non-blank and at most 200 characters",
        ));
    }
    Ok(())
}

fn validate_tags(tags: &[String]) -> Result<(), CoreError> {
    for (idx, tag) in tags.iter().enumerate() {
        if tag.trim().is_empty() || tag.len() > 64 {
            return Err(CoreError::invalid(
                format!("tags[{idx}]"),
                "must be 1 to 64 characters",
            ));
        }
    }
    Ok(())
}
