//! Erasure of a customer's personal data (GDPR art. 17, 152-FZ art. 21).
//!
//! The customer id is an opaque random id, so it stays as the pseudonym: the ledger,
//! the receipts and the balances stay under it and every total stays correct. What
//! names or reaches the person goes: the document's values and consents, the phones,
//! emails and external ids, the cards (freed for reuse), the values in the history
//! and in the snapshots of merges the customer took part in (those merges can no
//! longer be undone).

use super::{event, existing_profile};
use crate::crm_command::Actor;
use crate::port::StoreResult;
use crate::profile::{ProfileStatus, StoredProfile};
use crate::profile_tx::ProfileTx;
use chrono::{DateTime, Utc};
use serde_json::json;
use tessera_core::profile::{ProfileDoc, Registration};

/// The profile with nothing personal left.
fn scrubbed(profile: &StoredProfile) -> StoredProfile {
    let registration = profile.doc.registration.as_ref().map(|r| Registration {
        source: r.source.clone(),
        at: r.at,
        store_id: None,
    });
    StoredProfile {
        doc: ProfileDoc {
            registration,
            ..ProfileDoc::default()
        },
        identifiers: Vec::new(),
        cards: Vec::new(),
        ..profile.clone()
    }
}

/// Erases the person: the customer, or the customer it was merged into, and every
/// profile merged into that one. Erasing an erased customer changes nothing.
/// Answers the erased profile of `customer_id`.
pub(crate) async fn erase(
    tx: &mut dyn ProfileTx,
    customer_id: &str,
    by: &Actor,
    at: DateTime<Utc>,
) -> StoreResult<StoredProfile> {
    existing_profile(tx, customer_id).await?;
    let root = tx.owner(customer_id).await?;
    let mut ids = vec![root.clone()];
    for merge in tx.merges_involving(&root).await? {
        if merge.survivor_id == root && merge.undone_at.is_none() {
            ids.push(merge.absorbed_id.clone());
            ids.extend(merge.repointed.iter().cloned());
        }
    }
    let mut answer = None;
    for id in ids {
        let erased = erase_one(tx, &id, by, at).await?;
        if id == customer_id {
            answer = Some(erased);
        }
    }
    match answer {
        Some(profile) => Ok(profile),
        None => existing_profile(tx, customer_id).await,
    }
}

async fn erase_one(
    tx: &mut dyn ProfileTx,
    customer_id: &str,
    by: &Actor,
    at: DateTime<Utc>,
) -> StoreResult<StoredProfile> {
    let profile = existing_profile(tx, customer_id).await?;
    if let ProfileStatus::Erased { .. } = profile.status {
        return Ok(profile);
    }
    for identifier in &profile.identifiers {
        tx.remove_identifier(customer_id, identifier.kind, &identifier.value)
            .await?;
    }
    for card in &profile.cards {
        tx.delete_card(&card.number).await?;
    }
    let mut erased = scrubbed(&profile);
    erased.status = ProfileStatus::Erased { at };
    erased.updated_at = at;
    tx.update_profile(&erased).await?;
    tx.scrub_events(customer_id).await?;
    // The snapshots of merges hold the values too; without them an unmerge has
    // nothing to restore, and it is refused anyway for an erased customer.
    for mut merge in tx.merges_involving(customer_id).await? {
        merge.survivor_before = scrubbed(&merge.survivor_before);
        merge.absorbed_before = scrubbed(&merge.absorbed_before);
        tx.update_merge(&merge).await?;
    }
    tx.append_events(&[event(
        customer_id,
        "erase",
        by,
        at,
        json!({
            "identifiers_removed": profile.identifiers.len(),
            "cards_removed": profile.cards.len(),
        }),
    )])
    .await?;
    Ok(erased)
}
