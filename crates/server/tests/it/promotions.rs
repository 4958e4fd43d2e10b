//! The rule language over HTTP: stacking modes, scope, weekly schedules in store-local
//! time, `amount_off`, and the reasons candidates did not apply.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn blocking_promotions_scope_and_hours_over_http() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    // Moscow flagship only, Tuesdays 11:00-13:00 local, 50.00 off, blocking.
    let lunch = json!({"name": "Lunch deal", "priority": 100, "stacking": "blocking",
        "schedule": {"weekdays": ["tue"], "hours": [["11:00", "13:00"]]},
        "scope": {"store_tags": ["flagship"]},
        "effects": [{"type": "amount_off", "amount": 5000}]});
    let (status, stored) = app.put("/v1/promotions/lunch", &lunch).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["stacking"], "blocking");
    assert_eq!(stored["schedule"]["hours"], json!([["11:00", "13:00"]]));
    let (_, fetched) = app.get("/v1/promotions/lunch").await;
    assert_eq!(fetched["scope"]["store_tags"], json!(["flagship"]));

    // t0 is Tuesday 2026-03-10 12:00 in Moscow: the lunch deal applies and blocks the
    // 10% on shoes (priority 10) and the 5% earning.
    let lines = json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 100000}]);
    let (status, calc) = app
        .post(
            "/v1/receipts/calculate",
            &receipt("p1", t0(), None, lines.clone()),
        )
        .await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["totals"]["discount"], 5000);
    assert_eq!(calc["promotions"][0]["promotion_id"], "lunch");
    let reasons: Vec<(String, String)> = calc["not_applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["promotion_id"].as_str().unwrap().to_string(),
                n["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let blocked = |id: &str| (id.to_string(), "blocked_by".to_string());
    assert_eq!(reasons, vec![blocked("shoes10"), blocked("earn5")]);

    // Two hours earlier it had not begun: the 10% on shoes applies; an anonymous receipt
    // earns nothing, so the earning promotion had no effect.
    let earlier = t0() - chrono::Duration::hours(2);
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &receipt("p2", earlier, None, lines.clone()),
        )
        .await;
    assert_eq!(calc["totals"]["discount"], 10000);
    assert_eq!(
        calc["not_applied"],
        json!([{"promotion_id": "earn5", "reason": "no_effect", "by": null}])
    );

    // Vladivostok is not a flagship store: out of scope at any hour.
    let mut in_vvo = receipt("p3", t0(), None, lines);
    in_vvo["store_id"] = json!("vvo-1");
    let (_, calc) = app.post("/v1/receipts/calculate", &in_vvo).await;
    assert_eq!(calc["totals"]["discount"], 10000);

    // Bad rule language is refused with the field named.
    let bad = json!({"name": "x", "schedule": {"hours": [["25:00", "26:00"]]}, "effects": [{"type": "amount_off", "amount": 100}]});
    let field = assert_error(
        &app.put("/v1/promotions/bad", &bad).await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("schedule.hours[0][0]"));
    let bad = json!({"name": "x", "stacking": "sometimes", "effects": [{"type": "amount_off", "amount": 100}]});
    let field = assert_error(
        &app.put("/v1/promotions/bad", &bad).await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("stacking"));
    let bad = json!({"name": "x", "effects": [{"type": "amount_off", "amount": 0}]});
    let field = assert_error(
        &app.put("/v1/promotions/bad", &bad).await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("effects[0].amount"));
    app.assert_store_ok().await;
}

