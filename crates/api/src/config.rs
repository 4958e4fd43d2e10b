//! Program, store, product and promotion configuration.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Program settings. Omitted optional fields take their defaults.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramBody {
    /// ISO 4217 currency code, e.g. `RUB`.
    pub currency: String,
    /// Minor units one point is worth when paying, e.g. 100.
    pub point_value: i64,
    /// Days earned points stay pending (the return window). Default 14.
    #[serde(default)]
    pub pending_days: Option<u32>,
    /// Days points stay available before they expire; 0 = never. Default 0.
    #[serde(default)]
    pub expiry_days: Option<u32>,
    /// The most of a receipt's to-pay amount points may pay, in percent. Default 100.
    #[serde(default)]
    pub max_redeem_percent: Option<u32>,
    /// Profile fields the till asks for when missing or stale, e.g.
    /// `[{"field": "email", "max_age_days": 365}, {"field": "birthday"}]`; fields:
    /// `first_name`, `middle_name`, `last_name`, `gender`, `birthday`, `city`,
    /// `language`, `home_store`, `attributes.<key>`, `phone`, `email`.
    #[serde(default)]
    pub required_fields: Vec<RequiredFieldBody>,
    /// Spending points needs a one-time code from the customer's app or an SMS
    /// (`customer.code` on the receipt); the card alone only earns. Default false.
    #[serde(default)]
    pub redeem_requires_code: bool,
    /// Status levels earned by a rolling sum of spend or points (docs/tiers.md);
    /// omitted: no earned tiers.
    #[serde(default)]
    pub tiers: Option<crate::tier::TierProgramBody>,
}

/// A profile field the program requires.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredFieldBody {
    pub field: String,
    /// Asked again when last set longer ago than this many days.
    #[serde(default)]
    pub max_age_days: Option<u32>,
}

/// Program settings as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProgramOut {
    pub currency: String,
    pub point_value: i64,
    pub pending_days: u32,
    pub expiry_days: u32,
    pub max_redeem_percent: u32,
    pub required_fields: Vec<RequiredFieldBody>,
    pub redeem_requires_code: bool,
    /// Present when the program has earned tiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<crate::tier::TierProgramBody>,
}

/// A store of the chain.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreBody {
    pub name: String,
    /// IANA time zone, e.g. `Asia/Vladivostok`.
    pub timezone: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A store as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoreOut {
    pub store_id: String,
    pub name: String,
    pub timezone: String,
    pub region: Option<String>,
    pub tags: Vec<String>,
}

/// A catalogue product.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductBody {
    pub name: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Points may not pay for this product.
    #[serde(default)]
    pub no_points_payment: bool,
}

/// A product as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProductOut {
    pub sku: String,
    pub name: String,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub tags: Vec<String>,
    pub no_points_payment: bool,
}

/// A promotion.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionBody {
    pub name: String,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Higher is evaluated first; ties by id ascending. Default 0.
    #[serde(default)]
    pub priority: Option<i32>,
    /// Default `stackable`.
    #[serde(default)]
    pub stacking: Option<StackingBody>,
    /// Among the candidates of one group only the best for the customer applies.
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub schedule: Option<ScheduleBody>,
    #[serde(default)]
    pub scope: Option<ScopeBody>,
    #[serde(default)]
    pub audience: Option<AudienceBody>,
    #[serde(default)]
    pub conditions: Option<ConditionsBody>,
    pub effects: Vec<EffectBody>,
    /// Use limits and budgets, enforced atomically at commit.
    #[serde(default)]
    pub limits: Option<LimitsBody>,
}

/// How many times and how much a promotion may give. A cancel releases the use and
/// the money it counted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsBody {
    /// The most times it applies within one receipt: complete sets of a `buy_get`,
    /// bundles of a `bundle_price`, sets of an `extra_qty`, units of a `fixed_price`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_receipt: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_customer: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_customer_per_day: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_uses: Option<u64>,
    /// The most money the promotion may give in all, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_discount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_store_uses: Option<u64>,
}

