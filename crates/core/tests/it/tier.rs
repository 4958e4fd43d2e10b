//! Tiers: qualification at thresholds and window edges, each downgrade policy over a
//! simulated year and more, grants, `reevaluate_at`, validation; properties against a
//! day-by-day reference model.

use crate::fixtures::utc;
use chrono::{DateTime, Duration, Months, Utc};
use proptest::prelude::*;
use tessera_core::customer::TierGrant;
use tessera_core::tier::{
    effective_tier, evaluate, DowngradePolicy, Progress, QualifyingEvent, TierChange,
    TierEvaluation, TierLevel, TierMetric, TierProgram, TierState,
};
use tessera_core::ErrorCode;

const NEVER: DowngradePolicy = DowngradePolicy::Never;
const YEARLY: DowngradePolicy = DowngradePolicy::AtPeriodEnd { period_months: 12 };
const GRACE_30: DowngradePolicy = DowngradePolicy::AfterGraceDays { days: 30 };

/// Midnight `n` days after 2025-01-01 (a year of 365 days, so day 365 is 2026-01-01).
fn day(n: i64) -> DateTime<Utc> {
    utc("2025-01-01T00:00:00Z") + Duration::days(n)
}

fn noon(n: i64) -> DateTime<Utc> {
    day(n) + Duration::hours(12)
}

/// base 0, silver 1000, gold 5000, platinum 20000 of spend over 365 days.
fn program(downgrade: DowngradePolicy) -> TierProgram {
    let levels = [
        ("base", 0),
        ("silver", 1000),
        ("gold", 5000),
        ("platinum", 20000),
    ];
    TierProgram {
        levels: levels
            .iter()
            .map(|(id, threshold)| TierLevel {
                id: id.to_string(),
                threshold: *threshold,
            })
            .collect(),
        metric: TierMetric::Spend,
        window_days: 365,
        downgrade,
    }
}

fn ev(at: DateTime<Utc>, amount: i64) -> QualifyingEvent {
    QualifyingEvent { at, amount }
}

/// Events at midnight of the given days.
fn on_days(events: &[(i64, i64)]) -> Vec<QualifyingEvent> {
    events
        .iter()
        .map(|(d, amount)| ev(day(*d), *amount))
        .collect()
}

/// Evaluates at noon of every day from day 0, storing each state as a server would,
/// and returns the runs of the tier held: (first day, tier). Checks on the way that
/// one evaluation at the end gives the same state as the daily ones.
fn daily_runs(p: &TierProgram, events: &[QualifyingEvent], n_days: i64) -> Vec<(i64, String)> {
    let mut state: Option<TierState> = None;
    let mut runs: Vec<(i64, String)> = Vec::new();
    for d in 0..n_days {
        let evaluation = evaluate(p, state.as_ref(), events, noon(d));
        if runs
            .last()
            .is_none_or(|(_, tier)| *tier != evaluation.state.tier)
        {
            runs.push((d, evaluation.state.tier.clone()));
        }
        state = Some(evaluation.state);
    }
    let once = evaluate(p, None, events, noon(n_days - 1));
    assert_eq!(
        Some(once.state),
        state,
        "daily and one-shot evaluations differ"
    );
    runs
}

fn runs(expected: &[(i64, &str)]) -> Vec<(i64, String)> {
    expected.iter().map(|(d, t)| (*d, t.to_string())).collect()
}

#[test]
fn qualification_at_and_just_below_each_threshold() {
    let table: [(i64, &str, TierChange); 9] = [
        (-50, "base", TierChange::Unchanged),
        (0, "base", TierChange::Unchanged),
        (999, "base", TierChange::Unchanged),
        (1000, "silver", TierChange::Upgrade),
        (4999, "silver", TierChange::Upgrade),
        (5000, "gold", TierChange::Upgrade),
        (19999, "gold", TierChange::Upgrade),
        (20000, "platinum", TierChange::Upgrade),
        (i64::MAX, "platinum", TierChange::Upgrade),
    ];
    for (sum, tier, change) in table {
        let e = evaluate(&program(NEVER), None, &[ev(day(3), sum)], day(3));
        assert_eq!(
            (e.qualified.as_str(), e.state.tier.as_str(), e.change),
            (tier, tier, change),
            "sum {sum}"
        );
        let reached = (tier != "base").then(|| day(3));
        assert_eq!(e.state.reached_at, reached, "sum {sum}");
    }
}

