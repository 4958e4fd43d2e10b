//! Round trips to PostgreSQL per store call, counted by a proxy between the store and
//! the database that reads the protocol messages the store sends: every `Sync` (an
//! extended-protocol statement, a prepare, or a ping) and every simple `Query`
//! (`BEGIN`, `COMMIT`) is one round trip. On a machine where the server, the database
//! and the tills share the cores, each round trip is two context switches, so the
//! counts are what the hot writes are kept to. Run with `--nocapture` to see them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use chrono::{DateTime, TimeZone, Utc};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tessera_core::customer::Customer;
use tessera_core::promotion::{Effect, Percent, Promotion};
use tessera_core::receipt::{CustomerRef, ReceiptLine, ReceiptRequest, Redeem};
use tessera_core::snapshot::ConfigSnapshot;
use tessera_postgres::PostgresStore;
use tessera_store::contract_quotes::quote_with_ledger;
use tessera_store::quote::QuoteSlot;
use tessera_store::{CommitCommand, Committed, ReturnCommand, Returned, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the store sent through the proxy.
#[derive(Default)]
struct Counts {
    /// `Sync` and simple `Query` messages: each waits for the server's answer.
    round_trips: AtomicU64,
    /// `Parse` messages: statements prepared (a statement not yet in a connection's
    /// cache costs a round trip of its own).
    parses: AtomicU64,
}

impl Counts {
    fn now(&self) -> (u64, u64) {
        (
            self.round_trips.load(Ordering::SeqCst),
            self.parses.load(Ordering::SeqCst),
        )
    }
}

/// `host:port` of a `postgres://` URL, and the URL with that part replaced by `to`.
fn redirect(url: &str, to: &str) -> (String, String) {
    let start = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[start..]
        .find('/')
        .map(|i| start + i)
        .unwrap_or(url.len());
    let host_at = url[start..end]
        .rfind('@')
        .map(|i| start + i + 1)
        .unwrap_or(start);
    let mut upstream = url[host_at..end].to_string();
    if !upstream.contains(':') {
        upstream.push_str(":5432");
    }
    (upstream, format!("{}{to}{}", &url[..host_at], &url[end..]))
}

async fn read_message(stream: &mut (impl AsyncReadExt + Unpin), typed: bool) -> Option<Vec<u8>> {
    let mut message = Vec::new();
    if typed {
        message.push(stream.read_u8().await.ok()?);
    }
    let length = stream.read_i32().await.ok()?;
    message.extend_from_slice(&length.to_be_bytes());
    let mut body = vec![0; usize::try_from(length).ok()?.checked_sub(4)?];
    stream.read_exact(&mut body).await.ok()?;
    message.extend_from_slice(&body);
    Some(message)
}

/// Forwards one client connection, refusing TLS so that the messages can be read.
async fn forward(mut client: TcpStream, upstream: String, counts: Arc<Counts>) -> Option<()> {
    let mut server = TcpStream::connect(upstream).await.ok()?;
    client.set_nodelay(true).ok()?;
    server.set_nodelay(true).ok()?;
    loop {
        let startup = read_message(&mut client, false).await?;
        let code = i32::from_be_bytes(startup[4..8].try_into().ok()?);
        if code == 80_877_103 || code == 80_877_104 {
            client.write_all(b"N").await.ok()?;
            continue;
        }
        server.write_all(&startup).await.ok()?;
        break;
    }
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    tokio::spawn(async move { tokio::io::copy(&mut server_read, &mut client_write).await });
    while let Some(message) = read_message(&mut client_read, true).await {
        match message[0] {
            b'S' | b'Q' => {
                counts.round_trips.fetch_add(1, Ordering::SeqCst);
            }
            b'P' => {
                counts.parses.fetch_add(1, Ordering::SeqCst);
            }
            _ => {}
        }
        server_write.write_all(&message).await.ok()?;
    }
    Some(())
}

async fn proxy(upstream: String) -> (u16, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = Arc::new(Counts::default());
    let shared = counts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(forward(client, upstream.clone(), shared.clone()));
        }
    });
    (port, counts)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 9, 0, 0).single().unwrap()
}

fn request(id: &str, customer: Option<&str>, redeem: Redeem) -> ReceiptRequest {
    ReceiptRequest {
        receipt_id: id.into(),
        store_id: "s1".into(),
        terminal_id: "T1".into(),
        at: t0().fixed_offset(),
        customer: customer.map(|card| CustomerRef::Card(card.into())),
        lines: vec![
            ReceiptLine {
                line: 1,
                sku: "A".into(),
                qty: 2000,
                price: 10_000,
            },
            ReceiptLine {
                line: 2,
                sku: "A".into(),
                qty: 1000,
                price: 5_000,
            },
        ],
        redeem,
        coupons: Vec::new(),
        certificates: Vec::new(),
    }
}