#[tokio::test]
async fn preview_prices_a_receipt_with_a_draft_and_stores_nothing() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let lines = json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 100000}]);
    let draft = json!({"name": "Draft: shoes -30%, blocking", "enabled": false, "priority": 50, "stacking": "blocking",
        "effects": [{"type": "percent_off", "percent": 30, "items": {"category": ["shoes"]}}]});
    let body = json!({"promotion_id": "draft-shoes", "promotion": draft, "receipt": receipt("pv1", t0(), None, lines.clone())});
    let (status, calc) = app.post("/v1/promotions/preview", &body).await;
    assert_eq!(status, 200, "{calc}");
    // The draft (priority 50) applies before the live 10% on shoes (priority 10) and blocks it.
    assert_eq!(calc["totals"]["discount"], 30000);
    assert_eq!(calc["promotions"][0]["promotion_id"], "draft-shoes");
    assert_eq!(calc["not_applied"][0]["reason"], "blocked_by");
    assert_error(
        &app.get("/v1/promotions/draft-shoes").await,
        404,
        "promotion_not_found",
    );
    // The live calculation is unchanged.
    let (_, live) = app
        .post(
            "/v1/receipts/calculate",
            &receipt("pv2", t0(), None, lines.clone()),
        )
        .await;
    assert_eq!(live["totals"]["discount"], 10000);
    // A draft replacing a live promotion of the same id.
    let replace = json!({"promotion_id": "shoes10", "promotion": {"name": "shoes 20", "priority": 10,
        "effects": [{"type": "percent_off", "percent": 20, "items": {"category": ["shoes"]}}]}, "receipt": receipt("pv3", t0(), None, lines.clone())});
    let (_, calc) = app.post("/v1/promotions/preview", &replace).await;
    assert_eq!(calc["totals"]["discount"], 20000);
    // Errors name the field inside the draft or the receipt.
    let bad = json!({"promotion": {"name": "x", "effects": [{"type": "percent_off", "percent": 120}]}, "receipt": receipt("pv4", t0(), None, lines.clone())});
    let field = assert_error(
        &app.post("/v1/promotions/preview", &bad).await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("promotion.effects[0].percent"));
    let mut bad_receipt = receipt("pv5", t0(), None, lines);
    bad_receipt["store_id"] = json!("nowhere");
    let bad = json!({"promotion": {"name": "x", "effects": [{"type": "percent_off", "percent": 5}]}, "receipt": bad_receipt});
    let field = assert_error(
        &app.post("/v1/promotions/preview", &bad).await,
        422,
        "unknown_store",
    );
    assert_eq!(field.as_deref(), Some("receipt.store_id"));
}

#[tokio::test]
async fn a_welcome_discount_applies_to_the_first_purchase_only() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let welcome = json!({"name": "Welcome: 20% off the first purchase", "priority": 100, "audience": {"first_purchase": true},
        "effects": [{"type": "percent_off", "percent": 20}]});
    assert_eq!(app.put("/v1/promotions/welcome", &welcome).await.0, 200);
    let lines = json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]);
    let welcomed = |calc: &serde_json::Value| {
        calc["promotions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["promotion_id"] == "welcome")
    };

    // A registered customer without receipts, then after their first commit.
    app.create_customer(json!({"cards": ["5550001"]})).await;
    let card = json!({"card": "5550001"});
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &receipt("w1", t0(), Some(card.clone()), lines.clone()),
        )
        .await;
    assert!(welcomed(&calc), "{calc}");
    let (status, committed) = app
        .post(
            "/v1/receipts/commit",
            &receipt("w1", t0(), Some(card.clone()), lines.clone()),
        )
        .await;
    assert_eq!(status, 200, "{committed}");
    assert!(welcomed(&committed));
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &receipt("w2", t0(), Some(card), lines.clone()),
        )
        .await;
    assert!(
        !welcomed(&calc),
        "the second purchase is not a first one: {calc}"
    );

    // A new card at the till is a first purchase; anonymous receipts never are.
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &receipt("w3", t0(), Some(json!({"card": "5559999"})), lines.clone()),
        )
        .await;
    assert!(welcomed(&calc));
    let (_, calc) = app
        .post("/v1/receipts/calculate", &receipt("w4", t0(), None, lines))
        .await;
    assert!(!welcomed(&calc));
}

