//! Merging customers, undoing merges, and the review queue.

use crate::helpers::{assert_error, receipt, setup_chain, spawn_app, t0, utc, TestApp};
use chrono::Duration;
use serde_json::{json, Value};
use tessera_core::consent::SourceTrust;
use tessera_server::clock::Clock;
use tessera_store::crm_command::{Actor, CrmCommand, ImportBatch};
use tessera_store::{CandidateStatus, MergeCandidate};

/// One line of 1000.00: 5% back is 50 points.
fn milk() -> Value {
    json!([{"line":1,"sku":"MILK-1","qty":1,"price":100000}])
}

async fn commit(app: &TestApp, receipt_id: &str, card: &str) {
    let body = receipt(
        receipt_id,
        app.clock.now(),
        Some(json!({ "card": card })),
        milk(),
    );
    let (status, out) = app.post("/v1/receipts/commit", &body).await;
    assert_eq!(status, 200, "{out}");
}

fn receipt_ids(out: &Value) -> Vec<String> {
    out["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["receipt_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_joins_receipts_points_and_cards_and_an_unmerge_restores_them() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let anna = app
        .create_customer(json!({"name":"Anna","phone":"+79161234567","cards":["70010001"]}))
        .await;
    let twin = app
        .create_customer(json!({"name":"Anya","email":"anya@example.com","cards":["70020002"]}))
        .await;
    commit(&app, "R-A", "70010001").await;
    commit(&app, "R-B", "70020002").await;
    app.advance_days(15);
    assert_eq!(app.balance(&anna).await, (50, 0));
    assert_eq!(app.balance(&twin).await, (50, 0));

    let (status, merge) = app
        .post(
            &format!("/v1/customers/{anna}/merge"),
            &json!({"customer_id": twin, "actor": "olga"}),
        )
        .await;
    assert_eq!(status, 200, "{merge}");
    let merged_at = utc(t0() + Duration::days(15));
    assert!(
        merge["merge_id"].as_str().unwrap().starts_with("mrg_"),
        "{merge}"
    );
    assert_eq!(merge["survivor_id"], anna.as_str());
    assert_eq!(merge["absorbed_id"], twin.as_str());
    assert_eq!(merge["reason"], "manual");
    assert_eq!(merge["actor"], "olga");
    assert_eq!(merge["at"], merged_at);
    assert_eq!(merge["moved_lots"], 1);
    assert_eq!(merge["undone_at"], Value::Null);

    // The absorbed customer answers, pointing at the survivor.
    let (status, absorbed) = app.get(&format!("/v1/customers/{twin}")).await;
    assert_eq!(status, 200, "{absorbed}");
    assert_eq!(absorbed["status"], "merged");
    assert_eq!(absorbed["merged_into"], anna.as_str());
    assert_eq!(absorbed["cards"], json!([]));
    assert_eq!(absorbed["balance"], json!({"available": 0, "pending": 0}));
    let (_, survivor) = app.get(&format!("/v1/customers/{anna}")).await;
    assert_eq!(survivor["status"], "active");
    assert_eq!(survivor["balance"], json!({"available": 100, "pending": 0}));
    assert_eq!(survivor["emails"], json!(["anya@example.com"]));
    let cards: Vec<&str> = survivor["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap())
        .collect();
    assert_eq!(cards, vec!["70010001", "70020002"]);

    // Receipts of both, newest first (same date: by id, descending).
    let (status, receipts) = app.get(&format!("/v1/customers/{anna}/receipts")).await;
    assert_eq!(status, 200, "{receipts}");
    let mut ids = receipt_ids(&receipts);
    ids.sort();
    assert_eq!(ids, vec!["R-A", "R-B"]);
    assert_eq!(receipts["customer_ids"], json!([anna, twin]));
    assert_eq!(receipts["receipts"][0]["versions"][0]["kind"], "commit");
    let (_, page) = app
        .get(&format!("/v1/customers/{anna}/receipts?limit=1"))
        .await;
    assert_eq!(receipt_ids(&page).len(), 1);
    assert_eq!(page["next_offset"], 1);
    let (_, rest) = app
        .get(&format!("/v1/customers/{anna}/receipts?offset=1&limit=1"))
        .await;
    assert_ne!(receipt_ids(&rest), receipt_ids(&page));

    // The absorbed customer's card reaches the survivor at the till.
    let quote = receipt(
        "Q-1",
        app.clock.now(),
        Some(json!({"card": "70020002"})),
        milk(),
    );
    let (status, calc) = app.post("/v1/receipts/calculate", &quote).await;
    assert_eq!(status, 200, "{calc}");
    assert_eq!(calc["customer_id"], anna.as_str());

    // The survivor's timeline shows the merge.
    let (_, timeline) = app.get(&format!("/v1/customers/{anna}/timeline")).await;
    let items = timeline["items"].as_array().unwrap();
    assert_eq!(items[0]["type"], "profile", "{timeline}");
    assert!(items
        .iter()
        .any(|i| i["type"] == "profile" && i["kind"] == "merge" && i["detail"]["actor"] == "olga"));

    // What cannot be merged.
    let again = app
        .post(
            &format!("/v1/customers/{anna}/merge"),
            &json!({"customer_id": twin}),
        )
        .await;
    assert_error(&again, 409, "customer_merged");
    let itself = app
        .post(
            &format!("/v1/customers/{anna}/merge"),
            &json!({"customer_id": anna}),
        )
        .await;
    assert_error(&itself, 409, "merge_conflict");
    let nobody = app
        .post(
            &format!("/v1/customers/{anna}/merge"),
            &json!({"customer_id": "cus_NOPE"}),
        )
        .await;
    assert_error(&nobody, 404, "customer_not_found");
    let field = assert_error(
        &app.post(&format!("/v1/customers/{anna}/merge"), &json!({}))
            .await,
        422,
        "missing_field",
    );
    assert_eq!(field.as_deref(), Some("customer_id"));

    // The unmerge gives everything back.
    app.advance_days(1);
    let (status, undone) = app
        .post(
            &format!("/v1/customers/{twin}/unmerge"),
            &json!({"actor": "olga"}),
        )
        .await;
    assert_eq!(status, 200, "{undone}");
    assert_eq!(undone["merge_id"], merge["merge_id"]);
    assert_eq!(undone["undone_at"], utc(t0() + Duration::days(16)));
    let (_, restored) = app.get(&format!("/v1/customers/{twin}")).await;
    assert_eq!(restored["status"], "active");
    assert_eq!(restored["merged_into"], Value::Null);
    assert_eq!(restored["cards"][0]["number"], "70020002");
    assert_eq!(restored["emails"], json!(["anya@example.com"]));
    assert_eq!(app.balance(&anna).await, (50, 0));
    assert_eq!(app.balance(&twin).await, (50, 0));
    let (_, receipts) = app.get(&format!("/v1/customers/{anna}/receipts")).await;
    assert_eq!(receipt_ids(&receipts), vec!["R-A"]);
    let quote = receipt(
        "Q-2",
        app.clock.now(),
        Some(json!({"card": "70020002"})),
        milk(),
    );
    let (_, calc) = app.post("/v1/receipts/calculate", &quote).await;
    assert_eq!(calc["customer_id"], twin.as_str());
    assert_error(
        &app.post(&format!("/v1/customers/{twin}/unmerge"), &json!({}))
            .await,
        404,
        "merge_not_found",
    );
    app.assert_store_ok().await;
}

fn candidate(id: &str, a: &str, b: &str) -> MergeCandidate {
    let (a, b) = if a < b { (a, b) } else { (b, a) };
    MergeCandidate {
        candidate_id: id.into(),
        customer_a: a.into(),
        customer_b: b.into(),
        kind: "fuzzy".into(),
        score: 0.93,
        status: CandidateStatus::Open,
        created_at: t0(),
        decided_at: None,
        decided_by: None,
        merge_id: None,
    }
}

fn candidate_ids(out: &Value) -> Vec<String> {
    out["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["candidate_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suggested_merges_are_accepted_and_rejected() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let first = app
        .create_customer(json!({"name":"Anna","cards":["70010001"]}))
        .await;
    app.advance_days(1);
    let second = app
        .create_customer(json!({"name":"Ann","cards":["70010002"]}))
        .await;
    app.advance_days(1);
    let third = app
        .create_customer(json!({"name":"Anya","cards":["70010003"]}))
        .await;
    let batch = ImportBatch {
        candidates: vec![
            candidate("k1", &second, &first),
            candidate("k2", &first, &third),
        ],
        by: Actor {
            source: "import".into(),
            ..Actor::default()
        },
        at: t0(),
        ..ImportBatch::default()
    };
    app.store
        .crm(CrmCommand::Import(Box::new(batch), SourceTrust::default()))
        .await
        .unwrap();

    let (status, open) = app.get("/v1/merge-candidates?status=open").await;
    assert_eq!(status, 200, "{open}");
    assert_eq!(candidate_ids(&open), vec!["k1", "k2"]);
    assert_eq!(open["next_after"], Value::Null);
    assert_eq!(open["candidates"][0]["kind"], "fuzzy");
    assert_eq!(open["candidates"][0]["score"], 0.93);
    assert_eq!(open["candidates"][0]["status"], "open");
    let (_, page) = app.get("/v1/merge-candidates?limit=1").await;
    assert_eq!(candidate_ids(&page), vec!["k1"]);
    assert_eq!(page["next_after"], "k1");
    let (_, rest) = app.get("/v1/merge-candidates?after=k1").await;
    assert_eq!(candidate_ids(&rest), vec!["k2"]);

    // Accepting merges the pair; the one registered first survives.
    let (status, accepted) = app
        .post("/v1/merge-candidates/k1/accept", &json!({"actor": "olga"}))
        .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["decided_by"], "olga");
    assert_eq!(accepted["decided_at"], utc(t0() + Duration::days(2)));
    assert!(accepted["merge_id"].as_str().unwrap().starts_with("mrg_"));
    let (_, absorbed) = app.get(&format!("/v1/customers/{second}")).await;
    assert_eq!(absorbed["status"], "merged");
    assert_eq!(absorbed["merged_into"], first.as_str());

    // Rejecting keeps them apart; a body is optional.
    let (status, rejected) = app.post_raw("/v1/merge-candidates/k2/reject", b"").await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["merge_id"], Value::Null);
    let (_, kept) = app.get(&format!("/v1/customers/{third}")).await;
    assert_eq!(kept["status"], "active");

    assert_error(
        &app.post("/v1/merge-candidates/k2/accept", &json!({})).await,
        409,
        "merge_conflict",
    );
    assert_error(
        &app.post("/v1/merge-candidates/nope/accept", &json!({}))
            .await,
        404,
        "candidate_not_found",
    );
    let (_, accepted) = app.get("/v1/merge-candidates?status=accepted").await;
    assert_eq!(candidate_ids(&accepted), vec!["k1"]);
    let (_, rejected) = app.get("/v1/merge-candidates?status=rejected").await;
    assert_eq!(candidate_ids(&rejected), vec!["k2"]);
    let (_, open) = app.get("/v1/merge-candidates?status=open").await;
    assert!(candidate_ids(&open).is_empty());
    let field = assert_error(
        &app.get("/v1/merge-candidates?status=maybe").await,
        422,
        "invalid_field",
    );
    assert_eq!(field.as_deref(), Some("status"));
    app.assert_store_ok().await;
}
