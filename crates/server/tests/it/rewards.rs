//! Rewards a commit makes besides discounts: coupon codes and gift certificates for
//! later purchases, bonus points, tiers and entitlements; and what a cancel or return
//! takes back. Also the `per_receipt` cap and promotion checks of reward effects.

use crate::helpers::*;
use chrono::Duration;
use serde_json::{json, Value};

const CARD: &str = "7001000012345";

async fn app_with_customer() -> (TestApp, String) {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let id = app
        .create_customer(json!({"name": "Anna", "cards": [CARD]}))
        .await;
    (app, id)
}

async fn put_promotion(app: &TestApp, id: &str, body: Value) {
    let (status, out) = app.put(&format!("/v1/promotions/{id}"), &body).await;
    assert_eq!(status, 200, "PUT {id}: {out}");
}

fn card() -> Option<Value> {
    Some(json!({ "card": CARD }))
}

/// A pair of sneakers at 1000.00 for the customer: 100.00 off (shoes10), 45 points.
fn big(receipt_id: &str) -> Value {
    receipt(
        receipt_id,
        t0(),
        card(),
        json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 100000}]),
    )
}

/// One milk at 100.00 for the customer, at `at`.
fn milk_at(receipt_id: &str, at: chrono::DateTime<chrono::Utc>) -> Value {
    receipt(
        receipt_id,
        at,
        card(),
        json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]),
    )
}

fn applied(promotion_id: &str, name: &str, effect: &str, discount: i64, points: i64) -> Value {
    json!({"promotion_id": promotion_id, "name": name, "effect": effect, "discount": discount, "points": points})
}

fn shoes10() -> Value {
    applied("shoes10", "10% off shoes", "percent_off", 10000, 0)
}

fn earn5(points: i64) -> Value {
    applied("earn5", "5% back in points", "earn_points", 0, points)
}

async fn cancel(app: &TestApp, receipt_id: &str) -> Value {
    let (status, out) = app
        .post(&format!("/v1/receipts/{receipt_id}/cancel"), &json!({}))
        .await;
    assert_eq!(status, 200, "cancel {receipt_id}: {out}");
    out
}

fn with_certificates(mut body: Value, payments: Value) -> Value {
    body["certificates"] = payments;
    body
}

