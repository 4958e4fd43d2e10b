//! A write transaction as the shared receipt orchestration sees it. Every read that a
//! decision rests on takes a row lock (the customer's account row, the promotion
//! counters, the coupon and certificate rows, the receipt row), so concurrent
//! transactions on the same rows, from any number of server processes, take turns.

use crate::{rows, vouchers};
use async_trait::async_trait;
use sqlx::PgConnection;
use std::collections::HashMap;
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::customer::{Customer, CustomerFacts};
use tessera_core::ledger::{CustomerLedger, LedgerChanges};
use tessera_core::limits::{Usage, UsageDelta};
use tessera_core::money::Money;
use tessera_core::receipt::CustomerRef;
use tessera_core::refund::ReceiptRecord;
use tessera_core::reward::Certificate;
use tessera_core::ErrorCode;
use tessera_store::{LedgerTx, NewRewards, ReceiptVersion, StoreError, StoreResult, StoredReceipt};

pub struct PgTx<'c> {
    pub conn: &'c mut PgConnection,
}

#[async_trait]
impl LedgerTx for PgTx<'_> {
    async fn receipt(&mut self, receipt_id: &str) -> StoreResult<Option<StoredReceipt>> {
        rows::receipt(self.conn, receipt_id, true).await
    }

    async fn refusal(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
    ) -> StoreResult<Option<tessera_core::CoreError>> {
        rows::refusal(self.conn, receipt_id, request_hash).await
    }

    async fn record_refusal(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
        error: &tessera_core::CoreError,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        rows::record_refusal(self.conn, receipt_id, request_hash, error, at).await
    }

    async fn operation(&mut self, op_id: &str) -> StoreResult<Option<(String, String, Vec<u8>)>> {
        rows::operation(self.conn, op_id).await
    }

    async fn find_ledger(
        &mut self,
        reference: &CustomerRef,
    ) -> StoreResult<Option<(CustomerLedger, CustomerFacts)>> {
        rows::lock_customer(self.conn, reference).await?;
        rows::find_ledger(self.conn, reference).await
    }

    /// A commit registers a new member only after finding no customer with the card, so
    /// a taken card here means a concurrent commit registered it first: contention, and
    /// the rerun finds that customer.
    async fn insert_customer(&mut self, customer: &Customer) -> StoreResult<()> {
        match rows::insert_customer(self.conn, customer).await {
            Err(StoreError::Domain(error)) if error.code == ErrorCode::CardTaken => {
                Err(StoreError::Contention(error.message))
            }
            other => other,
        }
    }

    async fn load_ledger(
        &mut self,
        customer_id: &str,
        extra_lots: &[String],
    ) -> StoreResult<CustomerLedger> {
        rows::load_ledger(self.conn, customer_id, extra_lots, true).await
    }

    async fn save_ledger(&mut self, changes: &LedgerChanges) -> StoreResult<()> {
        rows::save_ledger(self.conn, changes).await
    }

    async fn promotion_usage(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Usage>> {
        rows::lock_usage(self.conn, keys).await?;
        rows::promotion_usage(self.conn, keys).await
    }

    async fn add_usage(&mut self, deltas: &[UsageDelta], sign: i64) -> StoreResult<()> {
        rows::add_usage(self.conn, deltas, sign).await
    }

    async fn coupons(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
        vouchers::coupons(self.conn, codes, true).await
    }

    async fn set_coupon_use(
        &mut self,
        codes: &[String],
        receipt_id: Option<&str>,
    ) -> StoreResult<()> {
        vouchers::set_coupon_use(self.conn, codes, receipt_id).await
    }

    async fn certificates(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, Certificate>> {
        vouchers::certificates(self.conn, codes, true).await
    }

    async fn move_certificates(&mut self, moves: &[(String, Money)]) -> StoreResult<()> {
        vouchers::move_certificates(self.conn, moves).await
    }

    async fn insert_rewards(&mut self, rewards: &NewRewards) -> StoreResult<()> {
        vouchers::insert_rewards(self.conn, rewards).await
    }

    async fn revoke_rewards(&mut self, receipt_id: &str) -> StoreResult<()> {
        vouchers::revoke_rewards(self.conn, receipt_id).await
    }

    async fn insert_receipt(
        &mut self,
        record: &ReceiptRecord,
        version: &ReceiptVersion,
    ) -> StoreResult<()> {
        rows::write_receipt(self.conn, record, version, true).await
    }

    async fn update_receipt(
        &mut self,
        record: &ReceiptRecord,
        version: &ReceiptVersion,
    ) -> StoreResult<()> {
        rows::write_receipt(self.conn, record, version, false).await
    }
}
