//! Conversions between wire types and domain types. Requests become validated domain
//! values (errors name the JSON field at fault); domain results become responses.

use crate::*;
use chrono::{DateTime, FixedOffset, NaiveDateTime, SecondsFormat, Utc};
use chrono::{NaiveTime, Weekday};
use tessera_core::catalog::{validate_id, Product, Store};
use tessera_core::customer::{Card, CardType, Customer};
use tessera_core::decimal::{format_scaled, parse_scaled};
use tessera_core::ledger::{Balance, Entry};
use tessera_core::limits::Limits;
use tessera_core::pricing::{Calculation, PricedLine};
use tessera_core::program::Program;
use tessera_core::promotion::{
    Audience, BundleComponent, Conditions, CouponRule, Effect, ItemCondition, ItemMatch,
    MatrixColumns, MatrixRows, MessageTarget, Percent, Promotion, Schedule, Scope, Stacking,
};
use tessera_core::receipt::{CustomerRef, ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::refund::{ReceiptRecord, ReturnOutcome};
use tessera_core::reward::{CertificatePayment, Issued, RewardKind};
use tessera_core::{CoreError, ErrorCode};

/// Formats an instant as RFC 3339 UTC with seconds.
pub fn time_out(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 date-time with offset.
pub fn parse_at(text: &str, field: &str) -> Result<DateTime<FixedOffset>, CoreError> {
    DateTime::parse_from_rfc3339(text).map_err(|_| {
        CoreError::invalid(
            field,
            "must be an RFC 3339 date-time with offset, such as 2026-03-01T12:30:00+03:00",
        )
    })
}

/// Parses a quantity with at most 3 decimals into thousandths.
pub fn parse_qty(
    number: &serde_json::Number,
    field: impl FnOnce() -> String,
) -> Result<i64, CoreError> {
    // Whole quantities (most lines) skip the text round trip.
    if let Some(whole) = number.as_i64().and_then(|n| n.checked_mul(1000)) {
        return Ok(whole);
    }
    parse_scaled(&number.to_string(), 3).map_err(|e| {
        CoreError::field(
            ErrorCode::InvalidQuantity,
            field(),
            format!("must be a number with at most 3 decimals: {e}"),
        )
    })
}

/// A quantity in thousandths as a JSON number (`532` becomes `0.532`).
pub fn qty_out(qty: i64) -> serde_json::Number {
    if qty % 1000 == 0 {
        return serde_json::Number::from(qty / 1000);
    }
    format_scaled(qty, 3)
        .parse()
        .unwrap_or_else(|_| serde_json::Number::from(0))
}

fn percent_in(number: &serde_json::Number, field: &str) -> Result<Percent, CoreError> {
    parse_scaled(&number.to_string(), 2)
        .map(Percent)
        .map_err(|e| {
            CoreError::invalid(
                field,
                format!("must be a percent with at most 2 decimals: {e}"),
            )
        })
}

fn percent_out(percent: Percent) -> serde_json::Number {
    format_scaled(percent.0, 2)
        .parse()
        .unwrap_or_else(|_| serde_json::Number::from(0))
}

pub fn program_from(body: ProgramBody) -> Result<Program, CoreError> {
    let defaults = Program::default();
    let program = Program {
        currency: body.currency,
        point_value: body.point_value,
        pending_days: body.pending_days.unwrap_or(defaults.pending_days),
        expiry_days: body.expiry_days.unwrap_or(defaults.expiry_days),
        max_redeem_percent: body
            .max_redeem_percent
            .unwrap_or(defaults.max_redeem_percent),
        required_fields: body
            .required_fields
            .into_iter()
            .map(|r| tessera_core::profile::RequiredField {
                field: r.field,
                max_age_days: r.max_age_days,
            })
            .collect(),
        redeem_requires_code: body.redeem_requires_code,
        tiers: body.tiers.map(crate::tier::tier_program_from).transpose()?,
    };
    program.validate()?;
    Ok(program)
}

pub fn program_out(program: &Program) -> ProgramOut {
    ProgramOut {
        currency: program.currency.clone(),
        point_value: program.point_value,
        pending_days: program.pending_days,
        expiry_days: program.expiry_days,
        max_redeem_percent: program.max_redeem_percent,
        required_fields: program
            .required_fields
            .iter()
            .map(|r| crate::config::RequiredFieldBody {
                field: r.field.clone(),
                max_age_days: r.max_age_days,
            })
            .collect(),
        redeem_requires_code: program.redeem_requires_code,
        tiers: program.tiers.as_ref().map(crate::tier::tier_program_out),
    }
}

pub fn store_from(store_id: &str, body: StoreBody) -> Result<Store, CoreError> {
    let store = Store {
        store_id: store_id.to_string(),
        name: body.name,
        timezone: body.timezone,
        region: body.region,
        tags: body.tags,
    };
    store.validate()?;
    Ok(store)
}

pub fn store_out(store: &Store) -> StoreOut {
    StoreOut {
        store_id: store.store_id.clone(),
        name: store.name.clone(),
        timezone: store.timezone.clone(),
        region: store.region.clone(),
        tags: store.tags.clone(),
    }
}

pub fn product_from(sku: &str, body: ProductBody) -> Result<Product, CoreError> {
    let product = Product {
        sku: sku.to_string(),
        name: body.name,
        category: body.category,
        brand: body.brand,
        tags: body.tags,
        no_points_payment: body.no_points_payment,
    };
    product.validate()?;
    Ok(product)
}

pub fn product_out(product: &Product) -> ProductOut {
    ProductOut {
        sku: product.sku.clone(),
        name: product.name.clone(),
        category: product.category.clone(),
        brand: product.brand.clone(),
        tags: product.tags.clone(),
        no_points_payment: product.no_points_payment,
    }
}

pub fn local_time(text: &Option<String>, field: &str) -> Result<Option<NaiveDateTime>, CoreError> {
    let Some(text) = text else { return Ok(None) };
    ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(Some)
        .ok_or_else(|| {
            CoreError::invalid(
                field,
                "must be a store-local date-time such as 2026-03-01T10:00",
            )
        })
}

/// Weekday names on the wire, Monday first.
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekdays_in(names: &[String]) -> Result<Vec<Weekday>, CoreError> {
    names
        .iter()
        .enumerate()
        .map(|(idx, name)| {
            WEEKDAYS
                .iter()
                .position(|w| *w == name.to_ascii_lowercase())
                .and_then(|n| Weekday::try_from(n as u8).ok())
                .ok_or_else(|| {
                    CoreError::invalid(
                        format!("schedule.weekdays[{idx}]"),
                        "must be one of mon, tue, wed, thu, fri, sat, sun",
                    )
                })
        })
        .collect()
}

fn hours_in(ranges: &[[String; 2]]) -> Result<Vec<(NaiveTime, NaiveTime)>, CoreError> {
    let time = |text: &str, field: String| {
        NaiveTime::parse_from_str(text, "%H:%M")
            .map_err(|_| CoreError::invalid(field, "must be a store-local time such as 10:00"))
    };
    ranges
        .iter()
        .enumerate()
        .map(|(idx, [start, end])| {
            let start = time(start, format!("schedule.hours[{idx}][0]"))?;
            let end = time(end, format!("schedule.hours[{idx}][1]"))?;
            if start == end {
                return Err(CoreError::invalid(
                    format!("schedule.hours[{idx}]"),
                    "start and end must differ",
                ));
            }
            Ok((start, end))
        })
        .collect()
}

fn conditions_in(body: ConditionsBody) -> Result<Conditions, CoreError> {
    let mut items = Vec::with_capacity(body.items.len());
    for (idx, condition) in body.items.into_iter().enumerate() {
        let at = format!("conditions.items[{idx}]");
        items.push(ItemCondition {
            items: items_in(Some(condition.items), &format!("{at}.match"))?
                .unwrap_or(ItemMatch::All(Vec::new())),
            min_qty: condition
                .min_qty
                .map(|q| parse_qty(&q, || format!("{at}.min_qty")))
                .transpose()?,
            min_amount: condition.min_amount,
        });
    }
    let coupon = match body.coupon {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(code)) => {
            Some(CouponRule::Code(code.trim().to_ascii_uppercase()))
        }
        Some(serde_json::Value::Object(map)) if map.len() == 1 && map.contains_key("series") => {
            match map.get("series") {
                Some(serde_json::Value::String(series)) => {
                    validate_id("conditions.coupon.series", series)?;
                    Some(CouponRule::Series(series.clone()))
                }
                _ => {
                    return Err(CoreError::invalid(
                        "conditions.coupon.series",
                        "must be the id of a coupon series",
                    ))
                }
            }
        }
        Some(_) => {
            return Err(CoreError::invalid(
                "conditions.coupon",
                "must be a public code such as \"SPRING10\" or {\"series\": \"<id>\"}",
            ))
        }
    };
    Ok(Conditions {
        min_amount: body.min_amount,
        items,
        coupon,
    })
}

fn items_in(items: Option<serde_json::Value>, field: &str) -> Result<Option<ItemMatch>, CoreError> {
    items
        .map(|value| {
            serde_json::from_value::<ItemMatch>(value).map_err(|e| {
                CoreError::invalid(
                    field,
                    format!("must be an item match such as {{\"category\": [\"shoes\"]}}: {e}"),
                )
            })
        })
        .transpose()
}

pub fn promotion_from(promotion_id: &str, body: PromotionBody) -> Result<Promotion, CoreError> {
    let schedule = body.schedule.unwrap_or_default();
    let mut effects = Vec::with_capacity(body.effects.len());
    for (idx, effect) in body.effects.into_iter().enumerate() {
        let at = format!("effects[{idx}]");
        effects.push(match effect {
            EffectBody::PercentOff { percent, items } => Effect::PercentOff {
                percent: percent_in(&percent, &format!("{at}.percent"))?,
                items: items_in(items, &format!("{at}.items"))?,
            },
            EffectBody::AmountOff { amount, items } => Effect::AmountOff {
                amount,
                items: items_in(items, &format!("{at}.items"))?,
            },
            EffectBody::FixedPrice { price, items } => Effect::FixedPrice {
                price,
                items: items_in(Some(items), &format!("{at}.items"))?,
            },
            EffectBody::BuyGet {
                buy,
                get,
                percent,
                items,
            } => Effect::BuyGet {
                buy,
                get,
                percent: match percent {
                    Some(percent) => percent_in(&percent, &format!("{at}.percent"))?,
                    None => Percent(Percent::WHOLE),
                },
                items: items_in(Some(items), &format!("{at}.items"))?,
            },
            EffectBody::EarnPoints {
                percent,
                per_amount,
                points,
                items,
            } => {
                let items = items_in(items, &format!("{at}.items"))?;
                match (percent, per_amount, points) {
                    (Some(percent), None, None) => Effect::EarnPoints {
                        percent: percent_in(&percent, &format!("{at}.percent"))?,
                        items,
                    },
                    (None, Some(per_amount), Some(points)) => Effect::EarnPerAmount {
                        per_amount,
                        points,
                        items,
                    },
                    _ => {
                        return Err(CoreError::invalid(
                            at,
                            "earn_points takes either percent, or per_amount and points",
                        ))
                    }
                }
            }
            EffectBody::EarnMultiplier { factor } => Effect::EarnMultiplier {
                factor: parse_scaled(&factor.to_string(), 2).map_err(|e| {
                    CoreError::invalid(
                        format!("{at}.factor"),
                        format!("must be a number with at most 2 decimals: {e}"),
                    )
                })?,
            },
            EffectBody::DiscountMatrix {
                rows,
                columns,
                percent,
            } => {
                let mut table = std::collections::BTreeMap::new();
                for (row, cols) in percent {
                    let mut parsed = std::collections::BTreeMap::new();
                    for (col, p) in cols {
                        parsed.insert(
                            col.clone(),
                            percent_in(&p, &format!("{at}.percent.{row}.{col}"))?,
                        );
                    }
                    table.insert(row, parsed);
                }
                Effect::DiscountMatrix {
                    rows: match rows {
                        MatrixRowsBody::Store => MatrixRows::Store,
                        MatrixRowsBody::Region => MatrixRows::Region,
                        MatrixRowsBody::StoreTag => MatrixRows::StoreTag,
                        MatrixRowsBody::Tier => MatrixRows::Tier,
                    },
                    columns: match columns {
                        MatrixColumnsBody::Category => MatrixColumns::Category,
                        MatrixColumnsBody::Brand => MatrixColumns::Brand,
                    },
                    percent: table,
                }
            }
            EffectBody::BundlePrice { bundle, price } => {
                let mut components = Vec::with_capacity(bundle.len());
                for (c, component) in bundle.into_iter().enumerate() {
                    components.push(BundleComponent {
                        items: items_in(Some(component.items), &format!("{at}.bundle[{c}].items"))?
                            .unwrap_or(ItemMatch::All(Vec::new())),
                        qty: component.qty,
                    });
                }
                Effect::BundlePrice {
                    bundle: components,
                    price,
                }
            }
            EffectBody::GiftItem { sku, qty } => Effect::GiftItem {
                sku,
                qty: match qty {
                    Some(qty) => parse_qty(&qty, || format!("{at}.qty"))?,
                    None => tessera_core::receipt::QTY_SCALE,
                },
            },
            EffectBody::ExtraQty { items, per, extra } => Effect::ExtraQty {
                items: items_in(items, &format!("{at}.items"))?,
                per,
                extra,
            },
            EffectBody::Message { to, text } => Effect::Message {
                to: match to {
                    MessageTo::Cashier => MessageTarget::Cashier,
                    MessageTo::Receipt => MessageTarget::Receipt,
                },
                text,
            },
            EffectBody::BonusPoints {
                points,
                expires_in_days,
            } => Effect::BonusPoints {
                points,
                expires_in_days,
            },
            EffectBody::IssueCoupon { series, valid_days } => {
                Effect::IssueCoupon { series, valid_days }
            }
            EffectBody::IssueCertificate { amount, valid_days } => {
                Effect::IssueCertificate { amount, valid_days }
            }
            EffectBody::SetTier { tier, days } => Effect::SetTier { tier, days },
            EffectBody::Grant { entitlement } => Effect::Grant { entitlement },
        });
    }
    let promotion = Promotion {
        promotion_id: promotion_id.to_string(),
        name: body.name,
        enabled: body.enabled.unwrap_or(true),
        priority: body.priority.unwrap_or(0),
        group: body.group,
        stacking: match body.stacking.unwrap_or(StackingBody::Stackable) {
            StackingBody::Stackable => Stacking::Stackable,
            StackingBody::Blocking => Stacking::Blocking,
            StackingBody::Exclusive => Stacking::Exclusive,
        },
        schedule: Schedule {
            from: local_time(&schedule.from, "schedule.from")?,
            to: local_time(&schedule.to, "schedule.to")?,
            weekdays: weekdays_in(&schedule.weekdays)?,
            hours: hours_in(&schedule.hours)?,
        },
        scope: body
            .scope
            .map(|s| Scope {
                stores: s.stores,
                regions: s.regions,
                store_tags: s.store_tags,
            })
            .unwrap_or_default(),
        audience: body
            .audience
            .map(|a| Audience {
                members_only: a.members_only,
                customer_ids: a.customer_ids,
                first_purchase: a.first_purchase,
                tiers: a.tiers,
                segments: a.segments,
                card_types: a
                    .card_types
                    .into_iter()
                    .map(CardTypeBody::to_core)
                    .collect(),
                profile_completed: a.profile_completed,
            })
            .unwrap_or_default(),
        conditions: conditions_in(body.conditions.unwrap_or_default())?,
        effects,
        limits: body
            .limits
            .map(|l| Limits {
                per_receipt: l.per_receipt,
                per_customer: l.per_customer,
                per_customer_per_day: l.per_customer_per_day,
                total_uses: l.total_uses,
                total_discount: l.total_discount,
                per_store_uses: l.per_store_uses,
            })
            .unwrap_or_default(),
    };
    promotion.validate()?;
    Ok(promotion)
}

fn items_out(items: &Option<ItemMatch>) -> Option<serde_json::Value> {
    items.as_ref().and_then(|m| serde_json::to_value(m).ok())
}

pub fn promotion_out(
    promotion: &Promotion,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
) -> PromotionOut {
    let local = |t: Option<NaiveDateTime>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string());
    PromotionOut {
        promotion_id: promotion.promotion_id.clone(),
        name: promotion.name.clone(),
        enabled: promotion.enabled,
        priority: promotion.priority,
        group: promotion.group.clone(),
        stacking: match promotion.stacking {
            Stacking::Stackable => StackingBody::Stackable,
            Stacking::Blocking => StackingBody::Blocking,
            Stacking::Exclusive => StackingBody::Exclusive,
        },
        schedule: ScheduleBody {
            from: local(promotion.schedule.from),
            to: local(promotion.schedule.to),
            weekdays: promotion
                .schedule
                .weekdays
                .iter()
                .map(|d| WEEKDAYS[d.num_days_from_monday() as usize].to_string())
                .collect(),
            hours: promotion
                .schedule
                .hours
                .iter()
                .map(|(start, end)| {
                    [
                        start.format("%H:%M").to_string(),
                        end.format("%H:%M").to_string(),
                    ]
                })
                .collect(),
        },
        scope: ScopeBody {
            stores: promotion.scope.stores.clone(),
            regions: promotion.scope.regions.clone(),
            store_tags: promotion.scope.store_tags.clone(),
        },
        audience: AudienceBody {
            members_only: promotion.audience.members_only,
            customer_ids: promotion.audience.customer_ids.clone(),
            first_purchase: promotion.audience.first_purchase,
            tiers: promotion.audience.tiers.clone(),
            segments: promotion.audience.segments.clone(),
            card_types: promotion
                .audience
                .card_types
                .iter()
                .map(|t| CardTypeBody::of(*t))
                .collect(),
            profile_completed: promotion.audience.profile_completed,
        },
        conditions: ConditionsBody {
            min_amount: promotion.conditions.min_amount,
            coupon: promotion.conditions.coupon.as_ref().map(|rule| match rule {
                CouponRule::Code(code) => serde_json::Value::String(code.clone()),
                CouponRule::Series(series) => serde_json::json!({ "series": series }),
            }),
            items: promotion
                .conditions
                .items
                .iter()
                .map(|c| ItemConditionBody {
                    items: serde_json::to_value(&c.items).unwrap_or_default(),
                    min_qty: c.min_qty.map(qty_out),
                    min_amount: c.min_amount,
                })
                .collect(),
        },
        effects: promotion
            .effects
            .iter()
            .map(|effect| match effect {
                Effect::PercentOff { percent, items } => EffectBody::PercentOff {
                    percent: percent_out(*percent),
                    items: items_out(items),
                },
                Effect::AmountOff { amount, items } => EffectBody::AmountOff {
                    amount: *amount,
                    items: items_out(items),
                },
                Effect::EarnPoints { percent, items } => EffectBody::EarnPoints {
                    percent: Some(percent_out(*percent)),
                    per_amount: None,
                    points: None,
                    items: items_out(items),
                },
                Effect::EarnPerAmount {
                    per_amount,
                    points,
                    items,
                } => EffectBody::EarnPoints {
                    percent: None,
                    per_amount: Some(*per_amount),
                    points: Some(*points),
                    items: items_out(items),
                },
                Effect::FixedPrice { price, items } => EffectBody::FixedPrice {
                    price: *price,
                    items: items_out(items).unwrap_or_default(),
                },
                Effect::BuyGet {
                    buy,
                    get,
                    percent,
                    items,
                } => EffectBody::BuyGet {
                    buy: *buy,
                    get: *get,
                    percent: Some(percent_out(*percent)),
                    items: items_out(items).unwrap_or_default(),
                },
                Effect::EarnMultiplier { factor } => EffectBody::EarnMultiplier {
                    factor: format_scaled(*factor, 2)
                        .parse()
                        .unwrap_or_else(|_| serde_json::Number::from(1)),
                },
                Effect::DiscountMatrix {
                    rows,
                    columns,
                    percent,
                } => EffectBody::DiscountMatrix {
                    rows: match rows {
                        MatrixRows::Store => MatrixRowsBody::Store,
                        MatrixRows::Region => MatrixRowsBody::Region,
                        MatrixRows::StoreTag => MatrixRowsBody::StoreTag,
                        MatrixRows::Tier => MatrixRowsBody::Tier,
                    },
                    columns: match columns {
                        MatrixColumns::Category => MatrixColumnsBody::Category,
                        MatrixColumns::Brand => MatrixColumnsBody::Brand,
                    },
                    percent: percent
                        .iter()
                        .map(|(row, cols)| {
                            (
                                row.clone(),
                                cols.iter()
                                    .map(|(c, p)| (c.clone(), percent_out(*p)))
                                    .collect(),
                            )
                        })
                        .collect(),
                },
                Effect::BundlePrice { bundle, price } => EffectBody::BundlePrice {
                    bundle: bundle
                        .iter()
                        .map(|c| BundleComponentBody {
                            items: serde_json::to_value(&c.items).unwrap_or_default(),
                            qty: c.qty,
                        })
                        .collect(),
                    price: *price,
                },
                Effect::GiftItem { sku, qty } => EffectBody::GiftItem {
                    sku: sku.clone(),
                    qty: Some(qty_out(*qty)),
                },
                Effect::ExtraQty { items, per, extra } => EffectBody::ExtraQty {
                    items: items_out(items),
                    per: *per,
                    extra: *extra,
                },
                Effect::Message { to, text } => EffectBody::Message {
                    to: match to {
                        MessageTarget::Cashier => MessageTo::Cashier,
                        MessageTarget::Receipt => MessageTo::Receipt,
                    },
                    text: text.clone(),
                },
                Effect::BonusPoints {
                    points,
                    expires_in_days,
                } => EffectBody::BonusPoints {
                    points: *points,
                    expires_in_days: *expires_in_days,
                },
                Effect::IssueCoupon { series, valid_days } => EffectBody::IssueCoupon {
                    series: series.clone(),
                    valid_days: *valid_days,
                },
                Effect::IssueCertificate { amount, valid_days } => EffectBody::IssueCertificate {
                    amount: *amount,
                    valid_days: *valid_days,
                },
                Effect::SetTier { tier, days } => EffectBody::SetTier {
                    tier: tier.clone(),
                    days: *days,
                },
                Effect::Grant { entitlement } => EffectBody::Grant {
                    entitlement: entitlement.clone(),
                },
            })
            .collect(),
        limits: LimitsBody {
            per_receipt: promotion.limits.per_receipt,
            per_customer: promotion.limits.per_customer,
            per_customer_per_day: promotion.limits.per_customer_per_day,
            total_uses: promotion.limits.total_uses,
            total_discount: promotion.limits.total_discount,
            per_store_uses: promotion.limits.per_store_uses,
        },
        updated_at: time_out(updated_at),
        deleted_at: deleted_at.map(time_out),
    }
}