/// How a promotion combines with the others, walked by priority (higher first).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StackingBody {
    /// Applies, and the walk goes on.
    Stackable,
    /// Applies, and no lower-priority promotion applies after it.
    Blocking,
    /// Applies only if nothing applied before it, and then nothing else applies.
    Exclusive,
}

/// Which stores a promotion runs in; empty lists mean no restriction.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeBody {
    #[serde(default)]
    pub stores: Vec<String>,
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default)]
    pub store_tags: Vec<String>,
}

/// Which customers a promotion is for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AudienceBody {
    /// Only receipts of identified members.
    #[serde(default)]
    pub members_only: bool,
    /// Only these customers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_ids: Vec<String>,
    /// Only a customer's first purchase (no committed receipt before; a new card's
    /// receipt is one).
    #[serde(default)]
    pub first_purchase: bool,
    /// Only customers whose tier is one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<String>,
    /// Only members of one of these segments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    /// Only receipts presenting a card of one of these types: `plastic`, `virtual`,
    /// `family`, `social` (a customer identified otherwise: holding one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub card_types: Vec<CardTypeBody>,
    /// Only customers whose profile has every field the program requires
    /// (`required_fields`); with `limits.per_customer: 1`, a one-time reward for a
    /// completed questionnaire.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub profile_completed: bool,
}

/// A card type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CardTypeBody {
    Plastic,
    Virtual,
    Family,
    Social,
}

impl CardTypeBody {
    pub fn to_core(self) -> tessera_core::customer::CardType {
        use tessera_core::customer::CardType;
        match self {
            CardTypeBody::Plastic => CardType::Plastic,
            CardTypeBody::Virtual => CardType::Virtual,
            CardTypeBody::Family => CardType::Family,
            CardTypeBody::Social => CardType::Social,
        }
    }

    pub fn of(card_type: tessera_core::customer::CardType) -> Self {
        use tessera_core::customer::CardType;
        match card_type {
            CardType::Plastic => CardTypeBody::Plastic,
            CardType::Virtual => CardTypeBody::Virtual,
            CardType::Family => CardTypeBody::Family,
            CardType::Social => CardTypeBody::Social,
        }
    }
}

/// When a promotion runs, as store-local date-times `YYYY-MM-DDTHH:MM[:SS]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `mon` ... `sun`; empty = every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<String>,
    /// Store-local `[["10:00", "14:00"], ...]`, end excluded; empty = all day. An end not
    /// after its start runs past midnight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<[String; 2]>,
}

/// What a receipt must satisfy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionsBody {
    /// Minimum receipt amount before discounts, in minor units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<i64>,
    /// Conditions on some lines; each must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemConditionBody>,
    /// A public multi-use code (`"SPRING10"`) or `{"series": "<id>"}` (any valid code of
    /// the series) the receipt must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub coupon: Option<serde_json::Value>,
}

/// The lines selected by `match` reach `min_qty` units and `min_amount`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemConditionBody {
    #[serde(rename = "match")]
    #[schema(value_type = Object)]
    pub items: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub min_qty: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<i64>,
}

