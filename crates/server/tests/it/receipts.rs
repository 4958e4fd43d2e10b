//! The POS flow: calculate, commit, redeem, return, cancel, and the ledger behind it.

use crate::helpers::{
    assert_error, customer_sums, half_even, kinds, msk, receipt, setup_chain, spawn_app, t0, utc,
    TestApp,
};
use chrono::Duration;
use serde_json::{json, Value};

/// Receipt A of card 7001000012345: two pairs of shoes (10% off), milk and 0.532 kg
/// of apples.
pub fn receipt_a() -> Value {
    receipt(
        "R-A",
        t0(),
        Some(json!({"card":"7001000012345"})),
        json!([
            {"line":1,"sku":"SHOE-1","qty":2,"price":299000},
            {"line":2,"sku":"MILK-1","qty":1,"price":8990},
            {"line":3,"sku":"APPLE-KG","qty":0.532,"price":15990}
        ]),
    )
}

/// Hand-computed pricing of receipt A:
/// amounts 598000, 8990, round_half_even(15990 * 0.532 = 8506.68) = 8507; shoes 10% =
/// 59800; to pay 555697; earn floor(555697 * 5% / 100) = 277 points, split by largest
/// remainder over 538200 / 8990 / 8507 as 268 / 5 / 4.
fn expected_a_lines() -> Value {
    json!([
        {"line":1,"sku":"SHOE-1","qty":2,"price":299000,"amount":598000,"discount":59800,"points_paid":0,"points_redeemed":0,"certificate_paid":0,"total":538200,"points_earned":268,"promotions":["shoes10","earn5"]},
        {"line":2,"sku":"MILK-1","qty":1,"price":8990,"amount":8990,"discount":0,"points_paid":0,"points_redeemed":0,"certificate_paid":0,"total":8990,"points_earned":5,"promotions":["earn5"]},
        {"line":3,"sku":"APPLE-KG","qty":0.532,"price":15990,"amount":8507,"discount":0,"points_paid":0,"points_redeemed":0,"certificate_paid":0,"total":8507,"points_earned":4,"promotions":["earn5"]}
    ])
}

fn assert_lines_sum_to_totals(calc: &Value) {
    let lines = calc["lines"].as_array().unwrap();
    let sum = |key: &str| lines.iter().map(|l| l[key].as_i64().unwrap()).sum::<i64>();
    for line in lines {
        let l = |k: &str| line[k].as_i64().unwrap();
        assert_eq!(
            l("amount") - l("discount") - l("points_paid"),
            l("total"),
            "{line}"
        );
    }
    assert_eq!(sum("amount"), calc["totals"]["amount"].as_i64().unwrap());
    assert_eq!(
        sum("discount"),
        calc["totals"]["discount"].as_i64().unwrap()
    );
    assert_eq!(
        sum("points_paid"),
        calc["totals"]["points_value"].as_i64().unwrap()
    );
    assert_eq!(sum("total"), calc["totals"]["to_pay"].as_i64().unwrap());
    assert_eq!(
        sum("points_earned"),
        calc["rewards"]["points_earned"].as_i64().unwrap()
    );
    assert_eq!(
        sum("points_redeemed"),
        calc["rewards"]["points_redeemed"].as_i64().unwrap()
    );
}

