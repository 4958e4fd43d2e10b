//! Status levels earned by spend: qualification on commit, promotions for a tier, a
//! return lowering the sum, each downgrade policy over simulated time, the daily job,
//! `set_tier` grants on top, the customer's view and the program setting's validation.

use crate::helpers::*;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

const CARD: &str = "7001000012345";

/// base 0, silver 5000.00, gold 20000.00 of spend.
fn tiers(window_days: Option<u32>, downgrade: Value) -> Value {
    let mut tiers = json!({
        "levels": [{"id": "base", "threshold": 0}, {"id": "silver", "threshold": 500000},
                   {"id": "gold", "threshold": 2000000}],
        "metric": "spend",
        "downgrade": downgrade,
    });
    if let Some(days) = window_days {
        tiers["window_days"] = json!(days);
    }
    tiers
}

fn program_with(tiers: Value) -> Value {
    json!({"currency": "RUB", "point_value": 100, "pending_days": 14, "expiry_days": 365,
           "max_redeem_percent": 50, "tiers": tiers})
}

fn grace(days: u32) -> Value {
    json!({"type": "after_grace_days", "days": days})
}

/// The test chain with these tiers and a customer holding `CARD`.
async fn app_with(tiers: Value) -> (TestApp, String) {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let (status, out) = app.put("/v1/program", &program_with(tiers)).await;
    assert_eq!(status, 200, "{out}");
    let id = app
        .create_customer(json!({"name": "Anna", "cards": [CARD]}))
        .await;
    (app, id)
}

async fn put_promotion(app: &TestApp, id: &str, body: Value) {
    let (status, out) = app.put(&format!("/v1/promotions/{id}"), &body).await;
    assert_eq!(status, 200, "PUT {id}: {out}");
}

/// 5% off dairy for silver customers.
async fn silver5(app: &TestApp) {
    put_promotion(
        app,
        "silver5",
        json!({"name": "Silver: 5% off dairy", "audience": {"tiers": ["silver"]},
               "effects": [{"type": "percent_off", "percent": 5, "items": {"category": ["dairy"]}}]}),
    )
    .await;
}

fn card() -> Option<Value> {
    Some(json!({ "card": CARD }))
}

/// Sneakers at 6000.00 (`qty` pairs) now: 10% off (shoes10), 5400.00 a pair to pay.
fn shoes(receipt_id: &str, at: DateTime<Utc>, qty: u32) -> Value {
    receipt(
        receipt_id,
        at,
        card(),
        json!([{"line": 1, "sku": "SHOE-1", "qty": qty, "price": 600000}]),
    )
}

/// One milk at 100.00.
fn milk(receipt_id: &str, at: DateTime<Utc>) -> Value {
    receipt(
        receipt_id,
        at,
        card(),
        json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]),
    )
}

async fn commit(app: &TestApp, body: &Value) -> Value {
    let (status, out) = app.post("/v1/receipts/commit", body).await;
    assert_eq!(status, 200, "commit: {out}");
    out
}

async fn calculate(app: &TestApp, body: &Value) -> Value {
    let (status, out) = app.post("/v1/receipts/calculate", body).await;
    assert_eq!(status, 200, "calculate: {out}");
    out
}

async fn customer(app: &TestApp, id: &str) -> Value {
    let (status, out) = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(status, 200, "{out}");
    out
}

/// The stored record's tier and evaluation instant.
async fn stored_tier(app: &TestApp, id: &str) -> (String, DateTime<Utc>) {
    let history = app.store.tier_history(id, 365).await.unwrap();
    let record = history.record.expect("a stored tier record");
    (record.state.tier, record.state.evaluated_at)
}

fn days(n: i64) -> DateTime<Utc> {
    t0() + Duration::days(n)
}

