//! Promotions: when they run, what they require and what they do to a receipt.
//!
//! The rule language grows here: schedule (window, weekdays, hours), scope (stores,
//! regions, store tags), audience, conditions, stacking mode and effects
//! (`percent_off`, `amount_off`, `earn_points`). Later mechanics add fields and
//! variants rather than change these; every added field has a serde default so that
//! promotions stored earlier still read.

use crate::catalog::{validate_id, validate_name, Product, Store};
use crate::error::CoreError;
use crate::money::{Money, Points};
use crate::value_set::ValueSet;
use chrono::{Datelike, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

/// A promotion as configured by the marketer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    pub promotion_id: String,
    pub name: String,
    pub enabled: bool,
    /// Higher is evaluated first; ties by id ascending.
    pub priority: i32,
    /// How it combines with the other promotions of a receipt.
    #[serde(default)]
    pub stacking: Stacking,
    /// Among the candidates of one group only the best for the customer applies.
    #[serde(default)]
    pub group: Option<String>,
    pub schedule: Schedule,
    /// Which stores it runs in.
    #[serde(default)]
    pub scope: Scope,
    /// Which customers it is for.
    #[serde(default)]
    pub audience: Audience,
    pub conditions: Conditions,
    pub effects: Vec<Effect>,
    /// How many times and how much it may give; enforced at commit.
    #[serde(default)]
    pub limits: crate::limits::Limits,
}

/// How a promotion combines with the others, walked by priority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stacking {
    /// Applies, and the walk goes on.
    #[default]
    Stackable,
    /// Applies, and no lower-priority promotion applies after it.
    Blocking,
    /// Applies only if nothing applied before it, and then nothing else applies.
    Exclusive,
}

/// The stores a promotion runs in; empty lists mean no restriction, and a store must
/// pass every non-empty list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    #[serde(default)]
    pub stores: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub store_tags: Vec<String>,
}

impl Scope {
    /// Whether the promotion runs in this store.
    pub fn includes(&self, store: &Store) -> bool {
        (self.stores.is_empty() || self.stores.contains(&store.store_id))
            && (self.regions.is_empty()
                || store
                    .region
                    .as_ref()
                    .is_some_and(|r| self.regions.contains(r)))
            && (self.store_tags.is_empty()
                || store.tags.iter().any(|t| self.store_tags.contains(t)))
    }
}

/// Which customers a promotion is for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    /// Only receipts of identified members.
    #[serde(default)]
    pub members_only: bool,
    /// Only these customers.
    #[serde(default)]
    pub customer_ids: Vec<String>,
    /// Only a customer's first purchase (no committed receipt before).
    #[serde(default)]
    pub first_purchase: bool,
    /// Only customers whose tier is one of these.
    #[serde(default)]
    pub tiers: Vec<String>,
    /// Only members of one of these segments.
    #[serde(default)]
    pub segments: Vec<String>,
    /// Only receipts presenting a card of one of these types (with another
    /// identifier: a customer holding one).
    #[serde(default)]
    pub card_types: Vec<crate::customer::CardType>,
    /// Only customers who filled in every field the program requires
    /// (`required_fields`): with a per-customer limit of one use, a reward for the
    /// completed questionnaire.
    #[serde(default)]
    pub profile_completed: bool,
}

impl Audience {
    /// Whether a receipt of this customer (`None`: anonymous) is for the promotion.
    pub fn includes(&self, customer: Option<&crate::pricing::CustomerView>) -> bool {
        let member = customer.is_some();
        let customer_id = customer.map(|c| c.customer_id.as_str());
        let first_purchase = customer.is_some_and(|c| c.first_purchase || c.new_card.is_some());
        let tier = customer.and_then(|c| c.tier.as_deref());
        (!self.members_only || member)
            && (self.customer_ids.is_empty()
                || customer_id.is_some_and(|id| self.customer_ids.iter().any(|c| c == id)))
            && (!self.first_purchase || (member && first_purchase))
            && (self.tiers.is_empty() || tier.is_some_and(|t| self.tiers.iter().any(|x| x == t)))
            && (self.segments.is_empty()
                || customer.is_some_and(|c| c.segments.iter().any(|s| self.segments.contains(s))))
            && (self.card_types.is_empty()
                || customer
                    .is_some_and(|c| c.card_types.iter().any(|t| self.card_types.contains(t))))
            && (!self.profile_completed || customer.is_some_and(|c| c.profile_complete))
    }
}

