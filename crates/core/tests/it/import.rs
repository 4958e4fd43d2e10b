//! Customer import: reading CSV and JSON lines, normalising rows with every refused
//! value reported, and planning clusters, merges and review candidates. The main test
//! runs a deliberately dirty file (`data/dirty_customers.csv`, with a `person` column
//! of ground-truth labels the importer does not know) against a few existing customers
//! and measures the precision and recall of the automatic merges and of merges plus
//! review candidates.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use tessera_core::contact::{Gender, NormalizeRules, Rejection};
use tessera_core::import::{
    parse_consent, parse_created_at, plan as import_plan,
    plan_with_threads as import_plan_with_threads, read_csv, read_csv_with_threads,
    read_json_lines, CleanRow, Column, CsvReader, ExistingProfile, Header, ImportReport,
    ParsedInput, Party, Plan, RowCleaner, RowErrorCode, Target, WithheldReason, WithheldValue,
};
use tessera_core::matching::{Identifier, MatchKind, MatchRules, Person};

const DIRTY: &str = include_str!("data/dirty_customers.csv");
const SOURCE: &str = "crm";

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn cleaner() -> RowCleaner {
    RowCleaner {
        rules: NormalizeRules::default(),
        today: date("2026-03-09"),
        now: at("2026-03-09T12:00:00Z"),
    }
}

/// An existing customer from `[id, last, first, birthday]` and its identifiers.
fn existing(
    [id, last, first, birthday]: [&str; 4],
    created_at: &str,
    phones: &[&str],
    emails: &[&str],
    cards: &[&str],
    external_ids: &[&str],
) -> ExistingProfile {
    let present = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let (last, first) = (present(last), present(first));
    ExistingProfile {
        customer_id: id.to_string(),
        created_at: present(created_at).map(|t| at(&t)),
        cards: cards.iter().map(|c| c.to_string()).collect(),
        phones: phones.iter().map(|p| p.to_string()).collect(),
        emails: emails.iter().map(|e| e.to_string()).collect(),
        external_ids: external_ids
            .iter()
            .map(|id| (SOURCE.to_string(), id.to_string()))
            .collect(),
        person: Person {
            first_name: first.as_deref(),
            middle_name: None,
            last_name: last.as_deref(),
            birthday: present(birthday).map(|b| date(&b)),
        }
        .fold(),
    }
}

/// The existing customers of the dirty file's program, with the person each is.
fn dirty_existing() -> Vec<(&'static str, ExistingProfile)> {
    vec![
        (
            "P01",
            existing(
                ["c-001", "Иванов", "Иван", "1985-03-07"],
                "2019-01-01T00:00:00Z",
                &["+79161234567"],
                &[],
                &["1000000000001"],
                &[],
            ),
        ),
        (
            "P01",
            existing(
                ["c-002", "Ivanov", "Ivan", "1985-03-07"],
                "2021-01-01T00:00:00Z",
                &[],
                &["ivan.ivanov@mail.ru"],
                &[],
                &[],
            ),
        ),
        (
            "P09",
            existing(
                ["c-003", "Петров", "Алексей", "1988-07-14"],
                "",
                &["+79165550001"],
                &[],
                &[],
                &[],
            ),
        ),
        (
            "P02",
            existing(
                ["c-004", "Смирнова", "Наталья", "1990-05-11"],
                "",
                &[],
                &[],
                &["1000000000002"],
                &[],
            ),
        ),
        (
            "P41",
            existing(
                ["c-005", "Орлова", "Марина", "1970-01-01"],
                "",
                &["+79267770001"],
                &[],
                &[],
                &[],
            ),
        ),
        (
            "P45",
            existing(
                ["c-006", "Орлов", "Сергей", "1968-05-05"],
                "",
                &[],
                &["orlov.family@gmail.com"],
                &[],
                &[],
            ),
        ),
        (
            "P42",
            existing(
                ["c-007", "Титов", "Кирилл", "1984-04-12"],
                "",
                &["+79157770000"],
                &[],
                &[],
                &[],
            ),
        ),
        (
            "P24",
            existing(
                ["c-008", "Григорьев", "Константин", "1966-11-11"],
                "",
                &[],
                &[],
                &[],
                &["S130"],
            ),
        ),
        (
            "P11",
            existing(
                ["c-009", "Зайцева", "Ирина", "1983-12-12"],
                "",
                &["+79999999999"],
                &[],
                &[],
                &[],
            ),
        ),
    ]
}

/// The `person` label of each data row of the dirty file, read by the test alone.
fn dirty_labels() -> BTreeMap<u64, String> {
    let mut reader = CsvReader::new(DIRTY);
    let mut fields = Vec::new();
    reader.next_record(&mut fields).unwrap();
    let mut labels = BTreeMap::new();
    let mut row = 0;
    while reader.next_record(&mut fields).is_some() {
        row += 1;
        labels.insert(row, fields[0].to_string());
    }
    labels
}

