//! `PATCH /v1/customers/{id}`: the body, and its validation into a profile update.
//! Every value is normalised as imports normalise it ([`tessera_core::contact`]), and
//! every refusal names the member at fault (`add_phones[1]`).

use crate::actor::{actor_from, nullable, source_in};
use crate::convert::parse_at;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use tessera_core::consent::{Channel, ConsentEvent, SourceTrust};
use tessera_core::contact::{self, NormalizeRules, Rejection};
use tessera_core::profile::{Field, FieldValue, GenderValue};
use tessera_core::{CoreError, ErrorCode};
use tessera_store::crm_command::ProfileUpdate;
use tessera_store::profile::IdentifierKind;
use utoipa::ToSchema;

/// The most items one list of a PATCH may hold.
pub const PATCH_LIST_MAX: usize = 50;
/// The most custom attributes one PATCH may set or remove.
pub const ATTRIBUTES_MAX: usize = 100;
/// The longest custom attribute value, as JSON text.
pub const ATTRIBUTE_VALUE_MAX_BYTES: usize = 2000;

/// Changes to a customer's profile. Every member is optional; a field set to `null` is
/// cleared. Values are normalised: names title-cased, phones to E.164 (numbers written
/// nationally are read as Russian), emails lower-cased.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatchBody {
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable)]
    pub first_name: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable)]
    pub middle_name: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable)]
    pub last_name: Option<Option<String>>,
    /// `female` or `male` (also `f`, `m`, `ж`, `м`, `жен`, `муж`, …).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable)]
    pub gender: Option<Option<String>>,
    /// `1985-03-07`, `07.03.1985` or `07/03/1985` (day first).
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable)]
    pub birthday: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable)]
    pub city: Option<Option<String>>,
    /// A language tag such as `ru` or `en-GB`.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable)]
    pub language: Option<Option<String>>,
    /// The id of a store of the chain.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable)]
    pub home_store: Option<Option<String>>,
    /// Custom attributes to set, by key (letters, digits, `_` and `-`); a key set to
    /// `null` is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_phones: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_phones: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_emails: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_external_ids: Vec<ExternalIdIn>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_external_ids: Vec<ExternalIdIn>,
    /// Consents given or withdrawn; a withdrawal is never undone by an older grant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consents: Vec<ConsentIn>,
    /// The system the change comes through; default `api`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The staff member making the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// A customer's id in another system.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalIdIn {
    /// The other system: lower-case letters, digits and `_`, such as `shop`.
    pub source: String,
    /// The record's id there (1 to 128 characters).
    pub id: String,
}

/// A consent given or withdrawn on one channel.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentIn {
    /// `email`, `sms`, `push`, `viber` or `telegram`.
    pub channel: String,
    pub granted: bool,
    /// RFC 3339, when the customer gave it; default now; not in the future.
    #[serde(default)]
    pub at: Option<String>,
    /// Where it was given; default the body's `source`.
    #[serde(default)]
    pub source: Option<String>,
}

/// What the validation of a PATCH needs besides the body.
pub struct PatchContext<'a> {
    pub now: DateTime<Utc>,
    pub rules: NormalizeRules,
    /// Whether a store id names a store of the chain.
    pub known_store: &'a (dyn Fn(&str) -> bool + Sync),
}

fn rejected(code: ErrorCode, field: &str, rejection: Rejection) -> CoreError {
    CoreError::field(code, field, rejection.message())
}

/// A plain text value: trimmed, inner white space collapsed, 1 to `max` characters.
fn plain_text(field: &str, raw: &str, max: usize) -> Result<String, CoreError> {
    let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            field,
            format!("must be 1 to {max} characters without control characters"),
        ));
    }
    Ok(text)
}

