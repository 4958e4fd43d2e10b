//! Customer profiles on PostgreSQL: how a till's identifier resolves (phones from the
//! identifiers, only active cards, merged customers to their survivor), the migration
//! of customers registered before profiles, search and the matcher's read, batches
//! of new customers refused whole, and `check` over merged customers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sqlx::{Connection, PgConnection};
use std::sync::Arc;
use tessera_core::consent::SourceTrust;
use tessera_core::customer::Customer;
use tessera_core::profile::{Field, FieldValue};
use tessera_core::promotion::{Effect, Percent, Promotion};
use tessera_core::receipt::{CustomerRef, ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::snapshot::ConfigSnapshot;
use tessera_core::ErrorCode;
use tessera_postgres::PostgresStore;
use tessera_store::crm_command::{Actor, CardOperation, CrmCommand, CustomerQuery, ProfileUpdate};
use tessera_store::{
    CommitCommand, Committed, ProfileStatus, ReturnCommand, Returned, Store, StoreError,
};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).single().unwrap()
}

fn staff() -> Actor {
    Actor {
        source: "service_desk".into(),
        actor: Some("olga".into()),
        ..Actor::default()
    }
}

fn member(
    id: &str,
    name: Option<&str>,
    phone: Option<&str>,
    email: Option<&str>,
    cards: &[&str],
) -> Customer {
    Customer {
        customer_id: id.into(),
        name: name.map(str::to_string),
        phone: phone.map(str::to_string),
        email: email.map(str::to_string),
        cards: cards.iter().map(|c| (*c).into()).collect(),
        created_at: t0(),
    }
}

/// A store in a schema of its own, dropped by [`Fresh::done`].
struct Fresh {
    store: PostgresStore,
    url: String,
    schema: String,
}

impl Fresh {
    async fn open(test: &str) -> Option<Fresh> {
        let url = common::database_url(test)?;
        let schema = common::fresh_schema();
        let store = PostgresStore::open_in_schema(&url, &schema).await.unwrap();
        Some(Fresh { store, url, schema })
    }

    async fn raw(&self) -> PgConnection {
        common::raw(&self.url, &self.schema).await
    }

    async fn done(self) {
        self.store.close().await;
        let _ = PostgresStore::drop_schema(&self.url, &self.schema).await;
    }
}

