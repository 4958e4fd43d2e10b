//! The points ledger: a worked timeline and a model test over random operations.

use crate::fixtures::*;
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::BTreeMap;
use tessera_core::ledger::{Account, CustomerLedger, EntryKind, LotState};
use tessera_core::money::Points;
use tessera_core::program::Program;
use tessera_core::ErrorCode;

pub(crate) fn t0() -> DateTime<Utc> {
    utc("2025-01-10T08:00:00Z")
}

/// Balances of every account computed from the journal alone, starting from zero.
fn account_sums(ledger: &CustomerLedger) -> BTreeMap<Account, Points> {
    let mut sums = BTreeMap::new();
    for entry in ledger.journal() {
        *sums.entry(entry.debit).or_default() -= entry.amount;
        *sums.entry(entry.credit).or_default() += entry.amount;
    }
    sums
}

/// The invariants that hold after every operation on a ledger that started empty.
pub(crate) fn check_invariants(ledger: &CustomerLedger) -> Result<(), TestCaseError> {
    let sums = account_sums(ledger);
    prop_assert_eq!(
        sums.get(&Account::CustomerPending).copied().unwrap_or(0),
        ledger.pending,
        "pending account"
    );
    prop_assert_eq!(
        sums.get(&Account::CustomerAvailable).copied().unwrap_or(0),
        ledger.available,
        "available account"
    );
    prop_assert_eq!(sums.values().sum::<Points>(), 0, "debits and credits");
    for entry in ledger.journal() {
        prop_assert!(
            entry.amount > 0,
            "entry of {} points: {:?}",
            entry.amount,
            entry
        );
        prop_assert_ne!(entry.debit, entry.credit);
        prop_assert_eq!(entry.customer_id.as_str(), CUSTOMER_ID);
    }
    for lot in &ledger.lots {
        prop_assert!(
            lot.remaining >= 0 && lot.remaining <= lot.points,
            "lot {:?}",
            lot
        );
        if lot.state == LotState::Expired {
            prop_assert_eq!(lot.remaining, 0, "expired lot {:?}", lot);
        }
    }
    // Pending points are exactly the pending lots' remaining points.
    let pending_lots: Points = ledger
        .lots
        .iter()
        .filter(|l| l.state == LotState::Pending)
        .map(|l| l.remaining)
        .sum();
    prop_assert_eq!(pending_lots, ledger.pending);
    // Available points are the available lots' remaining points less what reversals
    // took without a lot (points earned and already spent).
    let available_lots: Points = ledger
        .lots
        .iter()
        .filter(|l| l.state == LotState::Available)
        .map(|l| l.remaining)
        .sum();
    let unlotted_reversals: Points = ledger
        .journal()
        .iter()
        .filter(|e| e.kind == EntryKind::EarnReversal && e.lot_id.is_none())
        .map(|e| e.amount)
        .sum();
    prop_assert_eq!(available_lots - unlotted_reversals, ledger.available);
    Ok(())
}

/// Catches up and checks what catch-up promises.
fn catch_up_checked(ledger: &mut CustomerLedger, now: DateTime<Utc>) -> Result<(), TestCaseError> {
    let predicted = ledger.balance_at(now);
    ledger.catch_up(now);
    prop_assert_eq!(
        (ledger.available, ledger.pending),
        (predicted.available, predicted.pending),
        "balance_at predicted"
    );
    let after = ledger.balance_at(now);
    prop_assert_eq!(
        (after.available, after.pending),
        (ledger.available, ledger.pending),
        "balance_at(now) after catch_up"
    );
    for lot in &ledger.lots {
        prop_assert!(
            !(lot.state == LotState::Pending && lot.matures_at <= now),
            "due lot left pending {:?}",
            lot
        );
        prop_assert!(
            !(lot.state == LotState::Available && lot.expires_at.is_some_and(|at| at <= now)),
            "expired lot left available {:?}",
            lot
        );
    }
    let mut previous = None;
    for (at, points) in &after.expiring {
        prop_assert!(*at > now && *points > 0, "expiring {:?}", after.expiring);
        prop_assert!(
            previous < Some(*at),
            "expiring not sorted {:?}",
            after.expiring
        );
        previous = Some(*at);
    }
    let once = ledger.clone();
    ledger.catch_up(now);
    prop_assert_eq!(
        ledger.journal().len(),
        once.journal().len(),
        "second catch_up added entries"
    );
    prop_assert_eq!(&*ledger, &once, "second catch_up changed the ledger");
    Ok(())
}

