//! Rewards (bonus points, coupon codes, certificates, tier, entitlements), tier
//! audiences, `limits.per_receipt` and paying with gift certificates, with figures
//! computed by hand.

use crate::fixtures::*;
use std::collections::{BTreeMap, HashMap};
use tessera_core::money::Money;
use tessera_core::pricing::{BalanceAfter, Calculation, CustomerView};
use tessera_core::promotion::{
    BundleComponent, Effect, ItemMatch, MatrixColumns, MatrixRows, Percent, Promotion,
};
use tessera_core::receipt::{ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::reward::{CertificatePayment, Reward, RewardKind};
use tessera_core::ErrorCode;

const AT: &str = "2026-03-09T12:00:00+03:00";
const TZ: &str = "Europe/Moscow";

fn with_effects(id: &str, priority: i32, effects: Vec<Effect>) -> Promotion {
    let mut promotion = percent_off(id, priority, 100, None);
    promotion.effects = effects;
    promotion
}

fn grouped(mut promotion: Promotion, group: &str) -> Promotion {
    promotion.group = Some(group.to_string());
    promotion
}

fn member_with_tier(tier: Option<&str>) -> CustomerView {
    CustomerView {
        tier: tier.map(str::to_string),
        ..customer(0, 0)
    }
}

fn reward(promotion_id: &str, kind: RewardKind) -> Reward {
    Reward {
        promotion_id: promotion_id.to_string(),
        kind,
    }
}

/// `(promotion, reason, by)` of every candidate that did not apply.
fn not_applied(calc: &Calculation) -> Vec<(&str, &str, Option<&str>)> {
    calc.not_applied
        .iter()
        .map(|n| (n.promotion_id.as_str(), n.reason.as_str(), n.by.as_deref()))
        .collect()
}

fn applied_ids(calc: &Calculation) -> Vec<&str> {
    calc.promotions
        .iter()
        .map(|p| p.promotion_id.as_str())
        .collect()
}

fn discounts(calc: &Calculation) -> Vec<i64> {
    calc.lines.iter().map(|l| l.discount).collect()
}

// ---------------------------------------------------------------- rewards

/// One promotion per reward effect, walked in this order (priorities 50..10).
fn reward_promotions() -> Vec<Promotion> {
    vec![
        with_effects(
            "bonus",
            50,
            vec![Effect::BonusPoints {
                points: 200,
                expires_in_days: Some(30),
            }],
        ),
        with_effects(
            "coupon",
            40,
            vec![Effect::IssueCoupon {
                series: "next-visit".into(),
                valid_days: Some(14),
            }],
        ),
        with_effects(
            "certificate",
            30,
            vec![Effect::IssueCertificate {
                amount: 5000,
                valid_days: None,
            }],
        ),
        with_effects(
            "tier",
            20,
            vec![Effect::SetTier {
                tier: "gold".into(),
                days: Some(365),
            }],
        ),
        with_effects(
            "draw",
            10,
            vec![Effect::Grant {
                entitlement: "spring-draw".into(),
            }],
        ),
    ]
}

fn bonus_reward(points: i64, expires_in_days: Option<u32>) -> RewardKind {
    RewardKind::BonusPoints {
        points,
        expires_in_days,
    }
}

fn coupon_reward() -> RewardKind {
    RewardKind::Coupon {
        series: "next-visit".into(),
        valid_days: Some(14),
    }
}

fn certificate_reward() -> RewardKind {
    RewardKind::Certificate {
        amount: 5000,
        valid_days: None,
    }
}

#[test]
fn reward_effects_for_a_member_and_for_an_anonymous_receipt() {
    let lines = vec![line(1, "MILK", 3000, 10000)];
    let mut promotions = reward_promotions();
    promotions.push(earn_points("earn", 0, 500, None));

    // A member gets every reward; 5% of 300.00 earns 15 points, and the pending
    // balance grows by the earned and the bonus points: 50 + 15 + 200.
    let member = customer(1000, 50);
    let request = receipt(AT, lines.clone(), true, Redeem::None);
    let calc = price(&program(100, 100), TZ, &promotions, &request, Some(&member)).unwrap();
    assert_eq!(
        calc.rewards,
        vec![
            reward("bonus", bonus_reward(200, Some(30))),
            reward("coupon", coupon_reward()),
            reward("certificate", certificate_reward()),
            reward(
                "tier",
                RewardKind::Tier {
                    tier: "gold".into(),
                    days: Some(365)
                }
            ),
            reward(
                "draw",
                RewardKind::Entitlement {
                    entitlement: "spring-draw".into()
                }
            ),
        ]
    );
    assert_eq!((calc.points_earned, calc.bonus_points()), (15, 200));
    assert_eq!(
        calc.balance,
        Some(BalanceAfter {
            available: 1000,
            pending: 265
        })
    );
    assert!(calc.not_applied.is_empty(), "{:?}", calc.not_applied);
    // Rewards change no money: nothing off, everything to pay.
    assert_eq!((calc.totals.discount, calc.totals.to_pay), (0, 30000));
    // Bonus points are not on the lines: the lines hold only the earned points.
    assert_eq!(calc.lines.iter().map(|l| l.points_earned).sum::<i64>(), 15);

    // Anonymous: only the coupon and the certificate; the member-only rewards (and the
    // earning promotion) had no effect.
    let request = receipt(AT, lines, false, Redeem::None);
    let calc = price(&program(100, 100), TZ, &promotions, &request, None).unwrap();
    assert_eq!(
        calc.rewards,
        vec![
            reward("coupon", coupon_reward()),
            reward("certificate", certificate_reward()),
        ]
    );
    assert_eq!((calc.points_earned, calc.bonus_points()), (0, 0));
    assert_eq!(calc.balance, None);
    assert_eq!(
        not_applied(&calc),
        vec![
            ("bonus", "no_effect", None),
            ("tier", "no_effect", None),
            ("draw", "no_effect", None),
            ("earn", "no_effect", None),
        ]
    );
    // A stored record keeps everything but `not_applied` (the stored answer has it),
    // and older records that hold it still read.
    let stored = serde_json::to_value(&calc).unwrap();
    assert!(stored.get("not_applied").is_none(), "{stored}");
    let back: Calculation = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(
        back,
        Calculation {
            not_applied: Vec::new(),
            ..calc.clone()
        }
    );
    let mut older = stored;
    older["not_applied"] =
        serde_json::json!([{"promotion_id": "earn", "reason": "no_effect", "by": null}]);
    let back: Calculation = serde_json::from_value(older).unwrap();
    assert_eq!(not_applied(&back), vec![("earn", "no_effect", None)]);
}

#[test]
fn a_member_only_reward_next_to_a_discount_still_lets_the_promotion_apply() {
    // 10% off and 100 bonus points: an anonymous receipt gets the 10.00 off and no
    // reward, and the promotion is not listed as not applied.
    let promotion = with_effects(
        "both",
        0,
        vec![
            Effect::PercentOff {
                percent: Percent(1000),
                items: None,
            },
            Effect::BonusPoints {
                points: 100,
                expires_in_days: None,
            },
        ],
    );
    let lines = vec![line(1, "MILK", 1000, 10000)];
    let anonymous = receipt(AT, lines.clone(), false, Redeem::None);
    let calc = price(
        &program(100, 100),
        TZ,
        std::slice::from_ref(&promotion),
        &anonymous,
        None,
    )
    .unwrap();
    assert_eq!(
        (
            calc.totals.discount,
            calc.bonus_points(),
            calc.rewards.len()
        ),
        (1000, 0, 0)
    );
    assert!(calc.not_applied.is_empty(), "{:?}", calc.not_applied);
    assert_eq!(applied_ids(&calc), vec!["both"]);

    let identified = receipt(AT, lines, true, Redeem::None);
    let calc = price(
        &program(100, 100),
        TZ,
        &[promotion],
        &identified,
        Some(&customer(0, 7)),
    )
    .unwrap();
    assert_eq!((calc.totals.discount, calc.bonus_points()), (1000, 100));
    assert_eq!(calc.rewards, vec![reward("both", bonus_reward(100, None))]);
    assert_eq!(
        calc.balance,
        Some(BalanceAfter {
            available: 0,
            pending: 107
        })
    );
}

#[test]
fn bonus_points_add_up_and_are_not_multiplied() {
    // Two bonus promotions (200 + 50) and a multiplier of 3 on 10% of 200.00
    // (20 points -> 60): bonus 250, earned 60, pending 0 + 60 + 250.
    let promotions = vec![
        with_effects(
            "bonus-a",
            10,
            vec![Effect::BonusPoints {
                points: 200,
                expires_in_days: Some(30),
            }],
        ),
        with_effects(
            "bonus-b",
            5,
            vec![Effect::BonusPoints {
                points: 50,
                expires_in_days: None,
            }],
        ),
        with_effects("triple", 1, vec![Effect::EarnMultiplier { factor: 300 }]),
        earn_points("earn", 0, 1000, None),
    ];
    let request = receipt(AT, vec![line(1, "BREAD", 2000, 10000)], true, Redeem::None);
    let calc = price(
        &program(100, 100),
        TZ,
        &promotions,
        &request,
        Some(&customer(0, 0)),
    )
    .unwrap();
    assert_eq!((calc.points_earned, calc.bonus_points()), (60, 250));
    assert_eq!(
        calc.balance,
        Some(BalanceAfter {
            available: 0,
            pending: 310
        })
    );
    assert_eq!(
        calc.rewards,
        vec![
            reward("bonus-a", bonus_reward(200, Some(30))),
            reward("bonus-b", bonus_reward(50, None)),
        ]
    );
}

#[test]
fn group_winner_counts_bonus_points_and_certificates_at_their_value() {
    // MILK 10 x 100.00 = 1000.00; a point is worth 1.00.
    let lines = vec![line(1, "MILK", 10_000, 10000)];
    let bonus = || {
        grouped(
            with_effects(
                "bonus",
                0,
                vec![Effect::BonusPoints {
                    points: 300,
                    expires_in_days: None,
                }],
            ),
            "g",
        )
    };
    let certificate = || {
        grouped(
            with_effects(
                "certificate",
                0,
                vec![Effect::IssueCertificate {
                    amount: 25000,
                    valid_days: None,
                }],
            ),
            "g",
        )
    };
    let off = |basis_points| grouped(percent_off("off", 0, basis_points, None), "g");
    /// `(name, identified, promotions, winner, loser, discount given)`.
    type GroupCase = (
        &'static str,
        bool,
        Vec<Promotion>,
        &'static str,
        &'static str,
        i64,
    );
    let cases: Vec<GroupCase> = vec![
        (
            "300 points (300.00) beat 10% (100.00)",
            true,
            vec![bonus(), off(1000)],
            "bonus",
            "off",
            0,
        ),
        (
            "40% (400.00) beats 300 points (300.00)",
            true,
            vec![bonus(), off(4000)],
            "off",
            "bonus",
            40000,
        ),
        (
            "anonymous: the bonus is worth nothing, 10% wins",
            false,
            vec![bonus(), off(1000)],
            "off",
            "bonus",
            10000,
        ),
        (
            "a 250.00 certificate beats 20% (200.00)",
            true,
            vec![certificate(), off(2000)],
            "certificate",
            "off",
            0,
        ),
        (
            "30% (300.00) beats a 250.00 certificate",
            true,
            vec![certificate(), off(3000)],
            "off",
            "certificate",
            30000,
        ),
        (
            "anonymous: the certificate still counts and beats 20%",
            false,
            vec![certificate(), off(2000)],
            "certificate",
            "off",
            0,
        ),
    ];
    for (name, identified, promotions, winner, loser, discount) in cases {
        let request = receipt(AT, lines.clone(), identified, Redeem::None);
        let member = customer(0, 0);
        let calc = price(
            &program(100, 100),
            TZ,
            &promotions,
            &request,
            identified.then_some(&member),
        )
        .unwrap();
        assert_eq!(
            not_applied(&calc),
            vec![(loser, "lost_in_group", Some(winner))],
            "{name}"
        );
        assert_eq!(calc.totals.discount, discount, "{name}");
        let rewarded: Vec<&str> = calc
            .rewards
            .iter()
            .map(|r| r.promotion_id.as_str())
            .collect();
        let expected_rewards = if discount == 0 { vec![winner] } else { vec![] };
        assert_eq!(rewarded, expected_rewards, "{name}");
    }
}

// ---------------------------------------------------------------- tiers

#[test]
fn tier_audience_table() {
    let mut gold_or_silver = percent_off("tiered", 0, 1000, None);
    gold_or_silver.audience.tiers = vec!["gold".into(), "silver".into()];
    let lines = vec![line(1, "MILK", 1000, 10000)];
    // (name, customer, discount)
    let cases: Vec<(&str, Option<CustomerView>, i64)> = vec![
        ("gold", Some(member_with_tier(Some("gold"))), 1000),
        ("silver", Some(member_with_tier(Some("silver"))), 1000),
        ("bronze", Some(member_with_tier(Some("bronze"))), 0),
        (
            "tier names are exact",
            Some(member_with_tier(Some("Gold"))),
            0,
        ),
        ("no tier", Some(member_with_tier(None)), 0),
        ("anonymous", None, 0),
    ];
    for (name, member, discount) in cases {
        let request = receipt(AT, lines.clone(), member.is_some(), Redeem::None);
        let calc = price(
            &program(100, 100),
            TZ,
            std::slice::from_ref(&gold_or_silver),
            &request,
            member.as_ref(),
        )
        .unwrap();
        assert_eq!(calc.totals.discount, discount, "{name}");
        // A customer outside the tiers makes it no candidate at all.
        assert!(
            calc.not_applied.is_empty(),
            "{name}: {:?}",
            calc.not_applied
        );
    }

    let mut bad = gold_or_silver.clone();
    bad.audience.tiers = vec!["gold".into(), "no/slash".into()];
    let err = bad.validate().unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::InvalidField, Some("audience.tiers[1]"))
    );
}