#[test]
fn an_upgrade_is_immediate_under_every_policy() {
    for policy in [NEVER, YEARLY, GRACE_30] {
        let events = on_days(&[(5, 600), (40, 600), (41, 4000)]);
        let e = evaluate(&program(policy), None, &events, day(41));
        assert_eq!(
            (e.state.tier.as_str(), e.state.reached_at),
            ("gold", Some(day(41)))
        );
        let e = evaluate(&program(policy), None, &events, day(40));
        assert_eq!(
            (e.state.tier.as_str(), e.state.reached_at),
            ("silver", Some(day(40)))
        );
    }
}

#[test]
fn the_window_excludes_an_event_exactly_window_days_old() {
    let mut short = program(NEVER);
    short.window_days = 30;
    let now = noon(400);
    let table = [
        (&program(NEVER), Duration::days(365), "base"),
        (
            &program(NEVER),
            Duration::days(365) - Duration::seconds(1),
            "gold",
        ),
        (&program(NEVER), Duration::zero(), "gold"),
        (&program(NEVER), -Duration::seconds(1), "base"), // after now: not yet counted
        (&short, Duration::days(30), "base"),
        (
            &short,
            Duration::days(30) - Duration::nanoseconds(1),
            "gold",
        ),
    ];
    for (p, age, qualified) in table {
        let e = evaluate(p, None, &[ev(now - age, 6000)], now);
        assert_eq!(e.qualified, qualified, "age {age}");
    }
}

#[test]
fn returns_lower_the_sum_and_a_return_leaving_the_window_raises_it() {
    let events = on_days(&[(0, 6000), (1, -1500)]);
    let e = evaluate(&program(NEVER), None, &events, day(1));
    assert_eq!(
        (e.qualified.as_str(), e.state.tier.as_str()),
        ("silver", "gold")
    );
    assert_eq!(
        e.progress,
        Some(Progress {
            next_tier: "platinum".into(),
            value: 4500,
            threshold: 20000,
            remaining: 15500,
        })
    );
    // A return of an older purchase, then a purchase: the sum rises when the return
    // leaves the window, and that is when the customer is upgraded.
    let events = on_days(&[(0, -2000), (100, 2500)]);
    let e = evaluate(&program(GRACE_30), None, &events, noon(100));
    assert_eq!(
        (e.state.tier.as_str(), e.reevaluate_at),
        ("base", Some(day(365)))
    );
    assert_eq!(e.progress.as_ref().map(|p| p.value), Some(500));
    let later = evaluate(&program(GRACE_30), Some(&e.state), &events, day(365));
    assert_eq!(
        (
            later.state.tier.as_str(),
            later.change,
            later.state.reached_at
        ),
        ("silver", TierChange::Upgrade, Some(day(365)))
    );
}

#[test]
fn never_keeps_the_highest_level_reached() {
    let events = on_days(&[(10, 6000), (100, -5500)]);
    let p = program(NEVER);
    assert_eq!(
        daily_runs(&p, &events, 800),
        runs(&[(0, "base"), (10, "gold")])
    );
    let e = evaluate(&p, None, &events, noon(500));
    assert_eq!((e.qualified.as_str(), e.reevaluate_at), ("base", None));
}

#[test]
fn at_period_end_downgrades_only_at_the_end_of_a_period() {
    let p = program(YEARLY);
    // Gold reached on 2025-01-11 (day 10); the period ends on 2026-01-11 (day 375).
    let events = on_days(&[(10, 6000), (100, -5500)]);
    assert_eq!(
        daily_runs(&p, &events, 800),
        runs(&[(0, "base"), (10, "gold"), (375, "base")])
    );
    for at in [noon(50), noon(100), noon(374)] {
        let e = evaluate(&p, None, &events, at);
        assert_eq!(
            (e.state.tier.as_str(), e.reevaluate_at),
            ("gold", Some(day(375)))
        );
    }
    let before = evaluate(&p, None, &events, noon(374));
    let end = evaluate(&p, Some(&before.state), &events, day(375));
    assert_eq!(
        (end.state.tier.as_str(), end.change, end.state.reached_at),
        ("base", TierChange::Downgrade, Some(day(375)))
    );
}

