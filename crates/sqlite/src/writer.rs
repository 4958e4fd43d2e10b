//! The single writer: one connection that takes every write, groups the writes
//! waiting in its queue into one transaction (group commit) and answers each only
//! after that transaction is durable: synced by [`crate::syncer`] while the writer goes
//! on with the next group. Each write runs under its own savepoint, so a
//! refused write leaves the others of its group untouched.

use crate::sql::{db, exec, one, RowExt};
use crate::syncer::Syncer;
use crate::time::ts;
use crate::vouchers;
use crate::wal_restart::WalRestart;
use crate::writer_load::WriterLoad;
use crate::{access, accounts, packed, profiles, record_json, rows, tiers};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tessera_core::access::ApiKey;
use tessera_core::audit::{AuditContent, AuditEntry};
use tessera_core::catalog::{Product, Store as ChainStore};
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::customer::{Customer, CustomerFacts};
use tessera_core::ledger::{CustomerLedger, LedgerChanges};
use tessera_core::money::Money;
use tessera_core::otp::ThrottleState;
use tessera_core::program::Program;
use tessera_core::promotion::Promotion;
use tessera_core::receipt::CustomerRef;
use tessera_core::refund::ReceiptRecord;
use tessera_core::reward::Certificate;
use tessera_core::tier::{TierEvent, TierHistory, TierProgram, TierRecord};
use tessera_store::account::{CodeAnswer, CodeChange, Session, StaffUser};
use tessera_store::crm_command::{CrmCommand, CrmOutcome};
use tessera_store::quote::Quote;
use tessera_store::{
    service, CancelCommand, CommitCommand, LedgerTx, NewRewards, ReceiptVersion, ReturnCommand,
    StoreError, StoreResult, StoredReceipt,
};
use tokio::sync::{mpsc, oneshot};

/// The most writes grouped into one transaction.
const MAX_GROUP: usize = 256;
/// A group of fewer writes than this waits once, at most [`GATHER`], for one more
/// before it runs. At a steady 2,000 receipts a second (one every 500 µs) groups held
/// about two writes, and each group costs a transaction, its shared pages in the WAL,
/// a sync and the wake-ups between threads: waiting cut the writer's CPU a receipt by
/// 13–20% and the sync thread's by 22% (docs/performance.md). A lone write waits
/// 250 µs longer; a busy writer, whose groups are larger, never waits.
const GATHER_BELOW: usize = 3;
const GATHER: std::time::Duration = std::time::Duration::from_micros(250);

/// A write waiting for the writer.
pub enum Job {
    Commit(
        Box<CommitCommand>,
        Prepared,
        oneshot::Sender<StoreResult<Vec<u8>>>,
    ),
    Return(Box<ReturnCommand>, oneshot::Sender<StoreResult<Vec<u8>>>),
    Cancel(Box<CancelCommand>, oneshot::Sender<StoreResult<Vec<u8>>>),
    Config(ConfigWrite, oneshot::Sender<StoreResult<bool>>),
    Customers(Vec<Customer>, oneshot::Sender<StoreResult<bool>>),
    CatchUp(DateTime<Utc>, u32, oneshot::Sender<StoreResult<u32>>),
    /// The daily tier re-evaluation of up to this many due customers.
    Tiers(
        Box<TierProgram>,
        DateTime<Utc>,
        u32,
        oneshot::Sender<StoreResult<u32>>,
    ),
    /// A CRM write, decided by `tessera_store::crm::apply`.
    Crm(Box<CrmCommand>, oneshot::Sender<StoreResult<CrmOutcome>>),
    /// An API key change or an audit entry.
    Access(AccessWrite, oneshot::Sender<StoreResult<AccessOutcome>>),
    /// A configuration, CRM or access write with the audit entry of the request that
    /// makes it, appended in the same transaction when the write succeeds.
    Audited(Box<Job>, AuditContent),
    /// Switches between durable (every write answered only once it is on disk) and
    /// `synchronous=OFF` (bulk loading a database that is rebuilt from scratch if it
    /// fails).
    Durable(bool, oneshot::Sender<StoreResult<bool>>),
}

