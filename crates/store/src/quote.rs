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
use std::sync::{Arc, Weak};
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::limits::Usage;
use tessera_core::pricing::{Calculation, CouponRejection, CustomerView, PricingContext};
use tessera_core::receipt::ReceiptRequest;
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
}

impl Quote {
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
            && ctx.exhausted.is_empty()
            && self.coupon_series == ctx.coupon_series
            && self.coupon_rejections == ctx.coupon_rejections
            && self.certificates == ctx.certificates
    }
}

/// Reads the quote's counters again through `source`; when every round reads what
/// the quote read, marks the same promotions exhausted in `ctx` and answers the
/// quote's calculation. Answers `None` (leaving `ctx` as it was) at the first
/// difference: the caller prices the receipt itself.
pub async fn replay(
    quote: &Quote,
    ctx: &mut PricingContext<'_>,
    source: &mut dyn Reads,
) -> StoreResult<Option<Calculation>> {
    for (keys, read) in &quote.usage_reads {
        if source.usage(keys).await? != *read {
            return Ok(None);
        }
    }
    ctx.exhausted = quote.exhausted.clone();
    Ok(Some(quote.calculation.clone()))
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
