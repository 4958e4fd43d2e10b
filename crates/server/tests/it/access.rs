//! Scoped API keys: every route refuses the scopes it is not open to, till keys are
//! bound to their store, keys expire and are revoked, changes are audited, and rate
//! limits answer 429 with Retry-After.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use tessera_core::rate::Rate;

/// Who may call each route: written out here, apart from the server's table, so that a
/// change to either shows up as a failure. `admin` reaches every route.
const EXPECTED: &[(&str, &str, &str)] = &[
    ("GET", "/v1/program", "admin marketing analytics"),
    ("PUT", "/v1/program", "admin"),
    ("GET", "/v1/stores", "admin marketing analytics"),
    ("GET", "/v1/stores/{store_id}", "admin marketing analytics"),
    ("PUT", "/v1/stores/{store_id}", "admin"),
    ("GET", "/v1/products", "admin marketing analytics"),
    ("GET", "/v1/products/{sku}", "admin marketing analytics"),
    ("PUT", "/v1/products/{sku}", "admin marketing"),
    ("GET", "/v1/promotions", "admin marketing analytics"),
    ("POST", "/v1/promotions/preview", "admin marketing"),
    (
        "GET",
        "/v1/promotions/{promotion_id}",
        "admin marketing analytics",
    ),
    ("PUT", "/v1/promotions/{promotion_id}", "admin marketing"),
    ("DELETE", "/v1/promotions/{promotion_id}", "admin marketing"),
    ("POST", "/v1/coupon-series", "admin marketing"),
    (
        "GET",
        "/v1/coupon-series/{series_id}",
        "admin marketing analytics",
    ),
    (
        "POST",
        "/v1/coupon-series/{series_id}/generate",
        "admin marketing",
    ),
    (
        "GET",
        "/v1/segments/{segment_id}",
        "admin marketing analytics",
    ),
    ("PUT", "/v1/segments/{segment_id}", "admin marketing"),
    (
        "POST",
        "/v1/segments/{segment_id}/members",
        "admin marketing",
    ),
    ("POST", "/v1/customers", "admin service pos"),
    ("GET", "/v1/customers", "admin service"),
    ("POST", "/v1/import/customers", "admin"),
    ("GET", "/v1/customers/{customer_id}", "admin service"),
    ("PATCH", "/v1/customers/{customer_id}", "admin service"),
    (
        "GET",
        "/v1/customers/{customer_id}/receipts",
        "admin service",
    ),
    (
        "GET",
        "/v1/customers/{customer_id}/timeline",
        "admin service",
    ),
    ("POST", "/v1/customers/{customer_id}/merge", "admin service"),
    (
        "POST",
        "/v1/customers/{customer_id}/unmerge",
        "admin service",
    ),
    ("GET", "/v1/merge-candidates", "admin service"),
    (
        "POST",
        "/v1/merge-candidates/{candidate_id}/accept",
        "admin service",
    ),
    (
        "POST",
        "/v1/merge-candidates/{candidate_id}/reject",
        "admin service",
    ),
    (
        "POST",
        "/v1/customers/{customer_id}/adjustments",
        "admin service",
    ),
    ("POST", "/v1/customers/{customer_id}/cards", "admin service"),
    (
        "POST",
        "/v1/customers/{customer_id}/cards/{number}/block",
        "admin service",
    ),
    (
        "POST",
        "/v1/customers/{customer_id}/cards/{number}/unblock",
        "admin service",
    ),
    (
        "POST",
        "/v1/customers/{customer_id}/cards/{number}/replace",
        "admin service",
    ),
    ("POST", "/v1/customers/{customer_id}/erase", "admin service"),
    ("GET", "/v1/customers/{customer_id}/export", "admin service"),
    (
        "GET",
        "/v1/customers/{customer_id}/balance",
        "admin service",
    ),
    ("GET", "/v1/customers/{customer_id}/ledger", "admin service"),
    ("POST", "/v1/receipts/calculate", "admin pos"),
    ("POST", "/v1/receipts/commit", "admin pos"),
    ("POST", "/v1/receipts/offline", "admin pos"),
    (
        "GET",
        "/v1/receipts/{receipt_id}",
        "admin pos service analytics",
    ),
    ("POST", "/v1/receipts/{receipt_id}/returns", "admin pos"),
    ("POST", "/v1/receipts/{receipt_id}/cancel", "admin pos"),
    ("POST", "/v1/api-keys", "admin"),
    ("GET", "/v1/api-keys", "admin"),
    ("DELETE", "/v1/api-keys/{key_id}", "admin"),
    ("GET", "/v1/audit", "admin audit"),
    ("POST", "/v1/receipts/redeem-code", "admin pos"),
    ("POST", "/v1/me/login", "public"),
    ("POST", "/v1/me/token", "public"),
    ("POST", "/v1/staff/login", "public"),
    ("POST", "/v1/me/logout", "self_service"),
    ("GET", "/v1/me", "self_service"),
    ("GET", "/v1/me/balance", "self_service"),
    ("GET", "/v1/me/ledger", "self_service"),
    ("GET", "/v1/me/receipts", "self_service"),
    ("GET", "/v1/me/coupons", "self_service"),
    ("POST", "/v1/me/redeem-code", "self_service"),
    ("PUT", "/v1/me/consents", "self_service"),
    (
        "POST",
        "/v1/staff/logout",
        "admin marketing service analytics audit",
    ),
    ("POST", "/v1/staff-users", "admin"),
    ("GET", "/v1/staff-users", "admin"),
    ("PATCH", "/v1/staff-users/{username}", "admin"),
];

