//! Stacking modes, scope, audience, weekly schedules in store-local time (across DST)
//! and `amount_off`: one case per rule, each naming what applied, what did not and why.

use crate::fixtures::*;
use chrono::{NaiveTime, Weekday};
use tessera_core::promotion::{Effect, Promotion, Stacking};
use tessera_core::receipt::Redeem;

struct Case {
    name: &'static str,
    tz: &'static str,
    at: &'static str,
    identified: bool,
    promotions: Vec<Promotion>,
    /// `(promotion, discount)` of every applied discount, in order.
    applied: Vec<(&'static str, i64)>,
    /// `(promotion, reason, by)` of every candidate that did not apply.
    not_applied: Vec<(&'static str, &'static str, Option<&'static str>)>,
    /// Discount per line.
    line_discounts: Vec<i64>,
}

fn stacked(mut promotion: Promotion, stacking: Stacking) -> Promotion {
    promotion.stacking = stacking;
    promotion
}

fn amount_off(
    id: &str,
    priority: i32,
    amount: i64,
    items: Option<tessera_core::promotion::ItemMatch>,
) -> Promotion {
    let mut promotion = percent_off(id, priority, 100, None);
    promotion.effects = vec![Effect::AmountOff { amount, items }];
    promotion
}

fn weekly(mut promotion: Promotion, weekdays: Vec<Weekday>, hours: Vec<(&str, &str)>) -> Promotion {
    promotion.schedule.weekdays = weekdays;
    promotion.schedule.hours = hours
        .into_iter()
        .map(|(a, b)| {
            (
                NaiveTime::parse_from_str(a, "%H:%M").unwrap(),
                NaiveTime::parse_from_str(b, "%H:%M").unwrap(),
            )
        })
        .collect();
    promotion
}

fn in_stores(mut promotion: Promotion, stores: &[&str]) -> Promotion {
    promotion.scope.stores = stores.iter().map(|s| s.to_string()).collect();
    promotion
}

fn members_only(mut promotion: Promotion) -> Promotion {
    promotion.audience.members_only = true;
    promotion
}

const MONDAY_NOON_MSK: &str = "2026-03-09T12:00:00+03:00";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "stackable promotions cascade: 10% then 10% of what is left",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![percent_off("a", 100, 1000, None), percent_off("b", 50, 1000, None)],
            applied: vec![("a", 4000), ("b", 3600)],
            not_applied: vec![],
            line_discounts: vec![5700, 1900],
        },
        Case {
            name: "blocking applies and stops the lower ones",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![stacked(percent_off("a", 100, 1000, None), Stacking::Blocking), percent_off("b", 50, 1000, None)],
            applied: vec![("a", 4000)],
            not_applied: vec![("b", "blocked_by", Some("a"))],
            line_discounts: vec![3000, 1000],
        },
        Case {
            name: "a blocking promotion lower down lets the higher ones apply",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![percent_off("a", 100, 1000, None), stacked(percent_off("b", 50, 1000, None), Stacking::Blocking), percent_off("c", 10, 1000, None)],
            applied: vec![("a", 4000), ("b", 3600)],
            not_applied: vec![("c", "blocked_by", Some("b"))],
            line_discounts: vec![5700, 1900],
        },
        Case {
            name: "exclusive after another applied does not apply",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![percent_off("a", 100, 1000, None), stacked(percent_off("x", 50, 2000, None), Stacking::Exclusive)],
            applied: vec![("a", 4000)],
            not_applied: vec![("x", "exclusive_after_others", Some("a"))],
            line_discounts: vec![3000, 1000],
        },
        Case {
            name: "exclusive first applies alone",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![stacked(percent_off("x", 100, 2000, None), Stacking::Exclusive), percent_off("a", 50, 1000, None)],
            applied: vec![("x", 8000)],
            not_applied: vec![("a", "blocked_by", Some("x"))],
            line_discounts: vec![6000, 2000],
        },
        Case {
            name: "a promotion whose items match no line is no candidate and does not block",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![stacked(percent_off("shoes", 100, 5000, category("shoes")), Stacking::Blocking), percent_off("a", 50, 1000, None)],
            applied: vec![("a", 4000)],
            not_applied: vec![],
            line_discounts: vec![3000, 1000],
        },
        Case {
            name: "a candidate that changes nothing (no complete buy-get set) is listed and does not block",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![
                stacked(
                    {
                        let mut p = percent_off("bread-3-for-2", 100, 100, None);
                        p.effects = vec![Effect::BuyGet { buy: 2, get: 1, percent: tessera_core::promotion::Percent(10_000), items: category("bakery") }];
                        p
                    },
                    Stacking::Blocking,
                ),
                percent_off("a", 50, 1000, None),
            ],
            applied: vec![("a", 4000)],
            not_applied: vec![("bread-3-for-2", "no_effect", None)],
            line_discounts: vec![3000, 1000],
        },
        Case {
            name: "scope: a promotion of another store is no candidate",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![in_stores(percent_off("elsewhere", 100, 1000, None), &["store-2"]), in_stores(percent_off("here", 50, 1000, None), &["store-1"])],
            applied: vec![("here", 4000)],
            not_applied: vec![],
            line_discounts: vec![3000, 1000],
        },
        Case {
            name: "members only: an anonymous receipt is no candidate",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![members_only(percent_off("members", 100, 1000, None))],
            applied: vec![],
            not_applied: vec![],
            line_discounts: vec![0, 0],
        },
        Case {
            name: "members only: a member gets it",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: true,
            promotions: vec![members_only(percent_off("members", 100, 1000, None))],
            applied: vec![("members", 4000)],
            not_applied: vec![],
            line_discounts: vec![3000, 1000],
        },
        Case {
            name: "weekday and hours in store-local time: Saturday 11:30 in Vladivostok is Saturday 01:30 UTC",
            tz: "Asia/Vladivostok",
            at: "2026-03-14T01:30:00Z",
            identified: false,
            promotions: vec![weekly(percent_off("sat", 100, 1000, None), vec![Weekday::Sat], vec![("10:00", "14:00")])],
            applied: vec![("sat", 4000)],
            not_applied: vec![],
            line_discounts: vec![3000, 1000],
        },
        Case {
            name: "hours end is excluded: 14:00 local is outside 10:00-14:00",
            tz: "Asia/Vladivostok",
            at: "2026-03-14T04:00:00Z",
            identified: false,
            promotions: vec![weekly(percent_off("sat", 100, 1000, None), vec![Weekday::Sat], vec![("10:00", "14:00")])],
            applied: vec![],
            not_applied: vec![],
            line_discounts: vec![0, 0],
        },
        Case {
            name: "wrong weekday locally although right in UTC: Sunday 08:00 in Vladivostok is Saturday 22:00 UTC",
            tz: "Asia/Vladivostok",
            at: "2026-03-14T22:00:00Z",
            identified: false,
            promotions: vec![weekly(percent_off("sat", 100, 1000, None), vec![Weekday::Sat], vec![])],
            applied: vec![],
            not_applied: vec![],
            line_discounts: vec![0, 0],
        },
        Case {
            name: "hours past midnight: 01:00 local is inside 22:00-02:00",
            tz: "Europe/Moscow",
            at: "2026-03-10T01:00:00+03:00",
            identified: false,
            promotions: vec![weekly(percent_off("night", 100, 1000, None), vec![], vec![("22:00", "02:00")])],
            applied: vec![("night", 4000)],
            not_applied: vec![],
            line_discounts: vec![3000, 1000],
        },
        Case {
            name: "DST: 10:30 in New York after the spring change (14:30 UTC) is inside 10:00-14:00",
            tz: "America/New_York",
            at: "2026-03-09T14:30:00Z",
            identified: false,
            promotions: vec![weekly(percent_off("morning", 100, 1000, None), vec![], vec![("10:00", "14:00")])],
            applied: vec![("morning", 4000)],
            not_applied: vec![],
            line_discounts: vec![3000, 1000],
        },
        Case {
            name: "DST: the same 14:30 UTC before the change is 09:30 in New York, outside",
            tz: "America/New_York",
            at: "2026-03-07T14:30:00Z",
            identified: false,
            promotions: vec![weekly(percent_off("morning", 100, 1000, None), vec![], vec![("10:00", "14:00")])],
            applied: vec![],
            not_applied: vec![],
            line_discounts: vec![0, 0],
        },
        Case {
            name: "amount_off spreads in proportion to net amounts",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![amount_off("minus100", 100, 10000, None)],
            applied: vec![("minus100", 10000)],
            not_applied: vec![],
            line_discounts: vec![7500, 2500],
        },
        Case {
            name: "amount_off never exceeds what the matching lines cost",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![amount_off("bread-gift", 100, 1_000_000, category("bakery"))],
            applied: vec![("bread-gift", 10000)],
            not_applied: vec![],
            line_discounts: vec![0, 10000],
        },
        Case {
            name: "amount_off after a percent_off works on what is left",
            tz: "Europe/Moscow",
            at: MONDAY_NOON_MSK,
            identified: false,
            promotions: vec![percent_off("a", 100, 5000, None), amount_off("b", 50, 30000, None)],
            applied: vec![("a", 20000), ("b", 20000)],
            not_applied: vec![],
            line_discounts: vec![30000, 10000],
        },
    ]
}