#[test]
fn dirty_file_reports_every_refused_value_with_its_row() {
    let parsed = read_csv(DIRTY, &cleaner()).unwrap();
    assert_eq!(parsed.n_rows_read, 69);
    assert_eq!(parsed.rows.len(), 68);
    assert_eq!(parsed.unknown_columns, vec!["person".to_string()]);
    assert_eq!(parsed.row_errors.len(), 1);
    let error = &parsed.row_errors[0];
    assert_eq!(
        (error.row, error.line, error.code),
        (67, 68, RowErrorCode::WrongFieldCount)
    );
    assert_eq!(error.detail, "expected 14 fields, found 4");

    let rejections: Vec<(u64, Column, &str, Rejection)> = parsed
        .rejections
        .iter()
        .map(|r| (r.row, r.field, r.value.as_str(), r.reason))
        .collect();
    let expected: Vec<(u64, Column, &str, Rejection)> = {
        use Column::*;
        use Rejection::*;
        vec![
            (22, Phone, "+70000000000", UnknownFormat),
            (27, Birthday, "01.01.2030", InFuture),
            (27, Phone, "12345", TooShort),
            (27, Email, "igor@@mail.ru", UnknownFormat),
            (27, Card, "12", TooShort),
            (27, ConsentEmail, "maybe", UnknownFormat),
            (27, CreatedAt, "yesterday", UnknownFormat),
            (28, FirstName, "Ив4н", InvalidCharacters),
            (28, Gender, "x", UnknownFormat),
            (28, Birthday, "31.02.1990", ImpossibleDate),
            (28, Phone, "+7 916 abc", InvalidCharacters),
            (28, Email, "petrov at mail.ru", InvalidCharacters),
            (59, Birthday, "15.15.1980", ImpossibleDate),
            (68, FirstName, "Анна \"Аня\"", InvalidCharacters),
        ]
    };
    assert_eq!(rejections, expected);

    // The rest of a row with refused values is kept.
    let row_27 = parsed.rows.iter().find(|r| r.row == 27).unwrap();
    assert_eq!(row_27.last_name.as_deref(), Some("Орлов"));
    assert_eq!(row_27.consent_sms, Some(true));
    assert_eq!((row_27.phone.as_ref(), row_27.birthday), (None, None));
    // A quoted field with the separator, and one across lines (CRLF inside quotes).
    let row_62 = parsed.rows.iter().find(|r| r.row == 62).unwrap();
    assert_eq!(
        row_62.city.as_deref(),
        Some("Ростов-на-Дону, Ворошиловский р-н")
    );
    let row_68 = parsed.rows.iter().find(|r| r.row == 68).unwrap();
    assert_eq!(row_68.city.as_deref(), Some("Москва Зеленоград"));
    let row_69 = parsed.rows.iter().find(|r| r.row == 69).unwrap();
    assert_eq!(row_69.line, 71);
    // Normalised forms.
    let row_2 = &parsed.rows[1];
    assert_eq!(row_2.phone.as_deref(), Some("+79161234567"));
    assert_eq!(row_2.email.as_deref(), Some("ivan.ivanov@mail.ru"));
    assert_eq!(row_2.gender, Some(Gender::Male));
    assert_eq!(row_2.created_at, Some(at("2021-05-01T00:00:00Z")));
    let row_3 = &parsed.rows[2];
    assert_eq!(row_3.first_name.as_deref(), Some("Иван"));
    assert_eq!(row_3.middle_name.as_deref(), Some("Петрович"));
    let row_7 = &parsed.rows[6];
    assert_eq!(row_7.card.as_deref(), Some("1000000000003"));
    let row_4 = &parsed.rows[3];
    assert_eq!(row_4.created_at, Some(at("2019-03-01T06:00:00Z")));
    assert_eq!(
        (row_4.consent_email, row_4.consent_sms),
        (Some(true), Some(false))
    );
}

/// The entities of a party once the plan is applied: rows by number (`r12`) and
/// existing customers by id; an existing customer is also the rows of the cluster that
/// updates it and the customers merged into it.
fn expand(party: &Party, plan: &Plan, rows: &[CleanRow]) -> Vec<String> {
    let customer = |survivor: &str| -> Vec<String> {
        let mut ids = vec![survivor.to_string()];
        for merge in plan.merges.iter().filter(|m| m.survivor == survivor) {
            ids.extend(merge.merged.iter().cloned());
        }
        ids
    };
    let cluster_rows = |idx: usize| {
        plan.clusters[idx]
            .rows
            .iter()
            .map(|&p| format!("r{}", rows[p].row))
    };
    match party {
        Party::Existing(id) => {
            let mut entities = customer(id);
            for (idx, cluster) in plan.clusters.iter().enumerate() {
                if matches!(&cluster.target, Target::Existing { customer_id, .. } if customer_id == id)
                {
                    entities.extend(cluster_rows(idx));
                }
            }
            entities
        }
        Party::Cluster(idx) => {
            let mut entities: Vec<String> = cluster_rows(*idx).collect();
            if let Target::Existing { customer_id, .. } = &plan.clusters[*idx].target {
                entities.extend(customer(customer_id));
            }
            entities
        }
    }
}

