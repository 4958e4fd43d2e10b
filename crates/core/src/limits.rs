//! Promotion limits and budgets: how many times and how much a promotion may give,
//! in total, per store, per customer and per customer per day.
//!
//! Usage is counted under keys (`total`, `store:<id>`, `customer:<id>`,
//! `customer:<id>:<local date>`). The store keeps the counters and checks them inside
//! the commit's transaction, so concurrent tills can never exceed a limit; this module
//! only decides, from counters it is given, which promotions would exceed one.

use crate::money::Money;
use crate::pricing::Calculation;
use crate::promotion::Promotion;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Limits of a promotion; absent ones do not limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// The most times the promotion applies within one receipt: complete sets of a
    /// `buy_get`, bundles of a `bundle_price`, sets of an `extra_qty`, units of a
    /// `fixed_price`, copies of a `gift_item`, codes or certificates issued.
    #[serde(default)]
    pub per_receipt: Option<u64>,
    pub per_customer: Option<u64>,
    pub per_customer_per_day: Option<u64>,
    pub total_uses: Option<u64>,
    /// The most money the promotion may give in all, in minor units.
    pub total_discount: Option<Money>,
    pub per_store_uses: Option<u64>,
}

impl Limits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.per_customer.is_some()
            || self.per_customer_per_day.is_some()
            || self.total_uses.is_some()
            || self.total_discount.is_some()
            || self.per_store_uses.is_some()
    }
}

/// Uses and money given so far under one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub uses: i64,
    pub discount: Money,
}

/// One counter a committed receipt moved: released again when it is cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDelta {
    pub promotion_id: String,
    pub key: String,
    pub uses: i64,
    pub discount: Money,
}

/// Where a receipt is counted.
pub struct UsageScope<'a> {
    pub store_id: &'a str,
    pub customer_id: Option<&'a str>,
    /// The receipt's date in its store's zone.
    pub local_date: NaiveDate,
}

/// The keys a promotion counts under for this receipt, each with its limits.
fn keys(
    promotion: &Promotion,
    scope: &UsageScope<'_>,
) -> Vec<(String, Option<u64>, Option<Money>)> {
    let limits = &promotion.limits;
    let mut keys = Vec::new();
    if limits.total_uses.is_some() || limits.total_discount.is_some() {
        keys.push((
            "total".to_string(),
            limits.total_uses,
            limits.total_discount,
        ));
    }
    if limits.per_store_uses.is_some() {
        keys.push((
            format!("store:{}", scope.store_id),
            limits.per_store_uses,
            None,
        ));
    }
    if let Some(customer_id) = scope.customer_id {
        if limits.per_customer.is_some() {
            keys.push((format!("customer:{customer_id}"), limits.per_customer, None));
        }
        if limits.per_customer_per_day.is_some() {
            keys.push((
                format!("customer:{customer_id}:{}", scope.local_date),
                limits.per_customer_per_day,
                None,
            ));
        }
    }
    keys
}

/// The counter keys to read for the limited promotions a calculation applied.
pub fn keys_to_read(
    calc: &Calculation,
    promotions: &[&Promotion],
    scope: &UsageScope<'_>,
) -> Vec<(String, String)> {
    limited_applied(calc, promotions)
        .flat_map(|(promotion, _)| {
            keys(promotion, scope)
                .into_iter()
                .map(move |(key, _, _)| (promotion.promotion_id.clone(), key))
        })
        .collect()
}

fn limited_applied<'p>(
    calc: &'p Calculation,
    promotions: &'p [&'p Promotion],
) -> impl Iterator<Item = (&'p Promotion, Money)> {
    promotions
        .iter()
        .filter(|p| p.limits.any())
        .filter_map(move |promotion| {
            let given: Vec<Money> = calc
                .promotions
                .iter()
                .filter(|a| a.promotion_id == promotion.promotion_id)
                .map(|a| a.discount)
                .collect();
            (!given.is_empty()).then(|| (*promotion, given.iter().sum()))
        })
}

/// The promotions this calculation applied that would exceed a limit given the
/// counters read (`(promotion id, key)` to usage; missing keys are unused).
pub fn exceeded(
    calc: &Calculation,
    promotions: &[&Promotion],
    scope: &UsageScope<'_>,
    usage: &HashMap<(String, String), Usage>,
) -> Vec<String> {
    limited_applied(calc, promotions)
        .filter(|(promotion, discount)| {
            keys(promotion, scope)
                .into_iter()
                .any(|(key, max_uses, max_discount)| {
                    let used = usage
                        .get(&(promotion.promotion_id.clone(), key))
                        .copied()
                        .unwrap_or_default();
                    max_uses.is_some_and(|max| used.uses + 1 > max as i64)
                        || max_discount.is_some_and(|max| used.discount + discount > max)
                })
        })
        .map(|(promotion, _)| promotion.promotion_id.clone())
        .collect()
}