/// When a promotion runs, in each store's own local time. Absent bounds are open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Days of the week it runs on; empty means every day.
    #[serde(default)]
    pub weekdays: Vec<Weekday>,
    /// Store-local time ranges `[start, end)` it runs in; empty means all day. A range
    /// whose end is not after its start runs past midnight (`22:00`–`02:00`).
    #[serde(default)]
    pub hours: Vec<(NaiveTime, NaiveTime)>,
}

impl Schedule {
    /// Whether a store-local date-time falls in the window. `from` is inclusive; `to`
    /// is inclusive to the end of the minute it names when it has no seconds (a window
    /// "to 23:59" includes 23:59:30), and to the second otherwise.
    pub fn contains(&self, local: NaiveDateTime) -> bool {
        let before_end = |to: NaiveDateTime| {
            if to.second() == 0 {
                local < to + chrono::Duration::minutes(1)
            } else {
                local <= to
            }
        };
        let time = local.time();
        let in_hours = |(start, end): &(NaiveTime, NaiveTime)| {
            if start < end {
                *start <= time && time < *end
            } else {
                time >= *start || time < *end
            }
        };
        self.from.is_none_or(|from| local >= from)
            && self.to.is_none_or(before_end)
            && (self.weekdays.is_empty() || self.weekdays.contains(&local.weekday()))
            && (self.hours.is_empty() || self.hours.iter().any(in_hours))
    }
}

/// What a receipt must satisfy for the promotion to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conditions {
    /// The receipt's amount before discounts must be at least this.
    pub min_amount: Option<Money>,
    /// Each must hold: the matching lines reach the quantity and amount.
    #[serde(default)]
    pub items: Vec<ItemCondition>,
    /// The receipt must carry this coupon.
    #[serde(default)]
    pub coupon: Option<CouponRule>,
}

/// Which coupon unlocks a promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponRule {
    /// A public, multi-use code such as `SPRING10` (upper-case).
    Code(String),
    /// Any valid code of this coupon series.
    Series(String),
}

/// A condition on some lines of the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCondition {
    pub items: ItemMatch,
    /// Quantity of the matching lines, in thousandths, at least this.
    pub min_qty: Option<i64>,
    /// Amount of the matching lines before discounts, at least this.
    pub min_amount: Option<Money>,
}

impl ItemCondition {
    /// Whether the lines (`(sku, product, qty, amount)`) satisfy it.
    pub fn holds<'a>(
        &self,
        lines: impl Iterator<Item = (&'a str, Option<&'a Product>, i64, Money)>,
    ) -> bool {
        let (qty, amount) = lines
            .filter(|(sku, product, _, _)| self.items.matches(sku, *product))
            .fold((0i64, 0i64), |(q, a), (_, _, qty, amount)| {
                (q + qty, a + amount)
            });
        self.min_qty.is_none_or(|min| qty >= min) && self.min_amount.is_none_or(|min| amount >= min)
    }
}

