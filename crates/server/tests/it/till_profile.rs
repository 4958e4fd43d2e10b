//! The profile at the till: `profile_requests` in a calculation, `profile_update`
//! with a commit, and a one-time reward for a completed profile.

use crate::helpers::{assert_error, receipt, setup_chain, spawn_app, t0};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_till_asks_for_missing_fields_and_a_completed_profile_is_rewarded_once() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let (status, out) = app
        .put(
            "/v1/program",
            &json!({"currency":"RUB","point_value":100,"pending_days":14,"expiry_days":365,
                "max_redeem_percent":50,
                "required_fields":[{"field":"email","max_age_days":365},{"field":"birthday"}]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let (status, out) = app
        .put(
            "/v1/promotions/questionnaire",
            &json!({"name":"100 points for a completed profile",
                "audience":{"profile_completed":true},
                "limits":{"per_customer":1},
                "effects":[{"type":"bonus_points","points":100}]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let id = app
        .create_customer(json!({"name":"Anna","phone":"+79161234567","cards":["7001"]}))
        .await;
    let lines = json!([{"line":1,"sku":"MILK-1","qty":1,"price":10000}]);
    let card = Some(json!({"card":"7001"}));

    let (status, calc) = app
        .post(
            "/v1/receipts/calculate",
            &receipt("r1", t0(), card.clone(), lines.clone()),
        )
        .await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(
        calc["profile_requests"],
        json!([{"field":"email","reason":"missing"},{"field":"birthday","reason":"missing"}])
    );
    assert_eq!(
        calc["rewards"]["bonus_points"], 0,
        "not complete yet: {calc}"
    );

    // A badly typed answer is refused naming the field, and nothing is written.
    let mut bad = receipt("r1", t0(), card.clone(), lines.clone());
    bad["profile_update"] = json!({"add_emails":["not-an-email"]});
    let refused = app.post("/v1/receipts/commit", &bad).await;
    assert_error(&refused, 422, "invalid_email");
    assert!(
        refused.1["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("profile_update.add_emails"),
        "{}",
        refused.1
    );
    let (status, _) = app.get("/v1/receipts/r1").await;
    assert_eq!(status, 404);

    let mut body = receipt("r1", t0(), card.clone(), lines.clone());
    body["profile_update"] =
        json!({"add_emails":["Anna@Example.com"],"birthday":"07.03.1985","first_name":"anna"});
    let (status, committed) = app.post("/v1/receipts/commit", &body).await;
    assert_eq!(status, 200, "{committed}");
    assert_eq!(committed["rewards"]["bonus_points"], 100, "{committed}");

    let (status, got) = app.get(&format!("/v1/customers/{id}?history=true")).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["emails"], json!(["anna@example.com"]));
    assert_eq!(got["birthday"], "1985-03-07");
    let history = got["history"].as_array().unwrap();
    let from_till: Vec<_> = history.iter().filter(|e| e["source"] == "pos").collect();
    assert!(!from_till.is_empty(), "{got}");

    // The service desk corrects the name; the till's retry of the receipt is answered
    // with the stored bytes and does not write its update over the correction.
    let (status, _) = crate::profiles::patch(&app, &id, &json!({"first_name":"Anya"})).await;
    assert_eq!(status, 200);
    let (status, retry) = app.post_bytes("/v1/receipts/commit", &body).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_slice::<Value>(&retry).unwrap(), committed);
    let (_, got) = app.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(got["first_name"], "Anya", "{got}");

    let (status, calc) = app
        .post(
            "/v1/receipts/calculate",
            &receipt("r2", t0(), card.clone(), lines.clone()),
        )
        .await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["profile_requests"], json!([]));
    let (status, second) = app
        .post(
            "/v1/receipts/commit",
            &receipt("r2", t0(), card.clone(), lines),
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        second["rewards"]["bonus_points"], 0,
        "rewarded once: {second}"
    );
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_someone_else_holds_does_not_stop_the_sale() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    app.create_customer(json!({"phone":"+79160000001","cards":["7001"]}))
        .await;
    let other = app
        .create_customer(json!({"phone":"+79160000002","cards":["7002"]}))
        .await;
    let mut body = receipt(
        "r1",
        t0(),
        Some(json!({"card":"7001"})),
        json!([{"line":1,"sku":"MILK-1","qty":1,"price":10000}]),
    );
    body["profile_update"] = json!({"add_phones":["+7 916 000-00-02"],"city":"Omsk"});
    let (status, out) = app.post("/v1/receipts/commit", &body).await;
    assert_eq!(status, 200, "{out}");
    let (_, got) = app.get(&format!("/v1/customers/{other}")).await;
    assert_eq!(got["phones"], json!(["+79160000002"]), "{got}");
}
