//! Pricing: a table of hand-computed receipts and properties over random receipts.

use crate::fixtures::*;
use proptest::prelude::*;
use tessera_core::money::Points;
use tessera_core::pricing::{BalanceAfter, Totals};
use tessera_core::program::Program;
use tessera_core::promotion::Promotion;
use tessera_core::receipt::{ReceiptLine, Redeem};
use tessera_core::ErrorCode;

/// Expected values of one priced line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Line {
    amount: i64,
    discount: i64,
    points_paid: i64,
    total: i64,
    points_earned: i64,
}

fn l(amount: i64, discount: i64, points_paid: i64, total: i64, points_earned: i64) -> Line {
    Line {
        amount,
        discount,
        points_paid,
        total,
        points_earned,
    }
}

fn totals(amount: i64, discount: i64, points_value: i64, to_pay: i64) -> Totals {
    Totals {
        amount,
        discount,
        points_value,
        certificates: 0,
        to_pay,
    }
}

#[derive(Debug)]
struct Expected {
    lines: Vec<Line>,
    totals: Totals,
    points_earned: Points,
    points_redeemed: Points,
    /// Ids of the promotions that applied, in the order they applied.
    applied: Vec<&'static str>,
}

#[derive(Debug)]
struct Case {
    name: &'static str,
    program: Program,
    tz: &'static str,
    at: &'static str,
    lines: Vec<ReceiptLine>,
    promotions: Vec<Promotion>,
    /// The customer's available balance; `None` for an anonymous receipt.
    balance: Option<Points>,
    redeem: Redeem,
    expected: Result<Expected, ErrorCode>,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            name: "",
            program: program(100, 100),
            tz: DEFAULT_TZ,
            at: DEFAULT_AT,
            lines: Vec::new(),
            promotions: Vec::new(),
            balance: None,
            redeem: Redeem::None,
            expected: Err(ErrorCode::Internal),
        }
    }
}

const PENDING_BEFORE: Points = 40;

fn check(case: Case) {
    let name = case.name;
    let request = receipt(case.at, case.lines, case.balance.is_some(), case.redeem);
    let view = case
        .balance
        .map(|available| customer(available, PENDING_BEFORE));
    let result = price(
        &case.program,
        case.tz,
        &case.promotions,
        &request,
        view.as_ref(),
    );
    let expected = match case.expected {
        Err(code) => {
            let err = result.expect_err(name);
            assert_eq!(err.code, code, "{name}: {err}");
            assert_eq!(err.field.as_deref(), Some("redeem_points"), "{name}");
            return;
        }
        Ok(expected) => expected,
    };
    let calc = result.unwrap_or_else(|e| panic!("{name}: {e}"));
    let actual: Vec<Line> = calc
        .lines
        .iter()
        .map(|p| {
            l(
                p.amount,
                p.discount,
                p.points_paid,
                p.total,
                p.points_earned,
            )
        })
        .collect();
    assert_eq!(actual, expected.lines, "{name}: lines");
    for (priced, sent) in calc.lines.iter().zip(&request.lines) {
        assert_eq!(
            (priced.line, &priced.sku, priced.qty, priced.price),
            (sent.line, &sent.sku, sent.qty, sent.price),
            "{name}"
        );
        assert_eq!(
            priced.points_paid,
            priced.points_redeemed * case.program.point_value,
            "{name}"
        );
    }
    assert_eq!(calc.totals, expected.totals, "{name}: totals");
    assert_eq!(
        calc.points_earned, expected.points_earned,
        "{name}: points_earned"
    );
    assert_eq!(
        calc.points_redeemed, expected.points_redeemed,
        "{name}: points_redeemed"
    );
    let applied: Vec<&str> = calc
        .promotions
        .iter()
        .map(|p| p.promotion_id.as_str())
        .collect();
    assert_eq!(applied, expected.applied, "{name}: applied promotions");
    match case.balance {
        Some(available) => {
            assert_eq!(calc.customer_id.as_deref(), Some(CUSTOMER_ID), "{name}");
            assert_eq!(
                calc.balance,
                Some(BalanceAfter {
                    available: available - expected.points_redeemed,
                    pending: PENDING_BEFORE + expected.points_earned,
                }),
                "{name}: balance after"
            );
        }
        None => {
            assert_eq!(calc.customer_id, None, "{name}");
            assert_eq!(calc.balance, None, "{name}");
        }
    }
}