fn pairs_within(entities: &[String], out: &mut BTreeSet<(String, String)>) {
    for (idx, a) in entities.iter().enumerate() {
        for b in &entities[idx + 1..] {
            out.insert(ordered(a, b));
        }
    }
}

fn ordered(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

fn precision_recall(
    found: &BTreeSet<(String, String)>,
    truth: &BTreeSet<(String, String)>,
) -> (f64, f64) {
    let hits = found.intersection(truth).count() as f64;
    let precision = if found.is_empty() {
        1.0
    } else {
        hits / found.len() as f64
    };
    let recall = if truth.is_empty() {
        1.0
    } else {
        hits / truth.len() as f64
    };
    (precision, recall)
}

fn dirty_plan() -> (ParsedInput, Vec<ExistingProfile>, Plan) {
    let parsed = read_csv(DIRTY, &cleaner()).unwrap();
    let existing: Vec<ExistingProfile> = dirty_existing().into_iter().map(|(_, e)| e).collect();
    let plan = import_plan(&parsed.rows, &existing, &MatchRules::default(), SOURCE);
    (parsed, existing, plan)
}

#[test]
fn dirty_file_merges_precisely_and_finds_nearly_every_duplicate() {
    let (parsed, _, plan) = dirty_plan();
    let labels = dirty_labels();
    let mut label_of: BTreeMap<String, String> = BTreeMap::new();
    for row in &parsed.rows {
        label_of.insert(format!("r{}", row.row), labels[&row.row].clone());
    }
    for (label, profile) in dirty_existing() {
        label_of.insert(profile.customer_id, label.to_string());
    }
    let mut truth = BTreeSet::new();
    let entities: Vec<&String> = label_of.keys().collect();
    for (idx, a) in entities.iter().enumerate() {
        for b in &entities[idx + 1..] {
            if label_of[*a] == label_of[*b] {
                truth.insert(ordered(a, b));
            }
        }
    }

    let mut automatic = BTreeSet::new();
    for idx in 0..plan.clusters.len() {
        pairs_within(
            &expand(&Party::Cluster(idx), &plan, &parsed.rows),
            &mut automatic,
        );
    }
    let mut proposed = automatic.clone();
    for candidate in &plan.candidates {
        for a in expand(&candidate.a, &plan, &parsed.rows) {
            for b in expand(&candidate.b, &plan, &parsed.rows) {
                proposed.insert(ordered(&a, &b));
            }
        }
    }
    let (auto_precision, auto_recall) = precision_recall(&automatic, &truth);
    let (proposed_precision, proposed_recall) = precision_recall(&proposed, &truth);
    let missed: Vec<_> = truth.difference(&proposed).collect();
    let wrong: Vec<_> = automatic.difference(&truth).collect();
    println!(
        "{} true pairs; automatic: precision {auto_precision:.3}, recall {auto_recall:.3}; \
         with candidates: precision {proposed_precision:.3}, recall {proposed_recall:.3}; \
         missed {missed:?}; wrongly merged {wrong:?}",
        truth.len()
    );
    assert!(
        auto_precision >= 0.95,
        "automatic precision {auto_precision}: {wrong:?}"
    );
    assert!(auto_recall >= 0.5, "automatic recall {auto_recall}");
    assert!(
        proposed_recall >= 0.9,
        "recall with candidates {proposed_recall}: {missed:?}"
    );
    assert!(
        proposed_precision >= 0.8,
        "precision with candidates {proposed_precision}"
    );
}

#[test]
fn dirty_file_plan_in_detail() {
    let (parsed, _, plan) = dirty_plan();
    let row_numbers = |idx: usize| -> Vec<u64> {
        plan.clusters[idx]
            .rows
            .iter()
            .map(|&p| parsed.rows[p].row)
            .collect()
    };
    let cluster_of_row = |row: u64| -> usize {
        (0..plan.clusters.len())
            .find(|&idx| row_numbers(idx).contains(&row))
            .unwrap()
    };
    let target = |row: u64| plan.clusters[cluster_of_row(row)].target.clone();
    let existing = |id: &str, on: Identifier| Target::Existing {
        customer_id: id.to_string(),
        on,
    };

    // Exact duplicates across formats and scripts are one cluster.
    assert_eq!(row_numbers(cluster_of_row(1)), vec![1, 2, 3]);
    assert_eq!(row_numbers(cluster_of_row(4)), vec![4, 5]);
    assert_eq!(row_numbers(cluster_of_row(33)), vec![33, 34, 35]);
    assert_eq!(row_numbers(cluster_of_row(63)), vec![63, 64]);
    assert_eq!(row_numbers(cluster_of_row(68)), vec![68, 69]);
    // The family phone joins the mother's rows, not her son's.
    assert_eq!(row_numbers(cluster_of_row(17)), vec![17, 19]);
    assert_eq!(row_numbers(cluster_of_row(18)), vec![18]);
    // Placeholders and a phone shared by four people join nothing.
    for row in [20, 21, 23, 24, 25, 26] {
        assert_eq!(row_numbers(cluster_of_row(row)), vec![row]);
    }

    // Targets: the card is the strongest link of Ivanov's rows; the younger Ivanov
    // profile is merged into the older one.
    assert_eq!(target(1), existing("c-001", Identifier::Card));
    assert_eq!(plan.merges.len(), 1);
    assert_eq!(plan.merges[0].survivor, "c-001");
    assert_eq!(plan.merges[0].merged, vec!["c-002".to_string()]);
    assert_eq!(plan.merges[0].cluster, cluster_of_row(1));
    assert_eq!(target(4), existing("c-004", Identifier::Card));
    assert_eq!(target(18), existing("c-003", Identifier::Phone));
    assert_eq!(target(17), Target::New);
    assert_eq!(target(36), existing("c-008", Identifier::ExternalId));
    assert_eq!(target(61), existing("c-005", Identifier::Phone));
    assert_eq!(target(21), Target::New);

    let has_candidate = |a: Party, b: Party, kind: &dyn Fn(&MatchKind) -> bool| {
        plan.candidates
            .iter()
            .any(|c| ((c.a == a && c.b == b) || (c.a == b && c.b == a)) && kind(&c.kind))
    };
    let fuzzy = |k: &MatchKind| matches!(k, MatchKind::Fuzzy { .. });
    let exact = |on: Identifier| move |k: &MatchKind| *k == MatchKind::Exact { on };
    let cluster = |row: u64| Party::Cluster(cluster_of_row(row));
    let customer = |id: &str| Party::Existing(id.to_string());
    // Mother and son share a phone: review, not merge.
    assert!(has_candidate(
        cluster(17),
        cluster(18),
        &exact(Identifier::Phone)
    ));
    assert!(has_candidate(
        cluster(17),
        customer("c-003"),
        &exact(Identifier::Phone)
    ));
    // Marina's row carries Sergei's email: review.
    assert!(has_candidate(
        cluster(61),
        customer("c-006"),
        &exact(Identifier::Email)
    ));
    // Fuzzy: transliteration, swapped birthday, day typo, diminutive, a placeholder
    // phone that matched nothing.
    // Row 6 is compared with the customer rows 4 and 5 update.
    assert!(has_candidate(cluster(6), customer("c-004"), &fuzzy));
    for (a, b) in [
        (9, 10),
        (11, 12),
        (13, 14),
        (15, 16),
        (44, 45),
        (46, 47),
        (48, 49),
    ] {
        assert!(
            has_candidate(cluster(a), cluster(b), &fuzzy),
            "rows {a} and {b}"
        );
    }
    assert!(has_candidate(cluster(62), customer("c-007"), &fuzzy));
    assert!(has_candidate(cluster(21), customer("c-009"), &fuzzy));
    // Namesakes with other first names or other birth years are not candidates.
    for (a, b) in [(1, 30), (1, 31), (1, 32), (42, 43), (30, 31)] {
        assert!(
            !has_candidate(cluster(a), cluster(b), &|_| true),
            "rows {a} and {b}"
        );
    }

    let withheld = |on: Identifier, value: &str| -> Option<&WithheldValue> {
        plan.withheld
            .iter()
            .find(|w| w.on == on && w.value == value)
    };
    let blocked = withheld(Identifier::Phone, "+79999999999").unwrap();
    assert_eq!(
        (blocked.reason, blocked.n_profiles),
        (WithheldReason::Blocked, 3)
    );
    let blocked = withheld(Identifier::Email, "test@test.ru").unwrap();
    assert_eq!(
        (blocked.reason, blocked.n_profiles),
        (WithheldReason::Blocked, 2)
    );
    let shared = withheld(Identifier::Phone, "+74951234567").unwrap();
    assert_eq!(
        (shared.reason, shared.n_profiles),
        (WithheldReason::Shared, 4)
    );
    assert_eq!(plan.withheld.len(), 3);
    assert!(plan.card_conflicts.is_empty());

    let report = ImportReport::new(SOURCE, &parsed, &plan);
    assert_eq!(report.n_rows_read, 69);
    assert_eq!(report.n_rows_unreadable, 1);
    assert_eq!(report.n_rows_with_rejections, 5);
    assert_eq!(report.n_merged, 1);
    assert_eq!(report.n_created + report.n_updated, plan.clusters.len());
    assert_eq!(report.n_review_candidates, plan.candidates.len());
    let summary = report.summary();
    assert!(
        summary.starts_with("import from crm: 69 rows read, 1 unreadable, 5 with refused values\n"),
        "{summary}"
    );
    assert!(
        summary.contains("refused birthday: 2 impossible_date\n"),
        "{summary}"
    );
    assert!(
        summary.contains("unreadable rows: 1 wrong_field_count\n"),
        "{summary}"
    );
    assert!(
        summary.contains("columns not imported: person\n"),
        "{summary}"
    );
    assert!(
        summary.contains("values not matched on: 2 placeholders, 1 shared by too many profiles\n"),
        "{summary}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["rejections"][0]["field"], "phone");
    assert_eq!(json["rejections"][0]["reason"], "unknown_format");
    assert_eq!(json["withheld"][0]["on"], "phone");
}

/// A plan with rows named by row number instead of position, to compare plans of one
/// file in different orders.
fn by_row_number(plan: &Plan, rows: &[CleanRow]) -> Plan {
    let mut plan = plan.clone();
    for cluster in &mut plan.clusters {
        for p in &mut cluster.rows {
            *p = rows[*p].row as usize;
        }
    }
    plan
}

#[test]
fn shuffling_the_rows_changes_nothing() {
    let (parsed, existing, original) = dirty_plan();
    let expected = by_row_number(&original, &parsed.rows);
    let n = parsed.rows.len();
    let permutations: Vec<Vec<usize>> = vec![
        (0..n).rev().collect(),
        (0..n).map(|i| (i * 7 + 3) % n).collect(),
        (0..n).map(|i| (i * 31 + 11) % n).collect(),
    ];
    for order in permutations {
        let mut seen = order.clone();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), n, "a permutation");
        let shuffled: Vec<CleanRow> = order.iter().map(|&i| parsed.rows[i].clone()).collect();
        let mut reversed_existing = existing.clone();
        reversed_existing.reverse();
        let again = import_plan(
            &shuffled,
            &reversed_existing,
            &MatchRules::default(),
            SOURCE,
        );
        assert_eq!(by_row_number(&again, &shuffled), expected);
    }
    // And planning twice, or on several threads, gives the same plan.
    let (_, _, twice) = dirty_plan();
    assert_eq!(twice, original);
    for n_threads in [2, 3, 100] {
        let threaded = import_plan_with_threads(
            &parsed.rows,
            &existing,
            &MatchRules::default(),
            SOURCE,
            n_threads,
        );
        assert_eq!(threaded, original, "{n_threads} threads");
        assert_eq!(
            read_csv_with_threads(DIRTY, &cleaner(), n_threads).unwrap(),
            parsed
        );
    }
}

