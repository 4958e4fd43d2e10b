//! Segments and card types: who a promotion is for.

use crate::helpers::{assert_error, receipt, setup_chain, spawn_app, t0, TestApp};
use serde_json::{json, Value};

fn milk(receipt_id: &str, customer: Value) -> Value {
    receipt(
        receipt_id,
        t0(),
        Some(customer),
        json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]),
    )
}

/// The ids of the promotions a calculation applied, sorted.
async fn applied(app: &TestApp, body: &Value) -> Vec<String> {
    let (status, calc) = app.post("/v1/receipts/calculate", body).await;
    assert_eq!(status, 200, "{calc}");
    let mut ids: Vec<String> = calc["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["promotion_id"].as_str().unwrap().to_string())
        .collect();
    ids.dedup();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segment_members_get_segment_promotions() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let anna = app
        .create_customer(json!({"name": "Anna", "cards": ["5001"]}))
        .await;
    let boris = app
        .create_customer(json!({"name": "Boris", "cards": ["5002"]}))
        .await;

    assert_error(&app.get("/v1/segments/vip").await, 404, "segment_not_found");
    let (status, out) = app
        .put(
            "/v1/segments/vip",
            &json!({"name": "  VIP  ", "description": "top 1%"}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out,
        json!({"segment_id": "vip", "name": "VIP", "description": "top 1%", "members": 0})
    );
    let (status, out) = app
        .post("/v1/segments/vip/members", &json!({"add": [anna, boris]}))
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["members"], 2);
    // Adding twice changes nothing.
    let (_, out) = app
        .post("/v1/segments/vip/members", &json!({"add": [anna]}))
        .await;
    assert_eq!(out["members"], 2);
    // All or nothing: an unknown customer refuses the whole change.
    let field = assert_error(
        &app.post(
            "/v1/segments/vip/members",
            &json!({"add": ["cus_nobody"], "remove": [boris]}),
        )
        .await,
        422,
        "unknown_customer",
    );
    assert_eq!(field.as_deref(), Some("add[0]"));
    assert_eq!(app.get("/v1/segments/vip").await.1["members"], 2);
    let field = assert_error(
        &app.post(
            "/v1/segments/vip/members",
            &json!({"add": [anna], "remove": [anna]}),
        )
        .await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("remove[0]"));
    assert_error(
        &app.post("/v1/segments/nope/members", &json!({"add": [anna]}))
            .await,
        404,
        "segment_not_found",
    );
    assert_error(
        &app.put(
            "/v1/segments/vip",
            &json!({"name": "VIP", "colour": "gold"}),
        )
        .await,
        422,
        "unknown_field",
    );
    let (_, out) = app
        .post("/v1/segments/vip/members", &json!({"remove": [boris]}))
        .await;
    assert_eq!(out["members"], 1);
    assert_eq!(
        app.get(&format!("/v1/customers/{anna}")).await.1["segments"],
        json!(["vip"])
    );
    assert_eq!(
        app.get(&format!("/v1/customers/{boris}")).await.1["segments"],
        json!([])
    );

    let (status, out) = app
        .put(
            "/v1/promotions/vip15",
            &json!({"name": "VIP 15%", "audience": {"segments": ["vip", "staff"]},
                    "effects": [{"type": "percent_off", "percent": 15}]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["audience"]["segments"], json!(["vip", "staff"]));
    assert_eq!(
        applied(&app, &milk("a1", json!({"card": "5001"}))).await,
        ["earn5", "vip15"]
    );
    assert_eq!(
        applied(&app, &milk("b1", json!({"card": "5002"}))).await,
        ["earn5"]
    );
    let anonymous = receipt(
        "x1",
        t0(),
        None,
        json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]),
    );
    assert_eq!(applied(&app, &anonymous).await, Vec::<String>::new());
    // Leaving the segment is effective at once.
    app.post("/v1/segments/vip/members", &json!({"remove": [anna]}))
        .await;
    assert_eq!(
        applied(&app, &milk("a2", json!({"card": "5001"}))).await,
        ["earn5"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_type_audiences_follow_the_card_presented() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let vera = app
        .create_customer(json!({"name": "Vera", "phone": "+79160000077",
            "cards": ["6001", {"number": "6002", "type": "virtual"}]}))
        .await;
    let (status, out) = app
        .put(
            "/v1/promotions/app5",
            &json!({"name": "5% for app users", "audience": {"card_types": ["virtual", "social"]},
                    "effects": [{"type": "percent_off", "percent": 5}]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["audience"]["card_types"], json!(["virtual", "social"]));
    // The virtual card gets it, the plastic card of the same customer does not.
    assert_eq!(
        applied(&app, &milk("v1", json!({"card": "6002"}))).await,
        ["app5", "earn5"]
    );
    assert_eq!(
        applied(&app, &milk("v2", json!({"card": "6001"}))).await,
        ["earn5"]
    );
    // Identified by phone or id: holding a virtual card is enough.
    assert_eq!(
        applied(&app, &milk("v3", json!({"phone": "+7 916 000-00-77"}))).await,
        ["app5", "earn5"]
    );
    assert_eq!(
        applied(&app, &milk("v4", json!({"customer_id": vera}))).await,
        ["app5", "earn5"]
    );
    // An unknown card registers a plastic card.
    assert_eq!(
        applied(&app, &milk("v5", json!({"card": "6999"}))).await,
        ["earn5"]
    );

    let field = assert_error(
        &app.put(
            "/v1/promotions/bad",
            &json!({"name": "x", "audience": {"card_types": ["gold"]},
                    "effects": [{"type": "percent_off", "percent": 5}]}),
        )
        .await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("audience.card_types[0]"));
    for (card, code, path) in [
        (
            json!({"number": "6100", "type": "gold"}),
            "invalid_field",
            "cards[0].type",
        ),
        (
            json!({"number": "6100", "colour": "red"}),
            "unknown_field",
            "cards[0].colour",
        ),
        (json!({"type": "virtual"}), "invalid_field", "cards[0]"),
        (json!(6100), "invalid_field", "cards[0]"),
    ] {
        let field = assert_error(
            &app.post("/v1/customers", &json!({"cards": [card]})).await,
            422,
            code,
        );
        assert_eq!(field.as_deref(), Some(path), "{card}");
    }
    app.assert_store_ok().await;
}