/// Segment and card-type audiences: a member of one listed segment, a receipt whose
/// card is of one listed type; both lists together must both hold.
#[test]
fn segment_and_card_type_audience_table() {
    use tessera_core::customer::CardType;
    let mut vip = percent_off("vip", 0, 1000, None);
    vip.audience.segments = vec!["vip".into(), "students".into()];
    let mut app_card = percent_off("app", 0, 500, None);
    app_card.audience.card_types = vec![CardType::Virtual, CardType::Social];
    let mut both = percent_off("both", 0, 200, None);
    both.audience.segments = vec!["vip".into()];
    both.audience.card_types = vec![CardType::Virtual];
    let promotions = vec![vip, app_card, both];
    let member = |segments: &[&str], cards: &[CardType]| CustomerView {
        segments: segments.iter().map(|s| s.to_string()).collect(),
        card_types: cards.to_vec(),
        ..customer(0, 0)
    };
    let lines = vec![line(1, "MILK", 1000, 10000)];
    // (name, customer, applied) on 100.00: vip 10%, app 5% of what is left, both 2%.
    let cases: Vec<(&str, Option<CustomerView>, Vec<&str>)> = vec![
        (
            "vip with a plastic card",
            Some(member(&["vip"], &[CardType::Plastic])),
            vec!["vip"],
        ),
        (
            "student",
            Some(member(&["students", "x"], &[])),
            vec!["vip"],
        ),
        ("other segment", Some(member(&["staff"], &[])), vec![]),
        (
            "virtual card",
            Some(member(&[], &[CardType::Virtual])),
            vec!["app"],
        ),
        (
            "social card",
            Some(member(&[], &[CardType::Social])),
            vec!["app"],
        ),
        (
            "family card",
            Some(member(&[], &[CardType::Family])),
            vec![],
        ),
        (
            "vip with a virtual card",
            Some(member(&["vip"], &[CardType::Virtual])),
            vec!["app", "both", "vip"],
        ),
        ("anonymous", None, vec![]),
    ];
    for (name, customer, expected) in cases {
        let request = receipt(AT, lines.clone(), customer.is_some(), Redeem::None);
        let calc = price(
            &program(100, 100),
            TZ,
            &promotions,
            &request,
            customer.as_ref(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut applied = applied_ids(&calc);
        applied.sort();
        assert_eq!(applied, expected, "{name}");
    }
    let mut bad = promotions[0].clone();
    bad.audience.segments = vec!["".into()];
    let err = bad.validate().unwrap_err();
    assert_eq!(err.field.as_deref(), Some("audience.segments[0]"));
}

#[test]
fn discount_matrix_rows_by_tier() {
    let percent = |rows: &[(&str, &[(&str, i64)])]| -> BTreeMap<String, BTreeMap<String, Percent>> {
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
    let matrix = with_effects(
        "matrix",
        0,
        vec![Effect::DiscountMatrix {
            rows: MatrixRows::Tier,
            columns: MatrixColumns::Category,
            percent: percent(&[
                ("gold", &[("dairy", 2000)]),
                ("silver", &[("dairy", 1000), ("bakery", 500)]),
                // A row named like the store is not a tier.
                ("store-1", &[("dairy", 9000)]),
            ]),
        }],
    );
    let lines = vec![line(1, "MILK", 1000, 10000), line(2, "BREAD", 1000, 10000)];
    // (name, customer, discounts per line, applied)
    let cases: Vec<(&str, Option<CustomerView>, Vec<i64>, bool)> = vec![
        (
            "gold: dairy 20%, bakery not in its row",
            Some(member_with_tier(Some("gold"))),
            vec![2000, 0],
            true,
        ),
        (
            "silver: dairy 10%, bakery 5%",
            Some(member_with_tier(Some("silver"))),
            vec![1000, 500],
            true,
        ),
        (
            "a tier without a row",
            Some(member_with_tier(Some("bronze"))),
            vec![0, 0],
            false,
        ),
        ("no tier", Some(member_with_tier(None)), vec![0, 0], false),
        ("anonymous", None, vec![0, 0], false),
    ];
    for (name, member, expected, applies) in cases {
        let request = receipt(AT, lines.clone(), member.is_some(), Redeem::None);
        let calc = price(
            &program(100, 100),
            TZ,
            std::slice::from_ref(&matrix),
            &request,
            member.as_ref(),
        )
        .unwrap();
        assert_eq!(discounts(&calc), expected, "{name}");
        let expected_not_applied = if applies {
            vec![]
        } else {
            vec![("matrix", "no_effect", None)]
        };
        assert_eq!(not_applied(&calc), expected_not_applied, "{name}");
    }
}

// ---------------------------------------------------------------- per_receipt

#[test]
fn per_receipt_limit_table() {
    fn capped(mut promotion: Promotion, cap: Option<u64>) -> Promotion {
        promotion.limits.per_receipt = cap;
        promotion
    }
    let buy_get = |cap| {
        capped(
            with_effects(
                "bg",
                0,
                vec![Effect::BuyGet {
                    buy: 2,
                    get: 1,
                    percent: Percent(10_000),
                    items: category("dairy"),
                }],
            ),
            cap,
        )
    };
    let bundle = |cap| {
        capped(
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
                    price: 15000,
                }],
            ),
            cap,
        )
    };
    let fixed = |cap| {
        capped(
            with_effects(
                "fixed",
                0,
                vec![Effect::FixedPrice {
                    price: 8000,
                    items: category("dairy"),
                }],
            ),
            cap,
        )
    };
    let buy_get_lines = || vec![line(1, "MILK", 6000, 5000), line(2, "KEFIR", 3000, 3000)];
    let bundle_lines = || vec![line(1, "MILK", 3000, 12000), line(2, "BREAD", 3000, 8000)];
    let fixed_lines = || vec![line(1, "MILK", 3000, 10000), line(2, "KEFIR", 2000, 15000)];
    // (name, lines, promotion, discounts per line)
    let cases: Vec<(&str, Vec<ReceiptLine>, Promotion, Vec<i64>)> = vec![
        (
            // 9 units make 3 sets of 2 + 1: the 3 kefirs (30.00) are free = 90.00, spread
            // over all 9 units by value: 9000 * 30000 / 39000 = 6923.08 -> 6923,
            // 9000 * 9000 / 39000 = 2076.92 -> 2077 (largest remainder).
            "buy_get uncapped: 3 sets",
            buy_get_lines(),
            buy_get(None),
            vec![6923, 2077],
        ),
        (
            // 2 sets: the 6 cheapest units (3 kefirs, 3 milks); the 2 cheapest (kefirs)
            // are free = 60.00, spread by value of the 6 units: milk 3 x 50.00 = 15000,
            // kefir 3 x 30.00 = 9000 -> 6000 * 15000 / 24000 = 3750, 6000 * 9000 / 24000
            // = 2250.
            "buy_get capped at 2 sets",
            buy_get_lines(),
            buy_get(Some(2)),
            vec![3750, 2250],
        ),
        (
            "buy_get cap above the sets changes nothing",
            buy_get_lines(),
            buy_get(Some(3)),
            vec![6923, 2077],
        ),
        (
            // 3 bundles of 120.00 + 80.00 = 200.00 for 150.00: 3 x 50.00 = 150.00, split
            // 36000 : 24000 -> 9000, 6000.
            "bundle uncapped: 3 bundles",
            bundle_lines(),
            bundle(None),
            vec![9000, 6000],
        ),
        (
            // 2 bundles: 2 x 50.00 = 100.00 split by the 2 bundles' units, milk
            // 2 x 120.00 = 24000, bread 2 x 80.00 = 16000 -> 6000, 4000.
            "bundle capped at 2",
            bundle_lines(),
            bundle(Some(2)),
            vec![6000, 4000],
        ),
        (
            "bundle capped at 1",
            bundle_lines(),
            bundle(Some(1)),
            vec![3000, 2000],
        ),
        (
            // Every dairy unit at 80.00: milk 3 x 20.00 = 6000, kefir 2 x 70.00 = 14000.
            "fixed_price uncapped",
            fixed_lines(),
            fixed(None),
            vec![6000, 14000],
        ),
        (
            // 3 units, the biggest savings first: the 2 kefirs (70.00 each = 14000), then
            // 1 milk (100.00 - 80.00 = 2000).
            "fixed_price capped at 3 units",
            fixed_lines(),
            fixed(Some(3)),
            vec![2000, 14000],
        ),
        (
            // 1 unit: one kefir, 150.00 - 80.00 = 7000.
            "fixed_price capped at 1 unit",
            fixed_lines(),
            fixed(Some(1)),
            vec![0, 7000],
        ),
    ];
    for (name, lines, promotion, expected) in cases {
        let request = receipt(AT, lines, false, Redeem::None);
        let calc = price(&program(100, 100), TZ, &[promotion], &request, None)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(discounts(&calc), expected, "{name}");
        assert_eq!(
            calc.totals.discount,
            expected.iter().sum::<i64>(),
            "{name}: total"
        );
        assert_eq!(
            calc.promotions.iter().map(|p| p.discount).sum::<i64>(),
            calc.totals.discount,
            "{name}: listed"
        );
    }
}

