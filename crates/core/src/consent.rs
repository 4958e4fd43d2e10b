//! Marketing consents per channel, and the provenance and survivorship of profile
//! fields: which of two values set at different times from different sources is kept.
//!
//! Both rest on [`SourceTrust`], the configured order of sources from most to least
//! trusted (unknown sources rank last, all equally).
//!
//! # Consents
//!
//! A channel's state is the last effective [`ConsentEvent`]: granted or withdrawn, when
//! and from which source. [`apply_consent`] judges one event against that state:
//!
//! | # | State        | Event      | Condition                                              | Result  | Reason code              |
//! |---|--------------|------------|--------------------------------------------------------|---------|--------------------------|
//! | 1 | none         | any        |                                                        | applied |                          |
//! | 2 | any          | any        | `event.at < state.at`                                  | ignored | `stale`                  |
//! | 3 | any          | same       | same `granted`, `at` and `source` as the state         | ignored | `duplicate`              |
//! | 4 | granted      | withdrawal | `event.at >= state.at`                                 | applied |                          |
//! | 5 | granted      | grant      | `event.at > state.at` (any source)                     | applied |                          |
//! | 6 | withdrawn    | grant      | `event.at == state.at`                                 | ignored | `withdrawal_wins_tie`    |
//! | 7 | withdrawn    | grant      | `event.at > state.at`, source at least as trusted      | applied |                          |
//! | 8 | withdrawn    | grant      | `event.at > state.at`, source less trusted             | ignored | `weaker_than_withdrawal` |
//! | 9 | withdrawn    | withdrawal | `event.at > state.at`, source at least as trusted      | applied |                          |
//! |10 | withdrawn    | withdrawal | `event.at > state.at`, source less trusted             | ignored | `already_withdrawn`      |
//! |11 | same kind    | same kind  | `event.at == state.at`, source preferred               | applied |                          |
//! |12 | same kind    | same kind  | `event.at == state.at`, source not preferred           | ignored | `same_time_less_trusted` |
//!
//! "At least as trusted" compares ranks only, so two unknown sources are equally
//! trusted. "Preferred" (rows 11–12, only to make simultaneous events deterministic) is
//! the lower rank, then the lexicographically smaller source name. Row 10 keeps the
//! strongest withdrawal in force, so a weak withdrawal after a strong one does not
//! lower the bar a later grant has to clear.
//!
//! The state holds one event, so the result of [`apply_consent`] can depend on the order
//! events arrive in: a withdrawal that arrives after a newer grant is `stale` even if
//! that grant was weaker than it. When events can arrive out of order, keep them and
//! compute the state with [`replay_consents`], which applies them in time order (grants
//! before withdrawals at the same instant, so that a simultaneous withdrawal wins) and
//! so does not depend on the order it is given them in.
//!
//! [`merge_consents`] joins two customers' consents per channel: a withdrawal on either
//! side wins over any grant (even a newer one: the grant may not have been made by the
//! person who withdrew); of two withdrawals the one from the more trusted source, then
//! the more recent, is kept; of two grants the more recent, then the more trusted. This
//! picks the maximum of a total order, so merging is commutative, associative and
//! idempotent.
//!
//! # Field survivorship
//!
//! A [`Sourced`] value records when and from which source it was set. [`survivor`]
//! keeps the value "most recently set from the most trusted source", precisely:
//!
//! | Ranks     | Condition                                                            | Survivor               |
//! |-----------|----------------------------------------------------------------------|------------------------|
//! | differ    | the less trusted value is newer by more than `stale_after_days`      | the less trusted value |
//! | differ    | otherwise                                                            | the more trusted value |
//! | equal     | different `at`                                                       | the more recent value  |
//! | equal     | same `at`                                                            | the smaller source name, then the smaller value |
//!
//! So a five-year-old value from the service desk loses to a fresh one from a till,
//! while an import a week after a service-desk entry does not overwrite it.
//! `stale_after_days = 0` means "most recent wins"; a very large value means "most
//! trusted wins". [`update_field`] applies the same rule to a stored value and an
//! incoming one.
//!
//! The pairwise rule is commutative but not associative (A can beat B and B beat C,
//! each within the window, while C is newer than A by more than it), so to choose
//! among more than two values use [`survivor_among`], which first drops every value
//! older than the newest by more than `stale_after_days` and then picks the most
//! trusted, then the most recent.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;

/// A channel a customer can be contacted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Push,
    Viber,
    Telegram,
}

impl Channel {
    /// Every channel, in wire order.
    pub const ALL: [Channel; 5] = [
        Channel::Email,
        Channel::Sms,
        Channel::Push,
        Channel::Viber,
        Channel::Telegram,
    ];

    /// The wire and stored name of the channel.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::Viber => "viber",
            Channel::Telegram => "telegram",
        }
    }

    /// Parses a wire or stored name.
    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// A grant or withdrawal of consent on one channel, as reported by a source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConsentEvent {
    pub channel: Channel,
    pub granted: bool,
    pub at: DateTime<Utc>,
    /// Where it was given: a [`SourceTrust`] name such as `pos` or `import`.
    pub source: String,
}

