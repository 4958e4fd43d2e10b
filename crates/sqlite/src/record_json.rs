//! A receipt record's JSON, with the bulk of it rendered ahead.
//!
//! Most of a record's bytes are its calculation's lines, totals and promotions. When a
//! commit reuses its quote, that calculation is the quote's, so [`piece`] renders
//! those fields (and `packed::block` compresses them) on the request's thread before
//! the write is queued, and [`render`] splices them into the record on the writer's
//! thread. The bytes are those of `compact_json::to_vec(record)`: the parts below list
//! every field of `ReceiptRecord` and `Calculation` in their order. A field added to
//! either makes the bytes differ, which the test below and a debug check on every
//! record written (so every test that commits) report.

use serde::Serialize;
use std::ops::Range;
use tessera_core::compact_json;
use tessera_core::pricing::{Calculation, Totals};
use tessera_core::refund::ReceiptRecord;
use tessera_store::{StoreError, StoreResult};

/// A record's JSON, and where the piece spliced into it lies.
pub type Rendered = (Vec<u8>, Option<Range<usize>>);

/// The calculation's leading fields (`"lines":...` to `"promotions":[...]`), without
/// braces: the piece [`render`] splices in.
pub fn piece(calculation: &Calculation) -> StoreResult<Vec<u8>> {
    let mut bytes = Vec::with_capacity(8 * 1024);
    let range = fields(&mut bytes, &lead(calculation))?;
    bytes.truncate(range.end);
    bytes.drain(..range.start);
    Ok(bytes)
}

/// The record's JSON, and where `piece` (made by [`piece`] of this record's
/// calculation) lies in it; without a piece, rendered whole.
pub fn render(record: &ReceiptRecord, piece: Option<&[u8]>) -> StoreResult<Rendered> {
    let Some(piece) = piece else {
        return Ok((
            compact_json::to_vec(record).map_err(StoreError::backend)?,
            None,
        ));
    };
    let calculation = &record.calculation;
    let mut bytes = Vec::with_capacity(piece.len() + 2048);
    fields(
        &mut bytes,
        &Head {
            receipt_id: &record.receipt_id,
            store_id: &record.store_id,
            terminal_id: &record.terminal_id,
            at: &record.at,
            customer_id: &record.customer_id,
        },
    )?;
    bytes.extend_from_slice(br#","calculation":{"#);
    let start = bytes.len();
    bytes.extend_from_slice(piece);
    let spliced = start..bytes.len();
    fields(
        &mut bytes,
        &CalculationTail {
            customer_id: &calculation.customer_id,
            balance: &calculation.balance,
            messages: &calculation.messages,
            receipt_messages: &calculation.receipt_messages,
            coupons: &calculation.coupons,
            rewards: &calculation.rewards,
            certificates: &calculation.certificates,
        },
    )?;
    bytes.push(b'}');
    fields(
        &mut bytes,
        &Tail {
            returned_qty: &record.returned_qty,
            status: &record.status,
            version: &record.version,
            earn_lot_id: &record.earn_lot_id,
            redeemed_from: &record.redeemed_from,
            usage: &record.usage,
            coupons_used: &record.coupons_used,
            issued: &record.issued,
        },
    )?;
    bytes.push(b'}');
    Ok((bytes, Some(spliced)))
}

/// Appends `value`'s fields: `{"a":1}` after other bytes becomes `,"a":1`, and at
/// the start keeps its brace. Where the fields lie.
fn fields(bytes: &mut Vec<u8>, value: &impl Serialize) -> StoreResult<Range<usize>> {
    let start = bytes.len();
    compact_json::write(bytes, value).map_err(StoreError::backend)?;
    if start > 0 {
        bytes[start] = b',';
    }
    bytes.pop();
    Ok(start + 1..bytes.len())
}

fn lead(calculation: &Calculation) -> Lead<'_> {
    Lead {
        lines: &calculation.lines,
        totals: &calculation.totals,
        points_earned: calculation.points_earned,
        points_redeemed: calculation.points_redeemed,
        promotions: &calculation.promotions,
    }
}

#[derive(Serialize)]
struct Head<'a> {
    receipt_id: &'a String,
    store_id: &'a String,
    terminal_id: &'a String,
    at: &'a chrono::DateTime<chrono::FixedOffset>,
    customer_id: &'a Option<String>,
}