#[test]
fn per_receipt_caps_extra_qty_sets_across_lines() {
    // Every 2 dairy units give 1 more. Milk 5 units = 2 sets, kefir 4 units = 2 sets.
    let extra = |cap: Option<u64>| {
        let mut promotion = with_effects(
            "extra",
            0,
            vec![Effect::ExtraQty {
                items: category("dairy"),
                per: 2,
                extra: 1,
            }],
        );
        promotion.limits.per_receipt = cap;
        promotion
    };
    let lines = vec![line(1, "MILK", 5000, 1000), line(2, "KEFIR", 4000, 1000)];
    /// `(name, cap, added lines as (line, sku, qty))`.
    type ExtraCase = (&'static str, Option<u64>, Vec<(u32, &'static str, i64)>);
    let cases: Vec<ExtraCase> = vec![
        (
            "uncapped: 2 + 2 sets",
            None,
            vec![(3, "MILK", 2000), (4, "KEFIR", 2000)],
        ),
        (
            "3 sets: milk takes 2, kefir the 1 left",
            Some(3),
            vec![(3, "MILK", 2000), (4, "KEFIR", 1000)],
        ),
        ("2 sets: all to milk", Some(2), vec![(3, "MILK", 2000)]),
        ("1 set", Some(1), vec![(3, "MILK", 1000)]),
    ];
    for (name, cap, expected) in cases {
        let request = receipt(AT, lines.clone(), false, Redeem::None);
        let calc = price(&program(100, 100), TZ, &[extra(cap)], &request, None).unwrap();
        let added: Vec<(u32, &str, i64)> = calc
            .lines
            .iter()
            .filter(|l| l.added_by.as_deref() == Some("extra"))
            .map(|l| (l.line, l.sku.as_str(), l.qty))
            .collect();
        assert_eq!(added, expected, "{name}");
        assert_eq!(calc.lines.len(), 2 + expected.len(), "{name}");
        assert_eq!(calc.totals.to_pay, 9000, "{name}: extra units are free");
    }
}

