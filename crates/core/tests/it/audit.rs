//! The hash-chained audit log: sealing, the canonical encoding, and finding the first
//! broken link after an entry is edited, removed or moved.

use crate::fixtures::utc;
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use serde_json::{json, Value};
use tessera_core::audit::{
    canonical_content, canonical_json, chain_hash, verify_chain, ActorKind, AuditContent,
    AuditEntry, BreakReason, ChainBreak, ChainVerifier, GENESIS_HASH,
};

fn t0() -> DateTime<Utc> {
    utc("2025-03-01T10:00:00Z")
}

fn content(idx: usize) -> AuditContent {
    AuditContent {
        at: t0() + Duration::seconds(idx as i64),
        actor: format!("user-{idx}"),
        actor_kind: ActorKind::ALL[idx % 3],
        action: "promotion.update".into(),
        target: format!("promotion/p{idx}"),
        origin: (idx % 3 != 1).then(|| "10.0.0.7".to_string()),
        before: (idx > 0).then(|| json!({"percent": idx, "name": "spring"})),
        after: Some(json!({"percent": idx + 1, "name": "spring", "stores": ["s1", "s2"]})),
    }
}

/// A chain sealed from `contents`, in order.
fn chain(contents: impl IntoIterator<Item = AuditContent>) -> Vec<AuditEntry> {
    let mut entries: Vec<AuditEntry> = Vec::new();
    for content in contents {
        let entry = AuditEntry::seal(content, entries.last());
        entries.push(entry);
    }
    entries
}

fn broken(seq: i64, reason: BreakReason) -> Result<(), ChainBreak> {
    Err(ChainBreak { seq, reason })
}

#[test]
fn a_sealed_chain_verifies() {
    let entries = chain((0..5).map(content));
    assert_eq!(verify_chain(&entries), Ok(()));
    assert_eq!(verify_chain(&[]), Ok(()));
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(entries[0].prev_hash, GENESIS_HASH);
    assert_eq!(GENESIS_HASH.len(), 64);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    let mut verifier = ChainVerifier::new();
    assert_eq!(verifier.head(), GENESIS_HASH);
    for entry in &entries {
        verifier.push(entry).unwrap();
    }
    assert_eq!(
        (verifier.n_entries(), verifier.head()),
        (5, entries[4].hash.as_str())
    );
}

#[test]
fn sealing_keeps_the_content_and_truncates_to_microseconds() {
    let mut original = content(1);
    original.at += Duration::nanoseconds(1_234_567);
    let entry = AuditEntry::seal(original.clone(), None);
    assert_eq!(
        entry.content.at,
        t0() + Duration::seconds(1) + Duration::microseconds(1_234)
    );
    assert_eq!(
        entry.content,
        AuditContent {
            at: entry.content.at,
            ..original
        }
    );
    assert_eq!(entry.hash, chain_hash(GENESIS_HASH, &entry.content));
}

#[test]
fn a_removed_entry_is_a_seq_gap_at_the_next_one() {
    let mut entries = chain((0..5).map(content));
    entries.remove(2);
    assert_eq!(
        verify_chain(&entries),
        broken(4, BreakReason::SeqGap { expected: 3 })
    );
    // Removing the first entry too.
    let mut entries = chain((0..3).map(content));
    entries.remove(0);
    assert_eq!(
        verify_chain(&entries),
        broken(2, BreakReason::SeqGap { expected: 1 })
    );
}

#[test]
fn a_removed_and_renumbered_entry_breaks_the_prev_hash() {
    let mut entries = chain((0..5).map(content));
    entries.remove(2);
    for entry in &mut entries[2..] {
        entry.seq -= 1;
    }
    assert_eq!(
        verify_chain(&entries),
        broken(3, BreakReason::PrevHashMismatch)
    );
}

#[test]
fn a_reordered_pair_is_found() {
    // Rows read back in the wrong order.
    let mut entries = chain((0..5).map(content));
    entries.swap(1, 2);
    assert_eq!(
        verify_chain(&entries),
        broken(3, BreakReason::SeqGap { expected: 2 })
    );
    // Two rows' seqs swapped, so that reading in seq order puts them the other way.
    let mut entries = chain((0..5).map(content));
    entries.swap(1, 2);
    entries[1].seq = 2;
    entries[2].seq = 3;
    assert_eq!(
        verify_chain(&entries),
        broken(2, BreakReason::PrevHashMismatch)
    );
}