/// A clean row from `[last, first, birthday, phone, email, card]`, blank meaning absent.
fn clean(row: u64, fields: [&str; 6]) -> CleanRow {
    let [last, first, birthday, phone, email, card] = fields;
    let present = |s: &str| (!s.is_empty()).then(|| s.to_string());
    CleanRow {
        row,
        line: row + 1,
        last_name: present(last),
        first_name: present(first),
        birthday: present(birthday).map(|b| date(&b)),
        phone: present(phone),
        email: present(email),
        card: present(card),
        ..CleanRow::default()
    }
}

#[test]
fn a_cluster_linking_customers_who_disagree_is_reviewed_not_merged() {
    let marina = existing(
        ["c-1", "Орлова", "Марина", "1970-01-01"],
        "2018-01-01T00:00:00Z",
        &["+79267770001"],
        &[],
        &[],
        &[],
    );
    let sergei = existing(
        ["c-2", "Орлов", "Сергей", "1968-05-05"],
        "2017-01-01T00:00:00Z",
        &[],
        &["orlov.family@gmail.com"],
        &[],
        &[],
    );
    // No name on the row: it agrees with both, so both links are "merge"; the two
    // customers disagree, so they are not merged.
    let rows = vec![clean(
        1,
        ["", "", "", "+79267770001", "orlov.family@gmail.com", ""],
    )];
    let existing = vec![marina.clone(), sergei.clone()];
    let plan = import_plan(&rows, &existing, &MatchRules::default(), SOURCE);
    assert!(plan.merges.is_empty(), "{:?}", plan.merges);
    assert_eq!(plan.clusters.len(), 1);
    // The phone is the stronger link.
    assert_eq!(
        plan.clusters[0].target,
        Target::Existing {
            customer_id: "c-1".into(),
            on: Identifier::Phone
        }
    );
    assert_eq!(plan.candidates.len(), 1);
    let candidate = &plan.candidates[0];
    assert_eq!(
        (&candidate.a, &candidate.b, candidate.kind),
        (
            &Party::Existing("c-1".into()),
            &Party::Existing("c-2".into()),
            MatchKind::Exact {
                on: Identifier::Email
            }
        )
    );
    // With Marina's name on the row, Sergei's email is reviewed against the row.
    let rows = vec![clean(
        1,
        [
            "Орлова",
            "Марина",
            "1970-01-01",
            "+79267770001",
            "orlov.family@gmail.com",
            "",
        ],
    )];
    let plan = import_plan(&rows, &existing, &MatchRules::default(), SOURCE);
    assert!(plan.merges.is_empty());
    assert_eq!(
        (&plan.candidates[0].a, &plan.candidates[0].b),
        (&Party::Cluster(0), &Party::Existing("c-2".into()))
    );
}

