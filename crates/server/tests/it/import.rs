//! `POST /v1/import/customers`: a dirty file in, one profile per person out.

use crate::helpers::{assert_error, setup_chain, spawn_app};
use serde_json::{json, Value};

const FILE: &str = "\
source_id,first_name,last_name,birthday,phone,email,card,city,consent_sms,shoe_size
1,Anna,Petrova,07.03.1985,+7 916 111-11-11,anna@mail.ru,5001,Moscow,1,38
2,Анна,Петрова,1985-03-07,8 (916) 111-11-11,,,,,
3,Boris,Ivanov,1970-01-02,+70000000000,test@test.ru,5002,Omsk,yes,
4,Borys,Ivanov,1970-01-02,+7 916 333-33-33,,5003,,,
5,Olga,Smirnova,1990-13-01,12345,not-an-email,7001,Kazan,0,
";

fn by_row(report: &Value, row: u64) -> Vec<(String, String)> {
    report["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["row"] == row)
        .map(|r| {
            (
                r["field"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dirty_file_becomes_one_profile_per_person() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    let olga = app
        .create_customer(json!({"name":"Olga","cards":["7001"]}))
        .await;

    let (status, out) = app
        .post_raw(
            "/v1/import/customers?source=old_crm&format=csv",
            FILE.as_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let report = &out["report"];
    assert_eq!(report["n_rows_read"], 5);
    assert_eq!(report["unknown_columns"], json!(["shoe_size"]));
    let mut row5 = by_row(report, 5);
    row5.sort();
    assert_eq!(
        row5.iter().map(|(f, _)| f.as_str()).collect::<Vec<_>>(),
        ["birthday", "email", "phone"],
        "{report}"
    );
    // Rows 1 and 2 are one person (the same phone written twice); row 3's
    // placeholders match nothing; row 4 is new, a fuzzy match of row 3 for review;
    // row 5 updates Olga by her card.
    assert_eq!(out["applied"]["created"], 3, "{out}");
    assert_eq!(out["applied"]["updated"], 1, "{out}");
    assert_eq!(out["applied"]["candidates"], 1, "{out}");

    let (_, found) = app.get("/v1/customers?q=%2B79161111111").await;
    let anna = found["customers"].as_array().unwrap();
    assert_eq!(anna.len(), 1, "{found}");
    let anna_id = anna[0]["customer_id"].as_str().unwrap().to_string();
    let (_, anna) = app.get(&format!("/v1/customers/{anna_id}")).await;
    assert_eq!(anna["first_name"], "Anna");
    assert_eq!(anna["birthday"], "1985-03-07");
    assert_eq!(anna["external_ids"].as_array().unwrap().len(), 2, "{anna}");
    assert_eq!(anna["consents"]["sms"]["granted"], true, "{anna}");

    let (_, olga_now) = app.get(&format!("/v1/customers/{olga}")).await;
    assert_eq!(olga_now["city"], "Kazan", "{olga_now}");
    assert_eq!(
        olga_now["phones"],
        json!([]),
        "the refused phone is not stored"
    );

    let (status, queue) = app.get("/v1/merge-candidates?status=open").await;
    assert_eq!(status, 200, "{queue}");
    let candidates = queue["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{queue}");
    let candidate = candidates[0]["candidate_id"].as_str().unwrap();
    let (status, accepted) = app
        .post(
            &format!("/v1/merge-candidates/{candidate}/accept"),
            &json!({"actor": "olga"}),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    let (_, boris) = app.get("/v1/customers?q=5003").await;
    let holders = boris["customers"].as_array().unwrap();
    assert_eq!(holders.len(), 1, "{boris}");
    let (_, boris) = app
        .get(&format!(
            "/v1/customers/{}",
            holders[0]["customer_id"].as_str().unwrap()
        ))
        .await;
    let mut cards: Vec<&str> = boris["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap())
        .collect();
    cards.sort();
    assert_eq!(cards, ["5002", "5003"], "{boris}");

    // The same file again changes no one's count: everyone is matched.
    let (status, again) = app
        .post_raw(
            "/v1/import/customers?source=old_crm&format=csv",
            FILE.as_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["applied"]["created"], 0, "{again}");
    app.assert_store_ok().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_without_a_source_or_with_bad_settings_is_refused() {
    let app = spawn_app().await;
    setup_chain(&app).await;
    for (path, field) in [
        ("/v1/import/customers?format=csv", "source"),
        ("/v1/import/customers?source=x&format=xml", "format"),
        (
            "/v1/import/customers?source=x&default_country=ZZ",
            "default_country",
        ),
        ("/v1/import/customers?source=x&date_order=ymd", "date_order"),
    ] {
        let response = app.post_raw(path, FILE.as_bytes()).await;
        let got = assert_error(&response, 422, "invalid_field");
        assert_eq!(got.as_deref(), Some(field), "{path}");
    }
    let response = app
        .post_raw("/v1/import/customers?source=x&limit=3", FILE.as_bytes())
        .await;
    assert_error(&response, 422, "unknown_field");
}
