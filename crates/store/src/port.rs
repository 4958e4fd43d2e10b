//! The storage traits: [`Store`] for the server, [`LedgerTx`] for the shared write
//! orchestration inside one adapter transaction.

use crate::account::{CodeAnswer, CodeChange, Session, StaffUser};
use crate::audit::AuditFilter;
use crate::command::{CancelCommand, CommitCommand, ReturnCommand};
use crate::crm_command::{CandidateFilter, CrmCommand, CrmOutcome, CustomerQuery, MatchProfile};
use crate::error::StoreError;
use crate::profile::{MergeCandidate, MergeRecord, ProfileEvent, StoredProfile};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tessera_core::access::ApiKey;
use tessera_core::audit::{AuditContent, AuditEntry};
use tessera_core::catalog::{Product, Store as ChainStore};
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::customer::{Customer, CustomerFacts};
use tessera_core::ledger::{CustomerLedger, Entry, LedgerChanges};
use tessera_core::limits::{Usage, UsageDelta};
use tessera_core::money::Money;
use tessera_core::program::Program;
use tessera_core::promotion::Promotion;
use tessera_core::receipt::CustomerRef;
use tessera_core::refund::ReceiptRecord;
use tessera_core::reward::{Certificate, Grant};
use tessera_core::segment::{MembershipChange, Segment};
use tessera_core::tier::{TierEvent, TierHistory, TierProgram, TierRecord};
use tessera_core::CoreError;

/// Result alias of the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// A promotion with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromotionRecord {
    pub promotion: Promotion,
    pub updated_at: DateTime<Utc>,
    /// Set when the promotion was deleted: it is disabled and kept for history.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A stored ledger entry with its sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub entry_id: i64,
    pub entry: Entry,
}

/// One version of a receipt: the commit (1), then each return or the cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptVersion {
    pub receipt_id: String,
    pub version: u32,
    /// `commit`, `return` or `cancel`.
    pub kind: String,
    /// The return id, `cancel/<receipt_id>` for a cancel, `commit/<receipt_id>` for the commit.
    pub op_id: String,
    pub request_hash: String,
    pub response: Vec<u8>,
    /// Where the pieces of a commit response spliced in from its quote lie in
    /// `response` (see [`crate::Rendered`]): an adapter may have prepared them for
    /// storage before the write. Empty otherwise, and when read back.
    pub pieces: Vec<std::ops::Range<usize>>,
    /// The commit reused its quote's calculation as it was (see [`crate::quote`]): the
    /// record's calculation is the quote's, so an adapter may store parts of it
    /// prepared from the quote before the write. False otherwise, and when read back.
    pub quoted: bool,
    pub terminal_id: Option<String>,
    pub at: chrono::DateTime<chrono::FixedOffset>,
    pub recorded_at: DateTime<Utc>,
}

/// A stored receipt: its current record and all its versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReceipt {
    pub record: ReceiptRecord,
    pub versions: Vec<ReceiptVersion>,
}

/// The coupon codes, certificates and grants one commit makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRewards {
    pub coupons: Vec<Coupon>,
    pub certificates: Vec<Certificate>,
    pub grants: Vec<Grant>,
}

impl NewRewards {
    pub fn is_empty(&self) -> bool {
        self.coupons.is_empty() && self.certificates.is_empty() && self.grants.is_empty()
    }
}

/// What a commit finds before it decides anything.
#[derive(Debug)]
pub enum PriorCommit {
    Nothing,
    Committed(Box<StoredReceipt>),
    Refused(CoreError),
}

/// One finding of `tessera check`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckItem {
    pub name: String,
    pub checked: u64,
    pub violations: Vec<String>,
}

/// What `tessera check` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub items: Vec<CheckItem>,
}

impl CheckReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.items.iter().all(|i| i.violations.is_empty())
    }
}

