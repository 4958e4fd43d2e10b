//! The profile document: fields with provenance, direct edits and survivorship,
//! absorbing another profile, search keys, the fields a till should ask for, and the
//! `profile_completed` audience.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use tessera_core::consent::{Channel, Consent, SourceTrust};
use tessera_core::profile::{
    profile_requests, search_keys, validate_required_fields, Field, FieldValue, Mode, ProfileDoc,
    RequestReason, RequiredField,
};
use tessera_core::promotion::Audience;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap()
}

fn text(s: &str) -> Option<FieldValue> {
    Some(FieldValue::Text(s.to_string()))
}

#[test]
fn direct_edits_replace_and_clear_and_report_changes() {
    let mut doc = ProfileDoc::default();
    let change = doc
        .set(&Field::FirstName, text("Anna"), t0(), "pos", Mode::Direct)
        .unwrap()
        .unwrap();
    assert_eq!(change.old, None);
    assert_eq!(change.new, Some(serde_json::json!("Anna")));
    assert_eq!(change.source, "pos");
    // The same value again changes nothing worth a history entry.
    let again = doc
        .set(
            &Field::FirstName,
            text("Anna"),
            t0() + Duration::days(1),
            "web",
            Mode::Direct,
        )
        .unwrap();
    assert_eq!(again, None);
    assert_eq!(
        doc.first_name.as_ref().unwrap().source,
        "web",
        "provenance refreshed"
    );
    let cleared = doc
        .set(&Field::FirstName, None, t0(), "service_desk", Mode::Direct)
        .unwrap()
        .unwrap();
    assert_eq!(cleared.new, None);
    assert!(doc.first_name.is_none());
}

#[test]
fn survivorship_keeps_a_fresh_trusted_value_and_never_clears() {
    let trust = SourceTrust::default();
    let mut doc = ProfileDoc::default();
    doc.set(
        &Field::City,
        text("Moscow"),
        t0(),
        "service_desk",
        Mode::Direct,
    )
    .unwrap();
    let import = Mode::Survivorship(&trust);
    let later = t0() + Duration::days(30);
    assert_eq!(
        doc.set(&Field::City, text("Tver"), later, "import", import)
            .unwrap(),
        None
    );
    assert_eq!(
        doc.set(&Field::City, None, later, "import", import)
            .unwrap(),
        None
    );
    assert_eq!(doc.city.as_ref().unwrap().value, "Moscow");
    // Two years on the trusted value is stale and the import's wins.
    let much_later = t0() + Duration::days(800);
    assert!(doc
        .set(&Field::City, text("Tver"), much_later, "import", import)
        .unwrap()
        .is_some());
    assert_eq!(doc.city.as_ref().unwrap().value, "Tver");
}

#[test]
fn a_value_of_the_wrong_kind_names_the_field() {
    let mut doc = ProfileDoc::default();
    let error = doc
        .set(&Field::Birthday, text("soon"), t0(), "api", Mode::Direct)
        .unwrap_err();
    assert_eq!(error.field.as_deref(), Some("birthday"));
    let error = doc
        .set(
            &Field::City,
            Some(FieldValue::Date(
                NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
            )),
            t0(),
            "api",
            Mode::Direct,
        )
        .unwrap_err();
    assert_eq!(error.field.as_deref(), Some("city"));
}

#[test]
fn field_names_round_trip() {
    for field in Field::FIXED {
        assert_eq!(Field::parse(&field.name()), Some(field.clone()));
    }
    assert_eq!(
        Field::parse("attributes.size"),
        Some(Field::Attribute("size".into()))
    );
    assert_eq!(Field::parse("attributes."), None);
    assert_eq!(Field::parse("phone"), None);
}