#[derive(Serialize)]
struct Lead<'a> {
    lines: &'a [tessera_core::pricing::PricedLine],
    totals: &'a Totals,
    points_earned: i64,
    points_redeemed: i64,
    promotions: &'a [tessera_core::pricing::AppliedPromotion],
}

#[derive(Serialize)]
struct CalculationTail<'a> {
    customer_id: &'a Option<String>,
    balance: &'a Option<tessera_core::pricing::BalanceAfter>,
    messages: &'a [String],
    receipt_messages: &'a [String],
    coupons: &'a [tessera_core::pricing::CouponResult],
    rewards: &'a [tessera_core::reward::Reward],
    certificates: &'a [tessera_core::reward::CertificatePayment],
}

#[derive(Serialize)]
struct Tail<'a> {
    returned_qty: &'a [i64],
    status: &'a tessera_core::refund::ReceiptStatus,
    version: &'a u32,
    earn_lot_id: &'a Option<String>,
    redeemed_from: &'a [(String, i64)],
    usage: &'a [tessera_core::limits::UsageDelta],
    coupons_used: &'a [String],
    issued: &'a tessera_core::reward::Issued,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A record with every field set, strings that need escaping, and an added line.
    fn record() -> ReceiptRecord {
        let line = |n: u32, added_by: Option<&str>| {
            serde_json::json!({
                "line": n, "sku": format!("SKU-\"{n}\"\\é"), "qty": 1500, "price": 1999,
                "amount": 2998, "discount": 300, "points_redeemed": 10, "points_paid": 100,
                "certificate_paid": 50, "total": 2548, "points_earned": 25,
                "promotions": ["p1", "p\n2"], "added_by": added_by
            })
        };
        serde_json::from_value(serde_json::json!({
            "receipt_id": "r-1", "store_id": "s1", "terminal_id": "t\t1",
            "at": "2026-12-07T10:00:00.123+03:00", "customer_id": "c1",
            "calculation": {
                "lines": [line(1, None), line(2, Some("p1"))],
                "totals": {"amount": 5996, "discount": 600, "points_value": 200,
                           "certificates": 100, "to_pay": 5096},
                "points_earned": 50, "points_redeemed": 20,
                "promotions": [{"promotion_id": "p1", "name": "Ünïcode «name»",
                                "effect": "percent_off", "discount": 600, "points": 0}],
                "not_applied": [{"promotion_id": "p9", "reason": "blocked_by", "by": "p1"}],
                "customer_id": "c1", "balance": {"available": 120, "pending": 50},
                "messages": ["hello"], "receipt_messages": ["thanks"],
                "coupons": [{"code": "SPRING", "status": "applied", "reason": null}],
                "rewards": [],
                "certificates": [{"code": "ABCD", "amount": 100}]
            },
            "returned_qty": [0, 500], "status": "committed", "version": 1,
            "earn_lot_id": "r-1:earn", "redeemed_from": [["lot-1", 20]],
            "usage": [{"promotion_id": "p1", "key": "c1", "uses": 1, "discount": 600}],
            "coupons_used": ["SPRING"],
            "issued": {"coupons": [], "certificates": [], "bonus_lots": [["r-1:bonus:0", 5]]}
        }))
        .unwrap()
    }

    #[test]
    fn a_record_spliced_from_its_lead_is_the_record_rendered_whole() {
        let record = record();
        let whole = compact_json::to_vec(&record).unwrap();
        let lead = piece(&record.calculation).unwrap();
        let (spliced, range) = render(&record, Some(&lead)).unwrap();
        assert_eq!(
            String::from_utf8(spliced.clone()).unwrap(),
            String::from_utf8(whole.clone()).unwrap()
        );
        assert_eq!(spliced[range.unwrap()], lead[..]);
        assert!(lead.starts_with(br#""lines":["#) && lead.ends_with(b"]"));
        assert_eq!(render(&record, None).unwrap(), (whole, None));

        // Whatever follows the lead is the record's own: a record with another balance
        // and other returned quantities spliced with the same lead shows them.
        let mut later = record.clone();
        later.calculation.balance = None;
        later.returned_qty = vec![1000, 500];
        let (bytes, _) = render(&later, Some(&lead)).unwrap();
        assert_eq!(bytes, compact_json::to_vec(&later).unwrap());
    }
}