/// What an applicable promotion does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// A percentage off the matching lines' current net amount.
    PercentOff {
        percent: Percent,
        items: Option<ItemMatch>,
    },
    /// An amount off the matching lines, spread over them in proportion to their
    /// current net amounts and never more than they cost.
    AmountOff {
        amount: Money,
        items: Option<ItemMatch>,
    },
    /// Each matching unit costs `price` (less than it cost before; never more).
    FixedPrice {
        price: Money,
        items: Option<ItemMatch>,
    },
    /// For every complete set of `buy + get` matching whole units, `get` units get
    /// `percent` off: the cheapest ones, with the discount spread over the cheapest
    /// units of the complete sets.
    BuyGet {
        buy: u32,
        get: u32,
        percent: Percent,
        items: Option<ItemMatch>,
    },
    /// Each complete bundle (`qty` whole units of each component) costs `price`.
    BundlePrice {
        bundle: Vec<BundleComponent>,
        price: Money,
    },
    /// Points worth a percentage of the money paid for the matching lines, rounded down.
    EarnPoints {
        percent: Percent,
        items: Option<ItemMatch>,
    },
    /// `points` for every whole `per_amount` paid for the matching lines.
    EarnPerAmount {
        per_amount: Money,
        points: Points,
        items: Option<ItemMatch>,
    },
    /// Multiplies what the receipt's earning effects give, in hundredths (`200` doubles).
    EarnMultiplier { factor: i64 },
    /// A message for the cashier's screen or for the printed receipt.
    Message { to: MessageTarget, text: String },
    /// Adds a line of `qty` (thousandths) of `sku` at price 0.
    GiftItem { sku: String, qty: i64 },
    /// For every `per` whole units of a matching line, `extra` more units at price 0,
    /// as a line added after it (10 nappies bought, 11 handed over).
    ExtraQty {
        items: Option<ItemMatch>,
        per: u32,
        extra: u32,
    },
    /// Gift points on top of what the receipt earns, in a lot of their own that expires
    /// `expires_in_days` after it becomes available (absent: the program's expiry).
    BonusPoints {
        points: Points,
        expires_in_days: Option<u32>,
    },
    /// A new single-use code of a coupon series, made at commit: a deferred discount.
    /// It expires `valid_days` after the commit (absent: the series' own window).
    IssueCoupon {
        series: String,
        valid_days: Option<u32>,
    },
    /// A gift certificate worth `amount`, made at commit; it pays for later receipts.
    IssueCertificate {
        amount: Money,
        valid_days: Option<u32>,
    },
    /// Gives the customer `tier` for `days` (absent: until another tier is set).
    SetTier { tier: String, days: Option<u32> },
    /// A right of participation, such as an entry in a prize draw.
    Grant { entitlement: String },
    /// A table of discounts: a percent per row (the store, its region, one of its tags,
    /// or the customer's tier) and column (the product's category or brand). A line
    /// gets the best percent of the rows that fit.
    DiscountMatrix {
        rows: MatrixRows,
        columns: MatrixColumns,
        percent: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Percent>>,
    },
}

/// What the rows of a discount matrix are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatrixRows {
    Store,
    Region,
    StoreTag,
    Tier,
}

/// What the columns of a discount matrix are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatrixColumns {
    Category,
    Brand,
}

/// One component of a bundle: `qty` whole units of lines `items` selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleComponent {
    pub items: ItemMatch,
    pub qty: u32,
}

/// Where a promotion's message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageTarget {
    Cashier,
    Receipt,
}

impl Effect {
    /// The lines this effect is limited to, or `None` when it may act on any receipt
    /// (no `items`, or an effect on the whole receipt).
    pub fn limited_to(&self) -> Option<&ItemMatch> {
        match self {
            Effect::PercentOff { items, .. }
            | Effect::AmountOff { items, .. }
            | Effect::FixedPrice { items, .. }
            | Effect::BuyGet { items, .. }
            | Effect::EarnPoints { items, .. }
            | Effect::EarnPerAmount { items, .. }
            | Effect::ExtraQty { items, .. } => items.as_ref(),
            // Every component must be present, so the first one gates the bundle.
            Effect::BundlePrice { bundle, .. } => bundle.first().map(|c| &c.items),
            Effect::EarnMultiplier { .. }
            | Effect::BonusPoints { .. }
            | Effect::IssueCoupon { .. }
            | Effect::IssueCertificate { .. }
            | Effect::SetTier { .. }
            | Effect::Grant { .. }
            | Effect::Message { .. }
            | Effect::DiscountMatrix { .. }
            | Effect::GiftItem { .. } => None,
        }
    }

    /// The wire name of the effect.
    pub fn kind(&self) -> &'static str {
        match self {
            Effect::PercentOff { .. } => "percent_off",
            Effect::AmountOff { .. } => "amount_off",
            Effect::FixedPrice { .. } => "fixed_price",
            Effect::BuyGet { .. } => "buy_get",
            Effect::EarnPoints { .. } | Effect::EarnPerAmount { .. } => "earn_points",
            Effect::EarnMultiplier { .. } => "earn_multiplier",
            Effect::Message { .. } => "message",
            Effect::DiscountMatrix { .. } => "discount_matrix",
            Effect::BundlePrice { .. } => "bundle_price",
            Effect::GiftItem { .. } => "gift_item",
            Effect::ExtraQty { .. } => "extra_qty",
            Effect::BonusPoints { .. } => "bonus_points",
            Effect::IssueCoupon { .. } => "issue_coupon",
            Effect::IssueCertificate { .. } => "issue_certificate",
            Effect::SetTier { .. } => "set_tier",
            Effect::Grant { .. } => "grant",
        }
    }
}

/// A percentage with two decimals, held as basis points: `12.5%` is `1250`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Percent(pub i64);

