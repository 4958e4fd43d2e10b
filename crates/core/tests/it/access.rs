//! API keys and scopes: what a key request must hold, the key text shown once and
//! parsed back, statuses over time, and which scope sets may use what.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use tessera_core::access::{parse_key, secret_hash, KeyStatus, NewApiKey, Scope, Scopes};
use tessera_core::ErrorCode;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).unwrap()
}

fn till_key() -> NewApiKey {
    NewApiKey {
        name: " Till 4, store msk-1 ".into(),
        scopes: vec![Scope::Pos],
        store_id: Some("msk-1".into()),
        expires_at: Some(t0() + Duration::days(30)),
    }
}

fn refusal(request: NewApiKey) -> (ErrorCode, String) {
    let error = request.validate(t0()).unwrap_err();
    (error.code, error.field.unwrap_or_default())
}

#[test]
fn a_valid_request_is_issued_once_and_its_text_parses_back() {
    let request = till_key();
    request.validate(t0()).unwrap();
    let (key, text) = request.issue("key_01JF00000000000000000000AB".into(), [7; 20], t0());
    assert_eq!(key.name, "Till 4, store msk-1");
    assert!(
        text.starts_with("tsk_01JF00000000000000000000AB_"),
        "{text}"
    );
    let (key_id, secret) = parse_key(&text).unwrap();
    assert_eq!(key_id, key.key_id);
    assert_eq!(secret.len(), 32);
    assert!(key.secret_matches(secret));
    assert_eq!(key.secret_hash, secret_hash(secret));
    assert!(
        !text.contains(&key.secret_hash),
        "the text never holds the hash"
    );
    assert!(!key.secret_matches("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

#[test]
fn requests_are_refused_with_the_field_at_fault() {
    let cases: Vec<(NewApiKey, ErrorCode, &str)> = vec![
        (
            NewApiKey {
                name: "  ".into(),
                ..till_key()
            },
            ErrorCode::InvalidField,
            "name",
        ),
        (
            NewApiKey {
                name: "x".repeat(101),
                ..till_key()
            },
            ErrorCode::InvalidField,
            "name",
        ),
        (
            NewApiKey {
                scopes: vec![],
                ..till_key()
            },
            ErrorCode::InvalidField,
            "scopes",
        ),
        (
            NewApiKey {
                scopes: vec![Scope::Service, Scope::SelfService],
                store_id: None,
                ..till_key()
            },
            ErrorCode::InvalidField,
            "scopes",
        ),
        (
            NewApiKey {
                store_id: None,
                ..till_key()
            },
            ErrorCode::MissingField,
            "store_id",
        ),
        (
            NewApiKey {
                scopes: vec![Scope::Marketing],
                ..till_key()
            },
            ErrorCode::InvalidField,
            "store_id",
        ),
        (
            NewApiKey {
                store_id: Some("a/b".into()),
                ..till_key()
            },
            ErrorCode::InvalidField,
            "store_id",
        ),
        (
            NewApiKey {
                expires_at: Some(t0()),
                ..till_key()
            },
            ErrorCode::InvalidField,
            "expires_at",
        ),
    ];
    for (request, code, field) in cases {
        assert_eq!(
            refusal(request.clone()),
            (code, field.to_string()),
            "{request:?}"
        );
    }
}

#[test]
fn scopes_are_sorted_without_repeats() {
    let request = NewApiKey {
        scopes: vec![Scope::Service, Scope::Marketing, Scope::Service],
        store_id: None,
        ..till_key()
    };
    let (key, _) = request.issue("key_X".into(), [1; 20], t0());
    assert_eq!(key.scopes, vec![Scope::Marketing, Scope::Service]);
}

#[test]
fn status_follows_expiry_and_revocation() {
    let (mut key, _) = till_key().issue("key_X".into(), [1; 20], t0());
    let expiry = t0() + Duration::days(30);
    assert_eq!(
        key.status_at(expiry - Duration::seconds(1)),
        KeyStatus::Active
    );
    assert_eq!(key.status_at(expiry), KeyStatus::Expired);
    key.revoked_at = Some(t0() + Duration::days(1));
    assert_eq!(key.status_at(t0()), KeyStatus::Active);
    assert_eq!(key.status_at(t0() + Duration::days(1)), KeyStatus::Revoked);
    assert_eq!(key.status_at(expiry), KeyStatus::Revoked);
}

#[test]
fn malformed_key_texts_do_not_parse() {
    for text in [
        "",
        "tsk_",
        "tsk_abc",
        "tsk__secret",
        "tsk_abc_",
        "Bearer tsk_abc_def",
        "tsk_abc_de-f",
        "xsk_abc_def",
    ] {
        assert_eq!(parse_key(text), None, "{text}");
    }
}

#[test]
fn admin_may_use_everything_but_a_customers_own_routes() {
    let admin = Scopes::of(&[Scope::Admin]);
    let customer_only = Scopes::of(&[Scope::SelfService]);
    assert!(!admin.may(customer_only));
    assert!(admin.may(Scopes::of(&[Scope::Pos])));
    assert!(admin.may(Scopes::of(&[Scope::Admin])));
    assert!(Scopes::of(&[Scope::SelfService]).may(customer_only));
}

fn scope_list() -> impl Strategy<Value = Vec<Scope>> {
    proptest::collection::vec(proptest::sample::select(Scope::ALL.to_vec()), 0..7)
}

proptest! {
    #[test]
    fn may_is_holding_one_of_the_allowed_or_admin(held in scope_list(), allowed in scope_list()) {
        let may = Scopes::of(&held).may(Scopes::of(&allowed));
        let shares = held.iter().any(|s| allowed.contains(s));
        let admin_reaches = held.contains(&Scope::Admin)
            && allowed.iter().any(|s| *s != Scope::SelfService);
        prop_assert_eq!(may, shares || admin_reaches);
        prop_assert_eq!(Scopes::of(&held).list().len(), {
            let mut unique = held.clone();
            unique.sort();
            unique.dedup();
            unique.len()
        });
    }

    #[test]
    fn scope_names_parse_back(index in 0usize..7) {
        let scope = Scope::ALL[index];
        prop_assert_eq!(Scope::parse(scope.as_str()), Some(scope));
    }
}