/// A card of a request: a number (plastic) or `{"number", "type"}`.
fn card_in(value: &serde_json::Value, field: &str) -> Result<Card, CoreError> {
    let bad = || {
        CoreError::invalid(
            field,
            "must be a card number or {\"number\": \"...\", \"type\": \"plastic|virtual|family|social\"}",
        )
    };
    match value {
        serde_json::Value::String(number) => Ok(Card::from(number.as_str())),
        serde_json::Value::Object(map) => {
            if let Some(key) = map.keys().find(|k| *k != "number" && *k != "type") {
                return Err(CoreError::field(
                    ErrorCode::UnknownField,
                    format!("{field}.{key}"),
                    "unknown field",
                ));
            }
            let number = map.get("number").and_then(|n| n.as_str()).ok_or_else(bad)?;
            let card_type = match map.get("type") {
                None => CardType::Plastic,
                Some(t) => t.as_str().and_then(CardType::parse).ok_or_else(|| {
                    CoreError::invalid(
                        format!("{field}.type"),
                        "must be plastic, virtual, family or social",
                    )
                })?,
            };
            Ok(Card {
                number: number.to_string(),
                card_type,
            })
        }
        _ => Err(bad()),
    }
}

pub fn customer_from(
    body: CustomerBody,
    customer_id: String,
    now: DateTime<Utc>,
) -> Result<Customer, CoreError> {
    let mut cards = Vec::with_capacity(body.cards.len());
    for (idx, card) in body.cards.iter().enumerate() {
        cards.push(card_in(card, &format!("cards[{idx}]"))?);
    }
    let mut customer = Customer {
        customer_id,
        name: body.name,
        phone: body.phone,
        email: body.email,
        cards,
        created_at: now,
    };
    customer.normalize()?;
    Ok(customer)
}

