//! A customer's profile: name parts, gender, birthday, city, language, home store and
//! custom attributes, each with when and from which source it was last set, and the
//! consents per channel.
//!
//! The profile is a document ([`ProfileDoc`]); the identifiers that must name one
//! customer at a time (cards, phones, external ids) and the emails are kept beside it
//! by the store, where uniqueness can be enforced.
//!
//! Two ways a value gets in:
//! - **Direct** ([`Mode::Direct`]): staff editing a profile, or the customer answering
//!   the cashier. The statement is the newest there is, so it always replaces the value.
//! - **Survivorship** ([`Mode::Survivorship`]): an import or a merge brings values of
//!   other ages from other sources; [`crate::consent::update_field`] decides which one
//!   is kept ("most recently set from the most trusted source").

use crate::consent::{merge_consents, update_field, Channel, Consent, SourceTrust, Sourced};
use crate::contact::Gender;
use crate::error::CoreError;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A custom attribute's value: any JSON value, ordered by its JSON text so that
/// survivorship can break ties deterministically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AttributeValue(pub serde_json::Value);

impl Ord for AttributeValue {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.to_string().cmp(&other.0.to_string())
    }
}

impl PartialOrd for AttributeValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Where and when a customer registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub source: String,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
}

/// The profile document of one customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Sourced<String>>,
    /// The patronymic, where there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<Sourced<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Sourced<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<Sourced<GenderValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birthday: Option<Sourced<NaiveDate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<Sourced<String>>,
    /// A language tag such as `ru` or `en-GB`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<Sourced<String>>,
    /// The store the customer belongs to; its time zone is the customer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home_store: Option<Sourced<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Sourced<AttributeValue>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub consents: BTreeMap<Channel, Consent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration: Option<Registration>,
    /// The legacy single-string name given at registration, shown when no name part
    /// is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Sourced<String>>,
}

/// [`Gender`] with an order, for survivorship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenderValue {
    Female,
    Male,
}

impl From<Gender> for GenderValue {
    fn from(g: Gender) -> Self {
        match g {
            Gender::Female => GenderValue::Female,
            Gender::Male => GenderValue::Male,
        }
    }
}

impl GenderValue {
    pub fn as_str(self) -> &'static str {
        match self {
            GenderValue::Female => "female",
            GenderValue::Male => "male",
        }
    }
}

/// A field of the profile document, as named on the wire and in the history.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    FirstName,
    MiddleName,
    LastName,
    Gender,
    Birthday,
    City,
    Language,
    HomeStore,
    /// A custom attribute by key.
    Attribute(String),
}

impl Field {
    /// The fixed fields, in wire order.
    pub const FIXED: [Field; 8] = [
        Field::FirstName,
        Field::MiddleName,
        Field::LastName,
        Field::Gender,
        Field::Birthday,
        Field::City,
        Field::Language,
        Field::HomeStore,
    ];

    /// The wire name: `first_name`, …, `attributes.<key>`.
    pub fn name(&self) -> String {
        match self {
            Field::FirstName => "first_name".into(),
            Field::MiddleName => "middle_name".into(),
            Field::LastName => "last_name".into(),
            Field::Gender => "gender".into(),
            Field::Birthday => "birthday".into(),
            Field::City => "city".into(),
            Field::Language => "language".into(),
            Field::HomeStore => "home_store".into(),
            Field::Attribute(key) => format!("attributes.{key}"),
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Field> {
        if let Some(key) = name.strip_prefix("attributes.") {
            return (!key.is_empty()).then(|| Field::Attribute(key.to_string()));
        }
        Field::FIXED.into_iter().find(|f| f.name() == name)
    }
}

/// A value for a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    Gender(GenderValue),
    Date(NaiveDate),
    Json(serde_json::Value),
}

impl FieldValue {
    /// The value as JSON, for the history and the wire.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            FieldValue::Text(t) => serde_json::Value::String(t.clone()),
            FieldValue::Gender(g) => serde_json::Value::String(g.as_str().into()),
            FieldValue::Date(d) => serde_json::Value::String(d.format("%Y-%m-%d").to_string()),
            FieldValue::Json(v) => v.clone(),
        }
    }
}

/// How an incoming value is judged against the stored one.
#[derive(Debug, Clone, Copy)]
pub enum Mode<'a> {
    /// Always replaces (an edit by staff, an answer at the till).
    Direct,
    /// Replaces only when it survives by the source order.
    Survivorship(&'a SourceTrust),
}

/// One change a write made to a field, for the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Option<serde_json::Value>,
    pub new: Option<serde_json::Value>,
    pub source: String,
    pub at: DateTime<Utc>,
}

