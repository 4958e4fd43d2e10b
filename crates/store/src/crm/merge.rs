//! Merging two profiles of one person, undoing a merge, and deciding on a suggested
//! merge from the review queue.
//!
//! A merge keeps everything: the absorbed customer's identifiers and cards move to the
//! survivor; its field values join the survivor's by survivorship and its consents by
//! `merge_consents` (a withdrawal wins); its points move with `transfer` entries, the
//! lots keeping their ids and dates; its receipts stay under its id and are listed
//! with the survivor's. The absorbed profile stays as `merged` (a till or a link that
//! still names it reaches the survivor), and the merge record keeps both profiles as
//! they were, so that an unmerge can restore them.

use super::{active_profile, domain, event, existing_profile};
use crate::crm_command::Actor;
use crate::port::StoreResult;
use crate::profile::{
    CandidateStatus, MergeCandidate, MergeRecord, ProfileStatus, StoredCard, StoredProfile,
};
use crate::profile_tx::ProfileTx;
use chrono::{DateTime, Utc};
use serde_json::json;
use tessera_core::consent::SourceTrust;
use tessera_core::profile::{Field, ProfileDoc};
use tessera_core::ErrorCode;

/// What a merge needs.
pub(crate) struct MergeRequest<'a> {
    pub merge_id: &'a str,
    pub survivor_id: &'a str,
    pub absorbed_id: &'a str,
    pub reason: &'a str,
    pub trust: &'a SourceTrust,
    pub by: &'a Actor,
    pub at: DateTime<Utc>,
}

/// Of two profiles of one person, the one that survives a merge: the one registered
/// first (then the smaller id), which is usually the one the person's history and
/// card began with.
pub fn survivor_of<'a>(a: &'a StoredProfile, b: &'a StoredProfile) -> &'a StoredProfile {
    if (b.created_at, &b.customer_id) < (a.created_at, &a.customer_id) {
        b
    } else {
        a
    }
}

/// Loads two profiles in id order (the lock order of adapters that lock rows).
async fn load_pair(
    tx: &mut dyn ProfileTx,
    a: &str,
    b: &str,
) -> StoreResult<(StoredProfile, StoredProfile)> {
    if a <= b {
        let pa = active_profile(tx, a).await?;
        let pb = active_profile(tx, b).await?;
        Ok((pa, pb))
    } else {
        let pb = active_profile(tx, b).await?;
        let pa = active_profile(tx, a).await?;
        Ok((pa, pb))
    }
}

