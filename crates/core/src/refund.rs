//! Committed receipts and their returns: what a returned unit gives back.
//!
//! A returned unit is refunded at its true net price, gives back the points it was
//! paid with and takes back the points it earned. Shares are computed cumulatively
//! per line (see [`cumulative_share`]), so several partial returns of a line add up
//! exactly to the line's values, with no rounding drift.

use crate::error::{CoreError, ErrorCode};
use crate::money::{cumulative_share, Money, Points};
use crate::pricing::Calculation;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// Where a committed receipt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    Committed,
    PartiallyReturned,
    Returned,
    Cancelled,
}

impl ReceiptStatus {
    /// The wire name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptStatus::Committed => "committed",
            ReceiptStatus::PartiallyReturned => "partially_returned",
            ReceiptStatus::Returned => "returned",
            ReceiptStatus::Cancelled => "cancelled",
        }
    }
}

/// A committed receipt as stored: its priced lines, how much of each was returned,
/// and the lots its points came from and went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRecord {
    pub receipt_id: String,
    pub store_id: String,
    pub terminal_id: String,
    pub at: DateTime<FixedOffset>,
    pub customer_id: Option<String>,
    pub calculation: Calculation,
    /// Quantity returned so far per line, in the order of `calculation.lines`.
    pub returned_qty: Vec<i64>,
    pub status: ReceiptStatus,
    pub version: u32,
    pub earn_lot_id: Option<String>,
    /// Lots the redeemed points came from, in consumption order.
    pub redeemed_from: Vec<(String, Points)>,
    /// Promotion limit counters the receipt moved; released when it is cancelled or
    /// fully returned.
    #[serde(default)]
    pub usage: Vec<crate::limits::UsageDelta>,
    /// Single-use coupon codes (normalised) the receipt used; freed again when it is
    /// cancelled or fully returned.
    #[serde(default)]
    pub coupons_used: Vec<String>,
    /// The codes, certificates and bonus lot the commit made of the rewards.
    #[serde(default)]
    pub issued: crate::reward::Issued,
}

/// What returning some units of one line gives back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnedLine {
    pub line: u32,
    pub qty: i64,
    pub refund_money: Money,
    pub discount: Money,
    pub points_refunded: Points,
    pub points_reversed: Points,
    /// Gift certificate money given back to the certificates that paid.
    #[serde(default)]
    pub certificate_refund: Money,
}

/// What a whole return (or cancel) gives back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnOutcome {
    pub lines: Vec<ReturnedLine>,
    pub refund_money: Money,
    pub points_refunded: Points,
    pub points_reversed: Points,
    #[serde(default)]
    pub certificate_refund: Money,
}

impl ReceiptRecord {
    /// Points given back by earlier returns.
    pub fn points_refunded_so_far(&self) -> Points {
        self.calculation
            .lines
            .iter()
            .zip(&self.returned_qty)
            .map(|(line, returned)| cumulative_share(line.points_redeemed, *returned, line.qty))
            .sum()
    }

    /// Certificate money given back by earlier returns.
    pub fn certificate_refunded_so_far(&self) -> Money {
        self.calculation
            .lines
            .iter()
            .zip(&self.returned_qty)
            .map(|(line, returned)| cumulative_share(line.certificate_paid, *returned, line.qty))
            .sum()
    }

    /// Whether the whole receipt is undone (cancelled, or every unit returned): its
    /// limit uses, coupon uses and receipt-level rewards are then released.
    pub fn undone(&self) -> bool {
        matches!(
            self.status,
            ReceiptStatus::Cancelled | ReceiptStatus::Returned
        )
    }

    /// Applies a return of `(line number, qty)` pairs to the record and says what it
    /// gives back. Nothing changes when it fails.
    pub fn apply_return(&mut self, request: &[(u32, i64)]) -> Result<ReturnOutcome, CoreError> {
        if self.status == ReceiptStatus::Cancelled {
            return Err(CoreError::new(
                ErrorCode::ReceiptCancelled,
                "the receipt was cancelled",
            ));
        }
        if request.is_empty() {
            return Err(CoreError::invalid(
                "lines",
                "a return needs at least one line",
            ));
        }
        let mut positions = Vec::with_capacity(request.len());
        for (idx, (line_no, qty)) in request.iter().enumerate() {
            let Some(position) = self
                .calculation
                .lines
                .iter()
                .position(|l| l.line == *line_no)
            else {
                return Err(CoreError::field(
                    ErrorCode::InvalidField,
                    format!("lines[{idx}].line"),
                    format!("the receipt has no line {line_no}"),
                ));
            };
            if positions.contains(&position) {
                return Err(CoreError::field(
                    ErrorCode::DuplicateLine,
                    format!("lines[{idx}].line"),
                    format!("line {line_no} appears more than once"),
                ));
            }
            if *qty <= 0 {
                return Err(CoreError::field(
                    ErrorCode::InvalidQuantity,
                    format!("lines[{idx}].qty"),
                    "must be greater than 0",
                ));
            }
            let left = self.calculation.lines[position].qty - self.returned_qty[position];
            if *qty > left {
                return Err(CoreError::field(
                    ErrorCode::ReturnExceedsPurchase,
                    format!("lines[{idx}].qty"),
                    format!(
                        "line {line_no}: {} returned but only {} left to return",
                        crate::decimal::format_scaled(*qty, 3),
                        crate::decimal::format_scaled(left, 3)
                    ),
                ));
            }
            positions.push(position);
        }
        let mut outcome = ReturnOutcome::default();
        for ((_, qty), position) in request.iter().zip(positions) {
            let before = self.returned_qty[position];
            let after = before + qty;
            let line = &self.calculation.lines[position];
            let share = |value: i64| {
                cumulative_share(value, after, line.qty) - cumulative_share(value, before, line.qty)
            };
            let returned = ReturnedLine {
                line: line.line,
                qty: *qty,
                refund_money: share(line.total),
                discount: share(line.discount),
                points_refunded: share(line.points_redeemed),
                points_reversed: share(line.points_earned),
                certificate_refund: share(line.certificate_paid),
            };
            outcome.refund_money += returned.refund_money;
            outcome.points_refunded += returned.points_refunded;
            outcome.points_reversed += returned.points_reversed;
            outcome.certificate_refund += returned.certificate_refund;
            outcome.lines.push(returned);
            self.returned_qty[position] = after;
        }
        self.version += 1;
        self.status = if self.fully_returned() {
            ReceiptStatus::Returned
        } else {
            ReceiptStatus::PartiallyReturned
        };
        Ok(outcome)
    }

    /// Returns everything not returned yet and marks the receipt cancelled.
    pub fn apply_cancel(&mut self) -> Result<ReturnOutcome, CoreError> {
        if self.status == ReceiptStatus::Cancelled {
            return Err(CoreError::new(
                ErrorCode::ReceiptCancelled,
                "the receipt was cancelled",
            ));
        }
        let request: Vec<(u32, i64)> = self
            .calculation
            .lines
            .iter()
            .zip(&self.returned_qty)
            .filter(|(line, returned)| line.qty > **returned)
            .map(|(line, returned)| (line.line, line.qty - returned))
            .collect();
        let outcome = if request.is_empty() {
            self.version += 1;
            ReturnOutcome::default()
        } else {
            self.apply_return(&request)?
        };
        self.status = ReceiptStatus::Cancelled;
        Ok(outcome)
    }

    fn fully_returned(&self) -> bool {
        self.calculation
            .lines
            .iter()
            .zip(&self.returned_qty)
            .all(|(l, r)| *r >= l.qty)
    }
}