/// A BCP 47 language tag in its usual case: `ru`, `en-GB`, `sr-Latn-RS`.
fn language_tag(field: &str, raw: &str) -> Result<String, CoreError> {
    let bad = || CoreError::invalid(field, "must be a language tag such as \"ru\" or \"en-GB\"");
    let raw = raw.trim();
    if raw.len() > 35 {
        return Err(bad());
    }
    let mut parts = Vec::new();
    for (idx, part) in raw.split(['-', '_']).enumerate() {
        let alnum = part.chars().all(|c| c.is_ascii_alphanumeric());
        let ok = if idx == 0 {
            (2..=3).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphabetic())
        } else {
            (1..=8).contains(&part.len()) && alnum
        };
        if !ok {
            return Err(bad());
        }
        parts.push(match (idx, part.len()) {
            (0, _) => part.to_ascii_lowercase(),
            (_, 2) => part.to_ascii_uppercase(),
            (_, 4) => {
                let lower = part.to_ascii_lowercase();
                let (head, tail) = lower.split_at(1);
                format!("{}{tail}", head.to_ascii_uppercase())
            }
            _ => part.to_ascii_lowercase(),
        });
    }
    Ok(parts.join("-"))
}

fn attribute_key(field: &str, key: &str) -> Result<(), CoreError> {
    let ok = !key.is_empty()
        && key.len() <= 64
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            field,
            "an attribute key is 1 to 64 letters, digits, '_' and '-'",
        ))
    }
}

fn limited<T>(field: &str, items: &[T], max: usize) -> Result<(), CoreError> {
    if items.len() > max {
        return Err(CoreError::invalid(
            field,
            format!("at most {max} items in one request"),
        ));
    }
    Ok(())
}

/// The `<source>:<id>` value of an external id.
pub fn external_id_in(field: &str, external: &ExternalIdIn) -> Result<String, CoreError> {
    let source = source_in(&format!("{field}.source"), external.source.trim())?;
    let id = external.id.trim();
    if id.is_empty() || id.chars().count() > 128 || id.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            format!("{field}.id"),
            "must be 1 to 128 characters without control characters",
        ));
    }
    Ok(format!("{source}:{id}"))
}

/// One fixed field's new value (`None`: clear it).
fn fixed_value(
    field: &Field,
    raw: Option<&str>,
    ctx: &PatchContext<'_>,
) -> Result<Option<FieldValue>, CoreError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let name = field.name();
    let invalid = |r: Rejection| rejected(ErrorCode::InvalidField, &name, r);
    let value = match field {
        Field::FirstName | Field::MiddleName | Field::LastName => {
            FieldValue::Text(contact::name(raw).map_err(invalid)?)
        }
        Field::Gender => {
            FieldValue::Gender(GenderValue::from(contact::gender(raw).map_err(invalid)?))
        }
        Field::Birthday => FieldValue::Date(
            contact::birthday(raw, &ctx.rules, ctx.now.date_naive()).map_err(invalid)?,
        ),
        Field::City => FieldValue::Text(plain_text(&name, raw, 100)?),
        Field::Language => FieldValue::Text(language_tag(&name, raw)?),
        Field::HomeStore => {
            let store_id = raw.trim();
            if !(ctx.known_store)(store_id) {
                return Err(CoreError::field(
                    ErrorCode::UnknownStore,
                    name,
                    format!("no store {store_id:?}"),
                ));
            }
            FieldValue::Text(store_id.to_string())
        }
        Field::Attribute(_) => return Err(CoreError::invalid(name, "not a fixed field")),
    };
    Ok(Some(value))
}

