//! The parts of `tessera check` for coupon codes and gift certificates that do not
//! depend on the database: adapters read the rows, these functions judge them.

use crate::port::CheckItem;
use std::collections::HashMap;
use tessera_core::certificate::refund_split;
use tessera_core::refund::ReceiptRecord;

/// A single-use code is marked used (`used`: `(code, used_by)` of every code marked
/// used) by exactly the receipt that used it and still holds it (not cancelled or
/// fully returned).
pub fn coupon_holders(records: &[ReceiptRecord], used: &[(String, String)]) -> CheckItem {
    let mut item = CheckItem {
        name: "coupons: every used code is held by exactly the receipt that used it".into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut holder: HashMap<&str, &str> = HashMap::new();
    for record in records.iter().filter(|r| !r.undone()) {
        for code in &record.coupons_used {
            if let Some(other) = holder.insert(code, &record.receipt_id) {
                item.violations.push(format!(
                    "coupon {code} is used by receipts {other} and {}",
                    record.receipt_id
                ));
            }
        }
    }
    for (code, used_by) in used {
        item.checked += 1;
        if holder.remove(code.as_str()) != Some(used_by.as_str()) {
            item.violations.push(format!(
                "coupon {code} is marked used by {used_by}, which does not hold it"
            ));
        }
    }
    for (code, receipt_id) in holder {
        item.violations.push(format!(
            "receipt {receipt_id} used coupon {code}, which is not marked used by it"
        ));
    }
    item
}

/// A certificate's balance (`certificates`: `(code, amount, balance)`) is its amount
/// less what receipts paid with it plus what their returns gave back.
pub fn certificate_balances(
    records: &[ReceiptRecord],
    certificates: &[(String, i64, i64)],
) -> CheckItem {
    let mut item = CheckItem {
        name: "certificates: every balance equals its amount less payments plus refunds".into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut moved: HashMap<String, i64> = HashMap::new();
    for record in records {
        let payments = &record.calculation.certificates;
        for payment in payments {
            *moved.entry(payment.code.clone()).or_default() -= payment.amount;
        }
        for (code, amount) in refund_split(payments, record.certificate_refunded_so_far(), 0) {
            *moved.entry(code).or_default() += amount;
        }
    }
    for (code, amount, balance) in certificates {
        item.checked += 1;
        let expected = amount + moved.remove(code).unwrap_or(0);
        if *balance != expected {
            item.violations.push(format!(
                "certificate {code}: balance {balance} but the receipts say {expected}"
            ));
        }
    }
    for (code, _) in moved {
        item.violations.push(format!(
            "receipts paid with certificate {code}, which does not exist"
        ));
    }
    item
}
