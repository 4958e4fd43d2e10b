//! The CRM writes the server hands to a store, and what they answer.

use crate::profile::{CandidateStatus, IdentifierKind, MergeCandidate, MergeRecord, StoredProfile};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tessera_core::consent::{ConsentEvent, SourceTrust};
use tessera_core::customer::CardType;
use tessera_core::profile::{Field, FieldValue};
use tessera_core::program::Program;

/// Who makes a change: the source system (`api`, `pos`, `service_desk`, `import`, …)
/// and, when known, the person or key and the store and terminal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub source: String,
    pub actor: Option<String>,
    pub store_id: Option<String>,
    pub terminal_id: Option<String>,
}

/// Changes to one profile.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub customer_id: String,
    /// Fields to set; `None` clears (only in direct mode).
    pub fields: Vec<(Field, Option<FieldValue>)>,
    pub add_identifiers: Vec<(IdentifierKind, String)>,
    pub remove_identifiers: Vec<(IdentifierKind, String)>,
    /// Cards to give the customer (`card_taken` when someone else holds one).
    pub add_cards: Vec<(String, CardType)>,
    pub consents: Vec<ConsentEvent>,
    /// Direct (`true`: staff, the till) or by survivorship (`false`: imports).
    pub direct: bool,
    /// The source order for survivorship and consents.
    pub trust: SourceTrust,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// A card operation at the service desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardOperation {
    /// Blocks a lost or stolen card.
    Block { number: String },
    /// Makes a blocked card usable again.
    Unblock { number: String },
    /// Replaces a card with a new one: the old one is `replaced`, the new one active;
    /// the account (balance and history) is the customer's, so it follows.
    Replace {
        number: String,
        new_number: String,
        card_type: Option<CardType>,
    },
    /// Adds a card to the account (a family card, a virtual card).
    Add { number: String, card_type: CardType },
}

/// One import batch, already matched: what to create, what to update, what to merge
/// and what to put in the review queue. Each item is checked before it is written; an
/// item that meets a taken identifier is skipped and reported, the others are written.
#[derive(Debug, Clone, Default)]
pub struct ImportBatch {
    pub creates: Vec<StoredProfile>,
    pub updates: Vec<ProfileUpdate>,
    /// `(merge id, survivor, absorbed)`.
    pub merges: Vec<(String, String, String)>,
    pub candidates: Vec<MergeCandidate>,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// What an import batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportApplied {
    pub created: u64,
    pub updated: u64,
    pub merged: u64,
    pub candidates: u64,
    /// Items skipped: `(customer id or merge id, error code, message)`.
    pub skipped: Vec<(String, String, String)>,
}

/// A staff adjustment of a customer's points.
#[derive(Debug, Clone)]
pub struct AdjustCommand {
    pub customer_id: String,
    /// Positive adds available points, negative takes them (oldest lots first).
    pub points: i64,
    pub reason: String,
    pub idempotency_key: String,
    pub request_hash: String,
    /// The program in force (how long added points last).
    pub program: Program,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// A CRM write, run in one transaction.
#[derive(Debug, Clone)]
pub enum CrmCommand {
    Update(Box<ProfileUpdate>),
    /// Merges `absorbed` into `survivor`.
    Merge {
        merge_id: String,
        survivor_id: String,
        absorbed_id: String,
        /// `manual`, `import`, `candidate`.
        reason: String,
        trust: SourceTrust,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// Undoes the merge that absorbed `customer_id`.
    Unmerge {
        customer_id: String,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// Accepts (merging the pair, the older profile surviving) or rejects a candidate.
    Decide {
        candidate_id: String,
        accept: bool,
        merge_id: String,
        trust: SourceTrust,
        by: Actor,
        at: DateTime<Utc>,
    },
    Adjust(Box<AdjustCommand>),
    Card {
        customer_id: String,
        operation: CardOperation,
        by: Actor,
        at: DateTime<Utc>,
    },
    /// Removes the customer's personal data; the ledger and receipts stay.
    Erase {
        customer_id: String,
        by: Actor,
        at: DateTime<Utc>,
    },
    Import(Box<ImportBatch>, SourceTrust),
}

/// What a CRM write answers.
#[derive(Debug, Clone)]
pub enum CrmOutcome {
    Profile(Box<StoredProfile>),
    Merge(Box<MergeRecord>),
    Candidate(Box<MergeCandidate>),
    /// The stored response of an adjustment (the same bytes on a retry).
    Adjusted(Vec<u8>),
    Imported(ImportApplied),
}

/// What a customer search looks for; the server decides which from the query text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerQuery {
    Card(String),
    Phone(String),
    Email(String),
    /// A prefix of a folded name key ([`tessera_core::profile::search_keys`]).
    NamePrefix(String),
}

/// What the import matcher needs of an existing profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchProfile {
    pub customer_id: String,
    pub created_at: DateTime<Utc>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub birthday: Option<NaiveDate>,
    pub phones: Vec<String>,
    pub emails: Vec<String>,
    /// `<source>:<id>`.
    pub external_ids: Vec<String>,
    pub cards: Vec<String>,
}

/// A filter of the review queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateFilter {
    pub status: Option<CandidateStatus>,
    /// Candidates with an id greater than this (paging).
    pub after: Option<String>,
    pub limit: u32,
}