/// Validates a PATCH body into the update of `customer_id`, made directly (the newest
/// statement replaces the stored value) at `ctx.now`.
pub fn profile_update_from(
    body: ProfilePatchBody,
    customer_id: &str,
    ctx: &PatchContext<'_>,
) -> Result<ProfileUpdate, CoreError> {
    let by = actor_from(body.actor, body.source, "api")?;
    let mut fields = Vec::new();
    let fixed = [
        (Field::FirstName, &body.first_name),
        (Field::MiddleName, &body.middle_name),
        (Field::LastName, &body.last_name),
        (Field::Gender, &body.gender),
        (Field::Birthday, &body.birthday),
        (Field::City, &body.city),
        (Field::Language, &body.language),
        (Field::HomeStore, &body.home_store),
    ];
    for (field, value) in fixed {
        if let Some(value) = value {
            let value = fixed_value(&field, value.as_deref(), ctx)?;
            fields.push((field, value));
        }
    }
    if let Some(attributes) = &body.attributes {
        if attributes.len() > ATTRIBUTES_MAX {
            return Err(CoreError::invalid(
                "attributes",
                format!("at most {ATTRIBUTES_MAX} attributes in one request"),
            ));
        }
        for (key, value) in attributes {
            let path = format!("attributes.{key}");
            attribute_key(&path, key)?;
            let value = match value {
                serde_json::Value::Null => None,
                value if value.to_string().len() > ATTRIBUTE_VALUE_MAX_BYTES => {
                    return Err(CoreError::invalid(
                        path,
                        format!("at most {ATTRIBUTE_VALUE_MAX_BYTES} bytes of JSON"),
                    ))
                }
                value => Some(FieldValue::Json(value.clone())),
            };
            fields.push((Field::Attribute(key.clone()), value));
        }
    }

    let mut add_identifiers = Vec::new();
    let mut remove_identifiers = Vec::new();
    let phone = |field: &str, raw: &str| {
        contact::phone(raw, &ctx.rules).map_err(|r| rejected(ErrorCode::InvalidPhone, field, r))
    };
    let email = |field: &str, raw: &str| {
        contact::email(raw).map_err(|r| rejected(ErrorCode::InvalidEmail, field, r))
    };
    let lists = [
        ("add_phones", &body.add_phones, IdentifierKind::Phone, true),
        (
            "remove_phones",
            &body.remove_phones,
            IdentifierKind::Phone,
            false,
        ),
        ("add_emails", &body.add_emails, IdentifierKind::Email, true),
        (
            "remove_emails",
            &body.remove_emails,
            IdentifierKind::Email,
            false,
        ),
    ];
    for (name, values, kind, add) in lists {
        limited(name, values, PATCH_LIST_MAX)?;
        for (idx, raw) in values.iter().enumerate() {
            let field = format!("{name}[{idx}]");
            let value = match kind {
                IdentifierKind::Phone => phone(&field, raw)?,
                _ => email(&field, raw)?,
            };
            let list = if add {
                &mut add_identifiers
            } else {
                &mut remove_identifiers
            };
            list.push((kind, value));
        }
    }
    for (name, values, add) in [
        ("add_external_ids", &body.add_external_ids, true),
        ("remove_external_ids", &body.remove_external_ids, false),
    ] {
        limited(name, values, PATCH_LIST_MAX)?;
        for (idx, external) in values.iter().enumerate() {
            let value = external_id_in(&format!("{name}[{idx}]"), external)?;
            let list = if add {
                &mut add_identifiers
            } else {
                &mut remove_identifiers
            };
            list.push((IdentifierKind::External, value));
        }
    }

    limited("consents", &body.consents, PATCH_LIST_MAX)?;
    let mut consents = Vec::with_capacity(body.consents.len());
    for (idx, consent) in body.consents.iter().enumerate() {
        let field = format!("consents[{idx}]");
        let channel = Channel::parse(&consent.channel).ok_or_else(|| {
            CoreError::invalid(
                format!("{field}.channel"),
                "must be email, sms, push, viber or telegram",
            )
        })?;
        let at = match &consent.at {
            None => ctx.now,
            Some(text) => parse_at(text, &format!("{field}.at"))?.with_timezone(&Utc),
        };
        if at > ctx.now {
            return Err(CoreError::field(
                ErrorCode::AtInFuture,
                format!("{field}.at"),
                format!("is after the server clock ({})", ctx.now),
            ));
        }
        let source = match &consent.source {
            Some(source) => source_in(&format!("{field}.source"), source)?,
            None => by.source.clone(),
        };
        consents.push(ConsentEvent {
            channel,
            granted: consent.granted,
            at,
            source,
        });
    }

    Ok(ProfileUpdate {
        customer_id: customer_id.to_string(),
        fields,
        add_identifiers,
        remove_identifiers,
        add_cards: Vec::new(),
        consents,
        direct: true,
        trust: SourceTrust::default(),
        by,
        at: ctx.now,
    })
}