impl Percent {
    /// Basis points in a whole (100%).
    pub const WHOLE: i64 = 10_000;
}

/// Selects receipt lines by catalogue attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemMatch {
    Sku(ValueSet),
    Category(ValueSet),
    Brand(ValueSet),
    Tag(ValueSet),
    All(Vec<ItemMatch>),
    Any(Vec<ItemMatch>),
    Not(Box<ItemMatch>),
}

impl ItemMatch {
    /// Whether a line with this SKU (and catalogue product, when known) is selected.
    /// SKUs unknown to the catalogue have no category, brand or tags.
    pub fn matches(&self, sku: &str, product: Option<&Product>) -> bool {
        match self {
            ItemMatch::Sku(skus) => skus.contains(sku),
            ItemMatch::Category(values) => product
                .and_then(|p| p.category.as_deref())
                .is_some_and(|c| values.contains(c)),
            ItemMatch::Brand(values) => product
                .and_then(|p| p.brand.as_deref())
                .is_some_and(|b| values.contains(b)),
            ItemMatch::Tag(values) => product.is_some_and(|p| values.contains_any(p.tags.iter())),
            ItemMatch::All(parts) => parts.iter().all(|m| m.matches(sku, product)),
            ItemMatch::Any(parts) => parts.iter().any(|m| m.matches(sku, product)),
            ItemMatch::Not(inner) => !inner.matches(sku, product),
        }
    }

    fn validate(&self, field: &str, depth: usize) -> Result<(), CoreError> {
        if depth > 16 {
            return Err(CoreError::invalid(
                field,
                "item match nests deeper than 16 levels",
            ));
        }
        match self {
            ItemMatch::Sku(v)
            | ItemMatch::Category(v)
            | ItemMatch::Brand(v)
            | ItemMatch::Tag(v) => {
                if v.is_empty() {
                    return Err(CoreError::invalid(field, "must list at least one value"));
                }
                Ok(())
            }
            ItemMatch::All(parts) | ItemMatch::Any(parts) => {
                if parts.is_empty() {
                    return Err(CoreError::invalid(field, "must combine at least one match"));
                }
                for (idx, part) in parts.iter().enumerate() {
                    part.validate(&format!("{field}[{idx}]"), depth + 1)?;
                }
                Ok(())
            }
            ItemMatch::Not(inner) => inner.validate(field, depth + 1),
        }
    }
}

impl Promotion {
    /// An enabled, stackable promotion of priority 0 with no schedule, scope, audience,
    /// conditions or limits: the base that configurations and tests refine.
    pub fn new(
        promotion_id: impl Into<String>,
        name: impl Into<String>,
        effects: Vec<Effect>,
    ) -> Self {
        Promotion {
            promotion_id: promotion_id.into(),
            name: name.into(),
            enabled: true,
            priority: 0,
            stacking: Stacking::default(),
            group: None,
            schedule: Schedule::default(),
            scope: Scope::default(),
            audience: Audience::default(),
            conditions: Conditions::default(),
            effects,
            limits: crate::limits::Limits::default(),
        }
    }