/// Merges `absorbed` into `survivor`.
pub(crate) async fn merge(
    tx: &mut dyn ProfileTx,
    r: &MergeRequest<'_>,
) -> StoreResult<MergeRecord> {
    if r.survivor_id == r.absorbed_id {
        return Err(domain(
            ErrorCode::MergeConflict,
            format!("cannot merge customer {} into itself", r.survivor_id),
        ));
    }
    if tx.merge_record(r.merge_id).await?.is_some() {
        return Err(domain(
            ErrorCode::MergeConflict,
            format!("merge {} exists already", r.merge_id),
        ));
    }
    let (mut survivor, mut absorbed) = load_pair(tx, r.survivor_id, r.absorbed_id).await?;
    let (survivor_before, absorbed_before) = (survivor.clone(), absorbed.clone());

    // Identifiers and cards: taken from the absorbed profile first, so that a unique
    // value is never held twice.
    for identifier in std::mem::take(&mut absorbed.identifiers) {
        tx.remove_identifier(&absorbed.customer_id, identifier.kind, &identifier.value)
            .await?;
        if !survivor
            .values(identifier.kind)
            .any(|v| v == identifier.value)
        {
            tx.add_identifier(&survivor.customer_id, &identifier)
                .await?;
            survivor.identifiers.push(identifier);
        }
    }
    for card in std::mem::take(&mut absorbed.cards) {
        tx.put_card(&survivor.customer_id, &card).await?;
        survivor.cards.push(card);
    }
    let changes = survivor.doc.absorb(&absorbed.doc, r.trust);
    absorbed.doc = ProfileDoc {
        registration: absorbed.doc.registration.clone(),
        ..ProfileDoc::default()
    };

    // Points: everything the absorbed customer holds, with its lots.
    let ledger = tx.ledger();
    let mut giver = ledger.load_ledger(&absorbed.customer_id, &[]).await?;
    giver.catch_up(r.at);
    let mut taker = ledger.load_ledger(&survivor.customer_id, &[]).await?;
    taker.catch_up(r.at);
    let transfer = giver.transfer_out(r.merge_id, r.at);
    let moved_lots = transfer.lot_ids();
    let moved_unlotted = transfer.available_without_lot;
    let moved_points = (transfer.pending(), transfer.available());
    taker.transfer_in(transfer);
    ledger.save_ledger(&giver.into_changes()).await?;
    ledger.save_ledger(&taker.into_changes()).await?;
    let closed_lots = tx
        .move_closed_lots(&absorbed.customer_id, &survivor.customer_id)
        .await?;
    // What the absorbed customer spent counts toward the survivor's tier from now on.
    let moved_tier_events = tx
        .move_tier_events(&absorbed.customer_id, &survivor.customer_id, r.at)
        .await?;

    let repointed = tx
        .repoint_merged(&absorbed.customer_id, &survivor.customer_id)
        .await?;
    absorbed.status = ProfileStatus::Merged {
        into: survivor.customer_id.clone(),
    };
    absorbed.updated_at = r.at;
    survivor.updated_at = r.at;
    tx.update_profile(&absorbed).await?;
    tx.update_profile(&survivor).await?;

    let record = MergeRecord {
        merge_id: r.merge_id.to_string(),
        survivor_id: survivor.customer_id.clone(),
        absorbed_id: absorbed.customer_id.clone(),
        at: r.at,
        actor: r.by.actor.clone(),
        reason: r.reason.to_string(),
        survivor_before,
        absorbed_before,
        moved_lots,
        closed_lots,
        moved_unlotted,
        repointed,
        moved_tier_events,
        undone_at: None,
    };
    tx.insert_merge(&record).await?;
    let mut events = vec![
        event(
            &survivor.customer_id,
            "merge",
            r.by,
            r.at,
            json!({
                "merge_id": r.merge_id,
                "absorbed_id": absorbed.customer_id,
                "reason": r.reason,
                "pending_moved": moved_points.0,
                "available_moved": moved_points.1,
            }),
        ),
        event(
            &absorbed.customer_id,
            "merged_into",
            r.by,
            r.at,
            json!({"merge_id": r.merge_id, "survivor_id": survivor.customer_id}),
        ),
    ];
    for change in changes {
        let detail = serde_json::to_value(&change).map_err(crate::StoreError::backend)?;
        events.push(event(&survivor.customer_id, "field", r.by, r.at, detail));
    }
    tx.append_events(&events).await?;
    // A suggestion for this pair is settled by the merge.
    let (a, b) = ordered(&survivor.customer_id, &absorbed.customer_id);
    if let Some(mut candidate) = tx.candidate_for(a, b).await? {
        candidate.status = CandidateStatus::Accepted;
        candidate.decided_at = Some(r.at);
        candidate.decided_by = r.by.actor.clone();
        candidate.merge_id = Some(r.merge_id.to_string());
        tx.put_candidate(&candidate).await?;
    }
    Ok(record)
}

fn ordered<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

