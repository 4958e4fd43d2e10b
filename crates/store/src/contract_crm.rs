//! The CRM part of the store contract: profile updates with history, identifiers,
//! consents, merges and unmerges, the review queue, card operations, staff
//! adjustments, erasure and import batches.

use crate::contract::{ensure, program, receipt, setup, t0, ContractResult};
use crate::crm_command::{
    Actor, AdjustCommand, CandidateFilter, CardOperation, CrmCommand, CrmOutcome, CustomerQuery,
    ImportBatch, ProfileUpdate,
};
use crate::port::Store;
use crate::profile::{
    CandidateStatus, CardStatus, IdentifierKind, MergeCandidate, ProfileStatus, StoredProfile,
};
use crate::StoreError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use tessera_core::consent::{Channel, ConsentEvent, SourceTrust};
use tessera_core::customer::{CardType, Customer};
use tessera_core::profile::{Field, FieldValue};
use tessera_core::receipt::{CustomerRef, Redeem};
use tessera_core::ErrorCode;

fn e(error: StoreError) -> String {
    error.to_string()
}

fn staff() -> Actor {
    Actor {
        source: "service_desk".into(),
        actor: Some("olga".into()),
        ..Actor::default()
    }
}

fn code_of<T>(outcome: &Result<T, StoreError>) -> Option<ErrorCode> {
    outcome.as_ref().err().and_then(StoreError::code)
}

async fn profile(store: &dyn Store, id: &str) -> Result<StoredProfile, String> {
    store
        .profile(id)
        .await
        .map_err(e)?
        .ok_or_else(|| format!("profile {id} missing"))
}

fn text(value: &str) -> Option<FieldValue> {
    Some(FieldValue::Text(value.to_string()))
}

fn edit(id: &str, at: DateTime<Utc>) -> ProfileUpdate {
    ProfileUpdate {
        customer_id: id.into(),
        direct: true,
        by: staff(),
        at,
        ..ProfileUpdate::default()
    }
}

async fn update(store: &dyn Store, u: ProfileUpdate) -> Result<StoredProfile, StoreError> {
    match store.crm(CrmCommand::Update(Box::new(u))).await? {
        CrmOutcome::Profile(p) => Ok(*p),
        other => Err(StoreError::backend(format!("unexpected {other:?}"))),
    }
}

async fn balance(store: &dyn Store, id: &str, at: DateTime<Utc>) -> Result<(i64, i64), String> {
    let mut ledger = store.customer_ledger(id).await.map_err(e)?;
    ledger.catch_up(at);
    Ok((ledger.available, ledger.pending))
}

/// Runs the CRM checks on a fresh store.
pub async fn profiles_merges_and_privacy(store: &dyn Store) -> ContractResult {
    let config = setup(store).await.map_err(e)?;
    store
        .create_customers(vec![Customer {
            customer_id: "c2".into(),
            name: Some("Anya".into()),
            phone: Some("+79160000002".into()),
            email: Some("anna@example.com".into()),
            cards: vec!["7002".into()],
            created_at: t0() + Duration::hours(1),
        }])
        .await
        .map_err(e)?;
    // Points for both: c1 earns 1000 (10% of 10000.00), c2 500.
    for (id, card, price) in [("r1", "7001", 500_000), ("r2", "7002", 250_000)] {
        let mut request = receipt(id, price, Redeem::None, t0() + Duration::hours(2));
        request.customer = Some(CustomerRef::Card(card.into()));
        store
            .commit_receipt(crate::contract::commit_for_tests(
                &config,
                request,
                t0() + Duration::hours(2),
            ))
            .await
            .map_err(e)?;
    }
    let day = t0() + Duration::days(20);
    ensure(balance(store, "c1", day).await? == (1000, 0), "c1 earned")?;
    ensure(balance(store, "c2", day).await? == (500, 0), "c2 earned")?;

    fields_and_history(store).await?;
    identifiers_and_consents(store).await?;
    merge_and_unmerge(store, day).await?;
    review_queue(store, day).await?;
    cards(store, day).await?;
    adjustments(store, day).await?;
    import_batch(store, day).await?;
    erasure(store, day).await?;
    let report = store.check().await.map_err(e)?;
    ensure(
        report.ok(),
        format!("check after the CRM suite: {report:?}"),
    )
}