/// The consent in force on one channel: the last event that took effect.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Consent {
    pub granted: bool,
    pub at: DateTime<Utc>,
    pub source: String,
}

impl From<&ConsentEvent> for Consent {
    fn from(event: &ConsentEvent) -> Consent {
        Consent {
            granted: event.granted,
            at: event.at,
            source: event.source.clone(),
        }
    }
}

/// How far each source is trusted, and when a trusted value counts as stale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceTrust {
    /// Source names, most trusted first. Sources not listed rank after all of them.
    pub order: Vec<String>,
    /// A value from a less trusted source survives over a more trusted one when it is
    /// newer by more than this many days.
    pub stale_after_days: u32,
}

impl Default for SourceTrust {
    fn default() -> SourceTrust {
        SourceTrust {
            order: ["service_desk", "pos", "web", "app", "import", "paper"]
                .into_iter()
                .map(String::from)
                .collect(),
            stale_after_days: 365,
        }
    }
}

impl SourceTrust {
    /// The source's position, 0 for the most trusted; unknown sources get `order.len()`.
    pub fn rank(&self, source: &str) -> usize {
        self.order
            .iter()
            .position(|s| s == source)
            .unwrap_or(self.order.len())
    }

    /// Whether `a` is preferred over `b` at the same instant: lower rank, then the
    /// smaller name (only so that ties are decided the same way every time).
    fn preferred(&self, a: &str, b: &str) -> bool {
        (self.rank(a), a) < (self.rank(b), b)
    }

    /// Whether a value set at `newer` is newer than one set at `older` by more than
    /// `stale_after_days`.
    fn outdates(&self, older: DateTime<Utc>, newer: DateTime<Utc>) -> bool {
        // A window too long for a TimeDelta never elapses.
        TimeDelta::try_days(i64::from(self.stale_after_days))
            .is_some_and(|window| newer.signed_duration_since(older) > window)
    }
}

/// Why a consent event leaves the channel's state as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgnoreReason {
    /// The event is older than the state (row 2).
    Stale,
    /// The state already is this event (row 3).
    Duplicate,
    /// A grant at the same instant as the withdrawal in force (row 6).
    WithdrawalWinsTie,
    /// A newer grant from a source less trusted than the one that withdrew (row 8).
    WeakerThanWithdrawal,
    /// A newer withdrawal from a source less trusted than the one in force (row 10).
    AlreadyWithdrawn,
    /// Same kind at the same instant from a source that is not preferred (row 12).
    SameTimeLessTrusted,
}

impl IgnoreReason {
    /// Every reason, in table order.
    pub const ALL: [IgnoreReason; 6] = [
        IgnoreReason::Stale,
        IgnoreReason::Duplicate,
        IgnoreReason::WithdrawalWinsTie,
        IgnoreReason::WeakerThanWithdrawal,
        IgnoreReason::AlreadyWithdrawn,
        IgnoreReason::SameTimeLessTrusted,
    ];

    /// The stable machine-readable code of the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            IgnoreReason::Stale => "stale",
            IgnoreReason::Duplicate => "duplicate",
            IgnoreReason::WithdrawalWinsTie => "withdrawal_wins_tie",
            IgnoreReason::WeakerThanWithdrawal => "weaker_than_withdrawal",
            IgnoreReason::AlreadyWithdrawn => "already_withdrawn",
            IgnoreReason::SameTimeLessTrusted => "same_time_less_trusted",
        }
    }

    /// Parses a code.
    pub fn parse(code: &str) -> Option<IgnoreReason> {
        IgnoreReason::ALL.into_iter().find(|r| r.as_str() == code)
    }
}

/// Whether a consent event takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The event becomes the channel's state.
    Applied,
    /// The state stays as it is.
    Ignored(IgnoreReason),
}

impl Decision {
    /// Whether the event takes effect.
    pub fn is_applied(self) -> bool {
        self == Decision::Applied
    }
}

/// Judges `event` against the channel's `current` state by the table in the module
/// documentation.
pub fn apply_consent(
    current: Option<&Consent>,
    event: &ConsentEvent,
    trust: &SourceTrust,
) -> Decision {
    let Some(current) = current else {
        return Decision::Applied;
    };
    let ignored = Decision::Ignored;
    match event.at.cmp(&current.at) {
        Ordering::Less => ignored(IgnoreReason::Stale),
        Ordering::Equal if event.granted == current.granted => {
            if event.source == current.source {
                ignored(IgnoreReason::Duplicate)
            } else if trust.preferred(&event.source, &current.source) {
                Decision::Applied
            } else {
                ignored(IgnoreReason::SameTimeLessTrusted)
            }
        }
        Ordering::Equal if event.granted => ignored(IgnoreReason::WithdrawalWinsTie),
        // A withdrawal at the same instant as a grant.
        Ordering::Equal => Decision::Applied,
        Ordering::Greater if current.granted => Decision::Applied,
        Ordering::Greater => {
            if trust.rank(&event.source) <= trust.rank(&current.source) {
                Decision::Applied
            } else if event.granted {
                ignored(IgnoreReason::WeakerThanWithdrawal)
            } else {
                ignored(IgnoreReason::AlreadyWithdrawn)
            }
        }
    }
}

