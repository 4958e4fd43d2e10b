//! Copies the WAL back into the database file on a thread of its own, so that the
//! writer's commits rarely wait for a checkpoint.
//!
//! SQLite's automatic checkpoint runs in the writer after the commit that takes the
//! WAL past 1,000 pages: that group's tills wait while every page is copied and the
//! database file is synced. This thread runs passive checkpoints (which never block
//! the writer) a few times a second, so by the time the writer's automatic checkpoint
//! comes, only the last few frames are left to copy. The writer's checkpoint is kept:
//! it runs between two of the writer's transactions, the only moment the WAL can be
//! wholly copied back and then restarted from its beginning.

use crate::readers::open_writer;
use crate::wal_restart::WalState;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// How often the WAL is copied back: often, so that each pass (and the sync of the
/// database file that ends it) is small and delays the writer's own WAL syncs little.
/// Close to a restart, passes come faster (see [`WalState::next_pass_in`]).
const EVERY: Duration = Duration::from_millis(50);

/// Starts the checkpointer; it stops when the returned sender is dropped. Each pass
/// tells `wal` how long the WAL is (the writer restarts it when it is long: see
/// [`crate::wal_restart`]).
pub fn start(path: &str, wal: Arc<WalState>) -> std::io::Result<Sender<()>> {
    let (stop, stopped) = channel::<()>();
    let path = path.to_string();
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let conn = match open_writer(&path) {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::error!(%error, "the checkpointer could not open the database");
                    return;
                }
            };
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(wal.next_pass_in(EVERY))
            {
                if let Err(error) = wal.pass(&conn) {
                    tracing::warn!(%error, "a checkpoint failed");
                }
            }
        })?;
    Ok(stop)
}
