//! Moving points between customers: merge and unmerge, worked cases and a property
//! test over random earning, spending and returns on two customers.

use crate::fixtures::*;
use crate::ledger::t0;
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::{BTreeMap, BTreeSet};
use tessera_core::ledger::{Account, CustomerLedger, Entry, EntryKind, Lot, LotState};
use tessera_core::money::Points;
use tessera_core::program::Program;
use tessera_core::transfer::Transfer;

fn ledger(customer_id: &str) -> CustomerLedger {
    CustomerLedger::new(customer_id.to_string(), 0, 0, Vec::new())
}

fn program(pending_days: u32, expiry_days: u32) -> Program {
    Program {
        pending_days,
        expiry_days,
        ..Program::default()
    }
}

/// Earns `points` in a lot `lot_id` on receipt `lot_id`, caught up at `at`.
fn earn(ledger: &mut CustomerLedger, lot_id: &str, points: Points, at: DateTime<Utc>, p: &Program) {
    ledger.earn(
        lot_id.into(),
        points,
        at,
        p,
        &context(Some(lot_id), None, at),
    );
    ledger.catch_up(at);
}

/// What a ledger holds: balances and lots by id (the journal aside).
fn holdings(ledger: &CustomerLedger) -> (Points, Points, BTreeMap<String, Lot>) {
    let lots = ledger.lots.iter().map(|l| (l.lot_id.clone(), l.clone()));
    (ledger.pending, ledger.available, lots.collect())
}

/// The sum of each account over the entries.
fn account_sums<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> BTreeMap<Account, Points> {
    let mut sums = BTreeMap::new();
    for entry in entries {
        *sums.entry(entry.debit).or_default() -= entry.amount;
        *sums.entry(entry.credit).or_default() += entry.amount;
    }
    sums
}

/// What each operation's entries leave on the `transfer` account.
fn transfer_sums<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> BTreeMap<String, Points> {
    let mut sums = BTreeMap::new();
    for entry in entries {
        for (account, delta) in [(entry.debit, -entry.amount), (entry.credit, entry.amount)] {
            if account == Account::Transfer {
                let op_id = entry.op_id.clone().unwrap_or_default();
                *sums.entry(op_id).or_default() += delta;
            }
        }
    }
    sums
}

/// Merges `from` into `into` at `at`.
fn merge(
    from: &mut CustomerLedger,
    into: &mut CustomerLedger,
    op_id: &str,
    at: DateTime<Utc>,
) -> Transfer {
    let transfer = from.transfer_out(op_id, at);
    into.transfer_in(transfer.clone());
    transfer
}

/// Undoes `merge` (made from `restored` into `survivor`) at `at`.
fn unmerge(
    survivor: &mut CustomerLedger,
    restored: &mut CustomerLedger,
    merge: &Transfer,
    op_id: &str,
    at: DateTime<Utc>,
) -> Transfer {
    let lot_ids = merge.lot_ids();
    let transfer = survivor.transfer_lots_out(&lot_ids, merge.available_without_lot, op_id, at);
    restored.transfer_in(transfer.clone());
    transfer
}

