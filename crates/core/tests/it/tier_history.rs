//! Tier records and events as a store keeps them: both metrics, the events' lower
//! bound, pricing with the level held before the receipt, evaluation after it,
//! standings with grants, and the program's `tiers` setting validated with field paths.

use crate::fixtures::utc;
use chrono::{DateTime, Duration, Utc};
use tessera_core::customer::TierGrant;
use tessera_core::program::Program;
use tessera_core::tier::{
    events_after, DowngradePolicy, Progress, TierEvent, TierHistory, TierLevel, TierMetric,
    TierProgram, TierRecord, TierState,
};

fn day(n: i64) -> DateTime<Utc> {
    utc("2026-01-01T00:00:00Z") + Duration::days(n)
}

/// base 0, silver 1000, gold 5000 in `metric` over 30 days, 10 days of grace.
fn program(metric: TierMetric) -> TierProgram {
    TierProgram {
        levels: [("base", 0), ("silver", 1000), ("gold", 5000)]
            .iter()
            .map(|(id, threshold)| TierLevel {
                id: id.to_string(),
                threshold: *threshold,
            })
            .collect(),
        metric,
        window_days: 30,
        downgrade: DowngradePolicy::AfterGraceDays { days: 10 },
    }
}

fn event(n: i64, spend: i64, points_earned: i64) -> TierEvent {
    TierEvent {
        at: day(n),
        spend,
        points_earned,
    }
}

fn history(events: Vec<TierEvent>) -> TierHistory {
    TierHistory {
        record: None,
        events,
    }
}

#[test]
fn events_are_read_in_the_programs_metric() {
    // 1200 of spend earns 12 points: silver by spend, base by points.
    let events = history(vec![event(0, 1200, 12)]);
    assert_eq!(
        events
            .evaluate(&program(TierMetric::Spend), day(1))
            .state
            .tier,
        "silver"
    );
    assert_eq!(
        events
            .evaluate(&program(TierMetric::PointsEarned), day(1))
            .state
            .tier,
        "base"
    );
    assert_eq!(
        event(0, 1200, 12)
            .in_metric(TierMetric::PointsEarned)
            .amount,
        12
    );
    assert!(event(0, 0, 0).is_zero());
    assert!(!event(0, 0, -1).is_zero());
}

#[test]
fn the_lower_bound_of_events_is_the_records_window() {
    assert_eq!(events_after(None, 30), None);
    let state = TierState {
        tier: "silver".into(),
        reached_at: Some(day(5)),
        below_since: None,
        evaluated_at: day(40),
    };
    assert_eq!(events_after(Some(&state), 30), Some(day(10)));
    assert_eq!(events_after(Some(&state), 1), Some(day(39)));
}

#[test]
fn a_receipt_is_priced_with_the_level_held_before_it_and_counts_after() {
    let tiers = program(TierMetric::Spend);
    let before = history(vec![event(0, 800, 8)]);
    assert_eq!(before.priced_tier(&tiers, None, day(1)), "base");
    let after = before.with(&event(1, 300, 3));
    let record = after.record_at(&tiers, day(1));
    assert_eq!(record.state.tier, "silver");
    assert_eq!(record.state.reached_at, Some(day(1)));
    // The first event leaves the window on day 30: below since then, 10 days of grace.
    assert_eq!(record.reevaluate_at, Some(day(40)));
    // A zero event is not kept.
    assert_eq!(after.clone().with(&event(2, 0, 0)).events.len(), 2);
    // The next receipt sees silver.
    let next = TierHistory {
        record: Some(record),
        events: after.events,
    };
    assert_eq!(next.priced_tier(&tiers, None, day(2)), "silver");
}

#[test]
fn an_offline_receipt_dated_before_the_record_does_not_run_time_backwards() {
    let tiers = program(TierMetric::Spend);
    let record = TierRecord {
        state: TierState {
            tier: "silver".into(),
            reached_at: Some(day(5)),
            below_since: None,
            evaluated_at: day(10),
        },
        reevaluate_at: None,
    };
    let stored = TierHistory {
        record: Some(record),
        events: vec![event(5, 1500, 15)],
    };
    // Priced as of the record: silver, although on day 3 the customer was base.
    assert_eq!(stored.priced_tier(&tiers, None, day(3)), "silver");
    // Its event counts from the record's instant on.
    let record = stored.with(&event(3, 4000, 40)).record_at(&tiers, day(3));
    assert_eq!(record.state.evaluated_at, day(10));
    assert_eq!(record.state.tier, "gold");
    assert_eq!(record.state.reached_at, Some(day(10)));
}

#[test]
fn a_standing_shows_the_grant_over_the_earned_level_and_progress() {
    let tiers = program(TierMetric::Spend);
    let events = history(vec![event(0, 1500, 15)]);
    let gold_until_day_20 = TierGrant {
        tier: "gold".into(),
        granted_at: day(0),
        until: Some(day(20)),
    };
    let standing = events.standing(&tiers, Some(&gold_until_day_20), day(1));
    assert_eq!(standing.held, "silver");
    assert_eq!(standing.reached_at, Some(day(0)));
    assert_eq!(standing.effective, "gold");
    assert_eq!(
        standing.progress,
        Some(Progress {
            next_tier: "gold".into(),
            value: 1500,
            threshold: 5000,
            remaining: 3500,
        })
    );
    assert_eq!(standing.reevaluate_at, Some(day(40)));
    let later = events.standing(&tiers, Some(&gold_until_day_20), day(20));
    assert_eq!(later.effective, "silver", "the grant has ended");
}

#[test]
fn the_programs_tiers_are_validated_with_field_paths() {
    let mut tiers = program(TierMetric::Spend);
    tiers.levels[1].threshold = 0;
    let setting = Program {
        tiers: Some(tiers),
        ..Program::default()
    };
    let error = setting.validate().unwrap_err();
    assert_eq!(error.field.as_deref(), Some("tiers.levels[1].threshold"));
    let mut tiers = program(TierMetric::Spend);
    tiers.downgrade = DowngradePolicy::AtPeriodEnd { period_months: 0 };
    let error = Program {
        tiers: Some(tiers),
        ..Program::default()
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        error.field.as_deref(),
        Some("tiers.downgrade.period_months")
    );
    assert!(Program {
        tiers: Some(program(TierMetric::PointsEarned)),
        ..Program::default()
    }
    .validate()
    .is_ok());
}