// ---------------------------------------------------------------- certificates

/// Certificates A (balance 100.00), B (80.00) and C (500.00).
fn certificate_a() -> String {
    certificate_code(0xA11CE)
}

fn certificate_b() -> String {
    certificate_code(0xB0B)
}

fn certificate_c() -> String {
    certificate_code(0xC0FFEE)
}

fn balances() -> HashMap<String, Result<Money, String>> {
    [
        (certificate_a(), Ok(10000)),
        (certificate_b(), Ok(8000)),
        (certificate_c(), Ok(50000)),
        (certificate_code(0xDEAD), Err("expired".to_string())),
        (certificate_code(0xBEEF), Err("revoked".to_string())),
    ]
    .into_iter()
    .collect()
}

fn paying(code: &str, amount: Money) -> CertificatePayment {
    CertificatePayment {
        code: code.to_string(),
        amount,
    }
}

/// MILK 2 x 100.00 and BREAD 1 x 50.00, 10% off, 30 points and then certificates.
fn certificate_receipt(payments: Vec<CertificatePayment>) -> ReceiptRequest {
    let mut request = receipt(
        AT,
        vec![line(1, "MILK", 2000, 10000), line(2, "BREAD", 1000, 5000)],
        true,
        Redeem::Points(30),
    );
    request.certificates = payments;
    request
}

