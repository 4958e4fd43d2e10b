//! The codes a customer proves themselves with: to spend points when the program sets
//! `redeem_requires_code` (the app's TOTP, or a code sent by SMS on request), and to
//! sign in to their account (a code sent to their phone). Judging a code changes what
//! is stored of it (the last TOTP step used, the receipt a code is bound to, the
//! throttle), so the judges here take the stored records and change them; adapters
//! read and write the records in one transaction around the call.
//!
//! Rules:
//! - **A code works once.** A TOTP code is refused in its step once a code of that step
//!   or a later one was used; a sent code is refused once used.
//! - **A redemption code binds to one receipt.** The same code presented again for the
//!   same receipt (a till retrying after a refusal such as `quote_changed`) passes;
//!   for another receipt it is `code_used`.
//! - **Wrong codes are throttled** per customer and purpose ([`Throttle`]); a right code
//!   clears the count, an expired right code neither counts nor clears.
//! - **Sent codes are stored as a hash** bound to the customer and expire after
//!   [`SENT_CODE_SECONDS`].

use crate::error::{CoreError, ErrorCode};
use crate::otp::{hotp, verify, Attempt, Digits, OtpRefusal, Throttle, ThrottleState};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// How long a sent code stays valid.
pub const SENT_CODE_SECONDS: i64 = 300;

/// The TOTP steps either side of now a redemption code may come from (a till's clock or
/// a slow cashier): one, as RFC 6238 suggests.
pub const DRIFT_STEPS: u32 = 1;

/// What a sent code is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodePurpose {
    Redeem,
    Login,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Redeem => "redeem",
            CodePurpose::Login => "login",
        }
    }

    pub fn parse(name: &str) -> Option<CodePurpose> {
        [CodePurpose::Redeem, CodePurpose::Login]
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

/// A code sent to the customer, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCode {
    /// [`code_hash`] of the customer and the code.
    pub code_hash: String,
    /// Unix seconds; the code is refused from this instant.
    pub expires_at: i64,
    /// The receipt the code was used for (`login` for a sign-in), once used.
    pub used_for: Option<String>,
}

/// What is stored per customer and purpose: the last code sent and the throttle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub sent: Option<SentCode>,
    pub throttle: ThrottleState,
}

/// A customer's TOTP secret and what it was last used for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpRecord {
    pub secret: Vec<u8>,
    /// The newest step a code was used in.
    pub last_step: Option<i64>,
    /// The receipt that code was used for.
    pub last_receipt: Option<String>,
}

/// Why a code is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeRefusal {
    /// No valid code matches.
    Invalid,
    /// The right code, but past its expiry.
    Expired,
    /// The code was used already (for another receipt).
    Used,
    /// Too many wrong codes: no code is judged for `retry_after` seconds.
    Locked { retry_after: i64 },
}

impl CodeRefusal {
    /// The domain error, naming `field`.
    pub fn error(self, field: &str) -> CoreError {
        match self {
            CodeRefusal::Invalid => {
                CoreError::field(ErrorCode::CodeInvalid, field, "the code is not valid")
            }
            CodeRefusal::Expired => CoreError::field(
                ErrorCode::CodeInvalid,
                field,
                "the code has expired; ask for a new one",
            ),
            CodeRefusal::Used => CoreError::field(
                ErrorCode::CodeUsed,
                field,
                "the code was used already; a code works once",
            ),
            CodeRefusal::Locked { retry_after } => CoreError::field(
                ErrorCode::RateLimited,
                field,
                format!("too many wrong codes; try again in {retry_after} s"),
            ),
        }
    }
}

/// The hash a sent code is stored as: SHA-256 over the customer id and the code, so a
/// stolen table reveals no code and a code of one customer says nothing of another's.
pub fn code_hash(customer_id: &str, code: &str) -> String {
    let mut data = Vec::with_capacity(customer_id.len() + 1 + code.len());
    data.extend_from_slice(customer_id.as_bytes());
    data.push(0);
    data.extend_from_slice(code.as_bytes());
    crate::digest::sha256_hex(&data)
}

