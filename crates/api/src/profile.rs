//! The customer profile as answered: the 360° view of `GET /v1/customers/{id}`, its
//! history, and the short form search answers.

use crate::convert::time_out;
use crate::customer::{BalanceSummary, CardOut, CustomerOut, CustomerTierOut, EntitlementHeldOut};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tessera_core::consent::Sourced;
use tessera_core::ledger::Balance;
use tessera_core::profile::{Field, ProfileDoc};
use tessera_core::reward::{Grant, GrantKind};
use tessera_store::profile::{IdentifierKind, ProfileEvent, ProfileStatus, StoredProfile};
use utoipa::ToSchema;

/// A customer's id in another system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExternalIdOut {
    /// The other system, such as `shop` or `erp`.
    pub source: String,
    pub id: String,
}

/// The consent in force on one channel.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsentOut {
    pub granted: bool,
    /// When it was given or withdrawn.
    pub at: String,
    /// Where it was given (`pos`, `web`, …).
    pub source: String,
}

/// Where and when the customer registered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistrationOut {
    pub source: String,
    pub at: String,
    pub store_id: Option<String>,
}

/// When and from which source a field was last set.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FieldSourceOut {
    pub at: String,
    pub source: String,
}

/// One entry of a customer's history.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryEventOut {
    pub event_id: i64,
    pub at: String,
    /// `created`, `field`, `consent`, `identifier_added`, `identifier_removed`,
    /// `card`, `merge`, `merged_into`, `unmerge`, `adjustment`, `erase`.
    pub kind: String,
    /// The system the change came through.
    pub source: String,
    /// The staff member, when known.
    pub actor: Option<String>,
    /// What changed: for `field`, `{field, old, new, source, at}`.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// A customer as a search lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerSummaryOut {
    pub customer_id: String,
    /// `active` (search leaves merged and erased customers out).
    pub status: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub cards: Vec<CardOut>,
    pub balance: BalanceSummary,
}

/// The customers a search found, by id.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerSearchOut {
    pub customers: Vec<CustomerSummaryOut>,
}

/// What a profile is answered with besides itself.
pub struct ProfileView<'a> {
    pub profile: &'a StoredProfile,
    /// The balance as of `now`.
    pub balance: &'a Balance,
    pub grants: &'a [Grant],
    pub segments: &'a [String],
    pub now: DateTime<Utc>,
    /// The history to include (`?history=true`, the export), oldest first.
    pub history: Option<&'a [ProfileEvent]>,
    /// The tier standing as of `now`, when the program has earned tiers.
    pub tier: Option<&'a tessera_core::tier::TierStanding>,
}

fn text(slot: &Option<Sourced<String>>) -> Option<String> {
    slot.as_ref().map(|s| s.value.clone())
}

pub fn cards_out(profile: &StoredProfile) -> Vec<CardOut> {
    profile
        .cards
        .iter()
        .map(|c| CardOut {
            number: c.number.clone(),
            card_type: c.card_type.as_str().to_string(),
            status: c.status.as_str().to_string(),
        })
        .collect()
}

/// The external ids (`<source>:<id>`) as pairs.
pub fn external_ids_out(profile: &StoredProfile) -> Vec<ExternalIdOut> {
    profile
        .values(IdentifierKind::External)
        .map(|value| match value.split_once(':') {
            Some((source, id)) => ExternalIdOut {
                source: source.to_string(),
                id: id.to_string(),
            },
            None => ExternalIdOut {
                source: String::new(),
                id: value.to_string(),
            },
        })
        .collect()
}

/// When and from where each set field of the document was set.
pub fn field_sources_out(doc: &ProfileDoc) -> BTreeMap<String, FieldSourceOut> {
    let mut fields: Vec<Field> = Field::FIXED.to_vec();
    fields.extend(doc.attributes.keys().cloned().map(Field::Attribute));
    let mut out: BTreeMap<String, FieldSourceOut> = fields
        .iter()
        .filter_map(|field| {
            doc.sourced(field).map(|(_, at, source)| {
                (
                    field.name(),
                    FieldSourceOut {
                        at: time_out(at),
                        source,
                    },
                )
            })
        })
        .collect();
    if let Some(name) = &doc.name {
        out.insert(
            "name".into(),
            FieldSourceOut {
                at: time_out(name.at),
                source: name.source.clone(),
            },
        );
    }
    out
}

pub fn event_out(event: &ProfileEvent) -> HistoryEventOut {
    HistoryEventOut {
        event_id: event.event_id,
        at: time_out(event.at),
        kind: event.kind.clone(),
        source: event.source.clone(),
        actor: event.actor.clone(),
        detail: event.detail.clone(),
    }
}

