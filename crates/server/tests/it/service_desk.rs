//! The service desk: adjustments exactly once, and card operations.

use crate::helpers::{assert_error, customer_sums, receipt, setup_chain, spawn_app};
use serde_json::{json, Value};
use tessera_server::clock::Clock;

fn milk() -> Value {
    json!([{"line":1,"sku":"MILK-1","qty":1,"price":100000}])
}

fn card_status(customer: &Value, number: &str) -> Option<(String, String)> {
    customer["cards"].as_array().unwrap().iter().find_map(|c| {
        (c["number"] == number).then(|| {
            (
                c["type"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adjustment_is_made_once_and_a_retry_answers_the_same_bytes() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let id = app.create_customer(json!({"name":"Anna"})).await;
    let path = format!("/v1/customers/{id}/adjustments");
    let body = json!({"points": 500, "reason": "goodwill: late delivery", "idempotency_key": "adj-1", "actor": "olga"});

    let (status, first) = app.post_bytes(&path, &body).await;
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&first));
    let out: Value = serde_json::from_slice(&first).unwrap();
    assert_eq!(out["adjustment_id"], "adj-1");
    assert_eq!(out["customer_id"], id.as_str());
    assert_eq!(out["points"], 500);
    assert_eq!(out["reason"], "goodwill: late delivery");
    assert_eq!(out["by"], "olga");
    assert_eq!(out["balance"], json!({"available": 500, "pending": 0}));
    assert_eq!(app.balance(&id).await, (500, 0));

    // A retry, even with the members reordered, answers the same bytes once more.
    let reordered = json!({"actor": "olga", "idempotency_key": "adj-1", "reason": "goodwill: late delivery", "points": 500});
    let (status, again) = app.post_bytes(&path, &reordered).await;
    assert_eq!(status, 201);
    assert_eq!(again, first);
    assert_eq!(app.balance(&id).await, (500, 0));
    // The key with another body is a conflict.
    let other =
        json!({"points": 600, "reason": "goodwill: late delivery", "idempotency_key": "adj-1"});
    assert_error(&app.post(&path, &other).await, 409, "adjustment_conflict");

    let take = json!({"points": -200, "reason": "correction", "idempotency_key": "adj-2"});
    let (status, out) = app.post(&path, &take).await;
    assert_eq!(status, 201, "{out}");
    assert_eq!(out["balance"], json!({"available": 300, "pending": 0}));
    assert_eq!(out["by"], Value::Null);
    let too_much = json!({"points": -1000, "reason": "correction", "idempotency_key": "adj-3"});
    assert_error(
        &app.post(&path, &too_much).await,
        409,
        "insufficient_points",
    );
    assert_eq!(customer_sums(&app.ledger(&id).await), (300, 0));

    let cases = [
        (
            json!({"points": 0, "reason": "x", "idempotency_key": "k"}),
            "invalid_field",
            "points",
        ),
        (
            json!({"points": 10_000_001, "reason": "x", "idempotency_key": "k"}),
            "invalid_field",
            "points",
        ),
        (
            json!({"points": -10_000_001, "reason": "x", "idempotency_key": "k"}),
            "invalid_field",
            "points",
        ),
        (
            json!({"points": 5, "reason": "  ", "idempotency_key": "k"}),
            "invalid_field",
            "reason",
        ),
        (
            json!({"points": 5, "reason": "x".repeat(501), "idempotency_key": "k"}),
            "invalid_field",
            "reason",
        ),
        (
            json!({"points": 5, "reason": "x", "idempotency_key": "a/b"}),
            "invalid_field",
            "idempotency_key",
        ),
        (
            json!({"points": 5, "reason": "x"}),
            "missing_field",
            "idempotency_key",
        ),
        (
            json!({"points": 5, "reason": "x", "idempotency_key": "k", "note": 1}),
            "unknown_field",
            "note",
        ),
    ];
    for (body, code, field) in cases {
        let got = assert_error(&app.post(&path, &body).await, 422, code);
        assert_eq!(got.as_deref(), Some(field), "{body}");
    }
    assert_error(
        &app.post(
            "/v1/customers/cus_NOPE/adjustments",
            &json!({"points": 5, "reason": "x", "idempotency_key": "adj-9"}),
        )
        .await,
        404,
        "customer_not_found",
    );

    // The history says who did it and why.
    let (_, full) = app.get(&format!("/v1/customers/{id}?history=true")).await;
    let adjustments: Vec<&Value> = full["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "adjustment")
        .collect();
    assert_eq!(adjustments.len(), 2, "{full}");
    assert_eq!(adjustments[0]["actor"], "olga");
    assert_eq!(adjustments[0]["source"], "service_desk");
    assert_eq!(
        adjustments[0]["detail"]["reason"],
        "goodwill: late delivery"
    );
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_card_is_refused_and_a_replacement_keeps_the_balance() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let id = app
        .create_customer(json!({"name":"Anna","cards":["70010001"]}))
        .await;
    let other = app.create_customer(json!({"cards":["70099999"]})).await;
    let (status, out) = app
        .post(
            &format!("/v1/customers/{id}/adjustments"),
            &json!({"points": 1000, "reason": "welcome", "idempotency_key": "welcome-1"}),
        )
        .await;
    assert_eq!(status, 201, "{out}");
    let quote = |card: &str| {
        receipt(
            "Q-1",
            app.clock.now(),
            Some(json!({ "card": card })),
            milk(),
        )
    };

    let (status, blocked) = app
        .post(
            &format!("/v1/customers/{id}/cards/7001 0001/block"),
            &json!({"actor": "olga"}),
        )
        .await;
    assert_eq!(status, 200, "{blocked}");
    assert_eq!(
        card_status(&blocked, "70010001"),
        Some(("plastic".into(), "blocked".into()))
    );
    assert_error(
        &app.post("/v1/receipts/calculate", &quote("70010001")).await,
        409,
        "card_blocked",
    );
    assert_error(
        &app.post("/v1/receipts/commit", &quote("70010001")).await,
        409,
        "card_blocked",
    );
    // Blocking twice changes nothing.
    let (status, _) = app
        .post(
            &format!("/v1/customers/{id}/cards/70010001/block"),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);

    let (status, unblocked) = app
        .post_raw(&format!("/v1/customers/{id}/cards/70010001/unblock"), b"")
        .await;
    assert_eq!(status, 200, "{unblocked}");
    assert_eq!(card_status(&unblocked, "70010001").unwrap().1, "active");
    let (status, calc) = app.post("/v1/receipts/calculate", &quote("70010001")).await;
    assert_eq!(status, 200, "{calc}");

    // Replacing: the old card is refused, the new one reaches the same balance.
    let (status, replaced) = app
        .post(
            &format!("/v1/customers/{id}/cards/70010001/replace"),
            &json!({"new_number": "7001 0009", "actor": "olga"}),
        )
        .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(card_status(&replaced, "70010001").unwrap().1, "replaced");
    assert_eq!(
        card_status(&replaced, "70010009"),
        Some(("plastic".into(), "active".into()))
    );
    assert_eq!(
        replaced["balance"],
        json!({"available": 1000, "pending": 0})
    );
    assert_error(
        &app.post("/v1/receipts/calculate", &quote("70010001")).await,
        409,
        "card_blocked",
    );
    let (status, calc) = app.post("/v1/receipts/calculate", &quote("70010009")).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["customer_id"], id.as_str());
    let mut pay = quote("70010009");
    pay["redeem_points"] = json!(100);
    let (status, paid) = app.post("/v1/receipts/commit", &pay).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["balance"]["available"], 900);
    assert_error(
        &app.post(
            &format!("/v1/customers/{id}/cards/70010001/unblock"),
            &json!({}),
        )
        .await,
        409,
        "card_blocked",
    );
    assert_error(
        &app.post(
            &format!("/v1/customers/{id}/cards/70019999/block"),
            &json!({}),
        )
        .await,
        404,
        "card_not_found",
    );
    let field = assert_error(
        &app.post(
            &format!("/v1/customers/{id}/cards/70010009/replace"),
            &json!({"new_number": "7"}),
        )
        .await,
        422,
        "invalid_card",
    );
    assert_eq!(field.as_deref(), Some("new_number"));
    assert_error(
        &app.post(
            &format!("/v1/customers/{id}/cards/70010009/replace"),
            &json!({"new_number": "70099999"}),
        )
        .await,
        409,
        "card_taken",
    );

    // Adding a family card.
    let (status, added) = app
        .post(
            &format!("/v1/customers/{id}/cards"),
            &json!({"number": "70010010", "type": "family"}),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        card_status(&added, "70010010"),
        Some(("family".into(), "active".into()))
    );
    let (_, calc) = app.post("/v1/receipts/calculate", &quote("70010010")).await;
    assert_eq!(calc["customer_id"], id.as_str());
    assert_error(
        &app.post(
            &format!("/v1/customers/{id}/cards"),
            &json!({"number": "70099999"}),
        )
        .await,
        409,
        "card_taken",
    );
    let field = assert_error(
        &app.post(
            &format!("/v1/customers/{id}/cards"),
            &json!({"number": "70010011", "type": "gold"}),
        )
        .await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("type"));
    let field = assert_error(
        &app.post(
            &format!("/v1/customers/{id}/cards"),
            &json!({"number": "7-0"}),
        )
        .await,
        422,
        "invalid_card",
    );
    assert_eq!(field.as_deref(), Some("number"));

    // Each operation is in the history with its source.
    let (_, full) = app.get(&format!("/v1/customers/{id}?history=true")).await;
    let operations: Vec<&Value> = full["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "card")
        .map(|e| &e["detail"]["operation"])
        .collect();
    assert_eq!(
        operations,
        vec!["block", "unblock", "replace", "add"],
        "{full}"
    );
    assert!(full["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "card")
        .all(|e| e["source"] == "service_desk"));
    let (_, other) = app.get(&format!("/v1/customers/{other}")).await;
    assert_eq!(card_status(&other, "70099999").unwrap().1, "active");
    app.assert_store_ok().await;
}
