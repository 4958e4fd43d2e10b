//! One kind of call's latencies second by second, so that a run's stalls show where
//! they happened (a server's start, a WAL restart, the database's checkpoint) rather
//! than only in its percentiles.

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::time::Instant;

/// Latencies (µs) by the second of the run in which each call was due (or sent).
/// One significant figure (about 6% apart) keeps an hour's run to a few megabytes.
pub struct Timeline {
    started: Instant,
    seconds: Vec<Histogram<u32>>,
}

impl Timeline {
    pub fn new(started: Instant) -> Timeline {
        Timeline {
            started,
            seconds: Vec::new(),
        }
    }

    /// Records a call that started at `at` and took `micros`.
    pub fn record(&mut self, at: Instant, micros: u64) {
        let second = at.saturating_duration_since(self.started).as_secs() as usize;
        while self.seconds.len() <= second {
            match Histogram::new_with_bounds(1, 60_000_000, 1) {
                Ok(histogram) => self.seconds.push(histogram),
                Err(_) => return,
            }
        }
        let _ = self.seconds[second].record(micros.clamp(1, 60_000_000));
    }

    /// Each second's calls, p99 and longest, in milliseconds.
    pub fn summary(&self) -> Vec<Value> {
        self.seconds
            .iter()
            .enumerate()
            .map(|(second, h)| {
                json!({
                    "second": second,
                    "ok": h.len(),
                    "p99_ms": h.value_at_quantile(0.99) as f64 / 1000.0,
                    "max_ms": h.max() as f64 / 1000.0,
                })
            })
            .collect()
    }

    /// The `n` seconds with the highest p99, highest first: (second, p99 in ms).
    pub fn slowest(&self, n: usize) -> Vec<(usize, f64)> {
        let mut seconds: Vec<(usize, f64)> = self
            .seconds
            .iter()
            .enumerate()
            .filter(|(_, h)| !h.is_empty())
            .map(|(second, h)| (second, h.value_at_quantile(0.99) as f64 / 1000.0))
            .collect();
        seconds.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        seconds.truncate(n);
        seconds
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sorts_calls_into_the_second_they_started_in() {
        let started = Instant::now();
        let mut timeline = Timeline::new(started);
        for ms in [0, 400, 999] {
            timeline.record(started + Duration::from_millis(ms), 1_000);
        }
        timeline.record(started + Duration::from_millis(2_500), 40_000);
        let summary = timeline.summary();
        let counts: Vec<u64> = summary.iter().map(|s| s["ok"].as_u64().unwrap()).collect();
        assert_eq!(counts, [3, 0, 1]);
        assert_eq!(summary[2]["second"], 2);
        // One significant figure: within about 6%.
        let p99 = summary[2]["p99_ms"].as_f64().unwrap();
        assert!((38.0..=42.5).contains(&p99), "{p99}");
        assert_eq!(
            timeline.slowest(5).iter().map(|s| s.0).collect::<Vec<_>>(),
            [2, 0]
        );
    }
}
