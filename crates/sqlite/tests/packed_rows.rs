//! Receipt records and responses are stored LZ4-packed, and rows written before
//! packing (plain JSON) still read the same through the store.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use rusqlite::types::ValueRef;
use tessera_store::Store;

#[tokio::test]
async fn packed_rows_are_written_and_plain_rows_from_before_still_read() {
    let path = std::env::temp_dir().join(format!("tessera-packed-{}.db", std::process::id()));
    let url = path.display().to_string();
    let store = tessera_sqlite::SqliteStore::open(&url).await.unwrap();
    tessera_store::contract::receipts_ledger_and_returns(&store)
        .await
        .unwrap();

    let raw = rusqlite::Connection::open(&url).unwrap();
    let ids: Vec<String> = raw
        .prepare("SELECT receipt_id FROM receipts ORDER BY receipt_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(ids.len() >= 2, "the contract commits receipts: {ids:?}");

    // Every record and response on disk is packed: a BLOB starting with the tag byte.
    let mut stmt = raw
        .prepare("SELECT r.record, v.response FROM receipts r JOIN receipt_versions v USING (receipt_id)")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut versions = 0;
    while let Some(row) = rows.next().unwrap() {
        for idx in 0..2 {
            match row.get_ref(idx).unwrap() {
                ValueRef::Blob([0x01, ..]) => {}
                other => panic!("column {idx} is not packed: {:?}", other.data_type()),
            }
        }
        versions += 1;
    }
    drop(rows);
    drop(stmt);
    assert!(versions >= ids.len());

    // What the store reads now, then the same rows rewritten as plain JSON, the way
    // versions before packing stored them.
    let mut before = Vec::new();
    for id in &ids {
        let stored = store.receipt(id).await.unwrap().unwrap();
        let response = store.commit_response(id).await.unwrap();
        raw.execute(
            "UPDATE receipts SET record = ? WHERE receipt_id = ?",
            rusqlite::params![serde_json::to_string(&stored.record).unwrap(), id],
        )
        .unwrap();
        for version in &stored.versions {
            raw.execute(
                "UPDATE receipt_versions SET response = ? WHERE receipt_id = ? AND version = ?",
                rusqlite::params![version.response, id, version.version],
            )
            .unwrap();
        }
        before.push((stored, response));
    }
    let plain: i64 = raw
        .query_row(
            "SELECT COUNT(*) FROM receipts WHERE typeof(record) = 'text'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(plain as usize, ids.len());

    for (id, (stored, response)) in ids.iter().zip(&before) {
        let again = store.receipt(id).await.unwrap().unwrap();
        assert_eq!(&again.record, &stored.record, "record of {id}");
        assert_eq!(again.versions.len(), stored.versions.len());
        for (a, b) in again.versions.iter().zip(&stored.versions) {
            assert_eq!(a.response, b.response, "response of {id} v{}", a.version);
        }
        assert_eq!(&store.commit_response(id).await.unwrap(), response);
    }
    assert!(
        store.check().await.unwrap().ok(),
        "check reads plain rows too"
    );
    store.close().await;
    drop(raw);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{url}{suffix}"));
    }
}
