//! Consents and field survivorship: every row of the rule tables in `consent.rs`,
//! worked survivorship examples, and properties of merging and replaying.

use crate::fixtures::utc;
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use std::collections::BTreeMap;
use tessera_core::consent::{
    apply_consent, merge_consents, replay_consents, survivor, survivor_among, update_field,
    Channel, Consent, ConsentEvent, Decision, IgnoreReason, SourceTrust, Sourced,
};

fn t0() -> DateTime<Utc> {
    utc("2025-03-01T10:00:00Z")
}

/// `t0` plus `hours`.
fn h(hours: i64) -> DateTime<Utc> {
    t0() + Duration::hours(hours)
}

fn consent(granted: bool, at: DateTime<Utc>, source: &str) -> Consent {
    Consent {
        granted,
        at,
        source: source.into(),
    }
}

fn event(granted: bool, at: DateTime<Utc>, source: &str) -> ConsentEvent {
    ConsentEvent {
        channel: Channel::Email,
        granted,
        at,
        source: source.into(),
    }
}

fn sourced<T>(value: T, at: DateTime<Utc>, source: &str) -> Sourced<T> {
    Sourced {
        value,
        at,
        source: source.into(),
    }
}

const GRANT: bool = true;
const WITHDRAW: bool = false;

#[test]
fn channel_names_round_trip() {
    let names: Vec<&str> = Channel::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names, ["email", "sms", "push", "viber", "telegram"]);
    for channel in Channel::ALL {
        assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        assert_eq!(
            serde_json::to_string(&channel).unwrap(),
            format!("\"{}\"", channel.as_str())
        );
        let back: Channel = serde_json::from_str(&format!("\"{}\"", channel.as_str())).unwrap();
        assert_eq!(back, channel);
    }
    assert_eq!(Channel::parse("Email"), None);
    assert_eq!(Channel::parse("fax"), None);
}

#[test]
fn reason_codes_are_stable_and_distinct() {
    let codes: Vec<&str> = IgnoreReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(
        codes,
        [
            "stale",
            "duplicate",
            "withdrawal_wins_tie",
            "weaker_than_withdrawal",
            "already_withdrawn",
            "same_time_less_trusted",
        ]
    );
    for reason in IgnoreReason::ALL {
        assert_eq!(IgnoreReason::parse(reason.as_str()), Some(reason));
    }
    assert_eq!(IgnoreReason::parse("unknown"), None);
}

#[test]
fn trust_ranks_listed_sources_in_order_and_unknown_ones_last() {
    let trust = SourceTrust::default();
    let ranks: Vec<usize> = ["service_desk", "pos", "web", "app", "import", "paper"]
        .iter()
        .map(|s| trust.rank(s))
        .collect();
    assert_eq!(ranks, [0, 1, 2, 3, 4, 5]);
    assert_eq!(trust.rank("kiosk"), 6);
    assert_eq!(trust.rank("POS"), 6, "names are matched exactly");
    assert_eq!(trust.stale_after_days, 365);
}