#[test]
fn at_period_end_requalifying_keeps_the_level_for_another_period() {
    let p = program(YEARLY);
    // Still 6000 in the window at the first end (day 375); below from day 400; the
    // second period ends on 2027-01-11 (day 740).
    let events = on_days(&[(10, 6000), (300, 6000), (400, -6000)]);
    assert_eq!(
        daily_runs(&p, &events, 900),
        runs(&[(0, "base"), (10, "gold"), (740, "base")])
    );
    let e = evaluate(&p, None, &events, noon(500));
    assert_eq!(
        (e.state.reached_at, e.state.below_since, e.reevaluate_at),
        (Some(day(10)), Some(day(400)), Some(day(740)))
    );
}

#[test]
fn after_grace_days_needs_n_continuous_days_below_and_a_recovery_resets_it() {
    let p = program(GRACE_30);
    // Below from day 50, back on day 79 (one day before the grace would end), below
    // again from day 100: downgraded on day 130.
    let events = on_days(&[(10, 6000), (50, -5500), (79, 5000), (100, -5000)]);
    assert_eq!(
        daily_runs(&p, &events, 800),
        runs(&[(0, "base"), (10, "gold"), (130, "base")])
    );
    let table = [
        (noon(60), Some(day(50))),
        (noon(79), None),
        (noon(110), Some(day(100))),
        (noon(130), None),
    ];
    for (at, below_since) in table {
        assert_eq!(
            evaluate(&p, None, &events, at).state.below_since,
            below_since
        );
    }
    // Knowing only the events up to day 60, the grace from day 50 ends on day 80.
    let known = on_days(&[(10, 6000), (50, -5500)]);
    let e = evaluate(&p, None, &known, noon(60));
    assert_eq!(e.reevaluate_at, Some(day(80)));
    assert_eq!(
        evaluate(&p, Some(&e.state), &known, day(80) - Duration::seconds(1))
            .state
            .tier,
        "gold"
    );
    let down = evaluate(&p, Some(&e.state), &known, day(80));
    assert_eq!(
        (down.state.tier.as_str(), down.change),
        ("base", TierChange::Downgrade)
    );
}

#[test]
fn zero_grace_days_downgrade_at_once() {
    let p = program(DowngradePolicy::AfterGraceDays { days: 0 });
    let events = on_days(&[(0, 6000), (5, -2000)]);
    let e = evaluate(&p, None, &events, day(5));
    assert_eq!(
        (e.state.tier.as_str(), e.state.reached_at),
        ("silver", Some(day(5)))
    );
}

/// A policy, events on days, an instant and the tier held then.
type Case = (
    DowngradePolicy,
    &'static [(i64, i64)],
    DateTime<Utc>,
    &'static str,
);

#[test]
fn a_downgrade_goes_to_the_qualified_level_skipping_levels() {
    let monthly = DowngradePolicy::AtPeriodEnd { period_months: 1 };
    let grace_10 = DowngradePolicy::AfterGraceDays { days: 10 };
    let table: [Case; 4] = [
        (grace_10, &[(0, 25000), (20, -24900)], day(30), "base"),
        (grace_10, &[(0, 25000), (20, -23000)], day(30), "silver"),
        // Platinum on 2025-01-01; the first monthly period ends on 2025-02-01 (day 31).
        (monthly, &[(0, 25000), (5, -23000)], day(31), "silver"),
        (
            monthly,
            &[(0, 25000), (5, -23000)],
            day(31) - Duration::seconds(1),
            "platinum",
        ),
    ];
    for (policy, events, at, tier) in table {
        let e = evaluate(&program(policy), None, &on_days(events), at);
        assert_eq!(e.state.tier, tier, "{policy:?} {events:?} at {at}");
    }
    // Held platinum, evaluated daily: the downgrade is one step to base.
    let events = on_days(&[(0, 25000), (20, -24900)]);
    let first = evaluate(&program(grace_10), None, &events, day(29));
    let then = evaluate(&program(grace_10), Some(&first.state), &events, day(30));
    assert_eq!(
        (
            first.state.tier.as_str(),
            then.state.tier.as_str(),
            then.change
        ),
        ("platinum", "base", TierChange::Downgrade)
    );
}

