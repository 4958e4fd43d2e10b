//! The parts of `tessera check` about receipts and promotion counters that do not
//! depend on the database: adapters read the rows, these functions judge them.

use crate::port::CheckItem;
use std::collections::HashMap;
use tessera_core::money::cumulative_share;
use tessera_core::pricing::PricedLine;
use tessera_core::refund::ReceiptRecord;

/// What is wrong with one stored receipt: its lines must add up to its totals, it must
/// have as many versions stored as its version says, and (for a customer's receipt)
/// its ledger entries (`entries`: amount by entry kind) must match what it earned,
/// redeemed, refunded and reversed.
pub fn receipt_violations(
    record: &ReceiptRecord,
    versions_stored: i64,
    entries: &HashMap<String, i64>,
) -> Vec<String> {
    let receipt_id = &record.receipt_id;
    let mut violations = Vec::new();
    if versions_stored != i64::from(record.version) {
        violations.push(format!(
            "receipt {receipt_id}: version {} but {versions_stored} versions stored",
            record.version
        ));
    }
    let calc = &record.calculation;
    let lines_sum = |f: fn(&PricedLine) -> i64| calc.lines.iter().map(f).sum::<i64>();
    if lines_sum(|l| l.amount) != calc.totals.amount
        || lines_sum(|l| l.discount) != calc.totals.discount
        || lines_sum(|l| l.points_paid) != calc.totals.points_value
        || lines_sum(|l| l.certificate_paid) != calc.totals.certificates
        || lines_sum(|l| l.total) != calc.totals.to_pay
        || lines_sum(|l| l.points_earned) != calc.points_earned
        || calc.lines.iter().any(|l| {
            l.amount - l.discount - l.points_paid - l.certificate_paid != l.total || l.total < 0
        })
    {
        violations.push(format!(
            "receipt {receipt_id}: lines do not add up to the totals"
        ));
    }
    let sum = |kind: &str| entries.get(kind).copied().unwrap_or(0);
    let returned = |f: fn(&PricedLine) -> i64| -> i64 {
        calc.lines
            .iter()
            .zip(&record.returned_qty)
            .map(|(line, qty)| cumulative_share(f(line), *qty, line.qty))
            .sum()
    };
    // Bonus points are a lot of their own, taken back whole when the receipt is undone.
    let bonus: i64 = record.issued.bonus_lots.iter().map(|(_, p)| p).sum();
    let bonus_reversed = if record.undone() { bonus } else { 0 };
    let expected = [
        ("earn", calc.points_earned + bonus),
        ("redeem", calc.points_redeemed),
        ("redeem_refund", returned(|l| l.points_redeemed)),
        (
            "earn_reversal",
            returned(|l| l.points_earned) + bonus_reversed,
        ),
    ];
    for (kind, want) in expected {
        if record.customer_id.is_some() && sum(kind) != want {
            violations.push(format!(
                "receipt {receipt_id}: {kind} entries sum to {} but the receipt says {want}",
                sum(kind)
            ));
        }
    }
    violations
}

/// A stored promotion counter: `((promotion id, key), (uses, discount))`.
pub type StoredCounter = ((String, String), (i64, i64));

/// Promotion limit counters equal what the receipts still counting them say.
pub fn usage_counters(records: &[ReceiptRecord], counters: &[StoredCounter]) -> CheckItem {
    let mut item = CheckItem {
        name: "promotion limits: every counter equals the uses and money of the receipts it counts"
            .into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut expected: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for delta in records.iter().flat_map(|r| &r.usage) {
        let counter = expected
            .entry((delta.promotion_id.clone(), delta.key.clone()))
            .or_default();
        counter.0 += delta.uses;
        counter.1 += delta.discount;
    }
    for (key, stored) in counters {
        item.checked += 1;
        let want = expected.remove(key).unwrap_or((0, 0));
        if *stored != want {
            item.violations.push(format!(
                "promotion {} {}: counter {stored:?} but receipts count {want:?}",
                key.0, key.1
            ));
        }
    }
    for ((promotion_id, key), want) in expected {
        if want != (0, 0) {
            item.violations.push(format!(
                "promotion {promotion_id} {key}: receipts count {want:?} but there is no counter"
            ));
        }
    }
    item
}
