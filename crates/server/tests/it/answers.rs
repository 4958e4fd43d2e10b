//! The answers and records written with compact_json are the bytes serde_json wrote:
//! a real calculation, commit and stored record, each serialised both ways.

use crate::helpers::{setup_chain, spawn_app, TOKEN};
use crate::receipts::receipt_a;
use serde::Serialize;
use serde_json::json;
use tessera_api::convert::calculation_out;
use tessera_api::{CalculationOut, ReceiptOut};
use tessera_core::compact_json;

/// `bytes` are what both writers make of the value they read back as.
#[track_caller]
fn written_by_both<T: Serialize + serde::de::DeserializeOwned>(bytes: &[u8]) {
    let value: T = serde_json::from_slice(bytes).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&compact_json::to_vec(&value).unwrap()),
        String::from_utf8_lossy(bytes)
    );
    assert_eq!(serde_json::to_vec(&value).unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_records_are_the_bytes_serde_json_writes() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    // A name that needs escapes, shown in every answer's `promotions`.
    let quoted = json!({"name": "Весна «-5%» on \"dairy\"\\\n\t😀", "priority": 5,
        "effects": [{"type": "percent_off", "percent": 5, "items": {"category": ["dairy"]}}]});
    assert_eq!(app.put("/v1/promotions/quoted", &quoted).await.0, 200);
    app.create_customer(json!({"name": "Anna", "cards": ["7001000012345"]}))
        .await;
    let body = receipt_a();

    let response = app
        .client
        .post(format!("{}/v1/receipts/calculate", app.base_url))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let calculated = response.bytes().await.unwrap();
    written_by_both::<CalculationOut>(&calculated);
    assert!(String::from_utf8_lossy(&calculated).contains(r#"\"dairy\"\\\n\t😀"#));

    let (status, committed) = app.post_bytes("/v1/receipts/commit", &body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&committed));
    written_by_both::<CalculationOut>(&committed);

    let stored = app.store.receipt("R-A").await.unwrap().unwrap();
    let record = &stored.record;
    assert_eq!(
        compact_json::to_vec(record).unwrap(),
        serde_json::to_vec(record).unwrap()
    );
    // The commit's answer as its renderer makes it from the record.
    let answer = calculation_out(
        &record.receipt_id,
        &record.calculation,
        Some(record.version),
        false,
        Some(&record.issued),
    );
    assert_eq!(compact_json::to_vec(&answer).unwrap(), committed);

    let (status, fetched) = app.get_bytes("/v1/receipts/R-A").await;
    assert_eq!(status, 200);
    written_by_both::<ReceiptOut>(&fetched);
}
