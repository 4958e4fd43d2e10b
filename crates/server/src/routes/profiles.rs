//! `/v1/customers/{id}` as a profile: the 360° view, edits, and customer search.

use crate::error::ApiError;
use crate::json::Unhashed;
use crate::query::Params;
use crate::routes::customers::as_of;
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use tessera_api::{
    profile_out, profile_update_from, summary_out, CustomerOut, CustomerSearchOut, ErrorBody,
    PatchContext, ProfilePatchBody, ProfileView,
};
use tessera_core::contact::{self, NormalizeRules};
use tessera_core::customer::{normalize_card, TierGrant};
use tessera_core::matching::fold_name;
use tessera_core::reward::{Grant, GrantKind};
use tessera_core::{CoreError, ErrorCode};
use tessera_store::crm_command::{CrmCommand, CrmOutcome, CustomerQuery};
use tessera_store::{ProfileEvent, StoredProfile};
use utoipa::IntoParams;

/// How many history entries `?history=true` shows: the newest ones.
pub const HISTORY_SHOWN: usize = 500;
/// How many history entries one store read pages through.
const EVENTS_PAGE: u32 = 1000;

/// How phones and dates written without their country or order are read. The program
/// has no setting for it yet: numbers written nationally are Russian.
pub fn normalize_rules() -> NormalizeRules {
    NormalizeRules::default()
}

/// `customer_not_found`.
pub fn not_found(customer_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::CustomerNotFound,
        format!("no customer {customer_id:?}"),
    )
}

/// A profile, whatever its status, or `customer_not_found`.
pub async fn existing(state: &AppState, customer_id: &str) -> Result<StoredProfile, ApiError> {
    state
        .store
        .profile(customer_id)
        .await?
        .ok_or_else(|| not_found(customer_id))
}

/// Every history entry of a customer, oldest first.
pub async fn all_events(
    state: &AppState,
    customer_id: &str,
) -> Result<Vec<ProfileEvent>, ApiError> {
    let mut events: Vec<ProfileEvent> = Vec::new();
    loop {
        let after = events.last().map_or(0, |e| e.event_id);
        let page = state
            .store
            .profile_events(customer_id, after, EVENTS_PAGE)
            .await?;
        let full = page.len() == EVENTS_PAGE as usize;
        events.extend(page);
        if !full {
            return Ok(events);
        }
    }
}

/// The profile answered from a CRM write, or an internal error for another outcome.
pub fn written_profile(outcome: CrmOutcome) -> Result<StoredProfile, ApiError> {
    match outcome {
        CrmOutcome::Profile(profile) => Ok(*profile),
        other => Err(unexpected(&other)),
    }
}

/// An outcome a command cannot answer.
pub fn unexpected(outcome: &CrmOutcome) -> ApiError {
    tracing::error!(
        ?outcome,
        "the store answered a CRM write with another outcome"
    );
    ApiError::new(
        ErrorCode::Internal,
        "internal error: unexpected store answer",
    )
}

/// The 360° view of a profile, with the balance, grants and segments as of now.
pub async fn view(
    state: &AppState,
    profile: &StoredProfile,
    history: Option<&[ProfileEvent]>,
) -> Result<CustomerOut, ApiError> {
    let id = &profile.customer_id;
    let now = state.clock.now();
    let ledger = state.store.customer_ledger(id).await?;
    let grants = state.store.grants(id).await?;
    let segments = state.store.customer_segments(id).await?;
    // Computed as of now from the stored record and events; a read writes nothing.
    let standing = match &state.config().program.tiers {
        Some(tiers) => {
            let history = state.store.tier_history(id, tiers.window_days).await?;
            let grant = tier_grant(&grants);
            Some(history.standing(tiers, grant.as_ref(), now))
        }
        None => None,
    };
    Ok(profile_out(ProfileView {
        profile,
        balance: &as_of(ledger, now).1,
        grants: &grants,
        segments: &segments,
        now,
        history,
        tier: standing.as_ref(),
    }))
}

/// The latest tier grant not revoked, as a receipt's pricing reads it.
fn tier_grant(grants: &[Grant]) -> Option<TierGrant> {
    grants
        .iter()
        .filter(|g| g.kind == GrantKind::Tier && !g.revoked)
        .max_by_key(|g| g.granted_at)
        .map(|g| TierGrant {
            tier: g.value.clone(),
            granted_at: g.granted_at,
            until: g.until,
        })
}

/// `?history=true` adds field sources and the history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProfileQuery {
    /// Include `field_sources` and `history` (the newest 500 entries, oldest first).
    pub history: Option<bool>,
}

