//! In-process rate limiters: one GCRA state per key (an API key id, a customer), kept
//! while it matters. Each server process limits on its own, so N processes behind a
//! load balancer admit up to N times the rate.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use tessera_core::rate::Rate;

/// States kept before idle ones are forgotten.
const PRUNE_ABOVE: usize = 10_000;

/// A rate limit over many keys.
pub struct Limiter {
    rate: Option<Rate>,
    states: Mutex<HashMap<String, i64>>,
}

impl Limiter {
    /// A limiter of `rate`; `None` admits everything.
    pub fn new(rate: Option<Rate>) -> Limiter {
        Limiter {
            rate,
            states: Mutex::new(HashMap::new()),
        }
    }

    /// Admits a request of `key` at `now`, or answers the milliseconds to wait.
    pub fn admit(&self, key: &str, now: DateTime<Utc>) -> Result<(), i64> {
        let Some(rate) = self.rate else {
            return Ok(());
        };
        let now_ms = now.timestamp_millis();
        let mut states = match self.states.lock() {
            Ok(states) => states,
            Err(poisoned) => poisoned.into_inner(),
        };
        if states.len() > PRUNE_ABOVE {
            states.retain(|_, tat| !rate.is_idle(*tat, now_ms));
        }
        match states.get_mut(key) {
            Some(tat) => rate.admit(tat, now_ms),
            None => {
                let mut tat = 0;
                rate.admit(&mut tat, now_ms)?;
                states.insert(key.to_string(), tat);
                Ok(())
            }
        }
    }
}

/// The wrong-guess throttle (`tessera_core::otp::Throttle`, as stored per real user or
/// customer) kept in memory for names and phones that belong to nobody, so that an
/// unknown name is locked after as many guesses, for as long, as a real one: the
/// answers tell nobody which exist.
#[derive(Default)]
pub struct GuessThrottle {
    states: Mutex<HashMap<String, tessera_core::otp::ThrottleState>>,
}

impl GuessThrottle {
    /// Counts a wrong guess at `now` (unix seconds); `Err(retry_after)` while locked.
    pub fn guess(&self, key: &str, now: i64) -> Result<(), i64> {
        use tessera_core::otp::{Attempt, Throttle};
        let throttle = Throttle::default();
        let mut states = match self.states.lock() {
            Ok(states) => states,
            Err(poisoned) => poisoned.into_inner(),
        };
        if states.len() > PRUNE_ABOVE {
            states.retain(|_, s| {
                s.locked_until.is_some_and(|until| until > now)
                    || s.window_started_at
                        .is_some_and(|start| now - start < throttle.window_seconds)
            });
        }
        let state = states.entry(key.to_string()).or_default();
        if let Attempt::Refused { retry_after } = throttle.check(state, now) {
            return Err(retry_after);
        }
        throttle.record_failure(state, now);
        Ok(())
    }
}
