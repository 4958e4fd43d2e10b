//! Returns and cancels: what a returned unit gives back, alone and end to end with
//! the ledger.

use crate::fixtures::*;
use crate::ledger::{check_invariants, t0};
use chrono::Duration;
use proptest::prelude::*;
use proptest::sample::Index;
use tessera_core::ledger::{CustomerLedger, EntryKind, LotState};
use tessera_core::money::Points;
use tessera_core::pricing::{BalanceAfter, Calculation};
use tessera_core::program::Program;
use tessera_core::receipt::{ReceiptRequest, Redeem};
use tessera_core::refund::{ReceiptRecord, ReceiptStatus, ReturnOutcome, ReturnedLine};
use tessera_core::ErrorCode;

/// A priced receipt with a discount, points paid and points earned:
/// line 1 MILK 2 x 25.00, line 2 APPLE 0.532 x 3.75.
fn worked_receipt() -> (ReceiptRequest, Calculation) {
    let request = receipt(
        DEFAULT_AT,
        vec![line(1, "MILK", 2000, 2500), line(2, "APPLE", 532, 375)],
        true,
        Redeem::Points(20),
    );
    let promotions = [
        percent_off("all10", 1, 1000, None),
        earn_points("earn5", 0, 500, None),
    ];
    let calc = price(
        &program(100, 100),
        DEFAULT_TZ,
        &promotions,
        &request,
        Some(&customer(1000, 0)),
    )
    .unwrap();
    (request, calc)
}

fn returned(
    line: u32,
    qty: i64,
    refund_money: i64,
    discount: i64,
    points_refunded: Points,
    points_reversed: Points,
) -> ReturnedLine {
    ReturnedLine {
        line,
        qty,
        refund_money,
        discount,
        points_refunded,
        points_reversed,
        certificate_refund: 0,
    }
}

#[test]
fn worked_receipt_prices_as_computed_by_hand() {
    let (_, calc) = worked_receipt();
    // 10% of 5200 = 520 split 500 / 20; 20 points all on line 1 (capacities 45 / 1);
    // 5% of 2680 paid = 1.34 -> 1 point.
    let values: Vec<_> = calc
        .lines
        .iter()
        .map(|l| {
            (
                l.amount,
                l.discount,
                l.points_redeemed,
                l.points_paid,
                l.total,
                l.points_earned,
            )
        })
        .collect();
    assert_eq!(
        values,
        vec![(5000, 500, 20, 2000, 2500, 1), (200, 20, 0, 0, 180, 0)]
    );
    assert_eq!(
        (calc.totals.to_pay, calc.points_redeemed, calc.points_earned),
        (2680, 20, 1)
    );
}

#[test]
fn partial_returns_then_cancel_worked_example() {
    let (request, calc) = worked_receipt();
    let mut record = record(
        &request,
        calc,
        Some("lot-1".into()),
        vec![("old".into(), 20)],
    );

    // Half of line 1: its 1 earned point is 0.5 -> 0 (half to even).
    let first = record.apply_return(&[(1, 1000)]).unwrap();
    assert_eq!(first.lines, vec![returned(1, 1000, 1250, 250, 10, 0)]);
    assert_eq!(
        (
            first.refund_money,
            first.points_refunded,
            first.points_reversed
        ),
        (1250, 10, 0)
    );
    assert_eq!(
        (record.status, record.version, record.returned_qty.clone()),
        (ReceiptStatus::PartiallyReturned, 2, vec![1000, 0])
    );
    assert_eq!(record.points_refunded_so_far(), 10);

    // 0.65 of line 1 returned in all: the point is now 0.65 -> 1, counted cumulatively.
    let second = record.apply_return(&[(1, 300)]).unwrap();
    assert_eq!(second.lines, vec![returned(1, 300, 375, 75, 3, 1)]);
    assert_eq!(
        (record.status, record.version),
        (ReceiptStatus::PartiallyReturned, 3)
    );
    assert_eq!(record.points_refunded_so_far(), 13);

    let cancel = record.apply_cancel().unwrap();
    assert_eq!(
        cancel.lines,
        vec![
            returned(1, 700, 875, 175, 7, 0),
            returned(2, 532, 180, 20, 0, 0)
        ]
    );
    assert_eq!(
        (
            cancel.refund_money,
            cancel.points_refunded,
            cancel.points_reversed
        ),
        (1055, 7, 0)
    );
    assert_eq!(
        (record.status, record.version),
        (ReceiptStatus::Cancelled, 4)
    );
    assert_eq!(
        first.refund_money + second.refund_money + cancel.refund_money,
        2680
    );
}