/// A 6-digit code from caller-given random bits.
pub fn sent_code_from_random(random: u32) -> String {
    format!("{:06}", random % 1_000_000)
}

/// The TOTP code of `secret` at `now` and the instant (unix seconds) its step ends.
pub fn current_code(secret: &[u8], now: i64) -> (String, i64) {
    let step = crate::otp::totp_step(now);
    let ends = (step + 1) * crate::otp::STEP_SECONDS;
    (crate::otp::totp_at(secret, now), ends)
}

fn locked(throttle: &Throttle, state: &ThrottleState, now: i64) -> Result<(), CodeRefusal> {
    match throttle.check(state, now) {
        Attempt::Allowed => Ok(()),
        Attempt::Refused { retry_after } => Err(CodeRefusal::Locked { retry_after }),
    }
}

/// Uses the sent code for `bound_to` if `code` is it: `None` when it is not that code.
/// A used code passes again only for what it is bound to, and only if `again` allows.
fn use_sent(
    record: &mut CodeRecord,
    customer_id: &str,
    code: &str,
    now: i64,
    throttle: &Throttle,
    bound_to: &str,
    again: bool,
) -> Option<Result<(), CodeRefusal>> {
    let sent = record.sent.as_mut()?;
    let same: bool = code_hash(customer_id, code)
        .as_bytes()
        .ct_eq(sent.code_hash.as_bytes())
        .into();
    if !same {
        return None;
    }
    if now >= sent.expires_at {
        return Some(Err(CodeRefusal::Expired));
    }
    Some(match &sent.used_for {
        Some(used) if again && used == bound_to => Ok(()),
        Some(_) => Err(CodeRefusal::Used),
        None => {
            sent.used_for = Some(bound_to.to_string());
            throttle.record_success(&mut record.throttle);
            Ok(())
        }
    })
}

/// Judges a code presented to spend points on `receipt_id` at `now` (unix seconds):
/// the sent code first, then the app's TOTP.
pub fn judge_redeem(
    totp: Option<&mut TotpRecord>,
    record: &mut CodeRecord,
    customer_id: &str,
    code: &str,
    receipt_id: &str,
    now: i64,
    throttle: &Throttle,
) -> Result<(), CodeRefusal> {
    locked(throttle, &record.throttle, now)?;
    if let Some(outcome) = use_sent(record, customer_id, code, now, throttle, receipt_id, true) {
        return outcome;
    }
    if let Some(totp) = totp {
        match verify(&totp.secret, code, now, DRIFT_STEPS, totp.last_step) {
            Ok(step) => {
                totp.last_step = Some(step);
                totp.last_receipt = Some(receipt_id.to_string());
                throttle.record_success(&mut record.throttle);
                return Ok(());
            }
            Err(OtpRefusal::Used) => {
                let retry = totp.last_step.is_some_and(|last| {
                    let last_code = hotp(&totp.secret, last as u64, Digits::SIX);
                    bool::from(last_code.as_bytes().ct_eq(code.as_bytes()))
                }) && totp.last_receipt.as_deref() == Some(receipt_id);
                return if retry {
                    Ok(())
                } else {
                    Err(CodeRefusal::Used)
                };
            }
            Err(OtpRefusal::Invalid) => {}
        }
    }
    throttle.record_failure(&mut record.throttle, now);
    Err(CodeRefusal::Invalid)
}

/// Judges a sign-in code at `now`.
pub fn judge_login(
    record: &mut CodeRecord,
    customer_id: &str,
    code: &str,
    now: i64,
    throttle: &Throttle,
) -> Result<(), CodeRefusal> {
    locked(throttle, &record.throttle, now)?;
    if let Some(outcome) = use_sent(record, customer_id, code, now, throttle, "login", false) {
        return outcome;
    }
    throttle.record_failure(&mut record.throttle, now);
    Err(CodeRefusal::Invalid)
}