#[test]
fn progress_names_the_level_above_the_one_held() {
    let p = program(NEVER);
    let e = evaluate(&p, None, &[ev(day(0), 1200)], day(0));
    assert_eq!(
        e.progress,
        Some(Progress {
            next_tier: "gold".into(),
            value: 1200,
            threshold: 5000,
            remaining: 3800,
        })
    );
    assert_eq!(
        evaluate(&p, None, &[ev(day(0), 20000)], day(0)).progress,
        None
    );
    // Sums saturate rather than overflow.
    let huge = [ev(day(0), i64::MAX), ev(day(1), i64::MAX)];
    let e = evaluate(&p, None, &huge, day(1));
    assert_eq!((e.state.tier.as_str(), e.progress), ("platinum", None));
    let e = evaluate(
        &p,
        None,
        &[ev(day(0), i64::MIN), ev(day(1), i64::MIN)],
        day(1),
    );
    let value = e.progress.map(|p| (p.value, p.remaining));
    assert_eq!(value, Some((i64::MIN, i64::MAX)));
}

#[test]
fn stale_states_unknown_tiers_and_evaluations_in_the_past() {
    let p = program(GRACE_30);
    let events = on_days(&[(0, 6000)]);
    let stored = evaluate(&p, None, &events, day(100)).state;
    // Time does not run backwards: an evaluation dated earlier is made at evaluated_at.
    let earlier = evaluate(&p, Some(&stored), &events, day(50));
    assert_eq!(
        (earlier.state, earlier.change),
        (stored.clone(), TierChange::Unchanged)
    );
    // A level removed from the program: the customer re-qualifies.
    let removed = TierState {
        tier: "diamond".into(),
        ..stored
    };
    let e = evaluate(&p, Some(&removed), &events, day(101));
    assert_eq!(
        (e.state.tier.as_str(), e.change),
        ("gold", TierChange::Upgrade)
    );
    // Never evaluated and no events: the lowest level, never reached by a change.
    let e = evaluate(&p, None, &[], day(7));
    assert_eq!(
        (
            e.state.tier.as_str(),
            e.state.reached_at,
            e.change,
            e.reevaluate_at
        ),
        ("base", None, TierChange::Unchanged, None)
    );
}

#[test]
fn a_grant_in_force_lifts_the_tier_to_the_higher_of_the_two() {
    let p = program(NEVER);
    let grant = |tier: &str, from: i64, until: Option<i64>| TierGrant {
        tier: tier.to_string(),
        granted_at: day(from),
        until: until.map(day),
    };
    // (held, grant, at, effective)
    let table: [(&str, Option<TierGrant>, i64, &str); 11] = [
        ("silver", None, 10, "silver"),
        ("silver", Some(grant("gold", 0, Some(30))), 10, "gold"),
        ("silver", Some(grant("gold", 0, Some(30))), 30, "silver"), // until is exclusive
        ("silver", Some(grant("gold", 0, Some(30))), 29, "gold"),
        ("silver", Some(grant("gold", 20, None)), 10, "silver"), // not yet granted
        ("silver", Some(grant("gold", 0, None)), 9999, "gold"),  // open grant
        ("platinum", Some(grant("gold", 0, None)), 10, "platinum"),
        ("gold", Some(grant("gold", 0, None)), 10, "gold"),
        ("platinum", Some(grant("staff", 0, Some(30))), 10, "staff"), // not a level
        (
            "platinum",
            Some(grant("staff", 0, Some(30))),
            31,
            "platinum",
        ),
        ("retired", Some(grant("silver", 0, None)), 10, "silver"),
    ];
    for (held, grant, at, effective) in table {
        assert_eq!(
            effective_tier(&p, held, grant.as_ref(), day(at)),
            effective,
            "{held} {grant:?} at day {at}"
        );
    }
}

