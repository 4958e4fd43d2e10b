//! Customer profiles on SQLite: migration 6 moving the legacy customers into
//! identifiers and documents, how a till's identifier resolves (active cards only,
//! merged customers to their survivor), the search and the matcher's snapshot.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use tessera_core::consent::{SourceTrust, Sourced};
use tessera_core::customer::{CardType, Customer};
use tessera_core::profile::ProfileDoc;
use tessera_core::receipt::CustomerRef;
use tessera_core::ErrorCode;
use tessera_sqlite::SqliteStore;
use tessera_store::crm_command::{Actor, CrmCommand, CrmOutcome, CustomerQuery, ImportBatch};
use tessera_store::{
    CardStatus, IdentifierKind, ProfileStatus, Store, StoreError, StoredCard, StoredIdentifier,
    StoredProfile,
};

/// A fresh database file, removed with its WAL when dropped.
struct TempDb(String);

impl TempDb {
    fn new(name: &str) -> TempDb {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "tessera-profiles-{name}-{}-{n}.db",
            std::process::id()
        ));
        TempDb(path.display().to_string())
    }

    /// A raw connection, for what the store cannot write yet or must not.
    fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.0).unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0));
        }
    }
}

fn t(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, day, 10, 0, 0).unwrap()
}

fn customer(id: &str, phone: Option<&str>, cards: &[&str]) -> Customer {
    Customer {
        customer_id: id.into(),
        name: None,
        phone: phone.map(str::to_string),
        email: None,
        cards: cards.iter().map(|c| (*c).into()).collect(),
        created_at: t(1),
    }
}

fn code(result: Result<impl std::fmt::Debug, StoreError>) -> (ErrorCode, Option<String>) {
    match result {
        Err(StoreError::Domain(error)) => (error.code, error.field),
        other => panic!("expected a business error, got {other:?}"),
    }
}

