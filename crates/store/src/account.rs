//! The stored side of customers' and staff's sign-in and of redemption codes: the
//! changes an adapter applies to a customer's code records in one transaction, the
//! sessions tokens stand for, and staff users.

use chrono::{DateTime, Utc};
use tessera_core::access::StaffRole;
use tessera_core::one_time_code::{
    judge_login, judge_redeem, CodePurpose, CodeRecord, CodeRefusal, SentCode, TotpRecord,
};
use tessera_core::otp::{Throttle, ThrottleState};

/// A change to a customer's code records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeChange {
    /// Makes the customer's TOTP secret from these random bytes if there is none;
    /// answers the secret.
    EnsureSecret([u8; 20]),
    /// Stores a code just sent (replacing an earlier one of the purpose).
    Send {
        purpose: CodePurpose,
        code_hash: String,
        expires_at: i64,
    },
    /// Judges a code presented to spend points on a receipt.
    Redeem {
        code: String,
        receipt_id: String,
        now: i64,
    },
    /// Judges a sign-in code.
    Login { code: String, now: i64 },
}

impl CodeChange {
    /// The purpose whose record the change reads and writes.
    pub fn purpose(&self) -> CodePurpose {
        match self {
            CodeChange::Send { purpose, .. } => *purpose,
            CodeChange::Login { .. } => CodePurpose::Login,
            CodeChange::EnsureSecret(_) | CodeChange::Redeem { .. } => CodePurpose::Redeem,
        }
    }
}

/// What a code change answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeAnswer {
    Secret(Vec<u8>),
    Sent,
    Judged(Result<(), CodeRefusal>),
}

/// Applies `change` to the customer's records as read inside the transaction; the
/// adapter writes both back.
pub fn apply_code(
    customer_id: &str,
    totp: &mut Option<TotpRecord>,
    record: &mut CodeRecord,
    change: &CodeChange,
) -> CodeAnswer {
    let throttle = Throttle::default();
    match change {
        CodeChange::EnsureSecret(random) => {
            let secret = totp
                .get_or_insert_with(|| TotpRecord {
                    secret: random.to_vec(),
                    last_step: None,
                    last_receipt: None,
                })
                .secret
                .clone();
            CodeAnswer::Secret(secret)
        }
        CodeChange::Send {
            code_hash,
            expires_at,
            ..
        } => {
            record.sent = Some(SentCode {
                code_hash: code_hash.clone(),
                expires_at: *expires_at,
                used_for: None,
            });
            CodeAnswer::Sent
        }
        CodeChange::Redeem {
            code,
            receipt_id,
            now,
        } => CodeAnswer::Judged(judge_redeem(
            totp.as_mut(),
            record,
            customer_id,
            code,
            receipt_id,
            *now,
            &throttle,
        )),
        CodeChange::Login { code, now } => {
            CodeAnswer::Judged(judge_login(record, customer_id, code, *now, &throttle))
        }
    }
}

/// Who a session token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    Customer,
    Staff,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Customer => "customer",
            SessionKind::Staff => "staff",
        }
    }

    pub fn parse(name: &str) -> Option<SessionKind> {
        [SessionKind::Customer, SessionKind::Staff]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// A signed-in session: only the SHA-256 of its token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub kind: SessionKind,
    /// The customer id or the staff user name.
    pub subject: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Whether the session lets its token in at `now`.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at && self.revoked_at.is_none_or(|at| now < at)
    }
}

/// A back-office user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffUser {
    pub username: String,
    pub role: StaffRole,
    /// Argon2id, in the PHC string format.
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Wrong passwords, for the login throttle.
    pub throttle: ThrottleState,
}

/// Records a login attempt's outcome on the throttle state read inside the
/// transaction (a right password clears it). While the user is locked nothing is
/// recorded: an attempt judged in parallel with the failures that locked the user is
/// refused by its caller, which sees the lock in the state answered.
pub fn record_login(state: &mut ThrottleState, ok: bool, now: i64) {
    let throttle = Throttle::default();
    if matches!(
        throttle.check(state, now),
        tessera_core::otp::Attempt::Refused { .. }
    ) {
        return;
    }
    if ok {
        throttle.record_success(state);
    } else {
        throttle.record_failure(state, now);
    }
}
