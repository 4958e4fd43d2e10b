//! The judgement of `tessera check` over customer balances and lots, shared by every
//! adapter: each adapter reads the rows (and sums entries in its own SQL) and hands
//! them here, so the rules are written once.
//!
//! What entries leave on a lot is the sum of its entries into a customer account
//! from outside them, less those out of one to outside: `earn`, `redeem_refund` and
//! a positive `adjust` add, `redeem`, `earn_reversal`, `expire` and a negative
//! `adjust` take, `mature` (pending to available) leaves it alone. A merge moves a
//! lot with a `transfer_out` entry on the giver and a `transfer_in` entry on the
//! receiver of the same amount, both naming the lot, so together they leave its
//! remaining unchanged, while one half alone shows as a lot that does not add up.
//! [`transfer_violations`] checks the halves pair up and the lot changed owner.

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
/// maturations)`, summed over every customer's entries naming the lot, as the module
/// documentation describes) and against the account balances they must cover, each
/// lot counted for the customer that now owns it.
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

/// Transfers between customers (merges and unmerges): what each operation's entries
/// leave on the `transfer` account (`op_id → credits less debits of "transfer"`, a
/// missing `op_id` as the empty string) must be zero, and every lot a `transfer_in`
/// entry named must belong to that entry's customer (`lot_id → customer_id` of the
/// latest such entry, by `entry_id`).
pub fn transfer_violations(
    by_op: HashMap<String, i64>,
    latest_transfer_in: HashMap<String, String>,
    lots: &[StoredLot],
) -> CheckItem {
    let mut item = CheckItem {
        name: "transfers: the transfer account sums to zero per operation and every moved lot belongs to the customer that last received it".into(),
        checked: 0,
        violations: Vec::new(),
    };
    let mut ops: Vec<(String, i64)> = by_op.into_iter().collect();
    ops.sort();
    for (op_id, left) in ops {
        item.checked += 1;
        if left == 0 {
            continue;
        }
        if op_id.is_empty() {
            item.violations.push(format!(
                "transfer entries without an operation leave {left} on the transfer account"
            ));
        } else {
            item.violations.push(format!(
                "transfer {op_id}: its entries leave {left} on the transfer account, not 0"
            ));
        }
    }
    let owners: HashMap<&str, &str> = lots
        .iter()
        .map(|(lot_id, customer_id, ..)| (lot_id.as_str(), customer_id.as_str()))
        .collect();
    let mut moved: Vec<(String, String)> = latest_transfer_in.into_iter().collect();
    moved.sort();
    for (lot_id, receiver) in moved {
        item.checked += 1;
        match owners.get(lot_id.as_str()) {
            Some(owner) if *owner == receiver => {}
            Some(owner) => item.violations.push(format!(
                "lot {lot_id} belongs to customer {owner} but was last transferred to customer {receiver}"
            )),
            // `lot_violations` names entries of a lot that does not exist.
            None => {}
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

    #[test]
    fn transfers_pair_up_per_operation_and_moved_lots_follow_their_receiver() {
        let by_op = HashMap::from([
            ("merge-1".to_string(), 0),
            ("merge-2".to_string(), 30),
            (String::new(), -5),
        ]);
        let latest_transfer_in = HashMap::from([
            ("l1".to_string(), "c2".to_string()),
            ("l2".to_string(), "c2".to_string()),
            ("gone".to_string(), "c2".to_string()),
        ]);
        let lots = [
            lot("l1", "c2", 100, 60, "available"),
            lot("l2", "c1", 40, 40, "pending"),
        ];
        let item = transfer_violations(by_op, latest_transfer_in, &lots);
        assert_eq!(item.checked, 6);
        assert_eq!(
            item.violations,
            [
                "transfer entries without an operation leave -5 on the transfer account",
                "transfer merge-2: its entries leave 30 on the transfer account, not 0",
                "lot l2 belongs to customer c1 but was last transferred to customer c2",
            ]
        );
        let clean = transfer_violations(HashMap::new(), HashMap::new(), &lots);
        assert_eq!((clean.checked, clean.violations.len()), (0, 0));
    }
}

/// The checks run on what the real ledger writes for merges, unmerges and
/// adjustments, with the inputs derived from the entries the way the adapters' SQL
/// derives them.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod transfer_tests {
    use super::*;
    use chrono::{DateTime, Duration, TimeZone, Utc};
    use std::collections::BTreeMap;
    use tessera_core::ledger::{Account, CustomerLedger, Entry, EntryKind, LedgerChanges, Lot};
    use tessera_core::ledger::{Context, LotState};
    use tessera_core::program::Program;

    /// The rows an adapter would hold.
    #[derive(Default)]
    struct Rows {
        accounts: BTreeMap<String, (i64, i64)>,
        lots: BTreeMap<String, Lot>,
        entries: Vec<Entry>,
    }

    impl Rows {
        /// A customer's ledger as the adapters load it: balances and open lots.
        fn load(&self, customer_id: &str) -> CustomerLedger {
            let (pending, available) = self.accounts.get(customer_id).copied().unwrap_or((0, 0));
            let lots = self.lots.values().filter(|l| {
                l.customer_id == customer_id && (l.state == LotState::Pending || l.remaining > 0)
            });
            CustomerLedger::new(
                customer_id.into(),
                pending,
                available,
                lots.cloned().collect(),
            )
        }

        /// Saves changes as the adapters do: insert new lots, update changed lots by
        /// id (owner included), append entries, upsert the account.
        fn save(&mut self, changes: LedgerChanges) {
            for lot in changes.new_lots {
                let old = self.lots.insert(lot.lot_id.clone(), lot);
                assert!(old.is_none(), "new lot already had a row: {old:?}");
            }
            for lot in changes.changed_lots {
                let row = self
                    .lots
                    .get_mut(&lot.lot_id)
                    .expect("changed lot has a row");
                *row = lot;
            }
            self.entries.extend(changes.entries);
            self.accounts
                .insert(changes.customer_id, (changes.pending, changes.available));
        }

        fn stored_lots(&self) -> Vec<StoredLot> {
            let lots = self.lots.values();
            lots.map(|l| {
                let state = l.state.as_str().to_string();
                (
                    l.lot_id.clone(),
                    l.customer_id.clone(),
                    l.points,
                    l.remaining,
                    state,
                )
            })
            .collect()
        }

        fn stored_accounts(&self) -> Vec<StoredAccount> {
            let accounts = self.accounts.iter();
            accounts.map(|(id, (p, a))| (id.clone(), *p, *a)).collect()
        }

        /// Every check over these rows, violations joined.
        fn violations(&self) -> Vec<String> {
            let customer =
                |a: Account| matches!(a, Account::CustomerPending | Account::CustomerAvailable);
            let mut sums: HashMap<String, (i64, i64)> = HashMap::new();
            let mut by_lot: HashMap<String, (i64, i64)> = HashMap::new();
            let mut by_op: HashMap<String, i64> = HashMap::new();
            let mut latest_transfer_in: HashMap<String, String> = HashMap::new();
            for e in &self.entries {
                let sum = sums.entry(e.customer_id.clone()).or_default();
                for (account, delta) in [(e.debit, -e.amount), (e.credit, e.amount)] {
                    match account {
                        Account::CustomerPending => sum.0 += delta,
                        Account::CustomerAvailable => sum.1 += delta,
                        Account::Transfer => {
                            let op = e.op_id.clone().unwrap_or_default();
                            *by_op.entry(op).or_default() += delta;
                        }
                        _ => {}
                    }
                }
                if let Some(lot_id) = &e.lot_id {
                    let lot = by_lot.entry(lot_id.clone()).or_default();
                    match (customer(e.debit), customer(e.credit)) {
                        (false, true) => lot.0 += e.amount,
                        (true, false) => lot.0 -= e.amount,
                        _ => {}
                    }
                    lot.1 += i64::from(e.kind == EntryKind::Mature);
                    if e.kind == EntryKind::TransferIn {
                        latest_transfer_in.insert(lot_id.clone(), e.customer_id.clone());
                    }
                }
            }
            let (lots, accounts) = (self.stored_lots(), self.stored_accounts());
            [
                balance_violations(sums, &accounts),
                lot_violations(by_lot, &lots, &accounts),
                transfer_violations(by_op, latest_transfer_in, &lots),
            ]
            .into_iter()
            .flat_map(|item| item.violations)
            .collect()
        }
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
    }

    fn program() -> Program {
        Program {
            pending_days: 14,
            expiry_days: 0,
            ..Program::default()
        }
    }

    fn context(receipt_id: &str, now: DateTime<Utc>) -> Context<'_> {
        Context {
            receipt_id: Some(receipt_id),
            op_id: None,
            now,
        }
    }

    /// Customer a holds a pending lot. Customer b holds spent lots, a debt of 30 a
    /// return left, an available lot of 40 and a pending lot of 25 earned in the
    /// same session as the merge of b into a.
    fn merged() -> Rows {
        let (t, program) = (t0(), program());
        let mut rows = Rows::default();
        let mut a = rows.load("a");
        a.earn("a1".into(), 100, t, &program, &context("ra", t));
        rows.save(a.into_changes());

        let mut b = rows.load("b");
        let early = t - Duration::days(30);
        b.earn("b1".into(), 50, early, &program, &context("rb1", early));
        b.earn("b2".into(), 40, early, &program, &context("rb2", early));
        b.earn("b3".into(), 30, early, &program, &context("rb3", early));
        b.catch_up(t);
        b.redeem(100, &context("rb4", t)).unwrap();
        rows.save(b.into_changes());
        let mut b = rows.load("b");
        // Returning receipt rb1 takes back 50: b3's 20 left, then 30 without a lot.
        b.reverse_earn(50, Some("b1"), &context("rb1", t));
        assert_eq!((b.pending, b.available), (0, -30));
        rows.save(b.into_changes());
        let mut b = rows.load("b");
        let before = t - Duration::days(20);
        b.earn("b5".into(), 40, before, &program, &context("rb5", before));
        b.catch_up(t);
        rows.save(b.into_changes());

        let mut b = rows.load("b");
        let mut a = rows.load("a");
        b.earn("b4".into(), 25, t, &program, &context("rb6", t));
        let transfer = b.transfer_out("merge-1", t);
        assert_eq!(transfer.available_without_lot, -30);
        a.transfer_in(transfer);
        assert_eq!((b.pending, b.available), (0, 0));
        assert_eq!((a.pending, a.available), (125, 10));
        rows.save(b.into_changes());
        rows.save(a.into_changes());
        rows
    }

    #[test]
    fn a_merge_then_adjustments_and_maturation_pass_every_check() {
        let mut rows = merged();
        assert_eq!(rows.violations(), Vec::<String>::new());
        for lot_id in ["a1", "b5", "b4"] {
            assert_eq!(rows.lots[lot_id].customer_id, "a", "lot {lot_id}");
        }
        assert_eq!(rows.lots["b1"].customer_id, "b", "a spent lot stays");

        let later = t0() + Duration::days(15);
        let mut a = rows.load("a");
        a.catch_up(later);
        assert_eq!((a.pending, a.available), (0, 135));
        a.adjust(15, "desk-1", later, &program()).unwrap();
        a.adjust(-140, "desk-2", later, &program()).unwrap();
        assert_eq!(a.available, 10);
        rows.save(a.into_changes());
        assert_eq!(rows.violations(), Vec::<String>::new());
    }

    #[test]
    fn an_unmerge_passes_every_check_and_gives_the_lots_back() {
        let mut rows = merged();
        let merge_lots = ["b5", "b4"].map(String::from);
        let mut a = rows.load("a");
        let mut b = rows.load("b");
        let transfer = a.transfer_lots_out(&merge_lots, -30, "unmerge-1", t0());
        b.transfer_in(transfer);
        assert_eq!((a.pending, a.available), (100, 0));
        assert_eq!((b.pending, b.available), (25, 10));
        rows.save(a.into_changes());
        rows.save(b.into_changes());
        assert_eq!(rows.violations(), Vec::<String>::new());
        for (lot_id, owner) in [("a1", "a"), ("b5", "b"), ("b4", "b")] {
            assert_eq!(rows.lots[lot_id].customer_id, owner, "lot {lot_id}");
        }
    }

    #[test]
    fn a_lost_half_or_a_wrong_owner_is_named() {
        let mut rows = merged();
        let idx = rows
            .entries
            .iter()
            .rposition(|e| e.kind == EntryKind::TransferIn && e.lot_id.as_deref() == Some("b4"))
            .unwrap();
        rows.entries.remove(idx);
        let text = rows.violations().join("\n");
        for expected in [
            "transfer merge-1: its entries leave 25 on the transfer account, not 0",
            "lot b4: remaining 25 but entries leave 0",
            "customer a: stored pending/available (125, 10) but entries sum to (100, 10)",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in {text}");
        }

        let mut rows = merged();
        if let Some(lot) = rows.lots.get_mut("b5") {
            lot.customer_id = "b".into();
        }
        let text = rows.violations().join("\n");
        for expected in [
            "lot b5 belongs to customer b but was last transferred to customer a",
            "customer a: available balance 10 exceeds available lots 0",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in {text}");
        }
    }
}
