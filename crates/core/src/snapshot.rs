//! A consistent snapshot of everything a receipt is priced against: the program,
//! stores, products and promotions. Built once per configuration change and shared.

use crate::catalog::{Product, Store};
use crate::error::{CoreError, ErrorCode};
use crate::pricing::PricingContext;
use crate::program::Program;
use crate::promotion::Promotion;
use chrono_tz::Tz;
use std::collections::HashMap;

/// The configuration the engine prices against.
#[derive(Debug, Clone, Default)]
pub struct ConfigSnapshot {
    pub program: Program,
    pub stores: HashMap<String, (Store, Tz)>,
    pub products: HashMap<String, Product>,
    /// Enabled promotions in evaluation order.
    pub promotions: Vec<Promotion>,
}

impl ConfigSnapshot {
    /// Builds a snapshot; stores with an unknown time zone are skipped (they cannot be
    /// stored in the first place) and disabled promotions are left out.
    pub fn new(
        program: Program,
        stores: Vec<Store>,
        products: Vec<Product>,
        promotions: Vec<Promotion>,
    ) -> Self {
        let stores = stores
            .into_iter()
            .filter_map(|s| s.tz().ok().map(|tz| (s.store_id.clone(), (s, tz))))
            .collect();
        let products = products.into_iter().map(|p| (p.sku.clone(), p)).collect();
        let mut promotions: Vec<Promotion> = promotions.into_iter().filter(|p| p.enabled).collect();
        promotions.sort_by(Promotion::evaluation_order);
        ConfigSnapshot {
            program,
            stores,
            products,
            promotions,
        }
    }

    /// The pricing context for a receipt of `store_id`.
    pub fn context(&self, store_id: &str) -> Result<PricingContext<'_>, CoreError> {
        let (store, tz) = self.stores.get(store_id).ok_or_else(|| {
            CoreError::field(
                ErrorCode::UnknownStore,
                "store_id",
                format!("no store {store_id:?} is configured"),
            )
        })?;
        Ok(PricingContext {
            program: &self.program,
            store,
            tz: *tz,
            products: &self.products,
            promotions: &self.promotions,
        })
    }
}