    /// Checks the promotion's fields.
    pub fn validate(&self) -> Result<(), CoreError> {
        validate_id("promotion_id", &self.promotion_id)?;
        validate_name("name", &self.name)?;
        if let (Some(from), Some(to)) = (self.schedule.from, self.schedule.to) {
            if to < from {
                return Err(CoreError::invalid(
                    "schedule.to",
                    "must not be before schedule.from",
                ));
            }
        }
        if let Some(min) = self.conditions.min_amount {
            if min < 0 {
                return Err(CoreError::invalid(
                    "conditions.min_amount",
                    "must not be negative",
                ));
            }
        }
        if self.effects.is_empty() {
            return Err(CoreError::invalid(
                "effects",
                "must hold at least one effect",
            ));
        }
        if self.limits.total_discount.is_some_and(|d| d <= 0) {
            return Err(CoreError::invalid(
                "limits.total_discount",
                "must be a positive amount of minor units",
            ));
        }
        let zero_limit = [
            self.limits.per_receipt,
            self.limits.per_customer,
            self.limits.per_customer_per_day,
            self.limits.total_uses,
            self.limits.per_store_uses,
        ]
        .contains(&Some(0));
        if zero_limit {
            return Err(CoreError::invalid(
                "limits",
                "limits must be at least 1; disable the promotion instead",
            ));
        }
        if let Some(group) = &self.group {
            validate_id("group", group)?;
        }
        for (idx, condition) in self.conditions.items.iter().enumerate() {
            condition
                .items
                .validate(&format!("conditions.items[{idx}].match"), 0)?;
            if condition.min_qty.is_some_and(|q| q < 0)
                || condition.min_amount.is_some_and(|a| a < 0)
            {
                return Err(CoreError::invalid(
                    format!("conditions.items[{idx}]"),
                    "minimums must not be negative",
                ));
            }
        }
        for (idx, tier) in self.audience.tiers.iter().enumerate() {
            validate_id(&format!("audience.tiers[{idx}]"), tier)?;
        }
        for (idx, segment) in self.audience.segments.iter().enumerate() {
            validate_id(&format!("audience.segments[{idx}]"), segment)?;
        }
        for (idx, customer_id) in self.audience.customer_ids.iter().enumerate() {
            validate_id(&format!("audience.customer_ids[{idx}]"), customer_id)?;
        }
        for (idx, store_id) in self.scope.stores.iter().enumerate() {
            validate_id(&format!("scope.stores[{idx}]"), store_id)?;
        }
        for (idx, effect) in self.effects.iter().enumerate() {
            let field = |name: &str| format!("effects[{idx}].{name}");
            let check = |ok: bool, name: &str, rule: &str| {
                if ok {
                    Ok(())
                } else {
                    Err(CoreError::invalid(field(name), rule))
                }
            };
            let percent_ok = |p: &Percent| p.0 > 0 && p.0 <= Percent::WHOLE;
            let amount_ok = |a: &Money| (1..=crate::receipt::MAX_RECEIPT_AMOUNT).contains(a);
            let days_ok = |days: Option<u32>, name: &str| {
                check(
                    days.is_none_or(|d| (1..=36500).contains(&d)),
                    name,
                    "must be between 1 and 36500",
                )
            };
            let items = match effect {
                Effect::PercentOff { percent, items } | Effect::EarnPoints { percent, items } => {
                    check(
                        percent_ok(percent),
                        "percent",
                        "must be greater than 0 and at most 100",
                    )?;
                    items.as_ref()
                }
                Effect::AmountOff { amount, items } => {
                    check(
                        amount_ok(amount),
                        "amount",
                        "must be a positive amount of minor units",
                    )?;
                    items.as_ref()
                }
                Effect::FixedPrice { price, items } => {
                    check(
                        (0..=crate::receipt::MAX_RECEIPT_AMOUNT).contains(price),
                        "price",
                        "must be 0 or a positive amount of minor units",
                    )?;
                    check(
                        items.is_some(),
                        "items",
                        "must say which lines get the fixed price",
                    )?;
                    items.as_ref()
                }
                Effect::BuyGet {
                    buy,
                    get,
                    percent,
                    items,
                } => {
                    check(
                        (1..=1000).contains(buy),
                        "buy",
                        "must be between 1 and 1000",
                    )?;
                    check(
                        (1..=1000).contains(get),
                        "get",
                        "must be between 1 and 1000",
                    )?;
                    check(
                        percent_ok(percent),
                        "percent",
                        "must be greater than 0 and at most 100",
                    )?;
                    check(items.is_some(), "items", "must say which units count")?;
                    items.as_ref()
                }
                Effect::EarnPerAmount {
                    per_amount,
                    points,
                    items,
                } => {
                    check(
                        amount_ok(per_amount),
                        "per_amount",
                        "must be a positive amount of minor units",
                    )?;
                    check(
                        (1..=1_000_000_000).contains(points),
                        "points",
                        "must be between 1 and 1000000000",
                    )?;
                    items.as_ref()
                }
                Effect::EarnMultiplier { factor } => {
                    check(
                        (100..=100_000).contains(factor),
                        "factor",
                        "must be at least 1 and at most 1000, with at most 2 decimals",
                    )?;
                    None
                }
                Effect::DiscountMatrix { percent, .. } => {
                    check(!percent.is_empty(), "percent", "must hold at least one row")?;
                    for (row, columns) in percent {
                        for (column, p) in columns {
                            check(
                                percent_ok(p),
                                &format!("percent.{row}.{column}"),
                                "must be greater than 0 and at most 100",
                            )?;
                        }
                    }
                    None
                }
                Effect::BundlePrice { bundle, price } => {
                    check(
                        !bundle.is_empty() && bundle.len() <= 20,
                        "bundle",
                        "must hold 1 to 20 components",
                    )?;
                    check(
                        (0..=crate::receipt::MAX_RECEIPT_AMOUNT).contains(price),
                        "price",
                        "must be 0 or a positive amount of minor units",
                    )?;
                    for (c, component) in bundle.iter().enumerate() {
                        check(
                            (1..=1000).contains(&component.qty),
                            &format!("bundle[{c}].qty"),
                            "must be between 1 and 1000",
                        )?;
                        component
                            .items
                            .validate(&field(&format!("bundle[{c}].items")), 0)?;
                    }
                    None
                }
                Effect::GiftItem { sku, qty } => {
                    validate_id(&field("sku"), sku)?;
                    check(
                        (1..=1_000_000 * crate::receipt::QTY_SCALE).contains(qty),
                        "qty",
                        "must be greater than 0 and at most 1000000",
                    )?;
                    None
                }
                Effect::ExtraQty { items, per, extra } => {
                    check(
                        (1..=10_000).contains(per),
                        "per",
                        "must be between 1 and 10000",
                    )?;
                    check(
                        (1..=10_000).contains(extra),
                        "extra",
                        "must be between 1 and 10000",
                    )?;
                    items.as_ref()
                }
                Effect::BonusPoints {
                    points,
                    expires_in_days,
                } => {
                    check(
                        (1..=1_000_000_000).contains(points),
                        "points",
                        "must be between 1 and 1000000000",
                    )?;
                    days_ok(*expires_in_days, "expires_in_days")?;
                    None
                }
                Effect::IssueCoupon { series, valid_days } => {
                    validate_id(&field("series"), series)?;
                    days_ok(*valid_days, "valid_days")?;
                    None
                }
                Effect::IssueCertificate { amount, valid_days } => {
                    check(
                        amount_ok(amount),
                        "amount",
                        "must be a positive amount of minor units",
                    )?;
                    days_ok(*valid_days, "valid_days")?;
                    None
                }
                Effect::SetTier { tier, days } => {
                    validate_id(&field("tier"), tier)?;
                    days_ok(*days, "days")?;
                    None
                }
                Effect::Grant { entitlement } => {
                    validate_id(&field("entitlement"), entitlement)?;
                    None
                }
                Effect::Message { text, .. } => {
                    check(
                        !text.trim().is_empty() && text.chars().count() <= 500,
                        "text",
                        "must be 1 to 500 characters",
                    )?;
                    None
                }
            };
            if let Some(items) = items {
                items.validate(&field("items"), 0)?;
            }
        }
        Ok(())
    }

