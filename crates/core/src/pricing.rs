//! The receipt engine: prices a receipt against the catalogue, the promotions in
//! force at the store's local time and the customer's points.
//!
//! Order of work: line amounts, then promotions by priority (discounts change each
//! line's net amount as they apply), then the points payment, then points earned on
//! the money actually paid. Every receipt-level amount is split over lines with the
//! largest remainder method, so lines always sum to the totals exactly.

use crate::catalog::{Product, Store};
use crate::error::{CoreError, ErrorCode};
use crate::fast_hash::FastMap;
use crate::money::{allocate, div_floor, div_round_half_even, to_i64, Money, Points};
use crate::program::Program;
use crate::promotion::{
    BundleComponent, CouponRule, Effect, ItemMatch, MatrixColumns, MatrixRows, MessageTarget,
    Percent, Promotion, Stacking,
};
use crate::receipt::QTY_SCALE;
use crate::receipt::{ReceiptRequest, Redeem};
use crate::reward::{CertificatePayment, Reward, RewardKind};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Everything the engine prices against, assembled by the caller.
pub struct PricingContext<'a> {
    pub program: &'a Program,
    pub store: &'a Store,
    pub tz: Tz,
    pub products: &'a FastMap<String, Product>,
    /// The enabled promotions whose scope includes the store, in evaluation order (see
    /// [`Promotion::evaluation_order`]).
    pub promotions: Vec<&'a Promotion>,
    /// Promotions that reached a limit for this receipt: listed as `limit_reached`.
    pub exhausted: Vec<String>,
    /// Series codes on the receipt that the store found valid: code to series.
    pub coupon_series: HashMap<String, String>,
    /// Codes on the receipt the store refused, with the reason and their series.
    pub coupon_rejections: HashMap<String, CouponRejection>,
    /// The certificates the receipt pays with, as the store found them: what each can
    /// pay, or why it cannot (`unknown`, `expired`, `revoked`).
    pub certificates: HashMap<String, Result<Money, String>>,
}

/// Why the store refused a series code the receipt carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRejection {
    /// `not_yet_valid`, `expired`, `used` or `revoked`.
    pub reason: String,
    pub series: String,
}

/// What became of a coupon code the receipt carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponResult {
    pub code: String,
    /// `applied` or `rejected`.
    pub status: String,
    /// Why it was rejected: `unknown`, `expired`, `used`, `not_applicable`.
    pub reason: Option<String>,
}

/// The customer as the engine sees them: who, and how many points they can spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerView {
    pub customer_id: String,
    pub available: Points,
    pub pending: Points,
    /// An unknown card presented at the till: the member is registered at commit.
    pub new_card: Option<String>,
    /// The customer has no committed receipt yet (always so for a new card).
    pub first_purchase: bool,
    /// The customer's tier, if they have one.
    pub tier: Option<String>,
    /// The segments the customer is a member of.
    pub segments: Vec<String>,
    /// The type of the card presented (with another identifier, of every card the
    /// customer holds).
    pub card_types: Vec<crate::customer::CardType>,
    /// Every field the program requires is filled in and fresh.
    pub profile_complete: bool,
}

impl CustomerView {
    /// A known customer as their ledger and facts say, for a receipt at `at`.
    pub fn known(
        customer_id: &str,
        available: Points,
        pending: Points,
        facts: &crate::customer::CustomerFacts,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        CustomerView {
            customer_id: customer_id.to_string(),
            available,
            pending,
            new_card: None,
            first_purchase: facts.first_purchase,
            tier: facts.tier_at(at).map(str::to_string),
            segments: facts.segments.clone(),
            card_types: facts.card_types.clone(),
            profile_complete: facts.profile_complete,
        }
    }

    /// A member about to be registered with an unknown (plastic) card.
    pub fn new_card(customer_id: &str, card: &str) -> Self {
        CustomerView {
            customer_id: customer_id.to_string(),
            available: 0,
            pending: 0,
            new_card: Some(card.to_string()),
            first_purchase: true,
            tier: None,
            segments: Vec::new(),
            card_types: vec![crate::customer::CardType::Plastic],
            profile_complete: false,
        }
    }
}

/// A priced receipt: what the till shows and prints. The default is the empty receipt
/// priced at zero.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calculation {
    pub lines: Vec<PricedLine>,
    pub totals: Totals,
    pub points_earned: Points,
    pub points_redeemed: Points,
    pub promotions: Vec<AppliedPromotion>,
    /// Promotions that were candidates for this receipt but did not apply, and why.
    /// Left out of stored receipt records (the only place a `Calculation` is
    /// serialised): the answer that showed it is stored as sent, and nothing reads it
    /// back from a record. With many promotions it was half of every record's bytes.
    #[serde(default, skip_serializing)]
    pub not_applied: Vec<NotApplied>,
    pub customer_id: Option<String>,
    pub balance: Option<BalanceAfter>,
    /// Messages for the cashier's screen.
    pub messages: Vec<String>,
    /// Messages to print on the receipt.
    #[serde(default)]
    pub receipt_messages: Vec<String>,
    /// Every coupon code the receipt carried, applied or rejected with a reason.
    #[serde(default)]
    pub coupons: Vec<CouponResult>,
    /// Rewards made at commit: bonus points, coupon codes, certificates, tier,
    /// entitlements.
    #[serde(default)]
    pub rewards: Vec<Reward>,
    /// The certificates that pay for the receipt.
    #[serde(default)]
    pub certificates: Vec<CertificatePayment>,
}

