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