#[test]
fn cutting_off_the_newest_entries_needs_the_head_hash_to_see() {
    let entries = chain((0..5).map(content));
    let head = entries[4].hash.clone();
    let mut verifier = ChainVerifier::new();
    for entry in &entries[..4] {
        verifier.push(entry).unwrap();
    }
    assert_ne!(verifier.head(), head);
}

#[test]
fn the_encoding_ignores_object_key_order() {
    let a: Value =
        serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"q": 2, "p": 3}], "x": null}}"#).unwrap();
    let b: Value =
        serde_json::from_str(r#"{"a": {"x": null, "y": [1, {"p": 3, "q": 2}]}, "b": 1}"#).unwrap();
    let mut json = Vec::new();
    canonical_json(&a, &mut json);
    assert_eq!(
        String::from_utf8(json).unwrap(),
        r#"{"a":{"x":null,"y":[1,{"p":3,"q":2}]},"b":1}"#
    );
    let with = |before: Value| AuditContent {
        before: Some(before),
        ..content(1)
    };
    assert_eq!(canonical_content(&with(a)), canonical_content(&with(b)));
}

#[test]
fn canonical_json_escapes_one_way() {
    let value = json!({"ключ": "a\"b\\c\nd\u{1}é", "n": [1.5, -0, 10_000_000_000_u64, true]});
    let mut json = Vec::new();
    canonical_json(&value, &mut json);
    let text = String::from_utf8(json).unwrap();
    assert_eq!(
        text,
        r#"{"n":[1.5,0,10000000000,true],"ключ":"a\"b\\c\u000ad\u0001é"}"#
    );
    // It is JSON, and reads back as the same value.
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
}

#[test]
fn length_prefixes_keep_neighbouring_fields_apart() {
    let a = AuditContent {
        actor: "ab".into(),
        action: "c".into(),
        ..content(1)
    };
    let b = AuditContent {
        actor: "a".into(),
        action: "bc".into(),
        ..content(1)
    };
    assert_ne!(canonical_content(&a), canonical_content(&b));
    let absent = AuditContent {
        origin: None,
        ..content(1)
    };
    let empty = AuditContent {
        origin: Some(String::new()),
        ..content(1)
    };
    assert_ne!(canonical_content(&absent), canonical_content(&empty));
}

