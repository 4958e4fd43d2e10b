//! Shared builders: a small catalogue, stores, programs, promotions, receipts, the
//! pricing call and proptest strategies for random receipts.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use proptest::prelude::*;
use std::collections::HashMap;
use tessera_core::catalog::{Product, Store};
use tessera_core::ledger::{Context, CustomerLedger};
use tessera_core::money::{Money, Points};
use tessera_core::pricing::{calculate, Calculation, CustomerView, PricingContext};
use tessera_core::program::Program;
use tessera_core::promotion::{Effect, ItemMatch, Percent, Promotion, Schedule};
use tessera_core::receipt::{CustomerRef, ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::refund::{ReceiptRecord, ReceiptStatus};
use tessera_core::CoreError;

pub const CUSTOMER_ID: &str = "cust-1";
pub const DEFAULT_TZ: &str = "Europe/Moscow";
pub const DEFAULT_AT: &str = "2025-03-01T12:00:00+03:00";

/// SKUs the random receipts draw from; `UNKNOWN` is not in the catalogue and `CIG`
/// cannot be paid with points.
pub const SKUS: [&str; 6] = ["MILK", "KEFIR", "BREAD", "APPLE", "CIG", "UNKNOWN"];

pub fn product(sku: &str, category: &str, no_points_payment: bool) -> Product {
    Product {
        sku: sku.to_string(),
        name: format!("{sku} product"),
        category: Some(category.to_string()),
        brand: None,
        tags: Vec::new(),
        no_points_payment,
    }
}

pub fn catalogue() -> tessera_core::fast_hash::FastMap<String, Product> {
    [
        product("MILK", "dairy", false),
        product("KEFIR", "dairy", false),
        product("BREAD", "bakery", false),
        product("APPLE", "fruit", false),
        product("CIG", "tobacco", true),
    ]
    .into_iter()
    .map(|p| (p.sku.clone(), p))
    .collect()
}

pub fn store(tz: &str) -> Store {
    Store {
        store_id: "store-1".to_string(),
        name: "Store one".to_string(),
        timezone: tz.to_string(),
        region: None,
        tags: Vec::new(),
    }
}

pub fn program(point_value: i64, max_redeem_percent: u32) -> Program {
    Program {
        point_value,
        max_redeem_percent,
        ..Program::default()
    }
}

fn promotion(id: &str, priority: i32, effect: Effect) -> Promotion {
    Promotion {
        priority,
        ..Promotion::new(id, format!("promotion {id}"), vec![effect])
    }
}

/// `percent_off` with the percent in basis points (`1000` is 10%).
pub fn percent_off(
    id: &str,
    priority: i32,
    basis_points: i64,
    items: Option<ItemMatch>,
) -> Promotion {
    promotion(
        id,
        priority,
        Effect::PercentOff {
            percent: Percent(basis_points),
            items,
        },
    )
}

/// `earn_points` with the percent in basis points (`500` is 5%).
pub fn earn_points(
    id: &str,
    priority: i32,
    basis_points: i64,
    items: Option<ItemMatch>,
) -> Promotion {
    promotion(
        id,
        priority,
        Effect::EarnPoints {
            percent: Percent(basis_points),
            items,
        },
    )
}

pub fn with_min_amount(mut promotion: Promotion, min: i64) -> Promotion {
    promotion.conditions.min_amount = Some(min);
    promotion
}

/// A schedule window in store-local time, `from` and `to` as `YYYY-MM-DDTHH:MM:SS`.
pub fn with_schedule(mut promotion: Promotion, from: &str, to: &str) -> Promotion {
    promotion.schedule = Schedule {
        from: Some(naive(from)),
        to: Some(naive(to)),
        ..Schedule::default()
    };
    promotion
}

pub fn category(name: &str) -> Option<ItemMatch> {
    Some(ItemMatch::Category(vec![name.to_string()].into()))
}

pub fn naive(text: &str) -> NaiveDateTime {
    text.parse().unwrap()
}

pub fn at(rfc3339: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap()
}

pub fn utc(rfc3339: &str) -> DateTime<Utc> {
    at(rfc3339).with_timezone(&Utc)
}

pub fn line(line: u32, sku: &str, qty: i64, price: i64) -> ReceiptLine {
    ReceiptLine {
        line,
        sku: sku.to_string(),
        qty,
        price,
    }
}

pub fn receipt(
    at_text: &str,
    lines: Vec<ReceiptLine>,
    identified: bool,
    redeem: Redeem,
) -> ReceiptRequest {
    ReceiptRequest {
        coupons: Vec::new(),
        certificates: Vec::new(),
        receipt_id: "rcpt-1".to_string(),
        store_id: "store-1".to_string(),
        terminal_id: "till-1".to_string(),
        at: at(at_text),
        customer: identified.then(|| CustomerRef::CustomerId(CUSTOMER_ID.to_string())),
        lines,
        redeem,
    }
}

pub fn customer(available: Points, pending: Points) -> CustomerView {
    CustomerView {
        customer_id: CUSTOMER_ID.to_string(),
        available,
        pending,
        new_card: None,
        first_purchase: false,
        tier: None,
        segments: Vec::new(),
        card_types: Vec::new(),
        profile_complete: false,
    }
}

/// Prices a receipt the way the server does: promotions validated, disabled ones
/// dropped, the rest sorted in evaluation order; the receipt validated first.
pub fn price(
    program: &Program,
    tz: &str,
    promotions: &[Promotion],
    receipt: &ReceiptRequest,
    customer: Option<&CustomerView>,
) -> Result<Calculation, CoreError> {
    price_with_certificates(program, tz, promotions, receipt, customer, HashMap::new())
}

/// [`price`] with the gift certificates the store found for the receipt: code
/// (normalised) to what it can pay, or why it cannot (`expired`, `revoked`).
pub fn price_with_certificates(
    program: &Program,
    tz: &str,
    promotions: &[Promotion],
    receipt: &ReceiptRequest,
    customer: Option<&CustomerView>,
    certificates: HashMap<String, Result<Money, String>>,
) -> Result<Calculation, CoreError> {
    program.validate().unwrap();
    let store = store(tz);
    let tz = store.validate().unwrap();
    let products = catalogue();
    let mut promotions: Vec<Promotion> = promotions.iter().filter(|p| p.enabled).cloned().collect();
    for promotion in &promotions {
        promotion.validate().unwrap();
    }
    promotions.sort_by(Promotion::evaluation_order);
    let mut receipt = receipt.clone();
    receipt.validate()?;
    let ctx = PricingContext {
        exhausted: Vec::new(),
        coupon_series: Default::default(),
        coupon_rejections: Default::default(),
        certificates,
        program,
        store: &store,
        tz,
        products: &products,
        promotions: promotions
            .iter()
            .filter(|p| p.scope.includes(&store))
            .collect(),
    };
    calculate(&ctx, &receipt, customer)
}

/// A committed receipt record of a priced receipt.
pub fn record(
    receipt: &ReceiptRequest,
    calculation: Calculation,
    earn_lot_id: Option<String>,
    redeemed_from: Vec<(String, Points)>,
) -> ReceiptRecord {
    let lines = calculation.lines.len();
    ReceiptRecord {
        receipt_id: receipt.receipt_id.clone(),
        store_id: receipt.store_id.clone(),
        terminal_id: receipt.terminal_id.clone(),
        at: receipt.at,
        customer_id: calculation.customer_id.clone(),
        calculation,
        returned_qty: vec![0; lines],
        status: ReceiptStatus::Committed,
        version: 1,
        earn_lot_id,
        redeemed_from,
        usage: Vec::new(),
        coupons_used: Vec::new(),
        issued: Default::default(),
    }
}

pub fn context<'a>(
    receipt_id: Option<&'a str>,
    op_id: Option<&'a str>,
    now: DateTime<Utc>,
) -> Context<'a> {
    Context {
        receipt_id,
        op_id,
        now,
    }
}

