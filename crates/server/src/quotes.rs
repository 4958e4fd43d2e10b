//! Calculations kept for the commit of the same receipt (see [`tessera_store::quote`]):
//! a till calculates and then commits, and the commit reuses the calculation when it
//! finds the same inputs inside its transaction.
//!
//! Kept in memory, per process, by receipt id: at most [`CAPACITY`], each for
//! [`FRESH_FOR`], taken by the first commit of its receipt. A commit that finds none
//! (another process calculated it, it was evicted, the till never calculated) prices
//! the receipt itself, as every commit did before.

use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tessera_store::quote::Quote;

/// The most calculations kept: a chain's tills each have one receipt open at a time.
pub const CAPACITY: usize = 2048;
/// How long a calculation waits for its commit.
pub const FRESH_FOR: Duration = Duration::minutes(5);

/// The kept calculations.
#[derive(Default)]
pub struct Quotes {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By receipt id: when it was made, its number, the quote.
    by_receipt: HashMap<String, (DateTime<Utc>, u64, Arc<Quote>)>,
    /// Receipt ids with the number of their entry, oldest first.
    order: VecDeque<(String, u64)>,
    next: u64,
}

impl Quotes {
    /// Keeps `quote` for the receipt's commit, in place of an earlier one.
    pub fn put(&self, quote: Quote, now: DateTime<Utc>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let receipt_id = quote.request.receipt_id.clone();
        inner.next += 1;
        let number = inner.next;
        inner.order.push_back((receipt_id.clone(), number));
        inner
            .by_receipt
            .insert(receipt_id, (now, number, Arc::new(quote)));
        while inner.by_receipt.len() > CAPACITY || inner.order.len() > 2 * CAPACITY {
            let Some((oldest, number)) = inner.order.pop_front() else {
                break;
            };
            if inner.by_receipt.get(&oldest).is_some_and(|e| e.1 == number) {
                inner.by_receipt.remove(&oldest);
            }
        }
    }

    /// The receipt's calculation, if one was made in the last [`FRESH_FOR`]; it is
    /// given out once.
    pub fn take(&self, receipt_id: &str, now: DateTime<Utc>) -> Option<Arc<Quote>> {
        let (made, _, quote) = self.inner.lock().ok()?.by_receipt.remove(receipt_id)?;
        (now - made <= FRESH_FOR).then_some(quote)
    }

    /// How many are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().map(|i| i.by_receipt.len()).unwrap_or(0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tessera_core::pricing::Calculation;
    use tessera_core::receipt::ReceiptRequest;
    use tessera_core::snapshot::ConfigSnapshot;

    fn quote(receipt_id: &str) -> Quote {
        let request: ReceiptRequest = serde_json::from_value(serde_json::json!({
            "receipt_id": receipt_id, "store_id": "s1", "terminal_id": "t1",
            "at": "2026-12-07T10:00:00+00:00",
            "lines": [{"line": 1, "sku": "A", "qty": 1000, "price": 100}], "redeem": "none"
        }))
        .unwrap();
        Quote {
            config: Arc::downgrade(&Arc::new(ConfigSnapshot::default())),
            request,
            view: None,
            coupon_series: HashMap::new(),
            coupon_rejections: HashMap::new(),
            certificates: HashMap::new(),
            usage_reads: Vec::new(),
            exhausted: Vec::new(),
            calculation: Calculation::default(),
            pieces: Vec::new(),
            ledger: None,
        }
    }

    #[test]
    fn a_quote_is_taken_once_and_only_while_fresh() {
        let quotes = Quotes::default();
        let now: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        quotes.put(quote("r1"), now);
        quotes.put(quote("r2"), now);
        assert!(quotes.take("r1", now + Duration::minutes(4)).is_some());
        assert!(quotes.take("r1", now).is_none());
        assert!(quotes
            .take("r2", now + FRESH_FOR + Duration::seconds(1))
            .is_none());
        assert_eq!(quotes.len(), 0);
    }

    #[test]
    fn the_oldest_go_first_when_full_and_a_new_quote_replaces_the_old() {
        let quotes = Quotes::default();
        let now: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
        for i in 0..CAPACITY + 10 {
            quotes.put(quote(&format!("r{i}")), now);
        }
        assert_eq!(quotes.len(), CAPACITY);
        assert!(quotes.take("r0", now).is_none());
        assert!(quotes.take("r9", now).is_none());
        assert!(quotes.take("r10", now).is_some());
        // A receipt calculated again keeps only its newest quote, which eviction of
        // its older entry in the queue does not remove.
        quotes.put(quote("again"), now);
        for i in 0..CAPACITY - 1 {
            quotes.put(quote(&format!("x{i}")), now);
        }
        quotes.put(quote("again"), now);
        for i in 0..10 {
            quotes.put(quote(&format!("y{i}")), now);
        }
        assert!(quotes.take("again", now).is_some());
    }
}