pub fn balance_out(customer_id: &str, at: DateTime<Utc>, balance: &Balance) -> BalanceOut {
    BalanceOut {
        customer_id: customer_id.to_string(),
        at: time_out(at),
        available: balance.available,
        pending: balance.pending,
        expiring: balance
            .expiring
            .iter()
            .map(|(at, points)| Expiring {
                points: *points,
                at: time_out(*at),
            })
            .collect(),
    }
}

pub fn entry_out(entry_id: i64, entry: &Entry) -> EntryOut {
    EntryOut {
        entry_id,
        kind: entry.kind.as_str().to_string(),
        debit: entry.debit.as_str().to_string(),
        credit: entry.credit.as_str().to_string(),
        amount: entry.amount,
        lot_id: entry.lot_id.clone(),
        receipt_id: entry.receipt_id.clone(),
        op_id: entry.op_id.clone(),
        at: time_out(entry.at),
    }
}

/// The customer a body names: exactly one of card, phone, customer id (not yet
/// normalised).
pub fn customer_ref_from(body: Option<CustomerRefBody>) -> Result<Option<CustomerRef>, CoreError> {
    Ok(match body {
        None => None,
        Some(CustomerRefBody {
            card: Some(card),
            phone: None,
            customer_id: None,
            ..
        }) => Some(CustomerRef::Card(card)),
        Some(CustomerRefBody {
            card: None,
            phone: Some(phone),
            customer_id: None,
            ..
        }) => Some(CustomerRef::Phone(phone)),
        Some(CustomerRefBody {
            card: None,
            phone: None,
            customer_id: Some(id),
            ..
        }) => Some(CustomerRef::CustomerId(id)),
        Some(_) => {
            return Err(CoreError::invalid(
                "customer",
                "must hold exactly one of card, phone, customer_id",
            ))
        }
    })
}

