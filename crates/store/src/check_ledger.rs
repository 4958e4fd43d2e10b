//! The judgement of `tessera check` over customer balances and lots, shared by every
//! adapter: each adapter reads the rows (and sums entries in its own SQL) and hands
//! them here, so the rules are written once.

use crate::CheckItem;
use std::collections::HashMap;

/// A customer's account row: `(customer_id, pending, available)`.
pub type StoredAccount = (String, i64, i64);

/// A lot row: `(lot_id, customer_id, points, remaining, state)`.
pub type StoredLot = (String, String, i64, i64, String);

/// Account rows against the sums of their customers' entries (`customer_id →
/// (pending, available)`).
pub fn balance_violations(
    mut sums: HashMap<String, (i64, i64)>,
    accounts: &[StoredAccount],
) -> CheckItem {
    let mut item = CheckItem {
        name: "customer balances equal the sums of their entries".into(),
        checked: 0,
        violations: Vec::new(),
    };
    for (customer_id, pending, available) in accounts {
        item.checked += 1;
        let stored = (*pending, *available);
        let from_entries = sums.remove(customer_id).unwrap_or((0, 0));
        if stored != from_entries {
            item.violations.push(format!(
                "customer {customer_id}: stored pending/available {stored:?} but entries sum to {from_entries:?}"
            ));
        }
    }
    let mut orphans: Vec<_> = sums.into_iter().filter(|(_, s)| *s != (0, 0)).collect();
    orphans.sort();
    for (customer_id, sums) in orphans {
        item.violations.push(format!(
            "customer {customer_id} has entries {sums:?} but no account row"
        ));
    }
    item
}

/// Lots against their entries (`lot_id → (what the entries leave on the lot, number of
/// maturations)`) and against the account balances they must cover.
pub fn lot_violations(
    mut by_lot: HashMap<String, (i64, i64)>,
    lots: &[StoredLot],
    accounts: &[StoredAccount],
) -> CheckItem {
    let mut item = CheckItem { name: "lots: remaining points equal their entries, none over-consumed, pending and available lots cover the balances".into(), checked: 0, violations: Vec::new() };
    let mut pending_by_customer: HashMap<&str, i64> = HashMap::new();
    let mut available_by_customer: HashMap<&str, i64> = HashMap::new();
    for (lot_id, customer_id, points, remaining, state) in lots {
        item.checked += 1;
        let (points, remaining) = (*points, *remaining);
        let (from_entries, maturations) = by_lot.remove(lot_id).unwrap_or((0, 0));
        if remaining < 0 || remaining > points {
            item.violations.push(format!(
                "lot {lot_id}: remaining {remaining} outside 0..={points}"
            ));
        }
        if remaining != from_entries {
            item.violations.push(format!(
                "lot {lot_id}: remaining {remaining} but entries leave {from_entries}"
            ));
        }
        if maturations > 1 {
            item.violations
                .push(format!("lot {lot_id} matured {maturations} times"));
        }
        match state.as_str() {
            "pending" => *pending_by_customer.entry(customer_id).or_default() += remaining,
            "available" => *available_by_customer.entry(customer_id).or_default() += remaining,
            _ => {}
        }
    }
    let mut missing: Vec<&String> = by_lot.keys().collect();
    missing.sort();
    for lot_id in missing {
        item.violations
            .push(format!("entries name lot {lot_id}, which does not exist"));
    }
    for (customer_id, pending, available) in accounts {
        let lot_pending = pending_by_customer
            .get(customer_id.as_str())
            .copied()
            .unwrap_or(0);
        let lot_available = available_by_customer
            .get(customer_id.as_str())
            .copied()
            .unwrap_or(0);
        if lot_pending != *pending {
            item.violations.push(format!("customer {customer_id}: pending balance {pending} but pending lots hold {lot_pending}"));
        }
        if lot_available < *available {
            item.violations.push(format!("customer {customer_id}: available balance {available} exceeds available lots {lot_available}"));
        }
    }
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, pending: i64, available: i64) -> StoredAccount {
        (id.to_string(), pending, available)
    }

    fn lot(id: &str, customer: &str, points: i64, remaining: i64, state: &str) -> StoredLot {
        (
            id.to_string(),
            customer.to_string(),
            points,
            remaining,
            state.to_string(),
        )
    }

    #[test]
    fn balances_agree_or_name_the_customer() {
        let sums = HashMap::from([
            ("c1".to_string(), (0, 100)),
            ("c2".to_string(), (5, 0)),
            ("ghost".to_string(), (0, 7)),
        ]);
        let item = balance_violations(sums, &[account("c1", 0, 100), account("c2", 0, 0)]);
        assert_eq!(item.checked, 2);
        assert_eq!(item.violations.len(), 2, "{:?}", item.violations);
        assert!(item.violations[0].starts_with("customer c2: stored"));
        assert!(item.violations[1].starts_with("customer ghost has entries"));
    }

    #[test]
    fn lots_agree_with_entries_and_cover_balances() {
        let by_lot = HashMap::from([("l1".to_string(), (60, 1)), ("l2".to_string(), (40, 0))]);
        let lots = [
            lot("l1", "c1", 100, 60, "available"),
            lot("l2", "c1", 40, 40, "pending"),
        ];
        let item = lot_violations(by_lot, &lots, &[account("c1", 40, 60)]);
        assert_eq!(item.checked, 2);
        assert!(item.violations.is_empty(), "{:?}", item.violations);
    }

    #[test]
    fn every_kind_of_lot_damage_is_named() {
        let by_lot = HashMap::from([("l1".to_string(), (50, 2)), ("gone".to_string(), (3, 0))]);
        let lots = [lot("l1", "c1", 40, 60, "available")];
        let item = lot_violations(by_lot, &lots, &[account("c1", 10, 100)]);
        let text = item.violations.join("\n");
        for expected in [
            "outside 0..=40",
            "but entries leave 50",
            "matured 2 times",
            "entries name lot gone",
            "pending balance 10 but pending lots hold 0",
            "available balance 100 exceeds available lots 60",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in {text}");
        }
    }
}
