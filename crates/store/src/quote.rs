//! Pricing a receipt once.
//!
//! A till calculates a receipt and then commits the same receipt, and the commit has to
//! price it again inside its write transaction: the balance, a budget or a coupon may
//! have changed in between. With many promotions that second pricing was a quarter of
//! the SQLite writer's work. A [`Quote`] is a calculation made outside the transaction
//! together with every input it was made from; the commit reuses its result only when
//! it reads exactly the same inputs inside the transaction. Pricing is a pure function
//! of those inputs, so a reused result is the one the commit would have computed.
//!
//! The inputs: the configuration snapshot (the same one, not an equal one), the
//! receipt as validated, the customer as the engine sees them (balances, tier,
//! segments, card types, profile), what the store said of each coupon code and
//! certificate, and every promotion counter read while leaving out promotions whose
//! limit the receipt would exceed, round by round.

use crate::port::StoreResult;
use crate::service::Reads;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::customer::CustomerFacts;
use tessera_core::ledger::CustomerLedger;
use tessera_core::limits::Usage;
use tessera_core::pricing::{Calculation, CouponRejection, CustomerView, PricingContext};
use tessera_core::receipt::{CustomerRef, ReceiptRequest};
use tessera_core::reward::Certificate;
use tessera_core::snapshot::ConfigSnapshot;

/// Counters read in one round: the keys asked for and what came back.
pub type UsageRead = (Vec<(String, String)>, HashMap<(String, String), Usage>);

/// A calculation and everything it was made from.
#[derive(Debug, Clone)]
pub struct Quote {
    /// The snapshot it was priced against. Weak, so that kept quotes do not keep
    /// replaced configurations alive; the allocation stays while this points at it,
    /// so another snapshot cannot come to have its address.
    pub config: Weak<ConfigSnapshot>,
    pub request: ReceiptRequest,
    pub view: Option<CustomerView>,
    pub coupon_series: HashMap<String, String>,
    pub coupon_rejections: HashMap<String, CouponRejection>,
    pub certificates: HashMap<String, Result<i64, String>>,
    /// The counter reads, in the order they were made.
    pub usage_reads: Vec<UsageRead>,
    /// The promotions left out for their limits.
    pub exhausted: Vec<String>,
    pub calculation: Calculation,
    /// The parts of the answer that depend on the calculation alone, as the server
    /// rendered them when it answered the calculate (opaque to the store; see
    /// [`crate::Committed::pieces`]). Empty when it kept none.
    pub pieces: Vec<Vec<u8>>,
    /// The customer's ledger and facts as the calculate read them, before any
    /// catch-up, when the store versions its accounts ([`CustomerLedger::version`]):
    /// an adapter's commit may use them instead of reading them again once it has
    /// found the account still at that version ([`Quote::ledger_for`]).
    pub ledger: Option<(CustomerLedger, CustomerFacts)>,
}

/// A quote's calculation reused by a commit, with the answer pieces rendered from it.
#[derive(Debug)]
pub struct Replayed {
    pub calculation: Calculation,
    pub pieces: Vec<Vec<u8>>,
}

impl Quote {
    /// The quote of `calculation`, made against `config` for `request` with `view`;
    /// `ctx` is the context it was priced in (its vouchers and exhausted promotions).
    pub fn made(
        config: &Arc<ConfigSnapshot>,
        request: ReceiptRequest,
        view: Option<CustomerView>,
        ctx: PricingContext<'_>,
        usage_reads: Vec<UsageRead>,
        calculation: Calculation,
    ) -> Quote {
        Quote {
            config: Arc::downgrade(config),
            request,
            view,
            coupon_series: ctx.coupon_series,
            coupon_rejections: ctx.coupon_rejections,
            certificates: ctx.certificates,
            usage_reads,
            exhausted: ctx.exhausted,
            calculation,
            pieces: Vec::new(),
            ledger: None,
        }
    }

    /// The quote with the ledger and facts its view was made from (worth keeping
    /// only when the ledger carries a version).
    pub fn with_ledger(mut self, ledger: Option<(CustomerLedger, CustomerFacts)>) -> Quote {
        self.ledger = ledger;
        self
    }

    /// A copy of the ledger and facts the calculate read, when the quote was made for
    /// the same `customer` as the commit's.
    pub fn ledger_for(
        &self,
        customer: &Option<CustomerRef>,
    ) -> Option<(CustomerLedger, CustomerFacts)> {
        if self.request.customer == *customer {
            self.ledger.clone()
        } else {
            None
        }
    }

