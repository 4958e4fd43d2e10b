//! When the writer lets the WAL start again from its beginning.
//!
//! The checkpointer's thread copies the WAL back into the database file a few times a
//! second without ever stopping the writer. But the WAL starts again from its beginning
//! only when a transaction begins with every frame copied back and no reader left in
//! the WAL, and that takes a checkpoint between two of the writer's transactions: it
//! copies the last frames and syncs the database file, which holds up the writer, and
//! every till whose commit is queued, for some 20–60 ms on this project's VMs.
//!
//! SQLite's automatic checkpoint did this after every commit once the WAL had passed
//! 10,000 pages: at 2,500 receipts a second, about twice a second, and commit p99 was
//! that sync (40–47 ms against a p90 of 12–17 ms). The writer now does it itself once
//! the WAL holds [`RESTART_AT`] frames, ten times less often, right after a
//! checkpointer pass has copied the whole WAL back; close to that length the passes
//! come every [`CLOSE_PASSES`] instead of every 200 ms, so that the frames left for the
//! writer to copy, and the sync that follows, are few. It runs a passive checkpoint,
//! then pauses [`READERS_GRACE`] for the readers that began before it to leave the
//! WAL, so that the next transaction can start it again. A try that a long read
//! defeats is made again [`RETRY_AFTER`] later.
//!
//! Should the checkpointer's passes keep failing, the writer copies the WAL back
//! itself at every retry time, so that the WAL still starts again.
//!
//! (`RESTART` mode, which waits for the readers itself, held the writer about twice as
//! long: it also waits for every reader of an older snapshot before copying.)

use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The WAL's length in frames (pages) the writer restarts it at: about 400 MiB of
/// WAL, some 10,000 receipts. Fewer restarts mean fewer stalls; the file keeps the
/// size it reached.
pub const RESTART_AT: u64 = 100_000;

/// The least time between two tries (one cut short by a reader still in the WAL).
pub const RETRY_AFTER: Duration = Duration::from_millis(200);

/// Failed checkpointer passes in a row (about a second of them) after which the
/// writer copies the WAL back itself.
pub const FAILED_PASSES: u32 = 20;

/// The checkpointer's pause between passes close to a restart.
pub const CLOSE_PASSES: Duration = Duration::from_millis(5);

/// How long the writer waits after its checkpoint for the reads that began before it
/// (a read is well under a millisecond; a long report is not waited for).
pub const READERS_GRACE: Duration = Duration::from_millis(1);

/// What the checkpointer and the writer share about the WAL.
#[derive(Debug)]
pub struct WalState {
    /// The length that calls for a restart ([`RESTART_AT`]).
    restart_at: u64,
    /// Its length in frames, as the last checkpoint found it.
    frames: AtomicU64,
    /// Set by a checkpointer pass that copied a long WAL wholly back: the moment
    /// when a restart has least left to copy.
    ready: AtomicBool,
    /// The length of the WAL the last restart copied back: until the next write starts
    /// the WAL again, a pass still finds that length.
    restarted: AtomicU64,
    /// Held during a checkpointer pass, so that the writer never waits for one.
    pass: Mutex<()>,
    /// Checkpointer passes that failed in a row.
    failed_passes: AtomicU32,
}

impl WalState {
    pub fn new(restart_at: u64) -> WalState {
        WalState {
            restart_at,
            frames: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            restarted: AtomicU64::new(0),
            pass: Mutex::new(()),
            failed_passes: AtomicU32::new(0),
        }
    }

    /// Runs one checkpointer pass: a passive checkpoint, which never stops the writer.
    pub fn pass(&self, conn: &Connection) -> rusqlite::Result<Checkpoint> {
        let _pass = self.pass.lock().unwrap_or_else(|e| e.into_inner());
        let done = passive_checkpoint(conn).inspect_err(|_| {
            self.failed_passes.fetch_add(1, Ordering::Relaxed);
        })?;
        self.failed_passes.store(0, Ordering::Relaxed);
        self.frames.store(done.frames, Ordering::Relaxed);
        let restarted = self.restarted.load(Ordering::Relaxed);
        if done.frames >= self.restart_at && done.copied == done.frames && done.frames != restarted
        {
            self.ready.store(true, Ordering::Relaxed);
        }
        Ok(done)
    }