#[test]
fn merge_moves_every_open_lot_and_the_debt_and_unmerge_restores_both_exactly() {
    let p = program(14, 0);
    let t = t0();
    let early = t - Duration::days(30);
    let (mut a, mut b) = (ledger("a"), ledger("b"));
    earn(&mut a, "a1", 70, early, &p);
    earn(&mut a, "a2", 30, t, &p);
    earn(&mut b, "b1", 50, early, &p);
    earn(&mut b, "b2", 40, early + Duration::days(1), &p);
    b.catch_up(t);
    b.redeem(60, &context(Some("rb"), None, t)).unwrap();
    // A return takes back 80: b2's 30 left, then 50 without a lot.
    b.reverse_earn(80, Some("b1"), &context(Some("b1"), Some("ret"), t));
    earn(&mut b, "b3", 25, t, &p);
    assert_eq!((b.pending, b.available), (25, -50));
    let (a_before, b_before) = (holdings(&a), holdings(&b));

    let transfer = merge(&mut b, &mut a, "merge-1", t);
    assert_eq!(transfer.lot_ids(), ["b3"], "spent lots stay behind");
    assert_eq!((transfer.pending(), transfer.available()), (25, -50));
    assert_eq!((b.pending, b.available), (0, 0));
    assert_eq!((a.pending, a.available), (30 + 25, 70 - 50));
    let moved = a.lots.iter().find(|l| l.lot_id == "b3").unwrap();
    assert_eq!(moved.customer_id, "a");
    assert_eq!(
        (moved.points, moved.remaining, moved.state, moved.earned_at),
        (25, 25, LotState::Pending, t)
    );
    let out: Vec<_> = b
        .journal()
        .iter()
        .filter(|e| e.op_id.as_deref() == Some("merge-1"))
        .collect();
    assert_eq!(out.len(), 2);
    assert_eq!(
        (
            out[0].kind,
            out[0].debit,
            out[0].credit,
            out[0].amount,
            out[0].lot_id.as_deref()
        ),
        (
            EntryKind::TransferOut,
            Account::CustomerPending,
            Account::Transfer,
            25,
            Some("b3")
        )
    );
    // The debt moves the other way, without a lot.
    assert_eq!(
        (
            out[1].kind,
            out[1].debit,
            out[1].credit,
            out[1].amount,
            out[1].lot_id.as_deref()
        ),
        (
            EntryKind::TransferOut,
            Account::Transfer,
            Account::CustomerAvailable,
            50,
            None
        )
    );
    let both = || a.journal().iter().chain(b.journal());
    assert_eq!(
        transfer_sums(both()),
        BTreeMap::from([("merge-1".to_string(), 0)])
    );

    unmerge(&mut a, &mut b, &transfer, "unmerge-1", t);
    assert_eq!(holdings(&a), a_before);
    assert_eq!(holdings(&b), b_before);
    let both = a.journal().iter().chain(b.journal());
    assert_eq!(
        transfer_sums(both),
        BTreeMap::from([("merge-1".to_string(), 0), ("unmerge-1".to_string(), 0)])
    );
}

#[test]
fn a_customer_with_a_negative_balance_brings_the_debt_along() {
    let p = program(0, 0);
    let t = t0();
    let (mut a, mut b) = (ledger("a"), ledger("b"));
    earn(&mut a, "a1", 100, t, &p);
    earn(&mut b, "b1", 50, t, &p);
    b.redeem(50, &context(Some("rb"), None, t)).unwrap();
    b.reverse_earn(50, Some("b1"), &context(Some("b1"), Some("ret"), t));
    assert_eq!(b.available, -50);

    let transfer = merge(&mut b, &mut a, "merge-1", t);
    assert!(transfer.lots.is_empty());
    assert_eq!(transfer.available_without_lot, -50);
    assert_eq!((b.pending, b.available), (0, 0));
    assert_eq!((a.pending, a.available), (0, 50));
    let last = a.journal().last().unwrap();
    assert_eq!(
        (
            last.kind,
            last.debit,
            last.credit,
            last.amount,
            last.lot_id.as_deref()
        ),
        (
            EntryKind::TransferIn,
            Account::CustomerAvailable,
            Account::Transfer,
            50,
            None
        )
    );
    assert_eq!(last.customer_id, "a");
    let err = a.redeem(51, &context(Some("ra"), None, t)).unwrap_err();
    assert_eq!(err.code, tessera_core::ErrorCode::InsufficientPoints);
    a.redeem(50, &context(Some("ra"), None, t)).unwrap();
    assert_eq!(
        a.lots[0].remaining, 50,
        "a's lot still holds the points the debt owes"
    );
}

#[test]
fn pending_lots_mature_and_expire_on_the_new_owner_at_their_own_dates() {
    let p = program(14, 30);
    let t = t0();
    let (mut a, mut b) = (ledger("a"), ledger("b"));
    earn(&mut b, "b1", 100, t, &p);
    let day1 = t + Duration::days(1);
    merge(&mut b, &mut a, "merge-1", day1);
    let lot = &a.lots[0];
    assert_eq!(
        (
            lot.customer_id.as_str(),
            lot.state,
            lot.earned_at,
            lot.matures_at,
            lot.expires_at
        ),
        (
            "a",
            LotState::Pending,
            t,
            t + Duration::days(14),
            Some(t + Duration::days(44))
        )
    );

    a.catch_up(t + Duration::days(13));
    assert_eq!((a.pending, a.available), (100, 0));
    a.catch_up(t + Duration::days(14));
    assert_eq!((a.pending, a.available), (0, 100));
    let mature = a.journal().last().unwrap();
    assert_eq!(
        (
            mature.kind,
            mature.customer_id.as_str(),
            mature.lot_id.as_deref()
        ),
        (EntryKind::Mature, "a", Some("b1"))
    );
    a.catch_up(t + Duration::days(44));
    assert_eq!((a.pending, a.available), (0, 0));
    assert_eq!(a.journal().last().unwrap().kind, EntryKind::Expire);

    let entries = b.journal().len();
    b.catch_up(t + Duration::days(44));
    assert_eq!(
        b.journal().len(),
        entries,
        "the giver has nothing left to mature"
    );
}

