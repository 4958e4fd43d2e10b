//! A consistent snapshot of everything a receipt is priced against: the program,
//! stores, products and promotions. Built once per configuration change and shared.

use crate::catalog::{Product, Store};
use crate::error::{CoreError, ErrorCode};
use crate::fast_hash::FastMap;
use crate::pricing::PricingContext;
use crate::program::Program;
use crate::promotion::{ItemMatch, Promotion};
use crate::receipt::ReceiptRequest;
use chrono_tz::Tz;
use std::collections::HashMap;

/// The configuration the engine prices against.
#[derive(Debug, Clone, Default)]
pub struct ConfigSnapshot {
    pub program: Program,
    pub stores: FastMap<String, (Store, Tz)>,
    pub products: FastMap<String, Product>,
    /// Enabled promotions in evaluation order.
    promotions: Vec<Promotion>,
    /// For each store, the positions in `promotions` of those whose scope includes it:
    /// a receipt never looks at promotions of other stores.
    by_store: FastMap<String, Vec<usize>>,
    /// For each line attribute (a SKU, category, brand or tag), the
    /// positions of the promotions that can only touch lines having it; a receipt
    /// looks only at those its lines' attributes name, and at `ungated` ones.
    /// One map per attribute kind (see [`Attribute`]), so that a receipt looks its
    /// lines up by `&str` without building keys.
    by_attribute: [FastMap<String, Vec<usize>>; 4],
    /// For each catalogue product that gates some promotion, the promotions its lines
    /// make relevant (by its SKU, category, brand or tags), as a set of positions in
    /// `promotions`: one lookup a line instead of one per attribute.
    by_product: FastMap<String, Positions>,
    /// The promotions that may act on any receipt.
    ungated: Positions,
}

/// A set of positions in the snapshot's promotions, one bit each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Positions(Vec<u64>);

impl Positions {
    fn empty(len: usize) -> Positions {
        Positions(vec![0; len.div_ceil(64)])
    }

    fn insert(&mut self, position: usize) {
        self.0[position / 64] |= 1 << (position % 64);
    }

    fn contains(&self, position: usize) -> bool {
        self.0[position / 64] & (1 << (position % 64)) != 0
    }

    fn union(&mut self, other: &Positions) {
        for (word, more) in self.0.iter_mut().zip(&other.0) {
            *word |= more;
        }
    }

    fn is_empty(&self) -> bool {
        self.0.iter().all(|&word| word == 0)
    }
}

/// The attributes one of which a line must have to be selected by `items`, or `None`
/// when no such set exists (`not`, or a part without one).
/// The kinds of line attribute a promotion can be gated by.
#[derive(Clone, Copy)]
enum Attribute {
    Sku = 0,
    Category = 1,
    Brand = 2,
    Tag = 3,
}

fn gate(items: &ItemMatch) -> Option<Vec<(Attribute, String)>> {
    let keys = |kind: Attribute, values: &[String]| {
        Some(values.iter().map(|v| (kind, v.clone())).collect())
    };
    match items {
        ItemMatch::Sku(v) => keys(Attribute::Sku, v),
        ItemMatch::Category(v) => keys(Attribute::Category, v),
        ItemMatch::Brand(v) => keys(Attribute::Brand, v),
        ItemMatch::Tag(v) => keys(Attribute::Tag, v),
        // A line matching all parts has the attributes of any gated part.
        ItemMatch::All(parts) => parts.iter().find_map(gate),
        // A line matching any part has the attributes of that part.
        ItemMatch::Any(parts) => parts
            .iter()
            .map(gate)
            .collect::<Option<Vec<_>>>()
            .map(|g| g.concat()),
        ItemMatch::Not(_) => None,
    }
}