/// Undoes the merge that absorbed `customer_id`: the profile, its identifiers and
/// cards come back as they were; the survivor's fields and consents that came from
/// it go back to the survivor's own; the points that moved go back, as far as the
/// survivor has not spent them since.
pub(crate) async fn unmerge(
    tx: &mut dyn ProfileTx,
    customer_id: &str,
    by: &Actor,
    at: DateTime<Utc>,
) -> StoreResult<MergeRecord> {
    let mut record = tx.merge_of(customer_id).await?.ok_or_else(|| {
        domain(
            ErrorCode::MergeNotFound,
            format!("customer {customer_id} is not merged into another"),
        )
    })?;
    let mut survivor =
        active_profile(tx, &record.survivor_id)
            .await
            .map_err(|e| match e.code() {
                Some(ErrorCode::CustomerMerged) => domain(
                    ErrorCode::MergeConflict,
                    format!(
                        "customer {} was itself merged since; unmerge it first",
                        record.survivor_id
                    ),
                ),
                _ => e,
            })?;
    let mut absorbed = existing_profile(tx, customer_id).await?;
    if let ProfileStatus::Erased { .. } = absorbed.status {
        return Err(domain(
            ErrorCode::CustomerErased,
            format!("customer {customer_id} was erased"),
        ));
    }
    let before = record.absorbed_before.clone();

    // Identifiers and cards the survivor still holds go back.
    for identifier in &before.identifiers {
        let held = survivor
            .values(identifier.kind)
            .any(|v| v == identifier.value);
        let survivor_had = record
            .survivor_before
            .values(identifier.kind)
            .any(|v| v == identifier.value);
        if !held {
            continue;
        }
        if !survivor_had {
            tx.remove_identifier(&survivor.customer_id, identifier.kind, &identifier.value)
                .await?;
            survivor
                .identifiers
                .retain(|i| !(i.kind == identifier.kind && i.value == identifier.value));
        }
        if !identifier.kind.is_unique() || !survivor_had {
            tx.add_identifier(customer_id, identifier).await?;
            absorbed.identifiers.push(identifier.clone());
        }
    }
    for card in &before.cards {
        if survivor.cards.iter().any(|c| c.number == card.number) {
            let now: &StoredCard = card;
            tx.put_card(customer_id, now).await?;
            survivor.cards.retain(|c| c.number != card.number);
            absorbed.cards.push(card.clone());
        }
    }

    // Fields and consents: what still holds the absorbed profile's value goes back to
    // the survivor's own.
    let mut fields: Vec<Field> = Field::FIXED.to_vec();
    fields.extend(before.doc.attributes.keys().cloned().map(Field::Attribute));
    for field in fields {
        let came_from_absorbed = before.doc.sourced(&field).is_some()
            && survivor.doc.sourced(&field) == before.doc.sourced(&field)
            && record.survivor_before.doc.sourced(&field) != before.doc.sourced(&field);
        if came_from_absorbed {
            restore_field(&mut survivor.doc, &record.survivor_before.doc, &field);
        }
    }
    for (channel, consent) in &before.doc.consents {
        let own = record.survivor_before.doc.consents.get(channel);
        if survivor.doc.consents.get(channel) == Some(consent) && own != Some(consent) {
            match own {
                Some(own) => survivor.doc.consents.insert(*channel, own.clone()),
                None => survivor.doc.consents.remove(channel),
            };
        }
    }
    if record.survivor_before.doc.name.is_none() && survivor.doc.name == before.doc.name {
        survivor.doc.name = None;
    }
    absorbed.doc = before.doc.clone();

    // Points.
    let op_id = format!("unmerge:{}", record.merge_id);
    let ledger = tx.ledger();
    // The lots that came from the absorbed customer go back: those with points left
    // with transfer entries; those closed already at the merge (they moved without
    // entries) by their holder alone. A lot the survivor received with points and
    // spent to nothing since stays with it, with the receipts that spent it.
    let lots: Vec<String> = record
        .moved_lots
        .iter()
        .chain(&record.closed_lots)
        .cloned()
        .collect();
    let mut giver = ledger.load_ledger(&survivor.customer_id, &lots).await?;
    giver.catch_up(at);
    let mut taker = ledger.load_ledger(customer_id, &[]).await?;
    taker.catch_up(at);
    let transfer = giver.transfer_lots_out(&lots, record.moved_unlotted, &op_id, at);
    let moved = (transfer.pending(), transfer.available());
    let transferred = transfer.lot_ids();
    taker.transfer_in(transfer);
    ledger.save_ledger(&giver.into_changes()).await?;
    ledger.save_ledger(&taker.into_changes()).await?;
    let closed: Vec<String> = record
        .closed_lots
        .iter()
        .filter(|l| !transferred.contains(l))
        .cloned()
        .collect();
    tx.reassign_lots(&closed, customer_id).await?;
    // Its tier events count for it again.
    tx.reassign_tier_events(
        &record.moved_tier_events,
        &record.survivor_id,
        customer_id,
        at,
    )
    .await?;

    // Customers that had been merged into the absorbed one point at it again.
    for id in &record.repointed {
        if let Some(mut other) = tx.profile(id).await? {
            if other.status
                == (ProfileStatus::Merged {
                    into: survivor.customer_id.clone(),
                })
            {
                other.status = ProfileStatus::Merged {
                    into: customer_id.to_string(),
                };
                tx.update_profile(&other).await?;
            }
        }
    }
    absorbed.status = ProfileStatus::Active;
    absorbed.updated_at = at;
    survivor.updated_at = at;
    tx.update_profile(&absorbed).await?;
    tx.update_profile(&survivor).await?;
    record.undone_at = Some(at);
    tx.update_merge(&record).await?;
    let detail = json!({
        "merge_id": record.merge_id,
        "survivor_id": survivor.customer_id,
        "absorbed_id": customer_id,
        "pending_moved_back": moved.0,
        "available_moved_back": moved.1,
    });
    tx.append_events(&[
        event(&survivor.customer_id, "unmerge", by, at, detail.clone()),
        event(customer_id, "unmerge", by, at, detail),
    ])
    .await?;
    Ok(record)
}

