//! The writer's transaction as the shared CRM code sees it: each method is a call to
//! the row code in [`crate::profiles`], [`crate::identifiers`] and [`crate::merges`]
//! on the writer's connection.

use crate::writer::SqliteTx;
use crate::{identifiers, merges, profile_batch, profiles};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tessera_store::{
    IdentifierKind, LedgerTx, MergeCandidate, MergeRecord, ProfileEvent, ProfileTx, StoreResult,
    StoredAdjustment, StoredCard, StoredIdentifier, StoredProfile,
};

#[async_trait]
impl ProfileTx for SqliteTx<'_> {
    fn ledger(&mut self) -> &mut dyn LedgerTx {
        self
    }

    async fn profile(&mut self, customer_id: &str) -> StoreResult<Option<StoredProfile>> {
        profiles::profile(self.conn, customer_id)
    }

    async fn insert_profile(&mut self, profile: &StoredProfile) -> StoreResult<()> {
        profiles::insert_profile(self.conn, profile)
    }

    async fn insert_profiles(&mut self, batch: &[StoredProfile]) -> StoreResult<()> {
        profile_batch::insert_profiles(self.conn, batch)
    }

    async fn update_profile(&mut self, profile: &StoredProfile) -> StoreResult<()> {
        profiles::update_profile(self.conn, profile)
    }

    async fn identifier_owner(
        &mut self,
        kind: IdentifierKind,
        value: &str,
    ) -> StoreResult<Option<String>> {
        identifiers::identifier_owner(self.conn, kind, value)
    }

    async fn any_held(
        &mut self,
        cards: &[&str],
        identifiers: &[(IdentifierKind, &str)],
    ) -> StoreResult<bool> {
        identifiers::any_held(self.conn, cards, identifiers)
    }

    async fn add_identifier(
        &mut self,
        customer_id: &str,
        identifier: &StoredIdentifier,
    ) -> StoreResult<()> {
        identifiers::add_identifier(self.conn, customer_id, identifier)
    }

    async fn remove_identifier(
        &mut self,
        customer_id: &str,
        kind: IdentifierKind,
        value: &str,
    ) -> StoreResult<()> {
        identifiers::remove_identifier(self.conn, customer_id, kind, value)
    }

    async fn card(&mut self, number: &str) -> StoreResult<Option<(String, StoredCard)>> {
        identifiers::card(self.conn, number)
    }

    async fn put_card(&mut self, customer_id: &str, card: &StoredCard) -> StoreResult<()> {
        identifiers::put_card(self.conn, customer_id, card)
    }

    async fn delete_card(&mut self, number: &str) -> StoreResult<()> {
        identifiers::delete_card(self.conn, number)
    }

    async fn repoint_merged(&mut self, from: &str, to: &str) -> StoreResult<Vec<String>> {
        merges::repoint_merged(self.conn, from, to)
    }

    async fn owner(&mut self, customer_id: &str) -> StoreResult<String> {
        merges::owner(self.conn, customer_id)
    }

    async fn move_closed_lots(&mut self, from: &str, to: &str) -> StoreResult<Vec<String>> {
        merges::move_lots(self.conn, from, to)
    }

    async fn reassign_lots(&mut self, lot_ids: &[String], to: &str) -> StoreResult<()> {
        merges::reassign_lots(self.conn, lot_ids, to)
    }

    async fn move_tier_events(
        &mut self,
        from: &str,
        to: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Vec<i64>> {
        crate::tiers::move_events(self.conn, from, to, at)
    }

    async fn reassign_tier_events(
        &mut self,
        event_ids: &[i64],
        from: &str,
        to: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        crate::tiers::reassign_events(self.conn, event_ids, from, to, at)
    }

    async fn append_events(&mut self, events: &[ProfileEvent]) -> StoreResult<()> {
        merges::append_events(self.conn, events)
    }

    async fn insert_merge(&mut self, merge: &MergeRecord) -> StoreResult<()> {
        merges::insert_merge(self.conn, merge)
    }

    async fn merge_record(&mut self, merge_id: &str) -> StoreResult<Option<MergeRecord>> {
        merges::merge_record(self.conn, merge_id)
    }

    async fn merge_of(&mut self, absorbed_id: &str) -> StoreResult<Option<MergeRecord>> {
        merges::merge_of(self.conn, absorbed_id)
    }

    async fn merges_involving(&mut self, customer_id: &str) -> StoreResult<Vec<MergeRecord>> {
        merges::merges_involving(self.conn, customer_id)
    }

    async fn scrub_events(&mut self, customer_id: &str) -> StoreResult<()> {
        merges::scrub_events(self.conn, customer_id)
    }

    async fn update_merge(&mut self, merge: &MergeRecord) -> StoreResult<()> {
        merges::update_merge(self.conn, merge)
    }

    async fn put_candidate(&mut self, candidate: &MergeCandidate) -> StoreResult<()> {
        merges::put_candidate(self.conn, candidate)
    }

    async fn candidate(&mut self, candidate_id: &str) -> StoreResult<Option<MergeCandidate>> {
        merges::candidate(self.conn, candidate_id)
    }

    async fn candidate_for(&mut self, a: &str, b: &str) -> StoreResult<Option<MergeCandidate>> {
        merges::candidate_for(self.conn, a, b)
    }

    async fn adjustment(&mut self, key: &str) -> StoreResult<Option<StoredAdjustment>> {
        merges::adjustment(self.conn, key)
    }

    async fn insert_adjustment(&mut self, adjustment: &StoredAdjustment) -> StoreResult<()> {
        merges::insert_adjustment(self.conn, adjustment)
    }
}
