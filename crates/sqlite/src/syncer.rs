//! Makes the writer's commits durable on a thread of its own, so the writer never
//! waits for the disk.
//!
//! The writer commits with `synchronous=NORMAL`: SQLite writes the group's WAL frames
//! and returns without syncing them. The writer hands the group's answers here and
//! goes on with the next group; this thread syncs the WAL file (`fdatasync`, which
//! covers every frame written before it, whichever descriptor calls it) and only then
//! answers the group's callers. A sync covers every group queued before it, so a slow
//! sync answers many groups at once instead of holding up each one behind it.
//!
//! What changes against `synchronous=FULL`: nothing for an acknowledged write (its
//! frames are on disk before its answer, as before), and nothing after a process
//! crash (written frames are in the OS's cache). After a power loss, commits that no
//! one was told about may be lost, as before. A reader can see a commit before its
//! sync; [`Durability::settled`] lets a read wait until what it saw is on disk.

use crate::sync_load::SyncLoad;
use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::Notify;

/// How far the writer's commits have gone: begun and synced, counted in commits.
#[derive(Default)]
pub struct Durability {
    /// Commits begun (counted before SQLite's `COMMIT` runs, so a reader that sees a
    /// commit's data counts it).
    committed: AtomicU64,
    /// Commits whose WAL frames are on disk.
    synced: AtomicU64,
    /// Set when a sync failed: nothing written since can be trusted to be on disk.
    failure: Mutex<Option<String>>,
    changed: Notify,
}

impl Durability {
    /// Counts a commit about to run and returns its number.
    pub fn begin_commit(&self) -> u64 {
        self.committed.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Commits up to `epoch` are on disk (or need not be: bulk loading).
    pub fn mark_synced(&self, epoch: u64) {
        self.synced.fetch_max(epoch, Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    fn fail(&self, message: &str) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert_with(|| message.to_string());
        }
        self.changed.notify_waiters();
    }

    /// Why the store can no longer promise durability, if a sync failed.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().ok().and_then(|f| f.clone())
    }

    /// Commits begun so far: a read that ends now can have seen no later one.
    pub fn begun(&self) -> u64 {
        self.committed.load(Ordering::SeqCst)
    }

    /// Waits until commits up to `epoch` are on disk (or a sync failed). A read waits
    /// for [`Self::begun`] as it was when the read ended, so it shows nothing that a
    /// power loss could take back.
    pub async fn settled(&self, epoch: u64) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.synced.load(Ordering::SeqCst) >= epoch || self.failure().is_some() {
                return;
            }
            changed.await;
        }
    }
}

/// Answers one group once its commit is on disk: `Err` carries why it may not be.
pub type Answers = Box<dyn FnOnce(Result<(), String>) + Send>;

struct Batch {
    epoch: u64,
    answers: Answers,
}

/// The sending end, held by the writer.
pub struct Syncer {
    batches: Option<Sender<Batch>>,
    thread: Option<JoinHandle<()>>,
    durability: Arc<Durability>,
}

impl Syncer {
    /// Starts the thread that syncs `wal_path`.
    pub fn start(wal_path: String, durability: Arc<Durability>) -> std::io::Result<Syncer> {
        let (batches, queue) = channel();
        let shared = durability.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-sync".into())
            .spawn(move || run(&wal_path, &queue, &shared, sync_file))?;
        Ok(Syncer {
            batches: Some(batches),
            thread: Some(thread),
            durability,
        })
    }

    /// Answers a committed group once commit `epoch` is on disk.
    pub fn after_sync(&self, epoch: u64, answers: Answers) {
        let batch = Batch { epoch, answers };
        let unsent = match &self.batches {
            Some(batches) => batches.send(batch).err().map(|e| e.0),
            None => Some(batch),
        };
        if let Some(batch) = unsent {
            // The thread is gone (it never stops while the writer runs): nothing more
            // will be synced, so writes stop and waiting reads are let go.
            let message = "the sync thread has stopped";
            tracing::error!(message, "writes stop until the server is restarted");
            self.durability.fail(message);
            (batch.answers)(Err(message.into()));
        }
    }

    /// The shared counters.
    pub fn durability(&self) -> &Durability {
        &self.durability
    }

