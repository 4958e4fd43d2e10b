//! Importing customers: the parsed rows are matched against every existing profile
//! (`tessera_core::import::plan`), and the plan is written in batches through
//! [`crate::crm::apply`]: merges of existing profiles the file links first, then new
//! profiles and updates of matched ones (by survivorship, source `options.source`),
//! then the suggestions for review.
//!
//! A value is never given to two customers: a phone, card or external id the plan
//! would give to a second holder (a family phone the rules sent to review, a card two
//! clusters present) stays with the first and is reported in `kept_with_holder`.
//! Placeholders and values shared by too many profiles are not stored as identifiers.

use crate::crm_command::{
    Actor, CrmCommand, CrmOutcome, ImportApplied, ImportBatch, ProfileUpdate,
};
use crate::port::{Store, StoreResult};
use crate::profile::{
    CandidateStatus, CardStatus, IdentifierKind, MergeCandidate, ProfileStatus, StoredCard,
    StoredIdentifier, StoredProfile,
};
use crate::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use tessera_core::consent::SourceTrust;
use tessera_core::customer::CardType;
use tessera_core::import::{
    plan, CleanRow, ExistingProfile, ImportReport, ParsedInput, Party, Target, WithheldReason,
};
use tessera_core::matching::{Identifier, MatchKind, MatchRules, Person};
use tessera_core::profile::{Field, FieldValue, Mode, ProfileDoc, Registration};

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The source system's name: the provenance of every value, and the scope of
    /// `source_id`.
    pub source: String,
    pub rules: MatchRules,
    pub trust: SourceTrust,
    /// Clusters per write transaction.
    pub batch_size: usize,
    pub actor: Option<String>,
}

/// A value left with the customer that held it first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeptValue {
    /// `phone`, `card` or `external_id`.
    pub kind: String,
    pub value: String,
    pub holder: String,
    /// The customer the file would also have given it to.
    pub not_given_to: String,
}

/// What an import did: the plan's report and what the writes did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportOutcome {
    pub report: ImportReport,
    pub applied: ImportApplied,
    pub kept_with_holder: Vec<KeptValue>,
    /// Seconds spent loading profiles, planning and writing.
    pub seconds_loading: f64,
    pub seconds_planning: f64,
    pub seconds_writing: f64,
}

/// A source of fresh ids (customers, merges, candidates).
pub type IdSource<'a> = &'a mut (dyn FnMut(&str) -> String + Send);

/// Progress: `(clusters written, clusters in all)`.
pub type Progress<'a> = &'a mut (dyn FnMut(u64, u64) + Send);

fn external(source: &str, id: &str) -> String {
    format!("{source}:{id}")
}

/// What the planner needs of a stored profile.
fn existing(profile: crate::crm_command::MatchProfile) -> ExistingProfile {
    let person = Person {
        first_name: profile.first_name.as_deref(),
        middle_name: profile.middle_name.as_deref(),
        last_name: profile.last_name.as_deref(),
        birthday: profile.birthday,
    }
    .fold();
    ExistingProfile {
        external_ids: profile
            .external_ids
            .iter()
            .filter_map(|e| e.split_once(':'))
            .map(|(s, i)| (s.to_string(), i.to_string()))
            .collect(),
        customer_id: profile.customer_id,
        created_at: Some(profile.created_at),
        cards: profile.cards,
        phones: profile.phones,
        emails: profile.emails,
        person,
    }
}

/// Who holds each unique value, as the import goes.
#[derive(Default)]
struct Holders {
    held: HashMap<(IdentifierKind, String), String>,
    cards: HashMap<String, String>,
    kept: Vec<KeptValue>,
}

impl Holders {
    /// Whether `customer` may take the value (`None`: a card): nobody else holds it
    /// (then it is now theirs), or they hold it already. Shared emails always may.
    fn take(&mut self, kind: Option<IdentifierKind>, value: &str, customer: &str) -> bool {
        let (holder, name) = match kind {
            None => (self.cards.get(value), "card"),
            Some(kind) if !kind.is_unique() => return true,
            Some(kind) => (self.held.get(&(kind, value.to_string())), kind.as_str()),
        };
        match holder {
            Some(holder) if holder == customer => true,
            Some(holder) => {
                self.kept.push(KeptValue {
                    kind: name.to_string(),
                    value: value.to_string(),
                    holder: holder.clone(),
                    not_given_to: customer.to_string(),
                });
                false
            }
            None => {
                match kind {
                    None => self.cards.insert(value.to_string(), customer.to_string()),
                    Some(kind) => self
                        .held
                        .insert((kind, value.to_string()), customer.to_string()),
                };
                true
            }
        }
    }
}

