//! Who is calling and what they may do: the bearer key resolved into a [`Principal`],
//! the one table of which scopes each route is open to ([`ROUTES`]), per-key rate
//! limits, and the audit entry written after every change a key makes.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tessera_core::access::{parse_key, KeyStatus, Scope, Scopes};
use tessera_core::audit::{ActorKind, AuditContent};
use tessera_core::ErrorCode;

use Scope::{Admin, Analytics, Audit, Marketing, Pos, SelfService, Service};

/// One route: its method and path template, the scopes it is open to (`admin` reaches
/// every route but a customer's own), and the audit action of a change it makes
/// (`None` for reads and for receipt writes, whose record is the ledger itself).
pub struct RouteAccess {
    pub method: &'static str,
    pub path: &'static str,
    pub scopes: &'static [Scope],
    pub action: Option<&'static str>,
}

const fn route(
    method: &'static str,
    path: &'static str,
    scopes: &'static [Scope],
    action: Option<&'static str>,
) -> RouteAccess {
    RouteAccess {
        method,
        path,
        scopes,
        action,
    }
}

const READ_CONFIG: &[Scope] = &[Admin, Marketing, Analytics];
const MARKETING: &[Scope] = &[Admin, Marketing];
const SERVICE: &[Scope] = &[Admin, Service];
const ADMIN: &[Scope] = &[Admin];
const TILL: &[Scope] = &[Admin, Pos];
const CUSTOMER: &[Scope] = &[SelfService];
const STAFF: &[Scope] = &[Admin, Marketing, Service, Analytics, Audit];
/// Open without a key (signing in).
pub const PUBLIC: &[Scope] = &[];