impl Calculation {
    /// Gift points of `bonus_points` effects, in lots of their own (not on lines).
    pub fn bonus_points(&self) -> Points {
        bonus_points_of(&self.rewards)
    }
}

fn bonus_points_of(rewards: &[Reward]) -> Points {
    rewards
        .iter()
        .map(|r| match r.kind {
            RewardKind::BonusPoints { points, .. } => points,
            _ => 0,
        })
        .sum()
}

/// A candidate promotion that did not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotApplied {
    pub promotion_id: String,
    pub reason: NotAppliedReason,
    /// The promotion that caused it, when one did.
    pub by: Option<String>,
}

/// Why a candidate promotion did not apply. A receipt lists dozens of candidates
/// with 200 promotions in force, so the reason is a value, not a string made each time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotAppliedReason {
    /// A use limit or budget is used up.
    LimitReached,
    /// Another of its group is worth more to the customer.
    LostInGroup,
    /// A blocking or exclusive promotion applied before it.
    BlockedBy,
    /// It is exclusive and others applied before it.
    ExclusiveAfterOthers,
    /// Its effects changed nothing on this receipt.
    NoEffect,
    /// It needs a coupon of its series and the receipt's code of that series was
    /// refused.
    CouponInvalid,
}

impl NotAppliedReason {
    /// The reason as the API writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            NotAppliedReason::LimitReached => "limit_reached",
            NotAppliedReason::LostInGroup => "lost_in_group",
            NotAppliedReason::BlockedBy => "blocked_by",
            NotAppliedReason::ExclusiveAfterOthers => "exclusive_after_others",
            NotAppliedReason::NoEffect => "no_effect",
            NotAppliedReason::CouponInvalid => "coupon_invalid",
        }
    }
}

/// One priced line; `amount - discount - points_paid - certificate_paid = total`.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    pub line: u32,
    pub sku: String,
    pub qty: i64,
    pub price: Money,
    pub amount: Money,
    pub discount: Money,
    /// Points spent on this line.
    pub points_redeemed: Points,
    /// Money value of the points spent on this line.
    pub points_paid: Money,
    /// Gift certificate money spent on this line.
    #[serde(default)]
    pub certificate_paid: Money,
    pub total: Money,
    pub points_earned: Points,
    pub promotions: Vec<String>,
    /// Set on a line a promotion added (a gift, extra units at price 0): the till must
    /// print it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_by: Option<String>,
}

impl Clone for PricedLine {
    fn clone(&self) -> PricedLine {
        PricedLine {
            line: self.line,
            sku: self.sku.clone(),
            qty: self.qty,
            price: self.price,
            amount: self.amount,
            discount: self.discount,
            points_redeemed: self.points_redeemed,
            points_paid: self.points_paid,
            certificate_paid: self.certificate_paid,
            total: self.total,
            points_earned: self.points_earned,
            promotions: self.promotions.clone(),
            added_by: self.added_by.clone(),
        }
    }

    /// Copies `source` into this line's own strings where they have room (pricing
    /// sets a copy of the receipt back to its lines for each group candidate).
    fn clone_from(&mut self, source: &PricedLine) {
        let PricedLine {
            line,
            sku,
            qty,
            price,
            amount,
            discount,
            points_redeemed,
            points_paid,
            certificate_paid,
            total,
            points_earned,
            promotions,
            added_by,
        } = source;
        self.line = *line;
        self.sku.clone_from(sku);
        self.qty = *qty;
        self.price = *price;
        self.amount = *amount;
        self.discount = *discount;
        self.points_redeemed = *points_redeemed;
        self.points_paid = *points_paid;
        self.certificate_paid = *certificate_paid;
        self.total = *total;
        self.points_earned = *points_earned;
        self.promotions.clone_from(promotions);
        self.added_by.clone_from(added_by);
    }
}

/// Receipt totals; each is the sum of the lines' values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub amount: Money,
    pub discount: Money,
    pub points_value: Money,
    /// Paid with gift certificates.
    #[serde(default)]
    pub certificates: Money,
    pub to_pay: Money,
}

/// A promotion's effect on this receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedPromotion {
    pub promotion_id: String,
    pub name: String,
    pub effect: String,
    pub discount: Money,
    pub points: Points,
}

/// The customer's balance once this receipt is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceAfter {
    pub available: Points,
    pub pending: Points,
}