/// A customer: profile, identifiers, cards, consents, balance, tier and segments. A
/// merged customer answers with `status: merged` and `merged_into`.
#[utoipa::path(get, path = "/v1/customers/{customer_id}", tag = "customers",
    params(("customer_id" = String, Path), ProfileQuery),
    responses((status = 200, body = CustomerOut), (status = 404, body = ErrorBody)))]
pub async fn get_customer(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    Params(query): Params<ProfileQuery>,
) -> Result<Json<CustomerOut>, ApiError> {
    let profile = existing(&state, &customer_id).await?;
    if query.history != Some(true) {
        return Ok(Json(view(&state, &profile, None).await?));
    }
    let events = all_events(&state, &customer_id).await?;
    let newest = &events[events.len().saturating_sub(HISTORY_SHOWN)..];
    Ok(Json(view(&state, &profile, Some(newest)).await?))
}

/// Changes a profile: fields (`null` clears), phones, emails, external ids and
/// consents; each change is kept in the history with its source and actor.
#[utoipa::path(patch, path = "/v1/customers/{customer_id}", tag = "customers", request_body = ProfilePatchBody,
    params(("customer_id" = String, Path)),
    responses((status = 200, body = CustomerOut), (status = 404, body = ErrorBody),
        (status = 409, description = "phone_taken, external_id_taken, customer_merged", body = ErrorBody),
        (status = 410, description = "customer_erased", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn patch_customer(
    State(state): State<Arc<AppState>>,
    Path(customer_id): Path<String>,
    Unhashed(body): Unhashed<ProfilePatchBody>,
) -> Result<Json<CustomerOut>, ApiError> {
    let update = {
        let config = state.config();
        let known_store = |store_id: &str| config.stores.contains_key(store_id);
        let context = PatchContext {
            now: state.clock.now(),
            rules: normalize_rules(),
            known_store: &known_store,
        };
        profile_update_from(body, &customer_id, &context)?
    };
    let outcome = state
        .store
        .crm(CrmCommand::Update(Box::new(update)))
        .await?;
    let profile = written_profile(outcome)?;
    Ok(Json(view(&state, &profile, None).await?))
}

/// A search of customers.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// An email (has `@`), a phone in any usual format, a card number, or the start
    /// of a name in Cyrillic or Latin letters.
    pub q: Option<String>,
    /// At most this many customers (default 20, at most 100).
    pub limit: Option<u32>,
}

/// What a search text looks for.
pub fn classify(q: &str) -> Result<Vec<CustomerQuery>, CoreError> {
    let text = q.trim();
    let blank = || CoreError::invalid("q", "must name an email, a phone, a card or a name");
    if text.is_empty() {
        return Err(blank());
    }
    if text.contains('@') {
        let email = contact::email(text).unwrap_or_else(|_| text.to_lowercase());
        return Ok(vec![CustomerQuery::Email(email)]);
    }
    if let Ok(phone) = contact::phone(text, &normalize_rules()) {
        let mut queries = vec![CustomerQuery::Phone(phone)];
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        if let Ok(card) = normalize_card(&digits) {
            queries.push(CustomerQuery::Card(card));
        }
        return Ok(queries);
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.chars().all(|c| c.is_ascii_digit()) {
        return Ok(match normalize_card(&compact) {
            Ok(card) => vec![CustomerQuery::Card(card)],
            Err(_) => Vec::new(),
        });
    }
    let folded = fold_name(text);
    if folded.is_empty() {
        return Err(blank());
    }
    Ok(vec![CustomerQuery::NamePrefix(folded)])
}

/// Finds customers by email, phone, card or the start of a name; merged and erased
/// customers are left out.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(SearchQuery),
    responses((status = 200, body = CustomerSearchOut), (status = 422, body = ErrorBody)))]
pub async fn search_customers(
    State(state): State<Arc<AppState>>,
    Params(query): Params<SearchQuery>,
) -> Result<Json<CustomerSearchOut>, ApiError> {
    let queries = classify(query.q.as_deref().unwrap_or_default())?;
    let limit = query.limit.unwrap_or(20).clamp(1, 100);
    let mut ids = BTreeSet::new();
    for q in &queries {
        ids.extend(state.store.search_customers(q, limit).await?);
    }
    let now = state.clock.now();
    let mut customers = Vec::new();
    for id in ids.into_iter().take(limit as usize) {
        let Some(profile) = state.store.profile(&id).await? else {
            continue;
        };
        let ledger = state.store.customer_ledger(&id).await?;
        customers.push(summary_out(&profile, &as_of(ledger, now).1));
    }
    Ok(Json(CustomerSearchOut { customers }))
}
