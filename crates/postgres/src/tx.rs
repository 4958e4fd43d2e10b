//! A write transaction as the shared receipt orchestration sees it. Every read that a
//! decision rests on takes a row lock (the customer's account row, the promotion
//! counters, the coupon and certificate rows, the receipt row), so concurrent
//! transactions on the same rows, from any number of server processes, take turns.
//!
//! Each statement is a round trip, so the transaction keeps them few:
//! - a commit's first statement checks for the receipt and a remembered refusal and
//!   locks the customer's account row (the customer is known from the command); the
//!   second reads the ledger, with a snapshot taken after the lock;
//! - the writes that follow the decisions are gathered and sent as one statement
//!   ([`crate::batch`]) with the receipt's record and response. Only writes of new
//!   rows and of rows this transaction has locked already are gathered, so the locks
//!   are still taken in the order the reads took them; a write of a row not locked yet
//!   (a release by a return) is sent at once, in key order, as before.

use crate::batch::Batch;
use crate::tiers::{self, TierWrite};
use crate::{rows, vouchers};
use async_trait::async_trait;
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::customer::{Customer, CustomerFacts};
use tessera_core::ledger::{CustomerLedger, LedgerChanges};
use tessera_core::limits::{Usage, UsageDelta};
use tessera_core::money::Money;
use tessera_core::receipt::CustomerRef;
use tessera_core::refund::ReceiptRecord;
use tessera_core::reward::Certificate;
use tessera_core::tier::{TierEvent, TierHistory, TierRecord};
use tessera_core::ErrorCode;
use tessera_store::{
    LedgerTx, NewRewards, PriorCommit, ReceiptVersion, StoreError, StoreResult, StoredReceipt,
};

pub struct PgTx<'c> {
    pub(crate) conn: &'c mut PgConnection,
    /// The customer a commit names, locked with the first statement.
    customer: Option<CustomerRef>,
    /// The account row locked for `customer`, once the first statement ran, with the
    /// account's version.
    locked_customer: Option<(CustomerRef, Option<String>, Option<i64>)>,
    /// The ledger and facts the commit's calculate read for `customer`, if it kept
    /// them: used instead of a second read when the locked version is theirs.
    quoted: Option<(CustomerLedger, CustomerFacts)>,
    /// Rows this transaction has locked: their writes can wait for the last statement.
    locked_coupons: HashSet<String>,
    locked_certificates: HashSet<String>,
    locked_usage: HashSet<(String, String)>,
    /// The account row [`LedgerTx::ledger_owner`] locked, with the balances it read:
    /// the next `load_ledger` of that owner reads only the lots.
    owner_lock: Option<OwnerLock>,
    /// Writes not sent yet.
    pending: Pending,
}

/// An account row locked by `ledger_owner`.
struct OwnerLock {
    /// The customer asked about (a receipt's customer, perhaps merged since).
    asked: String,
    owner: String,
    pending: i64,
    available: i64,
}

/// The writes gathered for the last statement.
#[derive(Default)]
struct Pending {
    ledgers: Vec<LedgerChanges>,
    usage: Vec<UsageDelta>,
    coupons_used: Option<(Vec<String>, String)>,
    certificates: Vec<(String, Money)>,
    rewards: Vec<NewRewards>,
    tiers: Vec<TierWrite>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.ledgers.is_empty()
            && self.usage.is_empty()
            && self.coupons_used.is_none()
            && self.certificates.is_empty()
            && self.rewards.is_empty()
            && self.tiers.is_empty()
    }

    /// Whether a gathered write touches coupon, certificate or grant rows.
    fn has_vouchers(&self) -> bool {
        self.coupons_used.is_some() || !self.certificates.is_empty() || !self.rewards.is_empty()
    }
}

impl<'c> PgTx<'c> {
    pub fn new(conn: &'c mut PgConnection) -> Self {
        PgTx {
            conn,
            customer: None,
            locked_customer: None,
            quoted: None,
            locked_coupons: HashSet::new(),
            locked_certificates: HashSet::new(),
            locked_usage: HashSet::new(),
            owner_lock: None,
            pending: Pending::default(),
        }
    }

