//! A commit reuses the calculation of its receipt only when it reads the same inputs
//! inside its transaction (`tessera_store::quote`): a balance, a budget or a setting
//! that changed in between is priced again, and a reused answer is the one pricing
//! would have given.

use crate::helpers::*;
use serde_json::{json, Value};

fn without_id(mut body: Value) -> Value {
    body.as_object_mut().unwrap().remove("receipt_id");
    body
}

#[tokio::test]
async fn a_calculated_commit_answers_as_a_commit_priced_from_scratch() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let lines = json!([
        {"line": 1, "sku": "SHOE-1", "qty": 2, "price": 299000},
        {"line": 2, "sku": "MILK-1", "qty": 1, "price": 8990}
    ]);
    // Anonymous receipts, so that the first commit changes nothing the second reads.
    let first = receipt("q-calc", t0(), None, lines.clone());
    let (status, calc) = app.post("/v1/receipts/calculate", &first).await;
    assert_eq!(status, 200, "{calc}");
    let (status, reused) = app.post("/v1/receipts/commit", &first).await;
    assert_eq!(status, 200, "{reused}");
    let (status, fresh) = app
        .post(
            "/v1/receipts/commit",
            &receipt("q-fresh", t0(), None, lines),
        )
        .await;
    assert_eq!(status, 200, "{fresh}");
    assert_eq!(without_id(reused.clone()), without_id(fresh));
    assert_eq!(reused["totals"], calc["totals"]);
    assert_eq!(discount_of(&reused, "shoes10"), 59800);
}

#[tokio::test]
async fn a_budget_used_up_after_the_calculation_is_seen_by_the_commit() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    put_dairy_budget(&app).await;
    let lines = json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]);
    let late = receipt("late", t0(), None, lines.clone());
    let (status, calc) = app.post("/v1/receipts/calculate", &late).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(discount_of(&calc, "budget"), 1000);
    // Two other receipts take 20.00 of the budget before this one is committed.
    for id in ["early-1", "early-2"] {
        let (status, body) = app
            .post(
                "/v1/receipts/commit",
                &receipt(id, t0(), None, lines.clone()),
            )
            .await;
        assert_eq!(
            (status, discount_of(&body, "budget")),
            (200, 1000),
            "{body}"
        );
    }
    let (status, committed) = app.post("/v1/receipts/commit", &late).await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(
        discount_of(&committed, "budget"),
        0,
        "the calculation's 10.00 no longer fits in the 5.00 left: {committed}"
    );
    assert_eq!(committed["totals"]["to_pay"], 10000);
    // With the quoted price expected, the till hears that it changed.
    let mut expecting = receipt("late-2", t0(), None, lines);
    let (_, calc) = app.post("/v1/receipts/calculate", &expecting).await;
    assert_eq!(discount_of(&calc, "budget"), 0);
    expecting["expect"] = json!({"to_pay": 10000});
    assert_eq!(app.post("/v1/receipts/commit", &expecting).await.0, 200);
    app.assert_store_ok().await;
}

#[tokio::test]
async fn points_spent_by_another_till_after_the_calculation_are_not_spent_twice() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let (status, out) = app
        .put(
            "/v1/program",
            &json!({"currency":"RUB","point_value":100,"pending_days":0,"expiry_days":365,"max_redeem_percent":50}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let customer = app
        .create_customer(json!({"name": "Boris", "cards": ["7002"]}))
        .await;
    let (status, out) = app
        .post(
            &format!("/v1/customers/{customer}/adjustments"),
            &json!({"idempotency_key": "q-1", "points": 300, "reason": "goodwill"}),
        )
        .await;
    assert_eq!(status, 201, "{out}");
    let spend = |id: &str| {
        let mut body = receipt(
            id,
            t0(),
            Some(json!({"card": "7002"})),
            json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 100000}]),
        );
        body["redeem_points"] = json!("max");
        body
    };
    let (status, calc) = app.post("/v1/receipts/calculate", &spend("till-a")).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["rewards"]["points_redeemed"], 300, "{calc}");
    // Another till spends the same points first.
    let (status, other) = app.post("/v1/receipts/commit", &spend("till-b")).await;
    assert_eq!(
        (status, &other["rewards"]["points_redeemed"]),
        (200, &json!(300)),
        "{other}"
    );
    // What is left is only what that receipt earned (points mature at once here).
    let left = other["balance"]["available"].as_i64().unwrap();
    assert!(left < 300, "{other}");
    let (status, committed) = app.post("/v1/receipts/commit", &spend("till-a")).await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(committed["rewards"]["points_redeemed"], left, "{committed}");
    app.assert_store_ok().await;
}

