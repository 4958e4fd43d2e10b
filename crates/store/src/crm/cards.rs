//! Card operations at the service desk: block, unblock, replace, add.

use super::{active_profile, domain, event};
use crate::crm_command::{Actor, CardOperation};
use crate::port::StoreResult;
use crate::profile::{CardStatus, StoredCard, StoredProfile};
use crate::profile_tx::ProfileTx;
use chrono::{DateTime, Utc};
use serde_json::json;
use tessera_core::ErrorCode;

/// The customer's card `number`, or `card_not_found`.
fn own_card(profile: &StoredProfile, number: &str) -> StoreResult<StoredCard> {
    profile
        .cards
        .iter()
        .find(|c| c.number == number)
        .cloned()
        .ok_or_else(|| {
            domain(
                ErrorCode::CardNotFound,
                format!("customer {} holds no card {number}", profile.customer_id),
            )
        })
}

/// Runs a card operation; an operation that is already in effect (blocking a blocked
/// card, a replacement retried) changes nothing and answers the same.
pub(crate) async fn card_operation(
    tx: &mut dyn ProfileTx,
    customer_id: &str,
    operation: &CardOperation,
    by: &Actor,
    at: DateTime<Utc>,
) -> StoreResult<StoredProfile> {
    let mut profile = active_profile(tx, customer_id).await?;
    let mut changed: Vec<StoredCard> = Vec::new();
    let detail = match operation {
        CardOperation::Block { number } => {
            let mut card = own_card(&profile, number)?;
            match card.status {
                CardStatus::Active => {
                    card.status = CardStatus::Blocked;
                    changed.push(card);
                }
                CardStatus::Blocked => {}
                CardStatus::Replaced => {
                    return Err(domain(
                        ErrorCode::CardBlocked,
                        format!("card {number} was replaced; it cannot be blocked"),
                    ))
                }
            }
            json!({"operation": "block", "number": number})
        }
        CardOperation::Unblock { number } => {
            let mut card = own_card(&profile, number)?;
            match card.status {
                CardStatus::Blocked => {
                    card.status = CardStatus::Active;
                    changed.push(card);
                }
                CardStatus::Active => {}
                CardStatus::Replaced => {
                    return Err(domain(
                        ErrorCode::CardBlocked,
                        format!("card {number} was replaced; it cannot be used again"),
                    ))
                }
            }
            json!({"operation": "unblock", "number": number})
        }
        CardOperation::Replace {
            number,
            new_number,
            card_type,
        } => {
            let mut old = own_card(&profile, number)?;
            let new_type = card_type.unwrap_or(old.card_type);
            match tx.card(new_number).await? {
                None => {
                    if old.status == CardStatus::Replaced {
                        return Err(domain(
                            ErrorCode::CardBlocked,
                            format!("card {number} was replaced already"),
                        ));
                    }
                    old.status = CardStatus::Replaced;
                    changed.push(old);
                    changed.push(StoredCard {
                        number: new_number.clone(),
                        card_type: new_type,
                        status: CardStatus::Active,
                    });
                }
                // A retry: the replacement is in effect already.
                Some((owner, _)) if owner == customer_id && old.status == CardStatus::Replaced => {}
                Some((owner, _)) => {
                    return Err(super::update::taken(None, new_number, &owner));
                }
            }
            json!({"operation": "replace", "number": number, "new_number": new_number,
                "type": new_type.as_str()})
        }
        CardOperation::Add { number, card_type } => {
            match tx.card(number).await? {
                None => changed.push(StoredCard {
                    number: number.clone(),
                    card_type: *card_type,
                    status: CardStatus::Active,
                }),
                Some((owner, _)) if owner == customer_id => {}
                Some((owner, _)) => return Err(super::update::taken(None, number, &owner)),
            }
            json!({"operation": "add", "number": number, "type": card_type.as_str()})
        }
    };
    if changed.is_empty() {
        return Ok(profile);
    }
    for card in changed {
        tx.put_card(customer_id, &card).await?;
        match profile.cards.iter_mut().find(|c| c.number == card.number) {
            Some(slot) => *slot = card,
            None => profile.cards.push(card),
        }
    }
    profile.updated_at = at;
    tx.update_profile(&profile).await?;
    tx.append_events(&[event(customer_id, "card", by, at, detail)])
        .await?;
    Ok(profile)
}
