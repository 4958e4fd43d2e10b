//! Customer profiles: edits with history, refused values, and search.

use crate::helpers::{assert_error, setup_chain, spawn_app, t0, utc, TestApp};
use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

/// A PATCH of a customer; answers status and body.
pub async fn patch(app: &TestApp, customer_id: &str, body: &Value) -> (u16, Value) {
    let (status, bytes) = app
        .send(
            Method::PATCH,
            &format!("/v1/customers/{customer_id}"),
            Some(serde_json::to_vec(body).unwrap()),
            Some(&format!("Bearer {}", crate::helpers::TOKEN)),
        )
        .await;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

/// Percent-encodes a query parameter's value.
fn encoded(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn search(app: &TestApp, q: &str) -> Vec<String> {
    let (status, out) = app.get(&format!("/v1/customers?q={}", encoded(q))).await;
    assert_eq!(status, 200, "search {q:?}: {out}");
    out["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customer_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_then_get_with_history_shows_who_when_and_from_where() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let id = app
        .create_customer(json!({"name":"Anna","phone":"+7 916 123-45-67","cards":["70010001"]}))
        .await;
    app.clock.advance(Duration::hours(1));
    let t1 = utc(t0() + Duration::hours(1));

    let (status, out) = patch(
        &app,
        &id,
        &json!({
            "first_name": "  анна ",
            "last_name": "иванова - петрова",
            "gender": "ж",
            "birthday": "07.03.1985",
            "city": " Moscow ",
            "language": "en-gb",
            "home_store": "msk-1",
            "attributes": {"pet": "cat", "kids": 2},
            "add_phones": ["8 (903) 555-12-34"],
            "add_emails": ["Anna@Example.COM"],
            "add_external_ids": [{"source": "shop", "id": "A-17"}],
            "consents": [{"channel": "sms", "granted": true}],
            "source": "service_desk",
            "actor": "olga"
        }),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["name"], "Анна Иванова-Петрова");
    assert_eq!(out["first_name"], "Анна");
    assert_eq!(out["last_name"], "Иванова-Петрова");
    assert_eq!(out["middle_name"], Value::Null);
    assert_eq!(out["gender"], "female");
    assert_eq!(out["birthday"], "1985-03-07");
    assert_eq!(out["city"], "Moscow");
    assert_eq!(out["language"], "en-GB");
    assert_eq!(out["home_store"], "msk-1");
    assert_eq!(out["attributes"], json!({"kids": 2, "pet": "cat"}));
    assert_eq!(out["phones"], json!(["+79161234567", "+79035551234"]));
    assert_eq!(out["phone"], "+79161234567");
    assert_eq!(out["emails"], json!(["anna@example.com"]));
    assert_eq!(out["email"], "anna@example.com");
    assert_eq!(
        out["external_ids"],
        json!([{"source": "shop", "id": "A-17"}])
    );
    assert_eq!(
        out["consents"],
        json!({"sms": {"granted": true, "at": t1, "source": "service_desk"}})
    );
    assert_eq!(out["updated_at"], t1);
    assert_eq!(out["created_at"], utc(t0()));
    assert!(out.get("history").is_none() && out.get("field_sources").is_none());

    let (status, plain) = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(plain, out, "GET answers what PATCH answered");

    let (status, full) = app.get(&format!("/v1/customers/{id}?history=true")).await;
    assert_eq!(status, 200, "{full}");
    let sources = &full["field_sources"];
    for field in [
        "first_name",
        "last_name",
        "birthday",
        "home_store",
        "attributes.pet",
    ] {
        assert_eq!(
            sources[field],
            json!({"at": t1, "source": "service_desk"}),
            "{field}: {sources}"
        );
    }
    assert_eq!(sources["name"], json!({"at": utc(t0()), "source": "api"}));
    assert!(sources.get("city").is_some() && sources.get("middle_name").is_none());
    let history = full["history"].as_array().unwrap();
    let first_name = history
        .iter()
        .find(|e| e["kind"] == "field" && e["detail"]["field"] == "first_name")
        .unwrap_or_else(|| panic!("no first_name change in {history:?}"));
    assert_eq!(first_name["at"], t1);
    assert_eq!(first_name["source"], "service_desk");
    assert_eq!(first_name["actor"], "olga");
    assert_eq!(first_name["detail"]["new"], "Анна");
    assert_eq!(first_name["detail"]["old"], Value::Null);
    for kind in ["identifier_added", "consent"] {
        let event = history.iter().find(|e| e["kind"] == kind).unwrap();
        assert_eq!(
            (&event["actor"], &event["source"]),
            (&json!("olga"), &json!("service_desk"))
        );
    }
    let ids: Vec<i64> = history
        .iter()
        .map(|e| e["event_id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");

    // `null` clears; the source defaults to `api`; a phone is removed in any format.
    app.clock.advance(Duration::hours(1));
    let t2 = utc(t0() + Duration::hours(2));
    let (status, out) = patch(
        &app,
        &id,
        &json!({"city": null, "attributes": {"pet": null}, "remove_phones": ["+7 903 555 12 34"]}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["city"], Value::Null);
    assert_eq!(out["attributes"], json!({"kids": 2}));
    assert_eq!(out["phones"], json!(["+79161234567"]));
    assert_eq!(out["first_name"], "Анна", "untouched fields stay");
    let (_, full) = app.get(&format!("/v1/customers/{id}?history=true")).await;
    let history = full["history"].as_array().unwrap();
    let city = history
        .iter()
        .rev()
        .find(|e| e["kind"] == "field" && e["detail"]["field"] == "city")
        .unwrap();
    assert_eq!(city["at"], t2);
    assert_eq!(city["source"], "api");
    assert_eq!(city["actor"], Value::Null);
    assert_eq!(city["detail"]["old"], "Moscow");
    assert_eq!(city["detail"]["new"], Value::Null);
    assert!(history
        .iter()
        .any(|e| e["kind"] == "identifier_removed" && e["detail"]["value"] == "+79035551234"));
    assert!(full["field_sources"].get("city").is_none());

    // An empty PATCH changes nothing.
    let (status, same) = patch(&app, &id, &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(same["updated_at"], t2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_patch_values_are_refused_naming_the_field() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let id = app
        .create_customer(json!({"name":"Anna","phone":"+79161234567"}))
        .await;
    app.create_customer(json!({"phone":"+79035550000"})).await;
    let (_, before) = app.get(&format!("/v1/customers/{id}")).await;

    let cases = [
        (
            json!({"add_phones": ["+7 916 000-00-01", "12"]}),
            422,
            "invalid_phone",
            Some("add_phones[1]"),
        ),
        (
            json!({"remove_phones": ["abc"]}),
            422,
            "invalid_phone",
            Some("remove_phones[0]"),
        ),
        (
            json!({"add_emails": ["no-at.example.com"]}),
            422,
            "invalid_email",
            Some("add_emails[0]"),
        ),
        (
            json!({"birthday": "31.02.1990"}),
            422,
            "invalid_field",
            Some("birthday"),
        ),
        (
            json!({"birthday": "2030-01-01"}),
            422,
            "invalid_field",
            Some("birthday"),
        ),
        (json!({"gender": "x"}), 422, "invalid_field", Some("gender")),
        (
            json!({"first_name": "R2D2"}),
            422,
            "invalid_field",
            Some("first_name"),
        ),
        (
            json!({"first_name": 5}),
            422,
            "invalid_field",
            Some("first_name"),
        ),
        (
            json!({"language": "english language"}),
            422,
            "invalid_field",
            Some("language"),
        ),
        (
            json!({"home_store": "nowhere"}),
            422,
            "unknown_store",
            Some("home_store"),
        ),
        (
            json!({"attributes": {"bad key": 1}}),
            422,
            "invalid_field",
            Some("attributes.bad key"),
        ),
        (
            json!({"consents": [{"channel": "fax", "granted": true}]}),
            422,
            "invalid_field",
            Some("consents[0].channel"),
        ),
        (
            json!({"consents": [{"channel": "sms", "granted": true}, {"channel": "email", "granted": true, "at": "2026-03-11T00:00:00Z"}]}),
            422,
            "at_in_future",
            Some("consents[1].at"),
        ),
        (
            json!({"consents": [{"channel": "sms", "granted": true, "why": "x"}]}),
            422,
            "unknown_field",
            Some("consents[0].why"),
        ),
        (
            json!({"add_external_ids": [{"source": "shop", "id": " "}]}),
            422,
            "invalid_field",
            Some("add_external_ids[0].id"),
        ),
        (
            json!({"add_external_ids": [{"source": "Shop!", "id": "1"}]}),
            422,
            "invalid_field",
            Some("add_external_ids[0].source"),
        ),
        (
            json!({"source": "Service Desk"}),
            422,
            "invalid_field",
            Some("source"),
        ),
        (json!({"actor": "   "}), 422, "invalid_field", Some("actor")),
        (
            json!({"nickname": "Ann"}),
            422,
            "unknown_field",
            Some("nickname"),
        ),
        (
            json!({"add_phones": ["8 903 555-00-00"]}),
            409,
            "phone_taken",
            Some("phone"),
        ),
    ];
    for (body, status, code, field) in cases {
        let response = patch(&app, &id, &body).await;
        let got = assert_error(&response, status, code);
        assert_eq!(got.as_deref(), field, "{body}: {}", response.1);
    }
    assert_error(
        &patch(&app, "cus_NOPE", &json!({"city": "Moscow"})).await,
        404,
        "customer_not_found",
    );
    let (_, after) = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(after, before, "a refused PATCH changes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_by_card_phone_email_and_name_in_either_script() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let anna = app
        .create_customer(
            json!({"phone":"+79161234567","email":"anna@example.com","cards":["70010001"]}),
        )
        .await;
    let (status, out) = patch(
        &app,
        &anna,
        &json!({"first_name": "Anna", "last_name": "Ivanova"}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let boris = app
        .create_customer(json!({"phone":"+79035550000","cards":["70010002"]}))
        .await;
    let (status, out) = patch(
        &app,
        &boris,
        &json!({"first_name": "Борис", "last_name": "Петров"}),
    )
    .await;
    assert_eq!(status, 200, "{out}");

    assert_eq!(search(&app, "70010001").await, vec![anna.clone()]);
    assert_eq!(search(&app, "7001 0002").await, vec![boris.clone()]);
    assert_eq!(search(&app, "8 (916) 123-45-67").await, vec![anna.clone()]);
    assert_eq!(search(&app, "+7 903 555 00 00").await, vec![boris.clone()]);
    assert_eq!(search(&app, " ANNA@Example.COM ").await, vec![anna.clone()]);
    assert_eq!(
        search(&app, "Иван").await,
        vec![anna.clone()],
        "Cyrillic finds Latin"
    );
    assert_eq!(search(&app, "анна иванова").await, vec![anna.clone()]);
    assert_eq!(
        search(&app, "petr").await,
        vec![boris.clone()],
        "Latin finds Cyrillic"
    );
    assert!(search(&app, "zzz").await.is_empty());
    assert!(search(&app, "nobody@example.com").await.is_empty());

    let (status, out) = app
        .get(&format!("/v1/customers?q={}&limit=5", encoded("Ivanova")))
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out,
        json!({"customers": [{
            "customer_id": anna,
            "status": "active",
            "name": "Anna Ivanova",
            "phone": "+79161234567",
            "email": "anna@example.com",
            "cards": [{"number": "70010001", "type": "plastic", "status": "active"}],
            "balance": {"available": 0, "pending": 0}
        }]})
    );
    for path in [
        "/v1/customers?q=",
        "/v1/customers?q=%20%20",
        "/v1/customers",
    ] {
        let field = assert_error(&app.get(path).await, 422, "invalid_field");
        assert_eq!(field.as_deref(), Some("q"), "{path}");
    }
    let field = assert_error(
        &app.get("/v1/customers?q=anna&limit=x").await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("limit"));
    let field = assert_error(
        &app.get("/v1/customers?query=anna").await,
        422,
        "unknown_field",
    );
    assert_eq!(field.as_deref(), Some("query"));
}