/// Checks that a set of outcomes returned the whole receipt, line by line.
fn check_everything_returned(
    calc: &Calculation,
    outcomes: &[ReturnOutcome],
) -> Result<(), TestCaseError> {
    for priced in &calc.lines {
        let parts: Vec<&ReturnedLine> = outcomes
            .iter()
            .flat_map(|o| &o.lines)
            .filter(|r| r.line == priced.line)
            .collect();
        let sum = |f: fn(&ReturnedLine) -> i64| parts.iter().map(|r| f(r)).sum::<i64>();
        prop_assert_eq!(sum(|r| r.qty), priced.qty, "qty of line {}", priced.line);
        prop_assert_eq!(
            sum(|r| r.refund_money),
            priced.total,
            "money of line {}",
            priced.line
        );
        prop_assert_eq!(
            sum(|r| r.discount),
            priced.discount,
            "discount of line {}",
            priced.line
        );
        prop_assert_eq!(
            sum(|r| r.points_refunded),
            priced.points_redeemed,
            "points refunded of line {}",
            priced.line
        );
        prop_assert_eq!(
            sum(|r| r.points_reversed),
            priced.points_earned,
            "points reversed of line {}",
            priced.line
        );
    }
    let total = |f: fn(&ReturnOutcome) -> i64| outcomes.iter().map(f).sum::<i64>();
    prop_assert_eq!(total(|o| o.refund_money), calc.totals.to_pay);
    prop_assert_eq!(total(|o| o.points_refunded), calc.points_redeemed);
    prop_assert_eq!(total(|o| o.points_reversed), calc.points_earned);
    Ok(())
}

/// Checks one outcome: non-negative values, and its totals are its lines' sums.
fn check_outcome(outcome: &ReturnOutcome) -> Result<(), TestCaseError> {
    for r in &outcome.lines {
        for value in [
            r.qty,
            r.refund_money,
            r.discount,
            r.points_refunded,
            r.points_reversed,
        ] {
            prop_assert!(value >= 0, "negative value in {:?}", r);
        }
    }
    prop_assert_eq!(
        outcome.refund_money,
        outcome.lines.iter().map(|r| r.refund_money).sum::<i64>()
    );
    prop_assert_eq!(
        outcome.points_refunded,
        outcome.lines.iter().map(|r| r.points_refunded).sum::<i64>()
    );
    prop_assert_eq!(
        outcome.points_reversed,
        outcome.lines.iter().map(|r| r.points_reversed).sum::<i64>()
    );
    Ok(())
}

fn full_request(record: &ReceiptRecord) -> Vec<(u32, i64)> {
    record
        .calculation
        .lines
        .iter()
        .map(|l| (l.line, l.qty))
        .collect()
}

/// One step of a random partial return: how many open lines, from which, and what
/// share (per mille) of what is left of each.
type Step = (Index, Index, u16);

fn arb_steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec((any::<Index>(), any::<Index>(), 0u16..=1000), 0..12)
}

