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

/// How often the WAL is copied back: often, so that each pass (and the sync of the
/// database file that ends it) is small and delays the writer's own WAL syncs little.
/// Close to a restart, passes come faster (see [`WalState::next_pass_in`]).
const EVERY: Duration = Duration::from_millis(50);

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
