//! Status levels (tiers): a program's ladder of levels, qualification by a rolling sum
//! of spend or points earned, the downgrade policy, and how a promotion's
//! `set_tier` grant combines with the tier a customer has earned.
//!
//! Choices made here:
//! - **The lowest level has threshold 0**, so every customer holds some level and a
//!   rolling sum below zero (returns outweighing purchases) qualifies for the lowest.
//! - **The rolling window is `(now − window_days, now]`**: an event exactly
//!   `window_days` old has left it. Events after `now` are not counted yet. Returns
//!   and cancels are negative events at their own time, so the sum can also *rise*
//!   when a return leaves the window.
//! - **Evaluation replays time.** [`TierState`] records `evaluated_at`, and
//!   [`evaluate`] runs the rules at every instant in `(evaluated_at, now]` at which
//!   something can happen (an event enters or leaves the window, a grace period or a
//!   period ends), as if the customer had been evaluated continuously. So evaluating
//!   daily, on every commit, or once after a long pause gives the same state, and no
//!   period end is missed. Without a stored state the replay starts at the lowest
//!   level (with no `reached_at`: it was never reached by a change, which keeps the
//!   state independent of when the first evaluation ran) before the earliest given
//!   event; to start a customer from the current rolling sum alone, pass only the
//!   events of one window.
//! - **Upgrades are immediate** to the highest level the sum qualifies for; a
//!   downgrade goes to the level qualified for at that instant, skipping levels.
//!   `never` keeps a level for good (even one reached by a purchase later returned);
//!   `at_period_end` checks the sum only at the ends of periods of `period_months`
//!   UTC calendar months counted from `reached_at`; `after_grace_days` downgrades
//!   once the sum has been below the level continuously for `days` days (0: at once).
//! - **`reevaluate_at` is exact**: the first instant after `now` at which the tier
//!   would change with no new event, found by running the same rules forward, or none.
//! - **Stale or unknown tiers.** A stored tier that is no longer a level counts as
//!   below every level (the customer re-qualifies, reported as an upgrade). An
//!   evaluation dated before the state's `evaluated_at` is made at `evaluated_at`:
//!   time does not run backwards.
//! - **Grants.** A `set_tier` grant in force lifts the tier to the higher of the two
//!   ([`effective_tier`]); a grant naming a tier that is not a level is its own value
//!   and wins while in force, since a promotion set it on purpose (a `staff` tier).
//!
//! Sums are kept in `i128` (saturating), which no number of `i64` amounts can
//! overflow, and shown as `i64`, saturated.

mod history;
mod machine;

pub use history::{events_after, TierEvent, TierHistory, TierRecord, TierStanding};

use crate::catalog::validate_id;
use crate::customer::TierGrant;
use crate::error::CoreError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most levels a program may have.
pub const MAX_LEVELS: usize = 100;
/// The longest rolling window, in days.
pub const MAX_WINDOW_DAYS: u32 = 3650;
/// The longest `at_period_end` period, in months.
pub const MAX_PERIOD_MONTHS: u32 = 120;
/// The longest `after_grace_days` grace period, in days.
pub const MAX_GRACE_DAYS: u32 = 3650;

/// A program's tier settings: the levels, what qualifies for them, and how they are lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierProgram {
    /// The levels from the lowest to the highest.
    pub levels: Vec<TierLevel>,
    /// What the rolling sum adds up.
    pub metric: TierMetric,
    /// The length of the rolling window in days.
    #[serde(default = "default_window_days")]
    pub window_days: u32,
    /// When a customer whose sum fell below their level loses it.
    pub downgrade: DowngradePolicy,
}

fn default_window_days() -> u32 {
    365
}

/// One level: its id and the rolling sum that qualifies for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierLevel {
    /// The tier id promotions' audiences and discount matrices name.
    pub id: String,
    /// The least rolling sum that qualifies, in the program's metric.
    pub threshold: i64,
}

/// What qualifying events measure; the caller builds [`QualifyingEvent`]s in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierMetric {
    /// Net money spent, in minor units.
    Spend,
    /// Points earned.
    PointsEarned,
}

/// When a customer whose rolling sum fell below their level's threshold loses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum DowngradePolicy {
    /// A level once reached is kept.
    Never,
    /// The sum is checked at the end of each period of `period_months` counted from
    /// when the level was reached.
    AtPeriodEnd { period_months: u32 },
    /// The level is lost after the sum has stayed below it for `days` days.
    AfterGraceDays { days: u32 },
}

/// A receipt's contribution to the rolling sum at its time: net spend or points
/// earned; a return or cancel is a negative amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QualifyingEvent {
    /// When the receipt, return or cancel happened.
    pub at: DateTime<Utc>,
    /// Its amount in the program's metric, negative for a return or cancel.
    pub amount: i64,
}

/// What is stored per customer between evaluations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierState {
    /// The level held.
    pub tier: String,
    /// When the level was reached (periods of `at_period_end` count from here);
    /// none for the lowest level held since the first evaluation.
    pub reached_at: Option<DateTime<Utc>>,
    /// Since when the sum has been continuously below the level, if it is.
    pub below_since: Option<DateTime<Utc>>,
    /// The instant this state is as of.
    pub evaluated_at: DateTime<Utc>,
}

/// How an evaluation changed the level held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierChange {
    /// A higher level (or a level instead of one the program no longer has).
    Upgrade,
    /// A lower level.
    Downgrade,
    /// The same level.
    Unchanged,
}

/// How far a customer is from the next level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The level above the one held.
    pub next_tier: String,
    /// The rolling sum now.
    pub value: i64,
    /// The next level's threshold.
    pub threshold: i64,
    /// What the sum still lacks.
    pub remaining: i64,
}

