//! The single writer: one connection that takes every write, groups the writes
//! waiting in its queue into one transaction (group commit) and answers each only
//! after that transaction is durable. Each write runs under its own savepoint, so a
//! refused write leaves the others of its group untouched.

use crate::rows::{self, db};
use crate::time::ts;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};
use tessera_core::catalog::{Product, Store as ChainStore};
use tessera_core::customer::Customer;
use tessera_core::ledger::{CustomerLedger, LedgerChanges};
use tessera_core::program::Program;
use tessera_core::promotion::Promotion;
use tessera_core::receipt::CustomerRef;
use tessera_core::refund::ReceiptRecord;
use tessera_store::{
    service, CancelCommand, CommitCommand, LedgerTx, ReceiptVersion, ReturnCommand, StoreError,
    StoreResult, StoredReceipt,
};
use tokio::sync::{mpsc, oneshot};

/// The most writes grouped into one transaction.
const MAX_GROUP: usize = 256;

/// A write waiting for the writer.
pub enum Job {
    Commit(Box<CommitCommand>, oneshot::Sender<StoreResult<Vec<u8>>>),
    Return(Box<ReturnCommand>, oneshot::Sender<StoreResult<Vec<u8>>>),
    Cancel(Box<CancelCommand>, oneshot::Sender<StoreResult<Vec<u8>>>),
    Config(ConfigWrite, oneshot::Sender<StoreResult<bool>>),
    Customers(Vec<Customer>, oneshot::Sender<StoreResult<bool>>),
    CatchUp(DateTime<Utc>, u32, oneshot::Sender<StoreResult<u32>>),
}

/// A configuration change.
pub enum ConfigWrite {
    Program(Program),
    Store(ChainStore),
    Products(Vec<Product>),
    Promotion(Promotion, DateTime<Utc>),
    DeletePromotion(String, DateTime<Utc>),
}

enum Outcome {
    Bytes(oneshot::Sender<StoreResult<Vec<u8>>>, StoreResult<Vec<u8>>),
    Flag(oneshot::Sender<StoreResult<bool>>, StoreResult<bool>),
    Count(oneshot::Sender<StoreResult<u32>>, StoreResult<u32>),
}

impl Outcome {
    fn is_ok(&self) -> bool {
        match self {
            Outcome::Bytes(_, r) => r.is_ok(),
            Outcome::Flag(_, r) => r.is_ok(),
            Outcome::Count(_, r) => r.is_ok(),
        }
    }

    /// Replaces a success with the failure of the whole group's commit.
    fn fail(self, message: &str) -> Outcome {
        match self {
            Outcome::Bytes(tx, Ok(_)) => Outcome::Bytes(tx, Err(StoreError::backend(message))),
            Outcome::Flag(tx, Ok(_)) => Outcome::Flag(tx, Err(StoreError::backend(message))),
            Outcome::Count(tx, Ok(_)) => Outcome::Count(tx, Err(StoreError::backend(message))),
            other => other,
        }
    }

    fn send(self) {
        // A caller that went away (client disconnected) no longer needs the answer;
        // the write itself is durable either way.
        match self {
            Outcome::Bytes(tx, r) => drop(tx.send(r)),
            Outcome::Flag(tx, r) => drop(tx.send(r)),
            Outcome::Count(tx, r) => drop(tx.send(r)),
        }
    }
}

/// Runs until every sender is dropped and the queue is drained.
pub async fn run(mut conn: SqliteConnection, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        run_group(&mut conn, group).await;
    }
    if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
    {
        tracing::warn!(%error, "checkpoint at shutdown failed");
    }
}

async fn run_group(conn: &mut SqliteConnection, group: Vec<Job>) {
    if let Err(error) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        let message = format!("could not begin a transaction: {error}");
        for job in group {
            job_failed(job, &message).send();
        }
        return;
    }
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        let savepoint = sqlx::query("SAVEPOINT job").execute(&mut *conn).await;
        if let Err(error) = savepoint {
            outcomes.push(job_failed(job, &error.to_string()));
            continue;
        }
        let outcome = run_job(conn, job).await;
        let mut end = Ok(());
        if !outcome.is_ok() {
            end = sqlx::query("ROLLBACK TO job")
                .execute(&mut *conn)
                .await
                .map(drop);
        }
        if end.is_ok() {
            end = sqlx::query("RELEASE job")
                .execute(&mut *conn)
                .await
                .map(drop);
        }
        if let Err(error) = end {
            outcomes.push(outcome.fail(&error.to_string()));
            continue;
        }
        outcomes.push(outcome);
    }
    match sqlx::query("COMMIT").execute(&mut *conn).await {
        Ok(_) => outcomes.into_iter().for_each(Outcome::send),
        Err(error) => {
            tracing::error!(%error, "group commit failed; its writes are rolled back");
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            let message = format!("the transaction failed to commit: {error}");
            outcomes.into_iter().for_each(|o| o.fail(&message).send());
        }
    }
}

fn job_failed(job: Job, message: &str) -> Outcome {
    let error = StoreError::backend(message);
    match job {
        Job::Commit(_, tx) | Job::Return(_, tx) | Job::Cancel(_, tx) => {
            Outcome::Bytes(tx, Err(error))
        }
        Job::Config(_, tx) | Job::Customers(_, tx) => Outcome::Flag(tx, Err(error)),
        Job::CatchUp(_, _, tx) => Outcome::Count(tx, Err(error)),
    }
}