/// A receipt body as a validated domain receipt and the till's expected to-pay amount.
pub fn receipt_from(body: ReceiptBody) -> Result<(ReceiptRequest, Option<i64>), CoreError> {
    let customer = customer_ref_from(body.customer)?;
    let redeem = match body.redeem_points {
        None | Some(serde_json::Value::Null) => Redeem::None,
        Some(serde_json::Value::String(word)) if word == "max" => Redeem::Max,
        Some(serde_json::Value::Number(n)) if n.as_i64().is_some() => {
            Redeem::Points(n.as_i64().unwrap_or(0))
        }
        Some(_) => {
            return Err(CoreError::invalid(
                "redeem_points",
                "must be 0, a positive number of points or \"max\"",
            ))
        }
    };
    let mut lines = Vec::with_capacity(body.lines.len());
    for (idx, line) in body.lines.into_iter().enumerate() {
        lines.push(ReceiptLine {
            line: line.line,
            sku: line.sku,
            qty: parse_qty(&line.qty, || format!("lines[{idx}].qty"))?,
            price: line.price,
        });
    }
    let mut request = ReceiptRequest {
        coupons: body.coupons,
        certificates: body
            .certificates
            .into_iter()
            .map(|c| CertificatePayment {
                code: c.code,
                amount: c.amount,
            })
            .collect(),
        receipt_id: body.receipt_id,
        store_id: body.store_id,
        terminal_id: body.terminal_id,
        at: parse_at(&body.at, "at")?,
        customer,
        lines,
        redeem,
    };
    request.validate()?;
    Ok((request, body.expect.map(|e| e.to_pay)))
}

