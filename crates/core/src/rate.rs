//! Rate limits as the generic cell rate algorithm (GCRA): a burst of requests is let
//! through at once, then one request per interval. The state of a limited thing is a
//! single instant (the "theoretical arrival time"), so a limiter holds one integer per
//! key and time is a parameter.

use crate::error::CoreError;
use serde::{Deserialize, Serialize};

/// How many requests may come at once (`burst`) and how fast the allowance refills
/// (one request per `interval_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub burst: u32,
    pub interval_ms: i64,
}

impl Rate {
    /// `per_second` requests a second on average, `burst` at once.
    pub fn per_second(per_second: u32, burst: u32) -> Rate {
        Rate {
            burst,
            interval_ms: 1000 / i64::from(per_second.max(1)),
        }
    }

    /// At least one request at once, and an interval of 1 ms to one day.
    pub fn validate(&self, field: &str) -> Result<(), CoreError> {
        if self.burst == 0 {
            return Err(CoreError::invalid(
                format!("{field}.burst"),
                "must be at least 1",
            ));
        }
        if !(1..=86_400_000).contains(&self.interval_ms) {
            return Err(CoreError::invalid(
                format!("{field}.interval_ms"),
                "must be 1 to 86400000 (one day)",
            ));
        }
        Ok(())
    }

    /// Judges a request at `now_ms` against the state `tat` (0 for a key never seen):
    /// `Ok` admits it and moves the state on; `Err` refuses it with the milliseconds
    /// after which the same request would be admitted, and leaves the state as it was.
    pub fn admit(&self, tat: &mut i64, now_ms: i64) -> Result<(), i64> {
        let tolerance = i64::from(self.burst.saturating_sub(1)).saturating_mul(self.interval_ms);
        let start = (*tat).max(now_ms);
        let wait = start - now_ms - tolerance;
        if wait > 0 {
            return Err(wait);
        }
        *tat = start.saturating_add(self.interval_ms);
        Ok(())
    }

    /// Whether a state is no different from a fresh one at `now_ms` (a limiter may
    /// forget it).
    pub fn is_idle(&self, tat: i64, now_ms: i64) -> bool {
        tat <= now_ms
    }
}

/// Whole seconds to wait for a refusal of `wait_ms`, rounded up, at least 1: the
/// value of an HTTP `Retry-After` header.
pub fn retry_after_seconds(wait_ms: i64) -> i64 {
    ((wait_ms.max(1) + 999) / 1000).max(1)
}
