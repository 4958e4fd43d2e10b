//! Signing in (customers by phone and a one-time code, staff by password), the
//! customer's own account, redemption codes, and staff users on the wire.

use crate::profile_patch::ConsentIn;
use crate::receipt::CustomerRefBody;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A customer asks for a sign-in code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The phone the customer is registered with, in any usual format.
    pub phone: String,
}

/// A code was sent, if the phone belongs to a customer (the answer is the same either
/// way, so that it tells nobody who is a member).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CodeSentOut {
    /// Seconds the code stays valid.
    pub expires_in: i64,
}

/// A customer signs in with the code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub phone: String,
    pub code: String,
}

/// A session token: `Authorization: Bearer <token>`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenOut {
    pub token: String,
    pub expires_at: String,
    /// The customer's id (customer tokens) or the role (staff tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// The code the app shows (as a barcode) for the till to spend points with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RedeemCodeOut {
    pub code: String,
    /// When this code's 30-second step ends; the till accepts it one step longer.
    pub expires_at: String,
    pub step_seconds: i64,
}

/// Consents the customer gives or withdraws, effective at once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentsBody {
    pub consents: Vec<ConsentIn>,
}

/// A coupon code a receipt issued to the customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyCouponOut {
    pub code: String,
    pub series_id: String,
    pub promotion_id: String,
    pub valid_until: Option<String>,
    /// `active`, `used`, `expired` or `revoked`.
    pub status: String,
}

/// A gift certificate a receipt issued to the customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyCertificateOut {
    pub code: String,
    pub amount: i64,
    pub balance: i64,
    pub valid_until: Option<String>,
    /// `active`, `spent`, `expired` or `revoked`.
    pub status: String,
}

/// The customer's coupons and certificates, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MyCouponsOut {
    pub coupons: Vec<MyCouponOut>,
    pub certificates: Vec<MyCertificateOut>,
}

/// The till asks for a redemption code sent to the customer's phone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRedeemCodeBody {
    pub customer: CustomerRefBody,
}

/// Where the code went.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RedeemCodeSentOut {
    /// The phone, masked (`+7916***4567`).
    pub sent_to: String,
    pub expires_at: String,
}

/// A staff member signs in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffLoginBody {
    pub username: String,
    pub password: String,
}

/// A new staff user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffUserBody {
    /// 3 to 64 lower-case letters, digits, `.`, `_` or `-`.
    pub username: String,
    /// `admin`, `marketer`, `service` or `auditor`.
    pub role: String,
    /// At least 12 characters.
    pub password: String,
}

/// Changes to a staff user; all optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffUserPatch {
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// `true` disables the user and ends their sessions; `false` enables them again.
    #[serde(default)]
    pub disabled: Option<bool>,
}

/// A staff user as listed: never the password hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StaffUserOut {
    pub username: String,
    pub role: String,
    pub created_at: String,
    pub disabled_at: Option<String>,
    /// Set while wrong passwords have locked the user out.
    pub locked_until: Option<String>,
}

/// Every staff user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StaffUserList {
    pub users: Vec<StaffUserOut>,
}
