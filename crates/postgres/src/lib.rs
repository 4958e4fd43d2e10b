//! The PostgreSQL adapter of the Tessera store, for a chain: several `tessera serve`
//! processes share one database.
//!
//! Every write is one transaction. The decisions a write rests on are read under row
//! locks (see [`tx`]), constraints refuse what must never happen (a negative pending
//! balance, a lot over-consumed, a certificate overspent, a receipt or operation id
//! stored twice), and a transaction that meets a concurrent one (a serialization
//! failure, a deadlock, a row inserted first by another) is run again from the start,
//! where it reads the other's result.

mod access;
mod accounts;
mod batch;
mod check;
mod check_profiles;
mod check_vouchers;
mod history;
mod identifiers;
mod merges;
mod pool;
mod profile_tx;
mod profiles;
mod rows;
mod schema;
mod search;
mod segments;
mod tiers;
mod time;
mod tx;
mod vouchers;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pool::Pool;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, Row};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tessera_core::access::ApiKey;
use tessera_core::audit::{AuditContent, AuditEntry};
use tessera_core::catalog::{Product, Store as ChainStore};
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::customer::{Customer, CustomerFacts};
use tessera_core::ledger::{CustomerLedger, LedgerChanges};
use tessera_core::otp::ThrottleState;
use tessera_core::program::Program;
use tessera_core::promotion::Promotion;
use tessera_core::receipt::CustomerRef;
use tessera_core::reward::{Certificate, Grant};
use tessera_core::segment::{MembershipChange, Segment};
use tessera_core::tier::{TierHistory, TierProgram};
use tessera_core::ErrorCode;
use tessera_store::account::{CodeAnswer, CodeChange, Session, StaffUser};
use tessera_store::crm_command::{
    CandidateFilter, CrmCommand, CrmOutcome, CustomerQuery, MatchProfile,
};
use tessera_store::{
    crm, service, AuditFilter, CancelCommand, CheckReport, CommitCommand, MergeCandidate,
    MergeRecord, ProfileEvent, PromotionRecord, ReturnCommand, Store, StoreError, StoreResult,
    StoredEntry, StoredProfile, StoredReceipt,
};
use time::ts;
use tx::PgTx;

use rows::db;

/// How many times a write meeting concurrent writes is run again before giving up.
const ATTEMPTS: u32 = 8;

/// Connections each store (server process) opens at most.
const POOL_SIZE: usize = 16;

/// Runs one read on a pooled connection: `read!(self, |conn| rows::x(conn, ...))`. The
/// connection goes back to the pool without a round trip when the read answered.
macro_rules! read {
    ($store:expr, |$conn:ident| $read:expr) => {{
        let mut guard = $store.reader().await?;
        let outcome = {
            let $conn: &mut PgConnection = &mut guard;
            $read.await
        };
        if outcome.is_ok() {
            guard.settle();
        }
        outcome
    }};
}

type Job<T> = Box<
    dyn for<'c> Fn(
            &'c mut PgConnection,
        ) -> Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'c>>
        + Send
        + Sync,