/// An empty ledger of the test customer.
pub fn empty_ledger() -> CustomerLedger {
    CustomerLedger::new(CUSTOMER_ID.to_string(), 0, 0, Vec::new())
}

// ---------------------------------------------------------------- strategies

/// A random receipt scenario: program, promotions, lines and the customer's side.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub program: Program,
    pub promotions: Vec<Promotion>,
    pub lines: Vec<ReceiptLine>,
    /// `None`: an anonymous receipt.
    pub balance: Option<(Points, Points)>,
    pub redeem: Redeem,
}

impl Scenario {
    pub fn receipt(&self) -> ReceiptRequest {
        receipt(
            DEFAULT_AT,
            self.lines.clone(),
            self.balance.is_some(),
            self.redeem,
        )
    }

    pub fn customer(&self) -> Option<CustomerView> {
        self.balance
            .map(|(available, pending)| customer(available, pending))
    }

    pub fn price(&self) -> Result<Calculation, CoreError> {
        price(
            &self.program,
            DEFAULT_TZ,
            &self.promotions,
            &self.receipt(),
            self.customer().as_ref(),
        )
    }
}

pub fn arb_items() -> impl Strategy<Value = Option<ItemMatch>> {
    prop_oneof![
        3 => Just(None),
        1 => Just(category("dairy")),
        1 => Just(category("bakery")),
        1 => Just(Some(ItemMatch::Sku(vec!["APPLE".to_string(), "CIG".to_string()].into()))),
        // A SKU the catalogue does not know can still be listed.
        1 => Just(Some(ItemMatch::Sku(vec!["UNKNOWN".to_string()].into()))),
        1 => Just(Some(ItemMatch::Not(Box::new(ItemMatch::Category(vec!["tobacco".to_string()].into()))))),
    ]
}

