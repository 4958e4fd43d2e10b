//! The real binary: SIGTERM while commits are in flight finishes them, exits cleanly,
//! and every commit answered 200 is there after a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn start(db: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", db])
        .env("TESSERA_ADMIN_TOKEN", "shutdown-test")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("the server printed its address")
            .unwrap();
        if let Some(rest) = line.split("address=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    (child, format!("http://{address}"))
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: serde_json::Value,
) -> u16 {
    client
        .request(method, url)
        .bearer_auth("shutdown-test")
        .json(&body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_commits_and_loses_nothing() {
    let path = std::env::temp_dir().join(format!("tessera-shutdown-{}.db", std::process::id()));
    let db = format!("sqlite://{}", path.display());
    let (mut server, base) = start(&db);
    let client = reqwest::Client::new();
    let put = reqwest::Method::PUT;
    assert_eq!(
        call(
            &client,
            put.clone(),
            format!("{base}/v1/program"),
            serde_json::json!({"currency": "RUB", "point_value": 100})
        )
        .await,
        200
    );
    assert_eq!(
        call(
            &client,
            put,
            format!("{base}/v1/stores/s1"),
            serde_json::json!({"name": "S", "timezone": "Europe/Moscow"})
        )
        .await,
        200
    );
    let now = chrono::Utc::now().to_rfc3339();
    let mut tasks = Vec::new();
    for n in 0..60 {
        let client = client.clone();
        let url = format!("{base}/v1/receipts/commit");
        let body = serde_json::json!({"receipt_id": format!("sd-{n}"), "store_id": "s1", "terminal_id": "T1", "at": now,
            "customer": {"card": format!("9000{n:04}")}, "lines": [{"line": 1, "sku": "X", "qty": 1, "price": 10000}]});
        tasks.push(tokio::spawn(async move {
            (n, call(&client, reqwest::Method::POST, url, body).await)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut acknowledged = Vec::new();
    for task in tasks {
        let (n, status) = task.await.unwrap();
        if status == 200 {
            acknowledged.push(n);
        }
    }
    let exit = server.wait().unwrap();
    assert!(exit.success(), "a clean exit after SIGTERM, got {exit:?}");

    let (mut server, base) = start(&db);
    for n in &acknowledged {
        let status = call(
            &client,
            reqwest::Method::GET,
            format!("{base}/v1/receipts/sd-{n}"),
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(
            status, 200,
            "receipt sd-{n} was acknowledged before shutdown but is missing"
        );
    }
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let check = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["check", "--database", &db])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "tessera check: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    println!(
        "{} of 60 commits acknowledged before the shutdown, all present after restart",
        acknowledged.len()
    );
}
