//! Coupon series and their codes: unguessable single-use or multi-use codes that
//! unlock one promotion, and how a presented code is judged.
//!
//! A code is 15 random characters and a check character from an alphabet with no
//! ambiguous characters (no `0`/`O`, `1`/`I`), shown in groups of four:
//! `K7QM-X3PD-9HTR-F2WC`. The check character (Luhn mod 32) catches every single
//! mistyped character and every swap of two neighbours but `2`/`Z`, so a typo is
//! answered `unknown` without a database lookup. 75 random bits make guessing
//! hopeless.

use crate::catalog::validate_id;
use crate::error::CoreError;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// The characters of generated codes: digits and capitals without `0 1 I O`.
pub const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

const ALPHABET_LEN: u32 = 32;
const RANDOM_CHARS: usize = 15;

/// A coupon series: codes that unlock one promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponSeries {
    pub series_id: String,
    /// The promotion the series' codes unlock (its `conditions.coupon` names the series).
    pub promotion_id: String,
    /// Each code works for one committed receipt; a cancel or full return frees it.
    pub single_use: bool,
    /// Store-local date-times the codes are valid in; absent bounds are open.
    pub valid_from: Option<NaiveDateTime>,
    pub valid_to: Option<NaiveDateTime>,
}

impl CouponSeries {
    /// Checks the series' fields.
    pub fn validate(&self) -> Result<(), CoreError> {
        validate_id("id", &self.series_id)?;
        validate_id("promotion", &self.promotion_id)?;
        if let (Some(from), Some(to)) = (self.valid_from, self.valid_to) {
            if to < from {
                return Err(CoreError::invalid(
                    "valid_to",
                    "must not be before valid_from",
                ));
            }
        }
        Ok(())
    }
}

/// One code of a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// Normalised: upper-case, without separators.
    pub code: String,
    pub series_id: String,
    /// The customer it was issued to by a receipt (`issue_coupon`), if any.
    pub customer_id: Option<String>,
    /// The receipt that issued it, if any: cancelling that receipt revokes the code.
    pub issued_by: Option<String>,
    /// The end of this code's own validity (`issue_coupon`'s `valid_days`).
    pub valid_until: Option<DateTime<Utc>>,
    /// The committed receipt that used a single-use code.
    pub used_by: Option<String>,
    /// Set when the receipt that issued it was cancelled or fully returned.
    pub revoked: bool,
}

impl Coupon {
    /// A free code of `series_id`, as `generate` makes them (`code` in shown or
    /// stored form).
    pub fn generated(code: &str, series_id: &str) -> Coupon {
        Coupon {
            code: normalize_code(code),
            series_id: series_id.to_string(),
            customer_id: None,
            issued_by: None,
            valid_until: None,
            used_by: None,
            revoked: false,
        }
    }
}

/// Why a presented code does not unlock anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Unknown,
    NotYetValid,
    Expired,
    Used,
    Revoked,
}

impl Rejection {
    /// The wire name of the reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Unknown => "unknown",
            Rejection::NotYetValid => "not_yet_valid",
            Rejection::Expired => "expired",
            Rejection::Used => "used",
            Rejection::Revoked => "revoked",
        }
    }
}

/// Judges a presented code (already found in storage with its series) for a receipt
/// at `at`, store-local `local`, with id `receipt_id`: the series it unlocks, or why not.
pub fn judge(
    coupon: &Coupon,
    series: &CouponSeries,
    at: DateTime<Utc>,
    local: NaiveDateTime,
    receipt_id: &str,
) -> Result<(), Rejection> {
    if coupon.revoked {
        return Err(Rejection::Revoked);
    }
    if series.valid_from.is_some_and(|from| local < from) {
        return Err(Rejection::NotYetValid);
    }
    let series_over = series.valid_to.is_some_and(|to| {
        !crate::promotion::Schedule {
            to: Some(to),
            ..Default::default()
        }
        .contains(local)
    });
    if series_over || coupon.valid_until.is_some_and(|until| at >= until) {
        return Err(Rejection::Expired);
    }
    if series.single_use && coupon.used_by.as_deref().is_some_and(|r| r != receipt_id) {
        return Err(Rejection::Used);
    }
    Ok(())
}

/// A new code from 75 random bits (the low bits of `random`), with its check
/// character, grouped by four: `XXXX-XXXX-XXXX-XXXX`.
pub fn code_from_random(random: u128) -> String {
    let mut value = random;
    let mut digits = Vec::with_capacity(RANDOM_CHARS + 1);
    for _ in 0..RANDOM_CHARS {
        digits.push((value % ALPHABET_LEN as u128) as u32);
        value /= ALPHABET_LEN as u128;
    }
    digits.push(check_digit(&digits));
    let mut code = String::with_capacity(19);
    for (idx, digit) in digits.iter().enumerate() {
        if idx > 0 && idx % 4 == 0 {
            code.push('-');
        }
        code.push(CODE_ALPHABET[*digit as usize] as char);
    }
    code
}

