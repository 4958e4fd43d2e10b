//! The audit log: an append-only record of every change a person or a key makes (the
//! program, promotions, adjustments, merges, erasures, keys and users): who, what,
//! when, from where, before and after.
//!
//! Entries are hash-chained: each entry's hash is SHA-256 over the previous entry's
//! hash and a canonical encoding of its own content, so `tessera check` finds the first
//! entry that was edited, removed or moved. The hash has no key: someone able to
//! rewrite every later row could rewrite every later hash too, and removing the newest
//! entries leaves a valid chain. Comparing the head hash with one kept elsewhere (an
//! export, a log line) is what pins the chain down to its end.

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Opens every encoding, so that a future format can never produce this one's bytes.
const FORMAT_TAG: &[u8] = b"tessera-audit-v1";

/// Who made a change: an API key, a signed-in user, or Tessera itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    Key,
    User,
    System,
    /// A customer signed in to their own account.
    Customer,
}

impl ActorKind {
    /// Every kind.
    pub const ALL: [ActorKind; 4] = [
        ActorKind::Key,
        ActorKind::User,
        ActorKind::System,
        ActorKind::Customer,
    ];

    /// The stored name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Key => "key",
            ActorKind::User => "user",
            ActorKind::System => "system",
            ActorKind::Customer => "customer",
        }
    }

    /// The kind of a stored name.
    pub fn parse(name: &str) -> Option<ActorKind> {
        ActorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// What an audit entry says, before it is numbered and chained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditContent {
    pub at: DateTime<Utc>,
    /// The key id, user name or `system` component that made the change.
    pub actor: String,
    pub actor_kind: ActorKind,
    /// What was done, e.g. `promotion.update`.
    pub action: String,
    /// What it was done to, e.g. `promotion/spring-10`.
    pub target: String,
    /// Where the change came from: an IP address or a terminal id.
    pub origin: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// One entry of the audit log as stored: its content, its place and its hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// 1 for the first entry, then one more than the previous entry.
    pub seq: i64,
    #[serde(flatten)]
    pub content: AuditContent,
    /// The previous entry's `hash`, or `GENESIS_HASH` for the first entry.
    pub prev_hash: String,
    /// `chain_hash(prev_hash, content)`, lower-case hex.
    pub hash: String,
}

impl AuditEntry {
    /// Numbers `content` after `prev` (the current last entry, `None` for the first)
    /// and chains it to it.
    pub fn seal(content: AuditContent, prev: Option<&AuditEntry>) -> AuditEntry {
        // Both stores keep instants to the microsecond; hashing a finer one would make
        // the entry fail its own check once read back.
        let content = AuditContent {
            at: content.at.trunc_subsecs(6),
            ..content
        };
        let (seq, prev_hash) = match prev {
            Some(prev) => (prev.seq.saturating_add(1), prev.hash.clone()),
            None => (1, GENESIS_HASH.to_string()),
        };
        let hash = chain_hash(&prev_hash, &content);
        AuditEntry {
            seq,
            content,
            prev_hash,
            hash,
        }
    }
}

impl AuditContent {
    /// Every field in a fixed order, each prefixed with its length (or marked absent),
    /// so that no two different contents share an encoding.
    fn encode(&self, out: &mut Vec<u8>) {
        put_bytes(out, FORMAT_TAG);
        put_bytes(out, &self.at.timestamp_micros().to_be_bytes());
        put_bytes(out, self.actor.as_bytes());
        put_bytes(out, self.actor_kind.as_str().as_bytes());
        put_bytes(out, self.action.as_bytes());
        put_bytes(out, self.target.as_bytes());
        put_optional(out, self.origin.as_deref().map(str::as_bytes));
        for value in [&self.before, &self.after] {
            // serde reads a JSON `null` back as `None`, so the two must hash alike.
            match value.as_ref().filter(|v| !v.is_null()) {
                Some(value) => {
                    let mut json = Vec::new();
                    canonical_json(value, &mut json);
                    put_optional(out, Some(&json));
                }
                None => put_optional(out, None),
            }
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_optional(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(bytes) => {
            out.push(1);
            put_bytes(out, bytes);
        }
        None => out.push(0),
    }
}

/// The canonical bytes of `content`, the input of its hash.
pub fn canonical_content(content: &AuditContent) -> Vec<u8> {
    let mut out = Vec::new();
    content.encode(&mut out);
    out
}

/// Appends `value` as JSON without whitespace and with object keys sorted by their
/// UTF-8 bytes, so that equal values give equal bytes whatever order keys came in.
pub fn canonical_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // serde_json prints the shortest form that reads back as the same number.
        Value::Number(number) => out.extend_from_slice(number.to_string().as_bytes()),
        Value::String(text) => json_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (item_idx, item) in items.iter().enumerate() {
                if item_idx > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sorted here rather than trusting the map: serde_json keeps insertion
            // order when any crate in the build enables its `preserve_order`.
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (field_idx, (key, item)) in fields.into_iter().enumerate() {
                if field_idx > 0 {
                    out.push(b',');
                }
                json_string(key, out);
                out.push(b':');
                canonical_json(item, out);
            }
            out.push(b'}');
        }
    }
}