#[test]
fn a_cluster_linking_agreeing_customers_merges_them_into_the_oldest() {
    let first = existing(
        ["c-9", "Иванов", "Иван", "1985-03-07"],
        "2015-01-01T00:00:00Z",
        &["+79161234567"],
        &[],
        &[],
        &[],
    );
    let second = existing(
        ["c-1", "Ivanov", "Ivan", "1985-03-07"],
        "",
        &[],
        &["ivan@mail.ru"],
        &["CARD0001"],
        &[],
    );
    let third = existing(
        ["c-5", "Иванов", "Иван", ""],
        "2020-01-01T00:00:00Z",
        &[],
        &[],
        &[],
        &["S1"],
    );
    let rows = vec![
        clean(1, ["Иванов", "Иван", "1985-03-07", "+79161234567", "", ""]),
        CleanRow {
            source_id: Some("S1".into()),
            ..clean(
                2,
                [
                    "Ivanov",
                    "Ivan",
                    "",
                    "+79161234567",
                    "ivan@mail.ru",
                    "CARD0001",
                ],
            )
        },
    ];
    let plan = import_plan(
        &rows,
        &[first, second, third],
        &MatchRules::default(),
        SOURCE,
    );
    assert_eq!(plan.clusters.len(), 1, "{:?}", plan.clusters);
    // The oldest by created_at survives; a profile without one counts as newest.
    assert_eq!(plan.merges.len(), 1);
    assert_eq!(plan.merges[0].survivor, "c-9");
    assert_eq!(
        plan.merges[0].merged,
        vec!["c-1".to_string(), "c-5".to_string()]
    );
    assert!(
        matches!(&plan.clusters[0].target, Target::Existing { customer_id, .. } if customer_id == "c-9")
    );
    assert!(plan.candidates.is_empty(), "{:?}", plan.candidates);
}