async fn fields_and_history(store: &dyn Store) -> ContractResult {
    let at = t0() + Duration::days(1);
    let mut u = edit("c1", at);
    u.fields = vec![
        (Field::FirstName, text("Anna")),
        (Field::LastName, text("Petrova")),
        (
            Field::Birthday,
            Some(FieldValue::Date(
                NaiveDate::from_ymd_opt(1990, 5, 17).unwrap_or_default(),
            )),
        ),
        (
            Field::Attribute("pets".into()),
            Some(FieldValue::Json(serde_json::json!(["cat"]))),
        ),
    ];
    let p = update(store, u).await.map_err(e)?;
    ensure(
        p.doc.display_name().as_deref() == Some("Anna Petrova"),
        "display name from parts",
    )?;
    let stored = profile(store, "c1").await?;
    ensure(stored.doc == p.doc, "the document is stored as answered")?;
    let events = store.profile_events("c1", 0, 100).await.map_err(e)?;
    let fields: Vec<&str> = events
        .iter()
        .filter(|ev| ev.kind == "field")
        .filter_map(|ev| ev.detail.get("field").and_then(|f| f.as_str()))
        .collect();
    ensure(
        fields == ["first_name", "last_name", "birthday", "attributes.pets"],
        format!("history of fields: {fields:?}"),
    )?;
    ensure(
        events
            .iter()
            .all(|ev| ev.source == "service_desk" && ev.actor.as_deref() == Some("olga")),
        "history records source and actor",
    )?;
    // An import a day later does not overwrite the service desk's fresh value.
    let mut imported = edit("c1", at + Duration::days(1));
    imported.direct = false;
    imported.trust = SourceTrust::default();
    imported.by.source = "import".into();
    imported.fields = vec![
        (Field::LastName, text("Petrov")),
        (Field::City, text("Kazan")),
    ];
    let p = update(store, imported).await.map_err(e)?;
    ensure(
        p.doc.last_name.as_ref().map(|s| s.value.as_str()) == Some("Petrova"),
        "survivorship keeps the trusted value",
    )?;
    ensure(
        p.doc.city.as_ref().map(|s| s.value.as_str()) == Some("Kazan"),
        "an empty field takes the import's value",
    )?;
    // A wrong kind of value names the field.
    let mut bad = edit("c1", at);
    bad.fields = vec![(Field::Birthday, text("yesterday"))];
    let refused = update(store, bad).await;
    ensure(
        matches!(&refused, Err(StoreError::Domain(err)) if err.field.as_deref() == Some("birthday")),
        format!("a text birthday is refused: {refused:?}"),
    )?;
    let missing = update(store, edit("nobody", at)).await;
    ensure(
        code_of(&missing) == Some(ErrorCode::CustomerNotFound),
        "unknown customer",
    )
}