fn partial_request(
    record: &ReceiptRecord,
    (count, start, per_mille): &Step,
) -> Option<Vec<(u32, i64)>> {
    let open: Vec<usize> = (0..record.calculation.lines.len())
        .filter(|&i| record.returned_qty[i] < record.calculation.lines[i].qty)
        .collect();
    if open.is_empty() {
        return None;
    }
    let count = 1 + count.index(open.len().min(3));
    let start = start.index(open.len());
    Some(
        (0..count)
            .map(|k| {
                let position = open[(start + k) % open.len()];
                let line = &record.calculation.lines[position];
                let left = line.qty - record.returned_qty[position];
                (
                    line.line,
                    (left * i64::from(*per_mille) / 1000).clamp(1, left),
                )
            })
            .collect(),
    )
}

/// What is still to return, or `None` when everything was returned.
fn rest_request(record: &ReceiptRecord) -> Option<Vec<(u32, i64)>> {
    let rest: Vec<(u32, i64)> = record
        .calculation
        .lines
        .iter()
        .zip(&record.returned_qty)
        .filter(|(l, r)| l.qty > **r)
        .map(|(l, r)| (l.line, l.qty - r))
        .collect();
    (!rest.is_empty()).then_some(rest)
}

#[test]
fn returning_more_than_bought_is_rejected_and_changes_nothing() {
    let (request, calc) = worked_receipt();
    let mut record = record(&request, calc, None, Vec::new());
    let untouched = record.clone();
    let err = record.apply_return(&[(1, 2001)]).unwrap_err();
    assert_eq!(err.code, ErrorCode::ReturnExceedsPurchase);
    assert_eq!(err.field.as_deref(), Some("lines[0].qty"));
    assert_eq!(record, untouched);

    // A valid line before the bad one changes nothing either.
    let err = record.apply_return(&[(1, 1000), (2, 533)]).unwrap_err();
    assert_eq!(err.code, ErrorCode::ReturnExceedsPurchase);
    assert_eq!(err.field.as_deref(), Some("lines[1].qty"));
    assert_eq!(record, untouched);

    record.apply_return(&[(1, 1500)]).unwrap();
    let returned_once = record.clone();
    let err = record.apply_return(&[(1, 501)]).unwrap_err();
    assert_eq!(err.code, ErrorCode::ReturnExceedsPurchase);
    assert_eq!(record, returned_once);
    record.apply_return(&[(1, 500)]).unwrap();
    let err = record.apply_return(&[(1, 1)]).unwrap_err();
    assert_eq!(err.code, ErrorCode::ReturnExceedsPurchase);
}

#[test]
fn malformed_returns_are_rejected() {
    let (request, calc) = worked_receipt();
    let mut record = record(&request, calc, None, Vec::new());
    let untouched = record.clone();
    let cases: [(&[(u32, i64)], ErrorCode); 4] = [
        (&[(9, 1)], ErrorCode::InvalidField),
        (&[(1, 1), (1, 1)], ErrorCode::DuplicateLine),
        (&[(1, 0)], ErrorCode::InvalidQuantity),
        (&[], ErrorCode::InvalidField),
    ];
    for (request, code) in cases {
        assert_eq!(
            record.apply_return(request).unwrap_err().code,
            code,
            "{request:?}"
        );
        assert_eq!(record, untouched, "{request:?}");
    }
}

#[test]
fn nothing_can_be_returned_after_cancel() {
    let (request, calc) = worked_receipt();
    let mut record = record(&request, calc, None, Vec::new());
    record.apply_return(&[(2, 100)]).unwrap();
    record.apply_cancel().unwrap();
    assert_eq!(record.status, ReceiptStatus::Cancelled);
    let cancelled = record.clone();
    assert_eq!(
        record.apply_return(&[(1, 1)]).unwrap_err().code,
        ErrorCode::ReceiptCancelled
    );
    assert_eq!(
        record.apply_cancel().unwrap_err().code,
        ErrorCode::ReceiptCancelled
    );
    assert_eq!(record, cancelled);
}

#[test]
fn cancel_after_a_full_return_gives_nothing_more() {
    let (request, calc) = worked_receipt();
    let mut record = record(&request, calc, None, Vec::new());
    let full = full_request(&record);
    record.apply_return(&full).unwrap();
    assert_eq!(record.status, ReceiptStatus::Returned);
    let outcome = record.apply_cancel().unwrap();
    assert_eq!(outcome, ReturnOutcome::default());
    assert_eq!(
        (record.status, record.version),
        (ReceiptStatus::Cancelled, 3)
    );
}

