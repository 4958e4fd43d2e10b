//! A customer's stored tier record and qualifying events, as the store keeps them, and
//! the evaluations made from them: at a receipt's time for pricing, after a receipt,
//! return or cancel for the record to store, and at any instant for showing.
//!
//! Events are stored in both metrics (net spend and points earned), so a program that
//! switches its metric needs no backfill.

use super::{
    effective_tier, evaluate, Progress, QualifyingEvent, TierEvaluation, TierMetric, TierProgram,
    TierState,
};
use crate::customer::TierGrant;
use chrono::{DateTime, TimeDelta, Utc};

/// A receipt's, return's or cancel's contribution to the rolling sum, in both metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierEvent {
    /// When the receipt, return or cancel happened.
    pub at: DateTime<Utc>,
    /// Net money spent in minor units (a receipt's `to_pay`; minus the money refunded).
    pub spend: i64,
    /// Points earned (a receipt's `points_earned`; minus the points reversed).
    pub points_earned: i64,
}

impl TierEvent {
    /// The event in the program's metric.
    pub fn in_metric(&self, metric: TierMetric) -> QualifyingEvent {
        QualifyingEvent {
            at: self.at,
            amount: match metric {
                TierMetric::Spend => self.spend,
                TierMetric::PointsEarned => self.points_earned,
            },
        }
    }

    /// Whether it changes no sum (such an event is not stored).
    pub fn is_zero(&self) -> bool {
        self.spend == 0 && self.points_earned == 0
    }
}

/// What is stored per customer: the state and when it next needs evaluating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierRecord {
    pub state: TierState,
    /// The first instant after `state.evaluated_at` at which the level would change with
    /// no new event (the daily job's index); none if it never would.
    pub reevaluate_at: Option<DateTime<Utc>>,
}

/// A customer's stored record (none: never evaluated) with the events an evaluation
/// of it needs: every one after [`events_after`] of the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierHistory {
    pub record: Option<TierRecord>,
    pub events: Vec<TierEvent>,
}

/// A customer's tier as shown at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierStanding {
    /// The level held by qualification.
    pub held: String,
    /// When it was reached (none: the lowest level, held from the start).
    pub reached_at: Option<DateTime<Utc>>,
    /// The tier promotions see: `held` lifted by a `set_tier` grant in force.
    pub effective: String,
    /// Progress to the level above `held`; none at the top.
    pub progress: Option<Progress>,
    /// When the held level next changes with no new event; none if it never would.
    pub reevaluate_at: Option<DateTime<Utc>>,
}

/// The instant after which a store must load events to evaluate from `state`:
/// `evaluated_at − window_days`; none (every event) without a state.
pub fn events_after(state: Option<&TierState>, window_days: u32) -> Option<DateTime<Utc>> {
    let state = state?;
    let window = TimeDelta::try_days(i64::from(window_days)).unwrap_or(TimeDelta::MAX);
    Some(
        state
            .evaluated_at
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
    )
}

impl TierHistory {
    /// Evaluates at `at` (not before the record's `evaluated_at`: time does not run
    /// backwards).
    pub fn evaluate(&self, program: &TierProgram, at: DateTime<Utc>) -> TierEvaluation {
        let events: Vec<QualifyingEvent> = self
            .events
            .iter()
            .map(|e| e.in_metric(program.metric))
            .collect();
        evaluate(program, self.record.as_ref().map(|r| &r.state), &events, at)
    }

    /// The record to store after an evaluation at `at`.
    pub fn record_at(&self, program: &TierProgram, at: DateTime<Utc>) -> TierRecord {
        let evaluation = self.evaluate(program, at);
        TierRecord {
            state: evaluation.state,
            reevaluate_at: evaluation.reevaluate_at,
        }
    }

    /// The tier a receipt at `at` is priced with: the level held then, lifted by a
    /// `set_tier` grant in force ([`effective_tier`]). The receipt's own event is not
    /// in the history yet, so it counts from the next receipt on.
    pub fn priced_tier(
        &self,
        program: &TierProgram,
        grant: Option<&TierGrant>,
        at: DateTime<Utc>,
    ) -> String {
        let held = self.evaluate(program, at).state.tier;
        effective_tier(program, &held, grant, at)
    }

    /// The customer's standing at `at`, computed without storing anything.
    pub fn standing(
        &self,
        program: &TierProgram,
        grant: Option<&TierGrant>,
        at: DateTime<Utc>,
    ) -> TierStanding {
        let evaluation = self.evaluate(program, at);
        let effective = effective_tier(program, &evaluation.state.tier, grant, at);
        TierStanding {
            effective,
            held: evaluation.state.tier,
            reached_at: evaluation.state.reached_at,
            progress: evaluation.progress,
            reevaluate_at: evaluation.reevaluate_at,
        }
    }

    /// The history with `event` added (a zero event is left out).
    pub fn with(mut self, event: &TierEvent) -> Self {
        if !event.is_zero() {
            self.events.push(*event);
        }
        self
    }
}
