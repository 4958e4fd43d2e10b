//! Coupon series over HTTP: creating and generating, how a presented code is judged
//! (unknown, not yet valid, expired, used), single-use codes consumed at commit and
//! freed by a cancel or a full return, and limits under concurrent commits.

use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};
use std::collections::HashSet;

const ALPHABET: &str = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// The promotion the series `spr` unlocks: 15.00 off the receipt.
fn spring() -> Value {
    json!({"name": "Spring: 15.00 off", "priority": 100, "conditions": {"coupon": {"series": "spr"}},
        "effects": [{"type": "amount_off", "amount": 1500}]})
}

fn spring_applied() -> Value {
    json!([{"promotion_id": "spring", "name": "Spring: 15.00 off", "effect": "amount_off", "discount": 1500, "points": 0}])
}

/// An anonymous receipt of one milk at 100.00 carrying `codes`.
fn milk(receipt_id: &str, at: chrono::DateTime<Utc>, codes: &[&str]) -> Value {
    with_coupons(
        receipt(
            receipt_id,
            at,
            None,
            json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]),
        ),
        codes,
    )
}

fn applied(code: &str) -> Value {
    json!([{"code": code, "status": "applied"}])
}

fn rejected(code: &str, reason: &str) -> Value {
    json!([{"code": code, "status": "rejected", "reason": reason}])
}

