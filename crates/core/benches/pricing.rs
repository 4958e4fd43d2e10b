//! Prices realistic receipts in a loop and prints throughput and per-receipt time.
//! `cargo bench -p tessera-core` (no harness: a program that prints figures).

use chrono::{TimeZone, Utc};
use std::hint::black_box;
use std::time::Instant;
use tessera_core::catalog::{Product, Store};
use tessera_core::pricing::{calculate, CustomerView};
use tessera_core::program::Program;
use tessera_core::promotion::{Conditions, Effect, ItemMatch, Percent, Promotion, Schedule};
use tessera_core::receipt::{CustomerRef, ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::snapshot::ConfigSnapshot;

fn main() {
    let categories = ["shoes", "bags", "clothing", "cosmetics", "groceries"];
    let products: Vec<Product> = (0..3000)
        .map(|i| Product {
            sku: format!("SKU-{i:06}"),
            name: format!("product {i}"),
            category: Some(categories[i % categories.len()].to_string()),
            brand: Some(format!("brand-{}", i % 40)),
            tags: vec![if i % 7 == 0 { "new" } else { "core" }.to_string()],
            no_points_payment: i % 33 == 0,
        })
        .collect();
    let store = Store {
        store_id: "s1".into(),
        name: "Store".into(),
        timezone: "Asia/Vladivostok".into(),
        region: None,
        tags: vec![],
    };
    let mut promotions: Vec<Promotion> = categories
        .iter()
        .enumerate()
        .map(|(i, category)| Promotion {
            promotion_id: format!("off-{category}"),
            name: format!("{category} off"),
            enabled: true,
            priority: 100 - i as i32,
            stacking: Default::default(),
            group: None,
            scope: Default::default(),
            audience: Default::default(),
            schedule: Schedule::default(),
            conditions: Conditions {
                min_amount: Some(10_000 * i as i64),
                items: Vec::new(),
            },
            effects: vec![Effect::PercentOff {
                percent: Percent(500 + 100 * i as i64),
                items: Some(ItemMatch::All(vec![
                    ItemMatch::Category(vec![category.to_string()]),
                    ItemMatch::Not(Box::new(ItemMatch::Tag(vec!["new".into()]))),
                ])),
            }],
        })
        .collect();
    promotions.push(Promotion {
        promotion_id: "earn".into(),
        name: "earn".into(),
        enabled: true,
        priority: 0,
        stacking: Default::default(),
        group: None,
        scope: Default::default(),
        audience: Default::default(),
        schedule: Schedule::default(),
        conditions: Conditions::default(),
        effects: vec![Effect::EarnPoints {
            percent: Percent(500),
            items: None,
        }],
    });
    let program = Program {
        max_redeem_percent: 50,
        ..Program::default()
    };
    let snapshot = ConfigSnapshot::new(program, vec![store], products, promotions);
    let ctx = match snapshot.context("s1") {
        Ok(ctx) => ctx,
        Err(error) => return eprintln!("setup failed: {error}"),
    };
    let at = Utc
        .with_ymd_and_hms(2026, 3, 10, 9, 0, 0)
        .single()
        .unwrap_or_default()
        .fixed_offset();
    let receipts: Vec<ReceiptRequest> = (0..1000)
        .map(|r| ReceiptRequest {
            receipt_id: format!("r{r}"),
            store_id: "s1".into(),
            terminal_id: "T1".into(),
            at,
            customer: Some(CustomerRef::Card("7001".into())),
            lines: (0..(5 + r % 26))
                .map(|l| ReceiptLine {
                    line: l as u32 + 1,
                    sku: format!("SKU-{:06}", (r * 37 + l * 101) % 3000),
                    qty: 1000 + (l as i64 % 3) * 500,
                    price: 9_900 + (l as i64 * 7_919) % 500_000,
                })
                .collect(),
            redeem: if r % 10 == 0 {
                Redeem::Max
            } else {
                Redeem::None
            },
        })
        .collect();
    let customer = CustomerView {
        customer_id: "c1".into(),
        available: 5_000,
        pending: 0,
        new_card: None,
    };
    let n_lines: usize = receipts.iter().map(|r| r.lines.len()).sum();
    for round in 0..3 {
        let started = Instant::now();
        let iterations = 20;
        for _ in 0..iterations {
            for receipt in &receipts {
                let _ = black_box(calculate(&ctx, black_box(receipt), Some(&customer)));
            }
        }
        let elapsed = started.elapsed();
        let n = (iterations * receipts.len()) as f64;
        println!(
            "round {round}: {:.0} receipts/s, {:.1} us per receipt (avg {:.1} lines, 6 promotions), {:.0} ns per line",
            n / elapsed.as_secs_f64(),
            elapsed.as_secs_f64() * 1e6 / n,
            n_lines as f64 / receipts.len() as f64,
            elapsed.as_secs_f64() * 1e9 / (n * n_lines as f64 / receipts.len() as f64),
        );
    }
}