fn commit(config: &Arc<ConfigSnapshot>, request: ReceiptRequest) -> CommitCommand {
    CommitCommand {
        request_hash: format!("h-{}", request.receipt_id),
        new_customer_id: format!("new-{}", request.receipt_id),
        request,
        expect_to_pay: None,
        config: config.clone(),
        new_code: tessera_store::contract::counting_codes(),
        now: t0(),
        render: Arc::new(|c: &Committed| serde_json::to_vec(&c.record).unwrap().into()),
        profile_complete: None,
        quote: Default::default(),
    }
}

fn give_back(receipt_id: &str, return_id: &str) -> ReturnCommand {
    ReturnCommand {
        receipt_id: receipt_id.into(),
        return_id: return_id.into(),
        request_hash: format!("h-{return_id}"),
        at: t0().fixed_offset(),
        terminal_id: None,
        lines: vec![(1, 1000)],
        now: t0(),
        render: Arc::new(|r: &Returned| serde_json::to_vec(&r.record).unwrap()),
        tiers: None,
    }
}

/// Runs `op` `times` times after as many warm-up runs (every pooled connection has
/// prepared its statements by then) and answers the round trips and prepares per run,
/// counted once the pool has taken the connections back.
async fn per_run<F, Fut>(counts: &Counts, times: u32, mut op: F) -> (f64, f64)
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for i in 0..times {
        op(i).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let before = counts.now();
    for i in times..2 * times {
        op(i).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let after = counts.now();
    let per = |a: u64, b: u64| (a - b) as f64 / f64::from(times);
    (per(after.0, before.0), per(after.1, before.1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_calls_take_few_round_trips() {
    let Some(url) = common::database_url("hot_calls_take_few_round_trips") else {
        return;
    };
    let (upstream, _) = redirect(&url, "");
    let (port, counts) = proxy(upstream).await;
    let (_, proxied) = redirect(&url, &format!("127.0.0.1:{port}"));
    let schema = common::fresh_schema();
    let store = PostgresStore::open_in_schema(&proxied, &schema)
        .await
        .unwrap();

    let program = tessera_store::contract::program_with(0, 365);

    let shop = tessera_store::contract::shop();

    let product = tessera_store::contract::product(None);
    store.put_program(program.clone()).await.unwrap();
    store.put_store(shop.clone()).await.unwrap();
    store.put_products(vec![product.clone()]).await.unwrap();
    let members = (0..100)
        .map(|i| Customer {
            customer_id: format!("c{i}"),
            name: None,
            phone: None,
            email: None,
            cards: vec![format!("90{i:03}").as_str().into()],
            created_at: t0(),
        })
        .collect();
    store.create_customers(members).await.unwrap();
    let earn = Promotion::new(
        "earn",
        "earn 10%",
        vec![Effect::EarnPoints {
            percent: Percent(1000),
            items: None,
        }],
    );
    let mut limited = Promotion::new(
        "limited",
        "1.00 off, many times",
        vec![Effect::AmountOff {
            amount: 100,
            items: None,
        }],
    );
    limited.limits.total_uses = Some(1_000_000);
    limited.limits.per_customer = Some(1_000_000);
    let config = Arc::new(ConfigSnapshot::new(
        program.clone(),
        vec![shop.clone()],
        vec![product.clone()],
        vec![earn.clone()],
    ));
    let limited_config = Arc::new(ConfigSnapshot::new(
        program,
        vec![shop],
        vec![product],
        vec![earn, limited],
    ));
    let card = |i: u32| format!("90{:03}", i % 100);
    // Every member earns, so that later receipts have points and lots to spend.
    for i in 0..100 {
        let id = format!("seed{i}");
        store
            .commit_receipt(commit(&config, request(&id, Some(&card(i)), Redeem::None)))
            .await
            .unwrap();
    }

    let times = 10;
    let mut lines = Vec::new();
    let mut report = |what: &str, (round_trips, parses): (f64, f64)| {
        lines.push(format!(
            "{what:<48} {round_trips:>5.1} round trips, {parses:>4.1} prepares"
        ));
        round_trips
    };
    let reads = report(
        "calculate: find_ledger (member)",
        per_run(&counts, times, |i| {
            let store = &store;
            async move {
                let reference = CustomerRef::Card(card(i));
                store.find_ledger(&reference).await.unwrap().unwrap();
            }
        })
        .await,
    );
    report(
        "commit: commit_response (not yet committed)",
        per_run(&counts, times, |i| {
            let store = &store;
            async move {
                store.commit_response(&format!("none{i}")).await.unwrap();
            }
        })
        .await,
    );
    let member = report(
        "commit: member, earning",
        per_run(&counts, times, |i| {
            let (store, config) = (&store, &config);
            async move {
                let id = format!("earn{i}");
                let request = request(&id, Some(&card(i)), Redeem::None);
                store.commit_receipt(commit(config, request)).await.unwrap();
            }
        })
        .await,
    );
    // A calculate's read, then the commit of the same receipt with the quote that kept
    // it: the commit locks the account at the version read and reads nothing again.
    let quoted = report(
        "calculate read + commit with its quote (member)",
        per_run(&counts, times, |i| {
            let (store, config) = (&store, &config);
            async move {
                let id = format!("quoted{i}");
                let request = request(&id, Some(&card(i + 20)), Redeem::None);
                let reference = CustomerRef::Card(card(i + 20));
                let read = store.find_ledger(&reference).await.unwrap();
                let mut command = commit(config, request.clone());
                command.quote =
                    QuoteSlot::new(Some(Arc::new(quote_with_ledger(config, request, read))));
                store.commit_receipt(command).await.unwrap();
            }
        })
        .await,
    );
    let redeeming = report(
        "commit: member, paying with points, earning",
        per_run(&counts, times, |i| {
            let (store, config) = (&store, &config);
            async move {
                let id = format!("redeem{i}");
                let request = request(&id, Some(&card(i + 40)), Redeem::Points(10));
                store.commit_receipt(commit(config, request)).await.unwrap();
            }
        })
        .await,
    );
    let limits = report(
        "commit: member, a promotion with limits",
        per_run(&counts, times, |i| {
            let (store, config) = (&store, &limited_config);
            async move {
                let id = format!("limited{i}");
                let request = request(&id, Some(&card(i + 60)), Redeem::None);
                store.commit_receipt(commit(config, request)).await.unwrap();
            }
        })
        .await,
    );
    report(
        "commit: anonymous",
        per_run(&counts, times, |i| {
            let (store, config) = (&store, &config);
            async move {
                let id = format!("anonymous{i}");
                store
                    .commit_receipt(commit(config, request(&id, None, Redeem::None)))
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    report(
        "commit: a new member's card",
        per_run(&counts, times, |i| {
            let (store, config) = (&store, &config);
            async move {
                let id = format!("newcard{i}");
                let request = request(&id, Some(&format!("77{i:04}")), Redeem::None);
                store.commit_receipt(commit(config, request)).await.unwrap();
            }
        })
        .await,
    );
    report(
        "commit: a retry (answered from the stored one)",
        per_run(&counts, times, |i| {
            let (store, config) = (&store, &config);
            async move {
                let id = format!("earn{i}");
                let request = request(&id, Some(&card(i)), Redeem::None);
                store.commit_receipt(commit(config, request)).await.unwrap();
            }
        })
        .await,
    );
    let returns = report(
        "return: one unit of a member's receipt",
        per_run(&counts, times, |i| {
            let store = &store;
            async move {
                let receipt = format!("redeem{i}");
                store
                    .return_receipt(give_back(&receipt, &format!("ret{i}")))
                    .await
                    .unwrap();
            }
        })
        .await,
    );
    println!("\n{}", lines.join("\n"));
    assert!(store.check().await.unwrap().ok());
    store.close().await;
    let _ = PostgresStore::drop_schema(&url, &schema).await;

    // The bounds the adapter is held to: BEGIN, the prior-commit check with the
    // customer's lock, the ledger read (not with a quote's ledger of the version
    // locked), the writes and COMMIT (and one more statement for the counters of a
    // limited promotion). Half a round trip of slack for a pool
    // connection idle long enough to be pinged before use.
    for (what, value, most) in [
        ("calculate read", reads, 1.5),
        ("member commit", member, 5.5),
        ("redeeming commit", redeeming, 5.5),
        ("commit with its quote's ledger", quoted - reads, 4.5),
        ("limited commit", limits, 6.5),
        ("return", returns, 8.5),
    ] {
        assert!(value <= most, "{what}: {value} round trips, at most {most}");
    }
}