/// A commit's documents in part, prepared from its quote before the write is queued
/// (on the request's thread): used when the commit reuses the quote's calculation.
#[derive(Default)]
pub struct Prepared {
    /// The answer's pieces (`Quote::pieces`), each as a packed block.
    pub answer: Vec<Vec<u8>>,
    /// The record's calculation lead ([`record_json::piece`]) and its packed block.
    pub record: Option<(Vec<u8>, Vec<u8>)>,
    /// The ledger and facts the calculate read of the commit's customer, with the
    /// account's version: used instead of reading them again when the version is
    /// still that one ([`rows::is_current`]).
    pub ledger: Option<(CustomerLedger, CustomerFacts)>,
}

impl Prepared {
    /// What can be made ahead of a commit from its quote, and the quote's ledger when
    /// it was read for the commit's `customer`. A record lead that cannot be rendered
    /// is left to the writer (which then reports the failure).
    pub fn of(quote: &Quote, customer: &Option<CustomerRef>) -> Prepared {
        let record = record_json::piece(&quote.calculation).ok().map(|record| {
            let block = packed::block(&record);
            (record, block)
        });
        Prepared {
            answer: quote.pieces.iter().map(|p| packed::block(p)).collect(),
            record,
            ledger: quote.ledger_for(customer),
        }
    }
}

/// A configuration change.
pub enum ConfigWrite {
    Program(Program),
    Store(ChainStore),
    Products(Vec<Product>),
    Promotion(Box<Promotion>, DateTime<Utc>),
    DeletePromotion(String, DateTime<Utc>),
    CouponSeries(tessera_core::coupon::CouponSeries),
    Coupons(Vec<tessera_core::coupon::Coupon>),
    Segment(tessera_core::segment::Segment),
    /// Answers `false` when the segment does not exist.
    SegmentMembers(String, tessera_core::segment::MembershipChange),
}

/// A write to the API keys or the audit log.
pub enum AccessWrite {
    PutKey(ApiKey),
    RevokeKey(String, DateTime<Utc>),
    Audit(AuditContent),
    Code(String, CodeChange),
    ForgetCustomer(String, DateTime<Utc>),
    PutSession(Session),
    RevokeSession(String, DateTime<Utc>),
    PutStaff(StaffUser),
    EndStaffSessions(String, DateTime<Utc>),
    StaffLogin(String, bool, DateTime<Utc>),
}

/// What an access write answers.
pub enum AccessOutcome {
    Done,
    Key(Option<ApiKey>),
    Entry(AuditEntry),
    Code(CodeAnswer),
    Throttle(Option<ThrottleState>),
}

/// The result of one job, before it is sent to whoever queued it.
enum Answer {
    Bytes(StoreResult<Vec<u8>>),
    Flag(StoreResult<bool>),
    Count(StoreResult<u32>),
    Crm(StoreResult<CrmOutcome>),
    Access(StoreResult<AccessOutcome>),
}

impl Answer {
    fn is_ok(&self) -> bool {
        match self {
            Answer::Bytes(r) => r.is_ok(),
            Answer::Flag(r) => r.is_ok(),
            Answer::Count(r) => r.is_ok(),
            Answer::Crm(r) => r.is_ok(),
            Answer::Access(r) => r.is_ok(),
        }
    }

    /// A database failure, after which the job's partial writes must be undone.
    fn is_backend_error(&self) -> bool {
        let backend =
            |e: &StoreError| matches!(e, StoreError::Backend(_) | StoreError::Contention(_));
        match self {
            Answer::Bytes(Err(e)) => backend(e),
            Answer::Flag(Err(e)) => backend(e),
            Answer::Count(Err(e)) => backend(e),
            Answer::Crm(Err(e)) => backend(e),
            Answer::Access(Err(e)) => backend(e),
            _ => false,
        }
    }

    fn failed(job: &Job, message: &str) -> Answer {
        let error = StoreError::backend(message);
        match job {
            Job::Commit(..) | Job::Return(..) | Job::Cancel(..) => Answer::Bytes(Err(error)),
            Job::Config(..) | Job::Customers(..) | Job::Durable(..) => Answer::Flag(Err(error)),
            Job::CatchUp(..) | Job::Tiers(..) => Answer::Count(Err(error)),
            Job::Crm(..) => Answer::Crm(Err(error)),
            Job::Access(..) => Answer::Access(Err(error)),
            Job::Audited(inner, _) => Answer::failed(inner, message),
        }
    }

