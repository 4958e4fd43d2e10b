//! Customers: registration, lookups and identifier conflicts.

use crate::helpers::{assert_error, setup_chain, spawn_app};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_register_and_read_back() {
    let app = spawn_app().await;
    setup_chain(&app).await;

    let (status, out) = app
        .post(
            "/v1/customers",
            &json!({"name":"  Anna  ","phone":"+7 (916) 123-45-67","email":" Anna@Example.COM ","cards":["7001 0000 1234",{"number":"7001000012345","type":"virtual"}]}),
        )
        .await;
    assert_eq!(status, 201, "{out}");
    let id = out["customer_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cus_") && id.len() == 30, "{id}");
    assert_eq!(out.as_object().unwrap().len(), 1);

    let (status, got) = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got,
        json!({
            "customer_id": id,
            "status": "active",
            "merged_into": null,
            "name": "Anna",
            "first_name": null,
            "middle_name": null,
            "last_name": null,
            "gender": null,
            "birthday": null,
            "city": null,
            "language": null,
            "home_store": null,
            "attributes": {},
            "phone": "+79161234567",
            "email": "anna@example.com",
            "phones": ["+79161234567"],
            "emails": ["anna@example.com"],
            "external_ids": [],
            "cards": [
                {"number": "700100001234", "type": "plastic", "status": "active"},
                {"number": "7001000012345", "type": "virtual", "status": "active"}
            ],
            "consents": {},
            "registration": {"source": "api", "at": "2026-03-10T09:00:00Z", "store_id": null},
            "created_at": "2026-03-10T09:00:00Z",
            "updated_at": "2026-03-10T09:00:00Z",
            "balance": {"available": 0, "pending": 0},
            "segments": [],
            "tier": null,
            "entitlements": []
        })
    );
    let (status, balance) = app.get(&format!("/v1/customers/{id}/balance")).await;
    assert_eq!(status, 200);
    assert_eq!(
        balance,
        json!({"customer_id": id, "at": "2026-03-10T09:00:00Z", "available": 0, "pending": 0, "expiring": []})
    );
    let (status, ledger) = app.get(&format!("/v1/customers/{id}/ledger")).await;
    assert_eq!(status, 200);
    assert_eq!(
        ledger,
        json!({"customer_id": id, "entries": [], "next_after": null})
    );

    // An empty body registers an anonymous customer.
    let (status, out) = app.post("/v1/customers", &json!({})).await;
    assert_eq!(status, 201, "{out}");
    assert_ne!(out["customer_id"].as_str().unwrap(), id);

    // The card (normalised) is already taken.
    assert_error(
        &app.post("/v1/customers", &json!({"cards":["7001-0000-1234"]}))
            .await,
        422,
        "invalid_card",
    );
    assert_error(
        &app.post("/v1/customers", &json!({"cards":["7001 0000 1234"]}))
            .await,
        409,
        "card_taken",
    );
    assert_error(
        &app.post(
            "/v1/customers",
            &json!({"phone":"79161234567","cards":["5555000011112222"]}),
        )
        .await,
        409,
        "phone_taken",
    );
    // Nothing of the failed registration was kept: the new card is still free.
    let (status, out) = app
        .post("/v1/customers", &json!({"cards":["5555000011112222"]}))
        .await;
    assert_eq!(status, 201, "{out}");

    let field = assert_error(
        &app.post("/v1/customers", &json!({"phone":"12345"})).await,
        422,
        "invalid_phone",
    );
    assert_eq!(field.as_deref(), Some("phone"));
    let field = assert_error(
        &app.post("/v1/customers", &json!({"email":"no-at.example.com"}))
            .await,
        422,
        "invalid_email",
    );
    assert_eq!(field.as_deref(), Some("email"));
    let field = assert_error(
        &app.post("/v1/customers", &json!({"nickname":"x"})).await,
        422,
        "unknown_field",
    );
    assert_eq!(field.as_deref(), Some("nickname"));
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_customer_in_the_path_is_404() {
    let app = spawn_app().await;
    for path in [
        "/v1/customers/cus_NOPE",
        "/v1/customers/cus_NOPE/balance",
        "/v1/customers/cus_NOPE/ledger",
    ] {
        assert_error(&app.get(path).await, 404, "customer_not_found");
    }
}