/// The outcome of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierEvaluation {
    /// The state to store.
    pub state: TierState,
    /// The level the rolling sum qualifies for now, whatever the policy.
    pub qualified: String,
    /// The held level compared with the previous state's (none: the lowest level).
    pub change: TierChange,
    /// Progress to the level above the one held; none at the top.
    pub progress: Option<Progress>,
    /// The first instant after now at which the level would change with no new
    /// event; none if it never would.
    pub reevaluate_at: Option<DateTime<Utc>>,
}

impl TierProgram {
    /// Checks the settings, naming the field at fault.
    pub fn validate(&self) -> Result<(), CoreError> {
        if self.levels.is_empty() || self.levels.len() > MAX_LEVELS {
            return Err(CoreError::invalid(
                "levels",
                format!("must have 1 to {MAX_LEVELS} levels"),
            ));
        }
        for (idx, level) in self.levels.iter().enumerate() {
            let field = |name: &str| format!("levels[{idx}].{name}");
            validate_id(&field("id"), &level.id)?;
            if let Some(first) = self.levels[..idx].iter().position(|l| l.id == level.id) {
                return Err(CoreError::invalid(
                    field("id"),
                    format!("duplicates levels[{first}].id"),
                ));
            }
            match idx.checked_sub(1).and_then(|prev| self.levels.get(prev)) {
                None if level.threshold != 0 => {
                    return Err(CoreError::invalid(
                        field("threshold"),
                        "must be 0: every customer holds at least the lowest level",
                    ))
                }
                Some(prev) if level.threshold <= prev.threshold => {
                    return Err(CoreError::invalid(
                        field("threshold"),
                        format!(
                            "must be greater than levels[{}].threshold",
                            idx.saturating_sub(1)
                        ),
                    ))
                }
                _ => {}
            }
        }
        if !(1..=MAX_WINDOW_DAYS).contains(&self.window_days) {
            return Err(CoreError::invalid(
                "window_days",
                format!("must be between 1 and {MAX_WINDOW_DAYS}"),
            ));
        }
        match self.downgrade {
            DowngradePolicy::AtPeriodEnd { period_months }
                if !(1..=MAX_PERIOD_MONTHS).contains(&period_months) =>
            {
                Err(CoreError::invalid(
                    "downgrade.period_months",
                    format!("must be between 1 and {MAX_PERIOD_MONTHS}"),
                ))
            }
            DowngradePolicy::AfterGraceDays { days } if days > MAX_GRACE_DAYS => {
                Err(CoreError::invalid(
                    "downgrade.days",
                    format!("must be at most {MAX_GRACE_DAYS}"),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The position of `tier` among the levels (0 is the lowest), if it is one.
    pub fn rank(&self, tier: &str) -> Option<usize> {
        self.levels.iter().position(|l| l.id == tier)
    }

    /// The position of the highest level `value` qualifies for (the lowest if none).
    fn rank_for(&self, value: i128) -> usize {
        self.levels
            .iter()
            .rposition(|l| i128::from(l.threshold) <= value)
            .unwrap_or(0)
    }

    /// The id of the level at `rank` (empty only for a program with no levels).
    fn id_at(&self, rank: usize) -> String {
        self.levels
            .get(rank)
            .map(|l| l.id.clone())
            .unwrap_or_default()
    }
}

/// Evaluates a customer's tier at `now` from the stored `state` (none: never
/// evaluated) and their qualifying events. The events must include every one in
/// `(state.evaluated_at − window_days, now]` (all of them without a state); others
/// change nothing. The program should have passed [`TierProgram::validate`]; on one
/// that has not, the result is unspecified but nothing panics.
pub fn evaluate(
    program: &TierProgram,
    state: Option<&TierState>,
    events: &[QualifyingEvent],
    now: DateTime<Utc>,
) -> TierEvaluation {
    let now = state.map_or(now, |s| s.evaluated_at.max(now));
    let mut machine = machine::Machine::new(program, state, events, now);
    machine.run_until(now);
    let new_state = machine.state(now);
    let qualified = program.id_at(machine.qualified());
    let rank = machine.rank();
    let prior = match state {
        None => Some(0),
        Some(s) => program.rank(&s.tier),
    };
    let change = match prior {
        Some(prior) if prior == rank => TierChange::Unchanged,
        Some(prior) if prior > rank => TierChange::Downgrade,
        _ => TierChange::Upgrade,
    };
    let progress = program.levels.get(rank.saturating_add(1)).map(|next| {
        let value = machine.value();
        Progress {
            next_tier: next.id.clone(),
            value,
            threshold: next.threshold,
            remaining: next.threshold.saturating_sub(value),
        }
    });
    let reevaluate_at = machine.next_change();
    TierEvaluation {
        state: new_state,
        qualified,
        change,
        progress,
        reevaluate_at,
    }
}

/// The tier a customer has at `at`: the level `held` by qualification, lifted by a
/// promotion's grant while it is in force (`granted_at <= at < until`) to the higher
/// of the two. A grant naming a tier that is not a level is its own value and wins
/// while in force; so does any grant in force when `held` is not a level.
pub fn effective_tier(
    program: &TierProgram,
    held: &str,
    grant: Option<&TierGrant>,
    at: DateTime<Utc>,
) -> String {
    let in_force = grant.filter(|g| g.granted_at <= at && g.until.is_none_or(|until| at < until));
    match in_force {
        None => held.to_string(),
        Some(grant) => match (program.rank(&grant.tier), program.rank(held)) {
            (Some(granted), Some(held_rank)) if held_rank >= granted => held.to_string(),
            _ => grant.tier.clone(),
        },
    }
}