fn price_certificate_receipt(
    payments: Vec<CertificatePayment>,
) -> Result<Calculation, tessera_core::CoreError> {
    price_with_certificates(
        &program(100, 100),
        TZ,
        &[
            percent_off("ten", 10, 1000, None),
            earn_points("earn", 0, 1000, None),
        ],
        &certificate_receipt(payments),
        Some(&customer(1000, 0)),
        balances(),
    )
}

#[test]
fn certificates_pay_what_is_left_after_discounts_and_points() {
    // 10% off 250.00: 2000 + 500. Points capacities 180 / 45: 30 points split 24 / 6
    // (2400 / 600). Left: 15600 / 3900 = 19500. Certificates 100.00 + 50.00 = 15000
    // split by what is left: 15000 * 15600 / 19500 = 12000, 15000 * 3900 / 19500 =
    // 3000. Totals: 20000 - 2000 - 2400 - 12000 = 3600, 5000 - 500 - 600 - 3000 = 900.
    // 10% of 45.00 paid in money = 4.50 -> 4 points (3 / 1: 3.2 and 0.8, the larger
    // remainder takes the last).
    let calc = price_certificate_receipt(vec![
        paying(&certificate_a(), 10000),
        paying(&certificate_b(), 5000),
    ])
    .unwrap();
    let lines: Vec<_> = calc
        .lines
        .iter()
        .map(|l| {
            (
                l.amount,
                l.discount,
                l.points_paid,
                l.certificate_paid,
                l.total,
                l.points_earned,
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (20000, 2000, 2400, 12000, 3600, 3),
            (5000, 500, 600, 3000, 900, 1)
        ]
    );
    let t = calc.totals;
    assert_eq!(
        (
            t.amount,
            t.discount,
            t.points_value,
            t.certificates,
            t.to_pay
        ),
        (25000, 2500, 3000, 15000, 4500)
    );
    assert_eq!(
        t.amount - t.discount - t.points_value - t.certificates,
        t.to_pay
    );
    assert_eq!((calc.points_earned, calc.points_redeemed), (4, 30));
    assert_eq!(
        calc.certificates,
        vec![
            paying(&certificate_a(), 10000),
            paying(&certificate_b(), 5000)
        ]
    );

    // Without certificates the same receipt earns 10% of 195.00 = 19 points: the
    // certificate money earned nothing.
    let plain = price_certificate_receipt(Vec::new()).unwrap();
    assert_eq!(
        (
            plain.totals.to_pay,
            plain.totals.certificates,
            plain.points_earned
        ),
        (19500, 0, 19)
    );
    assert_eq!(discounts(&plain), discounts(&calc));
}

#[test]
fn certificates_pay_up_to_their_balances_and_codes_are_normalised() {
    // A typed in lower case with dashes pays its whole balance (100.00), B its whole
    // balance (80.00): 180.00 of the 195.00 left, 15.00 to pay, 10% of it = 1 point.
    let typed_a = tessera_core::coupon::code_from_random(0xA11CE).to_lowercase();
    let calc = price_certificate_receipt(vec![
        paying(&typed_a, 10000),
        paying(&certificate_b(), 8000),
    ])
    .unwrap();
    assert_eq!(
        (
            calc.totals.certificates,
            calc.totals.to_pay,
            calc.points_earned
        ),
        (18000, 1500, 1)
    );
    assert_eq!(calc.certificates[0].code, certificate_a());

    // C pays exactly the 195.00 left after the discount and the points: nothing to pay
    // in money and nothing earned.
    let calc = price_certificate_receipt(vec![paying(&certificate_c(), 19500)]).unwrap();
    let lines: Vec<_> = calc
        .lines
        .iter()
        .map(|l| (l.certificate_paid, l.total, l.points_earned))
        .collect();
    assert_eq!(lines, vec![(15600, 0, 0), (3900, 0, 0)]);
    assert_eq!((calc.totals.to_pay, calc.points_earned), (0, 0));

    // An anonymous receipt may pay with certificates too: 180.00 of MILK, all paid.
    let mut request = receipt(AT, vec![line(1, "MILK", 2000, 9000)], false, Redeem::None);
    request.certificates = vec![
        paying(&certificate_a(), 10000),
        paying(&certificate_b(), 8000),
    ];
    let calc =
        price_with_certificates(&program(100, 100), TZ, &[], &request, None, balances()).unwrap();
    let lines: Vec<_> = calc
        .lines
        .iter()
        .map(|l| (l.certificate_paid, l.total))
        .collect();
    assert_eq!(lines, vec![(18000, 0)]);
    assert_eq!((calc.totals.certificates, calc.totals.to_pay), (18000, 0));
}

#[test]
fn certificate_errors_table() {
    let mut malformed = certificate_a().into_bytes();
    malformed[3] = if malformed[3] == b'X' { b'Y' } else { b'X' };
    let malformed = String::from_utf8(malformed).unwrap();
    // (name, payments, code, field)
    let cases: Vec<(&str, Vec<CertificatePayment>, ErrorCode, &str)> = vec![
        (
            "unknown code",
            vec![
                paying(&certificate_a(), 100),
                paying(&certificate_code(0x5EED), 100),
            ],
            ErrorCode::CertificateInvalid,
            "certificates[1].code",
        ),
        (
            "expired",
            vec![paying(&certificate_code(0xDEAD), 100)],
            ErrorCode::CertificateInvalid,
            "certificates[0].code",
        ),
        (
            "revoked",
            vec![
                paying(&certificate_b(), 100),
                paying(&certificate_code(0xBEEF), 100),
            ],
            ErrorCode::CertificateInvalid,
            "certificates[1].code",
        ),
        (
            "more than the balance",
            vec![paying(&certificate_a(), 10001)],
            ErrorCode::CertificateInsufficient,
            "certificates[0].amount",
        ),
        (
            "more than the second one's balance",
            vec![
                paying(&certificate_a(), 100),
                paying(&certificate_b(), 8001),
            ],
            ErrorCode::CertificateInsufficient,
            "certificates[1].amount",
        ),
        (
            "a typo in the code is caught without a lookup",
            vec![paying(&malformed, 100)],
            ErrorCode::CertificateInvalid,
            "certificates[0].code",
        ),
        (
            "not a certificate code at all",
            vec![paying("SPRING10", 100)],
            ErrorCode::CertificateInvalid,
            "certificates[0].code",
        ),
        (
            "the same certificate twice",
            vec![paying(&certificate_a(), 100), paying(&certificate_a(), 100)],
            ErrorCode::InvalidField,
            "certificates[1].code",
        ),
        (
            "a zero amount",
            vec![paying(&certificate_a(), 0)],
            ErrorCode::InvalidField,
            "certificates[0].amount",
        ),
    ];
    for (name, payments, code, field) in cases {
        let err = price_certificate_receipt(payments).unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (code, Some(field)),
            "{name}"
        );
    }
    assert!(
        price_certificate_receipt(vec![paying(&certificate_code(0xDEAD), 100)])
            .unwrap_err()
            .message
            .contains("expired")
    );

    // More than is left: 195.00 is left after the 25.00 off and the 30.00 of points, so
    // C paying 195.01 is refused though the receipt's amount is 250.00.
    let err = price_certificate_receipt(vec![paying(&certificate_c(), 19501)]).unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::CertificateExceedsTotal, Some("certificates"))
    );
    // The sum counts: 150.00 left, 70.00 + 80.00 is exactly it, 70.01 + 80.00 is not.
    let two = |amount_a: Money| {
        let mut request = receipt(AT, vec![line(1, "BREAD", 3000, 5000)], false, Redeem::None);
        request.certificates = vec![
            paying(&certificate_a(), amount_a),
            paying(&certificate_b(), 8000),
        ];
        price_with_certificates(&program(100, 100), TZ, &[], &request, None, balances())
    };
    assert_eq!(two(7000).unwrap().totals.to_pay, 0);
    let err = two(7001).unwrap_err();
    assert_eq!(
        (err.code, err.field.as_deref()),
        (ErrorCode::CertificateExceedsTotal, Some("certificates"))
    );
}

