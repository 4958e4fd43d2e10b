//! On PostgreSQL, `check` finds tampered rows: each kind of corruption is reported by
//! its check.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use sqlx::Connection;
use tessera_store::Store;

async fn tampered(statement: &str) -> Vec<String> {
    tampered_after(false, statement).await
}

/// Runs the receipts contract (or, with `vouchers`, the coupons and certificates
/// one), tampers with a row and says what check finds.
async fn tampered_after(vouchers: bool, statement: &str) -> Vec<String> {
    let Some(url) = common::database_url("postgres check tests") else {
        return vec!["skipped".to_string()];
    };
    let schema = common::fresh_schema();
    let store = tessera_postgres::PostgresStore::open_in_schema(&url, &schema)
        .await
        .unwrap();
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
    let mut raw = common::raw(&url, &schema).await;
    sqlx::query(statement).execute(&mut raw).await.unwrap();
    raw.close().await.unwrap();
    let report = store.check().await.unwrap();
    store.close().await;
    let _ = tessera_postgres::PostgresStore::drop_schema(&url, &schema).await;
    report
        .items
        .into_iter()
        .flat_map(|i| i.violations)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_balance_that_disagrees_with_its_entries() {
    let violations = tampered("UPDATE customer_accounts SET available = available + 5").await;
    if violations == ["skipped"] {
        return;
    }
    assert!(
        violations.iter().any(|v| v.contains("entries sum to")),
        "{violations:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_deleted_entry() {
    let violations = tampered("DELETE FROM entries WHERE kind = 'redeem'").await;
    if violations == ["skipped"] {
        return;
    }
    assert!(
        violations
            .iter()
            .any(|v| v.contains("redeem entries sum to")),
        "{violations:?}"
    );
    if violations == ["skipped"] {
        return;
    }
    assert!(
        violations.iter().any(|v| v.contains("lot ")),
        "{violations:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_lot_whose_remaining_was_edited() {
    let violations = tampered("UPDATE lots SET remaining = points").await;
    if violations == ["skipped"] {
        return;
    }
    assert!(
        violations.iter().any(|v| v.contains("but entries leave")),
        "{violations:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_an_unbalanced_entry() {
    let violations = tampered("INSERT INTO entries (customer_id, kind, debit, credit, amount, at) VALUES ('c1', 'earn', 'nowhere', 'customer_available', 7, '2026-03-10T09:00:00.000000Z')").await;
    if violations == ["skipped"] {
        return;
    }
    assert!(
        violations.iter().any(|v| v.contains("unknown account")),
        "{violations:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_promotion_counter_that_disagrees_with_the_receipts() {
    let violations = tampered("INSERT INTO promotion_usage (promotion_id, key, uses, discount) VALUES ('earn10', 'total', 5, 0)").await;
    if violations == ["skipped"] {
        return;
    }
    assert!(
        violations
            .iter()
            .any(|v| v.contains("counter (5, 0) but receipts count (0, 0)")),
        "{violations:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_certificate_balance_that_disagrees_with_the_receipts() {
    let violations = tampered_after(true, "UPDATE certificates SET balance = balance - 100").await;
    if violations == ["skipped"] {
        return;
    }
    assert!(
        violations
            .iter()
            .any(|v| v.contains("balance 49900 but the receipts say 50000")),
        "{violations:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_a_coupon_freed_behind_the_receipts_back() {
    let violations = tampered_after(true, "UPDATE coupons SET used_by = NULL").await;
    if violations == ["skipped"] {
        return;
    }
    assert!(
        violations
            .iter()
            .any(|v| v.contains("receipt v3 used coupon") && v.contains("not marked used")),
        "{violations:?}"
    );
}

/// Appends the audit contract's entries, runs `statement` and says what check finds
/// (or the statement's own refusal); `None` without PostgreSQL.
async fn audit_tampered(statement: &str) -> Option<Result<Vec<String>, String>> {
    let url = common::database_url("postgres audit check tests")?;
    let schema = common::fresh_schema();
    let store = tessera_postgres::PostgresStore::open_in_schema(&url, &schema)
        .await
        .unwrap();
    tessera_store::contract_access::audit_log(&store)
        .await
        .unwrap();
    let mut raw = common::raw(&url, &schema).await;
    let outcome = sqlx::raw_sql(statement)
        .execute(&mut raw)
        .await
        .map(drop)
        .map_err(|e| e.to_string());
    raw.close().await.unwrap();
    let report = store.check().await.unwrap();
    store.close().await;
    let _ = tessera_postgres::PostgresStore::drop_schema(&url, &schema).await;
    Some(outcome.map(|()| {
        report
            .items
            .into_iter()
            .flat_map(|i| i.violations)
            .collect()
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_refuses_updates_deletes_and_truncation() {
    for statement in [
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 29",
        "TRUNCATE audit_log",
    ] {
        let Some(outcome) = audit_tampered(statement).await else {
            return;
        };
        let refusal = outcome.unwrap_err();
        assert!(refusal.contains("append-only"), "{refusal}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_the_first_tampered_audit_entry() {
    let Some(edited) = audit_tampered(
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change; UPDATE audit_log SET after = '{\"points\":1000000}' WHERE seq IN (7, 12)",
    )
    .await
    else {
        return;
    };
    let edited = edited.unwrap();
    assert_eq!(edited.len(), 1, "{edited:?}");
    assert!(
        edited[0].contains("audit chain broken at seq 7: hash_mismatch"),
        "{edited:?}"
    );
    let removed = audit_tampered(
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change; DELETE FROM audit_log WHERE seq = 4",
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        removed
            .iter()
            .any(|v| v.contains("seq 5: seq_gap (expected 4)")),
        "{removed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audited_change_whose_entry_cannot_be_written_is_not_made() {
    let Some(url) = common::database_url("postgres audit atomicity test") else {
        return;
    };
    let schema = common::fresh_schema();
    let store = tessera_postgres::PostgresStore::open_in_schema(&url, &schema)
        .await
        .unwrap();
    store
        .put_program(tessera_store::contract::program_with(14, 30))
        .await
        .unwrap();
    let mut raw = common::raw(&url, &schema).await;
    sqlx::raw_sql(
        "CREATE FUNCTION audit_log_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused for the test'; END; $$;
         CREATE TRIGGER audit_log_refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_refuse();",
    )
    .execute(&mut raw)
    .await
    .unwrap();
    raw.close().await.unwrap();
    let outcome = tessera_store::contract_access::audit_or_nothing(&store).await;
    store.close().await;
    let _ = tessera_postgres::PostgresStore::drop_schema(&url, &schema).await;
    outcome.unwrap();
}

/// Migration 8 drops `entries_by_receipt`, which no query read: a schema from before
/// it loses the index, and receipts, returns and `check` work as before without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_8_drops_the_entries_by_receipt_index() {
    let Some(url) = common::database_url("postgres migration 8") else {
        return;
    };
    let schema = common::fresh_schema();
    tessera_postgres::PostgresStore::migrate_schema_to(&url, &schema, 7)
        .await
        .unwrap();
    let mut raw = common::raw(&url, &schema).await;
    assert_eq!(receipt_indexes(&mut raw, &schema).await, 1);
    let store = tessera_postgres::PostgresStore::open_in_schema(&url, &schema)
        .await
        .unwrap();
    assert_eq!(receipt_indexes(&mut raw, &schema).await, 0);
    raw.close().await.unwrap();
    tessera_store::contract::receipts_ledger_and_returns(&store)
        .await
        .unwrap();
    assert!(store.check().await.unwrap().ok());
    store.close().await;
    let _ = tessera_postgres::PostgresStore::drop_schema(&url, &schema).await;
}

/// Migration 9 keeps a compressed receipt record and stored response in their rows:
/// before it, values of about 6 KB that compress to under 3 KB went to the TOAST tables
/// (a second insert, and an index entry, for each with every commit); after it, they
/// stay in their rows, compressed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_9_keeps_a_compressed_record_and_response_in_their_rows() {
    let Some(url) = common::database_url("postgres migration 9") else {
        return;
    };
    let schema = common::fresh_schema();
    tessera_postgres::PostgresStore::migrate_schema_to(&url, &schema, 8)
        .await
        .unwrap();
    let mut raw = common::raw(&url, &schema).await;
    insert_large_receipt(&mut raw, "before").await;
    let mut chunks_before = Vec::new();
    for table in ["receipts", "receipt_versions"] {
        let chunks = toast_chunks(&mut raw, table).await;
        assert!(
            chunks > 0,
            "at schema 8 the value in {table} goes out of line"
        );
        chunks_before.push(chunks);
    }
    let store = tessera_postgres::PostgresStore::open_in_schema(&url, &schema)
        .await
        .unwrap();
    insert_large_receipt(&mut raw, "after").await;
    for (table, before) in ["receipts", "receipt_versions"]
        .into_iter()
        .zip(chunks_before)
    {
        assert_eq!(
            toast_chunks(&mut raw, table).await,
            before,
            "after migration 9 the value in {table} stays in its row"
        );
    }
    let (stored, length, same): (i32, i32, bool) = sqlx::query_as(
        "SELECT pg_column_size(r.record) + pg_column_size(v.response),
                octet_length(r.record) + octet_length(v.response),
                r.record = b.record AND v.response = bv.response
         FROM receipts r JOIN receipt_versions v USING (receipt_id),
              receipts b JOIN receipt_versions bv USING (receipt_id)
         WHERE r.receipt_id = 'after' AND b.receipt_id = 'before'",
    )
    .fetch_one(&mut raw)
    .await
    .unwrap();
    assert!(
        stored < length / 2,
        "compressed in the rows: {stored} of {length} bytes"
    );
    assert!(same, "the values read back whole");
    raw.close().await.unwrap();
    store.close().await;
    let _ = tessera_postgres::PostgresStore::drop_schema(&url, &schema).await;
}

/// Migration 10: every update of an account row advances its version, whatever sent
/// it (an older server during a rolling upgrade updates balances without a word about
/// versions), so a commit never takes a calculate's ledger for a current one after the
/// balances changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_10_advances_an_account_version_with_every_update() {
    let Some(url) = common::database_url("postgres migration 10") else {
        return;
    };
    let schema = common::fresh_schema();
    let store = tessera_postgres::PostgresStore::open_in_schema(&url, &schema)
        .await
        .unwrap();
    let customer = tessera_core::customer::Customer {
        customer_id: "c1".into(),
        name: None,
        phone: None,
        email: None,
        cards: vec!["9001".into()],
        created_at: chrono::Utc::now(),
    };
    store.create_customers(vec![customer]).await.unwrap();
    let card = tessera_core::receipt::CustomerRef::Card("9001".into());
    let version = |found: Option<(tessera_core::ledger::CustomerLedger, _)>| {
        found.and_then(|(ledger, _)| ledger.version)
    };
    let first = version(store.find_ledger(&card).await.unwrap());
    assert_eq!(first, Some(0), "a new account starts at 0");
    let mut raw = common::raw(&url, &schema).await;
    sqlx::query("UPDATE customer_accounts SET available = available + 5 WHERE customer_id = 'c1'")
        .execute(&mut raw)
        .await
        .unwrap();
    sqlx::query("UPDATE customer_accounts SET version = 0 WHERE customer_id = 'c1'")
        .execute(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
    assert_eq!(
        version(store.find_ledger(&card).await.unwrap()),
        Some(2),
        "each update advanced it, even one that tried to set it back"
    );
    store.close().await;
    let _ = tessera_postgres::PostgresStore::drop_schema(&url, &schema).await;
}

/// Stores a receipt and its first version whose record and response are each about
/// 6 KB of receipt-like JSON that compresses to between 2 and 4 KB.
async fn insert_large_receipt(raw: &mut sqlx::PgConnection, receipt_id: &str) {
    sqlx::query(
        "WITH json AS (
             SELECT '[' || string_agg(format('{\"line\":%s,\"sku\":\"SKU-%s\",\"qty\":%s,\"price\":%s,\"tag\":\"%s\"}',
                        i, lpad(((i * 7919) % 3000)::text, 6, '0'), i % 3 + 1, (i * 7919) % 10000,
                        left(md5(i::text), 8)), ',') || ']' AS text
             FROM generate_series(1, 90) i),
         receipt AS (
             INSERT INTO receipts (receipt_id, customer_id, store_id, at, status, version, record)
             SELECT $1, NULL, 'store-1', '2026-12-07T10:00:00Z', 'committed', 1, text FROM json
             RETURNING receipt_id)
         INSERT INTO receipt_versions (receipt_id, version, kind, op_id, request_hash, response,
                                       terminal_id, at, recorded_at)
         SELECT receipt.receipt_id, 1, 'commit', 'commit/' || $1, 'hash', convert_to(json.text, 'UTF8'),
                'T1', '2026-12-07T10:00:00Z', '2026-12-07T10:00:00Z'
         FROM receipt, json",
    )
    .bind(receipt_id)
    .execute(raw)
    .await
    .unwrap();
}

/// Rows in the TOAST table of `table`.
async fn toast_chunks(raw: &mut sqlx::PgConnection, table: &str) -> i64 {
    let toast: String = sqlx::query_scalar(
        "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = $1::regclass",
    )
    .bind(table)
    .fetch_one(&mut *raw)
    .await
    .unwrap();
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {toast}"))
        .fetch_one(raw)
        .await
        .unwrap()
}

async fn receipt_indexes(raw: &mut sqlx::PgConnection, schema: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'entries_by_receipt'",
    )
    .bind(schema)
    .fetch_one(raw)
    .await
    .unwrap()
}
