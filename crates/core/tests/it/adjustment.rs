//! Staff adjustments: a positive one is a lot of its own, a negative one spends like
//! paying with points, and the refusals.

use crate::fixtures::*;
use crate::ledger::t0;
use chrono::{DateTime, Duration, Utc};
use tessera_core::adjustment::adjustment_lot_id;
use tessera_core::ledger::{Account, CustomerLedger, EntryKind, LotState};
use tessera_core::money::Points;
use tessera_core::program::Program;
use tessera_core::ErrorCode;

fn program(pending_days: u32, expiry_days: u32) -> Program {
    Program {
        pending_days,
        expiry_days,
        ..Program::default()
    }
}

/// A ledger with available lots `old` (60, earned first) and `new` (40), and a
/// pending lot `later` (25).
fn ledger_with_lots(t: DateTime<Utc>) -> CustomerLedger {
    let p = program(14, 0);
    let mut ledger = empty_ledger();
    for (lot_id, points, at) in [
        ("old", 60, t - Duration::days(30)),
        ("new", 40, t - Duration::days(20)),
        ("later", 25, t),
    ] {
        ledger.earn(
            lot_id.into(),
            points,
            at,
            &p,
            &context(Some(lot_id), None, at),
        );
    }
    ledger.catch_up(t);
    assert_eq!((ledger.pending, ledger.available), (25, 100));
    ledger
}

fn remaining(ledger: &CustomerLedger, lot_id: &str) -> Points {
    ledger
        .lots
        .iter()
        .find(|l| l.lot_id == lot_id)
        .unwrap()
        .remaining
}

#[test]
fn a_positive_adjustment_is_an_available_lot_expiring_like_earned_points() {
    let t = t0();
    let p = program(14, 30);
    let mut ledger = empty_ledger();
    ledger.adjust(70, "desk-1", t, &p).unwrap();
    assert_eq!((ledger.pending, ledger.available), (0, 70));
    assert_eq!(adjustment_lot_id("desk-1"), "adj:desk-1");
    let lot = &ledger.lots[0];
    assert_eq!(
        (
            lot.lot_id.as_str(),
            lot.customer_id.as_str(),
            lot.receipt_id.as_deref()
        ),
        ("adj:desk-1", CUSTOMER_ID, None)
    );
    assert_eq!(
        (
            lot.points,
            lot.remaining,
            lot.state,
            lot.earned_at,
            lot.matures_at,
            lot.expires_at
        ),
        (
            70,
            70,
            LotState::Available,
            t,
            t,
            Some(t + Duration::days(30))
        )
    );
    let entry = &ledger.journal()[0];
    assert_eq!(
        (entry.kind, entry.debit, entry.credit, entry.amount),
        (
            EntryKind::Adjust,
            Account::Issued,
            Account::CustomerAvailable,
            70
        )
    );
    assert_eq!(
        (
            entry.lot_id.as_deref(),
            entry.op_id.as_deref(),
            entry.receipt_id.as_deref(),
            entry.at
        ),
        (Some("adj:desk-1"), Some("desk-1"), None, t)
    );

    ledger.catch_up(t + Duration::days(30));
    assert_eq!(ledger.available, 0);
    assert_eq!(ledger.journal().last().unwrap().kind, EntryKind::Expire);

    let changes = ledger.into_changes();
    assert_eq!(changes.new_lots.len(), 1);
    assert_eq!(changes.new_lots[0].state, LotState::Expired);
}

#[test]
fn without_program_expiry_an_adjustment_never_expires() {
    let t = t0();
    let mut ledger = empty_ledger();
    ledger.adjust(5, "desk-1", t, &program(14, 0)).unwrap();
    assert_eq!(ledger.lots[0].expires_at, None);
}

