//! The stored shape of a customer profile and of what the CRM writes beside it: the
//! identifiers, the history of changes, merges and their review queue, staff
//! adjustments.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tessera_core::customer::CardType;
use tessera_core::profile::ProfileDoc;

/// Whether a profile is in use, merged into another one, or erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ProfileStatus {
    Active,
    /// Merged into `into`; its identifiers, points and values moved there.
    Merged {
        into: String,
    },
    /// Personal data removed at `at`; the ledger and receipts stay under the id.
    Erased {
        at: DateTime<Utc>,
    },
}

impl ProfileStatus {
    /// The stored name: `active`, `merged`, `erased`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProfileStatus::Active => "active",
            ProfileStatus::Merged { .. } => "merged",
            ProfileStatus::Erased { .. } => "erased",
        }
    }
}

/// A kind of identifier besides cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    /// An E.164 phone; names one customer at a time.
    Phone,
    /// A normalised email; several customers may share one (a family).
    Email,
    /// `<source>:<id>`, the record's id in another system; names one customer.
    External,
}

impl IdentifierKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Phone => "phone",
            IdentifierKind::Email => "email",
            IdentifierKind::External => "external",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<IdentifierKind> {
        [
            IdentifierKind::Phone,
            IdentifierKind::Email,
            IdentifierKind::External,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// Whether one value may name only one customer.
    pub fn is_unique(self) -> bool {
        !matches!(self, IdentifierKind::Email)
    }
}

/// A phone, email or external id of a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredIdentifier {
    pub kind: IdentifierKind,
    pub value: String,
    pub source: String,
    pub added_at: DateTime<Utc>,
}

/// Whether a card can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardStatus {
    Active,
    /// Lost or stolen: a till presenting it is refused.
    Blocked,
    /// Replaced by another card; a till presenting it is refused.
    Replaced,
}

impl CardStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Active => "active",
            CardStatus::Blocked => "blocked",
            CardStatus::Replaced => "replaced",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<CardStatus> {
        [
            CardStatus::Active,
            CardStatus::Blocked,
            CardStatus::Replaced,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A customer's card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCard {
    pub number: String,
    pub card_type: CardType,
    pub status: CardStatus,
}

/// A customer's profile as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredProfile {
    pub customer_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: ProfileStatus,
    pub doc: ProfileDoc,
    /// Phones, emails and external ids, oldest first.
    pub identifiers: Vec<StoredIdentifier>,
    pub cards: Vec<StoredCard>,
}

impl StoredProfile {
    /// The values of one kind of identifier, oldest first.
    pub fn values(&self, kind: IdentifierKind) -> impl Iterator<Item = &str> {
        self.identifiers
            .iter()
            .filter(move |i| i.kind == kind)
            .map(|i| i.value.as_str())
    }

    /// The oldest value of one kind, shown as the customer's phone or email.
    pub fn primary(&self, kind: IdentifierKind) -> Option<&str> {
        self.values(kind).next()
    }
}

/// One entry of a customer's history: a field change, a consent, an identifier or a
/// card added or removed, a merge, an unmerge, an adjustment, an erasure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileEvent {
    /// Sequence number, assigned by the store; 0 before it is stored.
    pub event_id: i64,
    pub customer_id: String,
    pub at: DateTime<Utc>,
    /// `field`, `consent`, `identifier_added`, `identifier_removed`, `card`, `merge`,
    /// `merged_into`, `unmerge`, `adjustment`, `erase`, `created`.
    pub kind: String,
    pub source: String,
    /// Who did it (a staff member, an API key), when known.
    pub actor: Option<String>,
    pub detail: serde_json::Value,
}

/// A merge of `absorbed` into `survivor`, with what is needed to undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    pub merge_id: String,
    pub survivor_id: String,
    pub absorbed_id: String,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    /// `import`, `candidate`, `manual`.
    pub reason: String,
    /// Both profiles as they were just before the merge.
    pub survivor_before: StoredProfile,
    pub absorbed_before: StoredProfile,
    /// The lots that moved from the absorbed customer to the survivor.
    pub moved_lots: Vec<String>,
    /// The lots without points left (spent, expired) that went to the survivor too,
    /// so that a later return of an old receipt finds them with their holder.
    #[serde(default)]
    pub closed_lots: Vec<String>,
    /// Points moved outside lots (a negative available balance after returns).
    pub moved_unlotted: i64,
    /// Customers that had been merged into the absorbed one and now point at the
    /// survivor.
    pub repointed: Vec<String>,
    /// The absorbed customer's tier events, now counted for the survivor (an unmerge
    /// gives them back).
    #[serde(default)]
    pub moved_tier_events: Vec<i64>,
    pub undone_at: Option<DateTime<Utc>>,
}

/// Where a suggested merge stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateStatus {
    Open,
    Accepted,
    Rejected,
}

impl CandidateStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateStatus::Open => "open",
            CandidateStatus::Accepted => "accepted",
            CandidateStatus::Rejected => "rejected",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<CandidateStatus> {
        [
            CandidateStatus::Open,
            CandidateStatus::Accepted,
            CandidateStatus::Rejected,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// Two profiles that may be one person, waiting for a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeCandidate {
    pub candidate_id: String,
    /// The smaller id of the pair.
    pub customer_a: String,
    pub customer_b: String,
    /// `exact:<identifier>` or `fuzzy`.
    pub kind: String,
    /// The name + birthday score for fuzzy matches, 1 for exact ones.
    pub score: f64,
    pub status: CandidateStatus,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    /// The merge an acceptance made.
    pub merge_id: Option<String>,
}

/// A stored staff adjustment, keyed by its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAdjustment {
    pub key: String,
    pub customer_id: String,
    pub request_hash: String,
    pub response: Vec<u8>,
    pub at: DateTime<Utc>,
}

impl StoredProfile {
    /// The profile of a customer registered through `POST /v1/customers` or a till:
    /// the legacy name in the document, the phone and email as identifiers, the cards
    /// active.
    pub fn from_customer(customer: &tessera_core::customer::Customer, source: &str) -> Self {
        use tessera_core::consent::Sourced;
        use tessera_core::profile::Registration;
        let at = customer.created_at;
        let sourced = |value: &str| Sourced {
            value: value.to_string(),
            at,
            source: source.to_string(),
        };
        let doc = ProfileDoc {
            name: customer.name.as_deref().map(sourced),
            registration: Some(Registration {
                source: source.to_string(),
                at,
                store_id: None,
            }),
            ..ProfileDoc::default()
        };
        let mut identifiers = Vec::new();
        for (kind, value) in [
            (IdentifierKind::Phone, &customer.phone),
            (IdentifierKind::Email, &customer.email),
        ] {
            if let Some(value) = value {
                identifiers.push(StoredIdentifier {
                    kind,
                    value: value.clone(),
                    source: source.to_string(),
                    added_at: at,
                });
            }
        }
        StoredProfile {
            customer_id: customer.customer_id.clone(),
            created_at: at,
            updated_at: at,
            status: ProfileStatus::Active,
            doc,
            identifiers,
            cards: customer
                .cards
                .iter()
                .map(|c| StoredCard {
                    number: c.number.clone(),
                    card_type: c.card_type,
                    status: CardStatus::Active,
                })
                .collect(),
        }
    }
}