fn set_slot<T: Ord + Clone>(
    slot: &mut Option<Sourced<T>>,
    value: Option<T>,
    at: DateTime<Utc>,
    source: &str,
    mode: Mode<'_>,
) -> bool {
    match value {
        None => match mode {
            // Clearing is an explicit statement; an import never clears.
            Mode::Direct => slot.take().is_some(),
            Mode::Survivorship(_) => false,
        },
        Some(value) => {
            let incoming = Sourced {
                value,
                at,
                source: source.to_string(),
            };
            if slot.as_ref() == Some(&incoming) {
                return false;
            }
            let replace = match mode {
                Mode::Direct => Some(incoming),
                Mode::Survivorship(trust) => update_field(slot.as_ref(), incoming, trust),
            };
            match replace {
                Some(new) => {
                    let changed = slot.as_ref().is_none_or(|old| old.value != new.value);
                    *slot = Some(new);
                    changed
                }
                None => false,
            }
        }
    }
}

impl ProfileDoc {
    /// The field's current value.
    pub fn get(&self, field: &Field) -> Option<FieldValue> {
        self.sourced(field).map(|(value, _, _)| value)
    }

    /// The field's value with when and from where it was set.
    pub fn sourced(&self, field: &Field) -> Option<(FieldValue, DateTime<Utc>, String)> {
        fn text(s: &Option<Sourced<String>>) -> Option<(FieldValue, DateTime<Utc>, String)> {
            s.as_ref()
                .map(|s| (FieldValue::Text(s.value.clone()), s.at, s.source.clone()))
        }
        match field {
            Field::FirstName => text(&self.first_name),
            Field::MiddleName => text(&self.middle_name),
            Field::LastName => text(&self.last_name),
            Field::City => text(&self.city),
            Field::Language => text(&self.language),
            Field::HomeStore => text(&self.home_store),
            Field::Gender => self
                .gender
                .as_ref()
                .map(|s| (FieldValue::Gender(s.value), s.at, s.source.clone())),
            Field::Birthday => self
                .birthday
                .as_ref()
                .map(|s| (FieldValue::Date(s.value), s.at, s.source.clone())),
            Field::Attribute(key) => self
                .attributes
                .get(key)
                .map(|s| (FieldValue::Json(s.value.0.clone()), s.at, s.source.clone())),
        }
    }

    /// Sets (or with `None`, clears) a field; returns the change when the value
    /// changed. A value of the wrong kind for the field is refused, naming the field.
    pub fn set(
        &mut self,
        field: &Field,
        value: Option<FieldValue>,
        at: DateTime<Utc>,
        source: &str,
        mode: Mode<'_>,
    ) -> Result<Option<FieldChange>, CoreError> {
        let old = self.get(field).map(|v| v.to_json());
        let wrong = || CoreError::invalid(field.name(), "value of the wrong type for the field");
        let changed = match (field, value) {
            (
                Field::FirstName
                | Field::MiddleName
                | Field::LastName
                | Field::City
                | Field::Language
                | Field::HomeStore,
                value,
            ) => {
                let value = match value {
                    None => None,
                    Some(FieldValue::Text(t)) => Some(t),
                    Some(_) => return Err(wrong()),
                };
                let slot = match field {
                    Field::FirstName => &mut self.first_name,
                    Field::MiddleName => &mut self.middle_name,
                    Field::LastName => &mut self.last_name,
                    Field::City => &mut self.city,
                    Field::Language => &mut self.language,
                    _ => &mut self.home_store,
                };
                set_slot(slot, value, at, source, mode)
            }
            (Field::Gender, value) => {
                let value = match value {
                    None => None,
                    Some(FieldValue::Gender(g)) => Some(g),
                    Some(_) => return Err(wrong()),
                };
                set_slot(&mut self.gender, value, at, source, mode)
            }
            (Field::Birthday, value) => {
                let value = match value {
                    None => None,
                    Some(FieldValue::Date(d)) => Some(d),
                    Some(_) => return Err(wrong()),
                };
                set_slot(&mut self.birthday, value, at, source, mode)
            }
            (Field::Attribute(key), value) => {
                let value = match value {
                    None => None,
                    Some(FieldValue::Json(v)) => Some(AttributeValue(v)),
                    Some(FieldValue::Text(t)) => Some(AttributeValue(serde_json::Value::String(t))),
                    Some(_) => return Err(wrong()),
                };
                let mut slot = self.attributes.remove(key);
                let changed = set_slot(&mut slot, value, at, source, mode);
                if let Some(slot) = slot {
                    self.attributes.insert(key.clone(), slot);
                }
                changed
            }
        };
        Ok(changed.then(|| FieldChange {
            field: field.name(),
            old,
            new: self.get(field).map(|v| v.to_json()),
            source: source.to_string(),
            at,
        }))
    }