/// The attributes that gate a promotion: it can change a receipt only if a line has
/// one of them. `None` when some effect may act on any receipt.
fn promotion_gate(promotion: &Promotion) -> Option<Vec<(Attribute, String)>> {
    let mut keys = Vec::new();
    for effect in &promotion.effects {
        keys.extend(gate(effect.limited_to()?)?);
    }
    Some(keys)
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
        let promotions: Vec<Promotion> = promotions.into_iter().filter(|p| p.enabled).collect();
        let mut snapshot = ConfigSnapshot {
            program,
            stores,
            products,
            promotions,
            by_store: FastMap::default(),
            by_attribute: Default::default(),
            by_product: FastMap::default(),
            ungated: Positions::default(),
        };
        snapshot.index();
        snapshot
    }

    /// Sorts the promotions into evaluation order and indexes them by store.
    fn index(&mut self) {
        self.promotions.sort_by(Promotion::evaluation_order);
        self.by_store = self
            .stores
            .iter()
            .map(|(store_id, (store, _))| {
                let positions = (0..self.promotions.len())
                    .filter(|&i| self.promotions[i].scope.includes(store))
                    .collect();
                (store_id.clone(), positions)
            })
            .collect();
        self.by_attribute = Default::default();
        self.ungated = Positions::empty(self.promotions.len());
        for (position, promotion) in self.promotions.iter().enumerate() {
            match promotion_gate(promotion) {
                Some(keys) => {
                    for (kind, value) in keys {
                        let positions = self.by_attribute[kind as usize].entry(value).or_default();
                        if positions.last() != Some(&position) {
                            positions.push(position);
                        }
                    }
                }
                None => self.ungated.insert(position),
            }
        }
        self.by_product = self
            .products
            .iter()
            .filter_map(|(sku, product)| {
                let mut positions = Positions::empty(self.promotions.len());
                let mut mark =
                    |kind: Attribute, value: &str| self.gated(&mut positions, kind, value);
                mark(Attribute::Sku, sku);
                product
                    .category
                    .iter()
                    .for_each(|c| mark(Attribute::Category, c));
                product.brand.iter().for_each(|b| mark(Attribute::Brand, b));
                product.tags.iter().for_each(|t| mark(Attribute::Tag, t));
                (!positions.is_empty()).then(|| (sku.clone(), positions))
            })
            .collect();
    }

    /// Adds to `positions` the promotions gated by the attribute `kind` = `value`.
    fn gated(&self, positions: &mut Positions, kind: Attribute, value: &str) {
        for &position in self.by_attribute[kind as usize]
            .get(value)
            .into_iter()
            .flatten()
        {
            positions.insert(position);
        }
    }

    /// This snapshot with a draft promotion live in it (enabled, replacing a promotion of
    /// the same id), for previews.
    pub fn with_draft(&self, mut draft: Promotion) -> ConfigSnapshot {
        draft.enabled = true;
        let mut snapshot = self.clone();
        snapshot
            .promotions
            .retain(|p| p.promotion_id != draft.promotion_id);
        snapshot.promotions.push(draft);
        snapshot.index();
        snapshot
    }

    /// The pricing context for a receipt: its store, and only the promotions that can
    /// act on it (in scope for the store, and either ungated or gated by an attribute of
    /// one of its lines), in evaluation order.
    pub fn context(&self, receipt: &ReceiptRequest) -> Result<PricingContext<'_>, CoreError> {
        let store_id = receipt.store_id.as_str();
        let (store, tz) = self.stores.get(store_id).ok_or_else(|| {
            CoreError::field(
                ErrorCode::UnknownStore,
                "store_id",
                format!("no store {store_id:?} is configured"),
            )
        })?;
        let mut relevant = self.ungated.clone();
        for line in &receipt.lines {
            match self.by_product.get(&line.sku) {
                Some(positions) => relevant.union(positions),
                // A SKU the catalogue does not know has no category, brand or tags: only
                // promotions listing the SKU itself can select its line. (A known
                // product gating nothing has no entry, and no promotion lists its SKU.)
                None => self.gated(&mut relevant, Attribute::Sku, &line.sku),
            }
        }
        let promotions = self
            .by_store
            .get(store_id)
            .map(|positions| {
                positions
                    .iter()
                    .filter(|&&i| relevant.contains(i))
                    .map(|&i| &self.promotions[i])
                    .collect()
            })
            .unwrap_or_default();
        Ok(PricingContext {
            program: &self.program,
            store,
            tz: *tz,
            products: &self.products,
            promotions,
            exhausted: Vec::new(),
            coupon_series: HashMap::new(),
            coupon_rejections: HashMap::new(),
            certificates: HashMap::new(),
        })
    }
}