    /// How long the checkpointer waits before its next pass: `every`, but
    /// [`CLOSE_PASSES`] when the WAL is within a tenth of its restart length, so that
    /// the pass before a restart, and the copy the restart makes, are short.
    pub fn next_pass_in(&self, every: Duration) -> Duration {
        let frames = self.frames.load(Ordering::Relaxed);
        let close = frames >= self.restart_at - self.restart_at / 10
            && frames != self.restarted.load(Ordering::Relaxed);
        if close {
            CLOSE_PASSES.min(every)
        } else {
            every
        }
    }

    #[cfg(test)]
    fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }
}

/// What a checkpoint reported: the WAL's length and how much of it is copied back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub frames: u64,
    pub copied: u64,
}

/// Runs a passive checkpoint (it never waits for the writer or a reader) and reads its
/// row: busy, WAL frames, frames copied back.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<Checkpoint> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok(Checkpoint {
            frames: row.get::<_, i64>(1)?.max(0) as u64,
            copied: row.get::<_, i64>(2)?.max(0) as u64,
        })
    })
}

/// The writer's side: when to restart, and the restart.
pub struct WalRestart {
    state: Arc<WalState>,
    last_try: Option<Instant>,
}

impl WalRestart {
    pub fn new(state: Arc<WalState>) -> WalRestart {
        WalRestart {
            state,
            last_try: None,
        }
    }

    /// Whether a restart is due at `now`: a pass has just copied a long WAL back, and
    /// the last try is not too recent.
    ///
    /// While the checkpointer's passes keep failing ([`FAILED_PASSES`] in a row), the
    /// writer copies the WAL back itself at every retry time, as SQLite's automatic
    /// checkpoint would, so that the WAL still starts again.
    pub fn due(&self, now: Instant) -> bool {
        (self.state.ready.load(Ordering::Relaxed)
            || self.state.failed_passes.load(Ordering::Relaxed) >= FAILED_PASSES)
            && self
                .last_try
                .is_none_or(|last| now.duration_since(last) >= RETRY_AFTER)
    }