#[tokio::test]
async fn limits_and_budgets_hold_under_concurrent_commits_and_cancels_release_them() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    // 30.00 off, at most 3 uses in all and once per customer.
    let limited = json!({"name": "First three win", "priority": 100, "limits": {"total_uses": 3, "per_customer": 1},
        "effects": [{"type": "amount_off", "amount": 3000}]});
    let (status, stored) = app.put("/v1/promotions/first3", &limited).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        stored["limits"],
        json!({"total_uses": 3, "per_customer": 1})
    );
    let lines = json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]);
    let got_it = |body: &serde_json::Value| {
        body["promotions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["promotion_id"] == "first3")
    };

    // 12 tills commit at once for 12 different new members: exactly 3 get the discount.
    let bodies = (0..12)
        .map(|n| {
            receipt(
                &format!("l{n}"),
                t0(),
                Some(json!({"card": format!("66600{n:02}")})),
                lines.clone(),
            )
        })
        .collect();
    let mut winners = Vec::new();
    for (status, body) in app.commit_concurrently(bodies).await {
        assert_eq!(status, 200, "{body}");
        if got_it(&body) {
            winners.push(body["receipt_id"].as_str().unwrap().to_string());
        } else {
            assert!(
                body["not_applied"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n["promotion_id"] == "first3" && n["reason"] == "limit_reached"),
                "{body}"
            );
        }
    }
    assert_eq!(winners.len(), 3, "exactly the limit: {winners:?}");

    // The next calculation says why; a cancel of a winner releases one use.
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &receipt(
                "l-next",
                t0(),
                Some(json!({"card": "6669999"})),
                lines.clone(),
            ),
        )
        .await;
    assert!(!got_it(&calc));
    assert_eq!(calc["not_applied"][0]["reason"], "limit_reached");
    let (status, _) = app
        .post(&format!("/v1/receipts/{}/cancel", winners[0]), &json!({}))
        .await;
    assert_eq!(status, 200);
    let (_, committed) = app
        .post(
            "/v1/receipts/commit",
            &receipt(
                "l-next",
                t0(),
                Some(json!({"card": "6669999"})),
                lines.clone(),
            ),
        )
        .await;
    assert!(
        got_it(&committed),
        "the released use is taken again: {committed}"
    );
    // The same customer again: once per customer.
    let (_, again) = app
        .post(
            "/v1/receipts/calculate",
            &receipt("l-again", t0(), Some(json!({"card": "6669999"})), lines),
        )
        .await;
    assert!(!got_it(&again));
    app.assert_store_ok().await;
}

#[tokio::test]
async fn a_budget_is_never_exceeded() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    put_dairy_budget(&app).await;
    let lines = json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]);
    let mut given = 0;
    for n in 0..5 {
        let (status, body) = app
            .post(
                "/v1/receipts/commit",
                &receipt(&format!("b{n}"), t0(), None, lines.clone()),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        given += body["promotions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["promotion_id"] == "budget")
            .map(|p| p["discount"].as_i64().unwrap())
            .sum::<i64>();
    }
    assert_eq!(
        given, 2000,
        "two receipts of 10.00 fit in 25.00; a third would exceed it"
    );
}

#[tokio::test]
async fn a_public_coupon_code_unlocks_its_promotion() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let coupon = json!({"name": "Code SPRING10", "priority": 100, "conditions": {"coupon": "spring10"},
        "effects": [{"type": "amount_off", "amount": 1000}]});
    let (status, stored) = app.put("/v1/promotions/spring", &coupon).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["conditions"]["coupon"], "SPRING10");
    let lines = json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]);
    let mut body = receipt("c1", t0(), None, lines.clone());
    body["coupons"] = json!(["Spring10", "BOGUS"]);
    let (status, calc) = app.post("/v1/receipts/commit", &body).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["totals"]["discount"], 1000);
    assert_eq!(
        calc["coupons"],
        json!([{"code": "SPRING10", "status": "applied"}, {"code": "BOGUS", "status": "rejected", "reason": "unknown"}])
    );
    let (_, without) = app
        .post("/v1/receipts/calculate", &receipt("c2", t0(), None, lines))
        .await;
    assert_eq!(without["totals"]["discount"], 0);
    let series = json!({"name": "x", "conditions": {"coupon": {"series": 5}}, "effects": [{"type": "amount_off", "amount": 1}]});
    let field = assert_error(
        &app.put("/v1/promotions/series", &series).await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("conditions.coupon.series"));
    let mut bad = receipt(
        "c3",
        t0(),
        None,
        json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]),
    );
    bad["coupons"] = json!(["no spaces allowed"]);
    let field = assert_error(
        &app.post("/v1/receipts/calculate", &bad).await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("coupons[0]"));
}
