//! Reading the audit log back: the filter of `GET /v1/audit`, and the chain check of
//! `tessera check` over entries an adapter reads in seq order.

use crate::CheckItem;
use chrono::{DateTime, Utc};
use std::cell::RefCell;
use std::future::Future;
use tessera_core::audit::AuditContent;
use tessera_core::audit::{AuditEntry, ChainVerifier};

tokio::task_local! {
    /// The audit entry of the change the current request makes, waiting for the
    /// write that will append it in its own transaction.
    static PENDING: RefCell<Option<AuditContent>>;
}

/// Runs `future` (a request's handler) with `content` pending: the first audited
/// write inside it ([`take_pending`], called by the adapters' configuration, CRM,
/// customer and access writes) appends the entry in the same transaction as the
/// change, so a change is never durable without its entry. Answers the future's
/// output and the content if no write took it (a read, such as an export, or a
/// refusal before any write).
pub async fn with_pending<F: Future>(
    content: AuditContent,
    future: F,
) -> (F::Output, Option<AuditContent>) {
    PENDING
        .scope(RefCell::new(Some(content)), async {
            let output = future.await;
            let left = PENDING.with(|pending| pending.borrow_mut().take());
            (output, left)
        })
        .await
}

/// Takes the pending audit entry of the current request, if any (once: the request's
/// first write carries it).
pub fn take_pending() -> Option<AuditContent> {
    PENDING
        .try_with(|pending| pending.borrow_mut().take())
        .ok()
        .flatten()
}

/// Sets the state before and after the change on the pending entry (handlers call it
/// before their write).
pub fn annotate_pending(before: Option<serde_json::Value>, after: Option<serde_json::Value>) {
    let _ = PENDING.try_with(|pending| {
        if let Some(content) = pending.borrow_mut().as_mut() {
            content.before = before;
            content.after = after;
        }
    });
}

/// Which audit entries to read: all of them match an empty filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Entries with a larger seq only (the cursor of the previous page).
    pub after_seq: i64,
    /// The key id or user name, exactly.
    pub actor: Option<String>,
    /// The action, or an action family: `promotion` matches `promotion.update` and
    /// `promotion.delete`.
    pub action: Option<String>,
    /// The target, exactly (e.g. `customer/cus_...`).
    pub target: Option<String>,
    /// Entries at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// Whether `entry` matches: the same rule as the adapters' SQL, for tests and for
    /// adapters that filter in memory.
    pub fn matches(&self, entry: &AuditEntry) -> bool {
        let content = &entry.content;
        entry.seq > self.after_seq
            && self.actor.as_ref().is_none_or(|a| *a == content.actor)
            && self.action.as_ref().is_none_or(|a| {
                content.action == *a
                    || content
                        .action
                        .strip_prefix(a.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            })
            && self.target.as_ref().is_none_or(|t| *t == content.target)
            && self.from.is_none_or(|from| content.at >= from)
            && self.to.is_none_or(|to| content.at < to)
    }
}

/// The stored text of an entry's `before` or `after`: `None` for absent and for JSON
/// `null` alike (they hash alike, and read back as `None`).
pub fn stored_json(value: &Option<serde_json::Value>) -> crate::StoreResult<Option<String>> {
    value
        .as_ref()
        .filter(|v| !v.is_null())
        .map(serde_json::to_string)
        .transpose()
        .map_err(crate::StoreError::backend)
}

/// How many entries `tessera check` reads at a time.
pub const CHECK_PAGE: u32 = 5_000;

/// Verifies the whole chain page by page: an adapter asks [`ChainCheck::next_after`]
/// for the seq to read after, reads up to [`CHECK_PAGE`] entries by seq, and hands
/// them to [`ChainCheck::take`] until `next_after` answers `None`.
#[derive(Debug)]
pub struct ChainCheck {
    item: CheckItem,
    verifier: ChainVerifier,
    after: Option<i64>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        ChainCheck::new()
    }
}

impl ChainCheck {
    pub fn new() -> ChainCheck {
        ChainCheck {
            item: CheckItem {
                name: "audit chain: entries numbered from 1 without gaps, each hash over the previous hash and its content".into(),
                checked: 0,
                violations: Vec::new(),
            },
            verifier: ChainVerifier::new(),
            after: Some(0),
        }
    }

    /// The seq after which to read the next page, or `None` when the check is over
    /// (the chain ended or broke).
    pub fn next_after(&self) -> Option<i64> {
        self.after
    }

    /// Checks the next page; an empty page ends the chain.
    pub fn take(&mut self, entries: &[AuditEntry]) {
        self.after = entries.last().map(|last| last.seq);
        for entry in entries {
            self.item.checked += 1;
            if let Err(broken) = self.verifier.push(entry) {
                self.item.violations.push(format!(
                    "{broken} (the first broken link; the {} entries before it are intact)",
                    self.verifier.n_entries()
                ));
                self.after = None;
                return;
            }
        }
    }

    /// The finding, with the head hash in its name so that it can be compared with one
    /// kept elsewhere.
    pub fn finish(mut self) -> CheckItem {
        if self.item.violations.is_empty() && self.item.checked > 0 {
            self.item.name = format!("{} (head {})", self.item.name, self.verifier.head());
        }
        self.item
    }
}