fn line_out(line: &PricedLine) -> LineOut {
    LineOut {
        line: line.line,
        sku: line.sku.clone(),
        qty: qty_out(line.qty),
        price: line.price,
        amount: line.amount,
        discount: line.discount,
        points_paid: line.points_paid,
        points_redeemed: line.points_redeemed,
        certificate_paid: line.certificate_paid,
        total: line.total,
        points_earned: line.points_earned,
        promotions: line.promotions.clone(),
        added_by: line.added_by.clone(),
    }
}

fn totals_out(calc: &Calculation) -> TotalsOut {
    TotalsOut {
        amount: calc.totals.amount,
        discount: calc.totals.discount,
        points_value: calc.totals.points_value,
        certificates: calc.totals.certificates,
        to_pay: calc.totals.to_pay,
    }
}

/// What the receipt gives besides discounts; `issued` (once committed) holds the codes.
pub fn rewards_out(calc: &Calculation, issued: Option<&Issued>) -> RewardsOut {
    let mut coupons = issued.map(|i| i.coupons.iter());
    let mut certificates = issued.map(|i| i.certificates.iter());
    let mut out = RewardsOut {
        points_earned: calc.points_earned,
        points_redeemed: calc.points_redeemed,
        points_value: calc.totals.points_value,
        bonus_points: calc.bonus_points(),
        coupons_issued: Vec::new(),
        certificates_issued: Vec::new(),
        tier: None,
        entitlements: Vec::new(),
    };
    for reward in &calc.rewards {
        let promotion_id = reward.promotion_id.clone();
        match &reward.kind {
            RewardKind::BonusPoints { .. } => {}
            RewardKind::Coupon { series, valid_days } => {
                let made = coupons.as_mut().and_then(Iterator::next);
                out.coupons_issued.push(CouponIssuedOut {
                    promotion_id,
                    series: series.clone(),
                    code: made.map(|c| c.code.clone()),
                    valid_days: *valid_days,
                    valid_until: made.and_then(|c| c.valid_until).map(time_out),
                });
            }
            RewardKind::Certificate { amount, valid_days } => {
                let made = certificates.as_mut().and_then(Iterator::next);
                out.certificates_issued.push(CertificateIssuedOut {
                    promotion_id,
                    code: made.map(|c| c.code.clone()),
                    amount: *amount,
                    valid_days: *valid_days,
                    valid_until: made.and_then(|c| c.valid_until).map(time_out),
                });
            }
            RewardKind::Tier { tier, days } => {
                out.tier = Some(TierOut {
                    promotion_id,
                    tier: tier.clone(),
                    days: *days,
                });
            }
            RewardKind::Entitlement { entitlement } => out.entitlements.push(EntitlementOut {
                promotion_id,
                entitlement: entitlement.clone(),
            }),
        }
    }
    out
}