    /// A commit's transaction: `customer` is the receipt's customer, whose account row
    /// the first statement locks; `quoted`, what the calculate read of them.
    pub fn commit(
        conn: &'c mut PgConnection,
        customer: Option<CustomerRef>,
        quoted: Option<(CustomerLedger, CustomerFacts)>,
    ) -> Self {
        PgTx {
            customer,
            quoted,
            ..PgTx::new(conn)
        }
    }

    /// Sends the gathered writes, with the receipt's `record` and `version` if given,
    /// as one statement.
    pub(crate) async fn flush(
        &mut self,
        receipt: Option<(&ReceiptRecord, &ReceiptVersion, bool)>,
    ) -> StoreResult<()> {
        if self.pending.is_empty() && receipt.is_none() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let mut batch = Batch {
            ledgers: pending.ledgers.iter().collect(),
            usage: pending.usage.iter().collect(),
            coupons_used: pending.coupons_used.as_ref().map(|(codes, receipt_id)| {
                (
                    codes.iter().map(String::as_str).collect(),
                    receipt_id.as_str(),
                )
            }),
            certificates: pending
                .certificates
                .iter()
                .map(|(code, delta)| (code.as_str(), *delta))
                .collect(),
            rewards: None,
            receipt,
            tiers: pending.tiers.iter().collect(),
        };
        // Rewards are gathered once per commit; more are sent each on its own.
        let mut rewards = pending.rewards.iter();
        batch.rewards = rewards.next();
        batch.write(self.conn).await?;
        for more in rewards {
            vouchers::insert_rewards(self.conn, more).await?;
        }
        Ok(())
    }

    /// Sends what is still gathered: called before the transaction commits, so that
    /// nothing is lost whatever the last call of the orchestration was.
    pub async fn finish<T>(mut self, outcome: StoreResult<T>) -> StoreResult<T> {
        let keeps = match &outcome {
            Ok(_) => true,
            Err(error) => error.keeps_its_write(),
        };
        if keeps {
            self.flush(None).await?;
        }
        outcome
    }
}