#[test]
fn a_card_held_by_another_customer_is_a_conflict() {
    let marina = existing(
        ["c-1", "Орлова", "Марина", "1970-01-01"],
        "",
        &["+79267770001"],
        &[],
        &[],
        &[],
    );
    let sergei = existing(
        ["c-2", "Орлов", "Сергей", "1968-05-05"],
        "",
        &[],
        &[],
        &["7000000000001"],
        &[],
    );
    let rows = vec![clean(
        1,
        [
            "Орлова",
            "Марина",
            "1970-01-01",
            "+79267770001",
            "",
            "7000000000001",
        ],
    )];
    let plan = import_plan(&rows, &[marina, sergei], &MatchRules::default(), SOURCE);
    // The card links Sergei, and the rules merge on a card, but Marina and Sergei
    // disagree: no merge, a review, and the card stays with Sergei.
    assert!(plan.merges.is_empty());
    assert_eq!(plan.card_conflicts.len(), 1);
    let conflict = &plan.card_conflicts[0];
    assert_eq!(conflict.card, "7000000000001");
    assert_eq!(conflict.clusters, vec![0]);
    assert_eq!(conflict.held_by, vec!["c-2".to_string()]);
    assert_eq!(plan.candidates.len(), 1);

    // A card presented by two clusters that are not one person (too many holders).
    let rows: Vec<CleanRow> = ["Анна", "Борис", "Вера", "Глеб"]
        .iter()
        .enumerate()
        .map(|(idx, first)| {
            clean(
                idx as u64 + 1,
                ["Смирнов", first, "", "", "", "5555000011112222"],
            )
        })
        .collect();
    let plan = import_plan(&rows, &[], &MatchRules::default(), SOURCE);
    assert_eq!(plan.clusters.len(), 4);
    assert_eq!(plan.withheld.len(), 1);
    assert_eq!(plan.withheld[0].reason, WithheldReason::Shared);
    assert_eq!(plan.card_conflicts.len(), 1);
    assert_eq!(plan.card_conflicts[0].clusters, vec![0, 1, 2, 3]);
}

#[test]
fn one_person_listed_many_times_does_not_make_their_phone_shared() {
    let rows: Vec<CleanRow> = (1..=6)
        .map(|n| clean(n, ["Петров", "Пётр", "1980-01-01", "+79160000001", "", ""]))
        .collect();
    let plan = import_plan(&rows, &[], &MatchRules::default(), SOURCE);
    assert_eq!(plan.clusters.len(), 1);
    assert_eq!(plan.clusters[0].rows, vec![0, 1, 2, 3, 4, 5]);
    assert!(plan.withheld.is_empty());
    assert_eq!(plan.n_new(), 1);
}