#[test]
fn stacking_scope_schedule_and_amount_off_table() {
    for case in cases() {
        // MILK 3 x 100.00 (dairy) and BREAD 1 x 100.00 (bakery): 400.00 in all.
        let lines = vec![line(1, "MILK", 3000, 10000), line(2, "BREAD", 1000, 10000)];
        let receipt = receipt(case.at, lines, case.identified, Redeem::None);
        let customer = customer(0, 0);
        let calc = price(
            &program(100, 100),
            case.tz,
            &case.promotions,
            &receipt,
            case.identified.then_some(&customer),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let applied: Vec<(&str, i64)> = calc
            .promotions
            .iter()
            .map(|p| (p.promotion_id.as_str(), p.discount))
            .collect();
        assert_eq!(applied, case.applied, "{}: applied", case.name);
        let not_applied: Vec<(&str, &str, Option<&str>)> = calc
            .not_applied
            .iter()
            .map(|n| (n.promotion_id.as_str(), n.reason.as_str(), n.by.as_deref()))
            .collect();
        assert_eq!(not_applied, case.not_applied, "{}: not applied", case.name);
        let discounts: Vec<i64> = calc.lines.iter().map(|l| l.discount).collect();
        assert_eq!(
            discounts, case.line_discounts,
            "{}: line discounts",
            case.name
        );
        assert_eq!(
            calc.totals.discount,
            discounts.iter().sum::<i64>(),
            "{}: totals",
            case.name
        );
    }
}

mod order {
    use crate::fixtures::*;
    use proptest::prelude::*;
    use tessera_core::pricing::calculate;
    use tessera_core::snapshot::ConfigSnapshot;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        /// The order promotions come out of storage in never changes a calculation, with
        /// groups and every stacking mode in play.
        #[test]
        fn storage_order_never_changes_the_result(scenario in arb_scenario(), rotate in 0usize..8, grouped in any::<bool>()) {
            let mut promotions = scenario.promotions.clone();
            if grouped {
                for promotion in promotions.iter_mut().step_by(2) {
                    promotion.group = Some("g".into());
                }
            }
            let mut receipt = scenario.receipt();
            prop_assume!(receipt.validate().is_ok());
            let customer = scenario.balance.map(|(available, pending)| customer(available, pending));
            let price_in = |order: Vec<tessera_core::promotion::Promotion>| {
                let snapshot = ConfigSnapshot::new(scenario.program.clone(), vec![store("Europe/Moscow")], catalogue().into_values().collect(), order);
                let ctx = snapshot.context(&receipt).unwrap();
                calculate(&ctx, &receipt, customer.as_ref())
            };
            let expected = price_in(promotions.clone());
            let mut reversed = promotions.clone();
            reversed.reverse();
            let mut rotated = promotions.clone();
            if !rotated.is_empty() {
                let by = rotate % rotated.len();
                rotated.rotate_left(by);
            }
            prop_assert_eq!(&price_in(reversed), &expected);
            prop_assert_eq!(&price_in(rotated), &expected);
            // The snapshot's index (scope, line attributes) only skips promotions that
            // cannot act: pricing against every promotion gives the same result.
            let every = price(&scenario.program, "Europe/Moscow", &promotions, &scenario.receipt(), customer.as_ref());
            prop_assert_eq!(&every, &expected);
        }
    }
}