#[test]
fn validation_names_the_field_at_fault() {
    let valid = program(YEARLY);
    assert_eq!(valid.validate(), Ok(()));
    let with = |change: &dyn Fn(&mut TierProgram)| {
        let mut p = valid.clone();
        change(&mut p);
        p
    };
    let table: [(TierProgram, &str); 11] = [
        (with(&|p| p.levels.clear()), "levels"),
        (with(&|p| p.levels[1].id = "sil ver".into()), "levels[1].id"),
        (with(&|p| p.levels[1].id = String::new()), "levels[1].id"),
        (with(&|p| p.levels[3].id = "silver".into()), "levels[3].id"),
        (with(&|p| p.levels[0].threshold = 10), "levels[0].threshold"),
        (with(&|p| p.levels[1].threshold = -5), "levels[1].threshold"),
        (
            with(&|p| p.levels[2].threshold = 1000),
            "levels[2].threshold",
        ),
        (with(&|p| p.window_days = 0), "window_days"),
        (with(&|p| p.window_days = 3651), "window_days"),
        (
            with(&|p| p.downgrade = DowngradePolicy::AtPeriodEnd { period_months: 0 }),
            "downgrade.period_months",
        ),
        (
            with(&|p| p.downgrade = DowngradePolicy::AfterGraceDays { days: 3651 }),
            "downgrade.days",
        ),
    ];
    for (p, field) in table {
        let err = p.validate().unwrap_err();
        assert_eq!(
            (err.code, err.field.as_deref()),
            (ErrorCode::InvalidField, Some(field))
        );
    }
    let many = with(&|p| {
        p.levels = (0..101)
            .map(|i| TierLevel {
                id: format!("l{i}"),
                threshold: i,
            })
            .collect()
    });
    assert_eq!(
        many.validate().unwrap_err().field.as_deref(),
        Some("levels")
    );
}

#[test]
fn the_settings_read_from_json_strictly() {
    let json = r#"{"levels": [{"id": "base", "threshold": 0}, {"id": "gold", "threshold": 500}],
        "metric": "points_earned", "downgrade": {"type": "after_grace_days", "days": 30}}"#;
    let p: TierProgram = serde_json::from_str(json).unwrap();
    assert_eq!(
        (p.metric, p.window_days, p.downgrade),
        (TierMetric::PointsEarned, 365, GRACE_30)
    );
    let never: TierProgram = serde_json::from_str(&json.replace(
        r#""type": "after_grace_days", "days": 30"#,
        r#""type": "never""#,
    ))
    .unwrap();
    assert_eq!(never.downgrade, NEVER);
    for bad in [
        json.replace("\"metric\"", "\"colour\": 1, \"metric\""),
        json.replace("\"days\": 30", "\"days\": 30, \"months\": 1"),
        json.replace(
            "\"threshold\": 500",
            "\"threshold\": 500, \"name\": \"Gold\"",
        ),
        json.replace("points_earned", "visits"),
    ] {
        assert!(serde_json::from_str::<TierProgram>(&bad).is_err(), "{bad}");
    }
}

// ---- properties ----

/// The rules run at every midnight, written plainly: the reference for events at
/// midnights, where every instant something can happen is a midnight.
fn reference(p: &TierProgram, events: &[QualifyingEvent], now: DateTime<Utc>) -> TierState {
    let window = Duration::days(i64::from(p.window_days));
    let rank_for = |sum: i64| {
        (0..p.levels.len())
            .rev()
            .find(|r| p.levels[*r].threshold <= sum)
            .unwrap_or(0)
    };
    let sum_at = |t: DateTime<Utc>| -> i64 {
        events
            .iter()
            .filter(|e| e.at <= t && e.at > t - window)
            .map(|e| e.amount)
            .sum()
    };
    let is_period_end = |reached: DateTime<Utc>, months: u32, t: DateTime<Utc>| {
        (1..)
            .map(|k| reached + Months::new(k * months))
            .take_while(|end| *end <= t)
            .any(|end| end == t)
    };
    let first = events.iter().map(|e| e.at).filter(|at| *at <= now).min();
    let (mut rank, mut reached, mut below): (usize, Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
        (0, None, None);
    let mut instants: Vec<DateTime<Utc>> = match first {
        Some(first) => (0..)
            .map(|d| first + Duration::days(d))
            .take_while(|t| *t <= now)
            .collect(),
        None => Vec::new(),
    };
    instants.push(now);
    for t in instants {
        let qualified = rank_for(sum_at(t));
        if qualified >= rank {
            if qualified > rank {
                (rank, reached) = (qualified, Some(t));
            }
            below = None;
            continue;
        }
        let since = *below.get_or_insert(t);
        let due = match p.downgrade {
            DowngradePolicy::Never => false,
            DowngradePolicy::AfterGraceDays { days } => {
                t >= since + Duration::days(i64::from(days))
            }
            DowngradePolicy::AtPeriodEnd { period_months } => {
                reached.is_some_and(|reached| is_period_end(reached, period_months, t))
            }
        };
        if due {
            (rank, reached, below) = (qualified, Some(t), None);
        }
    }
    TierState {
        tier: p.levels[rank].id.clone(),
        reached_at: reached,
        below_since: below,
        evaluated_at: now,
    }
}

fn arb_program() -> impl Strategy<Value = TierProgram> {
    let policy = prop_oneof![
        Just(NEVER),
        (1u32..=13).prop_map(|period_months| DowngradePolicy::AtPeriodEnd { period_months }),
        (0u32..=60).prop_map(|days| DowngradePolicy::AfterGraceDays { days }),
    ];
    (policy, prop_oneof![Just(365u32), 1u32..=120]).prop_map(|(downgrade, window_days)| {
        TierProgram {
            window_days,
            ..program(downgrade)
        }
    })
}

/// Events at midnights over about a year and a half, returns included.
fn arb_midnight_events() -> impl Strategy<Value = Vec<QualifyingEvent>> {
    proptest::collection::vec((0i64..500, -4000i64..9000), 0..12).prop_map(|events| {
        events
            .into_iter()
            .map(|(d, amount)| ev(day(d), amount))
            .collect()
    })
}

/// Events at any minute.
fn arb_events() -> impl Strategy<Value = Vec<QualifyingEvent>> {
    proptest::collection::vec((0i64..500 * 1440, -4000i64..9000), 0..12).prop_map(|events| {
        events
            .into_iter()
            .map(|(minute, amount)| ev(day(0) + Duration::minutes(minute), amount))
            .collect()
    })
}

fn arb_now() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..900 * 1440).prop_map(|minute| day(0) + Duration::minutes(minute))
}

