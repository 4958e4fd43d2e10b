//! `tessera demo`: loads a synthetic retail chain (stores, catalogue, promotions,
//! members and a year of receipts with some returns), drawn deterministically from a
//! seed, through the same store writes the server uses.

use anyhow::{bail, Context as _, Result};
use chrono::{DateTime, Days, Duration, FixedOffset, NaiveDateTime, NaiveTime, TimeZone, Utc};
use indicatif::ProgressBar;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use tessera_core::catalog::{Product, Store as ChainStore};
use tessera_core::coupon::{Coupon, CouponSeries};
use tessera_core::customer::{Card, CardType, Customer};
use tessera_core::program::Program;
use tessera_core::promotion::{CouponRule, Effect, ItemMatch, Percent, Promotion, Schedule};
use tessera_core::receipt::{CustomerRef, ReceiptLine, ReceiptRequest, Redeem, QTY_SCALE};
use tessera_core::snapshot::ConfigSnapshot;
use tessera_store::{
    CommitCommand, CommitRenderer, Renderer, ReturnCommand, Returned, Store, StoreError,
    StoreResult,
};
use tokio::task::JoinSet;

/// Receipt writes kept in flight at once; the store groups them into transactions.
const IN_FLIGHT: usize = 512;
/// Members registered per `create_customers` call.
const MEMBER_BATCH: usize = 5000;

/// What to generate; every choice is drawn from a generator seeded with `seed`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub stores: usize,
    pub products: usize,
    pub members: usize,
    pub receipts: usize,
    /// The end of the simulated year: receipts fall in the 365 days before it.
    pub now: DateTime<Utc>,
}

impl DemoOptions {
    /// The default chain as of `now`: 24 stores, 3000 products, 100 000 members and
    /// 100 000 receipts. The SQLite writer takes roughly 15 000 members and 2000 to 3500
    /// receipts a second (less when every group waits for the disk), so the default
    /// loads in well under a minute.
    pub fn new(now: DateTime<Utc>) -> Self {
        DemoOptions {
            seed: 42,
            stores: 24,
            products: 3000,
            members: 100_000,
            receipts: 100_000,
            now,
        }
    }
}

/// What was loaded, with samples to try the API with.
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub stores: usize,
    pub products: usize,
    /// Members loaded plus members registered at a till with a new card.
    pub members: usize,
    /// Receipts committed (receipts the engine refused are skipped).
    pub receipts: usize,
    pub returns: usize,
    /// A member card with available points.
    pub sample_card: String,
    pub sample_customer_id: String,
    pub sample_store_id: String,
    pub sample_skus: Vec<String>,
    /// Single-use codes of the `welcome` coupon series (10% off).
    pub sample_coupons: Vec<String>,
    pub elapsed: std::time::Duration,
}

/// `(code, city, IANA zone, region)`, spread over Russia's time zones.
const CITIES: &[(&str, &str, &str, &str)] = &[
    ("msk", "Moscow", "Europe/Moscow", "Central"),
    ("spb", "Saint Petersburg", "Europe/Moscow", "North-West"),
    ("ekb", "Yekaterinburg", "Asia/Yekaterinburg", "Urals"),
    ("nsk", "Novosibirsk", "Asia/Novosibirsk", "Siberia"),
    ("vvo", "Vladivostok", "Asia/Vladivostok", "Far East"),
    ("kgd", "Kaliningrad", "Europe/Kaliningrad", "North-West"),
    ("sam", "Samara", "Europe/Samara", "Volga"),
    ("oms", "Omsk", "Asia/Omsk", "Siberia"),
    ("irk", "Irkutsk", "Asia/Irkutsk", "Siberia"),
    ("yks", "Yakutsk", "Asia/Yakutsk", "Far East"),
    ("kzn", "Kazan", "Europe/Moscow", "Volga"),
    ("krr", "Krasnodar", "Europe/Moscow", "South"),
];
/// `(tag, site name)` of a store.
const SITES: &[(&str, &str)] = &[
    ("mall", "Mega"),
    ("street", "Main Street"),
    ("mall", "Galleria"),
    ("outlet", "Outlet Village"),
    ("mall", "City Mall"),
    ("street", "Old Town"),
];

