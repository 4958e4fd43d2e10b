//! The POS flow: calculate, commit, return, cancel.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A receipt sent by a till.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    /// Chosen by the till, unique in the program: the idempotency key.
    pub receipt_id: String,
    pub store_id: String,
    pub terminal_id: String,
    /// RFC 3339 with offset.
    pub at: String,
    #[serde(default)]
    pub customer: Option<CustomerRefBody>,
    pub lines: Vec<LineBody>,
    /// 0, a number of points, or `"max"`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub redeem_points: Option<serde_json::Value>,
    /// Coupon codes the customer presents.
    #[serde(default)]
    pub coupons: Vec<String>,
    /// Gift certificates paying for part of the receipt, after points.
    #[serde(default)]
    pub certificates: Vec<CertificatePaymentBody>,
    /// Commit only: the to-pay amount the till showed; a different fresh amount is
    /// `quote_changed` and nothing is written.
    #[serde(default)]
    pub expect: Option<ExpectBody>,
    /// Commit only (ignored by calculate): what the customer told the cashier, as in
    /// `PATCH /v1/customers/{id}` (`profile_requests` of the calculation say what to
    /// ask for). Written as source `pos` with the store and terminal, before the
    /// receipt, so a `profile_completed` promotion sees it.
    #[serde(default)]
    pub profile_update: Option<crate::profile_patch::ProfilePatchBody>,
}

/// Receipts a till made while Tessera was unreachable, sent when it is back.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineBody {
    /// 1 to 500 receipts, each exactly as it would be sent to `/v1/receipts/commit`
    /// (with its own `at`), without `redeem_points` or `certificates`.
    #[schema(value_type = Vec<ReceiptBody>)]
    pub receipts: Vec<serde_json::Value>,
}

/// What became of each offline receipt, in the order sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OfflineOut {
    pub results: Vec<OfflineResultOut>,
}

/// One offline receipt: committed (its commit response), or refused (its error).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OfflineResultOut {
    pub receipt_id: Option<String>,
    /// The HTTP status `/v1/receipts/commit` would have answered.
    pub status: u16,
    #[schema(value_type = Option<CalculationOut>)]
    pub receipt: Option<serde_json::Value>,
    pub error: Option<crate::ErrorDetail>,
}

/// A gift certificate paying `amount` of the receipt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificatePaymentBody {
    /// As printed (`XXXX-XXXX-XXXX-XXXX`; case and dashes do not matter).
    pub code: String,
    pub amount: i64,
}

/// Exactly one identifier of the customer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRefBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// The one-time code the customer's app shows (or one sent by SMS), needed to
    /// spend points when the program sets `redeem_requires_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The amount the till expects.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectBody {
    pub to_pay: i64,
}

/// One line as the till sends it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    pub line: u32,
    pub sku: String,
    /// At most 3 decimals (weighed goods: 0.532).
    #[schema(value_type = f64)]
    pub qty: serde_json::Number,
    /// Unit price in minor units.
    pub price: i64,
}

/// A priced receipt (calculate) or a committed one (commit).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CalculationOut {
    pub receipt_id: String,
    /// `calculated` or `committed`.
    pub status: String,
    /// 1 for a commit; absent for a calculation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    pub customer_id: Option<String>,
    /// True when the receipt's card was unknown and registered a new member.
    pub new_member: bool,
    pub lines: Vec<LineOut>,
    pub totals: TotalsOut,
    pub rewards: RewardsOut,
    /// Profile fields the till should ask the customer for (the program's
    /// `required_fields` that are missing or stale); calculate only.
    pub profile_requests: Vec<ProfileRequestOut>,
    pub cross_sell: Vec<serde_json::Value>,
    pub promotions: Vec<AppliedPromotionOut>,
    /// Candidate promotions that did not apply, and why.
    pub not_applied: Vec<NotAppliedOut>,
    /// The customer's balance once the receipt is committed.
    pub balance: Option<BalanceAfterOut>,
    /// Messages for the cashier's screen.
    pub messages: Vec<String>,
    /// Messages to print on the receipt.
    pub receipt_messages: Vec<String>,
    /// Every coupon code the receipt carried: `applied`, or `rejected` with a reason.
    pub coupons: Vec<CouponOut>,
}

/// What became of a coupon code.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CouponOut {
    pub code: String,
    /// `applied` or `rejected`.
    pub status: String,
    /// `unknown`, `not_yet_valid`, `expired`, `used`, `revoked` or `not_applicable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A priced line: `amount - discount - points_paid - certificate_paid = total`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineOut {
    pub line: u32,
    pub sku: String,
    #[schema(value_type = f64)]
    pub qty: serde_json::Number,
    pub price: i64,
    pub amount: i64,
    pub discount: i64,
    /// Money value of the points that pay for this line.
    pub points_paid: i64,
    /// Points that pay for this line.
    pub points_redeemed: i64,
    /// Gift certificate money that pays for this line.
    pub certificate_paid: i64,
    pub total: i64,
    pub points_earned: i64,
    pub promotions: Vec<String>,
    /// Set on a line a promotion added (a gift, extra units at price 0): print it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
}

/// Receipt totals: the sums of the lines.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TotalsOut {
    pub amount: i64,
    pub discount: i64,
    pub points_value: i64,
    /// Paid with gift certificates.
    pub certificates: i64,
    pub to_pay: i64,
}

/// What the customer gets and spends.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RewardsOut {
    pub points_earned: i64,
    pub points_redeemed: i64,
    pub points_value: i64,
    /// Gift points of `bonus_points` effects, with an expiry of their own.
    pub bonus_points: i64,
    /// Coupon codes issued (`issue_coupon`); `code` is set once committed.
    pub coupons_issued: Vec<CouponIssuedOut>,
    /// Gift certificates issued (`issue_certificate`); `code` is set once committed.
    pub certificates_issued: Vec<CertificateIssuedOut>,
    /// The tier a `set_tier` effect gives.
    pub tier: Option<TierOut>,
    /// Entitlements a `grant` effect gives.
    pub entitlements: Vec<EntitlementOut>,
}