/// Prices a validated receipt.
pub fn calculate(
    ctx: &PricingContext<'_>,
    receipt: &ReceiptRequest,
    customer: Option<&CustomerView>,
) -> Result<Calculation, CoreError> {
    let mut products: Vec<Option<&Product>> = receipt
        .lines
        .iter()
        .map(|l| ctx.products.get(&l.sku))
        .collect();
    let mut lines: Vec<PricedLine> = receipt
        .lines
        .iter()
        .map(|l| PricedLine {
            line: l.line,
            sku: l.sku.clone(),
            qty: l.qty,
            price: l.price,
            amount: l.amount(),
            discount: 0,
            points_redeemed: 0,
            points_paid: 0,
            certificate_paid: 0,
            total: 0,
            points_earned: 0,
            promotions: Vec::new(),
            added_by: None,
        })
        .collect();
    let gross: Money = lines.iter().map(|l| l.amount).sum();
    let local = receipt.at.with_timezone(&ctx.tz).naive_local();
    let mut applied = Vec::new();
    let mut earn_rules: Vec<EarnRule<'_>> = Vec::new();
    let mut receipt_messages = Vec::new();
    let mut messages = Vec::new();
    let mut rewards = Vec::new();

    let mut not_applied = Vec::new();
    // Every condition but the coupon: a promotion that meets them all but carries a
    // refused code of its series is listed as `coupon_invalid`.
    let eligible = |promotion: &Promotion| {
        promotion.enabled
            && promotion.schedule.contains(local)
            && promotion.scope.includes(ctx.store)
            && promotion.audience.includes(customer)
            && promotion
                .conditions
                .min_amount
                .is_none_or(|min| gross >= min)
            && promotion.effects.iter().any(|effect| {
                effect.limited_to().is_none_or(|items| {
                    lines
                        .iter()
                        .zip(&products)
                        .any(|(line, product)| items.matches(&line.sku, *product))
                })
            })
            && promotion.conditions.items.iter().all(|condition| {
                condition.holds(
                    lines
                        .iter()
                        .zip(&products)
                        .map(|(l, p)| (l.sku.as_str(), *p, l.qty, l.amount)),
                )
            })
    };
    let mut candidates: Vec<&Promotion> = Vec::new();
    for promotion in ctx.promotions.iter().copied() {
        if !eligible(promotion) {
            continue;
        }
        match &promotion.conditions.coupon {
            None => candidates.push(promotion),
            Some(rule) if coupon_for(ctx, receipt, rule).is_some() => candidates.push(promotion),
            Some(CouponRule::Series(series)) => {
                let refused = receipt.coupons.iter().any(|code| {
                    ctx.coupon_rejections
                        .get(code)
                        .is_some_and(|r| r.series == *series)
                });
                if refused {
                    not_applied.push(NotApplied {
                        promotion_id: promotion.promotion_id.clone(),
                        reason: NotAppliedReason::CouponInvalid,
                        by: None,
                    });
                }
            }
            Some(CouponRule::Code(_)) => {}
        }
    }
    let candidates_for_groups: Vec<&Promotion> = candidates
        .iter()
        .copied()
        .filter(|p| !ctx.exhausted.contains(&p.promotion_id))
        .collect();
    let group_winners = group_winners(ctx, &candidates_for_groups, &lines, &products, customer);
    // The first promotion that applied, and the one that stopped the walk.
    let mut first_applied: Option<&str> = None;
    let mut stopped_by: Option<&str> = None;
    for promotion in candidates {
        if ctx.exhausted.contains(&promotion.promotion_id) {
            not_applied.push(NotApplied {
                promotion_id: promotion.promotion_id.clone(),
                reason: NotAppliedReason::LimitReached,
                by: None,
            });
            continue;
        }
        let skip = |reason: NotAppliedReason, by: Option<&str>| NotApplied {
            promotion_id: promotion.promotion_id.clone(),
            reason,
            by: by.map(str::to_string),
        };
        if let Some(winner) = promotion
            .group
            .as_ref()
            .and_then(|g| group_winners.get(g.as_str()))
        {
            if *winner != promotion.promotion_id {
                not_applied.push(skip(NotAppliedReason::LostInGroup, Some(winner)));
                continue;
            }
        }
        if let Some(by) = stopped_by {
            not_applied.push(skip(NotAppliedReason::BlockedBy, Some(by)));
            continue;
        }
        if promotion.stacking == Stacking::Exclusive && first_applied.is_some() {
            not_applied.push(skip(NotAppliedReason::ExclusiveAfterOthers, first_applied));
            continue;
        }
        let mut outcome = EffectOutcome {
            applied: &mut applied,
            earn_rules: &mut earn_rules,
            messages: &mut messages,
            receipt_messages: &mut receipt_messages,
            rewards: &mut rewards,
        };
        let had_effect = apply_effects(
            ctx,
            promotion,
            &mut lines,
            &mut products,
            customer,
            &mut outcome,
        );
        if !had_effect {
            not_applied.push(skip(NotAppliedReason::NoEffect, None));
            continue;
        }
        first_applied.get_or_insert(&promotion.promotion_id);
        if promotion.stacking != Stacking::Stackable {
            stopped_by = Some(&promotion.promotion_id);
        }
    }

    let points_redeemed = redeem(ctx, receipt, customer, &mut lines, &products, &mut messages)?;
    for line in &mut lines {
        line.points_paid = line.points_redeemed * ctx.program.point_value;
    }
    crate::certificate::pay(ctx, receipt, &mut lines)?;
    for line in &mut lines {
        line.total = line.amount - line.discount - line.points_paid - line.certificate_paid;
    }

    // Multipliers (hundredths) apply to every earning effect of the receipt.
    let (multiplier, multiplier_scale) =
        earn_rules
            .iter()
            .fold((1i128, 1i128), |(num, den), rule| match rule {
                EarnRule {
                    kind: EarnKind::Multiplier(factor),
                    ..
                } => (num * *factor as i128, den * 100),
                _ => (num, den),
            });
    // Each earning effect is listed with what it gives alone; the multipliers are listed
    // with what they add, so the listed points sum to the points earned.
    let mut added_by_multipliers: Points = 0;
    for rule in &earn_rules {
        let selected = select(&lines, &products, rule.items);
        let bases: Vec<Money> = selected.iter().map(|&idx| lines[idx].total).collect();
        let base_sum: i128 = bases.iter().map(|b| *b as i128).sum();
        let unmultiplied = match rule.kind {
            EarnKind::Percent(percent) => div_floor(
                base_sum * percent.0 as i128,
                Percent::WHOLE as i128 * ctx.program.point_value as i128,
            ),
            EarnKind::PerAmount { per_amount, points } => {
                div_floor(base_sum, per_amount as i128) * points as i128
            }
            EarnKind::Multiplier(_) => continue,
        };
        let points = to_i64(div_floor(unmultiplied * multiplier, multiplier_scale));
        if points <= 0 {
            continue;
        }
        for (share, &idx) in allocate(points, &bases).iter().zip(&selected) {
            lines[idx].points_earned += share;
            if *share > 0 {
                mark(&mut lines[idx], &rule.promotion.promotion_id);
            }
        }
        added_by_multipliers += points - to_i64(unmultiplied);
        applied.push(AppliedPromotion {
            promotion_id: rule.promotion.promotion_id.clone(),
            name: rule.promotion.name.clone(),
            effect: "earn_points".to_string(),
            discount: 0,
            points: to_i64(unmultiplied),
        });
    }
    let multipliers: Vec<&Promotion> = earn_rules
        .iter()
        .filter(|r| matches!(r.kind, EarnKind::Multiplier(_)))
        .map(|r| r.promotion)
        .collect();
    if added_by_multipliers > 0 {
        for (points, promotion) in allocate(added_by_multipliers, &vec![1; multipliers.len()])
            .into_iter()
            .zip(multipliers)
        {
            applied.push(AppliedPromotion {
                promotion_id: promotion.promotion_id.clone(),
                name: promotion.name.clone(),
                effect: "earn_multiplier".to_string(),
                discount: 0,
                points,
            });
        }
    }

    let totals = Totals {
        amount: gross,
        discount: lines.iter().map(|l| l.discount).sum(),
        points_value: lines.iter().map(|l| l.points_paid).sum(),
        certificates: lines.iter().map(|l| l.certificate_paid).sum(),
        to_pay: lines.iter().map(|l| l.total).sum(),
    };
    let points_earned: Points = lines.iter().map(|l| l.points_earned).sum();
    let bonus_points = bonus_points_of(&rewards);
    if let Some(card) = customer.and_then(|c| c.new_card.as_deref()) {
        messages.push(format!(
            "card {card} is not registered yet: it is registered to a new member at commit"
        ));
    }
    let coupons = coupon_results(ctx, receipt, &applied);
    Ok(Calculation {
        coupons,
        lines,
        totals,
        points_earned,
        points_redeemed,
        rewards,
        certificates: receipt.certificates.clone(),
        promotions: applied,
        not_applied,
        receipt_messages,
        customer_id: customer.map(|c| c.customer_id.clone()),
        balance: customer.map(|c| BalanceAfter {
            available: c.available - points_redeemed,
            pending: c.pending + points_earned + bonus_points,
        }),
        messages,
    })
}

