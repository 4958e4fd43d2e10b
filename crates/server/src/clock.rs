//! Time and ids come from here, so that tests can control them.

use chrono::{DateTime, Utc};
use rand::Rng;
use std::sync::Mutex;

/// The source of the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock tests move by hand.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut now) = self.0.lock() {
            *now = at;
        }
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|now| *now).unwrap_or_else(|_| Utc::now())
    }
}

/// A new coupon or certificate code: 75 bits from the thread's CSPRNG (ChaCha,
/// seeded by the operating system) and a check character.
pub fn new_code() -> String {
    tessera_core::coupon::code_from_random(rand::rng().random::<u128>())
}

/// The source of codes handed to commits.
pub fn code_source() -> tessera_store::CodeSource {
    std::sync::Arc::new(new_code)
}

/// A new customer id: `cus_` and 26 Crockford base-32 characters, time-ordered
/// (48 bits of milliseconds) with 80 random bits, like a ULID.
pub fn new_customer_id(now: DateTime<Utc>) -> String {
    new_id("cus", now)
}

/// A new id of any kind: `<prefix>_` and 26 Crockford base-32 characters,
/// time-ordered (48 bits of milliseconds) with 80 random bits, like a ULID (merges
/// `mrg_`, review candidates `cand_`, customers `cus_`).
pub fn new_id(prefix: &str, now: DateTime<Utc>) -> String {
    let random: u128 = rand::rng().random::<u128>() & ((1 << 80) - 1);
    format_id(prefix, now, random)
}

/// Ids for a bulk write (an import): like [`new_id`], but each one the previous plus
/// one from a random start (a monotonic ULID), so that the rows keyed by them are
/// appended to their indexes instead of scattered over them.
pub fn monotonic_ids(now: DateTime<Utc>) -> impl FnMut(&str) -> String + Send {
    // 16 bits of headroom: 2^64 ids before the counter could wrap.
    let mut next: u128 = rand::rng().random::<u128>() & ((1 << 64) - 1);
    move |prefix| {
        next += 1;
        format_id(prefix, now, next)
    }
}

fn format_id(prefix: &str, now: DateTime<Utc>, random: u128) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let millis = now.timestamp_millis().max(0) as u128 & ((1 << 48) - 1);
    let mut value = (millis << 80) | (random & ((1 << 80) - 1));
    let mut chars = [b'0'; 26];
    for slot in chars.iter_mut().rev() {
        *slot = ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    format!("{prefix}_{}", String::from_utf8_lossy(&chars))
}
