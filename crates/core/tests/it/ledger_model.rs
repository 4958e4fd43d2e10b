//! A receipt-level state machine test of the points ledger against a reference model.
//!
//! Random sequences of sales (earning and redeeming points), returns, cancels and time
//! advances run against the real [`CustomerLedger`], applied the way the store's
//! `commit`, `return_receipt` and `cancel_receipt` apply them, and against [`Model`]: a
//! from-scratch reading of `docs/ledger.md` that knows nothing of the ledger's code.
//! After every step the balances, the lots, the journal's sums and the receipts'
//! give-backs must agree.

use crate::fixtures::*;
use crate::ledger::{check_invariants, t0};
use chrono::{DateTime, Duration, FixedOffset, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::BTreeMap;
use tessera_core::ledger::{Account, CustomerLedger, EntryKind, LotState};
use tessera_core::money::Points;
use tessera_core::program::Program;
use tessera_core::receipt::Redeem;
use tessera_core::refund::{ReceiptRecord, ReceiptStatus, ReturnOutcome};
use tessera_core::{CoreError, ErrorCode};

// ---------------------------------------------------------------- the model

/// A lot as the documentation describes it.
#[derive(Debug, Clone, PartialEq)]
struct ModelLot {
    id: String,
    points: Points,
    remaining: Points,
    matures_at: DateTime<Utc>,
    /// `None`: never expires.
    expires_at: Option<DateTime<Utc>>,
    expired: bool,
}

/// Points moved by kind since the start.
#[derive(Debug, Clone, Default, PartialEq)]
struct Totals {
    issued: Points,
    reversed: Points,
    redeemed: Points,
    refunded: Points,
    expired: Points,
}

/// One customer's points, in lots kept oldest first.
#[derive(Debug, Clone, PartialEq)]
struct Model {
    now: DateTime<Utc>,
    lots: Vec<ModelLot>,
    /// Points taken back that no lot held; netted against `available`.
    debt: Points,
    totals: Totals,
}

impl Model {
    fn new(now: DateTime<Utc>) -> Self {
        Model {
            now,
            lots: Vec::new(),
            debt: 0,
            totals: Totals::default(),
        }
    }

    fn matured(&self, lot: &ModelLot) -> bool {
        lot.matures_at <= self.now
    }

    fn spendable(&self, lot: &ModelLot) -> bool {
        self.matured(lot) && !lot.expired
    }

    fn state(&self, lot: &ModelLot) -> LotState {
        if lot.expired {
            LotState::Expired
        } else if self.matured(lot) {
            LotState::Available
        } else {
            LotState::Pending
        }
    }

    fn pending(&self) -> Points {
        let lots = self.lots.iter().filter(|l| !self.matured(l));
        lots.map(|l| l.remaining).sum()
    }

    fn available(&self) -> Points {
        let lots = self.lots.iter().filter(|l| self.spendable(l));
        lots.map(|l| l.remaining).sum::<Points>() - self.debt
    }

    /// Moves time on: lots whose expiry has come lose what is left of them.
    fn advance(&mut self, now: DateTime<Utc>) {
        self.now = now;
        for lot in &mut self.lots {
            if !lot.expired && lot.expires_at.is_some_and(|at| at <= now) {
                self.totals.expired += lot.remaining;
                lot.remaining = 0;
                lot.expired = true;
            }
        }
    }

    /// A new lot maturing `pending_days` after `at` and expiring `expiry_days` after
    /// that (never when 0).
    fn earn(&mut self, id: &str, points: Points, at: DateTime<Utc>, program: &Program) {
        let matures_at = at + Duration::days(i64::from(program.pending_days));
        let expires_at = (program.expiry_days > 0)
            .then(|| matures_at + Duration::days(i64::from(program.expiry_days)));
        self.lots.push(ModelLot {
            id: id.to_string(),
            points,
            remaining: points,
            matures_at,
            expires_at,
            expired: false,
        });
        self.totals.issued += points;
    }

    /// Spends from the oldest spendable lots; `None` (and no change) when the
    /// available balance is short. Spending nothing is never short.
    fn redeem(&mut self, points: Points) -> Option<Vec<(String, Points)>> {
        if points > self.available().max(0) {
            return None;
        }
        let mut left = points;
        let mut consumed = Vec::new();
        for idx in 0..self.lots.len() {
            if !self.spendable(&self.lots[idx]) {
                continue;
            }
            let lot = &mut self.lots[idx];
            let take = lot.remaining.min(left);
            if take > 0 {
                lot.remaining -= take;
                left -= take;
                consumed.push((lot.id.clone(), take));
            }
        }
        assert_eq!(left, 0, "model: lots do not cover the available balance");
        self.totals.redeemed += points;
        Some(consumed)
    }

    /// Gives `points` back to the lots of `consumed`, the last consumed first, after
    /// skipping the `already` points earlier returns gave back. Points given to an
    /// expired lot expire again at once. Returns what found no lot to go to.
    fn refund(&mut self, points: Points, consumed: &[(String, Points)], already: Points) -> Points {
        let mut skip = already;
        let mut left = points;
        for (id, taken) in consumed.iter().rev() {
            let skipped = skip.min(*taken);
            skip -= skipped;
            let give = (taken - skipped).min(left);
            left -= give;
            self.totals.refunded += give;
            let lot = self.lots.iter_mut().find(|l| &l.id == id);
            let lot = lot.expect("model: a consumed lot is known");
            if lot.expired {
                self.totals.expired += give;
            } else {
                lot.remaining += give;
            }
        }
        // Nothing should be left; if something were, it is given back without a lot.
        self.totals.refunded += left;
        self.debt -= left;
        left
    }

    /// Takes `points` back: the receipt's own lot first (pending or not), then the
    /// other spendable lots oldest first, then what is missing becomes debt.
    fn reverse(&mut self, points: Points, own: Option<&str>) {
        let own = self.lots.iter().position(|l| Some(l.id.as_str()) == own);
        let others = (0..self.lots.len()).filter(|&idx| Some(idx) != own);
        let others: Vec<usize> = others.filter(|&i| self.spendable(&self.lots[i])).collect();
        let mut left = points;
        for idx in own.into_iter().chain(others) {
            let lot = &mut self.lots[idx];
            let take = lot.remaining.min(left);
            lot.remaining -= take;
            left -= take;
        }
        self.debt += left;
        self.totals.reversed += points;
    }
}

// ---------------------------------------------------------------- operations

#[derive(Debug, Clone)]
struct SaleLine {
    sku: &'static str,
    qty: i64,
    price: i64,
}

#[derive(Debug, Clone)]
enum Op {
    /// A receipt of one or two lines earning `earn_percent` basis points (none: no
    /// promotion) and paying with points as `redeem` says.
    Sale {
        lines: Vec<SaleLine>,
        earn_percent: Option<i64>,
        redeem: Redeem,
    },
    /// Returns `qty` (a share of what is left) of one line of one open receipt.
    Return {
        which: Index,
        line: Index,
        qty: Index,
    },
    /// Cancels one receipt not cancelled yet.
    Cancel {
        which: Index,
    },
    Advance {
        hours: i64,
    },
}

fn arb_sale_line() -> impl Strategy<Value = SaleLine> {
    (
        prop_oneof![4 => Just("MILK"), 3 => Just("BREAD"), 2 => Just("APPLE"), 1 => Just("CIG")],
        prop_oneof![(1i64..=5).prop_map(|units| units * 1000), 1i64..=5_000],
        prop_oneof![1i64..=3_000, 0i64..=100],
    )
        .prop_map(|(sku, qty, price)| SaleLine { sku, qty, price })
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            prop::collection::vec(arb_sale_line(), 1..=2),
            prop::option::weighted(0.85, prop_oneof![Just(1000i64), 1i64..=3_000]),
            prop_oneof![
                2 => Just(Redeem::None),
                2 => (1i64..=100).prop_map(Redeem::Points),
                1 => (1i64..=2_000).prop_map(Redeem::Points),
                2 => Just(Redeem::Max),
            ],
        )
            .prop_map(|(lines, earn_percent, redeem)| Op::Sale { lines, earn_percent, redeem }),
        3 => (any::<Index>(), any::<Index>(), any::<Index>())
            .prop_map(|(which, line, qty)| Op::Return { which, line, qty }),
        1 => any::<Index>().prop_map(|which| Op::Cancel { which }),
        3 => prop_oneof![0i64..=24, 0i64..=24 * 6].prop_map(|hours| Op::Advance { hours }),
    ]
}

