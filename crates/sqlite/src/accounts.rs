//! Rows of customers' codes (TOTP secrets, sent codes, throttles), sessions and staff
//! users. Code changes run on the writer, which reads and writes both records of a
//! customer in one transaction.

use crate::sql::{all, exec, one, RowExt};
use crate::time::{parse_ts, ts};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};
use tessera_core::access::StaffRole;
use tessera_core::one_time_code::{CodeRecord, SentCode, TotpRecord};
use tessera_core::otp::{base32_decode, base32_encode, ThrottleState};
use tessera_store::account::{
    apply_code, record_login, CodeAnswer, CodeChange, Session, SessionKind, StaffUser,
};
use tessera_store::{StoreError, StoreResult};

/// Applies a code change to the customer's records.
pub fn customer_code(
    conn: &Connection,
    customer_id: &str,
    change: &CodeChange,
) -> StoreResult<CodeAnswer> {
    let purpose = change.purpose().as_str();
    let mut totp = one(
        conn,
        "SELECT secret, last_step, last_receipt FROM customer_totp WHERE customer_id = ?",
        [customer_id],
        |r| {
            Ok(TotpRecord {
                secret: base32_decode(&r.at::<String>(0)?)
                    .map_err(|e| StoreError::backend(e.message))?,
                last_step: r.at(1)?,
                last_receipt: r.at(2)?,
            })
        },
    )?;
    let mut record = one(
        conn,
        "SELECT code_hash, expires_at, used_for, failures, window_started_at, locked_until
         FROM customer_codes WHERE customer_id = ? AND purpose = ?",
        params![customer_id, purpose],
        |r| {
            let sent = match (r.at::<Option<String>>(0)?, r.at::<Option<i64>>(1)?) {
                (Some(code_hash), Some(expires_at)) => Some(SentCode {
                    code_hash,
                    expires_at,
                    used_for: r.at(2)?,
                }),
                _ => None,
            };
            Ok(CodeRecord {
                sent,
                throttle: ThrottleState {
                    failures: u32::try_from(r.at::<i64>(3)?).unwrap_or(u32::MAX),
                    window_started_at: r.at(4)?,
                    locked_until: r.at(5)?,
                },
            })
        },
    )?
    .unwrap_or_default();
    let answer = apply_code(customer_id, &mut totp, &mut record, change);
    if let Some(totp) = &totp {
        exec(
            conn,
            "INSERT INTO customer_totp (customer_id, secret, last_step, last_receipt) VALUES (?, ?, ?, ?)
             ON CONFLICT (customer_id) DO UPDATE SET last_step = excluded.last_step, last_receipt = excluded.last_receipt",
            params![customer_id, base32_encode(&totp.secret), totp.last_step, totp.last_receipt],
        )?;
    }
    let sent = record.sent.as_ref();
    exec(
        conn,
        "INSERT INTO customer_codes (customer_id, purpose, code_hash, expires_at, used_for, failures, window_started_at, locked_until)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (customer_id, purpose) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at,
           used_for = excluded.used_for, failures = excluded.failures, window_started_at = excluded.window_started_at,
           locked_until = excluded.locked_until",
        params![
            customer_id,
            purpose,
            sent.map(|s| s.code_hash.clone()),
            sent.map(|s| s.expires_at),
            sent.and_then(|s| s.used_for.clone()),
            i64::from(record.throttle.failures),
            record.throttle.window_started_at,
            record.throttle.locked_until,
        ],
    )?;
    Ok(answer)
}

pub fn put_session(conn: &Connection, session: &Session) -> StoreResult<()> {
    exec(
        conn,
        "INSERT INTO sessions (token_hash, kind, subject, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
        params![
            session.token_hash,
            session.kind.as_str(),
            session.subject,
            ts(session.created_at),
            ts(session.expires_at),
            session.revoked_at.map(ts),
        ],
    )
    .map(drop)
}

pub fn session(conn: &Connection, token_hash: &str) -> StoreResult<Option<Session>> {
    one(
        conn,
        "SELECT token_hash, kind, subject, created_at, expires_at, revoked_at FROM sessions WHERE token_hash = ?",
        [token_hash],
        |r| {
            let kind = r.at::<String>(1)?;
            Ok(Session {
                token_hash: r.at(0)?,
                kind: SessionKind::parse(&kind)
                    .ok_or_else(|| StoreError::backend(format!("unknown session kind {kind:?}")))?,
                subject: r.at(2)?,
                created_at: parse_ts(&r.at::<String>(3)?)?,
                expires_at: parse_ts(&r.at::<String>(4)?)?,
                revoked_at: r.at::<Option<String>>(5)?.map(|t| parse_ts(&t)).transpose()?,
            })
        },
    )
}

