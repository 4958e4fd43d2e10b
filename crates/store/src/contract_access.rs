//! The contract of API keys and the audit log: keys stored and revoked, entries
//! appended into one unbroken chain even when many are appended at once, filters, and
//! `check` verifying the chain.

use crate::contract::{ensure, t0, ContractResult};
use crate::port::Store;
use crate::AuditFilter;
use chrono::Duration;
use serde_json::json;
use tessera_core::access::{NewApiKey, Scope};
use tessera_core::audit::{verify_chain, ActorKind, AuditContent};

fn e(error: crate::StoreError) -> String {
    error.to_string()
}

/// Keys round-trip, revocation keeps its first instant, unknown keys are `None`.
pub async fn api_keys(store: &dyn Store) -> ContractResult {
    let (till, _) = NewApiKey {
        name: "Till 1".into(),
        scopes: vec![Scope::Pos],
        store_id: Some("s1".into()),
        expires_at: Some(t0() + Duration::days(90)),
    }
    .issue("key_B".into(), [3; 20], t0());
    let (office, _) = NewApiKey {
        name: "Back office".into(),
        scopes: vec![Scope::Service, Scope::Marketing],
        store_id: None,
        expires_at: None,
    }
    .issue("key_A".into(), [4; 20], t0());
    store.put_api_key(till.clone()).await.map_err(e)?;
    store.put_api_key(office.clone()).await.map_err(e)?;
    let keys = store.api_keys().await.map_err(e)?;
    ensure(
        keys == vec![office.clone(), till.clone()],
        format!("keys read back by id: {keys:?}"),
    )?;
    let later = t0() + Duration::hours(1);
    let revoked = store.revoke_api_key("key_B", later).await.map_err(e)?;
    ensure(
        revoked.as_ref().and_then(|k| k.revoked_at) == Some(later),
        format!("revoked at its instant: {revoked:?}"),
    )?;
    let again = store
        .revoke_api_key("key_B", later + Duration::hours(1))
        .await
        .map_err(e)?;
    ensure(
        again.and_then(|k| k.revoked_at) == Some(later),
        "a second revocation keeps the first instant",
    )?;
    ensure(
        store
            .revoke_api_key("key_nope", later)
            .await
            .map_err(e)?
            .is_none(),
        "an unknown key is None",
    )?;
    let keys = store.api_keys().await.map_err(e)?;
    ensure(
        keys.iter()
            .find(|k| k.key_id == "key_B")
            .and_then(|k| k.revoked_at)
            == Some(later)
            && keys.iter().find(|k| k.key_id == "key_A") == Some(&office),
        format!("revocation stored, the other key untouched: {keys:?}"),
    )
}

fn content(i: usize, action: &str, target: &str) -> AuditContent {
    AuditContent {
        at: t0() + Duration::seconds(i as i64) + Duration::microseconds(7),
        actor: if i.is_multiple_of(2) { "key_A" } else { "anna" }.into(),
        actor_kind: if i.is_multiple_of(2) {
            ActorKind::Key
        } else {
            ActorKind::User
        },
        action: action.into(),
        target: target.into(),
        origin: i.is_multiple_of(3).then(|| "10.0.0.7".to_string()),
        before: (i % 2 == 1).then(|| json!({"name": "Старое", "n": i})),
        after: Some(json!({"name": "новое", "list": [1, 2, {"b": null, "a": 1.5}]})),
    }
}

