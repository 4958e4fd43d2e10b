//! Program settings: currency, the value of a point, pending and expiry periods.

use crate::error::{CoreError, ErrorCode};
use crate::money::Money;
use serde::{Deserialize, Serialize};

/// The loyalty program's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// ISO 4217 code of the currency all money amounts are in.
    pub currency: String,
    /// Minor units one point is worth when paying with points.
    pub point_value: Money,
    /// Days earned points stay pending (the return window).
    pub pending_days: u32,
    /// Days points stay available before they expire; 0 means never.
    pub expiry_days: u32,
    /// The most of a receipt's to-pay amount points may pay, in percent.
    pub max_redeem_percent: u32,
    /// Profile fields the till asks the customer for when missing or older than
    /// their age (`profile_requests` in the calculation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_fields: Vec<crate::profile::RequiredField>,
    /// Spending points needs a one-time code (the app's TOTP or one sent by SMS);
    /// the static card number alone only earns.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub redeem_requires_code: bool,
    /// Status levels earned by a rolling sum of spend or points; none: no earned tiers
    /// (a promotion's `set_tier` grant is then the only tier a customer has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<crate::tier::TierProgram>,
}

impl Default for Program {
    fn default() -> Self {
        Program {
            currency: "USD".to_string(),
            point_value: 100,
            pending_days: 14,
            expiry_days: 0,
            max_redeem_percent: 100,
            required_fields: Vec::new(),
            redeem_requires_code: false,
            tiers: None,
        }
    }
}

impl Program {
    /// Checks the settings.
    pub fn validate(&self) -> Result<(), CoreError> {
        let currency_ok =
            self.currency.len() == 3 && self.currency.chars().all(|c| c.is_ascii_uppercase());
        if !currency_ok {
            return Err(CoreError::field(
                ErrorCode::InvalidCurrency,
                "currency",
                "must be a three-letter upper-case ISO 4217 code such as \"RUB\"",
            ));
        }
        if !(1..=1_000_000_000).contains(&self.point_value) {
            return Err(CoreError::invalid(
                "point_value",
                "must be between 1 and 1000000000 minor units",
            ));
        }
        if self.pending_days > 3650 {
            return Err(CoreError::invalid("pending_days", "must be at most 3650"));
        }
        if self.expiry_days > 36500 {
            return Err(CoreError::invalid("expiry_days", "must be at most 36500"));
        }
        if self.max_redeem_percent > 100 {
            return Err(CoreError::invalid(
                "max_redeem_percent",
                "must be between 0 and 100",
            ));
        }
        crate::profile::validate_required_fields(&self.required_fields)?;
        if let Some(tiers) = &self.tiers {
            tiers.validate().map_err(|e| e.within("tiers"))?;
        }
        Ok(())
    }
}