/// "10.00 off with a coupon" of series `back`, and the series.
async fn back10_series(app: &TestApp) {
    put_promotion(
        app,
        "back10",
        json!({"name": "10.00 off with a coupon", "conditions": {"coupon": {"series": "back"}},
            "effects": [{"type": "amount_off", "amount": 1000}]}),
    )
    .await;
    app.put_series(&json!({"id": "back", "promotion": "back10"}))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issued_coupon_works_later_and_is_revoked_when_its_receipt_is_cancelled() {
    let (app, _) = app_with_customer().await;
    back10_series(&app).await;
    put_promotion(
        &app,
        "issuer",
        json!({"name": "A coupon for a big purchase", "conditions": {"min_amount": 50000},
            "effects": [{"type": "issue_coupon", "series": "back", "valid_days": 30}]}),
    )
    .await;
    let issuer = applied(
        "issuer",
        "A coupon for a big purchase",
        "issue_coupon",
        0,
        0,
    );

    // Calculate announces the coupon without a code; commit makes it.
    let (status, calc) = app.post("/v1/receipts/calculate", &big("i1")).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(
        calc["promotions"],
        json!([shoes10(), issuer.clone(), earn5(45)])
    );
    assert_eq!(
        calc["rewards"],
        json!({"points_earned": 45, "points_redeemed": 0, "points_value": 0, "bonus_points": 0,
            "coupons_issued": [{"promotion_id": "issuer", "series": "back", "code": null, "valid_days": 30, "valid_until": null}],
            "certificates_issued": [], "tier": null, "entitlements": []})
    );
    let (status, committed) = app.post("/v1/receipts/commit", &big("i1")).await;
    assert_eq!(status, 200, "{committed}");
    let issued = &committed["rewards"]["coupons_issued"];
    let code = issued[0]["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 19, "{code}");
    assert_eq!(
        issued,
        &json!([{"promotion_id": "issuer", "series": "back", "code": code, "valid_days": 30, "valid_until": "2026-04-09T09:00:00Z"}])
    );
    let (_, stored) = app.get("/v1/receipts/i1").await;
    assert_eq!(stored["rewards"], committed["rewards"]);

    // A later receipt with the code gets the promotion the series unlocks.
    let later = |receipt_id: &str, at| with_coupons(milk_at(receipt_id, at), &[&code]);
    let (_, calc) = app.post("/v1/receipts/calculate", &later("i2", t0())).await;
    assert_eq!(
        calc["coupons"],
        json!([{"code": code, "status": "applied"}])
    );
    assert_eq!(
        calc["promotions"],
        json!([
            applied("back10", "10.00 off with a coupon", "amount_off", 1000, 0),
            earn5(4)
        ])
    );
    assert_eq!(calc["totals"]["to_pay"], 9000);

    // It is valid for 30 days from the issuing receipt.
    let until = t0() + Duration::days(30);
    app.clock.set(until);
    let (_, calc) = app
        .post("/v1/receipts/calculate", &later("i2", until))
        .await;
    assert_eq!(
        calc["coupons"],
        json!([{"code": code, "status": "rejected", "reason": "expired"}])
    );
    let just_before = until - Duration::seconds(1);
    let (status, used) = app
        .post("/v1/receipts/commit", &later("i2", just_before))
        .await;
    assert_eq!(status, 200, "{used}");
    assert_eq!(
        used["coupons"],
        json!([{"code": code, "status": "applied"}])
    );
    assert_eq!(used["totals"]["discount"], 1000);
    let (_, calc) = app
        .post("/v1/receipts/calculate", &later("i3", just_before))
        .await;
    assert_eq!(
        calc["coupons"],
        json!([{"code": code, "status": "rejected", "reason": "used"}])
    );

    // Cancelling the issuing receipt revokes the code; the receipt that used it stands.
    cancel(&app, "i1").await;
    let (_, calc) = app
        .post("/v1/receipts/calculate", &later("i3", just_before))
        .await;
    assert_eq!(
        calc["coupons"],
        json!([{"code": code, "status": "rejected", "reason": "revoked"}])
    );
    let (_, stored) = app.get("/v1/receipts/i2").await;
    assert_eq!(stored["status"], "committed");
    // Cancelling the receipt that used it frees the use, but the code stays revoked.
    cancel(&app, "i2").await;
    let (_, calc) = app
        .post("/v1/receipts/calculate", &later("i4", just_before))
        .await;
    assert_eq!(
        calc["coupons"],
        json!([{"code": code, "status": "rejected", "reason": "revoked"}])
    );
    assert_eq!(calc["totals"]["discount"], 0);
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gift_certificate_pays_part_of_a_later_receipt_and_returns_give_it_back() {
    let (app, c1) = app_with_customer().await;
    put_promotion(
        &app,
        "gift",
        json!({"name": "30.00 gift certificate", "conditions": {"min_amount": 50000},
            "effects": [{"type": "issue_certificate", "amount": 30000, "valid_days": 365}]}),
    )
    .await;
    let (_, calc) = app.post("/v1/receipts/calculate", &big("g1")).await;
    assert_eq!(
        calc["rewards"]["certificates_issued"],
        json!([{"promotion_id": "gift", "code": null, "amount": 30000, "valid_days": 365, "valid_until": null}])
    );
    let (status, committed) = app.post("/v1/receipts/commit", &big("g1")).await;
    assert_eq!(status, 200, "{committed}");
    let code = committed["rewards"]["certificates_issued"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        committed["rewards"]["certificates_issued"],
        json!([{"promotion_id": "gift", "code": code, "amount": 30000, "valid_days": 365, "valid_until": "2027-03-10T09:00:00Z"}])
    );
    assert_eq!(
        committed["promotions"],
        json!([
            shoes10(),
            applied("gift", "30.00 gift certificate", "issue_certificate", 0, 0),
            earn5(45)
        ])
    );
    // Typed in lower case without dashes.
    let typed = code.replace('-', "").to_lowercase();
    let pay = |receipt_id: &str, amount: i64| {
        with_certificates(
            receipt(
                receipt_id,
                t0(),
                card(),
                json!([
                    {"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000},
                    {"line": 2, "sku": "APPLE-KG", "qty": 1, "price": 20000}
                ]),
            ),
            json!([{ "code": typed, "amount": amount }]),
        )
    };

    // 120.00 of 300.00 paid with the certificate, spread 40.00 / 80.00; points only on
    // the 180.00 paid otherwise: floor(18000 * 5% / 100) = 9, split 3 / 6.
    let (status, calc) = app.post("/v1/receipts/calculate", &pay("g2", 12000)).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(
        calc["lines"],
        json!([
            {"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000, "amount": 10000, "discount": 0, "points_paid": 0, "points_redeemed": 0, "certificate_paid": 4000, "total": 6000, "points_earned": 3, "promotions": ["earn5"]},
            {"line": 2, "sku": "APPLE-KG", "qty": 1, "price": 20000, "amount": 20000, "discount": 0, "points_paid": 0, "points_redeemed": 0, "certificate_paid": 8000, "total": 12000, "points_earned": 6, "promotions": ["earn5"]}
        ])
    );
    assert_eq!(
        calc["totals"],
        json!({"amount": 30000, "discount": 0, "points_value": 0, "certificates": 12000, "to_pay": 18000})
    );
    assert_eq!(calc["rewards"]["points_earned"], 9);
    assert_eq!(calc["promotions"], json!([earn5(9)]));

    // Refusals name the payment.
    let stranger = tessera_core::coupon::code_from_random(99);
    let mut unknown = pay("g-x", 100);
    unknown["certificates"][0]["code"] = json!(stranger);
    let mut typo = pay("g-x", 100);
    let last = if code.ends_with('X') { 'Y' } else { 'X' };
    typo["certificates"][0]["code"] = json!(format!("{}{last}", &code[..18]));
    let mut twice = pay("g-x", 100);
    twice["certificates"] = json!([{"code": code, "amount": 100}, {"code": typed, "amount": 100}]);
    let small = with_certificates(
        milk_at("g-x", t0()),
        json!([{ "code": code, "amount": 20000 }]),
    );
    let cases = [
        (unknown, 422, "certificate_invalid", "certificates[0].code"),
        (typo, 422, "certificate_invalid", "certificates[0].code"),
        (
            pay("g-x", 30001),
            409,
            "certificate_insufficient",
            "certificates[0].amount",
        ),
        (small, 422, "certificate_exceeds_total", "certificates"),
        (
            pay("g-x", 0),
            422,
            "invalid_field",
            "certificates[0].amount",
        ),
        (twice, 422, "invalid_field", "certificates[1].code"),
    ];
    for (body, status, error, field) in cases {
        for path in ["/v1/receipts/calculate", "/v1/receipts/commit"] {
            let response = app.post(path, &body).await;
            assert_eq!(
                assert_error(&response, status, error).as_deref(),
                Some(field),
                "{path} {body}"
            );
        }
    }
    assert_error(&app.get("/v1/receipts/g-x").await, 404, "receipt_not_found");

    let (status, paid) = app.post("/v1/receipts/commit", &pay("g2", 12000)).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["totals"], calc["totals"]);
    assert_eq!(paid["lines"], calc["lines"]);
    // 180.00 is left on it.
    assert_error(
        &app.post("/v1/receipts/calculate", &pay("g3", 18001)).await,
        409,
        "certificate_insufficient",
    );

    // Returning the apples gives their 80.00 back to the certificate.
    let (status, returned) = app
        .post(
            "/v1/receipts/g2/returns",
            &json!({"return_id": "g2-r1", "at": msk(t0()), "lines": [{"line": 2, "qty": 1}]}),
        )
        .await;
    assert_eq!(status, 200, "{returned}");
    assert_eq!(
        returned["lines"],
        json!([{"line": 2, "qty": 1, "refund_money": 12000, "discount": 0, "points_refunded": 0, "points_reversed": 6, "certificate_refund": 8000}])
    );
    assert_eq!(returned["refund_money"], 12000);
    assert_eq!(returned["certificate_refund"], 8000);
    assert_eq!(returned["status"], "partially_returned");
    // 45 + 9 - 6 pending points.
    assert_eq!(app.balance(&c1).await, (0, 48));

    // 260.00 is on it again: it pays exactly that, not a kopeck more.
    let three_milk = |receipt_id: &str, amount: i64| {
        with_certificates(
            receipt(
                receipt_id,
                t0(),
                card(),
                json!([{"line": 1, "sku": "MILK-1", "qty": 3, "price": 10000}]),
            ),
            json!([{ "code": code, "amount": amount }]),
        )
    };
    assert_error(
        &app.post("/v1/receipts/calculate", &three_milk("g3", 26001))
            .await,
        409,
        "certificate_insufficient",
    );
    let (status, g3) = app
        .post("/v1/receipts/commit", &three_milk("g3", 26000))
        .await;
    assert_eq!(status, 200, "{g3}");
    assert_eq!(
        g3["totals"],
        json!({"amount": 30000, "discount": 0, "points_value": 0, "certificates": 26000, "to_pay": 4000})
    );
    assert_eq!(g3["rewards"]["points_earned"], 2);
    let field = assert_error(
        &app.post("/v1/receipts/calculate", &three_milk("g4", 1))
            .await,
        409,
        "certificate_insufficient",
    );
    assert_eq!(field.as_deref(), Some("certificates[0].amount"));

    // A full return gives all of it back.
    let (status, back) = app
        .post(
            "/v1/receipts/g3/returns",
            &json!({"return_id": "g3-r1", "at": msk(t0()), "lines": [{"line": 1, "qty": 3}]}),
        )
        .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["status"], "returned");
    assert_eq!(back["certificate_refund"], 26000);
    assert_eq!(back["refund_money"], 4000);
    let (status, calc) = app
        .post("/v1/receipts/calculate", &three_milk("g4", 26000))
        .await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["totals"]["certificates"], 26000);

    // Cancelling the receipt that issued it revokes it.
    cancel(&app, "g1").await;
    let (_, body) = app
        .post("/v1/receipts/calculate", &three_milk("g4", 100))
        .await;
    let response = (422, body);
    let field = assert_error(&response, 422, "certificate_invalid");
    assert_eq!(field.as_deref(), Some("certificates[0].code"));
    assert!(
        response.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked"),
        "{}",
        response.1
    );
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gift_certificate_expires() {
    let (app, _) = app_with_customer().await;
    put_promotion(
        &app,
        "gift",
        json!({"name": "Week certificate", "conditions": {"min_amount": 50000},
            "effects": [{"type": "issue_certificate", "amount": 5000, "valid_days": 7}]}),
    )
    .await;
    let (_, committed) = app.post("/v1/receipts/commit", &big("e1")).await;
    let code = committed["rewards"]["certificates_issued"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let end = t0() + Duration::days(7);
    app.clock.set(end);
    let pay = |at| with_certificates(milk_at("e2", at), json!([{ "code": code, "amount": 5000 }]));
    let (status, calc) = app
        .post("/v1/receipts/calculate", &pay(end - Duration::seconds(1)))
        .await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["totals"]["certificates"], 5000);
    let response = app.post("/v1/receipts/commit", &pay(end)).await;
    let field = assert_error(&response, 422, "certificate_invalid");
    assert_eq!(field.as_deref(), Some("certificates[0].code"));
    assert!(
        response.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{}",
        response.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bonus_points_are_a_lot_of_their_own_and_an_undo_takes_them_back() {
    let (app, c1) = app_with_customer().await;
    put_promotion(
        &app,
        "bonus",
        json!({"name": "100 bonus points", "conditions": {"min_amount": 50000},
            "effects": [{"type": "bonus_points", "points": 100, "expires_in_days": 30}]}),
    )
    .await;
    let two_pairs = |receipt_id: &str, customer: Option<Value>| {
        receipt(
            receipt_id,
            t0(),
            customer,
            json!([{"line": 1, "sku": "SHOE-1", "qty": 2, "price": 50000}]),
        )
    };
    // Members only: an anonymous receipt gets none.
    let (_, anonymous) = app
        .post("/v1/receipts/calculate", &two_pairs("b0", None))
        .await;
    assert_eq!(anonymous["rewards"]["bonus_points"], 0);
    assert_eq!(
        anonymous["not_applied"],
        json!([{"promotion_id": "bonus", "reason": "no_effect", "by": null},
               {"promotion_id": "earn5", "reason": "no_effect", "by": null}])
    );

    let (status, committed) = app
        .post("/v1/receipts/commit", &two_pairs("b1", card()))
        .await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(
        committed["promotions"],
        json!([
            shoes10(),
            applied("bonus", "100 bonus points", "bonus_points", 0, 100),
            earn5(45)
        ])
    );
    assert_eq!(committed["rewards"]["points_earned"], 45);
    assert_eq!(committed["rewards"]["bonus_points"], 100);
    assert_eq!(committed["lines"][0]["points_earned"], 45);
    assert_eq!(
        committed["balance"],
        json!({"available": 0, "pending": 145})
    );
    assert_eq!(app.balance(&c1).await, (0, 145));
    let entries = app.ledger(&c1).await;
    let shape: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!([
                e["kind"],
                e["debit"],
                e["credit"],
                e["amount"],
                e["lot_id"],
                e["receipt_id"]
            ])
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            json!(["earn", "issued", "customer_pending", 45, "b1:earn", "b1"]),
            json!([
                "earn",
                "issued",
                "customer_pending",
                100,
                "b1:bonus:0",
                "b1"
            ]),
        ]
    );

    // Both mature after 14 days; the bonus expires 30 days after that.
    let (_, projected) = app
        .get(&format!(
            "/v1/customers/{c1}/balance?at={}",
            utc(t0() + Duration::days(15))
        ))
        .await;
    assert_eq!(
        projected,
        json!({"customer_id": c1, "at": "2026-03-25T09:00:00Z", "available": 145, "pending": 0,
            "expiring": [{"points": 100, "at": "2026-04-23T09:00:00Z"}, {"points": 45, "at": "2027-03-24T09:00:00Z"}]})
    );
    let (_, projected) = app
        .get(&format!(
            "/v1/customers/{c1}/balance?at={}",
            utc(t0() + Duration::days(44))
        ))
        .await;
    assert_eq!(projected["available"], 45);

    // A partial return takes back the earned share only.
    let (status, partial) = app
        .post(
            "/v1/receipts/b1/returns",
            &json!({"return_id": "b1-r1", "at": msk(t0()), "lines": [{"line": 1, "qty": 1}]}),
        )
        .await;
    assert_eq!(status, 200, "{partial}");
    assert_eq!(partial["points_reversed"], half_even(45, 2));
    assert_eq!(partial["balance"], json!({"available": 0, "pending": 123}));
    assert_eq!(app.balance(&c1).await, (0, 123));

    // The cancel takes back the rest and the bonus.
    let cancelled = cancel(&app, "b1").await;
    assert_eq!(cancelled["points_reversed"], 23);
    assert_eq!(cancelled["balance"], json!({"available": 0, "pending": 0}));
    assert_eq!(app.balance(&c1).await, (0, 0));
    let entries = app.ledger(&c1).await;
    assert_eq!(
        kinds(&entries),
        vec![
            "earn",
            "earn",
            "earn_reversal",
            "earn_reversal",
            "earn_reversal"
        ]
    );
    let reversal = &entries[4];
    assert_eq!(
        json!([
            reversal["debit"],
            reversal["credit"],
            reversal["amount"],
            reversal["lot_id"],
            reversal["op_id"]
        ]),
        json!(["customer_pending", "issued", 100, "b1:bonus:0", "cancel/b1"])
    );
    assert_eq!(customer_sums(&entries), (0, 0));

    // A full return takes them back too.
    let (status, second) = app
        .post(
            "/v1/receipts/commit",
            &receipt(
                "b2",
                t0(),
                card(),
                json!([{"line": 1, "sku": "SHOE-1", "qty": 1, "price": 60000}]),
            ),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    // floor(54000 * 5% / 100) = 27 and 100 bonus points.
    assert_eq!(second["balance"], json!({"available": 0, "pending": 127}));
    let (status, full) = app
        .post(
            "/v1/receipts/b2/returns",
            &json!({"return_id": "b2-r1", "at": msk(t0()), "lines": [{"line": 1, "qty": 1}]}),
        )
        .await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["status"], "returned");
    assert_eq!(full["balance"], json!({"available": 0, "pending": 0}));
    assert_eq!(app.balance(&c1).await, (0, 0));
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tier_unlocks_tier_promotions_until_its_receipt_is_cancelled() {
    let (app, c1) = app_with_customer().await;
    put_promotion(
        &app,
        "gold-up",
        json!({"name": "Gold for a big purchase", "conditions": {"min_amount": 50000},
            "effects": [{"type": "set_tier", "tier": "gold", "days": 30}, {"type": "grant", "entitlement": "spring-draw"}]}),
    )
    .await;
    put_promotion(
        &app,
        "gold15",
        json!({"name": "Gold: 15% off dairy", "priority": 50, "audience": {"tiers": ["gold"]},
            "effects": [{"type": "percent_off", "percent": 15, "items": {"category": ["dairy"]}}]}),
    )
    .await;
    let (_, stored) = app.get("/v1/promotions/gold15").await;
    assert_eq!(stored["audience"]["tiers"], json!(["gold"]));

    // Not gold yet: the tier promotion is not even a candidate.
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk_at("t0", t0()))
        .await;
    assert_eq!(calc["promotions"], json!([earn5(5)]));
    assert_eq!(calc["not_applied"], json!([]));

    let (status, committed) = app.post("/v1/receipts/commit", &big("t1")).await;
    assert_eq!(status, 200, "{committed}");
    let name = "Gold for a big purchase";
    assert_eq!(
        committed["promotions"],
        json!([
            shoes10(),
            applied("gold-up", name, "set_tier", 0, 0),
            applied("gold-up", name, "grant", 0, 0),
            earn5(45)
        ])
    );
    assert_eq!(
        committed["rewards"]["tier"],
        json!({"promotion_id": "gold-up", "tier": "gold", "days": 30})
    );
    assert_eq!(
        committed["rewards"]["entitlements"],
        json!([{"promotion_id": "gold-up", "entitlement": "spring-draw"}])
    );
    let (_, customer) = app.get(&format!("/v1/customers/{c1}")).await;
    assert_eq!(
        customer["tier"],
        json!({"tier": "gold", "until": "2026-04-09T09:00:00Z", "granted_at": "2026-03-10T09:00:00Z", "promotion_id": "gold-up"})
    );
    assert_eq!(
        customer["entitlements"],
        json!([{"entitlement": "spring-draw", "granted_at": "2026-03-10T09:00:00Z", "promotion_id": "gold-up", "receipt_id": "t1"}])
    );

    // Gold now: 15% off dairy; points on the rest: floor(8500 * 5% / 100) = 4.
    let gold15 = applied("gold15", "Gold: 15% off dairy", "percent_off", 1500, 0);
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk_at("t2", t0()))
        .await;
    assert_eq!(calc["promotions"], json!([gold15.clone(), earn5(4)]));
    let (status, second) = app.post("/v1/receipts/commit", &milk_at("t2", t0())).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["totals"]["to_pay"], 8500);

    // A receipt dated before the tier was given (an offline till) does not see it.
    let (_, backdated) = app
        .post(
            "/v1/receipts/calculate",
            &milk_at("t2b", t0() - chrono::Duration::hours(5)),
        )
        .await;
    assert_eq!(backdated["promotions"], json!([earn5(5)]), "{backdated}");

    // Cancelling the receipt that gave the tier takes it and the entitlement away.
    cancel(&app, "t1").await;
    let (_, customer) = app.get(&format!("/v1/customers/{c1}")).await;
    assert_eq!(customer["tier"], Value::Null);
    assert_eq!(customer["entitlements"], json!([]));
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk_at("t3", t0()))
        .await;
    assert_eq!(calc["promotions"], json!([earn5(5)]));
    assert_eq!(calc["totals"]["discount"], 0);

    // An anonymous big purchase gets no tier (members only).
    let mut anonymous = big("t4");
    anonymous.as_object_mut().unwrap().remove("customer");
    let (_, calc) = app.post("/v1/receipts/calculate", &anonymous).await;
    assert_eq!(calc["rewards"]["tier"], Value::Null);
    assert_eq!(calc["rewards"]["entitlements"], json!([]));

    // A tier of 30 days lapses after 30 days; the entitlement stays.
    let (status, _) = app.post("/v1/receipts/commit", &big("t5")).await;
    assert_eq!(status, 200);
    let end = t0() + Duration::days(30);
    app.clock.set(end - Duration::seconds(1));
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &milk_at("t6", end - Duration::seconds(1)),
        )
        .await;
    assert_eq!(calc["promotions"][0], gold15);
    app.clock.set(end);
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk_at("t6", end))
        .await;
    assert_eq!(calc["totals"]["discount"], 0);
    let (_, customer) = app.get(&format!("/v1/customers/{c1}")).await;
    assert_eq!(customer["tier"], Value::Null);
    assert_eq!(customer["entitlements"][0]["receipt_id"], "t5");
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_receipt_caps_a_buy_get_over_http() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    for (sku, name) in [("SOCK-1", "Socks"), ("SOCK-2", "Cheap socks")] {
        let (status, _) = app
            .put(
                &format!("/v1/products/{sku}"),
                &json!({"name": name, "category": "socks"}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let capped = json!({"name": "Socks: 3 for 2, once a receipt", "limits": {"per_receipt": 1},
        "effects": [{"type": "buy_get", "buy": 2, "get": 1, "items": {"category": ["socks"]}}]});
    let (status, stored) = app.put("/v1/promotions/socks", &capped).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["limits"], json!({"per_receipt": 1}));
    let mut zero = capped.clone();
    zero["limits"] = json!({"per_receipt": 0});
    let field = assert_error(
        &app.put("/v1/promotions/socks0", &zero).await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("limits"));

    // Six socks are two sets, but only one counts: the cheapest unit is free.
    let lines = json!([
        {"line": 1, "sku": "SOCK-1", "qty": 3, "price": 1000},
        {"line": 2, "sku": "SOCK-2", "qty": 3, "price": 500}
    ]);
    let (status, committed) = app
        .post(
            "/v1/receipts/commit",
            &receipt("s1", t0(), None, lines.clone()),
        )
        .await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(
        committed["totals"],
        json!({"amount": 4500, "discount": 500, "points_value": 0, "certificates": 0, "to_pay": 4000})
    );
    let discounts: Vec<&Value> = committed["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["discount"])
        .collect();
    assert_eq!(discounts, vec![&json!(0), &json!(500)]);
    assert_eq!(committed["lines"][0]["promotions"], json!([]));
    assert_eq!(committed["lines"][1]["promotions"], json!(["socks"]));
    assert_eq!(
        committed["promotions"],
        json!([applied(
            "socks",
            "Socks: 3 for 2, once a receipt",
            "buy_get",
            500,
            0
        )])
    );

    // Without the cap both sets count: the two cheapest units, spread over all six.
    let uncapped = json!({"name": "uncapped",
        "effects": [{"type": "buy_get", "buy": 2, "get": 1, "items": {"category": ["socks"]}}]});
    let (status, preview) = app
        .post(
            "/v1/promotions/preview",
            &json!({"promotion_id": "socks", "promotion": uncapped, "receipt": receipt("s2", t0(), None, lines)}),
        )
        .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["totals"]["discount"], 1000);
    assert_eq!(preview["lines"][0]["discount"], 667);
    assert_eq!(preview["lines"][1]["discount"], 333);

    // Nine socks of one kind: three sets, one counts.
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &receipt(
                "s3",
                t0(),
                None,
                json!([{"line": 1, "sku": "SOCK-1", "qty": 9, "price": 1000}]),
            ),
        )
        .await;
    assert_eq!(calc["totals"]["discount"], 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_coupon_must_name_an_existing_series() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let issuer = json!({"name": "Coupon back", "effects": [{"type": "issue_coupon", "series": "back", "valid_days": 30}]});
    let field = assert_error(
        &app.put("/v1/promotions/issuer", &issuer).await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("effects[0].series"));
    let second = json!({"name": "Coupon back", "effects": [
        {"type": "amount_off", "amount": 100}, {"type": "issue_coupon", "series": "back"}]});
    let field = assert_error(
        &app.put("/v1/promotions/issuer", &second).await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("effects[1].series"));
    assert_error(
        &app.get("/v1/promotions/issuer").await,
        404,
        "promotion_not_found",
    );
    // The other reward effects are checked too.
    let cases = [
        (
            json!({"type": "bonus_points", "points": 0}),
            "effects[0].points",
        ),
        (
            json!({"type": "bonus_points", "points": 5, "expires_in_days": 0}),
            "effects[0].expires_in_days",
        ),
        (
            json!({"type": "issue_certificate", "amount": 0}),
            "effects[0].amount",
        ),
        (
            json!({"type": "issue_certificate", "amount": 5, "valid_days": 0}),
            "effects[0].valid_days",
        ),
        (json!({"type": "set_tier", "tier": ""}), "effects[0].tier"),
        (
            json!({"type": "set_tier", "tier": "gold", "days": 0}),
            "effects[0].days",
        ),
        (
            json!({"type": "grant", "entitlement": ""}),
            "effects[0].entitlement",
        ),
        (
            json!({"type": "issue_coupon", "series": "a b"}),
            "effects[0].series",
        ),
    ];
    for (effect, expected) in cases {
        let body = json!({"name": "x", "effects": [effect]});
        let field = assert_error(
            &app.put("/v1/promotions/x", &body).await,
            422,
            "invalid_field",
        );
        assert_eq!(field.as_deref(), Some(expected), "{body}");
    }
    // Once the series exists the promotion is accepted.
    put_promotion(
        &app,
        "back10",
        json!({"name": "10.00 off", "conditions": {"coupon": {"series": "back"}},
            "effects": [{"type": "amount_off", "amount": 1000}]}),
    )
    .await;
    app.put_series(&json!({"id": "back", "promotion": "back10"}))
        .await;
    let (status, stored) = app.put("/v1/promotions/issuer", &issuer).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        stored["effects"],
        json!([{"type": "issue_coupon", "series": "back", "valid_days": 30}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_certificate_is_never_overspent_by_parallel_commits() {
    let (app, _) = app_with_customer().await;
    put_promotion(
        &app,
        "gift",
        json!({"name": "30.00 gift certificate", "conditions": {"min_amount": 50000},
            "effects": [{"type": "issue_certificate", "amount": 30000}]}),
    )
    .await;
    let (_, committed) = app.post("/v1/receipts/commit", &big("c0")).await;
    let code = committed["rewards"]["certificates_issued"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        committed["rewards"]["certificates_issued"][0]["valid_until"],
        Value::Null
    );
    // 20 tills pay 20.00 each with it at once: 15 fit in 300.00.
    let bodies = (0..20)
        .map(|n| {
            with_certificates(
                milk_at(&format!("c{:02}", n + 1), t0()),
                json!([{ "code": code, "amount": 2000 }]),
            )
        })
        .collect();
    let (mut paid, mut refused) = (0, 0);
    for (status, out) in app.commit_concurrently(bodies).await {
        if status == 200 {
            assert_eq!(out["totals"]["certificates"], 2000, "{out}");
            assert_eq!(out["totals"]["to_pay"], 8000);
            paid += 2000;
        } else {
            let field = assert_error(&(status, out.clone()), 409, "certificate_insufficient");
            assert_eq!(field.as_deref(), Some("certificates[0].amount"));
            assert_eq!(
                out["error"]["message"],
                "2000 requested but the certificate holds 0"
            );
            refused += 1;
        }
    }
    assert_eq!((paid, refused), (30000, 5));
    assert_error(
        &app.post(
            "/v1/receipts/calculate",
            &with_certificates(
                milk_at("c-next", t0()),
                json!([{ "code": code, "amount": 1 }]),
            ),
        )
        .await,
        409,
        "certificate_insufficient",
    );
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_return_of_the_issuing_receipt_revokes_everything_it_gave() {
    let (app, c1) = app_with_customer().await;
    back10_series(&app).await;
    put_promotion(
        &app,
        "all",
        json!({"name": "Everything for a big purchase", "conditions": {"min_amount": 50000},
            "effects": [{"type": "issue_certificate", "amount": 30000}, {"type": "issue_coupon", "series": "back"},
                {"type": "set_tier", "tier": "gold"}, {"type": "grant", "entitlement": "draw"},
                {"type": "bonus_points", "points": 100}]}),
    )
    .await;
    let (status, committed) = app.post("/v1/receipts/commit", &big("f1")).await;
    assert_eq!(status, 200, "{committed}");
    let rewards = &committed["rewards"];
    let certificate = rewards["certificates_issued"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let coupon = rewards["coupons_issued"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        rewards["tier"],
        json!({"promotion_id": "all", "tier": "gold", "days": null})
    );
    assert_eq!(rewards["bonus_points"], 100);
    assert_eq!(app.balance(&c1).await, (0, 145));
    let (_, customer) = app.get(&format!("/v1/customers/{c1}")).await;
    assert_eq!(customer["tier"]["until"], Value::Null);
    assert_eq!(customer["entitlements"][0]["entitlement"], "draw");
    let later = |receipt_id: &str| {
        with_certificates(
            with_coupons(milk_at(receipt_id, t0()), &[&coupon]),
            json!([{ "code": certificate, "amount": 100 }]),
        )
    };
    let (status, calc) = app.post("/v1/receipts/calculate", &later("f2")).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(
        calc["coupons"],
        json!([{"code": coupon, "status": "applied"}])
    );
    assert_eq!(calc["totals"]["certificates"], 100);

    let (status, returned) = app
        .post(
            "/v1/receipts/f1/returns",
            &json!({"return_id": "f1-r1", "at": msk(t0()), "lines": [{"line": 1, "qty": 1}]}),
        )
        .await;
    assert_eq!(status, 200, "{returned}");
    assert_eq!(returned["status"], "returned");
    assert_eq!(returned["points_reversed"], 45);
    assert_eq!(returned["balance"], json!({"available": 0, "pending": 0}));
    assert_eq!(app.balance(&c1).await, (0, 0));
    let (_, customer) = app.get(&format!("/v1/customers/{c1}")).await;
    assert_eq!(customer["tier"], Value::Null);
    assert_eq!(customer["entitlements"], json!([]));
    let response = app.post("/v1/receipts/calculate", &later("f2")).await;
    let field = assert_error(&response, 422, "certificate_invalid");
    assert_eq!(field.as_deref(), Some("certificates[0].code"));
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &with_coupons(milk_at("f3", t0()), &[&coupon]),
        )
        .await;
    assert_eq!(
        calc["coupons"],
        json!([{"code": coupon, "status": "rejected", "reason": "revoked"}])
    );
    // A cancel after the full return changes nothing more.
    let cancelled = cancel(&app, "f1").await;
    assert_eq!(cancelled["points_reversed"], 0);
    assert_eq!(app.balance(&c1).await, (0, 0));
    app.assert_store_ok().await;
}