const SCOPES: [&str; 6] = ["pos", "admin", "marketing", "service", "analytics", "audit"];

/// The scopes a route is open to, as listed in `EXPECTED` (none for a public route).
fn scopes_of(listed: &str) -> Vec<&str> {
    if listed == "public" {
        Vec::new()
    } else {
        listed.split(' ').collect()
    }
}

/// Creates a key through the API with the bootstrap token; answers `(id, key)`.
async fn make_key(app: &TestApp, body: Value) -> (String, String) {
    let (status, out) = app.post("/v1/api-keys", &body).await;
    assert_eq!(status, 201, "{out}");
    (
        out["id"].as_str().unwrap().to_string(),
        out["key"].as_str().unwrap().to_string(),
    )
}

async fn scoped_key(app: &TestApp, scope: &str) -> String {
    let store = (scope == "pos").then_some("msk-1");
    make_key(
        app,
        json!({"name": format!("{scope} key"), "scopes": [scope], "store_id": store}),
    )
    .await
    .1
}

fn concrete(path: &str) -> String {
    path.replace("{store_id}", "msk-1")
        .replace("{sku}", "SHOE-1")
        .replace("{number}", "0000")
        .replace('{', "x-")
        .replace('}', "")
}

#[tokio::test]
async fn every_route_refuses_the_scopes_it_is_not_open_to() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    // The table covers exactly the routes of the OpenAPI document.
    let (_, document) = app.get("/openapi.json").await;
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
                let scopes = &item[method]["x-access"]["scopes"];
                let expected = EXPECTED
                    .iter()
                    .find(|(m, p, _)| m.eq_ignore_ascii_case(method) && p == path)
                    .map(|(_, _, s)| scopes_of(s));
                assert_eq!(
                    scopes
                        .as_array()
                        .map(|a| a.iter().map(|s| s.as_str().unwrap()).collect::<Vec<_>>()),
                    expected,
                    "x-access scopes of {method} {path}"
                );
            }
        }
    }
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented, expected,
        "the access table and the OpenAPI routes"
    );

    let mut keys = Vec::new();
    for scope in SCOPES {
        keys.push((scope, scoped_key(&app, scope).await));
    }
    let mut checked = 0;
    for (method, path, allowed) in EXPECTED {
        if *allowed == "public" {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let (status, _) = app.send(method, path, Some(b"{}".to_vec()), None).await;
            assert!(status != 401 && status != 403, "{path} is public: {status}");
            checked += SCOPES.len();
            continue;
        }
        let allowed: Vec<&str> = allowed.split(' ').collect();
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method != Method::GET).then(|| json!({}));
        for (scope, key) in &keys {
            let response = app
                .with_token(key, method.clone(), &concrete(path), body.as_ref())
                .await;
            if allowed.contains(scope) {
                assert!(
                    response.0 != 403 && response.0 != 401,
                    "{scope} is allowed {method} {path}: {response:?}"
                );
            } else {
                assert_error(&response, 403, "forbidden");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, EXPECTED.len() * SCOPES.len());
    // No key at all, and a made-up key, are 401 everywhere but on public routes.
    for (method, path, _) in EXPECTED.iter().filter(|(_, _, s)| *s != "public") {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let (status, bytes) = app.send(method.clone(), &concrete(path), None, None).await;
        assert_error(&(status, parse(&bytes)), 401, "unauthorized");
        let response = app
            .with_token(
                "tsk_00000000000000000000000000_aaaa",
                method,
                &concrete(path),
                None,
            )
            .await;
        assert_error(&response, 401, "unauthorized");
    }
}