async fn run_job(conn: &mut SqliteConnection, job: Job) -> Outcome {
    let mut tx = SqliteTx { conn };
    match job {
        Job::Commit(command, reply) => {
            Outcome::Bytes(reply, service::commit(&mut tx, &command).await)
        }
        Job::Return(command, reply) => {
            Outcome::Bytes(reply, service::return_receipt(&mut tx, &command).await)
        }
        Job::Cancel(command, reply) => {
            Outcome::Bytes(reply, service::cancel_receipt(&mut tx, &command).await)
        }
        Job::Config(write, reply) => Outcome::Flag(reply, write_config(tx.conn, write).await),
        Job::Customers(customers, reply) => {
            let mut result = Ok(true);
            for customer in &customers {
                if let Err(error) = rows::insert_customer(tx.conn, customer).await {
                    result = Err(error);
                    break;
                }
            }
            Outcome::Flag(reply, result)
        }
        Job::CatchUp(now, limit, reply) => {
            Outcome::Count(reply, catch_up_due(&mut tx, now, limit).await)
        }
    }
}

async fn catch_up_due(tx: &mut SqliteTx<'_>, now: DateTime<Utc>, limit: u32) -> StoreResult<u32> {
    let now_text = ts(now);
    let customers: Vec<String> = sqlx::query(
        "SELECT DISTINCT customer_id FROM (
             SELECT customer_id FROM lots WHERE state = 'pending' AND matures_at <= ?1
             UNION
             SELECT customer_id FROM lots WHERE state = 'available' AND remaining > 0 AND expires_at <= ?1
         ) LIMIT ?2",
    )
    .bind(&now_text)
    .bind(limit as i64)
    .fetch_all(&mut *tx.conn)
    .await
    .map_err(db)?
    .iter()
    .map(|r| r.get(0))
    .collect();
    for customer_id in &customers {
        service::catch_up_customer(tx, customer_id, now).await?;
    }
    Ok(customers.len() as u32)
}

async fn write_config(conn: &mut SqliteConnection, write: ConfigWrite) -> StoreResult<bool> {
    match write {
        ConfigWrite::Program(program) => {
            sqlx::query(
                "INSERT INTO program (id, body, updated_at) VALUES (1, ?, datetime('now'))
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
            )
            .bind(to_json(&program)?)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        }
        ConfigWrite::Store(store) => {
            sqlx::query("INSERT INTO stores (store_id, body) VALUES (?, ?) ON CONFLICT (store_id) DO UPDATE SET body = excluded.body")
                .bind(&store.store_id)
                .bind(to_json(&store)?)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
        }
        ConfigWrite::Products(products) => {
            for product in &products {
                sqlx::query("INSERT INTO products (sku, body) VALUES (?, ?) ON CONFLICT (sku) DO UPDATE SET body = excluded.body")
                    .bind(&product.sku)
                    .bind(to_json(product)?)
                    .execute(&mut *conn)
                    .await
                    .map_err(db)?;
            }
        }
        ConfigWrite::Promotion(promotion, now) => {
            sqlx::query(
                "INSERT INTO promotions (promotion_id, body, updated_at, deleted_at) VALUES (?, ?, ?, NULL)
                 ON CONFLICT (promotion_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at, deleted_at = NULL",
            )
            .bind(&promotion.promotion_id)
            .bind(to_json(&promotion)?)
            .bind(ts(now))
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        }
        ConfigWrite::DeletePromotion(promotion_id, now) => {
            let row = sqlx::query("SELECT body FROM promotions WHERE promotion_id = ?")
                .bind(&promotion_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db)?;
            let Some(row) = row else {
                return Ok(false);
            };
            let mut promotion: Promotion =
                serde_json::from_str(&row.get::<String, _>(0)).map_err(StoreError::backend)?;
            promotion.enabled = false;
            sqlx::query("UPDATE promotions SET body = ?, updated_at = ?, deleted_at = COALESCE(deleted_at, ?) WHERE promotion_id = ?")
                .bind(to_json(&promotion)?)
                .bind(ts(now))
                .bind(ts(now))
                .bind(&promotion_id)
                .execute(&mut *conn)
                .await
                .map_err(db)?;
        }
    }
    Ok(true)
}

/// Serialises a stored configuration document.
fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

/// The writer's transaction, as the shared orchestration sees it.
pub struct SqliteTx<'c> {
    pub conn: &'c mut SqliteConnection,
}

#[async_trait]
impl LedgerTx for SqliteTx<'_> {
    async fn receipt(&mut self, receipt_id: &str) -> StoreResult<Option<StoredReceipt>> {
        rows::receipt(self.conn, receipt_id).await
    }

    async fn operation(&mut self, op_id: &str) -> StoreResult<Option<(String, String, Vec<u8>)>> {
        rows::operation(self.conn, op_id).await
    }

    async fn resolve_customer(&mut self, reference: &CustomerRef) -> StoreResult<Option<String>> {
        rows::resolve_customer(self.conn, reference).await
    }

    async fn insert_customer(&mut self, customer: &Customer) -> StoreResult<()> {
        rows::insert_customer(self.conn, customer).await
    }

    async fn load_ledger(
        &mut self,
        customer_id: &str,
        extra_lots: &[String],
    ) -> StoreResult<CustomerLedger> {
        rows::load_ledger(self.conn, customer_id, extra_lots).await
    }

    async fn save_ledger(&mut self, changes: &LedgerChanges) -> StoreResult<()> {
        rows::save_ledger(self.conn, changes).await
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