/// An earning effect kept for after the points payment.
struct EarnRule<'p> {
    promotion: &'p Promotion,
    kind: EarnKind,
    items: Option<&'p ItemMatch>,
}

enum EarnKind {
    Percent(Percent),
    PerAmount {
        per_amount: Money,
        points: Points,
    },
    /// Hundredths: `200` doubles.
    Multiplier(i64),
}

/// Where the effects of the promotions walked so far are collected.
struct EffectOutcome<'a, 'p> {
    applied: &'a mut Vec<AppliedPromotion>,
    earn_rules: &'a mut Vec<EarnRule<'p>>,
    messages: &'a mut Vec<String>,
    receipt_messages: &'a mut Vec<String>,
    rewards: &'a mut Vec<Reward>,
}

/// Applies a promotion's effects to the lines as earlier promotions left them.
/// Discounts apply at once; earning rules are kept for after the points payment.
/// Returns whether any effect changed something.
fn apply_effects<'p, 'c>(
    ctx: &PricingContext<'c>,
    promotion: &'p Promotion,
    lines: &mut Vec<PricedLine>,
    products: &mut Vec<Option<&'c Product>>,
    customer: Option<&CustomerView>,
    out: &mut EffectOutcome<'_, 'p>,
) -> bool {
    let is_member = customer.is_some();
    let per_receipt = promotion
        .limits
        .per_receipt
        .map(|n| n.min(i64::MAX as u64) as i64);
    let mut had_effect = false;
    let mut reward = |kind: RewardKind, members_only: bool| {
        if members_only && !is_member {
            return false;
        }
        out.rewards.push(Reward {
            promotion_id: promotion.promotion_id.clone(),
            kind,
        });
        true
    };
    let mut earn = |kind: EarnKind, items: Option<&'p ItemMatch>| {
        if is_member {
            out.earn_rules.push(EarnRule {
                promotion,
                kind,
                items,
            });
        }
        is_member
    };
    let mut discounts = Vec::new();
    // Effects that act without a discount (gifts, messages, rewards), listed too so
    // that every applied promotion appears in `promotions` and counts for its limits.
    let mut listed: Vec<(&'static str, Points)> = Vec::new();
    for effect in &promotion.effects {
        let mut acted = false;
        let discount = match effect {
            Effect::PercentOff { percent, items } => {
                let selected = select(lines, products, items.as_ref());
                let base: i128 = selected.iter().map(|&idx| net(&lines[idx]) as i128).sum();
                let discount = to_i64(div_round_half_even(
                    base * percent.0 as i128,
                    Percent::WHOLE as i128,
                ));
                discount_lines(lines, &selected, discount, &promotion.promotion_id)
            }
            Effect::AmountOff { amount, items } => {
                let selected = select(lines, products, items.as_ref());
                let base: Money = selected.iter().map(|&idx| net(&lines[idx])).sum();
                discount_lines(
                    lines,
                    &selected,
                    (*amount).min(base),
                    &promotion.promotion_id,
                )
            }
            Effect::FixedPrice { price, items } => {
                let selected = select(lines, products, items.as_ref());
                fixed_price(
                    lines,
                    selected,
                    *price,
                    per_receipt,
                    &promotion.promotion_id,
                )
            }
            Effect::BuyGet {
                buy,
                get,
                percent,
                items,
            } => {
                let selected = select(lines, products, items.as_ref());
                let (discount, weights) =
                    buy_get(lines, &selected, *buy, *get, *percent, per_receipt);
                discount_by_weights(
                    lines,
                    &selected,
                    discount,
                    &weights,
                    &promotion.promotion_id,
                )
            }
            Effect::BundlePrice { bundle, price } => {
                let (discount, weights) =
                    bundle_price(lines, products, bundle, *price, per_receipt);
                let all: Vec<usize> = (0..lines.len()).collect();
                discount_by_weights(lines, &all, discount, &weights, &promotion.promotion_id)
            }
            Effect::EarnPoints { percent, items } => {
                had_effect |= earn(EarnKind::Percent(*percent), items.as_ref());
                0
            }
            Effect::EarnPerAmount {
                per_amount,
                points,
                items,
            } => {
                had_effect |= earn(
                    EarnKind::PerAmount {
                        per_amount: *per_amount,
                        points: *points,
                    },
                    items.as_ref(),
                );
                0
            }
            Effect::EarnMultiplier { factor } => {
                had_effect |= earn(EarnKind::Multiplier(*factor), None);
                0
            }
            Effect::DiscountMatrix {
                rows,
                columns,
                percent,
            } => {
                let row_keys: Vec<&str> = match rows {
                    MatrixRows::Store => vec![ctx.store.store_id.as_str()],
                    MatrixRows::Region => ctx.store.region.iter().map(String::as_str).collect(),
                    MatrixRows::StoreTag => ctx.store.tags.iter().map(String::as_str).collect(),
                    MatrixRows::Tier => customer
                        .and_then(|c| c.tier.as_deref())
                        .into_iter()
                        .collect(),
                };
                let mut total = 0;
                for idx in 0..lines.len() {
                    let column = products[idx].and_then(|p| match columns {
                        MatrixColumns::Category => p.category.as_deref(),
                        MatrixColumns::Brand => p.brand.as_deref(),
                    });
                    let best = column.and_then(|column| {
                        row_keys
                            .iter()
                            .filter_map(|row| percent.get(*row).and_then(|cols| cols.get(column)))
                            .max()
                    });
                    if let Some(best) = best {
                        let discount = to_i64(div_round_half_even(
                            net(&lines[idx]) as i128 * best.0 as i128,
                            Percent::WHOLE as i128,
                        ));
                        total += discount_lines(lines, &[idx], discount, &promotion.promotion_id);
                    }
                }
                total
            }
            Effect::GiftItem { sku, qty } => {
                add_line(ctx, lines, products, sku, *qty, &promotion.promotion_id);
                acted = true;
                0
            }
            Effect::ExtraQty { items, per, extra } => {
                let selected = select(lines, products, items.as_ref());
                let mut sets_left = per_receipt.unwrap_or(i64::MAX);
                for idx in selected {
                    let sets = (lines[idx].qty / (*per as i64 * QTY_SCALE)).min(sets_left);
                    sets_left -= sets;
                    if sets > 0 {
                        let sku = lines[idx].sku.clone();
                        add_line(
                            ctx,
                            lines,
                            products,
                            &sku,
                            sets * *extra as i64 * QTY_SCALE,
                            &promotion.promotion_id,
                        );
                        acted = true;
                    }
                }
                0
            }
            Effect::BonusPoints {
                points,
                expires_in_days,
            } => {
                acted |= reward(
                    RewardKind::BonusPoints {
                        points: *points,
                        expires_in_days: *expires_in_days,
                    },
                    true,
                );
                0
            }
            Effect::IssueCoupon { series, valid_days } => {
                acted |= reward(
                    RewardKind::Coupon {
                        series: series.clone(),
                        valid_days: *valid_days,
                    },
                    false,
                );
                0
            }
            Effect::IssueCertificate { amount, valid_days } => {
                acted |= reward(
                    RewardKind::Certificate {
                        amount: *amount,
                        valid_days: *valid_days,
                    },
                    false,
                );
                0
            }
            Effect::SetTier { tier, days } => {
                acted |= reward(
                    RewardKind::Tier {
                        tier: tier.clone(),
                        days: *days,
                    },
                    true,
                );
                0
            }
            Effect::Grant { entitlement } => {
                acted |= reward(
                    RewardKind::Entitlement {
                        entitlement: entitlement.clone(),
                    },
                    true,
                );
                0
            }
            Effect::Message { to, text } => {
                match to {
                    MessageTarget::Cashier => out.messages.push(text.clone()),
                    MessageTarget::Receipt => out.receipt_messages.push(text.clone()),
                }
                acted = true;
                0
            }
        };
        if discount > 0 {
            discounts.push((effect.kind(), discount));
        }
        if acted {
            let points = match effect {
                Effect::BonusPoints { points, .. } => *points,
                _ => 0,
            };
            listed.push((effect.kind(), points));
        }
    }
    for (kind, points) in listed {
        had_effect = true;
        out.applied.push(AppliedPromotion {
            promotion_id: promotion.promotion_id.clone(),
            name: promotion.name.clone(),
            effect: kind.to_string(),
            discount: 0,
            points,
        });
    }
    for (kind, discount) in discounts {
        had_effect = true;
        out.applied.push(AppliedPromotion {
            promotion_id: promotion.promotion_id.clone(),
            name: promotion.name.clone(),
            effect: kind.to_string(),
            discount,
            points: 0,
        });
    }
    had_effect
}

