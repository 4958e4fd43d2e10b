//! The error table: codes, statuses, fields and the exact body shape.

use crate::helpers::{assert_error, msk, receipt, setup_chain, spawn_app, t0};
use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

fn milk() -> Value {
    receipt(
        "R-E",
        t0(),
        None,
        json!([{"line":1,"sku":"MILK-1","qty":1,"price":10000}]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_name_the_field() {
    let app = spawn_app().await;
    setup_chain(&app).await;

    for path in ["/v1/receipts/calculate", "/v1/receipts/commit"] {
        assert_error(
            &app.post_raw(path, b"{\"receipt_id\": ").await,
            400,
            "malformed_json",
        );
        assert_error(
            &app.post_raw(path, b"not json at all").await,
            400,
            "malformed_json",
        );

        let mut body = milk();
        body["lines"][0]["colour"] = json!("red");
        let field = assert_error(&app.post(path, &body).await, 422, "unknown_field").unwrap();
        assert!(field.contains("colour"), "{field}");
        assert_eq!(field, "lines[0].colour");

        let mut body = milk();
        body["discount_code"] = json!("X");
        let field = assert_error(&app.post(path, &body).await, 422, "unknown_field");
        assert_eq!(field.as_deref(), Some("discount_code"));

        let mut body = milk();
        body.as_object_mut().unwrap().remove("store_id");
        let field = assert_error(&app.post(path, &body).await, 422, "missing_field");
        assert_eq!(field.as_deref(), Some("store_id"));

        let mut body = milk();
        body["lines"][0].as_object_mut().unwrap().remove("price");
        let field = assert_error(&app.post(path, &body).await, 422, "missing_field");
        assert_eq!(field.as_deref(), Some("lines[0].price"));

        // An empty body reads as {}.
        let field = assert_error(&app.post_raw(path, b"").await, 422, "missing_field");
        assert!(field.is_some());

        let mut body = milk();
        body["lines"][0]["qty"] = json!(0.5321);
        let field = assert_error(&app.post(path, &body).await, 422, "invalid_quantity");
        assert_eq!(field.as_deref(), Some("lines[0].qty"));

        let mut body = milk();
        body["lines"][0]["qty"] = json!(0);
        let field = assert_error(&app.post(path, &body).await, 422, "invalid_quantity");
        assert_eq!(field.as_deref(), Some("lines[0].qty"));

        let mut body = milk();
        body["lines"][0]["price"] = json!("abc");
        let field = assert_error(&app.post(path, &body).await, 422, "invalid_field");
        assert_eq!(field.as_deref(), Some("lines[0].price"));

        let mut body = milk();
        body["lines"] = json!([{"line":1,"sku":"MILK-1","qty":1,"price":100},{"line":1,"sku":"SHOE-1","qty":1,"price":100}]);
        let field = assert_error(&app.post(path, &body).await, 422, "duplicate_line");
        assert_eq!(field.as_deref(), Some("lines[1].line"));

        let mut body = milk();
        body["lines"] = json!([]);
        let field = assert_error(&app.post(path, &body).await, 422, "invalid_field");
        assert_eq!(field.as_deref(), Some("lines"));

        let mut body = milk();
        body["store_id"] = json!("nowhere-1");
        let field = assert_error(&app.post(path, &body).await, 422, "unknown_store");
        assert_eq!(field.as_deref(), Some("store_id"));

        let mut body = milk();
        body["at"] = json!(msk(t0() + Duration::hours(1)));
        let field = assert_error(&app.post(path, &body).await, 422, "at_in_future");
        assert_eq!(field.as_deref(), Some("at"));

        let mut body = milk();
        body["at"] = json!("2026-03-10 12:00");
        let field = assert_error(&app.post(path, &body).await, 422, "invalid_field");
        assert_eq!(field.as_deref(), Some("at"));

        let mut body = milk();
        body["redeem_points"] = json!("all");
        let field = assert_error(&app.post(path, &body).await, 422, "invalid_field");
        assert_eq!(field.as_deref(), Some("redeem_points"));

        let mut body = milk();
        body["customer"] = json!({"card":"CARD1234","phone":"+79161234567"});
        let field = assert_error(&app.post(path, &body).await, 422, "invalid_field");
        assert_eq!(field.as_deref(), Some("customer"));

        let mut body = milk();
        body["redeem_points"] = json!(5);
        let field = assert_error(&app.post(path, &body).await, 422, "redeem_needs_customer");
        assert_eq!(field.as_deref(), Some("redeem_points"));
    }

    // A few minutes of clock skew are fine.
    let mut body = milk();
    body["at"] = json!(msk(t0() + Duration::minutes(5)));
    let (status, out) = app.post("/v1/receipts/calculate", &body).await;
    assert_eq!(status, 200, "{out}");

    // None of the failed commits wrote anything.
    assert_error(&app.get("/v1/receipts/R-E").await, 404, "receipt_not_found");
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_request_errors() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let (status, _) = app.post("/v1/receipts/commit", &milk()).await;
    assert_eq!(status, 200);
    let path = "/v1/receipts/R-E/returns";
    let field = assert_error(
        &app.post(
            path,
            &json!({"return_id":"X1","at":msk(t0()),"lines":[{"line":1,"qty":0.0001}]}),
        )
        .await,
        422,
        "invalid_quantity",
    );
    assert_eq!(field.as_deref(), Some("lines[0].qty"));
    let field = assert_error(
        &app.post(path, &json!({"return_id":"X1","at":msk(t0() + Duration::hours(1)),"lines":[{"line":1,"qty":1}]})).await,
        422,
        "at_in_future",
    );
    assert_eq!(field.as_deref(), Some("at"));
    let field = assert_error(
        &app.post(path, &json!({"return_id":"X1","at":msk(t0())}))
            .await,
        422,
        "missing_field",
    );
    assert_eq!(field.as_deref(), Some("lines"));
    let field = assert_error(
        &app.post(
            path,
            &json!({"return_id":"X1","at":msk(t0()),"lines":[{"line":1,"qty":1,"why":"broken"}]}),
        )
        .await,
        422,
        "unknown_field",
    );
    assert_eq!(field.as_deref(), Some("lines[0].why"));
    let field = assert_error(
        &app.post(path, &json!({"return_id":"X1","at":msk(t0()),"lines":[{"line":1,"qty":0.5},{"line":1,"qty":0.5}]})).await,
        422,
        "duplicate_line",
    );
    assert_eq!(field.as_deref(), Some("lines[1].line"));
    assert_error(&app.post_raw(path, b"[1,2").await, 400, "malformed_json");
    let (_, stored) = app.get("/v1/receipts/R-E").await;
    assert_eq!(stored["version"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_errors() {
    let app = spawn_app().await;
    assert_error(&app.get("/v1/nope").await, 404, "route_not_found");
    assert_error(
        &app.post("/v1/receipts", &json!({})).await,
        404,
        "route_not_found",
    );
    let (status, bytes) = app.send(Method::GET, "/nope", None, None).await;
    assert_error(
        &(status, serde_json::from_slice(&bytes).unwrap()),
        404,
        "route_not_found",
    );
    assert_error(&app.delete("/v1/program").await, 405, "method_not_allowed");
    assert_error(
        &app.post("/v1/customers/cus_X", &json!({})).await,
        405,
        "method_not_allowed",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_query_errors() {
    let app = spawn_app().await;
    let id = app.create_customer(json!({})).await;
    let field = assert_error(
        &app.get(&format!("/v1/customers/{id}/balance?at=tomorrow"))
            .await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("at"));
    // An instant in the past reads as now.
    let (status, out) = app
        .get(&format!(
            "/v1/customers/{id}/balance?at=2020-01-01T00:00:00Z"
        ))
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["at"], "2026-03-10T09:00:00Z");
}
