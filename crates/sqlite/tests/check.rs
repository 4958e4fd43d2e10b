//! `check` finds tampered rows: each kind of corruption is reported by its check.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use tessera_store::Store;

async fn tampered(statement: &str) -> Vec<String> {
    tampered_after(false, statement).await
}

/// Runs the receipts contract (or, with `vouchers`, the coupons and certificates
/// one), tampers with a row and says what check finds.
async fn tampered_after(vouchers: bool, statement: &str) -> Vec<String> {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("tessera-check-{}-{n}.db", std::process::id()));
    let url = path.display().to_string();
    let store = tessera_sqlite::SqliteStore::open(&url).await.unwrap();
    if vouchers {
        tessera_store::contract_vouchers::vouchers_and_rewards(&store)
            .await
            .unwrap();
    } else {
        tessera_store::contract::receipts_ledger_and_returns(&store)
            .await
            .unwrap();
    }
    assert!(store.check().await.unwrap().ok(), "a clean ledger passes");
    let raw = rusqlite::Connection::open(&url).unwrap();
    raw.execute_batch(statement).unwrap();
    raw.close().unwrap();
    let report = store.check().await.unwrap();
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
    report
        .items
        .into_iter()
        .flat_map(|i| i.violations)
        .collect()
}

#[tokio::test]
async fn check_reports_a_balance_that_disagrees_with_its_entries() {
    let violations = tampered("UPDATE customer_accounts SET available = available + 5").await;
    assert!(
        violations.iter().any(|v| v.contains("entries sum to")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn check_reports_a_deleted_entry() {
    let violations = tampered("DELETE FROM entries WHERE kind = 'redeem'").await;
    assert!(
        violations
            .iter()
            .any(|v| v.contains("redeem entries sum to")),
        "{violations:?}"
    );
    assert!(
        violations.iter().any(|v| v.contains("lot ")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn check_reports_a_lot_whose_remaining_was_edited() {
    let violations = tampered("UPDATE lots SET remaining = points").await;
    assert!(
        violations.iter().any(|v| v.contains("but entries leave")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn check_reports_an_unbalanced_entry() {
    let violations = tampered("INSERT INTO entries (customer_id, kind, debit, credit, amount, at) VALUES ('c1', 'earn', 'nowhere', 'customer_available', 7, '2026-03-10T09:00:00.000000Z')").await;
    assert!(
        violations.iter().any(|v| v.contains("unknown account")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn check_reports_a_promotion_counter_that_disagrees_with_the_receipts() {
    let violations = tampered("INSERT INTO promotion_usage (promotion_id, key, uses, discount) VALUES ('earn10', 'total', 5, 0)").await;
    assert!(
        violations
            .iter()
            .any(|v| v.contains("counter (5, 0) but receipts count (0, 0)")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn check_reports_a_certificate_balance_that_disagrees_with_the_receipts() {
    let violations = tampered_after(true, "UPDATE certificates SET balance = balance - 100").await;
    assert!(
        violations
            .iter()
            .any(|v| v.contains("balance 49900 but the receipts say 50000")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn check_reports_a_coupon_freed_behind_the_receipts_back() {
    let violations = tampered_after(true, "UPDATE coupons SET used_by = NULL").await;
    assert!(
        violations
            .iter()
            .any(|v| v.contains("receipt v3 used coupon") && v.contains("not marked used")),
        "{violations:?}"
    );
}

#[tokio::test]
async fn check_reports_an_identifier_of_no_stored_customer() {
    // Import batches write without SQLite's foreign-key enforcement; check catches
    // a row that points nowhere.
    let violations = tampered(
        "PRAGMA foreign_keys = OFF;
         INSERT INTO customer_identifiers (kind, value, customer_id, source, added_at)
         VALUES ('phone', '+79990000000', 'cus_nobody', 'import', '2026-01-01T00:00:00.000000Z');
         INSERT INTO customer_name_keys (key, customer_id) VALUES ('ghost', 'cus_ghost');",
    )
    .await;
    assert!(
        violations
            .iter()
            .any(|v| v == "customer_identifiers: customer cus_nobody is not stored"),
        "{violations:?}"
    );
    assert!(
        violations
            .iter()
            .any(|v| v == "customer_name_keys: customer cus_ghost is not stored"),
        "{violations:?}"
    );
}

/// Appends the audit contract's entries, runs `statement` on the file and says what
/// check finds (or the statement's own refusal).
async fn audit_tampered(statement: &str) -> Result<Vec<String>, String> {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("tessera-audit-{}-{n}.db", std::process::id()));
    let url = path.display().to_string();
    let store = tessera_sqlite::SqliteStore::open(&url).await.unwrap();
    tessera_store::contract_access::audit_log(&store)
        .await
        .unwrap();
    let raw = rusqlite::Connection::open(&url).unwrap();
    let outcome = raw.execute_batch(statement).map_err(|e| e.to_string());
    raw.close().unwrap();
    let report = store.check().await.unwrap();
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
    outcome.map(|()| {
        report
            .items
            .into_iter()
            .flat_map(|i| i.violations)
            .collect()
    })
}

#[tokio::test]
async fn the_audit_log_refuses_updates_and_deletes() {
    for statement in [
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 29",
    ] {
        let refusal = audit_tampered(statement).await.unwrap_err();
        assert!(refusal.contains("append-only"), "{refusal}");
    }
}

#[tokio::test]
async fn check_reports_the_first_tampered_audit_entry() {
    let edited = audit_tampered(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET after = '{\"points\":1000000}' WHERE seq IN (7, 12)",
    )
    .await
    .unwrap();
    assert_eq!(edited.len(), 1, "{edited:?}");
    assert!(
        edited[0].contains("audit chain broken at seq 7: hash_mismatch"),
        "{edited:?}"
    );
    let removed =
        audit_tampered("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 4")
            .await
            .unwrap();
    assert!(
        removed
            .iter()
            .any(|v| v.contains("seq 5: seq_gap (expected 4)")),
        "{removed:?}"
    );
    // Rewriting an entry's hash too is found at the next entry.
    let rehashed = audit_tampered(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET hash = 'ff' || substr(hash, 3) WHERE seq = 9",
    )
    .await
    .unwrap();
    assert!(
        rehashed.iter().any(|v| v.contains("seq 9: hash_mismatch")),
        "{rehashed:?}"
    );
}

#[tokio::test]
async fn an_audited_change_whose_entry_cannot_be_written_is_not_made() {
    let path = std::env::temp_dir().join(format!("tessera-audit-atomic-{}.db", std::process::id()));
    let url = path.display().to_string();
    let store = tessera_sqlite::SqliteStore::open(&url).await.unwrap();
    store
        .put_program(tessera_store::contract::program_with(14, 30))
        .await
        .unwrap();
    let raw = rusqlite::Connection::open(&url).unwrap();
    raw.execute_batch(
        "CREATE TRIGGER audit_log_refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused for the test'); END;",
    )
    .unwrap();
    raw.close().unwrap();
    let outcome = tessera_store::contract_access::audit_or_nothing(&store).await;
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
    outcome.unwrap();
}