/// The receipt's code that satisfies a coupon rule, if any.
fn coupon_for<'r>(
    ctx: &PricingContext<'_>,
    receipt: &'r ReceiptRequest,
    rule: &CouponRule,
) -> Option<&'r str> {
    receipt
        .coupons
        .iter()
        .find(|code| match rule {
            CouponRule::Code(public) => *code == public,
            CouponRule::Series(series) => ctx.coupon_series.get(*code) == Some(series),
        })
        .map(String::as_str)
}

/// Applied, or rejected with a reason, for every code on the receipt.
fn coupon_results(
    ctx: &PricingContext<'_>,
    receipt: &ReceiptRequest,
    applied: &[AppliedPromotion],
) -> Vec<CouponResult> {
    if receipt.coupons.is_empty() {
        return Vec::new();
    }
    let used: Vec<&str> = ctx
        .promotions
        .iter()
        .filter(|p| applied.iter().any(|a| a.promotion_id == p.promotion_id))
        .filter_map(|p| {
            p.conditions
                .coupon
                .as_ref()
                .and_then(|rule| coupon_for(ctx, receipt, rule))
        })
        .collect();
    let public = |code: &str| {
        ctx.promotions
            .iter()
            .any(|p| matches!(&p.conditions.coupon, Some(CouponRule::Code(c)) if c == code))
    };
    receipt
        .coupons
        .iter()
        .map(|code| {
            let reason = if used.contains(&code.as_str()) {
                None
            } else if let Some(rejection) = ctx.coupon_rejections.get(code) {
                Some(rejection.reason.clone())
            } else if ctx.coupon_series.contains_key(code) || public(code) {
                Some("not_applicable".to_string())
            } else {
                Some("unknown".to_string())
            };
            CouponResult {
                code: code.clone(),
                status: if reason.is_none() {
                    "applied"
                } else {
                    "rejected"
                }
                .to_string(),
                reason,
            }
        })
        .collect()
}

