//! The report an import hands back: what was read, refused, created, updated, merged
//! and left for review.

use super::column::Column;
use super::plan::{Plan, WithheldReason, WithheldValue};
use super::row::{FieldRejection, ParsedInput, RowError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The outcome of one import, for the person who ran it and for the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    pub source: String,
    /// Data rows in the file, readable or not.
    pub n_rows_read: u64,
    /// Rows with at least one refused value (the rest of each was imported).
    pub n_rows_with_rejections: u64,
    /// Rows that could not be read at all.
    pub n_rows_unreadable: u64,
    /// Every refused value with its row, in file order.
    pub rejections: Vec<FieldRejection>,
    /// Every unreadable row, in file order.
    pub row_errors: Vec<RowError>,
    /// Columns of the file that are not imported.
    pub unknown_columns: Vec<String>,
    /// Columns named twice; only the first was read.
    pub repeated_columns: Vec<Column>,
    /// Customers to create.
    pub n_created: usize,
    /// Existing customers updated from the file.
    pub n_updated: usize,
    /// Existing customers merged into another.
    pub n_merged: usize,
    pub n_review_candidates: usize,
    /// Values that matched nothing: placeholders and values shared by too many.
    pub withheld: Vec<WithheldValue>,
    pub n_card_conflicts: usize,
}

impl ImportReport {
    /// The report of importing `parsed` from `source` as `plan` says.
    pub fn new(source: &str, parsed: &ParsedInput, plan: &Plan) -> ImportReport {
        let mut rejected_rows: Vec<u64> = parsed.rejections.iter().map(|r| r.row).collect();
        rejected_rows.dedup();
        rejected_rows.sort_unstable();
        rejected_rows.dedup();
        ImportReport {
            source: source.to_string(),
            n_rows_read: parsed.n_rows_read,
            n_rows_with_rejections: rejected_rows.len() as u64,
            n_rows_unreadable: parsed.row_errors.len() as u64,
            rejections: parsed.rejections.clone(),
            row_errors: parsed.row_errors.clone(),
            unknown_columns: parsed.unknown_columns.clone(),
            repeated_columns: parsed.repeated_columns.clone(),
            n_created: plan.n_new(),
            n_updated: plan.n_updated(),
            n_merged: plan.n_merged(),
            n_review_candidates: plan.candidates.len(),
            withheld: plan.withheld.clone(),
            n_card_conflicts: plan.card_conflicts.len(),
        }
    }

    /// A few lines of plain text: the counts, refusals by field and reason, and what
    /// was withheld.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "import from {}: {} rows read, {} unreadable, {} with refused values",
            self.source, self.n_rows_read, self.n_rows_unreadable, self.n_rows_with_rejections
        );
        let _ = writeln!(
            text,
            "customers: {} new, {} updated, {} merged into another; {} pairs to review; {} card conflicts",
            self.n_created,
            self.n_updated,
            self.n_merged,
            self.n_review_candidates,
            self.n_card_conflicts
        );
        let mut by_reason: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for rejection in &self.rejections {
            *by_reason
                .entry((rejection.field.as_str(), rejection.reason.as_str()))
                .or_default() += 1;
        }
        for ((field, reason), n) in by_reason {
            let _ = writeln!(text, "refused {field}: {n} {reason}");
        }
        let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
        for error in &self.row_errors {
            *by_code.entry(error.code.as_str()).or_default() += 1;
        }
        for (code, n) in by_code {
            let _ = writeln!(text, "unreadable rows: {n} {code}");
        }
        if !self.unknown_columns.is_empty() {
            let _ = writeln!(
                text,
                "columns not imported: {}",
                self.unknown_columns.join(", ")
            );
        }
        let n_blocked = self
            .withheld
            .iter()
            .filter(|w| w.reason == WithheldReason::Blocked)
            .count();
        if !self.withheld.is_empty() {
            let _ = writeln!(
                text,
                "values not matched on: {} placeholders, {} shared by too many profiles",
                n_blocked,
                self.withheld.len() - n_blocked
            );
        }
        text
    }
}