/// Every route of API v1 and who may call it. A route missing here is refused to
/// everyone (a test checks the table against the OpenAPI document).
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/v1/program", READ_CONFIG, None),
    route("PUT", "/v1/program", ADMIN, Some("program.update")),
    route("GET", "/v1/stores", READ_CONFIG, None),
    route("GET", "/v1/stores/{store_id}", READ_CONFIG, None),
    route("PUT", "/v1/stores/{store_id}", ADMIN, Some("store.update")),
    route("GET", "/v1/products", READ_CONFIG, None),
    route("GET", "/v1/products/{sku}", READ_CONFIG, None),
    route(
        "PUT",
        "/v1/products/{sku}",
        MARKETING,
        Some("product.update"),
    ),
    route("GET", "/v1/promotions", READ_CONFIG, None),
    route("POST", "/v1/promotions/preview", MARKETING, None),
    route("GET", "/v1/promotions/{promotion_id}", READ_CONFIG, None),
    route(
        "PUT",
        "/v1/promotions/{promotion_id}",
        MARKETING,
        Some("promotion.update"),
    ),
    route(
        "DELETE",
        "/v1/promotions/{promotion_id}",
        MARKETING,
        Some("promotion.delete"),
    ),
    route(
        "POST",
        "/v1/coupon-series",
        MARKETING,
        Some("coupon_series.update"),
    ),
    route("GET", "/v1/coupon-series/{series_id}", READ_CONFIG, None),
    route(
        "POST",
        "/v1/coupon-series/{series_id}/generate",
        MARKETING,
        Some("coupon_series.generate"),
    ),
    route("GET", "/v1/segments/{segment_id}", READ_CONFIG, None),
    route(
        "PUT",
        "/v1/segments/{segment_id}",
        MARKETING,
        Some("segment.update"),
    ),
    route(
        "POST",
        "/v1/segments/{segment_id}/members",
        MARKETING,
        Some("segment.members"),
    ),
    route(
        "POST",
        "/v1/customers",
        &[Admin, Service, Pos],
        Some("customer.create"),
    ),
    route("GET", "/v1/customers", SERVICE, None),
    route(
        "POST",
        "/v1/import/customers",
        ADMIN,
        Some("customer.import"),
    ),
    route("GET", "/v1/customers/{customer_id}", SERVICE, None),
    route(
        "PATCH",
        "/v1/customers/{customer_id}",
        SERVICE,
        Some("customer.update"),
    ),
    route("GET", "/v1/customers/{customer_id}/receipts", SERVICE, None),
    route("GET", "/v1/customers/{customer_id}/timeline", SERVICE, None),
    route(
        "POST",
        "/v1/customers/{customer_id}/merge",
        SERVICE,
        Some("customer.merge"),
    ),
    route(
        "POST",
        "/v1/customers/{customer_id}/unmerge",
        SERVICE,
        Some("customer.unmerge"),
    ),
    route("GET", "/v1/merge-candidates", SERVICE, None),
    route(
        "POST",
        "/v1/merge-candidates/{candidate_id}/accept",
        SERVICE,
        Some("merge_candidate.accept"),
    ),
    route(
        "POST",
        "/v1/merge-candidates/{candidate_id}/reject",
        SERVICE,
        Some("merge_candidate.reject"),
    ),
    route(
        "POST",
        "/v1/customers/{customer_id}/adjustments",
        SERVICE,
        Some("customer.adjust"),
    ),
    route(
        "POST",
        "/v1/customers/{customer_id}/cards",
        SERVICE,
        Some("card.add"),
    ),
    route(
        "POST",
        "/v1/customers/{customer_id}/cards/{number}/block",
        SERVICE,
        Some("card.block"),
    ),
    route(
        "POST",
        "/v1/customers/{customer_id}/cards/{number}/unblock",
        SERVICE,
        Some("card.unblock"),
    ),
    route(
        "POST",
        "/v1/customers/{customer_id}/cards/{number}/replace",
        SERVICE,
        Some("card.replace"),
    ),
    route(
        "POST",
        "/v1/customers/{customer_id}/erase",
        SERVICE,
        Some("customer.erase"),
    ),
    // Reading everything held on a person is recorded too.
    route(
        "GET",
        "/v1/customers/{customer_id}/export",
        SERVICE,
        Some("customer.export"),
    ),
    route("GET", "/v1/customers/{customer_id}/balance", SERVICE, None),
    route("GET", "/v1/customers/{customer_id}/ledger", SERVICE, None),
    route("POST", "/v1/receipts/calculate", TILL, None),
    route("POST", "/v1/receipts/commit", TILL, None),
    route("POST", "/v1/receipts/offline", TILL, None),
    route(
        "GET",
        "/v1/receipts/{receipt_id}",
        &[Admin, Pos, Service, Analytics],
        None,
    ),
    route("POST", "/v1/receipts/{receipt_id}/returns", TILL, None),
    route("POST", "/v1/receipts/{receipt_id}/cancel", TILL, None),
    route("POST", "/v1/api-keys", ADMIN, Some("api_key.create")),
    route("GET", "/v1/api-keys", ADMIN, None),
    route(
        "DELETE",
        "/v1/api-keys/{key_id}",
        ADMIN,
        Some("api_key.revoke"),
    ),
    route("GET", "/v1/audit", &[Admin, Audit], None),
    route("POST", "/v1/receipts/redeem-code", TILL, None),
    // Signing in needs no key; each route throttles itself.
    route("POST", "/v1/me/login", PUBLIC, None),
    route("POST", "/v1/me/token", PUBLIC, None),
    route("POST", "/v1/staff/login", PUBLIC, None),
    route("POST", "/v1/me/logout", CUSTOMER, None),
    route("GET", "/v1/me", CUSTOMER, None),
    route("GET", "/v1/me/balance", CUSTOMER, None),
    route("GET", "/v1/me/ledger", CUSTOMER, None),
    route("GET", "/v1/me/receipts", CUSTOMER, None),
    route("GET", "/v1/me/coupons", CUSTOMER, None),
    route("POST", "/v1/me/redeem-code", CUSTOMER, None),
    route(
        "PUT",
        "/v1/me/consents",
        CUSTOMER,
        Some("customer.consents"),
    ),
    route("POST", "/v1/staff/logout", STAFF, None),
    route("POST", "/v1/staff-users", ADMIN, Some("staff_user.create")),
    route("GET", "/v1/staff-users", ADMIN, None),
    route(
        "PATCH",
        "/v1/staff-users/{username}",
        ADMIN,
        Some("staff_user.update"),
    ),
];

/// The table row of a request's method and matched path.
pub fn route_access(method: &Method, path: &str) -> Option<&'static RouteAccess> {
    // Every till call passes here: a map rather than a walk over the table.
    static INDEX: std::sync::LazyLock<HashMap<(&str, &str), &RouteAccess>> =
        std::sync::LazyLock::new(|| ROUTES.iter().map(|r| ((r.method, r.path), r)).collect());
    INDEX.get(&(method.as_str(), path)).copied()
}

/// The key or token of an `Authorization: Bearer …` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Who a request comes from, as the handlers see it.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key id (`bootstrap` for the operator's admin token).
    pub actor: String,
    pub kind: ActorKind,
    pub scopes: Scopes,
    /// The one store a `pos` key may act for.
    pub store_id: Option<String>,
    /// Whether the per-key rate limit applies (not to the operator's token).
    pub limited: bool,
    /// The customer a self-service token belongs to.
    pub customer_id: Option<String>,
}

impl Principal {
    /// The operator's bootstrap token (or any key in insecure development mode).
    pub fn bootstrap() -> Principal {
        Principal {
            actor: "bootstrap".into(),
            kind: ActorKind::Key,
            scopes: Scopes::of(&[Admin]),
            store_id: None,
            limited: false,
            customer_id: None,
        }
    }

    /// Refuses a store-bound caller acting for another store (`field` names where the
    /// store came from).
    pub fn check_store(&self, store_id: &str, field: &str) -> Result<(), ApiError> {
        match &self.store_id {
            Some(own) if own != store_id => Err(ApiError::field(
                ErrorCode::Forbidden,
                field,
                format!("this key belongs to store {own:?} and cannot act for store {store_id:?}"),
            )),
            _ => Ok(()),
        }
    }
}

