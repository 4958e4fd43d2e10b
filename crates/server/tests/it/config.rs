//! Authentication and configuration round trips.

use crate::helpers::{assert_error, receipt, setup_chain, spawn_app, t0};
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_needs_the_bearer_key_and_health_does_not() {
    let app = spawn_app().await;
    let (status, bytes) = app.send(Method::GET, "/v1/program", None, None).await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_error(&(status, body), 401, "unauthorized");

    let (status, bytes) = app
        .send(Method::GET, "/v1/program", None, Some("Bearer wrong-token"))
        .await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_error(&(status, body), 401, "unauthorized");

    let (status, bytes) = app
        .send(
            Method::GET,
            "/v1/program",
            None,
            Some("Basic dGVzdC10b2tlbg=="),
        )
        .await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_error(&(status, body), 401, "unauthorized");

    let (status, bytes) = app
        .send(
            Method::POST,
            "/v1/receipts/commit",
            Some(b"{}".to_vec()),
            None,
        )
        .await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_error(&(status, body), 401, "unauthorized");

    let (status, bytes) = app.send(Method::GET, "/health", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).unwrap(),
        json!({"status":"ok"})
    );

    let (status, bytes) = app.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(doc["paths"]["/v1/receipts/commit"].is_object());

    let (status, _) = app.get("/v1/program").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn program_round_trips() {
    let app = spawn_app().await;
    let body = json!({"currency":"RUB","point_value":100,"pending_days":14,"expiry_days":365,"max_redeem_percent":50,
        "required_fields":[{"field":"email","max_age_days":365},{"field":"attributes.size","max_age_days":null}],
        "redeem_requires_code":false});
    let (status, out) = app.put("/v1/program", &body).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out, body);
    let (status, out) = app.get("/v1/program").await;
    assert_eq!(status, 200);
    assert_eq!(out, body);

    // Omitted optional fields take their defaults.
    let (status, out) = app
        .put("/v1/program", &json!({"currency":"USD","point_value":1}))
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out,
        json!({"currency":"USD","point_value":1,"pending_days":14,"expiry_days":0,"max_redeem_percent":100,"required_fields":[],"redeem_requires_code":false})
    );
    let field = assert_error(
        &app.put(
            "/v1/program",
            &json!({"currency":"RUB","point_value":100,"required_fields":[{"field":"shoe_size"}]}),
        )
        .await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("required_fields[0].field"));

    let field = assert_error(
        &app.put("/v1/program", &json!({"currency":"rub","point_value":100}))
            .await,
        422,
        "invalid_currency",
    );
    assert_eq!(field.as_deref(), Some("currency"));
    let field = assert_error(
        &app.put("/v1/program", &json!({"currency":"RUB","point_value":0}))
            .await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("point_value"));
    // The failed writes changed nothing.
    let (_, out) = app.get("/v1/program").await;
    assert_eq!(out["currency"], "USD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stores_and_products_round_trip() {
    let app = spawn_app().await;
    setup_chain(&app).await;

    let (status, out) = app.get("/v1/stores/msk-1").await;
    assert_eq!(status, 200);
    assert_eq!(
        out,
        json!({"store_id":"msk-1","name":"Moscow 1","timezone":"Europe/Moscow","region":"msk","tags":["flagship"]})
    );
    let (status, out) = app.get("/v1/stores").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = out["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["store_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["msk-1", "vvo-1"]);
    assert_eq!(out["items"][1]["timezone"], "Asia/Vladivostok");
    assert_eq!(out["items"][1]["region"], Value::Null);

    // Replacing a store.
    let (status, out) = app
        .put(
            "/v1/stores/vvo-1",
            &json!({"name":"Vladivostok Centre","timezone":"Asia/Vladivostok"}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let (_, out) = app.get("/v1/stores/vvo-1").await;
    assert_eq!(out["name"], "Vladivostok Centre");

    let field = assert_error(
        &app.put(
            "/v1/stores/x-1",
            &json!({"name":"X","timezone":"Mars/Olympus"}),
        )
        .await,
        422,
        "invalid_timezone",
    );
    assert_eq!(field.as_deref(), Some("timezone"));

    let (status, out) = app.get("/v1/products/CIG-1").await;
    assert_eq!(status, 200);
    assert_eq!(
        out,
        json!({"sku":"CIG-1","name":"Cigarettes","category":"tobacco","brand":null,"tags":[],"no_points_payment":true})
    );
    let (status, out) = app.get("/v1/products").await;
    assert_eq!(status, 200);
    let skus: Vec<&str> = out["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, vec!["APPLE-KG", "CIG-1", "MILK-1", "SHOE-1"]);
    assert_eq!(out["items"][3]["category"], "shoes");
    assert_eq!(out["items"][3]["no_points_payment"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_store_and_product_in_the_path_are_404() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    assert_error(&app.get("/v1/stores/nope").await, 404, "store_not_found");
    assert_error(
        &app.get("/v1/products/NOPE").await,
        404,
        "product_not_found",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotions_round_trip_and_delete_disables() {
    let app = spawn_app().await;
    setup_chain(&app).await;

    let body = json!({
        "name": "20% off everything",
        "priority": 5,
        "schedule": {"from": "2026-03-01T00:00", "to": "2026-03-31T23:59:59"},
        "conditions": {"min_amount": 1000},
        "effects": [{"type":"percent_off","percent":20}]
    });
    let (status, out) = app.put("/v1/promotions/all20", &body).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["promotion_id"], "all20");
    assert_eq!(out["enabled"], true);
    assert_eq!(out["priority"], 5);
    assert_eq!(
        out["schedule"],
        json!({"from":"2026-03-01T00:00:00","to":"2026-03-31T23:59:59"})
    );
    assert_eq!(out["conditions"], json!({"min_amount":1000}));
    assert_eq!(out["effects"], json!([{"type":"percent_off","percent":20}]));
    assert_eq!(out["updated_at"], "2026-03-10T09:00:00Z");
    assert_eq!(out["deleted_at"], Value::Null);
    let (status, got) = app.get("/v1/promotions/all20").await;
    assert_eq!(status, 200);
    assert_eq!(got, out);

    let (status, list) = app.get("/v1/promotions").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["promotion_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["all20", "earn5", "shoes10"]);

    // Applied: MILK-1 10000, no customer. 20% off = 2000.
    let calc = receipt(
        "R-PROMO-1",
        t0(),
        None,
        json!([{"line":1,"sku":"MILK-1","qty":1,"price":10000}]),
    );
    let (status, out) = app.post("/v1/receipts/calculate", &calc).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out["totals"],
        json!({"amount":10000,"discount":2000,"points_value":0,"certificates":0,"to_pay":8000})
    );
    assert_eq!(out["lines"][0]["promotions"], json!(["all20"]));

    app.clock.advance(chrono::Duration::minutes(5));
    let (status, deleted) = app.delete("/v1/promotions/all20").await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["enabled"], false);
    assert_eq!(deleted["deleted_at"], "2026-03-10T09:05:00Z");
    let (status, got) = app.get("/v1/promotions/all20").await;
    assert_eq!(status, 200);
    assert_eq!(got["deleted_at"], "2026-03-10T09:05:00Z");
    assert_eq!(got["enabled"], false);
    let (_, list) = app.get("/v1/promotions").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 3);

    let (status, out) = app.post("/v1/receipts/calculate", &calc).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out["totals"],
        json!({"amount":10000,"discount":0,"points_value":0,"certificates":0,"to_pay":10000})
    );
    assert_eq!(out["promotions"], json!([]));
    let (status, out) = app.post("/v1/receipts/commit", &calc).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["totals"]["discount"], 0);

    assert_error(
        &app.delete("/v1/promotions/nope").await,
        404,
        "promotion_not_found",
    );
    assert_error(
        &app.get("/v1/promotions/nope").await,
        404,
        "promotion_not_found",
    );
    let field = assert_error(
        &app.put(
            "/v1/promotions/bad",
            &json!({"name":"bad","effects":[{"type":"percent_off","percent":0}]}),
        )
        .await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("effects[0].percent"));
    app.assert_store_ok().await;
}
