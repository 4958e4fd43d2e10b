//! The CRM's row access inside one write transaction: the same [`PgTx`] the receipt
//! writes use, so a merge moves points in the transaction that moves identifiers.
//!
//! Locks: [`ProfileTx::profile`] locks the customer's account row (the customer's
//! lock, which commits, returns and catch-up take first) before it reads the profile
//! with a second statement, whose snapshot is taken after the lock. The shared code
//! reads the profiles a write touches in key order, so two merges sharing a customer
//! take their locks in the same order and cannot deadlock. Every method first sends
//! the ledger writes gathered so far, so statements run in the order they were asked.

use crate::tx::PgTx;
use crate::{history, identifiers, merges, profiles};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_store::{
    IdentifierKind, LedgerTx, MergeCandidate, MergeRecord, ProfileEvent, ProfileTx, StoreResult,
    StoredAdjustment, StoredCard, StoredIdentifier, StoredProfile,
};

#[async_trait]
impl ProfileTx for PgTx<'_> {
    fn ledger(&mut self) -> &mut dyn LedgerTx {
        self
    }

    async fn profile(&mut self, customer_id: &str) -> StoreResult<Option<StoredProfile>> {
        self.flush(None).await?;
        profiles::lock(self.conn, customer_id).await?;
        profiles::profile(self.conn, customer_id).await
    }

    async fn insert_profile(&mut self, profile: &StoredProfile) -> StoreResult<()> {
        self.flush(None).await?;
        profiles::insert_profiles(self.conn, std::slice::from_ref(profile)).await
    }

    async fn insert_profiles(&mut self, batch: &[StoredProfile]) -> StoreResult<()> {
        self.flush(None).await?;
        profiles::insert_profiles(self.conn, batch).await
    }

    async fn update_profile(&mut self, profile: &StoredProfile) -> StoreResult<()> {
        self.flush(None).await?;
        profiles::update_profile(self.conn, profile).await
    }

    async fn identifier_owner(
        &mut self,
        kind: IdentifierKind,
        value: &str,
    ) -> StoreResult<Option<String>> {
        self.flush(None).await?;
        identifiers::owner_of(self.conn, kind, value).await
    }

    async fn any_held(
        &mut self,
        cards: &[&str],
        identifiers: &[(IdentifierKind, &str)],
    ) -> StoreResult<bool> {
        self.flush(None).await?;
        identifiers::any_held(self.conn, cards, identifiers).await
    }

    async fn add_identifier(
        &mut self,
        customer_id: &str,
        identifier: &StoredIdentifier,
    ) -> StoreResult<()> {
        self.flush(None).await?;
        identifiers::add(self.conn, customer_id, identifier).await
    }

    async fn remove_identifier(
        &mut self,
        customer_id: &str,
        kind: IdentifierKind,
        value: &str,
    ) -> StoreResult<()> {
        self.flush(None).await?;
        identifiers::remove(self.conn, customer_id, kind, value).await
    }

    async fn card(&mut self, number: &str) -> StoreResult<Option<(String, StoredCard)>> {
        self.flush(None).await?;
        identifiers::card(self.conn, number).await
    }

    async fn put_card(&mut self, customer_id: &str, card: &StoredCard) -> StoreResult<()> {
        self.flush(None).await?;
        identifiers::put_card(self.conn, customer_id, card).await
    }

    async fn delete_card(&mut self, number: &str) -> StoreResult<()> {
        self.flush(None).await?;
        identifiers::delete_card(self.conn, number).await
    }

    async fn repoint_merged(&mut self, from: &str, to: &str) -> StoreResult<Vec<String>> {
        self.flush(None).await?;
        identifiers::repoint_merged(self.conn, from, to).await
    }

    async fn owner(&mut self, customer_id: &str) -> StoreResult<String> {
        self.flush(None).await?;
        identifiers::owner(self.conn, customer_id).await
    }

    async fn move_closed_lots(&mut self, from: &str, to: &str) -> StoreResult<Vec<String>> {
        self.flush(None).await?;
        identifiers::move_lots(self.conn, from, to).await
    }

    async fn reassign_lots(&mut self, lot_ids: &[String], to: &str) -> StoreResult<()> {
        self.flush(None).await?;
        identifiers::reassign_lots(self.conn, lot_ids, to).await
    }

    async fn move_tier_events(
        &mut self,
        from: &str,
        to: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<i64>> {
        self.flush(None).await?;
        crate::tiers::move_events(self.conn, from, to, at).await
    }

    async fn reassign_tier_events(
        &mut self,
        event_ids: &[i64],
        from: &str,
        to: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.flush(None).await?;
        crate::tiers::reassign_events(self.conn, event_ids, from, to, at).await
    }

    async fn append_events(&mut self, events: &[ProfileEvent]) -> StoreResult<()> {
        self.flush(None).await?;
        history::append_events(self.conn, events).await
    }

    async fn insert_merge(&mut self, merge: &MergeRecord) -> StoreResult<()> {
        self.flush(None).await?;
        merges::insert_merge(self.conn, merge).await
    }

    async fn merge_record(&mut self, merge_id: &str) -> StoreResult<Option<MergeRecord>> {
        self.flush(None).await?;
        merges::merge(self.conn, merge_id).await
    }

    async fn merge_of(&mut self, absorbed_id: &str) -> StoreResult<Option<MergeRecord>> {
        self.flush(None).await?;
        merges::merge_of(self.conn, absorbed_id).await
    }

    async fn merges_involving(&mut self, customer_id: &str) -> StoreResult<Vec<MergeRecord>> {
        self.flush(None).await?;
        merges::merges_involving(self.conn, customer_id).await
    }

    async fn scrub_events(&mut self, customer_id: &str) -> StoreResult<()> {
        self.flush(None).await?;
        history::scrub_events(self.conn, customer_id).await
    }

    async fn update_merge(&mut self, merge: &MergeRecord) -> StoreResult<()> {
        self.flush(None).await?;
        merges::update_merge(self.conn, merge).await
    }

    async fn put_candidate(&mut self, candidate: &MergeCandidate) -> StoreResult<()> {
        self.flush(None).await?;
        merges::put_candidate(self.conn, candidate).await
    }

    async fn candidate(&mut self, candidate_id: &str) -> StoreResult<Option<MergeCandidate>> {
        self.flush(None).await?;
        merges::candidate(self.conn, candidate_id).await
    }

    async fn candidate_for(&mut self, a: &str, b: &str) -> StoreResult<Option<MergeCandidate>> {
        self.flush(None).await?;
        merges::candidate_for(self.conn, a, b).await
    }

    async fn adjustment(&mut self, key: &str) -> StoreResult<Option<StoredAdjustment>> {
        self.flush(None).await?;
        merges::adjustment(self.conn, key).await
    }

    async fn insert_adjustment(&mut self, adjustment: &StoredAdjustment) -> StoreResult<()> {
        self.flush(None).await?;
        merges::insert_adjustment(self.conn, adjustment).await
    }
}