#[test]
fn moved_lots_are_changed_rows_of_the_receiver_or_new_ones_when_unsaved() {
    let p = program(14, 0);
    let t = t0();
    let stored = Lot {
        lot_id: "b1".into(),
        customer_id: "b".into(),
        receipt_id: Some("rb1".into()),
        points: 40,
        remaining: 40,
        state: LotState::Pending,
        earned_at: t,
        matures_at: t + Duration::days(14),
        expires_at: None,
    };
    let mut b = CustomerLedger::new("b".into(), 40, 0, vec![stored]);
    let mut a = CustomerLedger::new("a".into(), 0, 0, Vec::new());
    b.earn("b2".into(), 10, t, &p, &context(Some("rb2"), None, t));
    merge(&mut b, &mut a, "merge-1", t);

    let giver = b.into_changes();
    assert!(giver.new_lots.is_empty() && giver.changed_lots.is_empty());
    let kinds: Vec<_> = giver.entries.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EntryKind::Earn,
            EntryKind::TransferOut,
            EntryKind::TransferOut
        ]
    );
    assert_eq!((giver.pending, giver.available), (0, 0));

    let receiver = a.into_changes();
    let ids = |lots: &[Lot]| {
        lots.iter()
            .map(|l| (l.lot_id.clone(), l.customer_id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&receiver.changed_lots),
        [("b1".to_string(), "a".to_string())]
    );
    assert_eq!(
        ids(&receiver.new_lots),
        [("b2".to_string(), "a".to_string())]
    );
    assert_eq!((receiver.pending, receiver.available), (50, 0));
    assert!(receiver
        .entries
        .iter()
        .all(|e| e.kind == EntryKind::TransferIn && e.customer_id == "a"));
}

#[test]
fn an_unmerge_after_spending_gives_back_what_is_left() {
    let p = program(0, 0);
    let t = t0();
    let (mut a, mut b) = (ledger("a"), ledger("b"));
    earn(&mut a, "a1", 50, t - Duration::days(2), &p);
    earn(&mut b, "b1", 100, t - Duration::days(1), &p);
    earn(&mut b, "b2", 20, t - Duration::days(1), &p);
    let transfer = merge(&mut b, &mut a, "merge-1", t);
    // Oldest first: a1's 50, then 70 of b1.
    a.redeem(120, &context(Some("ra"), None, t)).unwrap();
    let given = unmerge(&mut a, &mut b, &transfer, "unmerge-1", t);
    assert_eq!(given.lot_ids(), ["b1", "b2"]);
    assert_eq!((a.pending, a.available), (0, 0));
    assert_eq!((b.pending, b.available), (0, 50));
    let b1 = b.lots.iter().find(|l| l.lot_id == "b1").unwrap();
    assert_eq!(
        (b1.customer_id.as_str(), b1.points, b1.remaining),
        ("b", 100, 30)
    );

    // Spent to nothing, a lot stays with whoever spent it.
    let transfer = merge(&mut b, &mut a, "merge-2", t);
    a.redeem(50, &context(Some("ra2"), None, t)).unwrap();
    let given = unmerge(&mut a, &mut b, &transfer, "unmerge-2", t);
    assert!(given.lots.is_empty());
    assert_eq!((a.available, b.available), (0, 0));
    assert!(a.lots.iter().all(|l| l.remaining == 0));
}

#[test]
fn points_without_a_lot_go_back_only_as_far_as_the_balance_holds() {
    let p = program(0, 0);
    let t = t0();
    let mut a = ledger("a");
    let given = a.transfer_lots_out(&[], 40, "unmerge-1", t);
    assert_eq!(given.available_without_lot, 0);
    assert!(a.journal().is_empty());
    earn(&mut a, "a1", 30, t, &p);
    let given = a.transfer_lots_out(&[], 40, "unmerge-2", t);
    assert_eq!((given.available_without_lot, a.available), (30, 0));
    // A debt goes back whole, raising the giver's balance.
    let given = a.transfer_lots_out(&["no-such-lot".to_string()], -25, "unmerge-3", t);
    assert_eq!((given.available(), a.available), (-25, 25));
    assert_eq!(transfer_sums(a.journal()).values().sum::<Points>(), 30 - 25);
}

// ---------------------------------------------------------------- property test