pub fn arb_promotion() -> impl Strategy<Value = Promotion> {
    (
        any::<bool>(),
        prop_oneof![1i64..=10_000, Just(500), Just(1000), Just(10_000)],
        arb_items(),
        -3i32..=3,
        prop::option::weighted(0.3, 0i64..=2_000_000),
        0u32..1000,
        (0u8..3, 0u8..7, 1i64..=500_000),
    )
        .prop_map(
            |(discount, percent, items, priority, min_amount, id, (stacking, kind, amount))| {
                let id = format!("promo-{id}");
                let mut promotion = if !discount {
                    earn_points(&id, priority, percent, items)
                } else if kind == 3 {
                    let mut promotion = percent_off(&id, priority, percent, None);
                    promotion.effects = vec![Effect::BundlePrice {
                        bundle: vec![
                            tessera_core::promotion::BundleComponent {
                                items: items.unwrap_or(ItemMatch::Sku(vec!["MILK".into()].into())),
                                qty: 1,
                            },
                            tessera_core::promotion::BundleComponent {
                                items: ItemMatch::Category(vec!["bakery".into()].into()),
                                qty: (amount % 2 + 1) as u32,
                            },
                        ],
                        price: amount / 20,
                    }];
                    promotion
                } else if kind < 3 {
                    let mut promotion = percent_off(&id, priority, percent, None);
                    let any_lines = || {
                        Some(ItemMatch::Not(Box::new(ItemMatch::Sku(
                            vec!["NONE".into()].into(),
                        ))))
                    };
                    promotion.effects = vec![match kind {
                        0 => Effect::AmountOff { amount, items },
                        1 => Effect::FixedPrice {
                            price: amount / 10,
                            items: items.or_else(any_lines),
                        },
                        _ => Effect::BuyGet {
                            buy: (amount % 3 + 1) as u32,
                            get: (amount % 2 + 1) as u32,
                            percent: Percent(percent),
                            items: items.or_else(any_lines),
                        },
                    }];
                    promotion
                } else {
                    percent_off(&id, priority, percent, items)
                };
                promotion.conditions.min_amount = min_amount;
                promotion.stacking = match stacking {
                    0 => tessera_core::promotion::Stacking::Stackable,
                    1 => tessera_core::promotion::Stacking::Blocking,
                    _ => tessera_core::promotion::Stacking::Exclusive,
                };
                promotion
            },
        )
}

pub fn arb_qty() -> impl Strategy<Value = i64> {
    prop_oneof![(1i64..=20).prop_map(|units| units * 1000), 1i64..=5_000]
}

pub fn arb_lines() -> impl Strategy<Value = Vec<ReceiptLine>> {
    prop::collection::vec(
        (
            0usize..SKUS.len(),
            arb_qty(),
            prop_oneof![0i64..=500_000, 0i64..=2_000],
        ),
        1..=30,
    )
    .prop_map(|specs| {
        specs
            .into_iter()
            .enumerate()
            .map(|(idx, (sku, qty, price))| line(idx as u32 + 1, SKUS[sku], qty, price))
            .collect()
    })
}

pub fn arb_program() -> impl Strategy<Value = Program> {
    (
        prop_oneof![Just(1i64), Just(100), 1i64..=1_000],
        prop_oneof![Just(100u32), 0u32..=100],
    )
        .prop_map(|(point_value, percent)| program(point_value, percent))
}

pub fn arb_redeem() -> impl Strategy<Value = Redeem> {
    prop_oneof![
        1 => Just(Redeem::None),
        2 => Just(Redeem::Max),
        2 => (1i64..=2_000).prop_map(Redeem::Points),
        1 => (1i64..=300_000).prop_map(Redeem::Points),
    ]
}

pub fn arb_scenario() -> impl Strategy<Value = Scenario> {
    (
        arb_program(),
        prop::collection::vec(arb_promotion(), 0..=4),
        arb_lines(),
        prop::option::weighted(
            0.85,
            (prop_oneof![-500i64..=0, 0i64..=300_000], 0i64..=10_000),
        ),
        arb_redeem(),
    )
        .prop_map(|(program, mut promotions, lines, balance, redeem)| {
            for (idx, promotion) in promotions.iter_mut().enumerate() {
                promotion.promotion_id = format!("{}-{idx}", promotion.promotion_id);
            }
            let redeem = if balance.is_some() {
                redeem
            } else {
                Redeem::None
            };
            Scenario {
                program,
                promotions,
                lines,
                balance,
                redeem,
            }
        })
}

/// A well-formed gift certificate code in stored form, made from `seed`.
pub fn certificate_code(seed: u128) -> String {
    tessera_core::coupon::normalize_code(&tessera_core::coupon::code_from_random(seed))
}