#[test]
fn lots_mature_are_spent_oldest_first_refunded_and_expire() {
    let program = Program {
        pending_days: 14,
        expiry_days: 30,
        ..Program::default()
    };
    let mut ledger = empty_ledger();
    let t = t0();
    ledger.earn(
        "lot-a".into(),
        100,
        t,
        &program,
        &context(Some("r-a"), None, t),
    );
    let t1 = t + Duration::days(1);
    ledger.earn(
        "lot-b".into(),
        50,
        t1,
        &program,
        &context(Some("r-b"), None, t1),
    );
    assert_eq!((ledger.pending, ledger.available), (150, 0));

    let day14 = t + Duration::days(14);
    let predicted = ledger.balance_at(day14 + Duration::days(1));
    assert_eq!((predicted.available, predicted.pending), (150, 0));
    assert_eq!(
        predicted.expiring,
        vec![(t + Duration::days(44), 100), (t + Duration::days(45), 50)]
    );
    ledger.catch_up(day14);
    assert_eq!((ledger.pending, ledger.available), (50, 100));

    let err = ledger
        .redeem(120, &context(Some("r-1"), None, day14))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InsufficientPoints);
    let first = ledger
        .redeem(80, &context(Some("r-1"), None, day14))
        .unwrap();
    assert_eq!(first, vec![("lot-a".to_string(), 80)]);

    let day15 = t + Duration::days(15);
    ledger.catch_up(day15);
    assert_eq!((ledger.pending, ledger.available), (0, 70));
    let second = ledger
        .redeem(40, &context(Some("r-2"), None, day15))
        .unwrap();
    assert_eq!(
        second,
        vec![("lot-a".to_string(), 20), ("lot-b".to_string(), 20)]
    );
    assert_eq!(ledger.available, 30);

    // A partial refund gives back from the last lot consumed first.
    ledger.refund_redemption(30, &second, 0, &context(Some("r-2"), Some("ret-1"), day15));
    let remaining = |ledger: &CustomerLedger, id: &str| {
        ledger
            .lots
            .iter()
            .find(|l| l.lot_id == id)
            .unwrap()
            .remaining
    };
    assert_eq!(
        (remaining(&ledger, "lot-a"), remaining(&ledger, "lot-b")),
        (10, 50)
    );
    assert_eq!(ledger.available, 60);

    // Lot a expires at day 44 with 10 left.
    let day44 = t + Duration::days(44);
    ledger.catch_up(day44);
    assert_eq!(ledger.available, 50);
    assert_eq!(
        ledger
            .lots
            .iter()
            .find(|l| l.lot_id == "lot-a")
            .unwrap()
            .state,
        LotState::Expired
    );

    // Points given back to the expired lot expire again at once.
    let entries = ledger.journal().len();
    ledger.refund_redemption(10, &second, 30, &context(Some("r-2"), Some("ret-2"), day44));
    ledger.refund_redemption(80, &first, 0, &context(Some("r-1"), Some("ret-3"), day44));
    assert_eq!(ledger.available, 50);
    let kinds: Vec<(EntryKind, Points)> = ledger.journal()[entries..]
        .iter()
        .map(|e| (e.kind, e.amount))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (EntryKind::RedeemRefund, 10),
            (EntryKind::Expire, 10),
            (EntryKind::RedeemRefund, 80),
            (EntryKind::Expire, 80)
        ]
    );
    assert_eq!(remaining(&ledger, "lot-a"), 0);
    check_invariants(&ledger).unwrap();
}