#[tokio::test]
async fn spend_qualifies_for_silver_on_commit_and_a_silver_promotion_then_applies() {
    let (app, id) = app_with(tiers(None, grace(30))).await;
    silver5(&app).await;
    let before = customer(&app, &id).await;
    assert_eq!(before["effective_tier"], "base");
    assert_eq!(
        before["earned_tier"],
        json!({"tier": "base", "reached_at": null})
    );
    assert_eq!(
        before["tier_progress"],
        json!({"next_tier": "silver", "value": 0, "threshold": 500000, "remaining": 500000})
    );
    assert!(before.get("tier_reevaluate_at").is_none(), "{before}");

    // Base: no silver price on milk.
    let first = commit(&app, &milk("m1", t0())).await;
    assert_eq!(discount_of(&first, "silver5"), 0);
    assert_eq!(first["totals"]["to_pay"], 10000);
    // 5400.00 more: 5500.00 in the window, silver from this receipt on.
    let big = commit(&app, &shoes("s1", t0(), 1)).await;
    assert_eq!(big["totals"]["to_pay"], 540000);
    assert_eq!(stored_tier(&app, &id).await.0, "silver");

    let quoted = calculate(&app, &milk("m2", t0())).await;
    assert_eq!(discount_of(&quoted, "silver5"), 500);
    let second = commit(&app, &milk("m2", t0())).await;
    assert_eq!(discount_of(&second, "silver5"), 500);
    assert_eq!(second["totals"]["to_pay"], 9500);

    let after = customer(&app, &id).await;
    assert_eq!(after["effective_tier"], "silver");
    assert_eq!(
        after["earned_tier"],
        json!({"tier": "silver", "reached_at": "2026-03-10T09:00:00Z"})
    );
    assert_eq!(
        after["tier_progress"],
        json!({"next_tier": "gold", "value": 559500, "threshold": 2000000, "remaining": 1440500})
    );
    // Everything leaves the 365-day window on 2027-03-10; 30 days of grace follow.
    assert_eq!(after["tier_reevaluate_at"], "2027-04-09T09:00:00Z");
    // No set_tier grant: the grant field stays empty.
    assert_eq!(after["tier"], Value::Null);
    app.assert_store_ok().await;
}

