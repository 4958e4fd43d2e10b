//! Rewards a receipt gives besides discounts and earned points: bonus points, coupon
//! codes, gift certificates, a tier and entitlements. The engine decides them; the
//! commit makes them (codes, lots, grants) and records what it made on the receipt, so
//! that a cancel or a full return can take them back.

use crate::money::{Money, Points};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A reward a promotion gives on this receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reward {
    pub promotion_id: String,
    pub kind: RewardKind,
}

/// What the reward is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RewardKind {
    BonusPoints {
        points: Points,
        expires_in_days: Option<u32>,
    },
    Coupon {
        series: String,
        valid_days: Option<u32>,
    },
    Certificate {
        amount: Money,
        valid_days: Option<u32>,
    },
    Tier {
        tier: String,
        days: Option<u32>,
    },
    Entitlement {
        entitlement: String,
    },
}

/// A coupon code a committed receipt issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCoupon {
    pub promotion_id: String,
    /// As shown to the customer: `XXXX-XXXX-XXXX-XXXX`.
    pub code: String,
    pub series_id: String,
    pub valid_until: Option<DateTime<Utc>>,
}

/// A gift certificate a committed receipt issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCertificate {
    pub promotion_id: String,
    pub code: String,
    pub amount: Money,
    pub valid_until: Option<DateTime<Utc>>,
}

/// A certificate that paid for part of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificatePayment {
    /// Normalised: upper-case, without separators.
    pub code: String,
    pub amount: Money,
}

/// A gift certificate as stored: stored money value, separate from points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub code: String,
    pub amount: Money,
    /// What is left to spend.
    pub balance: Money,
    pub customer_id: Option<String>,
    pub issued_by: Option<String>,
    pub valid_until: Option<DateTime<Utc>>,
    /// Set when the receipt that issued it was cancelled or fully returned.
    pub revoked: bool,
}

impl Certificate {
    /// What the certificate can pay at `at`, or why it cannot pay at all
    /// (`revoked`, `expired`).
    pub fn spendable(&self, at: DateTime<Utc>) -> Result<Money, &'static str> {
        if self.revoked {
            Err("revoked")
        } else if self.valid_until.is_some_and(|until| at >= until) {
            Err("expired")
        } else {
            Ok(self.balance)
        }
    }
}

/// What a committed receipt made of its rewards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issued {
    pub coupons: Vec<IssuedCoupon>,
    pub certificates: Vec<IssuedCertificate>,
    /// The lots holding the receipt's bonus points, with their points.
    pub bonus_lots: Vec<(String, Points)>,
}

/// What a grant gives a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantKind {
    Tier,
    Entitlement,
}

impl GrantKind {
    /// The stored name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantKind::Tier => "tier",
            GrantKind::Entitlement => "entitlement",
        }
    }
}

/// A tier or an entitlement given to a customer, by a receipt's promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub customer_id: String,
    pub kind: GrantKind,
    pub value: String,
    pub promotion_id: Option<String>,
    pub receipt_id: Option<String>,
    pub granted_at: DateTime<Utc>,
    /// When it lapses; `None`: until replaced (a tier) or for good (an entitlement).
    pub until: Option<DateTime<Utc>>,
    /// Set when the receipt that gave it was cancelled or fully returned.
    pub revoked: bool,
}
