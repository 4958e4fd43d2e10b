//! The rows one CRM write reads and writes, inside one database transaction. The
//! decisions (what a merge moves, what survives, what an erasure removes) are made in
//! [`crate::crm`], once for every adapter; an adapter only stores and fetches.

use crate::port::{LedgerTx, StoreResult};
use crate::profile::{
    IdentifierKind, MergeCandidate, MergeRecord, ProfileEvent, StoredAdjustment, StoredCard,
    StoredIdentifier, StoredProfile,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Row access for CRM writes. Implemented by the same transaction type as
/// [`LedgerTx`], so a merge moves points in the same transaction as identifiers.
#[async_trait]
pub trait ProfileTx: LedgerTx {
    /// The same transaction as a [`LedgerTx`], for the ledger half of a merge or an
    /// adjustment.
    fn ledger(&mut self) -> &mut dyn LedgerTx;
    /// The profile with its identifiers and cards, whatever its status.
    async fn profile(&mut self, customer_id: &str) -> StoreResult<Option<StoredProfile>>;
    /// Stores a new customer: the customer row with its document, status and display
    /// name, a zero account, and its identifiers and cards. A card, phone or external
    /// id another customer holds fails the whole insert with `card_taken`,
    /// `phone_taken` or `external_id_taken`.
    async fn insert_profile(&mut self, profile: &StoredProfile) -> StoreResult<()>;
    /// Stores new customers as [`ProfileTx::insert_profile`] does, in as few
    /// statements and as local an order as the adapter can (an import's batch). The
    /// caller has found their cards, phones and external ids free in this
    /// transaction; one taken nonetheless fails the call, and what it wrote is the
    /// caller's to undo.
    async fn insert_profiles(&mut self, profiles: &[StoredProfile]) -> StoreResult<()>;
    /// Rewrites an existing customer row: document, status (and `merged_into`),
    /// display name, `updated_at`, and the search keys derived from the document
    /// ([`tessera_core::profile::search_keys`]). Identifiers and cards are not touched.
    async fn update_profile(&mut self, profile: &StoredProfile) -> StoreResult<()>;
    /// The customer holding a phone or external id, or for emails the oldest holder.
    async fn identifier_owner(
        &mut self,
        kind: IdentifierKind,
        value: &str,
    ) -> StoreResult<Option<String>>;
    /// Whether anyone holds one of these cards or unique identifiers (phones,
    /// external ids): one look-up for a whole import batch, which is checked value by
    /// value only when this finds something.
    async fn any_held(
        &mut self,
        cards: &[&str],
        identifiers: &[(IdentifierKind, &str)],
    ) -> StoreResult<bool>;
    /// Gives a customer an identifier. A unique value held by someone else fails with
    /// `phone_taken` or `external_id_taken`; one the customer holds already changes
    /// nothing.
    async fn add_identifier(
        &mut self,
        customer_id: &str,
        identifier: &StoredIdentifier,
    ) -> StoreResult<()>;
    /// Takes an identifier from a customer (nothing when they do not hold it).
    async fn remove_identifier(
        &mut self,
        customer_id: &str,
        kind: IdentifierKind,
        value: &str,
    ) -> StoreResult<()>;
    /// The holder of a card and the card, whatever its status.
    async fn card(&mut self, number: &str) -> StoreResult<Option<(String, StoredCard)>>;
    /// Stores a card for a customer: inserts it, or when the number exists, sets its
    /// holder, type and status.
    async fn put_card(&mut self, customer_id: &str, card: &StoredCard) -> StoreResult<()>;
    /// Deletes a card (an erasure frees it).
    async fn delete_card(&mut self, number: &str) -> StoreResult<()>;
    /// Points every customer merged into `from` at `to` instead; returns their ids.
    async fn repoint_merged(&mut self, from: &str, to: &str) -> StoreResult<Vec<String>>;
    /// The customer that now holds `customer_id`'s points: itself, or the customer it
    /// was merged into.
    async fn owner(&mut self, customer_id: &str) -> StoreResult<String>;
    /// Gives every lot of `from` to `to` (a merge, after the transfer moved the open
    /// ones: what is left holds no points); returns their ids.
    async fn move_closed_lots(&mut self, from: &str, to: &str) -> StoreResult<Vec<String>>;
    /// Gives the named lots to `to` (an unmerge giving back closed lots).
    async fn reassign_lots(&mut self, lot_ids: &[String], to: &str) -> StoreResult<()>;
    /// Appends history entries (their `event_id` is assigned by the store).
    /// Gives `to` the tier events of `from` (a merge) and answers their ids; both
    /// customers' tier records are due for re-evaluation at `at`.
    async fn move_tier_events(
        &mut self,
        from: &str,
        to: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<i64>>;
    /// Gives these tier events back from `from` to `to` (an unmerge); both records are
    /// due at `at`.
    async fn reassign_tier_events(
        &mut self,
        event_ids: &[i64],
        from: &str,
        to: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn append_events(&mut self, events: &[ProfileEvent]) -> StoreResult<()>;
    async fn insert_merge(&mut self, merge: &MergeRecord) -> StoreResult<()>;
    async fn merge_record(&mut self, merge_id: &str) -> StoreResult<Option<MergeRecord>>;
    /// The merge, not undone, that absorbed `customer_id`.
    async fn merge_of(&mut self, absorbed_id: &str) -> StoreResult<Option<MergeRecord>>;
    /// Every merge, undone or not, in which the customer was the survivor or the
    /// absorbed one (an erasure scrubs their snapshots).
    async fn merges_involving(&mut self, customer_id: &str) -> StoreResult<Vec<MergeRecord>>;
    /// Replaces the `detail` of the customer's history entries of the kinds `field`,
    /// `consent`, `identifier_added`, `identifier_removed` and `card` with
    /// `{"erased": true}` (an erasure keeps that something happened, not the values).
    async fn scrub_events(&mut self, customer_id: &str) -> StoreResult<()>;
    /// Rewrites a merge (to mark it undone).
    async fn update_merge(&mut self, merge: &MergeRecord) -> StoreResult<()>;
    /// Inserts a candidate, or updates the one with the same id.
    async fn put_candidate(&mut self, candidate: &MergeCandidate) -> StoreResult<()>;
    async fn candidate(&mut self, candidate_id: &str) -> StoreResult<Option<MergeCandidate>>;
    /// The open candidate for a pair (`a < b`), if any.
    async fn candidate_for(&mut self, a: &str, b: &str) -> StoreResult<Option<MergeCandidate>>;
    async fn adjustment(&mut self, key: &str) -> StoreResult<Option<StoredAdjustment>>;
    async fn insert_adjustment(&mut self, adjustment: &StoredAdjustment) -> StoreResult<()>;
}