/// Adds a line at price 0 (a gift, or extra units), numbered after the last line.
fn add_line<'c>(
    ctx: &PricingContext<'c>,
    lines: &mut Vec<PricedLine>,
    products: &mut Vec<Option<&'c Product>>,
    sku: &str,
    qty: i64,
    promotion_id: &str,
) {
    let line = lines.iter().map(|l| l.line).max().unwrap_or(0) + 1;
    lines.push(PricedLine {
        line,
        sku: sku.to_string(),
        qty,
        price: 0,
        amount: 0,
        discount: 0,
        points_redeemed: 0,
        points_paid: 0,
        certificate_paid: 0,
        total: 0,
        points_earned: 0,
        promotions: vec![promotion_id.to_string()],
        added_by: Some(promotion_id.to_string()),
    });
    products.push(ctx.products.get(sku));
}

/// The winner of each promotion group: the candidate worth most to the customer
/// (its discounts plus its points times the point value, each promotion evaluated
/// alone on the undiscounted receipt); ties go to the higher priority, then the lower id.
fn group_winners<'p>(
    ctx: &PricingContext<'_>,
    candidates: &[&'p Promotion],
    lines: &[PricedLine],
    products: &[Option<&Product>],
    customer: Option<&CustomerView>,
) -> HashMap<&'p str, String> {
    let mut best: HashMap<&'p str, (i128, &'p Promotion)> = HashMap::new();
    let mut sizes: HashMap<&'p str, usize> = HashMap::new();
    for group in candidates.iter().filter_map(|p| p.group.as_deref()) {
        *sizes.entry(group).or_default() += 1;
    }
    // One copy of the receipt for every candidate evaluated alone, set back to the
    // undiscounted lines before each (keeping the strings' room).
    let mut alone: Vec<PricedLine> = Vec::new();
    let mut alone_products: Vec<Option<&Product>> = Vec::new();
    let (mut applied, mut earn_rules, mut messages, mut receipt_messages, mut rewards) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for promotion in candidates {
        let Some(group) = promotion.group.as_deref() else {
            continue;
        };
        // A group of one has its winner without evaluating it.
        if sizes.get(group) == Some(&1) {
            best.insert(group, (0, promotion));
            continue;
        }
        alone.truncate(lines.len());
        for (copy, line) in alone.iter_mut().zip(lines) {
            copy.clone_from(line);
        }
        alone.extend_from_slice(&lines[alone.len()..]);
        alone_products.clear();
        alone_products.extend_from_slice(products);
        applied.clear();
        earn_rules.clear();
        messages.clear();
        receipt_messages.clear();
        rewards.clear();
        let mut outcome = EffectOutcome {
            applied: &mut applied,
            earn_rules: &mut earn_rules,
            messages: &mut messages,
            receipt_messages: &mut receipt_messages,
            rewards: &mut rewards,
        };
        apply_effects(
            ctx,
            promotion,
            &mut alone,
            &mut alone_products,
            customer,
            &mut outcome,
        );
        let discount: i128 = alone.iter().map(|l| l.discount as i128).sum();
        let paid: Vec<Money> = alone.iter().map(net).collect();
        let points: i128 = earn_rules
            .iter()
            .map(|rule| {
                let base: i128 = select(&alone, &alone_products, rule.items)
                    .iter()
                    .map(|&idx| paid[idx] as i128)
                    .sum();
                match rule.kind {
                    EarnKind::Percent(p) => div_floor(
                        base * p.0 as i128,
                        Percent::WHOLE as i128 * ctx.program.point_value as i128,
                    ),
                    EarnKind::PerAmount { per_amount, points } => {
                        div_floor(base, per_amount as i128) * points as i128
                    }
                    EarnKind::Multiplier(_) => 0,
                }
            })
            .sum();
        // Bonus points count like earned points; a certificate counts at its amount.
        let rewarded: i128 = rewards
            .iter()
            .map(|r| match r.kind {
                RewardKind::BonusPoints { points, .. } => {
                    points as i128 * ctx.program.point_value as i128
                }
                RewardKind::Certificate { amount, .. } => amount as i128,
                _ => 0,
            })
            .sum();
        let value = discount + points * ctx.program.point_value as i128 + rewarded;
        let better = |current: &(i128, &Promotion)| {
            value > current.0
                || (value == current.0 && Promotion::evaluation_order(promotion, current.1).is_lt())
        };
        if best.get(group).is_none_or(better) {
            best.insert(group, (value, promotion));
        }
    }
    best.into_iter()
        .map(|(group, (_, promotion))| (group, promotion.promotion_id.clone()))
        .collect()
}