#[tokio::test]
async fn a_return_drops_the_sum_and_the_level_goes_after_the_grace() {
    let (app, id) = app_with(tiers(None, grace(30))).await;
    commit(&app, &shoes("s1", t0(), 1)).await;
    assert_eq!(customer(&app, &id).await["effective_tier"], "silver");

    app.advance_days(1);
    let (status, out) = app
        .post(
            "/v1/receipts/s1/returns",
            &json!({"return_id": "RET-S1", "at": msk(days(1)), "terminal_id": "T1",
                    "lines": [{"line": 1, "qty": 1}]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let returned = customer(&app, &id).await;
    assert_eq!(returned["effective_tier"], "silver", "kept in grace");
    assert_eq!(returned["tier_progress"]["value"], 0);
    assert_eq!(returned["tier_reevaluate_at"], "2026-04-10T09:00:00Z");

    app.advance_days(29);
    assert_eq!(customer(&app, &id).await["effective_tier"], "silver");
    app.advance_days(1);
    let lapsed = customer(&app, &id).await;
    assert_eq!(lapsed["effective_tier"], "base");
    assert_eq!(
        lapsed["earned_tier"],
        json!({"tier": "base", "reached_at": "2026-04-10T09:00:00Z"})
    );
    assert!(lapsed.get("tier_reevaluate_at").is_none(), "{lapsed}");
    // Reading computes the level as of now and writes nothing.
    assert_eq!(stored_tier(&app, &id).await, ("silver".into(), days(1)));
    assert_eq!(
        tessera_server::reevaluate_tiers(&app.state).await.unwrap(),
        1
    );
    assert_eq!(stored_tier(&app, &id).await, ("base".into(), days(31)));
    app.assert_store_ok().await;
}

#[tokio::test]
async fn never_keeps_a_level_reached() {
    let (app, id) = app_with(tiers(None, json!({"type": "never"}))).await;
    commit(&app, &shoes("s1", t0(), 1)).await;
    app.advance_days(400);
    let later = customer(&app, &id).await;
    assert_eq!(later["effective_tier"], "silver");
    assert_eq!(later["tier_progress"]["value"], 0);
    assert!(later.get("tier_reevaluate_at").is_none(), "{later}");
    assert_eq!(
        tessera_server::reevaluate_tiers(&app.state).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn at_period_end_checks_the_sum_only_when_a_period_ends() {
    let policy = json!({"type": "at_period_end", "period_months": 12});
    let (app, id) = app_with(tiers(Some(180), policy)).await;
    commit(&app, &shoes("s1", t0(), 1)).await;
    // The purchase left the 180-day window on day 180; the year ends on 2027-03-10.
    app.advance_days(200);
    let below = customer(&app, &id).await;
    assert_eq!(below["effective_tier"], "silver");
    assert_eq!(below["tier_reevaluate_at"], "2027-03-10T09:00:00Z");
    app.advance_days(166);
    let lapsed = customer(&app, &id).await;
    assert_eq!(lapsed["effective_tier"], "base");
    assert_eq!(lapsed["earned_tier"]["reached_at"], "2027-03-10T09:00:00Z");
}

#[tokio::test]
async fn the_daily_job_downgrades_a_customer_who_does_not_shop() {
    let (app, id) = app_with(tiers(Some(60), grace(30))).await;
    silver5(&app).await;
    commit(&app, &shoes("s1", t0(), 1)).await;
    assert_eq!(
        customer(&app, &id).await["tier_reevaluate_at"],
        "2026-06-08T09:00:00Z"
    );
    app.advance_days(89);
    assert_eq!(
        tessera_server::reevaluate_tiers(&app.state).await.unwrap(),
        0
    );
    assert_eq!(stored_tier(&app, &id).await, ("silver".into(), t0()));
    app.advance_days(1);
    assert_eq!(
        tessera_server::reevaluate_tiers(&app.state).await.unwrap(),
        1
    );
    assert_eq!(stored_tier(&app, &id).await, ("base".into(), days(90)));
    assert_eq!(
        tessera_server::reevaluate_tiers(&app.state).await.unwrap(),
        0
    );
    let quoted = calculate(&app, &milk("m1", days(90))).await;
    assert_eq!(discount_of(&quoted, "silver5"), 0);
}

#[tokio::test]
async fn a_set_tier_grant_lifts_above_the_earned_tier_until_it_ends() {
    let (app, id) = app_with(tiers(None, grace(30))).await;
    put_promotion(
        &app,
        "gold-up",
        json!({"name": "Gold for a month", "conditions": {"min_amount": 1000000},
               "effects": [{"type": "set_tier", "tier": "gold", "days": 30}]}),
    )
    .await;
    put_promotion(
        &app,
        "tier-prices",
        json!({"name": "Dairy by tier", "effects": [{"type": "discount_matrix", "rows": "tier",
               "columns": "category", "percent": {"silver": {"dairy": 5}, "gold": {"dairy": 15}}}]}),
    )
    .await;
    commit(&app, &shoes("s1", t0(), 1)).await;
    assert_eq!(
        discount_of(&calculate(&app, &milk("m1", t0())).await, "tier-prices"),
        500
    );
    // Two pairs: 12000.00 before discounts, gold for 30 days; 16200.00 earned: silver.
    commit(&app, &shoes("s2", t0(), 2)).await;
    let lifted = customer(&app, &id).await;
    assert_eq!(lifted["effective_tier"], "gold");
    assert_eq!(lifted["earned_tier"]["tier"], "silver");
    assert_eq!(lifted["tier"]["tier"], "gold");
    assert_eq!(
        discount_of(&calculate(&app, &milk("m1", t0())).await, "tier-prices"),
        1500
    );
    let gold = commit(&app, &milk("m1", t0())).await;
    assert_eq!(discount_of(&gold, "tier-prices"), 1500);
    app.advance_days(30);
    let ended = customer(&app, &id).await;
    assert_eq!(ended["effective_tier"], "silver");
    assert_eq!(
        discount_of(&calculate(&app, &milk("m2", days(30))).await, "tier-prices"),
        500
    );
}

#[tokio::test]
async fn the_tier_setting_is_shown_and_validated_with_field_paths() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let (status, out) = app.get("/v1/program").await;
    assert_eq!(status, 200);
    assert!(out.get("tiers").is_none(), "no tiers by default: {out}");

    let (status, out) = app
        .put("/v1/program", &program_with(tiers(None, grace(30))))
        .await;
    assert_eq!(status, 200, "{out}");
    let (_, out) = app.get("/v1/program").await;
    assert_eq!(
        out["tiers"],
        json!({"levels": [{"id": "base", "threshold": 0}, {"id": "silver", "threshold": 500000},
                          {"id": "gold", "threshold": 2000000}],
               "metric": "spend", "window_days": 365,
               "downgrade": {"type": "after_grace_days", "days": 30}})
    );

    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut equal = tiers(None, grace(30));
    equal["levels"][2]["threshold"] = json!(500000);
    cases.push((equal, "tiers.levels[2].threshold"));
    let mut lowest = tiers(None, grace(30));
    lowest["levels"][0]["threshold"] = json!(100);
    cases.push((lowest, "tiers.levels[0].threshold"));
    let mut twice = tiers(None, grace(30));
    twice["levels"][1]["id"] = json!("base");
    cases.push((twice, "tiers.levels[1].id"));
    cases.push((tiers(Some(0), grace(30)), "tiers.window_days"));
    cases.push((
        tiers(None, json!({"type": "at_period_end", "period_months": 0})),
        "tiers.downgrade.period_months",
    ));
    let mut metric = tiers(None, grace(30));
    metric["metric"] = json!("visits");
    cases.push((metric, "tiers.metric"));
    for (bad, field) in cases {
        let response = app.put("/v1/program", &program_with(bad)).await;
        let named = assert_error(&response, 422, "invalid_field");
        assert_eq!(named.as_deref(), Some(field), "{}", response.1);
    }
    // The refused settings left the program as it was.
    let (_, out) = app.get("/v1/program").await;
    assert_eq!(out["tiers"]["levels"][2]["threshold"], 2000000);
}

#[tokio::test]
async fn a_merge_counts_the_absorbed_customers_spend_and_an_unmerge_gives_it_back() {
    let (app, anna) = app_with(tiers(None, grace(30))).await;
    let twin = app
        .create_customer(json!({"name": "Anna Twin", "cards": ["7001000099999"]}))
        .await;
    // 2,700.00 each: neither reaches silver (5,000.00) alone.
    let mut first = shoes("m-1", t0(), 1);
    first["lines"][0]["price"] = json!(300000);
    commit(&app, &first).await;
    let mut second = receipt(
        "m-2",
        t0(),
        Some(json!({"card": "7001000099999"})),
        json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 300000}]),
    );
    second["terminal_id"] = json!("T2");
    commit(&app, &second).await;
    assert_eq!(customer(&app, &anna).await["effective_tier"], "base");
    let (status, out) = app
        .post(
            &format!("/v1/customers/{anna}/merge"),
            &json!({"customer_id": twin}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(customer(&app, &anna).await["effective_tier"], "silver");
    // The next receipt is priced and stored with the merged sum.
    commit(&app, &milk("m-3", t0() + Duration::minutes(5))).await;
    assert_eq!(stored_tier(&app, &anna).await.0, "silver");
    let (status, out) = app
        .post(&format!("/v1/customers/{twin}/unmerge"), &json!({}))
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(customer(&app, &twin).await["earned_tier"]["tier"], "base");
    let view = customer(&app, &anna).await;
    // Silver was reached and holds through the grace period; the sum is Anna's own.
    assert_eq!(view["tier_progress"]["value"], 280000, "{view}");
}
