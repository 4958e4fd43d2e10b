//! Applying one matched import batch: new profiles, updates of matched ones by
//! survivorship, automatic merges of profiles the file links, suggestions for review.
//!
//! An item that meets an identifier taken since the batch was matched (a till
//! registered the card meanwhile) is left out and reported; the rest of the batch is
//! written.
//!
//! A batch fails (and must be undone whole) only on a database failure: adapters run
//! it without a savepoint of its own.

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
    // Every new profile is checked, then the accepted ones are written together
    // (adapters write them table by table, in key order). A value taken after the
    // check cannot be: this transaction is the only writer.
    let mut cards: Vec<&str> = Vec::new();
    let mut identifiers: Vec<(IdentifierKind, &str)> = Vec::new();
    for profile in &batch.creates {
        cards.extend(profile.cards.iter().map(|c| c.number.as_str()));
        identifiers.extend(
            profile
                .identifiers
                .iter()
                .filter(|i| i.kind.is_unique())
                .map(|i| (i.kind, i.value.as_str())),
        );
    }
    cards.sort_unstable();
    identifiers.sort_unstable();
    let accepted = if tx.any_held(&cards, &identifiers).await? {
        check_creates(tx, batch, &mut applied).await?
    } else {
        (0..batch.creates.len()).collect()
    };
    let written = if accepted.len() == batch.creates.len() {
        tx.insert_profiles(&batch.creates).await
    } else {
        let some: Vec<_> = accepted.iter().map(|&i| batch.creates[i].clone()).collect();
        tx.insert_profiles(&some).await
    };
    // A refusal now is no business outcome: failing as the database failing undoes
    // the whole batch (adapters run import batches without a savepoint).
    written.map_err(|error| match error {
        StoreError::Domain(refusal) => StoreError::backend(format!(
            "an import batch met a value taken after its check: {refusal}"
        )),
        other => other,
    })?;
    let created: Vec<_> = accepted
        .iter()
        .map(|&i| {
            event(
                &batch.creates[i].customer_id,
                "created",
                &batch.by,
                batch.at,
                json!({"source": batch.by.source}),
            )
        })
        .collect();
    tx.append_events(&created).await?;
    applied.created += accepted.len() as u64;
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

/// The new profiles of a batch whose values are still free, by index; the others are
/// reported as skipped.
async fn check_creates(
    tx: &mut dyn ProfileTx,
    batch: &ImportBatch,
    applied: &mut ImportApplied,
) -> StoreResult<Vec<usize>> {
    let mut accepted = Vec::with_capacity(batch.creates.len());
    'creates: for (idx, profile) in batch.creates.iter().enumerate() {
        for card in &profile.cards {
            if let Some((owner, _)) = tx.card(&card.number).await? {
                let error = super::update::taken(None, &card.number, &owner);
                skip(applied, &profile.customer_id, &error);
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
                skip(applied, &profile.customer_id, &error);
                continue 'creates;
            }
        }
        accepted.push(idx);
    }
    Ok(accepted)
}