/// Everything in an evaluation but the change (which depends on the state it started from).
fn outcome(e: &TierEvaluation) -> (&TierState, &str, &Option<Progress>, Option<DateTime<Utc>>) {
    (&e.state, e.qualified.as_str(), &e.progress, e.reevaluate_at)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// The replay over instants where something can happen agrees with running the
    /// rules at every midnight.
    #[test]
    fn evaluation_agrees_with_the_day_by_day_reference(
        p in arb_program(), events in arb_midnight_events(), now in arb_now()
    ) {
        prop_assert_eq!(evaluate(&p, None, &events, now).state, reference(&p, &events, now));
    }

    /// Evaluating often or once gives the same outcome.
    #[test]
    fn evaluation_does_not_depend_on_how_often_it_ran(
        p in arb_program(), events in arb_events(), t1 in arb_now(), t2 in arb_now()
    ) {
        let (t1, t2) = (t1.min(t2), t1.max(t2));
        let once = evaluate(&p, None, &events, t2);
        let first = evaluate(&p, None, &events, t1);
        let twice = evaluate(&p, Some(&first.state), &events, t2);
        prop_assert_eq!(outcome(&once), outcome(&twice));
    }

    /// With no new event the tier stays until `reevaluate_at`, and changes there.
    #[test]
    fn the_tier_holds_until_reevaluate_at_and_changes_there(
        p in arb_program(), events in arb_events(), now in arb_now(), fraction in 0i64..1000
    ) {
        let known: Vec<_> = events.into_iter().filter(|e| e.at <= now).collect();
        let e = evaluate(&p, None, &known, now);
        let before = match e.reevaluate_at {
            Some(re) => {
                prop_assert!(re > now);
                now + Duration::seconds((re - now).num_seconds() * fraction / 1000)
            }
            None => now + Duration::days(fraction),
        };
        prop_assert!(e.reevaluate_at.is_none_or(|re| before < re));
        prop_assert_eq!(&evaluate(&p, Some(&e.state), &known, before).state.tier, &e.state.tier);
        prop_assert_eq!(&evaluate(&p, None, &known, before).state.tier, &e.state.tier);
        if let Some(re) = e.reevaluate_at {
            prop_assert_ne!(&evaluate(&p, Some(&e.state), &known, re).state.tier, &e.state.tier);
        }
    }

    /// The tier held is never below the one qualified for, and progress is to a level
    /// not yet reached.
    #[test]
    fn the_tier_held_is_at_least_the_qualified_one(
        p in arb_program(), events in arb_events(), now in arb_now()
    ) {
        let e = evaluate(&p, None, &events, now);
        prop_assert!(p.rank(&e.state.tier) >= p.rank(&e.qualified));
        if let Some(progress) = e.progress {
            prop_assert!(progress.remaining > 0);
            prop_assert_eq!(p.rank(&progress.next_tier), p.rank(&e.state.tier).map(|r| r + 1));
        }
    }
}
