//! Changing one profile: fields, identifiers, cards and consents, each change written
//! to the customer's history with its source.

use super::{active_profile, event};
use crate::crm_command::ProfileUpdate;
use crate::port::StoreResult;
use crate::profile::{CardStatus, IdentifierKind, StoredCard, StoredIdentifier, StoredProfile};
use crate::profile_tx::ProfileTx;
use crate::StoreError;
use serde_json::json;
use tessera_core::consent::{apply_consent, Consent, Decision};
use tessera_core::profile::Mode;
use tessera_core::ErrorCode;

/// How an update meets an identifier someone else holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnTaken {
    /// Refuse the whole update (`phone_taken`, `card_taken`, `external_id_taken`).
    Refuse,
    /// Leave the identifier out and report it (an import).
    Skip,
}

/// The taken identifier's error.
pub(crate) fn taken(kind: Option<IdentifierKind>, value: &str, owner: &str) -> StoreError {
    let (code, field, what) = match kind {
        None => (ErrorCode::CardTaken, "cards", "card"),
        Some(IdentifierKind::Phone) => (ErrorCode::PhoneTaken, "phone", "phone"),
        Some(IdentifierKind::Email) => (ErrorCode::InvalidField, "email", "email"),
        Some(IdentifierKind::External) => {
            (ErrorCode::ExternalIdTaken, "external_id", "external id")
        }
    };
    StoreError::Domain(tessera_core::CoreError::field(
        code,
        field,
        format!("{what} {value} already belongs to customer {owner}"),
    ))
}

/// Applies an update; returns the profile as it is afterwards and the identifiers
/// left out (with [`OnTaken::Skip`]).
pub(crate) async fn update(
    tx: &mut dyn ProfileTx,
    update: &ProfileUpdate,
    on_taken: OnTaken,
) -> StoreResult<(StoredProfile, Vec<StoreError>)> {
    let mut profile = active_profile(tx, &update.customer_id).await?;
    let id = profile.customer_id.clone();
    let by = &update.by;
    let at = update.at;
    let mode = if update.direct {
        Mode::Direct
    } else {
        Mode::Survivorship(&update.trust)
    };
    let mut events = Vec::new();
    let mut skipped = Vec::new();

    // Every refusal is decided before the first write.
    let mut add_ids = Vec::new();
    for (kind, value) in &update.add_identifiers {
        if profile.values(*kind).any(|v| v == value) || add_ids.contains(&(*kind, value)) {
            continue;
        }
        if kind.is_unique() {
            if let Some(owner) = tx.identifier_owner(*kind, value).await? {
                if owner != id {
                    let error = taken(Some(*kind), value, &owner);
                    match on_taken {
                        OnTaken::Refuse => return Err(error),
                        OnTaken::Skip => {
                            skipped.push(error);
                            continue;
                        }
                    }
                }
            }
        }
        add_ids.push((*kind, value));
    }
    let mut add_cards = Vec::new();
    for (number, card_type) in &update.add_cards {
        match tx.card(number).await? {
            Some((owner, _)) if owner == id => {}
            Some((owner, _)) => {
                let error = taken(None, number, &owner);
                match on_taken {
                    OnTaken::Refuse => return Err(error),
                    OnTaken::Skip => skipped.push(error),
                }
            }
            None if add_cards.iter().any(|(n, _)| n == &number) => {}
            None => add_cards.push((number, *card_type)),
        }
    }
    let mut changes = Vec::new();
    for (field, value) in &update.fields {
        let change = profile
            .doc
            .set(field, value.clone(), at, &by.source, mode)
            .map_err(StoreError::Domain)?;
        changes.extend(change);
    }

    for change in changes {
        let detail = serde_json::to_value(&change).map_err(StoreError::backend)?;
        events.push(event(&id, "field", by, at, detail));
    }
    for (kind, value) in &update.remove_identifiers {
        if profile.values(*kind).any(|v| v == value) {
            tx.remove_identifier(&id, *kind, value).await?;
            profile
                .identifiers
                .retain(|i| !(i.kind == *kind && &i.value == value));
            events.push(event(
                &id,
                "identifier_removed",
                by,
                at,
                json!({"kind": kind.as_str(), "value": value}),
            ));
        }
    }
    for (kind, value) in add_ids {
        let identifier = StoredIdentifier {
            kind,
            value: value.clone(),
            source: by.source.clone(),
            added_at: at,
        };
        tx.add_identifier(&id, &identifier).await?;
        profile.identifiers.push(identifier);
        events.push(event(
            &id,
            "identifier_added",
            by,
            at,
            json!({"kind": kind.as_str(), "value": value}),
        ));
    }
    for (number, card_type) in add_cards {
        let card = StoredCard {
            number: number.clone(),
            card_type,
            status: CardStatus::Active,
        };
        tx.put_card(&id, &card).await?;
        profile.cards.push(card);
        events.push(event(
            &id,
            "card",
            by,
            at,
            json!({"operation": "add", "number": number, "type": card_type.as_str()}),
        ));
    }
    for consent in &update.consents {
        let decision = apply_consent(
            profile.doc.consents.get(&consent.channel),
            consent,
            &update.trust,
        );
        let (applied, reason) = match decision {
            Decision::Applied => {
                profile.doc.consents.insert(
                    consent.channel,
                    Consent {
                        granted: consent.granted,
                        at: consent.at,
                        source: consent.source.clone(),
                    },
                );
                (true, None)
            }
            Decision::Ignored(reason) => (false, Some(reason.as_str())),
        };
        events.push(event(
            &id,
            "consent",
            by,
            at,
            json!({
                "channel": consent.channel.as_str(),
                "granted": consent.granted,
                "at": consent.at,
                "source": consent.source,
                "applied": applied,
                "ignored_because": reason,
            }),
        ));
    }
    if !events.is_empty() {
        profile.updated_at = at;
        tx.update_profile(&profile).await?;
        tx.append_events(&events).await?;
    }
    Ok((profile, skipped))
}
