//! Who may call what: API key scopes, the keys themselves (stored only as a hash of
//! their secret), and the rules a key is judged by at a given instant.
//!
//! Choices made here:
//! - **A key is shown once.** Its text is `tsk_<26 characters>_<32 characters>`: the
//!   first part names the key (`key_<26 characters>` is its id, safe to log and to
//!   show), the second is 160 random bits the store never sees; it keeps their
//!   SHA-256. The secret is random, not chosen by a person, so a fast hash is enough
//!   (a password needs a slow one).
//! - **A `pos` key belongs to one store.** A till key can only be stolen from a till,
//!   so it reaches one store, never the chain; a `pos` key without a store is refused.
//! - **Scopes are additive**, and `admin` holds every scope but `self_service`
//!   (which is a customer's own, and only a customer's token carries it).

use crate::catalog::validate_id;
use crate::error::{CoreError, ErrorCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// What a key or a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// A till: receipts of its own store, enrolling members.
    Pos,
    /// Everything but a customer's own account.
    Admin,
    /// Promotions, coupons, segments, reading the catalogue.
    Marketing,
    /// The service desk: profiles, merges, adjustments, cards, privacy requests.
    Service,
    /// Reading configuration and receipts, no personal data.
    Analytics,
    /// A customer's own account (`/v1/me`).
    SelfService,
    /// Reading the audit log (auditors, a SIEM export).
    Audit,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 7] = [
        Scope::Pos,
        Scope::Admin,
        Scope::Marketing,
        Scope::Service,
        Scope::Analytics,
        Scope::SelfService,
        Scope::Audit,
    ];

    /// The scope's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Pos => "pos",
            Scope::Admin => "admin",
            Scope::Marketing => "marketing",
            Scope::Service => "service",
            Scope::Analytics => "analytics",
            Scope::SelfService => "self_service",
            Scope::Audit => "audit",
        }
    }

    /// The scope of a name, if it is one.
    pub fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// A set of scopes, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// The set holding just these scopes.
    pub fn of(scopes: &[Scope]) -> Scopes {
        Scopes(scopes.iter().fold(0, |bits, s| bits | Scopes::bit(*s)))
    }

    fn bit(scope: Scope) -> u8 {
        1 << (scope as u8)
    }

    /// Whether the set holds `scope` itself.
    pub fn holds(self, scope: Scope) -> bool {
        self.0 & Scopes::bit(scope) != 0
    }

    /// Whether a holder of this set may use something open to `allowed`: it holds one
    /// of them, or holds `admin` and `allowed` is not only for customers.
    pub fn may(self, allowed: Scopes) -> bool {
        if self.0 & allowed.0 != 0 {
            return true;
        }
        self.holds(Scope::Admin) && allowed.0 & !Scopes::bit(Scope::SelfService) != 0
    }

    /// The scopes in the set, in [`Scope::ALL`] order.
    pub fn list(self) -> Vec<Scope> {
        Scope::ALL.into_iter().filter(|s| self.holds(*s)).collect()
    }
}

/// A back-office user's role, and the scopes it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffRole {
    /// Everything a staff member can do, users included.
    Admin,
    /// Promotions, coupons, segments; reading configuration and reports.
    Marketer,
    /// The service desk.
    Service,
    /// Reading the audit log, configuration and reports; changing nothing.
    Auditor,
}

impl StaffRole {
    pub const ALL: [StaffRole; 4] = [
        StaffRole::Admin,
        StaffRole::Marketer,
        StaffRole::Service,
        StaffRole::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::Admin => "admin",
            StaffRole::Marketer => "marketer",
            StaffRole::Service => "service",
            StaffRole::Auditor => "auditor",
        }
    }

    pub fn parse(name: &str) -> Option<StaffRole> {
        StaffRole::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The scopes a session of this role has.
    pub fn scopes(self) -> Scopes {
        match self {
            StaffRole::Admin => Scopes::of(&[Scope::Admin]),
            StaffRole::Marketer => Scopes::of(&[Scope::Marketing, Scope::Analytics]),
            StaffRole::Service => Scopes::of(&[Scope::Service]),
            StaffRole::Auditor => Scopes::of(&[Scope::Audit, Scope::Analytics]),
        }
    }
}