/// `(category, share of the catalogue, price range in minor units, nouns, brands)`.
/// Gift cards and tobacco cannot be paid with points.
type CategoryRow = (&'static str, u32, (i64, i64), &'static str, &'static str);
const CATEGORIES: &[CategoryRow] = &[
    (
        "shoes",
        14,
        (299_000, 1_499_000),
        "Sneakers|Loafers|Ankle Boots|Sandals|Oxfords|Running Shoes",
        "Ecco|Geox|Rieker|Nord Step",
    ),
    (
        "clothing",
        20,
        (99_000, 1_200_000),
        "T-Shirt|Jeans|Hoodie|Parka|Dress|Chinos|Sweater|Blazer",
        "Nordwind|Urban Fox|Linen Lane|Severa",
    ),
    (
        "bags",
        6,
        (149_000, 1_499_000),
        "Tote|Backpack|Crossbody Bag|Wallet|Travel Bag",
        "Portfel|Leather Line|Tessera Atelier",
    ),
    (
        "accessories",
        10,
        (49_000, 600_000),
        "Scarf|Belt|Sunglasses|Gloves|Cap|Umbrella",
        "Urban Fox|Severa|Nordwind",
    ),
    (
        "cosmetics",
        14,
        (19_900, 900_000),
        "Face Cream|Shampoo|Lipstick|Perfume|Hand Cream|Shower Gel",
        "Natura Siberica|Belita|Lumiere",
    ),
    (
        "groceries",
        18,
        (4_900, 150_000),
        "Coffee Beans|Green Tea|Chocolate|Cheese|Walnuts|Honey|Apples",
        "Krasny Oktyabr|Tessera Select|Alpen Farm",
    ),
    (
        "household",
        10,
        (9_900, 600_000),
        "Towel Set|Bed Linen|Candle|Mug|Storage Box|Frying Pan",
        "Home Story|Dom Style|Kitchen Pro",
    ),
    (
        "kids",
        6,
        (29_900, 900_000),
        "Kids Sneakers|Plush Bear|Building Set|School Backpack|Kids Jacket",
        "Little Fox|Mishka|Brick Town",
    ),
    (
        "gift-cards",
        2,
        (100_000, 1_000_000),
        "Gift Card",
        "Tessera",
    ),
    (
        "tobacco",
        1,
        (15_000, 40_000),
        "Cigarillos|Pipe Tobacco",
        "Davidoff|Captain Black",
    ),
];
const ADJECTIVES: &[&str] = &[
    "Classic", "Urban", "Soft", "Everyday", "Summer", "Winter", "Sport", "Vintage", "Eco", "Light",
];
const COLOURS: &[&str] = &[
    "Black", "White", "Navy", "Beige", "Red", "Grey", "Olive", "Brown",
];

/// `(Cyrillic, Latin)` name parts; female surnames add "а"/"a" to the male form.
const RU_MALE: &[(&str, &str)] = &[
    ("Александр", "alexander"),
    ("Дмитрий", "dmitry"),
    ("Максим", "maxim"),
    ("Сергей", "sergey"),
    ("Андрей", "andrey"),
    ("Иван", "ivan"),
    ("Михаил", "mikhail"),
    ("Артём", "artem"),
];
const RU_FEMALE: &[(&str, &str)] = &[
    ("Анна", "anna"),
    ("Мария", "maria"),
    ("Елена", "elena"),
    ("Ольга", "olga"),
    ("Наталья", "natalia"),
    ("Дарья", "daria"),
    ("Екатерина", "ekaterina"),
    ("Ксения", "ksenia"),
];
const RU_SURNAMES: &[(&str, &str)] = &[
    ("Иванов", "ivanov"),
    ("Смирнов", "smirnov"),
    ("Кузнецов", "kuznetsov"),
    ("Попов", "popov"),
    ("Соколов", "sokolov"),
    ("Лебедев", "lebedev"),
    ("Козлов", "kozlov"),
    ("Новиков", "novikov"),
    ("Морозов", "morozov"),
    ("Волков", "volkov"),
];
const EN_FIRST: &[&str] = &[
    "Emma",
    "Oliver",
    "Sophie",
    "James",
    "Charlotte",
    "Daniel",
    "Grace",
    "Thomas",
];
const EN_LAST: &[&str] = &[
    "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Clarke", "Walker",
];
const MAIL_DOMAINS: &[&str] = &["mail.ru", "yandex.ru", "gmail.com", "example.com"];

/// Who is at the till for a generated receipt.
#[derive(Clone, Copy)]
enum Buyer {
    Anonymous,
    Member(usize),
    /// An unknown card: the member is registered at commit.
    NewCard(usize),
}

/// A generated receipt before it has its id.
struct Draft {
    utc: DateTime<Utc>,
    at: DateTime<FixedOffset>,
    store_idx: usize,
    buyer: Buyer,
    lines: Vec<ReceiptLine>,
    redeem: Redeem,
    /// Days after the purchase the first line is brought back, if it is.
    return_after: Option<Duration>,
}

/// One write of the timeline; `key` is the card, so writes of one customer keep order.
struct Event {
    utc: DateTime<Utc>,
    key: Option<String>,
    action: Action,
}

enum Action {
    Commit(Box<CommitCommand>, bool),
    Return(Box<ReturnCommand>),
}

/// A finished write.
struct Done {
    receipt_id: String,
    key: Option<String>,
    /// `Some(new_member)` for a commit, `None` for a return.
    commit: Option<bool>,
    result: StoreResult<Vec<u8>>,
}

#[derive(Default)]
struct Tally {
    committed: usize,
    returned: usize,
    new_members: usize,
    refused: HashSet<String>,
}

/// Loads the demo chain into `store`.
pub async fn load(
    store: Arc<dyn Store>,
    options: &DemoOptions,
    render: CommitRenderer,
    return_render: Renderer<Returned>,
    progress: &ProgressBar,
) -> Result<DemoSummary> {
    let started = Instant::now();
    if options.stores == 0 || options.products == 0 {
        bail!("a demo chain needs at least one store and one product");
    }
    let now = options.now;
    let mut rng = SmallRng::seed_from_u64(options.seed);
    let program = Program {
        currency: "RUB".into(),
        point_value: 100,
        pending_days: 14,
        expiry_days: 365,
        max_redeem_percent: 50,
        required_fields: Vec::new(),
        redeem_requires_code: false,
        tiers: None,
    };
    let stores: Vec<ChainStore> = (0..options.stores)
        .map(|idx| chain_store(idx, &mut rng))
        .collect();
    let (products, prices) = catalogue(options.products, &mut rng);
    let promotions = promotions(now);
    let config = Arc::new(ConfigSnapshot::new(
        program.clone(),
        stores.clone(),
        products.clone(),
        promotions.clone(),
    ));

    let drafts = receipts(options, &stores, &prices, &mut rng)?;
    let mut first_seen: HashMap<usize, DateTime<Utc>> = HashMap::new();
    let mut visits = vec![0usize; options.members];
    for draft in &drafts {
        if let Buyer::Member(idx) = draft.buyer {
            first_seen.entry(idx).or_insert(draft.utc);
            visits[idx] += 1;
        }
    }
    let members: Vec<Customer> = (0..options.members)
        .map(|idx| {
            let joined = match first_seen.get(&idx) {
                Some(first) => *first - Duration::minutes(rng.random_range(5..=30 * 24 * 60)),
                None => now - Duration::minutes(rng.random_range(60..=365 * 24 * 60)),
            };
            member(idx, joined, &mut rng)
        })
        .collect();
    let events = timeline(drafts, &stores, &config, &render, &return_render, now)?;
    progress.set_length((options.members + events.len()) as u64);

    progress.set_message("stores and catalogue");
    store
        .put_program(program)
        .await
        .context("storing the program")?;
    for chain_store in &stores {
        store
            .put_store(chain_store.clone())
            .await
            .with_context(|| format!("storing store {}", chain_store.store_id))?;
    }
    store
        .put_products(products.clone())
        .await
        .context("storing the catalogue")?;
    for promotion in promotions {
        let id = promotion.promotion_id.clone();
        store
            .put_promotion(promotion, now)
            .await
            .with_context(|| format!("storing promotion {id}"))?;
    }

    let sample_coupons = welcome_coupons(store.as_ref(), now).await?;

    progress.set_message("members");
    for batch in members.chunks(MEMBER_BATCH) {
        store
            .create_customers(batch.to_vec())
            .await
            .context("registering members")?;
        progress.inc(batch.len() as u64);
    }

    progress.set_message("receipts");
    let tally = run_timeline(&store, events, progress).await?;
    while store
        .catch_up_due(now, u32::MAX)
        .await
        .context("maturing points as of now")?
        > 0
    {}

    let sample = sample_member(store.as_ref(), &visits).await?;
    let sample_skus = sample_skus(&products, &prices);
    progress.finish_with_message("done");
    Ok(DemoSummary {
        stores: stores.len(),
        products: products.len(),
        members: options.members + tally.new_members,
        receipts: tally.committed,
        returns: tally.returned,
        sample_card: sample.0,
        sample_customer_id: sample.1,
        sample_store_id: stores[0].store_id.clone(),
        sample_skus,
        sample_coupons,
        elapsed: started.elapsed(),
    })
}

/// The coupon series the demo hands out codes of.
const WELCOME_SERIES: &str = "welcome";

/// Creates the `welcome` series (single use, valid for 30 days) and five codes of it.
async fn welcome_coupons(store: &dyn Store, now: DateTime<Utc>) -> Result<Vec<String>> {
    store
        .put_coupon_series(CouponSeries {
            series_id: WELCOME_SERIES.into(),
            promotion_id: "welcome-10".into(),
            single_use: true,
            valid_from: None,
            valid_to: Some((now + Duration::days(30)).naive_utc()),
        })
        .await
        .context("storing the coupon series")?;
    let codes: Vec<String> = (0..5).map(|_| tessera_server::clock::new_code()).collect();
    let coupons = codes
        .iter()
        .map(|code| Coupon::generated(code, WELCOME_SERIES))
        .collect();
    store
        .insert_coupons(coupons)
        .await
        .context("storing coupon codes")?;
    Ok(codes)
}

/// A regular's card and customer id, preferring one with available points.
async fn sample_member(store: &dyn Store, visits: &[usize]) -> Result<(String, String)> {
    let mut regulars: Vec<usize> = (0..visits.len()).collect();
    regulars.sort_by_key(|idx| std::cmp::Reverse(visits[*idx]));
    let mut sample = (member_card(0), customer_id(0));
    for idx in regulars.into_iter().take(50) {
        let card = member_card(idx);
        let Some(id) = store
            .find_customer(&CustomerRef::Card(card.clone()))
            .await?
        else {
            continue;
        };
        if store.customer_ledger(&id).await?.available > 0 {
            sample = (card, id);
            break;
        }
    }
    Ok(sample)
}

/// A pair of shoes (the promotion applies), a weighed grocery and a garment.
fn sample_skus(products: &[Product], prices: &[Price]) -> Vec<String> {
    let is = |idx: &usize, category: &str| products[*idx].category.as_deref() == Some(category);
    let mut sample_skus: Vec<String> = Vec::new();
    for idx in [
        (0..products.len()).find(|idx| is(idx, "shoes")),
        (0..products.len()).find(|idx| prices[*idx].weighed),
        (0..products.len()).find(|idx| is(idx, "clothing")),
    ]
    .into_iter()
    .flatten()
    {
        sample_skus.push(products[idx].sku.clone());
    }
    for product in products {
        if sample_skus.len() < 3
            && !product.no_points_payment
            && !sample_skus.contains(&product.sku)
        {
            sample_skus.push(product.sku.clone());
        }
    }
    sample_skus
}

fn pick<'a, T>(rng: &mut SmallRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// One of the `|`-separated words of a list.
fn pick_word<'a>(rng: &mut SmallRng, words: &'a str) -> &'a str {
    let n_words = words.split('|').count();
    words
        .split('|')
        .nth(rng.random_range(0..n_words))
        .unwrap_or(words)
}