/// Everything the server needs from a database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A number that changes whenever the configuration (program, stores, products,
    /// promotions, coupon series) changes, through any server process sharing the
    /// database; servers poll it to reload. A store only one process can open may
    /// answer a constant.
    async fn config_version(&self) -> StoreResult<i64>;
    async fn program(&self) -> StoreResult<Option<Program>>;
    async fn put_program(&self, program: Program) -> StoreResult<()>;

    async fn put_store(&self, store: ChainStore) -> StoreResult<()>;
    async fn stores(&self) -> StoreResult<Vec<ChainStore>>;

    async fn put_products(&self, products: Vec<Product>) -> StoreResult<()>;
    async fn products(&self) -> StoreResult<Vec<Product>>;

    async fn put_promotion(&self, promotion: Promotion, now: DateTime<Utc>) -> StoreResult<()>;
    /// Disables and marks deleted; `false` when there is no such promotion.
    async fn delete_promotion(&self, promotion_id: String, now: DateTime<Utc>)
        -> StoreResult<bool>;
    async fn promotions(&self) -> StoreResult<Vec<PromotionRecord>>;

    /// Creates or updates a coupon series (its codes stay).
    async fn put_coupon_series(&self, series: CouponSeries) -> StoreResult<()>;
    async fn coupon_series(&self, series_id: &str) -> StoreResult<Option<CouponSeries>>;
    /// Stores new codes; fails whole if one exists already.
    async fn insert_coupons(&self, coupons: Vec<Coupon>) -> StoreResult<()>;
    /// The stored codes among `codes` (normalised), each with its series.
    async fn coupons(
        &self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>>;
    /// The stored certificates among `codes` (normalised).
    async fn certificates(&self, codes: &[String]) -> StoreResult<HashMap<String, Certificate>>;
    /// The customer's tier and entitlement grants, oldest first, revoked ones included.
    async fn grants(&self, customer_id: &str) -> StoreResult<Vec<Grant>>;

    /// Creates or updates a segment (its members stay).
    async fn put_segment(&self, segment: Segment) -> StoreResult<()>;
    /// A segment and how many members it has.
    async fn segment(&self, segment_id: &str) -> StoreResult<Option<(Segment, u64)>>;
    /// Adds and removes members of an existing segment, all or nothing: a customer
    /// that does not exist is `unknown_customer`. Adding a member twice, or removing a
    /// non-member, changes nothing.
    async fn change_segment(&self, segment_id: &str, change: MembershipChange) -> StoreResult<()>;
    /// The ids of the segments a customer is a member of, sorted.
    async fn customer_segments(&self, customer_id: &str) -> StoreResult<Vec<String>>;

    /// Registers new customers; fails whole with `card_taken` or `phone_taken` when
    /// an identifier already belongs to someone.
    async fn create_customers(&self, customers: Vec<Customer>) -> StoreResult<()>;
    async fn customer(&self, customer_id: &str) -> StoreResult<Option<Customer>>;
    async fn find_customer(&self, reference: &CustomerRef) -> StoreResult<Option<String>>;
    /// Resolves a customer and loads their balances and open lots as stored (not
    /// caught up) and their facts, or `None` when no customer has this identifier.
    async fn find_ledger(
        &self,
        reference: &CustomerRef,
    ) -> StoreResult<Option<(CustomerLedger, CustomerFacts)>>;
    /// Promotion limit counters, by `(promotion id, key)`; missing ones are unused.
    async fn promotion_usage(
        &self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Usage>>;
    /// The customer's balances and open lots as stored (not caught up).
    async fn customer_ledger(&self, customer_id: &str) -> StoreResult<CustomerLedger>;
    /// The customer's entries with `entry_id > after`, oldest first.
    async fn ledger_entries(
        &self,
        customer_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEntry>>;

    /// A CRM write (profile change, merge, unmerge, review decision, adjustment, card
    /// operation, erasure, import batch), all or nothing, in one transaction; the
    /// decisions are [`crate::crm::apply`]'s.
    async fn crm(&self, command: CrmCommand) -> StoreResult<CrmOutcome>;
    /// A profile with its identifiers and cards, whatever its status.
    async fn profile(&self, customer_id: &str) -> StoreResult<Option<StoredProfile>>;
    /// The customer's history entries with `event_id > after`, oldest first.
    async fn profile_events(
        &self,
        customer_id: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<ProfileEvent>>;
    /// Ids of the customers a query finds (merged and erased ones left out), at most
    /// `limit`, sorted by id. For a name prefix, the first `limit` customers in the
    /// order of their name keys, so that a common prefix costs `limit` reads.
    async fn search_customers(&self, query: &CustomerQuery, limit: u32)
        -> StoreResult<Vec<String>>;
    /// The review queue, by candidate id.
    async fn merge_candidates(&self, filter: &CandidateFilter) -> StoreResult<Vec<MergeCandidate>>;
    /// The merges into `survivor_id` that are not undone, oldest first.
    async fn merges_into(&self, survivor_id: &str) -> StoreResult<Vec<MergeRecord>>;
    /// The receipts of these customers, newest first (by date, then id), skipping
    /// `offset`.
    async fn customer_receipts(
        &self,
        customer_ids: &[String],
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>>;
    /// Every active profile as the import matcher needs it.
    async fn match_profiles(&self) -> StoreResult<Vec<MatchProfile>>;

    /// Commits a receipt exactly once; returns the stored response.
    async fn commit_receipt(&self, command: CommitCommand) -> StoreResult<Vec<u8>>;
    async fn return_receipt(&self, command: ReturnCommand) -> StoreResult<Vec<u8>>;
    async fn cancel_receipt(&self, command: CancelCommand) -> StoreResult<Vec<u8>>;
    /// The commit's request hash and response, for answering retries without a write.
    async fn commit_response(&self, receipt_id: &str) -> StoreResult<Option<(String, Vec<u8>)>>;
    async fn receipt(&self, receipt_id: &str) -> StoreResult<Option<StoredReceipt>>;

    /// Matures and expires due lots of up to `limit` customers; returns how many
    /// customers it caught up.
    async fn catch_up_due(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<u32>;
    /// The customer's stored tier record and the qualifying events an evaluation of it
    /// needs, with a window of `window_days` (see [`tessera_core::tier::events_after`]).
    async fn tier_history(&self, customer_id: &str, window_days: u32) -> StoreResult<TierHistory>;
    /// Re-evaluates up to `limit` customers whose tier record is due
    /// (`reevaluate_at <= now`) at `now` and stores their records; returns how many
    /// (see [`crate::tiers::reevaluate_due`]).
    async fn reevaluate_tiers_due(
        &self,
        program: &TierProgram,
        now: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<u32>;
    /// Every API key, revoked and expired ones included, by key id.
    async fn api_keys(&self) -> StoreResult<Vec<ApiKey>>;
    /// Stores a new key; counts as a configuration change (other processes reload
    /// their keys with the configuration).
    async fn put_api_key(&self, key: ApiKey) -> StoreResult<()>;
    /// Revokes a key at `at` (a key revoked before keeps its first instant) and
    /// answers it, or `None` when there is no such key; a configuration change.
    async fn revoke_api_key(&self, key_id: &str, at: DateTime<Utc>) -> StoreResult<Option<ApiKey>>;
    /// Appends an entry to the audit chain, after the current last one, however many
    /// processes append at once.
    async fn append_audit(&self, content: AuditContent) -> StoreResult<AuditEntry>;
    /// Audit entries that match `filter`, by seq, at most `limit`.
    async fn audit_entries(&self, filter: &AuditFilter, limit: u32)
        -> StoreResult<Vec<AuditEntry>>;

    /// Applies a change to a customer's code records (TOTP secret, sent codes and
    /// throttles) in one transaction, decided by [`crate::account::apply_code`].
    async fn customer_code(&self, customer_id: &str, change: CodeChange)
        -> StoreResult<CodeAnswer>;
    /// Removes a customer's TOTP secret and codes and ends their sessions (erasure).
    async fn forget_customer_access(&self, customer_id: &str, at: DateTime<Utc>)
        -> StoreResult<()>;
    async fn put_session(&self, session: Session) -> StoreResult<()>;
    async fn session(&self, token_hash: &str) -> StoreResult<Option<Session>>;
    /// Ends a session at `at` (an earlier end stays).
    async fn revoke_session(&self, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Creates or replaces a staff user; disabling one revokes their sessions.
    async fn put_staff_user(&self, user: StaffUser) -> StoreResult<()>;
    /// Ends every session of a staff user at `at` (after a password change).
    async fn end_staff_sessions(&self, username: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Every staff user, by name.
    async fn staff_users(&self) -> StoreResult<Vec<StaffUser>>;
    /// Records a login attempt on the user's throttle; the state after it, or `None`
    /// when there is no such user.
    async fn record_staff_login(
        &self,
        username: &str,
        ok: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<tessera_core::otp::ThrottleState>>;

    /// Verifies the ledger's invariants.
    async fn check(&self) -> StoreResult<CheckReport>;
    /// Finishes queued writes and closes the database.
    async fn close(&self);
}

/// The rows one receipt write reads and writes, inside one database transaction.
#[async_trait]
pub trait LedgerTx: Send {
    async fn receipt(&mut self, receipt_id: &str) -> StoreResult<Option<StoredReceipt>>;
    /// What a commit of this receipt and body meets: the receipt committed before, or
    /// the remembered refusal of this body, or nothing. Adapters may answer it with one
    /// read; by default it asks [`receipt`](Self::receipt), then
    /// [`refusal`](Self::refusal).
    async fn prior_commit(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
    ) -> StoreResult<PriorCommit> {
        if let Some(stored) = self.receipt(receipt_id).await? {
            return Ok(PriorCommit::Committed(Box::new(stored)));
        }
        Ok(match self.refusal(receipt_id, request_hash).await? {
            Some(error) => PriorCommit::Refused(error),
            None => PriorCommit::Nothing,
        })
    }
    /// The refusal a commit of this receipt with this body got, if it was remembered
    /// (see [`crate::service::REMEMBERED_REFUSALS`]).
    async fn refusal(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
    ) -> StoreResult<Option<CoreError>>;
    /// Remembers a refused commit, so a retry of the same body gets the same answer.
    /// The only row a refused commit writes.
    async fn record_refusal(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
        error: &CoreError,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// A stored return or cancel: `(receipt_id, request_hash, response)`.
    async fn operation(&mut self, op_id: &str) -> StoreResult<Option<(String, String, Vec<u8>)>>;
    /// Resolves a customer and loads their balances, open lots and facts, or `None`
    /// when no customer has this identifier.
    async fn find_ledger(
        &mut self,
        reference: &CustomerRef,
    ) -> StoreResult<Option<(CustomerLedger, CustomerFacts)>>;
    async fn insert_customer(&mut self, customer: &Customer) -> StoreResult<()>;
    /// The customer that holds `customer_id`'s points now: itself, or the customer it
    /// was merged into (a return of a receipt made before a merge goes there).
    async fn ledger_owner(&mut self, customer_id: &str) -> StoreResult<String> {
        Ok(customer_id.to_string())
    }
    /// The customer's balances, open lots, and the lots named in `extra_lots`.
    async fn load_ledger(
        &mut self,
        customer_id: &str,
        extra_lots: &[String],
    ) -> StoreResult<CustomerLedger>;
    async fn save_ledger(&mut self, changes: &LedgerChanges) -> StoreResult<()>;
    /// Promotion limit counters, by `(promotion id, key)`; missing ones are unused.
    async fn promotion_usage(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Usage>>;
    /// Adds `sign` (1 or -1) times each delta to its counter.
    async fn add_usage(&mut self, deltas: &[UsageDelta], sign: i64) -> StoreResult<()>;
    /// The stored codes among `codes` (normalised), each with its series.
    async fn coupons(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>>;
    /// Marks single-use codes used by `receipt_id`, or free again with `None`. Marking
    /// a code another receipt used fails: the adapter checks it in the update itself.
    async fn set_coupon_use(
        &mut self,
        codes: &[String],
        receipt_id: Option<&str>,
    ) -> StoreResult<()>;
    /// The stored certificates among `codes` (normalised).
    async fn certificates(&mut self, codes: &[String])
        -> StoreResult<HashMap<String, Certificate>>;
    /// Adds each amount to its certificate's balance (negative: spent). A balance that
    /// would go below zero or above the certificate's amount fails.
    async fn move_certificates(&mut self, moves: &[(String, Money)]) -> StoreResult<()>;
    async fn insert_rewards(&mut self, rewards: &NewRewards) -> StoreResult<()>;
    /// Revokes the codes, certificates and grants a receipt issued.
    async fn revoke_rewards(&mut self, receipt_id: &str) -> StoreResult<()>;
    /// Stores a new receipt with its first version.
    async fn insert_receipt(
        &mut self,
        record: &ReceiptRecord,
        version: &ReceiptVersion,
    ) -> StoreResult<()>;
    /// Stores the receipt's new state and a new version.
    async fn update_receipt(
        &mut self,
        record: &ReceiptRecord,
        version: &ReceiptVersion,
    ) -> StoreResult<()>;
    /// The customer's stored tier record and the qualifying events after
    /// [`tessera_core::tier::events_after`] of it with a window of `window_days` (every
    /// event without a record), by time. One read.
    async fn tier_history(
        &mut self,
        customer_id: &str,
        window_days: u32,
    ) -> StoreResult<TierHistory>;
    /// Stores the customer's tier record (replacing the one before) and, if given, a
    /// new qualifying event. Callers hold the customer's lock (their account row).
    async fn save_tier(
        &mut self,
        customer_id: &str,
        event: Option<&TierEvent>,
        record: &TierRecord,
    ) -> StoreResult<()>;
    /// Customers whose tier record is due (`reevaluate_at <= now`), earliest first, at
    /// most `limit`; each locked as a receipt write locks it (PostgreSQL: the account
    /// row, skipping customers a write holds, whom that write evaluates).
    async fn tiers_due(&mut self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<String>>;
}
