//! Copies the WAL back into the database file on a thread of its own, so that the
//! writer's commits rarely wait for a checkpoint.
//!
//! This thread runs passive checkpoints (which never block the writer) many times a
//! second. The writer has SQLite's automatic checkpoint off: it restarts the WAL itself,
//! rarely, right after one of these passes, when only a few frames are left to copy
//! (see [`crate::wal_restart`]). Without this thread the WAL would never start again,
//! so a store that cannot start it does not open.

use crate::readers::open_writer;
use crate::wal_restart::WalState;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;
use tessera_store::{StoreError, StoreResult};

/// How often the WAL is copied back. A pass copies each page once, however many of
/// the frames since the last pass hold it, so longer gaps copy fewer pages: most of a
/// commit's frames are the same few pages again (the tables' last leaves, the
/// database header, index pages shared by the receipts of a second). Every 200 ms
/// instead of 50 ms took the checkpointer's CPU from 46–52 to 30–34 µs a receipt at
/// 2,000 receipts a second, with no longer commits; a pass (and the sync of the
/// database file that ends it) stays small next to the writer's own WAL syncs. Close
/// to a restart, passes come faster (see [`WalState::next_pass_in`]).
const EVERY: Duration = Duration::from_millis(200);

/// Starts the checkpointer; it stops when the returned sender is dropped. Each pass
/// tells `wal` how long the WAL is (the writer restarts it when it is long: see
/// [`crate::wal_restart`]).
pub fn start(path: &str, wal: Arc<WalState>) -> StoreResult<Sender<()>> {
    let (stop, stopped) = channel::<()>();
    let conn = open_writer(path)?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(wal.next_pass_in(EVERY))
            {
                if let Err(error) = wal.pass(&conn) {
                    tracing::warn!(%error, "a checkpoint failed");
                }
            }
        })
        .map_err(StoreError::backend)?;
    Ok(stop)
}
