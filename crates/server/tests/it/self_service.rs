//! Spending points with a one-time code (a photographed card cannot), and the
//! customer's own account: sign-in by phone and code, `/v1/me`, consents, logout.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};

/// A chain whose program requires codes, and a customer with 500 available points.
async fn chain_with_points(app: &TestApp) -> String {
    setup_chain(app).await;
    let (status, out) = app
        .put(
            "/v1/program",
            &json!({"currency":"RUB","point_value":100,"pending_days":0,"expiry_days":365,"max_redeem_percent":50,"redeem_requires_code":true}),
        )
        .await;
    assert_eq!(
        (status, &out["redeem_requires_code"]),
        (200, &json!(true)),
        "{out}"
    );
    let customer = app
        .create_customer(json!({"name": "Anna", "phone": "+7 916 000-00-01", "cards": ["7001"]}))
        .await;
    let (status, out) = app
        .post(
            &format!("/v1/customers/{customer}/adjustments"),
            &json!({"idempotency_key": "a-1", "points": 500, "reason": "goodwill"}),
        )
        .await;
    assert_eq!(status, 201, "{out}");
    customer
}

fn spend(id: &str, code: Option<&str>) -> Value {
    let mut customer = json!({"card": "7001"});
    if let Some(code) = code {
        customer["code"] = json!(code);
    }
    let mut body = receipt(
        id,
        t0(),
        Some(customer),
        json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 100000}]),
    );
    body["redeem_points"] = json!(100);
    body
}

/// Signs the customer in by phone; answers the token.
async fn sign_in(app: &TestApp, phone: &str) -> String {
    let (status, out) = app.post("/v1/me/login", &json!({"phone": phone})).await;
    assert_eq!(
        (status, out["expires_in"].as_i64()),
        (202, Some(300)),
        "{out}"
    );
    let code = app
        .sender
        .last_code("+79160000001")
        .expect("a code was sent");
    let (status, out) = app
        .post("/v1/me/token", &json!({"phone": phone, "code": code}))
        .await;
    assert_eq!(status, 200, "{out}");
    assert!(out["token"].as_str().unwrap().starts_with("tsc_"));
    out["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_photographed_card_cannot_spend_points() {
    let app = spawn_app().await;
    chain_with_points(&app).await;
    let field = assert_error(
        &app.post("/v1/receipts/commit", &spend("r-1", None)).await,
        422,
        "code_required",
    );
    assert_eq!(field.as_deref(), Some("customer.code"));
    let field = assert_error(
        &app.post("/v1/receipts/commit", &spend("r-1", Some("123456")))
            .await,
        422,
        "code_invalid",
    );
    assert_eq!(field.as_deref(), Some("customer.code"));
    // The card alone still earns.
    let earn = receipt(
        "e-1",
        t0(),
        Some(json!({"card": "7001"})),
        json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 100000}]),
    );
    assert_eq!(app.post("/v1/receipts/commit", &earn).await.0, 200);
}

#[tokio::test]
async fn the_apps_code_spends_once_for_one_receipt() {
    let app = spawn_app().await;
    let customer = chain_with_points(&app).await;
    let token = sign_in(&app, "+7 (916) 000-00-01").await;
    let (status, shown) = app
        .with_token(&token, Method::POST, "/v1/me/redeem-code", None)
        .await;
    assert_eq!(status, 200, "{shown}");
    let code = shown["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 6);
    let (status, first) = app
        .post_bytes("/v1/receipts/commit", &spend("r-1", Some(&code)))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&first));
    let (_, again) = app
        .post_bytes("/v1/receipts/commit", &spend("r-1", Some(&code)))
        .await;
    assert_eq!(first, again, "a retry answers the stored response");
    // A till retrying after a lost reply may hold the app's next code: still the same
    // request.
    let other = if code == "000000" { "111111" } else { "000000" };
    let (status, fresh) = app
        .post_bytes("/v1/receipts/commit", &spend("r-1", Some(other)))
        .await;
    assert_eq!((status, &fresh), (200, &first), "a retry with another code");
    assert_error(
        &app.post("/v1/receipts/commit", &spend("r-2", Some(&code)))
            .await,
        409,
        "code_used",
    );
    // 500 − 100 spent once + 40 earned (5% back on the 800 roubles paid).
    assert_eq!(app.balance(&customer).await.0, 440);
    // After the step and its drift the code is refused.
    app.clock.advance(chrono::Duration::seconds(95));
    assert_error(
        &app.post("/v1/receipts/commit", &spend("r-3", Some(&code)))
            .await,
        422,
        "code_invalid",
    );
}

