//! Privacy: erasure keeps the ledger and frees the identifiers; the export and the
//! timeline show everything held about a customer.

use crate::helpers::{assert_error, customer_sums, receipt, setup_chain, spawn_app, t0, utc};
use crate::profiles::patch;
use chrono::Duration;
use serde_json::{json, Value};
use tessera_server::clock::Clock;

fn shoes() -> Value {
    json!([{"line":1,"sku":"SHOE-1","qty":1,"price":200000},{"line":2,"sku":"MILK-1","qty":2,"price":10000}])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_removes_personal_data_and_keeps_the_ledger() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let id = app
        .create_customer(json!({"name":"Anna Smirnova","phone":"+79161234567","email":"anna@example.com","cards":["70010001"]}))
        .await;
    let (status, out) = patch(
        &app,
        &id,
        &json!({"first_name": "Anna", "last_name": "Smirnova", "birthday": "1985-03-07",
            "attributes": {"pet": "Murka"}, "add_external_ids": [{"source": "shop", "id": "A-17"}],
            "consents": [{"channel": "email", "granted": true}]}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    let body = receipt("R-1", t0(), Some(json!({"card": "70010001"})), shoes());
    let (status, committed) = app.post("/v1/receipts/commit", &body).await;
    assert_eq!(status, 200, "{committed}");
    app.advance_days(1);
    let entries_before = app.ledger(&id).await;
    let balance_before = app.balance(&id).await;
    assert!(balance_before.1 > 0, "{balance_before:?}");

    let (status, erased) = app
        .post(
            &format!("/v1/customers/{id}/erase"),
            &json!({"actor": "dpo"}),
        )
        .await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["status"], "erased");
    for field in [
        "name",
        "first_name",
        "last_name",
        "birthday",
        "phone",
        "email",
    ] {
        assert_eq!(erased[field], Value::Null, "{field}: {erased}");
    }
    for (field, empty) in [
        ("phones", json!([])),
        ("emails", json!([])),
        ("external_ids", json!([])),
        ("cards", json!([])),
        ("attributes", json!({})),
        ("consents", json!({})),
    ] {
        assert_eq!(erased[field], empty, "{field}: {erased}");
    }
    assert_eq!(erased["customer_id"], id.as_str());
    assert_eq!(erased["created_at"], utc(t0()));
    assert_eq!(
        erased["balance"],
        json!({"available": balance_before.0, "pending": balance_before.1})
    );

    // Nothing personal is left anywhere the API shows.
    let (status, full) = app.get(&format!("/v1/customers/{id}?history=true")).await;
    assert_eq!(status, 200);
    let (status, export) = app.get(&format!("/v1/customers/{id}/export")).await;
    assert_eq!(status, 200, "{export}");
    for text in [full.to_string(), export["customer"].to_string()] {
        for personal in [
            "Anna",
            "Smirnova",
            "9161234567",
            "anna@example",
            "1985",
            "A-17",
            "70010001",
            "Murka",
        ] {
            assert!(!text.contains(personal), "{personal} left in {text}");
        }
    }
    assert!(full["history"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "erase" && e["actor"] == "dpo" && e["source"] == "service_desk"));
    // The ledger and the receipt stay.
    assert_eq!(app.ledger(&id).await, entries_before);
    assert_eq!(customer_sums(&entries_before), balance_before);
    assert_eq!(export["receipts"][0]["receipt_id"], "R-1");
    assert_eq!(
        export["ledger_entries"].as_array().unwrap().len(),
        entries_before.len()
    );

    // The card and the phone can be registered again.
    let again = app
        .create_customer(json!({"phone":"+79161234567","cards":["70010001"]}))
        .await;
    assert_ne!(again, id);
    let quote = receipt(
        "Q-1",
        app.clock.now(),
        Some(json!({"card": "70010001"})),
        shoes(),
    );
    let (_, calc) = app.post("/v1/receipts/calculate", &quote).await;
    assert_eq!(calc["customer_id"], again.as_str());

    // An erased customer cannot be changed; erasing again changes nothing.
    assert_error(
        &patch(&app, &id, &json!({"city": "Moscow"})).await,
        410,
        "customer_erased",
    );
    assert_error(
        &app.post(
            &format!("/v1/customers/{id}/cards"),
            &json!({"number": "70010077"}),
        )
        .await,
        410,
        "customer_erased",
    );
    let (status, twice) = app
        .post_raw(&format!("/v1/customers/{id}/erase"), b"")
        .await;
    assert_eq!(status, 200);
    assert_eq!(twice["updated_at"], erased["updated_at"]);
    assert_error(
        &app.post("/v1/customers/cus_NOPE/erase", &json!({})).await,
        404,
        "customer_not_found",
    );
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_and_the_timeline_show_everything_held() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let id = app
        .create_customer(json!({"name":"Anna","phone":"+79161234567","cards":["70010001"]}))
        .await;
    let body = receipt("R-1", t0(), Some(json!({"card": "70010001"})), shoes());
    let (status, out) = app.post("/v1/receipts/commit", &body).await;
    assert_eq!(status, 200, "{out}");
    app.clock.advance(Duration::hours(1));
    let (status, out) = app
        .post(
            "/v1/receipts/R-1/returns",
            &json!({"return_id": "RET-1", "at": crate::helpers::msk(app.clock.now()), "lines": [{"line": 2, "qty": 1}]}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    app.clock.advance(Duration::hours(1));
    let (status, out) = patch(&app, &id, &json!({"city": "Kazan", "actor": "olga"})).await;
    assert_eq!(status, 200, "{out}");
    app.clock.advance(Duration::hours(1));
    let (status, out) = app
        .post(
            &format!("/v1/customers/{id}/adjustments"),
            &json!({"points": 7, "reason": "sorry", "idempotency_key": "adj-1"}),
        )
        .await;
    assert_eq!(status, 201, "{out}");

    let (status, export) = app.get(&format!("/v1/customers/{id}/export")).await;
    assert_eq!(status, 200, "{export}");
    assert_eq!(export["exported_at"], utc(t0() + Duration::hours(3)));
    let customer = &export["customer"];
    assert_eq!(customer["customer_id"], id.as_str());
    assert_eq!(customer["city"], "Kazan");
    assert_eq!(customer["phones"], json!(["+79161234567"]));
    assert_eq!(customer["field_sources"]["city"]["source"], "api");
    let kinds: Vec<&str> = customer["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"field") && kinds.contains(&"adjustment"),
        "{kinds:?}"
    );
    assert_eq!(
        export["ledger_entries"].as_array().unwrap(),
        &app.ledger(&id).await
    );
    let receipts = export["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0]["receipt_id"], "R-1");
    let versions: Vec<&str> = receipts[0]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap())
        .collect();
    assert_eq!(versions, vec!["commit", "return"]);
    assert_eq!(export["merges"], json!([]));
    assert_eq!(export["grants"], json!([]));
    let (_, balance) = app.get(&format!("/v1/customers/{id}/balance")).await;
    assert_eq!(customer["balance"]["available"], balance["available"]);
    assert_eq!(customer["balance"]["pending"], balance["pending"]);

    // The timeline: newest first, all three kinds.
    let (status, timeline) = app.get(&format!("/v1/customers/{id}/timeline")).await;
    assert_eq!(status, 200, "{timeline}");
    let items = timeline["items"].as_array().unwrap();
    let at: Vec<&str> = items.iter().map(|i| i["at"].as_str().unwrap()).collect();
    assert!(at.windows(2).all(|w| w[0] >= w[1]), "newest first: {at:?}");
    let head: Vec<(&str, &str)> = items
        .iter()
        .take(3)
        .map(|i| (i["type"].as_str().unwrap(), i["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        head,
        vec![
            ("profile", "adjustment"),
            ("ledger", "adjust"),
            ("profile", "field")
        ],
        "{timeline}"
    );
    let receipt_kinds: Vec<&str> = items
        .iter()
        .filter(|i| i["type"] == "receipt")
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(receipt_kinds, vec!["return", "commit"]);
    let commit = items
        .iter()
        .find(|i| i["type"] == "receipt" && i["kind"] == "commit")
        .unwrap();
    assert_eq!(commit["receipt_id"], "R-1");
    assert_eq!(commit["customer_id"], id.as_str());
    assert!(items
        .iter()
        .any(|i| i["type"] == "ledger" && i["kind"] == "earn"));
    let (_, short) = app
        .get(&format!("/v1/customers/{id}/timeline?limit=2"))
        .await;
    assert_eq!(short["items"].as_array().unwrap(), &items[..2].to_vec());
    assert_error(
        &app.get("/v1/customers/cus_NOPE/timeline").await,
        404,
        "customer_not_found",
    );
    assert_error(
        &app.get("/v1/customers/cus_NOPE/export").await,
        404,
        "customer_not_found",
    );
    assert_error(
        &app.get("/v1/customers/cus_NOPE/receipts").await,
        404,
        "customer_not_found",
    );
}