fn customer_id(idx: usize) -> String {
    format!("cus_{:06}", idx + 1)
}

/// Card numbers are a bijection of the member number, so they are unique but not sequential.
pub fn member_card(idx: usize) -> String {
    format!("7001{:09}", (idx as u64 * 48_271 + 10_007) % 1_000_000_000)
}

fn chain_store(idx: usize, rng: &mut SmallRng) -> ChainStore {
    let (code, city, zone, region) = CITIES[idx % CITIES.len()];
    let (tag, site) = pick(rng, SITES);
    let mut tags = vec![tag.to_string()];
    if idx == 0 {
        tags.push("flagship".into());
    }
    ChainStore {
        store_id: format!("{code}-{:02}", idx + 1),
        name: format!("{city} {site}"),
        timezone: zone.into(),
        region: Some(region.into()),
        tags,
    }
}

/// A product's till price and how it is sold.
struct Price {
    price: i64,
    weighed: bool,
}

fn catalogue(n_products: usize, rng: &mut SmallRng) -> (Vec<Product>, Vec<Price>) {
    let total_weight: u32 = CATEGORIES.iter().map(|c| c.1).sum();
    let mut products = Vec::with_capacity(n_products);
    let mut prices = Vec::with_capacity(n_products);
    for idx in 0..n_products {
        let mut draw = rng.random_range(0..total_weight);
        let mut category = &CATEGORIES[0];
        for candidate in CATEGORIES {
            category = candidate;
            if draw < candidate.1 {
                break;
            }
            draw -= candidate.1;
        }
        let (name, _, (low, high), nouns, brands) = *category;
        let no_points_payment = matches!(name, "gift-cards" | "tobacco");
        let brand = pick_word(rng, brands);
        let noun = pick_word(rng, nouns);
        let weighed = name == "groceries" && rng.random_bool(0.3);
        let title = match name {
            "groceries" if weighed => format!("{brand} {noun}, per kg"),
            "groceries" | "gift-cards" | "tobacco" => format!("{brand} {noun}"),
            _ => format!(
                "{brand} {} {noun}, {}",
                pick(rng, ADJECTIVES),
                pick(rng, COLOURS)
            ),
        };
        let step = if name == "gift-cards" { 100_000 } else { 100 };
        let price = rng.random_range(low / step..=high / step) * step;
        let mut tags = Vec::new();
        for (tag, chance) in [("new", 0.1), ("sale", 0.15)] {
            if rng.random_bool(chance) {
                tags.push(tag.to_string());
            }
        }
        if price >= 800_000 && !no_points_payment {
            tags.push("premium".into());
        }
        products.push(Product {
            sku: format!("SKU-{:06}", idx + 1),
            name: title,
            category: Some(name.into()),
            brand: Some(brand.into()),
            tags,
            no_points_payment,
        });
        prices.push(Price { price, weighed });
    }
    (products, prices)
}