#[tokio::test]
async fn wrong_codes_are_throttled() {
    let app = spawn_app().await;
    chain_with_points(&app).await;
    for i in 0..5 {
        let response = app
            .post(
                "/v1/receipts/commit",
                &spend(&format!("w-{i}"), Some("000000")),
            )
            .await;
        assert_error(&response, 422, "code_invalid");
    }
    let response = app
        .client
        .post(format!("{}/v1/receipts/commit", app.base_url))
        .header("Authorization", format!("Bearer {TOKEN}"))
        .json(&spend("w-9", Some("000000")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let wait: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&wait), "{wait}");
}

#[tokio::test]
async fn a_code_sent_by_sms_spends_points() {
    let app = spawn_app().await;
    let customer = chain_with_points(&app).await;
    let (status, out) = app
        .post(
            "/v1/receipts/redeem-code",
            &json!({"customer": {"card": "7001"}}),
        )
        .await;
    assert_eq!(status, 202, "{out}");
    assert_eq!(out["sent_to"], "***0001");
    let code = app.sender.last_code("+79160000001").unwrap();
    assert_eq!(
        app.post("/v1/receipts/commit", &spend("s-1", Some(&code)))
            .await
            .0,
        200
    );
    assert_error(
        &app.post("/v1/receipts/commit", &spend("s-2", Some(&code)))
            .await,
        409,
        "code_used",
    );
    // 500 − 100 spent once + 40 earned (5% back on the 800 roubles paid).
    assert_eq!(app.balance(&customer).await.0, 440);
    assert_error(
        &app.post(
            "/v1/receipts/redeem-code",
            &json!({"customer": {"card": "9999"}}),
        )
        .await,
        404,
        "customer_not_found",
    );
}