    /// Orders promotions for evaluation: higher priority first, then id ascending.
    pub fn evaluation_order(a: &Promotion, b: &Promotion) -> std::cmp::Ordering {
        b.priority
            .cmp(&a.priority)
            .then_with(|| a.promotion_id.cmp(&b.promotion_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(category: &str, brand: &str, tags: &[&str]) -> Product {
        Product {
            sku: "p".into(),
            name: "p".into(),
            category: Some(category.into()),
            brand: Some(brand.into()),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            no_points_payment: false,
        }
    }

    #[test]
    fn item_match_table() {
        let shoes = product("shoes", "acme", &["summer"]);
        let parse = |json: &str| -> ItemMatch {
            serde_json::from_str(json).unwrap_or(ItemMatch::Sku(ValueSet::default()))
        };
        let cases = [
            (r#"{"category":["shoes"]}"#, "A", Some(&shoes), true),
            (r#"{"category":["bags"]}"#, "A", Some(&shoes), false),
            (r#"{"sku":["A","B"]}"#, "B", None, true),
            (r#"{"category":["shoes"]}"#, "X", None, false),
            (r#"{"not":{"category":["shoes"]}}"#, "X", None, true),
            (
                r#"{"all":[{"brand":["acme"]},{"tag":["summer"]}]}"#,
                "A",
                Some(&shoes),
                true,
            ),
            (
                r#"{"all":[{"brand":["acme"]},{"tag":["winter"]}]}"#,
                "A",
                Some(&shoes),
                false,
            ),
            (
                r#"{"any":[{"brand":["zed"]},{"tag":["summer"]}]}"#,
                "A",
                Some(&shoes),
                true,
            ),
        ];
        for (json, sku, product, expected) in cases {
            assert_eq!(
                parse(json).matches(sku, product),
                expected,
                "{json} on {sku}"
            );
        }
    }
}