/// The staff roles and the scopes each carries, written out apart from the server.
const ROLES: [(&str, &[&str]); 4] = [
    ("admin", &["admin"]),
    ("marketer", &["marketing", "analytics"]),
    ("service", &["service"]),
    ("auditor", &["audit", "analytics"]),
];

#[tokio::test]
async fn every_route_refuses_the_staff_roles_it_is_not_open_to() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let (_, document) = app.get("/openapi.json").await;
    let mut tokens = Vec::new();
    for (role, scopes) in ROLES {
        let username = format!("{role}-user");
        let body = json!({"username": username, "role": role, "password": "correct horse battery"});
        assert_eq!(app.post("/v1/staff-users", &body).await.0, 201);
        let (status, out) = app
            .post(
                "/v1/staff/login",
                &json!({"username": username, "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(status, 200, "{out}");
        tokens.push((role, scopes, out["token"].as_str().unwrap().to_string()));
    }
    let mut checked = 0;
    for (method, path, allowed) in EXPECTED
        .iter()
        .filter(|(_, p, s)| *s != "public" && *p != "/v1/staff/logout")
    {
        let allowed: Vec<&str> = allowed.split(' ').collect();
        let expected_roles: Vec<&str> = ROLES
            .iter()
            .filter(|(_, scopes)| scopes.iter().any(|s| allowed.contains(s)))
            .map(|(role, _)| *role)
            .collect();
        let documented = &document["paths"][path][method.to_lowercase()]["x-access"]["roles"];
        assert_eq!(
            documented,
            &json!(expected_roles),
            "x-access roles of {method} {path}"
        );
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method != Method::GET).then(|| json!({}));
        for (role, _, token) in &tokens {
            let response = app
                .with_token(token, method.clone(), &concrete(path), body.as_ref())
                .await;
            if expected_roles.contains(role) {
                assert!(
                    response.0 != 403 && response.0 != 401,
                    "{role} is allowed {method} {path}: {response:?}"
                );
            } else {
                assert_error(&response, 403, "forbidden");
            }
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked}");
    // Every role may sign out, last.
    for (role, _, token) in &tokens {
        let (status, _) = app
            .with_token(token, Method::POST, "/v1/staff/logout", None)
            .await;
        assert_eq!(status, 204, "{role}");
    }
}

#[tokio::test]
async fn a_till_key_serves_its_own_store_only_and_reads_no_profiles() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let customer = app
        .create_customer(json!({"name": "Anna", "cards": ["7001"]}))
        .await;
    let (_, msk) = make_key(
        &app,
        json!({"name": "Till 1", "scopes": ["pos"], "store_id": "msk-1"}),
    )
    .await;
    let (_, vvo) = make_key(
        &app,
        json!({"name": "Till 9", "scopes": ["pos"], "store_id": "vvo-1"}),
    )
    .await;
    let body = receipt(
        "r-1",
        t0(),
        Some(json!({"card": "7001"})),
        json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 100000}]),
    );
    for path in ["/v1/receipts/calculate", "/v1/receipts/commit"] {
        let response = app.with_token(&vvo, Method::POST, path, Some(&body)).await;
        assert_eq!(
            assert_error(&response, 403, "forbidden").as_deref(),
            Some("store_id")
        );
    }
    let offline = json!({"receipts": [body.clone()]});
    let (status, out) = app
        .with_token(&vvo, Method::POST, "/v1/receipts/offline", Some(&offline))
        .await;
    assert_eq!(
        (status, out["results"][0]["status"].as_i64()),
        (200, Some(403)),
        "{out}"
    );
    let (status, out) = app
        .with_token(&msk, Method::POST, "/v1/receipts/commit", Some(&body))
        .await;
    assert_eq!(status, 200, "{out}");
    // The other store's till cannot read, return or cancel it either.
    let response = app
        .with_token(&vvo, Method::GET, "/v1/receipts/r-1", None)
        .await;
    assert_error(&response, 403, "forbidden");
    let cancel = json!({});
    let response = app
        .with_token(&vvo, Method::POST, "/v1/receipts/r-1/cancel", Some(&cancel))
        .await;
    assert_error(&response, 403, "forbidden");
    // A receipt a till key cannot see yet is not found for it (a return must not race
    // the receipt's commit past the store check).
    let response = app
        .with_token(
            &vvo,
            Method::POST,
            "/v1/receipts/r-later/cancel",
            Some(&cancel),
        )
        .await;
    assert_error(&response, 404, "receipt_not_found");
    let (status, out) = app
        .with_token(&msk, Method::GET, "/v1/receipts/r-1", None)
        .await;
    assert_eq!(status, 200, "{out}");
    // A till reads no profiles, balances or ledgers.
    for path in [
        format!("/v1/customers/{customer}"),
        format!("/v1/customers/{customer}/balance"),
        format!("/v1/customers/{customer}/ledger"),
        "/v1/customers?q=Anna".to_string(),
    ] {
        let response = app.with_token(&msk, Method::GET, &path, None).await;
        assert_error(&response, 403, "forbidden");
    }
    let (status, _) = app
        .with_token(&msk, Method::POST, "/v1/receipts/r-1/cancel", Some(&cancel))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn keys_are_shown_once_expire_and_are_revoked() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let expiry = utc(t0() + chrono::Duration::hours(1));
    let (status, created) = app
        .post(
            "/v1/api-keys",
            &json!({"name": "Campaign tool", "scopes": ["marketing", "analytics"], "expires_at": expiry}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().unwrap().to_string();
    assert_eq!(created["scopes"], json!(["marketing", "analytics"]));
    assert_eq!(created["status"], "active");
    let (_, list) = app.get("/v1/api-keys").await;
    let listed = list.to_string();
    assert!(!listed.contains(&key), "the key text is never listed");
    let secret = key.rsplit('_').next().unwrap();
    assert!(!listed.contains(secret));
    assert_eq!(list["keys"][0]["id"], created["id"]);
    assert!(list["keys"][0].get("key").is_none());

    let (status, _) = app
        .with_token(&key, Method::GET, "/v1/promotions", None)
        .await;
    assert_eq!(status, 200);
    app.clock.advance(chrono::Duration::hours(1));
    let response = app
        .with_token(&key, Method::GET, "/v1/promotions", None)
        .await;
    assert_error(&response, 401, "unauthorized");
    assert!(response.1.to_string().contains("expired"), "{}", response.1);

    let (id, service) = make_key(&app, json!({"name": "Desk", "scopes": ["service"]})).await;
    let (status, _) = app
        .with_token(&service, Method::GET, "/v1/merge-candidates", None)
        .await;
    assert_eq!(status, 200);
    let (status, revoked) = app.delete(&format!("/v1/api-keys/{id}")).await;
    assert_eq!(
        (status, revoked["status"].as_str()),
        (200, Some("revoked")),
        "{revoked}"
    );
    let response = app
        .with_token(&service, Method::GET, "/v1/merge-candidates", None)
        .await;
    assert_error(&response, 401, "unauthorized");
    app.clock.advance(chrono::Duration::minutes(5));
    let (status, again) = app.delete(&format!("/v1/api-keys/{id}")).await;
    assert_eq!(
        (status, &again["revoked_at"]),
        (200, &revoked["revoked_at"])
    );
    let (_, audit_before) = app.get("/v1/audit?limit=1000").await;
    assert_error(
        &app.delete("/v1/api-keys/key_nope").await,
        404,
        "api_key_not_found",
    );
    let (_, audit_after) = app.get("/v1/audit?limit=1000").await;
    assert_eq!(audit_before, audit_after, "revoking no key leaves no entry");
    // A key cannot make keys unless it is an admin key.
    let response = app
        .with_token(
            &service,
            Method::POST,
            "/v1/api-keys",
            Some(&json!({"name": "x", "scopes": ["admin"]})),
        )
        .await;
    assert_error(&response, 401, "unauthorized");

    let refusals = [
        (
            json!({"name": "Till", "scopes": ["pos"]}),
            "missing_field",
            "store_id",
        ),
        (
            json!({"name": "Till", "scopes": ["pos"], "store_id": "nowhere"}),
            "unknown_store",
            "store_id",
        ),
        (
            json!({"name": "X", "scopes": ["service", "root"]}),
            "invalid_field",
            "scopes[1]",
        ),
        (
            json!({"name": "X", "scopes": ["self_service"]}),
            "invalid_field",
            "scopes",
        ),
        (
            json!({"name": "X", "scopes": ["service"], "store_id": "msk-1"}),
            "invalid_field",
            "store_id",
        ),
        (
            json!({"name": "", "scopes": ["service"]}),
            "invalid_field",
            "name",
        ),
        (
            json!({"name": "X", "scopes": ["service"], "expires_at": "2020-01-01T00:00:00Z"}),
            "invalid_field",
            "expires_at",
        ),
        (
            json!({"name": "X", "scopes": ["service"], "expires_at": "tomorrow"}),
            "invalid_field",
            "expires_at",
        ),
    ];
    for (body, code, field) in refusals {
        let response = app.post("/v1/api-keys", &body).await;
        let status =
            if code == "missing_field" || code == "invalid_field" || code == "unknown_store" {
                422
            } else {
                400
            };
        assert_eq!(
            assert_error(&response, status, code).as_deref(),
            Some(field),
            "{body}"
        );
    }
}

#[tokio::test]
async fn changes_are_audited_with_who_what_before_and_after() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let (marketer_id, marketer) =
        make_key(&app, json!({"name": "Marketing", "scopes": ["marketing"]})).await;
    let promotion = json!({"name": "Spring", "effects": [{"type": "amount_off", "amount": 5000}]});
    let (status, out) = app
        .with_token(
            &marketer,
            Method::PUT,
            "/v1/promotions/spring",
            Some(&promotion),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let renamed =
        json!({"name": "Spring sale", "effects": [{"type": "amount_off", "amount": 7000}]});
    let (status, _) = app
        .with_token(
            &marketer,
            Method::PUT,
            "/v1/promotions/spring",
            Some(&renamed),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .with_token(&marketer, Method::DELETE, "/v1/promotions/spring", None)
        .await;
    assert_eq!(status, 200);
    // A refused change and a read leave no entry.
    let (status, _) = app
        .with_token(
            &marketer,
            Method::PUT,
            "/v1/promotions/bad",
            Some(&json!({})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, page) = app
        .get(&format!("/v1/audit?action=promotion&actor={marketer_id}"))
        .await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["promotion.update", "promotion.update", "promotion.delete"]
    );
    for entry in entries {
        assert_eq!(entry["actor"], marketer_id.as_str());
        assert_eq!(entry["actor_kind"], "key");
        assert_eq!(entry["target"], "/v1/promotions/spring");
        assert_eq!(entry["origin"], "127.0.0.1");
    }
    assert_eq!(entries[0]["before"], Value::Null);
    assert_eq!(entries[0]["after"]["name"], "Spring");
    assert_eq!(entries[1]["before"]["name"], "Spring");
    assert_eq!(entries[1]["after"]["name"], "Spring sale");
    assert_eq!(entries[2]["after"]["enabled"], false);
    // Every entry chains to the one before it.
    let (_, all) = app.get("/v1/audit?limit=1000").await;
    let all = all["entries"].as_array().unwrap().clone();
    assert!(
        all.len() >= 9,
        "the chain setup, the key and three changes: {}",
        all.len()
    );
    for pair in all.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"]);
        assert_eq!(
            pair[1]["seq"].as_i64(),
            pair[0]["seq"].as_i64().map(|s| s + 1)
        );
    }
    assert_eq!(all[0]["actor"], "bootstrap");
    let key_entry = all
        .iter()
        .find(|e| e["action"] == "api_key.create")
        .unwrap();
    assert_eq!(key_entry["after"]["id"], marketer_id.as_str());
    assert!(
        !key_entry
            .to_string()
            .contains(marketer.rsplit('_').next().unwrap()),
        "no secret in the audit log"
    );
    // Filters by actor, target and time; pages by `after`.
    let (_, by_actor) = app.get(&format!("/v1/audit?actor={marketer_id}")).await;
    assert_eq!(by_actor["entries"].as_array().unwrap().len(), 3);
    let (_, first) = app.get("/v1/audit?limit=2").await;
    let next = first["next_after"].as_i64().unwrap();
    let (_, second) = app.get(&format!("/v1/audit?limit=2&after={next}")).await;
    assert_eq!(second["entries"][0]["seq"].as_i64(), Some(next + 1));
    let (_, later) = app
        .get(&format!(
            "/v1/audit?from={}",
            utc(t0() + chrono::Duration::hours(1))
        ))
        .await;
    assert_eq!(later["entries"], json!([]));
    assert_error(&app.get("/v1/audit?limit=0").await, 422, "invalid_field");
    assert_error(
        &app.get("/v1/audit?from=yesterday").await,
        422,
        "invalid_field",
    );
    let report = app.store.check().await.unwrap();
    let chain = report
        .items
        .iter()
        .find(|i| i.name.starts_with("audit chain"))
        .unwrap();
    assert_eq!(
        (chain.checked as usize, chain.violations.len()),
        (all.len(), 0)
    );
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let app = spawn_app_with(
        Some(Rate {
            burst: 3,
            interval_ms: 1000,
        }),
        Some(Rate {
            burst: 2,
            interval_ms: 60_000,
        }),
    )
    .await;
    setup_chain(&app).await;
    let (_, key) = make_key(&app, json!({"name": "Reports", "scopes": ["analytics"]})).await;
    for _ in 0..3 {
        let (status, _) = app.with_token(&key, Method::GET, "/v1/stores", None).await;
        assert_eq!(status, 200);
    }
    let (status, bytes) = app
        .send(
            Method::GET,
            "/v1/stores",
            None,
            Some(&format!("Bearer {key}")),
        )
        .await;
    assert_error(&(status, parse(&bytes)), 429, "rate_limited");
    let response = app
        .client
        .get(format!("{}/v1/stores", app.base_url))
        .header("Authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    app.clock.advance(chrono::Duration::seconds(1));
    let (status, _) = app.with_token(&key, Method::GET, "/v1/stores", None).await;
    assert_eq!(status, 200, "the allowance refills");
    // The operator's token is not limited by key.
    for _ in 0..10 {
        assert_eq!(app.get("/v1/stores").await.0, 200);
    }

    // Spending one customer's points: two commits at once, then one a minute, from
    // any till; a retry of a committed receipt is answered without counting.
    let boris = app
        .create_customer(json!({"name": "Boris", "cards": ["7002"]}))
        .await;
    let spend = |id: &str| {
        let mut body = receipt(
            id,
            t0(),
            Some(json!({"card": "7002"})),
            json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 100000}]),
        );
        body["redeem_points"] = json!(10);
        body
    };
    for id in ["s-1", "s-2"] {
        let response = app.post("/v1/receipts/commit", &spend(id)).await;
        assert_error(&response, 409, "insufficient_points");
    }
    let (status, bytes) = app.post_bytes("/v1/receipts/commit", &spend("s-3")).await;
    assert_error(&(status, parse(&bytes)), 429, "rate_limited");
    let earn = receipt(
        "e-1",
        t0(),
        Some(json!({"card": "7002"})),
        json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 100000}]),
    );
    assert_eq!(
        app.post("/v1/receipts/commit", &earn).await.0,
        200,
        "earning is not limited"
    );
    app.clock.advance(chrono::Duration::seconds(60));
    let response = app.post("/v1/receipts/commit", &spend("s-3")).await;
    assert_error(&response, 409, "insufficient_points");

    // With points to spend: a minute later a redemption passes, and its retry is
    // answered from the stored response although the allowance is used up.
    let grant = json!({"points": 100, "reason": "goodwill", "idempotency_key": "adj-1"});
    let (status, out) = app
        .post(&format!("/v1/customers/{boris}/adjustments"), &grant)
        .await;
    assert_eq!(status, 201, "{out}");
    app.clock.advance(chrono::Duration::seconds(60));
    let (status, first) = app.post_bytes("/v1/receipts/commit", &spend("s-4")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&first));
    let (status, retry) = app.post_bytes("/v1/receipts/commit", &spend("s-4")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&retry));
    assert_eq!(retry, first, "retry must be byte-identical");
    let (status, bytes) = app.post_bytes("/v1/receipts/commit", &spend("s-5")).await;
    assert_error(&(status, parse(&bytes)), 429, "rate_limited");
}