async fn identifiers_and_consents(store: &dyn Store) -> ContractResult {
    let at = t0() + Duration::days(3);
    let mut u = edit("c1", at);
    u.add_identifiers = vec![
        (IdentifierKind::Phone, "+79160000002".into()),
        (IdentifierKind::Email, "anna@example.com".into()),
    ];
    let taken = update(store, u).await;
    ensure(
        code_of(&taken) == Some(ErrorCode::PhoneTaken),
        format!("c2's phone is taken: {taken:?}"),
    )?;
    ensure(
        !profile(store, "c1")
            .await?
            .values(IdentifierKind::Email)
            .any(|v| v == "anna@example.com"),
        "a refused update writes nothing",
    )?;
    let mut u = edit("c1", at);
    u.add_identifiers = vec![
        (IdentifierKind::Phone, "+79160000011".into()),
        (IdentifierKind::Email, "anna@example.com".into()),
        (IdentifierKind::External, "web:881".into()),
    ];
    update(store, u).await.map_err(e)?;
    for (query, want) in [
        (CustomerQuery::Phone("+79160000011".into()), vec!["c1"]),
        (CustomerQuery::Phone("+79160000001".into()), vec!["c1"]),
        (
            CustomerQuery::Email("anna@example.com".into()),
            vec!["c1", "c2"],
        ),
        (CustomerQuery::Card("7002".into()), vec!["c2"]),
        (CustomerQuery::NamePrefix("petr".into()), vec!["c1"]),
        (CustomerQuery::NamePrefix("an".into()), vec!["c1", "c2"]),
        (CustomerQuery::NamePrefix("zz".into()), vec![]),
    ] {
        let found = store.search_customers(&query, 10).await.map_err(e)?;
        ensure(found == want, format!("search {query:?}: {found:?}"))?;
    }
    let found = store
        .find_customer(&CustomerRef::Phone("+79160000011".into()))
        .await
        .map_err(e)?;
    ensure(
        found.as_deref() == Some("c1"),
        "a till finds the added phone",
    )?;

    // Consents: a withdrawal at the till is not undone by an older or weaker grant.
    let consent = |granted: bool, at: DateTime<Utc>, source: &str| ConsentEvent {
        channel: Channel::Sms,
        granted,
        at,
        source: source.into(),
    };
    let mut u = edit("c1", at);
    u.consents = vec![
        consent(true, at - Duration::days(10), "web"),
        consent(false, at, "pos"),
        consent(true, at - Duration::days(1), "service_desk"),
    ];
    update(store, u).await.map_err(e)?;
    let mut u = edit("c1", at + Duration::days(1));
    u.by.source = "paper".into();
    u.consents = vec![consent(true, at + Duration::days(1), "paper")];
    let p = update(store, u).await.map_err(e)?;
    let sms = p.doc.consents.get(&Channel::Sms);
    ensure(
        sms.is_some_and(|c| !c.granted && c.source == "pos"),
        format!("the till's withdrawal stands: {sms:?}"),
    )?;
    let events = store.profile_events("c1", 0, 100).await.map_err(e)?;
    let ignored = events
        .iter()
        .filter(|ev| ev.kind == "consent" && ev.detail["applied"] == false)
        .count();
    ensure(
        ignored == 2,
        format!("ignored consents are in the history: {ignored}"),
    )
}