/// Entries are numbered and chained in order, filters select them, concurrent
/// appends keep one unbroken chain, and `check` verifies it.
pub async fn audit_log(store: &dyn Store) -> ContractResult {
    let actions = [
        ("program.update", "program"),
        ("promotion.update", "promotion/p1"),
        ("promotion.delete", "promotion/p1"),
        ("promotions.import", "promotions"),
        ("customer.adjust", "customer/c1"),
    ];
    for (i, (action, target)) in actions.iter().enumerate() {
        let entry = store
            .append_audit(content(i, action, target))
            .await
            .map_err(e)?;
        ensure(
            entry.seq == i as i64 + 1,
            format!("seq of entry {i}: {}", entry.seq),
        )?;
    }
    let all = store
        .audit_entries(&AuditFilter::default(), 100)
        .await
        .map_err(e)?;
    ensure(all.len() == 5, format!("five entries: {}", all.len()))?;
    ensure(verify_chain(&all).is_ok(), "the chain read back verifies")?;
    ensure(
        all[0].content == content(0, actions[0].0, actions[0].1),
        format!("content read back as written: {:?}", all[0].content),
    )?;
    let filters = [
        (
            AuditFilter {
                action: Some("promotion".into()),
                ..AuditFilter::default()
            },
            vec![2, 3],
        ),
        (
            AuditFilter {
                actor: Some("anna".into()),
                ..AuditFilter::default()
            },
            vec![2, 4],
        ),
        (
            AuditFilter {
                target: Some("customer/c1".into()),
                ..AuditFilter::default()
            },
            vec![5],
        ),
        (
            AuditFilter {
                from: Some(t0() + Duration::seconds(1)),
                to: Some(t0() + Duration::seconds(3)),
                ..AuditFilter::default()
            },
            vec![2, 3],
        ),
        (
            AuditFilter {
                after_seq: 3,
                ..AuditFilter::default()
            },
            vec![4, 5],
        ),
    ];
    for (filter, expected) in filters {
        let found: Vec<i64> = store
            .audit_entries(&filter, 100)
            .await
            .map_err(e)?
            .iter()
            .map(|entry| entry.seq)
            .collect();
        ensure(found == expected, format!("{filter:?}: {found:?}"))?;
        let by_rule: Vec<i64> = all
            .iter()
            .filter(|entry| filter.matches(entry))
            .map(|entry| entry.seq)
            .collect();
        ensure(
            by_rule == expected,
            format!("AuditFilter::matches {filter:?}"),
        )?;
    }
    let limited = store
        .audit_entries(&AuditFilter::default(), 2)
        .await
        .map_err(e)?;
    ensure(limited.len() == 2, "the limit holds")?;

    let appends =
        (0..24).map(|i| store.append_audit(content(10 + i, "segment.update", "segment/s")));
    for outcome in futures_join_all(appends).await {
        outcome.map_err(e)?;
    }
    let all = store
        .audit_entries(&AuditFilter::default(), 1000)
        .await
        .map_err(e)?;
    let seqs: Vec<i64> = all.iter().map(|entry| entry.seq).collect();
    ensure(
        seqs == (1..=29).collect::<Vec<i64>>(),
        format!("concurrent appends numbered without gaps: {seqs:?}"),
    )?;
    ensure(
        verify_chain(&all).is_ok(),
        "concurrent appends keep one chain",
    )?;
    let report = store.check().await.map_err(e)?;
    let item = report
        .items
        .iter()
        .find(|i| i.name.starts_with("audit chain"));
    ensure(
        item.is_some_and(|i| i.checked == 29 && i.violations.is_empty()),
        format!("check verifies the chain: {item:?}"),
    )
}

/// Runs the futures at once and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// A write made inside [`crate::audit::with_pending`] appends the pending entry in its
/// own transaction: the entry is there with the change. Adapters' tests also break the
/// audit table and check the change is then not made (`audit_or_nothing`).
pub async fn audited_write(store: &dyn Store) -> ContractResult {
    let program = crate::contract::program_with(7, 30);
    let (outcome, left) = crate::audit::with_pending(
        content(1, "program.update", "/v1/program"),
        store.put_program(program.clone()),
    )
    .await;
    outcome.map_err(e)?;
    ensure(left.is_none(), "the write took the pending entry")?;
    let entries = store
        .audit_entries(&AuditFilter::default(), 10)
        .await
        .map_err(e)?;
    ensure(
        entries.len() == 1 && entries[0].content == content(1, "program.update", "/v1/program"),
        format!("the entry was appended with the change: {entries:?}"),
    )?;
    ensure(
        store.program().await.map_err(e)? == Some(program),
        "the change was made",
    )?;
    // Outside a request nothing is pending, and a second write of the same request
    // carries nothing.
    let (outcome, _) =
        crate::audit::with_pending(content(3, "segment.update", "/v1/segments/s"), async {
            store
                .put_segment(tessera_core::segment::Segment {
                    segment_id: "s".into(),
                    name: "S".into(),
                    description: None,
                })
                .await?;
            store
                .put_segment(tessera_core::segment::Segment {
                    segment_id: "t".into(),
                    name: "T".into(),
                    description: None,
                })
                .await
        })
        .await;
    outcome.map_err(e)?;
    store
        .put_program(crate::contract::program_with(3, 30))
        .await
        .map_err(e)?;
    let entries = store
        .audit_entries(&AuditFilter::default(), 10)
        .await
        .map_err(e)?;
    ensure(
        entries.len() == 2,
        format!("one entry a request: {entries:?}"),
    )
}

/// With appends to the audit log refused (the adapter's test makes them fail), an
/// audited write fails and changes nothing.
pub async fn audit_or_nothing(store: &dyn Store) -> ContractResult {
    let before = store.program().await.map_err(e)?;
    let (outcome, _) = crate::audit::with_pending(
        content(5, "program.update", "/v1/program"),
        store.put_program(crate::contract::program_with(1, 2)),
    )
    .await;
    ensure(outcome.is_err(), "the write fails with its audit entry")?;
    ensure(
        store.program().await.map_err(e)? == before,
        "the change was not made",
    )?;
    let customer = tessera_core::customer::Customer {
        customer_id: "c-audit".into(),
        name: Some("Audit".into()),
        phone: None,
        email: None,
        cards: vec!["7999".into()],
        created_at: t0(),
    };
    let (outcome, _) = crate::audit::with_pending(
        content(6, "customer.create", "/v1/customers"),
        store.create_customers(vec![customer]),
    )
    .await;
    ensure(
        outcome.is_err(),
        "a customer write fails with its audit entry",
    )?;
    ensure(
        store.customer("c-audit").await.map_err(e)?.is_none(),
        "the customer was not made",
    )
}