fn promotions(now: DateTime<Utc>) -> Vec<Promotion> {
    let promotion = |id: &str, name: &str, enabled, priority, effect| Promotion {
        enabled,
        priority,
        ..Promotion::new(id, name, vec![effect])
    };
    let mut shoes = promotion(
        "shoes-weekend",
        "Shoes weekend: 15% off shoes",
        true,
        100,
        Effect::PercentOff {
            percent: Percent(1500),
            items: Some(ItemMatch::Category(vec!["shoes".into()].into())),
        },
    );
    shoes.schedule = Schedule {
        from: Some((now - Duration::days(367)).naive_utc()),
        to: Some((now + Duration::days(30)).naive_utc()),
        ..Schedule::default()
    };
    let mut big_basket = promotion(
        "big-basket",
        "5% off baskets from 5000 RUB",
        true,
        50,
        Effect::PercentOff {
            percent: Percent(500),
            items: None,
        },
    );
    big_basket.conditions.min_amount = Some(500_000);
    let mut welcome = promotion(
        "welcome-10",
        "Welcome coupon: 10% off",
        true,
        60,
        Effect::PercentOff {
            percent: Percent(1000),
            items: None,
        },
    );
    welcome.conditions.coupon = Some(CouponRule::Series(WELCOME_SERIES.into()));
    vec![
        welcome,
        promotion(
            "base-earn",
            "5% back in points",
            true,
            10,
            Effect::EarnPoints {
                percent: Percent(500),
                items: None,
            },
        ),
        shoes,
        big_basket,
        promotion(
            "winter-clearance",
            "Winter clearance: 30% off sale items",
            false,
            80,
            Effect::PercentOff {
                percent: Percent(3000),
                items: Some(ItemMatch::Tag(vec!["sale".into()].into())),
            },
        ),
    ]
}