    /// The name to show: the name parts joined, or the legacy name.
    pub fn display_name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.first_name, &self.middle_name, &self.last_name]
            .into_iter()
            .filter_map(|p| p.as_ref().map(|s| s.value.as_str()))
            .collect();
        if parts.is_empty() {
            self.name.as_ref().map(|n| n.value.clone())
        } else {
            Some(parts.join(" "))
        }
    }

    /// When the field was last set, if it is set.
    pub fn set_at(&self, field: &Field) -> Option<DateTime<Utc>> {
        self.sourced(field).map(|(_, at, _)| at)
    }

    /// Joins the absorbed customer's document into the survivor's (`self`): every field
    /// by survivorship, consents by [`merge_consents`] (a withdrawal wins), the earlier
    /// registration. Returns the changes made to the survivor.
    pub fn absorb(&mut self, other: &ProfileDoc, trust: &SourceTrust) -> Vec<FieldChange> {
        let mut changes = Vec::new();
        let mut fields: Vec<Field> = Field::FIXED.to_vec();
        fields.extend(other.attributes.keys().cloned().map(Field::Attribute));
        for field in fields {
            if let Some((value, at, source)) = other.sourced(&field) {
                // A value of the right kind always fits its own field.
                if let Ok(Some(change)) =
                    self.set(&field, Some(value), at, &source, Mode::Survivorship(trust))
                {
                    changes.push(change);
                }
            }
        }
        if self.name.is_none() {
            self.name = other.name.clone();
        }
        self.consents = merge_consents(&self.consents, &other.consents, trust);
        self.registration = match (self.registration.take(), other.registration.clone()) {
            (Some(a), Some(b)) => Some(if b.at < a.at { b } else { a }),
            (a, b) => a.or(b),
        };
        changes
    }
}

/// The keys a name search finds the profile by: each name part folded
/// ([`crate::matching::fold_name`], so Cyrillic and Latin spellings meet), and the
/// parts joined as "first last", "last first" and "last first middle". A query,
/// folded the same way, finds the profiles with a key it is a prefix of. Sorted, no
/// duplicates.
pub fn search_keys(doc: &ProfileDoc) -> Vec<String> {
    let fold = |s: &Option<Sourced<String>>| {
        s.as_ref()
            .map(|s| crate::matching::fold_name(&s.value))
            .filter(|f| !f.is_empty())
    };
    let (first, middle, last) = (
        fold(&doc.first_name),
        fold(&doc.middle_name),
        fold(&doc.last_name),
    );
    let mut keys: Vec<String> = Vec::new();
    for part in [&first, &middle, &last].into_iter().flatten() {
        keys.extend(part.split(' ').map(String::from));
    }
    if let Some(name) = fold(&doc.name) {
        keys.extend(name.split(' ').map(String::from));
        keys.push(name);
    }
    if let (Some(f), Some(l)) = (&first, &last) {
        keys.push(format!("{f} {l}"));
        keys.push(format!("{l} {f}"));
        if let Some(m) = &middle {
            keys.push(format!("{l} {f} {m}"));
            keys.push(format!("{f} {m} {l}"));
        }
    }
    keys.retain(|k| !k.is_empty());
    keys.sort();
    keys.dedup();
    keys
}

/// A profile field the program wants filled in, and how fresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredField {
    /// A field of the document (`first_name`, …, `attributes.<key>`), `phone` or
    /// `email`.
    pub field: String,
    /// Asked again when last set longer ago than this; absent: never stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_days: Option<u32>,
}

/// Why the till should ask for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestReason {
    Missing,
    Expired,
}

impl RequestReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestReason::Missing => "missing",
            RequestReason::Expired => "expired",
        }
    }
}

/// A field the till should ask the customer for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRequest {
    pub field: String,
    pub reason: RequestReason,
}

/// Checks the program's required fields: known names, no repeats, ages at most 100
/// years.
pub fn validate_required_fields(fields: &[RequiredField]) -> Result<(), CoreError> {
    for (i, required) in fields.iter().enumerate() {
        let path = format!("required_fields[{i}].field");
        let known = matches!(required.field.as_str(), "phone" | "email")
            || Field::parse(&required.field).is_some();
        if !known {
            return Err(CoreError::invalid(
                path,
                "must be a profile field (first_name, middle_name, last_name, gender, birthday, city, language, home_store, attributes.<key>), phone or email",
            ));
        }
        if fields[..i].iter().any(|f| f.field == required.field) {
            return Err(CoreError::invalid(path, "is listed twice"));
        }
        if required.max_age_days.is_some_and(|d| d == 0 || d > 36_500) {
            return Err(CoreError::invalid(
                format!("required_fields[{i}].max_age_days"),
                "must be between 1 and 36500",
            ));
        }
    }
    Ok(())
}

/// What the till should ask for: each required field that is missing, or was last
/// set more than its `max_age_days` before `now`. `contact_set_at` gives when the
/// newest phone (`"phone"`) or email (`"email"`) was added, if the customer has one.
pub fn profile_requests(
    doc: &ProfileDoc,
    contact_set_at: impl Fn(&str) -> Option<DateTime<Utc>>,
    required: &[RequiredField],
    now: DateTime<Utc>,
) -> Vec<ProfileRequest> {
    let mut requests = Vec::new();
    for r in required {
        let set_at = match r.field.as_str() {
            "phone" | "email" => contact_set_at(&r.field),
            name => Field::parse(name).and_then(|f| doc.set_at(&f)),
        };
        let reason = match (set_at, r.max_age_days) {
            (None, _) => Some(RequestReason::Missing),
            (Some(at), Some(days)) if now - at > chrono::TimeDelta::days(i64::from(days)) => {
                Some(RequestReason::Expired)
            }
            _ => None,
        };
        if let Some(reason) = reason {
            requests.push(ProfileRequest {
                field: r.field.clone(),
                reason,
            });
        }
    }
    requests
}