fn code<T: std::fmt::Debug>(
    outcome: &Result<T, StoreError>,
) -> (Option<ErrorCode>, Option<String>) {
    match outcome {
        Err(StoreError::Domain(error)) => (Some(error.code), error.field.clone()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn resolved(store: &PostgresStore, reference: CustomerRef) -> Option<String> {
    store
        .find_ledger(&reference)
        .await
        .unwrap()
        .map(|(ledger, _)| ledger.customer_id)
}

fn card_op(customer_id: &str, operation: CardOperation) -> CrmCommand {
    CrmCommand::Card {
        customer_id: customer_id.into(),
        operation,
        by: staff(),
        at: t0() + Duration::hours(1),
    }
}

fn merge(merge_id: &str, survivor: &str, absorbed: &str) -> CrmCommand {
    CrmCommand::Merge {
        merge_id: merge_id.into(),
        survivor_id: survivor.into(),
        absorbed_id: absorbed.into(),
        reason: "manual".into(),
        trust: SourceTrust::default(),
        by: staff(),
        at: t0() + Duration::hours(2),
    }
}

async fn configure(store: &PostgresStore) -> Arc<ConfigSnapshot> {
    let program = tessera_store::contract::program_with(0, 365);
    let shop = tessera_store::contract::shop();
    let product = tessera_store::contract::product(None);
    store.put_program(program.clone()).await.unwrap();
    store.put_store(shop.clone()).await.unwrap();
    store.put_products(vec![product.clone()]).await.unwrap();
    let earn = Promotion::new(
        "earn",
        "earn 10%",
        vec![Effect::EarnPoints {
            percent: Percent(1000),
            items: None,
        }],
    );
    store.put_promotion(earn.clone(), t0()).await.unwrap();
    Arc::new(ConfigSnapshot::new(
        program,
        vec![shop],
        vec![product],
        vec![earn],
    ))
}

fn commit(config: &Arc<ConfigSnapshot>, receipt_id: &str, card: &str) -> CommitCommand {
    CommitCommand {
        request: ReceiptRequest {
            receipt_id: receipt_id.into(),
            store_id: "s1".into(),
            terminal_id: "T1".into(),
            at: t0().fixed_offset(),
            customer: Some(CustomerRef::Card(card.into())),
            lines: vec![ReceiptLine {
                line: 1,
                sku: "A".into(),
                qty: 1000,
                price: 10_000,
            }],
            redeem: Redeem::None,
            coupons: Vec::new(),
            certificates: Vec::new(),
        },
        request_hash: format!("h-{receipt_id}"),
        new_customer_id: format!("new-{receipt_id}"),
        expect_to_pay: None,
        config: config.clone(),
        new_code: tessera_store::contract::counting_codes(),
        now: t0(),
        render: Arc::new(|c: &Committed| serde_json::to_vec(&c.record).unwrap().into()),
        profile_complete: None,
        quote: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_till_identifier_resolves_by_phone_active_card_and_survivor() {
    let Some(fresh) = Fresh::open("a_till_identifier_resolves").await else {
        return;
    };
    let store = &fresh.store;
    let config = configure(store).await;
    store
        .create_customers(vec![
            member("c1", Some("Anna"), Some("+79160000001"), None, &["7001"]),
            member("c2", None, Some("+79160000002"), None, &["7002"]),
        ])
        .await
        .unwrap();

    let phone = CustomerRef::Phone("+79160000001".into());
    assert_eq!(resolved(store, phone.clone()).await.as_deref(), Some("c1"));
    assert_eq!(
        store.find_customer(&phone).await.unwrap().as_deref(),
        Some("c1")
    );
    let nobody = CustomerRef::Phone("+79169999999".into());
    assert_eq!(resolved(store, nobody).await, None);

    // A blocked card is refused, not taken for a new member's card.
    store
        .crm(card_op(
            "c1",
            CardOperation::Block {
                number: "7001".into(),
            },
        ))
        .await
        .unwrap();
    let card = CustomerRef::Card("7001".into());
    let blocked = store.find_ledger(&card).await;
    assert_eq!(
        code(&blocked),
        (Some(ErrorCode::CardBlocked), Some("customer.card".into()))
    );
    assert_eq!(
        code(&store.find_customer(&card).await).0,
        Some(ErrorCode::CardBlocked)
    );
    let refused = store
        .commit_receipt(commit(&config, "r-blocked", "7001"))
        .await;
    assert_eq!(code(&refused).0, Some(ErrorCode::CardBlocked));
    assert!(store.customer("new-r-blocked").await.unwrap().is_none());
    assert!(
        store
            .customer("c1")
            .await
            .unwrap()
            .unwrap()
            .cards
            .is_empty(),
        "only active cards"
    );

    store
        .crm(card_op(
            "c1",
            CardOperation::Unblock {
                number: "7001".into(),
            },
        ))
        .await
        .unwrap();
    assert_eq!(resolved(store, card.clone()).await.as_deref(), Some("c1"));
    store
        .crm(card_op(
            "c1",
            CardOperation::Replace {
                number: "7001".into(),
                new_number: "7101".into(),
                card_type: None,
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        code(&store.find_ledger(&card).await).0,
        Some(ErrorCode::CardBlocked)
    );
    let new_card = CustomerRef::Card("7101".into());
    assert_eq!(resolved(store, new_card).await.as_deref(), Some("c1"));
    let legacy = store.customer("c1").await.unwrap().unwrap();
    assert_eq!(
        legacy
            .cards
            .iter()
            .map(|c| c.number.as_str())
            .collect::<Vec<_>>(),
        ["7101"]
    );
    assert_eq!(legacy.phone.as_deref(), Some("+79160000001"));
    assert_eq!(legacy.name.as_deref(), Some("Anna"));

    // c2 earns, then is merged into c1: its id, card and phone all reach c1's ledger.
    store
        .commit_receipt(commit(&config, "r-c2", "7002"))
        .await
        .unwrap();
    store.crm(merge("m1", "c1", "c2")).await.unwrap();
    let by_id = store
        .find_ledger(&CustomerRef::CustomerId("c2".into()))
        .await
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(by_id.customer_id, "c1");
    assert_eq!(
        by_id.pending + by_id.available,
        10,
        "c2's points moved to c1"
    );
    assert_eq!(
        resolved(store, CustomerRef::Card("7002".into()))
            .await
            .as_deref(),
        Some("c1")
    );
    assert_eq!(
        resolved(store, CustomerRef::Phone("+79160000002".into()))
            .await
            .as_deref(),
        Some("c1")
    );
    let c2 = store.profile("c2").await.unwrap().unwrap();
    assert_eq!(c2.status, ProfileStatus::Merged { into: "c1".into() });
    let report = store.check().await.unwrap();
    assert!(report.ok(), "{report:?}");
    fresh.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_a_taken_identifier_writes_nothing() {
    let Some(fresh) = Fresh::open("a_batch_with_a_taken_identifier").await else {
        return;
    };
    let store = &fresh.store;
    store
        .create_customers(vec![member(
            "c1",
            None,
            Some("+79160000001"),
            None,
            &["7001"],
        )])
        .await
        .unwrap();
    let taken_card = store
        .create_customers(vec![
            member("c2", None, None, None, &[]),
            member("c3", None, None, None, &["7003", "7001"]),
        ])
        .await;
    assert_eq!(
        code(&taken_card),
        (Some(ErrorCode::CardTaken), Some("cards[1]".into()))
    );
    let twice = store
        .create_customers(vec![
            member("c4", None, Some("+79160000004"), None, &[]),
            member("c5", None, Some("+79160000004"), None, &[]),
        ])
        .await;
    assert_eq!(
        code(&twice),
        (Some(ErrorCode::PhoneTaken), Some("phone".into()))
    );
    let taken_phone = store
        .create_customers(vec![member("c6", None, Some("+79160000001"), None, &[])])
        .await;
    assert_eq!(code(&taken_phone).0, Some(ErrorCode::PhoneTaken));
    for id in ["c2", "c3", "c4", "c5", "c6"] {
        assert!(
            store.customer(id).await.unwrap().is_none(),
            "{id} was written"
        );
    }
    // Shared emails are allowed (a family).
    store
        .create_customers(vec![
            member("c7", None, None, Some("family@example.com"), &[]),
            member("c8", None, None, Some("family@example.com"), &[]),
        ])
        .await
        .unwrap();
    fresh.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_the_matchers_read() {
    let Some(fresh) = Fresh::open("search_and_the_matchers_read").await else {
        return;
    };
    let store = &fresh.store;
    store
        .create_customers(vec![
            member(
                "c1",
                Some("Анна Смирнова"),
                Some("+79160000001"),
                Some("family@example.com"),
                &["7001"],
            ),
            member(
                "c2",
                Some("Anna Smith"),
                None,
                Some("family@example.com"),
                &["7002", "7012"],
            ),
            member("c3", None, Some("+79160000003"), None, &[]),
        ])
        .await
        .unwrap();
    let mut update = ProfileUpdate {
        customer_id: "c3".into(),
        direct: true,
        by: staff(),
        at: t0() + Duration::hours(1),
        ..ProfileUpdate::default()
    };
    update.fields = vec![
        (Field::FirstName, Some(FieldValue::Text("Yulia".into()))),
        (Field::LastName, Some(FieldValue::Text("Petrova".into()))),
        (
            Field::Birthday,
            Some(FieldValue::Date(
                NaiveDate::from_ymd_opt(1990, 5, 17).unwrap(),
            )),
        ),
    ];
    store
        .crm(CrmCommand::Update(Box::new(update)))
        .await
        .unwrap();

    let search = |query: CustomerQuery, limit: u32| async move {
        store.search_customers(&query, limit).await.unwrap()
    };
    // As the server does: the query folded like the keys ("Anna" is `ana`).
    let name = |p: &str| CustomerQuery::NamePrefix(tessera_core::matching::fold_name(p));
    assert_eq!(search(name("Ann"), 10).await, ["c1", "c2"]);
    assert_eq!(search(name("Ann"), 1).await, ["c1"]);
    assert_eq!(search(name("smi"), 10).await, ["c1", "c2"]);
    assert_eq!(search(name("smit"), 10).await, ["c2"]);
    let unfolded = CustomerQuery::NamePrefix("юлия".into());
    assert_eq!(
        search(unfolded, 10).await,
        Vec::<String>::new(),
        "keys are folded"
    );
    assert_eq!(search(name("Юлия Петр"), 10).await, ["c3"]);
    assert_eq!(search(name("petrova yu"), 10).await, ["c3"]);
    let email = CustomerQuery::Email("family@example.com".into());
    assert_eq!(search(email.clone(), 10).await, ["c1", "c2"]);
    assert_eq!(
        search(CustomerQuery::Phone("+79160000003".into()), 10).await,
        ["c3"]
    );
    assert_eq!(search(CustomerQuery::Card("7012".into()), 10).await, ["c2"]);

    let matched = store.match_profiles().await.unwrap();
    assert_eq!(
        matched
            .iter()
            .map(|m| m.customer_id.as_str())
            .collect::<Vec<_>>(),
        ["c1", "c2", "c3"]
    );
    assert_eq!(matched[0].phones, ["+79160000001"]);
    assert_eq!(matched[0].emails, ["family@example.com"]);
    assert_eq!(matched[1].cards, ["7002", "7012"]);
    assert_eq!(matched[2].first_name.as_deref(), Some("Yulia"));
    assert_eq!(matched[2].last_name.as_deref(), Some("Petrova"));
    assert_eq!(matched[2].birthday, NaiveDate::from_ymd_opt(1990, 5, 17));
    assert_eq!(matched[2].created_at, t0());

    // A merged customer is found no more, by any identifier or name.
    store.crm(merge("m1", "c1", "c2")).await.unwrap();
    assert_eq!(search(email, 10).await, ["c1"]);
    assert_eq!(search(name("smit"), 10).await, Vec::<String>::new());
    assert_eq!(search(CustomerQuery::Card("7012".into()), 10).await, ["c1"]);
    let matched = store.match_profiles().await.unwrap();
    assert_eq!(
        matched
            .iter()
            .map(|m| m.customer_id.as_str())
            .collect::<Vec<_>>(),
        ["c1", "c3"]
    );
    assert_eq!(matched[0].cards, ["7001", "7002", "7012"]);
    fresh.done().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_registered_before_profiles_are_migrated() {
    let Some(url) = common::database_url("customers_registered_before_profiles") else {
        return;
    };
    let schema = common::fresh_schema();
    PostgresStore::migrate_schema_to(&url, &schema, 3)
        .await
        .unwrap();
    let mut conn = common::raw(&url, &schema).await;
    for statement in [
        "INSERT INTO customers (customer_id, name, phone, email, created_at) VALUES
             ('c1', 'Юлия Петрова', '+79160000001', 'yulia@example.com', '2026-03-10T09:00:00.000000Z'),
             ('c2', NULL, NULL, 'family@example.com', '2026-03-11T09:00:00.000000Z'),
             ('c3', 'Sergey', NULL, 'family@example.com', '2026-03-12T09:00:00.000000Z')",
        "INSERT INTO cards (card, customer_id, card_type) VALUES ('7001', 'c1', 'plastic'), ('7003', 'c3', 'virtual')",
        "INSERT INTO customer_accounts (customer_id, pending, available) VALUES ('c1', 0, 0), ('c2', 0, 0), ('c3', 0, 0)",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let store = PostgresStore::open_in_schema(&url, &schema).await.unwrap();
    let c1 = store.customer("c1").await.unwrap().unwrap();
    assert_eq!(
        (c1.name.as_deref(), c1.phone.as_deref(), c1.email.as_deref()),
        (
            Some("Юлия Петрова"),
            Some("+79160000001"),
            Some("yulia@example.com")
        )
    );
    assert_eq!(c1.created_at, t0());
    assert_eq!(c1.cards.len(), 1);
    let profile = store.profile("c1").await.unwrap().unwrap();
    let legacy = tessera_store::StoredProfile::from_customer(&c1, "api");
    assert_eq!(profile, legacy, "as if registered now");
    let c2 = store.profile("c2").await.unwrap().unwrap();
    assert_eq!(c2.doc.display_name(), None);
    assert_eq!(c2.updated_at, t0() + Duration::days(1));

    assert_eq!(
        resolved(&store, CustomerRef::Phone("+79160000001".into()))
            .await
            .as_deref(),
        Some("c1")
    );
    let search = |query: CustomerQuery| {
        let store = &store;
        async move { store.search_customers(&query, 10).await.unwrap() }
    };
    assert_eq!(
        search(CustomerQuery::NamePrefix("yulia".into())).await,
        ["c1"]
    );
    assert_eq!(
        search(CustomerQuery::NamePrefix("petrova".into())).await,
        ["c1"]
    );
    assert_eq!(
        search(CustomerQuery::NamePrefix("serg".into())).await,
        ["c3"]
    );
    assert_eq!(
        search(CustomerQuery::Email("family@example.com".into())).await,
        ["c2", "c3"]
    );
    // The phone is still unique, now on the identifiers.
    let again = store
        .create_customers(vec![member("c9", None, Some("+79160000001"), None, &[])])
        .await;
    assert_eq!(code(&again).0, Some(ErrorCode::PhoneTaken));
    let report = store.check().await.unwrap();
    assert!(report.ok(), "{report:?}");
    store.close().await;

    let mut conn = common::raw(&url, &schema).await;
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::TEXT FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = 'customers' AND column_name IN ('phone', 'email')",
    )
    .bind(&schema)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        columns.is_empty(),
        "phone and email columns dropped: {columns:?}"
    );
    conn.close().await.unwrap();
    let _ = PostgresStore::drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_what_a_merge_left_behind() {
    let Some(fresh) = Fresh::open("check_reports_what_a_merge_left_behind").await else {
        return;
    };
    let store = &fresh.store;
    store
        .create_customers(vec![
            member("c1", None, Some("+79160000001"), None, &["7001"]),
            member("c2", None, None, None, &[]),
            member("c3", None, None, None, &[]),
        ])
        .await
        .unwrap();
    assert!(store.check().await.unwrap().ok());
    let mut conn = fresh.raw().await;
    for statement in [
        "UPDATE customers SET status = 'merged', merged_into = 'c2' WHERE customer_id = 'c1'",
        "UPDATE customers SET status = 'merged', merged_into = 'c2' WHERE customer_id = 'c3'",
        "UPDATE customers SET status = 'erased', erased_at = '2026-03-10T09:00:00.000000Z' WHERE customer_id = 'c2'",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();
    let violations: Vec<String> = store
        .check()
        .await
        .unwrap()
        .items
        .into_iter()
        .flat_map(|i| i.violations)
        .collect();
    for expected in [
        "merged customer c1 is merged into c2, which is erased",
        "merged customer c3 is merged into c2, which is erased",
        "merged customer c1 holds phone +79160000001",
        "merged customer c1 still holds identifiers",
        "merged customer c1 still holds active cards",
    ] {
        assert!(
            violations.iter().any(|v| v == expected),
            "missing {expected:?} in {violations:?}"
        );
    }
    fresh.done().await;
}

fn give_back(receipt_id: &str, return_id: &str) -> ReturnCommand {
    ReturnCommand {
        receipt_id: receipt_id.into(),
        return_id: return_id.into(),
        request_hash: format!("h-{return_id}"),
        at: (t0() + Duration::hours(3)).fixed_offset(),
        terminal_id: None,
        lines: vec![(1, 1000)],
        now: t0() + Duration::hours(3),
        render: Arc::new(|r: &Returned| serde_json::to_vec(&r.record).unwrap()),
        tiers: None,
    }
}

async fn points(store: &PostgresStore, customer_id: &str) -> i64 {
    let ledger = store.customer_ledger(customer_id).await.unwrap();
    ledger.pending + ledger.available
}

async fn ops_of(store: &PostgresStore, customer_id: &str) -> Vec<String> {
    let entries = store.ledger_entries(customer_id, 0, 1000).await.unwrap();
    entries.into_iter().filter_map(|e| e.entry.op_id).collect()
}

/// A return of a receipt made before a merge reverses the points where they went; a
/// merge committed while the return waited for the absorbed customer's lock makes the
/// return run again, against the survivor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_after_a_merge_reaches_the_survivor() {
    let Some(url) = common::database_url("a_return_after_a_merge_reaches_the_survivor") else {
        return;
    };
    let schema = common::fresh_schema();
    let store = Arc::new(PostgresStore::open_in_schema(&url, &schema).await.unwrap());
    let config = configure(&store).await;
    store
        .create_customers(vec![
            member("c1", None, None, None, &["7001"]),
            member("c2", None, None, None, &["7002"]),
            member("c3", None, None, None, &["7003"]),
        ])
        .await
        .unwrap();
    for (receipt_id, card) in [("r1", "7002"), ("r2", "7002"), ("r3", "7003")] {
        store
            .commit_receipt(commit(&config, receipt_id, card))
            .await
            .unwrap();
    }
    store.crm(merge("m1", "c1", "c2")).await.unwrap();
    assert_eq!(points(&store, "c1").await, 20);
    store.return_receipt(give_back("r1", "ret1")).await.unwrap();
    assert_eq!(points(&store, "c1").await, 10);
    assert!(ops_of(&store, "c1").await.contains(&"ret1".to_string()));

    // c3's account row is held; the merge of c3 queues for it, then the return.
    let mut holder = common::raw(&url, &schema).await;
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT 1 FROM customer_accounts WHERE customer_id = 'c3' FOR UPDATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let merging = tokio::spawn({
        let store = store.clone();
        async move { store.crm(merge("m2", "c1", "c3")).await.map(|_| ()) }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let returning = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .return_receipt(give_back("r3", "ret3"))
                .await
                .map(|_| ())
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    holder.close().await.unwrap();
    merging.await.unwrap().unwrap();
    returning.await.unwrap().unwrap();
    assert_eq!(points(&store, "c3").await, 0);
    assert_eq!(points(&store, "c1").await, 10, "r3's points came and went");
    assert!(
        ops_of(&store, "c1").await.contains(&"ret3".to_string()),
        "the return ran after the merge, on the survivor"
    );
    let report = store.check().await.unwrap();
    assert!(report.ok(), "{report:?}");
    store.close().await;
    let _ = PostgresStore::drop_schema(&url, &schema).await;
}