    /// The quote with the answer pieces rendered from its calculation.
    pub fn with_pieces(mut self, pieces: Vec<Vec<u8>>) -> Quote {
        self.pieces = pieces;
        self
    }

    /// Whether the quote was made from these inputs, all but the counters (see
    /// [`replay`]): the same snapshot, receipt and customer, and vouchers found in the
    /// same state. `ctx` is the commit's context after its vouchers were loaded.
    pub fn fits(
        &self,
        config: &Arc<ConfigSnapshot>,
        request: &ReceiptRequest,
        view: Option<&CustomerView>,
        ctx: &PricingContext<'_>,
    ) -> bool {
        std::ptr::eq(self.config.as_ptr(), Arc::as_ptr(config))
            && self.request == *request
            && self.view.as_ref() == view
            && self.coupon_series == ctx.coupon_series
            && self.coupon_rejections == ctx.coupon_rejections
            && self.certificates == ctx.certificates
    }
}

/// A commit's quote, taken by the first run of the commit: a quote has one owner
/// then, so [`replay`] moves its calculation into the receipt instead of copying it
/// (every priced line, on the writer's thread). A commit run again (its group undone
/// by another job's failure) finds it empty and prices the receipt itself.
#[derive(Default)]
pub struct QuoteSlot(Mutex<Option<Arc<Quote>>>);

impl QuoteSlot {
    pub fn new(quote: Option<Arc<Quote>>) -> QuoteSlot {
        QuoteSlot(Mutex::new(quote))
    }

    /// The quote, once.
    pub fn take(&self) -> Option<Arc<Quote>> {
        self.0.lock().ok().and_then(|mut quote| quote.take())
    }

    /// What `look` makes of the quote, if the slot still holds one, leaving it there
    /// (an adapter preparing parts of the commit's documents before queueing the
    /// write).
    pub fn peek<R>(&self, look: impl FnOnce(&Quote) -> R) -> Option<R> {
        let held = self.0.lock().ok()?;
        held.as_deref().map(look)
    }
}

/// A copy shares the quote (whose calculation is then copied, not moved, by the one
/// that replays it).
impl Clone for QuoteSlot {
    fn clone(&self) -> QuoteSlot {
        QuoteSlot::new(self.0.lock().ok().and_then(|quote| quote.clone()))
    }
}

/// Reads the quote's counters again through `source`; when every round reads what
/// the quote read, marks the same promotions exhausted in `ctx` and answers the
/// quote's calculation (with its answer pieces). Answers `None` (leaving `ctx` as it was) at the first
/// difference: the caller prices the receipt itself.
pub async fn replay(
    quote: Arc<Quote>,
    ctx: &mut PricingContext<'_>,
    source: &mut dyn Reads,
) -> StoreResult<Option<Replayed>> {
    for (keys, read) in &quote.usage_reads {
        if source.usage(keys).await? != *read {
            return Ok(None);
        }
    }
    Ok(Some(match Arc::try_unwrap(quote) {
        Ok(owned) => {
            ctx.exhausted = owned.exhausted;
            Replayed {
                calculation: owned.calculation,
                pieces: owned.pieces,
            }
        }
        Err(shared) => {
            ctx.exhausted = shared.exhausted.clone();
            Replayed {
                calculation: shared.calculation.clone(),
                pieces: shared.pieces.clone(),
            }
        }
    }))
}

/// Passes reads through to `inner` and keeps every counter read, for a [`Quote`].
pub struct Recording<'a> {
    pub inner: &'a mut dyn Reads,
    pub usage_reads: Vec<UsageRead>,
}