#[test]
fn audience_by_customer_id_and_first_purchase() {
    let receipt = receipt(
        MONDAY_NOON_MSK,
        vec![line(1, "MILK", 1000, 10000)],
        true,
        Redeem::None,
    );
    let mut welcome = percent_off("welcome", 0, 2000, None);
    welcome.audience.first_purchase = true;
    let mut vip = percent_off("vip", 0, 1000, None);
    vip.audience.customer_ids = vec![CUSTOMER_ID.to_string()];
    let mut other_vip = percent_off("other-vip", 0, 1000, None);
    other_vip.audience.customer_ids = vec!["someone-else".to_string()];
    let applied = |first_purchase: bool, identified: bool| -> Vec<String> {
        let mut member = customer(0, 0);
        member.first_purchase = first_purchase;
        let mut receipt = receipt.clone();
        if !identified {
            receipt.customer = None;
        }
        let promotions = [welcome.clone(), vip.clone(), other_vip.clone()];
        price(
            &program(100, 100),
            "Europe/Moscow",
            &promotions,
            &receipt,
            identified.then_some(&member),
        )
        .unwrap()
        .promotions
        .into_iter()
        .map(|p| p.promotion_id)
        .collect()
    };
    assert_eq!(
        applied(true, true),
        vec!["vip", "welcome"],
        "first purchase of the listed customer"
    );
    assert_eq!(applied(false, true), vec!["vip"], "a returning customer");
    assert!(
        applied(true, false).is_empty(),
        "anonymous receipts are never a first purchase"
    );
}