/// The tier in force at `now` and the entitlements held, from the grants.
fn tier_and_entitlements(
    grants: &[Grant],
    now: DateTime<Utc>,
) -> (Option<CustomerTierOut>, Vec<EntitlementHeldOut>) {
    let live = || grants.iter().filter(|g| !g.revoked);
    let tier = live()
        .filter(|g| g.kind == GrantKind::Tier)
        .max_by_key(|g| g.granted_at)
        .filter(|g| g.until.is_none_or(|until| now < until))
        .map(|g| CustomerTierOut {
            tier: g.value.clone(),
            until: g.until.map(time_out),
            granted_at: time_out(g.granted_at),
            promotion_id: g.promotion_id.clone(),
        });
    let entitlements = live()
        .filter(|g| g.kind == GrantKind::Entitlement)
        .map(|g| EntitlementHeldOut {
            entitlement: g.value.clone(),
            granted_at: time_out(g.granted_at),
            promotion_id: g.promotion_id.clone(),
            receipt_id: g.receipt_id.clone(),
        })
        .collect();
    (tier, entitlements)
}

/// The 360° view of a customer.
pub fn profile_out(view: ProfileView<'_>) -> CustomerOut {
    let profile = view.profile;
    let doc = &profile.doc;
    let (tier, entitlements) = tier_and_entitlements(view.grants, view.now);
    let merged_into = match &profile.status {
        ProfileStatus::Merged { into } => Some(into.clone()),
        _ => None,
    };
    let shown = view.tier.map(crate::tier::tier_shown);
    CustomerOut {
        customer_id: profile.customer_id.clone(),
        status: profile.status.as_str().to_string(),
        merged_into,
        name: doc.display_name(),
        first_name: text(&doc.first_name),
        middle_name: text(&doc.middle_name),
        last_name: text(&doc.last_name),
        gender: doc.gender.as_ref().map(|g| g.value.as_str().to_string()),
        birthday: doc
            .birthday
            .as_ref()
            .map(|b| b.value.format("%Y-%m-%d").to_string()),
        city: text(&doc.city),
        language: text(&doc.language),
        home_store: text(&doc.home_store),
        attributes: doc
            .attributes
            .iter()
            .map(|(key, value)| (key.clone(), value.value.0.clone()))
            .collect(),
        phone: profile.primary(IdentifierKind::Phone).map(String::from),
        email: profile.primary(IdentifierKind::Email).map(String::from),
        phones: profile
            .values(IdentifierKind::Phone)
            .map(String::from)
            .collect(),
        emails: profile
            .values(IdentifierKind::Email)
            .map(String::from)
            .collect(),
        external_ids: external_ids_out(profile),
        cards: cards_out(profile),
        consents: doc
            .consents
            .iter()
            .map(|(channel, consent)| {
                (
                    channel.as_str().to_string(),
                    ConsentOut {
                        granted: consent.granted,
                        at: time_out(consent.at),
                        source: consent.source.clone(),
                    },
                )
            })
            .collect(),
        registration: doc.registration.as_ref().map(|r| RegistrationOut {
            source: r.source.clone(),
            at: time_out(r.at),
            store_id: r.store_id.clone(),
        }),
        created_at: time_out(profile.created_at),
        updated_at: time_out(profile.updated_at),
        balance: BalanceSummary {
            available: view.balance.available,
            pending: view.balance.pending,
        },
        segments: view.segments.to_vec(),
        tier,
        entitlements,
        effective_tier: shown.as_ref().map(|s| s.effective_tier.clone()),
        earned_tier: shown.as_ref().map(|s| s.earned_tier.clone()),
        tier_progress: shown.as_ref().and_then(|s| s.tier_progress.clone()),
        tier_reevaluate_at: shown.and_then(|s| s.tier_reevaluate_at),
        field_sources: view.history.map(|_| field_sources_out(doc)),
        history: view
            .history
            .map(|events| events.iter().map(event_out).collect()),
    }
}

/// A customer as a search lists it.
pub fn summary_out(profile: &StoredProfile, balance: &Balance) -> CustomerSummaryOut {
    CustomerSummaryOut {
        customer_id: profile.customer_id.clone(),
        status: profile.status.as_str().to_string(),
        name: profile.doc.display_name(),
        phone: profile.primary(IdentifierKind::Phone).map(String::from),
        email: profile.primary(IdentifierKind::Email).map(String::from),
        cards: cards_out(profile),
        balance: BalanceSummary {
            available: balance.available,
            pending: balance.pending,
        },
    }
}