#[tokio::test]
async fn a_customer_signs_in_and_reads_their_own_account() {
    let app = spawn_app().await;
    let customer = chain_with_points(&app).await;
    app.create_customer(json!({"name": "Boris", "phone": "+7 916 000-00-02", "cards": ["7002"]}))
        .await;
    // An unknown phone gets the same answer and no message.
    let (status, _) = app
        .post("/v1/me/login", &json!({"phone": "+7 916 555-55-55"}))
        .await;
    assert_eq!(status, 202);
    assert!(app.sender.last_code("+79165555555").is_none());
    assert_error(
        &app.post("/v1/me/login", &json!({"phone": "not a phone"}))
            .await,
        422,
        "invalid_phone",
    );
    // Guessing codes for a phone that is nobody's locks like a member's phone does.
    for _ in 0..5 {
        let response = app
            .post(
                "/v1/me/token",
                &json!({"phone": "+79165555555", "code": "123456"}),
            )
            .await;
        assert_error(&response, 422, "code_invalid");
    }
    let response = app
        .post(
            "/v1/me/token",
            &json!({"phone": "+79165555555", "code": "123456"}),
        )
        .await;
    assert_error(&response, 429, "rate_limited");
    // A wrong code, then the right one, which works once.
    app.post("/v1/me/login", &json!({"phone": "+79160000001"}))
        .await;
    let code = app.sender.last_code("+79160000001").unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_error(
        &app.post(
            "/v1/me/token",
            &json!({"phone": "+79160000001", "code": wrong}),
        )
        .await,
        422,
        "code_invalid",
    );
    assert_eq!(
        app.post(
            "/v1/me/token",
            &json!({"phone": "+79160000001", "code": code})
        )
        .await
        .0,
        200
    );
    assert_error(
        &app.post(
            "/v1/me/token",
            &json!({"phone": "+79160000001", "code": code}),
        )
        .await,
        409,
        "code_used",
    );

    let token = sign_in(&app, "+79160000001").await;
    let (status, me) = app.with_token(&token, Method::GET, "/v1/me", None).await;
    assert_eq!(
        (status, me["customer_id"].as_str()),
        (200, Some(customer.as_str())),
        "{me}"
    );
    let (_, balance) = app
        .with_token(&token, Method::GET, "/v1/me/balance", None)
        .await;
    assert_eq!(balance["available"], 500);
    let (_, ledger) = app
        .with_token(&token, Method::GET, "/v1/me/ledger", None)
        .await;
    assert_eq!(ledger["entries"].as_array().unwrap().len(), 1);
    let earn = receipt(
        "e-1",
        t0(),
        Some(json!({"card": "7001"})),
        json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 100000}]),
    );
    assert_eq!(app.post("/v1/receipts/commit", &earn).await.0, 200);
    let (_, receipts) = app
        .with_token(&token, Method::GET, "/v1/me/receipts", None)
        .await;
    assert_eq!(receipts["receipts"][0]["receipt_id"], "e-1");
    let (status, coupons) = app
        .with_token(&token, Method::GET, "/v1/me/coupons", None)
        .await;
    assert_eq!(
        (status, &coupons["coupons"]),
        (200, &json!([])),
        "{coupons}"
    );
    // Consents change at once, and the change is audited as the customer's.
    let body = json!({"consents": [{"channel": "sms", "granted": false}]});
    let (status, profile) = app
        .with_token(&token, Method::PUT, "/v1/me/consents", Some(&body))
        .await;
    assert_eq!(status, 200, "{profile}");
    assert!(profile.to_string().contains("sms"), "{profile}");
    assert_eq!(profile["consents"]["sms"]["granted"], false, "{profile}");
    assert_eq!(profile["consents"]["sms"]["source"], "app", "{profile}");
    let (_, audit) = app.get("/v1/audit?action=customer.consents").await;
    assert_eq!(audit["entries"][0]["actor"], customer.as_str());
    assert_eq!(audit["entries"][0]["actor_kind"], "customer");
    // The token reaches nothing but /v1/me.
    let (status, _) = app
        .with_token(
            &token,
            Method::GET,
            &format!("/v1/customers/{customer}"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .with_token(&token, Method::POST, "/v1/receipts/commit", Some(&earn))
        .await;
    assert_eq!(status, 403);
    // Logout ends it; another token expires after an hour.
    assert_eq!(
        app.with_token(&token, Method::POST, "/v1/me/logout", None)
            .await
            .0,
        204
    );
    assert_error(
        &app.with_token(&token, Method::GET, "/v1/me", None).await,
        401,
        "unauthorized",
    );
    let token = sign_in(&app, "+79160000001").await;
    app.clock.advance(chrono::Duration::minutes(61));
    assert_error(
        &app.with_token(&token, Method::GET, "/v1/me", None).await,
        401,
        "unauthorized",
    );
    assert_error(
        &app.with_token("tsc_nonsense", Method::GET, "/v1/me", None)
            .await,
        401,
        "unauthorized",
    );
}

#[tokio::test]
async fn erasure_ends_the_customers_sessions_and_codes() {
    let app = spawn_app().await;
    let customer = chain_with_points(&app).await;
    let token = sign_in(&app, "+79160000001").await;
    assert_eq!(
        app.with_token(&token, Method::GET, "/v1/me", None).await.0,
        200
    );
    let (status, out) = app
        .post(&format!("/v1/customers/{customer}/erase"), &json!({}))
        .await;
    assert_eq!(status, 200, "{out}");
    assert_error(
        &app.with_token(&token, Method::GET, "/v1/me", None).await,
        401,
        "unauthorized",
    );
}