/// The chain, the `spring` promotion and the single-use series `spr` valid in March
/// 2026 (store-local).
async fn app_with_series(single_use: bool) -> TestApp {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let (status, out) = app.put("/v1/promotions/spring", &spring()).await;
    assert_eq!(status, 200, "{out}");
    app.put_series(
        &json!({"id": "spr", "promotion": "spring", "single_use": single_use,
        "valid_from": "2026-03-01T00:00", "valid_to": "2026-03-31T23:59"}),
    )
    .await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_lifecycle_and_validation_errors() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let (status, stored) = app.put("/v1/promotions/spring", &spring()).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["conditions"]["coupon"], json!({"series": "spr"}));
    assert_error(
        &app.get("/v1/coupon-series/spr").await,
        404,
        "coupon_series_not_found",
    );

    let good = json!({"id": "spr", "promotion": "spring", "single_use": true,
        "valid_from": "2026-03-01T00:00", "valid_to": "2026-03-31T23:59"});
    let refused = |patch: Value| {
        let mut body = good.clone();
        for (key, value) in patch.as_object().unwrap() {
            if value.is_null() {
                body.as_object_mut().unwrap().remove(key);
            } else {
                body[key] = value.clone();
            }
        }
        body
    };
    // The promotion must exist and name the series in its coupon condition.
    let cases = [
        (json!({"promotion": "nope"}), "invalid_field", "promotion"),
        (
            json!({"promotion": "shoes10"}),
            "invalid_field",
            "promotion",
        ),
        (json!({"id": "spr/2"}), "invalid_field", "id"),
        (
            json!({"valid_from": "1 March"}),
            "invalid_field",
            "valid_from",
        ),
        (
            json!({"valid_to": "2026-02-28T23:59"}),
            "invalid_field",
            "valid_to",
        ),
        (json!({"count": 5}), "unknown_field", "count"),
        (json!({"promotion": null}), "missing_field", "promotion"),
        (json!({"single_use": "yes"}), "invalid_field", "single_use"),
    ];
    for (patch, code, field) in cases {
        let body = refused(patch);
        let response = app.post("/v1/coupon-series", &body).await;
        assert_eq!(
            assert_error(&response, 422, code).as_deref(),
            Some(field),
            "{body}"
        );
    }
    // A promotion requiring another series does not unlock this one.
    let (status, _) = app
        .put(
            "/v1/promotions/autumn",
            &json!({"name": "Autumn", "conditions": {"coupon": {"series": "aut"}},
                "effects": [{"type": "amount_off", "amount": 100}]}),
        )
        .await;
    assert_eq!(status, 200);
    let field = assert_error(
        &app.post(
            "/v1/coupon-series",
            &refused(json!({"promotion": "autumn"})),
        )
        .await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("promotion"));
    assert_error(
        &app.get("/v1/coupon-series/spr").await,
        404,
        "coupon_series_not_found",
    );

    // Created; read back with seconds; updated in place.
    let expected = json!({"id": "spr", "promotion": "spring", "single_use": true,
        "valid_from": "2026-03-01T00:00:00", "valid_to": "2026-03-31T23:59:00"});
    assert_eq!(app.put_series(&good).await, expected);
    let (status, got) = app.get("/v1/coupon-series/spr").await;
    assert_eq!(status, 200);
    assert_eq!(got, expected);
    let codes = app.generate_codes("spr", 3).await;
    let multi = app
        .put_series(&json!({"id": "spr", "promotion": "spring", "single_use": false}))
        .await;
    assert_eq!(
        multi,
        json!({"id": "spr", "promotion": "spring", "single_use": false, "valid_from": null, "valid_to": null})
    );
    assert_eq!(app.get("/v1/coupon-series/spr").await.1, multi);
    // single_use defaults to true; the codes made before the update still work.
    let single = app
        .put_series(&json!({"id": "spr", "promotion": "spring"}))
        .await;
    assert_eq!(single["single_use"], true);
    let (status, calc) = app
        .post("/v1/receipts/calculate", &milk("s1", t0(), &[&codes[2]]))
        .await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["coupons"], applied(&codes[2]));

    // Generate: 1..=10000 codes of an existing series.
    for count in [json!(0), json!(10001), json!(-1), json!("3")] {
        let field = assert_error(
            &app.post("/v1/coupon-series/spr/generate", &json!({ "count": count }))
                .await,
            422,
            "invalid_field",
        );
        assert_eq!(field.as_deref(), Some("count"), "count {count}");
    }
    let field = assert_error(
        &app.post("/v1/coupon-series/spr/generate", &json!({})).await,
        422,
        "missing_field",
    );
    assert_eq!(field.as_deref(), Some("count"));
    assert_error(
        &app.post("/v1/coupon-series/nope/generate", &json!({"count": 1}))
            .await,
        404,
        "coupon_series_not_found",
    );
    assert_error(
        &app.get("/v1/coupon-series/nope").await,
        404,
        "coupon_series_not_found",
    );
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_codes_are_unique_well_formed_and_typos_are_unknown() {
    let app = app_with_series(true).await;
    let codes = app.generate_codes("spr", 10_000).await;
    assert_eq!(codes.len(), 10_000);
    let unique: HashSet<&String> = codes.iter().collect();
    assert_eq!(unique.len(), 10_000, "codes repeat");
    for code in &codes {
        assert_eq!(code.len(), 19, "{code}");
        for (idx, c) in code.chars().enumerate() {
            if idx % 5 == 4 {
                assert_eq!(c, '-', "{code}");
            } else {
                assert!(ALPHABET.contains(c), "{code}");
            }
        }
    }
    // A second call makes other codes.
    let more = app.generate_codes("spr", 50).await;
    assert!(more.iter().all(|c| !unique.contains(c)));

    let code = codes[0].clone();
    // Any single character changed is caught by the check character: `unknown`, and
    // the promotion is not a candidate.
    for position in [0, 6, 18] {
        let mut typo: Vec<char> = code.chars().collect();
        let current = typo[position];
        typo[position] = ALPHABET.chars().find(|c| *c != current).unwrap();
        let typo: String = typo.into_iter().collect();
        let (status, calc) = app
            .post("/v1/receipts/calculate", &milk("t1", t0(), &[&typo]))
            .await;
        assert_eq!(status, 200, "{calc}");
        assert_eq!(calc["coupons"], rejected(&typo, "unknown"), "{typo}");
        assert_eq!(calc["totals"]["discount"], 0);
        assert_eq!(calc["promotions"], json!([]));
    }
    // Any case, with or without dashes (answered upper-cased as sent).
    let bare = code.replace('-', "").to_lowercase();
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk("t2", t0(), &[&bare]))
        .await;
    assert_eq!(calc["coupons"], applied(&bare.to_uppercase()));
    assert_eq!(calc["promotions"], spring_applied());
    let spaced = format!(" {} ", code.to_lowercase());
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk("t3", t0(), &[&spaced]))
        .await;
    assert_eq!(calc["coupons"], applied(&code));
    assert_eq!(calc["totals"]["discount"], 1500);
    // A well-formed code nobody generated is unknown too.
    let stranger = tessera_core::coupon::code_from_random(7);
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk("t4", t0(), &[&stranger]))
        .await;
    assert_eq!(calc["coupons"], rejected(&stranger, "unknown"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_use_code_is_consumed_at_commit_and_freed_by_cancel_or_full_return() {
    let app = app_with_series(true).await;
    let codes = app.generate_codes("spr", 1).await;
    let code = codes[0].as_str();

    // Calculating never consumes it.
    for _ in 0..2 {
        let (status, calc) = app
            .post("/v1/receipts/calculate", &milk("u1", t0(), &[code]))
            .await;
        assert_eq!(status, 200, "{calc}");
        assert_eq!(calc["coupons"], applied(code));
        assert_eq!(calc["promotions"], spring_applied());
        assert_eq!(
            calc["totals"],
            json!({"amount": 10000, "discount": 1500, "points_value": 0, "certificates": 0, "to_pay": 8500})
        );
    }
    let (status, first) = app
        .post("/v1/receipts/commit", &milk("u1", t0(), &[code]))
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["coupons"], applied(code));
    assert_eq!(first["totals"]["to_pay"], 8500);
    // A till that showed the discount before another till used the code: its commit
    // is `quote_changed` with the fresh calculation, and writes nothing.
    let mut stale = milk("u1b", t0(), &[code]);
    stale["expect"] = json!({"to_pay": 8500});
    let (status, changed) = app.post("/v1/receipts/commit", &stale).await;
    assert_eq!(status, 409, "{changed}");
    assert_eq!(changed["error"]["code"], "quote_changed");
    assert_eq!(changed["calculation"]["coupons"], rejected(code, "used"));
    assert_eq!(changed["calculation"]["totals"]["to_pay"], 10000);
    assert_error(&app.get("/v1/receipts/u1b").await, 404, "receipt_not_found");
    // A retry of the commit that used it is answered the same.
    let (status, retry) = app
        .post("/v1/receipts/commit", &milk("u1", t0(), &[code]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(retry, first);

    // Another receipt: `used`, committed without the discount.
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk("u2", t0(), &[code]))
        .await;
    assert_eq!(calc["coupons"], rejected(code, "used"));
    let (status, second) = app
        .post("/v1/receipts/commit", &milk("u2", t0(), &[code]))
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["status"], "committed");
    assert_eq!(second["coupons"], rejected(code, "used"));
    assert_eq!(second["promotions"], json!([]));
    // The promotion the code would have unlocked says why it did not apply.
    assert_eq!(
        second["not_applied"],
        json!([
            {"promotion_id": "spring", "reason": "coupon_invalid", "by": null},
            {"promotion_id": "earn5", "reason": "no_effect", "by": null}
        ])
    );
    assert_eq!(second["totals"]["discount"], 0);
    assert_eq!(second["totals"]["to_pay"], 10000);

    // Cancelling the receipt that used it frees it.
    let (status, cancel) = app.post("/v1/receipts/u1/cancel", &json!({})).await;
    assert_eq!(status, 200, "{cancel}");
    assert_eq!(cancel["refund_money"], 8500);
    let (status, third) = app
        .post("/v1/receipts/commit", &milk("u3", t0(), &[code]))
        .await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["coupons"], applied(code));
    assert_eq!(third["totals"]["discount"], 1500);
    // Cancelling a receipt that did not get it frees nothing.
    let (status, _) = app.post("/v1/receipts/u2/cancel", &json!({})).await;
    assert_eq!(status, 200);
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk("u4", t0(), &[code]))
        .await;
    assert_eq!(calc["coupons"], rejected(code, "used"));

    // A partial return keeps it used; returning the rest frees it.
    let (status, _) = app.post("/v1/receipts/u3/cancel", &json!({})).await;
    assert_eq!(status, 200);
    let two = with_coupons(
        receipt(
            "u5",
            t0(),
            None,
            json!([{"line": 1, "sku": "MILK-1", "qty": 2, "price": 10000}]),
        ),
        &[code],
    );
    let (status, fifth) = app.post("/v1/receipts/commit", &two).await;
    assert_eq!(status, 200, "{fifth}");
    assert_eq!(fifth["coupons"], applied(code));
    assert_eq!(fifth["totals"]["to_pay"], 18500);
    let give_back = |return_id: &str| json!({"return_id": return_id, "at": msk(t0()), "lines": [{"line": 1, "qty": 1}]});
    let (status, partial) = app
        .post("/v1/receipts/u5/returns", &give_back("u5-r1"))
        .await;
    assert_eq!(status, 200, "{partial}");
    assert_eq!(partial["status"], "partially_returned");
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk("u6", t0(), &[code]))
        .await;
    assert_eq!(calc["coupons"], rejected(code, "used"));
    let (status, rest) = app
        .post("/v1/receipts/u5/returns", &give_back("u5-r2"))
        .await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["status"], "returned");
    assert_eq!(
        partial["refund_money"].as_i64().unwrap() + rest["refund_money"].as_i64().unwrap(),
        18500
    );
    let (status, sixth) = app
        .post("/v1/receipts/commit", &milk("u6", t0(), &[code]))
        .await;
    assert_eq!(status, 200, "{sixth}");
    assert_eq!(sixth["coupons"], applied(code));
    // Cancelling the fully returned receipt does not free the code a second time.
    let (status, _) = app.post("/v1/receipts/u5/cancel", &json!({})).await;
    assert_eq!(status, 200);
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk("u7", t0(), &[code]))
        .await;
    assert_eq!(calc["coupons"], rejected(code, "used"));
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_are_valid_in_the_series_window_in_store_local_time() {
    let app = app_with_series(true).await;
    let codes = app.generate_codes("spr", 1).await;
    let code = codes[0].as_str();
    let moscow_midnight = Utc.with_ymd_and_hms(2026, 2, 28, 21, 0, 0).unwrap();
    let cases = [
        // 2026-02-28 23:59:59 in Moscow.
        (
            moscow_midnight - Duration::seconds(1),
            Some("not_yet_valid"),
        ),
        // 2026-03-01 00:00:00 in Moscow.
        (moscow_midnight, None),
    ];
    for (at, reason) in cases {
        let (status, calc) = app
            .post("/v1/receipts/calculate", &milk("w1", at, &[code]))
            .await;
        assert_eq!(status, 200, "{calc}");
        match reason {
            Some(reason) => {
                assert_eq!(calc["coupons"], rejected(code, reason), "{at}");
                assert_eq!(calc["totals"]["discount"], 0);
            }
            None => {
                assert_eq!(calc["coupons"], applied(code), "{at}");
                assert_eq!(calc["totals"]["discount"], 1500);
            }
        }
    }
    // A commit with a not yet valid code does not use it up.
    let (status, early) = app
        .post(
            "/v1/receipts/commit",
            &milk("w-early", moscow_midnight - Duration::hours(1), &[code]),
        )
        .await;
    assert_eq!(status, 200, "{early}");
    assert_eq!(early["coupons"], rejected(code, "not_yet_valid"));

    // The window ends with the minute 2026-03-31 23:59 in the store's zone.
    let moscow_april = Utc.with_ymd_and_hms(2026, 3, 31, 21, 0, 0).unwrap();
    let now = moscow_april + Duration::hours(3);
    app.clock.set(now);
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &milk("w2", moscow_april - Duration::seconds(30), &[code]),
        )
        .await;
    assert_eq!(calc["coupons"], applied(code));
    let (_, calc) = app
        .post("/v1/receipts/calculate", &milk("w3", moscow_april, &[code]))
        .await;
    assert_eq!(calc["coupons"], rejected(code, "expired"));
    assert_eq!(calc["totals"]["discount"], 0);
    // At 17:00 in Moscow it is already April in Vladivostok.
    let vladivostok_april = Utc.with_ymd_and_hms(2026, 3, 31, 14, 0, 0).unwrap();
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &milk("w4", vladivostok_april, &[code]),
        )
        .await;
    assert_eq!(calc["coupons"], applied(code));
    let mut in_vvo = milk("w5", vladivostok_april, &[code]);
    in_vvo["store_id"] = json!("vvo-1");
    let (_, calc) = app.post("/v1/receipts/calculate", &in_vvo).await;
    assert_eq!(calc["coupons"], rejected(code, "expired"));
    // Committed after the window: no discount, and the code stays free for a receipt
    // dated inside it (a till catching up).
    let (status, late) = app
        .post("/v1/receipts/commit", &milk("w6", now, &[code]))
        .await;
    assert_eq!(status, 200, "{late}");
    assert_eq!(late["coupons"], rejected(code, "expired"));
    assert_eq!(late["totals"]["to_pay"], 10000);
    let (status, inside) = app
        .post(
            "/v1/receipts/commit",
            &milk("w7", moscow_april - Duration::hours(1), &[code]),
        )
        .await;
    assert_eq!(status, 200, "{inside}");
    assert_eq!(inside["coupons"], applied(code));
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_use_code_works_for_many_receipts() {
    let app = app_with_series(false).await;
    let (_, series) = app.get("/v1/coupon-series/spr").await;
    assert_eq!(series["single_use"], false);
    let codes = app.generate_codes("spr", 2).await;
    let code = codes[0].as_str();
    for n in 0..5 {
        let (status, out) = app
            .post(
                "/v1/receipts/commit",
                &milk(&format!("m{n}"), t0(), &[code]),
            )
            .await;
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["coupons"], applied(code));
        assert_eq!(out["promotions"], spring_applied());
    }
    // Concurrently too.
    let bodies = (0..10)
        .map(|n| milk(&format!("mc{n}"), t0(), &[code]))
        .collect();
    for (status, out) in app.commit_concurrently(bodies).await {
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["coupons"], applied(code));
        assert_eq!(out["totals"]["discount"], 1500);
    }
    // Two codes of one series on a receipt unlock its promotion once.
    let (_, calc) = app
        .post(
            "/v1/receipts/calculate",
            &milk("m-two", t0(), &[code, &codes[1]]),
        )
        .await;
    assert_eq!(
        calc["coupons"],
        json!([{"code": code, "status": "applied"}, {"code": codes[1], "status": "rejected", "reason": "not_applicable"}])
    );
    assert_eq!(calc["totals"]["discount"], 1500);
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_commits_with_one_single_use_code_give_it_once() {
    let app = app_with_series(true).await;
    let codes = app.generate_codes("spr", 1).await;
    let code = codes[0].as_str();
    let bodies = (0..20)
        .map(|n| milk(&format!("p{n:02}"), t0(), &[code]))
        .collect();
    let mut winners = Vec::new();
    let mut given = 0;
    for (status, out) in app.commit_concurrently(bodies).await {
        assert_eq!(status, 200, "{out}");
        assert_eq!(out["status"], "committed");
        given += out["totals"]["discount"].as_i64().unwrap();
        if out["coupons"] == applied(code) {
            assert_eq!(out["promotions"], spring_applied());
            assert_eq!(out["totals"]["to_pay"], 8500);
            winners.push(out["receipt_id"].as_str().unwrap().to_string());
        } else {
            assert_eq!(out["coupons"], rejected(code, "used"), "{out}");
            assert_eq!(out["promotions"], json!([]));
            assert_eq!(out["totals"]["to_pay"], 10000);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert_eq!(given, 1500);
    // Cancelling the winner frees the code for the next receipt.
    let (status, _) = app
        .post(&format!("/v1/receipts/{}/cancel", winners[0]), &json!({}))
        .await;
    assert_eq!(status, 200);
    let (_, next) = app
        .post("/v1/receipts/commit", &milk("p-next", t0(), &[code]))
        .await;
    assert_eq!(next["coupons"], applied(code));
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budgets_and_use_limits_hold_under_twenty_parallel_commits() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    // A multi-use code worth 10.00 with a budget of 55.00: five receipts fit.
    let budget = json!({"name": "Budgeted code", "priority": 100, "conditions": {"coupon": {"series": "bud"}},
        "limits": {"total_discount": 5500}, "effects": [{"type": "amount_off", "amount": 1000}]});
    let (status, stored) = app.put("/v1/promotions/budget", &budget).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored["limits"], json!({"total_discount": 5500}));
    app.put_series(&json!({"id": "bud", "promotion": "budget", "single_use": false}))
        .await;
    let code = app.generate_codes("bud", 1).await.remove(0);
    // 5.00 off the first seven receipts, code or not.
    let seven = json!({"name": "First seven", "priority": 50, "limits": {"total_uses": 7},
        "effects": [{"type": "amount_off", "amount": 500}]});
    assert_eq!(app.put("/v1/promotions/seven", &seven).await.0, 200);

    let bodies = (0..20)
        .map(|n| milk(&format!("b{n:02}"), t0(), &[&code]))
        .collect();
    let (mut budget_given, mut budget_winners, mut seven_winners) = (0, Vec::new(), 0);
    for (status, out) in app.commit_concurrently(bodies).await {
        assert_eq!(status, 200, "{out}");
        let (from_budget, from_seven) = (discount_of(&out, "budget"), discount_of(&out, "seven"));
        assert!(from_budget == 0 || from_budget == 1000, "{out}");
        assert!(from_seven == 0 || from_seven == 500, "{out}");
        assert_eq!(
            out["totals"]["discount"].as_i64().unwrap(),
            from_budget + from_seven
        );
        let reasons: Vec<&Value> = out["not_applied"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["promotion_id"] != "earn5")
            .collect();
        let mut expected_reasons = Vec::new();
        if from_budget > 0 {
            budget_given += from_budget;
            budget_winners.push(out["receipt_id"].as_str().unwrap().to_string());
            assert_eq!(out["coupons"], applied(&code));
        } else {
            assert_eq!(out["coupons"], rejected(&code, "not_applicable"));
            expected_reasons
                .push(json!({"promotion_id": "budget", "reason": "limit_reached", "by": null}));
        }
        if from_seven > 0 {
            seven_winners += 1;
        } else {
            expected_reasons
                .push(json!({"promotion_id": "seven", "reason": "limit_reached", "by": null}));
        }
        assert_eq!(
            reasons,
            expected_reasons.iter().collect::<Vec<_>>(),
            "{out}"
        );
    }
    assert_eq!(budget_winners.len(), 5, "{budget_winners:?}");
    assert_eq!(budget_given, 5000);
    assert!(budget_given <= 5500);
    assert_eq!(seven_winners, 7);

    // A cancel releases 10.00 of the budget for exactly one more receipt.
    let (status, _) = app
        .post(
            &format!("/v1/receipts/{}/cancel", budget_winners[0]),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, again) = app
        .post("/v1/receipts/commit", &milk("b-again", t0(), &[&code]))
        .await;
    assert_eq!(discount_of(&again, "budget"), 1000, "{again}");
    let (_, over) = app
        .post("/v1/receipts/commit", &milk("b-over", t0(), &[&code]))
        .await;
    assert_eq!(discount_of(&over, "budget"), 0, "{over}");
    assert_eq!(over["coupons"], rejected(&code, "not_applicable"));
    app.assert_store_ok().await;
}