/// The calculate (`version: None`) or commit (`version: Some(1)`) response.
pub fn calculation_out(
    receipt_id: &str,
    calc: &Calculation,
    version: Option<u32>,
    new_member: bool,
    issued: Option<&Issued>,
) -> CalculationOut {
    let mut out = calculation_out_but_not_applied(receipt_id, calc, version, new_member, issued);
    out.not_applied = not_applied_out(&calc.not_applied);
    out
}

/// The candidates that did not apply, as the response lists them.
pub fn not_applied_out(not_applied: &[tessera_core::pricing::NotApplied]) -> Vec<NotAppliedOut> {
    not_applied
        .iter()
        .map(|n| NotAppliedOut {
            promotion_id: n.promotion_id.clone(),
            reason: n.reason.as_str().to_string(),
            by: n.by.clone(),
        })
        .collect()
}

/// [`calculation_out`] with `not_applied` left empty: a renderer that writes it from
/// the calculation ([`NotAppliedRef`]) spares copying every candidate's strings.
pub fn calculation_out_but_not_applied(
    receipt_id: &str,
    calc: &Calculation,
    version: Option<u32>,
    new_member: bool,
    issued: Option<&Issued>,
) -> CalculationOut {
    CalculationOut {
        receipt_id: receipt_id.to_string(),
        status: if version.is_some() {
            "committed"
        } else {
            "calculated"
        }
        .to_string(),
        version,
        customer_id: calc.customer_id.clone(),
        new_member,
        lines: calc.lines.iter().map(line_out).collect(),
        totals: totals_out(calc),
        rewards: rewards_out(calc, issued),
        profile_requests: Vec::new(),
        cross_sell: Vec::new(),
        not_applied: Vec::new(),
        promotions: calc
            .promotions
            .iter()
            .map(|p| AppliedPromotionOut {
                promotion_id: p.promotion_id.clone(),
                name: p.name.clone(),
                effect: p.effect.clone(),
                discount: p.discount,
                points: p.points,
            })
            .collect(),
        balance: calc.balance.map(|b| BalanceAfterOut {
            available: b.available,
            pending: b.pending,
        }),
        messages: calc.messages.clone(),
        receipt_messages: calc.receipt_messages.clone(),
        coupons: calc
            .coupons
            .iter()
            .map(|c| CouponOut {
                code: c.code.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
            })
            .collect(),
    }
}

