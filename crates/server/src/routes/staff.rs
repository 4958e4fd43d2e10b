//! Staff users of the back office: roles `admin`, `marketer`, `service`, `auditor`;
//! passwords hashed with Argon2id; eight-hour sessions; five wrong passwords in five
//! minutes lock the user for fifteen.

use super::path_id;
use crate::access::{annotate, rate_limited};
use crate::error::ApiError;
use crate::json::{Body, Unhashed};
use crate::routes::me::end_session;
use crate::session;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use tessera_api::convert::time_out;
use tessera_api::{
    ErrorBody, StaffLoginBody, StaffUserBody, StaffUserList, StaffUserOut, StaffUserPatch, TokenOut,
};
use tessera_core::access::StaffRole;
use tessera_core::otp::{Attempt, Throttle, ThrottleState};
use tessera_core::{CoreError, ErrorCode};
use tessera_store::account::{SessionKind, StaffUser};

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;

fn user_out(user: &StaffUser, now: DateTime<Utc>) -> StaffUserOut {
    StaffUserOut {
        username: user.username.clone(),
        role: user.role.as_str().to_string(),
        created_at: time_out(user.created_at),
        disabled_at: user.disabled_at.map(time_out),
        locked_until: user
            .throttle
            .locked_until
            .filter(|until| *until > now.timestamp())
            .and_then(|until| DateTime::from_timestamp(until, 0))
            .map(time_out),
    }
}

fn role_of(name: &str) -> Result<StaffRole, CoreError> {
    StaffRole::parse(name)
        .ok_or_else(|| CoreError::invalid("role", "must be admin, marketer, service or auditor"))
}

fn check_password(password: &str) -> Result<(), CoreError> {
    if password.chars().count() < MIN_PASSWORD || password.len() > 1024 {
        return Err(CoreError::invalid(
            "password",
            format!("must be {MIN_PASSWORD} to 1024 characters"),
        ));
    }
    Ok(())
}

fn check_username(username: &str) -> Result<(), CoreError> {
    let ok = (3..=64).contains(&username.len())
        && username
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(CoreError::invalid(
            "username",
            "must be 3 to 64 lower-case letters, digits, '.', '_' or '-'",
        ))
    }
}

async fn find(state: &AppState, username: &str) -> Result<Option<StaffUser>, ApiError> {
    Ok(state
        .store
        .staff_users()
        .await?
        .into_iter()
        .find(|u| u.username == username))
}