    /// Answers what is queued and stops the thread.
    pub fn stop(&mut self) {
        self.batches.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the sync thread panicked");
            }
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Syncs the file's data. Opened for each sync: a handful of microseconds beside the
/// sync, and the file synced is always the one at the path now.
fn sync_file(path: &str) -> std::io::Result<()> {
    File::open(path)?.sync_data()
}

fn run(
    wal_path: &str,
    queue: &Receiver<Batch>,
    durability: &Durability,
    sync: impl Fn(&str) -> std::io::Result<()>,
) {
    let mut load = SyncLoad::new(Instant::now());
    while let Ok(first) = queue.recv() {
        let mut batches = vec![first];
        batches.extend(queue.try_iter());
        let epoch = batches.iter().map(|b| b.epoch).max().unwrap_or(0);
        let start = Instant::now();
        let result = match durability.failure() {
            Some(earlier) => Err(earlier),
            None => sync(wal_path).map_err(|error| {
                let message = format!("the WAL file could not be synced to disk: {error}");
                tracing::error!(%message, "writes stop until the server is restarted");
                durability.fail(&message);
                message
            }),
        };
        if result.is_ok() {
            durability.mark_synced(epoch);
        }
        let end = Instant::now();
        if let Some(window) = load.sync(end, end - start, batches.len()) {
            window.log();
        }
        for batch in batches {
            (batch.answers)(result.clone());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    type Heard = (u64, Result<(), String>);

    /// Queues commit `epoch`, whose answer tells `into` its number `n`.
    fn send(batches: &Sender<Batch>, into: &Sender<Heard>, epoch: u64, n: u64) {
        let into = into.clone();
        let answers: Answers = Box::new(move |r| into.send((n, r)).unwrap());
        batches.send(Batch { epoch, answers }).unwrap();
    }

    #[test]
    fn groups_are_answered_after_the_sync_in_order_and_a_failed_sync_fails_the_rest() {
        let durability = Arc::new(Durability::default());
        let (batches, queue) = channel();
        let (told, heard) = channel();
        let fail = Arc::new(AtomicBool::new(false));
        let syncs = Arc::new(AtomicU64::new(0));
        let (d, f, s) = (durability.clone(), fail.clone(), syncs.clone());
        let thread = std::thread::spawn(move || {
            run("unused", &queue, &d, |_| {
                s.fetch_add(1, Ordering::SeqCst);
                if f.load(Ordering::SeqCst) {
                    Err(std::io::Error::other("disk gone"))
                } else {
                    Ok(())
                }
            })
        });
        let first = durability.begin_commit();
        let second = durability.begin_commit();
        send(&batches, &told, first, 1);
        send(&batches, &told, second, 2);
        assert_eq!(heard.recv().unwrap(), (1, Ok(())));
        assert_eq!(heard.recv().unwrap(), (2, Ok(())));
        assert!(durability.synced.load(Ordering::SeqCst) >= second);
        assert!(syncs.load(Ordering::SeqCst) >= 1);

        fail.store(true, Ordering::SeqCst);
        let third = durability.begin_commit();
        send(&batches, &told, third, 3);
        let (n, result) = heard.recv().unwrap();
        assert_eq!(n, 3);
        assert!(result.unwrap_err().contains("disk gone"));
        assert_eq!(durability.synced.load(Ordering::SeqCst), second);
        // Once a sync failed, later groups are refused without trying again.
        fail.store(false, Ordering::SeqCst);
        let before = syncs.load(Ordering::SeqCst);
        let fourth = durability.begin_commit();
        send(&batches, &told, fourth, 4);
        assert!(heard.recv().unwrap().1.is_err());
        assert_eq!(syncs.load(Ordering::SeqCst), before);
        assert!(durability.failure().unwrap().contains("disk gone"));
        drop(batches);
        thread.join().unwrap();
    }

    #[test]
    fn a_group_after_the_thread_stopped_is_refused_and_stops_writes() {
        let durability = Arc::new(Durability::default());
        let mut syncer = Syncer::start("unused".into(), durability.clone()).unwrap();
        syncer.stop();
        let (told, heard) = channel();
        let epoch = durability.begin_commit();
        syncer.after_sync(epoch, Box::new(move |r| told.send(r).unwrap()));
        assert!(heard.recv().unwrap().is_err());
        assert!(durability.failure().unwrap().contains("stopped"));
    }

    #[tokio::test]
    async fn a_read_waits_only_for_the_commits_begun_before_it_ended() {
        let durability = Arc::new(Durability::default());
        // Nothing pending: no wait.
        durability.settled(durability.begun()).await;
        let epoch = durability.begin_commit();
        let seen = durability.begun();
        let waiting = {
            let d = durability.clone();
            tokio::spawn(async move { d.settled(seen).await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        // A commit begun after the read does not hold it up.
        let later = durability.begin_commit();
        durability.mark_synced(epoch);
        waiting.await.unwrap();
        let pending = {
            let d = durability.clone();
            tokio::spawn(async move { d.settled(later).await })
        };
        tokio::task::yield_now().await;
        assert!(!pending.is_finished());
        // A failed sync releases every waiting read (writes stop instead).
        durability.fail("disk gone");
        pending.await.unwrap();
    }
}
