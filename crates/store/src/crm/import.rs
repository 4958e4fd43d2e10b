//! Applying one matched import batch: new profiles, updates of matched ones by
//! survivorship, automatic merges of profiles the file links, suggestions for review.
//!
//! Every item is checked before it is written. An item that meets an identifier taken
//! since the batch was matched (a till registered the card meanwhile) is left out and
//! reported; the rest of the batch is written.

use super::event;
use super::merge::{merge, MergeRequest};
use super::update::{update, OnTaken};
use crate::crm_command::{ImportApplied, ImportBatch};
use crate::port::StoreResult;
use crate::profile::IdentifierKind;
use crate::profile_tx::ProfileTx;
use crate::StoreError;
use serde_json::json;
use tessera_core::consent::SourceTrust;

fn skip(applied: &mut ImportApplied, id: &str, error: &StoreError) {
    let code = error
        .code()
        .map(|c| c.as_str().to_string())
        .unwrap_or_else(|| "internal".into());
    applied
        .skipped
        .push((id.to_string(), code, error.to_string()));
}

/// Writes a batch; fails whole only on a database failure.
pub(crate) async fn apply_batch(
    tx: &mut dyn ProfileTx,
    batch: &ImportBatch,
    trust: &SourceTrust,
) -> StoreResult<ImportApplied> {
    let mut applied = ImportApplied::default();
    for (merge_id, survivor, absorbed) in &batch.merges {
        let request = MergeRequest {
            merge_id,
            survivor_id: survivor,
            absorbed_id: absorbed,
            reason: "import",
            trust,
            by: &batch.by,
            at: batch.at,
        };
        match merge(tx, &request).await {
            Ok(_) => applied.merged += 1,
            Err(error @ StoreError::Domain(_)) => skip(&mut applied, merge_id, &error),
            Err(error) => return Err(error),
        }
    }
    'creates: for profile in &batch.creates {
        for card in &profile.cards {
            if let Some((owner, _)) = tx.card(&card.number).await? {
                let error = super::update::taken(None, &card.number, &owner);
                skip(&mut applied, &profile.customer_id, &error);
                continue 'creates;
            }
        }
        for identifier in &profile.identifiers {
            if identifier.kind == IdentifierKind::Email {
                continue;
            }
            if let Some(owner) = tx
                .identifier_owner(identifier.kind, &identifier.value)
                .await?
            {
                let error = super::update::taken(Some(identifier.kind), &identifier.value, &owner);
                skip(&mut applied, &profile.customer_id, &error);
                continue 'creates;
            }
        }
        tx.insert_profile(profile).await?;
        tx.append_events(&[event(
            &profile.customer_id,
            "created",
            &batch.by,
            batch.at,
            json!({"source": batch.by.source}),
        )])
        .await?;
        applied.created += 1;
    }
    for item in &batch.updates {
        match update(tx, item, OnTaken::Skip).await {
            Ok((_, skipped)) => {
                applied.updated += 1;
                for error in &skipped {
                    skip(&mut applied, &item.customer_id, error);
                }
            }
            Err(error @ StoreError::Domain(_)) => skip(&mut applied, &item.customer_id, &error),
            Err(error) => return Err(error),
        }
    }
    for candidate in &batch.candidates {
        if tx
            .candidate_for(&candidate.customer_a, &candidate.customer_b)
            .await?
            .is_none()
        {
            tx.put_candidate(candidate).await?;
            applied.candidates += 1;
        }
    }
    Ok(applied)
}
