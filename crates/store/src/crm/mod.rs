//! The CRM writes, written once for every adapter over [`ProfileTx`]: profile
//! updates with history, merges and unmerges, review decisions, staff adjustments,
//! card operations, erasure and import batches. Like the receipt writes in
//! [`crate::service`], each decides everything that can refuse it before its first
//! write where it can; the adapter runs the whole command in one transaction (under a
//! savepoint on SQLite), so a refusal found later by a unique index undoes it all.

mod adjust;
mod cards;
mod erase;
mod import;
mod merge;
mod update;

use crate::crm_command::{Actor, CrmCommand, CrmOutcome};
use crate::port::StoreResult;
use crate::profile::{ProfileEvent, ProfileStatus, StoredProfile};
use crate::profile_tx::ProfileTx;
use crate::StoreError;
use chrono::{DateTime, Utc};
use tessera_core::{CoreError, ErrorCode};

pub use merge::survivor_of;

/// Runs one CRM write inside the adapter's transaction.
pub async fn apply(tx: &mut dyn ProfileTx, command: &CrmCommand) -> StoreResult<CrmOutcome> {
    match command {
        CrmCommand::Update(u) => {
            let (profile, _) = update::update(tx, u, update::OnTaken::Refuse).await?;
            Ok(CrmOutcome::Profile(Box::new(profile)))
        }
        CrmCommand::Merge {
            merge_id,
            survivor_id,
            absorbed_id,
            reason,
            trust,
            by,
            at,
        } => {
            let request = merge::MergeRequest {
                merge_id,
                survivor_id,
                absorbed_id,
                reason,
                trust,
                by,
                at: *at,
            };
            Ok(CrmOutcome::Merge(Box::new(
                merge::merge(tx, &request).await?,
            )))
        }
        CrmCommand::Unmerge {
            customer_id,
            by,
            at,
        } => Ok(CrmOutcome::Merge(Box::new(
            merge::unmerge(tx, customer_id, by, *at).await?,
        ))),
        CrmCommand::Decide {
            candidate_id,
            accept,
            merge_id,
            trust,
            by,
            at,
        } => Ok(CrmOutcome::Candidate(Box::new(
            merge::decide(tx, candidate_id, *accept, merge_id, trust, by, *at).await?,
        ))),
        CrmCommand::Adjust(command) => Ok(CrmOutcome::Adjusted(adjust::adjust(tx, command).await?)),
        CrmCommand::Card {
            customer_id,
            operation,
            by,
            at,
        } => Ok(CrmOutcome::Profile(Box::new(
            cards::card_operation(tx, customer_id, operation, by, *at).await?,
        ))),
        CrmCommand::Erase {
            customer_id,
            by,
            at,
        } => Ok(CrmOutcome::Profile(Box::new(
            erase::erase(tx, customer_id, by, *at).await?,
        ))),
        CrmCommand::Import(batch, trust) => Ok(CrmOutcome::Imported(
            import::apply_batch(tx, batch, trust).await?,
        )),
    }
}

/// A history entry to append.
fn event(
    customer_id: &str,
    kind: &str,
    by: &Actor,
    at: DateTime<Utc>,
    detail: serde_json::Value,
) -> ProfileEvent {
    ProfileEvent {
        event_id: 0,
        customer_id: customer_id.to_string(),
        at,
        kind: kind.to_string(),
        source: by.source.clone(),
        actor: by.actor.clone(),
        detail,
    }
}

fn domain(code: ErrorCode, message: String) -> StoreError {
    StoreError::Domain(CoreError::new(code, message))
}

/// A profile, whatever its status; `customer_not_found` when there is none.
async fn existing_profile(tx: &mut dyn ProfileTx, customer_id: &str) -> StoreResult<StoredProfile> {
    tx.profile(customer_id).await?.ok_or_else(|| {
        domain(
            ErrorCode::CustomerNotFound,
            format!("no customer {customer_id:?}"),
        )
    })
}

/// A profile that can be changed: `customer_merged` (naming the survivor) or
/// `customer_erased` otherwise.
async fn active_profile(tx: &mut dyn ProfileTx, customer_id: &str) -> StoreResult<StoredProfile> {
    let profile = existing_profile(tx, customer_id).await?;
    match &profile.status {
        ProfileStatus::Active => Ok(profile),
        ProfileStatus::Merged { into } => Err(domain(
            ErrorCode::CustomerMerged,
            format!("customer {customer_id} was merged into {into}"),
        )),
        ProfileStatus::Erased { .. } => Err(domain(
            ErrorCode::CustomerErased,
            format!("customer {customer_id} was erased"),
        )),
    }
}