async fn merge_and_unmerge(store: &dyn Store, day: DateTime<Utc>) -> ContractResult {
    let before = (profile(store, "c1").await?, profile(store, "c2").await?);
    let balances = (
        balance(store, "c1", day).await?,
        balance(store, "c2", day).await?,
    );
    let merge = CrmCommand::Merge {
        merge_id: "m1".into(),
        survivor_id: "c1".into(),
        absorbed_id: "c2".into(),
        reason: "manual".into(),
        trust: SourceTrust::default(),
        by: staff(),
        at: day,
    };
    store.crm(merge.clone()).await.map_err(e)?;
    ensure(
        balance(store, "c1", day).await? == (1500, 0),
        "the points moved with entries",
    )?;
    ensure(
        balance(store, "c2", day).await? == (0, 0),
        "nothing left behind",
    )?;
    let survivor = profile(store, "c1").await?;
    ensure(
        survivor.cards.iter().any(|c| c.number == "7002"),
        "c2's card moved",
    )?;
    ensure(
        survivor
            .values(IdentifierKind::Phone)
            .any(|v| v == "+79160000002"),
        "c2's phone moved",
    )?;
    ensure(
        profile(store, "c2").await?.status == ProfileStatus::Merged { into: "c1".into() },
        "c2 is merged",
    )?;
    for reference in [
        CustomerRef::Card("7002".into()),
        CustomerRef::Phone("+79160000002".into()),
        CustomerRef::CustomerId("c2".into()),
    ] {
        let found = store.find_customer(&reference).await.map_err(e)?;
        ensure(
            found.as_deref() == Some("c1"),
            format!("{reference:?} reaches the survivor: {found:?}"),
        )?;
    }
    let again = store.crm(merge).await;
    ensure(
        code_of(&again) == Some(ErrorCode::MergeConflict),
        "a merge id is used once",
    )?;
    let merges = store.merges_into("c1").await.map_err(e)?;
    ensure(merges.len() == 1, "the merge is listed")?;
    let report = store.check().await.map_err(e)?;
    ensure(report.ok(), format!("check after a merge: {report:?}"))?;

    store
        .crm(CrmCommand::Unmerge {
            customer_id: "c2".into(),
            by: staff(),
            at: day,
        })
        .await
        .map_err(e)?;
    let after = (profile(store, "c1").await?, profile(store, "c2").await?);
    ensure(
        after.0.doc == before.0.doc && after.1.doc == before.1.doc,
        "documents restored",
    )?;
    let ids = |p: &StoredProfile| {
        let mut v: Vec<(IdentifierKind, String)> = p
            .identifiers
            .iter()
            .map(|i| (i.kind, i.value.clone()))
            .collect();
        v.sort();
        let mut c: Vec<String> = p.cards.iter().map(|c| c.number.clone()).collect();
        c.sort();
        (v, c)
    };
    ensure(
        ids(&after.0) == ids(&before.0) && ids(&after.1) == ids(&before.1),
        format!(
            "identifiers restored: {:?} / {:?}",
            ids(&after.1),
            ids(&before.1)
        ),
    )?;
    ensure(
        after.1.status == ProfileStatus::Active,
        "c2 is active again",
    )?;
    let restored = (
        balance(store, "c1", day).await?,
        balance(store, "c2", day).await?,
    );
    ensure(
        restored == balances,
        format!("balances restored exactly: {restored:?} vs {balances:?}"),
    )?;
    let twice = store
        .crm(CrmCommand::Unmerge {
            customer_id: "c2".into(),
            by: staff(),
            at: day,
        })
        .await;
    ensure(
        code_of(&twice) == Some(ErrorCode::MergeNotFound),
        "an unmerge is undone once",
    )?;
    let report = store.check().await.map_err(e)?;
    ensure(report.ok(), format!("check after an unmerge: {report:?}"))
}

async fn review_queue(store: &dyn Store, day: DateTime<Utc>) -> ContractResult {
    let candidate = MergeCandidate {
        candidate_id: "k1".into(),
        customer_a: "c1".into(),
        customer_b: "c2".into(),
        kind: "fuzzy".into(),
        score: 0.95,
        status: CandidateStatus::Open,
        created_at: day,
        decided_at: None,
        decided_by: None,
        merge_id: None,
    };
    let batch = ImportBatch {
        candidates: vec![candidate.clone(), candidate],
        by: Actor {
            source: "import".into(),
            ..Actor::default()
        },
        at: day,
        ..ImportBatch::default()
    };
    store
        .crm(CrmCommand::Import(Box::new(batch), SourceTrust::default()))
        .await
        .map_err(e)?;
    let open = store
        .merge_candidates(&CandidateFilter {
            status: Some(CandidateStatus::Open),
            after: None,
            limit: 10,
        })
        .await
        .map_err(e)?;
    ensure(open.len() == 1, format!("one open candidate: {open:?}"))?;
    let decide = |accept: bool| CrmCommand::Decide {
        candidate_id: "k1".into(),
        accept,
        merge_id: "m2".into(),
        trust: SourceTrust::default(),
        by: staff(),
        at: day,
    };
    let rejected = store.crm(decide(false)).await.map_err(e)?;
    ensure(
        matches!(rejected, CrmOutcome::Candidate(c) if c.status == CandidateStatus::Rejected),
        "rejected",
    )?;
    let twice = store.crm(decide(true)).await;
    ensure(
        code_of(&twice) == Some(ErrorCode::MergeConflict),
        "a decided candidate stays decided",
    )?;
    let unknown = store
        .crm(CrmCommand::Decide {
            candidate_id: "nope".into(),
            accept: true,
            merge_id: "m3".into(),
            trust: SourceTrust::default(),
            by: staff(),
            at: day,
        })
        .await;
    ensure(
        code_of(&unknown) == Some(ErrorCode::CandidateNotFound),
        "unknown candidate",
    )
}

