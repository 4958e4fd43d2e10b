//! Sign-in tokens: customers' (`tsc_…`, one hour, the `self_service` scope) and staff's
//! (`tss_…`, eight hours, their role's scopes). Only the SHA-256 of a token is stored;
//! a session ends at its expiry, on logout, or when its staff user is disabled. Staff
//! passwords are hashed with Argon2id.

use crate::access::Principal;
use crate::error::ApiError;
use crate::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use tessera_core::access::{secret_hash, Scope, Scopes};
use tessera_core::audit::ActorKind;
use tessera_core::ErrorCode;
use tessera_store::account::{Session, SessionKind};

/// How long a customer's token lets them in.
pub const CUSTOMER_SESSION: Duration = Duration::hours(1);
/// How long a staff member's token lets them in.
pub const STAFF_SESSION: Duration = Duration::hours(8);

const CUSTOMER_PREFIX: &str = "tsc_";
const STAFF_PREFIX: &str = "tss_";

/// Whether a bearer text is a session token (rather than an API key).
pub fn is_token(text: &str) -> bool {
    text.starts_with(CUSTOMER_PREFIX) || text.starts_with(STAFF_PREFIX)
}

/// Starts a session for `subject`; answers the token (shown once) and its expiry.
pub async fn start(
    state: &AppState,
    kind: SessionKind,
    subject: &str,
    now: DateTime<Utc>,
) -> Result<(String, DateTime<Utc>), ApiError> {
    let random: [u8; 20] = rand::rng().random();
    let prefix = match kind {
        SessionKind::Customer => CUSTOMER_PREFIX,
        SessionKind::Staff => STAFF_PREFIX,
    };
    let token = format!(
        "{prefix}{}",
        tessera_core::otp::base32_encode(&random).to_ascii_lowercase()
    );
    let expires_at = now
        + match kind {
            SessionKind::Customer => CUSTOMER_SESSION,
            SessionKind::Staff => STAFF_SESSION,
        };
    state
        .store
        .put_session(Session {
            token_hash: secret_hash(&token),
            kind,
            subject: subject.to_string(),
            created_at: now,
            expires_at,
            revoked_at: None,
        })
        .await?;
    Ok((token, expires_at))
}

/// Ends the session of a token.
pub async fn end(state: &AppState, token: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
    Ok(state.store.revoke_session(&secret_hash(token), now).await?)
}

/// The principal of a session token at `now`.
pub async fn principal(
    state: &AppState,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Principal, ApiError> {
    let refused = |why: &str| ApiError::new(ErrorCode::Unauthorized, why.to_string());
    let session = state
        .store
        .session(&secret_hash(token))
        .await?
        .ok_or_else(|| refused("the token is not valid"))?;
    if !session.active_at(now) {
        return Err(refused("the session has ended; sign in again"));
    }
    match session.kind {
        SessionKind::Customer => Ok(Principal {
            actor: session.subject.clone(),
            kind: ActorKind::Customer,
            scopes: Scopes::of(&[Scope::SelfService]),
            store_id: None,
            limited: true,
            customer_id: Some(session.subject),
        }),
        SessionKind::Staff => {
            let user = state
                .store
                .staff_users()
                .await?
                .into_iter()
                .find(|u| u.username == session.subject && u.disabled_at.is_none())
                .ok_or_else(|| refused("the session's user is disabled"))?;
            Ok(Principal {
                actor: user.username,
                kind: ActorKind::User,
                scopes: user.role.scopes(),
                store_id: None,
                limited: true,
                customer_id: None,
            })
        }
    }
}

/// An Argon2id hash of a password (PHC string, a random salt), computed off the async
/// threads.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    let salt: [u8; 16] = rand::rng().random();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r)
    .map_err(|e| {
        tracing::error!(error = %e, "hashing a password failed");
        ApiError::new(ErrorCode::Internal, "hashing the password failed")
    })
}

/// Whether `password` matches an Argon2 PHC hash, off the async threads. Without a
/// hash (no such user) it checks against a hash of no one's password, so that the
/// answer takes as long and tells nobody which user names exist.
pub async fn password_matches(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let real = hash.is_some();
        let stored = hash.as_deref().unwrap_or_else(|| dummy_hash());
        let matches = PasswordHash::new(stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        matches && real
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt: [u8; 16] = rand::rng().random();
        SaltString::encode_b64(&salt)
            .ok()
            .and_then(|salt| {
                let random: [u8; 16] = rand::rng().random();
                Argon2::default()
                    .hash_password(&random, &salt)
                    .ok()
                    .map(|h| h.to_string())
            })
            .unwrap_or_default()
    })
}