#[tokio::test]
async fn a_profile_completed_promotion_is_priced_alike_by_calculate_and_commit() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let completed = json!({"name": "Questionnaire", "priority": 100,
        "audience": {"profile_completed": true},
        "effects": [{"type": "amount_off", "amount": 500}]});
    assert_eq!(app.put("/v1/promotions/completed", &completed).await.0, 200);
    app.create_customer(json!({"name": "Vera", "email": "vera@example.com", "cards": ["7003"]}))
        .await;
    let body = |id: &str| {
        receipt(
            id,
            t0(),
            Some(json!({"card": "7003"})),
            json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]),
        )
    };
    // No required fields: there is no questionnaire to complete, for both.
    let (_, calc) = app.post("/v1/receipts/calculate", &body("p1")).await;
    let (_, committed) = app.post("/v1/receipts/commit", &body("p1")).await;
    assert_eq!(
        (
            discount_of(&calc, "completed"),
            discount_of(&committed, "completed")
        ),
        (0, 0),
        "{calc} {committed}"
    );
    // With an email required and given, both apply it.
    let (status, out) = app
        .put(
            "/v1/program",
            &json!({"currency":"RUB","point_value":100,"pending_days":14,"expiry_days":365,"max_redeem_percent":50,
                "required_fields": [{"field": "email"}]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let (_, calc) = app.post("/v1/receipts/calculate", &body("p2")).await;
    let (_, committed) = app.post("/v1/receipts/commit", &body("p2")).await;
    assert_eq!(
        (
            discount_of(&calc, "completed"),
            discount_of(&committed, "completed")
        ),
        (500, 500),
        "{calc} {committed}"
    );
}

/// Two receipts of a customer with no purchases are calculated as first purchases;
/// once the first is committed, the second is not one any more, even when the first
/// left the customer's points as they were (no promotion earns here).
#[tokio::test]
async fn a_first_purchase_committed_after_the_calculation_is_seen_by_the_commit() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let off = json!({"name":"5% back in points","enabled":false,"effects":[{"type":"earn_points","percent":5}]});
    assert_eq!(app.put("/v1/promotions/earn5", &off).await.0, 200);
    let welcome = json!({"name": "Welcome", "priority": 100, "audience": {"first_purchase": true},
        "effects": [{"type": "percent_off", "percent": 20}]});
    assert_eq!(app.put("/v1/promotions/welcome", &welcome).await.0, 200);
    app.create_customer(json!({"cards": ["5550001"]})).await;
    let lines = json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]);
    let body = |id: &str| receipt(id, t0(), Some(json!({"card": "5550001"})), lines.clone());
    for id in ["w1", "w2"] {
        let (status, calc) = app.post("/v1/receipts/calculate", &body(id)).await;
        assert_eq!(status, 200, "{calc}");
        assert_eq!(discount_of(&calc, "welcome"), 2000, "{calc}");
    }
    let (status, first) = app.post("/v1/receipts/commit", &body("w1")).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(discount_of(&first, "welcome"), 2000, "{first}");
    assert_eq!(first["rewards"]["points_earned"], 0, "{first}");
    let (status, second) = app.post("/v1/receipts/commit", &body("w2")).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(discount_of(&second, "welcome"), 0, "{second}");
    app.assert_store_ok().await;
}

#[tokio::test]
async fn a_card_blocked_after_the_calculation_is_refused_by_the_commit() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let customer = app
        .create_customer(json!({"name": "Vera", "cards": ["7003"]}))
        .await;
    let (status, out) = app
        .post(
            &format!("/v1/customers/{customer}/adjustments"),
            &json!({"idempotency_key": "q-3", "points": 300, "reason": "goodwill"}),
        )
        .await;
    assert_eq!(status, 201, "{out}");
    let body = receipt(
        "blocked-after",
        t0(),
        Some(json!({"card": "7003"})),
        json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 100000}]),
    );
    let (status, calc) = app.post("/v1/receipts/calculate", &body).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["customer_id"], json!(customer), "{calc}");
    // The service desk blocks the card before the till commits: the account's version
    // is unchanged, but the card no longer names a usable customer.
    let (status, blocked) = app
        .post(
            &format!("/v1/customers/{customer}/cards/7003/block"),
            &json!({"actor": "olga"}),
        )
        .await;
    assert_eq!(status, 200, "{blocked}");
    assert_error(
        &app.post("/v1/receipts/commit", &body).await,
        409,
        "card_blocked",
    );
    app.assert_store_ok().await;
}
