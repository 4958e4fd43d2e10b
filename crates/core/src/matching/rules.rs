//! Identifiers, blocked values and the decision on a pair.

use super::person::{folded_score, names_disagree, FoldedPerson};
use crate::error::CoreError;
use serde::{Deserialize, Serialize};

/// The default `fuzzy_threshold`: a name-and-birthday score at or above it goes to
/// review. Same folded names score 1; a typo in one name about 0.98; a typo in both
/// names, or a diminutive and a swapped birthday, about 0.95; a missing first name
/// at most 0.90 (0.94 when the middle names agree).
pub const DEFAULT_FUZZY_THRESHOLD: f64 = 0.92;

/// An identifier two records can match exactly on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Identifier {
    /// The record's id in the system it was imported from: names one account.
    ExternalId,
    /// A loyalty card number: names one account.
    Card,
    /// A phone: a family may share it.
    Phone,
    /// An email: a family may share it.
    Email,
}

impl Identifier {
    /// Whether the identifier names an account rather than a contact.
    fn names_account(self) -> bool {
        matches!(self, Identifier::ExternalId | Identifier::Card)
    }
}

/// An identifier value both records of a pair carry, as normalised
/// (`customer::normalize_phone`, `normalize_email`, `normalize_card`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedValue<'a> {
    pub on: Identifier,
    pub value: &'a str,
    /// How many profiles carry the value, the pair's two included.
    pub n_profiles: usize,
}

/// What matched a pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum MatchKind {
    /// An identifier both carry, not blocked.
    Exact {
        on: Identifier,
    },
    /// Name and birthday, scoring at least the threshold.
    Fuzzy {
        score: f64,
    },
    None,
}

/// What to do with a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Merge without asking.
    Merge,
    /// Put before a person in the review queue.
    Review,
    /// Keep both records.
    None,
}

/// A pair's match and what to do with it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub kind: MatchKind,
    pub action: Action,
}

/// The matching settings of a program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchRules {
    /// The least [`name_birthday_score`](super::name_birthday_score) that sends a pair
    /// to review ([`DEFAULT_FUZZY_THRESHOLD`]).
    pub fuzzy_threshold: f64,
    /// K: a value carried by more than this many profiles never matches (3).
    pub max_profiles_per_value: usize,
    /// Normalised phones that never match. Besides these, a number whose national
    /// part (after a 1 to 3 digit country code) is one digit repeated never matches.
    pub blocked_phones: Vec<String>,
    /// Emails that never match.
    pub blocked_emails: Vec<String>,
    /// Domains whose emails never match.
    pub blocked_email_domains: Vec<String>,
    /// Local parts (before `@`) that never match, at any domain. Besides these, a
    /// local part of one character repeated (`a@`, `111@`) never matches.
    pub blocked_email_local_parts: Vec<String>,
}

impl Default for MatchRules {
    fn default() -> Self {
        let strings = |values: &[&str]| values.iter().map(|v| v.to_string()).collect();
        MatchRules {
            fuzzy_threshold: DEFAULT_FUZZY_THRESHOLD,
            max_profiles_per_value: 3,
            blocked_phones: strings(&[
                "+70000000000",
                "+71111111111",
                "+79999999999",
                "+71234567890",
                "+79000000000",
                "+79111111111",
                "+79123456789",
                "+79876543210",
            ]),
            blocked_emails: strings(&[
                "test@test.ru",
                "test@test.com",
                "noemail@noemail.com",
                "no@no.ru",
                "no@no.com",
                "net@net.ru",
                "mail@mail.ru",
                "email@email.com",
                "123@mail.ru",
            ]),
            blocked_email_domains: strings(&[
                "example.com",
                "example.org",
                "example.net",
                "example.ru",
                "test.ru",
                "test.com",
                "noemail.com",
                "noemail.ru",
                "no.ru",
                "none.ru",
            ]),
            blocked_email_local_parts: strings(&[
                "test", "noemail", "no-email", "no_email", "nomail", "no", "none", "net", "null",
                "nobody", "unknown", "email", "asdf", "qwerty",
            ]),
        }
    }
}