fn member(idx: usize, created_at: DateTime<Utc>, rng: &mut SmallRng) -> Customer {
    let (name, latin) = if rng.random_bool(0.8) {
        let (surname, surname_latin) = *pick(rng, RU_SURNAMES);
        if rng.random_bool(0.55) {
            let (first, first_latin) = *pick(rng, RU_FEMALE);
            (
                format!("{first} {surname}а"),
                format!("{first_latin}.{surname_latin}a"),
            )
        } else {
            let (first, first_latin) = *pick(rng, RU_MALE);
            (
                format!("{first} {surname}"),
                format!("{first_latin}.{surname_latin}"),
            )
        }
    } else {
        let (first, last) = (*pick(rng, EN_FIRST), *pick(rng, EN_LAST));
        (
            format!("{first} {last}"),
            format!("{first}.{last}").to_lowercase(),
        )
    };
    let email = rng
        .random_bool(0.6)
        .then(|| format!("{latin}{}@{}", idx + 1, pick(rng, MAIL_DOMAINS)));
    Customer {
        customer_id: customer_id(idx),
        name: Some(name),
        // A bijection of the member number keeps phones unique.
        phone: Some(format!(
            "+79{:09}",
            (idx as u64 * 7_919 + 12_345) % 1_000_000_000
        )),
        email,
        // One member in three uses the app's virtual card.
        cards: vec![Card {
            number: member_card(idx),
            card_type: if idx.is_multiple_of(3) {
                CardType::Virtual
            } else {
                CardType::Plastic
            },
        }],
        created_at,
    }
}