#[derive(Debug, Clone)]
enum Op {
    Earn {
        who: usize,
        points: Points,
    },
    Redeem {
        who: usize,
        points: Points,
    },
    /// Returns a share (percent) of an earlier receipt of the customer.
    Return {
        who: usize,
        receipt: Index,
        percent: i64,
    },
    Advance {
        days: i64,
    },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..2, 1i64..=200).prop_map(|(who, points)| Op::Earn { who, points }),
        3 => (0usize..2, 1i64..=250).prop_map(|(who, points)| Op::Redeem { who, points }),
        3 => (0usize..2, any::<Index>(), 1i64..=100)
            .prop_map(|(who, receipt, percent)| Op::Return { who, receipt, percent }),
        2 => (0i64..=4).prop_map(|days| Op::Advance { days }),
    ]
}

/// A receipt that earned or paid with points, with what returns gave back so far.
#[derive(Debug, Clone, Default)]
struct Sale {
    receipt_id: String,
    earned: Points,
    reversed: Points,
    consumed: Vec<(String, Points)>,
    refunded: Points,
}

struct World {
    program: Program,
    now: DateTime<Utc>,
    ledgers: [CustomerLedger; 2],
    sales: [Vec<Sale>; 2],
    n_receipts: usize,
}

impl World {
    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Earn { who, points } => {
                self.n_receipts += 1;
                let receipt_id = format!("r{}", self.n_receipts);
                let lot_id = format!("{receipt_id}:earn");
                let context = context(Some(&receipt_id), None, self.now);
                self.ledgers[who].earn(lot_id, points, self.now, &self.program, &context);
                self.ledgers[who].catch_up(self.now);
                let earned = points;
                self.sales[who].push(Sale {
                    receipt_id,
                    earned,
                    ..Sale::default()
                });
            }
            Op::Redeem { who, points } => {
                self.n_receipts += 1;
                let receipt_id = format!("r{}", self.n_receipts);
                let context = context(Some(&receipt_id), None, self.now);
                if let Ok(consumed) = self.ledgers[who].redeem(points, &context) {
                    self.sales[who].push(Sale {
                        receipt_id,
                        consumed,
                        ..Sale::default()
                    });
                }
            }
            Op::Return {
                who,
                receipt,
                percent,
            } => {
                if self.sales[who].is_empty() {
                    return;
                }
                let idx = receipt.index(self.sales[who].len());
                let sale = &mut self.sales[who][idx];
                let op_id = format!("ret{}", self.n_receipts);
                let receipt_id = sale.receipt_id.clone();
                let context = context(Some(&receipt_id), Some(&op_id), self.now);
                let redeemed: Points = sale.consumed.iter().map(|(_, p)| p).sum();
                let refund = (redeemed * percent / 100).min(redeemed - sale.refunded);
                let ledger = &mut self.ledgers[who];
                ledger.refund_redemption(refund, &sale.consumed, sale.refunded, &context);
                sale.refunded += refund;
                let reverse = (sale.earned * percent / 100).min(sale.earned - sale.reversed);
                let lot_id = format!("{receipt_id}:earn");
                ledger.reverse_earn(reverse, Some(&lot_id), &context);
                sale.reversed += reverse;
                self.n_receipts += 1;
            }
            Op::Advance { days } => {
                self.now += Duration::days(days);
                for ledger in &mut self.ledgers {
                    ledger.catch_up(self.now);
                }
            }
        }
    }

    /// Points the customers hold together.
    fn customer_points(&self) -> Points {
        self.ledgers.iter().map(|l| l.pending + l.available).sum()
    }
}

/// Available balance less what the available lots hold: zero, or the debt returns
/// left (negative).
fn unlotted(ledger: &CustomerLedger) -> Points {
    let lots = ledger
        .lots
        .iter()
        .filter(|l| l.state == LotState::Available);
    ledger.available - lots.map(|l| l.remaining).sum::<Points>()
}

