//! The tier rules run over time. The rolling sum only changes when an event enters or
//! leaves the window, and the policy only acts at the end of a grace period or of a
//! period, so running the rules at those instants alone is the same as running them
//! continuously.

use super::{DowngradePolicy, QualifyingEvent, TierProgram, TierState};
use chrono::{DateTime, Datelike, Months, TimeDelta, Utc};

/// A customer's tier state at one instant, with the rolling sum's changes to come.
pub(super) struct Machine<'a> {
    program: &'a TierProgram,
    /// `+amount` when an event enters the window and `−amount` when it leaves, by time.
    deltas: Vec<(DateTime<Utc>, i128)>,
    /// How many of `deltas` `sum` holds.
    applied: usize,
    sum: i128,
    rank: usize,
    reached_at: Option<DateTime<Utc>>,
    below_since: Option<DateTime<Utc>>,
    /// The last instant the rules ran at (none: before every event).
    at: Option<DateTime<Utc>>,
}

impl<'a> Machine<'a> {
    /// The machine as of the stored state (none: at the lowest level before every
    /// event), knowing the events up to `now`.
    pub(super) fn new(
        program: &'a TierProgram,
        state: Option<&TierState>,
        events: &[QualifyingEvent],
        now: DateTime<Utc>,
    ) -> Self {
        let window = TimeDelta::try_days(i64::from(program.window_days));
        let mut deltas = Vec::with_capacity(events.len().saturating_mul(2));
        for event in events.iter().filter(|e| e.at <= now) {
            deltas.push((event.at, i128::from(event.amount)));
            // The window is (t − window, t]: an event leaves it exactly `window` later.
            if let Some(leaves) = window.and_then(|w| event.at.checked_add_signed(w)) {
                deltas.push((leaves, -i128::from(event.amount)));
            }
        }
        deltas.sort_by_key(|(at, _)| *at);
        let mut machine = Machine {
            program,
            applied: 0,
            sum: 0,
            rank: 0,
            reached_at: None,
            below_since: None,
            at: None,
            deltas,
        };
        if let Some(state) = state {
            machine.rank = program.rank(&state.tier).unwrap_or(0);
            machine.reached_at = state.reached_at;
            machine.below_since = state.below_since;
            machine.at = Some(state.evaluated_at);
            machine.apply_through(state.evaluated_at);
        }
        machine
    }

    /// Runs the rules at every instant something can happen before `now`, then at `now`.
    pub(super) fn run_until(&mut self, now: DateTime<Utc>) {
        while let Some(t) = self.next_instant().filter(|t| *t < now) {
            self.apply_through(t);
            self.step(t);
        }
        self.apply_through(now);
        self.step(now);
    }

    /// Runs on with no new event until the level changes: the instant it does.
    pub(super) fn next_change(mut self) -> Option<DateTime<Utc>> {
        let rank = self.rank;
        while let Some(t) = self.next_instant() {
            self.apply_through(t);
            self.step(t);
            if self.rank != rank {
                return Some(t);
            }
        }
        None
    }

    /// The state to store.
    pub(super) fn state(&self, evaluated_at: DateTime<Utc>) -> TierState {
        TierState {
            tier: self.program.id_at(self.rank),
            reached_at: self.reached_at,
            below_since: self.below_since,
            evaluated_at,
        }
    }

    /// The position of the level held.
    pub(super) fn rank(&self) -> usize {
        self.rank
    }

    /// The position of the level the rolling sum qualifies for.
    pub(super) fn qualified(&self) -> usize {
        self.program.rank_for(self.sum)
    }

    /// The rolling sum, saturated to `i64`.
    pub(super) fn value(&self) -> i64 {
        i64::try_from(self.sum).unwrap_or(if self.sum < 0 { i64::MIN } else { i64::MAX })
    }

    fn apply_through(&mut self, t: DateTime<Utc>) {
        while let Some(&(at, delta)) = self.deltas.get(self.applied) {
            if at > t {
                break;
            }
            self.sum = self.sum.saturating_add(delta);
            self.applied += 1;
        }
    }

    /// The next instant after the last run at which the sum changes or the policy acts.
    fn next_instant(&self) -> Option<DateTime<Utc>> {
        let delta = self.deltas.get(self.applied).map(|(at, _)| *at);
        match (delta, self.policy_instant()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the policy next acts on a customer below their level.
    fn policy_instant(&self) -> Option<DateTime<Utc>> {
        let below = self.below_since?;
        let after = self.at?;
        let due = match self.program.downgrade {
            DowngradePolicy::Never => None,
            DowngradePolicy::AfterGraceDays { days } => grace_end(below, days),
            DowngradePolicy::AtPeriodEnd { period_months } => {
                let next = after.checked_add_signed(TimeDelta::nanoseconds(1))?;
                period_end_at_or_after(self.reached_at?, period_months, next)
            }
        };
        due.filter(|t| *t > after)
    }

    /// Applies the rules at `t`: upgrade at once, note when the sum fell below the
    /// level, downgrade when the policy says so.
    fn step(&mut self, t: DateTime<Utc>) {
        self.at = Some(t);
        let qualified = self.qualified();
        if qualified >= self.rank {
            if qualified > self.rank {
                self.rank = qualified;
                self.reached_at = Some(t);
            }
            self.below_since = None;
            return;
        }
        let below = *self.below_since.get_or_insert(t);
        let due = match self.program.downgrade {
            DowngradePolicy::Never => false,
            DowngradePolicy::AfterGraceDays { days } => {
                grace_end(below, days).is_some_and(|end| t >= end)
            }
            DowngradePolicy::AtPeriodEnd { period_months } => self
                .reached_at
                .and_then(|reached| period_end_at_or_after(reached, period_months, t))
                .is_some_and(|end| end == t),
        };
        if due {
            self.rank = qualified;
            self.reached_at = Some(t);
            self.below_since = None;
        }
    }
}

fn grace_end(below_since: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    TimeDelta::try_days(i64::from(days)).and_then(|d| below_since.checked_add_signed(d))
}

/// The first end of a period at or after `t`: `reached_at` plus a positive multiple of
/// `months` calendar months (each counted from `reached_at`, so a 31st stays a 31st
/// where the month has one).
fn period_end_at_or_after(
    reached_at: DateTime<Utc>,
    months: u32,
    t: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let months = i64::from(months);
    if months == 0 {
        return None;
    }
    let elapsed = (i64::from(t.year()) - i64::from(reached_at.year())) * 12
        + (i64::from(t.month()) - i64::from(reached_at.month()));
    // `reached_at` plus one period less than `elapsed / months` periods falls in an
    // earlier month than `t`; plus one period more, in a later one.
    let first = (elapsed / months).max(1);
    for k in first..first.saturating_add(3) {
        let total = u32::try_from(k.checked_mul(months)?).ok()?;
        let end = reached_at.checked_add_months(Months::new(total))?;
        if end >= t {
            return Some(end);
        }
    }
    None
}