/// The `bundle_price` discount and how to spread it (one weight per line). Complete
/// bundles take, for each component in order, the most expensive whole units its items
/// select that no earlier component took; a bundle's discount is what its units cost
/// (at their current net price) less `price`, never below zero.
fn bundle_price(
    lines: &[PricedLine],
    products: &[Option<&Product>],
    bundle: &[BundleComponent],
    price: Money,
    per_receipt: Option<i64>,
) -> (Money, Vec<Money>) {
    let mut free: Vec<i64> = lines.iter().map(|l| l.qty / QTY_SCALE).collect();
    // For each component, the units it reserved, most expensive first: (line, units).
    let mut picks: Vec<Vec<(usize, i64)>> = Vec::with_capacity(bundle.len());
    let mut sets = i64::MAX;
    for component in bundle {
        let mut order: Vec<usize> = (0..lines.len())
            .filter(|&i| free[i] > 0 && component.items.matches(&lines[i].sku, products[i]))
            .collect();
        order.sort_by(|&a, &b| {
            (net(&lines[b]) as i128 * lines[a].qty as i128)
                .cmp(&(net(&lines[a]) as i128 * lines[b].qty as i128))
                .then(a.cmp(&b))
        });
        let available: i64 = order.iter().map(|&i| free[i]).sum();
        sets = sets.min(available / component.qty as i64);
        // Reserve what this component can use, so overlapping components never count a
        // unit twice.
        let mut need = (available / component.qty as i64) * component.qty as i64;
        let mut reserved = Vec::new();
        for i in order {
            let take = free[i].min(need);
            if take > 0 {
                free[i] -= take;
                need -= take;
                reserved.push((i, take));
            }
        }
        picks.push(reserved);
    }
    let mut weights = vec![0; lines.len()];
    if sets <= 0 || sets == i64::MAX {
        return (0, weights);
    }
    let sets = sets.min(per_receipt.unwrap_or(i64::MAX));
    let mut value: i128 = 0;
    for (component, reserved) in bundle.iter().zip(&picks) {
        let mut need = sets * component.qty as i64;
        for &(i, units) in reserved {
            let take = units.min(need);
            need -= take;
            let part = div_round_half_even(
                net(&lines[i]) as i128 * take as i128 * QTY_SCALE as i128,
                lines[i].qty as i128,
            );
            weights[i] = (weights[i] + to_i64(part)).min(net(&lines[i]));
            value += part;
        }
    }
    let discount = to_i64(value - sets as i128 * price as i128)
        .max(0)
        .min(weights.iter().sum());
    (discount, weights)
}

/// The `buy_get` discount and how to spread it. With `k` complete sets of
/// `buy + get` whole units, the `k * get` cheapest units (by current net unit price) get
/// `percent` off, and the discount is spread over the `k * (buy + get)` cheapest units
/// in proportion to their value. Returns the discount and one weight per selected line.
fn buy_get(
    lines: &[PricedLine],
    selected: &[usize],
    buy: u32,
    get: u32,
    percent: Percent,
    per_receipt: Option<i64>,
) -> (Money, Vec<Money>) {
    let units: Vec<i64> = selected
        .iter()
        .map(|&idx| lines[idx].qty / QTY_SCALE)
        .collect();
    let set = (buy + get) as i64;
    let sets = (units.iter().sum::<i64>() / set).min(per_receipt.unwrap_or(i64::MAX));
    let mut weights = vec![0; selected.len()];
    if sets == 0 {
        return (0, weights);
    }
    // Cheapest unit first: compare net_a / qty_a with net_b / qty_b exactly.
    let mut order: Vec<usize> = (0..selected.len()).filter(|&i| units[i] > 0).collect();
    order.sort_by(|&a, &b| {
        let (la, lb) = (&lines[selected[a]], &lines[selected[b]]);
        (net(la) as i128 * lb.qty as i128)
            .cmp(&(net(lb) as i128 * la.qty as i128))
            .then(a.cmp(&b))
    });
    let (mut to_discount, mut to_spread) = (sets * get as i64, sets * set);
    let mut discount: i128 = 0;
    for i in order {
        let line = &lines[selected[i]];
        let discounted = units[i].min(to_discount);
        let spread = units[i].min(to_spread);
        to_discount -= discounted;
        to_spread -= spread;
        let unit_value = |n: i64| net(line) as i128 * n as i128 * QTY_SCALE as i128;
        discount += div_round_half_even(
            unit_value(discounted) * percent.0 as i128,
            line.qty as i128 * Percent::WHOLE as i128,
        );
        weights[i] =
            to_i64(div_round_half_even(unit_value(spread), line.qty as i128)).min(net(line));
    }
    (to_i64(discount).min(weights.iter().sum()), weights)
}