/// The counters a committed calculation moves: one use and its discount under each key
/// of each limited promotion it applied.
pub fn deltas(
    calc: &Calculation,
    promotions: &[&Promotion],
    scope: &UsageScope<'_>,
) -> Vec<UsageDelta> {
    limited_applied(calc, promotions)
        .flat_map(|(promotion, discount)| {
            keys(promotion, scope)
                .into_iter()
                .map(move |(key, _, _)| UsageDelta {
                    promotion_id: promotion.promotion_id.clone(),
                    key,
                    uses: 1,
                    discount,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::{AppliedPromotion, Totals};
    use crate::promotion::{Audience, Conditions, Effect, Percent, Schedule, Scope, Stacking};

    fn promotion(id: &str, limits: Limits) -> Promotion {
        Promotion {
            promotion_id: id.into(),
            name: id.into(),
            enabled: true,
            priority: 0,
            stacking: Stacking::Stackable,
            group: None,
            schedule: Schedule::default(),
            scope: Scope::default(),
            audience: Audience::default(),
            conditions: Conditions::default(),
            effects: vec![Effect::PercentOff {
                percent: Percent(1000),
                items: None,
            }],
            limits,
        }
    }

    fn calc(applied: &[(&str, Money)]) -> Calculation {
        Calculation {
            coupons: Vec::new(),
            lines: Vec::new(),
            totals: Totals::default(),
            points_earned: 0,
            points_redeemed: 0,
            rewards: Vec::new(),
            certificates: Vec::new(),
            promotions: applied
                .iter()
                .map(|(id, d)| AppliedPromotion {
                    promotion_id: id.to_string(),
                    name: String::new(),
                    effect: "percent_off".into(),
                    discount: *d,
                    points: 0,
                })
                .collect(),
            not_applied: Vec::new(),
            customer_id: None,
            balance: None,
            messages: Vec::new(),
            receipt_messages: Vec::new(),
        }
    }

    #[test]
    fn limits_table() {
        let scope = UsageScope {
            store_id: "s1",
            customer_id: Some("c1"),
            local_date: NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default(),
        };
        let uses = |n: i64| Usage {
            uses: n,
            discount: 0,
        };
        let spent = |d: Money| Usage {
            uses: 0,
            discount: d,
        };
        let key = |id: &str, k: &str| (id.to_string(), k.to_string());
        type Counters = Vec<((String, String), Usage)>;
        let cases: Vec<(&str, Limits, Counters, bool)> = vec![
            (
                "under total",
                Limits {
                    total_uses: Some(3),
                    ..Limits::default()
                },
                vec![(key("p", "total"), uses(2))],
                false,
            ),
            (
                "at total",
                Limits {
                    total_uses: Some(3),
                    ..Limits::default()
                },
                vec![(key("p", "total"), uses(3))],
                true,
            ),
            (
                "per store counts its own store",
                Limits {
                    per_store_uses: Some(1),
                    ..Limits::default()
                },
                vec![(key("p", "store:s2"), uses(5))],
                false,
            ),
            (
                "per store reached",
                Limits {
                    per_store_uses: Some(1),
                    ..Limits::default()
                },
                vec![(key("p", "store:s1"), uses(1))],
                true,
            ),
            (
                "per customer",
                Limits {
                    per_customer: Some(1),
                    ..Limits::default()
                },
                vec![(key("p", "customer:c1"), uses(1))],
                true,
            ),
            (
                "per customer per day: another day",
                Limits {
                    per_customer_per_day: Some(1),
                    ..Limits::default()
                },
                vec![(key("p", "customer:c1:2026-03-09"), uses(1))],
                false,
            ),
            (
                "per customer per day: today",
                Limits {
                    per_customer_per_day: Some(1),
                    ..Limits::default()
                },
                vec![(key("p", "customer:c1:2026-03-10"), uses(1))],
                true,
            ),
            (
                "budget fits exactly",
                Limits {
                    total_discount: Some(1000),
                    ..Limits::default()
                },
                vec![(key("p", "total"), spent(500))],
                false,
            ),
            (
                "budget would be exceeded",
                Limits {
                    total_discount: Some(999),
                    ..Limits::default()
                },
                vec![(key("p", "total"), spent(500))],
                true,
            ),
        ];
        for (name, limits, counters, expect_exceeded) in cases {
            let promotion = promotion("p", limits);
            let usage: HashMap<(String, String), Usage> = counters.into_iter().collect();
            let exceeded = exceeded(&calc(&[("p", 500)]), &[&promotion], &scope, &usage);
            assert_eq!(!exceeded.is_empty(), expect_exceeded, "{name}");
        }
    }

    #[test]
    fn deltas_count_one_use_and_the_discount_under_each_key() {
        let scope = UsageScope {
            store_id: "s1",
            customer_id: Some("c1"),
            local_date: NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default(),
        };
        let limited = promotion(
            "p",
            Limits {
                total_discount: Some(10_000),
                per_customer: Some(2),
                ..Limits::default()
            },
        );
        let free = promotion("q", Limits::default());
        let deltas = deltas(
            &calc(&[("p", 300), ("p", 200), ("q", 100)]),
            &[&limited, &free],
            &scope,
        );
        let keys: Vec<(&str, i64, Money)> = deltas
            .iter()
            .map(|d| (d.key.as_str(), d.uses, d.discount))
            .collect();
        assert_eq!(keys, vec![("total", 1, 500), ("customer:c1", 1, 500)]);
    }
}