    /// Replaces a success with the failure of the whole group's commit.
    fn fail(self, message: &str) -> Answer {
        match self {
            Answer::Bytes(Ok(_)) => Answer::Bytes(Err(StoreError::backend(message))),
            Answer::Flag(Ok(_)) => Answer::Flag(Err(StoreError::backend(message))),
            Answer::Count(Ok(_)) => Answer::Count(Err(StoreError::backend(message))),
            Answer::Crm(Ok(_)) => Answer::Crm(Err(StoreError::backend(message))),
            Answer::Access(Ok(_)) => Answer::Access(Err(StoreError::backend(message))),
            other => other,
        }
    }
}

impl Job {
    /// Whether the job can be refused by a business rule after it has written
    /// something (a batch of customers whose third card is taken, a CRM write meeting a
    /// taken identifier in a unique index). Such jobs run under a savepoint; every
    /// other job decides everything before its first write, so a business refusal
    /// leaves nothing to undo.
    ///
    /// An import batch is one of the others: it checks every value before writing,
    /// reports what it leaves out, and fails only on a database failure (which undoes
    /// the group). Under a savepoint, SQLite would copy the original of every page the
    /// batch changes to a temporary file: a third of an import's writer time.
    fn may_fail_after_writing(&self) -> bool {
        match self {
            Job::Customers(..) => true,
            Job::Crm(..) => !self.is_import(),
            Job::Audited(inner, _) => inner.may_fail_after_writing(),
            _ => false,
        }
    }

    /// A batch of a customer import (run alone: see [`run_import`]).
    fn is_import(&self) -> bool {
        match self {
            Job::Crm(command, _) => matches!(**command, CrmCommand::Import(..)),
            Job::Audited(inner, _) => inner.is_import(),
            _ => false,
        }
    }

    fn reply(self, answer: Answer) {
        // A caller that went away (a client disconnected) no longer needs the answer;
        // the write itself is durable either way.
        match (self, answer) {
            (Job::Commit(_, _, tx) | Job::Return(_, tx) | Job::Cancel(_, tx), Answer::Bytes(r)) => {
                drop(tx.send(r))
            }
            (Job::Config(_, tx) | Job::Customers(_, tx) | Job::Durable(_, tx), Answer::Flag(r)) => {
                drop(tx.send(r))
            }
            (Job::CatchUp(_, _, tx) | Job::Tiers(_, _, _, tx), Answer::Count(r)) => {
                drop(tx.send(r))
            }
            (Job::Crm(_, tx), Answer::Crm(r)) => drop(tx.send(r)),
            (Job::Access(_, tx), Answer::Access(r)) => drop(tx.send(r)),
            (Job::Audited(inner, _), answer) => inner.reply(answer),
            (job, _) => {
                let answer = Answer::failed(&job, "internal: answer of the wrong kind");
                job.reply(answer);
            }
        }
    }
}

/// Where the writer's answers go once their transaction has committed.
pub struct Commits {
    /// Syncs the WAL and then answers (see [`crate::syncer`]).
    syncer: Syncer,
    /// `false` while bulk loading (`synchronous=OFF`): answers go out at once.
    durable: bool,
}

impl Commits {
    pub fn new(syncer: Syncer) -> Commits {
        Commits {
            syncer,
            durable: true,
        }
    }

    /// Counts a commit about to run; readers that may see it wait for its sync.
    fn begin(&self) -> u64 {
        self.syncer.durability().begin_commit()
    }

    /// Answers jobs whose transactions up to commit `epoch` have ended: once that
    /// commit is on disk, or at once while bulk loading.
    fn answer(&self, epoch: u64, answered: Vec<(Job, Answer)>) {
        if !self.durable {
            self.syncer.durability().mark_synced(epoch);
            return answered.into_iter().for_each(|(job, a)| job.reply(a));
        }
        self.syncer.after_sync(
            epoch,
            Box::new(move |synced| {
                for (job, answer) in answered {
                    let answer = match &synced {
                        Ok(()) => answer,
                        Err(message) => answer.fail(message),
                    };
                    job.reply(answer);
                }
            }),
        );
    }

