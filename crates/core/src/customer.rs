//! Customers and the identifiers a till may send: cards, phones, emails.

use crate::error::{CoreError, ErrorCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A loyalty member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub customer_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub cards: Vec<Card>,
    pub created_at: DateTime<Utc>,
}

/// A loyalty card: its number (what the till scans) and its type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    pub number: String,
    pub card_type: CardType,
}

impl From<&str> for Card {
    /// A plastic card with this number.
    fn from(number: &str) -> Self {
        Card {
            number: number.to_string(),
            card_type: CardType::Plastic,
        }
    }
}

/// What kind of card it is; promotions can be for some kinds only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardType {
    #[default]
    Plastic,
    Virtual,
    Family,
    Social,
}

impl CardType {
    /// Every type, in wire order.
    pub const ALL: [CardType; 4] = [
        CardType::Plastic,
        CardType::Virtual,
        CardType::Family,
        CardType::Social,
    ];

    /// The wire and stored name of the type.
    pub fn as_str(self) -> &'static str {
        match self {
            CardType::Plastic => "plastic",
            CardType::Virtual => "virtual",
            CardType::Family => "family",
            CardType::Social => "social",
        }
    }

    /// Parses a wire or stored name.
    pub fn parse(name: &str) -> Option<CardType> {
        CardType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl Customer {
    /// Normalises and checks the customer's identifiers and name.
    pub fn normalize(&mut self) -> Result<(), CoreError> {
        if let Some(name) = &self.name {
            let trimmed = name.trim();
            if trimmed.is_empty() || trimmed.chars().count() > 200 {
                return Err(CoreError::invalid(
                    "name",
                    "must be non-blank and at most 200 characters",
                ));
            }
            self.name = Some(trimmed.to_string());
        }
        if let Some(phone) = &self.phone {
            self.phone = Some(normalize_phone(phone)?);
        }
        if let Some(email) = &self.email {
            self.email = Some(normalize_email(email)?);
        }
        let mut cards: Vec<Card> = Vec::with_capacity(self.cards.len());
        for (idx, card) in self.cards.iter().enumerate() {
            let number =
                normalize_card(&card.number).map_err(|e| e.within(&format!("cards[{idx}]")))?;
            if !cards.iter().any(|c| c.number == number) {
                cards.push(Card {
                    number,
                    card_type: card.card_type,
                });
            }
        }
        self.cards = cards;
        Ok(())
    }
}

/// What the engine knows of an identified customer besides their points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFacts {
    /// The customer has no committed receipt yet.
    pub first_purchase: bool,
    /// The customer's latest tier grant.
    pub tier: Option<TierGrant>,
    /// The type of the card the till presented, or with another identifier, of every
    /// card the customer holds.
    pub card_types: Vec<CardType>,
    /// The segments the customer is a member of.
    pub segments: Vec<String>,
    /// Every field the program requires is filled in and fresh
    /// ([`crate::profile::profile_requests`] finds nothing to ask).
    pub profile_complete: bool,
}

/// A tier given to a customer from `granted_at` until `until` (open: until replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierGrant {
    pub tier: String,
    pub granted_at: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
}

impl CustomerFacts {
    /// The customer's tier at `at`: the latest grant's, when `at` falls within it. (A
    /// receipt dated before the latest grant, such as an offline one, sees no tier
    /// rather than an earlier, replaced one.)
    pub fn tier_at(&self, at: DateTime<Utc>) -> Option<&str> {
        match &self.tier {
            Some(grant) if grant.granted_at <= at && grant.until.is_none_or(|u| at < u) => {
                Some(&grant.tier)
            }
            _ => None,
        }
    }
}

/// Normalises a phone number to `+` and digits (E.164 shape): separators such as
/// spaces, dashes, dots and parentheses are dropped. A number must carry its country
/// code, with or without the `+`.
pub fn normalize_phone(raw: &str) -> Result<String, CoreError> {
    let mut digits = String::with_capacity(16);
    for (idx, c) in raw.trim().chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if idx == 0 => {}
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(invalid_phone()),
        }
    }
    if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(invalid_phone());
    }
    Ok(format!("+{digits}"))
}

fn invalid_phone() -> CoreError {
    CoreError::field(
        ErrorCode::InvalidPhone,
        "phone",
        "must be an international number with country code, 8 to 15 digits, such as +79161234567",
    )
}

/// Trims and lower-cases an email address and checks its shape.
pub fn normalize_email(raw: &str) -> Result<String, CoreError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(CoreError::field(
            ErrorCode::InvalidEmail,
            "email",
            "must be an email address such as anna@example.com",
        ))
    }
}

/// Checks a card number: 4 to 32 letters and digits (spaces are dropped).
pub fn normalize_card(raw: &str) -> Result<String, CoreError> {
    let card: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if (4..=32).contains(&card.len()) && card.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(card.to_ascii_uppercase())
    } else {
        Err(CoreError::field(
            ErrorCode::InvalidCard,
            "card",
            "must be 4 to 32 letters and digits",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_table() {
        let cases = [
            ("+7 (916) 123-45-67", Some("+79161234567")),
            ("79161234567", Some("+79161234567")),
            ("+1.415.555.0100", Some("+14155550100")),
            ("12345", None),
            ("+7 916 abc", None),
            ("0916123456", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_phone(raw).ok().as_deref(), expected, "{raw}");
        }
    }

    #[test]
    fn email_table() {
        let cases = [
            (" Anna@Example.COM ", Some("anna@example.com")),
            ("no-at.example.com", None),
            ("a@b", None),
            ("a b@c.de", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_email(raw).ok().as_deref(), expected, "{raw}");
        }
    }

    #[test]
    fn card_table() {
        assert_eq!(
            normalize_card("7001 0000 1234").ok().as_deref(),
            Some("700100001234")
        );
        assert!(normalize_card("12").is_err());
        assert!(normalize_card("12-34-56").is_err());
    }
}