#[async_trait]
impl LedgerTx for PgTx<'_> {
    async fn receipt(&mut self, receipt_id: &str) -> StoreResult<Option<StoredReceipt>> {
        self.flush(None).await?;
        rows::receipt(self.conn, receipt_id, true).await
    }

    async fn prior_commit(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
    ) -> StoreResult<PriorCommit> {
        self.flush(None).await?;
        let prior =
            rows::prior_commit(self.conn, receipt_id, request_hash, self.customer.as_ref()).await?;
        if prior.committed {
            // Its row is locked: read it whole.
            return match rows::receipt(self.conn, receipt_id, false).await? {
                Some(stored) => Ok(PriorCommit::Committed(Box::new(stored))),
                None => Err(StoreError::backend(format!(
                    "receipt {receipt_id} was locked but cannot be read"
                ))),
            };
        }
        if let (Some(reference), Some(locked)) = (&self.customer, prior.customer) {
            self.locked_customer = Some((reference.clone(), locked, prior.version));
        }
        Ok(match prior.refusal {
            Some(stored) => PriorCommit::Refused(rows::parse_refusal(&stored)?),
            None => PriorCommit::Nothing,
        })
    }

    async fn refusal(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
    ) -> StoreResult<Option<tessera_core::CoreError>> {
        self.flush(None).await?;
        rows::refusal(self.conn, receipt_id, request_hash).await
    }

    async fn record_refusal(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
        error: &tessera_core::CoreError,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        self.flush(None).await?;
        rows::record_refusal(self.conn, receipt_id, request_hash, error, at).await
    }

    async fn operation(&mut self, op_id: &str) -> StoreResult<Option<(String, String, Vec<u8>)>> {
        self.flush(None).await?;
        rows::operation(self.conn, op_id).await
    }

    /// Locks the customer's account row (unless the first statement did), then reads
    /// the ledger with a second statement: its snapshot is taken after the lock, so it
    /// sees every write of the transactions that held the lock before.
    ///
    /// When the first statement locked the account at the version the calculate read
    /// (`quoted`), the calculate's ledger and facts are used instead: every write of
    /// the customer's balances or lots, and every receipt committed for them, advances
    /// the version, so the same version means the second read would find the same
    /// ledger and the same first-purchase fact. The rest of the facts (segments, card
    /// types, tier grant) are as of the calculate rather than a few milliseconds later;
    /// no lock covers them in either case.
    async fn find_ledger(
        &mut self,
        reference: &CustomerRef,
    ) -> StoreResult<Option<(CustomerLedger, CustomerFacts)>> {
        self.flush(None).await?;
        let quoted = self.quoted.take();
        let locked = match &self.locked_customer {
            Some((locked_ref, locked, version)) if locked_ref == reference => {
                if let (Some(id), Some(version), Some((ledger, facts))) = (locked, version, quoted)
                {
                    if ledger.customer_id == *id && ledger.version == Some(*version) {
                        return Ok(Some((ledger, facts)));
                    }
                }
                locked.clone()
            }
            _ => rows::lock_customer(self.conn, reference).await?,
        };
        let found = rows::find_ledger(self.conn, reference).await?;
        if let Some((ledger, _)) = &found {
            if locked.as_deref() != Some(ledger.customer_id.as_str()) {
                // A concurrent commit registered this card after the lock found no
                // one: the rerun locks its customer.
                return Err(StoreError::Contention(format!(
                    "customer {} appeared after the lock",
                    ledger.customer_id
                )));
            }
        }
        Ok(found)
    }

    /// A commit registers a new member only after finding no customer with the card, so
    /// a taken card here means a concurrent commit registered it first: contention, and
    /// the rerun finds that customer.
    async fn insert_customer(&mut self, customer: &Customer) -> StoreResult<()> {
        self.flush(None).await?;
        match rows::insert_customer_at_once(self.conn, customer).await {
            Err(StoreError::Domain(error)) if error.code == ErrorCode::CardTaken => {
                Err(StoreError::Contention(error.message))
            }
            other => other,
        }
    }

    /// Resolves the holder of the points and locks their account row in one
    /// statement, reading the balances too, so that the `load_ledger` that follows
    /// costs one statement, as before merges existed.
    async fn ledger_owner(&mut self, customer_id: &str) -> StoreResult<String> {
        self.flush(None).await?;
        self.owner_lock = None;
        let Some((owner, pending, available)) = rows::lock_owner(self.conn, customer_id).await?
        else {
            return Ok(customer_id.to_string());
        };
        self.owner_lock = Some(OwnerLock {
            asked: customer_id.to_string(),
            owner: owner.clone(),
            pending,
            available,
        });
        Ok(owner)
    }

    async fn load_ledger(
        &mut self,
        customer_id: &str,
        extra_lots: &[String],
    ) -> StoreResult<CustomerLedger> {
        self.flush(None).await?;
        let Some(lock) = self
            .owner_lock
            .take()
            .filter(|lock| lock.owner == customer_id)
        else {
            return rows::load_ledger(self.conn, customer_id, extra_lots, true).await;
        };
        let (owner_now, lots) =
            rows::owner_lots(self.conn, &lock.asked, &lock.owner, extra_lots).await?;
        if owner_now.as_deref() != Some(lock.owner.as_str()) {
            // A merge committed while the lock waited: the rerun locks the new holder.
            return Err(StoreError::Contention(format!(
                "customer {} was merged while its account was locked",
                lock.asked
            )));
        }
        Ok(CustomerLedger::new(
            lock.owner,
            lock.pending,
            lock.available,
            lots,
        ))
    }

    /// Gathered: the customer's rows are locked (their account row) or new.
    async fn save_ledger(&mut self, changes: &LedgerChanges) -> StoreResult<()> {
        // Balances read by `ledger_owner` are stale once a change is saved.
        self.owner_lock = None;
        if self
            .pending
            .ledgers
            .iter()
            .any(|c| c.customer_id == changes.customer_id)
        {
            // One statement changes a row once: send the earlier changes first.
            self.flush(None).await?;
        }
        self.pending.ledgers.push(changes.clone());
        Ok(())
    }

    async fn promotion_usage(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Usage>> {
        self.flush(None).await?;
        let usage = rows::lock_usage(self.conn, keys).await?;
        self.locked_usage.extend(usage.keys().cloned());
        Ok(usage)
    }

    async fn add_usage(&mut self, deltas: &[UsageDelta], sign: i64) -> StoreResult<()> {
        if deltas.is_empty() {
            return Ok(());
        }
        let locked = deltas.iter().all(|d| {
            self.locked_usage
                .contains(&(d.promotion_id.clone(), d.key.clone()))
        });
        if sign > 0 && locked && self.pending.usage.is_empty() {
            self.pending.usage = deltas.to_vec();
            return Ok(());
        }
        if !self.pending.usage.is_empty() {
            self.flush(None).await?;
        }
        rows::add_usage(self.conn, deltas, sign).await
    }

    async fn coupons(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
        self.flush(None).await?;
        let found = vouchers::coupons(self.conn, codes, true).await?;
        self.locked_coupons.extend(found.keys().cloned());
        Ok(found)
    }

    async fn set_coupon_use(
        &mut self,
        codes: &[String],
        receipt_id: Option<&str>,
    ) -> StoreResult<()> {
        if codes.is_empty() {
            return Ok(());
        }
        if let Some(receipt_id) = receipt_id {
            let locked = codes.iter().all(|c| self.locked_coupons.contains(c));
            if locked && !self.pending.has_vouchers() {
                self.pending.coupons_used = Some((codes.to_vec(), receipt_id.to_string()));
                return Ok(());
            }
        }
        if self.pending.has_vouchers() {
            self.flush(None).await?;
        }
        vouchers::set_coupon_use(self.conn, codes, receipt_id).await
    }

    async fn certificates(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, Certificate>> {
        self.flush(None).await?;
        let found = vouchers::certificates(self.conn, codes, true).await?;
        self.locked_certificates.extend(found.keys().cloned());
        Ok(found)
    }

    async fn move_certificates(&mut self, moves: &[(String, Money)]) -> StoreResult<()> {
        if moves.is_empty() {
            return Ok(());
        }
        let locked = moves
            .iter()
            .all(|(code, _)| self.locked_certificates.contains(code));
        if locked && self.pending.certificates.is_empty() {
            self.pending.certificates = moves.to_vec();
            return Ok(());
        }
        if self.pending.has_vouchers() {
            self.flush(None).await?;
        }
        vouchers::move_certificates(self.conn, moves).await
    }

    /// Gathered: new rows.
    async fn insert_rewards(&mut self, rewards: &NewRewards) -> StoreResult<()> {
        if !rewards.is_empty() {
            self.pending.rewards.push(rewards.clone());
        }
        Ok(())
    }

    async fn revoke_rewards(&mut self, receipt_id: &str) -> StoreResult<()> {
        if self.pending.has_vouchers() {
            self.flush(None).await?;
        }
        vouchers::revoke_rewards(self.conn, receipt_id).await
    }

    /// Sent with everything gathered, as one statement.
    async fn insert_receipt(
        &mut self,
        record: &ReceiptRecord,
        version: &ReceiptVersion,
    ) -> StoreResult<()> {
        self.flush(Some((record, version, true))).await
    }

    /// Sent with everything gathered, as one statement.
    async fn update_receipt(
        &mut self,
        record: &ReceiptRecord,
        version: &ReceiptVersion,
    ) -> StoreResult<()> {
        self.flush(Some((record, version, false))).await
    }

    /// Sends nothing first unless a write of this customer's record is gathered: the
    /// history depends on no other row.
    async fn tier_history(
        &mut self,
        customer_id: &str,
        window_days: u32,
    ) -> StoreResult<TierHistory> {
        if self
            .pending
            .tiers
            .iter()
            .any(|w| w.customer_id == customer_id)
        {
            self.flush(None).await?;
        }
        tiers::history(self.conn, customer_id, window_days).await
    }

    /// Gathered: callers hold the customer's account row.
    async fn save_tier(
        &mut self,
        customer_id: &str,
        event: Option<&TierEvent>,
        record: &TierRecord,
    ) -> StoreResult<()> {
        if self
            .pending
            .tiers
            .iter()
            .any(|w| w.customer_id == customer_id)
        {
            // One statement changes a row once: send the earlier write first.
            self.flush(None).await?;
        }
        self.pending.tiers.push(TierWrite {
            customer_id: customer_id.to_string(),
            event: event.copied(),
            record: record.clone(),
        });
        Ok(())
    }

    async fn tiers_due(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        self.flush(None).await?;
        tiers::lock_due(self.conn, now, limit).await
    }
}