#[test]
fn fuzzy_candidates_between_new_rows_are_found_once_and_never_merged() {
    let rows = vec![
        clean(1, ["Иванов", "Иван", "1985-03-07", "+79161111111", "", ""]),
        clean(2, ["Ivanov", "Ivan", "1985-07-03", "+79162222222", "", ""]),
        clean(
            3,
            ["Ivanov", "Ivan", "1985-03-07", "", "ivan@yandex.ru", ""],
        ),
        clean(4, ["Петров", "Иван", "1985-03-07", "", "", ""]),
    ];
    let plan = import_plan(&rows, &[], &MatchRules::default(), SOURCE);
    assert_eq!(plan.clusters.len(), 4);
    let pairs: Vec<(Party, Party)> = plan
        .candidates
        .iter()
        .map(|c| (c.a.clone(), c.b.clone()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            (Party::Cluster(0), Party::Cluster(1)),
            (Party::Cluster(0), Party::Cluster(2)),
            (Party::Cluster(1), Party::Cluster(2)),
        ]
    );
    assert!(plan.candidates.iter().all(
        |c| matches!(c.kind, MatchKind::Fuzzy { score } if Some(score) == c.score && score >= 0.92)
    ));
}

#[test]
fn csv_reader_edge_cases() {
    let read_all = |text: &str| -> Vec<(u64, Option<RowErrorCode>, Vec<String>)> {
        let mut reader = CsvReader::new(text);
        let mut fields: Vec<Cow<'_, str>> = Vec::new();
        let mut records = Vec::new();
        while let Some(place) = reader.next_record(&mut fields) {
            records.push((
                place.line,
                place.error,
                fields.iter().map(|f| f.to_string()).collect(),
            ));
        }
        records
    };
    let strings = |fields: &[&str]| fields.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    // Quotes, doubled quotes, separators and line breaks inside quotes, CRLF and LF,
    // a byte order mark, blank lines, empty fields, no final line break.
    let text =
        "\u{feff}a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n\n1,,\r\n\"\",last,\"q\"tail";
    assert_eq!(
        read_all(text),
        vec![
            (1, None, strings(&["a", "b", "c"])),
            (2, None, strings(&["x, y", "say \"hi\"", "two\nlines"])),
            (5, None, strings(&["1", "", ""])),
            (6, None, strings(&["", "last", "qtail"])),
        ]
    );
    // A quote inside an unquoted field is kept; an open quote runs to the end.
    assert_eq!(
        read_all("a,b\n5\" screen,x\n\"open,y\nz\n"),
        vec![
            (1, None, strings(&["a", "b"])),
            (2, None, strings(&["5\" screen", "x"])),
            (3, Some(RowErrorCode::UnterminatedQuote), strings(&[""])),
        ]
    );
    // The separator is found from the header line.
    assert_eq!(CsvReader::new("a;b;c\n1;2;3").separator(), ';');
    assert_eq!(CsvReader::new("a\tb\n").separator(), '\t');
    assert_eq!(CsvReader::new("\"a;b\",c\n").separator(), ',');
    assert_eq!(
        read_all("phone;email\n+79161234567;\"a;b@c.ru\"\n"),
        vec![
            (1, None, strings(&["phone", "email"])),
            (2, None, strings(&["+79161234567", "a;b@c.ru"])),
        ]
    );
}

#[test]
fn csv_rows_with_errors_are_reported_and_the_rest_read() {
    let text = "phone,last_name\n+79161234567,Иванов\n+79161234568\n\"+79161234569\",Петров,extra\n+79161234570,\"Сидоров\n";
    let parsed = read_csv(text, &cleaner()).unwrap();
    assert_eq!(parsed.n_rows_read, 4);
    assert_eq!(parsed.rows.len(), 1);
    let errors: Vec<(u64, u64, RowErrorCode)> = parsed
        .row_errors
        .iter()
        .map(|e| (e.row, e.line, e.code))
        .collect();
    assert_eq!(
        errors,
        vec![
            (2, 3, RowErrorCode::WrongFieldCount),
            (3, 4, RowErrorCode::WrongFieldCount),
            (4, 5, RowErrorCode::UnterminatedQuote),
        ]
    );
    assert!(read_csv("", &cleaner()).is_err());
    assert!(read_csv("\n\n", &cleaner()).is_err());
    assert!(read_csv("foo,bar\n1,2\n", &cleaner()).is_err());
}

#[test]
fn header_names_map_case_insensitively_and_unknown_ones_are_listed() {
    let header = Header::parse([
        " Phone ",
        "EMAIL",
        "loyalty_level",
        "phone",
        "First_Name",
        "",
    ]);
    assert_eq!(
        header.positions,
        vec![
            Some(Column::Phone),
            Some(Column::Email),
            None,
            None,
            Some(Column::FirstName),
            None
        ]
    );
    assert_eq!(
        header.unknown,
        vec!["loyalty_level".to_string(), String::new()]
    );
    assert_eq!(header.repeated, vec![Column::Phone]);
    for column in Column::ALL {
        assert_eq!(Column::parse(column.as_str()), Some(column));
        assert_eq!(Column::parse(&column.as_str().to_uppercase()), Some(column));
        assert_eq!(Column::ALL[column.idx()], column);
    }
    // Missing columns are allowed: a file of phones alone.
    let parsed = read_csv("PHONE\n8 916 123-45-67\n", &cleaner()).unwrap();
    assert_eq!(parsed.rows[0].phone.as_deref(), Some("+79161234567"));
    assert!(parsed.unknown_columns.is_empty());
}