/// A coupon code a receipt issues: a deferred discount for a later purchase.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CouponIssuedOut {
    pub promotion_id: String,
    pub series: String,
    /// `XXXX-XXXX-XXXX-XXXX`; null on calculate.
    pub code: Option<String>,
    pub valid_days: Option<u32>,
    /// RFC 3339; null on calculate or when only the series' window bounds it.
    pub valid_until: Option<String>,
}

/// A gift certificate a receipt issues.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CertificateIssuedOut {
    pub promotion_id: String,
    /// `XXXX-XXXX-XXXX-XXXX`; null on calculate.
    pub code: Option<String>,
    pub amount: i64,
    pub valid_days: Option<u32>,
    pub valid_until: Option<String>,
}

/// A tier given by a promotion.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TierOut {
    pub promotion_id: String,
    pub tier: String,
    /// Days it holds; null: until another tier is set.
    pub days: Option<u32>,
}

/// An entitlement given by a promotion.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntitlementOut {
    pub promotion_id: String,
    pub entitlement: String,
}

/// A promotion's effect on the receipt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AppliedPromotionOut {
    pub promotion_id: String,
    pub name: String,
    pub effect: String,
    pub discount: i64,
    pub points: i64,
}

/// A candidate promotion that did not apply.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotAppliedOut {
    pub promotion_id: String,
    /// `limit_reached`, `lost_in_group`, `blocked_by`, `exclusive_after_others`,
    /// `no_effect` or `coupon_invalid`.
    pub reason: String,
    /// The promotion that caused it, when one did.
    pub by: Option<String>,
}

/// [`NotAppliedOut`] borrowed from the calculation: the same JSON, without a copy of
/// every candidate's strings (a receipt can list a hundred).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct NotAppliedRef<'a> {
    pub promotion_id: &'a str,
    pub reason: &'a str,
    pub by: Option<&'a str>,
}

impl<'a> From<&'a tessera_core::pricing::NotApplied> for NotAppliedRef<'a> {
    fn from(n: &'a tessera_core::pricing::NotApplied) -> NotAppliedRef<'a> {
        NotAppliedRef {
            promotion_id: &n.promotion_id,
            reason: n.reason.as_str(),
            by: n.by.as_deref(),
        }
    }
}

/// Balance after the receipt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BalanceAfterOut {
    pub available: i64,
    pub pending: i64,
}

/// `quote_changed`: the error and the fresh calculation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuoteChangedOut {
    pub error: crate::ErrorDetail,
    pub calculation: CalculationOut,
}

/// Return some units of a committed receipt.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnBody {
    /// Chosen by the till, unique in the program: the idempotency key.
    pub return_id: String,
    /// RFC 3339 with offset.
    pub at: String,
    #[serde(default)]
    pub terminal_id: Option<String>,
    pub lines: Vec<ReturnLineBody>,
}

/// Units of one line to return.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineBody {
    pub line: u32,
    #[schema(value_type = f64)]
    pub qty: serde_json::Number,
}

/// Cancel a receipt; the body is optional.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub terminal_id: Option<String>,
}

/// What a return or cancel gave back.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReturnOut {
    pub receipt_id: String,
    /// Absent for a cancel.
    pub return_id: Option<String>,
    /// The receipt's new version.
    pub version: u32,
    /// The receipt's status after it.
    pub status: String,
    pub lines: Vec<ReturnedLineOut>,
    /// Money to give back to the customer.
    pub refund_money: i64,
    /// Points that paid for the returned units, given back.
    pub points_refunded: i64,
    /// Points the returned units earned, taken back.
    pub points_reversed: i64,
    /// Gift certificate money given back to the certificates that paid.
    pub certificate_refund: i64,
    pub balance: Option<BalanceAfterOut>,
}

/// What one returned line gives back.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReturnedLineOut {
    pub line: u32,
    #[schema(value_type = f64)]
    pub qty: serde_json::Number,
    pub refund_money: i64,
    pub discount: i64,
    pub points_refunded: i64,
    pub points_reversed: i64,
    pub certificate_refund: i64,
}

/// A receipt with all its versions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptOut {
    pub receipt_id: String,
    pub store_id: String,
    pub terminal_id: String,
    pub at: String,
    pub customer_id: Option<String>,
    pub status: String,
    pub version: u32,
    pub lines: Vec<ReceiptLineOut>,
    pub totals: TotalsOut,
    pub points_earned: i64,
    pub points_redeemed: i64,
    /// What the commit gave besides discounts, with the codes it issued.
    pub rewards: RewardsOut,
    pub versions: Vec<VersionOut>,
}

/// A committed line with how much of it was returned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptLineOut {
    #[serde(flatten)]
    pub line: LineOut,
    #[schema(value_type = f64)]
    pub returned_qty: serde_json::Number,
}

/// One version of a receipt: what changed, when, by which terminal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionOut {
    pub version: u32,
    /// `commit`, `return` or `cancel`.
    pub kind: String,
    pub op_id: String,
    pub at: String,
    pub terminal_id: Option<String>,
    pub recorded_at: String,
    /// The response this version was answered with.
    #[schema(value_type = Object)]
    pub response: serde_json::Value,
}

/// A profile field to ask the customer for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProfileRequestOut {
    /// `email`, `phone`, `birthday`, `first_name`, … as in `required_fields`.
    pub field: String,
    /// `missing` or `expired` (set longer ago than its `max_age_days`).
    pub reason: String,
}
