//! One case per effect added to the rule language: fixed price, buy-get, points per
//! amount, earning multipliers and messages, with hand-computed figures.

use crate::fixtures::*;
use tessera_core::promotion::{Effect, ItemMatch, MessageTarget, Percent, Promotion};
use tessera_core::receipt::{ReceiptLine, Redeem};

const AT: &str = "2026-03-09T12:00:00+03:00";

fn with_effects(id: &str, priority: i32, effects: Vec<Effect>) -> Promotion {
    let mut promotion = percent_off(id, priority, 100, None);
    promotion.effects = effects;
    promotion
}

fn skus(list: &[&str]) -> Option<ItemMatch> {
    Some(ItemMatch::Sku(list.iter().map(|s| s.to_string()).collect()))
}

struct Case {
    name: &'static str,
    lines: Vec<ReceiptLine>,
    promotions: Vec<Promotion>,
    discounts: Vec<i64>,
    points_earned: i64,
}

fn cases() -> Vec<Case> {
    let buy_get = |buy, get, percent| {
        with_effects(
            "bg",
            100,
            vec![Effect::BuyGet {
                buy,
                get,
                percent: Percent(percent),
                items: skus(&["MILK", "KEFIR"]),
            }],
        )
    };
    vec![
        Case {
            name: "fixed_price: three milks at 80.00 instead of 100.00",
            lines: vec![line(1, "MILK", 3000, 10000), line(2, "BREAD", 1000, 10000)],
            promotions: vec![with_effects("fp", 100, vec![Effect::FixedPrice { price: 8000, items: category("dairy") }])],
            discounts: vec![6000, 0],
            points_earned: 0,
        },
        Case {
            name: "fixed_price never raises a price",
            lines: vec![line(1, "MILK", 3000, 10000)],
            promotions: vec![with_effects("fp", 100, vec![Effect::FixedPrice { price: 12000, items: category("dairy") }])],
            discounts: vec![0],
            points_earned: 0,
        },
        Case {
            name: "buy 2 get 1 free: the cheapest unit is free, spread over the set (2308 + 692 = 3000)",
            lines: vec![line(1, "MILK", 2000, 5000), line(2, "KEFIR", 1000, 3000)],
            promotions: vec![buy_get(2, 1, 10_000)],
            discounts: vec![2308, 692],
            points_earned: 0,
        },
        Case {
            name: "buy 2 get 1: five units make one set; the set is the three cheapest units",
            lines: vec![line(1, "MILK", 4000, 5000), line(2, "KEFIR", 1000, 3000)],
            promotions: vec![buy_get(2, 1, 10_000)],
            discounts: vec![2308, 692],
            points_earned: 0,
        },
        Case {
            name: "buy 2 get 1 at 50%: two sets, the two cheapest units half off",
            lines: vec![line(1, "MILK", 4000, 5000), line(2, "KEFIR", 2000, 3000)],
            promotions: vec![buy_get(2, 1, 5_000)],
            discounts: vec![2308, 692],
            points_earned: 0,
        },
        Case {
            name: "buy 2 get 1: two units make no set",
            lines: vec![line(1, "MILK", 1000, 5000), line(2, "KEFIR", 1000, 3000)],
            promotions: vec![buy_get(2, 1, 10_000)],
            discounts: vec![0, 0],
            points_earned: 0,
        },
        Case {
            name: "buy 1 get 1: weighed 2.5 kg counts as two whole units",
            lines: vec![line(1, "APPLE", 2500, 2000)],
            promotions: vec![with_effects("bg", 100, vec![Effect::BuyGet { buy: 1, get: 1, percent: Percent(10_000), items: skus(&["APPLE"]) }])],
            discounts: vec![2000],
            points_earned: 0,
        },
        Case {
            name: "1 point per 100.00 paid: 400.00 earns 4",
            lines: vec![line(1, "MILK", 3000, 10000), line(2, "BREAD", 1000, 10000)],
            promotions: vec![with_effects("per", 0, vec![Effect::EarnPerAmount { per_amount: 10000, points: 1, items: None }])],
            discounts: vec![0, 0],
            points_earned: 4,
        },
        Case {
            name: "a multiplier of 2 doubles 5% of 400.00 (20 points) to 40, listed 20 + 20",
            lines: vec![line(1, "MILK", 3000, 10000), line(2, "BREAD", 1000, 10000)],
            promotions: vec![
                earn_points("earn", 0, 500, None),
                with_effects("double", 50, vec![Effect::EarnMultiplier { factor: 200 }]),
            ],
            discounts: vec![0, 0],
            points_earned: 40,
        },
        Case {
            name: "a multiplier of 1.5 on 1 point per 100.00 (4 points) gives 6",
            lines: vec![line(1, "MILK", 3000, 10000), line(2, "BREAD", 1000, 10000)],
            promotions: vec![
                with_effects("per", 0, vec![Effect::EarnPerAmount { per_amount: 10000, points: 1, items: None }]),
                with_effects("half-more", 50, vec![Effect::EarnMultiplier { factor: 150 }]),
            ],
            discounts: vec![0, 0],
            points_earned: 6,
        },
    ]
}