/// The values of a cluster's rows, as they go into one profile.
struct Values {
    fields: Vec<(Field, FieldValue, DateTime<Utc>)>,
    identifiers: Vec<(IdentifierKind, String, DateTime<Utc>)>,
    cards: Vec<String>,
    consents: Vec<tessera_core::consent::ConsentEvent>,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
}

fn values(rows: &[&CleanRow], source: &str, now: DateTime<Utc>) -> Values {
    let mut v = Values {
        fields: Vec::new(),
        identifiers: Vec::new(),
        cards: Vec::new(),
        consents: Vec::new(),
        first_at: now,
        last_at: DateTime::<Utc>::MIN_UTC,
    };
    for row in rows {
        let at = row.created_at.unwrap_or(now);
        v.first_at = v.first_at.min(at);
        v.last_at = v.last_at.max(at);
        let text = |s: &Option<String>| s.clone().map(FieldValue::Text);
        for (field, value) in [
            (Field::FirstName, text(&row.first_name)),
            (Field::MiddleName, text(&row.middle_name)),
            (Field::LastName, text(&row.last_name)),
            (Field::City, text(&row.city)),
            (
                Field::Gender,
                row.gender.map(|g| FieldValue::Gender(g.into())),
            ),
            (Field::Birthday, row.birthday.map(FieldValue::Date)),
        ] {
            if let Some(value) = value {
                v.fields.push((field, value, at));
            }
        }
        if let Some(phone) = &row.phone {
            v.identifiers
                .push((IdentifierKind::Phone, phone.clone(), at));
        }
        if let Some(email) = &row.email {
            v.identifiers
                .push((IdentifierKind::Email, email.clone(), at));
        }
        if let Some(id) = &row.source_id {
            v.identifiers
                .push((IdentifierKind::External, external(source, id), at));
        }
        if let Some(card) = &row.card {
            if !v.cards.contains(card) {
                v.cards.push(card.clone());
            }
        }
        v.consents.extend(row.consent_events(source, now));
    }
    v.identifiers.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    v.identifiers.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
    v
}