/// A promotion that only rewards (no discount, no earned points) is listed as applied
/// and counts for its limits like any other: a "once per customer" bonus is given once.
#[test]
fn reward_only_promotions_are_listed_and_count_for_limits() {
    use tessera_core::limits::{deltas, keys_to_read, UsageScope};
    let mut bonus = with_effects(
        "bonus",
        0,
        vec![Effect::BonusPoints {
            points: 100,
            expires_in_days: None,
        }],
    );
    bonus.limits.per_customer = Some(1);
    let mut gift = with_effects(
        "gift",
        0,
        vec![Effect::IssueCertificate {
            amount: 5_000,
            valid_days: Some(30),
        }],
    );
    gift.limits.total_uses = Some(10);
    let promotions = vec![bonus.clone(), gift.clone()];
    let request = receipt(AT, vec![line(1, "MILK", 1000, 1000)], true, Redeem::None);
    let calc = price(
        &program(100, 100),
        TZ,
        &promotions,
        &request,
        Some(&customer(0, 0)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let listed: Vec<(&str, &str, i64, i64)> = calc
        .promotions
        .iter()
        .map(|p| {
            (
                p.promotion_id.as_str(),
                p.effect.as_str(),
                p.discount,
                p.points,
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![
            ("bonus", "bonus_points", 0, 100),
            ("gift", "issue_certificate", 0, 0)
        ]
    );
    let scope = UsageScope {
        store_id: "store-1",
        customer_id: Some(CUSTOMER_ID),
        local_date: naive("2026-03-09T00:00:00").date(),
    };
    let refs: Vec<&Promotion> = promotions.iter().collect();
    let mut keys = keys_to_read(&calc, &refs, &scope);
    keys.sort();
    assert_eq!(
        keys,
        vec![
            ("bonus".to_string(), format!("customer:{CUSTOMER_ID}")),
            ("gift".to_string(), "total".to_string()),
        ]
    );
    assert_eq!(deltas(&calc, &refs, &scope).len(), 2);
}