async fn cards(store: &dyn Store, day: DateTime<Utc>) -> ContractResult {
    let op = |operation: CardOperation| CrmCommand::Card {
        customer_id: "c2".into(),
        operation,
        by: staff(),
        at: day,
    };
    store
        .crm(op(CardOperation::Block {
            number: "7002".into(),
        }))
        .await
        .map_err(e)?;
    let blocked = store.find_ledger(&CustomerRef::Card("7002".into())).await;
    ensure(
        code_of(&blocked) == Some(ErrorCode::CardBlocked),
        format!("a blocked card is refused at the till: {:?}", blocked.err()),
    )?;
    store
        .crm(op(CardOperation::Replace {
            number: "7002".into(),
            new_number: "7102".into(),
            card_type: Some(CardType::Virtual),
        }))
        .await
        .map_err(e)?;
    let found = store
        .find_ledger(&CustomerRef::Card("7102".into()))
        .await
        .map_err(e)?;
    ensure(
        found.is_some_and(|(mut ledger, facts)| {
            ledger.catch_up(day);
            ledger.customer_id == "c2"
                && ledger.available == 500
                && facts.card_types == [CardType::Virtual]
        }),
        "the new card reaches the same account and balance",
    )?;
    let p = profile(store, "c2").await?;
    ensure(
        p.cards
            .iter()
            .any(|c| c.number == "7002" && c.status == CardStatus::Replaced),
        "the old card is replaced",
    )?;
    let taken = store
        .crm(op(CardOperation::Add {
            number: "7001".into(),
            card_type: CardType::Family,
        }))
        .await;
    ensure(
        code_of(&taken) == Some(ErrorCode::CardTaken),
        "c1's card cannot be added to c2",
    )?;
    store
        .crm(op(CardOperation::Add {
            number: "7202".into(),
            card_type: CardType::Family,
        }))
        .await
        .map_err(e)?;
    let family = store
        .find_customer(&CustomerRef::Card("7202".into()))
        .await
        .map_err(e)?;
    ensure(
        family.as_deref() == Some("c2"),
        "a family card on the account",
    )
}

async fn adjustments(store: &dyn Store, day: DateTime<Utc>) -> ContractResult {
    let adjust = |key: &str, points: i64, hash: &str| {
        CrmCommand::Adjust(Box::new(AdjustCommand {
            customer_id: "c1".into(),
            points,
            reason: "goodwill".into(),
            idempotency_key: key.into(),
            request_hash: hash.into(),
            program: program(),
            by: staff(),
            at: day,
        }))
    };
    let first = store.crm(adjust("a1", 250, "h1")).await.map_err(e)?;
    let retry = store.crm(adjust("a1", 250, "h1")).await.map_err(e)?;
    let bytes = |o: CrmOutcome| match o {
        CrmOutcome::Adjusted(b) => b,
        _ => Vec::new(),
    };
    ensure(
        !bytes(first.clone()).is_empty() && bytes(first) == bytes(retry),
        "a retry answers the same",
    )?;
    ensure(balance(store, "c1", day).await?.0 == 1250, "added once")?;
    let conflict = store.crm(adjust("a1", 300, "h2")).await;
    ensure(
        code_of(&conflict) == Some(ErrorCode::AdjustmentConflict),
        "another body under the same key",
    )?;
    let short = store.crm(adjust("a2", -5000, "h3")).await;
    ensure(
        code_of(&short) == Some(ErrorCode::InsufficientPoints),
        "cannot take more than available",
    )?;
    store.crm(adjust("a3", -200, "h4")).await.map_err(e)?;
    ensure(balance(store, "c1", day).await?.0 == 1050, "taken")?;
    Ok(())
}