/// Two lines whose net amounts give point capacities 25 and 15 at point value 100.
fn milk_and_bread() -> Vec<ReceiptLine> {
    vec![line(1, "MILK", 1000, 2500), line(2, "BREAD", 1000, 1550)]
}

fn cases() -> Vec<Case> {
    let morning = || {
        with_schedule(
            percent_off("morning15", 0, 1500, None),
            "2025-03-01T09:00:00",
            "2025-03-01T12:00:00",
        )
    };
    vec![
        Case {
            name: "weighed quantities round half to even",
            lines: vec![
                line(1, "APPLE", 532, 125),
                line(2, "APPLE", 532, 375),
                line(3, "APPLE", 532, 12345),
            ],
            expected: Ok(Expected {
                // 66.5 -> 66, 199.5 -> 200, 6567.54 -> 6568
                lines: vec![
                    l(66, 0, 0, 66, 0),
                    l(200, 0, 0, 200, 0),
                    l(6568, 0, 0, 6568, 0),
                ],
                totals: totals(6834, 0, 0, 6834),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec![],
            }),
            ..Case::default()
        },
        Case {
            name: "percent_off on one category only",
            lines: vec![
                line(1, "MILK", 2000, 8990),
                line(2, "BREAD", 1000, 4500),
                line(3, "KEFIR", 1000, 1005),
                line(4, "UNKNOWN", 1000, 700),
            ],
            promotions: vec![percent_off("dairy10", 0, 1000, category("dairy"))],
            expected: Ok(Expected {
                // 10% of 18985 = 1898.5 -> 1898 (half even), split 1798 / 100
                lines: vec![
                    l(17980, 1798, 0, 16182, 0),
                    l(4500, 0, 0, 4500, 0),
                    l(1005, 100, 0, 905, 0),
                    l(700, 0, 0, 700, 0),
                ],
                totals: totals(24185, 1898, 0, 22287),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec!["dairy10"],
            }),
            ..Case::default()
        },
        Case {
            name: "two stacked percent_off: the second applies on the net after the first",
            lines: vec![line(1, "MILK", 1000, 10000), line(2, "BREAD", 1000, 333)],
            // Listed in the wrong order on purpose: priority decides.
            promotions: vec![
                percent_off("then20", 5, 2000, None),
                percent_off("first10", 10, 1000, None),
            ],
            expected: Ok(Expected {
                // 10% of 10333 = 1033 (1000 / 33); 20% of 9300 = 1860 (1800 / 60).
                // Additive 30% would be 3100, the other order 2894.
                lines: vec![l(10000, 2800, 0, 7200, 0), l(333, 93, 0, 240, 0)],
                totals: totals(10333, 2893, 0, 7440),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec!["first10", "then20"],
            }),
            ..Case::default()
        },
        Case {
            name: "min_amount met exactly",
            lines: vec![line(1, "MILK", 1000, 6000), line(2, "BREAD", 2000, 2000)],
            promotions: vec![with_min_amount(percent_off("big5", 0, 500, None), 10000)],
            expected: Ok(Expected {
                lines: vec![l(6000, 300, 0, 5700, 0), l(4000, 200, 0, 3800, 0)],
                totals: totals(10000, 500, 0, 9500),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec!["big5"],
            }),
            ..Case::default()
        },
        Case {
            name: "min_amount not met",
            lines: vec![line(1, "MILK", 1000, 6000), line(2, "BREAD", 2000, 1999)],
            promotions: vec![with_min_amount(percent_off("big5", 0, 500, None), 10000)],
            expected: Ok(Expected {
                lines: vec![l(6000, 0, 0, 6000, 0), l(3998, 0, 0, 3998, 0)],
                totals: totals(9998, 0, 0, 9998),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec![],
            }),
            ..Case::default()
        },
        Case {
            name: "schedule in store-local time: 00:30 UTC is 10:30 in Vladivostok, inside",
            tz: "Asia/Vladivostok",
            at: "2025-03-01T00:30:00Z",
            lines: vec![line(1, "MILK", 1000, 2000)],
            promotions: vec![morning()],
            expected: Ok(Expected {
                lines: vec![l(2000, 300, 0, 1700, 0)],
                totals: totals(2000, 300, 0, 1700),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec!["morning15"],
            }),
            ..Case::default()
        },
        Case {
            name: "schedule in store-local time: 10:30 UTC is 20:30 in Vladivostok, outside",
            tz: "Asia/Vladivostok",
            at: "2025-03-01T10:30:00Z",
            lines: vec![line(1, "MILK", 1000, 2000)],
            promotions: vec![morning()],
            expected: Ok(Expected {
                lines: vec![l(2000, 0, 0, 2000, 0)],
                totals: totals(2000, 0, 0, 2000),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec![],
            }),
            ..Case::default()
        },
        Case {
            name: "schedule from is inclusive: 09:00 local is the previous day 23:00 UTC",
            tz: "Asia/Vladivostok",
            at: "2025-02-28T23:00:00Z",
            lines: vec![line(1, "MILK", 1000, 2000)],
            promotions: vec![morning()],
            expected: Ok(Expected {
                lines: vec![l(2000, 300, 0, 1700, 0)],
                totals: totals(2000, 300, 0, 1700),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec!["morning15"],
            }),
            ..Case::default()
        },
        Case {
            name: "schedule: one second before from (local) is outside, whatever the offset sent",
            tz: "Asia/Vladivostok",
            at: "2025-03-01T01:59:59+03:00",
            lines: vec![line(1, "MILK", 1000, 2000)],
            promotions: vec![morning()],
            expected: Ok(Expected {
                lines: vec![l(2000, 0, 0, 2000, 0)],
                totals: totals(2000, 0, 0, 2000),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec![],
            }),
            ..Case::default()
        },
        Case {
            name: "schedule to is inclusive: 12:00 local",
            tz: "Asia/Vladivostok",
            at: "2025-03-01T05:00:00+03:00",
            lines: vec![line(1, "MILK", 1000, 2000)],
            promotions: vec![morning()],
            expected: Ok(Expected {
                lines: vec![l(2000, 300, 0, 1700, 0)],
                totals: totals(2000, 300, 0, 1700),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec!["morning15"],
            }),
            ..Case::default()
        },
        Case {
            name: "earn_points 5% at point value 100, rounded down and allocated to lines",
            lines: vec![line(1, "MILK", 1000, 12345), line(2, "BREAD", 3000, 2999)],
            promotions: vec![earn_points("earn5", 0, 500, None)],
            balance: Some(0),
            expected: Ok(Expected {
                // 5% of 21342 = 1067.1 minor units = 10.671 points -> 10, split 6 / 4
                lines: vec![l(12345, 0, 0, 12345, 6), l(8997, 0, 0, 8997, 4)],
                totals: totals(21342, 0, 0, 21342),
                points_earned: 10,
                points_redeemed: 0,
                applied: vec!["earn5"],
            }),
            ..Case::default()
        },
        Case {
            name: "earn_points rounds down, never to nearest",
            lines: vec![line(1, "MILK", 1000, 19999)],
            promotions: vec![earn_points("earn5", 0, 500, None)],
            balance: Some(0),
            expected: Ok(Expected {
                // 9.9995 points -> 9
                lines: vec![l(19999, 0, 0, 19999, 9)],
                totals: totals(19999, 0, 0, 19999),
                points_earned: 9,
                points_redeemed: 0,
                applied: vec!["earn5"],
            }),
            ..Case::default()
        },
        Case {
            name: "earn_points on one category only",
            lines: vec![line(1, "MILK", 1000, 12345), line(2, "BREAD", 3000, 2999)],
            promotions: vec![earn_points("bread5", 0, 500, category("bakery"))],
            balance: Some(0),
            expected: Ok(Expected {
                // 5% of 8997 = 4.4985 points -> 4
                lines: vec![l(12345, 0, 0, 12345, 0), l(8997, 0, 0, 8997, 4)],
                totals: totals(21342, 0, 0, 21342),
                points_earned: 4,
                points_redeemed: 0,
                applied: vec!["bread5"],
            }),
            ..Case::default()
        },
        Case {
            name: "redeem exactly 30 points; points earned on the money actually paid",
            lines: milk_and_bread(),
            promotions: vec![earn_points("earn10", 0, 1000, None)],
            balance: Some(500),
            redeem: Redeem::Points(30),
            expected: Ok(Expected {
                // capacities 25 / 15: 30 points split 19 / 11; 10% of 1050 = 1.05 -> 1 point
                lines: vec![l(2500, 0, 1900, 600, 1), l(1550, 0, 1100, 450, 0)],
                totals: totals(4050, 0, 3000, 1050),
                points_earned: 1,
                points_redeemed: 30,
                applied: vec!["earn10"],
            }),
            ..Case::default()
        },
        Case {
            name: "redeem exactly the limit",
            lines: milk_and_bread(),
            balance: Some(1000),
            redeem: Redeem::Points(40),
            expected: Ok(Expected {
                lines: vec![l(2500, 0, 2500, 0, 0), l(1550, 0, 1500, 50, 0)],
                totals: totals(4050, 0, 4000, 50),
                points_earned: 0,
                points_redeemed: 40,
                applied: vec![],
            }),
            ..Case::default()
        },
        Case {
            name: "redeem max limited by the balance",
            lines: milk_and_bread(),
            balance: Some(7),
            redeem: Redeem::Max,
            expected: Ok(Expected {
                // 7 over capacities 25 / 15: 4.375 / 2.625 -> 4 / 3
                lines: vec![l(2500, 0, 400, 2100, 0), l(1550, 0, 300, 1250, 0)],
                totals: totals(4050, 0, 700, 3350),
                points_earned: 0,
                points_redeemed: 7,
                applied: vec![],
            }),
            ..Case::default()
        },
        Case {
            name: "redeem max limited by max_redeem_percent",
            program: program(100, 50),
            lines: milk_and_bread(),
            balance: Some(1000),
            redeem: Redeem::Max,
            expected: Ok(Expected {
                // 50% of 4050 = 20.25 points -> 20; 12.5 / 7.5 -> tie goes to the first line
                lines: vec![l(2500, 0, 1300, 1200, 0), l(1550, 0, 700, 850, 0)],
                totals: totals(4050, 0, 2000, 2050),
                points_earned: 0,
                points_redeemed: 20,
                applied: vec![],
            }),
            ..Case::default()
        },
        Case {
            name: "redeem max limited by a no_points_payment product",
            lines: vec![line(1, "CIG", 1000, 30000), line(2, "MILK", 1000, 2550)],
            balance: Some(1000),
            redeem: Redeem::Max,
            expected: Ok(Expected {
                lines: vec![l(30000, 0, 0, 30000, 0), l(2550, 0, 2500, 50, 0)],
                totals: totals(32550, 0, 2500, 30050),
                points_earned: 0,
                points_redeemed: 25,
                applied: vec![],
            }),
            ..Case::default()
        },
        Case {
            name: "redeem max is limited by the net after discounts",
            lines: vec![line(1, "MILK", 1000, 2550)],
            promotions: vec![percent_off("all10", 0, 1000, None)],
            balance: Some(1000),
            redeem: Redeem::Max,
            expected: Ok(Expected {
                // net 2295 -> 22 whole points
                lines: vec![l(2550, 255, 2200, 95, 0)],
                totals: totals(2550, 255, 2200, 95),
                points_earned: 0,
                points_redeemed: 22,
                applied: vec!["all10"],
            }),
            ..Case::default()
        },
        Case {
            name: "redeem max with a negative balance redeems nothing",
            lines: milk_and_bread(),
            balance: Some(-50),
            redeem: Redeem::Max,
            expected: Ok(Expected {
                lines: vec![l(2500, 0, 0, 2500, 0), l(1550, 0, 0, 1550, 0)],
                totals: totals(4050, 0, 0, 4050),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec![],
            }),
            ..Case::default()
        },
        Case {
            name: "insufficient_points",
            lines: milk_and_bread(),
            balance: Some(10),
            redeem: Redeem::Points(11),
            expected: Err(ErrorCode::InsufficientPoints),
            ..Case::default()
        },
        Case {
            name: "insufficient_points wins over the limit",
            lines: milk_and_bread(),
            balance: Some(10),
            redeem: Redeem::Points(41),
            expected: Err(ErrorCode::InsufficientPoints),
            ..Case::default()
        },
        Case {
            name: "redeem_exceeds_limit by the lines' capacity",
            lines: milk_and_bread(),
            balance: Some(1000),
            redeem: Redeem::Points(41),
            expected: Err(ErrorCode::RedeemExceedsLimit),
            ..Case::default()
        },
        Case {
            name: "redeem_exceeds_limit by max_redeem_percent",
            program: program(100, 50),
            lines: milk_and_bread(),
            balance: Some(1000),
            redeem: Redeem::Points(21),
            expected: Err(ErrorCode::RedeemExceedsLimit),
            ..Case::default()
        },
        Case {
            name: "redeem_exceeds_limit by a no_points_payment product",
            lines: vec![line(1, "CIG", 1000, 30000), line(2, "MILK", 1000, 2550)],
            balance: Some(1000),
            redeem: Redeem::Points(26),
            expected: Err(ErrorCode::RedeemExceedsLimit),
            ..Case::default()
        },
        Case {
            name: "anonymous receipt gets discounts but earns nothing",
            lines: vec![line(1, "MILK", 1000, 12345)],
            promotions: vec![
                earn_points("earn5", 0, 500, None),
                percent_off("all10", 0, 1000, None),
            ],
            expected: Ok(Expected {
                // 1234.5 -> 1234 (half even)
                lines: vec![l(12345, 1234, 0, 11111, 0)],
                totals: totals(12345, 1234, 0, 11111),
                points_earned: 0,
                points_redeemed: 0,
                applied: vec!["all10"],
            }),
            ..Case::default()
        },
    ]
}