fn check_world(world: &World) -> Result<(), TestCaseError> {
    let entries = || world.ledgers.iter().flat_map(|l| l.journal());
    let sums = account_sums(entries());
    prop_assert_eq!(sums.values().sum::<Points>(), 0, "all accounts sum to zero");
    let system: Points = [
        Account::Issued,
        Account::Redeemed,
        Account::Expired,
        Account::Transfer,
    ]
    .iter()
    .map(|a| sums.get(a).copied().unwrap_or(0))
    .sum();
    prop_assert_eq!(world.customer_points(), -system, "points conserved");
    prop_assert_eq!(sums.get(&Account::Transfer).copied().unwrap_or(0), 0);
    for (op_id, left) in transfer_sums(entries()) {
        prop_assert_eq!(left, 0, "transfer {} does not sum to zero", op_id);
    }
    let mut lot_ids = BTreeSet::new();
    for ledger in &world.ledgers {
        let own = account_sums(ledger.journal());
        let balance = |a: Account| own.get(&a).copied().unwrap_or(0);
        prop_assert_eq!(balance(Account::CustomerPending), ledger.pending);
        prop_assert_eq!(balance(Account::CustomerAvailable), ledger.available);
        for entry in ledger.journal() {
            prop_assert!(
                entry.amount > 0 && entry.debit != entry.credit,
                "{:?}",
                entry
            );
            prop_assert_eq!(&entry.customer_id, &ledger.customer_id);
        }
        for lot in &ledger.lots {
            prop_assert!((0..=lot.points).contains(&lot.remaining), "lot {:?}", lot);
            prop_assert_eq!(&lot.customer_id, &ledger.customer_id);
            prop_assert!(
                lot_ids.insert(lot.lot_id.clone()),
                "lot {} held twice",
                lot.lot_id
            );
        }
        let pending_lots = ledger.lots.iter().filter(|l| l.state == LotState::Pending);
        prop_assert_eq!(
            pending_lots.map(|l| l.remaining).sum::<Points>(),
            ledger.pending
        );
        prop_assert!(
            unlotted(ledger) <= 0,
            "available lots cover {}",
            ledger.customer_id
        );
        prop_assert!(ledger.pending >= 0);
    }
    Ok(())
}

fn run(
    program: &Program,
    before: &[Op],
    survivor: usize,
    after: &[Op],
    undo: bool,
) -> Result<(), TestCaseError> {
    let mut world = World {
        program: program.clone(),
        now: t0(),
        ledgers: [ledger("a"), ledger("b")],
        sales: [Vec::new(), Vec::new()],
        n_receipts: 0,
    };
    for op in before {
        world.apply(op);
        check_world(&world)?;
    }
    let absorbed = 1 - survivor;
    let held = world.customer_points();
    let snapshot = [holdings(&world.ledgers[0]), holdings(&world.ledgers[1])];
    let debts = [unlotted(&world.ledgers[0]), unlotted(&world.ledgers[1])];

    let [a, b] = &mut world.ledgers;
    let (giver, receiver) = if survivor == 0 { (b, a) } else { (a, b) };
    let transfer = merge(giver, receiver, "merge", world.now);
    check_world(&world)?;
    prop_assert_eq!(
        world.customer_points(),
        held,
        "the merge moved points, made none"
    );
    let gone = &world.ledgers[absorbed];
    prop_assert_eq!((gone.pending, gone.available), (0, 0));
    prop_assert!(gone
        .lots
        .iter()
        .all(|l| l.remaining == 0 || l.state == LotState::Expired));
    prop_assert_eq!(unlotted(&world.ledgers[survivor]), debts[0] + debts[1]);

    // After the merge only the survivor buys; returns of the absorbed customer's
    // receipts are out of scope here.
    for op in after {
        let op = match op {
            Op::Earn { points, .. } => Op::Earn {
                who: survivor,
                points: *points,
            },
            Op::Redeem { points, .. } => Op::Redeem {
                who: survivor,
                points: *points,
            },
            Op::Return { .. } => continue,
            Op::Advance { days } => Op::Advance { days: *days },
        };
        world.apply(&op);
        check_world(&world)?;
    }
    if !undo {
        return Ok(());
    }
    let held = world.customer_points();
    let [a, b] = &mut world.ledgers;
    let (restored, kept) = if survivor == 0 { (b, a) } else { (a, b) };
    unmerge(kept, restored, &transfer, "unmerge", world.now);
    check_world(&world)?;
    prop_assert_eq!(
        world.customer_points(),
        held,
        "the unmerge moved points, made none"
    );
    // Each customer's debt is its own again.
    prop_assert_eq!(unlotted(&world.ledgers[0]), debts[0]);
    prop_assert_eq!(unlotted(&world.ledgers[1]), debts[1]);
    if after.is_empty() {
        prop_assert_eq!(&holdings(&world.ledgers[0]), &snapshot[0], "a restored");
        prop_assert_eq!(&holdings(&world.ledgers[1]), &snapshot[1], "b restored");
    }
    Ok(())
}

fn arb_program() -> impl Strategy<Value = Program> {
    (0u32..=3, prop_oneof![Just(0u32), 1u32..=6])
        .prop_map(|(pending, expiry)| program(pending, expiry))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn merges_and_unmerges_conserve_points(
        program in arb_program(),
        before in prop::collection::vec(arb_op(), 0..40),
        survivor in 0usize..2,
        after in prop_oneof![Just(Vec::new()), prop::collection::vec(arb_op(), 0..12)],
        undo in any::<bool>(),
    ) {
        run(&program, &before, survivor, &after, undo)?;
    }
}
