//! Writes the calculate/commit answer and the stored receipt record of a realistic
//! receipt (20 lines, 10 promotions applied, 50 that did not apply) with serde_json
//! and with `compact_json`, and prints ns per document and MB/s of each.
//! `cargo bench -p tessera-api --bench json` (no harness: a program that prints figures).
//! `JSON_BENCH_ITERATIONS` sets the documents per round (default 20000): a few hundred
//! are enough under callgrind, whose instruction counts do not move with the noise of
//! a shared machine.

use chrono::DateTime;
use serde::Serialize;
use std::hint::black_box;
use std::time::Instant;
use tessera_api::convert::calculation_out;
use tessera_core::compact_json;
use tessera_core::pricing::{
    AppliedPromotion, BalanceAfter, Calculation, NotApplied, NotAppliedReason, PricedLine, Totals,
};
use tessera_core::refund::{ReceiptRecord, ReceiptStatus};
use tessera_core::reward::{Issued, Reward, RewardKind};

const REASONS: [NotAppliedReason; 5] = [
    NotAppliedReason::LimitReached,
    NotAppliedReason::LostInGroup,
    NotAppliedReason::BlockedBy,
    NotAppliedReason::ExclusiveAfterOthers,
    NotAppliedReason::NoEffect,
];

fn calculation() -> Calculation {
    let lines: Vec<PricedLine> = (0..20u32)
        .map(|idx| {
            let price = 9_900 + (i64::from(idx) * 7_919) % 500_000;
            // Every fourth line is weighed: a fractional quantity, written as a float.
            let qty = if idx % 4 == 3 {
                532 + i64::from(idx)
            } else {
                1000 * (1 + i64::from(idx % 3))
            };
            let amount = price * qty / 1000;
            let discount = if idx % 2 == 0 { amount / 10 } else { 0 };
            PricedLine {
                line: idx + 1,
                sku: format!("SKU-{:06}", (idx as usize * 977) % 20_000),
                qty,
                price,
                amount,
                discount,
                points_redeemed: 0,
                points_paid: 0,
                certificate_paid: 0,
                total: amount - discount,
                points_earned: (amount - discount) / 20,
                promotions: (0..(idx % 3 + 1))
                    .map(|p| format!("p{:03}", (idx * 7 + p * 13) % 200))
                    .collect(),
                added_by: (idx == 19).then(|| "p042".to_string()),
            }
        })
        .collect();
    let sum = |field: fn(&PricedLine) -> i64| lines.iter().map(field).sum::<i64>();
    let totals = Totals {
        amount: sum(|l| l.amount),
        discount: sum(|l| l.discount),
        points_value: 0,
        certificates: 0,
        to_pay: sum(|l| l.total),
    };
    let points_earned = sum(|l| l.points_earned);
    Calculation {
        promotions: (0..10)
            .map(|idx| AppliedPromotion {
                promotion_id: format!("p{:03}", idx * 17),
                name: format!("promotion {} — spring «sale»", idx * 17),
                effect: ["percent_off", "amount_off", "buy_get", "earn_points"][idx % 4].into(),
                discount: 1_000 * idx as i64,
                points: if idx % 4 == 3 { 150 } else { 0 },
            })
            .collect(),
        not_applied: (0..50)
            .map(|idx| NotApplied {
                promotion_id: format!("p{:03}", 30 + idx * 3),
                reason: REASONS[idx % REASONS.len()],
                by: (idx % 5 == 2).then(|| format!("p{:03}", idx % 10 * 17)),
            })
            .collect(),
        lines,
        totals,
        points_earned,
        points_redeemed: 0,
        customer_id: Some("c-01HV7Z3K9Q".into()),
        balance: Some(BalanceAfter {
            available: 5_000,
            pending: points_earned,
        }),
        messages: vec!["Buy 2 get 1 on socks this week".into()],
        receipt_messages: vec!["Thank you!\nSee you soon".into()],
        coupons: Vec::new(),
        rewards: vec![Reward {
            promotion_id: "p042".into(),
            kind: RewardKind::BonusPoints {
                points: 100,
                expires_in_days: Some(30),
            },
        }],
        certificates: Vec::new(),
    }
}

fn record(calculation: Calculation) -> ReceiptRecord {
    ReceiptRecord {
        receipt_id: "R-2026-03-12-000123".into(),
        store_id: "s042".into(),
        terminal_id: "T1".into(),
        at: DateTime::parse_from_rfc3339("2026-03-12T12:00:00+03:00").unwrap_or_default(),
        customer_id: calculation.customer_id.clone(),
        returned_qty: vec![0; calculation.lines.len()],
        calculation,
        status: ReceiptStatus::Committed,
        version: 1,
        earn_lot_id: Some("lot-01HV7Z3K9Q".into()),
        redeemed_from: Vec::new(),
        usage: Vec::new(),
        coupons_used: Vec::new(),
        issued: Issued::default(),
    }
}

/// Documents written in one timed batch.
const BATCH: u32 = 50;

/// Times both writers on `document` in alternating batches and prints, per round, the
/// median and the best batch of each: on a shared machine a batch the scheduler
/// interrupts only moves the slow end.
fn compare<T: Serialize>(label: &str, document: &T, iterations: u32) {
    let expected = serde_json::to_vec(document).unwrap_or_default();
    let written = compact_json::to_vec(document).unwrap_or_default();
    if written != expected {
        eprintln!("{label}: compact_json differs from serde_json");
        std::process::exit(1);
    }
    let bytes = expected.len() as f64;
    let batch = |write: &dyn Fn() -> usize| {
        let started = Instant::now();
        let mut total = 0;
        for _ in 0..BATCH {
            total += write();
        }
        black_box(total);
        started.elapsed().as_secs_f64() * 1e9 / f64::from(BATCH)
    };
    let serde_json = || serde_json::to_vec(black_box(document)).map_or(0, |v| v.len());
    let compact = || compact_json::to_vec(black_box(document)).map_or(0, |v| v.len());
    for round in 0..3 {
        let (mut serde_ns, mut compact_ns) = (Vec::new(), Vec::new());
        for idx in 0..(iterations / BATCH).max(1) {
            if idx % 2 == 0 {
                serde_ns.push(batch(&serde_json));
                compact_ns.push(batch(&compact));
            } else {
                compact_ns.push(batch(&compact));
                serde_ns.push(batch(&serde_json));
            }
        }
        let (serde_median, serde_best) = median_and_best(&mut serde_ns);
        let (compact_median, compact_best) = median_and_best(&mut compact_ns);
        println!(
            "{label} ({bytes} bytes), round {round}: serde_json {serde_median:.0} ns ({:.0} MB/s; best {serde_best:.0} ns), compact_json {compact_median:.0} ns ({:.0} MB/s; best {compact_best:.0} ns), {:.2}x",
            bytes / serde_median * 1e3,
            bytes / compact_median * 1e3,
            serde_median / compact_median,
        );
    }
}

fn median_and_best(ns: &mut [f64]) -> (f64, f64) {
    ns.sort_by(f64::total_cmp);
    let median = ns.get(ns.len() / 2).copied().unwrap_or_default();
    (median, ns.first().copied().unwrap_or_default())
}

fn main() {
    let iterations = std::env::var("JSON_BENCH_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let calculation = calculation();
    let answer = calculation_out("R-2026-03-12-000123", &calculation, Some(1), false, None);
    compare("commit answer (CalculationOut)", &answer, iterations);
    compare(
        "stored record (ReceiptRecord)",
        &record(calculation),
        iterations,
    );
}