/// Draws the receipts of the year before `options.now`, in time order.
fn receipts(
    options: &DemoOptions,
    stores: &[ChainStore],
    prices: &[Price],
    rng: &mut SmallRng,
) -> Result<Vec<Draft>> {
    let zones = stores
        .iter()
        .map(ChainStore::tz)
        .collect::<Result<Vec<_>, _>>()?;
    let mut drafts = Vec::with_capacity(options.receipts);
    let mut new_cards = 0;
    for _ in 0..options.receipts {
        let store_idx = rng.random_range(0..stores.len());
        // Every Russian zone is ahead of UTC, so yesterday's closing time has passed.
        let date = options.now.date_naive() - Days::new(rng.random_range(1..=365));
        let time =
            NaiveTime::from_num_seconds_from_midnight_opt(rng.random_range(9 * 3600..22 * 3600), 0)
                .context("time of day")?;
        let at = local(&zones[store_idx], date.and_time(time))?;
        let buyer = match rng.random_range(0..1000) {
            0..5 => {
                new_cards += 1;
                Buyer::NewCard(new_cards)
            }
            5..750 if options.members > 0 => {
                // Skewed towards low member numbers: a few regulars shop often.
                let share = rng.random::<f64>().powf(1.5);
                Buyer::Member(((share * options.members as f64) as usize).min(options.members - 1))
            }
            _ => Buyer::Anonymous,
        };
        let n_lines = if rng.random_bool(0.85) {
            *pick(rng, &[1, 1, 1, 2, 2, 3, 4])
        } else {
            rng.random_range(5..=12)
        };
        let lines = (1..=n_lines)
            .map(|line| {
                let product_idx = rng.random_range(0..prices.len());
                let Price { price, weighed } = prices[product_idx];
                let qty = if weighed {
                    rng.random_range(150..=2500)
                } else if rng.random_bool(0.1) {
                    2 * QTY_SCALE
                } else {
                    QTY_SCALE
                };
                ReceiptLine {
                    line,
                    sku: format!("SKU-{:06}", product_idx + 1),
                    qty,
                    price,
                }
            })
            .collect();
        let member = matches!(buyer, Buyer::Member(_));
        let redeem = if member && rng.random_bool(0.08) {
            Redeem::Max
        } else {
            Redeem::None
        };
        let return_after = (member && rng.random_bool(0.02))
            .then(|| Duration::minutes(rng.random_range(24 * 60..=7 * 24 * 60)));
        drafts.push(Draft {
            utc: at.with_timezone(&Utc),
            at,
            store_idx,
            buyer,
            lines,
            redeem,
            return_after,
        });
    }
    drafts.sort_by_key(|d| d.utc);
    Ok(drafts)
}

