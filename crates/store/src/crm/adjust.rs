//! Staff adjustments of points: exactly once per idempotency key.

use super::{active_profile, domain, event};
use crate::crm_command::AdjustCommand;
use crate::port::StoreResult;
use crate::profile::StoredAdjustment;
use crate::profile_tx::ProfileTx;
use crate::StoreError;
use serde_json::json;
use tessera_core::ErrorCode;

/// Applies an adjustment and answers its response; a retry with the same key and
/// body answers the stored response, another body `adjustment_conflict`.
pub(crate) async fn adjust(
    tx: &mut dyn ProfileTx,
    command: &AdjustCommand,
) -> StoreResult<Vec<u8>> {
    if let Some(stored) = tx.adjustment(&command.idempotency_key).await? {
        if stored.request_hash == command.request_hash && stored.customer_id == command.customer_id
        {
            return Ok(stored.response);
        }
        return Err(domain(
            ErrorCode::AdjustmentConflict,
            format!(
                "idempotency key {:?} was used for another adjustment",
                command.idempotency_key
            ),
        ));
    }
    let profile = active_profile(tx, &command.customer_id).await?;
    let ledger = tx.ledger();
    let mut account = ledger.load_ledger(&profile.customer_id, &[]).await?;
    account.catch_up(command.at);
    account
        .adjust(
            command.points,
            &command.idempotency_key,
            command.at,
            &command.program,
        )
        .map_err(StoreError::Domain)?;
    let changes = account.into_changes();
    let (available, pending) = (changes.available, changes.pending);
    ledger.save_ledger(&changes).await?;
    let response = json!({
        "adjustment_id": command.idempotency_key,
        "customer_id": command.customer_id,
        "points": command.points,
        "reason": command.reason,
        "at": command.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "by": command.by.actor,
        "balance": {"available": available, "pending": pending},
    });
    let bytes = serde_json::to_vec(&response).map_err(StoreError::backend)?;
    tx.insert_adjustment(&StoredAdjustment {
        key: command.idempotency_key.clone(),
        customer_id: command.customer_id.clone(),
        request_hash: command.request_hash.clone(),
        response: bytes.clone(),
        at: command.at,
    })
    .await?;
    tx.append_events(&[event(
        &command.customer_id,
        "adjustment",
        &command.by,
        command.at,
        json!({
            "adjustment_id": command.idempotency_key,
            "points": command.points,
            "reason": command.reason,
        }),
    )])
    .await?;
    Ok(bytes)
}