#[test]
fn entries_survive_a_json_round_trip() {
    let mut contents: Vec<AuditContent> = (0..3).map(content).collect();
    // serde reads a JSON null back as `None`: both must hash alike.
    contents[1].after = Some(Value::Null);
    let entries = chain(contents);
    let text = serde_json::to_string(&entries).unwrap();
    let back: Vec<AuditEntry> = serde_json::from_str(&text).unwrap();
    assert_eq!(back[1].content.after, None);
    assert_eq!(verify_chain(&back), Ok(()));
    assert!(text.contains(r#""actor_kind":"system""#), "{text}");
}

#[test]
fn actor_kinds_round_trip() {
    for kind in ActorKind::ALL {
        assert_eq!(ActorKind::parse(kind.as_str()), Some(kind));
        assert_eq!(
            serde_json::to_string(&kind).unwrap(),
            format!("\"{}\"", kind.as_str())
        );
    }
    assert_eq!(ActorKind::parse("robot"), None);
}

#[test]
fn the_hash_of_a_fixed_entry_is_frozen() {
    // Changing this value changes the stored format: every existing chain would fail
    // its check. Only ever do it together with a new format tag. The value was also
    // computed by an independent script from the encoding's description: SHA-256 of
    // the length-prefixed (u64 big-endian) fields `"0"*64`, `tessera-audit-v1`, `at`
    // as i64 big-endian microseconds, actor, actor kind, action, target, then origin,
    // before and after each as a 0 byte when absent or a 1 byte and the prefixed value
    // (JSON with sorted keys, no whitespace).
    let entry = AuditEntry::seal(
        AuditContent {
            at: utc("2025-01-02T03:04:05.678901Z"),
            actor: "key_live_1".into(),
            actor_kind: ActorKind::Key,
            action: "adjustment.create".into(),
            target: "customer/c-42".into(),
            origin: Some("192.0.2.10".into()),
            before: Some(json!({"available": 100})),
            after: Some(json!({"reason": "goodwill", "available": 150})),
        },
        None,
    );
    assert_eq!(
        entry.hash,
        "efa3814ce23f3ca533616aa3377053f675a52d6bed4dc4d395c437fddd737cc2"
    );
}

#[test]
fn a_break_names_its_seq_and_reason() {
    let text = ChainBreak {
        seq: 4,
        reason: BreakReason::SeqGap { expected: 3 },
    }
    .to_string();
    assert_eq!(text, "audit chain broken at seq 4: seq_gap (expected 3)");
    assert_eq!(BreakReason::PrevHashMismatch.as_str(), "prev_hash_mismatch");
    assert_eq!(BreakReason::HashMismatch.as_str(), "hash_mismatch");
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zé\"\\\\ ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-c]{1,2}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn arb_content() -> impl Strategy<Value = AuditContent> {
    (
        0i64..1_000_000_000,
        "[a-z0-9_-]{0,8}",
        0usize..3,
        "[a-z.]{1,12}",
        "[a-z/0-9-]{0,12}",
        prop::option::of("[0-9.]{0,15}"),
        prop::option::of(arb_json()),
        prop::option::of(arb_json()),
    )
        .prop_map(
            |(micros, actor, kind_idx, action, target, origin, before, after)| AuditContent {
                at: t0() + Duration::microseconds(micros),
                actor,
                actor_kind: ActorKind::ALL[kind_idx],
                action,
                target,
                origin,
                before,
                after,
            },
        )
}

/// A different value of a JSON field, whatever it held.
fn tampered_json(value: &Option<Value>) -> Option<Value> {
    match value {
        None | Some(Value::Null) => Some(json!(0)),
        Some(value) => Some(json!({ "tampered": value })),
    }
}

fn next_kind(kind: ActorKind) -> ActorKind {
    match kind {
        ActorKind::Key => ActorKind::User,
        ActorKind::User => ActorKind::System,
        ActorKind::System => ActorKind::Customer,
        ActorKind::Customer => ActorKind::Key,
    }
}

/// Edits field `field_idx` of `entry` to a different value, and the break it causes.
fn tamper(entry: &mut AuditEntry, field_idx: usize) -> BreakReason {
    let seq = entry.seq;
    match field_idx {
        0 => entry.content.at += Duration::microseconds(1),
        1 => entry.content.actor.push('x'),
        2 => entry.content.actor_kind = next_kind(entry.content.actor_kind),
        3 => entry.content.action.push('x'),
        4 => entry.content.target.insert(0, 'x'),
        5 => {
            entry.content.origin = match entry.content.origin.take() {
                Some(origin) if origin.is_empty() => None,
                Some(origin) => Some(format!("{origin}x")),
                None => Some(String::new()),
            }
        }
        6 => entry.content.before = tampered_json(&entry.content.before),
        7 => entry.content.after = tampered_json(&entry.content.after),
        8 => {
            entry.prev_hash.replace_range(
                0..1,
                if entry.prev_hash.starts_with('a') {
                    "b"
                } else {
                    "a"
                },
            );
            return BreakReason::PrevHashMismatch;
        }
        9 => {
            entry
                .hash
                .replace_range(63..64, if entry.hash.ends_with('a') { "b" } else { "a" });
        }
        _ => {
            entry.seq += 10;
            return BreakReason::SeqGap { expected: seq };
        }
    }
    BreakReason::HashMismatch
}

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    #[test]
    fn any_edit_is_found_at_exactly_that_entry(
        contents in prop::collection::vec(arb_content(), 1..6),
        entry_pick in any::<prop::sample::Index>(),
        field_idx in 0usize..=10,
    ) {
        let mut entries = chain(contents);
        prop_assert_eq!(verify_chain(&entries), Ok(()));
        let entry_idx = entry_pick.index(entries.len());
        let before_edit = entries[entry_idx].clone();
        let reason = tamper(&mut entries[entry_idx], field_idx);
        prop_assert_ne!(&entries[entry_idx], &before_edit);
        prop_assert_eq!(
            verify_chain(&entries),
            broken(entries[entry_idx].seq, reason)
        );
    }
}