fn arb_program() -> impl Strategy<Value = Program> {
    (
        0u32..=3,
        prop_oneof![Just(0u32), 1u32..=5],
        prop_oneof![3 => Just(100u32), 1 => 0u32..=100],
    )
        .prop_map(|(pending_days, expiry_days, max_redeem_percent)| Program {
            pending_days,
            expiry_days,
            ..program(1, max_redeem_percent)
        })
}

/// A committed receipt, what the model consumed for it and what it gave back so far.
#[derive(Debug)]
struct Committed {
    record: ReceiptRecord,
    consumed: Vec<(String, Points)>,
    refunded: Points,
    reversed: Points,
}

fn store_time(now: DateTime<Utc>) -> DateTime<FixedOffset> {
    now.with_timezone(&FixedOffset::east_opt(3 * 3600).expect("offset"))
}

// ---------------------------------------------------------------- the machine

fn run(program: &Program, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut ledger = empty_ledger();
    let mut model = Model::new(t0());
    let mut receipts: Vec<Committed> = Vec::new();
    check(&ledger, &model, &receipts)?;
    for (step, op) in ops.iter().enumerate() {
        let now = model.now;
        match op {
            Op::Sale {
                lines,
                earn_percent,
                redeem,
            } => {
                let receipt_id = format!("r-{step:03}");
                let lines = lines.iter().enumerate();
                let lines = lines.map(|(i, l)| line(i as u32 + 1, l.sku, l.qty, l.price));
                let mut request = receipt(DEFAULT_AT, lines.collect(), true, *redeem);
                request.receipt_id.clone_from(&receipt_id);
                request.at = store_time(now);
                let promotions: Vec<_> = earn_percent
                    .iter()
                    .map(|bp| earn_points("earn", 0, *bp, None))
                    .collect();
                ledger.catch_up(now);
                let view = customer(ledger.available, ledger.pending);
                let priced = price(program, DEFAULT_TZ, &promotions, &request, Some(&view));
                let refused = matches!(redeem, Redeem::Points(p) if *p > model.available());
                let calc = match priced {
                    Err(err) if refused => {
                        prop_assert_eq!(err.code, ErrorCode::InsufficientPoints);
                        // The ledger refuses the same redemption and changes nothing,
                        // and so does the model.
                        let Redeem::Points(points) = *redeem else {
                            unreachable!()
                        };
                        let (ledger_before, model_before) = (ledger.clone(), model.clone());
                        let err = ledger
                            .redeem(points, &context(Some(&receipt_id), None, now))
                            .unwrap_err();
                        prop_assert_eq!(err.code, ErrorCode::InsufficientPoints);
                        prop_assert_eq!(&ledger, &ledger_before, "refused redeem changed ledger");
                        prop_assert!(model.redeem(points).is_none());
                        prop_assert_eq!(&model, &model_before, "refused redeem changed model");
                        check(&ledger, &model, &receipts)?;
                        continue;
                    }
                    Err(err) => {
                        // Only the percent cap may refuse an affordable request.
                        prop_assert_eq!(err.code, ErrorCode::RedeemExceedsLimit, "{}", err);
                        check(&ledger, &model, &receipts)?;
                        continue;
                    }
                    Ok(calc) => calc,
                };
                prop_assert!(!refused, "priced a redemption the model refuses");
                let ctx = context(Some(&receipt_id), None, now);
                let redeemed_from = ledger.redeem(calc.points_redeemed, &ctx)?;
                let consumed = model.redeem(calc.points_redeemed);
                prop_assert_eq!(Some(&redeemed_from), consumed.as_ref(), "lots consumed");
                let mut earn_lot_id = None;
                if calc.points_earned > 0 {
                    let lot_id = format!("{receipt_id}:earn");
                    let earned_at = request.at.with_timezone(&Utc);
                    ledger.earn(lot_id.clone(), calc.points_earned, earned_at, program, &ctx);
                    model.earn(&lot_id, calc.points_earned, earned_at, program);
                    earn_lot_id = Some(lot_id);
                }
                ledger.catch_up(now);
                model.advance(now);
                receipts.push(Committed {
                    record: record(&request, calc, earn_lot_id, redeemed_from.clone()),
                    consumed: redeemed_from,
                    refunded: 0,
                    reversed: 0,
                });
            }
            Op::Return { which, line, qty } => {
                let open: Vec<usize> = (0..receipts.len())
                    .filter(|&i| {
                        let status = receipts[i].record.status;
                        status != ReceiptStatus::Cancelled && status != ReceiptStatus::Returned
                    })
                    .collect();
                if !open.is_empty() {
                    let committed = &mut receipts[open[which.index(open.len())]];
                    let record = &committed.record;
                    let left: Vec<(u32, i64)> = record
                        .calculation
                        .lines
                        .iter()
                        .zip(&record.returned_qty)
                        .filter(|(l, returned)| l.qty > **returned)
                        .map(|(l, returned)| (l.line, l.qty - returned))
                        .collect();
                    let (line_no, left) = left[line.index(left.len())];
                    let request = [(line_no, 1 + qty.index(left as usize) as i64)];
                    let op_id = format!("ret-{step:03}");
                    give_back(&mut ledger, &mut model, committed, &op_id, now, |r| {
                        r.apply_return(&request)
                    })?;
                }
            }
            Op::Cancel { which } => {
                let open: Vec<usize> = (0..receipts.len())
                    .filter(|&i| receipts[i].record.status != ReceiptStatus::Cancelled)
                    .collect();
                if !open.is_empty() {
                    let committed = &mut receipts[open[which.index(open.len())]];
                    let op_id = format!("cancel/{}", committed.record.receipt_id);
                    give_back(&mut ledger, &mut model, committed, &op_id, now, |r| {
                        r.apply_cancel()
                    })?;
                    let again = committed.record.clone().apply_cancel().unwrap_err();
                    prop_assert_eq!(again.code, ErrorCode::ReceiptCancelled);
                }
            }
            Op::Advance { hours } => {
                let now = now + Duration::hours(*hours);
                let predicted = ledger.balance_at(now);
                ledger.catch_up(now);
                model.advance(now);
                prop_assert_eq!(
                    (predicted.pending, predicted.available),
                    (model.pending(), model.available()),
                    "balance_at predicted"
                );
            }
        }
        check(&ledger, &model, &receipts)?;
    }
    Ok(())
}