#[test]
fn absorbing_joins_fields_by_survivorship_and_a_withdrawal_wins() {
    let trust = SourceTrust::default();
    let mut survivor = ProfileDoc::default();
    survivor
        .set(
            &Field::LastName,
            text("Petrova"),
            t0(),
            "service_desk",
            Mode::Direct,
        )
        .unwrap();
    survivor.consents.insert(
        Channel::Email,
        Consent {
            granted: true,
            at: t0() + Duration::days(5),
            source: "web".into(),
        },
    );
    let mut absorbed = ProfileDoc::default();
    absorbed
        .set(
            &Field::LastName,
            text("Petrov"),
            t0() + Duration::days(1),
            "import",
            Mode::Direct,
        )
        .unwrap();
    absorbed
        .set(&Field::City, text("Kazan"), t0(), "import", Mode::Direct)
        .unwrap();
    absorbed.consents.insert(
        Channel::Email,
        Consent {
            granted: false,
            at: t0(),
            source: "pos".into(),
        },
    );
    let changes = survivor.absorb(&absorbed, &trust);
    assert_eq!(survivor.last_name.as_ref().unwrap().value, "Petrova");
    assert_eq!(survivor.city.as_ref().unwrap().value, "Kazan");
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert!(
        !survivor.consents[&Channel::Email].granted,
        "the withdrawal wins"
    );
}

#[test]
fn search_keys_cover_each_part_and_both_orders_across_scripts() {
    let mut doc = ProfileDoc::default();
    for (field, value) in [
        (Field::FirstName, "Наталья"),
        (Field::MiddleName, "Ивановна"),
        (Field::LastName, "Петрова-Водкина"),
    ] {
        doc.set(&field, text(value), t0(), "api", Mode::Direct)
            .unwrap();
    }
    let keys = search_keys(&doc);
    let latin = tessera_core::matching::fold_name("Natalya");
    assert!(keys.iter().any(|k| k.starts_with(&latin)), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("petrova")), "{keys:?}");
    assert!(keys.iter().any(|k| k.starts_with("vodkina")), "{keys:?}");
    assert!(
        keys.iter()
            .any(|k| k.starts_with("petrova vodkina natalia")),
        "{keys:?}"
    );
    let mut sorted = keys.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(keys, sorted);
}

#[test]
fn the_till_is_asked_for_missing_and_stale_fields() {
    let mut doc = ProfileDoc::default();
    doc.set(
        &Field::Birthday,
        Some(FieldValue::Date(
            NaiveDate::from_ymd_opt(1990, 1, 2).unwrap(),
        )),
        t0(),
        "pos",
        Mode::Direct,
    )
    .unwrap();
    doc.set(
        &Field::City,
        text("Omsk"),
        t0() - Duration::days(400),
        "pos",
        Mode::Direct,
    )
    .unwrap();
    let required = vec![
        RequiredField {
            field: "email".into(),
            max_age_days: Some(365),
        },
        RequiredField {
            field: "birthday".into(),
            max_age_days: None,
        },
        RequiredField {
            field: "city".into(),
            max_age_days: Some(365),
        },
        RequiredField {
            field: "phone".into(),
            max_age_days: Some(365),
        },
    ];
    validate_required_fields(&required).unwrap();
    let phone_at = t0() - Duration::days(10);
    let requests = profile_requests(
        &doc,
        |kind| (kind == "phone").then_some(phone_at),
        &required,
        t0(),
    );
    let got: Vec<(&str, RequestReason)> = requests
        .iter()
        .map(|r| (r.field.as_str(), r.reason))
        .collect();
    assert_eq!(
        got,
        [
            ("email", RequestReason::Missing),
            ("city", RequestReason::Expired)
        ]
    );
}

#[test]
fn required_fields_are_validated() {
    let bad = |field: &str, age: Option<u32>| {
        validate_required_fields(&[RequiredField {
            field: field.into(),
            max_age_days: age,
        }])
        .unwrap_err()
        .field
    };
    assert_eq!(
        bad("shoe_size", None).as_deref(),
        Some("required_fields[0].field")
    );
    assert_eq!(
        bad("email", Some(0)).as_deref(),
        Some("required_fields[0].max_age_days")
    );
    let twice = validate_required_fields(&[
        RequiredField {
            field: "email".into(),
            max_age_days: None,
        },
        RequiredField {
            field: "email".into(),
            max_age_days: Some(5),
        },
    ])
    .unwrap_err();
    assert_eq!(twice.field.as_deref(), Some("required_fields[1].field"));
}

#[test]
fn the_profile_completed_audience_needs_a_complete_profile() {
    let audience = Audience {
        profile_completed: true,
        ..Audience::default()
    };
    let mut member = crate::fixtures::customer(0, 0);
    assert!(!audience.includes(Some(&member)));
    member.profile_complete = true;
    assert!(audience.includes(Some(&member)));
    assert!(!audience.includes(None));
}