fn priced(scenario: &Scenario) -> Option<(ReceiptRequest, Calculation)> {
    scenario.price().ok().map(|calc| (scenario.receipt(), calc))
}

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn a_full_return_or_cancel_gives_back_exactly_the_receipt(scenario in arb_scenario(), cancel in any::<bool>()) {
        let Some((request, calc)) = priced(&scenario) else { return Ok(()); };
        let mut record = record(&request, calc.clone(), None, Vec::new());
        let outcome = if cancel { record.apply_cancel().unwrap() } else { record.apply_return(&full_request(&record)).unwrap() };
        check_outcome(&outcome)?;
        prop_assert_eq!(outcome.points_refunded, calc.points_redeemed);
        prop_assert_eq!(outcome.points_reversed, calc.points_earned);
        prop_assert_eq!(outcome.refund_money, calc.totals.to_pay);
        check_everything_returned(&calc, &[outcome])?;
        let status = if cancel { ReceiptStatus::Cancelled } else { ReceiptStatus::Returned };
        prop_assert_eq!(record.status, status);
        prop_assert_eq!(record.points_refunded_so_far(), calc.points_redeemed);
    }

    #[test]
    fn partial_returns_sum_exactly_to_the_lines(scenario in arb_scenario(), steps in arb_steps(), cancel in any::<bool>()) {
        let Some((request, calc)) = priced(&scenario) else { return Ok(()); };
        let mut record = record(&request, calc.clone(), None, Vec::new());
        let mut outcomes = Vec::new();
        let mut refunded = 0;
        for step in &steps {
            let Some(request) = partial_request(&record, step) else { break; };
            prop_assert_eq!(record.points_refunded_so_far(), refunded);
            let version = record.version;
            let outcome = record.apply_return(&request).unwrap();
            check_outcome(&outcome)?;
            prop_assert_eq!(record.version, version + 1);
            refunded += outcome.points_refunded;
            let expected = if rest_request(&record).is_some() { ReceiptStatus::PartiallyReturned } else { ReceiptStatus::Returned };
            prop_assert_eq!(record.status, expected);
            outcomes.push(outcome);
        }
        prop_assert_eq!(record.points_refunded_so_far(), refunded);
        if cancel {
            outcomes.push(record.apply_cancel().unwrap());
            prop_assert_eq!(record.status, ReceiptStatus::Cancelled);
        } else if let Some(rest) = rest_request(&record) {
            outcomes.push(record.apply_return(&rest).unwrap());
        }
        check_outcome(outcomes.last().unwrap_or(&ReturnOutcome::default()))?;
        prop_assert!(rest_request(&record).is_none());
        check_everything_returned(&calc, &outcomes)?;
        prop_assert_eq!(record.points_refunded_so_far(), calc.points_redeemed);
        let err = record.apply_return(&[(calc.lines[0].line, 1)]).unwrap_err();
        let code = if cancel { ErrorCode::ReceiptCancelled } else { ErrorCode::ReturnExceedsPurchase };
        prop_assert_eq!(err.code, code);
    }

    #[test]
    fn end_to_end_a_returned_receipt_restores_the_balance(
        pending_days in 1u32..=30,
        expiry_days in prop_oneof![Just(0u32), 30u32..=365],
        history in prop::collection::vec((1i64..=5_000, 0i64..=90), 0..8),
        scenario in arb_scenario(),
        redeem_points in prop_oneof![Just(None), (1i64..=5_000).prop_map(Some)],
        steps in arb_steps(),
    ) {
        let program = Program { pending_days, expiry_days, ..scenario.program.clone() };
        let now = t0() + Duration::days(100);
        let mut ledger = history_ledger(&program, &history, now);
        let (start_available, start_pending) = (ledger.available, ledger.pending);
        let start_lots = ledger.lots.clone();
        let start_entries = ledger.journal().len();
        check_invariants(&ledger)?;

        let mut scenario = scenario;
        scenario.program = program.clone();
        scenario.balance = Some((start_available, start_pending));
        scenario.redeem = match redeem_points {
            Some(points) => Redeem::Points(points.min(start_available.max(1))),
            None => Redeem::Max,
        };
        let Ok(calc) = scenario.price() else { return Ok(()); };
        let request = scenario.receipt();

        // Commit: redeem, then earn, as the store does.
        let rid = request.receipt_id.clone();
        let commit = context(Some(&rid), None, now);
        let consumed = ledger.redeem(calc.points_redeemed, &commit).unwrap();
        let earn_lot = (calc.points_earned > 0).then(|| "lot-receipt".to_string());
        if let Some(lot_id) = &earn_lot {
            ledger.earn(lot_id.clone(), calc.points_earned, now, &program, &commit);
        }
        prop_assert_eq!(Some(BalanceAfter { available: ledger.available, pending: ledger.pending }), calc.balance);
        check_invariants(&ledger)?;

        // Return everything, in random partial steps, then the rest.
        let mut record = record(&request, calc.clone(), earn_lot.clone(), consumed);
        let mut outcomes = Vec::new();
        let mut step = 0;
        loop {
            let request = match steps.get(step) {
                Some(s) => partial_request(&record, s),
                None => rest_request(&record),
            };
            let Some(request) = request else { break; };
            step += 1;
            let already = record.points_refunded_so_far();
            let outcome = record.apply_return(&request).unwrap();
            let op_id = format!("ret-{step}");
            let ctx = context(Some(&rid), Some(&op_id), now);
            ledger.refund_redemption(outcome.points_refunded, &record.redeemed_from, already, &ctx);
            ledger.reverse_earn(outcome.points_reversed, record.earn_lot_id.as_deref(), &ctx);
            check_invariants(&ledger)?;
            outcomes.push(outcome);
        }
        prop_assert_eq!(record.status, ReceiptStatus::Returned);
        check_everything_returned(&calc, &outcomes)?;
        prop_assert_eq!(ledger.available, start_available, "available not restored");
        prop_assert_eq!(ledger.pending, start_pending, "pending not restored");
        for lot in &start_lots {
            let now_lot = ledger.lots.iter().find(|l| l.lot_id == lot.lot_id).unwrap();
            prop_assert_eq!(now_lot, lot, "lot not restored");
        }
        if let Some(lot_id) = &earn_lot {
            let lot = ledger.lots.iter().find(|l| &l.lot_id == lot_id).unwrap();
            prop_assert_eq!((lot.remaining, lot.state), (0, LotState::Pending));
        }
        prop_assert!(
            ledger.journal()[start_entries..].iter().all(|e| e.lot_id.is_some() && e.kind != EntryKind::Expire),
            "unexpected entries {:?}", &ledger.journal()[start_entries..]
        );
    }
}

/// A customer with earning history: lots earned `days_ago` before `now`, in time
/// order, caught up to `now` so the older ones are available (or expired).
fn history_ledger(
    program: &Program,
    history: &[(Points, i64)],
    now: chrono::DateTime<chrono::Utc>,
) -> CustomerLedger {
    let mut history = history.to_vec();
    history.sort_by_key(|(_, days_ago)| std::cmp::Reverse(*days_ago));
    let mut ledger = empty_ledger();
    for (idx, (points, days_ago)) in history.iter().enumerate() {
        let earned_at = now - Duration::days(*days_ago) - Duration::minutes(idx as i64);
        let rid = format!("past-{idx}");
        ledger.catch_up(earned_at);
        ledger.earn(
            format!("lot-past-{idx}"),
            *points,
            earned_at,
            program,
            &context(Some(&rid), None, earned_at),
        );
    }
    ledger.catch_up(now);
    ledger
}