async fn app_with_customer(card: &str) -> (TestApp, String) {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let id = app
        .create_customer(json!({"name":"Anna","cards":[card]}))
        .await;
    (app, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calculate_prices_exactly_and_writes_nothing() {
    let (app, c1) = app_with_customer("7001000012345").await;

    let (status, calc) = app.post("/v1/receipts/calculate", &receipt_a()).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["receipt_id"], "R-A");
    assert_eq!(calc["status"], "calculated");
    assert!(calc.get("version").is_none(), "{calc}");
    assert_eq!(calc["customer_id"], c1.as_str());
    assert_eq!(calc["new_member"], false);
    assert_eq!(calc["lines"], expected_a_lines());
    assert_eq!(
        calc["totals"],
        json!({"amount":615497,"discount":59800,"points_value":0,"certificates":0,"to_pay":555697})
    );
    assert_eq!(
        calc["rewards"],
        json!({"points_earned":277,"points_redeemed":0,"points_value":0,"bonus_points":0,"coupons_issued":[],"certificates_issued":[],"tier":null,"entitlements":[]})
    );
    assert_eq!(
        calc["promotions"],
        json!([
            {"promotion_id":"shoes10","name":"10% off shoes","effect":"percent_off","discount":59800,"points":0},
            {"promotion_id":"earn5","name":"5% back in points","effect":"earn_points","discount":0,"points":277}
        ])
    );
    assert_eq!(calc["balance"], json!({"available":0,"pending":277}));
    assert_lines_sum_to_totals(&calc);

    // Nothing was written.
    assert_eq!(app.ledger(&c1).await.len(), 0);
    assert_eq!(app.balance(&c1).await, (0, 0));
    assert_error(&app.get("/v1/receipts/R-A").await, 404, "receipt_not_found");
    let (status, again) = app.post("/v1/receipts/calculate", &receipt_a()).await;
    assert_eq!(status, 200);
    assert_eq!(again, calc);

    // Without a customer: no points, no balance; an unknown SKU is priced as sent and
    // is not shoes.
    let body = receipt(
        "R-ANON",
        t0(),
        None,
        json!([{"line":7,"sku":"UNKNOWN-9","qty":3,"price":1234},{"line":8,"sku":"SHOE-1","qty":1,"price":1005}]),
    );
    let (status, calc) = app.post("/v1/receipts/calculate", &body).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["customer_id"], Value::Null);
    assert_eq!(calc["balance"], Value::Null);
    assert_eq!(calc["lines"][0]["amount"], 3702);
    assert_eq!(calc["lines"][0]["discount"], 0);
    assert_eq!(calc["lines"][0]["promotions"], json!([]));
    // 10% of 1005 = 100.5, half to even = 100.
    assert_eq!(calc["lines"][1]["discount"], 100);
    assert_eq!(
        calc["totals"],
        json!({"amount":4707,"discount":100,"points_value":0,"certificates":0,"to_pay":4607})
    );
    assert_eq!(calc["rewards"]["points_earned"], 0);
    assert_lines_sum_to_totals(&calc);

    // An unknown card is a future member: priced, no customer id yet.
    let mut body = receipt_a();
    body["customer"] = json!({"card":"9999 0000 1111"});
    let (status, calc) = app.post("/v1/receipts/calculate", &body).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["customer_id"], Value::Null);
    assert_eq!(calc["rewards"]["points_earned"], 277);
    assert!(
        calc["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("999900001111")),
        "{calc}"
    );
    assert_error(
        &app.get("/v1/customers/cus_00000000000000000000000000")
            .await,
        404,
        "customer_not_found",
    );

    // An unknown phone is an error.
    body["customer"] = json!({"phone":"+7 900 000 00 00"});
    let field = assert_error(
        &app.post("/v1/receipts/calculate", &body).await,
        422,
        "unknown_customer",
    );
    assert_eq!(field.as_deref(), Some("customer.phone"));
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_earns_pending_points_and_retries_are_exact() {
    let (app, c1) = app_with_customer("7001000012345").await;
    let (_, calc) = app.post("/v1/receipts/calculate", &receipt_a()).await;

    let (status, bytes) = app.post_bytes("/v1/receipts/commit", &receipt_a()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let committed: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(committed["status"], "committed");
    assert_eq!(committed["version"], 1);
    let mut expected = calc.clone();
    expected["status"] = json!("committed");
    expected["version"] = json!(1);
    assert_eq!(
        committed, expected,
        "a commit prices exactly like its calculation"
    );

    // Earned points are pending for 14 days, then available (until 365 days later).
    assert_eq!(app.balance(&c1).await, (0, 277));
    let later = t0() + Duration::days(15);
    let (status, projected) = app
        .get(&format!("/v1/customers/{c1}/balance?at={}", utc(later)))
        .await;
    assert_eq!(status, 200, "{projected}");
    assert_eq!(
        projected,
        json!({"customer_id": c1, "at": "2026-03-25T09:00:00Z", "available": 277, "pending": 0,
               "expiring": [{"points": 277, "at": "2027-03-24T09:00:00Z"}]})
    );
    let (_, customer) = app.get(&format!("/v1/customers/{c1}")).await;
    assert_eq!(customer["balance"], json!({"available":0,"pending":277}));

    let entries = app.ledger(&c1).await;
    assert_eq!(entries.len(), 1);
    let earn = &entries[0];
    assert_eq!(
        (
            &earn["kind"],
            &earn["debit"],
            &earn["credit"],
            &earn["amount"],
            &earn["lot_id"],
            &earn["receipt_id"]
        ),
        (
            &json!("earn"),
            &json!("issued"),
            &json!("customer_pending"),
            &json!(277),
            &json!("R-A:earn"),
            &json!("R-A")
        )
    );

    // An exact retry answers the stored bytes and writes nothing, even later.
    app.clock.advance(Duration::hours(2));
    let (status, retry) = app.post_bytes("/v1/receipts/commit", &receipt_a()).await;
    assert_eq!(status, 200);
    assert_eq!(retry, bytes, "retry must be byte-identical");
    assert_eq!(app.ledger(&c1).await.len(), 1);

    // A retry that no longer passes validation still gets its answer: here the
    // server's clock was set back, so the receipt's `at` is now too far ahead of it.
    app.clock.advance(Duration::hours(-3));
    let (status, retry) = app.post_bytes("/v1/receipts/commit", &receipt_a()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&retry));
    assert_eq!(retry, bytes, "retry must be byte-identical");
    let mut fresh = receipt_a();
    fresh["receipt_id"] = json!("R-A-2");
    assert_error(
        &app.post("/v1/receipts/commit", &fresh).await,
        422,
        "at_in_future",
    );
    app.clock.advance(Duration::hours(3));

    // The same receipt id with another body is a conflict.
    let mut other = receipt_a();
    other["lines"][1]["qty"] = json!(2);
    assert_error(
        &app.post("/v1/receipts/commit", &other).await,
        409,
        "receipt_conflict",
    );
    assert_eq!(app.ledger(&c1).await.len(), 1);

    let (status, stored) = app.get("/v1/receipts/R-A").await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["status"], "committed");
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["customer_id"], c1.as_str());
    assert_eq!(stored["store_id"], "msk-1");
    assert_eq!(stored["terminal_id"], "T1");
    assert_eq!(stored["totals"], committed["totals"]);
    assert_eq!(stored["points_earned"], 277);
    assert_eq!(stored["lines"][2]["amount"], 8507);
    assert_eq!(stored["lines"][2]["returned_qty"], 0);
    let versions = stored["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["kind"], "commit");
    assert_eq!(versions[0]["op_id"], "commit/R-A");
    assert_eq!(versions[0]["terminal_id"], "T1");
    assert_eq!(versions[0]["recorded_at"], "2026-03-10T09:00:00Z");
    assert_eq!(versions[0]["response"], committed);
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quote_changed_writes_nothing() {
    let (app, c1) = app_with_customer("7001000012345").await;
    let mut body = receipt_a();
    body["expect"] = json!({"to_pay": 555000});
    let (status, out) = app.post("/v1/receipts/commit", &body).await;
    assert_eq!(status, 409, "{out}");
    assert_eq!(out["error"]["code"], "quote_changed");
    assert!(
        out["error"]["message"].as_str().unwrap().contains("555697"),
        "{out}"
    );
    assert_eq!(out["calculation"]["totals"]["to_pay"], 555697);
    assert_eq!(out["calculation"]["lines"], expected_a_lines());
    assert_error(&app.get("/v1/receipts/R-A").await, 404, "receipt_not_found");
    assert_eq!(app.ledger(&c1).await.len(), 0);

    body["expect"] = json!({"to_pay": 555697});
    let (status, out) = app.post("/v1/receipts/commit", &body).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["totals"]["to_pay"], 555697);
    assert_eq!(app.balance(&c1).await, (0, 277));
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_card_registers_a_new_member_once() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let milk = json!([{"line":1,"sku":"MILK-1","qty":1,"price":10000}]);
    let (status, first) = app
        .post(
            "/v1/receipts/commit",
            &receipt(
                "R-N1",
                t0(),
                Some(json!({"card":"9999 0000 1111"})),
                milk.clone(),
            ),
        )
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["new_member"], true);
    let id = first["customer_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("cus_"), "{id}");
    // floor(10000 * 5% / 100) = 5 points.
    assert_eq!(first["balance"], json!({"available":0,"pending":5}));

    let (status, second) = app
        .post(
            "/v1/receipts/commit",
            &receipt("R-N2", t0(), Some(json!({"card":"999900001111"})), milk),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["new_member"], false);
    assert_eq!(second["customer_id"], id.as_str());
    assert_eq!(second["balance"], json!({"available":0,"pending":10}));

    let (status, customer) = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        customer["cards"],
        json!([{"number": "999900001111", "type": "plastic", "status": "active"}])
    );
    assert_eq!(customer["balance"], json!({"available":0,"pending":10}));
    // The card is now taken.
    assert_error(
        &app.post("/v1/customers", &json!({"cards":["999900001111"]}))
            .await,
        409,
        "card_taken",
    );
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redemption_limits_ledger_and_full_return() {
    let (app, c) = app_with_customer("CARD2000").await;
    let card = Some(json!({"card":"CARD2000"}));

    // 40 x 100.00 = 400000 earns 200 points, pending for 14 days.
    let (status, out) = app
        .post(
            "/v1/receipts/commit",
            &receipt(
                "R1",
                t0(),
                card.clone(),
                json!([{"line":1,"sku":"MILK-1","qty":40,"price":10000}]),
            ),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["rewards"]["points_earned"], 200);
    assert_eq!(app.balance(&c).await, (0, 200));
    let field = assert_error(
        &app.post("/v1/receipts/calculate", &{
            let mut b = receipt(
                "R-X",
                t0(),
                card.clone(),
                json!([{"line":1,"sku":"MILK-1","qty":1,"price":20000}]),
            );
            b["redeem_points"] = json!(10);
            b
        })
        .await,
        409,
        "insufficient_points",
    );
    assert_eq!(field.as_deref(), Some("redeem_points"));

    app.advance_days(15);
    let t1 = t0() + Duration::days(15);
    assert_eq!(app.balance(&c).await, (200, 0));
    assert_eq!(
        kinds(&app.ledger(&c).await),
        vec!["earn"],
        "reads do not write"
    );

    // Points need a customer.
    let mut anon = receipt(
        "R-NC",
        t1,
        None,
        json!([{"line":1,"sku":"MILK-1","qty":1,"price":20000}]),
    );
    anon["redeem_points"] = json!(10);
    let field = assert_error(
        &app.post("/v1/receipts/commit", &anon).await,
        422,
        "redeem_needs_customer",
    );
    assert_eq!(field.as_deref(), Some("redeem_points"));

    // "max" on 200.00 is capped by max_redeem_percent 50: 100 points pay 100.00.
    let mut max = receipt(
        "R-MAX",
        t1,
        card.clone(),
        json!([{"line":1,"sku":"MILK-1","qty":1,"price":20000}]),
    );
    max["redeem_points"] = json!("max");
    let (status, calc) = app.post("/v1/receipts/calculate", &max).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["lines"][0]["points_redeemed"], 100);
    assert_eq!(calc["lines"][0]["points_paid"], 10000);
    assert_eq!(
        calc["totals"],
        json!({"amount":20000,"discount":0,"points_value":10000,"certificates":0,"to_pay":10000})
    );
    assert_eq!(calc["rewards"]["points_earned"], 5);
    assert_eq!(calc["balance"], json!({"available":100,"pending":5}));
    assert_lines_sum_to_totals(&calc);
    // Beyond the cap is an error.
    max["redeem_points"] = json!(101);
    assert_error(
        &app.post("/v1/receipts/calculate", &max).await,
        422,
        "redeem_exceeds_limit",
    );

    // "max" with cigarettes (no points payment): the cap is 50% of 300.00 = 150 points,
    // but only the milk (100.00 = 100 points) can take points.
    let mut mixed = receipt(
        "R-MIX",
        t1,
        card.clone(),
        json!([{"line":1,"sku":"CIG-1","qty":1,"price":20000},{"line":2,"sku":"MILK-1","qty":1,"price":10000}]),
    );
    mixed["redeem_points"] = json!("max");
    let (status, calc) = app.post("/v1/receipts/calculate", &mixed).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["lines"][0]["points_redeemed"], 0);
    assert_eq!(calc["lines"][1]["points_redeemed"], 100);
    assert_eq!(calc["totals"]["to_pay"], 20000);
    assert!(calc["messages"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m.as_str().unwrap().contains("cannot be paid with points")));
    assert_lines_sum_to_totals(&calc);
    assert_eq!(app.ledger(&c).await.len(), 1);

    // R2: shoes 1000.00 (-10% = 900.00) + cigarettes 200.00, 50 points on the shoes.
    // To pay 1050.00; earn floor(105000 * 5% / 100) = 52, split 42 / 10.
    let mut r2 = receipt(
        "R2",
        t1,
        card.clone(),
        json!([{"line":1,"sku":"SHOE-1","qty":1,"price":100000},{"line":2,"sku":"CIG-1","qty":1,"price":20000}]),
    );
    r2["redeem_points"] = json!(50);
    r2["expect"] = json!({"to_pay":105000});
    let (status, out) = app.post("/v1/receipts/commit", &r2).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out["lines"],
        json!([
            {"line":1,"sku":"SHOE-1","qty":1,"price":100000,"amount":100000,"discount":10000,"points_paid":5000,"points_redeemed":50,"certificate_paid":0,"total":85000,"points_earned":42,"promotions":["shoes10","earn5"]},
            {"line":2,"sku":"CIG-1","qty":1,"price":20000,"amount":20000,"discount":0,"points_paid":0,"points_redeemed":0,"certificate_paid":0,"total":20000,"points_earned":10,"promotions":["earn5"]}
        ])
    );
    assert_eq!(
        out["totals"],
        json!({"amount":120000,"discount":10000,"points_value":5000,"certificates":0,"to_pay":105000})
    );
    assert_eq!(out["rewards"]["points_redeemed"], 50);
    assert_eq!(out["rewards"]["points_value"], 5000);
    assert_eq!(out["balance"], json!({"available":150,"pending":52}));
    assert_lines_sum_to_totals(&out);
    assert_eq!(app.balance(&c).await, (150, 52));

    // More than available.
    let mut r3 = receipt(
        "R3",
        t1,
        card.clone(),
        json!([{"line":1,"sku":"MILK-1","qty":10,"price":10000}]),
    );
    r3["redeem_points"] = json!(151);
    let field = assert_error(
        &app.post("/v1/receipts/commit", &r3).await,
        409,
        "insufficient_points",
    );
    assert_eq!(field.as_deref(), Some("redeem_points"));
    assert_error(&app.get("/v1/receipts/R3").await, 404, "receipt_not_found");

    // The ledger: the commit matured R1's lot, then redeemed and earned.
    let entries = app.ledger(&c).await;
    assert_eq!(kinds(&entries), vec!["earn", "mature", "redeem", "earn"]);
    let amounts: Vec<i64> = entries
        .iter()
        .map(|e| e["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, vec![200, 200, 50, 52]);
    assert_eq!(entries[1]["debit"], "customer_pending");
    assert_eq!(entries[1]["credit"], "customer_available");
    assert_eq!(entries[2]["debit"], "customer_available");
    assert_eq!(entries[2]["credit"], "redeemed");
    assert_eq!(entries[2]["lot_id"], "R1:earn");
    assert_eq!(customer_sums(&entries), (150, 52));

    // Returning everything restores the balance exactly to what it was before R2.
    let (status, ret) = app
        .post(
            "/v1/receipts/R2/returns",
            &json!({"return_id":"RET-R2","at":msk(t1),"terminal_id":"T1","lines":[{"line":1,"qty":1},{"line":2,"qty":1}]}),
        )
        .await;
    assert_eq!(status, 200, "{ret}");
    assert_eq!(ret["status"], "returned");
    assert_eq!(ret["version"], 2);
    assert_eq!(ret["refund_money"], 105000);
    assert_eq!(ret["points_refunded"], 50);
    assert_eq!(ret["points_reversed"], 52);
    assert_eq!(ret["balance"], json!({"available":200,"pending":0}));
    assert_eq!(app.balance(&c).await, (200, 0));
    let entries = app.ledger(&c).await;
    assert_eq!(
        kinds(&entries),
        vec![
            "earn",
            "mature",
            "redeem",
            "earn",
            "redeem_refund",
            "earn_reversal"
        ]
    );
    assert_eq!(entries[4]["op_id"], "RET-R2");
    assert_eq!(entries[5]["debit"], "customer_pending");
    assert_eq!(customer_sums(&entries), (200, 0));
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_returns_split_with_cumulative_half_even_rounding() {
    let (app, c) = app_with_customer("CARD3000").await;
    // 2 x 1011.15 = 2022.30, 10% off = 202.23, net 1820.07; earn floor(91.0035) = 91.
    let body = receipt(
        "R-P",
        t0(),
        Some(json!({"card":"CARD3000"})),
        json!([{"line":1,"sku":"SHOE-1","qty":2,"price":101115}]),
    );
    let (status, out) = app.post("/v1/receipts/commit", &body).await;
    assert_eq!(status, 200, "{out}");
    let line = &out["lines"][0];
    assert_eq!(
        (
            line["amount"].as_i64(),
            line["discount"].as_i64(),
            line["total"].as_i64()
        ),
        (Some(202230), Some(20223), Some(182007))
    );
    assert_eq!(line["points_earned"], 91);

    let first = json!({"return_id":"RET-P1","at":msk(t0()),"terminal_id":"T1","lines":[{"line":1,"qty":1}]});
    let (status, bytes) = app.post_bytes("/v1/receipts/R-P/returns", &first).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let ret: Value = serde_json::from_slice(&bytes).unwrap();
    // Half of 182007 = 91003.5 -> 91004; of 20223 = 10111.5 -> 10112; of 91 = 45.5 -> 46.
    assert_eq!(half_even(182007, 2), 91004);
    assert_eq!(
        ret,
        json!({"receipt_id":"R-P","return_id":"RET-P1","version":2,"status":"partially_returned",
               "lines":[{"line":1,"qty":1,"refund_money":91004,"discount":10112,"points_refunded":0,"points_reversed":46,"certificate_refund":0}],
               "refund_money":91004,"points_refunded":0,"points_reversed":46,"certificate_refund":0,
               "balance":{"available":0,"pending":45}})
    );
    let entries_before = app.ledger(&c).await.len();

    // Idempotent by return id.
    let (status, again) = app.post_bytes("/v1/receipts/R-P/returns", &first).await;
    assert_eq!(status, 200);
    assert_eq!(again, bytes);
    assert_eq!(app.ledger(&c).await.len(), entries_before);
    let mut other = first.clone();
    other["terminal_id"] = json!("T9");
    assert_error(
        &app.post("/v1/receipts/R-P/returns", &other).await,
        409,
        "return_conflict",
    );

    // Only one unit is left.
    let too_many = json!({"return_id":"RET-P2","at":msk(t0()),"lines":[{"line":1,"qty":2}]});
    let field = assert_error(
        &app.post("/v1/receipts/R-P/returns", &too_many).await,
        409,
        "return_exceeds_purchase",
    );
    assert_eq!(field.as_deref(), Some("lines[0].qty"));
    let field = assert_error(
        &app.post(
            "/v1/receipts/R-P/returns",
            &json!({"return_id":"RET-P2","at":msk(t0()),"lines":[{"line":9,"qty":1}]}),
        )
        .await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("lines[0].line"));

    // The second unit gets the rest: the two returns sum to the line exactly.
    let (status, ret) = app
        .post(
            "/v1/receipts/R-P/returns",
            &json!({"return_id":"RET-P3","at":msk(t0()),"lines":[{"line":1,"qty":1}]}),
        )
        .await;
    assert_eq!(status, 200, "{ret}");
    assert_eq!(ret["version"], 3);
    assert_eq!(ret["status"], "returned");
    assert_eq!(ret["lines"][0]["refund_money"], 182007 - 91004);
    assert_eq!(ret["lines"][0]["discount"], 20223 - 10112);
    assert_eq!(ret["points_reversed"], 91 - 46);
    assert_eq!(ret["balance"], json!({"available":0,"pending":0}));
    assert_eq!(app.balance(&c).await, (0, 0));
    let entries = app.ledger(&c).await;
    assert_eq!(
        kinds(&entries),
        vec!["earn", "earn_reversal", "earn_reversal"]
    );
    assert_eq!(customer_sums(&entries), (0, 0));

    let (_, stored) = app.get("/v1/receipts/R-P").await;
    assert_eq!(stored["status"], "returned");
    assert_eq!(stored["lines"][0]["returned_qty"], 2);
    let op_ids: Vec<&str> = stored["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["op_id"].as_str().unwrap())
        .collect();
    assert_eq!(op_ids, vec!["commit/R-P", "RET-P1", "RET-P3"]);
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn return_then_cancel_and_the_receipt_history() {
    let (app, c1) = app_with_customer("7001000012345").await;
    let (status, _) = app.post("/v1/receipts/commit", &receipt_a()).await;
    assert_eq!(status, 200);

    // One of the two pairs of shoes: half of 538200, of 59800 and of 268 points.
    app.clock.advance(Duration::hours(1));
    let (status, ret) = app
        .post(
            "/v1/receipts/R-A/returns",
            &json!({"return_id":"RET-A1","at":msk(t0() + Duration::hours(1)),"terminal_id":"T1","lines":[{"line":1,"qty":1}]}),
        )
        .await;
    assert_eq!(status, 200, "{ret}");
    assert_eq!(ret["version"], 2);
    assert_eq!(ret["status"], "partially_returned");
    assert_eq!(
        ret["lines"],
        json!([{"line":1,"qty":1,"refund_money":269100,"discount":29900,"points_refunded":0,"points_reversed":134,"certificate_refund":0}])
    );
    assert_eq!(ret["balance"], json!({"available":0,"pending":143}));

    // Cancel returns whatever is left.
    app.clock.advance(Duration::hours(1));
    let (status, bytes) = app
        .post_bytes("/v1/receipts/R-A/cancel", &json!({"terminal_id":"T2"}))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let cancel: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        cancel,
        json!({"receipt_id":"R-A","return_id":null,"version":3,"status":"cancelled",
               "lines":[
                 {"line":1,"qty":1,"refund_money":269100,"discount":29900,"points_refunded":0,"points_reversed":134,"certificate_refund":0},
                 {"line":2,"qty":1,"refund_money":8990,"discount":0,"points_refunded":0,"points_reversed":5,"certificate_refund":0},
                 {"line":3,"qty":0.532,"refund_money":8507,"discount":0,"points_refunded":0,"points_reversed":4,"certificate_refund":0}],
               "refund_money":286597,"points_refunded":0,"points_reversed":143,"certificate_refund":0,
               "balance":{"available":0,"pending":0}})
    );
    let (status, again) = app
        .post_bytes("/v1/receipts/R-A/cancel", &json!({"terminal_id":"T2"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        again, bytes,
        "a second cancel answers the first one's bytes"
    );

    let field = assert_error(
        &app.post(
            "/v1/receipts/R-A/returns",
            &json!({"return_id":"RET-A2","at":msk(t0()),"lines":[{"line":2,"qty":1}]}),
        )
        .await,
        409,
        "receipt_cancelled",
    );
    assert_eq!(field, None);

    let (status, stored) = app.get("/v1/receipts/R-A").await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["status"], "cancelled");
    assert_eq!(stored["version"], 3);
    let returned: Vec<f64> = stored["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["returned_qty"].as_f64().unwrap())
        .collect();
    assert_eq!(returned, vec![2.0, 1.0, 0.532]);
    let versions = stored["versions"].as_array().unwrap();
    let summary: Vec<(u64, &str, &str, Option<&str>, &str)> = versions
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["kind"].as_str().unwrap(),
                v["op_id"].as_str().unwrap(),
                v["terminal_id"].as_str(),
                v["recorded_at"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                1,
                "commit",
                "commit/R-A",
                Some("T1"),
                "2026-03-10T09:00:00Z"
            ),
            (2, "return", "RET-A1", Some("T1"), "2026-03-10T10:00:00Z"),
            (
                3,
                "cancel",
                "cancel/R-A",
                Some("T2"),
                "2026-03-10T11:00:00Z"
            ),
        ]
    );
    assert_eq!(versions[2]["response"], cancel);
    assert_eq!(versions[1]["response"], ret);

    let entries = app.ledger(&c1).await;
    assert_eq!(
        kinds(&entries),
        vec!["earn", "earn_reversal", "earn_reversal"]
    );
    assert_eq!(
        entries
            .iter()
            .map(|e| e["amount"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![277, 134, 143]
    );
    assert_eq!(customer_sums(&entries), app.balance(&c1).await);

    assert_error(
        &app.get("/v1/receipts/NOPE").await,
        404,
        "receipt_not_found",
    );
    assert_error(
        &app.post(
            "/v1/receipts/NOPE/returns",
            &json!({"return_id":"RET-X","at":msk(t0()),"lines":[{"line":1,"qty":1}]}),
        )
        .await,
        404,
        "receipt_not_found",
    );
    assert_error(
        &app.post("/v1/receipts/NOPE/cancel", &json!({})).await,
        404,
        "receipt_not_found",
    );
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_redemptions_never_overspend() {
    let (app, c) = app_with_customer("CARD4000").await;
    let card = Some(json!({"card":"CARD4000"}));
    let (status, out) = app
        .post(
            "/v1/receipts/commit",
            &receipt(
                "R0",
                t0(),
                card.clone(),
                json!([{"line":1,"sku":"MILK-1","qty":40,"price":10000}]),
            ),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    app.advance_days(15);
    let t1 = t0() + Duration::days(15);
    assert_eq!(app.balance(&c).await, (200, 0));

    let bodies = (0..40)
        .map(|i| {
            let mut body = receipt(
                &format!("RC-{i}"),
                t1,
                card.clone(),
                json!([{"line":1,"sku":"MILK-1","qty":1,"price":10000}]),
            );
            body["redeem_points"] = json!(10);
            body
        })
        .collect();
    let mut ok = 0;
    for (status, body) in app.commit_concurrently(bodies).await {
        match status {
            200 => {
                ok += 1;
                assert_eq!(body["rewards"]["points_redeemed"], 10);
                assert!(
                    body["balance"]["available"].as_i64().unwrap() >= 0,
                    "{body}"
                );
            }
            _ => {
                assert_error(&(status, body), 409, "insufficient_points");
            }
        }
    }
    assert_eq!(ok, 20);
    // Each success paid 90.00 and earned floor(9000 * 5% / 100) = 4 points.
    assert_eq!(app.balance(&c).await, (0, 80));
    let entries = app.ledger(&c).await;
    assert_eq!(customer_sums(&entries), (0, 80));
    assert_eq!(
        kinds(&entries).iter().filter(|k| *k == "redeem").count(),
        20
    );
    app.assert_store_ok().await;
}