#[test]
fn consent_flags_in_english_and_russian() {
    let cases = [
        ("1", Ok(true)),
        ("true", Ok(true)),
        ("TRUE", Ok(true)),
        (" yes ", Ok(true)),
        ("Y", Ok(true)),
        ("да", Ok(true)),
        ("Да", Ok(true)),
        ("ДА", Ok(true)),
        ("0", Ok(false)),
        ("false", Ok(false)),
        ("No", Ok(false)),
        ("n", Ok(false)),
        ("нет", Ok(false)),
        ("НЕТ", Ok(false)),
        ("", Err(Rejection::Empty)),
        ("maybe", Err(Rejection::UnknownFormat)),
        ("2", Err(Rejection::UnknownFormat)),
        ("yes please", Err(Rejection::UnknownFormat)),
    ];
    for (raw, expected) in cases {
        assert_eq!(parse_consent(raw), expected, "{raw:?}");
    }
}

#[test]
fn created_at_formats() {
    let now = at("2026-03-09T12:00:00Z");
    let cases = [
        ("2021-04-05T10:20:30+03:00", Ok(at("2021-04-05T07:20:30Z"))),
        ("2021-04-05T10:20:30Z", Ok(at("2021-04-05T10:20:30Z"))),
        ("2021-04-05 10:20:30", Ok(at("2021-04-05T10:20:30Z"))),
        ("2021-04-05T10:20:30", Ok(at("2021-04-05T10:20:30Z"))),
        (
            "2021-04-05 10:20:30.250",
            Ok(at("2021-04-05T10:20:30.250Z")),
        ),
        ("2021-04-05", Ok(at("2021-04-05T00:00:00Z"))),
        (" 2021-04-05 ", Ok(at("2021-04-05T00:00:00Z"))),
        ("2021-02-30", Err(Rejection::ImpossibleDate)),
        ("05.04.2021", Err(Rejection::UnknownFormat)),
        ("yesterday", Err(Rejection::UnknownFormat)),
        ("2027-01-01", Err(Rejection::InFuture)),
        ("2026-03-09T12:00:01Z", Err(Rejection::InFuture)),
        ("", Err(Rejection::Empty)),
    ];
    for (raw, expected) in cases {
        assert_eq!(parse_created_at(raw, now), expected, "{raw:?}");
    }
}

#[test]
fn json_lines_input() {
    let text = "\u{feff}{\"source_id\": \"S1\", \"First_Name\": \"анна\", \"phone\": 79161234567, \"consent_email\": true, \"consent_sms\": false, \"email\": null, \"tier\": \"gold\"}\n\
                \n\
                {\"source_id\": \"S2\", \"card\": [1, 2], \"consent_sms\": \"да\", \"vip\": 1}\n\
                not json\n\
                [1, 2]\n";
    let parsed = read_json_lines(text, &cleaner());
    assert_eq!(parsed.n_rows_read, 4);
    assert_eq!(parsed.rows.len(), 2);
    let first = &parsed.rows[0];
    assert_eq!((first.row, first.line), (1, 1));
    assert_eq!(first.first_name.as_deref(), Some("Анна"));
    assert_eq!(first.phone.as_deref(), Some("+79161234567"));
    assert_eq!(
        (first.consent_email, first.consent_sms),
        (Some(true), Some(false))
    );
    assert_eq!(first.email, None);
    let second = &parsed.rows[1];
    assert_eq!((second.row, second.line), (2, 3));
    assert_eq!(second.consent_sms, Some(true));
    assert_eq!(parsed.rejections.len(), 1);
    assert_eq!(
        (
            parsed.rejections[0].row,
            parsed.rejections[0].field,
            parsed.rejections[0].value.as_str(),
            parsed.rejections[0].reason
        ),
        (2, Column::Card, "[1,2]", Rejection::InvalidCharacters)
    );
    let errors: Vec<(u64, u64, RowErrorCode)> = parsed
        .row_errors
        .iter()
        .map(|e| (e.row, e.line, e.code))
        .collect();
    assert_eq!(
        errors,
        vec![
            (3, 4, RowErrorCode::MalformedJson),
            (4, 5, RowErrorCode::NotAnObject)
        ]
    );
    assert_eq!(
        parsed.unknown_columns,
        vec!["tier".to_string(), "vip".to_string()]
    );
}

#[test]
fn consents_become_events_of_the_source() {
    let row = CleanRow {
        consent_email: Some(false),
        consent_sms: Some(true),
        created_at: Some(at("2021-01-01T00:00:00Z")),
        ..CleanRow::default()
    };
    let events = row.consent_events("crm", Utc.with_ymd_and_hms(2026, 3, 9, 0, 0, 0).unwrap());
    assert_eq!(events.len(), 2);
    assert!(!events[0].granted && events[1].granted);
    assert!(events
        .iter()
        .all(|e| e.source == "crm" && e.at == at("2021-01-01T00:00:00Z")));
    let none = CleanRow::default().consent_events("crm", at("2026-03-09T00:00:00Z"));
    assert!(none.is_empty());
}