/// Creates a staff user.
#[utoipa::path(post, path = "/v1/staff-users", tag = "access", request_body = StaffUserBody,
    responses((status = 201, body = StaffUserOut), (status = 409, description = "staff_user_taken", body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_user(
    State(state): State<Arc<AppState>>,
    Unhashed(body): Unhashed<StaffUserBody>,
) -> Result<(StatusCode, Json<StaffUserOut>), ApiError> {
    let now = state.clock.now();
    check_username(&body.username)?;
    let role = role_of(&body.role)?;
    check_password(&body.password)?;
    if find(&state, &body.username).await?.is_some() {
        return Err(ApiError::field(
            ErrorCode::StaffUserTaken,
            "username",
            format!(
                "a staff user {:?} exists; change it with PATCH",
                body.username
            ),
        ));
    }
    let user = StaffUser {
        username: body.username,
        role,
        password_hash: session::hash_password(body.password).await?,
        created_at: now,
        disabled_at: None,
        throttle: ThrottleState::default(),
    };
    let out = user_out(&user, now);
    annotate(None::<&StaffUserOut>, Some(&out));
    state.store.put_staff_user(user.clone()).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// Every staff user; never their password hashes.
#[utoipa::path(get, path = "/v1/staff-users", tag = "access", responses((status = 200, body = StaffUserList)))]
pub async fn list_users(
    State(state): State<Arc<AppState>>,
) -> Result<Json<StaffUserList>, ApiError> {
    let now = state.clock.now();
    let users = state.store.staff_users().await?;
    Ok(Json(StaffUserList {
        users: users.iter().map(|u| user_out(u, now)).collect(),
    }))
}

/// Changes a user's role or password, or disables them (ending their sessions).
#[utoipa::path(patch, path = "/v1/staff-users/{username}", tag = "access", request_body = StaffUserPatch,
    params(("username" = String, Path)), responses((status = 200, body = StaffUserOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_user(
    State(state): State<Arc<AppState>>,
    Path(username): Path<String>,
    Unhashed(body): Unhashed<StaffUserPatch>,
) -> Result<Json<StaffUserOut>, ApiError> {
    path_id("username", &username)?;
    let now = state.clock.now();
    let before = find(&state, &username).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::StaffUserNotFound,
            format!("no staff user {username:?}"),
        )
    })?;
    let mut user = before.clone();
    if let Some(role) = &body.role {
        user.role = role_of(role)?;
    }
    if let Some(password) = body.password {
        check_password(&password)?;
        user.password_hash = session::hash_password(password).await?;
        user.throttle = ThrottleState::default();
    }
    match body.disabled {
        Some(true) => user.disabled_at = user.disabled_at.or(Some(now)),
        Some(false) => user.disabled_at = None,
        None => {}
    }
    let after = user_out(&user, now);
    let mut noted = serde_json::to_value(&after).unwrap_or_default();
    if before.password_hash != user.password_hash {
        noted["password_changed"] = serde_json::json!(true);
    }
    annotate(Some(&user_out(&before, now)), Some(&noted));
    state.store.put_staff_user(user.clone()).await?;
    if before.password_hash != user.password_hash {
        // Whoever holds a token from the old password is signed out.
        state.store.end_staff_sessions(&user.username, now).await?;
    }
    Ok(Json(after))
}

/// Signs a staff member in: a token for eight hours with their role's scopes.
#[utoipa::path(post, path = "/v1/staff/login", tag = "access", request_body = StaffLoginBody, security(()),
    responses((status = 200, body = TokenOut), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<Arc<AppState>>,
    body: Body<StaffLoginBody>,
) -> Result<Json<TokenOut>, ApiError> {
    let now = state.clock.now();
    let body = body.value;
    let refused = || {
        ApiError::new(
            ErrorCode::Unauthorized,
            "the user name or password is wrong",
        )
    };
    let locked =
        |retry_after: i64| rate_limited("this user's logins", retry_after.saturating_mul(1000));
    let user = find(&state, &body.username).await?;
    let Some(user) = user.filter(|u| u.disabled_at.is_none()) else {
        // The same work and the same lock as for a real user, so that neither timing
        // nor the lockout tells which names exist.
        let _ = session::password_matches(body.password, None).await;
        state
            .guesses
            .guess(&format!("staff:{}", body.username), now.timestamp())
            .map_err(locked)?;
        return Err(refused());
    };
    if let Attempt::Refused { retry_after } =
        Throttle::default().check(&user.throttle, now.timestamp())
    {
        let _ = session::password_matches(body.password, None).await;
        return Err(locked(retry_after));
    }
    let ok = session::password_matches(body.password, Some(user.password_hash.clone())).await;
    let after = state
        .store
        .record_staff_login(&user.username, ok, now)
        .await?
        .unwrap_or_default();
    // Attempts judged in parallel: once the failures among them locked the user, a
    // right password among the rest does not get in either.
    if let Attempt::Refused { retry_after } = Throttle::default().check(&after, now.timestamp()) {
        if ok {
            return Err(locked(retry_after));
        }
    }
    if !ok {
        tracing::warn!(username = %user.username, "a staff login failed");
        return Err(refused());
    }
    let (token, expires_at) =
        session::start(&state, SessionKind::Staff, &user.username, now).await?;
    Ok(Json(TokenOut {
        token,
        expires_at: time_out(expires_at),
        customer_id: None,
        role: Some(user.role.as_str().to_string()),
    }))
}

/// Ends the session of the token presented.
#[utoipa::path(post, path = "/v1/staff/logout", tag = "access", responses((status = 204)))]
pub async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    end_session(&state, &headers).await
}