#[test]
fn a_negative_adjustment_spends_the_oldest_available_lots_first() {
    let t = t0();
    let mut ledger = ledger_with_lots(t);
    let entries = ledger.journal().len();
    ledger.adjust(-75, "desk-2", t, &program(14, 0)).unwrap();
    assert_eq!((ledger.pending, ledger.available), (25, 25));
    assert_eq!(
        [
            remaining(&ledger, "old"),
            remaining(&ledger, "new"),
            remaining(&ledger, "later")
        ],
        [0, 25, 25]
    );
    let made: Vec<_> = ledger.journal()[entries..]
        .iter()
        .map(|e| {
            (
                e.kind,
                e.debit,
                e.credit,
                e.amount,
                e.lot_id.clone().unwrap(),
                e.op_id.clone(),
            )
        })
        .collect();
    let desk = Some("desk-2".to_string());
    assert_eq!(
        made,
        [
            (
                EntryKind::Adjust,
                Account::CustomerAvailable,
                Account::Issued,
                60,
                "old".into(),
                desk.clone()
            ),
            (
                EntryKind::Adjust,
                Account::CustomerAvailable,
                Account::Issued,
                15,
                "new".into(),
                desk
            ),
        ]
    );
    assert!(
        !ledger.lots.iter().any(|l| l.lot_id.starts_with("adj:")),
        "no lot for a negative one"
    );
}

#[test]
fn a_negative_adjustment_beyond_the_available_balance_is_refused_unchanged() {
    let t = t0();
    let mut ledger = ledger_with_lots(t);
    let before = ledger.clone();
    // Pending points cannot be taken.
    let err = ledger
        .adjust(-101, "desk-3", t, &program(14, 0))
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InsufficientPoints);
    assert_eq!(err.field.as_deref(), Some("points"));
    assert_eq!(ledger, before);

    // Nor anything from a customer a return left owing points.
    let mut owing = empty_ledger();
    let p = program(0, 0);
    owing.earn("l".into(), 10, t, &p, &context(Some("r1"), None, t));
    owing.catch_up(t);
    owing.redeem(10, &context(Some("r2"), None, t)).unwrap();
    owing.reverse_earn(10, Some("l"), &context(Some("r1"), Some("ret"), t));
    assert_eq!(owing.available, -10);
    let err = owing.adjust(-1, "desk-4", t, &p).unwrap_err();
    assert_eq!(err.code, ErrorCode::InsufficientPoints);
    // A positive one pays the debt off first.
    owing.adjust(15, "desk-5", t, &p).unwrap();
    assert_eq!(owing.available, 5);
}

#[test]
fn a_zero_or_repeated_adjustment_is_refused() {
    let t = t0();
    let p = program(14, 0);
    let mut ledger = empty_ledger();
    let err = ledger.adjust(0, "desk-1", t, &p).unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::InvalidField, Some("points"))
    );
    assert!(ledger.journal().is_empty());

    ledger.adjust(10, "desk-1", t, &p).unwrap();
    let err = ledger.adjust(10, "desk-1", t, &p).unwrap_err();
    assert_eq!(err.code, ErrorCode::AdjustmentConflict);
    assert_eq!(ledger.available, 10);

    let err = ledger.adjust(i64::MIN, "desk-2", t, &p).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("points"));
}

#[test]
fn adjustments_balance_the_issued_account() {
    let t = t0();
    let mut ledger = ledger_with_lots(t);
    ledger.adjust(30, "up", t, &program(14, 0)).unwrap();
    ledger.adjust(-50, "down", t, &program(14, 0)).unwrap();
    let mut sums = std::collections::BTreeMap::<Account, Points>::new();
    for e in ledger.journal() {
        *sums.entry(e.debit).or_default() -= e.amount;
        *sums.entry(e.credit).or_default() += e.amount;
    }
    assert_eq!(sums.values().sum::<Points>(), 0);
    assert_eq!(sums[&Account::CustomerAvailable], ledger.available);
    assert_eq!(sums[&Account::Issued], -(125 + 30 - 50));
    let lots: Points = ledger
        .lots
        .iter()
        .filter(|l| l.state == LotState::Available)
        .map(|l| l.remaining)
        .sum();
    assert_eq!(lots, ledger.available);
}
