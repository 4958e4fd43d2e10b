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
