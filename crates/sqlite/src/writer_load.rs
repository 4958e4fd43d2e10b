//! How busy the writer is, logged once a second at debug level
//! (`RUST_LOG=tessera_sqlite=debug`): the first thing to look at when commits slow
//! down. A writer busy nearly all of every second is the bottleneck; one that is not
//! leaves the wait to the CPU or the disk elsewhere.

use std::time::Duration;

/// The writer's work over the current window.
#[derive(Debug, Default, PartialEq)]
pub struct WriterLoad {
    /// Time since the window began.
    elapsed: Duration,
    groups: u64,
    jobs: u64,
    /// Time spent running groups, `COMMIT` included.
    busy: Duration,
    /// Time spent in `COMMIT` (writing the WAL frames).
    commit: Duration,
    longest: Duration,
    /// WAL restarts (see [`crate::wal_restart`]) and the time they took.
    restarts: u64,
    restart: Duration,
}

/// The length of a window.
const WINDOW: Duration = Duration::from_secs(1);

impl WriterLoad {
    /// Adds one group that ran `jobs` jobs in `busy` (`commit` of it in `COMMIT`), after
    /// `idle` without work. Returns the window's figures when it is over, and starts
    /// the next.
    pub fn group(
        &mut self,
        jobs: usize,
        idle: Duration,
        busy: Duration,
        commit: Duration,
    ) -> Option<WriterLoad> {
        self.elapsed += idle + busy;
        self.groups += 1;
        self.jobs += jobs as u64;
        self.busy += busy;
        self.commit += commit;
        self.longest = self.longest.max(busy);
        (self.elapsed >= WINDOW).then(|| std::mem::take(self))
    }

    /// Adds a WAL restart that held the writer for `took` (busy time, counted in the
    /// window that the next group closes).
    pub fn restart(&mut self, took: Duration) {
        self.elapsed += took;
        self.busy += took;
        self.restarts += 1;
        self.restart += took;
        self.longest = self.longest.max(took);
    }

    /// Logs the window at debug level.
    pub fn log(&self) {
        let share = self.busy.as_secs_f64() / self.elapsed.as_secs_f64().max(f64::EPSILON);
        tracing::debug!(
            groups = self.groups,
            jobs = self.jobs,
            busy_percent = (share * 100.0).round(),
            busy_ms = self.busy.as_millis() as u64,
            commit_ms = self.commit.as_millis() as u64,
            longest_group_ms = self.longest.as_millis() as u64,
            wal_restarts = self.restarts,
            wal_restart_ms = self.restart.as_millis() as u64,
            "sqlite writer load"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_window_closes_after_a_second_with_its_sums_and_the_next_starts_empty() {
        let ms = Duration::from_millis;
        let mut load = WriterLoad::default();
        assert_eq!(load.group(10, ms(100), ms(300), ms(120)), None);
        let window = load.group(5, ms(200), ms(400), ms(150)).unwrap();
        assert_eq!(window.groups, 2);
        assert_eq!(window.jobs, 15);
        assert_eq!(window.busy, ms(700));
        assert_eq!(window.commit, ms(270));
        assert_eq!(window.longest, ms(400));
        assert_eq!(window.elapsed, ms(1000));
        assert_eq!(window.restarts, 0);
        window.log();
        assert_eq!(load, WriterLoad::default());
    }

    #[test]
    fn a_wal_restart_counts_as_busy_time_and_as_the_longest_hold() {
        let ms = Duration::from_millis;
        let mut load = WriterLoad::default();
        assert_eq!(load.group(10, ms(100), ms(5), ms(2)), None);
        load.restart(ms(30));
        let window = load.group(3, ms(900), ms(4), ms(1)).unwrap();
        assert_eq!((window.restarts, window.restart), (1, ms(30)));
        assert_eq!(window.busy, ms(39));
        assert_eq!(window.longest, ms(30));
        assert_eq!(window.elapsed, ms(1039));
    }
}