/// Sets `field` of `doc` back to its value in `own` (or clears it).
fn restore_field(doc: &mut ProfileDoc, own: &ProfileDoc, field: &Field) {
    match field {
        Field::FirstName => doc.first_name = own.first_name.clone(),
        Field::MiddleName => doc.middle_name = own.middle_name.clone(),
        Field::LastName => doc.last_name = own.last_name.clone(),
        Field::Gender => doc.gender = own.gender.clone(),
        Field::Birthday => doc.birthday = own.birthday.clone(),
        Field::City => doc.city = own.city.clone(),
        Field::Language => doc.language = own.language.clone(),
        Field::HomeStore => doc.home_store = own.home_store.clone(),
        Field::Attribute(key) => match own.attributes.get(key) {
            Some(value) => {
                doc.attributes.insert(key.clone(), value.clone());
            }
            None => {
                doc.attributes.remove(key);
            }
        },
    }
}

/// Accepts (merging the pair, [`survivor_of`] surviving) or rejects a suggestion.
pub(crate) async fn decide(
    tx: &mut dyn ProfileTx,
    candidate_id: &str,
    accept: bool,
    merge_id: &str,
    trust: &SourceTrust,
    by: &Actor,
    at: DateTime<Utc>,
) -> StoreResult<MergeCandidate> {
    let mut candidate = tx.candidate(candidate_id).await?.ok_or_else(|| {
        domain(
            ErrorCode::CandidateNotFound,
            format!("no merge candidate {candidate_id:?}"),
        )
    })?;
    if candidate.status != CandidateStatus::Open {
        return Err(domain(
            ErrorCode::MergeConflict,
            format!(
                "candidate {candidate_id} was {} already",
                candidate.status.as_str()
            ),
        ));
    }
    if accept {
        let (a, b) = load_pair(tx, &candidate.customer_a, &candidate.customer_b).await?;
        let survivor = survivor_of(&a, &b).customer_id.clone();
        let absorbed = if survivor == a.customer_id {
            b.customer_id.clone()
        } else {
            a.customer_id.clone()
        };
        let request = MergeRequest {
            merge_id,
            survivor_id: &survivor,
            absorbed_id: &absorbed,
            reason: "candidate",
            trust,
            by,
            at,
        };
        merge(tx, &request).await?;
        candidate.merge_id = Some(merge_id.to_string());
        candidate.status = CandidateStatus::Accepted;
    } else {
        candidate.status = CandidateStatus::Rejected;
    }
    candidate.decided_at = Some(at);
    candidate.decided_by = by.actor.clone();
    tx.put_candidate(&candidate).await?;
    Ok(candidate)
}
