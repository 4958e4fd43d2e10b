//! Privacy: everything held about a person as one document (the right of access), for
//! an erased customer what is left under the pseudonymous id.

use crate::convert::time_out;
use crate::customer::{CustomerOut, EntryOut};
use crate::merge::MergeOut;
use crate::receipt::ReceiptOut;
use serde::{Deserialize, Serialize};
use tessera_core::reward::Grant;
use utoipa::ToSchema;

/// A tier or entitlement a promotion granted, revoked ones included.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantOut {
    /// `tier` or `entitlement`.
    pub kind: String,
    pub value: String,
    pub promotion_id: Option<String>,
    pub receipt_id: Option<String>,
    pub granted_at: String,
    pub until: Option<String>,
    pub revoked: bool,
}

/// Everything Tessera holds about a customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExportOut {
    pub exported_at: String,
    /// The profile with field sources and the whole history, the balance, tier,
    /// entitlements and segments.
    pub customer: CustomerOut,
    /// Every ledger entry, oldest first.
    pub ledger_entries: Vec<EntryOut>,
    /// Every receipt with its versions, of the customer and of those merged into
    /// them, newest first.
    pub receipts: Vec<ReceiptOut>,
    /// The merges into the customer that are in force.
    pub merges: Vec<MergeOut>,
    /// Every tier and entitlement grant.
    pub grants: Vec<GrantOut>,
}

pub fn grant_out(grant: &Grant) -> GrantOut {
    GrantOut {
        kind: grant.kind.as_str().to_string(),
        value: grant.value.clone(),
        promotion_id: grant.promotion_id.clone(),
        receipt_id: grant.receipt_id.clone(),
        granted_at: time_out(grant.granted_at),
        until: grant.until.map(time_out),
        revoked: grant.revoked,
    }
}
