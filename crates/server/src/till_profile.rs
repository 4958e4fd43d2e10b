//! The profile at the till: the fields to ask the customer for (`profile_requests`
//! of a calculation) and what the customer answered (`profile_update` of a commit).

use crate::error::ApiError;
use crate::routes::profiles::normalize_rules;
use crate::AppState;
use chrono::{DateTime, Utc};
use tessera_api::profile_patch::{profile_update_from, PatchContext, ProfilePatchBody};
use tessera_api::ProfileRequestOut;
use tessera_core::profile::{profile_requests, ProfileRequest};
use tessera_core::receipt::ReceiptRequest;
use tessera_core::snapshot::ConfigSnapshot;
use tessera_store::crm_command::CrmCommand;
use tessera_store::{IdentifierKind, StoreResult};

/// The fields the program requires that the customer's profile lacks or has let go
/// stale; empty when the program requires none.
pub async fn requests_for(
    state: &AppState,
    config: &ConfigSnapshot,
    customer_id: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<ProfileRequest>> {
    let required = &config.program.required_fields;
    if required.is_empty() {
        return Ok(Vec::new());
    }
    let Some(profile) = state.store.profile(customer_id).await? else {
        return Ok(Vec::new());
    };
    let newest = |kind: &str| {
        let kind = match kind {
            "phone" => IdentifierKind::Phone,
            _ => IdentifierKind::Email,
        };
        profile
            .identifiers
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.added_at)
            .max()
    };
    Ok(profile_requests(&profile.doc, newest, required, now))
}

/// The wire form of the requests.
pub fn requests_out(requests: &[ProfileRequest]) -> Vec<ProfileRequestOut> {
    requests
        .iter()
        .map(|r| ProfileRequestOut {
            field: r.field.clone(),
            reason: r.reason.as_str().to_string(),
        })
        .collect()
}

/// Writes what the customer told the cashier: a direct update from source `pos`
/// with the receipt's store and terminal. A value the till sent badly is refused
/// (422, naming `profile_update.<field>`), so the till can correct it; an update the
/// profile cannot take (a phone another customer holds, a merged or erased profile)
/// never stops the sale: it is logged and left out.
pub async fn apply_update(
    state: &AppState,
    config: &ConfigSnapshot,
    body: ProfilePatchBody,
    customer_id: &str,
    request: &ReceiptRequest,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let known_store = |store_id: &str| config.stores.contains_key(store_id);
    let context = PatchContext {
        now,
        rules: normalize_rules(),
        known_store: &known_store,
    };
    let mut update = profile_update_from(body, customer_id, &context)
        .map_err(|e| ApiError::from(e.within("profile_update")))?;
    update.by.source = "pos".into();
    update.by.store_id = Some(request.store_id.clone());
    update.by.terminal_id = Some(request.terminal_id.clone());
    for consent in &mut update.consents {
        consent.source = "pos".into();
    }
    match state.store.crm(CrmCommand::Update(Box::new(update))).await {
        Ok(_) => Ok(()),
        Err(tessera_store::StoreError::Domain(error)) => {
            tracing::warn!(%customer_id, receipt_id = %request.receipt_id, %error,
                "the profile update at the till was left out");
            Ok(())
        }
        Err(error) => Err(error.into()),
    }
}