/// The most characters a key's name may have.
pub const MAX_KEY_NAME: usize = 100;

/// An API key as stored: everything but its secret, of which only the hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// `key_` and 26 characters; the middle part of the key's text.
    pub key_id: String,
    pub name: String,
    /// Sorted, without repeats.
    pub scopes: Vec<Scope>,
    /// The store a `pos` key belongs to.
    pub store_id: Option<String>,
    /// SHA-256 of the secret part, lower-case hex.
    pub secret_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a key is at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Expired,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expired => "expired",
            KeyStatus::Revoked => "revoked",
        }
    }
}

impl ApiKey {
    /// Revoked wins over expired; a key expires at `expires_at` itself.
    pub fn status_at(&self, now: DateTime<Utc>) -> KeyStatus {
        if self.revoked_at.is_some_and(|at| at <= now) {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }

    /// Whether `secret` is this key's, compared in constant time.
    pub fn secret_matches(&self, secret: &str) -> bool {
        secret_hash(secret)
            .as_bytes()
            .ct_eq(self.secret_hash.as_bytes())
            .into()
    }

    /// The key's scopes as a set.
    pub fn scope_set(&self) -> Scopes {
        Scopes::of(&self.scopes)
    }
}

/// A key as asked for, before it has an id and a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<Scope>,
    pub store_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl NewApiKey {
    /// Checks the request at `now`: a name, at least one scope, a store for a `pos`
    /// key and only for one, no `self_service` (customers get tokens, not keys), an
    /// expiry in the future.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(), CoreError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_KEY_NAME {
            return Err(CoreError::invalid(
                "name",
                format!("must be 1 to {MAX_KEY_NAME} characters"),
            ));
        }
        if self.scopes.is_empty() {
            return Err(CoreError::invalid("scopes", "must name at least one scope"));
        }
        if self.scopes.contains(&Scope::SelfService) {
            return Err(CoreError::invalid(
                "scopes",
                "self_service belongs to customers' sign-in tokens, not to API keys",
            ));
        }
        let pos = self.scopes.contains(&Scope::Pos);
        match &self.store_id {
            Some(store_id) if pos => validate_id("store_id", store_id)?,
            Some(_) => {
                return Err(CoreError::invalid(
                    "store_id",
                    "only a key with the pos scope belongs to a store",
                ))
            }
            None if pos => {
                return Err(CoreError::field(
                    ErrorCode::MissingField,
                    "store_id",
                    "a key with the pos scope must name the store its tills are in",
                ))
            }
            None => {}
        }
        if let Some(at) = self.expires_at {
            if at <= now {
                return Err(CoreError::invalid("expires_at", "must be in the future"));
            }
        }
        Ok(())
    }

    /// The stored key and the text shown once to whoever asked for it, from 128 bits
    /// naming the key (`key_id` is made by the caller from them, time-ordered) and
    /// 160 random bits of secret.
    pub fn issue(self, key_id: String, secret: [u8; 20], now: DateTime<Utc>) -> (ApiKey, String) {
        let secret = crate::otp::base32_encode(&secret).to_ascii_lowercase();
        let id_part = key_id.strip_prefix("key_").unwrap_or(&key_id);
        let text = format!("tsk_{id_part}_{secret}");
        let mut scopes = self.scopes;
        scopes.sort();
        scopes.dedup();
        let key = ApiKey {
            secret_hash: secret_hash(&secret),
            key_id,
            name: self.name.trim().to_string(),
            scopes,
            store_id: self.store_id,
            created_at: now,
            expires_at: self.expires_at,
            revoked_at: None,
        };
        (key, text)
    }
}

/// The key id and secret of a presented key text, or `None` when it is not one.
pub fn parse_key(text: &str) -> Option<(String, &str)> {
    let rest = text.strip_prefix("tsk_")?;
    let (id_part, secret) = rest.split_once('_')?;
    let well_formed = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    (well_formed(id_part) && well_formed(secret)).then(|| (format!("key_{id_part}"), secret))
}

/// SHA-256 of a key's secret part, lower-case hex.
pub fn secret_hash(secret: &str) -> String {
    crate::digest::sha256_hex(secret.as_bytes())
}