#[test]
fn pricing_table() {
    let cases = cases();
    assert!(cases.len() >= 20);
    for case in cases {
        check(case);
    }
}

#[test]
fn redeem_without_customer_is_rejected_before_pricing() {
    let request = receipt(DEFAULT_AT, milk_and_bread(), false, Redeem::Max);
    let err = price(&program(100, 100), DEFAULT_TZ, &[], &request, None).unwrap_err();
    assert_eq!(err.code, ErrorCode::RedeemNeedsCustomer);
}

#[test]
fn no_points_payment_is_announced() {
    let request = receipt(
        DEFAULT_AT,
        vec![line(1, "CIG", 1000, 30000), line(2, "MILK", 1000, 2550)],
        true,
        Redeem::Max,
    );
    let calc = price(
        &program(100, 100),
        DEFAULT_TZ,
        &[],
        &request,
        Some(&customer(1000, 0)),
    )
    .unwrap();
    assert!(
        calc.messages
            .iter()
            .any(|m| m.contains("cannot be paid with points")),
        "{:?}",
        calc.messages
    );
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
    fn priced_receipts_are_consistent(scenario in arb_scenario()) {
        let point_value = scenario.program.point_value;
        let calc = match scenario.price() {
            Ok(calc) => calc,
            Err(err) => {
                // Only an explicit points request may fail, and only for its two reasons.
                let (available, pending) = scenario.balance.unwrap();
                let Redeem::Points(requested) = scenario.redeem else {
                    panic!("unexpected error {err}");
                };
                if requested > available {
                    prop_assert_eq!(err.code, ErrorCode::InsufficientPoints);
                } else {
                    prop_assert_eq!(err.code, ErrorCode::RedeemExceedsLimit);
                    // The most that can pay (asked with a balance that does not limit it)
                    // is below the request.
                    let mut max = scenario.clone();
                    max.redeem = Redeem::Max;
                    max.balance = Some((requested, pending));
                    let capacity = max.price().unwrap().points_redeemed;
                    prop_assert!(capacity < requested, "capacity {} >= requested {}", capacity, requested);
                }
                return Ok(());
            }
        };
        prop_assert_eq!(calc.lines.len(), scenario.lines.len());
        let mut sums = [0i64; 6];
        for (priced, sent) in calc.lines.iter().zip(&scenario.lines) {
            prop_assert_eq!(priced.amount, sent.amount());
            prop_assert_eq!(priced.amount - priced.discount - priced.points_paid, priced.total, "line {}", priced.line);
            prop_assert_eq!(priced.points_paid, priced.points_redeemed * point_value);
            for value in [priced.amount, priced.discount, priced.points_redeemed, priced.points_paid, priced.total, priced.points_earned] {
                prop_assert!(value >= 0, "negative value in {:?}", priced);
            }
            prop_assert!(priced.discount <= priced.amount);
            for (sum, value) in sums.iter_mut().zip([priced.amount, priced.discount, priced.points_paid, priced.total, priced.points_earned, priced.points_redeemed]) {
                *sum += value;
            }
        }
        let t = calc.totals;
        prop_assert_eq!([t.amount, t.discount, t.points_value, t.to_pay, calc.points_earned, calc.points_redeemed], sums);
        prop_assert_eq!(t.amount - t.discount - t.points_value, t.to_pay);
        for value in [t.amount, t.discount, t.points_value, t.to_pay, calc.points_earned, calc.points_redeemed] {
            prop_assert!(value >= 0, "negative total in {:?}", t);
        }
        prop_assert_eq!(t.points_value, calc.points_redeemed * point_value);
        let applied_discount: i64 = calc.promotions.iter().map(|p| p.discount).sum();
        let applied_points: i64 = calc.promotions.iter().map(|p| p.points).sum();
        prop_assert_eq!(applied_discount, t.discount);
        prop_assert_eq!(applied_points, calc.points_earned);
        match scenario.balance {
            None => {
                prop_assert_eq!(calc.points_earned, 0);
                prop_assert_eq!(calc.points_redeemed, 0);
                prop_assert_eq!(calc.balance, None);
            }
            Some((available, pending)) => {
                prop_assert!(calc.points_redeemed <= available.max(0));
                match scenario.redeem {
                    Redeem::None => prop_assert_eq!(calc.points_redeemed, 0),
                    Redeem::Points(requested) => prop_assert_eq!(calc.points_redeemed, requested),
                    Redeem::Max => {}
                }
                prop_assert_eq!(calc.balance, Some(BalanceAfter {
                    available: available - calc.points_redeemed,
                    pending: pending + calc.points_earned,
                }));
            }
        }
        // Products that cannot be paid with points are never paid with points.
        for priced in &calc.lines {
            if priced.sku == "CIG" {
                prop_assert_eq!(priced.points_redeemed, 0);
            }
        }
        // Paying with points never exceeds max_redeem_percent of the net.
        let net = t.amount - t.discount;
        prop_assert!(
            i128::from(t.points_value) * 100 <= i128::from(net) * i128::from(scenario.program.max_redeem_percent),
            "points pay {} of net {}", t.points_value, net
        );
    }

    #[test]
    fn redeem_max_takes_everything_that_may_pay(scenario in arb_scenario()) {
        // Max with an unlimited balance gives the capacity; asking exactly that many
        // points succeeds and one more fails with redeem_exceeds_limit.
        let Some((_, pending)) = scenario.balance else { return Ok(()); };
        let mut max = scenario.clone();
        max.redeem = Redeem::Max;
        max.balance = Some((i64::MAX / 4, pending));
        let capacity = max.price().unwrap().points_redeemed;
        let mut exact = max.clone();
        exact.redeem = Redeem::Points(capacity);
        if capacity > 0 {
            prop_assert_eq!(exact.price().unwrap().points_redeemed, capacity);
        }
        exact.redeem = Redeem::Points(capacity + 1);
        prop_assert_eq!(exact.price().unwrap_err().code, ErrorCode::RedeemExceedsLimit);
    }
}