pub fn revoke_session(conn: &Connection, token_hash: &str, at: DateTime<Utc>) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE token_hash = ?",
        params![ts(at), token_hash],
    )
    .map(drop)
}

/// Creates or replaces a staff user; a disabled user's sessions are revoked with it.
pub fn put_staff_user(conn: &Connection, user: &StaffUser) -> StoreResult<()> {
    exec(
        conn,
        "INSERT INTO staff_users (username, role, password_hash, created_at, disabled_at, failures, window_started_at, locked_until)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (username) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash,
           disabled_at = excluded.disabled_at, failures = excluded.failures,
           window_started_at = excluded.window_started_at, locked_until = excluded.locked_until",
        params![
            user.username,
            user.role.as_str(),
            user.password_hash,
            ts(user.created_at),
            user.disabled_at.map(ts),
            i64::from(user.throttle.failures),
            user.throttle.window_started_at,
            user.throttle.locked_until,
        ],
    )?;
    if let Some(at) = user.disabled_at {
        exec(
            conn,
            "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE kind = 'staff' AND subject = ?",
            params![ts(at), user.username],
        )?;
    }
    Ok(())
}

fn staff_row(r: &Row) -> StoreResult<StaffUser> {
    let role = r.at::<String>(1)?;
    Ok(StaffUser {
        username: r.at(0)?,
        role: StaffRole::parse(&role)
            .ok_or_else(|| StoreError::backend(format!("unknown role {role:?}")))?,
        password_hash: r.at(2)?,
        created_at: parse_ts(&r.at::<String>(3)?)?,
        disabled_at: r
            .at::<Option<String>>(4)?
            .map(|t| parse_ts(&t))
            .transpose()?,
        throttle: ThrottleState {
            failures: u32::try_from(r.at::<i64>(5)?).unwrap_or(u32::MAX),
            window_started_at: r.at(6)?,
            locked_until: r.at(7)?,
        },
    })
}

const STAFF_COLUMNS: &str =
    "username, role, password_hash, created_at, disabled_at, failures, window_started_at, locked_until";

pub fn staff_users(conn: &Connection) -> StoreResult<Vec<StaffUser>> {
    all(
        conn,
        &format!("SELECT {STAFF_COLUMNS} FROM staff_users ORDER BY username"),
        [],
        staff_row,
    )
}

/// Records a login attempt; the throttle state after it, or `None` for no such user.
pub fn record_staff_login(
    conn: &Connection,
    username: &str,
    ok: bool,
    now: DateTime<Utc>,
) -> StoreResult<Option<ThrottleState>> {
    let user = one(
        conn,
        &format!("SELECT {STAFF_COLUMNS} FROM staff_users WHERE username = ?"),
        [username],
        staff_row,
    )?;
    let Some(mut user) = user else {
        return Ok(None);
    };
    record_login(&mut user.throttle, ok, now.timestamp());
    exec(
        conn,
        "UPDATE staff_users SET failures = ?, window_started_at = ?, locked_until = ? WHERE username = ?",
        params![
            i64::from(user.throttle.failures),
            user.throttle.window_started_at,
            user.throttle.locked_until,
            username,
        ],
    )?;
    Ok(Some(user.throttle))
}

/// Removes a customer's secret and codes and ends their sessions.
pub fn forget_customer(conn: &Connection, customer_id: &str, at: DateTime<Utc>) -> StoreResult<()> {
    exec(
        conn,
        "DELETE FROM customer_totp WHERE customer_id = ?",
        [customer_id],
    )?;
    exec(
        conn,
        "DELETE FROM customer_codes WHERE customer_id = ?",
        [customer_id],
    )?;
    exec(
        conn,
        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE kind = 'customer' AND subject = ?",
        params![ts(at), customer_id],
    )
    .map(drop)
}

/// Ends every session of a staff user.
pub fn end_staff_sessions(conn: &Connection, username: &str, at: DateTime<Utc>) -> StoreResult<()> {
    exec(
        conn,
        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE kind = 'staff' AND subject = ?",
        params![ts(at), username],
    )
    .map(drop)
}
