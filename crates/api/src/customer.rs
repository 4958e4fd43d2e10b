//! Customers, balances and ledger entries.

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
}

/// The id of a created customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerCreated {
    pub customer_id: String,
}

/// A customer with their current balance.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerOut {
    pub customer_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub cards: Vec<CardOut>,
    pub created_at: String,
    pub balance: BalanceSummary,
    /// The segments the customer is a member of.
    pub segments: Vec<String>,
    /// The tier a promotion's `set_tier` gave, while it holds.
    pub tier: Option<CustomerTierOut>,
    /// Entitlements promotions granted (revoked ones left out).
    pub entitlements: Vec<EntitlementHeldOut>,
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
    /// `earn`, `mature`, `redeem`, `redeem_refund`, `earn_reversal`, `expire`.
    pub kind: String,
    pub debit: String,
    pub credit: String,
    pub amount: i64,
    pub lot_id: Option<String>,
    pub receipt_id: Option<String>,
    pub op_id: Option<String>,
    pub at: String,
}