fn local<Z: TimeZone>(zone: &Z, naive: NaiveDateTime) -> Result<DateTime<FixedOffset>> {
    Ok(zone
        .from_local_datetime(&naive)
        .earliest()
        .with_context(|| format!("{naive} does not exist locally"))?
        .fixed_offset())
}

/// Turns the drafts into commits and returns, in time order.
fn timeline(
    drafts: Vec<Draft>,
    stores: &[ChainStore],
    config: &Arc<ConfigSnapshot>,
    render: &CommitRenderer,
    return_render: &Renderer<Returned>,
    now: DateTime<Utc>,
) -> Result<Vec<Event>> {
    let zones = stores
        .iter()
        .map(ChainStore::tz)
        .collect::<Result<Vec<_>, _>>()?;
    let mut per_store = vec![0usize; stores.len()];
    let mut events = Vec::with_capacity(drafts.len() + drafts.len() / 40);
    for (seq, draft) in drafts.into_iter().enumerate() {
        let store_id = &stores[draft.store_idx].store_id;
        per_store[draft.store_idx] += 1;
        let receipt_id = format!("R-{store_id}-{:06}", per_store[draft.store_idx]);
        let key = match draft.buyer {
            Buyer::Anonymous => None,
            Buyer::Member(idx) => Some(member_card(idx)),
            Buyer::NewCard(n) => Some(format!("7002{n:09}")),
        };
        let first_line = draft.lines.first().map(|l| (l.line, l.qty));
        let mut request = ReceiptRequest {
            coupons: Vec::new(),
            certificates: Vec::new(),
            receipt_id: receipt_id.clone(),
            store_id: store_id.clone(),
            terminal_id: format!("T{}", 1 + seq % 6),
            at: draft.at,
            customer: key.clone().map(CustomerRef::Card),
            lines: draft.lines,
            redeem: draft.redeem,
        };
        request
            .validate()
            .with_context(|| format!("generated receipt {receipt_id} is invalid"))?;
        let command = CommitCommand {
            request,
            request_hash: format!("demo:{receipt_id}"),
            expect_to_pay: None,
            config: Arc::clone(config),
            new_customer_id: format!("cus_n{seq:06}"),
            new_code: tessera_server::clock::code_source(),
            now: draft.utc,
            render: render.clone(),
            profile_complete: None,
            quote: Default::default(),
        };
        let new_card = matches!(draft.buyer, Buyer::NewCard(_));
        events.push(Event {
            utc: draft.utc,
            key: key.clone(),
            action: Action::Commit(Box::new(command), new_card),
        });
        if let (Some(after), Some(line)) = (draft.return_after, first_line) {
            let utc = draft.utc + after;
            if utc < now {
                let return_id = format!("{receipt_id}-ret");
                let command = ReturnCommand {
                    receipt_id,
                    request_hash: format!("demo:{return_id}"),
                    return_id,
                    at: utc.with_timezone(&zones[draft.store_idx]).fixed_offset(),
                    terminal_id: Some("T1".into()),
                    lines: vec![line],
                    now: utc,
                    render: return_render.clone(),
                    tiers: None,
                };
                events.push(Event {
                    utc,
                    key,
                    action: Action::Return(Box::new(command)),
                });
            }
        }
    }
    events.sort_by_key(|e| e.utc);
    Ok(events)
}

