//! `tessera bench` runs end to end on a small chain and reports what it did.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn bench_runs_a_small_chain_and_writes_its_report() {
    let dir = std::env::temp_dir().join(format!("tessera-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = dir.join("bench.db").display().to_string();
    let report = dir.join("report.json").display().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "bench",
            "--database",
            &database,
            "--members",
            "300",
            "--history",
            "200",
            "--promotions",
            "20",
            "--tills",
            "10",
            "--concurrency",
            "4",
            "--seconds",
            "2",
            "--report",
            &report,
        ])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("receipts/s"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let receipts = report["receipts"].as_u64().unwrap();
    assert!(receipts > 0, "{report}");
    // Every receipt was calculated and committed without an error.
    assert_eq!(
        report["calculate"]["ok"].as_u64(),
        Some(receipts),
        "{report}"
    );
    assert_eq!(report["commit"]["ok"].as_u64(), Some(receipts), "{report}");
    assert_eq!(
        report["commit"]["errors"],
        serde_json::json!({}),
        "{report}"
    );
    assert!(report["commit"]["p99_ms"].as_f64().unwrap() > 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_at_a_fixed_rate_offers_exactly_that_many_receipts() {
    let dir = std::env::temp_dir().join(format!("tessera-bench-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = dir.join("bench.db").display().to_string();
    let report = dir.join("report.json").display().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "bench",
            "--database",
            &database,
            "--members",
            "300",
            "--history",
            "200",
            "--promotions",
            "5",
            "--tills",
            "10",
            "--concurrency",
            "8",
            "--seconds",
            "2",
            "--rate",
            "40",
            "--report",
            &report,
        ])
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("40 receipts/s offered"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    // Receipts due at 0, 25, ..., 1975 ms: eighty in two seconds, no more, no fewer.
    assert_eq!(report["receipts"].as_u64(), Some(80), "{report}");
    assert_eq!(report["offered_rate"].as_u64(), Some(40), "{report}");
    assert_eq!(report["commit"]["ok"].as_u64(), Some(80), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}