async fn import_batch(store: &dyn Store, day: DateTime<Utc>) -> ContractResult {
    let mut new = StoredProfile::from_customer(
        &Customer {
            customer_id: "c3".into(),
            name: None,
            phone: Some("+79160000033".into()),
            email: None,
            cards: vec!["7003".into()],
            created_at: day,
        },
        "import",
    );
    new.doc
        .set(
            &Field::FirstName,
            text("Boris"),
            day,
            "import",
            tessera_core::profile::Mode::Direct,
        )
        .map_err(|e| e.to_string())?;
    let mut clash = StoredProfile::from_customer(
        &Customer {
            customer_id: "c4".into(),
            name: None,
            phone: None,
            email: None,
            cards: vec!["7001".into()],
            created_at: day,
        },
        "import",
    );
    clash.doc.registration = None;
    let batch = ImportBatch {
        creates: vec![new, clash],
        by: Actor {
            source: "import".into(),
            ..Actor::default()
        },
        at: day,
        ..ImportBatch::default()
    };
    let outcome = store
        .crm(CrmCommand::Import(Box::new(batch), SourceTrust::default()))
        .await
        .map_err(e)?;
    let CrmOutcome::Imported(applied) = outcome else {
        return Err("an import answers its counts".into());
    };
    ensure(
        applied.created == 1
            && applied.skipped.len() == 1
            && applied.skipped[0].0 == "c4"
            && applied.skipped[0].1 == "card_taken",
        format!("one created, the clash skipped: {applied:?}"),
    )?;
    ensure(
        store.profile("c4").await.map_err(e)?.is_none(),
        "c4 not written",
    )?;
    let matched = store.match_profiles().await.map_err(e)?;
    let c3 = matched.iter().find(|m| m.customer_id == "c3");
    ensure(
        c3.is_some_and(|m| {
            m.first_name.as_deref() == Some("Boris")
                && m.phones == ["+79160000033"]
                && m.cards == ["7003"]
        }),
        format!("the matcher sees the new profile: {c3:?}"),
    )
}

async fn erasure(store: &dyn Store, day: DateTime<Utc>) -> ContractResult {
    let entries_before = store.ledger_entries("c1", 0, 10_000).await.map_err(e)?;
    let balance_before = balance(store, "c1", day).await?;
    let erase = CrmCommand::Erase {
        customer_id: "c1".into(),
        by: staff(),
        at: day,
    };
    store.crm(erase.clone()).await.map_err(e)?;
    let p = profile(store, "c1").await?;
    ensure(
        matches!(p.status, ProfileStatus::Erased { .. })
            && p.identifiers.is_empty()
            && p.cards.is_empty()
            && p.doc.display_name().is_none()
            && p.doc.consents.is_empty(),
        format!("nothing personal left: {p:?}"),
    )?;
    let events = store.profile_events("c1", 0, 1000).await.map_err(e)?;
    let leaked = events
        .iter()
        .filter(|ev| ev.kind != "erase")
        .map(|ev| ev.detail.to_string())
        .find(|d| d.contains("Petrova") || d.contains("+7916") || d.contains("anna@"));
    ensure(leaked.is_none(), format!("history scrubbed: {leaked:?}"))?;
    let entries_after = store.ledger_entries("c1", 0, 10_000).await.map_err(e)?;
    ensure(entries_after == entries_before, "the ledger stays")?;
    ensure(
        balance(store, "c1", day).await? == balance_before,
        "the balance stays",
    )?;
    ensure(
        store.receipt("r1").await.map_err(e)?.is_some(),
        "receipts stay",
    )?;
    let freed = store
        .find_customer(&CustomerRef::Card("7001".into()))
        .await
        .map_err(e)?;
    ensure(freed.is_none(), "the card is freed")?;
    store
        .create_customers(vec![Customer {
            customer_id: "c5".into(),
            name: None,
            phone: Some("+79160000001".into()),
            email: None,
            cards: vec!["7001".into()],
            created_at: day,
        }])
        .await
        .map_err(e)?;
    store.crm(erase).await.map_err(e)?;
    let edit_erased = update(store, edit("c1", day)).await;
    ensure(
        code_of(&edit_erased) == Some(ErrorCode::CustomerErased),
        "an erased profile cannot be edited",
    )
}