/// The `fixed_price` discount: each selected unit costs `price` where it cost more.
/// With a `per_receipt` cap only that many whole units get it, those saving the most
/// first (ties by line order). Returns the discount given.
fn fixed_price(
    lines: &mut [PricedLine],
    selected: Vec<usize>,
    price: Money,
    per_receipt: Option<i64>,
    promotion_id: &str,
) -> Money {
    let target = |qty: i64| {
        to_i64(div_round_half_even(
            price as i128 * qty as i128,
            QTY_SCALE as i128,
        ))
    };
    let Some(cap) = per_receipt else {
        let mut total = 0;
        for idx in selected {
            let discount = (net(&lines[idx]) - target(lines[idx].qty)).max(0);
            total += discount_lines(lines, &[idx], discount, promotion_id);
        }
        return total;
    };
    // Largest saving per unit first: compare net_a / qty_a with net_b / qty_b exactly.
    let mut order = selected;
    order.sort_by(|&a, &b| {
        (net(&lines[b]) as i128 * lines[a].qty as i128)
            .cmp(&(net(&lines[a]) as i128 * lines[b].qty as i128))
            .then(a.cmp(&b))
    });
    let mut units_left = cap;
    let mut total = 0;
    for idx in order {
        let units = (lines[idx].qty / QTY_SCALE).min(units_left);
        if units <= 0 {
            continue;
        }
        units_left -= units;
        let line = &lines[idx];
        let value = to_i64(div_round_half_even(
            net(line) as i128 * units as i128 * QTY_SCALE as i128,
            line.qty as i128,
        ));
        let discount = (value - target(units * QTY_SCALE)).max(0);
        total += discount_lines(lines, &[idx], discount, promotion_id);
    }
    total
}

/// Spreads `discount` over the selected lines by `weights` (each at most the line's net,
/// and `discount` at most their sum). Returns it.
fn discount_by_weights(
    lines: &mut [PricedLine],
    selected: &[usize],
    discount: Money,
    weights: &[Money],
    promotion_id: &str,
) -> Money {
    if discount <= 0 {
        return 0;
    }
    for (share, &idx) in allocate(discount, weights).iter().zip(selected) {
        lines[idx].discount += share;
        if *share > 0 {
            mark(&mut lines[idx], promotion_id);
        }
    }
    discount
}

/// Spreads `discount` over the selected lines in proportion to their net amounts
/// (never more than a line's net, as `discount` is at most their sum). Returns it.
fn discount_lines(
    lines: &mut [PricedLine],
    selected: &[usize],
    discount: Money,
    promotion_id: &str,
) -> Money {
    let bases: Vec<Money> = selected.iter().map(|&idx| net(&lines[idx])).collect();
    discount_by_weights(lines, selected, discount, &bases, promotion_id)
}

fn net(line: &PricedLine) -> Money {
    line.amount - line.discount
}

fn mark(line: &mut PricedLine, promotion_id: &str) {
    if !line.promotions.iter().any(|p| p == promotion_id) {
        line.promotions.push(promotion_id.to_string());
    }
}

fn select(
    lines: &[PricedLine],
    products: &[Option<&Product>],
    items: Option<&ItemMatch>,
) -> Vec<usize> {
    (0..lines.len())
        .filter(|&idx| items.is_none_or(|m| m.matches(&lines[idx].sku, products[idx])))
        .collect()
}

/// Decides how many points pay for the receipt and spreads them over lines. Returns
/// the number of points redeemed.
fn redeem(
    ctx: &PricingContext<'_>,
    receipt: &ReceiptRequest,
    customer: Option<&CustomerView>,
    lines: &mut [PricedLine],
    products: &[Option<&Product>],
    messages: &mut Vec<String>,
) -> Result<Points, CoreError> {
    let Some(customer) = customer else {
        return Ok(0);
    };
    if receipt.redeem == Redeem::None {
        return Ok(0);
    }
    let point_value = ctx.program.point_value;
    let capacities: Vec<Points> = lines
        .iter()
        .zip(products)
        .map(|(line, product)| {
            if product.is_some_and(|p| p.no_points_payment) {
                0
            } else {
                net(line) / point_value
            }
        })
        .collect();
    let to_pay: i128 = lines.iter().map(|l| net(l) as i128).sum();
    let percent_cap = to_i64(div_floor(
        to_pay * ctx.program.max_redeem_percent as i128,
        100 * point_value as i128,
    ));
    let capacity = capacities.iter().sum::<Points>().min(percent_cap);
    let points = match receipt.redeem {
        Redeem::None => 0,
        Redeem::Max => {
            let points = capacity.min(customer.available.max(0));
            if points == 0 {
                messages.push("no points can pay for this receipt".to_string());
            }
            points
        }
        Redeem::Points(requested) => {
            if requested > customer.available {
                return Err(CoreError::field(
                    ErrorCode::InsufficientPoints,
                    "redeem_points",
                    format!(
                        "{requested} points requested but only {} are available",
                        customer.available.max(0)
                    ),
                ));
            }
            if requested > capacity {
                return Err(CoreError::field(
                    ErrorCode::RedeemExceedsLimit,
                    "redeem_points",
                    format!("at most {capacity} points can pay for this receipt"),
                ));
            }
            requested
        }
    };
    if lines
        .iter()
        .zip(products)
        .any(|(_, p)| p.is_some_and(|p| p.no_points_payment))
    {
        messages.push("some products on this receipt cannot be paid with points".to_string());
    }
    for (line, share) in lines.iter_mut().zip(allocate(points, &capacities)) {
        line.points_redeemed = share;
    }
    Ok(points)
}