/// A return or cancel, applied to the record and then to the ledger as the store's
/// `reverse_points` does: redeemed points given back, then earned points taken back.
fn give_back(
    ledger: &mut CustomerLedger,
    model: &mut Model,
    committed: &mut Committed,
    op_id: &str,
    now: DateTime<Utc>,
    apply: impl FnOnce(&mut ReceiptRecord) -> Result<ReturnOutcome, CoreError>,
) -> Result<(), TestCaseError> {
    let refunded_before = committed.record.points_refunded_so_far();
    prop_assert_eq!(refunded_before, committed.refunded, "refunded so far");
    let outcome = apply(&mut committed.record)?;
    let record = &committed.record;
    ledger.catch_up(now);
    let ctx = context(Some(&record.receipt_id), Some(op_id), now);
    ledger.refund_redemption(
        outcome.points_refunded,
        &record.redeemed_from,
        refunded_before,
        &ctx,
    );
    ledger.reverse_earn(outcome.points_reversed, record.earn_lot_id.as_deref(), &ctx);
    let unlotted = model.refund(
        outcome.points_refunded,
        &committed.consumed,
        committed.refunded,
    );
    prop_assert_eq!(
        unlotted,
        0,
        "points given back beyond what the receipt spent"
    );
    model.reverse(outcome.points_reversed, record.earn_lot_id.as_deref());
    committed.refunded += outcome.points_refunded;
    committed.reversed += outcome.points_reversed;
    Ok(())
}