    /// Copies the WAL back if a restart is due, and gives the readers in it the time to
    /// leave; between two of the writer's transactions only (the next one starts the
    /// WAL again). Returns how long it held the writer when it ran.
    pub fn maybe_restart(&mut self, conn: &Connection) -> Option<Duration> {
        let start = Instant::now();
        if !self.due(start) {
            return None;
        }
        // A pass under way: the next group's end comes soon enough.
        let _pass = self.state.pass.try_lock().ok()?;
        self.last_try = Some(start);
        self.state.ready.store(false, Ordering::Relaxed);
        match passive_checkpoint(conn) {
            Ok(done) if done.copied == done.frames => {
                // The next pass still finds this length if the WAL started again, and
                // a longer one, fully copied, if a reader kept it from starting again.
                self.state.restarted.store(done.frames, Ordering::Relaxed);
                self.state.frames.store(0, Ordering::Relaxed);
                std::thread::sleep(READERS_GRACE);
                tracing::debug!(
                    frames = done.frames,
                    took_ms = start.elapsed().as_millis() as u64,
                    "wal copied back for a restart"
                );
            }
            // A reader of an older snapshot kept frames from being copied.
            Ok(_) => self.state.ready.store(true, Ordering::Relaxed),
            Err(error) => tracing::warn!(%error, "the WAL could not be copied back"),
        }
        Some(start.elapsed())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_is_due_after_a_pass_copied_a_long_wal_and_not_again_before_the_retry_time() {
        let state = Arc::new(WalState::new(RESTART_AT));
        let mut restart = WalRestart::new(state.clone());
        let now = Instant::now();
        assert!(!restart.due(now));
        let every = Duration::from_millis(50);
        assert_eq!(state.next_pass_in(every), every);
        state
            .frames
            .store(RESTART_AT - RESTART_AT / 10, Ordering::Relaxed);
        assert_eq!(state.next_pass_in(every), CLOSE_PASSES);
        // Not for a length a restart has just copied back (before the next write).
        state
            .restarted
            .store(RESTART_AT - RESTART_AT / 10, Ordering::Relaxed);
        assert_eq!(state.next_pass_in(every), every);
        state.ready.store(true, Ordering::Relaxed);
        assert!(restart.due(now));
        restart.last_try = Some(now);
        assert!(!restart.due(now + RETRY_AFTER / 2));
        assert!(restart.due(now + RETRY_AFTER));
        // Passes that keep failing hand the copy to the writer, at the same pace.
        state.ready.store(false, Ordering::Relaxed);
        state
            .failed_passes
            .store(FAILED_PASSES - 1, Ordering::Relaxed);
        assert!(!restart.due(now + RETRY_AFTER));
        state.failed_passes.store(FAILED_PASSES, Ordering::Relaxed);
        assert!(restart.due(now + RETRY_AFTER));
        assert!(!restart.due(now + RETRY_AFTER / 2));
    }

    #[test]
    fn a_restart_copies_the_wal_back_and_the_next_write_starts_it_again() {
        let dir = std::env::temp_dir().join(format!("tessera-wal-restart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
             CREATE TABLE t (x INTEGER PRIMARY KEY, y BLOB);",
        )
        .unwrap();
        let write = || {
            conn.execute("INSERT INTO t (y) VALUES (zeroblob(8000))", [])
                .unwrap()
        };
        (0..10).for_each(|_| {
            write();
        });
        let checkpointer = Connection::open(&path).unwrap();
        let state = Arc::new(WalState::new(100));
        // A pass that fails is counted, and a pass that works clears the count.
        let read_only =
            Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        assert!(state.pass(&read_only).is_err());
        assert!(state.pass(&read_only).is_err());
        assert_eq!(state.failed_passes.load(Ordering::Relaxed), 2);
        state.pass(&checkpointer).unwrap();
        assert_eq!(state.failed_passes.load(Ordering::Relaxed), 0);
        drop(read_only);
        let mut restart = WalRestart::new(state.clone());
        // Shorter than its restart length: a pass does not call for a restart.
        let short = state.pass(&checkpointer).unwrap();
        assert!(short.frames < 100, "{short:?}");
        assert!(restart.maybe_restart(&conn).is_none());
        (0..70).for_each(|_| {
            write();
        });
        // A reader that began while the WAL held frames not yet copied back reads
        // from the WAL until it ends.
        let reader = Connection::open(&path).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM t;")
            .unwrap();
        let before = state.pass(&checkpointer).unwrap();
        assert!(before.frames >= 100, "{before:?}");
        assert_eq!(before.copied, before.frames);
        assert_eq!(state.frames(), before.frames);
        // Not while a pass runs.
        {
            let _pass = state.pass.lock().unwrap();
            assert!(restart.maybe_restart(&conn).is_none());
        }
        // That reader keeps the next write from starting the WAL again.
        assert!(restart.maybe_restart(&conn).is_some());
        assert_eq!(state.frames(), 0);
        assert!(restart.maybe_restart(&conn).is_none());
        write();
        reader.execute_batch("COMMIT").unwrap();
        let held = state.pass(&checkpointer).unwrap();
        assert!(held.frames > before.frames, "{held:?} after {before:?}");
        // So the next pass that copies it all calls for another try, after the retry
        // time.
        assert!(!restart.due(Instant::now()));
        assert!(restart.due(Instant::now() + RETRY_AFTER));
        restart.last_try = None;
        assert!(restart.maybe_restart(&conn).is_some());
        // A pass before the next write still finds the old length: no second try.
        state.pass(&checkpointer).unwrap();
        assert!(!restart.due(Instant::now() + RETRY_AFTER));
        write();
        let after = state.pass(&checkpointer).unwrap();
        assert!(
            after.frames < before.frames / 10,
            "the WAL started again: {after:?} after {before:?}"
        );
        assert!(!restart.due(Instant::now() + RETRY_AFTER));
        drop((conn, checkpointer, reader));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
