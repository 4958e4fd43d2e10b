//! How long the WAL syncs take, logged once a second at debug level
//! (`RUST_LOG=tessera_sqlite::sync_load=debug`), beside the writer's own load
//! (`writer_load.rs`). Every commit's answer waits for a sync, so a slow one shows in
//! commit latency while the writer's log shows nothing: this log tells the two apart.
//! A sync slower than [`SLOW`] is also logged as a warning: a disk that stalls for that
//! long holds every till's commit.

use std::time::{Duration, Instant};

/// A sync this slow is worth a warning on its own.
pub const SLOW: Duration = Duration::from_secs(1);

/// The length of a window.
const WINDOW: Duration = Duration::from_secs(1);

/// The syncs of the current window.
#[derive(Debug, PartialEq)]
pub struct SyncLoad {
    began: Instant,
    syncs: u64,
    /// Groups of commits the syncs answered.
    groups: u64,
    total: Duration,
    longest: Duration,
}

impl SyncLoad {
    pub fn new(now: Instant) -> SyncLoad {
        SyncLoad {
            began: now,
            syncs: 0,
            groups: 0,
            total: Duration::ZERO,
            longest: Duration::ZERO,
        }
    }

    /// Adds a sync that ended at `now` after `took`, answering `groups` groups.
    /// Returns the window's figures when it is over, and starts the next.
    pub fn sync(&mut self, now: Instant, took: Duration, groups: usize) -> Option<SyncLoad> {
        if took >= SLOW {
            tracing::warn!(
                took_ms = took.as_millis() as u64,
                "a WAL sync was slow; commits waited for it"
            );
        }
        self.syncs += 1;
        self.groups += groups as u64;
        self.total += took;
        self.longest = self.longest.max(took);
        (now.duration_since(self.began) >= WINDOW)
            .then(|| std::mem::replace(self, SyncLoad::new(now)))
    }

    /// Logs the window at debug level.
    pub fn log(&self) {
        let average = self.total.as_secs_f64() * 1000.0 / self.syncs.max(1) as f64;
        tracing::debug!(
            syncs = self.syncs,
            groups = self.groups,
            average_ms = (average * 100.0).round() / 100.0,
            longest_ms = self.longest.as_millis() as u64,
            "sqlite sync load"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_window_closes_after_a_second_with_its_syncs_and_the_next_starts_empty() {
        let ms = Duration::from_millis;
        let start = Instant::now();
        let mut load = SyncLoad::new(start);
        assert_eq!(load.sync(start + ms(300), ms(2), 3), None);
        assert_eq!(load.sync(start + ms(600), ms(40), 1), None);
        let window = load.sync(start + ms(1000), ms(1), 2).unwrap();
        assert_eq!((window.syncs, window.groups), (3, 6));
        assert_eq!((window.total, window.longest), (ms(43), ms(40)));
        window.log();
        assert_eq!(load, SyncLoad::new(start + ms(1000)));
    }
}