#[async_trait::async_trait]
impl Reads for Recording<'_> {
    async fn usage(
        &mut self,
        keys: &[(String, String)],
    ) -> StoreResult<HashMap<(String, String), Usage>> {
        let read = self.inner.usage(keys).await?;
        self.usage_reads.push((keys.to_vec(), read.clone()));
        Ok(read)
    }

    async fn coupons(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
        self.inner.coupons(codes).await
    }

    async fn certificates(
        &mut self,
        codes: &[String],
    ) -> StoreResult<HashMap<String, Certificate>> {
        self.inner.certificates(codes).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tessera_core::catalog::Store;
    use tessera_core::program::Program;

    /// Counters as a store holds them; every read is answered from `held`.
    struct Counters {
        held: HashMap<(String, String), Usage>,
    }

    #[async_trait::async_trait]
    impl Reads for Counters {
        async fn usage(
            &mut self,
            keys: &[(String, String)],
        ) -> StoreResult<HashMap<(String, String), Usage>> {
            Ok(keys
                .iter()
                .filter_map(|k| self.held.get(k).map(|u| (k.clone(), *u)))
                .collect())
        }

        async fn coupons(
            &mut self,
            _: &[String],
        ) -> StoreResult<HashMap<String, (Coupon, CouponSeries)>> {
            Ok(HashMap::new())
        }

        async fn certificates(
            &mut self,
            _: &[String],
        ) -> StoreResult<HashMap<String, Certificate>> {
            Ok(HashMap::new())
        }
    }

    fn key() -> (String, String) {
        ("budget".to_string(), "total".to_string())
    }

    #[tokio::test]
    async fn a_quote_is_replayed_only_while_its_counters_read_the_same() {
        let store: Store = serde_json::from_value(serde_json::json!({
            "store_id": "s1", "name": "One", "timezone": "Europe/Moscow", "region": null, "tags": []
        }))
        .unwrap();
        let config = Arc::new(ConfigSnapshot::new(
            Program::default(),
            vec![store],
            Vec::new(),
            Vec::new(),
        ));
        let request: ReceiptRequest = serde_json::from_value(serde_json::json!({
            "receipt_id": "r1", "store_id": "s1", "terminal_id": "t1",
            "at": "2026-12-07T10:00:00+03:00", "redeem": "none",
            "lines": [{"line": 1, "sku": "A", "qty": 1000, "price": 100}]
        }))
        .unwrap();
        let mut ctx = config.context(&request).unwrap();
        let used = Usage {
            uses: 2,
            ..Usage::default()
        };
        let mut held = Counters {
            held: HashMap::from([(key(), used)]),
        };
        let mut recording = Recording {
            inner: &mut held,
            usage_reads: Vec::new(),
        };
        recording.usage(&[key()]).await.unwrap();
        let usage_reads = recording.usage_reads;
        ctx.exhausted.push("budget".to_string());
        let calculation = tessera_core::pricing::calculate(&ctx, &request, None).unwrap();
        let quote = Arc::new(
            Quote::made(
                &config,
                request.clone(),
                None,
                ctx,
                usage_reads,
                calculation,
            )
            .with_pieces(vec![b"piece".to_vec()]),
        );

        // The same snapshot, receipt and counters: the quote's calculation and its
        // exhausted promotions.
        let mut ctx = config.context(&request).unwrap();
        assert!(quote.fits(&config, &request, None, &ctx));
        let replayed = replay(quote.clone(), &mut ctx, &mut held)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(replayed.calculation, quote.calculation);
        assert_eq!(replayed.pieces, vec![b"piece".to_vec()]);
        assert_eq!(ctx.exhausted, vec!["budget".to_string()]);

        // A counter moved since: priced again, the context untouched.
        held.held.insert(key(), Usage { uses: 3, ..used });
        let mut ctx = config.context(&request).unwrap();
        assert!(replay(quote.clone(), &mut ctx, &mut held)
            .await
            .unwrap()
            .is_none());
        assert!(ctx.exhausted.is_empty());

        // Another snapshot (equal, but not the one priced against) or another receipt.
        let other = Arc::new((*config).clone());
        assert!(!quote.fits(&other, &request, None, &other.context(&request).unwrap()));
        let mut changed = request.clone();
        changed.lines[0].price = 200;
        assert!(!quote.fits(&config, &changed, None, &config.context(&changed).unwrap()));

        // Taken from its slot by its only owner, and only once: the calculation and
        // the exhausted promotions move out unchanged.
        held.held.insert(key(), used);
        let expected = quote.calculation.clone();
        let slot = QuoteSlot::new(Some(quote));
        let copy = slot.clone();
        assert!(copy.take().is_some());
        let taken = slot.take().unwrap();
        assert!(slot.take().is_none());
        assert_eq!(Arc::strong_count(&taken), 1);
        let mut ctx = config.context(&request).unwrap();
        let moved = replay(taken, &mut ctx, &mut held).await.unwrap().unwrap();
        assert_eq!(moved.calculation, expected);
        assert_eq!(moved.pieces, vec![b"piece".to_vec()]);
        assert_eq!(ctx.exhausted, vec!["budget".to_string()]);
    }
}