/// A code as typed (any case, with or without dashes or spaces) in stored form.
pub fn normalize_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Whether a normalised code has the shape of a generated code and a right check
/// character.
pub fn well_formed(code: &str) -> bool {
    let digits: Option<Vec<u32>> = code.bytes().map(digit_of).collect();
    match digits {
        Some(digits) if digits.len() == RANDOM_CHARS + 1 => {
            check_digit(&digits[..RANDOM_CHARS]) == digits[RANDOM_CHARS]
        }
        _ => false,
    }
}

fn digit_of(byte: u8) -> Option<u32> {
    CODE_ALPHABET
        .iter()
        .position(|c| *c == byte)
        .map(|p| p as u32)
}

/// Luhn mod N: doubles every second digit from the right (the check digit's place
/// being the first), folding the result back into the alphabet.
fn check_digit(digits: &[u32]) -> u32 {
    let n = ALPHABET_LEN;
    let mut sum = 0;
    for (idx, digit) in digits.iter().rev().enumerate() {
        let mut addend = if idx % 2 == 0 { digit * 2 } else { *digit };
        addend = addend / n + addend % n;
        sum += addend;
    }
    (n - sum % n) % n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_are_well_formed_and_catch_typos() {
        let mut seed: u128 = 0x1234_5678_9abc_def0_1122_3344_5566_7788;
        for _ in 0..500 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let code = code_from_random(seed);
            assert_eq!(code.len(), 19, "{code}");
            let stored = normalize_code(&code.to_lowercase());
            assert!(well_formed(&stored), "{code}");
            assert!(!stored.contains(['0', '1', 'I', 'O']), "{code}");
            // Every single substitution is caught.
            let bytes = stored.as_bytes();
            for pos in 0..bytes.len() {
                for &c in CODE_ALPHABET {
                    if c == bytes[pos] {
                        continue;
                    }
                    let mut typo = bytes.to_vec();
                    typo[pos] = c;
                    let typo = String::from_utf8_lossy(&typo).to_string();
                    assert!(!well_formed(&typo), "{stored} -> {typo}");
                }
            }
            // Every swap of two different neighbours is caught, but 2 and Z (the one
            // pair Luhn mod 32 cannot see).
            for pos in 0..bytes.len() - 1 {
                let pair = [bytes[pos], bytes[pos + 1]];
                if pair[0] == pair[1] || pair == *b"2Z" || pair == *b"Z2" {
                    continue;
                }
                let mut swapped = bytes.to_vec();
                swapped.swap(pos, pos + 1);
                let swapped = String::from_utf8_lossy(&swapped).to_string();
                assert!(!well_formed(&swapped), "{stored} -> {swapped}");
            }
        }
        assert!(!well_formed("SPRING10"));
    }

    #[test]
    fn judge_table() {
        let at = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap_or_default();
        let series = CouponSeries {
            series_id: "s".into(),
            promotion_id: "p".into(),
            single_use: true,
            valid_from: Some(at("2026-03-01T00:00")),
            valid_to: Some(at("2026-03-31T23:59")),
        };
        let coupon = Coupon {
            code: "C".into(),
            series_id: "s".into(),
            customer_id: None,
            issued_by: None,
            valid_until: None,
            used_by: None,
            revoked: false,
        };
        let utc = |s: &str| at(s).and_utc();
        let used = Coupon {
            used_by: Some("r1".into()),
            ..coupon.clone()
        };
        let short = Coupon {
            valid_until: Some(utc("2026-03-10T00:00")),
            ..coupon.clone()
        };
        let revoked = Coupon {
            revoked: true,
            ..coupon.clone()
        };
        let cases = [
            (&coupon, "2026-03-15T12:00", "r2", Ok(())),
            (
                &coupon,
                "2026-02-28T23:59",
                "r2",
                Err(Rejection::NotYetValid),
            ),
            (&coupon, "2026-03-31T23:59", "r2", Ok(())),
            (&coupon, "2026-04-01T00:00", "r2", Err(Rejection::Expired)),
            (&used, "2026-03-15T12:00", "r2", Err(Rejection::Used)),
            // The receipt that used it may be priced again (a commit retry).
            (&used, "2026-03-15T12:00", "r1", Ok(())),
            (&short, "2026-03-09T23:00", "r2", Ok(())),
            (&short, "2026-03-10T00:00", "r2", Err(Rejection::Expired)),
            (&revoked, "2026-03-15T12:00", "r2", Err(Rejection::Revoked)),
        ];
        for (coupon, local, receipt, expected) in cases {
            assert_eq!(
                judge(coupon, &series, utc(local), at(local), receipt),
                expected,
                "{local} {receipt} {coupon:?}"
            );
        }
        let multi = CouponSeries {
            single_use: false,
            ..series
        };
        assert_eq!(
            judge(
                &used,
                &multi,
                utc("2026-03-15T12:00"),
                at("2026-03-15T12:00"),
                "r2"
            ),
            Ok(())
        );
    }
}
