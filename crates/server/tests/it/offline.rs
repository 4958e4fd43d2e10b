//! Offline tills: a batch of receipts made while Tessera was unreachable.

use crate::helpers::{assert_error, receipt, setup_chain, spawn_app, t0};
use chrono::Duration;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_batch_commits_each_receipt_once_at_its_own_time() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    app.create_customer(json!({"name": "Anna", "cards": ["4001"]}))
        .await;
    // A sale that ended yesterday at 23:59 Moscow time.
    let (status, out) = app
        .put(
            "/v1/promotions/yesterday",
            &json!({"name": "20% off milk until yesterday", "schedule": {"to": "2026-03-09T23:59"},
                    "effects": [{"type": "percent_off", "percent": 20, "items": {"category": ["dairy"]}}]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let milk = json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]);
    let yesterday = t0() - Duration::hours(20);
    let made_offline = receipt(
        "off-1",
        yesterday,
        Some(json!({"card": "4001"})),
        milk.clone(),
    );
    let mut redeeming = receipt(
        "off-2",
        yesterday,
        Some(json!({"card": "4001"})),
        milk.clone(),
    );
    redeeming["redeem_points"] = json!(10);
    let mut paying = receipt("off-3", yesterday, None, milk.clone());
    paying["certificates"] = json!([{"code": "K7QM-X3PD-9HTR-F2WC", "amount": 100}]);
    let broken = json!({"receipt_id": "off-4", "store_id": "msk-1", "terminal_id": "T1", "at": "2026-03-09T10:00:00+03:00"});
    let batch = json!({"receipts": [made_offline, redeeming, paying, broken]});

    let (status, first) = app.post("/v1/receipts/offline", &batch).await;
    assert_eq!(status, 200, "{first}");
    let results = first["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    // Priced with the sale in force at the receipt's own time: 20% off, then 5% back.
    assert_eq!(results[0]["status"], 200);
    assert_eq!(results[0]["receipt_id"], "off-1");
    assert_eq!(results[0]["receipt"]["totals"]["discount"], 2000);
    assert_eq!(results[0]["receipt"]["status"], "committed");
    assert_eq!(results[0]["receipt"]["rewards"]["points_earned"], 4);
    assert_eq!(
        (
            &results[1]["status"],
            &results[1]["error"]["code"],
            &results[1]["error"]["field"]
        ),
        (
            &json!(422),
            &json!("offline_redemption"),
            &json!("receipts[1].redeem_points")
        )
    );
    assert_eq!(
        (
            &results[2]["status"],
            &results[2]["error"]["code"],
            &results[2]["error"]["field"]
        ),
        (
            &json!(422),
            &json!("offline_redemption"),
            &json!("receipts[2].certificates")
        )
    );
    assert_eq!(
        (
            &results[3]["status"],
            &results[3]["error"]["code"],
            &results[3]["error"]["field"]
        ),
        (
            &json!(422),
            &json!("missing_field"),
            &json!("receipts[3].lines")
        )
    );
    // The same batch again (the till never saw the answer): nothing changes.
    let (status, again) = app.post("/v1/receipts/offline", &batch).await;
    assert_eq!(status, 200);
    assert_eq!(again, first);
    // The same receipt sent to the online commit is the same receipt.
    let (status, online) = app.post("/v1/receipts/commit", &made_offline_body()).await;
    assert_eq!(status, 200, "{online}");
    assert_eq!(online, results[0]["receipt"]);
    // Now (online) the sale is over.
    let (_, now) = app
        .post(
            "/v1/receipts/calculate",
            &receipt("on-1", t0(), None, milk.clone()),
        )
        .await;
    assert_eq!(now["totals"]["discount"], 0);

    let field = assert_error(
        &app.post("/v1/receipts/offline", &json!({"receipts": []}))
            .await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("receipts"));
    app.assert_store_ok().await;
}

fn made_offline_body() -> serde_json::Value {
    receipt(
        "off-1",
        t0() - Duration::hours(20),
        Some(json!({"card": "4001"})),
        json!([{"line": 1, "sku": "MILK-1", "qty": 1, "price": 10000}]),
    )
}
