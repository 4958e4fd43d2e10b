//! What happened to a customer: their receipts (with those of customers merged into
//! them), and one feed of receipts, ledger entries and history, newest first.

use crate::convert::{entry_out, receipt_out, time_out};
use crate::receipt::{ReceiptOut, VersionOut};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::cmp::Reverse;
use tessera_store::port::{StoredEntry, StoredReceipt};
use tessera_store::profile::ProfileEvent;
use utoipa::ToSchema;

/// A page of a customer's receipts, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerReceiptsOut {
    pub customer_id: String,
    /// The customers whose receipts are listed: this one and those merged into it.
    pub customer_ids: Vec<String>,
    pub receipts: Vec<ReceiptOut>,
    /// Pass as `offset` for the next page; absent on the last page.
    pub next_offset: Option<u32>,
}

/// One thing that happened to a customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TimelineItemOut {
    pub at: String,
    /// `receipt` (a commit, return or cancel), `ledger` (an entry) or `profile` (a
    /// history entry).
    #[serde(rename = "type")]
    pub item_type: String,
    /// For receipts `commit`, `return`, `cancel`; for ledger entries the entry kind;
    /// for history entries the event kind (`field`, `consent`, `merge`, …).
    pub kind: String,
    /// The customer it happened to (a merged one's receipts appear under it).
    pub customer_id: Option<String>,
    pub receipt_id: Option<String>,
    /// The details: the receipt version, the ledger entry or the history entry.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A customer's feed, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TimelineOut {
    pub customer_id: String,
    pub items: Vec<TimelineItemOut>,
}

/// A version of a receipt as answered.
pub fn version_out(version: &tessera_store::port::ReceiptVersion) -> VersionOut {
    VersionOut {
        version: version.version,
        kind: version.kind.clone(),
        op_id: version.op_id.clone(),
        at: version.at.to_rfc3339(),
        terminal_id: version.terminal_id.clone(),
        recorded_at: time_out(version.recorded_at),
        response: serde_json::from_slice(&version.response).unwrap_or(serde_json::Value::Null),
    }
}

/// A stored receipt with all its versions, as `GET /v1/receipts/{id}` answers it.
pub fn stored_receipt_out(stored: &StoredReceipt) -> ReceiptOut {
    receipt_out(
        &stored.record,
        stored.versions.iter().map(version_out).collect(),
    )
}

/// An item with what it is sorted by: the instant, then the kind of item and its
/// sequence number, so the order is the same on every read.
struct Keyed {
    at: DateTime<Utc>,
    rank: u8,
    seq: i64,
    item: TimelineItemOut,
}

/// The newest `limit` items of receipts, ledger entries and history entries.
pub fn timeline_out(
    customer_id: &str,
    receipts: &[StoredReceipt],
    entries: &[StoredEntry],
    events: &[ProfileEvent],
    limit: usize,
) -> TimelineOut {
    let mut keyed = Vec::new();
    for receipt in receipts {
        let record = &receipt.record;
        for version in &receipt.versions {
            let at = version.at.with_timezone(&Utc);
            let mut detail = json!({
                "version": version.version,
                "op_id": version.op_id,
                "store_id": record.store_id,
                "terminal_id": version.terminal_id,
            });
            if version.kind == "commit" {
                detail["to_pay"] = json!(record.calculation.totals.to_pay);
                detail["points_earned"] = json!(record.calculation.points_earned);
                detail["points_redeemed"] = json!(record.calculation.points_redeemed);
            }
            keyed.push(Keyed {
                at,
                rank: 0,
                seq: i64::from(version.version),
                item: TimelineItemOut {
                    at: time_out(at),
                    item_type: "receipt".into(),
                    kind: version.kind.clone(),
                    customer_id: record.customer_id.clone(),
                    receipt_id: Some(record.receipt_id.clone()),
                    detail,
                },
            });
        }
    }
    for stored in entries {
        let entry = &stored.entry;
        keyed.push(Keyed {
            at: entry.at,
            rank: 1,
            seq: stored.entry_id,
            item: TimelineItemOut {
                at: time_out(entry.at),
                item_type: "ledger".into(),
                kind: entry.kind.as_str().to_string(),
                customer_id: Some(entry.customer_id.clone()),
                receipt_id: entry.receipt_id.clone(),
                detail: serde_json::to_value(entry_out(stored.entry_id, entry))
                    .unwrap_or(serde_json::Value::Null),
            },
        });
    }
    for event in events {
        keyed.push(Keyed {
            at: event.at,
            rank: 2,
            seq: event.event_id,
            item: TimelineItemOut {
                at: time_out(event.at),
                item_type: "profile".into(),
                kind: event.kind.clone(),
                customer_id: Some(event.customer_id.clone()),
                receipt_id: None,
                detail: json!({
                    "event_id": event.event_id,
                    "source": event.source,
                    "actor": event.actor,
                    "detail": event.detail,
                }),
            },
        });
    }
    keyed.sort_by_key(|k| Reverse((k.at, k.rank, k.seq)));
    keyed.truncate(limit);
    TimelineOut {
        customer_id: customer_id.to_string(),
        items: keyed.into_iter().map(|k| k.item).collect(),
    }
}
