//! `tessera bench` runs end to end on a small chain and reports what it did.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

/// Runs `tessera bench` on a fresh 300-member chain in its own directory (named after
/// `name`) with `args` added; its standard output and JSON report.
fn run_bench(name: &str, args: &[&str]) -> (String, serde_json::Value) {
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = dir.join("bench.db").display().to_string();
    let report = dir.join("report.json").display().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["bench", "--database", &database, "--members", "300"])
        .args(["--history", "200", "--tills", "10", "--seconds", "2"])
        .args(["--report", &report])
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (stdout, report)
}

#[test]
fn bench_runs_a_small_chain_and_writes_its_report() {
    let (stdout, report) = run_bench("bench-test", &["--promotions", "20", "--concurrency", "4"]);
    assert!(stdout.contains("receipts/s"), "{stdout}");
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
}

#[test]
fn bench_at_a_fixed_rate_offers_exactly_that_many_receipts() {
    let (stdout, report) = run_bench(
        "bench-rate",
        &["--promotions", "5", "--concurrency", "8", "--rate", "40"],
    );
    assert!(stdout.contains("40 receipts/s offered"), "{stdout}");
    // Receipts due at 0, 25, ..., 1975 ms: eighty in two seconds, no more, no fewer.
    assert_eq!(report["receipts"].as_u64(), Some(80), "{report}");
    assert_eq!(report["offered_rate"].as_u64(), Some(40), "{report}");
    assert_eq!(report["commit"]["ok"].as_u64(), Some(80), "{report}");
    // Forty calculates were due in each of the two seconds.
    let per_second: Vec<u64> = report["calculate"]["seconds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ok"].as_u64().unwrap())
        .collect();
    assert_eq!(per_second, [40, 40], "{report}");
    assert!(
        stdout.contains("calculate: highest p99 in second "),
        "{stdout}"
    );
}
