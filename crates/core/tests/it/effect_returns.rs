//! Returns of receipts that used each effect: a partial return, then the rest (or a
//! cancel), giving back exactly what the receipt took, with the partial figures
//! computed by hand. Gift certificates: what a return gives back to each of them.

use crate::fixtures::*;
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::{BTreeMap, HashMap};
use tessera_core::certificate::refund_split;
use tessera_core::money::{allocate, Money};
use tessera_core::pricing::{BalanceAfter, Calculation};
use tessera_core::promotion::{
    BundleComponent, Effect, ItemMatch, MatrixColumns, MatrixRows, Percent, Promotion,
};
use tessera_core::receipt::{ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::refund::{ReceiptRecord, ReceiptStatus, ReturnOutcome};
use tessera_core::reward::CertificatePayment;

fn with_effects(id: &str, priority: i32, effects: Vec<Effect>) -> Promotion {
    let mut promotion = percent_off(id, priority, 100, None);
    promotion.effects = effects;
    promotion
}

fn skus(list: &[&str]) -> Option<ItemMatch> {
    Some(ItemMatch::Sku(list.iter().map(|s| s.to_string()).collect()))
}

/// MILK 3 x 25.00 and BREAD 1 x 40.00: 115.00.
fn basket() -> Vec<ReceiptLine> {
    vec![line(1, "MILK", 3000, 2500), line(2, "BREAD", 1000, 4000)]
}

fn certificate_a() -> String {
    certificate_code(0xA11CE)
}

fn certificate_b() -> String {
    certificate_code(0xB0B)
}

fn paying(code: &str, amount: Money) -> CertificatePayment {
    CertificatePayment {
        code: code.to_string(),
        amount,
    }
}

/// What a receipt took: `discount, points_value, certificates, to_pay, points_earned,
/// points_redeemed, bonus_points`.
type Took = (i64, i64, i64, i64, i64, i64, i64);

/// What a return gave back: `refund_money, discount, points_refunded, points_reversed,
/// certificate_refund`.
type Gave = (i64, i64, i64, i64, i64);

struct Case {
    name: &'static str,
    lines: Vec<ReceiptLine>,
    promotions: Vec<Promotion>,
    redeem: Redeem,
    certificates: Vec<CertificatePayment>,
    took: Took,
    partial: Vec<(u32, i64)>,
    gave: Gave,
}

fn cases() -> Vec<Case> {
    let case = |name, lines, promotions, took, partial, gave| Case {
        name,
        lines,
        promotions,
        redeem: Redeem::None,
        certificates: Vec::new(),
        took,
        partial,
        gave,
    };
    let one_milk = || vec![(1, 1000)];
    let mut cases = vec![
        case(
            // 10% of 115.00 = 1150 split 750 / 400; a third of the milk line
            // (6750 paid, 750 off) is 2250 / 250.
            "percent_off",
            basket(),
            vec![percent_off("ten", 0, 1000, None)],
            (1150, 0, 0, 10350, 0, 0, 0),
            one_milk(),
            (2250, 250, 0, 0, 0),
        ),
        case(
            // 30.00 off split 7500 : 4000 = 1956.52 / 1043.48 -> 1957 / 1043; a third
            // of the milk line: 5543 / 3 = 1847.67 -> 1848 paid, 1957 / 3 -> 652 off.
            "amount_off",
            basket(),
            vec![with_effects(
                "thirty",
                0,
                vec![Effect::AmountOff {
                    amount: 3000,
                    items: None,
                }],
            )],
            (3000, 0, 0, 8500, 0, 0, 0),
            one_milk(),
            (1848, 652, 0, 0, 0),
        ),
        case(
            // Milk at 20.00 instead of 25.00: 15.00 off; one milk gives back 20.00 / 5.00.
            "fixed_price",
            basket(),
            vec![with_effects(
                "fixed",
                0,
                vec![Effect::FixedPrice {
                    price: 2000,
                    items: skus(&["MILK"]),
                }],
            )],
            (1500, 0, 0, 10000, 0, 0, 0),
            one_milk(),
            (2000, 500, 0, 0, 0),
        ),
        case(
            // Buy 2 get 1: the 30.00 kefir is free, spread 2308 / 692 over the set; one
            // of the two milks gives back half of 7692 paid and of 2308 off.
            "buy_get",
            vec![line(1, "MILK", 2000, 5000), line(2, "KEFIR", 1000, 3000)],
            vec![with_effects(
                "b2g1",
                0,
                vec![Effect::BuyGet {
                    buy: 2,
                    get: 1,
                    percent: Percent(10_000),
                    items: category("dairy"),
                }],
            )],
            (3000, 0, 0, 10000, 0, 0, 0),
            one_milk(),
            (3846, 1154, 0, 0, 0),
        ),
        case(
            // 2 bundles of 120.00 + 80.00 for 150.00: 100.00 off split 6000 / 4000;
            // returning one bundle gives back 9000 + 6000 paid, 3000 + 2000 off.
            "bundle_price",
            vec![line(1, "MILK", 2000, 12000), line(2, "BREAD", 2000, 8000)],
            vec![with_effects(
                "bundle",
                0,
                vec![Effect::BundlePrice {
                    bundle: vec![
                        BundleComponent {
                            items: ItemMatch::Sku(vec!["MILK".into()].into()),
                            qty: 1,
                        },
                        BundleComponent {
                            items: ItemMatch::Sku(vec!["BREAD".into()].into()),
                            qty: 1,
                        },
                    ],
                    price: 15000,
                }],
            )],
            (10000, 0, 0, 30000, 0, 0, 0),
            vec![(1, 1000), (2, 1000)],
            (15000, 5000, 0, 0, 0),
        ),
        case(
            // 5 milks give 2 free ones on line 3; a paid milk and a free one give back
            // 10.00.
            "extra_qty",
            vec![line(1, "MILK", 5000, 1000), line(2, "BREAD", 1000, 4000)],
            vec![with_effects(
                "two-plus-one",
                0,
                vec![Effect::ExtraQty {
                    items: skus(&["MILK"]),
                    per: 2,
                    extra: 1,
                }],
            )],
            (0, 0, 0, 9000, 0, 0, 0),
            vec![(1, 1000), (3, 1000)],
            (1000, 0, 0, 0, 0),
        ),
        case(
            // The gift bread is line 2 at 0: returning it gives back nothing.
            "gift_item",
            vec![line(1, "MILK", 3000, 2500)],
            vec![with_effects(
                "gift",
                0,
                vec![Effect::GiftItem {
                    sku: "BREAD".into(),
                    qty: 1000,
                }],
            )],
            (0, 0, 0, 7500, 0, 0, 0),
            vec![(2, 1000)],
            (0, 0, 0, 0, 0),
        ),
        case(
            // store-1: dairy 10% (750), bakery 25% (1000).
            "discount_matrix",
            basket(),
            vec![with_effects(
                "matrix",
                0,
                vec![Effect::DiscountMatrix {
                    rows: MatrixRows::Store,
                    columns: MatrixColumns::Category,
                    percent: BTreeMap::from([(
                        "store-1".to_string(),
                        BTreeMap::from([
                            ("dairy".to_string(), Percent(1000)),
                            ("bakery".to_string(), Percent(2500)),
                        ]),
                    )]),
                }],
            )],
            (1750, 0, 0, 9750, 0, 0, 0),
            one_milk(),
            (2250, 250, 0, 0, 0),
        ),
        case(
            // 5% of 115.00 = 5 points split 3.26 / 1.74 -> 3 / 2; a third of 3 -> 1.
            "earn_points",
            basket(),
            vec![earn_points("earn", 0, 500, None)],
            (0, 0, 0, 11500, 5, 0, 0),
            one_milk(),
            (2500, 0, 0, 1, 0),
        ),
        case(
            // 1 point per 10.00: 11 points split 7.17 / 3.83 -> 7 / 4; 7 / 3 -> 2.
            "earn_per_amount",
            basket(),
            vec![with_effects(
                "per",
                0,
                vec![Effect::EarnPerAmount {
                    per_amount: 1000,
                    points: 1,
                    items: None,
                }],
            )],
            (0, 0, 0, 11500, 11, 0, 0),
            one_milk(),
            (2500, 0, 0, 2, 0),
        ),
        case(
            // 5 points doubled = 10 split 6.52 / 3.48 -> 7 / 3; 7 / 3 -> 2.
            "earn_multiplier",
            basket(),
            vec![
                earn_points("earn", 0, 500, None),
                with_effects("double", 10, vec![Effect::EarnMultiplier { factor: 200 }]),
            ],
            (0, 0, 0, 11500, 10, 0, 0),
            one_milk(),
            (2500, 0, 0, 2, 0),
        ),
        case(
            // Bonus points are the receipt's, not a line's: a return reverses none of
            // them (a full return releases the bonus lot instead).
            "bonus_points",
            basket(),
            vec![with_effects(
                "bonus",
                0,
                vec![Effect::BonusPoints {
                    points: 300,
                    expires_in_days: Some(30),
                }],
            )],
            (0, 0, 0, 11500, 0, 0, 300),
            one_milk(),
            (2500, 0, 0, 0, 0),
        ),
    ];
    cases.push(Case {
        // 10% off 250.00 (2000 / 500), 30 points (24 / 6), certificates A 100.00 +
        // B 50.00 split 12000 / 3000; paid 3600 / 900; 10% of 45.00 = 4 points (3 / 1).
        // One of the two milks gives back half of each: 1800 paid, 1000 off, 12 points,
        // 3 / 2 = 1.5 -> 2 points reversed, 6000 to the certificates.
        name: "certificate payment",
        lines: vec![line(1, "MILK", 2000, 10000), line(2, "BREAD", 1000, 5000)],
        promotions: vec![
            percent_off("ten", 10, 1000, None),
            earn_points("earn", 0, 1000, None),
        ],
        redeem: Redeem::Points(30),
        certificates: vec![
            paying(&certificate_a(), 10000),
            paying(&certificate_b(), 5000),
        ],
        took: (2500, 3000, 15000, 4500, 4, 30, 0),
        partial: one_milk(),
        gave: (1800, 1000, 12, 2, 6000),
    });
    cases.push(Case {
        // 50 points over capacities 75 / 40: 32.6 / 17.4 -> 33 / 17; paid 4200 / 2300.
        // A third of the milk line: 1400 paid, 11 points back.
        name: "points redemption",
        lines: basket(),
        promotions: Vec::new(),
        redeem: Redeem::Points(50),
        certificates: Vec::new(),
        took: (0, 5000, 0, 6500, 0, 50, 0),
        partial: one_milk(),
        gave: (1400, 0, 11, 0, 0),
    });
    cases
}

fn balances() -> HashMap<String, Result<Money, String>> {
    HashMap::from([(certificate_a(), Ok(10000)), (certificate_b(), Ok(10000))])
}

fn price_case(case: &Case) -> (ReceiptRequest, Calculation) {
    let mut request = receipt(DEFAULT_AT, case.lines.clone(), true, case.redeem);
    request.certificates = case.certificates.clone();
    let calc = price_with_certificates(
        &program(100, 100),
        DEFAULT_TZ,
        &case.promotions,
        &request,
        Some(&customer(1000, 0)),
        balances(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    (request, calc)
}

fn took(calc: &Calculation) -> Took {
    let t = calc.totals;
    (
        t.discount,
        t.points_value,
        t.certificates,
        t.to_pay,
        calc.points_earned,
        calc.points_redeemed,
        calc.bonus_points(),
    )
}

fn gave(outcome: &ReturnOutcome) -> Gave {
    (
        outcome.refund_money,
        outcome.lines.iter().map(|l| l.discount).sum(),
        outcome.points_refunded,
        outcome.points_reversed,
        outcome.certificate_refund,
    )
}

fn sum_gave(outcomes: &[ReturnOutcome]) -> Gave {
    outcomes.iter().map(gave).fold((0, 0, 0, 0, 0), |a, b| {
        (a.0 + b.0, a.1 + b.1, a.2 + b.2, a.3 + b.3, a.4 + b.4)
    })
}

/// What is still to return, line by line.
fn rest(record: &ReceiptRecord) -> Vec<(u32, i64)> {
    record
        .calculation
        .lines
        .iter()
        .zip(&record.returned_qty)
        .filter(|(l, r)| l.qty > **r)
        .map(|(l, r)| (l.line, l.qty - r))
        .collect()
}

/// Applies a return and splits its certificate refund over the certificates, adding
/// each one's part to `given_back`.
fn return_and_split(
    record: &mut ReceiptRecord,
    request: &[(u32, i64)],
    given_back: &mut BTreeMap<String, Money>,
) -> (ReturnOutcome, Vec<(String, Money)>) {
    let before = record.certificate_refunded_so_far();
    let outcome = record.apply_return(request).unwrap();
    let split = refund_split(
        &record.calculation.certificates,
        outcome.certificate_refund,
        before,
    );
    assert_eq!(
        split.iter().map(|(_, m)| m).sum::<Money>(),
        outcome.certificate_refund,
        "the split gives back the whole certificate refund"
    );
    for (code, money) in &split {
        *given_back.entry(code.clone()).or_default() += money;
    }
    (outcome, split)
}

fn paid_by_certificate(calc: &Calculation) -> BTreeMap<String, Money> {
    calc.certificates
        .iter()
        .map(|p| (p.code.clone(), p.amount))
        .collect()
}

#[test]
fn returns_of_receipts_that_used_each_effect() {
    let cases = cases();
    assert_eq!(cases.len(), 14);
    for case in &cases {
        let name = case.name;
        let (request, calc) = price_case(case);
        assert_eq!(took(&calc), case.took, "{name}: priced");
        let everything: Gave = (
            calc.totals.to_pay,
            calc.totals.discount,
            calc.points_redeemed,
            calc.points_earned,
            calc.totals.certificates,
        );

        // A partial return, then the rest.
        let mut returned = record(&request, calc.clone(), None, Vec::new());
        let mut given_back = BTreeMap::new();
        let (partial, _) = return_and_split(&mut returned, &case.partial, &mut given_back);
        assert_eq!(gave(&partial), case.gave, "{name}: partial");
        assert_eq!(returned.status, ReceiptStatus::PartiallyReturned, "{name}");
        assert!(!returned.undone(), "{name}: undone after a partial return");
        assert_eq!(
            returned.certificate_refunded_so_far(),
            case.gave.4,
            "{name}: certificate so far"
        );
        let rest_request = rest(&returned);
        let (remainder, _) = return_and_split(&mut returned, &rest_request, &mut given_back);
        assert_eq!(returned.status, ReceiptStatus::Returned, "{name}");
        assert!(
            returned.undone(),
            "{name}: not undone after the full return"
        );
        assert_eq!(
            sum_gave(&[partial.clone(), remainder.clone()]),
            everything,
            "{name}: everything given back"
        );
        assert_eq!(
            returned.certificate_refunded_so_far(),
            calc.totals.certificates,
            "{name}"
        );
        assert_eq!(
            given_back,
            paid_by_certificate(&calc),
            "{name}: per certificate"
        );

        // A partial return, then a cancel: the cancel gives back exactly the rest.
        let mut cancelled = record(&request, calc.clone(), None, Vec::new());
        assert_eq!(
            cancelled.apply_return(&case.partial).unwrap(),
            partial,
            "{name}: the same partial return"
        );
        let mut rest_returned = cancelled.clone();
        let expected_rest = rest_returned.apply_return(&rest(&rest_returned)).unwrap();
        assert_eq!(expected_rest, remainder, "{name}");
        let cancel = cancelled.apply_cancel().unwrap();
        assert_eq!(
            cancel, expected_rest,
            "{name}: cancel after a partial return"
        );
        assert_eq!(cancelled.status, ReceiptStatus::Cancelled, "{name}");
        assert!(cancelled.undone(), "{name}: not undone after cancel");
    }
}

#[test]
fn certificate_refunds_go_back_to_the_last_certificate_first() {
    let case = cases()
        .into_iter()
        .find(|c| c.name == "certificate payment")
        .unwrap();
    let (request, calc) = price_case(&case);
    let mut record = record(&request, calc, None, Vec::new());
    let mut given_back = BTreeMap::new();
    // One milk: 6000 back, B (paid 5000, the last) first, then 1000 of A.
    let (_, split) = return_and_split(&mut record, &[(1, 1000)], &mut given_back);
    assert_eq!(
        split,
        vec![(certificate_b(), 5000), (certificate_a(), 1000)]
    );
    // The bread: its 3000 goes to A, B being refunded in full already.
    let (_, split) = return_and_split(&mut record, &[(2, 1000)], &mut given_back);
    assert_eq!(split, vec![(certificate_a(), 3000)]);
    // The last milk: the 6000 left, all A's.
    let (_, split) = return_and_split(&mut record, &[(1, 1000)], &mut given_back);
    assert_eq!(split, vec![(certificate_a(), 6000)]);
    assert_eq!(
        given_back,
        BTreeMap::from([(certificate_a(), 10000), (certificate_b(), 5000)])
    );
}

#[test]
fn refund_split_table() {
    let payments = vec![paying("A", 10000), paying("B", 5000)];
    /// `(refund, already refunded, split)`.
    type SplitCase = (Money, Money, Vec<(&'static str, Money)>);
    let cases: Vec<SplitCase> = vec![
        (0, 0, vec![]),
        (3000, 0, vec![("B", 3000)]),
        (5000, 0, vec![("B", 5000)]),
        (4000, 3000, vec![("B", 2000), ("A", 2000)]),
        (8000, 7000, vec![("A", 8000)]),
        (15000, 0, vec![("B", 5000), ("A", 10000)]),
        (1, 14999, vec![("A", 1)]),
    ];
    for (refund, already, expected) in cases {
        let split = refund_split(&payments, refund, already);
        let expected: Vec<(String, Money)> = expected
            .into_iter()
            .map(|(c, m)| (c.to_string(), m))
            .collect();
        assert_eq!(split, expected, "{refund} after {already}");
    }
    // Three partial returns give back exactly what each paid.
    let mut given: BTreeMap<String, Money> = BTreeMap::new();
    let mut already = 0;
    for refund in [3000, 4000, 8000] {
        for (code, money) in refund_split(&payments, refund, already) {
            *given.entry(code).or_default() += money;
        }
        already += refund;
    }
    assert_eq!(
        given,
        BTreeMap::from([("A".to_string(), 10000), ("B".to_string(), 5000)])
    );
}

// ---------------------------------------------------------------- property

/// One random return step: which open line first, how many lines, what share of each.
type Step = (Index, Index, u16);

fn step_request(record: &ReceiptRecord, (count, start, per_mille): &Step) -> Vec<(u32, i64)> {
    let open: Vec<usize> = (0..record.calculation.lines.len())
        .filter(|&i| record.returned_qty[i] < record.calculation.lines[i].qty)
        .collect();
    if open.is_empty() {
        return Vec::new();
    }
    let count = 1 + count.index(open.len().min(3));
    let start = start.index(open.len());
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
        .collect()
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
    fn certificate_payments_keep_receipts_consistent_and_returns_exact(
        scenario in arb_scenario(),
        shares in prop::collection::vec(1i64..=1000, 0..=3),
        per_mille in prop_oneof![Just(1000i64), 0i64..=1000],
        spare in prop_oneof![Just(0i64), 1i64..=100_000],
        steps in prop::collection::vec((any::<Index>(), any::<Index>(), 0u16..=1000), 0..6),
        cancel in any::<bool>(),
    ) {
        let Ok(plain) = scenario.price() else { return Ok(()); };
        // What certificates may pay: what is left after discounts and points.
        let payable = plain.totals.to_pay;
        let total = payable * per_mille / 1000;
        let amounts: Vec<Money> = if (shares.len() as i64) > total {
            Vec::new()
        } else {
            allocate(total - shares.len() as i64, &shares).into_iter().map(|a| a + 1).collect()
        };
        let payments: Vec<CertificatePayment> = amounts
            .iter()
            .enumerate()
            .map(|(i, amount)| paying(&certificate_code(0x5EED_0000 + i as u128 * 7919), *amount))
            .collect();
        let certificates: HashMap<String, Result<Money, String>> = payments
            .iter()
            .map(|p| (p.code.clone(), Ok(p.amount + spare)))
            .collect();
        let mut request = scenario.receipt();
        request.certificates = payments.clone();
        let calc = price_with_certificates(
            &scenario.program,
            DEFAULT_TZ,
            &scenario.promotions,
            &request,
            scenario.customer().as_ref(),
            certificates,
        );
        prop_assert!(calc.is_ok(), "{:?}", calc);
        let calc = calc.unwrap();
        let paid: Money = amounts.iter().sum();

        // Lines: consistent, nothing negative, and the certificates change neither the
        // discounts nor the points payment.
        prop_assert_eq!(calc.lines.len(), plain.lines.len());
        let mut sums = [0i64; 6];
        for (priced, before) in calc.lines.iter().zip(&plain.lines) {
            prop_assert_eq!(
                priced.amount - priced.discount - priced.points_paid - priced.certificate_paid,
                priced.total,
                "line {}", priced.line
            );
            for value in [priced.amount, priced.discount, priced.points_paid, priced.certificate_paid, priced.total, priced.points_earned] {
                prop_assert!(value >= 0, "negative value in {:?}", priced);
            }
            prop_assert_eq!(
                (priced.discount, priced.points_redeemed),
                (before.discount, before.points_redeemed)
            );
            for (sum, value) in sums.iter_mut().zip([priced.amount, priced.discount, priced.points_paid, priced.certificate_paid, priced.total, priced.points_earned]) {
                *sum += value;
            }
        }
        let t = calc.totals;
        prop_assert_eq!([t.amount, t.discount, t.points_value, t.certificates, t.to_pay, calc.points_earned], sums);
        prop_assert_eq!(t.amount - t.discount - t.points_value - t.certificates, t.to_pay);
        prop_assert_eq!(t.certificates, paid);
        prop_assert_eq!(t.to_pay, plain.totals.to_pay - paid);
        prop_assert_eq!(&calc.certificates, &payments);
        // Certificate money earns nothing: never more points than without it.
        prop_assert!(calc.points_earned <= plain.points_earned);
        if paid == 0 {
            prop_assert_eq!(calc.points_earned, plain.points_earned);
        }
        if let Some((available, pending)) = scenario.balance {
            prop_assert_eq!(calc.balance, Some(BalanceAfter {
                available: available - calc.points_redeemed,
                pending: pending + calc.points_earned + calc.bonus_points(),
            }));
        }

        // Random partial returns, then the rest or a cancel: everything comes back, and
        // every certificate gets back exactly what it paid.
        let mut record = record(&request, calc.clone(), None, Vec::new());
        let mut given_back = BTreeMap::new();
        let mut outcomes = Vec::new();
        for step in &steps {
            let request = step_request(&record, step);
            if request.is_empty() {
                break;
            }
            outcomes.push(return_and_split(&mut record, &request, &mut given_back).0);
        }
        let rest_request = rest(&record);
        if cancel {
            let before = record.certificate_refunded_so_far();
            let outcome = record.apply_cancel().unwrap();
            for (code, money) in refund_split(&calc.certificates, outcome.certificate_refund, before) {
                *given_back.entry(code).or_default() += money;
            }
            outcomes.push(outcome);
            prop_assert_eq!(record.status, ReceiptStatus::Cancelled);
        } else if !rest_request.is_empty() {
            outcomes.push(return_and_split(&mut record, &rest_request, &mut given_back).0);
        }
        prop_assert!(record.undone());
        for outcome in &outcomes {
            for r in &outcome.lines {
                for value in [r.qty, r.refund_money, r.discount, r.points_refunded, r.points_reversed, r.certificate_refund] {
                    prop_assert!(value >= 0, "negative value in {:?}", r);
                }
            }
        }
        prop_assert_eq!(
            sum_gave(&outcomes),
            (t.to_pay, t.discount, calc.points_redeemed, calc.points_earned, t.certificates)
        );
        let expected: BTreeMap<String, Money> = paid_by_certificate(&calc)
            .into_iter()
            .filter(|(_, amount)| *amount > 0)
            .collect();
        prop_assert_eq!(given_back, expected);
    }
}