/// Everything the real ledger and the model must agree on after a step.
fn check(
    ledger: &CustomerLedger,
    model: &Model,
    receipts: &[Committed],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        (ledger.pending, ledger.available),
        (model.pending(), model.available()),
        "balances (pending, available)"
    );

    // Lots: the same ones, in the same order, in the same state.
    let real: Vec<_> = ledger.lots.iter().map(|l| l.lot_id.as_str()).collect();
    let modelled: Vec<_> = model.lots.iter().map(|l| l.id.as_str()).collect();
    prop_assert_eq!(real, modelled, "lots");
    for (lot, expected) in ledger.lots.iter().zip(&model.lots) {
        prop_assert_eq!(
            (lot.points, lot.remaining, lot.state),
            (expected.points, expected.remaining, model.state(expected)),
            "lot {}",
            lot.lot_id
        );
        prop_assert_eq!(
            (lot.matures_at, lot.expires_at),
            (expected.matures_at, expected.expires_at),
            "lot {} dates",
            lot.lot_id
        );
        prop_assert!(
            (0..=lot.points).contains(&lot.remaining),
            "lot remaining out of range {:?}",
            lot
        );
        prop_assert!(
            (0..=expected.points).contains(&expected.remaining),
            "model lot remaining out of range {:?}",
            expected
        );
    }

    // The journal: account balances and points moved by kind.
    let mut accounts: BTreeMap<Account, Points> = BTreeMap::new();
    let mut moved = Totals::default();
    for entry in ledger.journal() {
        *accounts.entry(entry.debit).or_default() -= entry.amount;
        *accounts.entry(entry.credit).or_default() += entry.amount;
        let total = match entry.kind {
            EntryKind::Earn => &mut moved.issued,
            EntryKind::EarnReversal => &mut moved.reversed,
            EntryKind::Redeem => &mut moved.redeemed,
            EntryKind::RedeemRefund => &mut moved.refunded,
            EntryKind::Expire => &mut moved.expired,
            EntryKind::Mature => continue,
            EntryKind::TransferOut | EntryKind::TransferIn | EntryKind::Adjust => {
                return Err(TestCaseError::fail(format!("unexpected entry {entry:?}")));
            }
        };
        *total += entry.amount;
    }
    let account = |a: Account| accounts.get(&a).copied().unwrap_or(0);
    prop_assert_eq!(&moved, &model.totals, "journal totals by kind");
    let t = &model.totals;
    prop_assert_eq!(
        [
            account(Account::CustomerPending),
            account(Account::CustomerAvailable),
            account(Account::Issued),
            account(Account::Redeemed),
            account(Account::Expired),
        ],
        [
            model.pending(),
            model.available(),
            t.reversed - t.issued,
            t.redeemed - t.refunded,
            t.expired,
        ],
        "journal account sums (pending, available, issued, redeemed, expired)"
    );
    prop_assert_eq!(
        t.issued - t.reversed - t.redeemed + t.refunded - t.expired,
        model.pending() + model.available(),
        "points conservation"
    );

    // Receipts never give back more than they moved, and exactly that once undone.
    for committed in receipts {
        let calc = &committed.record.calculation;
        prop_assert!(committed.refunded <= calc.points_redeemed);
        prop_assert!(committed.reversed <= calc.points_earned);
        if matches!(
            committed.record.status,
            ReceiptStatus::Returned | ReceiptStatus::Cancelled
        ) {
            prop_assert_eq!(
                (committed.refunded, committed.reversed),
                (calc.points_redeemed, calc.points_earned),
                "receipt {} undone",
                &committed.record.receipt_id
            );
        }
    }
    check_invariants(ledger)
}

/// A customer whose available balance a return made negative can still commit a
/// receipt that pays nothing with points (`commit` calls `redeem(0)`); found by the
/// model test.
#[test]
fn zero_redeem_on_a_negative_balance_is_accepted() {
    let program = Program {
        pending_days: 0,
        expiry_days: 0,
        ..Program::default()
    };
    let mut ledger = empty_ledger();
    let t = t0();
    ledger.earn(
        "own".into(),
        10,
        t,
        &program,
        &context(Some("r-1"), None, t),
    );
    ledger.catch_up(t);
    ledger.redeem(10, &context(Some("r-2"), None, t)).unwrap();
    ledger.reverse_earn(10, Some("own"), &context(Some("r-1"), Some("ret"), t));
    assert_eq!(ledger.available, -10);
    // What `commit` does for a receipt that pays nothing with points.
    let consumed = ledger.redeem(0, &context(Some("r-3"), None, t));
    assert_eq!(consumed.unwrap(), Vec::new());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn ledger_model_receipts(program in arb_program(), ops in prop::collection::vec(arb_op(), 1..80)) {
        run(&program, &ops)?;
    }
}