/// Imports parsed rows: matches, writes, reports.
pub async fn import_customers(
    store: &dyn Store,
    parsed: &ParsedInput,
    options: &ImportOptions,
    now: DateTime<Utc>,
    new_id: IdSource<'_>,
    progress: Progress<'_>,
) -> StoreResult<ImportOutcome> {
    let started = std::time::Instant::now();
    let stored = store.match_profiles().await?;
    let mut holders = Holders::default();
    for p in &stored {
        for phone in &p.phones {
            holders.held.insert(
                (IdentifierKind::Phone, phone.clone()),
                p.customer_id.clone(),
            );
        }
        for e in &p.external_ids {
            holders
                .held
                .insert((IdentifierKind::External, e.clone()), p.customer_id.clone());
        }
        for card in &p.cards {
            holders.cards.insert(card.clone(), p.customer_id.clone());
        }
    }
    let existing_profiles: Vec<ExistingProfile> = stored.into_iter().map(existing).collect();
    let loaded = started.elapsed().as_secs_f64();

    let planned = plan(
        &parsed.rows,
        &existing_profiles,
        &options.rules,
        &options.source,
    );
    let report = ImportReport::new(&options.source, parsed, &planned);
    let planning = started.elapsed().as_secs_f64() - loaded;

    // Values not to store as identifiers.
    let mut withheld: HashSet<(Identifier, &str)> = HashSet::new();
    for w in &planned.withheld {
        let stored_anyway = w.on == Identifier::Email && w.reason == WithheldReason::Shared;
        if !stored_anyway {
            withheld.insert((w.on, w.value.as_str()));
        }
    }
    for c in &planned.card_conflicts {
        withheld.insert((Identifier::Card, c.card.as_str()));
    }
    let by = Actor {
        source: options.source.clone(),
        actor: options.actor.clone(),
        ..Actor::default()
    };

    // Merges go first, in a batch of their own; holders follow the survivors.
    let mut survivor_of: HashMap<&str, &str> = HashMap::new();
    let mut merges = Vec::new();
    for m in &planned.merges {
        for absorbed in &m.merged {
            survivor_of.insert(absorbed.as_str(), m.survivor.as_str());
            merges.push((new_id("mrg"), m.survivor.clone(), absorbed.clone()));
        }
    }
    for holder in holders.held.values_mut().chain(holders.cards.values_mut()) {
        if let Some(s) = survivor_of.get(holder.as_str()) {
            *holder = s.to_string();
        }
    }

    let total = planned.clusters.len() as u64;
    let mut applied = ImportApplied::default();
    let run = |batch: ImportBatch| {
        let command = CrmCommand::Import(Box::new(batch), options.trust.clone());
        async move {
            match store.crm(command).await? {
                CrmOutcome::Imported(a) => Ok(a),
                other => Err(StoreError::backend(format!("import answered {other:?}"))),
            }
        }
    };
    let add = |sum: &mut ImportApplied, a: ImportApplied| {
        sum.created += a.created;
        sum.updated += a.updated;
        sum.merged += a.merged;
        sum.candidates += a.candidates;
        sum.skipped.extend(a.skipped);
    };
    if !merges.is_empty() {
        let a = run(ImportBatch {
            merges,
            by: by.clone(),
            at: now,
            ..ImportBatch::default()
        })
        .await?;
        add(&mut applied, a);
    }

    let mut cluster_ids: Vec<String> = Vec::with_capacity(planned.clusters.len());
    let size = options.batch_size.max(1);
    let fresh = || ImportBatch {
        by: by.clone(),
        at: now,
        ..ImportBatch::default()
    };
    let mut clusters = planned.clusters.iter();
    // Fills a batch with the next clusters, up to the batch size.
    let mut fill = |batch: &mut ImportBatch| {
        while batch.creates.len() + batch.updates.len() < size {
            let Some(cluster) = clusters.next() else {
                break;
            };
            let rows: Vec<&CleanRow> = cluster.rows.iter().map(|&i| &parsed.rows[i]).collect();
            let v = values(&rows, &options.source, now);
            let customer_id = match &cluster.target {
                Target::New => new_id("cus"),
                Target::Existing { customer_id, .. } => customer_id.clone(),
            };
            let mut identifiers = Vec::new();
            for (kind, value, at) in v.identifiers {
                let on = match kind {
                    IdentifierKind::Phone => Identifier::Phone,
                    IdentifierKind::Email => Identifier::Email,
                    IdentifierKind::External => Identifier::ExternalId,
                };
                let raw = match kind {
                    IdentifierKind::External => value
                        .split_once(':')
                        .map(|(_, id)| id.to_string())
                        .unwrap_or_default(),
                    _ => value.clone(),
                };
                if withheld.contains(&(on, raw.as_str())) {
                    continue;
                }
                if holders.take(Some(kind), &value, &customer_id) {
                    identifiers.push((kind, value, at));
                }
            }
            let mut cards = Vec::new();
            for card in v.cards {
                if withheld.contains(&(Identifier::Card, card.as_str())) {
                    continue;
                }
                if holders.take(None, &card, &customer_id) {
                    cards.push(card);
                }
            }
            match &cluster.target {
                Target::New => {
                    let mut doc = ProfileDoc {
                        registration: Some(Registration {
                            source: options.source.clone(),
                            at: v.first_at,
                            store_id: None,
                        }),
                        ..ProfileDoc::default()
                    };
                    for (field, value, at) in v.fields {
                        // Values of the right kind always fit their field.
                        let _ = doc.set(
                            &field,
                            Some(value),
                            at,
                            &options.source,
                            Mode::Survivorship(&options.trust),
                        );
                    }
                    for consent in &v.consents {
                        if tessera_core::consent::apply_consent(
                            doc.consents.get(&consent.channel),
                            consent,
                            &options.trust,
                        )
                        .is_applied()
                        {
                            doc.consents.insert(
                                consent.channel,
                                tessera_core::consent::Consent {
                                    granted: consent.granted,
                                    at: consent.at,
                                    source: consent.source.clone(),
                                },
                            );
                        }
                    }
                    batch.creates.push(StoredProfile {
                        customer_id: customer_id.clone(),
                        created_at: now,
                        updated_at: now,
                        status: ProfileStatus::Active,
                        doc,
                        identifiers: identifiers
                            .into_iter()
                            .map(|(kind, value, at)| StoredIdentifier {
                                kind,
                                value,
                                source: options.source.clone(),
                                added_at: at,
                            })
                            .collect(),
                        cards: cards
                            .into_iter()
                            .map(|number| StoredCard {
                                number,
                                card_type: CardType::Plastic,
                                status: CardStatus::Active,
                            })
                            .collect(),
                    });
                }
                Target::Existing { .. } => {
                    let fields = v
                        .fields
                        .into_iter()
                        .map(|(field, value, _)| (field, Some(value)))
                        .collect();
                    batch.updates.push(ProfileUpdate {
                        customer_id: customer_id.clone(),
                        fields,
                        add_identifiers: identifiers.into_iter().map(|(k, v, _)| (k, v)).collect(),
                        add_cards: cards.into_iter().map(|c| (c, CardType::Plastic)).collect(),
                        consents: v.consents,
                        direct: false,
                        trust: options.trust.clone(),
                        by: by.clone(),
                        at: v.last_at,
                        ..ProfileUpdate::default()
                    });
                }
            }
            cluster_ids.push(customer_id);
        }
    };
    let mut batch = fresh();
    fill(&mut batch);
    let mut done = 0u64;
    // A full batch is written while the next one is made; the last one, not full,
    // takes the suggestions for review along.
    while batch.creates.len() + batch.updates.len() >= size {
        let n_items = (batch.creates.len() + batch.updates.len()) as u64;
        let mut next = fresh();
        let written = overlap(run(batch), || fill(&mut next)).await;
        add(&mut applied, written?);
        done += n_items;
        progress(done, total);
        batch = next;
    }
    for c in &planned.candidates {
        let id_of = |p: &Party| match p {
            Party::Cluster(i) => cluster_ids.get(*i).cloned().unwrap_or_default(),
            Party::Existing(id) => id.clone(),
        };
        let (a, b) = (id_of(&c.a), id_of(&c.b));
        if a.is_empty() || b.is_empty() || a == b {
            continue;
        }
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        let (kind, score) = match c.kind {
            MatchKind::Exact { on } => (
                format!("exact:{}", identifier_name(on)),
                c.score.unwrap_or(1.0),
            ),
            MatchKind::Fuzzy { score } => ("fuzzy".to_string(), score),
            MatchKind::None => ("none".to_string(), c.score.unwrap_or(0.0)),
        };
        batch.candidates.push(MergeCandidate {
            candidate_id: new_id("cand"),
            customer_a: a,
            customer_b: b,
            kind,
            score,
            status: CandidateStatus::Open,
            created_at: now,
            decided_at: None,
            decided_by: None,
            merge_id: None,
        });
    }
    done += (batch.creates.len() + batch.updates.len()) as u64;
    let a = run(batch).await?;
    add(&mut applied, a);
    progress(done, total);
    let writing = started.elapsed().as_secs_f64() - loaded - planning;
    Ok(ImportOutcome {
        report,
        applied,
        kept_with_holder: holders.kept,
        seconds_loading: loaded,
        seconds_planning: planning,
        seconds_writing: writing,
    })
}

fn identifier_name(on: Identifier) -> &'static str {
    match on {
        Identifier::ExternalId => "external_id",
        Identifier::Card => "card",
        Identifier::Phone => "phone",
        Identifier::Email => "email",
    }
}

/// Runs `work` on this thread while `write` goes on: `write` is polled once (an
/// adapter with a writer thread has the batch from then on), then `work` runs, then
/// `write` is awaited. An import makes its next batch while the last one is written.
async fn overlap<W: std::future::Future>(write: W, work: impl FnOnce()) -> W::Output {
    let mut write = std::pin::pin!(write);
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(write.as_mut().poll(cx))).await;
    work();
    match first {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => write.await,
    }
}