#[test]
fn effects_table() {
    for case in cases() {
        let receipt = receipt(AT, case.lines, true, Redeem::None);
        let member = customer(0, 0);
        let calc = price(
            &program(100, 100),
            "Europe/Moscow",
            &case.promotions,
            &receipt,
            Some(&member),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let discounts: Vec<i64> = calc.lines.iter().map(|l| l.discount).collect();
        assert_eq!(discounts, case.discounts, "{}: discounts", case.name);
        assert_eq!(
            calc.points_earned, case.points_earned,
            "{}: points",
            case.name
        );
        assert_eq!(
            calc.totals.to_pay,
            calc.totals.amount - calc.totals.discount,
            "{}: totals",
            case.name
        );
        assert!(
            calc.lines.iter().all(|l| l.total >= 0),
            "{}: negative line",
            case.name
        );
        let listed: i64 = calc.promotions.iter().map(|p| p.points).sum();
        assert_eq!(
            listed, calc.points_earned,
            "{}: listed points {:?}",
            case.name, calc.promotions
        );
    }
}

#[test]
fn messages_go_to_the_cashier_and_the_receipt() {
    let promotion = with_effects(
        "msg",
        0,
        vec![
            Effect::Message {
                to: MessageTarget::Cashier,
                text: "offer the loyalty app".into(),
            },
            Effect::Message {
                to: MessageTarget::Receipt,
                text: "thank you for shopping".into(),
            },
        ],
    );
    let receipt = receipt(AT, vec![line(1, "MILK", 1000, 10000)], false, Redeem::None);
    let calc = price(
        &program(100, 100),
        "Europe/Moscow",
        &[promotion],
        &receipt,
        None,
    )
    .unwrap();
    assert!(
        calc.messages.contains(&"offer the loyalty app".to_string()),
        "{:?}",
        calc.messages
    );
    assert_eq!(
        calc.receipt_messages,
        vec!["thank you for shopping".to_string()]
    );
    assert!(calc.not_applied.is_empty());
}

fn grouped(mut promotion: Promotion, group: &str) -> Promotion {
    promotion.group = Some(group.to_string());
    promotion
}

#[test]
fn within_a_group_only_the_best_for_the_customer_applies() {
    // In group "spring": 10% off everything (40.00), 50.00 off dairy (the milk costs
    // 300.00) and 5% back in points (20 points, worth 20.00). The 50.00 wins.
    let lines = vec![line(1, "MILK", 3000, 10000), line(2, "BREAD", 1000, 10000)];
    let promotions = vec![
        grouped(percent_off("ten", 100, 1000, None), "spring"),
        grouped(
            with_effects(
                "fifty",
                10,
                vec![Effect::AmountOff {
                    amount: 5000,
                    items: category("dairy"),
                }],
            ),
            "spring",
        ),
        grouped(earn_points("points", 50, 500, None), "spring"),
        percent_off("outside", 0, 1000, None),
    ];
    let receipt = receipt(AT, lines, true, Redeem::None);
    let member = customer(0, 0);
    let calc = price(
        &program(100, 100),
        "Europe/Moscow",
        &promotions,
        &receipt,
        Some(&member),
    )
    .unwrap();
    let applied: Vec<(&str, i64)> = calc
        .promotions
        .iter()
        .map(|p| (p.promotion_id.as_str(), p.discount))
        .collect();
    assert_eq!(applied, vec![("fifty", 5000), ("outside", 3500)]);
    let lost: Vec<(&str, &str, Option<&str>)> = calc
        .not_applied
        .iter()
        .map(|n| (n.promotion_id.as_str(), n.reason.as_str(), n.by.as_deref()))
        .collect();
    assert_eq!(
        lost,
        vec![
            ("ten", "lost_in_group", Some("fifty")),
            ("points", "lost_in_group", Some("fifty"))
        ]
    );
}

#[test]
fn a_tie_in_a_group_goes_to_the_higher_priority() {
    let lines = vec![line(1, "MILK", 1000, 10000)];
    let promotions = vec![
        grouped(percent_off("low", 1, 1000, None), "g"),
        grouped(percent_off("high", 9, 1000, None), "g"),
    ];
    let receipt = receipt(AT, lines, false, Redeem::None);
    let calc = price(
        &program(100, 100),
        "Europe/Moscow",
        &promotions,
        &receipt,
        None,
    )
    .unwrap();
    assert_eq!(
        calc.promotions
            .iter()
            .map(|p| p.promotion_id.as_str())
            .collect::<Vec<_>>(),
        vec!["high"]
    );
}

#[test]
fn item_conditions_need_quantity_and_amount_of_matching_lines() {
    use tessera_core::promotion::ItemCondition;
    let mut three_dairy = percent_off("three-dairy", 0, 1000, None);
    three_dairy.conditions.items = vec![ItemCondition {
        items: ItemMatch::Category(vec!["dairy".into()].into()),
        min_qty: Some(3000),
        min_amount: Some(20000),
    }];
    let price_with = |milk_qty: i64, milk_price: i64| {
        let receipt = receipt(
            AT,
            vec![
                line(1, "MILK", milk_qty, milk_price),
                line(2, "BREAD", 5000, 10000),
            ],
            false,
            Redeem::None,
        );
        price(
            &program(100, 100),
            "Europe/Moscow",
            std::slice::from_ref(&three_dairy),
            &receipt,
            None,
        )
        .unwrap()
        .totals
        .discount
    };
    assert_eq!(
        price_with(3000, 10000),
        8000,
        "3 dairy units for 300.00: 10% of 800.00"
    );
    assert_eq!(price_with(2000, 20000), 0, "only 2 dairy units");
    assert_eq!(price_with(3000, 5000), 0, "3 dairy units but only 150.00");
}

#[test]
fn a_discount_matrix_gives_each_line_the_percent_of_its_row_and_column() {
    use std::collections::BTreeMap;
    use tessera_core::promotion::{MatrixColumns, MatrixRows};
    let table = |rows: &[(&str, &[(&str, i64)])]| -> BTreeMap<String, BTreeMap<String, Percent>> {
        rows.iter()
            .map(|(row, cols)| {
                (
                    row.to_string(),
                    cols.iter()
                        .map(|(c, p)| (c.to_string(), Percent(*p)))
                        .collect(),
                )
            })
            .collect()
    };
    let by_store = with_effects(
        "matrix",
        0,
        vec![Effect::DiscountMatrix {
            rows: MatrixRows::Store,
            columns: MatrixColumns::Category,
            percent: table(&[
                ("store-1", &[("dairy", 1000), ("bakery", 2500)]),
                ("store-2", &[("dairy", 5000)]),
            ]),
        }],
    );
    let receipt = receipt(
        AT,
        vec![
            line(1, "MILK", 3000, 10000),
            line(2, "BREAD", 1000, 10000),
            line(3, "APPLE", 1000, 10000),
        ],
        false,
        Redeem::None,
    );
    let calc = price(
        &program(100, 100),
        "Europe/Moscow",
        &[by_store],
        &receipt,
        None,
    )
    .unwrap();
    let discounts: Vec<i64> = calc.lines.iter().map(|l| l.discount).collect();
    assert_eq!(
        discounts,
        vec![3000, 2500, 0],
        "store-1: dairy 10%, bakery 25%, fruit not in the table"
    );
}

#[test]
fn gifts_and_extra_units_are_added_lines_at_price_zero() {
    let gift = with_effects(
        "gift",
        10,
        vec![Effect::GiftItem {
            sku: "BREAD".into(),
            qty: 1000,
        }],
    );
    let nappies = with_effects(
        "ten-plus-one",
        5,
        vec![Effect::ExtraQty {
            items: skus(&["MILK"]),
            per: 10,
            extra: 1,
        }],
    );
    let earn = earn_points("earn", 0, 500, None);
    let receipt = receipt(
        AT,
        vec![line(3, "MILK", 25_000, 1000), line(7, "APPLE", 1500, 2000)],
        true,
        Redeem::None,
    );
    let member = customer(0, 0);
    let calc = price(
        &program(100, 100),
        "Europe/Moscow",
        &[gift, nappies, earn],
        &receipt,
        Some(&member),
    )
    .unwrap();
    let added: Vec<(u32, &str, i64, i64, Option<&str>)> = calc
        .lines
        .iter()
        .map(|l| {
            (
                l.line,
                l.sku.as_str(),
                l.qty,
                l.total,
                l.added_by.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        added,
        vec![
            (3, "MILK", 25_000, 25_000, None),
            (7, "APPLE", 1500, 3000, None),
            (8, "BREAD", 1000, 0, Some("gift")),
            (9, "MILK", 2000, 0, Some("ten-plus-one")),
        ],
        "25 milks give 2 extra; the gift is numbered after the last line"
    );
    assert_eq!(calc.totals.to_pay, 28_000);
    assert_eq!(
        calc.points_earned, 14,
        "5% of 280.00 = 14.00 = 14 points; the free lines earn nothing"
    );
    assert!(calc.lines[2..].iter().all(|l| l.points_earned == 0));
    // Returning a free line refunds nothing and the receipt stays consistent.
    let mut record = record(&receipt, calc, None, Vec::new());
    let outcome = record.apply_return(&[(8, 1000)]).unwrap();
    assert_eq!((outcome.refund_money, outcome.points_reversed), (0, 0));
}

#[test]
fn bundle_price_table() {
    use tessera_core::promotion::BundleComponent;
    let milk_and_bread = |price| {
        with_effects(
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
                price,
            }],
        )
    };
    let cases: Vec<(&str, Vec<ReceiptLine>, i64, Vec<i64>)> = vec![
        (
            "one bundle of 200.00 for 150.00",
            vec![line(1, "MILK", 1000, 10000), line(2, "BREAD", 1000, 10000)],
            15000,
            vec![2500, 2500],
        ),
        (
            "two complete bundles; the third milk pays full price",
            vec![line(1, "MILK", 3000, 10000), line(2, "BREAD", 2000, 10000)],
            15000,
            vec![5000, 5000],
        ),
        (
            "a bundle never costs more than its units",
            vec![line(1, "MILK", 1000, 10000), line(2, "BREAD", 1000, 10000)],
            25000,
            vec![0, 0],
        ),
        (
            "no bread, no bundle",
            vec![line(1, "MILK", 2000, 10000)],
            15000,
            vec![0],
        ),
    ];
    for (name, lines, price, expected) in cases {
        let receipt = receipt(AT, lines, false, Redeem::None);
        let calc = crate::fixtures::price(
            &program(100, 100),
            "Europe/Moscow",
            &[milk_and_bread(price)],
            &receipt,
            None,
        )
        .unwrap();
        let discounts: Vec<i64> = calc.lines.iter().map(|l| l.discount).collect();
        assert_eq!(discounts, expected, "{name}");
    }
}

#[test]
fn coupons_unlock_promotions_and_every_code_gets_an_answer() {
    use tessera_core::promotion::CouponRule;
    let mut spring = percent_off("spring", 10, 1000, None);
    spring.conditions.coupon = Some(CouponRule::Code("SPRING10".into()));
    let mut shoes_code = percent_off("shoes-code", 5, 2000, category("shoes"));
    shoes_code.conditions.coupon = Some(CouponRule::Code("SHOES20".into()));
    let promotions = [spring, shoes_code];
    let with_coupons = |codes: &[&str]| {
        let mut receipt = receipt(AT, vec![line(1, "MILK", 1000, 10000)], false, Redeem::None);
        receipt.coupons = codes.iter().map(|c| c.to_string()).collect();
        price(
            &program(100, 100),
            "Europe/Moscow",
            &promotions,
            &receipt,
            None,
        )
        .unwrap()
    };
    let calc = with_coupons(&[" spring10 ", "SHOES20", "NOPE"]);
    assert_eq!(
        calc.totals.discount, 1000,
        "only the spring code applies to milk"
    );
    let answers: Vec<(&str, &str, Option<&str>)> = calc
        .coupons
        .iter()
        .map(|c| (c.code.as_str(), c.status.as_str(), c.reason.as_deref()))
        .collect();
    assert_eq!(
        answers,
        vec![
            ("SPRING10", "applied", None),
            ("SHOES20", "rejected", Some("not_applicable")),
            ("NOPE", "rejected", Some("unknown"))
        ]
    );
    assert_eq!(
        with_coupons(&[]).totals.discount,
        0,
        "no code, no promotion"
    );
}