impl MatchRules {
    /// Checks the settings: a threshold in (0, 1], K at least 2 (the pair itself).
    pub fn validate(&self) -> Result<(), CoreError> {
        if !(self.fuzzy_threshold > 0.0 && self.fuzzy_threshold <= 1.0) {
            return Err(CoreError::invalid(
                "fuzzy_threshold",
                "must be above 0 and at most 1",
            ));
        }
        if self.max_profiles_per_value < 2 {
            return Err(CoreError::invalid(
                "max_profiles_per_value",
                "must be at least 2",
            ));
        }
        Ok(())
    }

    /// Whether a normalised phone (`+` and digits) is a placeholder that never matches.
    pub fn is_blocked_phone(&self, e164: &str) -> bool {
        if self.blocked_phones.iter().any(|p| p == e164) {
            return true;
        }
        let digits = e164.strip_prefix('+').unwrap_or(e164).as_bytes();
        (1..=3).any(|country_len| {
            digits.get(country_len..).is_some_and(|national| {
                national.len() >= 6 && national.iter().all(|d| Some(d) == national.first())
            })
        })
    }

    /// Whether an email is a placeholder that never matches (a value with no `@` is).
    pub fn is_blocked_email(&self, email: &str) -> bool {
        let Some((local, domain)) = email.rsplit_once('@') else {
            return true;
        };
        let listed =
            |list: &[String], value: &str| list.iter().any(|v| v.eq_ignore_ascii_case(value));
        listed(&self.blocked_emails, email)
            || listed(&self.blocked_email_domains, domain)
            || listed(&self.blocked_email_local_parts, local)
            || local.chars().all(|c| local.starts_with(c))
    }

    /// Whether a value never matches on its own: a blocked phone or email, or a card
    /// or external id that is blank or one character repeated (`0000000`).
    pub fn is_blocked(&self, on: Identifier, value: &str) -> bool {
        match on {
            Identifier::Phone => self.is_blocked_phone(value),
            Identifier::Email => self.is_blocked_email(value),
            Identifier::Card | Identifier::ExternalId => {
                let value = value.trim();
                value.chars().all(|c| value.starts_with(c))
            }
        }
    }

    /// Whether a shared value can match the pair: not blocked and carried by at most K
    /// profiles.
    pub fn is_usable(&self, shared: &SharedValue<'_>) -> bool {
        shared.n_profiles <= self.max_profiles_per_value
            && !self.is_blocked(shared.on, shared.value)
    }

    /// Decides a candidate pair from the identifier values both carry and their names
    /// and birthdays:
    ///
    /// 1. a usable external id or card: exact, merge;
    /// 2. a usable phone or email: exact, merge, unless [`names_disagree`] (a family
    ///    sharing a phone): then exact, review;
    /// 3. [`folded_score`] at least `fuzzy_threshold`: fuzzy, review;
    /// 4. otherwise no match.
    ///
    /// When several values match, the first kind in [`Identifier`] order is reported.
    pub fn decide(
        &self,
        shared: &[SharedValue<'_>],
        a: &FoldedPerson,
        b: &FoldedPerson,
    ) -> Decision {
        let exact = shared
            .iter()
            .filter(|value| self.is_usable(value))
            .map(|value| value.on)
            .min();
        if let Some(on) = exact {
            let action = if on.names_account() || !names_disagree(a, b) {
                Action::Merge
            } else {
                Action::Review
            };
            return Decision {
                kind: MatchKind::Exact { on },
                action,
            };
        }
        match folded_score(a, b) {
            Some(score) if score >= self.fuzzy_threshold => Decision {
                kind: MatchKind::Fuzzy { score },
                action: Action::Review,
            },
            _ => Decision {
                kind: MatchKind::None,
                action: Action::None,
            },
        }
    }
}
