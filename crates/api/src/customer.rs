//! Customers, balances and ledger entries.

use crate::profile::{ConsentOut, ExternalIdOut, FieldSourceOut, HistoryEventOut, RegistrationOut};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new customer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerBody {
    #[serde(default)]
    pub name: Option<String>,
    /// International number, any common format: `+7 916 123-45-67`.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Card numbers (plastic cards), or `{"number", "type"}` with `type` one of
    /// `plastic`, `virtual`, `family`, `social`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub cards: Vec<serde_json::Value>,
}

/// A loyalty card.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CardOut {
    pub number: String,
    /// `plastic`, `virtual`, `family` or `social`.
    #[serde(rename = "type")]
    pub card_type: String,
    /// `active`; `blocked` (lost or stolen) or `replaced`: a till presenting it is
    /// refused with `card_blocked`.
    pub status: String,
}

/// The id of a created customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerCreated {
    pub customer_id: String,
}

/// A customer: the profile with its identifiers, cards and consents, and the current
/// balance, tier and segments. A merged customer answers too, with `status: merged`
/// and `merged_into`; an erased one keeps only its id, dates and points.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerOut {
    pub customer_id: String,
    /// `active`, `merged` or `erased`.
    pub status: String,
    /// The customer this one was merged into (when `status` is `merged`).
    pub merged_into: Option<String>,
    /// The name to show: the name parts joined, or the name given at registration.
    pub name: Option<String>,
    pub first_name: Option<String>,
    /// The patronymic, where there is one.
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    /// `female` or `male`.
    pub gender: Option<String>,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    pub city: Option<String>,
    /// A language tag such as `ru` or `en-GB`.
    pub language: Option<String>,
    pub home_store: Option<String>,
    /// Custom attributes, by key.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The first phone (E.164).
    pub phone: Option<String>,
    /// The first email.
    pub email: Option<String>,
    /// Every phone, oldest first.
    pub phones: Vec<String>,
    /// Every email, oldest first.
    pub emails: Vec<String>,
    /// The customer's ids in other systems.
    pub external_ids: Vec<ExternalIdOut>,
    pub cards: Vec<CardOut>,
    /// The consent in force per channel (`email`, `sms`, `push`, `viber`, `telegram`).
    pub consents: std::collections::BTreeMap<String, ConsentOut>,
    pub registration: Option<RegistrationOut>,
    pub created_at: String,
    pub updated_at: String,
    pub balance: BalanceSummary,
    /// The segments the customer is a member of.
    pub segments: Vec<String>,
    /// The tier a promotion's `set_tier` gave, while it holds.
    pub tier: Option<CustomerTierOut>,
    /// Entitlements promotions granted (revoked ones left out).
    pub entitlements: Vec<EntitlementHeldOut>,
    /// With earned tiers: the tier promotions see now, the level held by
    /// qualification lifted by a `set_tier` grant in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_tier: Option<String>,
    /// With earned tiers: the level held by qualification now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earned_tier: Option<crate::tier::EarnedTierOut>,
    /// With earned tiers, below the top level: how far the next level is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_progress: Option<crate::tier::TierProgressOut>,
    /// With earned tiers: when the level held next changes if nothing is bought or
    /// returned (RFC 3339); absent if it never would.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_reevaluate_at: Option<String>,
    /// With `?history=true`: when and from which source each set field was set, by
    /// field name (`first_name`, `attributes.<key>`, `name` for the registration name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_sources: Option<std::collections::BTreeMap<String, FieldSourceOut>>,
    /// With `?history=true`: the customer's history, oldest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryEventOut>>,
}

/// A customer's current tier.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerTierOut {
    pub tier: String,
    /// RFC 3339; null: until another tier is set.
    pub until: Option<String>,
    pub granted_at: String,
    pub promotion_id: Option<String>,
}

/// An entitlement a customer holds.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntitlementHeldOut {
    pub entitlement: String,
    pub granted_at: String,
    pub promotion_id: Option<String>,
    pub receipt_id: Option<String>,
}

/// Available and pending points.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BalanceSummary {
    pub available: i64,
    pub pending: i64,
}

/// A customer's balance at an instant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BalanceOut {
    pub customer_id: String,
    /// The instant the balance is computed for.
    pub at: String,
    pub available: i64,
    pub pending: i64,
    /// Upcoming expiries, soonest first.
    pub expiring: Vec<Expiring>,
}

/// Points that expire at an instant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Expiring {
    pub points: i64,
    pub at: String,
}

/// A page of a customer's ledger entries, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LedgerOut {
    pub customer_id: String,
    pub entries: Vec<EntryOut>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// One ledger entry: `amount` points move from `debit` to `credit`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryOut {
    pub entry_id: i64,
    /// `earn`, `mature`, `redeem`, `redeem_refund`, `earn_reversal`, `expire`, `adjust`,
    /// `transfer_out`, `transfer_in`.
    pub kind: String,
    pub debit: String,
    pub credit: String,
    pub amount: i64,
    pub lot_id: Option<String>,
    pub receipt_id: Option<String>,
    pub op_id: Option<String>,
    pub at: String,
}
