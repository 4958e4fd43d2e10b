//! A receipt as the till sends it, before pricing.

use crate::catalog::validate_id;
use crate::customer::{normalize_card, normalize_phone};
use crate::error::{CoreError, ErrorCode};
use crate::money::{div_round_half_even, to_i64, Money, Points};
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// Quantity scale: quantities are held in thousandths (`0.532` kg is `532`).
pub const QTY_SCALE: i64 = 1000;

/// The largest receipt amount accepted, in minor units; it keeps every sum of money
/// and points on a receipt far inside `i64`.
pub const MAX_RECEIPT_AMOUNT: Money = 1_000_000_000_000_000;

/// The most lines one receipt may hold.
pub const MAX_LINES: usize = 1000;

/// A receipt sent by a till for calculation or commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptRequest {
    /// Chosen by the till, unique in the program: the idempotency key.
    pub receipt_id: String,
    pub store_id: String,
    pub terminal_id: String,
    pub at: DateTime<FixedOffset>,
    pub customer: Option<CustomerRef>,
    pub lines: Vec<ReceiptLine>,
    pub redeem: Redeem,
    /// Coupon codes presented, upper-cased.
    #[serde(default)]
    pub coupons: Vec<String>,
    /// Gift certificates paying for the receipt.
    #[serde(default)]
    pub certificates: Vec<crate::reward::CertificatePayment>,
}

/// How the till identifies the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerRef {
    Card(String),
    Phone(String),
    CustomerId(String),
}

impl CustomerRef {
    /// Normalises a card or phone, checks a customer id; fields are named relative to
    /// the customer object (`card`, `phone`, `customer_id`).
    pub fn normalize(&mut self) -> Result<(), CoreError> {
        match self {
            CustomerRef::Card(card) => *card = normalize_card(card)?,
            CustomerRef::Phone(phone) => *phone = normalize_phone(phone)?,
            CustomerRef::CustomerId(id) => validate_id("customer_id", id)?,
        }
        Ok(())
    }

    /// The JSON path of the identifier within a receipt body.
    pub fn field(&self) -> &'static str {
        match self {
            CustomerRef::Card(_) => "customer.card",
            CustomerRef::Phone(_) => "customer.phone",
            CustomerRef::CustomerId(_) => "customer.customer_id",
        }
    }
}

/// One line of a receipt as sent by the till.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    /// The till's line number, unique within the receipt.
    pub line: u32,
    pub sku: String,
    /// Quantity in thousandths of a unit.
    pub qty: i64,
    /// Price of one unit in minor units.
    pub price: Money,
}

impl ReceiptLine {
    /// The line's amount: `round_half_even(price * qty)`.
    pub fn amount(&self) -> Money {
        to_i64(div_round_half_even(
            self.price as i128 * self.qty as i128,
            QTY_SCALE as i128,
        ))
    }
}

/// How many points the customer wants to pay with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Redeem {
    None,
    Points(Points),
    Max,
}

impl ReceiptRequest {
    /// Checks the receipt and normalises the customer identifier.
    pub fn validate(&mut self) -> Result<(), CoreError> {
        validate_id("receipt_id", &self.receipt_id)?;
        validate_id("store_id", &self.store_id)?;
        validate_id("terminal_id", &self.terminal_id)?;
        if let Some(customer) = &mut self.customer {
            customer.normalize().map_err(|e| e.within("customer"))?;
        }
        if self.lines.is_empty() {
            return Err(CoreError::invalid(
                "lines",
                "a receipt needs at least one line",
            ));
        }
        if self.lines.len() > MAX_LINES {
            return Err(CoreError::invalid(
                "lines",
                format!("a receipt holds at most {MAX_LINES} lines"),
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(self.lines.len());
        for (idx, line) in self.lines.iter().enumerate() {
            // The field's name is made only for an error: every receipt passes here.
            let at = || format!("lines[{idx}]");
            if !seen.insert(line.line) {
                return Err(CoreError::field(
                    ErrorCode::DuplicateLine,
                    format!("{}.line", at()),
                    format!("line number {} appears more than once", line.line),
                ));
            }
            validate_id("sku", &line.sku).map_err(|e| e.within(&at()))?;
            if line.qty <= 0 || line.qty > 1_000_000 * QTY_SCALE {
                return Err(CoreError::field(
                    ErrorCode::InvalidQuantity,
                    format!("{}.qty", at()),
                    "must be greater than 0 and at most 1000000",
                ));
            }
            if !(0..=1_000_000_000_000).contains(&line.price) {
                return Err(CoreError::invalid(
                    format!("{}.price", at()),
                    "must be between 0 and 1000000000000 minor units",
                ));
            }
        }
        let total: i128 = self.lines.iter().map(|l| l.amount() as i128).sum();
        if total > MAX_RECEIPT_AMOUNT as i128 {
            return Err(CoreError::invalid(
                "lines",
                format!("the receipt's amount exceeds {MAX_RECEIPT_AMOUNT} minor units"),
            ));
        }
        let mut coupons: Vec<String> = Vec::with_capacity(self.coupons.len());
        for (idx, code) in self.coupons.iter().enumerate() {
            let code = code.trim().to_ascii_uppercase();
            if !(1..=64).contains(&code.len())
                || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(CoreError::invalid(
                    format!("coupons[{idx}]"),
                    "must be 1 to 64 letters, digits or '-'",
                ));
            }
            if !coupons.contains(&code) {
                coupons.push(code);
            }
        }
        if coupons.len() > 20 {
            return Err(CoreError::invalid(
                "coupons",
                "a receipt takes at most 20 coupons",
            ));
        }
        self.coupons = coupons;
        if self.certificates.len() > 20 {
            return Err(CoreError::invalid(
                "certificates",
                "a receipt takes at most 20 certificates",
            ));
        }
        for idx in 0..self.certificates.len() {
            let code = crate::coupon::normalize_code(&self.certificates[idx].code);
            if !crate::coupon::well_formed(&code) {
                return Err(CoreError::field(
                    ErrorCode::CertificateInvalid,
                    format!("certificates[{idx}].code"),
                    "not a gift certificate code (a typo?)",
                ));
            }
            if self.certificates[..idx].iter().any(|c| c.code == code) {
                return Err(CoreError::invalid(
                    format!("certificates[{idx}].code"),
                    "the certificate appears more than once",
                ));
            }
            if !(1..=MAX_RECEIPT_AMOUNT).contains(&self.certificates[idx].amount) {
                return Err(CoreError::invalid(
                    format!("certificates[{idx}].amount"),
                    "must be a positive amount of minor units",
                ));
            }
            self.certificates[idx].code = code;
        }
        if let Redeem::Points(points) = self.redeem {
            if points < 0 {
                return Err(CoreError::invalid(
                    "redeem_points",
                    "must be 0, a positive number of points or \"max\"",
                ));
            }
            if points == 0 {
                self.redeem = Redeem::None;
            }
        }
        if self.redeem != Redeem::None && self.customer.is_none() {
            return Err(CoreError::field(
                ErrorCode::RedeemNeedsCustomer,
                "redeem_points",
                "paying with points needs an identified customer",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_amount_rounds_half_even() {
        let cases = [
            (1000, 532, 532),
            (999, 500, 500),
            (3, 500, 2),
            (5, 500, 2),
            (7, 500, 4),
            (299000, 2000, 598000),
        ];
        for (price, qty, expected) in cases {
            let line = ReceiptLine {
                line: 1,
                sku: "x".into(),
                qty,
                price,
            };
            assert_eq!(line.amount(), expected, "{price} x {qty}");
        }
    }
}
