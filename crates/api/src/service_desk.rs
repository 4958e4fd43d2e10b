//! The service desk: staff adjustments of points and card operations (add, block,
//! unblock, replace).

use crate::actor::actor_from;
use crate::customer::BalanceSummary;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::catalog::validate_id;
use tessera_core::customer::{normalize_card, CardType};
use tessera_core::program::Program;
use tessera_core::CoreError;
use tessera_store::crm_command::{AdjustCommand, CardOperation};
use utoipa::ToSchema;

/// The largest adjustment, either way.
pub const ADJUSTMENT_MAX_POINTS: i64 = 10_000_000;
/// The longest reason of an adjustment.
pub const REASON_MAX_CHARS: usize = 500;

/// Adds points to (positive) or takes them from (negative) a customer, exactly once
/// per `idempotency_key`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentBody {
    /// Non-zero, at most 10,000,000 either way. Taken points come from the oldest
    /// lots; a customer cannot go below zero.
    pub points: i64,
    /// Why, as shown in the history (1 to 500 characters).
    pub reason: String,
    /// Chosen by the caller: a retry with the same key and body answers the same; the
    /// key with another body is `adjustment_conflict`.
    pub idempotency_key: String,
    #[serde(default)]
    pub actor: Option<String>,
    /// Default `service_desk`.
    #[serde(default)]
    pub source: Option<String>,
}

/// A stored adjustment, answered byte for byte on a retry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AdjustmentOut {
    /// The idempotency key.
    pub adjustment_id: String,
    pub customer_id: String,
    pub points: i64,
    pub reason: String,
    pub at: String,
    /// The staff member.
    pub by: Option<String>,
    /// The balance right after.
    pub balance: BalanceSummary,
}

/// A card to give a customer (a family card, a virtual card).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardAddBody {
    pub number: String,
    /// `plastic` (default), `virtual`, `family` or `social`.
    #[serde(default, rename = "type")]
    pub card_type: Option<String>,
    #[serde(default)]
    pub actor: Option<String>,
    /// Default `service_desk`.
    #[serde(default)]
    pub source: Option<String>,
}

/// The card that replaces a lost or damaged one; the balance and history stay the
/// customer's.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardReplaceBody {
    pub new_number: String,
    /// Default: the old card's type.
    #[serde(default, rename = "type")]
    pub card_type: Option<String>,
    #[serde(default)]
    pub actor: Option<String>,
    /// Default `service_desk`.
    #[serde(default)]
    pub source: Option<String>,
}

/// What the store needs of an adjustment besides the body.
pub struct AdjustContext {
    pub customer_id: String,
    pub request_hash: String,
    pub program: Program,
    pub now: DateTime<Utc>,
}

/// Validates an adjustment.
pub fn adjust_command(
    body: AdjustmentBody,
    ctx: AdjustContext,
) -> Result<AdjustCommand, CoreError> {
    if body.points == 0 || !(-ADJUSTMENT_MAX_POINTS..=ADJUSTMENT_MAX_POINTS).contains(&body.points)
    {
        return Err(CoreError::invalid(
            "points",
            format!("must be non-zero and at most {ADJUSTMENT_MAX_POINTS} either way"),
        ));
    }
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > REASON_MAX_CHARS {
        return Err(CoreError::invalid(
            "reason",
            format!("must be 1 to {REASON_MAX_CHARS} characters"),
        ));
    }
    validate_id("idempotency_key", &body.idempotency_key)?;
    Ok(AdjustCommand {
        customer_id: ctx.customer_id,
        points: body.points,
        reason: reason.to_string(),
        idempotency_key: body.idempotency_key,
        request_hash: ctx.request_hash,
        program: ctx.program,
        by: actor_from(body.actor, body.source, "service_desk")?,
        at: ctx.now,
    })
}

/// A card number, normalised, with errors naming `field`.
pub fn card_number_in(field: &str, raw: &str) -> Result<String, CoreError> {
    normalize_card(raw).map_err(|e| CoreError {
        field: Some(field.to_string()),
        ..e
    })
}

fn card_type_in(name: Option<&str>) -> Result<Option<CardType>, CoreError> {
    name.map(|name| {
        CardType::parse(name)
            .ok_or_else(|| CoreError::invalid("type", "must be plastic, virtual, family or social"))
    })
    .transpose()
}

/// The operation and actor of adding a card.
pub fn card_add_from(
    body: CardAddBody,
) -> Result<(CardOperation, tessera_store::crm_command::Actor), CoreError> {
    let operation = CardOperation::Add {
        number: card_number_in("number", &body.number)?,
        card_type: card_type_in(body.card_type.as_deref())?.unwrap_or(CardType::Plastic),
    };
    Ok((
        operation,
        actor_from(body.actor, body.source, "service_desk")?,
    ))
}

/// The operation and actor of replacing card `number` (from the path, normalised).
pub fn card_replace_from(
    number: String,
    body: CardReplaceBody,
) -> Result<(CardOperation, tessera_store::crm_command::Actor), CoreError> {
    let operation = CardOperation::Replace {
        number,
        new_number: card_number_in("new_number", &body.new_number)?,
        card_type: card_type_in(body.card_type.as_deref())?,
    };
    Ok((
        operation,
        actor_from(body.actor, body.source, "service_desk")?,
    ))
}
