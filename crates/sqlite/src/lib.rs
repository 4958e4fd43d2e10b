//! The SQLite adapter of the Tessera store: the embedded database for a single store
//! or a trial.
//!
//! WAL mode; a write is acknowledged only once it is on disk. All writes go through one
//! writer thread ([`writer`]) that groups concurrent writes into one transaction; a
//! sync thread ([`syncer`]) syncs each group's WAL frames while the writer goes on, and
//! only then answers. Reads use a pool of connections in parallel, and wait for the
//! sync of what they saw (except the reads that price a receipt).
//!
//! The driver is rusqlite: every statement runs on the thread that asks for it, with
//! cached prepared statements. A read runs inline on the async task that needs it (tens
//! of microseconds from the page cache or the memory map); the writer has a thread of
//! its own and never waits on another thread within a group.

mod access;
mod accounts;
mod check;
mod check_profiles;
mod check_vouchers;
mod checkpointer;
mod identifiers;
mod merges;
mod packed;
mod profile_batch;
mod profile_tx;
mod profiles;
mod readers;
mod record_json;
mod rows;
mod schema;
mod search;
mod segments;
mod sql;
mod sync_load;
mod syncer;
mod tiers;
mod time;
mod vouchers;
mod wal_restart;
mod writer;
mod writer_load;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use readers::Readers;
use rusqlite::Connection;
use sql::{all, RowExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use syncer::{Durability, Syncer};
use tessera_core::access::ApiKey;
use tessera_core::audit::{AuditContent, AuditEntry};
use tessera_core::catalog::{Product, Store as ChainStore};
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::customer::{Customer, CustomerFacts};
use tessera_core::ledger::CustomerLedger;
use tessera_core::otp::ThrottleState;
use tessera_core::program::Program;
use tessera_core::promotion::Promotion;
use tessera_core::receipt::CustomerRef;
use tessera_core::reward::{Certificate, Grant};
use tessera_core::segment::{MembershipChange, Segment};
use tessera_core::tier::{TierHistory, TierProgram};
use tessera_store::account::{CodeAnswer, CodeChange, Session, StaffUser};
use tessera_store::crm_command::{
    CandidateFilter, CrmCommand, CrmOutcome, CustomerQuery, MatchProfile,
};
use tessera_store::{
    AuditFilter, CancelCommand, CheckReport, CommitCommand, MergeCandidate, MergeRecord,
    ProfileEvent, PromotionRecord, ReturnCommand, Store, StoreError, StoreResult, StoredEntry,
    StoredProfile, StoredReceipt,
};
use tokio::sync::{mpsc, oneshot};
use writer::{AccessOutcome, AccessWrite, ConfigWrite, Job};

/// The SQLite store.
pub struct SqliteStore {
    readers: Readers,
    /// How far the writer's commits are on disk; reads wait on it (see [`Self::read`]).
    durability: Arc<Durability>,
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    /// Answers once the writer has finished its queue and closed its connection.
    writer: Mutex<Option<oneshot::Receiver<()>>>,
    /// Dropped to stop the checkpointer.
    checkpointer: Mutex<Option<std::sync::mpsc::Sender<()>>>,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database at `url`, such as
    /// `sqlite://./tessera.db` or a plain path.
    pub async fn open(url: &str) -> StoreResult<SqliteStore> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        let mut writer_conn = readers::open_writer(path)?;
        schema::migrate(&mut writer_conn)?;
        writer_conn
            .execute_batch(writer::DURABLE_SYNC)
            .and_then(|()| writer_conn.execute_batch(writer::NO_AUTOCHECKPOINT))
            .map_err(sql::db)?;
        let wal_state = Arc::new(wal_restart::WalState::new(wal_restart::RESTART_AT));
        let wal = wal_restart::WalRestart::new(wal_state.clone());
        let durability = Arc::new(Durability::default());
        let syncer = Syncer::start(format!("{path}-wal"), durability.clone())
            .map_err(StoreError::backend)?;
        let readers = Readers::new(path);
        // Fail now, not at the first request, if the file cannot be read.
        readers.read(|_| Ok(()))?;
        let (sender, receiver) = mpsc::channel(4096);
        // The writer runs on a thread and runtime of its own, so a group never waits
        // behind the HTTP tasks in the server's run queue.
        let (finished, handle) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::backend)?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let commits = writer::Commits::new(syncer);
                runtime.block_on(writer::run(writer_conn, receiver, commits, wal));
                let _ = finished.send(());
            })
            .map_err(StoreError::backend)?;
        let checkpointer = checkpointer::start(path, wal_state)?;
        Ok(SqliteStore {
            readers,
            durability,
            queue: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            checkpointer: Mutex::new(Some(checkpointer)),
        })
    }

    /// Bulk-load mode: with `false`, commits no longer wait for the disk
    /// (`synchronous=OFF`), for loading a database that is rebuilt from scratch if the
    /// load fails (the demo). `true` restores full durability.
    pub async fn set_durable(&self, durable: bool) -> StoreResult<()> {
        self.submit(|reply| Job::Durable(durable, reply))
            .await
            .map(drop)
    }

    fn sender(&self) -> StoreResult<mpsc::Sender<Job>> {
        self.queue
            .lock()
            .map_err(|_| StoreError::ShuttingDown)?
            .clone()
            .ok_or(StoreError::ShuttingDown)
    }

    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> Job,
    ) -> StoreResult<T> {
        let (reply, answer) = oneshot::channel();
        // A request's first write carries its audit entry (see `tessera_store::audit`).
        let job = match tessera_store::audit::take_pending() {
            Some(content) => Job::Audited(Box::new(make(reply)), content),
            None => make(reply),
        };
        self.sender()?
            .send(job)
            .await
            .map_err(|_| StoreError::ShuttingDown)?;
        answer.await.map_err(|_| StoreError::ShuttingDown)?
    }

    async fn access(&self, write: AccessWrite) -> StoreResult<AccessOutcome> {
        self.submit(|reply| Job::Access(write, reply)).await
    }

    async fn config(&self, write: ConfigWrite) -> StoreResult<bool> {
        self.submit(|reply| Job::Config(write, reply)).await
    }

    /// A read that shows only what is on disk: once it has run, it waits until every
    /// commit it could have seen is synced (at most one sync, a few milliseconds under
    /// load; nothing when no commit is pending), so no one is shown a receipt, balance
    /// or change that a power loss could still take back.
    ///
    /// The reads that price a receipt for calculate ([`Self::read_unsettled`]) do not
    /// wait: what they see is only quoted, and the commit decides again in the writer.
    async fn read<T>(&self, read: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let result = self.readers.read(read);
        self.durability.settled(self.durability.begun()).await;
        result
    }

    /// A read for pricing, without waiting for the last commits' sync (see [`Self::read`]).
    fn read_unsettled<T>(
        &self,
        read: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.readers.read(read)
    }

    async fn documents<T: serde::de::DeserializeOwned>(&self, sql: &str) -> StoreResult<Vec<T>> {
        self.read(|conn| {
            all(conn, sql, [], |r| {
                serde_json::from_str(&r.at::<String>(0)?).map_err(StoreError::backend)
            })
        })
        .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// One process owns the database file (its writer), so nothing changes behind it.
    async fn config_version(&self) -> StoreResult<i64> {
        Ok(0)
    }

    async fn program(&self) -> StoreResult<Option<Program>> {
        Ok(self
            .documents("SELECT body FROM program WHERE id = 1")
            .await?
            .into_iter()
            .next())
    }

    async fn put_program(&self, program: Program) -> StoreResult<()> {
        self.config(ConfigWrite::Program(program)).await.map(drop)
    }

    async fn put_store(&self, store: ChainStore) -> StoreResult<()> {
        self.config(ConfigWrite::Store(store)).await.map(drop)
    }

    async fn stores(&self) -> StoreResult<Vec<ChainStore>> {
        self.documents("SELECT body FROM stores ORDER BY store_id")
            .await
    }

    async fn put_products(&self, products: Vec<Product>) -> StoreResult<()> {
        self.config(ConfigWrite::Products(products)).await.map(drop)
    }

    async fn products(&self) -> StoreResult<Vec<Product>> {
        self.documents("SELECT body FROM products ORDER BY sku")
            .await
    }

    async fn put_promotion(&self, promotion: Promotion, now: DateTime<Utc>) -> StoreResult<()> {
        self.config(ConfigWrite::Promotion(Box::new(promotion), now))
            .await
            .map(drop)
    }

    async fn delete_promotion(
        &self,
        promotion_id: String,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.config(ConfigWrite::DeletePromotion(promotion_id, now))
            .await
    }

    async fn promotions(&self) -> StoreResult<Vec<PromotionRecord>> {
        self.read(|conn| {
            all(
                conn,
                "SELECT body, updated_at, deleted_at FROM promotions ORDER BY promotion_id",
                [],
                |r| {
                    Ok(PromotionRecord {
                        promotion: serde_json::from_str(&r.at::<String>(0)?)
                            .map_err(StoreError::backend)?,
                        updated_at: time::parse_ts(&r.at::<String>(1)?)?,
                        deleted_at: r
                            .at::<Option<String>>(2)?
                            .map(|t| time::parse_ts(&t))
                            .transpose()?,
                    })
                },
            )
        })
        .await
    }

    async fn put_coupon_series(&self, series: CouponSeries) -> StoreResult<()> {
        self.config(ConfigWrite::CouponSeries(series))
            .await
            .map(drop)
    }

    async fn coupon_series(&self, series_id: &str) -> StoreResult<Option<CouponSeries>> {
        self.read(|c| vouchers::series(c, series_id)).await
    }

    async fn insert_coupons(&self, coupons: Vec<Coupon>) -> StoreResult<()> {
        self.config(ConfigWrite::Coupons(coupons)).await.map(drop)
    }

    async fn coupons(
        &self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
        self.read_unsettled(|c| vouchers::coupons(c, codes))
    }

    async fn certificates(&self, codes: &[String]) -> StoreResult<HashMap<String, Certificate>> {
        self.read_unsettled(|c| vouchers::certificates(c, codes))
    }

    async fn grants(&self, customer_id: &str) -> StoreResult<Vec<Grant>> {
        self.read(|c| vouchers::grants(c, customer_id)).await
    }

    async fn put_segment(&self, segment: Segment) -> StoreResult<()> {
        self.config(ConfigWrite::Segment(segment)).await.map(drop)
    }

    async fn segment(&self, segment_id: &str) -> StoreResult<Option<(Segment, u64)>> {
        self.read(|c| segments::get(c, segment_id)).await
    }

    async fn change_segment(&self, segment_id: &str, change: MembershipChange) -> StoreResult<()> {
        let found = self
            .config(ConfigWrite::SegmentMembers(segment_id.to_string(), change))
            .await?;
        if found {
            Ok(())
        } else {
            Err(StoreError::domain(
                tessera_core::ErrorCode::SegmentNotFound,
                format!("no segment {segment_id:?}"),
            ))
        }
    }

    async fn customer_segments(&self, customer_id: &str) -> StoreResult<Vec<String>> {
        self.read(|c| segments::of_customer(c, customer_id)).await
    }

    async fn create_customers(&self, customers: Vec<Customer>) -> StoreResult<()> {
        self.submit(|reply| Job::Customers(customers, reply))
            .await
            .map(drop)
    }

    async fn customer(&self, customer_id: &str) -> StoreResult<Option<Customer>> {
        self.read(|c| profiles::customer(c, customer_id)).await
    }

    async fn find_customer(&self, reference: &CustomerRef) -> StoreResult<Option<String>> {
        self.read_unsettled(|c| rows::resolve_customer(c, reference))
    }

    async fn find_ledger(
        &self,
        reference: &CustomerRef,
    ) -> StoreResult<Option<(CustomerLedger, CustomerFacts)>> {
        self.read_unsettled(|c| rows::find_ledger(c, reference))
    }

    async fn promotion_usage(
        &self,
        keys: &[(String, String)],
    ) -> StoreResult<std::collections::HashMap<(String, String), tessera_core::limits::Usage>> {
        self.read_unsettled(|c| rows::promotion_usage(c, keys))
    }

    async fn customer_ledger(&self, customer_id: &str) -> StoreResult<CustomerLedger> {
        self.read(|c| rows::load_ledger(c, customer_id, &[])).await
    }

    async fn ledger_entries(
        &self,
        customer_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEntry>> {
        self.read(|c| rows::entries(c, customer_id, after, limit))
            .await
    }

    async fn crm(&self, command: CrmCommand) -> StoreResult<CrmOutcome> {
        self.submit(|reply| Job::Crm(Box::new(command), reply))
            .await
    }

    async fn profile(&self, customer_id: &str) -> StoreResult<Option<StoredProfile>> {
        self.read_unsettled(|c| profiles::profile(c, customer_id))
    }

    async fn profile_events(
        &self,
        customer_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<ProfileEvent>> {
        self.read(|c| merges::events(c, customer_id, after, limit))
            .await
    }

    async fn search_customers(
        &self,
        query: &CustomerQuery,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        self.read(|c| search::search_customers(c, query, limit))
            .await
    }

    async fn merge_candidates(&self, filter: &CandidateFilter) -> StoreResult<Vec<MergeCandidate>> {
        self.read(|c| merges::candidates(c, filter)).await
    }

    async fn merges_into(&self, survivor_id: &str) -> StoreResult<Vec<MergeRecord>> {
        self.read(|c| merges::merges_into(c, survivor_id)).await
    }

    async fn customer_receipts(
        &self,
        customer_ids: &[String],
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>> {
        self.read(|c| rows::customer_receipts(c, customer_ids, offset, limit))
            .await
    }

    async fn match_profiles(&self) -> StoreResult<Vec<MatchProfile>> {
        self.read(search::match_profiles).await
    }

    async fn commit_receipt(&self, command: CommitCommand) -> StoreResult<Vec<u8>> {
        // What the commit will splice in from its quote (the answer's pieces, the
        // record's lines) is rendered and compressed here, on the request's thread,
        // rather than on the writer's.
        // With them goes what the calculate read of the customer.
        let prepared = command
            .quote
            .peek(|quote| writer::Prepared::of(quote, &command.request.customer))
            .unwrap_or_default();
        self.submit(|reply| Job::Commit(Box::new(command), prepared, reply))
            .await
    }

    async fn return_receipt(&self, command: ReturnCommand) -> StoreResult<Vec<u8>> {
        self.submit(|reply| Job::Return(Box::new(command), reply))
            .await
    }

    async fn cancel_receipt(&self, command: CancelCommand) -> StoreResult<Vec<u8>> {
        self.submit(|reply| Job::Cancel(Box::new(command), reply))
            .await
    }

    async fn commit_response(&self, receipt_id: &str) -> StoreResult<Option<(String, Vec<u8>)>> {
        self.read(|c| rows::commit_response(c, receipt_id)).await
    }

    async fn receipt(&self, receipt_id: &str) -> StoreResult<Option<StoredReceipt>> {
        self.read(|c| rows::receipt(c, receipt_id)).await
    }

    async fn catch_up_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u32> {
        self.submit(|reply| Job::CatchUp(now, limit, reply)).await
    }

    async fn tier_history(&self, customer_id: &str, window_days: u32) -> StoreResult<TierHistory> {
        // The record and the events from one snapshot.
        self.read_unsettled(|c| {
            let snapshot = c.unchecked_transaction().map_err(sql::db)?;
            let history = tiers::history(&snapshot, customer_id, window_days)?;
            snapshot.finish().map_err(sql::db)?;
            Ok(history)
        })
    }

    async fn reevaluate_tiers_due(
        &self,
        program: &TierProgram,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u32> {
        let program = Box::new(program.clone());
        self.submit(|reply| Job::Tiers(program, now, limit, reply))
            .await
    }

    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        self.read(access::api_keys).await
    }

    async fn put_api_key(&self, key: ApiKey) -> StoreResult<()> {
        self.access(AccessWrite::PutKey(key)).await.map(drop)
    }

    async fn revoke_api_key(&self, key_id: &str, at: DateTime<Utc>) -> StoreResult<Option<ApiKey>> {
        match self
            .access(AccessWrite::RevokeKey(key_id.to_string(), at))
            .await?
        {
            AccessOutcome::Key(key) => Ok(key),
            _ => Err(StoreError::backend("internal: revoke answered no key")),
        }
    }

    async fn append_audit(&self, content: AuditContent) -> StoreResult<AuditEntry> {
        match self.access(AccessWrite::Audit(content)).await? {
            AccessOutcome::Entry(entry) => Ok(entry),
            _ => Err(StoreError::backend("internal: audit answered no entry")),
        }
    }

    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        self.read(|conn| access::audit_entries(conn, filter, limit))
            .await
    }

    async fn customer_code(
        &self,
        customer_id: &str,
        change: CodeChange,
    ) -> StoreResult<CodeAnswer> {
        match self
            .access(AccessWrite::Code(customer_id.to_string(), change))
            .await?
        {
            AccessOutcome::Code(answer) => Ok(answer),
            _ => Err(StoreError::backend(
                "internal: code change answered no code",
            )),
        }
    }

    async fn forget_customer_access(
        &self,
        customer_id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.access(AccessWrite::ForgetCustomer(customer_id.to_string(), at))
            .await
            .map(drop)
    }

    async fn put_session(&self, session: Session) -> StoreResult<()> {
        self.access(AccessWrite::PutSession(session))
            .await
            .map(drop)
    }

    async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>> {
        self.read(|conn| accounts::session(conn, token_hash)).await
    }

    async fn revoke_session(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.access(AccessWrite::RevokeSession(token_hash.to_string(), at))
            .await
            .map(drop)
    }

    async fn put_staff_user(&self, user: StaffUser) -> StoreResult<()> {
        self.access(AccessWrite::PutStaff(user)).await.map(drop)
    }

    async fn end_staff_sessions(&self, username: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.access(AccessWrite::EndStaffSessions(username.to_string(), at))
            .await
            .map(drop)
    }

    async fn staff_users(&self) -> StoreResult<Vec<StaffUser>> {
        self.read(accounts::staff_users).await
    }

    async fn record_staff_login(
        &self,
        username: &str,
        ok: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ThrottleState>> {
        match self
            .access(AccessWrite::StaffLogin(username.to_string(), ok, now))
            .await?
        {
            AccessOutcome::Throttle(state) => Ok(state),
            _ => Err(StoreError::backend("internal: login answered no state")),
        }
    }

    async fn check(&self) -> StoreResult<CheckReport> {
        self.read(check::run).await
    }

    async fn close(&self) {
        let checkpointer = self.checkpointer.lock().ok().and_then(|mut c| c.take());
        drop(checkpointer);
        let sender = self.queue.lock().ok().and_then(|mut q| q.take());
        drop(sender);
        let handle = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            if let Err(error) = handle.await {
                tracing::error!(%error, "the writer task failed");
            }
        }
        self.readers.close();
    }
}
