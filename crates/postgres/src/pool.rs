//! The store's connections. sqlx's pool answers every hand-back with a round trip to
//! the database (a ping, so that a transaction rolled back by a dropped future is sent
//! and the connection is known to work), and pings again before each hand-out unless
//! told not to. Once a commit took a few statements, those pings were a third of the
//! round trips left. This pool keeps a connection without a round trip when the work on it
//! ended cleanly ([`Conn::settle`]: the last statement answered and no transaction is
//! open), and does what sqlx does otherwise; it pings a connection only when it has
//! been idle for a while, so that one the database dropped is replaced before a
//! request meets it.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A connection idle for longer than this is pinged before it is handed out.
const RECHECK_AFTER: Duration = Duration::from_secs(1);
/// A connection older than this is closed when handed back (as sqlx's pool does).
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// A connection unused for this long is closed (as sqlx's pool does).
const IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);

pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    options: PgConnectOptions,
    /// Most recently used last: connections are reused while their caches are warm.
    idle: Mutex<Vec<Idle>>,
    /// One per connection that may be open; closed when the pool closes.
    permits: Arc<Semaphore>,
    acquire_timeout: Duration,
}

struct Idle {
    conn: PgConnection,
    created: Instant,
    since: Instant,
}

impl Shared {
    fn idle(&self) -> MutexGuard<'_, Vec<Idle>> {
        // A panic while holding the lock leaves a valid list.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes a connection back; closes it if it is too old, and closes the connections
    /// that have not been used for a long time (the first of the list).
    fn keep(&self, conn: PgConnection, created: Instant) {
        if created.elapsed() >= MAX_LIFETIME || self.permits.is_closed() {
            spawn_close(conn);
            return;
        }
        let stale: Vec<Idle> = {
            let mut idle = self.idle();
            idle.push(Idle {
                conn,
                created,
                since: Instant::now(),
            });
            let fresh = idle
                .iter()
                .position(|i| i.since.elapsed() < IDLE_TIMEOUT)
                .unwrap_or(idle.len());
            idle.drain(..fresh).collect()
        };
        for idle in stale {
            spawn_close(idle.conn);
        }
    }
}

fn spawn_close(conn: PgConnection) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = conn.close().await;
        });
    }
}

impl Pool {
    pub fn new(
        options: PgConnectOptions,
        max_connections: usize,
        acquire_timeout: Duration,
    ) -> Self {
        Pool {
            shared: Arc::new(Shared {
                options,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(max_connections)),
                acquire_timeout,
            }),
        }
    }

    /// A connection: an idle one, or a new one while fewer than the maximum are open.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let deadline = tokio::time::Instant::now() + self.shared.acquire_timeout;
        let permit = tokio::time::timeout_at(deadline, self.shared.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let Some(mut idle) = self.shared.idle().pop() else {
                break;
            };
            if idle.since.elapsed() > RECHECK_AFTER {
                let alive = tokio::time::timeout_at(deadline, idle.conn.ping()).await;
                if !matches!(alive, Ok(Ok(()))) {
                    // Gone: dropping it closes the socket.
                    continue;
                }
            }
            return Ok(Conn {
                conn: Some(idle.conn),
                created: idle.created,
                shared: self.shared.clone(),
                permit: Some(permit),
                settled: false,
            });
        }
        let conn = tokio::time::timeout_at(deadline, self.shared.options.connect())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        Ok(Conn {
            conn: Some(conn),
            created: Instant::now(),
            shared: self.shared.clone(),
            permit: Some(permit),
            settled: false,
        })
    }

    /// Refuses further connections and closes the idle ones; those in use are closed
    /// when handed back.
    pub async fn close(&self) {
        self.shared.permits.close();
        let idle: Vec<Idle> = std::mem::take(&mut *self.shared.idle());
        for idle in idle {
            let _ = idle.conn.close().await;
        }
    }
}

/// A connection taken from the pool; handed back when dropped.
pub struct Conn {
    conn: Option<PgConnection>,
    created: Instant,
    shared: Arc<Shared>,
    permit: Option<OwnedSemaphorePermit>,
    settled: bool,
}

impl Conn {
    /// Says that the work on the connection ended cleanly: its last statement was
    /// answered (not abandoned by a dropped future) and its transaction, if any, was
    /// committed or rolled back. It is then handed back without a round trip.
    pub fn settle(mut self) {
        self.settled = true;
    }
}

impl Deref for Conn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        // Only `Drop` takes the connection out.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let (Some(conn), Some(permit)) = (self.conn.take(), self.permit.take()) else {
            return;
        };
        if self.settled && !conn.is_in_transaction() {
            self.shared.keep(conn, self.created);
            drop(permit);
            return;
        }
        // Work abandoned half-way (a dropped future) or failed: a rollback may be
        // queued and an answer unread. A ping sends the one and reads the other, as
        // sqlx's pool does for every connection; the slot stays taken until then.
        let (shared, created) = (self.shared.clone(), self.created);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut conn = conn;
                if conn.ping().await.is_ok() && !conn.is_in_transaction() {
                    shared.keep(conn, created);
                }
                drop(permit);
            });
        }
    }
}