/// The consents in force after `events`, whatever order they are given in: they are
/// applied with [`apply_consent`] in time order, grants before withdrawals at the same
/// instant.
pub fn replay_consents(events: &[ConsentEvent], trust: &SourceTrust) -> BTreeMap<Channel, Consent> {
    let mut ordered: Vec<&ConsentEvent> = events.iter().collect();
    // The full key makes the order total, so the input order cannot show through.
    ordered.sort_by(|a, b| {
        (a.at, Reverse(a.granted), a.channel, &a.source).cmp(&(
            b.at,
            Reverse(b.granted),
            b.channel,
            &b.source,
        ))
    });
    let mut consents = BTreeMap::new();
    for event in ordered {
        if apply_consent(consents.get(&event.channel), event, trust).is_applied() {
            consents.insert(event.channel, Consent::from(event));
        }
    }
    consents
}

/// The order [`merge_consents`] keeps the greater of: any withdrawal over any grant;
/// withdrawals by trust, then recency; grants by recency, then trust; then the smaller
/// source name.
fn merge_order(a: &Consent, b: &Consent, trust: &SourceTrust) -> Ordering {
    let rank_a = Reverse(trust.rank(&a.source));
    let rank_b = Reverse(trust.rank(&b.source));
    let name_a = Reverse(&a.source);
    let name_b = Reverse(&b.source);
    match (a.granted, b.granted) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => (rank_a, a.at, name_a).cmp(&(rank_b, b.at, name_b)),
        (true, true) => (a.at, rank_a, name_a).cmp(&(b.at, rank_b, name_b)),
    }
}

/// The consents of two customers merged into one, per channel as described in the
/// module documentation.
pub fn merge_consents(
    a: &BTreeMap<Channel, Consent>,
    b: &BTreeMap<Channel, Consent>,
    trust: &SourceTrust,
) -> BTreeMap<Channel, Consent> {
    let mut merged = a.clone();
    for (channel, theirs) in b {
        match merged.get(channel) {
            Some(ours) if merge_order(ours, theirs, trust) != Ordering::Less => {}
            _ => {
                merged.insert(*channel, theirs.clone());
            }
        }
    }
    merged
}

/// A field value with when and from which source it was last set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sourced<T> {
    pub value: T,
    pub at: DateTime<Utc>,
    pub source: String,
}

/// Which of `a` and `b` survives: `Greater` when `a` does. Antisymmetric, and `Equal`
/// only for equal values.
fn survival_order<T: Ord>(a: &Sourced<T>, b: &Sourced<T>, trust: &SourceTrust) -> Ordering {
    let (rank_a, rank_b) = (trust.rank(&a.source), trust.rank(&b.source));
    if rank_a != rank_b {
        let a_more_trusted = rank_a < rank_b;
        let (trusted, other) = if a_more_trusted { (a, b) } else { (b, a) };
        let other_wins = trust.outdates(trusted.at, other.at);
        return if a_more_trusted != other_wins {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    a.at.cmp(&b.at)
        .then_with(|| b.source.cmp(&a.source))
        .then_with(|| b.value.cmp(&a.value))
}

/// The value that survives of two, by the table in the module documentation.
pub fn survivor<'a, T: Ord>(
    a: &'a Sourced<T>,
    b: &'a Sourced<T>,
    trust: &SourceTrust,
) -> &'a Sourced<T> {
    if survival_order(a, b, trust) == Ordering::Less {
        b
    } else {
        a
    }
}

/// The value that survives of any number, whatever their order: of those not older
/// than the newest by more than `stale_after_days`, the most trusted, then the most
/// recent, then the smaller source name and value. `None` only for no candidates.
/// For two candidates it agrees with [`survivor`].
pub fn survivor_among<'a, T: Ord>(
    candidates: &'a [Sourced<T>],
    trust: &SourceTrust,
) -> Option<&'a Sourced<T>> {
    let newest = candidates.iter().map(|c| c.at).max()?;
    candidates
        .iter()
        .filter(|c| !trust.outdates(c.at, newest))
        .min_by_key(|c| (trust.rank(&c.source), Reverse(c.at), &c.source, &c.value))
}

/// The value to store when `incoming` arrives for a field holding `current`: `Some`
/// when it replaces it (by [`survivor`]'s rule), `None` when the stored value stays.
/// An identical value changes nothing; the same value newer or from another source
/// replaces it so that the provenance is kept up to date.
pub fn update_field<T: Ord>(
    current: Option<&Sourced<T>>,
    incoming: Sourced<T>,
    trust: &SourceTrust,
) -> Option<Sourced<T>> {
    match current {
        Some(current) if survival_order(&incoming, current, trust) != Ordering::Greater => None,
        _ => Some(incoming),
    }
}