#[test]
fn reversal_takes_the_receipts_own_lot_first_then_older_lots_then_goes_negative() {
    let program = Program {
        pending_days: 1,
        expiry_days: 0,
        ..Program::default()
    };
    let mut ledger = empty_ledger();
    let t = t0();
    ledger.earn(
        "old".into(),
        30,
        t,
        &program,
        &context(Some("r-old"), None, t),
    );
    let t2 = t + Duration::days(2);
    ledger.catch_up(t2);
    // Another receipt's pending lot, older than the one reversed: never touched.
    ledger.earn(
        "other".into(),
        10,
        t2 - Duration::hours(1),
        &program,
        &context(Some("r-other"), None, t2),
    );
    ledger.earn(
        "own".into(),
        20,
        t2,
        &program,
        &context(Some("r-own"), None, t2),
    );
    assert_eq!((ledger.pending, ledger.available), (30, 30));

    ledger.reverse_earn(45, Some("own"), &context(Some("r-own"), Some("ret"), t2));
    let taken: Vec<(Account, Option<&str>, Points)> = ledger
        .journal()
        .iter()
        .filter(|e| e.kind == EntryKind::EarnReversal)
        .map(|e| (e.debit, e.lot_id.as_deref(), e.amount))
        .collect();
    assert_eq!(
        taken,
        vec![
            (Account::CustomerPending, Some("own"), 20),
            (Account::CustomerAvailable, Some("old"), 25)
        ]
    );
    assert_eq!((ledger.pending, ledger.available), (10, 5));

    ledger.reverse_earn(8, Some("own"), &context(Some("r-own"), Some("ret-2"), t2));
    assert_eq!((ledger.pending, ledger.available), (10, -3));
    let other = ledger.lots.iter().find(|l| l.lot_id == "other").unwrap();
    assert_eq!((other.remaining, other.state), (10, LotState::Pending));
    check_invariants(&ledger).unwrap();
}

#[derive(Debug, Clone)]
enum Op {
    Earn(Points),
    Redeem(Points),
    Advance(i64),
    Refund(Index, Points),
    Reverse(Index, Points),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1i64..=1_000).prop_map(Op::Earn),
        3 => prop_oneof![0i64..=200, 0i64..=2_000].prop_map(Op::Redeem),
        3 => prop_oneof![0i64..=24, 0i64..=24 * 6].prop_map(Op::Advance),
        2 => (any::<Index>(), 1i64..=1_000).prop_map(|(i, p)| Op::Refund(i, p)),
        2 => (any::<Index>(), 1i64..=1_000).prop_map(|(i, p)| Op::Reverse(i, p)),
    ]
}

/// What the model remembers of each receipt it made.
#[derive(Debug, Default)]
struct ModelReceipt {
    id: String,
    earn_lot: Option<String>,
    earned: Points,
    reversed: Points,
    consumed: Vec<(String, Points)>,
    redeemed: Points,
    refunded: Points,
}