/// A JSON string literal with only the escapes JSON requires, one way each.
fn json_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for byte in text.bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0x0f)]);
            }
            // Other bytes, including those of multi-byte characters, pass as UTF-8.
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

/// The hash of an entry with `content` after an entry whose hash is `prev_hash`:
/// lower-case hex SHA-256 of `prev_hash` and the canonical content.
pub fn chain_hash(prev_hash: &str, content: &AuditContent) -> String {
    let mut bytes = Vec::with_capacity(256);
    put_bytes(&mut bytes, prev_hash.as_bytes());
    content.encode(&mut bytes);
    crate::digest::sha256_hex(&bytes)
}

/// Why the chain breaks at an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakReason {
    /// The entry's seq is not the one after the previous entry's (a removed, repeated
    /// or moved entry).
    SeqGap { expected: i64 },
    /// The entry's `prev_hash` is not the previous entry's `hash`.
    PrevHashMismatch,
    /// The entry's `hash` is not the hash of its content.
    HashMismatch,
}

impl BreakReason {
    /// The stable name of the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakReason::SeqGap { .. } => "seq_gap",
            BreakReason::PrevHashMismatch => "prev_hash_mismatch",
            BreakReason::HashMismatch => "hash_mismatch",
        }
    }
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakReason::SeqGap { expected } => write!(f, "seq_gap (expected {expected})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// The first broken link of an audit chain: the entry's stored seq and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {reason}")]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: BreakReason,
}

/// Checks a chain one entry at a time in seq order, holding only the last seq and
/// hash, so that a check can read millions of rows in batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerifier {
    next_seq: i64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::new()
    }
}

impl ChainVerifier {
    /// A verifier expecting the first entry.
    pub fn new() -> ChainVerifier {
        ChainVerifier {
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
        }
    }

    /// Checks the next entry; after an error the verifier is left as it was.
    pub fn push(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        let broken = |reason| {
            Err(ChainBreak {
                seq: entry.seq,
                reason,
            })
        };
        if entry.seq != self.next_seq {
            return broken(BreakReason::SeqGap {
                expected: self.next_seq,
            });
        }
        if entry.prev_hash != self.prev_hash {
            return broken(BreakReason::PrevHashMismatch);
        }
        if chain_hash(&entry.prev_hash, &entry.content) != entry.hash {
            return broken(BreakReason::HashMismatch);
        }
        self.next_seq = self.next_seq.saturating_add(1);
        self.prev_hash.clone_from(&entry.hash);
        Ok(())
    }

    /// The number of entries checked so far.
    pub fn n_entries(&self) -> i64 {
        self.next_seq - 1
    }

    /// The hash of the last entry checked (`GENESIS_HASH` before any): the value to
    /// compare with a head hash kept elsewhere.
    pub fn head(&self) -> &str {
        &self.prev_hash
    }
}

/// Checks a whole chain given in seq order, reporting its first broken link.
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Result<(), ChainBreak> {
    let mut verifier = ChainVerifier::new();
    entries
        .into_iter()
        .try_for_each(|entry| verifier.push(entry))
}