/// Runs the writes with up to [`IN_FLIGHT`] at once, never two of one customer.
async fn run_timeline(
    store: &Arc<dyn Store>,
    events: Vec<Event>,
    progress: &ProgressBar,
) -> Result<Tally> {
    let mut tally = Tally::default();
    let mut tasks: JoinSet<Done> = JoinSet::new();
    let mut busy: HashSet<String> = HashSet::new();
    for event in events {
        while tasks.len() >= IN_FLIGHT || event.key.as_ref().is_some_and(|k| busy.contains(k)) {
            let done = tasks
                .join_next()
                .await
                .context("no write in flight")?
                .context("a demo write task failed")?;
            finish(done, &mut busy, &mut tally, progress)?;
        }
        if let Action::Return(command) = &event.action {
            if tally.refused.contains(&command.receipt_id) {
                progress.inc(1);
                continue;
            }
        }
        if let Some(key) = &event.key {
            busy.insert(key.clone());
        }
        let store = Arc::clone(store);
        tasks.spawn(async move {
            let key = event.key;
            match event.action {
                Action::Commit(command, new_card) => {
                    let receipt_id = command.request.receipt_id.clone();
                    Done {
                        receipt_id,
                        key,
                        commit: Some(new_card),
                        result: store.commit_receipt(*command).await,
                    }
                }
                Action::Return(command) => {
                    let receipt_id = command.receipt_id.clone();
                    Done {
                        receipt_id,
                        key,
                        commit: None,
                        result: store.return_receipt(*command).await,
                    }
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        finish(
            done.context("a demo write task failed")?,
            &mut busy,
            &mut tally,
            progress,
        )?;
    }
    Ok(tally)
}

/// Counts a finished write; a write the engine refuses is skipped, any other failure stops the load.
fn finish(
    done: Done,
    busy: &mut HashSet<String>,
    tally: &mut Tally,
    progress: &ProgressBar,
) -> Result<()> {
    if let Some(key) = &done.key {
        busy.remove(key);
    }
    progress.inc(1);
    match (done.result, done.commit) {
        (Ok(_), Some(new_card)) => {
            tally.committed += 1;
            tally.new_members += usize::from(new_card);
        }
        (Ok(_), None) => tally.returned += 1,
        (Err(StoreError::Domain(_)), Some(_)) => {
            tally.refused.insert(done.receipt_id);
        }
        (Err(StoreError::Domain(_)), None) => {}
        (Err(error), _) => {
            return Err(error).with_context(|| format!("writing receipt {}", done.receipt_id))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_sqlite::SqliteStore;
    use tessera_store::Committed;

    #[tokio::test]
    async fn loads_a_tiny_chain_that_checks_clean() -> Result<()> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos();
        let path =
            std::env::temp_dir().join(format!("tessera-demo-{}-{nanos}.db", std::process::id()));
        let path_text = path.to_str().context("temp path is not UTF-8")?.to_string();
        let sqlite = Arc::new(SqliteStore::open(&path_text).await?);
        let store: Arc<dyn Store> = sqlite.clone();
        let now = DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")?.with_timezone(&Utc);
        let options = DemoOptions {
            seed: 7,
            stores: 2,
            products: 50,
            members: 200,
            receipts: 500,
            now,
        };
        let render: CommitRenderer = Arc::new(|_: &Committed| b"{}".to_vec().into());
        let return_render: Renderer<Returned> = Arc::new(|_: &Returned| b"{}".to_vec());
        let result = load(
            store.clone(),
            &options,
            render,
            return_render,
            &ProgressBar::hidden(),
        )
        .await;
        let outcome = async {
            let summary = result?;
            assert_eq!((summary.stores, summary.products), (2, 50));
            assert!(summary.members >= 200);
            assert_eq!(summary.receipts, 500);
            assert!(
                summary.returns > 0 && summary.returns < 50,
                "{} returns",
                summary.returns
            );
            assert_eq!(summary.sample_skus.len(), 3);
            let report = store.check().await?;
            assert!(report.ok(), "{report:?}");
            let id = store
                .find_customer(&CustomerRef::Card(summary.sample_card.clone()))
                .await?;
            assert_eq!(id.as_deref(), Some(summary.sample_customer_id.as_str()));
            assert!(
                store
                    .customer_ledger(&summary.sample_customer_id)
                    .await?
                    .available
                    > 0
            );
            anyhow::Ok(())
        }
        .await;
        sqlite.close().await;
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path_text}{suffix}"));
        }
        outcome
    }
}