fn run_model(program: &Program, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut ledger = empty_ledger();
    let mut now = t0();
    let mut receipts: Vec<ModelReceipt> = Vec::new();
    let mut earned_lots = 0;
    check_invariants(&ledger)?;
    for (step, op) in ops.iter().enumerate() {
        let before = ledger.clone();
        match op {
            Op::Earn(points) => {
                let id = format!("r-{step}");
                let lot_id = format!("lot-{step}");
                ledger.earn(
                    lot_id.clone(),
                    *points,
                    now,
                    program,
                    &context(Some(&id), None, now),
                );
                earned_lots += 1;
                prop_assert_eq!(ledger.pending, before.pending + points);
                prop_assert_eq!(ledger.available, before.available);
                let lot = ledger.lots.iter().find(|l| l.lot_id == lot_id).unwrap();
                prop_assert_eq!(
                    (lot.points, lot.remaining, lot.state),
                    (*points, *points, LotState::Pending)
                );
                prop_assert_eq!(
                    lot.matures_at,
                    now + Duration::days(i64::from(program.pending_days))
                );
                receipts.push(ModelReceipt {
                    id,
                    earn_lot: Some(lot_id),
                    earned: *points,
                    ..ModelReceipt::default()
                });
            }
            Op::Redeem(points) => {
                let id = format!("r-{step}");
                match ledger.redeem(*points, &context(Some(&id), None, now)) {
                    Ok(consumed) => {
                        // Paying nothing is accepted even on a negative balance.
                        prop_assert!(*points == 0 || *points <= before.available);
                        prop_assert_eq!(consumed.iter().map(|(_, p)| p).sum::<Points>(), *points);
                        prop_assert_eq!(ledger.available, before.available - points);
                        prop_assert_eq!(ledger.pending, before.pending);
                        // Oldest lots first: every lot but the last is emptied.
                        for (lot_id, _) in consumed.iter().take(consumed.len().saturating_sub(1)) {
                            let lot = ledger.lots.iter().find(|l| &l.lot_id == lot_id).unwrap();
                            prop_assert_eq!(lot.remaining, 0);
                        }
                        receipts.push(ModelReceipt {
                            id,
                            consumed,
                            redeemed: *points,
                            ..ModelReceipt::default()
                        });
                    }
                    Err(err) => {
                        prop_assert!(
                            *points > before.available,
                            "redeem {} of {} failed: {}",
                            points,
                            before.available,
                            err
                        );
                        prop_assert_eq!(err.code, ErrorCode::InsufficientPoints);
                        prop_assert_eq!(&ledger, &before, "a failed redeem changed the ledger");
                    }
                }
            }
            Op::Advance(hours) => {
                now += Duration::hours(*hours);
                catch_up_checked(&mut ledger, now)?;
            }
            Op::Refund(which, points) => {
                let open: Vec<usize> = (0..receipts.len())
                    .filter(|&i| receipts[i].refunded < receipts[i].redeemed)
                    .collect();
                if open.is_empty() {
                    continue;
                }
                let receipt = &mut receipts[open[which.index(open.len())]];
                let give = (*points).min(receipt.redeemed - receipt.refunded);
                let op_id = format!("ret-{step}");
                ledger.refund_redemption(
                    give,
                    &receipt.consumed,
                    receipt.refunded,
                    &context(Some(&receipt.id), Some(&op_id), now),
                );
                receipt.refunded += give;
                let made = &ledger.journal()[before.journal().len()..];
                let refunded: Points = made
                    .iter()
                    .filter(|e| e.kind == EntryKind::RedeemRefund)
                    .map(|e| e.amount)
                    .sum();
                let expired: Points = made
                    .iter()
                    .filter(|e| e.kind == EntryKind::Expire)
                    .map(|e| e.amount)
                    .sum();
                prop_assert_eq!(refunded, give);
                prop_assert!(
                    made.iter().all(|e| e.lot_id.is_some()),
                    "refund without a lot: {:?}",
                    made
                );
                prop_assert_eq!(ledger.available, before.available + give - expired);
                prop_assert_eq!(ledger.pending, before.pending);
            }
            Op::Reverse(which, points) => {
                let open: Vec<usize> = (0..receipts.len())
                    .filter(|&i| receipts[i].reversed < receipts[i].earned)
                    .collect();
                if open.is_empty() {
                    continue;
                }
                let receipt = &mut receipts[open[which.index(open.len())]];
                let take = (*points).min(receipt.earned - receipt.reversed);
                let op_id = format!("ret-{step}");
                ledger.reverse_earn(
                    take,
                    receipt.earn_lot.as_deref(),
                    &context(Some(&receipt.id), Some(&op_id), now),
                );
                receipt.reversed += take;
                prop_assert_eq!(
                    ledger.available + ledger.pending,
                    before.available + before.pending - take
                );
                let own_before = before
                    .lots
                    .iter()
                    .find(|l| Some(&l.lot_id) == receipt.earn_lot.as_ref())
                    .unwrap();
                if own_before.state != LotState::Expired && own_before.remaining >= take {
                    // The receipt's own lot covers it: no other lot is touched.
                    for (lot, lot_before) in ledger.lots.iter().zip(&before.lots) {
                        let expected = if lot.lot_id == own_before.lot_id {
                            lot_before.remaining - take
                        } else {
                            lot_before.remaining
                        };
                        prop_assert_eq!(lot.remaining, expected, "lot {}", lot.lot_id);
                    }
                }
            }
        }
        check_invariants(&ledger)?;
    }
    // A final catch-up far ahead leaves nothing pending.
    let end = now + Duration::days(i64::from(program.pending_days) + 1);
    catch_up_checked(&mut ledger, end)?;
    check_invariants(&ledger)?;
    prop_assert_eq!(ledger.pending, 0);
    let journal = ledger.journal().to_vec();
    let (pending, available) = (ledger.pending, ledger.available);
    let changes = ledger.into_changes();
    prop_assert_eq!(changes.entries, journal);
    prop_assert_eq!(changes.new_lots.len(), earned_lots);
    prop_assert_eq!((changes.pending, changes.available), (pending, available));
    Ok(())
}

fn arb_ledger_program() -> impl Strategy<Value = Program> {
    (0u32..=3, prop_oneof![Just(0u32), 1u32..=5]).prop_map(|(pending_days, expiry_days)| Program {
        pending_days,
        expiry_days,
        ..Program::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ledger_model(program in arb_ledger_program(), ops in prop::collection::vec(arb_op(), 1..80)) {
        run_model(&program, &ops)?;
    }
}
