//! Rows of customers' codes (TOTP secrets, sent codes, throttles), sessions and staff
//! users. A code change locks the customer's code row (made first if missing), so two
//! tills judging codes of one customer at once take turns.

use crate::rows::db;
use crate::time::{parse_ts, ts};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use tessera_core::access::StaffRole;
use tessera_core::one_time_code::{CodeRecord, SentCode, TotpRecord};
use tessera_core::otp::{base32_decode, base32_encode, ThrottleState};
use tessera_store::account::{
    apply_code, record_login, CodeAnswer, CodeChange, Session, SessionKind, StaffUser,
};
use tessera_store::{StoreError, StoreResult};

fn throttle_at(row: &PgRow, first: usize) -> ThrottleState {
    ThrottleState {
        failures: u32::try_from(row.get::<i64, _>(first)).unwrap_or(u32::MAX),
        window_started_at: row.get(first + 1),
        locked_until: row.get(first + 2),
    }
}

/// Applies a code change to the customer's records, inside the caller's transaction.
pub async fn customer_code(
    conn: &mut PgConnection,
    customer_id: &str,
    change: &CodeChange,
) -> StoreResult<CodeAnswer> {
    let purpose = change.purpose().as_str();
    sqlx::query(
        "INSERT INTO customer_codes (customer_id, purpose) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(customer_id)
    .bind(purpose)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let row = sqlx::query(
        "SELECT code_hash, expires_at, used_for, failures, window_started_at, locked_until
         FROM customer_codes WHERE customer_id = $1 AND purpose = $2 FOR UPDATE",
    )
    .bind(customer_id)
    .bind(purpose)
    .fetch_one(&mut *conn)
    .await
    .map_err(db)?;
    let sent = match (
        row.get::<Option<String>, _>(0),
        row.get::<Option<i64>, _>(1),
    ) {
        (Some(code_hash), Some(expires_at)) => Some(SentCode {
            code_hash,
            expires_at,
            used_for: row.get(2),
        }),
        _ => None,
    };
    let mut record = CodeRecord {
        sent,
        throttle: throttle_at(&row, 3),
    };
    let mut totp = sqlx::query(
        "SELECT secret, last_step, last_receipt FROM customer_totp WHERE customer_id = $1 FOR UPDATE",
    )
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    .map(|r| -> StoreResult<TotpRecord> {
        Ok(TotpRecord {
            secret: base32_decode(&r.get::<String, _>(0))
                .map_err(|e| StoreError::backend(e.message))?,
            last_step: r.get(1),
            last_receipt: r.get(2),
        })
    })
    .transpose()?;
    let answer = apply_code(customer_id, &mut totp, &mut record, change);
    if let Some(totp) = &totp {
        sqlx::query(
            "INSERT INTO customer_totp (customer_id, secret, last_step, last_receipt) VALUES ($1, $2, $3, $4)
             ON CONFLICT (customer_id) DO UPDATE SET last_step = excluded.last_step, last_receipt = excluded.last_receipt",
        )
        .bind(customer_id)
        .bind(base32_encode(&totp.secret))
        .bind(totp.last_step)
        .bind(&totp.last_receipt)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    let sent = record.sent.as_ref();
    sqlx::query(
        "UPDATE customer_codes SET code_hash = $3, expires_at = $4, used_for = $5, failures = $6,
           window_started_at = $7, locked_until = $8 WHERE customer_id = $1 AND purpose = $2",
    )
    .bind(customer_id)
    .bind(purpose)
    .bind(sent.map(|s| s.code_hash.clone()))
    .bind(sent.map(|s| s.expires_at))
    .bind(sent.and_then(|s| s.used_for.clone()))
    .bind(i64::from(record.throttle.failures))
    .bind(record.throttle.window_started_at)
    .bind(record.throttle.locked_until)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(answer)
}

pub async fn put_session(conn: &mut PgConnection, session: &Session) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (token_hash, kind, subject, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&session.token_hash)
    .bind(session.kind.as_str())
    .bind(&session.subject)
    .bind(ts(session.created_at))
    .bind(ts(session.expires_at))
    .bind(session.revoked_at.map(ts))
    .execute(conn)
    .await
    .map_err(db)
    .map(drop)
}

pub async fn session(conn: &mut PgConnection, token_hash: &str) -> StoreResult<Option<Session>> {
    let Some(r) = sqlx::query(
        "SELECT token_hash, kind, subject, created_at, expires_at, revoked_at FROM sessions WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(conn)
    .await
    .map_err(db)?
    else {
        return Ok(None);
    };
    let kind: String = r.get(1);
    Ok(Some(Session {
        token_hash: r.get(0),
        kind: SessionKind::parse(&kind)
            .ok_or_else(|| StoreError::backend(format!("unknown session kind {kind:?}")))?,
        subject: r.get(2),
        created_at: parse_ts(&r.get::<String, _>(3))?,
        expires_at: parse_ts(&r.get::<String, _>(4))?,
        revoked_at: r
            .get::<Option<String>, _>(5)
            .map(|t| parse_ts(&t))
            .transpose()?,
    }))
}

pub async fn revoke_session(
    conn: &mut PgConnection,
    token_hash: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE token_hash = $2")
        .bind(ts(at))
        .bind(token_hash)
        .execute(conn)
        .await
        .map_err(db)
        .map(drop)
}

const STAFF_COLUMNS: &str =
    "username, role, password_hash, created_at, disabled_at, failures, window_started_at, locked_until";

fn staff_row(r: &PgRow) -> StoreResult<StaffUser> {
    let role: String = r.get(1);
    Ok(StaffUser {
        username: r.get(0),
        role: StaffRole::parse(&role)
            .ok_or_else(|| StoreError::backend(format!("unknown role {role:?}")))?,
        password_hash: r.get(2),
        created_at: parse_ts(&r.get::<String, _>(3))?,
        disabled_at: r
            .get::<Option<String>, _>(4)
            .map(|t| parse_ts(&t))
            .transpose()?,
        throttle: throttle_at(r, 5),
    })
}

/// Creates or replaces a staff user; a disabled user's sessions are revoked with it.
pub async fn put_staff_user(conn: &mut PgConnection, user: &StaffUser) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO staff_users ({STAFF_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (username) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash,
           disabled_at = excluded.disabled_at, failures = excluded.failures,
           window_started_at = excluded.window_started_at, locked_until = excluded.locked_until"
    ))
    .bind(&user.username)
    .bind(user.role.as_str())
    .bind(&user.password_hash)
    .bind(ts(user.created_at))
    .bind(user.disabled_at.map(ts))
    .bind(i64::from(user.throttle.failures))
    .bind(user.throttle.window_started_at)
    .bind(user.throttle.locked_until)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    if let Some(at) = user.disabled_at {
        sqlx::query(
            "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE kind = 'staff' AND subject = $2",
        )
        .bind(ts(at))
        .bind(&user.username)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    }
    Ok(())
}

pub async fn staff_users(conn: &mut PgConnection) -> StoreResult<Vec<StaffUser>> {
    sqlx::query(&format!(
        "SELECT {STAFF_COLUMNS} FROM staff_users ORDER BY username"
    ))
    .fetch_all(conn)
    .await
    .map_err(db)?
    .iter()
    .map(staff_row)
    .collect()
}

/// Records a login attempt; the throttle state after it, or `None` for no such user.
pub async fn record_staff_login(
    conn: &mut PgConnection,
    username: &str,
    ok: bool,
    now: DateTime<Utc>,
) -> StoreResult<Option<ThrottleState>> {
    let Some(row) = sqlx::query(&format!(
        "SELECT {STAFF_COLUMNS} FROM staff_users WHERE username = $1 FOR UPDATE"
    ))
    .bind(username)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?
    else {
        return Ok(None);
    };
    let mut user = staff_row(&row)?;
    record_login(&mut user.throttle, ok, now.timestamp());
    sqlx::query(
        "UPDATE staff_users SET failures = $1, window_started_at = $2, locked_until = $3 WHERE username = $4",
    )
    .bind(i64::from(user.throttle.failures))
    .bind(user.throttle.window_started_at)
    .bind(user.throttle.locked_until)
    .bind(username)
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(Some(user.throttle))
}

/// Removes a customer's secret and codes and ends their sessions.
pub async fn forget_customer(
    conn: &mut PgConnection,
    customer_id: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    for sql in [
        "DELETE FROM customer_totp WHERE customer_id = $1",
        "DELETE FROM customer_codes WHERE customer_id = $1",
    ] {
        sqlx::query(sql)
            .bind(customer_id)
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    sqlx::query(
        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE kind = 'customer' AND subject = $2",
    )
    .bind(ts(at))
    .bind(customer_id)
    .execute(&mut *conn)
    .await
    .map_err(db)
    .map(drop)
}

/// Ends every session of a staff user.
pub async fn end_staff_sessions(
    conn: &mut PgConnection,
    username: &str,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE kind = 'staff' AND subject = $2",
    )
    .bind(ts(at))
    .bind(username)
    .execute(conn)
    .await
    .map_err(db)
    .map(drop)
}