    /// Refuses a group when an earlier sync failed: nothing written since could be
    /// promised to be on disk, so nothing more is written.
    fn refuse_after_failed_sync(&self, group: Vec<Job>) -> Option<Vec<Job>> {
        let Some(failure) = self.syncer.durability().failure() else {
            return Some(group);
        };
        let message = format!("{failure}; writes stop until the server is restarted");
        for job in group {
            let answer = Answer::failed(&job, &message);
            job.reply(answer);
        }
        None
    }
}

/// Runs until every sender is dropped and the queue is drained.
pub async fn run(
    mut conn: Connection,
    mut queue: mpsc::Receiver<Job>,
    mut commits: Commits,
    mut wal: WalRestart,
) {
    let mut load = WriterLoad::default();
    let mut last_end = Instant::now();
    while let Some(first) = queue.recv().await {
        let first = match first {
            Job::Durable(durable, reply) => {
                set_durable(&conn, &mut commits, durable, reply);
                continue;
            }
            job if job.is_import() => {
                run_import(&mut conn, &commits, job).await;
                continue;
            }
            job => job,
        };
        let mut group = vec![first];
        let mut held = None;
        let mut waited = false;
        loop {
            while group.len() < MAX_GROUP {
                match queue.try_recv() {
                    Ok(job) if matches!(job, Job::Durable(..)) || job.is_import() => {
                        held = Some(job);
                        break;
                    }
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            if waited || held.is_some() || group.len() >= GATHER_BELOW {
                break;
            }
            waited = true;
            match tokio::time::timeout(GATHER, queue.recv()).await {
                Ok(Some(job)) if matches!(job, Job::Durable(..)) || job.is_import() => {
                    held = Some(job);
                }
                Ok(Some(job)) => group.push(job),
                Ok(None) | Err(_) => {}
            }
        }
        let (jobs, start) = (group.len(), Instant::now());
        let commit = run_group(&mut conn, &commits, group).await;
        let end = Instant::now();
        if let Some(window) = load.group(jobs, start - last_end, end - start, commit) {
            window.log();
        }
        last_end = end;
        match held {
            Some(Job::Durable(durable, reply)) => set_durable(&conn, &mut commits, durable, reply),
            Some(job) => run_import(&mut conn, &commits, job).await,
            None => {}
        }
        if let Some(took) = wal.maybe_restart(&conn) {
            load.restart(took);
            last_end += took;
        }
    }
    // Every answer is sent before the connection closes.
    commits.syncer.stop();
    if let Err(error) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(%error, "checkpoint at shutdown failed");
    }
}

/// An import batch runs in a transaction of its own without SQLite's foreign-key
/// enforcement, which looked up the customer of every identifier, card and account
/// row: a tenth of an import's time. Its rows cannot point nowhere: a batch writes
/// the customers, and its other rows name only those or customers it found
/// (`tessera check` verifies every identifier, card, account and name key names a
/// stored customer). The setting can change only between transactions.
async fn run_import(conn: &mut Connection, commits: &Commits, job: Job) {
    if let Err(error) = execute(conn, "PRAGMA foreign_keys = OFF") {
        tracing::warn!(%error, "import batch runs with foreign keys enforced");
    }
    run_group(conn, commits, vec![job]).await;
    if let Err(error) = execute(conn, "PRAGMA foreign_keys = ON") {
        tracing::error!(%error, "foreign keys could not be enforced again after an import batch");
    }
}

fn set_durable(
    conn: &Connection,
    commits: &mut Commits,
    durable: bool,
    reply: oneshot::Sender<StoreResult<bool>>,
) {
    let pragma = if durable {
        DURABLE_SYNC
    } else {
        "PRAGMA synchronous = OFF"
    };
    let result = conn.execute_batch(pragma).map(|_| durable).map_err(db);
    if result.is_ok() {
        commits.durable = durable;
    }
    // The caller waits for the answer; if it went away there is no one to tell.
    let _ = reply.send(result);
}

fn execute(conn: &Connection, sql: &str) -> Result<(), String> {
    conn.execute_batch(sql).map_err(|e| e.to_string())
}

/// Runs a group of jobs in one transaction and answers them once it is on disk.
/// Returns the time its `COMMIT` took.
async fn run_group(conn: &mut Connection, commits: &Commits, group: Vec<Job>) -> Duration {
    let Some(group) = commits.refuse_after_failed_sync(group) else {
        return Duration::ZERO;
    };
    if let Err(error) = execute(conn, "BEGIN IMMEDIATE") {
        let message = format!("could not begin a transaction: {error}");
        for job in group {
            let answer = Answer::failed(&job, &message);
            job.reply(answer);
        }
        return Duration::ZERO;
    }
    let mut answers = Vec::with_capacity(group.len());
    for job in &group {
        let answer = if job.may_fail_after_writing() {
            run_in_savepoint(conn, job).await
        } else {
            run_job(conn, job).await
        };
        if answer.is_backend_error() && !job.may_fail_after_writing() {
            // Part of the job may be written: undo the whole group and run its jobs
            // one transaction each, so the failure stays with the job that caused it.
            if let Err(error) = execute(conn, "ROLLBACK") {
                tracing::error!(%error, "rollback after a failed write failed");
            }
            run_singly(conn, commits, group).await;
            return Duration::ZERO;
        }
        answers.push(answer);
    }
    let epoch = commits.begin();
    let committing = Instant::now();
    let committed = execute(conn, "COMMIT");
    let commit = committing.elapsed();
    if let Err(error) = committed {
        tracing::error!(%error, "group commit failed; its writes are rolled back");
        let _ = execute(conn, "ROLLBACK");
        let message = format!("the transaction failed to commit: {error}");
        answers = answers.into_iter().map(|a| a.fail(&message)).collect();
    }
    commits.answer(epoch, group.into_iter().zip(answers).collect());
    commit
}

async fn run_in_savepoint(conn: &mut Connection, job: &Job) -> Answer {
    if let Err(error) = execute(conn, "SAVEPOINT job") {
        return Answer::failed(job, &error);
    }
    let answer = run_job(conn, job).await;
    let mut end = Ok(());
    if !answer.is_ok() {
        end = execute(conn, "ROLLBACK TO job");
    }
    if end.is_ok() {
        end = execute(conn, "RELEASE job");
    }
    match end {
        Ok(()) => answer,
        Err(error) => answer.fail(&error),
    }
}

/// The slow path after a database failure: each job in its own transaction.
async fn run_singly(conn: &mut Connection, commits: &Commits, group: Vec<Job>) {
    let mut answered = Vec::with_capacity(group.len());
    let mut epoch = 0;
    for job in group {
        let answer = match execute(conn, "BEGIN IMMEDIATE") {
            Err(error) => Answer::failed(&job, &error),
            Ok(()) => {
                let answer = run_job(conn, &job).await;
                let end = if answer.is_ok() {
                    epoch = commits.begin();
                    execute(conn, "COMMIT")
                } else {
                    execute(conn, "ROLLBACK")
                };
                match end {
                    Ok(()) => answer,
                    Err(error) => {
                        let _ = execute(conn, "ROLLBACK");
                        answer.fail(&error)
                    }
                }
            }
        };
        answered.push((job, answer));
    }
    commits.answer(epoch, answered);
}

/// The writer's settings while import batches come. A page cache of 1 GiB: an import
/// inserts into many indexes at random places, and with the receipts' 8 MiB cache
/// most of its time went to reading and writing back the same pages (256 MiB still
/// spilled at a million profiles). No automatic checkpoint: a batch's commit leaves
/// some hundred thousand pages in the WAL, and copying them back in the writer held
/// up the next batch; the checkpointer's thread copies them on the other core.
const IMPORT_SETTINGS: &str = "PRAGMA cache_size = -1048576; PRAGMA wal_autocheckpoint = 0";
/// The writer's `synchronous` setting while durable: SQLite does not sync at commit,
/// the sync thread does before anyone is answered (see [`crate::syncer`]).
pub const DURABLE_SYNC: &str = "PRAGMA synchronous = NORMAL";
/// No automatic checkpoint after the writer's commits: the checkpointer's thread
/// copies the WAL back, and the writer restarts it (see [`crate::wal_restart`]).
pub const NO_AUTOCHECKPOINT: &str = "PRAGMA wal_autocheckpoint = 0";

/// The receipts' settings (see `readers::open_writer`).
const RECEIPT_SETTINGS: &str = "PRAGMA cache_size = -8192; PRAGMA wal_autocheckpoint = 0";

std::thread_local! {
    static IMPORT_SETTINGS_ON: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Switches to the import's settings for import batches, and back at the first other
/// job (a large cache costs every transaction end a longer walk).
fn import_settings(conn: &Connection, job: &Job) -> StoreResult<()> {
    let import = job.is_import();
    if IMPORT_SETTINGS_ON.with(|on| on.replace(import)) != import {
        conn.execute_batch(if import {
            IMPORT_SETTINGS
        } else {
            RECEIPT_SETTINGS
        })
        .map_err(db)?;
    }
    Ok(())
}

async fn run_job(conn: &mut Connection, job: &Job) -> Answer {
    if let Job::Audited(inner, content) = job {
        // A failed append fails the job as a database failure, which undoes its writes
        // (its savepoint, or the group and then its own transaction).
        let answer = run_plain(conn, inner).await;
        if !answer.is_ok() {
            return answer;
        }
        return match access::append_audit(conn, content.clone()) {
            Ok(_) => answer,
            Err(error) => answer.fail(&format!("the audit entry could not be written: {error}")),
        };
    }
    run_plain(conn, job).await
}

async fn run_plain(conn: &mut Connection, job: &Job) -> Answer {
    if let Err(error) = import_settings(conn, job) {
        tracing::warn!(%error, "could not switch the writer's import settings");
    }
    let mut tx = SqliteTx {
        conn,
        prepared: None,
        quoted: None,
        touched: Vec::new(),
    };
    match job {
        Job::Commit(command, prepared, _) => {
            tx.prepared = Some(prepared);
            tx.quoted = prepared.ledger.as_ref();
            Answer::Bytes(service::commit(&mut tx, command).await)
        }
        Job::Return(command, _) => Answer::Bytes(service::return_receipt(&mut tx, command).await),
        Job::Cancel(command, _) => Answer::Bytes(service::cancel_receipt(&mut tx, command).await),
        Job::Config(write, _) => Answer::Flag(write_config(tx.conn, write)),
        Job::Customers(customers, _) => {
            Answer::Flag(profiles::insert_customers(tx.conn, customers).map(|_| true))
        }
        Job::CatchUp(now, limit, _) => Answer::Count(catch_up_due(tx.conn, *now, *limit)),
        Job::Tiers(program, now, limit, _) => Answer::Count(
            tessera_store::tiers::reevaluate_due(&mut tx, program, *now, *limit).await,
        ),
        Job::Crm(command, _) => Answer::Crm(tessera_store::crm::apply(&mut tx, command).await),
        Job::Access(write, _) => Answer::Access(write_access(tx.conn, write)),
        // Not allowed inside a transaction; the loop takes it only between groups.
        Job::Durable(..) => Answer::Flag(Err(StoreError::backend(
            "durability can only change between groups",
        ))),
        // `run_job` unwraps the one audit a job carries.
        Job::Audited(inner, _) => Answer::failed(inner, "internal: an audited job inside another"),
    }
}

fn write_access(conn: &Connection, write: &AccessWrite) -> StoreResult<AccessOutcome> {
    match write {
        AccessWrite::PutKey(key) => access::insert_key(conn, key).map(|()| AccessOutcome::Done),
        AccessWrite::RevokeKey(key_id, at) => {
            access::revoke_key(conn, key_id, *at).map(AccessOutcome::Key)
        }
        AccessWrite::Audit(content) => {
            access::append_audit(conn, content.clone()).map(AccessOutcome::Entry)
        }
        AccessWrite::Code(customer_id, change) => {
            accounts::customer_code(conn, customer_id, change).map(AccessOutcome::Code)
        }
        AccessWrite::ForgetCustomer(customer_id, at) => {
            accounts::forget_customer(conn, customer_id, *at).map(|()| AccessOutcome::Done)
        }
        AccessWrite::PutSession(session) => {
            accounts::put_session(conn, session).map(|()| AccessOutcome::Done)
        }
        AccessWrite::RevokeSession(token_hash, at) => {
            accounts::revoke_session(conn, token_hash, *at).map(|()| AccessOutcome::Done)
        }
        AccessWrite::EndStaffSessions(username, at) => {
            accounts::end_staff_sessions(conn, username, *at).map(|()| AccessOutcome::Done)
        }
        AccessWrite::PutStaff(user) => {
            accounts::put_staff_user(conn, user).map(|()| AccessOutcome::Done)
        }
        AccessWrite::StaffLogin(username, ok, at) => {
            accounts::record_staff_login(conn, username, *ok, *at).map(AccessOutcome::Throttle)
        }
    }
}

/// Matures and expires the due lots of up to `limit` customers.
fn catch_up_due(conn: &Connection, now: DateTime<Utc>, limit: u32) -> StoreResult<u32> {
    let ledgers = rows::due_ledgers(conn, &ts(now), limit)?;
    let caught_up = ledgers.len() as u32;
    let changes: Vec<LedgerChanges> = ledgers
        .into_iter()
        .map(|mut ledger| {
            ledger.catch_up(now);
            ledger.into_changes()
        })
        .collect();
    rows::save_ledgers(conn, &changes.iter().collect::<Vec<_>>())?;
    Ok(caught_up)
}

fn write_config(conn: &Connection, write: &ConfigWrite) -> StoreResult<bool> {
    match write {
        ConfigWrite::Program(program) => {
            exec(
                conn,
                "INSERT INTO program (id, body, updated_at) VALUES (1, ?, datetime('now'))
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                [to_json(&program)?],
            )?;
        }
        ConfigWrite::Store(store) => {
            rows::upsert_document(conn, "stores", "store_id", &store.store_id, store)?;
        }
        ConfigWrite::Products(products) => {
            for product in products {
                rows::upsert_document(conn, "products", "sku", &product.sku, product)?;
            }
        }
        ConfigWrite::Promotion(promotion, now) => {
            exec(
                conn,
                "INSERT INTO promotions (promotion_id, body, updated_at, deleted_at) VALUES (?, ?, ?, NULL)
                 ON CONFLICT (promotion_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at, deleted_at = NULL",
                params![promotion.promotion_id, to_json(&promotion)?, ts(*now)],
            )?;
        }
        ConfigWrite::DeletePromotion(promotion_id, now) => {
            let body = one(
                conn,
                "SELECT body FROM promotions WHERE promotion_id = ?",
                [promotion_id],
                |r| r.at::<String>(0),
            )?;
            let Some(body) = body else {
                return Ok(false);
            };
            let mut promotion: Promotion =
                serde_json::from_str(&body).map_err(StoreError::backend)?;
            promotion.enabled = false;
            exec(
                conn,
                "UPDATE promotions SET body = ?1, updated_at = ?2, deleted_at = COALESCE(deleted_at, ?2) WHERE promotion_id = ?3",
                params![to_json(&promotion)?, ts(*now), promotion_id],
            )?;
        }
        ConfigWrite::CouponSeries(series) => crate::vouchers::put_series(conn, series)?,
        ConfigWrite::Coupons(coupons) => crate::vouchers::insert_coupons(conn, coupons)?,
        ConfigWrite::Segment(segment) => crate::segments::put(conn, segment)?,
        ConfigWrite::SegmentMembers(segment_id, change) => {
            return crate::segments::change(conn, segment_id, change)
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
    pub conn: &'c mut Connection,
    /// A commit's documents in part, prepared before the write was queued.
    pub prepared: Option<&'c Prepared>,
    /// What the calculate read of the commit's customer ([`Prepared::ledger`]), until
    /// the first ledger lookup takes it.
    pub quoted: Option<&'c (CustomerLedger, CustomerFacts)>,
    /// Customers whose account row this transaction has updated.
    pub touched: Vec<String>,
}

#[async_trait]
impl LedgerTx for SqliteTx<'_> {
    async fn receipt(&mut self, receipt_id: &str) -> StoreResult<Option<StoredReceipt>> {
        rows::receipt(self.conn, receipt_id)
    }

    async fn prior_commit(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
    ) -> StoreResult<tessera_store::PriorCommit> {
        rows::prior_commit(self.conn, receipt_id, request_hash)
    }

    async fn refusal(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
    ) -> StoreResult<Option<tessera_core::CoreError>> {
        rows::refusal(self.conn, receipt_id, request_hash)
    }

    async fn record_refusal(
        &mut self,
        receipt_id: &str,
        request_hash: &str,
        error: &tessera_core::CoreError,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        rows::record_refusal(self.conn, receipt_id, request_hash, error, at)
    }

    async fn operation(&mut self, op_id: &str) -> StoreResult<Option<(String, String, Vec<u8>)>> {
        rows::operation(self.conn, op_id)
    }

    async fn find_ledger(
        &mut self,
        reference: &CustomerRef,
    ) -> StoreResult<Option<(CustomerLedger, CustomerFacts)>> {
        // The calculate's read, when the account is still at the version it read:
        // every write of the customer's balances or lots, and every receipt committed
        // for them, advances it, so the same version means the same ledger and the
        // same first-purchase fact. The other facts (segments, card types, tier grant)
        // are as of the calculate, a few milliseconds earlier.
        if let Some((ledger, facts)) = self.quoted.take() {
            if let Some(version) = ledger.version {
                if rows::is_current(self.conn, reference, &ledger.customer_id, version)? {
                    return Ok(Some((ledger.clone(), facts.clone())));
                }
            }
        }
        rows::find_ledger(self.conn, reference)
    }

    async fn insert_customer(&mut self, customer: &Customer) -> StoreResult<()> {
        profiles::insert_customer(self.conn, customer)
    }

    async fn load_ledger(
        &mut self,
        customer_id: &str,
        extra_lots: &[String],
    ) -> StoreResult<CustomerLedger> {
        rows::load_ledger(self.conn, customer_id, extra_lots)
    }

    async fn save_ledger(&mut self, changes: &LedgerChanges) -> StoreResult<()> {
        rows::save_ledger(self.conn, changes)?;
        if changes.touches_account() {
            self.touched.push(changes.customer_id.clone());
        }
        Ok(())
    }

    async fn promotion_usage(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<std::collections::HashMap<(String, String), tessera_core::limits::Usage>> {
        rows::promotion_usage(self.conn, keys)
    }

    async fn add_usage(
        &mut self,
        deltas: &[tessera_core::limits::UsageDelta],
        sign: i64,
    ) -> StoreResult<()> {
        rows::add_usage(self.conn, deltas, sign)
    }

    async fn coupons(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
        vouchers::coupons(self.conn, codes)
    }

    async fn set_coupon_use(
        &mut self,
        codes: &[String],
        receipt_id: Option<&str>,
    ) -> StoreResult<()> {
        vouchers::set_coupon_use(self.conn, codes, receipt_id)
    }

    async fn certificates(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, Certificate>> {
        vouchers::certificates(self.conn, codes)
    }

    async fn move_certificates(&mut self, moves: &[(String, Money)]) -> StoreResult<()> {
        vouchers::move_certificates(self.conn, moves)
    }

    async fn insert_rewards(&mut self, rewards: &NewRewards) -> StoreResult<()> {
        vouchers::insert_rewards(self.conn, rewards)
    }

    async fn revoke_rewards(&mut self, receipt_id: &str) -> StoreResult<()> {
        vouchers::revoke_rewards(self.conn, receipt_id)
    }

    async fn insert_receipt(
        &mut self,
        record: &ReceiptRecord,
        version: &ReceiptVersion,
    ) -> StoreResult<()> {
        rows::write_receipt(self.conn, record, version, self.prepared, true)?;
        // A new receipt of a customer advances their account's version even when it
        // leaves their ledger as it was: whether they bought before is read with it.
        if let Some(customer_id) = &record.customer_id {
            if !self.touched.contains(customer_id) {
                rows::touch_account(self.conn, customer_id)?;
                self.touched.push(customer_id.clone());
            }
        }
        Ok(())
    }

    async fn update_receipt(
        &mut self,
        record: &ReceiptRecord,
        version: &ReceiptVersion,
    ) -> StoreResult<()> {
        rows::write_receipt(self.conn, record, version, None, false)
    }

    async fn tier_history(
        &mut self,
        customer_id: &str,
        window_days: u32,
    ) -> StoreResult<TierHistory> {
        tiers::history(self.conn, customer_id, window_days)
    }

    async fn save_tier(
        &mut self,
        customer_id: &str,
        event: Option<&TierEvent>,
        record: &TierRecord,
    ) -> StoreResult<()> {
        tiers::save(self.conn, customer_id, event, record)
    }

    async fn tiers_due(&mut self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<String>> {
        tiers::due(self.conn, now, limit)
    }
}
