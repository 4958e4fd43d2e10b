//! The open loop's schedule: receipt `i` of a run is due at `started + i / rate`.
//!
//! A thread of its own sleeps until each due time and then lets one worker go. The
//! async runtime's timers tick in whole milliseconds and round a deadline up to the
//! next tick, so workers that slept until their due time themselves sent up to a
//! millisecond late, and that lateness was counted in every latency (measured from the
//! due time): 0.6–1.3 ms on the median calculate at 1,000/s. A thread's sleep ends
//! within some 50 µs of its deadline. When the pacer falls behind (a busy machine), it
//! lets go every receipt whose time has come at once, so that waiting behind a stall
//! is still measured from the due time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Hands out due times, each no earlier than the moment it is handed out.
pub struct Pacer {
    started: Instant,
    rate: u64,
    total: u64,
    released: Semaphore,
    taken: AtomicU64,
}

impl Pacer {
    /// Starts the schedule of `rate` receipts a second from `started`; the last one is
    /// due before `deadline`.
    pub fn start(rate: u32, started: Instant, deadline: Instant) -> std::io::Result<Arc<Pacer>> {
        let rate = u64::from(rate.max(1));
        let total = tickets_before(started, rate, deadline);
        let pacer = Arc::new(Pacer {
            started,
            rate,
            total,
            released: Semaphore::new(0),
            taken: AtomicU64::new(0),
        });
        let releasing = pacer.clone();
        std::thread::Builder::new()
            .name("bench-pacer".into())
            .spawn(move || releasing.release())?;
        Ok(pacer)
    }

    /// Waits for the next receipt's time and answers it (`None` once the run's
    /// receipts are all handed out).
    pub async fn next(&self) -> Option<Instant> {
        self.released.acquire().await.ok()?.forget();
        let ticket = self.taken.fetch_add(1, Ordering::Relaxed);
        (ticket < self.total).then(|| due(self.started, self.rate, ticket))
    }

    /// The pacer's thread: lets one waiter go at each due time, all that are late at
    /// once, then every waiter (each finds the schedule done). Closing the semaphore
    /// instead would drop the permits of the last tickets not yet taken.
    fn release(&self) {
        let mut done = 0u64;
        while done < self.total {
            let now = Instant::now();
            let ready = tickets_before(self.started, self.rate, now + Duration::from_nanos(1))
                .min(self.total);
            if ready > done {
                self.released.add_permits((ready - done) as usize);
                done = ready;
                continue;
            }
            std::thread::sleep(due(self.started, self.rate, done).saturating_duration_since(now));
        }
        self.released.add_permits(Semaphore::MAX_PERMITS / 2);
    }
}

/// When ticket `ticket` is due: `ticket / rate` seconds after the start, in whole
/// nanoseconds (integer arithmetic, so that a run of N seconds holds exactly
/// `N * rate` tickets).
fn due(started: Instant, rate: u64, ticket: u64) -> Instant {
    started + Duration::from_nanos((u128::from(ticket) * NANOS / u128::from(rate)) as u64)
}

/// How many tickets are due strictly before `until`: the `k` with
/// `k * 10^9 / rate` (rounded down) under the whole nanoseconds since the start.
fn tickets_before(started: Instant, rate: u64, until: Instant) -> u64 {
    let span = until.saturating_duration_since(started).as_nanos();
    ((span * u128::from(rate)).div_ceil(NANOS)) as u64
}

const NANOS: u128 = 1_000_000_000;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_tickets_due_before_an_instant() {
        let started = Instant::now();
        let at = |nanos: u64| started + Duration::from_nanos(nanos);
        assert_eq!(tickets_before(started, 100, started), 0);
        // Ticket 0 is due at the start.
        assert_eq!(tickets_before(started, 100, at(1)), 1);
        assert_eq!(tickets_before(started, 100, at(10_000_000)), 1);
        assert_eq!(tickets_before(started, 100, at(10_000_001)), 2);
        assert_eq!(tickets_before(started, 100, at(25_000_000)), 3);
        assert_eq!(tickets_before(started, 100, at(1_000_000_000)), 100);
        // A rate whose interval is no whole number of nanoseconds: a run of N seconds
        // holds exactly N * rate tickets, ticket k due at k / rate rounded down.
        assert_eq!(tickets_before(started, 300, at(4_000_000_000)), 1200);
        assert_eq!(due(started, 300, 1), at(3_333_333));
        assert_eq!(due(started, 300, 1199), at(3_996_666_666));
        assert_eq!(tickets_before(started, 300, at(3_996_666_666)), 1199);
        assert_eq!(tickets_before(started, 300, at(3_996_666_667)), 1200);
    }

    #[tokio::test]
    async fn hands_out_every_due_time_once_in_order_and_never_early() {
        let started = Instant::now();
        let pacer = Pacer::start(1000, started, started + Duration::from_millis(50)).unwrap();
        let mut dues = Vec::new();
        while let Some(due) = pacer.next().await {
            assert!(
                Instant::now() >= due,
                "a due time handed out before it came"
            );
            dues.push(due);
        }
        let expected: Vec<Instant> = (0..50)
            .map(|i| started + Duration::from_millis(1).mul_f64(i as f64))
            .collect();
        assert_eq!(dues, expected);
    }

    #[tokio::test]
    async fn lets_late_tickets_go_at_once() {
        // A schedule that began 20 ms ago: twenty tickets are already due.
        let started = Instant::now() - Duration::from_millis(20);
        let pacer = Pacer::start(1000, started, started + Duration::from_millis(30)).unwrap();
        for i in 0..20 {
            let due = pacer.next().await.unwrap();
            assert_eq!(due, started + Duration::from_millis(1).mul_f64(i as f64));
        }
        let mut rest = 0;
        while pacer.next().await.is_some() {
            rest += 1;
        }
        assert_eq!(rest, 10);
    }
}