>;

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user@host/db`) and applies the migrations.
    pub async fn open(url: &str) -> StoreResult<PostgresStore> {
        Self::open_with(PgConnectOptions::from_str(url).map_err(db)?).await
    }

    /// Connects with every connection's `search_path` set to `schema`, creating the
    /// schema if needed: each test gets its own.
    pub async fn open_in_schema(url: &str, schema: &str) -> StoreResult<PostgresStore> {
        let options = PgConnectOptions::from_str(url).map_err(db)?;
        let mut conn = options.connect().await.map_err(db)?;
        let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut conn)
            .await;
        match created.map_err(db) {
            // Another process created it at the same moment (IF NOT EXISTS races).
            Ok(_) | Err(StoreError::Contention(_)) => {}
            Err(error) => return Err(error),
        }
        conn.close().await.map_err(db)?;
        Self::open_with(options.options([("search_path", schema)])).await
    }

    /// Connects without applying migrations, for reading an existing database, such as
    /// a read-only standby (`tessera check`).
    pub async fn open_existing(url: &str) -> StoreResult<PostgresStore> {
        let options = PgConnectOptions::from_str(url)
            .map_err(db)?
            .log_statements(tracing::log::LevelFilter::Trace);
        let pool = Pool::new(options, 2, Duration::from_secs(10));
        // Fails here, not at the first read, when the database cannot be reached.
        pool.acquire().await.map_err(db)?.settle();
        Ok(PostgresStore { pool })
    }

    async fn open_with(options: PgConnectOptions) -> StoreResult<PostgresStore> {
        let options = options.log_statements(tracing::log::LevelFilter::Trace);
        let mut conn = options.connect().await.map_err(db)?;
        schema::migrate(&mut conn).await.map_err(db)?;
        conn.close().await.map_err(db)?;
        let pool = Pool::new(options, POOL_SIZE, Duration::from_secs(10));
        pool.acquire().await.map_err(db)?.settle();
        Ok(PostgresStore { pool })
    }

    /// Runs `job` in one transaction, again from the start (up to [`ATTEMPTS`] times)
    /// when it meets a concurrent write.
    async fn transaction<T: Send + 'static>(&self, job: Job<T>) -> StoreResult<T> {
        // A request's first write carries its audit entry (see `tessera_store::audit`),
        // appended in the same transaction after the write succeeded.
        let job = match tessera_store::audit::take_pending() {
            None => job,
            Some(content) => audited(job, content),
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.pool.acquire().await.map_err(db)?;
            let mut tx = conn.begin().await.map_err(db)?;
            // Whether the transaction ended with its COMMIT or ROLLBACK answered.
            let (outcome, ended) = match job(&mut tx).await {
                Ok(value) => match tx.commit().await {
                    Ok(()) => (Ok(value), true),
                    Err(commit) => (Err(db(commit)), false),
                },
                Err(error) if error.keeps_its_write() => match tx.commit().await {
                    Ok(()) => (Err(error), true),
                    Err(commit) => (Err(db(commit)), false),
                },
                Err(error) => {
                    let ended = tx.rollback().await.is_ok();
                    (Err(error), ended)
                }
            };
            if ended {
                conn.settle();
            }
            let again = matches!(outcome, Err(StoreError::Contention(_)));
            if !again || attempt >= ATTEMPTS {
                return outcome;
            }
            tokio::time::sleep(Duration::from_millis(u64::from(attempt) * 3)).await;
        }
    }

    /// A configuration write, which also bumps the configuration version every server
    /// process polls.
    async fn config<T: Send + 'static>(&self, job: Job<T>) -> StoreResult<T> {
        let job = Arc::new(job);
        self.transaction(Box::new(move |conn| {
            let job = job.clone();
            Box::pin(async move {
                let value = job(&mut *conn).await?;
                sqlx::query("UPDATE config_version SET version = version + 1 WHERE id = 1")
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
                Ok(value)
            })
        }))
        .await
    }

    async fn documents<T: serde::de::DeserializeOwned>(&self, sql: &str) -> StoreResult<Vec<T>> {
        let rows = read!(self, |conn| async {
            sqlx::query(sql).fetch_all(conn).await.map_err(db)
        })?;
        rows.iter()
            .map(|r| serde_json::from_str(&r.get::<String, _>(0)).map_err(StoreError::backend))
            .collect()
    }

    async fn reader(&self) -> StoreResult<pool::Conn> {
        self.pool.acquire().await.map_err(db)
    }

    /// Creates `schema` (if needed) with the migrations up to `version` only, as an
    /// older release left it (tests of a migration); open it with
    /// [`open_in_schema`](Self::open_in_schema) to apply the rest.
    #[doc(hidden)]
    pub async fn migrate_schema_to(url: &str, schema: &str, version: i64) -> StoreResult<()> {
        let options = PgConnectOptions::from_str(url).map_err(db)?;
        let mut conn = options.connect().await.map_err(db)?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut conn)
            .await
            .map_err(db)?;
        conn.close().await.map_err(db)?;
        let mut conn = options
            .options([("search_path", schema)])
            .connect()
            .await
            .map_err(db)?;
        schema::migrate_to(&mut conn, version).await.map_err(db)?;
        conn.close().await.map_err(db)
    }

    /// Drops a schema made by [`open_in_schema`](Self::open_in_schema) (tests).
    pub async fn drop_schema(url: &str, schema: &str) -> StoreResult<()> {
        let mut conn = PgConnectOptions::from_str(url)
            .map_err(db)?
            .connect()
            .await
            .map_err(db)?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .execute(&mut conn)
            .await
            .map_err(db)?;
        conn.close().await.map_err(db)
    }
}

/// `job`, then the append of its audit entry, in one transaction.
fn audited<T: Send + 'static>(job: Job<T>, content: AuditContent) -> Job<T> {
    let job = Arc::new(job);
    Box::new(move |conn| {
        let (job, content) = (job.clone(), content.clone());
        Box::pin(async move {
            let value = job(&mut *conn).await?;
            access::append_audit(conn, content).await?;
            Ok(value)
        })
    })
}

fn upsert<T: serde::Serialize + Send + Sync + 'static>(
    table: &'static str,
    key: &'static str,
    id: String,
    document: T,
) -> Job<()> {
    let document = Arc::new(document);
    Box::new(move |conn| {
        let (id, document) = (id.clone(), document.clone());
        Box::pin(async move { rows::upsert_document(conn, table, key, &id, &*document).await })
    })
}

#[async_trait]
impl Store for PostgresStore {
    async fn config_version(&self) -> StoreResult<i64> {
        let row = read!(self, |conn| async {
            sqlx::query("SELECT version FROM config_version WHERE id = 1")
                .fetch_one(conn)
                .await
                .map_err(db)
        })?;
        Ok(row.get(0))
    }

    async fn program(&self) -> StoreResult<Option<Program>> {
        Ok(self
            .documents("SELECT body FROM program WHERE id = 1")
            .await?
            .into_iter()
            .next())
    }

    async fn put_program(&self, program: Program) -> StoreResult<()> {
        let program = Arc::new(program);
        self.config(Box::new(move |conn| {
            let program = program.clone();
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO program (id, body, updated_at) VALUES (1, $1, $2)
                     ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                )
                .bind(serde_json::to_string(&*program).map_err(StoreError::backend)?)
                .bind(ts(Utc::now()))
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                Ok(())
            })
        }))
        .await
    }

    async fn put_store(&self, store: ChainStore) -> StoreResult<()> {
        self.config(upsert("stores", "store_id", store.store_id.clone(), store))
            .await
    }

    async fn stores(&self) -> StoreResult<Vec<ChainStore>> {
        self.documents("SELECT body FROM stores ORDER BY store_id")
            .await
    }

    async fn put_products(&self, products: Vec<Product>) -> StoreResult<()> {
        let products = Arc::new(products);
        self.config(Box::new(move |conn| {
            let products = products.clone();
            Box::pin(async move {
                for product in products.iter() {
                    rows::upsert_document(conn, "products", "sku", &product.sku, product).await?;
                }
                Ok(())
            })
        }))
        .await
    }

    async fn products(&self) -> StoreResult<Vec<Product>> {
        self.documents("SELECT body FROM products ORDER BY sku")
            .await
    }

    async fn put_promotion(&self, promotion: Promotion, now: DateTime<Utc>) -> StoreResult<()> {
        let promotion = Arc::new(promotion);
        self.config(Box::new(move |conn| {
            let promotion = promotion.clone();
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO promotions (promotion_id, body, updated_at, deleted_at) VALUES ($1, $2, $3, NULL)
                     ON CONFLICT (promotion_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at, deleted_at = NULL",
                )
                .bind(&promotion.promotion_id)
                .bind(serde_json::to_string(&*promotion).map_err(StoreError::backend)?)
                .bind(ts(now))
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                Ok(())
            })
        }))
        .await
    }

    async fn delete_promotion(
        &self,
        promotion_id: String,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.config(Box::new(move |conn| {
            let promotion_id = promotion_id.clone();
            Box::pin(async move {
                let row = sqlx::query("SELECT body FROM promotions WHERE promotion_id = $1 FOR UPDATE")
                    .bind(&promotion_id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db)?;
                let Some(row) = row else {
                    return Ok(false);
                };
                let mut promotion: Promotion = serde_json::from_str(&row.get::<String, _>(0))
                    .map_err(StoreError::backend)?;
                promotion.enabled = false;
                sqlx::query(
                    "UPDATE promotions SET body = $1, updated_at = $2, deleted_at = COALESCE(deleted_at, $2) WHERE promotion_id = $3",
                )
                .bind(serde_json::to_string(&promotion).map_err(StoreError::backend)?)
                .bind(ts(now))
                .bind(&promotion_id)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
                Ok(true)
            })
        }))
        .await
    }

    async fn promotions(&self) -> StoreResult<Vec<PromotionRecord>> {
        let rows = read!(self, |conn| async {
            sqlx::query("SELECT body, updated_at, deleted_at FROM promotions ORDER BY promotion_id")
                .fetch_all(conn)
                .await
                .map_err(db)
        })?;
        rows.iter()
            .map(|r| {
                Ok(PromotionRecord {
                    promotion: serde_json::from_str(&r.get::<String, _>(0))
                        .map_err(StoreError::backend)?,
                    updated_at: time::parse_ts(&r.get::<String, _>(1))?,
                    deleted_at: r
                        .get::<Option<String>, _>(2)
                        .map(|t| time::parse_ts(&t))
                        .transpose()?,
                })
            })
            .collect()
    }

    async fn put_coupon_series(&self, series: CouponSeries) -> StoreResult<()> {
        let series = Arc::new(series);
        self.config(Box::new(move |conn| {
            let series = series.clone();
            Box::pin(async move { vouchers::put_series(conn, &series).await })
        }))
        .await
    }

    async fn coupon_series(&self, series_id: &str) -> StoreResult<Option<CouponSeries>> {
        read!(self, |conn| vouchers::series(conn, series_id))
    }

    async fn insert_coupons(&self, coupons: Vec<Coupon>) -> StoreResult<()> {
        let coupons = Arc::new(coupons);
        self.transaction(Box::new(move |conn| {
            let coupons = coupons.clone();
            Box::pin(async move { vouchers::insert_coupons(conn, &coupons).await })
        }))
        .await
    }

    async fn coupons(
        &self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
        read!(self, |conn| vouchers::coupons(conn, codes, false))
    }

    async fn certificates(&self, codes: &[String]) -> StoreResult<HashMap<String, Certificate>> {
        read!(self, |conn| vouchers::certificates(conn, codes, false))
    }

    async fn grants(&self, customer_id: &str) -> StoreResult<Vec<Grant>> {
        read!(self, |conn| vouchers::grants(conn, customer_id))
    }

    async fn put_segment(&self, segment: Segment) -> StoreResult<()> {
        let segment = Arc::new(segment);
        self.transaction(Box::new(move |conn| {
            let segment = segment.clone();
            Box::pin(async move { segments::put(conn, &segment).await })
        }))
        .await
    }

    async fn segment(&self, segment_id: &str) -> StoreResult<Option<(Segment, u64)>> {
        read!(self, |conn| segments::get(conn, segment_id))
    }

    async fn change_segment(&self, segment_id: &str, change: MembershipChange) -> StoreResult<()> {
        let (id, change) = (segment_id.to_string(), Arc::new(change));
        let found = self
            .transaction(Box::new(move |conn| {
                let (id, change) = (id.clone(), change.clone());
                Box::pin(async move { segments::change(conn, &id, &change).await })
            }))
            .await?;
        if found {
            Ok(())
        } else {
            Err(StoreError::domain(
                ErrorCode::SegmentNotFound,
                format!("no segment {segment_id:?}"),
            ))
        }
    }

    async fn customer_segments(&self, customer_id: &str) -> StoreResult<Vec<String>> {
        read!(self, |conn| segments::of_customer(conn, customer_id))
    }

    async fn create_customers(&self, customers: Vec<Customer>) -> StoreResult<()> {
        let customers = Arc::new(customers);
        self.transaction(Box::new(move |conn| {
            let customers = customers.clone();
            Box::pin(async move { rows::insert_customers(conn, &customers).await })
        }))
        .await
    }

    async fn customer(&self, customer_id: &str) -> StoreResult<Option<Customer>> {
        read!(self, |conn| rows::customer(conn, customer_id))
    }

    async fn find_customer(&self, reference: &CustomerRef) -> StoreResult<Option<String>> {
        read!(self, |conn| rows::resolve_customer(conn, reference))
    }

    async fn find_ledger(
        &self,
        reference: &CustomerRef,
    ) -> StoreResult<Option<(CustomerLedger, CustomerFacts)>> {
        read!(self, |conn| rows::find_ledger(conn, reference))
    }

    async fn promotion_usage(
        &self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), tessera_core::limits::Usage>> {
        read!(self, |conn| rows::promotion_usage(conn, keys))
    }

    async fn customer_ledger(&self, customer_id: &str) -> StoreResult<CustomerLedger> {
        let mut conn = self.reader().await?;
        // One snapshot for the balances and the lots, and no lock: a read never waits
        // for a write.
        let mut tx = conn
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(db)?;
        let ledger = rows::load_ledger(&mut tx, customer_id, &[], false).await;
        if tx.rollback().await.is_ok() {
            conn.settle();
        }
        ledger
    }

    async fn ledger_entries(
        &self,
        customer_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEntry>> {
        read!(self, |conn| rows::entries(conn, customer_id, after, limit))
    }

    async fn crm(&self, command: CrmCommand) -> StoreResult<CrmOutcome> {
        let command = Arc::new(command);
        self.transaction(Box::new(move |conn| {
            let command = command.clone();
            Box::pin(async move {
                let mut tx = PgTx::new(conn);
                let outcome = crm::apply(&mut tx, &command).await;
                tx.finish(outcome).await
            })
        }))
        .await
    }

    async fn profile(&self, customer_id: &str) -> StoreResult<Option<StoredProfile>> {
        read!(self, |conn| profiles::profile(conn, customer_id))
    }

    async fn profile_events(
        &self,
        customer_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<ProfileEvent>> {
        read!(self, |conn| history::events(
            conn,
            customer_id,
            after,
            limit
        ))
    }

    async fn search_customers(
        &self,
        query: &CustomerQuery,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        read!(self, |conn| search::search_customers(conn, query, limit))
    }

    async fn merge_candidates(&self, filter: &CandidateFilter) -> StoreResult<Vec<MergeCandidate>> {
        read!(self, |conn| merges::candidates(conn, filter))
    }

    async fn merges_into(&self, survivor_id: &str) -> StoreResult<Vec<MergeRecord>> {
        read!(self, |conn| merges::merges_into(conn, survivor_id))
    }

    async fn customer_receipts(
        &self,
        customer_ids: &[String],
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>> {
        read!(self, |conn| history::customer_receipts(
            conn,
            customer_ids,
            offset,
            limit
        ))
    }

    async fn match_profiles(&self) -> StoreResult<Vec<MatchProfile>> {
        let mut conn = self.reader().await?;
        // Customers, identifiers and cards from one snapshot.
        let mut tx = conn
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(db)?;
        let profiles = search::match_profiles(&mut tx).await;
        if tx.rollback().await.is_ok() {
            conn.settle();
        }
        profiles
    }

    async fn commit_receipt(&self, command: CommitCommand) -> StoreResult<Vec<u8>> {
        let command = Arc::new(command);
        self.transaction(Box::new(move |conn| {
            let command = command.clone();
            Box::pin(async move {
                // What the calculate read of the same customer (a rerun finds the
                // quote taken and reads).
                let quoted = command
                    .quote
                    .peek(|quote| quote.ledger_for(&command.request.customer))
                    .flatten();
                let mut tx = PgTx::commit(conn, command.request.customer.clone(), quoted);
                let outcome = service::commit(&mut tx, &command).await;
                tx.finish(outcome).await
            })
        }))
        .await
    }

    async fn return_receipt(&self, command: ReturnCommand) -> StoreResult<Vec<u8>> {
        let command = Arc::new(command);
        self.transaction(Box::new(move |conn| {
            let command = command.clone();
            Box::pin(async move {
                let mut tx = PgTx::new(conn);
                let outcome = service::return_receipt(&mut tx, &command).await;
                tx.finish(outcome).await
            })
        }))
        .await
    }

    async fn cancel_receipt(&self, command: CancelCommand) -> StoreResult<Vec<u8>> {
        let command = Arc::new(command);
        self.transaction(Box::new(move |conn| {
            let command = command.clone();
            Box::pin(async move {
                let mut tx = PgTx::new(conn);
                let outcome = service::cancel_receipt(&mut tx, &command).await;
                tx.finish(outcome).await
            })
        }))
        .await
    }

    async fn commit_response(&self, receipt_id: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        read!(self, |conn| rows::commit_response(conn, receipt_id))
    }

    async fn receipt(&self, receipt_id: &str) -> StoreResult<Option<StoredReceipt>> {
        read!(self, |conn| rows::receipt(conn, receipt_id, false))
    }

    async fn catch_up_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u32> {
        self.transaction(Box::new(move |conn| {
            Box::pin(async move {
                let ledgers = rows::due_ledgers(conn, &ts(now), limit).await?;
                let caught_up = ledgers.len() as u32;
                let changes: Vec<LedgerChanges> = ledgers
                    .into_iter()
                    .map(|mut ledger| {
                        ledger.catch_up(now);
                        ledger.into_changes()
                    })
                    .collect();
                rows::save_ledgers(conn, &changes.iter().collect::<Vec<_>>()).await?;
                Ok(caught_up)
            })
        }))
        .await
    }

    async fn tier_history(&self, customer_id: &str, window_days: u32) -> StoreResult<TierHistory> {
        read!(self, |conn| tiers::history(conn, customer_id, window_days))
    }

    async fn reevaluate_tiers_due(
        &self,
        program: &TierProgram,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u32> {
        let program = Arc::new(program.clone());
        self.transaction(Box::new(move |conn| {
            let program = program.clone();
            Box::pin(async move {
                let mut tx = PgTx::new(conn);
                let outcome =
                    tessera_store::tiers::reevaluate_due(&mut tx, &program, now, limit).await;
                tx.finish(outcome).await
            })
        }))
        .await
    }

    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        read!(self, |conn| access::api_keys(conn))
    }

    async fn put_api_key(&self, key: ApiKey) -> StoreResult<()> {
        let key = Arc::new(key);
        self.config(Box::new(move |conn| {
            let key = key.clone();
            Box::pin(async move { access::insert_key(conn, &key).await })
        }))
        .await
    }

    async fn revoke_api_key(&self, key_id: &str, at: DateTime<Utc>) -> StoreResult<Option<ApiKey>> {
        let key_id = key_id.to_string();
        self.config(Box::new(move |conn| {
            let key_id = key_id.clone();
            Box::pin(async move { access::revoke_key(conn, &key_id, at).await })
        }))
        .await
    }

    async fn append_audit(&self, content: AuditContent) -> StoreResult<AuditEntry> {
        self.transaction(Box::new(move |conn| {
            let content = content.clone();
            Box::pin(async move { access::append_audit(conn, content).await })
        }))
        .await
    }

    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        read!(self, |conn| access::audit_entries(conn, filter, limit))
    }

    async fn customer_code(
        &self,
        customer_id: &str,
        change: CodeChange,
    ) -> StoreResult<CodeAnswer> {
        let customer_id = customer_id.to_string();
        self.transaction(Box::new(move |conn| {
            let (customer_id, change) = (customer_id.clone(), change.clone());
            Box::pin(async move { accounts::customer_code(conn, &customer_id, &change).await })
        }))
        .await
    }

    async fn forget_customer_access(
        &self,
        customer_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let customer_id = customer_id.to_string();
        self.transaction(Box::new(move |conn| {
            let customer_id = customer_id.clone();
            Box::pin(async move { accounts::forget_customer(conn, &customer_id, at).await })
        }))
        .await
    }

    async fn put_session(&self, session: Session) -> StoreResult<()> {
        read!(self, |conn| accounts::put_session(conn, &session))
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        read!(self, |conn| accounts::session(conn, token_hash))
    }

    async fn revoke_session(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        read!(self, |conn| accounts::revoke_session(conn, token_hash, at))
    }

    async fn put_staff_user(&self, user: StaffUser) -> StoreResult<()> {
        self.transaction(Box::new(move |conn| {
            let user = user.clone();
            Box::pin(async move { accounts::put_staff_user(conn, &user).await })
        }))
        .await
    }

    async fn end_staff_sessions(&self, username: &str, at: DateTime<Utc>) -> StoreResult<()> {
        read!(self, |conn| accounts::end_staff_sessions(
            conn, username, at
        ))
    }

    async fn staff_users(&self) -> StoreResult<Vec<StaffUser>> {
        read!(self, |conn| accounts::staff_users(conn))
    }

    async fn record_staff_login(
        &self,
        username: &str,
        ok: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ThrottleState>> {
        let username = username.to_string();
        self.transaction(Box::new(move |conn| {
            let username = username.clone();
            Box::pin(async move { accounts::record_staff_login(conn, &username, ok, now).await })
        }))
        .await
    }

    async fn check(&self) -> StoreResult<CheckReport> {
        read!(self, |conn| check::run(conn))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