/// An effect of a promotion.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum EffectBody {
    /// A percentage off the matching lines.
    PercentOff {
        /// 0 < percent <= 100, at most two decimals.
        #[schema(value_type = f64)]
        percent: serde_json::Number,
        /// Which lines: `{"sku"|"category"|"brand"|"tag": [...]}`, `{"all"|"any": [MATCH...]}`,
        /// `{"not": MATCH}`. Absent = every line.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        items: Option<serde_json::Value>,
    },
    /// An amount (minor units) off the matching lines, spread in proportion to their
    /// net amounts; never more than they cost.
    AmountOff {
        amount: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        items: Option<serde_json::Value>,
    },
    /// Each matching unit costs `price` (minor units); never more than before.
    FixedPrice {
        price: i64,
        #[schema(value_type = Object)]
        items: serde_json::Value,
    },
    /// For every complete set of `buy + get` matching whole units, the `get` cheapest
    /// get `percent` off (default 100: "3rd pair free" is buy 2 get 1).
    BuyGet {
        buy: u32,
        get: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<f64>)]
        percent: Option<serde_json::Number>,
        #[schema(value_type = Object)]
        items: serde_json::Value,
    },
    /// Each complete bundle (`qty` whole units of each component) costs `price`.
    BundlePrice {
        bundle: Vec<BundleComponentBody>,
        price: i64,
    },
    /// Points on the money paid for the matching lines after all discounts and points:
    /// either worth `percent` of it (rounded down), or `points` for every whole
    /// `per_amount`.
    EarnPoints {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<f64>)]
        percent: Option<serde_json::Number>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per_amount: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        points: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        items: Option<serde_json::Value>,
    },
    /// Multiplies what the receipt's earning effects give (`2`, `1.5`).
    EarnMultiplier {
        #[schema(value_type = f64)]
        factor: serde_json::Number,
    },
    /// A message for the cashier (`cashier`) or printed on the receipt (`receipt`).
    Message { to: MessageTo, text: String },
    /// Adds a line of `qty` (default 1) of `sku` at price 0.
    GiftItem {
        sku: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<f64>)]
        qty: Option<serde_json::Number>,
    },
    /// For every `per` whole units of a matching line, `extra` more units at price 0, as
    /// an added line the till prints (10 nappies bought, 11 handed over).
    ExtraQty {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        items: Option<serde_json::Value>,
        per: u32,
        extra: u32,
    },
    /// Gift points on top of what the receipt earns, expiring `expires_in_days` after
    /// they become available (default: the program's expiry). Members only.
    BonusPoints {
        points: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expires_in_days: Option<u32>,
    },
    /// A new single-use code of coupon series `series`, issued at commit (a deferred
    /// discount), valid `valid_days` from the receipt (default: the series' window).
    IssueCoupon {
        series: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid_days: Option<u32>,
    },
    /// A gift certificate worth `amount`, issued at commit.
    IssueCertificate {
        amount: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        valid_days: Option<u32>,
    },
    /// Gives the customer `tier` for `days` (default: until another tier is set).
    SetTier {
        tier: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        days: Option<u32>,
    },
    /// A right of participation, such as an entry in a prize draw.
    Grant { entitlement: String },
    /// A table of percents: rows `store` | `region` | `store_tag` | `tier`, columns
    /// `category` | `brand`; `percent` is `{ROW: {COLUMN: p}}`. A line gets the best
    /// percent of the rows that fit its store (or customer).
    DiscountMatrix {
        rows: MatrixRowsBody,
        columns: MatrixColumnsBody,
        #[schema(value_type = Object)]
        percent: std::collections::BTreeMap<
            String,
            std::collections::BTreeMap<String, serde_json::Number>,
        >,
    },
}

/// The rows of a discount matrix.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatrixRowsBody {
    Store,
    Region,
    StoreTag,
    Tier,
}

/// The columns of a discount matrix.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatrixColumnsBody {
    Category,
    Brand,
}

/// One component of a bundle.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleComponentBody {
    #[schema(value_type = Object)]
    pub items: serde_json::Value,
    pub qty: u32,
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageTo {
    Cashier,
    Receipt,
}

/// A promotion as stored.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PromotionOut {
    pub promotion_id: String,
    pub name: String,
    pub enabled: bool,
    pub priority: i32,
    pub stacking: StackingBody,
    pub group: Option<String>,
    pub schedule: ScheduleBody,
    pub scope: ScopeBody,
    pub audience: AudienceBody,
    pub conditions: ConditionsBody,
    pub effects: Vec<EffectBody>,
    pub limits: LimitsBody,
    pub updated_at: String,
    pub deleted_at: Option<String>,
}

/// All stores.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StoreList {
    pub items: Vec<StoreOut>,
}

/// All products.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProductList {
    pub items: Vec<ProductOut>,
}

/// All promotions, deleted ones included.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PromotionList {
    pub items: Vec<PromotionOut>,
}

/// A draft promotion and a receipt to price as if the draft were live.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// The draft's id (default `preview`); a live promotion with this id is replaced by
    /// the draft for the preview.
    #[serde(default)]
    pub promotion_id: Option<String>,
    pub promotion: PromotionBody,
    pub receipt: crate::ReceiptBody,
}
