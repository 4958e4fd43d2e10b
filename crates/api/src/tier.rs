//! Wire types of status levels (tiers): the program's `tiers` setting and what a
//! customer's view shows of their tier, with the conversions to and from the core.

use crate::convert::time_out;
use serde::{Deserialize, Serialize};
use tessera_core::tier::{DowngradePolicy, TierLevel, TierMetric, TierProgram, TierStanding};
use tessera_core::CoreError;
use utoipa::ToSchema;

/// Status levels earned by a rolling sum; see docs/tiers.md.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierProgramBody {
    /// The levels from the lowest to the highest; the lowest has threshold 0 and every
    /// threshold is greater than the one before.
    pub levels: Vec<TierLevelBody>,
    /// `spend`: net money paid (a receipt's `to_pay`), minor units; `points_earned`:
    /// the points receipts earn. Returns and cancels count negatively.
    pub metric: TierMetricBody,
    /// The rolling window in days (1 to 3650). Default 365.
    #[serde(default)]
    pub window_days: Option<u32>,
    /// When a customer whose sum fell below their level loses it.
    pub downgrade: DowngradeBody,
}

/// One level.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierLevelBody {
    /// The id promotions' `audience.tiers` and discount matrix rows name.
    pub id: String,
    /// The least rolling sum that qualifies, in the metric's unit.
    pub threshold: i64,
}

/// What the rolling sum adds up.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TierMetricBody {
    Spend,
    PointsEarned,
}

/// `never`: a level once reached is kept; `at_period_end`: the sum is checked at the
/// end of each period of `period_months` (1 to 120) counted from when the level was
/// reached; `after_grace_days`: the level is lost once the sum has stayed below it for
/// `days` days (0 to 3650; 0: at once).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DowngradeBody {
    Never,
    AtPeriodEnd { period_months: u32 },
    AfterGraceDays { days: u32 },
}

/// The level a customer holds by qualification.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EarnedTierOut {
    pub tier: String,
    /// RFC 3339; null: the lowest level, held from the start.
    pub reached_at: Option<String>,
}

/// How far a customer is from the next level.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TierProgressOut {
    pub next_tier: String,
    /// The rolling sum now, in the metric's unit.
    pub value: i64,
    /// The next level's threshold.
    pub threshold: i64,
    /// What the sum still lacks.
    pub remaining: i64,
}

/// Checks the wire settings into the core's (field paths under `tiers.`).
pub fn tier_program_from(body: TierProgramBody) -> Result<TierProgram, CoreError> {
    let program = TierProgram {
        levels: body
            .levels
            .into_iter()
            .map(|l| TierLevel {
                id: l.id,
                threshold: l.threshold,
            })
            .collect(),
        metric: match body.metric {
            TierMetricBody::Spend => TierMetric::Spend,
            TierMetricBody::PointsEarned => TierMetric::PointsEarned,
        },
        window_days: body.window_days.unwrap_or(365),
        downgrade: match body.downgrade {
            DowngradeBody::Never => DowngradePolicy::Never,
            DowngradeBody::AtPeriodEnd { period_months } => {
                DowngradePolicy::AtPeriodEnd { period_months }
            }
            DowngradeBody::AfterGraceDays { days } => DowngradePolicy::AfterGraceDays { days },
        },
    };
    program.validate().map_err(|e| e.within("tiers"))?;
    Ok(program)
}

/// The settings as stored.
pub fn tier_program_out(program: &TierProgram) -> TierProgramBody {
    TierProgramBody {
        levels: program
            .levels
            .iter()
            .map(|l| TierLevelBody {
                id: l.id.clone(),
                threshold: l.threshold,
            })
            .collect(),
        metric: match program.metric {
            TierMetric::Spend => TierMetricBody::Spend,
            TierMetric::PointsEarned => TierMetricBody::PointsEarned,
        },
        window_days: Some(program.window_days),
        downgrade: match program.downgrade {
            DowngradePolicy::Never => DowngradeBody::Never,
            DowngradePolicy::AtPeriodEnd { period_months } => {
                DowngradeBody::AtPeriodEnd { period_months }
            }
            DowngradePolicy::AfterGraceDays { days } => DowngradeBody::AfterGraceDays { days },
        },
    }
}

/// What a customer's view shows of their tier standing.
pub struct TierShown {
    pub effective_tier: String,
    pub earned_tier: EarnedTierOut,
    pub tier_progress: Option<TierProgressOut>,
    pub tier_reevaluate_at: Option<String>,
}

/// The standing as the customer's view shows it.
pub fn tier_shown(standing: &TierStanding) -> TierShown {
    TierShown {
        effective_tier: standing.effective.clone(),
        earned_tier: EarnedTierOut {
            tier: standing.held.clone(),
            reached_at: standing.reached_at.map(time_out),
        },
        tier_progress: standing.progress.as_ref().map(|p| TierProgressOut {
            next_tier: p.next_tier.clone(),
            value: p.value,
            threshold: p.threshold,
            remaining: p.remaining,
        }),
        tier_reevaluate_at: standing.reevaluate_at.map(time_out),
    }
}