#[test]
fn trust_config_fills_missing_fields_and_refuses_unknown_ones() {
    let only_days: SourceTrust = serde_json::from_str(r#"{"stale_after_days": 30}"#).unwrap();
    assert_eq!(only_days.order, SourceTrust::default().order);
    assert_eq!(only_days.stale_after_days, 30);

    let only_order: SourceTrust = serde_json::from_str(r#"{"order": ["web", "pos"]}"#).unwrap();
    assert_eq!(only_order.order, ["web", "pos"]);
    assert_eq!(only_order.stale_after_days, 365);
    assert_eq!(only_order.rank("service_desk"), 2);

    assert!(serde_json::from_str::<SourceTrust>(r#"{"ordr": []}"#).is_err());
}

/// One row of the consent table: state, event, expected decision.
struct Row {
    name: &'static str,
    state: Option<Consent>,
    event: ConsentEvent,
    expect: Decision,
}

fn row(name: &'static str, state: Option<Consent>, event: ConsentEvent, expect: Decision) -> Row {
    Row {
        name,
        state,
        event,
        expect,
    }
}

fn check_rows(rows: &[Row], trust: &SourceTrust) {
    for row in rows {
        let got = apply_consent(row.state.as_ref(), &row.event, trust);
        assert_eq!(got, row.expect, "{}", row.name);
    }
}

#[test]
fn consent_rule_table() {
    use Decision::{Applied, Ignored};
    use IgnoreReason::*;
    let rows = [
        // 1: nothing recorded yet.
        row("1 first grant", None, event(GRANT, h(0), "paper"), Applied),
        row(
            "1 first withdrawal",
            None,
            event(WITHDRAW, h(0), "import"),
            Applied,
        ),
        // 2: older than the state, whatever the kinds and sources.
        row(
            "2 grant older than withdrawal",
            Some(consent(WITHDRAW, h(5), "paper")),
            event(GRANT, h(4), "service_desk"),
            Ignored(Stale),
        ),
        row(
            "2 withdrawal older than grant",
            Some(consent(GRANT, h(5), "paper")),
            event(WITHDRAW, h(4), "service_desk"),
            Ignored(Stale),
        ),
        row(
            "2 grant older than grant",
            Some(consent(GRANT, h(5), "paper")),
            event(GRANT, h(4), "pos"),
            Ignored(Stale),
        ),
        // 3: the same event again.
        row(
            "3 duplicate grant",
            Some(consent(GRANT, h(5), "web")),
            event(GRANT, h(5), "web"),
            Ignored(Duplicate),
        ),
        row(
            "3 duplicate withdrawal",
            Some(consent(WITHDRAW, h(5), "web")),
            event(WITHDRAW, h(5), "web"),
            Ignored(Duplicate),
        ),
        // 4: a withdrawal wins over an older or simultaneous grant, from any source.
        row(
            "4 weak withdrawal after strong grant",
            Some(consent(GRANT, h(1), "service_desk")),
            event(WITHDRAW, h(2), "paper"),
            Applied,
        ),
        row(
            "4 withdrawal at the same instant as a grant",
            Some(consent(GRANT, h(1), "service_desk")),
            event(WITHDRAW, h(1), "paper"),
            Applied,
        ),
        // 5: a newer grant refreshes a grant, from any source.
        row(
            "5 weaker newer grant over grant",
            Some(consent(GRANT, h(1), "service_desk")),
            event(GRANT, h(2), "paper"),
            Applied,
        ),
        // 6: equal timestamps, withdrawal in force.
        row(
            "6 grant at the same instant as the withdrawal",
            Some(consent(WITHDRAW, h(1), "paper")),
            event(GRANT, h(1), "service_desk"),
            Ignored(WithdrawalWinsTie),
        ),
        // 7: a newer grant at least as trusted re-enables.
        row(
            "7 stronger newer grant after withdrawal",
            Some(consent(WITHDRAW, h(1), "pos")),
            event(GRANT, h(2), "service_desk"),
            Applied,
        ),
        row(
            "7 equally trusted newer grant after withdrawal",
            Some(consent(WITHDRAW, h(1), "pos")),
            event(GRANT, h(2), "pos"),
            Applied,
        ),
        // 8: a weaker grant never re-enables, however much newer.
        row(
            "8 import grant after till withdrawal",
            Some(consent(WITHDRAW, h(1), "pos")),
            event(GRANT, h(24 * 400), "import"),
            Ignored(WeakerThanWithdrawal),
        ),
        row(
            "8 paper grant after web withdrawal",
            Some(consent(WITHDRAW, h(1), "web")),
            event(GRANT, h(2), "paper"),
            Ignored(WeakerThanWithdrawal),
        ),
        // 9 and 10: withdrawal after withdrawal keeps the stronger one in force.
        row(
            "9 stronger newer withdrawal",
            Some(consent(WITHDRAW, h(1), "paper")),
            event(WITHDRAW, h(2), "pos"),
            Applied,
        ),
        row(
            "9 equally trusted newer withdrawal",
            Some(consent(WITHDRAW, h(1), "pos")),
            event(WITHDRAW, h(2), "pos"),
            Applied,
        ),
        row(
            "10 weaker newer withdrawal",
            Some(consent(WITHDRAW, h(1), "pos")),
            event(WITHDRAW, h(2), "paper"),
            Ignored(AlreadyWithdrawn),
        ),
        // 11 and 12: same kind at the same instant from another source.
        row(
            "11 more trusted simultaneous grant",
            Some(consent(GRANT, h(1), "web")),
            event(GRANT, h(1), "pos"),
            Applied,
        ),
        row(
            "11 more trusted simultaneous withdrawal",
            Some(consent(WITHDRAW, h(1), "web")),
            event(WITHDRAW, h(1), "pos"),
            Applied,
        ),
        row(
            "12 less trusted simultaneous grant",
            Some(consent(GRANT, h(1), "pos")),
            event(GRANT, h(1), "web"),
            Ignored(SameTimeLessTrusted),
        ),
        row(
            "12 less trusted simultaneous withdrawal",
            Some(consent(WITHDRAW, h(1), "pos")),
            event(WITHDRAW, h(1), "web"),
            Ignored(SameTimeLessTrusted),
        ),
    ];
    check_rows(&rows, &SourceTrust::default());
}

#[test]
fn unknown_sources_rank_below_every_listed_one() {
    use Decision::{Applied, Ignored};
    use IgnoreReason::*;
    let rows = [
        row(
            "unknown grant after paper withdrawal",
            Some(consent(WITHDRAW, h(1), "paper")),
            event(GRANT, h(2), "kiosk"),
            Ignored(WeakerThanWithdrawal),
        ),
        row(
            "paper grant after unknown withdrawal",
            Some(consent(WITHDRAW, h(1), "kiosk")),
            event(GRANT, h(2), "paper"),
            Applied,
        ),
        row(
            "unknown grant after another unknown source's withdrawal: equally trusted",
            Some(consent(WITHDRAW, h(1), "kiosk")),
            event(GRANT, h(2), "partner_feed"),
            Applied,
        ),
        row(
            "unknown withdrawal after paper withdrawal",
            Some(consent(WITHDRAW, h(1), "paper")),
            event(WITHDRAW, h(2), "kiosk"),
            Ignored(AlreadyWithdrawn),
        ),
        row(
            "unknown withdrawal after service desk grant",
            Some(consent(GRANT, h(1), "service_desk")),
            event(WITHDRAW, h(2), "kiosk"),
            Applied,
        ),
        // Same rank, same instant: the smaller name is preferred, both ways.
        row(
            "simultaneous unknown grants, smaller name",
            Some(consent(GRANT, h(1), "zeta")),
            event(GRANT, h(1), "alpha"),
            Applied,
        ),
        row(
            "simultaneous unknown grants, larger name",
            Some(consent(GRANT, h(1), "alpha")),
            event(GRANT, h(1), "zeta"),
            Ignored(SameTimeLessTrusted),
        ),
    ];
    check_rows(&rows, &SourceTrust::default());
}

#[test]
fn the_configured_order_decides_which_grant_is_weaker() {
    let web_first = SourceTrust {
        order: vec!["web".into(), "pos".into()],
        ..SourceTrust::default()
    };
    let state = consent(WITHDRAW, h(1), "pos");
    let web_grant = event(GRANT, h(2), "web");
    assert_eq!(
        apply_consent(Some(&state), &web_grant, &SourceTrust::default()),
        Decision::Ignored(IgnoreReason::WeakerThanWithdrawal)
    );
    assert_eq!(
        apply_consent(Some(&state), &web_grant, &web_first),
        Decision::Applied
    );
}

#[test]
fn replay_applies_events_in_time_order_whatever_their_arrival() {
    let trust = SourceTrust::default();
    // Withdrawn at the till, then an older-dated import says granted, then a paper
    // form re-grants, then the customer re-grants at the service desk.
    let till_withdrawal = event(WITHDRAW, h(10), "pos");
    let late_import = event(GRANT, h(12), "import");
    let paper = event(GRANT, h(20), "paper");
    let desk = event(GRANT, h(30), "service_desk");

    // Arriving import first, the till withdrawal is stale against the state.
    assert!(apply_consent(None, &late_import, &trust).is_applied());
    assert_eq!(
        apply_consent(Some(&Consent::from(&late_import)), &till_withdrawal, &trust),
        Decision::Ignored(IgnoreReason::Stale)
    );
    // Replay puts it back in time order: the weaker grants cannot undo it.
    let events = [late_import.clone(), till_withdrawal.clone(), paper.clone()];
    assert_eq!(
        replay_consents(&events, &trust),
        BTreeMap::from([(Channel::Email, Consent::from(&till_withdrawal))])
    );
    let events = [paper, desk.clone(), late_import, till_withdrawal];
    assert_eq!(
        replay_consents(&events, &trust),
        BTreeMap::from([(Channel::Email, Consent::from(&desk))])
    );
}

#[test]
fn replay_lets_a_simultaneous_withdrawal_win() {
    let trust = SourceTrust::default();
    let strong_withdrawal = event(WITHDRAW, h(1), "pos");
    let weak_withdrawal = event(WITHDRAW, h(5), "paper");
    let strong_grant = event(GRANT, h(5), "service_desk");
    for events in [
        [
            strong_withdrawal.clone(),
            weak_withdrawal.clone(),
            strong_grant.clone(),
        ],
        [
            strong_grant.clone(),
            strong_withdrawal.clone(),
            weak_withdrawal.clone(),
        ],
    ] {
        assert_eq!(
            replay_consents(&events, &trust),
            BTreeMap::from([(Channel::Email, Consent::from(&weak_withdrawal))])
        );
    }
}

#[test]
fn replay_keeps_channels_apart() {
    let trust = SourceTrust::default();
    let sms_withdrawal = ConsentEvent {
        channel: Channel::Sms,
        ..event(WITHDRAW, h(3), "pos")
    };
    let email_grant = event(GRANT, h(2), "web");
    let consents = replay_consents(&[sms_withdrawal.clone(), email_grant.clone()], &trust);
    assert_eq!(
        consents,
        BTreeMap::from([
            (Channel::Email, Consent::from(&email_grant)),
            (Channel::Sms, Consent::from(&sms_withdrawal)),
        ])
    );
    assert!(replay_consents(&[], &trust).is_empty());
}

#[test]
fn merging_consents_keeps_withdrawals() {
    let trust = SourceTrust::default();
    let a = BTreeMap::from([
        // Withdrawn on one side only, even against a newer, stronger grant.
        (Channel::Email, consent(WITHDRAW, h(1), "paper")),
        // Granted on both sides: the more recent.
        (Channel::Sms, consent(GRANT, h(1), "service_desk")),
        // Withdrawn on both sides: the more trusted.
        (Channel::Push, consent(WITHDRAW, h(1), "pos")),
        // On one side only.
        (Channel::Viber, consent(GRANT, h(1), "app")),
    ]);
    let b = BTreeMap::from([
        (Channel::Email, consent(GRANT, h(9), "service_desk")),
        (Channel::Sms, consent(GRANT, h(2), "import")),
        (Channel::Push, consent(WITHDRAW, h(9), "web")),
        (Channel::Telegram, consent(WITHDRAW, h(1), "app")),
    ]);
    let expect = BTreeMap::from([
        (Channel::Email, consent(WITHDRAW, h(1), "paper")),
        (Channel::Sms, consent(GRANT, h(2), "import")),
        (Channel::Push, consent(WITHDRAW, h(1), "pos")),
        (Channel::Viber, consent(GRANT, h(1), "app")),
        (Channel::Telegram, consent(WITHDRAW, h(1), "app")),
    ]);
    assert_eq!(merge_consents(&a, &b, &trust), expect);
    assert_eq!(merge_consents(&b, &a, &trust), expect);
}

#[test]
fn merging_ties_are_decided_by_trust_recency_then_name() {
    let trust = SourceTrust::default();
    let one = |c: Consent| BTreeMap::from([(Channel::Email, c)]);
    let cases = [
        // Equally trusted withdrawals: the more recent.
        (
            consent(WITHDRAW, h(1), "pos"),
            consent(WITHDRAW, h(2), "pos"),
            consent(WITHDRAW, h(2), "pos"),
        ),
        // Grants at the same instant: the more trusted.
        (
            consent(GRANT, h(1), "web"),
            consent(GRANT, h(1), "pos"),
            consent(GRANT, h(1), "pos"),
        ),
        // Equally ranked unknown sources at the same instant: the smaller name.
        (
            consent(WITHDRAW, h(1), "zeta"),
            consent(WITHDRAW, h(1), "alpha"),
            consent(WITHDRAW, h(1), "alpha"),
        ),
    ];
    for (a, b, expect) in cases {
        assert_eq!(
            merge_consents(&one(a.clone()), &one(b.clone()), &trust),
            one(expect.clone())
        );
        assert_eq!(merge_consents(&one(b), &one(a), &trust), one(expect));
    }
}

fn days(n: i64) -> DateTime<Utc> {
    t0() + Duration::days(n)
}

#[test]
fn survivorship_examples() {
    let trust = SourceTrust::default();
    // (a, b, expected survivor, why)
    let cases = [
        (
            sourced("desk@old.example", days(0), "service_desk"),
            sourced("till@new.example", days(5 * 365), "pos"),
            "till@new.example",
            "a five-year-old service desk value loses to a fresh till value",
        ),
        (
            sourced("desk@example", days(0), "service_desk"),
            sourced("import@example", days(30), "import"),
            "desk@example",
            "a month-newer import does not outweigh the service desk",
        ),
        (
            sourced("desk@example", days(0), "service_desk"),
            sourced("paper@example", days(365), "paper"),
            "desk@example",
            "exactly stale_after_days newer is not more than it",
        ),
        (
            sourced("desk@example", days(0), "service_desk"),
            sourced("paper@example", days(366), "paper"),
            "paper@example",
            "one day past the window is",
        ),
        (
            sourced("desk@example", days(10), "service_desk"),
            sourced("import@example", days(0), "import"),
            "desk@example",
            "more trusted and newer",
        ),
        (
            sourced("old@example", days(0), "web"),
            sourced("new@example", days(1), "web"),
            "new@example",
            "same source: the more recent",
        ),
        (
            sourced("kiosk@example", days(0), "kiosk"),
            sourced("partner@example", days(1), "partner_feed"),
            "partner@example",
            "two unknown sources are equally trusted: the more recent",
        ),
        (
            sourced("kiosk@example", days(100), "kiosk"),
            sourced("paper@example", days(0), "paper"),
            "paper@example",
            "an unknown source ranks below paper",
        ),
        (
            sourced("b@example", days(0), "zeta"),
            sourced("a@example", days(0), "alpha"),
            "a@example",
            "same rank and instant: the smaller source name",
        ),
        (
            sourced("b@example", days(0), "web"),
            sourced("a@example", days(0), "web"),
            "a@example",
            "same source and instant: the smaller value",
        ),
    ];
    for (a, b, expect, why) in &cases {
        assert_eq!(survivor(a, b, &trust).value, *expect, "{why}");
        assert_eq!(survivor(b, a, &trust).value, *expect, "{why}, swapped");
    }
}

#[test]
fn stale_after_days_moves_between_recency_and_trust() {
    let desk = sourced(1, days(0), "service_desk");
    let paper = sourced(2, days(2), "paper");
    let recency = SourceTrust {
        stale_after_days: 0,
        ..SourceTrust::default()
    };
    let trust_only = SourceTrust {
        stale_after_days: u32::MAX,
        ..SourceTrust::default()
    };
    assert_eq!(survivor(&desk, &paper, &recency).value, 2);
    assert_eq!(survivor(&desk, &paper, &SourceTrust::default()).value, 1);
    let ancient = sourced(1, utc("1900-01-01T00:00:00Z"), "service_desk");
    assert_eq!(survivor(&ancient, &paper, &trust_only).value, 1);
}

#[test]
fn survivor_among_drops_stale_values_before_ranking() {
    let trust = SourceTrust::default();
    // Pairwise, desk beats pos and pos beats paper (both within the window), but
    // paper is newer than desk by more than it: no pairwise fold is order-free.
    let desk = sourced("desk", days(0), "service_desk");
    let pos = sourced("pos", days(200), "pos");
    let paper = sourced("paper", days(400), "paper");
    assert_eq!(survivor(&desk, &pos, &trust).value, "desk");
    assert_eq!(survivor(&pos, &paper, &trust).value, "pos");
    assert_eq!(survivor(&desk, &paper, &trust).value, "paper");
    // Among all three the desk value is stale against the newest; pos is the most
    // trusted of the rest.
    let all = [desk, pos, paper];
    assert_eq!(survivor_among(&all, &trust).unwrap().value, "pos");
    assert_eq!(survivor_among::<&str>(&[], &trust), None);
}

#[test]
fn update_field_examples() {
    let trust = SourceTrust::default();
    let stored = sourced("a@example", days(10), "pos");
    // (incoming, replaces?, why)
    let cases = [
        (stored.clone(), false, "identical"),
        (
            sourced("a@example", days(11), "pos"),
            true,
            "same value, newer: provenance refreshed",
        ),
        (
            sourced("b@example", days(11), "pos"),
            true,
            "newer, same source",
        ),
        (
            sourced("b@example", days(9), "pos"),
            false,
            "older, same source",
        ),
        (
            sourced("b@example", days(9), "web"),
            false,
            "older, less trusted",
        ),
        (
            sourced("b@example", days(9), "service_desk"),
            true,
            "older but more trusted, within the window",
        ),
        (
            sourced("b@example", days(10 - 400), "service_desk"),
            false,
            "more trusted but stale against the stored value",
        ),
        (
            sourced("b@example", days(40), "import"),
            false,
            "newer but less trusted, within the window",
        ),
        (
            sourced("b@example", days(10 + 366), "import"),
            true,
            "less trusted but the stored value is stale",
        ),
    ];
    for (incoming, replaces, why) in cases {
        let expect = replaces.then(|| incoming.clone());
        assert_eq!(
            update_field(Some(&stored), incoming, &trust),
            expect,
            "{why}"
        );
    }
    let first = sourced("a@example", days(0), "paper");
    assert_eq!(
        update_field(None, first.clone(), &trust),
        Some(first),
        "an empty field takes any value"
    );
}

// Properties.

const SOURCES: [&str; 8] = [
    "service_desk",
    "pos",
    "web",
    "app",
    "import",
    "paper",
    "kiosk",
    "partner_feed",
];

fn arb_source() -> impl Strategy<Value = String> {
    proptest::sample::select(&SOURCES[..]).prop_map(String::from)
}

/// Few distinct instants, so that ties are common.
fn arb_at() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..6).prop_map(h)
}

fn arb_consent() -> impl Strategy<Value = Consent> {
    (any::<bool>(), arb_at(), arb_source()).prop_map(|(granted, at, source)| Consent {
        granted,
        at,
        source,
    })
}

fn arb_consents() -> impl Strategy<Value = BTreeMap<Channel, Consent>> {
    proptest::collection::btree_map(
        proptest::sample::select(&Channel::ALL[..]),
        arb_consent(),
        0..=5,
    )
}

fn arb_event() -> impl Strategy<Value = ConsentEvent> {
    (
        proptest::sample::select(&Channel::ALL[..2]),
        any::<bool>(),
        arb_at(),
        arb_source(),
    )
        .prop_map(|(channel, granted, at, source)| ConsentEvent {
            channel,
            granted,
            at,
            source,
        })
}

/// Values over a span wider than the default window, so that staleness is common.
fn arb_sourced() -> impl Strategy<Value = Sourced<u8>> {
    (0u8..3, 0i64..900, arb_source()).prop_map(|(value, day, source)| Sourced {
        value,
        at: days(day),
        source,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn merge_consents_is_commutative(a in arb_consents(), b in arb_consents()) {
        let trust = SourceTrust::default();
        prop_assert_eq!(merge_consents(&a, &b, &trust), merge_consents(&b, &a, &trust));
    }

    #[test]
    fn merge_consents_is_idempotent(a in arb_consents()) {
        let trust = SourceTrust::default();
        prop_assert_eq!(merge_consents(&a, &a, &trust), a);
    }

    #[test]
    fn merge_consents_is_associative(a in arb_consents(), b in arb_consents(), c in arb_consents()) {
        let trust = SourceTrust::default();
        prop_assert_eq!(
            merge_consents(&merge_consents(&a, &b, &trust), &c, &trust),
            merge_consents(&a, &merge_consents(&b, &c, &trust), &trust)
        );
    }

    /// Merging keeps every channel, one of the two sides' consents, and a withdrawal
    /// whenever either side has one.
    #[test]
    fn merge_consents_keeps_every_channel_and_every_withdrawal(a in arb_consents(), b in arb_consents()) {
        let merged = merge_consents(&a, &b, &SourceTrust::default());
        for channel in Channel::ALL {
            let sides = [a.get(&channel), b.get(&channel)];
            match merged.get(&channel) {
                None => prop_assert_eq!(sides, [None, None]),
                Some(kept) => {
                    prop_assert!(sides.contains(&Some(kept)));
                    let any_withdrawal = sides.iter().flatten().any(|c| !c.granted);
                    prop_assert_eq!(kept.granted, !any_withdrawal);
                }
            }
        }
    }

    #[test]
    fn survivor_is_commutative_and_one_of_the_two(a in arb_sourced(), b in arb_sourced()) {
        let trust = SourceTrust::default();
        let ab = survivor(&a, &b, &trust);
        prop_assert_eq!(ab, survivor(&b, &a, &trust));
        prop_assert!(ab == &a || ab == &b);
    }

    /// `update_field` replaces the stored value exactly when the incoming one survives
    /// against it and differs from it.
    #[test]
    fn update_field_agrees_with_survivor(stored in arb_sourced(), incoming in arb_sourced()) {
        let trust = SourceTrust::default();
        let kept = survivor(&stored, &incoming, &trust).clone();
        let updated = update_field(Some(&stored), incoming.clone(), &trust);
        match updated {
            Some(new) => {
                prop_assert_eq!(&new, &incoming);
                prop_assert_eq!(&kept, &incoming);
                prop_assert_ne!(&stored, &incoming);
            }
            None => prop_assert_eq!(kept, stored),
        }
    }

    #[test]
    fn survivor_among_ignores_order_and_agrees_with_survivor_on_pairs(
        mut values in proptest::collection::vec(arb_sourced(), 1..6),
        rotate in 0usize..6,
    ) {
        let trust = SourceTrust::default();
        let chosen = survivor_among(&values, &trust).cloned();
        values.reverse();
        let len = values.len();
        values.rotate_left(rotate % len);
        prop_assert_eq!(survivor_among(&values, &trust).cloned(), chosen.clone());
        if let [a, b] = &values[..] {
            prop_assert_eq!(chosen.as_ref(), Some(survivor(a, b, &trust)));
        }
    }

    #[test]
    fn replay_ignores_arrival_order(
        mut events in proptest::collection::vec(arb_event(), 0..10),
        rotate in 0usize..10,
    ) {
        let trust = SourceTrust::default();
        let state = replay_consents(&events, &trust);
        events.reverse();
        if !events.is_empty() {
            let len = events.len();
            events.rotate_left(rotate % len);
        }
        prop_assert_eq!(replay_consents(&events, &trust), state);
    }

    /// The promises of the consent rules, checked against the whole history: a grant in
    /// force is newer than every withdrawal, and each withdrawal was followed by a grant
    /// at least as trusted; a withdrawal in force was not followed by any grant at least
    /// as trusted.
    #[test]
    fn replay_never_lets_a_weaker_or_older_grant_undo_a_withdrawal(
        events in proptest::collection::vec(arb_event(), 0..10),
    ) {
        let trust = SourceTrust::default();
        let state = replay_consents(&events, &trust);
        for channel in Channel::ALL {
            let history: Vec<&ConsentEvent> =
                events.iter().filter(|e| e.channel == channel).collect();
            let Some(current) = state.get(&channel) else {
                prop_assert!(history.is_empty());
                continue;
            };
            prop_assert!(history.iter().any(|e| Consent::from(*e) == *current));
            let rank = |e: &ConsentEvent| trust.rank(&e.source);
            let grants = history.iter().filter(|e| e.granted);
            let withdrawals = history.iter().filter(|e| !e.granted);
            if current.granted {
                for withdrawal in withdrawals {
                    prop_assert!(withdrawal.at < current.at);
                    prop_assert!(history.iter().any(|g| g.granted
                        && g.at > withdrawal.at
                        && rank(g) <= rank(withdrawal)));
                }
            } else {
                for grant in grants {
                    prop_assert!(grant.at <= current.at || rank(grant) > trust.rank(&current.source));
                }
            }
        }
    }
}