#[tokio::test]
async fn migration_moves_legacy_customers_into_identifiers_and_documents() {
    let db = TempDb::new("migrate");
    {
        // A database as the releases before profiles left it.
        let raw = db.raw();
        raw.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .unwrap();
        let migrations = [
            include_str!("../migrations/0001_foundation.sql"),
            include_str!("../migrations/0002_promotion_usage.sql"),
            include_str!("../migrations/0003_vouchers.sql"),
            include_str!("../migrations/0004_segments_and_card_types.sql"),
            include_str!("../migrations/0005_refused_commits.sql"),
        ];
        for (idx, sql) in migrations.iter().enumerate() {
            raw.execute_batch(sql).unwrap();
            raw.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, datetime('now'))",
                [idx as i64 + 1],
            )
            .unwrap();
        }
        raw.execute_batch(
            "INSERT INTO customers (customer_id, name, phone, email, created_at) VALUES
                 ('c1', 'Ivan Petrov', '+79160000001', 'family@example.com', '2026-01-05T10:00:00.000000Z'),
                 ('c2', NULL, '+79160000002', NULL, '2026-01-06T10:00:00.000000Z'),
                 ('c3', 'Анна', NULL, 'family@example.com', '2026-01-07T10:00:00.000000Z');
             INSERT INTO cards (card, customer_id, card_type) VALUES
                 ('7001', 'c1', 'plastic'), ('7002', 'c3', 'virtual');
             INSERT INTO customer_accounts (customer_id, pending, available) VALUES
                 ('c1', 0, 0), ('c2', 0, 0), ('c3', 0, 0);",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&db.0).await.unwrap();

    // Still found by phone, by the till and by the ledger read.
    let by_phone = CustomerRef::Phone("+79160000001".into());
    assert_eq!(
        store.find_customer(&by_phone).await.unwrap().as_deref(),
        Some("c1")
    );
    let (ledger, facts) = store
        .find_ledger(&CustomerRef::Phone("+79160000002".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ledger.customer_id, "c2");
    assert!(facts.first_purchase);

    let at = t(5);
    let profile = store.profile("c1").await.unwrap().unwrap();
    let identifier = |kind, value: &str| StoredIdentifier {
        kind,
        value: value.into(),
        source: "api".into(),
        added_at: at,
    };
    assert_eq!(
        profile.identifiers,
        vec![
            identifier(IdentifierKind::Phone, "+79160000001"),
            identifier(IdentifierKind::Email, "family@example.com"),
        ]
    );
    assert_eq!(
        profile.doc.name,
        Some(Sourced {
            value: "Ivan Petrov".into(),
            at,
            source: "api".into()
        })
    );
    assert_eq!(profile.doc.registration.as_ref().map(|r| r.at), Some(at));
    assert_eq!(profile.status, ProfileStatus::Active);
    assert_eq!((profile.created_at, profile.updated_at), (at, at));
    assert_eq!(
        profile.cards,
        vec![StoredCard {
            number: "7001".into(),
            card_type: CardType::Plastic,
            status: CardStatus::Active,
        }]
    );
    // The registration of a customer without a name is there too.
    let profile = store.profile("c2").await.unwrap().unwrap();
    assert_eq!(profile.doc.name, None);
    assert_eq!(
        profile.doc.registration.map(|r| r.source),
        Some("api".into())
    );

    // The legacy view reads the same rows.
    let legacy = store.customer("c1").await.unwrap().unwrap();
    assert_eq!(legacy.name.as_deref(), Some("Ivan Petrov"));
    assert_eq!(legacy.phone.as_deref(), Some("+79160000001"));
    assert_eq!(legacy.email.as_deref(), Some("family@example.com"));
    assert_eq!(legacy.cards, vec!["7001".into()]);

    // A shared email names both; the names were given their search keys.
    let search = |query| {
        let store = &store;
        async move { store.search_customers(&query, 10).await.unwrap() }
    };
    assert_eq!(
        search(CustomerQuery::Email("family@example.com".into())).await,
        ["c1", "c3"]
    );
    assert_eq!(
        search(CustomerQuery::NamePrefix("petr".into())).await,
        ["c1"]
    );
    assert_eq!(search(CustomerQuery::NamePrefix("an".into())).await, ["c3"]);
    assert_eq!(search(CustomerQuery::NamePrefix("z".into())).await, [""; 0]);

    // The legacy phone column is empty; a taken phone is now refused by the
    // identifiers' unique index.
    let phones: i64 = db
        .raw()
        .query_row(
            "SELECT COUNT(*) FROM customers WHERE phone IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(phones, 0);
    let taken = store
        .create_customers(vec![customer("c4", Some("+79160000001"), &["7004"])])
        .await;
    assert_eq!(code(taken), (ErrorCode::PhoneTaken, Some("phone".into())));
    assert!(store.customer("c4").await.unwrap().is_none());
    let taken = store
        .create_customers(vec![customer("c4", None, &["7005", "7002"])])
        .await;
    assert_eq!(code(taken), (ErrorCode::CardTaken, Some("cards[1]".into())));
    assert!(store.customer("c4").await.unwrap().is_none());
    assert!(store.check().await.unwrap().ok());
    store.close().await;
}

#[tokio::test]
async fn a_till_identifies_by_active_card_phone_and_survivor() {
    let db = TempDb::new("resolve");
    let store = SqliteStore::open(&db.0).await.unwrap();
    store
        .create_customers(vec![
            customer("c1", Some("+79160000001"), &["7001", "7002", "7003"]),
            customer("c2", None, &["7004"]),
            customer("c3", None, &[]),
        ])
        .await
        .unwrap();
    db.raw()
        .execute_batch(
            "UPDATE cards SET status = 'blocked' WHERE card = '7002';
             UPDATE cards SET status = 'replaced' WHERE card = '7003';
             UPDATE customers SET status = 'merged', merged_into = 'c1' WHERE customer_id = 'c2';
             UPDATE cards SET customer_id = 'c1' WHERE customer_id = 'c2';
             UPDATE customers SET status = 'erased' WHERE customer_id = 'c3';",
        )
        .unwrap();
    let card = |n: &str| CustomerRef::Card(n.into());

    let (ledger, facts) = store.find_ledger(&card("7001")).await.unwrap().unwrap();
    assert_eq!(ledger.customer_id, "c1");
    assert_eq!(facts.card_types, vec![CardType::Plastic]);
    for blocked in ["7002", "7003"] {
        let refused = code(store.find_ledger(&card(blocked)).await);
        assert_eq!(
            refused,
            (ErrorCode::CardBlocked, Some("customer.card".into()))
        );
        let refused = code(store.find_customer(&card(blocked)).await);
        assert_eq!(refused.0, ErrorCode::CardBlocked);
    }
    assert!(store.find_ledger(&card("9999")).await.unwrap().is_none());

    let phone = CustomerRef::Phone("+79160000001".into());
    let (ledger, _) = store.find_ledger(&phone).await.unwrap().unwrap();
    assert_eq!(ledger.customer_id, "c1");
    let unknown = CustomerRef::Phone("+79160000009".into());
    assert!(store.find_ledger(&unknown).await.unwrap().is_none());

    // A merged customer stands for its survivor; an erased one keeps its ledger.
    let id = |i: &str| CustomerRef::CustomerId(i.into());
    let (ledger, _) = store.find_ledger(&id("c2")).await.unwrap().unwrap();
    assert_eq!(ledger.customer_id, "c1");
    assert_eq!(
        store.find_customer(&id("c2")).await.unwrap().as_deref(),
        Some("c1")
    );
    let (ledger, _) = store.find_ledger(&id("c3")).await.unwrap().unwrap();
    assert_eq!(ledger.customer_id, "c3");
    assert!(store.find_ledger(&id("c9")).await.unwrap().is_none());

    // The legacy view shows active cards only.
    let legacy = store.customer("c1").await.unwrap().unwrap();
    let numbers: Vec<&str> = legacy.cards.iter().map(|c| c.number.as_str()).collect();
    assert_eq!(numbers, ["7001", "7004"]);
    let profile = store.profile("c2").await.unwrap().unwrap();
    assert_eq!(profile.status, ProfileStatus::Merged { into: "c1".into() });
    assert!(matches!(
        store.profile("c3").await.unwrap().unwrap().status,
        ProfileStatus::Erased { .. }
    ));
    store.close().await;
}

#[tokio::test]
async fn check_reports_a_merged_customer_that_still_holds_things() {
    let db = TempDb::new("check");
    let store = SqliteStore::open(&db.0).await.unwrap();
    store
        .create_customers(vec![
            customer("c1", Some("+79160000001"), &["7001"]),
            customer("c2", Some("+79160000002"), &["7002"]),
            customer("c3", None, &[]),
        ])
        .await
        .unwrap();
    assert!(store.check().await.unwrap().ok());
    db.raw()
        .execute_batch(
            "UPDATE customers SET status = 'merged', merged_into = 'c1' WHERE customer_id = 'c2';
             UPDATE customers SET status = 'merged', merged_into = 'c9' WHERE customer_id = 'c3';",
        )
        .unwrap();
    let report = store.check().await.unwrap();
    let violations: Vec<String> = report
        .items
        .into_iter()
        .flat_map(|i| i.violations)
        .collect();
    let found = |text: &str| violations.iter().any(|v| v.contains(text));
    assert!(found("c2 still holds identifiers"), "{violations:?}");
    assert!(found("c2 still holds active cards"), "{violations:?}");
    assert!(
        found("merged customer c2 holds phone +79160000002"),
        "{violations:?}"
    );
    assert!(
        found("c3 is merged into c9, which does not exist"),
        "{violations:?}"
    );
    store.close().await;
}

fn sourced<T>(value: T) -> Option<Sourced<T>> {
    Some(Sourced {
        value,
        at: t(2),
        source: "import".into(),
    })
}

fn imported(id: &str, first: &str, last: &str, phone: &str, card: &str) -> StoredProfile {
    StoredProfile {
        customer_id: id.into(),
        created_at: t(2),
        updated_at: t(2),
        status: ProfileStatus::Active,
        doc: ProfileDoc {
            first_name: sourced(first.to_string()),
            last_name: sourced(last.to_string()),
            birthday: sourced(NaiveDate::from_ymd_opt(1985, 3, 7).unwrap()),
            city: sourced("Moscow".to_string()),
            ..ProfileDoc::default()
        },
        identifiers: vec![StoredIdentifier {
            kind: IdentifierKind::Phone,
            value: phone.into(),
            source: "import".into(),
            added_at: t(2),
        }],
        cards: vec![StoredCard {
            number: card.into(),
            card_type: CardType::Plastic,
            status: CardStatus::Active,
        }],
    }
}

/// Needs the shared CRM logic (`tessera_store::crm::apply`) to create the profiles.
#[tokio::test]
async fn match_profiles_and_search_find_active_profiles() {
    let db = TempDb::new("search");
    let store = SqliteStore::open(&db.0).await.unwrap();
    store
        .create_customers(vec![customer("c0", Some("+79160000000"), &["7000"])])
        .await
        .unwrap();
    let batch = ImportBatch {
        creates: vec![
            imported("p1", "Ivan", "Petrov", "+79160000001", "8001"),
            imported("p2", "Иван", "Сидоров", "+79160000002", "8002"),
            imported("p3", "Anna", "Ivanova", "+79160000003", "8003"),
        ],
        by: Actor {
            source: "import".into(),
            ..Actor::default()
        },
        at: t(2),
        ..ImportBatch::default()
    };
    let outcome = store
        .crm(CrmCommand::Import(Box::new(batch), SourceTrust::default()))
        .await
        .unwrap();
    match outcome {
        CrmOutcome::Imported(applied) => assert_eq!(applied.created, 3, "{applied:?}"),
        other => panic!("{other:?}"),
    }
    // Stored as given.
    let stored = store.profile("p1").await.unwrap().unwrap();
    assert_eq!(
        stored,
        imported("p1", "Ivan", "Petrov", "+79160000001", "8001")
    );
    assert_eq!(
        store.customer("p1").await.unwrap().unwrap().name.as_deref(),
        Some("Ivan Petrov")
    );
    // p3 is taken out of the search and the snapshot once merged.
    db.raw()
        .execute_batch(
            "UPDATE customers SET status = 'merged', merged_into = 'p1' WHERE customer_id = 'p3';",
        )
        .unwrap();

    let profiles = store.match_profiles().await.unwrap();
    let ids: Vec<&str> = profiles.iter().map(|p| p.customer_id.as_str()).collect();
    assert_eq!(ids, ["c0", "p1", "p2"]);
    let p1 = &profiles[1];
    assert_eq!(p1.first_name.as_deref(), Some("Ivan"));
    assert_eq!(p1.middle_name, None);
    assert_eq!(p1.last_name.as_deref(), Some("Petrov"));
    assert_eq!(p1.birthday, NaiveDate::from_ymd_opt(1985, 3, 7));
    assert_eq!(p1.created_at, t(2));
    assert_eq!(p1.phones, ["+79160000001"]);
    assert_eq!(p1.cards, ["8001"]);
    assert!(p1.emails.is_empty() && p1.external_ids.is_empty());
    assert_eq!(profiles[0].phones, ["+79160000000"]);
    assert_eq!(profiles[0].first_name, None);

    let search = |query| {
        let store = &store;
        async move { store.search_customers(&query, 10).await.unwrap() }
    };
    // Cyrillic and Latin spellings meet in the folded keys.
    assert_eq!(
        search(CustomerQuery::NamePrefix("ivan".into())).await,
        ["p1", "p2"]
    );
    assert_eq!(
        search(CustomerQuery::NamePrefix("petrov iv".into())).await,
        ["p1"]
    );
    assert_eq!(
        store
            .search_customers(&CustomerQuery::NamePrefix("ivan".into()), 1)
            .await
            .unwrap(),
        ["p1"]
    );
    assert_eq!(search(CustomerQuery::Card("8002".into())).await, ["p2"]);
    assert_eq!(search(CustomerQuery::Card("8003".into())).await, [""; 0]);
    assert_eq!(
        search(CustomerQuery::Phone("+79160000001".into())).await,
        ["p1"]
    );
    assert_eq!(
        search(CustomerQuery::Phone("+79160000003".into())).await,
        [""; 0]
    );
    store.close().await;
}

/// The matcher's snapshot of a million profiles (random ids, a phone and a card each,
/// an email for half): `cargo test --release -p tessera-sqlite --test profiles --
/// --ignored --nocapture`; `TESSERA_PROFILES` sets the number.
#[tokio::test]
#[ignore]
async fn match_profiles_loads_a_million_profiles_in_seconds() {
    let n: i64 = std::env::var("TESSERA_PROFILES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let db = TempDb::new("million");
    SqliteStore::open(&db.0).await.unwrap().close().await;
    let started = std::time::Instant::now();
    let raw = db.raw();
    raw.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")
        .unwrap();
    // Ids are a bijection of 1..n onto 32-bit values, so they come in random order.
    raw.execute_batch(&format!(
        "BEGIN;
         CREATE TEMP TABLE ids AS
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
             SELECT i, printf('%08x', (i * 2654435761) % 4294967296) AS id FROM n;
         INSERT INTO customers (customer_id, name, created_at, profile, status, updated_at)
             SELECT id, 'Ivan Petrov', '2026-01-01T00:00:00.000000Z',
                    json_object(
                        'first_name', json_object('value', 'Ivan' || i, 'at', '2026-01-01T00:00:00Z', 'source', 'import'),
                        'middle_name', json_object('value', 'Sergeevich', 'at', '2026-01-01T00:00:00Z', 'source', 'import'),
                        'last_name', json_object('value', 'Petrov', 'at', '2026-01-01T00:00:00Z', 'source', 'import'),
                        'birthday', json_object('value', '1985-03-07', 'at', '2026-01-01T00:00:00Z', 'source', 'import'),
                        'city', json_object('value', 'Moscow', 'at', '2026-01-01T00:00:00Z', 'source', 'import'),
                        'consents', json_object('sms', json_object('state', 'granted', 'at', '2026-01-01T00:00:00Z', 'source', 'import')),
                        'registration', json_object('source', 'import', 'at', '2026-01-01T00:00:00Z')),
                    'active', '2026-01-01T00:00:00.000000Z'
             FROM ids;
         INSERT INTO customer_accounts (customer_id, pending, available) SELECT id, 0, 0 FROM ids;
         INSERT INTO customer_identifiers (kind, value, customer_id, source, added_at)
             SELECT 'phone', printf('+7916%07d', i), id, 'import', '2026-01-01T00:00:00.000000Z' FROM ids;
         INSERT INTO customer_identifiers (kind, value, customer_id, source, added_at)
             SELECT 'email', 'c' || i || '@example.com', id, 'import', '2026-01-01T00:00:00.000000Z'
             FROM ids WHERE i % 2 = 0;
         INSERT INTO cards (card, customer_id, card_type, status)
             SELECT printf('7%011d', i), id, 'plastic', 'active' FROM ids;
         COMMIT;"
    ))
    .unwrap();
    drop(raw);
    eprintln!("{n} profiles written in {:?}", started.elapsed());
    let store = SqliteStore::open(&db.0).await.unwrap();
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let profiles = store.match_profiles().await.unwrap();
        eprintln!(
            "match_profiles: {} profiles in {:?}",
            profiles.len(),
            started.elapsed()
        );
        assert_eq!(profiles.len() as i64, n);
        assert!(profiles
            .iter()
            .all(|p| p.phones.len() == 1 && p.cards.len() == 1));
        assert_eq!(
            profiles.iter().filter(|p| p.emails.len() == 1).count() as i64,
            n / 2
        );
    }
    store.close().await;
}

/// One import job of 10,000 new profiles (the statements stay cached through it):
/// `cargo test --release -p tessera-sqlite --test profiles -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn an_import_batch_of_ten_thousand_profiles() {
    let db = TempDb::new("import");
    let store = SqliteStore::open(&db.0).await.unwrap();
    let creates: Vec<StoredProfile> = (0..10_000)
        .map(|i| {
            imported(
                &format!("p{i:05}"),
                "Ivan",
                &format!("Petrov{i}"),
                &format!("+7916{i:07}"),
                &format!("8{i:011}"),
            )
        })
        .collect();
    let batch = ImportBatch {
        creates,
        by: Actor {
            source: "import".into(),
            ..Actor::default()
        },
        at: t(2),
        ..ImportBatch::default()
    };
    let started = std::time::Instant::now();
    let outcome = store
        .crm(CrmCommand::Import(Box::new(batch), SourceTrust::default()))
        .await
        .unwrap();
    eprintln!("import of 10000 profiles: {:?}", started.elapsed());
    match outcome {
        CrmOutcome::Imported(applied) => assert_eq!(applied.created, 10_000),
        other => panic!("{other:?}"),
    }
    store.close().await;
}