/// The return or cancel response.
pub fn return_out(
    record: &ReceiptRecord,
    return_id: Option<&str>,
    outcome: &ReturnOutcome,
    balance: Option<&Balance>,
) -> ReturnOut {
    ReturnOut {
        receipt_id: record.receipt_id.clone(),
        return_id: return_id.map(str::to_string),
        version: record.version,
        status: record.status.as_str().to_string(),
        lines: outcome
            .lines
            .iter()
            .map(|l| ReturnedLineOut {
                line: l.line,
                qty: qty_out(l.qty),
                refund_money: l.refund_money,
                discount: l.discount,
                points_refunded: l.points_refunded,
                points_reversed: l.points_reversed,
                certificate_refund: l.certificate_refund,
            })
            .collect(),
        refund_money: outcome.refund_money,
        points_refunded: outcome.points_refunded,
        points_reversed: outcome.points_reversed,
        certificate_refund: outcome.certificate_refund,
        balance: balance.map(|b| BalanceAfterOut {
            available: b.available,
            pending: b.pending,
        }),
    }
}

/// A receipt with its versions; `versions` are `(version, kind, op_id, at, terminal, recorded_at, response)`.
pub fn receipt_out(record: &ReceiptRecord, versions: Vec<VersionOut>) -> ReceiptOut {
    let calc = &record.calculation;
    ReceiptOut {
        receipt_id: record.receipt_id.clone(),
        store_id: record.store_id.clone(),
        terminal_id: record.terminal_id.clone(),
        at: record.at.to_rfc3339(),
        customer_id: record.customer_id.clone(),
        status: record.status.as_str().to_string(),
        version: record.version,
        lines: calc
            .lines
            .iter()
            .zip(&record.returned_qty)
            .map(|(line, returned)| ReceiptLineOut {
                line: line_out(line),
                returned_qty: qty_out(*returned),
            })
            .collect(),
        totals: totals_out(calc),
        points_earned: calc.points_earned,
        points_redeemed: calc.points_redeemed,
        rewards: rewards_out(calc, Some(&record.issued)),
        versions,
    }
}
