//! Opening connections: the writer's, and a small pool of read-only connections that
//! run their statements inline on the calling thread.

use crate::sql::db;
use rusqlite::{Connection, OpenFlags};
use std::sync::Mutex;
use std::time::Duration;
use tessera_store::{StoreError, StoreResult};

/// Idle read connections kept for reuse; more are opened while more readers run at
/// once (at most one per thread of the server's runtime, since reads never wait).
const MAX_IDLE: usize = 8;

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A read-write connection (the writer's, the checkpointer's): WAL, every commit on
/// disk (`synchronous=FULL`), foreign keys on. Creates the file if it is missing. The
/// writer migrates with these settings, then commits with `synchronous=NORMAL` and
/// leaves the syncing to the sync thread (`syncer.rs`).
///
/// Pages are read through a memory map and the page cache is small (8 MiB): at the end
/// of every transaction SQLite walks the whole cache's hash table, which cost 8% of the
/// writer's time with a 64 MiB cache. The writer turns SQLite's automatic checkpoint
/// off and restarts the WAL itself (`wal_restart.rs`); the checkpointer's thread copies
/// the WAL back in between.
pub fn open_writer(path: &str) -> StoreResult<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA cache_size = -8192;
         PRAGMA mmap_size = 1073741824;",
    )
    .map_err(db)?;
    // The receipt writes and the CRM writes together use more than 64 statements; a
    // group mixing them must not evict and prepare again inside its loops.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

/// Read-only connections to one database file.
pub struct Readers {
    path: String,
    idle: Mutex<Option<Vec<Connection>>>,
}

impl Readers {
    pub fn new(path: &str) -> Readers {
        Readers {
            path: path.to_string(),
            idle: Mutex::new(Some(Vec::new())),
        }
    }

    fn open(&self) -> StoreResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(db)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(db)?;
        // A writer's commit makes every reader drop its page cache at its next read, and
        // with it SQLite's memory map of the file: each read then paid for an unmap and
        // a page fault per page touched (about 6% of the request threads' time under
        // load). Without a map, a page comes back from the OS with one `pread`.
        conn.execute_batch("PRAGMA cache_size = -8192; PRAGMA mmap_size = 0;")
            .map_err(db)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    /// Runs `read` on an idle connection (or a new one) and keeps it for the next read.
    pub fn read<T>(&self, read: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let taken = self
            .idle
            .lock()
            .map_err(|_| StoreError::ShuttingDown)?
            .as_mut()
            .ok_or(StoreError::ShuttingDown)?
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = read(&conn);
        if let Ok(mut idle) = self.idle.lock() {
            if let Some(idle) = idle.as_mut() {
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
            }
        }
        result
    }

    /// Closes the idle connections; later reads fail with `ShuttingDown`.
    pub fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.take();
        }
    }
}