/// Sets the state before and after the change on the request's pending audit entry;
/// handlers call it before their write, which appends the entry in its transaction.
pub fn annotate(before: Option<&impl Serialize>, after: Option<&impl Serialize>) {
    tessera_store::audit::annotate_pending(
        before.and_then(|v| serde_json::to_value(v).ok()),
        after.and_then(|v| serde_json::to_value(v).ok()),
    );
}

/// Resolves the bearer key, refuses what its scopes do not reach, applies the key's
/// rate limit, and writes the audit entry of a successful change.
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let now = state.clock.now();
    let principal = match bearer(request.headers()) {
        None => {
            return ApiError::new(
                ErrorCode::Unauthorized,
                "missing Authorization: Bearer <key> header",
            )
            .into_response()
        }
        Some(text) => match resolve(&state, text, now).await {
            Ok(principal) => principal,
            Err(error) => return error.into_response(),
        },
    };
    let access = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|path| route_access(request.method(), path.as_str()));
    let Some(access) = access.filter(|a| principal.scopes.may(Scopes::of(a.scopes))) else {
        let path = request
            .extensions()
            .get::<MatchedPath>()
            .map_or(request.uri().path(), |p| p.as_str());
        tracing::warn!(actor = %principal.actor, method = %request.method(), %path, "refused: scope");
        return ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "this key's scopes ({}) do not reach {} {path}",
                scope_names(principal.scopes),
                request.method()
            ),
        )
        .into_response();
    };
    if principal.limited {
        if let Err(wait_ms) = state.key_limiter.admit(&principal.actor, now) {
            return rate_limited("this key", wait_ms).into_response();
        }
    }
    let Some(action) = access.action else {
        request.extensions_mut().insert(principal);
        return next.run(request).await;
    };
    let pending = AuditContent {
        at: now,
        actor: principal.actor.clone(),
        actor_kind: principal.kind,
        action: action.to_string(),
        target: request.uri().path().to_string(),
        origin: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        before: None,
        after: None,
    };
    request.extensions_mut().insert(principal);
    // The handler's first write appends the entry in its own transaction; an entry no
    // write took (a read such as an export) is appended once the answer is a success.
    let (response, left) = tessera_store::audit::with_pending(pending, next.run(request)).await;
    if let (Some(content), true) = (left, response.status().is_success()) {
        append_with_retries(&state, content).await;
    }
    response
}

/// Attempts an audit append makes before giving up (a busy database, a restarting
/// PostgreSQL).
const AUDIT_ATTEMPTS: u32 = 5;

/// Appends the entry of a change that is already durable, retrying transient
/// failures; a missing entry is logged at `error` as an operator alarm.
async fn append_with_retries(state: &AppState, content: AuditContent) {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match state.store.append_audit(content.clone()).await {
            Ok(_) => return,
            Err(error) if attempt >= AUDIT_ATTEMPTS => {
                tracing::error!(%error, action = %content.action, target = %content.target,
                    actor = %content.actor, "the audit entry of a change could not be written");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, attempt, "appending an audit entry failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
            }
        }
    }
}

/// A 429 for a limit on `what`, with `Retry-After`.
pub fn rate_limited(what: &str, wait_ms: i64) -> ApiError {
    let seconds = tessera_core::rate::retry_after_seconds(wait_ms);
    let mut error = ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests for {what}; retry after {seconds} s"),
    );
    error.retry_after = Some(seconds);
    error
}

fn scope_names(scopes: Scopes) -> String {
    let names: Vec<&str> = scopes.list().into_iter().map(Scope::as_str).collect();
    names.join(", ")
}

/// The principal of a presented key or session token at `now`.
async fn resolve(
    state: &AppState,
    text: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Principal, ApiError> {
    let invalid = || ApiError::new(ErrorCode::Unauthorized, "the API key is not valid");
    if crate::session::is_token(text) {
        return crate::session::principal(state, text, now).await;
    }
    if let Some((key_id, secret)) = parse_key(text) {
        let keys = state.keys();
        let key = keys.get(&key_id).ok_or_else(invalid)?;
        if !key.secret_matches(secret) {
            return Err(invalid());
        }
        return match key.status_at(now) {
            KeyStatus::Active => Ok(Principal {
                actor: key.key_id.clone(),
                kind: ActorKind::Key,
                scopes: key.scope_set(),
                store_id: key.store_id.clone(),
                limited: true,
                customer_id: None,
            }),
            KeyStatus::Expired => Err(ApiError::new(
                ErrorCode::Unauthorized,
                "the API key has expired",
            )),
            KeyStatus::Revoked => Err(ApiError::new(
                ErrorCode::Unauthorized,
                "the API key was revoked",
            )),
        };
    }
    if state.admin_key_matches(text) {
        return Ok(Principal::bootstrap());
    }
    Err(invalid())
}
